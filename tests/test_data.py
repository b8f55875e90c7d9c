"""Steps 2-3: the data generators and the train/test split (ninestep.data)."""

import math

import numpy as np
import pytest

import ninestep as ns


# ---------------------------------------------------------------- make_arithmetic
def test_arithmetic_shapes_range_and_relations():
    X, y = ns.make_arithmetic(n_samples=500, low=-5.0, high=20.0, seed=0)
    assert X.shape == (500, 2) and y.shape == (500, 3)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert X.min() >= -5.0 and X.max() < 20.0
    # Uniform over the whole range, not a corner of it.
    assert X.min() < -4.0 and X.max() > 19.0
    a, b = X[:, 0], X[:, 1]
    np.testing.assert_array_equal(y[:, 0], a + b)
    np.testing.assert_array_equal(y[:, 1], a - b)
    np.testing.assert_array_equal(y[:, 2], np.abs(a - b))


def test_arithmetic_defaults_are_the_articles():
    X, y = ns.make_arithmetic(seed=1)
    assert X.shape == (10_000, 2) and y.shape == (10_000, 3)
    assert 0.0 <= X.min() and X.max() < 100.0
    # Uniform on [0, 100): mean 50, std 100/sqrt(12) = 28.87.
    np.testing.assert_allclose(X.mean(axis=0), 50.0, atol=1.5)
    np.testing.assert_allclose(X.std(axis=0), 100 / math.sqrt(12), atol=1.0)


@pytest.mark.parametrize("make", [ns.make_arithmetic, ns.make_moons, ns.make_spirals, ns.make_sine])
def test_generators_same_seed_same_bits_different_seed_differs(make):
    X1, y1 = make(n_samples=200, seed=7)
    X2, y2 = make(n_samples=200, seed=7)
    X3, _ = make(n_samples=200, seed=8)
    assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", [ns.make_arithmetic, ns.make_moons, ns.make_spirals, ns.make_sine])
def test_generators_accept_a_generator_and_leave_global_state_alone(make):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X1, _ = make(n_samples=100, seed=np.random.default_rng(5))
    X2, _ = make(n_samples=100, seed=5)
    after = np.random.get_state()[1]
    np.testing.assert_array_equal(before, after)
    # A Generator built from a seed draws the same as that seed.
    np.testing.assert_array_equal(X1, X2)
    # The caller's Generator is consumed: two calls with it differ.
    rng = np.random.default_rng(5)
    Xa, _ = make(n_samples=100, seed=rng)
    Xb, _ = make(n_samples=100, seed=rng)
    assert not np.array_equal(Xa, Xb)


def test_arithmetic_unseeded_calls_differ():
    X1, _ = ns.make_arithmetic(50)
    X2, _ = ns.make_arithmetic(50)
    assert not np.array_equal(X1, X2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=0), "n_samples"),
    (dict(n_samples=2.5), "n_samples"),
    (dict(low=5.0, high=5.0), "low < high"),
    (dict(low=0.0, high=float("inf")), "low < high"),
    (dict(seed=-1), "seed"),
])
def test_arithmetic_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ns.make_arithmetic(**kwargs)


def test_arithmetic_rejects_a_non_seed():
    with pytest.raises(TypeError, match="seed"):
        ns.make_arithmetic(10, seed="abc")


