"""Step 7: losses beside their gradients (ninestep.losses)."""

import numpy as np
import pytest

import ninestep as ns
from ninestep.activations import sigmoid, softmax
from ninestep.losses import LOSSES
from ninestep.losses import prepare_targets

STRICT = dict(over="raise", divide="raise", invalid="raise", under="ignore")


def test_registry_and_aliases():
    assert set(LOSSES) == {"mse", "cross_entropy", "binary_cross_entropy"}
    assert ns.get_loss("mean_squared_error").name == "mse"
    assert ns.get_loss("log_loss").name == "cross_entropy"
    assert ns.get_loss("BCE").name == "binary_cross_entropy"
    with pytest.raises(ValueError, match="choose one of"):
        ns.get_loss("hinge")
    with pytest.raises(TypeError, match="loss must be a name"):
        ns.get_loss(None)


def test_mse_is_half_squared_error_summed_over_outputs_averaged_over_samples():
    A = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    Y = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # Sample 1: 1/2 (0 + 4 + 9) = 6.5; sample 2: 1/2 (1 + 1 + 1) = 1.5; mean 4.0.
    mse = ns.get_loss("mse")
    assert mse.value(A, A, Y) == 4.0
    # Gradient through a linear output: (A - Y) / n.
    np.testing.assert_array_equal(mse.dZ(A, A, Y, ns.get_activation("linear")), (A - Y) / 2)


def test_mse_with_one_output_is_the_articles_half_squared_error():
    a = np.array([[3.0], [5.0], [2.0], [4.0]])
    y = np.array([[1.0], [5.0], [4.0], [4.0]])
    assert ns.get_loss("mse").value(a, a, y) == pytest.approx(np.mean(0.5 * (a - y) ** 2))


def test_mse_gradient_through_a_sigmoid_output():
    Z = np.array([[0.5, -1.0]])
    A = sigmoid(Z)
    Y = np.array([[1.0, 0.0]])
    expected = (A - Y) * A * (1 - A)
    np.testing.assert_allclose(ns.get_loss("mse").dZ(Z, A, Y, ns.get_activation("sigmoid")), expected)


def test_cross_entropy_value_by_hand():
    Z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    expected = -(np.log(P[0, 0]) + np.log(1 / 3)) / 2
    ce = ns.get_loss("cross_entropy")
    assert ce.value(Z, P, Y) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(ce.dZ(Z, P, Y, ns.get_activation("softmax")), (P - Y) / 2, rtol=1e-15)


def test_cross_entropy_integer_labels_and_one_hot_give_the_same():
    net = ns.Network([3, 5, 4], activation="tanh", output_activation="softmax", seed=0)
    X = np.random.default_rng(0).normal(size=(10, 3))
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3, 3])
    one_hot = np.eye(4)[labels]
    loss_a, grads_a = net.loss_and_gradients(X, labels, loss="cross_entropy")
    loss_b, grads_b = net.loss_and_gradients(X, one_hot, loss="cross_entropy")
    assert loss_a == loss_b
    for (dWa, dba), (dWb, dbb) in zip(grads_a, grads_b):
        np.testing.assert_array_equal(dWa, dWb)
        np.testing.assert_array_equal(dba, dbb)
    # And equal to -(1/n) sum log p_{i, y_i}.
    P = net.forward(X)
    assert loss_a == pytest.approx(-np.mean(np.log(P[np.arange(10), labels])), rel=1e-13)


def test_cross_entropy_stable_at_huge_logits():
    Z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [500.0, 500.0]])
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with np.errstate(**STRICT):
        A = softmax(Z)
        value = ns.get_loss("cross_entropy").value(Z, A, Y)
        dZ = ns.get_loss("cross_entropy").dZ(Z, A, Y, ns.get_activation("softmax"))
    # Sample 1: log p = 0; sample 2: log p = -2000 (a naive log(softmax) gives -inf); sample 3: log 1/2.
    assert value == pytest.approx((0 + 2000 + np.log(2)) / 3, rel=1e-14)
    np.testing.assert_allclose(dZ, [[0, 0], [-1 / 3, 1 / 3], [1 / 6, -1 / 6]], atol=1e-16)


def test_binary_cross_entropy_value_and_gradient():
    Z = np.array([[0.0], [2.0], [-1.0]])
    Y = np.array([[1.0], [0.0], [0.0]])
    p = 1 / (1 + np.exp(-Z))
    expected = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    bce = ns.get_loss("binary_cross_entropy")
    assert bce.value(Z, p, Y) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(bce.dZ(Z, p, Y, ns.get_activation("sigmoid")), (p - Y) / 3, rtol=1e-15)


