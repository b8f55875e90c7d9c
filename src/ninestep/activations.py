"""Step 6: activation functions, each beside its derivative.

An activation maps the pre-activation ``Z`` of a layer to its output
``A = sigma(Z)``; back-propagation needs the derivative. Every activation
here offers the same two methods:

``forward(Z) -> A``
    applied element-wise (softmax: row-wise, one row per sample).
``backward(Z, A, dA) -> dZ``
    the chain rule through the activation: given ``dA = dL/dA`` return
    ``dZ = dL/dZ``. For the element-wise activations this is
    ``dA * sigma'(Z)``, the article's ``(.) sigma'(Z^l)`` term.

Both take an optional ``out=``: an array of ``Z``'s shape and dtype that
the result may be written into (``out=dA`` is allowed for ``backward``).
The training loop passes its reused buffers this way; the returned array
is always the result, so activations that cannot work in place ignore it.

Numerical stability, explained once:

* ``sigmoid`` never evaluates ``exp`` of a large positive number: for
  ``z >= 0`` it uses ``1 / (1 + exp(-z))`` and for ``z < 0`` the equal
  ``exp(z) / (1 + exp(z))``. So ``sigmoid(+-1000)`` is exactly 1 and 0,
  without overflow warnings.
* ``softmax`` subtracts each row's maximum before ``exp`` (the result is
  unchanged because softmax is shift-invariant), so the largest exponent
  is ``exp(0) = 1``.
* ``tanh`` is NumPy's, which saturates cleanly at +-1.

Look an activation up by name with :func:`get_activation`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Activation",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Linear",
    "Softmax",
    "ACTIVATIONS",
    "get_activation",
    "sigmoid",
    "softmax",
    "log_softmax",
]


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """Stable logistic function ``1 / (1 + exp(-z))``, finite for any finite ``z``."""
    Z = np.asarray(Z)
    # exp(-|z|) is in (0, 1]: it never overflows.
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)).astype(Z.dtype, copy=False)


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(Z))`` via the log-sum-exp trick."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; each row of the result sums to 1."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


class Activation:
    """Interface: ``forward(Z) -> A`` and ``backward(Z, A, dA) -> dZ``.

    Element-wise activations implement :meth:`derivative` (``sigma'(Z)``,
    which may use the already computed ``A``), and :meth:`backward` is then
    ``dA * sigma'(Z)``.
    """

    name: str = ""

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
        return np.multiply(dA, self.derivative(Z, A), out=out)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return self.forward(Z)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(Activation):
    """``relu(z) = max(z, 0)``; ``relu'(z) = 1 if z > 0 else 0`` (0 at z = 0, as PyTorch)."""

    name = "relu"

    def forward(self, Z, out=None):
        return np.maximum(Z, 0, out=out)

    def derivative(self, Z, A):
        return (Z > 0).astype(Z.dtype)

    def backward(self, Z, A, dA, out=None):
        # dA * relu'(Z), multiplying by the boolean mask directly (no 0/1
        # float matrix); with out=dA it needs no n-by-width allocation.
        return np.multiply(dA, Z > 0, out=out)


class LeakyReLU(Activation):
    """``z if z > 0 else slope * z``; derivative 1 or ``slope`` (default 0.01)."""

    name = "leaky_relu"

    def __init__(self, slope: float = 0.01):
        self.slope = float(slope)

    def forward(self, Z, out=None):
        return np.where(Z > 0, Z, Z * self.slope)

    def derivative(self, Z, A):
        return np.where(Z > 0, 1.0, self.slope).astype(Z.dtype)

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class Sigmoid(Activation):
    """``sigmoid(z) = 1 / (1 + exp(-z))``; ``sigmoid'(z) = A (1 - A)``."""

    name = "sigmoid"

    def forward(self, Z, out=None):
        return sigmoid(Z)

    def derivative(self, Z, A):
        return A * (1 - A)


class Tanh(Activation):
    """``tanh(z)``; ``tanh'(z) = 1 - A^2``."""

    name = "tanh"

    def forward(self, Z, out=None):
        return np.tanh(Z, out=out)

    def derivative(self, Z, A):
        return 1 - A * A


class Linear(Activation):
    """Identity ``A = Z``; derivative 1. The usual output for regression."""

    name = "linear"

    def forward(self, Z, out=None):
        return Z

    def derivative(self, Z, A):
        return np.ones_like(Z)

    def backward(self, Z, A, dA, out=None):
        return dA


class Softmax(Activation):
    """Row-wise ``A_ij = exp(Z_ij) / sum_k exp(Z_ik)``.

    Its Jacobian is not diagonal: ``dA_ij/dZ_ik = A_ij (delta_jk - A_ik)``,
    so :meth:`backward` applies it as a vector-Jacobian product,
    ``dZ = A * (dA - sum_k dA_k A_k)``. Paired with cross-entropy the
    product simplifies to ``A - Y``, which the loss uses directly.
    """

    name = "softmax"

    def forward(self, Z, out=None):
        return softmax(Z)

    def derivative(self, Z, A):
        raise TypeError("softmax has no element-wise derivative; use backward(Z, A, dA).")

    def backward(self, Z, A, dA, out=None):
        return np.multiply(A, dA - (dA * A).sum(axis=1, keepdims=True), out=out)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (ReLU, LeakyReLU, Sigmoid, Tanh, Linear, Softmax)
}
# Common aliases users type.
_ALIASES = {"identity": "linear", "logistic": "sigmoid", "leakyrelu": "leaky_relu", "none": "linear"}


def get_activation(name: str | Activation) -> Activation:
    """Return the activation called ``name`` (an :class:`Activation` passes through)."""
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name such as 'relu', got {type(name).__name__} {name!r}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; choose one of {', '.join(sorted(ACTIVATIONS))}.")
    return ACTIVATIONS[key]()
