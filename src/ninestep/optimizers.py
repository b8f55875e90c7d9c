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

Each ``step`` below is that algorithm, line by line. ``fit`` runs the same
updates through :mod:`ninestep._fastpath` (in place, fewer passes), held
equal to these by a test.

This is ``torch.optim.Adam``'s formula. scikit-learn uses the paper's
"more efficient" form ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``,
``params -= lr_t m / (sqrt(v) + eps)``, which puts ``eps`` outside the
bias correction; the two differ only through ``eps`` (see docs/parity.md).

Scalars are Python floats so that float32 parameters stay float32: a NumPy
float64 scalar would silently promote every update to float64.
"""

from __future__ import annotations

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
            params -= lr * grad                         # params <- params - lr g
            return
        if self.velocity is None or self.velocity.shape != params.shape:
            self.velocity = np.zeros_like(params)
        self.velocity = mu * self.velocity + grad       # v <- mu v + g
        if self.nesterov:
            params -= lr * (grad + mu * self.velocity)  # params <- params - lr (g + mu v)
        else:
            params -= lr * self.velocity                # params <- params - lr v

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
    """Adam with bias-corrected first and second moments (the paper's algorithm, as torch has it).

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
        The paper's moment estimates (before bias correction); None before
        the first step.
    t : int
        Steps taken.
    """

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.lr = check_positive(lr, "lr")
        self.beta1 = check_in_range(beta1, "beta1", 0.0, 1.0, high_open=True)
        self.beta2 = check_in_range(beta2, "beta2", 0.0, 1.0, high_open=True)
        self.eps = check_positive(eps, "eps")
        self.reset()

    def reset(self):
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def step(self, params, grad):
        if self.m is None or self.m.shape != params.shape:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        b1, b2 = self.beta1, self.beta2
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * grad              # m <- beta1 m + (1 - beta1) g
        self.v = b2 * self.v + (1 - b2) * grad * grad       # v <- beta2 v + (1 - beta2) g^2
        m_hat = self.m / (1 - b1 ** self.t)                 # bias corrections: m and v start at 0
        v_hat = self.v / (1 - b2 ** self.t)
        params -= float(self.lr) * m_hat / (np.sqrt(v_hat) + self.eps)

    def state_dict(self):
        state = {"name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                 "eps": self.eps, "t": self.t}
        if self.m is not None:
            state["m"], state["v"] = self.m.copy(), self.v.copy()
        return state

    def load_state_dict(self, state):
        if ("m" in state) != ("v" in state):
            raise ValueError("Adam's state needs both moments m and v, or neither.")
        self.lr, self.beta1, self.beta2, self.eps = (float(state[k]) for k in ("lr", "beta1", "beta2", "eps"))
        self.t = int(state["t"])
        self.m = np.array(state["m"]) if "m" in state else None
        self.v = np.array(state["v"]) if "v" in state else None

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
