"""The fast path (ninestep._fastpath) gives the reference path's numbers.

``fit`` runs through ``TrainingStep`` (reused scratch arrays, ``[A, 1] [W; b]``
products, samples-contiguous buffers, ``Loss.value_and_dZ``) and
``fast_update`` (in-place optimiser kernels, Adam in chunks that zeroes
moments about to become subnormal). Each is held here to the readable code
in ninestep.network and ninestep.optimizers: 1e-12 relative in float64,
float32 at its own round-off.
"""

import numpy as np
import pytest

import ninestep as ns
from ninestep._fastpath import TrainingStep, _AdamKernel, fast_update
from ninestep.activations import ACTIVATIONS
from ninestep.losses import prepare_targets

CASES = [("mse", "linear"), ("mse", "tanh"), ("mse", "sigmoid"), ("cross_entropy", "softmax"),
         ("binary_cross_entropy", "sigmoid")]
HIDDEN = ["relu", "leaky_relu", "tanh", "sigmoid", "linear"]
RTOL = {np.float64: 1e-12, np.float32: 2e-4}


def _targets(loss, rng, n, k):
    if loss == "mse":
        return rng.standard_normal((n, k))
    if loss == "cross_entropy":
        return rng.integers(0, k, n)
    return rng.integers(0, 2, (n, k)).astype(float)