# ---------------------------------------------------------------- other generators
def test_moons_two_balanced_classes_in_the_plane():
    X, y = ns.make_moons(n_samples=301, noise=0.0, seed=0)
    assert X.shape == (301, 2) and y.shape == (301,)
    assert y.dtype.kind == "i"
    assert set(np.unique(y)) == {0, 1}
    assert abs(np.sum(y == 0) - np.sum(y == 1)) <= 1
    # Without noise, class 0 lies on the unit circle centred at (0, 0) (upper half),
    # class 1 on the unit circle centred at (1, 0.5) (lower half).
    X0, X1 = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(X0[:, 0], X0[:, 1]), 1.0, atol=1e-12)
    assert (X0[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(X1[:, 0] - 1, X1[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (X1[:, 1] <= 0.5 + 1e-12).all()
    # Rows are shuffled: the labels are not sorted.
    assert not np.all(np.diff(y) >= 0)


def test_spirals_classes_and_radius():
    X, y = ns.make_spirals(n_samples=300, n_classes=4, noise=0.0, seed=0)
    assert X.shape == (300, 2) and y.shape == (300,)
    assert y.dtype.kind == "i"
    np.testing.assert_array_equal(np.bincount(y), [75, 75, 75, 75])
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.0 and r.max() <= 1.0 + 1e-12
    # Each arm runs from the centre to radius 1.
    for k in range(4):
        assert r[y == k].min() < 1e-12 and r[y == k].max() == pytest.approx(1.0)


def test_sine_is_sin_plus_noise():
    X, y = ns.make_sine(n_samples=2000, noise=0.0, seed=0)
    assert X.shape == (2000, 1) and y.shape == (2000,)
    assert X.min() >= -3.0 and X.max() < 3.0
    np.testing.assert_array_equal(y, np.sin(X[:, 0]))
    X, y = ns.make_sine(n_samples=20_000, noise=0.2, seed=0)
    residual = y - np.sin(X[:, 0])
    assert abs(residual.mean()) < 0.01
    assert residual.std() == pytest.approx(0.2, rel=0.03)


@pytest.mark.parametrize("make, kwargs", [
    (ns.make_moons, dict(noise=-0.1)),
    (ns.make_moons, dict(n_samples=1)),
    (ns.make_spirals, dict(n_classes=1)),
    (ns.make_sine, dict(low=1.0, high=0.0)),
])
def test_generators_reject_bad_arguments(make, kwargs):
    with pytest.raises(ValueError):
        make(**kwargs)


# ---------------------------------------------------------------- train_test_split
def _data(n=10):
    X = np.arange(2 * n, dtype=float).reshape(n, 2)
    y = np.arange(n) * 10.0
    return X, y


@pytest.mark.parametrize("n, test_size, n_test", [(10, 0.3, 3), (11, 0.3, 4), (7, 0.25, 2), (100, 0.3, 30),
                                                  (10, 4, 4)])
def test_split_sizes_round_the_test_set_up_like_sklearn(n, test_size, n_test):
    X, y = _data(n)
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=test_size, seed=0)
    assert len(X_te) == len(y_te) == n_test
    assert len(X_tr) == len(y_tr) == n - n_test


def test_split_sizes_match_sklearn():
    sklearn_ms = pytest.importorskip("sklearn.model_selection",
                                     reason="scikit-learn is not installed; pip install -e '.[test]'")
    for n in (5, 10, 11, 99, 1000):
        for test_size in (0.1, 0.25, 0.3, 0.5):
            X, y = _data(n)
            ours = ns.train_test_split(X, y, test_size=test_size, seed=0)
            theirs = sklearn_ms.train_test_split(X, y, test_size=test_size, random_state=0)
            assert [len(a) for a in ours] == [len(a) for a in theirs], (n, test_size)


def test_unshuffled_split_is_the_articles_first_70_last_30():
    X, y = ns.make_arithmetic(10_000, seed=0)
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=0.3, shuffle=False)
    np.testing.assert_array_equal(X_tr, X[:7000])
    np.testing.assert_array_equal(X_te, X[7000:])
    np.testing.assert_array_equal(y_tr, y[:7000])
    np.testing.assert_array_equal(y_te, y[7000:])


def test_shuffled_split_is_a_permutation_with_rows_kept_together():
    X, y = _data(50)
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=0.3, seed=3)
    X_all = np.vstack([X_tr, X_te])
    y_all = np.concatenate([y_tr, y_te])
    # Every row appears exactly once ...
    np.testing.assert_array_equal(np.sort(X_all[:, 0]), X[:, 0])
    # ... paired with its own target.
    np.testing.assert_array_equal(y_all, X_all[:, 0] / 2 * 10)
    # ... and the order really was shuffled.
    assert not np.array_equal(X_all, X)


def test_split_is_deterministic_in_its_seed():
    X, y = _data(40)
    a = ns.train_test_split(X, y, seed=11)
    b = ns.train_test_split(X, y, seed=np.random.default_rng(11))
    c = ns.train_test_split(X, y, seed=12)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


def test_stratify_keeps_the_class_shares():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    X = np.arange(100, dtype=float).reshape(-1, 1)
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=0.3, seed=0, stratify=y)
    assert len(y_te) == 30 and len(y_tr) == 70
    np.testing.assert_array_equal(np.bincount(y_te, minlength=3), [18, 9, 3])
    np.testing.assert_array_equal(np.bincount(y_tr, minlength=3), [42, 21, 7])
    # Rows still belong to their labels.
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)
    # A plain shuffled split of this data is not guaranteed to keep the shares;
    # over many seeds it misses them at least once.
    misses = sum(not np.array_equal(np.bincount(ns.train_test_split(X, y, seed=s)[3], minlength=3), [18, 9, 3])
                 for s in range(20))
    assert misses > 0


