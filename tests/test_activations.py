"""Step 6: activations beside their derivatives (ninestep.activations)."""

import numpy as np
import pytest

import ninestep as ns
from ninestep.activations import ACTIVATIONS, LeakyReLU, log_softmax, sigmoid, softmax

# Overflow, division by zero and NaN raise; underflow does not: exp(-2000)
# rounding to 0 is the correct answer (and NumPy ignores it by default).
STRICT = dict(over="raise", divide="raise", invalid="raise", under="ignore")

ELEMENTWISE = ["relu", "leaky_relu", "sigmoid", "tanh", "linear"]
ALL = ELEMENTWISE + ["softmax"]


def _smooth_points(seed=0, shape=(6, 4)):
    """Random inputs kept at least 0.05 away from 0, the ReLU kink."""
    Z = np.random.default_rng(seed).uniform(-3, 3, size=shape)
    return np.where(np.abs(Z) < 0.05, Z + np.sign(Z + 1e-300) * 0.1, Z)


def test_registry_has_the_six_activations_and_aliases():
    assert set(ACTIVATIONS) == set(ALL)
    assert ns.get_activation("identity").name == "linear"
    assert ns.get_activation("logistic").name == "sigmoid"
    assert ns.get_activation("ReLU").name == "relu"
    act = ns.get_activation("tanh")
    assert ns.get_activation(act) is act
    with pytest.raises(ValueError, match="choose one of"):
        ns.get_activation("gelu")
    with pytest.raises(TypeError, match="activation must be a name"):
        ns.get_activation(3)


@pytest.mark.parametrize("name, expected", [
    ("relu", lambda z: np.maximum(z, 0)),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("linear", lambda z: z),
])
def test_forward_values(name, expected):
    Z = np.linspace(-5, 5, 41).reshape(-1, 1)
    np.testing.assert_allclose(ns.get_activation(name).forward(Z), expected(Z), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("name", ALL)
def test_backward_matches_central_differences(name):
    # For a random upstream gradient G, backward(Z, A, G) must equal the
    # gradient of sum(G * forward(Z)) with respect to Z.
    act = ns.get_activation(name)
    Z = _smooth_points()
    G = np.random.default_rng(1).normal(size=Z.shape)
    analytic = act.backward(Z, act.forward(Z), G)
    eps = 1e-6
    numeric = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        numeric[idx] = (np.sum(G * act.forward(Zp)) - np.sum(G * act.forward(Zm))) / (2 * eps)
    rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic) + np.linalg.norm(numeric))
    assert rel < 1e-8


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_backward_is_upstream_times_derivative(name):
    act = ns.get_activation(name)
    Z = _smooth_points()
    A = act.forward(Z)
    G = np.random.default_rng(2).normal(size=Z.shape)
    np.testing.assert_allclose(act.backward(Z, A, G), G * act.derivative(Z, A), rtol=1e-15)


def test_derivative_values_by_formula():
    Z = np.array([[-2.0, -0.5, 0.5, 2.0]])
    s = 1 / (1 + np.exp(-Z))
    cases = {
        "relu": [[0, 0, 1, 1]],
        "leaky_relu": [[0.01, 0.01, 1, 1]],
        "sigmoid": s * (1 - s),
        "tanh": 1 - np.tanh(Z) ** 2,
        "linear": [[1, 1, 1, 1]],
    }
    for name, expected in cases.items():
        act = ns.get_activation(name)
        np.testing.assert_allclose(act.derivative(Z, act.forward(Z)), expected, rtol=1e-14, err_msg=name)
    # At the kink, relu' is 0 (as in PyTorch).
    assert ns.get_activation("relu").derivative(np.zeros(1), np.zeros(1))[0] == 0.0


def test_leaky_relu_slope_is_configurable():
    act = LeakyReLU(slope=0.2)
    np.testing.assert_allclose(act.forward(np.array([-10.0, 3.0])), [-2.0, 3.0])
    np.testing.assert_allclose(act.derivative(np.array([-1.0, 1.0]), None), [0.2, 1.0])


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(TypeError, match="backward"):
        ns.get_activation("softmax").derivative(np.zeros((1, 2)), np.zeros((1, 2)))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", ALL)
def test_finite_and_correct_at_plus_minus_1000_without_warnings(name):
    act = ns.get_activation(name)
    Z = np.array([[-1000.0, 1000.0, 0.0], [1000.0, -1000.0, 1000.0]])
    G = np.ones_like(Z)
    with np.errstate(**STRICT):
        A = act.forward(Z)
        dZ = act.backward(Z, A, G)
    assert np.isfinite(A).all() and np.isfinite(dZ).all()
    expected = {
        "relu": np.maximum(Z, 0),
        "leaky_relu": np.where(Z > 0, Z, 0.01 * Z),
        "sigmoid": np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1.0]]),
        "tanh": np.array([[-1.0, 1.0, 0.0], [1.0, -1.0, 1.0]]),
        "linear": Z,
        "softmax": np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]),
    }[name]
    np.testing.assert_allclose(A, expected, rtol=0, atol=1e-300)


def test_sigmoid_is_accurate_in_both_tails():
    z = np.array([-30.0, -700.0, 30.0])
    with np.errstate(**STRICT):
        s = sigmoid(z)
    # The lower tail keeps its relative accuracy (exp(z) / (1 + exp(z))), not just 0.
    np.testing.assert_allclose(s[:2], np.exp(z[:2]) / (1 + np.exp(z[:2])), rtol=1e-14)
    assert s[1] > 0
    assert s[2] == pytest.approx(1 - np.exp(-30.0), rel=1e-15)
    assert sigmoid(np.float32(-5.0)).dtype == np.float32


def test_softmax_rows_sum_to_one_and_are_shift_invariant():
    Z = np.random.default_rng(0).normal(scale=10, size=(50, 7))
    P = softmax(Z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    assert (P >= 0).all()
    np.testing.assert_allclose(softmax(Z + 123.0), P, rtol=1e-12)
    np.testing.assert_allclose(P, np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True), rtol=1e-12)


def test_log_softmax_is_log_of_softmax_and_finite_for_huge_logits():
    Z = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_allclose(log_softmax(Z), np.log(softmax(Z)), rtol=1e-13)
    with np.errstate(**STRICT):
        L = log_softmax(np.array([[1000.0, -1000.0, 0.0]]))
    np.testing.assert_allclose(L, [[0.0, -2000.0, -1000.0]])


@pytest.mark.parametrize("name", ALL)
def test_float32_stays_float32(name):
    act = ns.get_activation(name)
    Z = _smooth_points().astype(np.float32)
    A = act.forward(Z)
    dZ = act.backward(Z, A, np.ones_like(Z))
    assert A.dtype == np.float32 and dZ.dtype == np.float32
