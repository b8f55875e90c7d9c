"""Steps 2 and 3: data to learn from, and the train/test split.

Every generator returns ``(X, y)`` with one sample per row and takes its
randomness from ``seed`` (an int or a ``numpy.random.Generator``).

* :func:`make_arithmetic` - the article's data: inputs a, b; outputs a+b,
  a-b, |a-b|.
* :func:`make_moons` and :func:`make_spirals` - two-class and k-class
  classification in the plane.
* :func:`make_sine` - 1-D non-linear regression, ``y = sin(x)`` plus noise.
* :func:`make_circles`, :func:`make_xor` and :func:`make_gauss` - the
  TensorFlow Playground's shapes (rings and blobs with k classes, xor).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import (as_generator, check_array, check_bool, check_finite_number, check_in_range,
                          check_int, check_nonnegative)

__all__ = ["make_arithmetic", "arithmetic_targets", "make_moons", "make_spirals", "make_sine", "make_circles",
           "make_xor", "make_gauss", "train_test_split"]


def make_arithmetic(n_samples: int = 10_000, low: float = 0.0, high: float = 100.0,
                    seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The article's data set.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Columns a and b, uniform in [low, high).
    y : ndarray of shape (n_samples, 3)
        Columns a + b, a - b and |a - b|.
    """
    n_samples = check_int(n_samples, "n_samples")
    low, high = _check_low_high(low, high)
    rng = as_generator(seed)
    X = rng.uniform(low, high, size=(n_samples, 2))
    return X, arithmetic_targets(X)


def arithmetic_targets(X: Any) -> np.ndarray:
    """The article's outputs for inputs X of shape (n, 2): columns a + b, a - b, |a - b|, shape (n, 3).

    :func:`make_arithmetic` and :mod:`ninestep.article` (the notebook's own
    draw) both compute their targets here.
    """
    X = check_array(X, "X")
    if X.shape[1] != 2:
        raise ValueError(f"X has {X.shape[1]} columns; the article's inputs are the 2 columns a and b.")
    a, b = X[:, 0], X[:, 1]
    return np.column_stack([a + b, a - b, np.abs(a - b)])


