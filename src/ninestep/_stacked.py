"""Private: K networks of one shape trained at once, stacked on a leading axis.

This is the step that :meth:`ninestep.Ensemble.fit` runs (its training loop
is :mod:`ninestep._stacked_train`). Every member's arithmetic is
the single network's (see :mod:`ninestep.network`), with a member index
``k = 0 .. K-1`` in front of every array:

    Z^l_k = [A^{l-1}_k, 1] [W^l_k; b^l_k]        (n, N_l)        A^0_k = X, shared
    A^l_k = sigma_l(Z^l_k)
    dZ^L_k = dL/dZ^L_k                             (from the loss; a mean over the batch)
    [dW^l_k; db^l_k] = [A^{l-1}_k, 1]^T dZ^l_k     (+ (alpha_k / n) W^l_k for L2)
    dA^{l-1}_k = dZ^l_k (W^l_k)^T,   dZ^{l-1}_k = dA^{l-1}_k (.) sigma'(Z^{l-1}_k)

With sample weights w the mean over the batch becomes the weighted mean
(each sample's w_i / sum(w) in place of 1/n) and the L2 term's n becomes
sum(w), as for a lone network (see :mod:`ninestep.losses`).

Why it is fast - the tricks, each with its reason
--------------------------------------------------
* **One NumPy call serves K members.** ``np.matmul`` on a leading axis loops
  over the members in C, and an element-wise ufunc sees one array. A step of
  a small net on a small batch is almost all the fixed cost of its ~40 NumPy
  calls; stacked, K members share that cost.
* **Samples contiguous.** Each batch-sized array is stored C-ordered as
  ``(K, N_l, n)``: member by member, one sample per *column* - the article's
  layout, and the order the single network's fast path keeps (``order="F"``
  for its ``(n, N_l)`` arrays). The equations' ``(K, n, N_l)`` arrays are
  transposed views of it. With 4 units and 7,000 samples the element-wise
  passes then run along memory, and the softmax, which reduces over the
  units (axis 1 here as there), is ninestep's own, unchanged.
  In that layout the products read, per member, ``Z^T = [W; b]^T [A; 1]^T``,
  ``[dW; db] = [A; 1]^T (dZ^T)^T`` and ``dA^T = W dZ^T``: every operand
  is a plain or transposed view that BLAS takes as it is, no copies.
* **A row of ones written once** under each ``A^T`` (and under ``X^T``): the
  bias costs no pass of its own, and ``[dW; db]`` comes out of one product.
* **Parameters as one (K, n_params) matrix** whose row k is exactly member
  k's ``net.params`` (W^1 row-major, b^1, W^2, ...). Each layer's ``[W; b]``
  for all members is one strided view of it, and an optimiser updates every
  member with a handful of whole-matrix passes; per-member hyperparameters
  (lr, momentum, betas, alpha) broadcast as a (K, 1) column, or stay a
  Python float when all members share them (a float32 stack stays float32).
* **Members never mix.** Every number of member k depends on member k's
  arrays only, so its bits do not depend on K or on the other members:
  :mod:`ninestep._stacked_train`, the training loop that runs this step,
  splits the stack into chunks for the cache and for threads, and drops
  the members that stopped.
* **Scratch arrays reused** from step to step (fresh batch-sized arrays
  above the allocator's mmap threshold cost page faults every step), kept
  per batch size: the batch, the shorter last one, the validation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .activations import Activation, log_softmax

__all__ = ["Stack", "StackedSGD", "StackedAdam", "member_coef", "validation_loss", "LOSSES"]


def member_coef(values: Sequence[float], dtype) -> float | np.ndarray:
    """One hyperparameter per member as something that broadcasts against (K, n_params).

    A Python float when every member has the same value (the single network
    uses Python floats, and NumPy keeps float32 arrays float32 against
    them); otherwise a (K, 1) column of ``dtype``, each value rounded to the
    dtype exactly as a Python float would be in ``float32_array * value``.
    """
    values = [float(v) for v in values]
    if all(v == values[0] for v in values):
        return values[0]
    return np.asarray(values, dtype=np.float64).astype(dtype).reshape(-1, 1)


# ---------------------------------------------------------------------- the network stack
@dataclass
class _Scratch:
    """Work arrays of one batch size (n rows); see :meth:`Stack._scratch`."""

    XT: np.ndarray          # (N_0 + 1, n): X^T with a row of ones under it, shared by all members
    YT: np.ndarray          # targets^T, (N_L, n)
    InT: list[np.ndarray]   # layer l's input [A^{l-1}; 1]^T: XT for l = 1, else (K, N_{l-1} + 1, n)
    ZT: list[np.ndarray]    # (K, N_l, n)
    AT: list[np.ndarray]    # (K, N_l, n): views of the next InT without its row of ones; own array for l = L
    dZT: list[np.ndarray]   # (K, N_l, n); also holds dA^l before the activation's backward


class Stack:
    """K networks of one shape: parameters ``(K, n_params)`` and the step's arithmetic.

    Parameters
    ----------
    params : ndarray of shape (K, n_params), C-contiguous
        Row k is member k's flat parameter vector, laid out as ``Network.params``.
    layer_sizes : list of int
    activations : list of Activation, one per layer
    """

    def __init__(self, params: np.ndarray, layer_sizes: Sequence[int], activations: Sequence[Activation]):
        self.params = params
        self.sizes = list(layer_sizes)
        self.activations = list(activations)
        self.K = params.shape[0]
        self.dtype = params.dtype
        self.Wb = self.layer_views(params)                  # [W^l; b^l]: (K, N_{l-1} + 1, N_l)
        self.W = [Wb[:, :-1, :] for Wb in self.Wb]          # W^l: (K, N_{l-1}, N_l)
        self.WbT = [Wb.transpose(0, 2, 1) for Wb in self.Wb]  # [W^l; b^l]^T: what the forward multiplies by
        self.grad = np.empty_like(params)
        self.dWb = self.layer_views(self.grad)
        self._work: dict[tuple[str, int], _Scratch] = {}

    def layer_views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Each layer's ``[W; b]`` for every member: (K, N_{l-1} + 1, N_l) views of a (K, n_params) matrix."""
        views, start = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            size = (n_in + 1) * n_out
            views.append(flat[:, start:start + size].reshape(-1, n_in + 1, n_out))
            start += size
        return views

    def _scratch(self, n: int, use: str = "train") -> _Scratch:
        """Work arrays for a batch of ``n`` rows, made once per (use, batch size) and reused.

        ``use`` keeps the validation set's arrays apart from the training
        batch's: a full batch stays loaded in its arrays from epoch to epoch.
        """
        work = self._work.get((use, n))
        if work is None:
            K, dt, sizes = self.K, self.dtype, self.sizes
            XT = np.ones((sizes[0] + 1, n), dtype=dt)       # the last row stays 1: the bias input
            InT, ZT, AT, dZT = [XT], [], [], []
            for l, width in enumerate(sizes[1:], start=1):
                ZT.append(np.empty((K, width, n), dtype=dt))
                dZT.append(np.empty((K, width, n), dtype=dt))
                if l < len(sizes) - 1:
                    nxt = np.ones((K, width + 1, n), dtype=dt)  # [A^l; 1]^T, ones written once
                    InT.append(nxt)
                    AT.append(nxt[:, :-1, :])
                else:
                    AT.append(np.empty((K, width, n), dtype=dt))
            work = self._work[(use, n)] = _Scratch(XT, np.empty((sizes[-1], n), dtype=dt), InT, ZT, AT, dZT)
        return work

    def forward_into(self, work: _Scratch) -> np.ndarray:
        """Forward pass on the batch in ``work.XT``; returns ``A^L`` as (K, N_L, n)."""
        for l, sigma in enumerate(self.activations):
            # Z^l^T = [W^l; b^l]^T [A^{l-1}; 1]^T  - (K, N_l, N_{l-1}+1) @ (K or 1, N_{l-1}+1, n)
            Z = np.matmul(self.WbT[l], work.InT[l], out=work.ZT[l])
            A = sigma.forward(Z, out=work.AT[l])
            if A is not work.AT[l]:  # activations that cannot work in place return their own array
                work.AT[l][...] = A
        return work.AT[-1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``y_hat`` of every member for checked X (n, N_0): an array (K, n, N_L)."""
        work = self._scratch(X.shape[0], "predict")
        del self._work[("predict", X.shape[0])]  # a one-off pass: do not keep its arrays
        work.XT[:-1] = X.T
        with np.errstate(over="ignore", invalid="ignore"):
            return self.forward_into(work).transpose(0, 2, 1).copy()

    def loss_and_grad(self, work: _Scratch, loss: str, alpha: float | np.ndarray,
                      w: np.ndarray | None = None) -> np.ndarray:
        """Back-propagation for the batch in ``work`` (XT, YT); fills ``self.grad``, returns the K losses.

        ``alpha``: the L2 strength, a float or a (K, 1) column. ``w``: the
        batch's sample weights (n,), or None for the plain mean.
        """
        n = work.XT.shape[1] if w is None else float(w.sum())   # the L2 term's n: rows, or their weights' sum
        A_out = self.forward_into(work)
        value, dZ = LOSSES[loss](work.ZT[-1], A_out, work.YT, self.activations[-1], work.dZT[-1],
                                 None if w is None else w / n)
        alpha3 = alpha if isinstance(alpha, float) else alpha.reshape(-1, 1, 1)
        for l in range(len(self.activations) - 1, -1, -1):
            # [dW^l; db^l] = [A^{l-1}, 1]^T dZ^l, here (K, N_{l-1}+1, n) @ (K, n, N_l): the last
            # row, db^l = the sum of dZ^l over the samples, comes out of the same product.
            np.matmul(work.InT[l], dZ.transpose(0, 2, 1), out=self.dWb[l])
            if isinstance(alpha, np.ndarray) or alpha:
                self.dWb[l][:, :-1, :] += (alpha3 / n) * self.W[l]   # dW^l += (alpha / n) W^l
            if l > 0:
                # dA^{l-1}^T = W^l dZ^l^T, (K, N_{l-1}, N_l) @ (K, N_l, n), into dZ^{l-1}'s buffer
                dA = np.matmul(self.W[l], dZ, out=work.dZT[l - 1])
                dZ = self.activations[l - 1].backward(work.ZT[l - 1], work.AT[l - 1], dA, out=dA)
        if isinstance(alpha, np.ndarray) or alpha:
            # L = data loss + alpha / (2 n) sum_l ||W^l||_F^2, one sum per member
            squares = sum(np.einsum("kij,kij->k", W, W) for W in self.W)
            value = value + (0.5 * np.reshape(alpha, -1) / n) * squares
        return value

    def take(self, keep: np.ndarray) -> "Stack":
        """A new Stack of the members ``keep`` (their parameters copied), for dropping stopped members."""
        return Stack(np.ascontiguousarray(self.params[keep]), self.sizes, self.activations)


# ---------------------------------------------------------------------- losses, per member
# Each returns (values (K,), dZ^L (K, N_L, n)) for Z, A (K, N_L, n) and Y^T (N_L, n), shared by all
# members; the same formulas as ninestep.losses, with one sum per member instead of one in all.
# ``weights``: None for the plain mean over the batch, or each sample's w_i / sum(w) (a row (n,),
# broadcast along the samples axis), which takes the place of 1/n in the value and the gradient.
def _mse(Z, A, YT, sigma, out, weights=None):
    R = np.subtract(A, YT, out=out)                     # the residual A - Y, shared by value and gradient
    if weights is None:
        n = Z.shape[2]
        value = 0.5 * np.einsum("kij,kij->k", R, R) / n  # L = (1/n) sum_i 1/2 ||A_i - Y_i||^2
        R *= 1.0 / n                                     # dL/dA = (A - Y) / n
    else:
        value = 0.5 * np.einsum("kij,kij,j->k", R, R, weights)
        R *= weights
    return value, sigma.backward(Z, A, R, out=R)        # dZ = dL/dA (.) sigma'(Z)


def _cross_entropy(Z, A, YT, sigma, out, weights=None):
    log_p = log_softmax(Z)                              # over axis 1: the units
    dZ = np.subtract(A, YT, out=out)                    # softmax + cross-entropy: dZ = (A - Y) / n
    if weights is None:
        n = Z.shape[2]
        value = -np.einsum("ij,kij->k", YT, log_p) / n
        dZ /= n
    else:
        value = -np.einsum("ij,kij,j->k", YT, log_p, weights)
        dZ *= weights
    return value, dZ


def _binary_cross_entropy(Z, A, YT, sigma, out, weights=None):
    softplus = np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))   # log(1 + e^z), without overflow
    dZ = np.subtract(A, YT, out=out)                          # sigmoid + BCE: dZ = (A - Y) / n
    if weights is None:
        n = Z.shape[2]
        value = (softplus.sum(axis=(1, 2)) - np.einsum("ij,kij->k", YT, Z)) / n
        dZ /= n
    else:
        value = np.einsum("kij,j->k", softplus, weights) - np.einsum("ij,kij,j->k", YT, Z, weights)
        dZ *= weights
    return value, dZ


LOSSES: dict[str, Callable] = {"mse": _mse, "cross_entropy": _cross_entropy,
                              "binary_cross_entropy": _binary_cross_entropy}


def validation_loss(stack: Stack, XvT: np.ndarray, YvT: np.ndarray, loss: str) -> np.ndarray:
    """The K members' data loss (no L2 penalty) on a validation set; may hold inf or NaN."""
    work = stack._scratch(XvT.shape[1], "validation")
    work.XT[:-1] = XvT
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        A = stack.forward_into(work)
        return LOSSES[loss](work.ZT[-1], A, YvT, stack.activations[-1], work.dZT[-1])[0]


# ---------------------------------------------------------------------- optimisers, per member
class StackedSGD:
    """SGD for K members, each with its own lr, momentum and Nesterov flag:

        v <- mu v + g
        params <- params - lr v                 (heavy ball; mu = 0 is plain SGD, v = g)
        params <- params - lr (g + mu v)        (Nesterov)
    """

    def __init__(self, momentum: Sequence[float], nesterov: Sequence[bool], dtype, velocity: np.ndarray | None):
        self.momentum_values, self.nesterov_values = list(momentum), list(nesterov)
        self.mu = member_coef(momentum, dtype)
        flags = np.asarray(nesterov, dtype=bool)
        self.nesterov = bool(flags[0]) if flags.all() or not flags.any() else flags.reshape(-1, 1)
        self.velocity = velocity  # (K, n_params), None while every member has mu = 0

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float | np.ndarray) -> None:
        if self.velocity is None:               # mu = 0 for every member: the article's W <- W - lr dW
            params -= lr * grad
            return
        v = self.velocity
        v *= self.mu
        v += grad
        if self.nesterov is False:
            params -= lr * v
        elif self.nesterov is True:
            params -= lr * (grad + self.mu * v)
        else:                                   # some members Nesterov, some not
            params -= lr * np.where(self.nesterov, grad + self.mu * v, v)

    def state(self) -> list:
        return [None if self.velocity is None else self.velocity.copy()]

    def restore(self, state: list, rows: np.ndarray) -> None:
        if self.velocity is not None:
            self.velocity[rows] = state[0][rows]

    def take(self, keep: np.ndarray) -> "StackedSGD":
        return StackedSGD([self.momentum_values[i] for i in keep], [self.nesterov_values[i] for i in keep],
                          self.velocity.dtype if self.velocity is not None else np.float64,
                          None if self.velocity is None else self.velocity[keep].copy())