def test_binary_cross_entropy_stable_at_huge_logits():
    Z = np.array([[1000.0], [-1000.0], [1000.0]])
    Y = np.array([[1.0], [1.0], [0.0]])
    with np.errstate(**STRICT):
        value = ns.get_loss("binary_cross_entropy").value(Z, sigmoid(Z), Y)
    # Right answers: 0, 1000 and 1000 nats; a naive log(p) would give inf.
    assert value == pytest.approx(2000 / 3, rel=1e-14)


def test_losses_match_sklearn_log_loss():
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed; pip install -e '.[test]'")
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(20, 3))
    labels = rng.integers(0, 3, size=20)
    Y = np.eye(3)[labels]
    ours = ns.get_loss("cross_entropy").value(Z, softmax(Z), Y)
    assert ours == pytest.approx(metrics.log_loss(labels, softmax(Z), labels=[0, 1, 2]), rel=1e-12)
    z = rng.normal(size=(20, 1))
    t = rng.integers(0, 2, size=(20, 1)).astype(float)
    ours = ns.get_loss("binary_cross_entropy").value(z, sigmoid(z), t)
    assert ours == pytest.approx(metrics.log_loss(t.ravel(), sigmoid(z).ravel()), rel=1e-12)


def test_losses_demand_their_output_activation():
    with pytest.raises(ValueError, match="output_activation='softmax'"):
        ns.get_loss("cross_entropy").check_activation(ns.get_activation("linear"))
    with pytest.raises(ValueError, match="output_activation='sigmoid'"):
        ns.get_loss("binary_cross_entropy").check_activation(ns.get_activation("softmax"))
    ns.get_loss("mse").check_activation(ns.get_activation("softmax"))  # mse takes any output


def test_prepare_targets_checks_labels_and_shapes():
    ce, mse, bce = ns.get_loss("cross_entropy"), ns.get_loss("mse"), ns.get_loss("binary_cross_entropy")
    np.testing.assert_array_equal(prepare_targets([2, 0], ce, 3, np.float64), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"y\[1\] = 3 is not a valid class"):
        prepare_targets([0, 3], ce, 3, np.float64)
    with pytest.raises(ValueError, match="integers"):
        prepare_targets([0.5, 1.0], ce, 3, np.float64)
    assert prepare_targets([1.0, 2.0], mse, 1, np.float64).shape == (2, 1)
    with pytest.raises(ValueError, match="1-D but the network has 3 outputs"):
        prepare_targets([1.0, 2.0], mse, 3, np.float64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prepare_targets([0.0, 2.0], bce, 1, np.float64)
    with pytest.raises(ValueError, match="numeric"):
        prepare_targets(np.array(["a", "b"]), mse, 1, np.float64)


@pytest.mark.filterwarnings("error")
def test_saturated_network_outputs_give_finite_exact_losses_and_gradients():
    # One layer, weight +-1000: logits of +-1000 for the inputs +1 and -1.
    X = np.array([[1.0], [-1.0]])
    net = ns.Network([1, 2], output_activation="softmax", seed=0)
    net.set_weights([(np.array([[1000.0, -1000.0]]), np.zeros(2))])
    with np.errstate(**STRICT):
        loss, [(dW, db)] = net.loss_and_gradients(X, np.array([1, 0]), loss="cross_entropy")
    # Both samples put probability exp(-2000) on their class: -log p = 2000 each.
    # dZ = (A - Y) / 2 = [[1, -1], [-1, 1]] / 2, dW = X^T dZ = [1, -1], db = 0.
    assert loss == 2000.0
    np.testing.assert_array_equal(dW, [[1.0, -1.0]])
    np.testing.assert_array_equal(db, [0.0, 0.0])

    net = ns.Network([1, 1], output_activation="sigmoid", seed=0)
    net.set_weights([(np.array([[1000.0]]), np.zeros(1))])
    with np.errstate(**STRICT):
        loss, [(dW, db)] = net.loss_and_gradients(X, np.array([1.0, 1.0]), loss="binary_cross_entropy")
    # Sample 1: z = 1000, loss 0; sample 2: z = -1000, loss 1000; dZ = [0, -1] / 2.
    assert loss == 500.0
    np.testing.assert_array_equal(dW, [[0.5]])
    np.testing.assert_array_equal(db, [-0.5])
