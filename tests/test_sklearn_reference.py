"""scikit-learn's MLP as an independent reference for ninestep's training loop.

Both start from the same weights (ours, copied into scikit-learn's
``coefs_``/``intercepts_``) and walk the same batches (``shuffle=False``:
consecutive slices, the last one shorter). After k epochs the weights and the
loss curves agree to 1e-10 (relative, per array) for

* ``MLPRegressor`` with one output (there the two squared losses coincide),
* ``MLPClassifier``, binary (sigmoid + binary cross-entropy) and
  multiclass (softmax + cross-entropy),

with SGD (plain, momentum, Nesterov; constant learning rate) and Adam. Adam
needs one adjustment: scikit-learn adds ``epsilon`` to the uncorrected
``sqrt(v)`` and ninestep (like PyTorch) to ``sqrt(v_hat)``; with a negligible
epsilon in both the two formulas are algebraically the same, so that is the
setting compared (docs/parity.md).

How scikit-learn is started from given weights: ``warm_start=True``, one
``fit`` to allocate its arrays, then our weights are copied in; the next
``fit`` builds a fresh optimiser and continues from them.
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed; pip install -e '.[test]'")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkRegressor  # noqa: E402

import ninestep  # noqa: E402
import ninestep.sklearn  # noqa: E402

TOL = 1e-10
EPOCHS = 5
N, BATCH = 53, 20  # batches of 20, 20 and 13

pytestmark = pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning",
                                        "ignore::sklearn.exceptions.ConvergenceWarning")


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))


SOLVERS = {
    # name: (ninestep optimiser, scikit-learn solver parameters)
    "sgd": (lambda: ninestep.SGD(lr=0.1),
            dict(solver="sgd", learning_rate_init=0.1, momentum=0.0, nesterovs_momentum=False)),
    "sgd_momentum": (lambda: ninestep.SGD(lr=0.05, momentum=0.9),
                     dict(solver="sgd", learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=False)),
    "sgd_nesterov": (lambda: ninestep.SGD(lr=0.05, momentum=0.9, nesterov=True),
                     dict(solver="sgd", learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=True)),
    "adam": (lambda: ninestep.Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-30),
             dict(solver="adam", learning_rate_init=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-30)),
}

TASKS = {
    # name: (scikit-learn class, ninestep output activation, loss, targets)
    "regressor": (SkRegressor, "linear", "mse", lambda rng: rng.normal(size=N)),
    "binary": (SkClassifier, "sigmoid", "binary_cross_entropy", lambda rng: rng.integers(0, 2, size=N)),
    "multiclass": (SkClassifier, "softmax", "cross_entropy", lambda rng: rng.integers(0, 3, size=N)),
}


def sklearn_from_weights(cls, net, X, y, activation, alpha, solver_params, epochs, sample_weight=None):
    """A scikit-learn MLP trained for ``epochs`` epochs from ``net``'s current weights."""
    hidden = tuple(layer.n_out for layer in net.layers[:-1])
    sk = cls(hidden_layer_sizes=hidden, activation=activation, alpha=alpha, batch_size=BATCH,
             shuffle=False, warm_start=True, max_iter=1, tol=0.0, n_iter_no_change=epochs + 10,
             learning_rate="constant", random_state=0, **solver_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y, sample_weight=sample_weight)  # allocates coefs_ (its own random weights), then overwritten:
        for i, layer in enumerate(net.layers):
            sk.coefs_[i][...] = layer.W
            sk.intercepts_[i][...] = layer.b
        start = len(sk.loss_curve_)
        sk.set_params(max_iter=epochs)
        sk.fit(X, y, sample_weight=sample_weight)
    return sk, sk.loss_curve_[start:]


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("activation, alpha", [("tanh", 0.0), ("relu", 0.5), ("logistic", 1e-3)])
def test_k_epochs_match_sklearn(task, solver, activation, alpha):
    cls, output, loss, make_y = TASKS[task]
    make_optimizer, solver_params = SOLVERS[solver]
    rng = np.random.default_rng(sorted(TASKS).index(task) * 100 + sorted(SOLVERS).index(solver))
    X, y = rng.normal(size=(N, 4)), make_y(rng)
    net = ninestep.Network([4, 9, 6, 1 if output != "softmax" else 3], activation=activation,
                           output_activation=output, seed=rng)
    net.params[...] += rng.normal(scale=0.1, size=net.params.size)  # non-zero biases too

    sk, sk_curve = sklearn_from_weights(cls, net, X, y, activation, alpha, solver_params, EPOCHS)
    history = ninestep.fit(net, X, y, loss=loss, optimizer=make_optimizer(), epochs=EPOCHS,
                           batch_size=BATCH, shuffle=False, alpha=alpha)

    assert sk.out_activation_ == {"linear": "identity", "sigmoid": "logistic", "softmax": "softmax"}[output]
    assert len(sk_curve) == EPOCHS
    assert rel_err(history.loss, sk_curve) <= TOL
    for layer, W, b in zip(net.layers, sk.coefs_, sk.intercepts_):
        assert rel_err(layer.W, W) <= TOL
        assert rel_err(layer.b, b) <= TOL
    assert history.loss[-1] != history.loss[0]  # the weights moved


