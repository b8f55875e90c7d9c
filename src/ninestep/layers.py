"""Step 5: the fully connected layer and how its weights start.

A :class:`Dense` layer holds a weight matrix ``W`` of shape
``(n_in, n_out)``, a bias vector ``b`` of shape ``(n_out,)`` and the name
of its activation - the article's ``layer`` class. Its forward pass for a
batch ``A_prev`` of shape ``(n_samples, n_in)`` is

    Z = A_prev @ W + b,      A = sigma(Z)

which is the article's ``Z^l = W^l A^{l-1} + b^l`` transposed: the article
keeps one sample per *column*, we keep one per *row* (as scikit-learn and
Keras do), so our ``W`` is the article's ``W^T``.

Initialisers (``init=``):

``he_normal``  ``W ~ N(0, 2 / n_in)``; keeps the variance of ReLU
    activations constant from layer to layer (He et al., 2015). The
    article's choice, and our default for relu and leaky_relu.
``he_uniform``  the same variance from ``U(-sqrt(6/n_in), sqrt(6/n_in))``.
``glorot_uniform``  ``U(-r, r)`` with ``r = sqrt(6 / (n_in + n_out))``
    (Glorot & Bengio, 2010); balances forward and backward variance for
    symmetric activations. Our default for sigmoid, tanh, linear, softmax.
``glorot_normal``  ``N(0, 2 / (n_in + n_out))``.

Biases start at zero by default. The article draws them like the weights;
we do not, because a random bias only shifts each unit by noise that the
gradient must then undo, and with ReLU a negative random bias can leave a
unit that never fires ("dead") from the first step; the weights alone
already break the symmetry between units. Zero biases are Keras's default
and what the He and Glorot papers assume. Pass ``bias_init="same"`` to
reproduce the article (examples/nine_steps.py measures what it costs).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._validation import as_generator, check_dtype, check_int
from .activations import Activation, get_activation

__all__ = ["Dense", "INITIALIZERS", "default_init", "initialize"]


def _he_normal(rng, n_in, n_out, size):
    return rng.standard_normal(size) * np.sqrt(2.0 / n_in)


def _he_uniform(rng, n_in, n_out, size):
    r = np.sqrt(6.0 / n_in)
    return rng.uniform(-r, r, size)


def _glorot_uniform(rng, n_in, n_out, size):
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size)


def _glorot_normal(rng, n_in, n_out, size):
    return rng.standard_normal(size) * np.sqrt(2.0 / (n_in + n_out))


InitFn = Callable[[np.random.Generator, int, int, tuple], np.ndarray]

INITIALIZERS: dict[str, InitFn] = {
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
}


def default_init(activation: str) -> str:
    """He for the ReLU family, Glorot for everything else."""
    return "he_normal" if activation in ("relu", "leaky_relu") else "glorot_uniform"


def initialize(init: str, rng: np.random.Generator, n_in: int, n_out: int, size: tuple) -> np.ndarray:
    """Draw an array of ``size`` with the named initialiser for a layer ``n_in -> n_out``."""
    if init not in INITIALIZERS:
        raise ValueError(f"Unknown init {init!r}; choose one of {', '.join(sorted(INITIALIZERS))}.")
    return INITIALIZERS[init](rng, n_in, n_out, size)


class Dense:
    """A fully connected layer: ``A = activation(A_prev @ W + b)``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs and of units.
    activation : str
        Name of the activation (see :mod:`ninestep.activations`).
    init : str, optional
        Weight initialiser; default :func:`default_init` of the activation.
    bias_init : {"zeros", "same"}
        ``"zeros"`` (default) or ``"same"`` to draw biases like the weights,
        as the article does.
    seed : int or numpy.random.Generator, optional
        Source of randomness for the initial weights.
    dtype : float64 (default) or float32.

    Attributes
    ----------
    W : ndarray of shape (n_in, n_out)
    b : ndarray of shape (n_out,)
    activation : Activation

    Assigning ``layer.W = array`` copies into the existing storage (which a
    :class:`~ninestep.Network` shares with its flat parameter vector), after
    checking the shape.
    """

    def __init__(self, n_in: int, n_out: int, activation: str = "relu", *, init: str | None = None,
                 bias_init: str = "zeros", seed=None, dtype=np.float64):
        self.n_in = check_int(n_in, "n_in")
        self.n_out = check_int(n_out, "n_out")
        self.activation: Activation = get_activation(activation)
        dtype = check_dtype(dtype)
        init = init or default_init(self.activation.name)
        if bias_init not in ("zeros", "same"):
            raise ValueError(f"bias_init must be 'zeros' or 'same', got {bias_init!r}.")
        rng = as_generator(seed)
        self._W = initialize(init, rng, n_in, n_out, (n_in, n_out)).astype(dtype)
        if bias_init == "same":
            self._b = initialize(init, rng, n_in, n_out, (n_out,)).astype(dtype)
        else:
            self._b = np.zeros(n_out, dtype=dtype)

    # W and b are properties so that assignment keeps the storage that a
    # Network's flat parameter vector points at.
    @property
    def W(self) -> np.ndarray:
        return self._W

    @W.setter
    def W(self, value) -> None:
        self._assign(self._W, value, "W")

    @property
    def b(self) -> np.ndarray:
        return self._b

    @b.setter
    def b(self, value) -> None:
        self._assign(self._b, value, "b")

    @staticmethod
    def _assign(target: np.ndarray, value, name: str) -> None:
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name} must have shape {target.shape}, got {value.shape}.")
        target[...] = value

    def bind(self, W_view: np.ndarray, b_view: np.ndarray) -> None:
        """Move this layer's parameters into the given views (of a flat buffer)."""
        W_view[...] = self._W
        b_view[...] = self._b
        self._W, self._b = W_view, b_view

    @property
    def n_params(self) -> int:
        """``(n_in + 1) * n_out``: the weights plus one bias per unit."""
        return (self.n_in + 1) * self.n_out

    def forward(self, A_prev: np.ndarray, out: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(Z, A)`` for a batch ``A_prev`` of shape (n, n_in).

        ``out``, optional: two arrays of shape (n, n_out) to write ``Z`` and
        ``A`` into, so that a training loop can reuse them from step to step.
        """
        Z_out, A_out = (None, None) if out is None else out
        Z = np.matmul(A_prev, self._W, out=Z_out)
        Z += self._b
        return Z, self.activation.forward(Z, out=A_out)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r})"
