"""Steps 5-7: the Network - structure, forward, back-propagation (ninestep.network)."""

import warnings

import numpy as np
import pytest

import ninestep as ns
from helpers import central_differences


# ---------------------------------------------------------------- structure
def test_count_params_is_the_articles_formula():
    # (2+1)*4 + (4+1)*4 + (4+1)*3 = 12 + 20 + 15
    assert ns.count_params([2, 4, 4, 3]) == 47
    assert ns.count_params([1, 1]) == 2
    assert ns.count_params([784, 100, 10]) == 785 * 100 + 101 * 10


@pytest.mark.parametrize("sizes", [[2, 4, 4, 3], [3, 1], [5, 7, 2, 9, 1]])
def test_n_params_agrees_with_the_formula_and_the_arrays(sizes):
    net = ns.Network(sizes, seed=0)
    assert net.n_params == ns.count_params(sizes) == net.params.size
    assert net.layer_sizes == sizes
    assert len(net.layers) == len(sizes) - 1
    for layer, n_in, n_out in zip(net.layers, sizes[:-1], sizes[1:]):
        assert layer.W.shape == (n_in, n_out) and layer.b.shape == (n_out,)


@pytest.mark.parametrize("sizes, error", [
    ([3], ValueError), ([], ValueError), ([2, 0, 1], ValueError), ([2, 2.5, 1], ValueError),
    ("2,4,3", TypeError), (5, TypeError),
])
def test_bad_layer_sizes_are_rejected(sizes, error):
    with pytest.raises(error, match="layer_sizes"):
        ns.Network(sizes)
    with pytest.raises(error, match="layer_sizes"):
        ns.count_params(sizes)


def test_activations_hidden_and_output():
    net = ns.Network([2, 3, 3, 4], activation="tanh", output_activation="softmax", seed=0)
    assert [layer.activation.name for layer in net.layers] == ["tanh", "tanh", "softmax"]
    with pytest.raises(ValueError, match="Unknown activation"):
        ns.Network([2, 3], output_activation="softmaxx")


def test_default_init_per_layer():
    net = ns.Network([300, 300, 300], activation="relu", output_activation="linear", seed=0)
    assert net.layers[0].W.var() == pytest.approx(2 / 300, rel=0.03)          # He
    assert net.layers[1].W.var() == pytest.approx(2 / 600, rel=0.03)          # Glorot
    assert np.abs(net.layers[1].W).max() <= np.sqrt(6 / 600)
    glorot = ns.Network([300, 300, 300], init="glorot_normal", seed=0)
    assert glorot.layers[0].W.var() == pytest.approx(2 / 600, rel=0.03)
    for layer in net.layers:
        np.testing.assert_array_equal(layer.b, 0.0)


@pytest.mark.parametrize("init", ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform"])
def test_init_applies_to_every_layer(init):
    net = ns.Network([3, 4, 2], activation="tanh", init=init, seed=0)
    reference = ns.Network([3, 4, 2], activation="relu", init=init, seed=0)
    # The initialiser, not the activation, decides the draw when init= is given.
    np.testing.assert_array_equal(net.params, reference.params)
    assert net.init == init


def test_bad_init_and_dtype_fail_at_construction():
    with pytest.raises(ValueError, match="Unknown init 'he'"):
        ns.Network([2, 2], init="he")
    with pytest.raises(ValueError, match="float32 or float64"):
        ns.Network([2, 2], dtype=np.float16)
    assert ns.Network([2, 2], dtype="float32").params.dtype == np.float32


def test_summary_lists_layers_and_parameters():
    net = ns.Network([2, 4, 4, 3], seed=0)
    text = net.summary()
    for shape in ("(2, 4)", "(4, 4)", "(4, 3)", "(4,)", "(3,)"):
        assert shape in text
    assert "47" in text and "relu" in text and "linear" in text


def test_summary_warns_when_parameters_reach_the_number_of_samples():
    net = ns.Network([2, 4, 4, 3], seed=0)
    with pytest.warns(ns.CapacityWarning, match="47 parameters but only 47 training samples") as record:
        text = net.summary(n_samples=47)
    assert record[0].filename == __file__  # points at the caller's line
    message = str(record[0].message)
    assert "overfit" in message and "early stopping" in message  # says why, and what to do
    assert "WARNING" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = net.summary(n_samples=48)
        net.summary(n_samples=10, warn=False)
    assert "more samples than parameters" in text


def test_capacity_warning_is_a_warning_not_an_error():
    # The article raised an error; we only warn, and the warning class is a UserWarning.
    assert issubclass(ns.CapacityWarning, UserWarning)


# ---------------------------------------------------------------- forward
def test_forward_shape_and_equations():
    net = ns.Network([3, 5, 2], activation="sigmoid", output_activation="linear", seed=0)
    X = np.random.default_rng(0).normal(size=(7, 3))
    y_hat = net.forward(X)
    assert y_hat.shape == (7, 2)
    (W1, b1), (W2, b2) = net.get_weights()
    expected = (1 / (1 + np.exp(-(X @ W1 + b1)))) @ W2 + b2
    np.testing.assert_allclose(y_hat, expected, rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X), y_hat)


