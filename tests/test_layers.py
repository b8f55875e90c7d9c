"""Step 5: the Dense layer and its initialisers (ninestep.layers)."""

import numpy as np
import pytest

import ninestep as ns
from ninestep.layers import INITIALIZERS, default_init, initialize


def test_shapes_follow_rows_are_samples():
    layer = ns.Dense(3, 5, "relu", seed=0)
    assert layer.W.shape == (3, 5)
    assert layer.b.shape == (5,)
    assert layer.n_params == (3 + 1) * 5
    Z, A = layer.forward(np.ones((7, 3)))
    assert Z.shape == A.shape == (7, 5)


def test_forward_is_relu_of_affine_map():
    layer = ns.Dense(2, 3, "relu", seed=0)
    layer.W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -3.0]])
    layer.b = np.array([0.5, 1.0, -1.0])
    X = np.array([[1.0, 2.0], [-1.0, 0.0]])
    Z, A = layer.forward(X)
    # Row 1: [1+4+0.5, -1+0+1, 0.5-6-1] = [5.5, 0, -6.5]; row 2: [-1+0.5, 1+1, -0.5-1] = [-0.5, 2, -1.5].
    np.testing.assert_array_equal(Z, [[5.5, 0.0, -6.5], [-0.5, 2.0, -1.5]])
    np.testing.assert_array_equal(A, [[5.5, 0.0, 0.0], [0.0, 2.0, 0.0]])


def test_biases_start_at_zero_by_default_and_like_the_weights_with_same():
    layer = ns.Dense(4, 6, "relu", seed=0)
    np.testing.assert_array_equal(layer.b, np.zeros(6))
    article = ns.Dense(4, 6, "relu", seed=0, bias_init="same")
    assert np.all(article.b != 0)
    # Weights are drawn first, so they do not depend on bias_init.
    np.testing.assert_array_equal(article.W, layer.W)
    with pytest.raises(ValueError, match="bias_init"):
        ns.Dense(2, 2, bias_init="random")


def test_bias_init_same_draws_biases_with_the_weight_distribution():
    # b ~ N(0, 2 / n_in) like He weights, so over many layers its std is sqrt(2 / n_in).
    rng = np.random.default_rng(0)
    b = np.concatenate([ns.Dense(8, 500, "relu", seed=rng, bias_init="same").b for _ in range(4)])
    assert b.std() == pytest.approx(np.sqrt(2 / 8), rel=0.05)


def test_default_init_he_for_relu_family_glorot_otherwise():
    assert default_init("relu") == default_init("leaky_relu") == "he_normal"
    for name in ("sigmoid", "tanh", "linear", "softmax"):
        assert default_init(name) == "glorot_uniform"


# Each initialiser's variance: He 2/n_in, Glorot 2/(n_in+n_out); uniforms are bounded.
@pytest.mark.parametrize("init, var, bound", [
    ("he_normal", 2 / 400, None),
    ("he_uniform", 2 / 400, np.sqrt(6 / 400)),
    ("glorot_normal", 2 / 700, None),
    ("glorot_uniform", 2 / 700, np.sqrt(6 / 700)),
])
def test_initialiser_statistics(init, var, bound):
    W = ns.Dense(400, 300, "tanh", init=init, seed=1).W  # 120,000 draws
    # The sample variance of 120k draws is within about 1% (normal: sqrt(2/n) = 0.4%).
    assert W.var() == pytest.approx(var, rel=0.03)
    assert abs(W.mean()) < 5 * np.sqrt(var / W.size)
    if bound is not None:
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound  # fills the interval
    else:
        # Normal: about 4.6% of draws lie beyond two standard deviations.
        beyond = np.mean(np.abs(W) > 2 * np.sqrt(var))
        assert 0.040 < beyond < 0.051