@pytest.mark.parametrize("solver", ["sgd_nesterov", "adam"])
def test_ninestep_estimator_matches_sklearn_estimator(solver):
    # The same comparison through ninestep.sklearn.MLPClassifier, so that its
    # batching, loss curve and L2 wiring are checked as well as the core's.
    _, solver_params = SOLVERS[solver]
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(N, 4)), rng.integers(0, 3, size=N)
    ours = ninestep.sklearn.MLPClassifier(hidden_layer_sizes=(9,), activation="tanh", alpha=0.1,
                                          batch_size=BATCH, shuffle=False, warm_start=True, max_iter=1,
                                          tol=0.0, n_iter_no_change=EPOCHS + 10, random_state=0,
                                          **solver_params)
    ours.fit(X, y)
    sk, sk_curve = sklearn_from_weights(SkClassifier, ours.net_, X, y, "tanh", 0.1, solver_params, EPOCHS)
    start = len(ours.loss_curve_)
    ours.set_params(max_iter=EPOCHS).fit(X, y)

    assert rel_err(ours.loss_curve_[start:], sk_curve) <= TOL
    for W, b, W_sk, b_sk in zip(ours.coefs_, ours.intercepts_, sk.coefs_, sk.intercepts_):
        assert rel_err(W, W_sk) <= TOL
        assert rel_err(b, b_sk) <= TOL
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-10)


def test_invscaling_learning_rate_matches_sklearn():
    # SGD without momentum under scikit-learn's "invscaling" schedule: the rate
    # becomes lr0 / (t_ + 1) ** power_t after each epoch, t_ = samples seen.
    params = dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2, power_t=0.25,
                  momentum=0.0, nesterovs_momentum=False)
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(N, 4)), rng.normal(size=N)
    ours = ninestep.sklearn.MLPRegressor(hidden_layer_sizes=(9,), activation="tanh", batch_size=BATCH,
                                         shuffle=False, warm_start=True, max_iter=1, tol=0.0,
                                         n_iter_no_change=EPOCHS + 10, random_state=0, **params)
    ours.fit(X, y)
    sk = SkRegressor(hidden_layer_sizes=(9,), activation="tanh", batch_size=BATCH, shuffle=False,
                     warm_start=True, max_iter=1, tol=0.0, n_iter_no_change=EPOCHS + 10, random_state=0,
                     **params)
    sk.fit(X, y)
    for i in range(2):
        sk.coefs_[i][...], sk.intercepts_[i][...] = ours.coefs_[i], ours.intercepts_[i]
    sk.t_ = ours.t_  # both have seen one epoch: the schedule continues from there
    start = len(ours.loss_curve_)
    ours.set_params(max_iter=EPOCHS).fit(X, y)
    sk.set_params(max_iter=EPOCHS).fit(X, y)
    assert rel_err(ours.loss_curve_[start:], sk.loss_curve_[start:]) <= TOL
    for W, W_sk in zip(ours.coefs_, sk.coefs_):
        assert rel_err(W, W_sk) <= TOL
    assert ours._optimizer.lr == pytest.approx(0.2 / (ours.t_ + 1) ** 0.25, rel=1e-15)


