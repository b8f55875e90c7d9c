"""The playground's data generators: make_circles, make_xor, make_gauss."""

import numpy as np
import pytest

from ninestep.data import make_circles, make_gauss, make_xor


@pytest.mark.parametrize("make, kwargs", [(make_circles, {"n_classes": 3}), (make_gauss, {"n_classes": 4}),
                                          (make_xor, {})])
def test_shapes_labels_balance_and_seed(make, kwargs):
    X, y = make(n_samples=301, noise=0.1, seed=5, **kwargs)
    k = kwargs.get("n_classes", 2)
    assert X.shape == (301, 2) and X.dtype == np.float64
    assert y.shape == (301,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(k))
    if make is not make_xor:  # round-robin labels: the classes differ in size by at most one
        counts = np.bincount(y)
        assert counts.max() - counts.min() <= 1
    X2, y2 = make(n_samples=301, noise=0.1, seed=5, **kwargs)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = make(n_samples=301, noise=0.1, seed=6, **kwargs)
    assert not np.array_equal(X, X3)


def test_circles_rings_are_apart_without_noise():
    X, y = make_circles(n_samples=600, n_classes=3, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    for k in range(2):  # every point of ring k lies inside every point of ring k + 1
        assert r[y == k].max() < r[y == k + 1].min()


def test_xor_label_is_the_sign_of_the_product_without_noise():
    X, y = make_xor(n_samples=400, noise=0.0, seed=1)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.abs(X).min() >= 0.05


def test_gauss_blobs_centre_on_a_circle():
    X, y = make_gauss(n_samples=4000, n_classes=4, noise=0.0, seed=2)
    centres = np.array([X[y == k].mean(axis=0) for k in range(4)])
    assert np.allclose(np.hypot(centres[:, 0], centres[:, 1]), 0.6, atol=0.02)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_classes": 1}, "n_classes"), ({"n_classes": 11}, "choose 2 to 10"),
    ({"n_samples": 2, "n_classes": 3}, "every class needs a sample"), ({"noise": -1}, "noise"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_circles(**{"n_samples": 100, **kwargs})
