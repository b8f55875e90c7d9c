"""Step 7: losses, each beside its gradient.

Notation: ``n`` samples in the batch, ``Z`` the output layer's
pre-activation (n, k), ``A = sigma(Z)`` the prediction ``y_hat`` (n, k),
``Y`` the targets (n, k). Every loss is a **mean over the samples of the
batch**, as in the article, and every gradient is the exact derivative of
that mean.

``mse``
    ``L = (1/n) sum_i 1/2 ||A_i - Y_i||^2`` - the article's per-sample
    ``1/2 (y_hat - y)^2``, summed over the outputs and averaged over the
    samples. ``dL/dA = (A - Y) / n``. (scikit-learn also averages over the
    outputs; the two agree when there is a single output.)
``cross_entropy``
    softmax output; ``L = -(1/n) sum_i log p_{i, y_i}``, computed from the
    logits with log-sum-exp so that it is finite even when a probability
    underflows. With the softmax the gradient simplifies to
    ``dL/dZ = (softmax(Z) - Y) / n``.
``binary_cross_entropy``
    sigmoid output(s), targets in {0, 1};
    ``L = (1/n) sum_i sum_j [log(1 + exp(z_ij)) - y_ij z_ij]``, the stable
    form of ``-[y log p + (1 - y) log(1 - p)]``; ``dL/dZ = (sigmoid(Z) - Y) / n``.

Each loss offers ``value(Z, A, Y) -> float`` and ``dZ(Z, A, Y, activation)
-> dL/dZ``, the starting point of back-propagation. The training loop asks
for both at once with ``value_and_dZ``, which lets ``mse`` compute the
residual ``A - Y`` once, into a reused buffer.

Sample weights: with ``weights`` (a column (n, 1) of per-sample weights
that sum to 1 over the batch, ``w_i / sum(w)``) the mean ``(1/n) sum_i``
becomes the weighted mean ``sum_i weights_i``, and the ``1/n`` of every
gradient becomes ``weights_i`` - scikit-learn's convention. Whole-number
weights give exactly the loss of the batch with each row repeated
``w_i`` times.
"""

from __future__ import annotations

import numpy as np

from typing import Any

from ._validation import check_array
from .activations import Activation, log_softmax

__all__ = ["Loss", "MSE", "CrossEntropy", "BinaryCrossEntropy", "LOSSES", "get_loss", "prepare_targets", "weights_column"]


