"""The training loop's fast paths give the same numbers as the plain ones.

``fit`` runs through reused scratch arrays (``Network._scratch``), ``out=``
arguments, ``Loss.value_and_dZ`` and a chunked Adam that zeroes moments
about to become subnormal. Each is checked here against the straightforward
computation, so that no speed-up can change a result beyond round-off.
"""

import pickle

import numpy as np
import pytest

import ninestep as ns
from ninestep.activations import ACTIVATIONS

CASES = [("mse", "linear"), ("mse", "tanh"), ("cross_entropy", "softmax"),
         ("binary_cross_entropy", "sigmoid")]


def _targets(loss, rng, n, k):
    if loss == "mse":
        return rng.standard_normal((n, k))
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.integers(0, 2, (n, k)).astype(float)


@pytest.mark.parametrize("loss_name, output", CASES)
def test_value_and_dZ_equals_value_and_dZ_separately(loss_name, output):
    rng = np.random.default_rng(0)
    act, loss = ns.get_activation(output), ns.get_loss(loss_name)
    Z = np.asfortranarray(rng.standard_normal((9, 4)))
    A, Y = act.forward(Z), _targets(loss_name, rng, 9, 4)
    expected_value, expected_dZ = loss.value(Z, A, Y), loss.dZ(Z, A, Y, act)
    value, dZ = loss.value_and_dZ(Z, A, Y, act, out=np.empty_like(Z))
    assert value == pytest.approx(expected_value, rel=1e-14)
    np.testing.assert_allclose(dZ, expected_dZ, rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_forward_and_backward_with_out_equal_the_plain_calls(name):
    rng = np.random.default_rng(1)
    act = ns.get_activation(name)
    Z, dA = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    A = act.forward(Z)
    np.testing.assert_array_equal(act.forward(Z, out=np.empty_like(Z)), A)
    expected = act.backward(Z, A, dA)
    in_place = dA.copy()
    np.testing.assert_allclose(act.backward(Z, A, in_place, out=in_place), expected, rtol=1e-15)


def _plain_loss_and_grad(net, X, Y):
    """Back-propagation written out with fresh arrays, for mse and a linear output."""
    Zs, As = [], [X]
    for layer in net.layers:
        Zs.append(As[-1] @ layer.W + layer.b)
        As.append(layer.activation.forward(Zs[-1].copy()))
    n = X.shape[0]
    value = 0.5 * np.sum((As[-1] - Y) ** 2) / n
    dZ = (As[-1] - Y) / n
    grads = [None] * len(net.layers)
    for l in range(len(net.layers) - 1, -1, -1):
        grads[l] = (As[l].T @ dZ, dZ.sum(axis=0))
        if l:
            dZ = (dZ @ net.layers[l].W.T) * (Zs[l - 1] > 0)
    return value, grads


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_scratch_arrays_reused_across_batch_sizes_give_plain_gradients(dtype, rtol):
    rng = np.random.default_rng(2)
    net = ns.Network([3, 8, 5, 2], seed=0, dtype=dtype)
    loss = ns.get_loss("mse")
    grad = np.empty_like(net.params)
    grads = net._views(grad)
    # 7, 3, 7, 11, 7: the scratch dict keeps two batch sizes, then starts again.
    for n in (7, 3, 7, 11, 7):
        X = rng.standard_normal((n, 3)).astype(dtype)
        Y = rng.standard_normal((n, 2)).astype(dtype)
        value = net._loss_and_grad(X, Y, loss, 0.0, grads)
        expected_value, expected = _plain_loss_and_grad(net, X, Y)
        assert value == pytest.approx(float(expected_value), rel=rtol)
        for (dW, db), (eW, eb) in zip(grads, expected):
            np.testing.assert_allclose(dW, eW, rtol=rtol, atol=rtol * 1e-3)
            np.testing.assert_allclose(db, eb, rtol=rtol, atol=rtol * 1e-3)
        assert len(net._work) <= 2


def test_copies_and_pickles_do_not_carry_the_scratch_arrays():
    net = ns.Network([2, 4, 1], seed=0)
    net._loss_and_grad(np.ones((5, 2)), np.ones((5, 1)), ns.get_loss("mse"), 0.0,
                       net._views(np.empty_like(net.params)))
    assert net._work
    assert net.copy()._work == {}
    assert pickle.loads(pickle.dumps(net))._work == {}


@pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")
def test_fit_frees_the_scratch_arrays():
    X, y = ns.make_sine(50, seed=0)
    net = ns.Network([1, 8, 1], seed=0)
    net.fit(X.reshape(-1, 1), y, optimizer=ns.SGD(0.01), epochs=2, batch_size=None)
    assert net._work == {}


def _adam_reference(p, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam's formula, one parameter vector, no chunks, no flushing."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def test_adam_in_chunks_with_subnormal_flushing_follows_the_plain_formula():
    # Coordinate 0 gets a gradient for 50 steps, then 0 for ever (a dead unit):
    # its m decays through the subnormal range, which the optimiser flushes.
    rng = np.random.default_rng(3)
    n, steps = 40_000, 7_000  # two chunks; m of coordinate 0 would reach the subnormals
    p0 = rng.standard_normal(4)
    grads = [np.array([1.0 if t < 50 else 0.0, *rng.standard_normal(3)]) for t in range(steps)]
    expected = _adam_reference(p0, grads)
    opt = ns.Adam(lr=1e-3)
    p = np.zeros(n)
    p[:4] = p0
    g_full = np.zeros(n)
    for g in grads:
        g_full[:4] = g
        opt.step(p, g_full)
    np.testing.assert_allclose(p[:4], expected, rtol=1e-11)
    tiny = np.finfo(np.float64).tiny
    for moment in (opt.m_sum, opt.v_sum):
        assert not ((moment != 0) & (np.abs(moment) < tiny)).any(), "a subnormal moment was left"
