"""The fast path that ``fit`` runs: the same arithmetic as the reference path, made quick.

:mod:`ninestep.network` and :mod:`ninestep.optimizers` are the maths as the
article and the papers write it; this module computes the same numbers
with fewer passes over memory and reused arrays instead of fresh ones
(the squared error and the optimisers allocate nothing per step). A test
(``tests/test_fastpath.py``) holds the two equal to 1e-12 relative: the
loss, every gradient, and the weights after 20 steps. Read those modules
to learn the maths; read this one to see what made training fast, one
reason per trick. ``benchmarks/run.py`` measures the whole against
scikit-learn, PyTorch and a hand-inlined NumPy loop.

:class:`TrainingStep`
    one forward and backward pass, writing the gradient into a flat vector
    laid out like ``net.params``.
:func:`fast_update`
    the optimiser's update as in-place passes (Adam in cache-sized chunks).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from .losses import Loss, weights_column
from .optimizers import SGD, Adam, Optimizer

__all__ = ["TrainingStep", "fast_update", "augmented_views"]


def augmented_views(net, flat: np.ndarray) -> list[np.ndarray]:
    """Each layer's ``[W; b]`` as one (N_{l-1} + 1, N_l) view of a vector laid out like ``net.params``.

    ``b`` is stored right after ``W`` (row-major), so it is the last row of
    that matrix, and ``[A, 1] [W; b] = A W + b``: with a column of ones
    after the input, one matrix product also adds the bias, and
    ``[A, 1]^T dZ = [dW; db]`` gives both gradients at once.
    """
    views, start = [], 0
    for layer in net.layers:
        size = (layer.n_in + 1) * layer.n_out
        views.append(flat[start:start + size].reshape(layer.n_in + 1, layer.n_out))
        start += size
    return views


class _Layer(NamedTuple):
    """One layer's share of the scratch arrays for a batch of ``n`` rows."""

    activation: object
    Wb: np.ndarray      # [W; b], a view of net.params
    W_T: np.ndarray     # W^T, a view of net.params
    In: np.ndarray      # [A_prev, 1], (n, N_in + 1): [X, 1] for the first layer
    In_T: np.ndarray    # its transpose, a view
    Z: np.ndarray       # (n, N_out)
    A: np.ndarray       # (n, N_out): the next layer's In without its column of ones
    dZ: np.ndarray      # (n, N_out); also holds dA before the activation's backward
    dWb: np.ndarray     # [dW; db], a view of the flat gradient


class _Scratch(NamedTuple):
    X: np.ndarray        # [X, 1] without its column of ones: each batch is copied in here
    layers: list[_Layer]
    hidden: list[_Layer]  # layers[:-1], kept so that no step slices a new list


