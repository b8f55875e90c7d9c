"""Step 9: metrics and the train/test loss report (ninestep.metrics)."""

import numpy as np
import pytest

import ninestep as ns

Y_TRUE = np.array([[3.0, -1.0], [0.0, 2.0], [4.0, 2.0], [1.0, 1.0]])
Y_PRED = np.array([[2.0, -1.0], [1.0, 0.0], [4.0, 3.0], [3.0, 1.0]])
# Errors: column 0: [1, -1, 0, -2], column 1: [0, 2, -1, 0].


def test_mse_by_hand():
    # Column 0: (1 + 1 + 0 + 4) / 4 = 1.5; column 1: (0 + 4 + 1 + 0) / 4 = 1.25.
    np.testing.assert_allclose(ns.mse(Y_TRUE, Y_PRED, multioutput="raw_values"), [1.5, 1.25])
    assert ns.mse(Y_TRUE, Y_PRED) == pytest.approx(1.375)
    # The metric has no 1/2: it is twice the mse loss for a single output.
    assert ns.mse([1.0, 3.0], [0.0, 0.0]) == 5.0


def test_mae_by_hand():
    # Column 0: (1 + 1 + 0 + 2) / 4 = 1; column 1: (0 + 2 + 1 + 0) / 4 = 0.75.
    np.testing.assert_allclose(ns.mae(Y_TRUE, Y_PRED, multioutput="raw_values"), [1.0, 0.75])
    assert ns.mae(Y_TRUE, Y_PRED) == pytest.approx(0.875)


def test_r2_by_hand():
    # Column 0: mean 2, SS_tot = 1 + 4 + 4 + 1 = 10, SS_res = 6 -> 0.4.
    # Column 1: mean 1, SS_tot = 4 + 1 + 1 + 0 = 6,  SS_res = 5 -> 1/6.
    np.testing.assert_allclose(ns.r2(Y_TRUE, Y_PRED, multioutput="raw_values"), [0.4, 1 / 6])
    assert ns.r2(Y_TRUE, Y_PRED) == pytest.approx((0.4 + 1 / 6) / 2)
    assert ns.r2(Y_TRUE, Y_TRUE) == 1.0
    # Predicting the mean scores 0; worse than that is negative.
    assert ns.r2([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 0.0
    assert ns.r2([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == -3.0


def test_r2_of_a_constant_target():
    with np.errstate(all="raise"):
        assert ns.r2([5.0, 5.0], [5.0, 5.0]) == 1.0
        assert ns.r2([5.0, 5.0], [5.0, 4.0]) == 0.0


def test_accuracy_and_confusion_matrix_by_hand():
    t = np.array([0, 1, 2, 2, 1, 0])
    p = np.array([0, 2, 2, 2, 1, 1])
    assert ns.accuracy(t, p) == pytest.approx(4 / 6)
    C, labels = ns.confusion_matrix(t, p)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    np.testing.assert_array_equal(C, [[1, 1, 0],
                                      [0, 1, 1],
                                      [0, 0, 2]])
    assert np.trace(C) / C.sum() == ns.accuracy(t, p)


def test_labels_may_be_strings_and_given_explicitly():
    t, p = ["cat", "dog", "dog"], ["cat", "cat", "dog"]
    assert ns.accuracy(t, p) == pytest.approx(2 / 3)
    C, labels = ns.confusion_matrix(t, p, labels=["dog", "cat", "bird"])
    np.testing.assert_array_equal(C, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="'dog' is not in labels"):
        ns.confusion_matrix(t, p, labels=["cat"])


def test_metrics_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed; pip install -e '.[test]'")
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    for ours, theirs in ((ns.mse, metrics.mean_squared_error), (ns.mae, metrics.mean_absolute_error),
                         (ns.r2, metrics.r2_score)):
        assert ours(t, p) == pytest.approx(theirs(t, p), rel=1e-12)
        np.testing.assert_allclose(ours(t, p, multioutput="raw_values"),
                                   theirs(t, p, multioutput="raw_values"), rtol=1e-12)
    a, b = rng.integers(0, 4, size=60), rng.integers(0, 4, size=60)
    assert ns.accuracy(a, b) == pytest.approx(metrics.accuracy_score(a, b))
    np.testing.assert_array_equal(ns.confusion_matrix(a, b)[0], metrics.confusion_matrix(a, b))


def test_one_dimensional_and_column_inputs_agree():
    t, p = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
    assert ns.mae(t, p) == ns.mae(t.reshape(-1, 1), p.reshape(-1, 1)) == pytest.approx(0.5)


def test_metric_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"shape \(4, 2\) but y_pred has shape \(4, 1\)"):
        ns.mse(Y_TRUE, Y_PRED[:, :1])
    with pytest.raises(ValueError, match="multioutput"):
        ns.mae(Y_TRUE, Y_PRED, multioutput="variance_weighted")
    with pytest.raises(ValueError, match="same length"):
        ns.accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="0 samples"):
        ns.accuracy([], [])
    with pytest.raises(ValueError, match="NaN"):
        ns.mse([1.0, np.nan], [1.0, 2.0])


def test_loss_report_compares_training_and_test_loss():
    net = ns.Network([2, 3, 2], seed=0)
    rng = np.random.default_rng(0)
    X_tr, y_tr = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    X_te, y_te = rng.normal(size=(10, 2)), 3 * rng.normal(size=(10, 2))
    report = ns.loss_report(net, (X_tr, y_tr), (X_te, y_te))
    assert set(report) == {"train_loss", "test_loss", "ratio"}
    assert report["train_loss"] == net.evaluate(X_tr, y_tr)
    assert report["test_loss"] == net.evaluate(X_te, y_te)
    assert report["ratio"] == pytest.approx(report["test_loss"] / report["train_loss"])
    assert report["ratio"] > 1  # the test targets are three times as spread


def test_loss_report_with_cross_entropy_and_a_perfect_fit():
    net = ns.Network([1, 2], output_activation="softmax", seed=0)
    net.set_weights([(np.array([[0.0, 0.0]]), np.array([0.0, 0.0]))])
    X, y = np.zeros((4, 1)), np.array([0, 1, 0, 1])
    report = ns.loss_report(net, (X, y), (X, y), loss="cross_entropy")
    assert report["train_loss"] == pytest.approx(np.log(2))
    assert report["ratio"] == pytest.approx(1.0)
    # A zero training loss gives an infinite ratio, not a division error.
    exact = ns.Network([1, 1], output_activation="linear", seed=0)
    exact.set_weights([(np.array([[2.0]]), np.array([1.0]))])
    Xe = np.array([[0.0], [1.0]])
    report = ns.loss_report(exact, (Xe, 2 * Xe[:, 0] + 1), (Xe, np.zeros(2)))
    assert report["train_loss"] == 0.0 and report["ratio"] == float("inf")


def test_accuracy_says_what_to_pass_for_probability_rows():
    with pytest.raises(ValueError, match=r"probabilities.*predict_classes\(X\).*argmax"):
        ns.accuracy([0, 1, 2], np.eye(3))