def test_default_init_is_used_when_none_given():
    relu = ns.Dense(400, 300, "relu", seed=2).W
    tanh = ns.Dense(400, 300, "tanh", seed=2).W
    assert relu.var() == pytest.approx(2 / 400, rel=0.03)
    assert tanh.var() == pytest.approx(2 / 700, rel=0.03)
    assert np.abs(tanh).max() <= np.sqrt(6 / 700)


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match="glorot_uniform"):
        ns.Dense(2, 2, init="xavier")
    with pytest.raises(ValueError, match="Unknown init"):
        initialize("nope", np.random.default_rng(0), 2, 2, (2, 2))
    assert set(INITIALIZERS) == {"he_normal", "he_uniform", "glorot_normal", "glorot_uniform"}


def test_same_seed_same_bits():
    a = ns.Dense(5, 4, "relu", seed=3, bias_init="same")
    b = ns.Dense(5, 4, "relu", seed=np.random.default_rng(3), bias_init="same")
    assert a.W.tobytes() == b.W.tobytes() and a.b.tobytes() == b.b.tobytes()
    assert not np.array_equal(a.W, ns.Dense(5, 4, "relu", seed=4).W)


def test_float32_layer():
    layer = ns.Dense(3, 2, "sigmoid", seed=0, dtype=np.float32)
    assert layer.W.dtype == layer.b.dtype == np.float32
    Z, A = layer.forward(np.ones((4, 3), dtype=np.float32))
    assert Z.dtype == A.dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        ns.Dense(3, 2, dtype=np.int64)


def test_assignment_copies_into_the_existing_storage():
    layer = ns.Dense(2, 3, "relu", seed=0)
    storage = layer.W
    new = np.arange(6.0).reshape(2, 3)
    layer.W = new
    assert layer.W is storage
    np.testing.assert_array_equal(layer.W, new)
    new[0, 0] = 99.0  # the layer holds a copy, not the caller's array
    assert layer.W[0, 0] == 0.0
    with pytest.raises(ValueError, match=r"W must have shape \(2, 3\)"):
        layer.W = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        layer.b = np.zeros(2)


def test_assignment_to_a_networks_layer_keeps_the_view_into_params():
    net = ns.Network([2, 3, 1], seed=0)
    layer = net.layers[0]
    layer.W = np.full((2, 3), 7.0)
    layer.b = np.array([1.0, 2.0, 3.0])
    # W^1 is stored first, row-major, then b^1.
    np.testing.assert_array_equal(net.params[:6], 7.0)
    np.testing.assert_array_equal(net.params[6:9], [1.0, 2.0, 3.0])
    assert np.shares_memory(layer.W, net.params) and np.shares_memory(layer.b, net.params)
    # And the other way round: an optimiser's in-place update of params is seen by the layer.
    net.params[:6] = -1.0
    np.testing.assert_array_equal(layer.W, -1.0)


@pytest.mark.parametrize("n_in, n_out", [(0, 2), (2, 0), (2.0, 2), (-1, 3)])
def test_bad_sizes_are_rejected(n_in, n_out):
    with pytest.raises(ValueError, match="n_in|n_out"):
        ns.Dense(n_in, n_out)


def test_unknown_activation_is_rejected_with_choices():
    with pytest.raises(ValueError, match="choose one of"):
        ns.Dense(2, 2, "swish")


def test_he_init_keeps_the_signal_through_a_deep_relu_stack():
    # Why He is the default for ReLU: with Var(W) = 2 / n_in the mean square
    # of the pre-activations stays about constant from layer to layer, where
    # Glorot's 2 / (n_in + n_out) = 1 / n_in halves it at every ReLU layer.
    X = np.random.default_rng(0).normal(size=(500, 200))
    ratios = {}
    for init in ("he_normal", "glorot_normal"):
        net = ns.Network([200] * 11, activation="relu", output_activation="relu", init=init, seed=1)
        Zs, _ = net.forward(X, return_all=True)
        ratios[init] = np.mean(Zs[-1] ** 2) / np.mean(Zs[0] ** 2)
    assert 0.5 < ratios["he_normal"] < 2.0
    assert ratios["glorot_normal"] < 0.01  # about 2^-9