class TrainingStep:
    """``step(X, Y) -> loss``: forward, loss and back-propagation into ``grad``, with reused arrays.

    The tricks, each with why it pays:

    * Scratch arrays are made once per batch size and reused: fresh
      (n, N_l) arrays every step are larger than the allocator's mmap
      threshold, so each step paid page faults that cost more than the
      arithmetic on the article's [2, 4, 4, 3] net and 7,000 rows.
    * They are stored samples-contiguous (``order="F"``), which is the
      article's one-sample-per-column layout in memory: with 4 units and
      7,000 samples the element-wise passes run along memory instead of
      across rows of 4 numbers. Shapes and maths are unchanged.
    * A column of ones after each layer's input, written once, turns
      ``A W + b`` into one product ``[A, 1] [W; b]`` and gives ``[dW; db]``
      from one product too: the bias costs no pass of its own.
    * The views (transposes, ``[W; b]``) are made once, not at every step.

    At most two batch sizes are kept: the batch and the shorter last one.
    """

    def __init__(self, net, loss: Loss, alpha: float, grad: np.ndarray):
        self.net, self.loss, self.alpha, self.grad = net, loss, alpha, grad
        self.dtype = net.dtype
        self._scratch: dict[int, _Scratch] = {}

    def _arrays(self, n: int) -> _Scratch:
        work = self._scratch.get(n)
        if work is None:
            if len(self._scratch) >= 2:
                self._scratch.clear()
            net = self.net
            X1 = np.ones((n, net.n_inputs + 1), dtype=self.dtype)  # row-major: each batch is copied in by rows
            layers, In = [], X1
            for layer, Wb, (W, _), dWb in zip(net.layers, augmented_views(net, net.params),
                                              net.unflatten(net.params), augmented_views(net, self.grad)):
                Out = np.ones((n, layer.n_out + 1), dtype=self.dtype, order="F")  # [A, 1]
                layers.append(_Layer(layer.activation, Wb, W.T, In, In.T,
                                     np.empty((n, layer.n_out), self.dtype, order="F"), Out[:, :-1],
                                     np.empty((n, layer.n_out), self.dtype, order="F"), dWb))
                In = Out
            work = self._scratch[n] = _Scratch(X1[:, :-1], layers, layers[:-1])
        return work

    def __call__(self, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None = None) -> float:
        """The loss of the batch, its gradient written into ``grad``; ``w``: the rows' sample weights."""
        n = X.shape[0]
        X_in, layers, hidden = self._arrays(n)
        X_in[...] = X
        for activation, Wb, _, In, _, Z, A, _, _ in hidden:
            np.matmul(In, Wb, out=Z)                   # Z = [A_prev, 1] [W; b] = A_prev W + b
            A_new = activation.forward(Z, out=A)       # A = sigma(Z)
            if A_new is not A:  # activations that cannot work in place return their own array
                A[...] = A_new
        activation, Wb, _, In, _, Z, A, dZ, _ = layers[-1]
        np.matmul(In, Wb, out=Z)
        weights, n = weights_column(w, n, self.dtype)  # with weights: a weighted mean, n the weights' sum
        value, dZ = self.loss.value_and_dZ(Z, activation.forward(Z, out=A), Y, activation, out=dZ, weights=weights)
        alpha = self.alpha
        for l in range(len(layers) - 1, -1, -1):
            _, _, W_T, _, In_T, _, _, _, dWb = layers[l]
            np.matmul(In_T, dZ, out=dWb)               # [dW; db] = [A_prev, 1]^T dZ
            if alpha:
                dWb[:-1] += (alpha / n) * self.net.layers[l].W   # dW += (alpha / n) W
            if l > 0:
                prev_activation, _, _, _, _, Z_prev, A_prev, dA_prev, _ = layers[l - 1]
                np.matmul(dZ, W_T, out=dA_prev)        # dA_prev = dZ W^T, in the previous layer's dZ buffer
                dZ = prev_activation.backward(Z_prev, A_prev, dA_prev, out=dA_prev)
        if alpha:
            value += self.net.l2_penalty(alpha, n)
        return value


# ---------------------------------------------------------------------- optimisers
def fast_update(optimizer: Optimizer) -> Callable[[np.ndarray, np.ndarray], None]:
    """``update(params, grad)``: the optimiser's step, in place, as fast as NumPy allows.

    SGD and Adam get kernels that give the same numbers as their
    ``step`` (to round-off) in fewer passes; any other optimiser (a
    subclass, a user's own) runs its own ``step``.
    """
    if type(optimizer) is Adam:
        return _AdamKernel(optimizer)
    if type(optimizer) is SGD:
        return _SGDKernel(optimizer)
    return optimizer.step


class _SGDKernel:
    """SGD's step with the velocity updated in place and one reused buffer for ``lr * v``."""

    def __init__(self, opt: SGD):
        self.opt = opt
        self._buf: np.ndarray | None = None

    def __call__(self, params: np.ndarray, grad: np.ndarray) -> None:
        opt = self.opt
        lr, mu = float(opt.lr), opt.momentum
        buf = self._buf
        if buf is None or buf.shape != params.shape or buf.dtype != params.dtype:
            buf = self._buf = np.empty_like(params)
        if mu == 0:
            np.multiply(grad, lr, out=buf)         # params <- params - lr g
            params -= buf
            return
        if opt.velocity is None or opt.velocity.shape != params.shape:
            opt.velocity = np.zeros_like(params)
        v = opt.velocity
        v *= mu                                     # v <- mu v + g
        v += grad
        if opt.nesterov:                            # params <- params - lr (g + mu v)
            np.multiply(v, mu, out=buf)
            buf += grad
            buf *= lr
        else:                                       # params <- params - lr v
            np.multiply(v, lr, out=buf)
        params -= buf