def test_stratified_split_partitions_the_rows_with_the_unstratified_sizes():
    X, y = ns.make_spirals(n_samples=91, n_classes=3, seed=0)
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=0.25, seed=1, stratify=y)
    # ceil(0.25 * 91) = 23 test rows, as without stratify (rounding each class's
    # share 7.84, 7.58, 7.58 on its own would give 24).
    assert len(X_te) == 23 and len(X_tr) == 68
    np.testing.assert_array_equal(np.bincount(y_te), [8, 8, 7])
    rows = {tuple(r) for r in np.vstack([X_tr, X_te])}
    assert rows == {tuple(r) for r in X}


def test_stratified_split_keeps_rare_classes_in_the_training_set():
    # Quotas 0.9 and 0.1 of one test row: the row goes to class 0, so the
    # single example of class 1 stays where the model can learn from it.
    y = np.array([0] * 9 + [1])
    X = np.arange(10.0).reshape(-1, 1)
    for seed in range(5):
        _, _, y_tr, y_te = ns.train_test_split(X, y, test_size=0.1, seed=seed, stratify=y)
        np.testing.assert_array_equal(y_te, [0])
        assert 1 in y_tr
    # Classes of 4, 4, 4 and 1 rows, ceil(0.25 * 13) = 4 test rows: quotas 1.23, 1.23,
    # 1.23 and 0.31. Rounding down leaves one row to hand out; the largest remainder
    # is the single row of class 3, but it stays in training and class 0 gives a second row.
    y = np.array([0] * 4 + [1] * 4 + [2] * 4 + [3])
    _, _, y_tr, y_te = ns.train_test_split(np.arange(13.0).reshape(-1, 1), y, test_size=0.25, seed=0,
                                           stratify=y)
    np.testing.assert_array_equal(np.sort(y_te), [0, 0, 1, 2])
    assert 3 in y_tr


@pytest.mark.parametrize("kwargs, match", [
    (dict(test_size=0.0), "test_size"),
    (dict(test_size=1.0), "test_size"),
    (dict(test_size=10), "test_size"),
    (dict(stratify=np.zeros(10), shuffle=False), "stratify"),
    (dict(stratify=np.zeros(9)), "stratify"),
])
def test_split_rejects_bad_arguments(kwargs, match):
    X, y = _data(10)
    with pytest.raises(ValueError, match=match):
        ns.train_test_split(X, y, **kwargs)


def test_split_rejects_mismatched_rows():
    X, _ = _data(10)
    with pytest.raises(ValueError, match="rows"):
        ns.train_test_split(X, np.zeros(9))


def test_stratified_split_keeps_every_class_in_training_when_there_is_room():
    # Class 1 and class 2 have one row each: both must stay in the training set,
    # the test rows come from class 0, which has rows to spare.
    y = np.array([0, 0, 0, 0, 0, 1, 2])
    X = np.arange(7.0).reshape(-1, 1)
    for seed in range(5):
        _, _, y_train, y_test = ns.train_test_split(X, y, test_size=0.5, seed=seed, stratify=y)
        assert len(y_test) == 4
        assert set(y_train.tolist()) == {0, 1, 2}