def _close(actual, expected, rtol):
    """Relative to the array's own scale: entries near 0 are judged against the largest entry."""
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("loss_name, output", CASES)
def test_value_and_dZ_equals_value_and_dZ_separately(loss_name, output):
    rng = np.random.default_rng(0)
    act, loss = ns.get_activation(output), ns.get_loss(loss_name)
    Z = np.asfortranarray(rng.standard_normal((9, 4)))
    A = act.forward(Z)
    Y = prepare_targets(_targets(loss_name, rng, 9, 4), loss, 4, np.float64)
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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("loss_name, output", CASES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_training_step_equals_back_propagation(hidden, loss_name, output, alpha, dtype):
    rng = np.random.default_rng(abs(hash((hidden, loss_name, output, alpha))) % 2**32)
    sizes = [int(rng.integers(1, 5)), *rng.integers(2, 7, size=int(rng.integers(1, 3))).tolist(),
             int(rng.integers(2, 4))]
    net = ns.Network(sizes, activation=hidden, output_activation=output, seed=rng, dtype=dtype)
    loss = ns.get_loss(loss_name)
    grad = np.empty_like(net.params)
    step = TrainingStep(net, loss, alpha, grad)
    # Batch sizes 7, 3, 7, 11, 7: the step keeps two sizes of scratch arrays, then starts again.
    for n in (7, 3, 7, 11, 7):
        X = rng.standard_normal((n, sizes[0])).astype(dtype)
        y = _targets(loss_name, rng, n, sizes[-1])
        expected_value, expected = net.loss_and_gradients(X, y, loss=loss_name, alpha=alpha)
        value = step(X, prepare_targets(y, loss, net.n_outputs, dtype))
        assert value == pytest.approx(expected_value, rel=RTOL[dtype])
        for (dW, db), (eW, eb) in zip(net.unflatten(grad), expected):
            assert dW.dtype == dtype
            _close(dW, eW, RTOL[dtype])
            _close(db, eb, RTOL[dtype])
        assert len(step._scratch) <= 2


def _reference_fit(net, X, y, loss, optimizer, epochs, batch_size, alpha):
    """The training loop written with the reference path only: loss_and_gradients, then optimizer.step."""
    n = X.shape[0]
    grad = np.empty_like(net.params)
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            _, grads = net.loss_and_gradients(X[start:start + batch_size], y[start:start + batch_size],
                                              loss=loss, alpha=alpha)
            for (gW, gb), (dW, db) in zip(net.unflatten(grad), grads):
                gW[...], gb[...] = dW, db
            optimizer.step(net.params, grad)


OPTIMIZERS = {
    "sgd": lambda: ns.SGD(0.05),
    "momentum": lambda: ns.SGD(0.05, momentum=0.9),
    "nesterov": lambda: ns.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: ns.Adam(0.01),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name, output", CASES)
def test_weights_after_20_steps_equal_the_reference_loop(loss_name, output, optimizer, batch_size, dtype):
    rng = np.random.default_rng(7)
    n = 20 if batch_size is None else 8 * 20 // 4  # 20 full-batch epochs, or 4 epochs of 5 mini-batches
    epochs = 20 if batch_size is None else 4
    X = rng.standard_normal((n, 3)).astype(dtype)
    y = _targets(loss_name, rng, n, 2)
    for alpha in (0.0, 0.1):
        fast = ns.Network([3, 6, 2], activation="tanh", output_activation=output, seed=1, dtype=dtype)
        ref = fast.copy()
        fast.fit(X, y, loss=loss_name, optimizer=OPTIMIZERS[optimizer](), epochs=epochs,
                 batch_size=batch_size, shuffle=False, alpha=alpha, tol=1e300)
        _reference_fit(ref, X, y, loss_name, OPTIMIZERS[optimizer](), epochs, batch_size or n, alpha)
        _close(fast.params, ref.params, RTOL[dtype])


def test_a_users_optimizer_runs_its_own_step():
    class Halving(ns.SGD):
        def step(self, params, grad):
            params -= 0.5 * grad

    opt = Halving(0.1)
    assert fast_update(opt) == opt.step
    assert fast_update(ns.Adam()).opt is not None


def _adam_reference(p, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam's formula, one parameter vector, no chunks, no flushing."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def test_adam_kernel_in_chunks_with_subnormal_flushing_follows_the_papers_formula():
    # Coordinate 0 gets a gradient for 50 steps, then 0 for ever (a dead unit):
    # its m decays through the subnormal range, which the kernel flushes.
    rng = np.random.default_rng(3)
    n, steps = 40_000, 7_000  # two chunks; m of coordinate 0 would reach the subnormals
    p0 = rng.standard_normal(4)
    grads = [np.array([1.0 if t < 50 else 0.0, *rng.standard_normal(3)]) for t in range(steps)]
    expected = _adam_reference(p0, grads)
    opt = ns.Adam(lr=1e-3)
    update = fast_update(opt)
    p = np.zeros(n)
    p[:4] = p0
    g_full = np.zeros(n)
    for g in grads:
        g_full[:4] = g
        update(p, g_full)
    np.testing.assert_allclose(p[:4], expected, rtol=1e-11)
    tiny = np.finfo(np.float64).tiny
    for moment in (opt.m, opt.v):
        assert not ((moment != 0) & (np.abs(moment) < tiny)).any(), "a subnormal moment was left"


def test_adam_kernel_in_chunks_equals_one_chunk_bit_for_bit():
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(1000) for _ in range(5)]
    whole, chunked = np.ones(1000), np.ones(1000)
    one, many = _AdamKernel(ns.Adam(0.01)), _AdamKernel(ns.Adam(0.01))
    many.chunk_bytes = 8 * 64  # 64 float64 per chunk: 16 chunks, the last one shorter
    for g in grads:
        one(whole, g)
        many(chunked, g)
    assert whole.tobytes() == chunked.tobytes()
    assert many._buf.size == 64


@pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")
def test_the_network_keeps_no_training_arrays():
    # The scratch arrays belong to one fit call: a trained network, its copies and
    # pickles hold the weights and nothing else.
    X, y = ns.make_sine(50, seed=0)
    net = ns.Network([1, 8, 1], seed=0)
    before = set(vars(net))
    net.fit(X.reshape(-1, 1), y, optimizer=ns.SGD(0.01), epochs=2, batch_size=16)
    assert set(vars(net)) - before <= {"_trained_by"} and getattr(net, "_trained_by", None) is None