class _AdamKernel:
    """Adam's step on the optimiser's own ``m``, ``v`` and ``t``, in cache-sized chunks.

    The paper's update ``lr * m_hat / (sqrt(v_hat) + eps)`` equals
    ``lr_t * m / (sqrt(v) + eps_t)`` with ``c = sqrt(1 - beta2^t)``,
    ``lr_t = lr c / (1 - beta1^t)`` and ``eps_t = eps c``: no pass divides
    by a bias correction. The vectors are walked chunk by chunk so that a
    chunk's ``m``, ``v``, ``g``, ``params`` and scratch stay in the CPU's L2
    cache over the twelve passes instead of streaming from memory on each
    (large nets); a small net is one chunk and pays no slicing.
    """

    #: Bytes per vector in a chunk: the five vectors of a chunk together fit a core's L2 cache.
    chunk_bytes = 2**18

    def __init__(self, opt: Adam):
        self.opt = opt
        self._buf: np.ndarray | None = None

    def __call__(self, params: np.ndarray, grad: np.ndarray) -> None:
        opt = self.opt
        m, v, buf = opt.m, opt.v, self._buf
        if m is None or m.shape != params.shape:
            m, v = opt.m, opt.v = np.zeros_like(params), np.zeros_like(params)
        if buf is None or buf.dtype != params.dtype or buf.size > params.size:
            # One chunk-sized scratch buffer, made once: it stays in the cache with the chunk.
            buf = self._buf = np.empty(min(params.size, max(1, self.chunk_bytes // params.itemsize)), params.dtype)
        opt.t = t = opt.t + 1
        b1, b2 = opt.beta1, opt.beta2
        c = math.sqrt(1.0 - b2 ** t)
        lr_t, eps_t = float(opt.lr) * c / (1.0 - b1 ** t), opt.eps * c
        size = buf.size
        if size == params.size:
            _adam_passes(params, grad, m, v, buf, b1, b2, lr_t, eps_t)
        else:
            for start in range(0, params.size, size):
                part = slice(start, start + size)
                p = params[part]
                _adam_passes(p, grad[part], m[part], v[part], buf[:p.size], b1, b2, lr_t, eps_t)
        if t % 64 == 0:
            _flush_subnormal_moments(m, v, b1, b2)


def _adam_passes(p, g, m, v, buf, b1, b2, lr_t, eps_t) -> None:
    """Twelve in-place passes with one scratch buffer, no parameter-sized temporaries."""
    np.multiply(g, 1.0 - b1, out=buf)   # m <- b1 m + (1 - b1) g
    m *= b1
    m += buf
    np.square(g, out=buf)               # v <- b2 v + (1 - b2) g^2  (np.square: one loop, no multiply dispatch)
    buf *= 1.0 - b2
    v *= b2
    v += buf
    np.sqrt(v, out=buf)                 # p <- p - lr_t m / (sqrt(v) + eps_t)
    buf += eps_t
    np.divide(m, buf, out=buf)
    buf *= lr_t
    p -= buf


def _flush_subnormal_moments(m: np.ndarray, v: np.ndarray, b1: float, b2: float) -> None:
    """Zero the moments that would become subnormal numbers within the next 64 steps.

    A unit that never fires (a dead ReLU) has a gradient of exactly 0, so
    its moments shrink by ``beta`` every step and in time enter the
    subnormal range, where the CPU takes ~100x longer per operation and
    late training slows down. Values below ``tiny / beta^64`` (at most 1e-20,
    for small betas) are zeroed every 64 steps; with the usual betas that is
    below 1e-35 (float32) or 1e-300 (float64), and in every case zeroing one
    changes an update by far less than the weights' round-off.
    """
    tiny = float(np.finfo(m.dtype).tiny)
    for moment, beta in ((m, b1), (v, b2)):
        limit = tiny / beta ** 64 if beta ** 64 > tiny / 1e-20 else 1e-20
        np.copyto(moment, 0, where=np.abs(moment) < limit)
