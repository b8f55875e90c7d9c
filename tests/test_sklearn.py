"""ninestep.sklearn: scikit-learn's estimator contract, its tools, and the training rules."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed; pip install -e '.[test]'")
pytest.importorskip("pandas", reason="pandas (for scikit-learn's DataFrame checks) is not installed; "
                                     "pip install -e '.[test]'")

from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import ninestep  # noqa: E402
from ninestep.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

# Most fits here are short on purpose; running out of max_iter is expected and
# not what is being tested (test_max_iter_reached_warns checks the warning).
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- the contract
@parametrize_with_checks([MLPRegressor(random_state=0), MLPClassifier(random_state=0)])
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input (NumPy namespace) only runs when SCIPY_ARRAY_API is set,
    # and skips otherwise; set it for that check alone so that it really runs.
    if "check_array_api_input" in str(check):
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# ---------------------------------------------------------------- data
@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)
    return X, np.array(["cat", "dog", "emu"])[y]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return X, y / y.std()


# ---------------------------------------------------------------- ecosystem
def test_pipeline_scales_then_classifies(classification):
    X, y = classification
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300,
                                                         random_state=0))
    pipe.fit(X_tr, y_tr)
    assert set(pipe.predict(X_te)) <= {"cat", "dog", "emu"}
    assert pipe.score(X_te, y_te) > 0.7  # chance is 1/3


def test_grid_search_picks_parameters_by_cross_validation(regression):
    X, y = regression
    grid = GridSearchCV(MLPRegressor(max_iter=150, random_state=0),
                        {"hidden_layer_sizes": [(4,), (32,)], "alpha": [1e-4, 1.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["hidden_layer_sizes"] in [(4,), (32,)]
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_score_ == max(grid.cv_results_["mean_test_score"])
    assert grid.best_estimator_.score(X, y) > 0.8


def test_cross_val_score_regressor(regression):
    X, y = regression
    scores = cross_val_score(MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                          max_iter=200, random_state=0), X, y, cv=4)
    assert scores.shape == (4,)
    assert np.all(scores > 0.8), scores  # a nearly linear target: R^2 close to 1


# ---------------------------------------------------------------- fitted attributes
def test_fitted_attributes(classification):
    X, y = classification
    clf = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=30, random_state=1)
    clf.fit(X, y)
    assert [W.shape for W in clf.coefs_] == [(6, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert clf.n_features_in_ == 6 and clf.n_outputs_ == 3 and clf.n_layers_ == 4
    assert clf.out_activation_ == "softmax"
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.t_ == clf.n_iter_ * X.shape[0]
    assert clf.best_loss_ == min(clf.loss_curve_)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])
    # coefs_ are views into the network: the optimiser's updates show in them.
    assert np.shares_memory(clf.coefs_[0], clf.net_.params)


def test_binary_classifier_uses_one_sigmoid_output():
    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    clf.fit(X, y)
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (8, 1)
    P = clf.predict_proba(X)
    assert P.shape == (100, 2)
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-clf.decision_function(X))), rtol=1e-12)


def test_float32_input_trains_in_float32(classification):
    X, y = classification
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    assert clf.net_.dtype == np.float32 and clf.coefs_[0].dtype == np.float32
    P32 = clf.predict_proba(X)
    assert P32.dtype == np.float32  # float64 input to a float32 model is cast
    # Same random_state, same initial weights (drawn in float64, then rounded): the
    # float32 model follows the float64 one to float32 precision.
    P64 = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(P32, P64, atol=1e-4)


def test_random_state_is_the_network_seed_and_one_epoch_is_ninestep_fit(regression):
    # random_state=s gives Network(seed=s)'s initial weights; one epoch is one
    # ninestep.fit epoch with the same optimiser, batches and L2 term.
    X, y = regression
    est = MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", learning_rate_init=0.01, momentum=0.5,
                       nesterovs_momentum=False, batch_size=64, shuffle=False, alpha=0.1,
                       max_iter=1, random_state=3)
    est.fit(X, y)
    net = ninestep.Network([5, 6, 1], init="glorot_uniform", seed=3)
    history = ninestep.fit(net, X, y, loss="mse", optimizer=ninestep.SGD(0.01, momentum=0.5), epochs=1,
                           batch_size=64, shuffle=False, alpha=0.1)
    for (W, b), W_est, b_est in zip(net.get_weights(), est.coefs_, est.intercepts_):
        np.testing.assert_array_equal(W, W_est)
        np.testing.assert_array_equal(b, b_est)
    assert est.loss_curve_ == history.loss


# ---------------------------------------------------------------- stopping rules
def test_tol_stops_after_n_iter_no_change_epochs_without_improvement(regression):
    X, y = regression
    # With an enormous tol no epoch after the first counts as an improvement (the
    # first beats best_loss_ = inf), so training stops when the count exceeds
    # n_iter_no_change: after 1 + (n_iter_no_change + 1) epochs, scikit-learn's rule.
    est = MLPRegressor(hidden_layer_sizes=(4,), tol=1e6, n_iter_no_change=3, random_state=0).fit(X, y)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 5


def test_adaptive_learning_rate_divides_by_five_until_tiny(regression):
    X, y = regression
    # An enormous tol makes every epoch a stall: the rate is divided by 5 at each
    # trigger, and training stops once it is at or below 1e-6.
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate="adaptive",
                       learning_rate_init=1e-3, tol=1e6, n_iter_no_change=2, max_iter=100,
                       random_state=0).fit(X, y)
    assert est._optimizer.lr == pytest.approx(1e-3 / 5 ** 5)  # 3.2e-7, the first rate <= 1e-6
    assert est.n_iter_ == 1 + 6 * 3  # one improving epoch, then six triggers of 3 stalled epochs


def test_the_core_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = "import sys, ninestep; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_max_iter_reached_warns(regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)


def test_early_stopping_keeps_the_best_validation_weights(classification):
    X, y = classification
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, validation_fraction=0.25,
                        n_iter_no_change=5, max_iter=200, learning_rate_init=0.01, random_state=0)
    clf.fit(X, y)
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < 200


def test_partial_fit_needs_classes_then_continues(classification):
    X, y = classification
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:50], y[:50])
    clf.partial_fit(X[:50], y[:50], classes=["cat", "dog", "emu"])
    before = clf.coefs_[0].copy()
    clf.partial_fit(X[50:100], y[50:100])
    assert clf.n_iter_ == 1 and clf.t_ == 100 and len(clf.loss_curve_) == 2
    assert not np.array_equal(before, clf.coefs_[0])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:3], ["cat", "dog", "yak"])


def test_warm_start_continues_the_loss_curve(regression):
    X, y = regression
    est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, warm_start=True, random_state=0)
    est.fit(X, y)
    first = list(est.loss_curve_)
    est.fit(X, y)
    assert est.loss_curve_[:5] == first and len(est.loss_curve_) == 10
    assert est.loss_curve_[-1] < first[-1]


def test_pickled_model_keeps_training_through_coefs(regression):
    X, y = regression
    est = MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))
    before = copy.coefs_[0].copy()
    copy.partial_fit(X, y)
    # After unpickling, coefs_ must again be views of the parameters the optimiser updates.
    assert not np.array_equal(before, copy.coefs_[0])
    assert np.shares_memory(copy.coefs_[0], copy.net_.params)


def test_replacing_coefs_changes_predictions(regression):
    X, y = regression
    est = MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y)
    est.coefs_ = [np.zeros_like(W) for W in est.coefs_]
    np.testing.assert_allclose(est.predict(X), est.intercepts_[-1][0])


@pytest.mark.parametrize("params, message", [
    ({"solver": "lbfgs"}, "'lbfgs' is not offered"),
    ({"activation": "swish"}, "activation must be one of"),
    ({"hidden_layer_sizes": (10, 0)}, r"hidden_layer_sizes\[1\] must be a positive int"),
    ({"alpha": -1.0}, "alpha must be a number"),
    ({"init": "xavier"}, "init must be None or one of"),
    ({"batch_size": 0}, "batch_size must be an int >= 1"),
    ({"learning_rate": "optimal"}, "learning_rate must be 'constant', 'invscaling' or 'adaptive'"),
    ({"validation_fraction": 1.0}, "validation_fraction must be a number in \\(0, 1\\)"),
])
def test_bad_parameters_are_named(regression, params, message):
    X, y = regression
    with pytest.raises(ValueError, match=message):
        MLPRegressor(**params).fit(X, y)


# ---------------------------------------------------------------- accuracy
def test_default_classifier_learns_digits():
    # The full comparison with scikit-learn's defaults over several seeds is
    # benchmarks/digits_accuracy.py; this is a fast, generous floor.
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    clf = MLPClassifier(random_state=0)
    # Small matrices: one BLAS thread is several times faster than many on a busy machine.
    with threadpool_limits(1):
        clf.fit(X_tr, y_tr)
    assert clf.score(X_te, y_te) >= 0.95
