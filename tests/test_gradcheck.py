"""ninestep.check_gradients: central differences against back-propagation, per layer."""

import numpy as np
import pytest

import ninestep
from ninestep.activations import Tanh

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
    assert report[0] == {"layer": 0, "W": 0.0, "b": 0.0}


def test_bad_arguments_are_named():
    rng = np.random.default_rng(5)
    net = ninestep.Network([3, 4, 2], seed=rng)
    X, y = data(rng, "mse", 5, 2)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        ninestep.check_gradients(net, X, y, eps=0)
    with pytest.raises(ValueError, match="needs a 'softmax' output layer"):
        ninestep.check_gradients(net, X, np.array([0, 1, 0, 1, 1]), loss="cross_entropy")
