"""Step 8: optimisers - how a gradient becomes a change of the weights.

Both optimisers update a flat parameter vector ``params`` in place from a
flat gradient ``grad`` of the same shape (a Network keeps every parameter in
one such vector), written as in the papers and in ``torch.optim``.

SGD (with momentum ``mu``, velocity ``v`` starting at 0)::

    v <- mu v + g
    params <- params - lr * v                    (plain / heavy-ball)
    params <- params - lr * (g + mu v)           (nesterov=True)

With ``mu = 0`` this is the article's ``W = W - learning_rate * dW``.
scikit-learn stores ``-lr * v`` as its velocity instead; with a constant
learning rate the updates are the same.

Adam (Kingma & Ba 2015, Algorithm 1; step ``t`` from 1)::

    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g^2
    m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
    params <- params - lr * m_hat / (sqrt(v_hat) + eps)

(computed in an equivalent form with fewer passes; see :class:`Adam`).

This is ``torch.optim.Adam``'s formula. scikit-learn uses the paper's
"more efficient" form ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``,
``params -= lr_t m / (sqrt(v) + eps)``, which puts ``eps`` outside the
bias correction; the two differ only through ``eps`` (see docs/parity.md).

Scalars are Python floats so that float32 parameters stay float32: a NumPy
float64 scalar would silently promote every update to float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validation import check_bool, check_in_range, check_positive

__all__ = ["Optimizer", "SGD", "Adam", "get_optimizer"]


class Optimizer:
    """Interface: ``step(params, grad)`` updates ``params`` in place."""

    lr: float

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the state (momentum, moments, step count)."""

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and state as plain data (floats and arrays), copies that later steps leave alone.

        ``fit`` keeps one from the start of every epoch, to put back with the
        weights after a DivergenceError; a subclass without ``state_dict`` and
        ``load_state_dict`` trains all the same, without that restore.
        """
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set the hyperparameters and state from :meth:`state_dict`'s output."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    lr : float
        Learning rate, > 0. The article uses 0.01.
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
        Nesterov's look-ahead momentum; needs ``momentum > 0``.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        self.lr = check_positive(lr, "lr")
        self.momentum = check_in_range(momentum, "momentum", 0.0, 1.0, high_open=True)
        nesterov = check_bool(nesterov, "nesterov")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.")
        self.nesterov = bool(nesterov)
        self.velocity: np.ndarray | None = None

    def step(self, params, grad):
        lr, mu = float(self.lr), self.momentum
        if mu == 0:
            params -= lr * grad
            return
        if self.velocity is None or self.velocity.shape != params.shape:
            self.velocity = np.zeros_like(params)
        v = self.velocity
        v *= mu
        v += grad
        if self.nesterov:
            params -= lr * (grad + mu * v)
        else:
            params -= lr * v

    def reset(self):
        self.velocity = None

    def state_dict(self):
        state = {"name": "sgd", "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}
        if self.velocity is not None:
            state["velocity"] = self.velocity.copy()
        return state

    def load_state_dict(self, state):
        self.lr, self.momentum, self.nesterov = float(state["lr"]), float(state["momentum"]), bool(state["nesterov"])
        self.velocity = np.array(state["velocity"]) if "velocity" in state else None

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov})"


class Adam(Optimizer):
    """Adam with bias-corrected first and second moments (torch's formula).

    Parameters
    ----------
    lr : float, default 1e-3
    beta1, beta2 : float in [0, 1), defaults 0.9 and 0.999
    eps : float > 0, default 1e-8
        Added to ``sqrt(v_hat)``; keeps the step finite when a gradient is 0
        (as it is for every weight of a dead ReLU unit: 0 would give 0/0 = NaN).

    Attributes
    ----------
    m, v : ndarray or None
        The paper's moment estimates (before bias correction), computed
        from the state below; None before the first step.
    m_sum, v_sum : ndarray or None
        The state actually kept: the moments without their ``1 - beta``
        factors, ``m_sum = m / (1 - beta1)`` and ``v_sum = v / (1 - beta2)``,
        so that ``m_sum <- beta1 m_sum + g`` and ``v_sum <- beta2 v_sum + g^2``.
        That saves two of the twelve passes over the parameters per step
        (about 15 % of the update); the constant factors move into the
        step size, below.
    """

    #: Bytes per vector in a chunk of the update: five vectors of 256 KiB stay
    #: in a 2 MiB L2 cache (measured best, 32 KiB to 512 KiB, on this project's machines).
    chunk_bytes = 2**18

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr = check_positive(lr, "lr")
        self.beta1 = check_in_range(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = check_in_range(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = check_positive(eps, "eps")
        self.reset()

    def reset(self):
        self.t = 0
        self.m_sum: np.ndarray | None = None
        self.v_sum: np.ndarray | None = None
        self._buf: np.ndarray | None = None

    @property
    def m(self) -> np.ndarray | None:
        """The first moment ``m = (1 - beta1) m_sum`` (a new array)."""
        return None if self.m_sum is None else self.m_sum * (1.0 - self.beta1)

    @property
    def v(self) -> np.ndarray | None:
        """The second moment ``v = (1 - beta2) v_sum`` (a new array)."""
        return None if self.v_sum is None else self.v_sum * (1.0 - self.beta2)

    def step(self, params, grad):
        m_sum, v_sum = self.m_sum, self.v_sum
        if m_sum is None or m_sum.shape != params.shape:
            m_sum = self.m_sum = np.zeros_like(params)
            v_sum = self.v_sum = np.zeros_like(params)
        self.t = t = self.t + 1
        b1, b2 = self.beta1, self.beta2
        # With m = (1 - b1) m_sum and v = (1 - b2) v_sum, the step
        # lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t),
        # is lr_t * m_sum / (sqrt(v_sum) + eps_t) with c = sqrt((1 - b2^t) / (1 - b2)),
        # lr_t = lr (1 - b1) c / (1 - b1^t) and eps_t = eps c: the same number, without
        # a pass for each 1 - beta and without dividing by a bias correction.
        c = math.sqrt((1.0 - b2 ** t) / (1.0 - b2))
        lr_t, eps_t = float(self.lr) * (1.0 - b1) * c / (1.0 - b1 ** t), self.eps * c
        if params.ndim != 1:
            self._update(params, grad, m_sum, v_sum, np.empty_like(params), b1, b2, lr_t, eps_t)
        else:
            # Chunk by chunk, so that the vectors of a chunk stay in the CPU's L2
            # cache over the ten passes instead of streaming from memory on every
            # pass (about 20 % faster for a 270,000-parameter net), with one
            # chunk-sized scratch buffer that stays in the cache too (another 5-8 %,
            # and no parameter-sized buffer in memory).
            size = min(params.size, max(1, self.chunk_bytes // params.itemsize))
            buf = self._buf
            if buf is None or buf.shape != (size,) or buf.dtype != params.dtype:
                buf = self._buf = np.empty(size, dtype=params.dtype)
            if size == params.size:  # a small net is one chunk: no slicing (1 us of a 65 us seed step)
                self._update(params, grad, m_sum, v_sum, buf, b1, b2, lr_t, eps_t)
            else:
                for start in range(0, params.size, size):
                    part = slice(start, start + size)
                    p = params[part]
                    self._update(p, grad[part], m_sum[part], v_sum[part], buf[:p.size], b1, b2, lr_t, eps_t)
        if t % 64 == 0:
            self._flush_tiny()

    @staticmethod
    def _update(p, g, m_sum, v_sum, buf, b1, b2, lr_t, eps_t) -> None:
        """Ten in-place passes, one scratch buffer, no parameter-sized temporaries."""
        m_sum *= b1                     # m_sum <- b1 m_sum + g
        m_sum += g
        v_sum *= b2                     # v_sum <- b2 v_sum + g^2
        np.square(g, out=buf)           # (np.square: twice as fast as g * g here)
        v_sum += buf
        np.sqrt(v_sum, out=buf)         # p <- p - lr_t m_sum / (sqrt(v_sum) + eps_t)
        buf += eps_t
        np.divide(m_sum, buf, out=buf)
        buf *= lr_t
        p -= buf

    def _flush_tiny(self) -> None:
        """Zero the moments that would become subnormal numbers in the next 64 steps.

        A unit that never fires (a dead ReLU) has a gradient of exactly 0,
        so its ``m_sum`` shrinks by ``beta1`` every step and after about
        6,700 steps (float64; 800 in float32) enters the subnormal range,
        where the CPU takes ~100x longer per operation: the seed task's
        steps became 50 % slower late in training. Values below
        ``tiny / beta^64`` are zeroed every 64 steps, which keeps them out
        of that range. They are below 1e-35 (float32) or 1e-300 (float64):
        zeroing one changes an update by less than 1e-28 or 1e-298, far
        below the round-off of the weights.
        """
        tiny = float(np.finfo(self.m_sum.dtype).tiny)
        for moment, beta in ((self.m_sum, self.beta1), (self.v_sum, self.beta2)):
            limit = tiny / beta ** 64 if beta ** 64 > tiny / 1e-20 else 1e-20
            np.copyto(moment, 0, where=np.abs(moment) < limit)

    def state_dict(self):
        state = {"name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                 "eps": self.eps, "t": self.t}
        if self.m_sum is not None:
            state["m_sum"], state["v_sum"] = self.m_sum.copy(), self.v_sum.copy()
        return state

    def load_state_dict(self, state):
        self.lr, self.beta1, self.beta2, self.eps = (float(state[k]) for k in ("lr", "beta1", "beta2", "eps"))
        self.t = int(state["t"])
        self.m_sum = np.array(state["m_sum"]) if "m_sum" in state else None
        self.v_sum = np.array(state["v_sum"]) if "v_sum" in state else None
        if "m_sum" not in state and "v_sum" not in state:
            # The paper's m and v (as ninestep 0.1 files stored them): equal up to round-off.
            m, v = state.get("m"), state.get("v")
            self.m_sum = None if m is None else np.asarray(m) / (1.0 - self.beta1)
            self.v_sum = None if v is None else np.asarray(v) / (1.0 - self.beta2)
        if (self.m_sum is None) != (self.v_sum is None):
            raise ValueError("Adam's state needs both moments (m_sum and v_sum, or m and v), or neither.")
        self._buf = None

    def __repr__(self):
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


def get_optimizer(name: str | Optimizer, **kwargs) -> Optimizer:
    """``"sgd"`` or ``"adam"`` with keyword hyperparameters; an Optimizer passes through."""
    if isinstance(name, Optimizer):
        return name
    table = {"sgd": SGD, "adam": Adam}
    if not isinstance(name, str) or name.lower() not in table:
        raise ValueError(f"Unknown optimizer {name!r}; choose 'sgd' or 'adam'.")
    return table[name.lower()](**kwargs)
