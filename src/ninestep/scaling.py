"""Step 4: standardisation.

Each column ``j`` is mapped to ``(x_j - mean_j) / scale_j``, where ``mean_j``
and ``scale_j`` (the population standard deviation) are **fitted on the
training set only** and then applied unchanged to the test set and to
every later input. Fitting on all the data would leak the test set's mean
and spread into training - the model would have seen, through the scaler,
data it is later judged on, and the test loss would flatter it. The article
makes the same point: "the scaler does not contain any information from our
testing set".

A constant column has standard deviation 0; its ``scale_`` is set to 1 so
that it maps to 0 instead of dividing by zero (scikit-learn does the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_array, check_bool

__all__ = ["StandardScaler"]


class StandardScaler:
    """Standardise columns to zero mean and unit variance.

    Parameters
    ----------
    with_mean, with_std : bool, default True
        Whether to centre, and whether to scale.

    Attributes (after :meth:`fit`)
    -------------------------------
    mean_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        Standard deviation per column (1 where a column is constant).
    n_features_in_ : int
    n_samples_seen_ : int
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = check_bool(with_mean, "with_mean")
        self.with_std = check_bool(with_std, "with_std")

    def fit(self, X: Any) -> "StandardScaler":
        """Learn ``mean_`` and ``scale_`` from X of shape (n_samples, n_features) (or (n_samples,))."""
        X, _ = self._as_2d(X)
        n = X.shape[0]
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = X.mean(axis=0), X.std(axis=0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            # Values beyond ~1e154 overflow the squares (beyond ~1e308 / n the sum): divide each
            # column by its largest magnitude first, then scale the statistics back.
            peak = np.abs(X).max(axis=0)
            peak = np.where(peak > 0, peak, 1.0)
            mean, std = (X / peak).mean(axis=0) * peak, (X / peak).std(axis=0) * peak
        # A constant column must map to exactly 0, but the rounded mean of n copies of a value
        # need not equal it (3 x 3.0024e15 / 3 is off by 0.5): take the value itself.
        mean = np.where((X == X[0]).all(axis=0), X[0], mean)
        self.mean_ = mean if self.with_mean else np.zeros(X.shape[1], dtype=X.dtype)
        if self.with_std:
            # Relative to the column's magnitude, a std at round-off level is a constant column.
            tiny = 10 * np.finfo(X.dtype).eps * np.maximum(np.abs(mean), 1.0)
            self.scale_ = np.where(std > tiny, std, 1.0)
        else:
            self.scale_ = np.ones(X.shape[1], dtype=X.dtype)
        self.n_features_in_ = X.shape[1]
        self.n_samples_seen_ = n
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``(X - mean_) / scale_``, shaped like X."""
        X, was_1d = self._checked(X)
        with np.errstate(over="ignore", invalid="ignore"):
            out = (X - self.mean_) / self.scale_
        _check_finite_result(out, X, "transform")
        return out.ravel() if was_1d else out

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Map standardised values back to original units: ``Z * scale_ + mean_``."""
        Z, was_1d = self._checked(Z, name="Z")
        with np.errstate(over="ignore", invalid="ignore"):
            out = Z * self.scale_ + self.mean_
        _check_finite_result(out, Z, "inverse_transform")
        return out.ravel() if was_1d else out

    # ------------------------------------------------------------------
    def _as_2d(self, X: Any, name: str = "X") -> tuple[np.ndarray, bool]:
        X = check_array(X, name, ndim=(1, 2), dtype=np.float64 if not _is_float32(X) else np.float32)
        return (X.reshape(-1, 1), True) if X.ndim == 1 else (X, False)

    def _checked(self, X: Any, name: str = "X") -> tuple[np.ndarray, bool]:
        if not hasattr(self, "mean_"):
            raise RuntimeError("This StandardScaler is not fitted yet; call fit(X_train) first.")
        X, was_1d = self._as_2d(X, name)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X.shape[1]} columns but the scaler was fitted on "
                             f"{self.n_features_in_}.")
        return X, was_1d

    def get_params(self) -> dict[str, Any]:
        return {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_params(cls, mean: Any, scale: Any) -> "StandardScaler":
        """A fitted scaler from stored ``mean`` and ``scale`` arrays."""
        mean = check_array(mean, "mean", ndim=1)
        scale = check_array(scale, "scale", ndim=1)
        if mean.shape != scale.shape:
            raise ValueError(f"mean and scale must have the same shape, got {mean.shape} and {scale.shape}.")
        if (scale <= 0).any():
            raise ValueError("scale must be > 0 in every column.")
        self = cls()
        self.mean_, self.scale_, self.n_features_in_, self.n_samples_seen_ = mean, scale, mean.shape[0], 0
        return self

    def __repr__(self) -> str:
        fitted = f", n_features_in_={self.n_features_in_}" if hasattr(self, "mean_") else ""
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std}{fitted})"


def _is_float32(X: Any) -> bool:
    return isinstance(X, np.ndarray) and X.dtype == np.float32


def _check_finite_result(out: np.ndarray, X: np.ndarray, method: str) -> None:
    """Finite inputs far outside the fitted range can overflow (1e308 - (-1e308)); say so."""
    if not np.isfinite(out).all():
        i, j = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(
            f"StandardScaler.{method} overflowed at row {i}, column {j} (value {X[i, j].item()!r}): "
            "it lies too far outside the range the scaler was fitted on for float64.")
