"""Step 8: the training loop (ninestep.training)."""

import math
import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep.training import batch_slices


class CountingSGD(ns.SGD):
    """SGD that records the size of every gradient step it is asked to take."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, params, grad):
        self.steps += 1
        super().step(params, grad)


def _regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.column_stack([X[:, 0] + X[:, 1], X[:, 0] * X[:, 1]])
    return X, y


def _quiet_fit(net, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        return net.fit(*args, **kwargs)


def test_batch_slices_cover_the_rows_once():
    assert batch_slices(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert batch_slices(8, 8) == [slice(0, 8)]


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (40, 1), (1000, 1), (16, 3), (1, 40)])
def test_number_of_steps_per_epoch(batch_size, steps_per_epoch):
    X, y = _regression()
    opt = CountingSGD(lr=0.01)
    history = _quiet_fit(ns.Network([2, 4, 2], seed=0), X, y, optimizer=opt, epochs=3,
                         batch_size=batch_size, seed=0)
    assert opt.steps == 3 * steps_per_epoch
    assert history.epochs == 3 and len(history.lr) == 3 and history.val_loss == []


def test_full_batch_fit_is_repeated_gradient_descent():
    X, y = _regression()
    net = ns.Network([2, 5, 2], seed=0)
    manual = net.copy()
    history = _quiet_fit(net, X, y, optimizer=ns.SGD(lr=0.05), epochs=4)
    losses = []
    for _ in range(4):
        loss, grads = manual.loss_and_gradients(X, y)
        losses.append(loss)
        for layer, (dW, db) in zip(manual.layers, grads):
            layer.W = layer.W - 0.05 * dW
            layer.b = layer.b - 0.05 * db
    np.testing.assert_allclose(net.params, manual.params, rtol=1e-13)
    # History.loss of a full-batch epoch is the loss before that epoch's step.
    np.testing.assert_allclose(history.loss, losses, rtol=1e-13)


def test_history_loss_is_the_size_weighted_mean_of_the_batch_losses_before_each_step():
    X, y = _regression(n=10)
    net = ns.Network([2, 3, 2], seed=0)
    manual = net.copy()
    opt, manual_opt = ns.Adam(0.01), ns.Adam(0.01)
    history = _quiet_fit(net, X, y, optimizer=opt, epochs=2, batch_size=4, shuffle=False)
    for epoch in range(2):
        total = 0.0
        for s in (slice(0, 4), slice(4, 8), slice(8, 10)):  # the last batch has 2 rows
            loss, grads = manual.loss_and_gradients(X[s], y[s])
            total += loss * (s.stop - s.start)
            manual_opt.step(manual.params, np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads]))
        assert history.loss[epoch] == pytest.approx(total / 10, rel=1e-13)
    np.testing.assert_allclose(net.params, manual.params, rtol=1e-13)


def test_mini_batches_with_shuffling_learn():
    X, y = ns.make_sine(400, noise=0.05, seed=0)
    net = ns.Network([1, 32, 1], activation="tanh", seed=0)
    history = _quiet_fit(net, X, y, optimizer=ns.Adam(0.01), epochs=60, batch_size=32, seed=0)
    assert history.loss[-1] < 0.1 * history.loss[0]
    assert ns.mse(y, net.forward(X)) < 0.02  # noise variance is 0.0025


def test_validation_loss_is_the_data_loss_after_each_epoch():
    X, y = _regression(n=30)
    X_val, y_val = _regression(n=12, seed=1)
    net = ns.Network([2, 4, 2], seed=0)
    seen = []
    history = _quiet_fit(net, X, y, optimizer=ns.SGD(0.05), epochs=3, alpha=1.0,
                         validation_data=(X_val, y_val),
                         callback=lambda epoch, logs: seen.append(net.evaluate(X_val, y_val)))
    assert len(history.val_loss) == 3
    np.testing.assert_allclose(history.val_loss, seen, rtol=1e-15)


def test_early_stopping_restores_the_best_weights():
    X, y = _regression(n=50)
    # Validation targets that disagree with the training targets: the better
    # the net fits the training set, the worse it does here, so the best
    # validation loss comes early and training stops `patience` epochs later.
    X_val, y_val = X[:20], -y[:20]
    net = ns.Network([2, 8, 2], seed=0)
    snapshots = []
    history = net.fit(X, y, optimizer=ns.Adam(0.02), epochs=200, validation_data=(X_val, y_val), patience=3,
                      callback=lambda epoch, logs: snapshots.append(net.params.copy()))
    assert history.stopped_early
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert history.epochs == best + 3 + 1 < 200
    # The final weights are those after the best epoch, not the last epoch's.
    np.testing.assert_array_equal(net.params, snapshots[best])
    assert not np.array_equal(net.params, snapshots[-1])
    assert net.evaluate(X_val, y_val) == history.val_loss[best]


def test_with_patience_the_best_weights_are_kept_even_when_the_epochs_run_out_first():
    X, y = _regression(n=50)
    net = ns.Network([2, 8, 2], seed=0)
    snapshots = []
    history = _quiet_fit(net, X, y, optimizer=ns.Adam(0.02), epochs=10, validation_data=(X[:20], -y[:20]),
                         patience=100, callback=lambda epoch, logs: snapshots.append(net.params.copy()))
    assert not history.stopped_early and history.epochs == 10
    assert history.best_epoch < 9
    np.testing.assert_array_equal(net.params, snapshots[history.best_epoch])


def test_early_stopping_on_a_real_overfit():
    # 12 noisy samples, a wide net: the validation loss turns up while the training loss falls.
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(12, 1))
    y = np.sin(X[:, 0]) + 0.3 * rng.normal(size=12)
    X_val = np.linspace(-2, 2, 50).reshape(-1, 1)
    net = ns.Network([1, 64, 64, 1], activation="tanh", seed=0)
    history = net.fit(X, y, optimizer=ns.Adam(0.01), epochs=2000, validation_data=(X_val, np.sin(X_val[:, 0])),
                      patience=50)
    assert history.stopped_early and history.epochs < 2000
    assert history.loss[-1] < history.loss[history.best_epoch]  # training kept improving
    assert net.evaluate(X_val, np.sin(X_val[:, 0])) == pytest.approx(min(history.val_loss))


def test_min_delta_counts_small_improvements_as_none():
    X, y = _regression(n=30)
    net = ns.Network([2, 4, 2], seed=0)
    history = net.fit(X, y, optimizer=ns.SGD(1e-4), epochs=50, validation_data=(X, y), patience=2,
                      min_delta=1.0)
    assert history.stopped_early and history.epochs == 3


def test_patience_needs_validation_data():
    X, y = _regression()
    with pytest.raises(ValueError, match="validation_data"):
        ns.Network([2, 2], seed=0).fit(X, y, patience=3)


def test_cosine_schedule():
    X, y = _regression()
    opt = ns.SGD(lr=0.1)
    history = _quiet_fit(ns.Network([2, 3, 2], seed=0), X, y, optimizer=opt, epochs=8, lr_schedule="cosine")
    expected = [0.5 * 0.1 * (1 + math.cos(math.pi * e / 8)) for e in range(8)]
    np.testing.assert_allclose(history.lr, expected, rtol=1e-15)
    assert history.lr[0] == 0.1 and history.lr[-1] < 0.01


def test_callable_schedule_and_bad_schedules():
    X, y = _regression()
    history = _quiet_fit(ns.Network([2, 3, 2], seed=0), X, y, optimizer=ns.SGD(lr=0.1), epochs=3,
                         lr_schedule=lambda epoch, lr0: lr0 / (epoch + 1))
    np.testing.assert_allclose(history.lr, [0.1, 0.05, 0.1 / 3])
    with pytest.raises(ValueError, match="lr_schedule"):
        ns.Network([2, 3, 2], seed=0).fit(X, y, lr_schedule="step")
    with pytest.raises(TypeError, match="lr_schedule"):
        ns.Network([2, 3, 2], seed=0).fit(X, y, lr_schedule=3)


def test_callback_receives_logs_and_can_stop():
    X, y = _regression()
    calls = []

    def callback(epoch, logs):
        calls.append((epoch, dict(logs)))
        return epoch == 2

    history = _quiet_fit(ns.Network([2, 3, 2], seed=0), X, y, optimizer=ns.SGD(0.01), epochs=100,
                         validation_data=(X, y), callback=callback)
    assert history.epochs == 3 and [c[0] for c in calls] == [0, 1, 2]
    assert set(calls[0][1]) >= {"loss", "val_loss", "lr"}
    assert calls[-1][1]["loss"] == history.loss[-1]
    assert not history.stopped_early  # a callback stop is not early stopping


def test_fit_continues_the_optimiser_state():
    X, y = _regression()
    a, b = ns.Network([2, 4, 2], seed=0), ns.Network([2, 4, 2], seed=0)
    opt_a, opt_b = ns.Adam(0.01), ns.Adam(0.01)
    _quiet_fit(a, X, y, optimizer=opt_a, epochs=6)
    _quiet_fit(b, X, y, optimizer=opt_b, epochs=3)
    _quiet_fit(b, X, y, optimizer=opt_b, epochs=3)
    assert a.params.tobytes() == b.params.tobytes()


def test_divergence_stops_and_restores_the_last_finite_weights():
    X, y = _regression()
    y = y * 1e150  # the first step overshoots so far that the next loss overflows
    net = ns.Network([2, 4, 2], seed=0)
    snapshots = []  # the weights after each completed epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ns.DivergenceError, match="smaller learning rate") as info:
            net.fit(X, y, optimizer=ns.SGD(lr=1.0), epochs=50,
                    callback=lambda epoch, logs: snapshots.append(net.params.copy()))
    assert f"epoch {len(snapshots) + 1}" in str(info.value)
    assert 1 <= len(snapshots) < 50
    # Restored to the start of the failing epoch, i.e. the end of the last good one.
    np.testing.assert_array_equal(net.params, snapshots[-1])
    assert np.isfinite(net.params).all()
    assert isinstance(info.value, ValueError)


def test_convergence_warning_when_epochs_run_out_while_improving():
    X, y = _regression()
    with pytest.warns(ns.ConvergenceWarning, match="still improving") as record:
        ns.Network([2, 4, 2], seed=0).fit(X, y, optimizer=ns.SGD(0.01), epochs=20)
        ns.fit(ns.Network([2, 4, 2], seed=0), X, y, optimizer=ns.SGD(0.01), epochs=20)
    # Both point at the line that called fit, not at a file inside ninestep.
    assert [w.filename for w in record] == [__file__, __file__]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.ConvergenceWarning)
        ns.Network([2, 4, 2], seed=0).fit(X, y, optimizer=ns.SGD(0.01), epochs=1)


def test_classification_with_cross_entropy():
    X, y = ns.make_moons(300, noise=0.1, seed=0)
    net = ns.Network([2, 16, 16, 2], activation="tanh", output_activation="softmax", seed=0)
    _quiet_fit(net, X, y, loss="cross_entropy", optimizer=ns.Adam(0.02), epochs=150, batch_size=32, seed=0)
    assert ns.accuracy(y, net.forward(X).argmax(axis=1)) > 0.95
    net = ns.Network([2, 16, 16, 1], activation="tanh", output_activation="sigmoid", seed=0)
    _quiet_fit(net, X, y, loss="binary_cross_entropy", optimizer=ns.Adam(0.02), epochs=150, batch_size=32, seed=0)
    assert ns.accuracy(y, (net.forward(X)[:, 0] > 0.5).astype(int)) > 0.95


def test_fit_checks_its_arguments():
    X, y = _regression()
    net = ns.Network([2, 3, 2], seed=0)
    with pytest.raises(ValueError, match="epochs"):
        net.fit(X, y, epochs=-1)
    with pytest.raises(ValueError, match="batch_size"):
        net.fit(X, y, batch_size=0)
    with pytest.raises(TypeError, match="optimizer"):
        net.fit(X, y, optimizer="adam")
    with pytest.raises(ValueError, match="validation_data"):
        net.fit(X, y, validation_data=X)
    with pytest.raises(ValueError, match="rows"):
        net.fit(X, y[:-1])
    with pytest.raises(ValueError, match="output_activation='softmax'"):
        net.fit(X, np.zeros(len(X), dtype=int), loss="cross_entropy")


# ---------------------------------------------------------------- determinism
def test_same_seeds_give_identical_weights_bit_for_bit_after_training():
    X, y = _regression(n=64)

    def train(net_seed, fit_seed):
        net = ns.Network([2, 8, 8, 2], seed=net_seed, bias_init="same")
        history = _quiet_fit(net, X, y, optimizer=ns.Adam(0.01), epochs=5, batch_size=10, shuffle=True,
                             seed=fit_seed)
        return net.params.copy(), history.loss

    p1, l1 = train(7, 3)
    p2, l2 = train(7, np.random.default_rng(3))
    assert p1.tobytes() == p2.tobytes() and l1 == l2
    p3, _ = train(7, 4)  # another shuffling order
    assert not np.array_equal(p1, p3)
    p4, _ = train(8, 3)  # another initial draw
    assert not np.array_equal(p1, p4)


def test_float32_training_stays_float32():
    X, y = _regression()
    net = ns.Network([2, 4, 2], seed=0, dtype=np.float32)
    history = _quiet_fit(net, X, y, optimizer=ns.Adam(0.01), epochs=3, batch_size=8, seed=0)
    assert net.params.dtype == np.float32
    assert all(layer.W.dtype == np.float32 for layer in net.layers)
    assert all(isinstance(v, float) for v in history.loss)


# ---------------------------------------------------------------- the article's run
def test_the_articles_faithful_run_stalls_well_above_zero():
    """[2, 4, 4, 3] ReLU/linear, He weights and biases, full-batch GD, lr 0.01.

    Whether the loss stalls depends on the initial draw (examples/nine_steps.py
    sweeps seeds); with this seed, as in the article, it flattens out far
    above zero because ReLU units die, while a wider net trained with Adam
    gets close to zero on the same data.
    """
    X, y = ns.make_arithmetic(1000, seed=0)
    X_train, _, y_train, _ = ns.train_test_split(X, y, test_size=0.3, shuffle=False)
    Xs = ns.StandardScaler().fit_transform(X_train)
    ys = ns.StandardScaler().fit_transform(y_train)
    net = ns.Network([2, 4, 4, 3], activation="relu", output_activation="linear", seed=4, bias_init="same")
    history = _quiet_fit(net, Xs, ys, optimizer=ns.SGD(lr=0.01), epochs=2000)
    final = history.loss[-1]
    assert final > 0.3                                  # well above zero (the targets' loss is 1.5 at y_hat = 0)
    assert history.loss[-500] - final < 0.02 * final    # flat: under 2% gained in the last 500 epochs
    Zs, _ = net.forward(Xs, return_all=True)
    assert any((Z <= 0).all(axis=0).any() for Z in Zs[:-1])  # some hidden unit never fires

    well = ns.Network([2, 32, 32, 3], seed=0)
    _quiet_fit(well, Xs, ys, optimizer=ns.Adam(0.01), epochs=100, batch_size=64, seed=0, lr_schedule="cosine")
    assert well.evaluate(Xs, ys) < 0.01


@pytest.mark.parametrize("loss_name, output", [("mse", "linear"), ("cross_entropy", "softmax"),
                                               ("binary_cross_entropy", "sigmoid")])
@pytest.mark.parametrize("optimizer", [lambda: ns.SGD(0.05, momentum=0.9), lambda: ns.Adam(0.01)])
def test_whole_number_sample_weights_train_as_repeated_rows(loss_name, output, optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = {"mse": rng.standard_normal((12, 2)), "cross_entropy": np.arange(12) % 2,
         "binary_cross_entropy": rng.integers(0, 2, (12, 2)).astype(float)}[loss_name]
    w = rng.integers(0, 4, 12)
    w[0] = 1
    weighted = ns.Network([3, 5, 2], activation="tanh", output_activation=output, seed=0)
    repeated = weighted.copy()
    h1 = weighted.fit(X, y, loss=loss_name, optimizer=optimizer(), epochs=15, alpha=0.2, sample_weight=w, tol=1e9)
    h2 = repeated.fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0), loss=loss_name, optimizer=optimizer(),
                      epochs=15, alpha=0.2, tol=1e9)
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h1.loss, h2.loss, rtol=1e-10)


def test_sample_weights_in_mini_batches_follow_the_reference_path():
    # Shuffled mini-batches: the fast path's weighted step equals loss_and_gradients with the batch's weights.
    rng = np.random.default_rng(1)
    X, y, w = rng.standard_normal((40, 2)), rng.standard_normal((40, 1)), rng.uniform(0, 2, 40)
    net = ns.Network([2, 6, 1], seed=0)
    ref = net.copy()
    net.fit(X, y, optimizer=ns.SGD(0.1), epochs=3, batch_size=16, seed=7, alpha=0.1, sample_weight=w, tol=1e9)
    order_rng = np.random.default_rng(7)
    for _ in range(3):
        order = order_rng.permutation(40)
        for start in range(0, 40, 16):
            rows = order[start:start + 16]
            _, grads = ref.loss_and_gradients(X[rows], y[rows], alpha=0.1, sample_weight=w[rows])
            for layer, (dW, db) in zip(ref.layers, grads):
                layer.W = layer.W - 0.1 * dW
                layer.b = layer.b - 0.1 * db
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("w, message", [([1.0, 2.0], "2 values but there are 4 samples"),
                                        ([1.0, -1.0, 1.0, 1.0], r"sample_weight\[1\] = -1.0 is negative"),
                                        ([0.0, 0.0, 0.0, 0.0], "sums to 0.0"),
                                        ([1.0, np.nan, 1.0, 1.0], "NaN")])
def test_bad_sample_weights_are_named(w, message):
    with pytest.raises(ValueError, match=message):
        ns.Network([2, 3, 1], seed=0).fit(np.ones((4, 2)), np.ones(4), epochs=1, sample_weight=w)


def test_no_convergence_warning_when_a_cosine_schedule_lands():
    X = np.random.default_rng(0).standard_normal((64, 2))
    y = X.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.ConvergenceWarning)
        ns.Network([2, 8, 1], seed=0).fit(X, y, optimizer=ns.Adam(0.01), epochs=30, batch_size=16,
                                          lr_schedule="cosine", seed=0)
    with pytest.warns(ns.ConvergenceWarning, match="still improving"):
        ns.Network([2, 8, 1], seed=0).fit(X, y, optimizer=ns.Adam(0.01), epochs=30, batch_size=16, seed=0)
