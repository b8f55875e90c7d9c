"""Step 9: how good is the model?

Regression metrics compare ``y_true`` and ``y_pred`` of shape (n,) or
(n, k); with ``multioutput="raw_values"`` they return one number per
output column (per target), otherwise the mean over the columns.

:func:`loss_report` puts the training loss beside the test loss, the
article's check for overfitting: a model generalises when its test loss is
not much higher than its training loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_array, check_choice

__all__ = ["mse", "mae", "r2", "accuracy", "confusion_matrix", "loss_report"]


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = check_array(y_true, "y_true", ndim=(1, 2))
    y_pred = check_array(y_pred, "y_pred", ndim=(1, 2))
    if y_true.ndim == 1:
        y_true = y_true.reshape(-1, 1)
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}.")
    return y_true, y_pred


def _reduce(values: np.ndarray, multioutput: str):
    check_choice(multioutput, "multioutput", ("uniform_average", "raw_values"))
    return values if multioutput == "raw_values" else float(values.mean())


def mse(y_true: Any, y_pred: Any, multioutput: str = "uniform_average"):
    """Mean squared error ``mean((y_true - y_pred)^2)`` (no 1/2: the usual metric, not the loss)."""
    t, p = _pair(y_true, y_pred)
    return _reduce(((t - p) ** 2).mean(axis=0), multioutput)


def mae(y_true: Any, y_pred: Any, multioutput: str = "uniform_average"):
    """Mean absolute error ``mean(|y_true - y_pred|)``, in the units of y."""
    t, p = _pair(y_true, y_pred)
    return _reduce(np.abs(t - p).mean(axis=0), multioutput)


def r2(y_true: Any, y_pred: Any, multioutput: str = "uniform_average"):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output (1 is perfect).

    A constant target column scores 1 if predicted exactly and 0 otherwise,
    as in scikit-learn.
    """
    t, p = _pair(y_true, y_pred)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
    return _reduce(score, multioutput)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of labels predicted exactly (labels may be numbers or strings)."""
    t, p = _labels(y_true, y_pred, "accuracy of 0 samples is undefined.")
    return float(np.mean(t == p))


def _labels(y_true: Any, y_pred: Any, if_empty: str) -> tuple[np.ndarray, np.ndarray]:
    """Two 1-D label arrays of one length, or an error that says what to pass (probability rows included)."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if t.ndim == 1 and p.ndim == 2 and p.shape[0] == t.shape[0]:
        raise ValueError(f"y_pred has shape {p.shape}: rows of probabilities (or one-hot rows), not labels. "
                         "Pass class labels: net.predict_classes(X), or y_pred.argmax(axis=1).")
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D label arrays of the same length, got {t.shape} and {p.shape}.")
    if t.size == 0:
        raise ValueError(if_empty)
    return t, p


def confusion_matrix(y_true: Any, y_pred: Any, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Counts ``C[i, j]`` of samples of class ``labels[i]`` predicted as ``labels[j]``.

    Returns ``(C, labels)``; labels default to the sorted union of both arrays.
    """
    t, p = _labels(y_true, y_pred, "a confusion matrix of 0 samples is undefined; y_true and y_pred are empty.")
    labels = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)
    if len(set(labels.tolist())) != labels.size:
        raise ValueError(f"labels must not repeat, got {labels.tolist()!r}.")
    index = {label: i for i, label in enumerate(labels.tolist())}
    C = np.zeros((labels.size, labels.size), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist()):
        if a not in index or b not in index:
            raise ValueError(f"label {a if a not in index else b!r} is not in labels {labels.tolist()!r}.")
        C[index[a], index[b]] += 1
    return C, labels


def loss_report(net, train: tuple[Any, Any], test: tuple[Any, Any], loss: str = "mse") -> dict[str, float]:
    """Training loss against test loss for a trained ``net``, with their ratio.

    Returns ``{"train_loss", "test_loss", "ratio"}``; a ratio near 1 means
    the model generalises, a ratio far above 1 that it overfits.
    """
    train_loss = net.evaluate(*train, loss=loss)
    test_loss = net.evaluate(*test, loss=loss)
    ratio = test_loss / train_loss if train_loss > 0 else float("inf")
    return {"train_loss": train_loss, "test_loss": test_loss, "ratio": ratio}
