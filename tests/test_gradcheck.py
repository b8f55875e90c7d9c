"""ninestep.check_gradients: central differences against back-propagation, per layer."""

import numpy as np
import pytest

import ninestep
from ninestep.activations import ReLU, Tanh

CASES = [("tanh", "linear", "mse"), ("sigmoid", "softmax", "cross_entropy"),
         ("leaky_relu", "sigmoid", "binary_cross_entropy"), ("tanh", "softmax", "mse")]


def data(rng, loss, n, k):
    X = rng.normal(size=(n, 3))
    if loss == "cross_entropy":
        return X, rng.integers(0, k, size=n)
    if loss == "binary_cross_entropy":
        return X, (rng.random((n, k)) < 0.5).astype(float)
    return X, rng.normal(size=(n, k))


@pytest.mark.parametrize("hidden, output, loss", CASES)
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_correct_backprop_passes(hidden, output, loss, alpha):
    rng = np.random.default_rng(0)
    net = ninestep.Network([3, 5, 4, 3], activation=hidden, output_activation=output, seed=rng)
    net.params[...] += rng.normal(scale=0.3, size=net.params.size)
    X, y = data(rng, loss, 7, 3)
    report = ninestep.check_gradients(net, X, y, loss=loss, alpha=alpha)
    assert [r["layer"] for r in report] == [0, 1, 2]
    assert max(max(r["W"], r["b"]) for r in report) < 1e-7, report


def test_a_wrong_derivative_shows_in_its_layer_and_below_only():
    rng = np.random.default_rng(1)
    net = ninestep.Network([3, 5, 4, 2], activation="tanh", seed=rng)
    X, y = data(rng, "mse", 6, 2)

    class WrongTanh(Tanh):
        def derivative(self, Z, A):
            return 1 - A  # should be 1 - A**2

    net.layers[1].activation = WrongTanh()  # the second hidden layer's backward is now wrong
    report = ninestep.check_gradients(net, X, y)
    assert report[2]["W"] < 1e-7  # above the bug: untouched
    assert report[1]["W"] > 1e-3 and report[0]["W"] > 1e-3  # the bug and everything below it


def test_weights_are_left_bit_for_bit():
    rng = np.random.default_rng(2)
    net = ninestep.Network([3, 4, 1], activation="sigmoid", seed=rng)
    before = net.params.copy()
    ninestep.check_gradients(net, *data(rng, "mse", 5, 1))
    np.testing.assert_array_equal(net.params, before)
    assert all(np.shares_memory(layer.W, net.params) for layer in net.layers)


def test_float32_network_is_checked_in_float64_with_a_warning():
    rng = np.random.default_rng(3)
    net = ninestep.Network([3, 4, 2], activation="tanh", seed=rng, dtype=np.float32)
    before = net.params.copy()
    with pytest.warns(UserWarning, match="network is float32.*float64 copy"):
        report = ninestep.check_gradients(net, *data(rng, "mse", 5, 2))
    assert max(max(r["W"], r["b"]) for r in report) < 1e-7
    assert net.dtype == np.float32
    np.testing.assert_array_equal(net.params, before)


def test_dead_units_report_zero_not_nan():
    rng = np.random.default_rng(4)
    net = ninestep.Network([3, 4, 1], activation="relu", seed=rng)
    net.layers[0].b = -100.0 * np.ones(4)  # every hidden unit is off for every sample
    report = ninestep.check_gradients(net, *data(rng, "mse", 5, 1))
    assert report[0] == {"layer": 0, "W": 0.0, "b": 0.0, "W_kinks": 0, "b_kinks": 0}


def test_bad_arguments_are_named():
    rng = np.random.default_rng(5)
    net = ninestep.Network([3, 4, 2], seed=rng)
    X, y = data(rng, "mse", 5, 2)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        ninestep.check_gradients(net, X, y, eps=0)
    with pytest.raises(ValueError, match="needs a 'softmax' output layer"):
        ninestep.check_gradients(net, X, np.array([0, 1, 0, 1, 1]), loss="cross_entropy")


# ---------------------------------------------------------------------- ReLU kinks
def relu_case(seed, activation="relu", sizes=(3, 5, 4, 2), n=8):
    """What `ninestep gradcheck` builds: a He-initialised net, zero biases, standard-normal X and y."""
    rng = np.random.default_rng(seed)
    net = ninestep.Network(list(sizes), activation=activation, seed=rng)
    return net, rng.standard_normal((n, sizes[0])), rng.standard_normal((n, sizes[-1]))


def worst(report):
    return max(max(r["W"], r["b"]) for r in report)