class Loss:
    """Interface for a loss that is a mean over the samples of a batch."""

    name: str = ""
    #: The output activation this loss requires, or None for any.
    requires_activation: str | None = None

    def value(self, Z: np.ndarray, A: np.ndarray, Y: np.ndarray, weights: np.ndarray | None = None) -> float:
        raise NotImplementedError

    def dZ(self, Z: np.ndarray, A: np.ndarray, Y: np.ndarray, activation: Activation,
           weights: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def value_and_dZ(self, Z: np.ndarray, A: np.ndarray, Y: np.ndarray, activation: Activation,
                     out: np.ndarray | None = None, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``(value(Z, A, Y), dZ(Z, A, Y, activation))``; ``dZ`` may be written into ``out``."""
        return self.value(Z, A, Y, weights), self.dZ(Z, A, Y, activation, weights)

    def check_activation(self, activation: Activation) -> None:
        if self.requires_activation and activation.name != self.requires_activation:
            raise ValueError(
                f"loss {self.name!r} needs a {self.requires_activation!r} output layer, but the "
                f"network's output activation is {activation.name!r}. Build the network with "
                f"output_activation={self.requires_activation!r}."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSE(Loss):
    """Half squared error, summed over outputs, averaged over samples."""

    name = "mse"

    def value(self, Z, A, Y, weights=None):
        if weights is None:
            return 0.5 * _sum_of_squares(A - Y) / A.shape[0]
        return 0.5 * float((weights * np.square(A - Y)).sum())

    def dZ(self, Z, A, Y, activation, weights=None):
        dA = _per_sample(A - Y, weights)  # dL/dA = (A - Y) / n
        return activation.backward(Z, A, dA)

    def value_and_dZ(self, Z, A, Y, activation, out=None, weights=None):
        R = np.subtract(A, Y, out=out)  # the residual, shared by the loss and its gradient
        if weights is None:
            value = 0.5 * _sum_of_squares(R) / A.shape[0]
            R *= 1.0 / A.shape[0]  # not /=: a division pass costs 3x a multiplication here
        else:
            value = 0.5 * float((weights * R * R).sum())
            R *= weights
        return value, activation.backward(Z, A, R, out=R)


def _batch_mean(per_entry: np.ndarray, weights: np.ndarray | None) -> float:
    """The mean over the samples of a per-entry loss summed over the outputs (weighted, with weights)."""
    if weights is None:
        return float(per_entry.sum() / per_entry.shape[0])
    return float((weights * per_entry).sum())


def _per_sample(D: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """``D / n``, or each row times its weight: the 1/n that a mean over the batch puts in its gradient."""
    return D / D.shape[0] if weights is None else D * weights


def _sum_of_squares(R: np.ndarray) -> float:
    """``sum(R**2)`` in one pass, in whichever memory order ``R`` has.

    A small contiguous ``R`` (a mini-batch's residuals) goes to BLAS's dot
    product of the flat data (no copy in either order): half the time of
    ``einsum``, which sets up an iterator. A large one goes to ``einsum``:
    OpenBLAS runs a dot product of more than 10,000 numbers on several
    threads, whose start-up then costs more than the sum itself (the
    article's full batch, 7,000 x 3 residuals, is such a case).
    """
    R = R if R.ndim == 2 else R.reshape(len(R), -1)
    if R.size <= 8192 and (R.flags.c_contiguous or R.flags.f_contiguous):
        flat = R.ravel(order="K")
        return float(np.dot(flat, flat))
    return float(np.einsum("ij,ij->", R, R))


class CrossEntropy(Loss):
    """Categorical cross-entropy of a softmax output, from the logits."""

    name = "cross_entropy"
    requires_activation = "softmax"

    def value(self, Z, A, Y, weights=None):
        if weights is None:
            return float(-np.vdot(Y, log_softmax(Z)) / Z.shape[0])
        return _batch_mean(-Y * log_softmax(Z), weights)

    def dZ(self, Z, A, Y, activation, weights=None):
        return _per_sample(A - Y, weights)


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of sigmoid output(s), from the logits."""

    name = "binary_cross_entropy"
    requires_activation = "sigmoid"

    def value(self, Z, A, Y, weights=None):
        # log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)): no overflow.
        softplus = np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))
        if weights is None:
            return float((softplus.sum() - np.vdot(Y, Z)) / Z.shape[0])
        return _batch_mean(softplus - Y * Z, weights)

    def dZ(self, Z, A, Y, activation, weights=None):
        return _per_sample(A - Y, weights)


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (MSE, CrossEntropy, BinaryCrossEntropy)}
_ALIASES = {
    "squared_error": "mse",
    "mean_squared_error": "mse",
    "categorical_cross_entropy": "cross_entropy",
    "log_loss": "cross_entropy",
    "bce": "binary_cross_entropy",
}


def get_loss(name: str | Loss) -> Loss:
    """Return the loss called ``name`` (a :class:`Loss` passes through)."""
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be a name such as 'mse', got {type(name).__name__} {name!r}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in LOSSES:
        raise ValueError(f"Unknown loss {name!r}; choose one of {', '.join(sorted(LOSSES))}.")
    return LOSSES[key]()


def prepare_targets(y: Any, loss: Loss, n_out: int, dtype: Any, name: str = "y") -> np.ndarray:
    """Return the targets as a float (n, n_out) matrix for ``loss``.

    ``cross_entropy`` accepts integer labels of shape (n,) (turned into
    one-hot rows) or one-hot / probability rows of shape (n, n_out).
    ``binary_cross_entropy`` and ``mse`` accept shape (n,) when the network
    has a single output.
    """
    y = check_array(y, name, ndim=(1, 2), dtype=None)
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric for a Network, got dtype {y.dtype}; encode the labels as integers "
            "0..k-1 (ninestep.sklearn.MLPClassifier does this for you)."
        )
    y = check_array(y, name, ndim=(1, 2), dtype=np.float64) if y.dtype.kind == "f" else y
    if loss.name == "cross_entropy" and y.ndim == 1:
        labels = y
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            i = int(np.argmax(labels != np.round(labels)))
            raise ValueError(
                f"cross_entropy needs class labels, integers 0..{n_out - 1}, but {name}[{i}] = {labels[i].item()!r} is "
                "not an integer; continuous targets call for a regression loss (loss='mse')."
            )
        labels = labels.astype(np.int64)
        bad = (labels < 0) | (labels >= n_out)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{name}[{i}] = {labels[i]} is not a valid class for a network with {n_out} outputs; "
                f"labels must be integers in 0..{n_out - 1}."
            )
        Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
        Y[np.arange(labels.shape[0]), labels] = 1
        return Y
    if y.ndim == 1:
        if n_out != 1:
            raise ValueError(
                f"{name} is 1-D but the network has {n_out} outputs; pass y of shape (n_samples, {n_out})."
            )
        y = y.reshape(-1, 1)
    if y.shape[1] != n_out:
        raise ValueError(f"{name} has {y.shape[1]} columns but the network has {n_out} outputs.")
    if loss.name in ("cross_entropy", "binary_cross_entropy") and ((y < 0) | (y > 1)).any():
        i, j = np.argwhere((y < 0) | (y > 1))[0]
        raise ValueError(
            f"{loss.name} targets must lie in [0, 1] (one-hot rows or 0/1 labels), but {name}[{i}, {j}] = "
            f"{y[i, j].item()!r}; continuous targets call for a regression loss (loss='mse')."
        )
    if loss.name == "cross_entropy":
        off = np.abs(y.sum(axis=1) - 1) > 1e-6
        if off.any():
            i = int(np.argmax(off))
            raise ValueError(
                f"cross_entropy needs one-hot (or probability) rows that sum to 1, but row {i} of {name} sums "
                f"to {float(y[i].sum()):.6g}; pass integer labels of shape (n_samples,) instead."
            )
    return np.asarray(y, dtype=dtype)


def weights_column(w: np.ndarray | None, n: int, dtype) -> tuple[np.ndarray | None, float]:
    """Sample weights as the losses take them, ``w_i / sum(w)`` in a column of ``dtype``, and their sum.

    ``w=None`` gives ``(None, n)``: the plain mean over the ``n`` rows. The
    column has the network's dtype, so that float32 training stays float32.
    """
    if w is None:
        return None, n
    total = float(w.sum())
    return (w / total).astype(dtype, copy=False)[:, None], total
