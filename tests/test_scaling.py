"""Step 4: StandardScaler (ninestep.scaling)."""

import numpy as np
import pytest

import ninestep as ns


def test_fitted_mean_and_scale_are_the_column_mean_and_population_std():
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 60.0]])
    scaler = ns.StandardScaler().fit(X)
    np.testing.assert_allclose(scaler.mean_, [2.0, 30.0])
    # Population std (ddof=0): sqrt(((1-2)^2 + 0 + (3-2)^2) / 3) = sqrt(2/3).
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(2 / 3), np.sqrt((400 + 100 + 900) / 3)])
    assert scaler.n_features_in_ == 2 and scaler.n_samples_seen_ == 3
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)


def test_transform_and_inverse_round_trip():
    rng = np.random.default_rng(0)
    X = rng.normal(50, 30, size=(200, 3))
    scaler = ns.StandardScaler()
    Z = scaler.fit_transform(X)
    np.testing.assert_allclose(Z, (X - X.mean(axis=0)) / X.std(axis=0))
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-14, atol=1e-12)


def test_matches_sklearn():
    preprocessing = pytest.importorskip("sklearn.preprocessing",
                                        reason="scikit-learn is not installed; pip install -e '.[test]'")
    X = np.random.default_rng(1).normal(size=(100, 4)) * [1, 10, 100, 1e-3] + [0, 5, -5, 1]
    ours, theirs = ns.StandardScaler().fit(X), preprocessing.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X))


def test_constant_column_does_not_divide_by_zero():
    X = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    with np.errstate(all="raise"):
        scaler = ns.StandardScaler().fit(X)
        Z = scaler.transform(X)
    assert scaler.scale_[1] == 1.0
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X)


def test_nearly_constant_column_from_round_off_counts_as_constant():
    # 0.1 + 0.2 style round-off gives a std of ~1e-17, not a real spread.
    X = np.array([[0.3], [0.1 + 0.2], [0.3]])
    assert X.std() > 0
    Z = ns.StandardScaler().fit_transform(X)
    assert np.abs(Z).max() < 1e-10


def test_scaler_is_fitted_on_the_training_set_only():
    # The pipeline of the article and of examples/nine_steps.py: split first,
    # fit on the training rows, apply that to both parts.
    X, y = ns.make_arithmetic(1000, seed=0)
    # Make the test part look different from the training part so that a
    # scaler fitted on everything would be visibly different.
    X[700:] += 40.0
    X_train, X_test, _, _ = ns.train_test_split(X, y, test_size=0.3, shuffle=False)
    scaler = ns.StandardScaler().fit(X_train)
    np.testing.assert_array_equal(scaler.mean_, X_train.mean(axis=0))
    np.testing.assert_array_equal(scaler.scale_, X_train.std(axis=0))
    assert not np.allclose(scaler.mean_, X.mean(axis=0), atol=1.0)
    # The training set is standardised exactly, the test set is not: its own
    # mean has not leaked into the scaler.
    np.testing.assert_allclose(scaler.transform(X_train).mean(axis=0), 0.0, atol=1e-12)
    test_mean = scaler.transform(X_test).mean(axis=0)
    assert (np.abs(test_mean) > 1.0).all()
    np.testing.assert_allclose(test_mean, (X_test.mean(axis=0) - X_train.mean(axis=0)) / X_train.std(axis=0))


def test_transform_does_not_refit():
    scaler = ns.StandardScaler().fit(np.array([[0.0], [2.0]]))
    mean, scale = scaler.mean_.copy(), scaler.scale_.copy()
    scaler.transform(np.array([[100.0], [300.0]]))
    np.testing.assert_array_equal(scaler.mean_, mean)
    np.testing.assert_array_equal(scaler.scale_, scale)


def test_one_dimensional_input_stays_one_dimensional():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    scaler = ns.StandardScaler().fit(y)
    z = scaler.transform(y)
    assert z.shape == (4,)
    np.testing.assert_allclose(scaler.inverse_transform(z), y)


def test_with_mean_and_with_std_switches():
    X = np.array([[1.0], [3.0]])
    np.testing.assert_allclose(ns.StandardScaler(with_mean=False).fit_transform(X), X / 1.0)
    np.testing.assert_allclose(ns.StandardScaler(with_std=False).fit_transform(X), X - 2.0)


@pytest.mark.parametrize("kwargs", [{}, {"with_mean": False}, {"with_std": False}])
def test_float32_stays_float32(kwargs):
    X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    scaler = ns.StandardScaler(**kwargs)
    Z = scaler.fit_transform(X)
    assert Z.dtype == scaler.mean_.dtype == scaler.scale_.dtype == np.float32
    assert scaler.inverse_transform(Z).dtype == np.float32


def test_round_off_constant_column_without_centring():
    # A column of 1e6 with one value off by one ulp: its std (7e-11) is
    # round-off, whether or not the scaler centres.
    X = np.full((3, 1), 1e6)
    X[1, 0] = np.nextafter(1e6, 2e6)
    assert ns.StandardScaler(with_mean=False).fit(X).scale_[0] == 1.0


def test_from_params_round_trip():
    X = np.random.default_rng(0).normal(size=(30, 3))
    fitted = ns.StandardScaler().fit(X)
    restored = ns.StandardScaler.from_params(**fitted.get_params())
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    with pytest.raises(ValueError, match="scale"):
        ns.StandardScaler.from_params([0.0], [0.0])


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="not fitted"):
        ns.StandardScaler().transform(np.zeros((2, 2)))
    scaler = ns.StandardScaler().fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3 columns but the scaler was fitted on 2"):
        scaler.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ns.StandardScaler().fit(np.array([[1.0], [np.nan]]))