def make_moons(n_samples: int = 1000, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X of shape (n, 2), integer labels y in {0, 1} of shape (n,)."""
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    noise = check_nonnegative(noise, "noise")
    rng = as_generator(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack([np.column_stack([np.cos(t0), np.sin(t0)]),
                   np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])])
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def make_spirals(n_samples: int = 900, n_classes: int = 3, noise: float = 0.2,
                 seed=None) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms (the CS231n toy problem).

    Returns X of shape (n, 2) and integer labels y of shape (n,) in 0..n_classes-1.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    if n_samples < n_classes:
        raise ValueError(f"n_samples={n_samples} is fewer than n_classes={n_classes}; every class needs a sample.")
    noise = check_nonnegative(noise, "noise")
    rng = as_generator(seed)
    y = np.arange(n_samples) % n_classes
    r = np.empty(n_samples)
    for k in range(n_classes):  # radius grows along each arm
        members = y == k
        r[members] = np.linspace(0.0, 1.0, members.sum())
    theta = y * (2 * np.pi / n_classes) + 4.0 * r + noise * rng.standard_normal(n_samples)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    order = rng.permutation(n_samples)
    return X[order], y[order].astype(np.int64)


def make_sine(n_samples: int = 1000, noise: float = 0.1, low: float = -3.0, high: float = 3.0,
              seed=None) -> tuple[np.ndarray, np.ndarray]:
    """1-D regression: x uniform in [low, high), ``y = sin(x) + noise * N(0, 1)``.

    Returns X of shape (n, 1) and y of shape (n,).
    """
    n_samples = check_int(n_samples, "n_samples")
    noise = check_nonnegative(noise, "noise")
    low, high = _check_low_high(low, high)
    rng = as_generator(seed)
    X = rng.uniform(low, high, size=(n_samples, 1))
    y = np.sin(X[:, 0]) + noise * rng.standard_normal(n_samples)
    return X, y


def _check_low_high(low: Any, high: Any) -> tuple[float, float]:
    try:
        a, b = check_finite_number(low, "low"), check_finite_number(high, "high")
    except ValueError:
        a = b = 0.0
    if not a < b:
        raise ValueError(f"need finite numbers low < high, got low={low!r}, high={high!r}.")
    return a, b


def train_test_split(X: Any, y: Any, test_size: float = 0.3, shuffle: bool = True, seed=None,
                     stratify: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into ``X_train, X_test, y_train, y_test``.

    Parameters
    ----------
    test_size : float in (0, 1) or int
        Fraction (or number) of rows for the test set; the test set gets
        ``ceil(test_size * n)`` rows, as in scikit-learn.
    shuffle : bool, default True
        With ``False`` the first rows are the training set and the last
        the test set - the article's split.
    stratify : array of labels, optional
        Keep each class's share the same in both parts (needs shuffle):
        each class gives its share of the test rows, rounded up or down.
        A class too small to give its share and keep a row for training
        keeps that row, and other classes give the test rows it cannot
        (as long as there are at least as many training rows as classes).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample.")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}; they must match.")
    if n < 2:
        raise ValueError(f"X has {n} samples; a split needs at least 2 (one to train on, one to test).")
    shuffle = check_bool(shuffle, "shuffle")
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = check_int(test_size, "test_size")
    else:
        test_size = check_in_range(test_size, "test_size", 0.0, 1.0, low_open=True, high_open=True)
        n_test = int(np.ceil(test_size * n))
    n_train = n - n_test
    if n_test < 1 or n_train < 1:
        raise ValueError(f"test_size={test_size!r} leaves {n_train} training and {n_test} test rows "
                         f"out of {n}; both need at least one.")
    if stratify is not None:
        if not shuffle:
            raise ValueError("stratify needs shuffle=True.")
        labels = check_array(stratify, "stratify", ndim=1, dtype=None)
        if labels.shape[0] != n:
            raise ValueError(f"stratify has {labels.shape[0]} entries but X has {n} rows.")
        rng = as_generator(seed)
        classes, inverse = np.unique(labels, return_inverse=True)
        counts = np.bincount(inverse)
        # Each class gets its share n_test * count / n of the test rows, rounded
        # so that the shares add up to exactly n_test: the rows still missing
        # after rounding down go, one at a time, to the class furthest below
        # its quota among those that would still keep a row for training.
        quota = n_test * counts / n
        shares = np.floor(quota).astype(np.int64)
        for _ in range(n_test - int(shares.sum())):
            room = shares + 1 < counts
            candidates = room if room.any() else shares < counts
            shares[np.argmax(np.where(candidates, quota - shares, -np.inf))] += 1
        test_parts = []
        for k in range(classes.size):
            members = rng.permutation(np.flatnonzero(inverse == k))
            test_parts.append(members[:shares[k]])
        test_idx = np.concatenate(test_parts)
        train_idx = np.setdiff1d(np.arange(n), test_idx)
        test_idx, train_idx = rng.permutation(test_idx), rng.permutation(train_idx)
    elif shuffle:
        order = as_generator(seed).permutation(n)
        train_idx, test_idx = order[:n_train], order[n_train:]
    else:
        return X[:n_train], X[n_train:], y[:n_train], y[n_train:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# ---------------------------------------------------------------------- TensorFlow Playground's shapes
# Classification in the plane, as the playground (``ninestep playground``) offers them. Each
# returns X of shape (n_samples, 2) and integer labels y of shape (n_samples,) in 0..n_classes-1,
# with the classes as equal as n_samples allows and the rows in random order.

def _classes_and_rng(n_samples, n_classes, noise, seed, max_classes: int = 10):
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    if n_classes > max_classes:
        raise ValueError(f"n_classes={n_classes} is more than {max_classes}; choose 2 to {max_classes}.")
    if n_samples < n_classes:
        raise ValueError(f"n_samples={n_samples} is fewer than n_classes={n_classes}; every class needs a sample.")
    noise = check_nonnegative(noise, "noise")
    return n_samples, n_classes, noise, as_generator(seed), np.arange(n_samples) % n_classes


def make_circles(n_samples: int = 500, n_classes: int = 2, noise: float = 0.1,
                 seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Concentric rings, one per class: class k lies at radius (k + 0.5) / n_classes.

    With two classes this is the playground's "circle": a disc inside a
    ring. ``noise`` is the standard deviation of the Gaussian jitter added
    to each coordinate.
    """
    n_samples, n_classes, noise, rng, y = _classes_and_rng(n_samples, n_classes, noise, seed)
    # Each ring is a band of width 0.6 / n_classes, so neighbouring rings stay apart at noise 0.
    radius = (y + 0.2 + 0.6 * rng.uniform(size=n_samples)) / n_classes
    angle = rng.uniform(0.0, 2 * np.pi, size=n_samples)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order].astype(np.int64)


def make_xor(n_samples: int = 500, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """The exclusive-or pattern: points uniform in [-1, 1]^2, class 1 where x1 * x2 < 0.

    A margin of 0.05 around each axis is left empty (as in the playground)
    so that noise 0 gives separable classes. Two classes only.
    """
    n_samples, _, noise, rng, _ = _classes_and_rng(n_samples, 2, noise, seed)
    X = rng.uniform(0.05, 1.0, size=(n_samples, 2)) * rng.choice([-1.0, 1.0], size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(np.int64)  # labelled before the noise, as in the playground
    X += noise * rng.standard_normal(X.shape)
    return X, y


def make_gauss(n_samples: int = 500, n_classes: int = 2, noise: float = 0.1,
               seed=None) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian blob per class, the centres evenly spaced on a circle of radius 0.6.

    Each blob's standard deviation is ``0.15 + noise``: even at noise 0 the
    blobs are clouds, not points.
    """
    n_samples, n_classes, noise, rng, y = _classes_and_rng(n_samples, n_classes, noise, seed)
    angle = 2 * np.pi * np.arange(n_classes) / n_classes + np.pi / 4
    centres = 0.6 * np.column_stack([np.cos(angle), np.sin(angle)])
    X = centres[y] + (0.15 + noise) * rng.standard_normal((n_samples, 2))
    order = rng.permutation(n_samples)
    return X[order], y[order].astype(np.int64)