def test_an_entry_whose_difference_crosses_a_relu_kink_is_left_out_and_counted():
    # Seed 0: one sample switches off every unit of layer 1, so layer 2 sees Z = b = 0 exactly for it,
    # the kink; moving a bias of layer 2 by +-eps turns that unit on on one side only.
    net, X, y = relu_case(0)
    naive = ninestep.check_gradients(net, X, y, skip_kinks=False)
    assert naive[1]["b"] > 1e-2 and naive[1]["b_kinks"] == 0  # the difference quotient is wrong there
    report = ninestep.check_gradients(net, X, y)
    assert worst(report) < 1e-7, report
    assert report[1]["b_kinks"] > 0
    assert sum(r["W_kinks"] + r["b_kinks"] for r in report) == report[1]["b_kinks"]
    Z, _ = net.forward(X, return_all=True)
    assert (Z[1] == 0).any()  # the exact zero that the check found


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_relu_nets_pass_for_seeds_0_to_99(activation):
    failures = {seed: worst(r) for seed in range(100)
                if worst(r := ninestep.check_gradients(*relu_case(seed, activation))) > 1e-6}
    assert not failures


def test_a_smooth_net_leaves_nothing_out():
    net, X, y = relu_case(0, "tanh")
    assert all(r["W_kinks"] == r["b_kinks"] == 0 for r in ninestep.check_gradients(net, X, y))


class HandWrittenBackprop(ninestep.Network):
    """A test double: back-propagation for mse written out from the equations, with an optional bug.

    ``bug="transpose"`` uses ``dZ W`` for ``dA^{l-1}`` instead of ``dZ W^T`` where W is square (there
    the shapes still fit: layer 2 of [3, 4, 4, 2]); ``bug="relu_derivative"`` passes dA through ReLU
    unchanged (as if relu' were 1).
    """

    def __init__(self, sizes, seed, bug=None):
        super().__init__(sizes, activation="relu", seed=seed)
        self.bug = bug

    def loss_and_gradients(self, X, y, loss="mse", alpha=0.0):
        Z, A = self.forward(X, return_all=True)
        n = X.shape[0]
        dZ = (A[-1] - y) / n
        grads = []
        for l in range(len(self.layers) - 1, -1, -1):
            W = self.layers[l].W
            grads.append((A[l].T @ dZ, dZ.sum(axis=0)))
            if l > 0:
                dA = dZ @ (W if self.bug == "transpose" and W.shape[0] == W.shape[1] else W.T)
                dZ = dA if self.bug == "relu_derivative" else dA * (Z[l - 1] > 0)
        return 0.5 * float(((A[-1] - y) ** 2).sum()) / n, grads[::-1]


@pytest.mark.parametrize("seed", range(5))
def test_the_hand_written_double_passes_and_its_bugs_fail(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    assert worst(ninestep.check_gradients(HandWrittenBackprop([3, 4, 4, 2], seed), X, y)) < 1e-7
    for bug in ("transpose", "relu_derivative"):
        report = ninestep.check_gradients(HandWrittenBackprop([3, 4, 4, 2], seed, bug), X, y)
        assert report[2]["W"] < 1e-7  # the output layer's gradient comes before either bug
        assert report[0]["W"] > 1e-3, (bug, report)  # the first layer's comes after both


def test_a_wrong_relu_derivative_fails_despite_the_kink_rule():
    class ReLUAsLinear(ReLU):  # forward is ReLU, backward pretends relu' = 1
        def backward(self, Z, A, dA, out=None):
            return dA.copy() if out is None else np.copyto(out, dA) or out

    for seed in range(5):
        net, X, y = relu_case(seed)
        net.layers[0].activation = ReLUAsLinear()
        assert worst(ninestep.check_gradients(net, X, y)) > 1e-3


# ---------------------------------------------------------------------- the command
def gradcheck(capsys, *args):
    from ninestep.cli import main
    code = main(["gradcheck", *args])
    return code, capsys.readouterr().out


def test_the_command_passes_relu_for_seeds_0_to_99(capsys):
    failed = [seed for seed in range(100) if gradcheck(capsys, "--activation", "relu", "--seed", str(seed))[0] != 0]
    assert not failed


def test_the_command_says_what_it_left_out_and_can_keep_it(capsys):
    code, out = gradcheck(capsys, "--activation", "relu", "--seed", "0")
    assert code == 0 and "4 of 54 entries left out" in out and "all left out" in out
    code, out = gradcheck(capsys, "--activation", "relu", "--seed", "0", "--keep-kinks")
    assert code == 1 and "FAILED: largest error 1.51e-01" in out