def test_adam_epsilon_placement_is_the_documented_difference():
    # With scikit-learn's default epsilon (1e-8) the two Adam forms differ, a little:
    # ours adds eps to sqrt(v_hat) = sqrt(v) / sqrt(1 - beta2^t), which is larger than
    # sqrt(v), so eps weighs relatively less. The difference is real, and small.
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(N, 4)), rng.normal(size=N)
    net = ninestep.Network([4, 9, 1], activation="tanh", seed=rng)
    params = dict(solver="adam", learning_rate_init=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    sk, _ = sklearn_from_weights(SkRegressor, net, X, y, "tanh", 0.0, params, EPOCHS)
    ninestep.fit(net, X, y, optimizer=ninestep.Adam(lr=0.01, eps=1e-8), epochs=EPOCHS, batch_size=BATCH,
                 shuffle=False)
    err = rel_err(net.layers[0].W, sk.coefs_[0])
    assert 1e-10 < err < 1e-3


@pytest.mark.parametrize("solver", ["sgd_momentum", "adam"])
@pytest.mark.parametrize("task", list(TASKS))
def test_sample_weights_match_sklearn(task, solver):
    # scikit-learn 1.7+ weights each row's loss and divides the gradients (and the L2 term) by the
    # sum of the batch's weights: the same convention as ninestep, so the trajectories agree.
    cls, output, loss, make_y = TASKS[task]
    make_optimizer, solver_params = SOLVERS[solver]
    rng = np.random.default_rng(21 + sorted(TASKS).index(task))
    X, y, w = rng.normal(size=(N, 4)), make_y(rng), rng.uniform(0.0, 3.0, size=N)
    net = ninestep.Network([4, 7, 1 if output != "softmax" else 3], activation="tanh", output_activation=output,
                           seed=rng)
    sk, sk_curve = sklearn_from_weights(cls, net, X, y, "tanh", 0.3, solver_params, EPOCHS, sample_weight=w)
    history = ninestep.fit(net, X, y, loss=loss, optimizer=make_optimizer(), epochs=EPOCHS, batch_size=BATCH,
                           shuffle=False, alpha=0.3, sample_weight=w)
    for layer, W, b in zip(net.layers, sk.coefs_, sk.intercepts_):
        assert rel_err(layer.W, W) <= TOL
        assert rel_err(layer.b, b) <= TOL
    assert history.loss[-1] != history.loss[0]


def test_ninestep_estimators_take_sample_weight_in_fit_and_partial_fit():
    rng = np.random.default_rng(3)
    X, y, w = rng.normal(size=(N, 4)), rng.integers(0, 3, size=N), rng.integers(1, 4, size=N)
    kw = dict(hidden_layer_sizes=(6,), activation="tanh", batch_size=N, shuffle=False, max_iter=5, tol=0.0,
              n_iter_no_change=50, random_state=0, solver="sgd", learning_rate_init=0.1, momentum=0.0)
    weighted = ninestep.sklearn.MLPClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = ninestep.sklearn.MLPClassifier(**{**kw, "batch_size": int(w.sum())}).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w))
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    part = ninestep.sklearn.MLPRegressor(**kw).partial_fit(X, X[:, 0], sample_weight=w)
    assert part.n_iter_ == 1
    with pytest.raises(ValueError, match="sample_weight"):
        ninestep.sklearn.MLPRegressor(**kw).fit(X, X[:, 0], sample_weight=w[:5])