class StackedAdam:
    """Adam for K members, each with its own lr, beta1, beta2, eps (Kingma & Ba, Algorithm 1):

        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
        params <- params - lr m_hat / (sqrt(v_hat) + eps)

    ``t`` counts each member's steps (members may start from different states).
    """

    def __init__(self, beta1, beta2, eps, t: Sequence[int], m: np.ndarray, v: np.ndarray):
        self.values = (list(beta1), list(beta2), list(eps))
        dtype = m.dtype
        self.b1, self.b2, self.eps = (member_coef(vals, dtype) for vals in self.values)
        # 1 - beta in float64, then rounded once (as a Python float meets a float32 array)
        self.one_b1, self.one_b2 = (member_coef([1.0 - b for b in vals], dtype) for vals in self.values[:2])
        self.t = np.asarray(t, dtype=np.int64)
        self.m, self.v = m, v
        self.buf = np.empty_like(m)  # one scratch matrix: no temporaries of the parameters' size

    def step(self, params: np.ndarray, grad: np.ndarray, lr: float | np.ndarray) -> None:
        self.t += 1
        m, v, buf = self.m, self.v, self.buf
        b1, b2, inv_c1, inv_c2 = self._coefficients(params.dtype)
        m *= b1                                  # m <- b1 m + (1 - b1) g
        np.multiply(grad, self.one_b1, out=buf)
        m += buf
        v *= b2                                  # v <- b2 v + (1 - b2) g^2
        np.square(grad, out=buf)
        buf *= self.one_b2
        v += buf
        np.multiply(v, inv_c2, out=buf)          # v_hat = v / (1 - b2^t)
        np.sqrt(buf, out=buf)
        buf += self.eps                          # sqrt(v_hat) + eps
        np.divide(m, buf, out=buf)
        buf *= lr * inv_c1                       # lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t)
        params -= buf

    def _coefficients(self, dtype):
        """beta1, beta2 and the bias corrections 1 / (1 - beta^t): Python floats when every member
        shares them (the usual case: one float each, as a lone network uses), else (K, 1) columns;
        computed in float64 either way, then rounded once to the dtype, as a float32 network's are."""
        t = self.t
        if isinstance(self.b1, float) and isinstance(self.b2, float) and (t == t[0]).all():
            n = int(t[0])
            return self.b1, self.b2, 1.0 / (1.0 - self.b1 ** n), 1.0 / (1.0 - self.b2 ** n)
        b1, b2 = (np.asarray(vals, dtype=np.float64) for vals in self.values[:2])
        return (self.b1, self.b2, member_coef(1.0 / (1.0 - b1 ** t), dtype),
                member_coef(1.0 / (1.0 - b2 ** t), dtype))

    def state(self) -> list:
        return [self.m.copy(), self.v.copy(), self.t.copy()]

    def restore(self, state: list, rows: np.ndarray) -> None:
        self.m[rows], self.v[rows], self.t[rows] = state[0][rows], state[1][rows], state[2][rows]

    def take(self, keep: np.ndarray) -> "StackedAdam":
        return StackedAdam(*([vals[i] for i in keep] for vals in self.values), self.t[keep],
                           self.m[keep].copy(), self.v[keep].copy())