def test_forward_rejects_wrong_inputs_with_a_clear_message():
    net = ns.Network([3, 2], seed=0)
    with pytest.raises(ValueError, match="X has 2 features but the network expects 3"):
        net.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="reshape"):
        net.forward(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        net.forward(np.array([[0.0, np.nan, 1.0]]))


def test_float32_network_stays_float32():
    net = ns.Network([3, 4, 2], seed=0, dtype=np.float32)
    assert net.params.dtype == np.float32
    X = np.random.default_rng(0).normal(size=(5, 3))
    assert net.forward(X).dtype == np.float32
    loss, grads = net.loss_and_gradients(X, np.zeros((5, 2)))
    assert all(dW.dtype == np.float32 and db.dtype == np.float32 for dW, db in grads)
    assert isinstance(loss, float)


# ---------------------------------------------------------------- the hand-worked example
def test_hand_worked_single_example():
    """A [2, 2, 1] ReLU/linear net, one sample, every number by hand.

    x = [1, 2], y = 1
    W1 = [[0.1, -0.2],      b1 = [0.1, -0.7]
          [0.3,  0.4]]
    W2 = [[0.5], [-1.0]],   b2 = [0.2]

    Forward
      Z1 = x W1 + b1 = [1*0.1 + 2*0.3 + 0.1, 1*(-0.2) + 2*0.4 - 0.7] = [0.8, -0.1]
      A1 = relu(Z1)  = [0.8, 0]
      Z2 = A1 W2 + b2 = 0.8*0.5 + 0*(-1) + 0.2 = 0.6 ;  A2 = y_hat = 0.6
      L  = 1/2 (0.6 - 1)^2 = 0.08
    Backward (n = 1)
      dZ2 = (A2 - y) / n = -0.4
      dW2 = A1^T dZ2 = [[0.8 * -0.4], [0 * -0.4]] = [[-0.32], [0]]
      db2 = -0.4
      dA1 = dZ2 W2^T = [-0.4*0.5, -0.4*(-1)] = [-0.2, 0.4]
      dZ1 = dA1 * relu'(Z1) = [-0.2 * 1, 0.4 * 0] = [-0.2, 0]
      dW1 = x^T dZ1 = [[1*(-0.2), 0], [2*(-0.2), 0]] = [[-0.2, 0], [-0.4, 0]]
      db1 = [-0.2, 0]
    One SGD step, lr = 0.1 (p <- p - 0.1 dp)
      W1 = [[0.12, -0.2], [0.34, 0.4]],  b1 = [0.12, -0.7]
      W2 = [[0.532], [-1.0]],            b2 = [0.24]
    The new loss
      Z1 = [0.12 + 0.68 + 0.12, -0.2 + 0.8 - 0.7] = [0.92, -0.1];  A1 = [0.92, 0]
      Z2 = 0.92 * 0.532 + 0.24 = 0.72944;  L = 1/2 (0.72944 - 1)^2 = 0.0366013568
    """
    def build():
        net = ns.Network([2, 2, 1], activation="relu", output_activation="linear", seed=0)
        net.set_weights([(np.array([[0.1, -0.2], [0.3, 0.4]]), np.array([0.1, -0.7])),
                         (np.array([[0.5], [-1.0]]), np.array([0.2]))])
        return net

    net = build()
    x, y = np.array([[1.0, 2.0]]), np.array([[1.0]])
    Zs, As = net.forward(x, return_all=True)
    np.testing.assert_allclose(Zs[0], [[0.8, -0.1]], rtol=1e-14)
    np.testing.assert_allclose(As[1], [[0.8, 0.0]], rtol=1e-14)
    np.testing.assert_allclose(Zs[1], [[0.6]], rtol=1e-14)
    np.testing.assert_allclose(net.forward(x), [[0.6]], rtol=1e-14)

    loss, ((dW1, db1), (dW2, db2)) = net.loss_and_gradients(x, y, loss="mse")
    assert loss == pytest.approx(0.08, rel=1e-14)
    np.testing.assert_allclose(dW2, [[-0.32], [0.0]], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(db2, [-0.4], rtol=1e-14)
    np.testing.assert_allclose(dW1, [[-0.2, 0.0], [-0.4, 0.0]], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(db1, [-0.2, 0.0], rtol=1e-14, atol=1e-16)

    # The intermediate dZ2, dA1 and dZ1 are what the gradients above are made of:
    dZ2 = (As[-1] - y) / 1
    dA1 = dZ2 @ net.layers[1].W.T
    dZ1 = dA1 * (Zs[0] > 0)
    np.testing.assert_allclose(dZ2, [[-0.4]], rtol=1e-14)
    np.testing.assert_allclose(dA1, [[-0.2, 0.4]], rtol=1e-14)
    np.testing.assert_allclose(dZ1, [[-0.2, 0.0]], rtol=1e-14)

    def check_after_step(net):
        (W1, b1), (W2, b2) = net.get_weights()
        np.testing.assert_allclose(W1, [[0.12, -0.2], [0.34, 0.4]], rtol=1e-14)
        np.testing.assert_allclose(b1, [0.12, -0.7], rtol=1e-14)
        np.testing.assert_allclose(W2, [[0.532], [-1.0]], rtol=1e-14)
        np.testing.assert_allclose(b2, [0.24], rtol=1e-14)
        assert net.evaluate(x, y) == pytest.approx(0.0366013568, rel=1e-12)

    # The step by hand, with the optimiser ...
    ns.SGD(lr=0.1).step(net.params, np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2]))
    check_after_step(net)
    # ... and through fit: one full-batch epoch is one step, and its recorded
    # loss is the loss before the step.
    net = build()
    history = net.fit(x, y, optimizer=ns.SGD(lr=0.1), epochs=1)
    assert history.loss == [pytest.approx(0.08, rel=1e-14)]
    check_after_step(net)


def test_hand_worked_softmax_cross_entropy_step():
    """One softmax layer [2, 2], W = 0, b = 0; x1 = [1, 0] of class 0, x2 = [0, 1] of class 1.

    Z = 0, so P = [[0.5, 0.5], [0.5, 0.5]]; L = -(log 0.5 + log 0.5) / 2 = log 2 = 0.693147...
    dZ = (P - Y) / n = [[-0.5, 0.5], [0.5, -0.5]] / 2 = [[-0.25, 0.25], [0.25, -0.25]]
    dW = X^T dZ = dZ (X is the identity);  db = column sums of dZ = [0, 0]
    SGD, lr = 2: W = [[0.5, -0.5], [-0.5, 0.5]], b = [0, 0]
    New logits [0.5, -0.5] and [-0.5, 0.5]: each sample's class now has
    p = 1 / (1 + e^-1) = 0.731059, and L = log(1 + e^-1) = 0.313262
    """
    net = ns.Network([2, 2], output_activation="softmax", seed=0)
    net.set_weights([(np.zeros((2, 2)), np.zeros(2))])
    X, labels = np.eye(2), np.array([0, 1])
    loss, [(dW, db)] = net.loss_and_gradients(X, labels, loss="cross_entropy")
    assert loss == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_array_equal(dW, [[-0.25, 0.25], [0.25, -0.25]])
    np.testing.assert_array_equal(db, [0.0, 0.0])
    history = net.fit(X, labels, loss="cross_entropy", optimizer=ns.SGD(lr=2.0), epochs=1)
    assert history.loss == [pytest.approx(np.log(2), rel=1e-15)]
    np.testing.assert_array_equal(net.layers[0].W, [[0.5, -0.5], [-0.5, 0.5]])
    np.testing.assert_array_equal(net.layers[0].b, [0.0, 0.0])
    p = 1 / (1 + np.exp(-1))
    np.testing.assert_allclose(net.forward(X), [[p, 1 - p], [1 - p, p]], rtol=1e-15)
    assert net.evaluate(X, labels, loss="cross_entropy") == pytest.approx(np.log1p(np.exp(-1)), rel=1e-14)


def test_batch_gradient_is_the_mean_of_per_sample_gradients():
    net = ns.Network([3, 4, 2], activation="tanh", seed=0)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    loss, grads = net.loss_and_gradients(X, Y)
    per_sample = [net.loss_and_gradients(X[i:i + 1], Y[i:i + 1]) for i in range(5)]
    assert loss == pytest.approx(np.mean([l for l, _ in per_sample]), rel=1e-14)
    for layer in range(2):
        for k in range(2):
            mean = np.mean([g[layer][k] for _, g in per_sample], axis=0)
            np.testing.assert_allclose(grads[layer][k], mean, rtol=1e-13, atol=1e-16)


# ---------------------------------------------------------------- gradient check
# softmax is an odd hidden activation, but it is allowed, and its backward is
# the one non-element-wise path through the hidden layers.
HIDDEN = ["relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"]
OUTPUT_LOSS = [("linear", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("softmax", "mse"),
               ("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]


def _targets(output, loss, rng, n, k):
    if loss == "cross_entropy":
        return rng.integers(0, k, size=n)
    if loss == "binary_cross_entropy" or output in ("sigmoid", "softmax"):
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if output == "tanh":
        return rng.uniform(-0.9, 0.9, size=(n, k))
    return rng.normal(size=(n, k))




@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("output, loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_match_central_differences(hidden, output, loss, alpha):
    rng = np.random.default_rng(0)
    n, k = 8, 3
    net = ns.Network([3, 5, 4, k], activation=hidden, output_activation=output, seed=1,
                     bias_init="same")
    X = rng.normal(size=(n, 3))
    y = _targets(output, loss, rng, n, k)
    # A ReLU kink within eps of a pre-activation would spoil the difference
    # quotient; make sure none is near (a perturbation of 1e-6 in one weight
    # moves a pre-activation by far less than 1e-4 here).
    Zs, _ = net.forward(X, return_all=True)
    assert min(np.abs(Z).min() for Z in Zs[:-1]) > 1e-4
    _, grads = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)
    analytic = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads])
    numeric = central_differences(net, X, y, loss, alpha)
    assert np.linalg.norm(numeric) > 1e-3  # the check is not vacuous
    rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    assert rel <= 1e-7, f"relative error {rel:.2e}"


def test_l2_penalty_formula_on_weights_only():
    net = ns.Network([3, 4, 2], seed=0, bias_init="same")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    data_loss, data_grads = net.loss_and_gradients(X, Y)
    alpha, n = 0.7, 6
    loss, grads = net.loss_and_gradients(X, Y, alpha=alpha)
    penalty = alpha / (2 * n) * sum(np.sum(layer.W ** 2) for layer in net.layers)
    assert loss == pytest.approx(data_loss + penalty, rel=1e-14)
    assert net.evaluate(X, Y) == pytest.approx(data_loss, rel=1e-14)  # evaluate: data loss only
    for layer, (dW, db), (dW0, db0) in zip(net.layers, grads, data_grads):
        np.testing.assert_allclose(dW, dW0 + alpha / n * layer.W, rtol=1e-14)
        np.testing.assert_array_equal(db, db0)  # biases are not penalised
    with pytest.raises(ValueError, match="alpha"):
        net.loss_and_gradients(X, Y, alpha=-1.0)


def test_loss_and_gradients_checks_its_inputs():
    net = ns.Network([2, 3, 2], seed=0)
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="output_activation='softmax'"):
        net.loss_and_gradients(X, np.array([0, 1, 1, 0]), loss="cross_entropy")
    with pytest.raises(ValueError, match="X has 4 rows but y has 3"):
        net.loss_and_gradients(X, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="columns"):
        net.loss_and_gradients(X, np.zeros((4, 3)))


def test_gradients_are_fresh_arrays():
    net = ns.Network([2, 3, 1], seed=0)
    X, y = np.ones((2, 2)), np.ones(2)
    _, g1 = net.loss_and_gradients(X, y)
    kept = g1[0][0].copy()
    net.loss_and_gradients(X * 5, y * 3)
    np.testing.assert_array_equal(g1[0][0], kept)


# ---------------------------------------------------------------- weights and determinism
def test_same_seed_same_bits_different_seed_differs():
    a = ns.Network([2, 8, 8, 3], seed=42, bias_init="same")
    b = ns.Network([2, 8, 8, 3], seed=np.random.default_rng(42), bias_init="same")
    c = ns.Network([2, 8, 8, 3], seed=43, bias_init="same")
    assert a.params.tobytes() == b.params.tobytes()
    assert not np.array_equal(a.params, c.params)


def test_network_does_not_touch_the_global_random_state():
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    X = np.random.default_rng(0).normal(size=(4, 2))
    ns.Network([2, 8, 3], seed=1).fit(X, X[:, :1] * [1, 2, 3], epochs=1, batch_size=2, seed=1,
                                      optimizer=ns.SGD(0.01))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_get_set_weights_and_copy():
    net = ns.Network([2, 3, 1], seed=0)
    weights = net.get_weights()
    weights[0][0][...] = 5.0  # copies: the net is unchanged
    assert not np.any(net.layers[0].W == 5.0)
    other = ns.Network([2, 3, 1], seed=1)
    other.set_weights(net.get_weights())
    np.testing.assert_array_equal(other.params, net.params)
    clone = net.copy()
    clone.params[:] = 0.0
    np.testing.assert_array_equal(clone.layers[0].W, 0.0)  # views still point into the clone's params
    assert np.any(net.params != 0.0)
    with pytest.raises(ValueError, match="expected 2"):
        net.set_weights(weights[:1])
    with pytest.raises(ValueError, match="shape"):
        net.set_weights([(np.zeros((3, 2)), np.zeros(3)), weights[1]])


def test_repr_names_the_architecture():
    assert repr(ns.Network([2, 4, 3], seed=0)) == (
        "Network([2, 4, 3], activation='relu', output_activation='linear', dtype=float64)")


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_copies_keep_layers_as_views_of_their_own_params(how):
    import copy
    import pickle

    net = ns.Network([2, 3, 1], seed=0)
    other = {"pickle": lambda n: pickle.loads(pickle.dumps(n)), "deepcopy": copy.deepcopy,
             "copy": lambda n: n.copy()}[how](net)
    np.testing.assert_array_equal(other.params, net.params)
    other.params[...] = 0.0  # what an optimiser step does
    assert all(np.all(layer.W == 0) and np.all(layer.b == 0) for layer in other.layers)
    assert np.any(net.layers[0].W != 0)  # the original is untouched


def test_a_classifier_gives_probabilities_and_classes_by_name():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2))
    soft = ns.Network([2, 4, 3], output_activation="softmax", seed=0)
    P = soft.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(soft.predict_classes(X), P.argmax(axis=1))
    one = ns.Network([2, 4, 1], output_activation="sigmoid", seed=0)
    p = one.forward(X)[:, 0]
    np.testing.assert_allclose(one.predict_proba(X), np.column_stack([1 - p, p]))
    np.testing.assert_array_equal(one.predict_classes(X), (p > 0.5).astype(int))
    labels = ns.Network([2, 4, 3], output_activation="sigmoid", seed=0)
    assert labels.predict_classes(X).shape == (6, 3)
    y = soft.predict_classes(X)
    assert ns.accuracy(y, soft.predict_classes(X)) == 1.0
    with pytest.raises(ValueError, match="predict_proba needs a classifier.*'linear'"):
        ns.Network([2, 3, 1], seed=0).predict_classes(X)
