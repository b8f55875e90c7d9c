"""Step 8's bookkeeping (ninestep.callbacks): the public Callback interface and ninestep's own callbacks."""

import threading
import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep.callbacks import GradientNorms, LambdaCallback, ProgressBar


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 1]])


class Recorder(ns.Callback):
    """Writes down every call, in order, with what the trainer showed at that moment."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", self.trainer.start_epoch))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, logs["size"]))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_a_users_callback_sees_every_point_of_the_loop_in_order():
    X, y = _data(50)
    rec = Recorder()
    ns.Network([2, 4, 2], seed=0).fit(X, y, epochs=2, batch_size=20, validation_data=(X, y), callbacks=[rec],
                                      tol=1e9)
    assert rec.calls == [
        ("train_begin", 0),
        ("epoch_begin", 0), ("batch_end", 0, 20), ("batch_end", 1, 20), ("batch_end", 2, 10),
        ("epoch_end", 0, ["epoch", "loss", "lr", "val_loss"]),
        ("epoch_begin", 1), ("batch_end", 0, 20), ("batch_end", 1, 20), ("batch_end", 2, 10),
        ("epoch_end", 1, ["epoch", "loss", "lr", "val_loss"]),
        ("train_end",),
    ]


def test_a_users_callback_can_stop_on_any_metric():
    class StopBelow(ns.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < 0.05:
                self.trainer.stop_training = True

    X, y = _data()
    history = ns.Network([2, 16, 2], seed=0).fit(X, y, optimizer=ns.Adam(0.05), epochs=500, batch_size=16,
                                                 validation_data=(X, y), callbacks=[StopBelow()], seed=0)
    assert history.epochs < 500 and history.val_loss[-1] < 0.05 and min(history.val_loss[:-1]) >= 0.05


@pytest.mark.parametrize("stop", [True, np.True_])
def test_the_older_callback_function_stops_on_true_and_numpys_true(stop):
    X, y = _data()
    history = ns.Network([2, 4, 2], seed=0).fit(X, y, epochs=10, callback=lambda epoch, logs: stop if epoch == 2 else None)
    assert history.epochs == 3


def test_callbacks_must_be_callback_objects():
    X, y = _data()
    with pytest.raises(TypeError, match="LambdaCallback"):
        ns.Network([2, 4, 2], seed=0).fit(X, y, epochs=1, callbacks=[lambda e, l: None])
    with pytest.raises(TypeError, match="list of ninestep.Callback"):
        ns.Network([2, 4, 2], seed=0).fit(X, y, epochs=1, callbacks=Recorder())
    with pytest.raises(TypeError, match="callback must be a function"):
        LambdaCallback("stop")


def test_gradient_norms_are_the_mean_per_layer_norm_over_each_epochs_steps():
    X, y = _data(32)
    net = ns.Network([2, 5, 2], activation="tanh", seed=0)
    start = net.copy()
    norms = GradientNorms()
    net.fit(X, y, optimizer=ns.SGD(0.01), epochs=3, batch_size=None, callbacks=[norms], tol=1e9)
    assert len(norms.norms) == 3 and all(len(epoch) == 2 for epoch in norms.norms)
    # Full batch: the first epoch's norms are those of the gradient at the initial weights.
    _, grads = start.loss_and_gradients(X, y)
    for (w, b), (dW, db) in zip(norms.norms[0], grads):
        assert w == pytest.approx(np.linalg.norm(dW), rel=1e-12) and b == pytest.approx(np.linalg.norm(db), rel=1e-12)


def test_progress_bar_prints_lines_without_tqdm(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "tqdm"
                        else real_import(name, *a, **k))
    X, y = _data()
    import sys
    ns.Network([2, 4, 2], seed=0).fit(X, y, epochs=20, callbacks=[ProgressBar(20, stream=sys.stdout)], tol=1e9)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("training: epoch     1/20") and lines[-1].startswith("training: epoch    20/20")


def test_a_loss_that_explodes_but_stays_finite_gets_a_warning_naming_the_epoch_and_what_to_do():
    # Unstandardised inputs and plain SGD: the loss climbs by orders of magnitude without overflowing.
    # (The article's data, unscaled: the loss went from about 6,000 to 1e11 and back to 2,000.)
    X, y = ns.make_arithmetic(2000, seed=0)
    net = ns.Network([2, 8, 3], seed=0)
    with pytest.warns(ns.LossExplosionWarning, match=r"exploded in epoch 1: .* at the first step .* Standardise the "
                                                     r"inputs .* lower the learning rate \(lr=0.1\)") as caught:
        history = net.fit(X, y, optimizer=ns.SGD(0.1), epochs=30, batch_size=64, seed=0, tol=1e9)
    assert np.isfinite(history.loss).all()
    assert len([w for w in caught if issubclass(w.category, ns.LossExplosionWarning)]) == 1


def test_a_well_behaved_run_gets_no_explosion_warning():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.LossExplosionWarning)
        ns.Network([2, 8, 2], seed=0).fit(X, y, optimizer=ns.Adam(0.01), epochs=20, batch_size=8, seed=0, tol=1e9)


def test_a_network_trains_in_one_thread_at_a_time():
    X, y = _data(2000)
    net = ns.Network([2, 64, 2], seed=0)
    started, errors = threading.Event(), []

    class Signal(ns.Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()

    def train():
        net.fit(X, y, epochs=40, batch_size=8, callbacks=[Signal()], tol=1e9)

    worker = threading.Thread(target=train)
    worker.start()
    started.wait(30)
    try:
        net.fit(X, y, epochs=1)
    except RuntimeError as exc:
        errors.append(str(exc))
    worker.join()
    assert errors and "already being trained" in errors[0] and "net.copy()" in errors[0]
    # Predicting from several threads at once only reads the weights, and training a copy is fine.
    copy = net.copy()
    copy.fit(X, y, epochs=1, tol=1e9)
    results = [None] * 4
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, net.predict(X))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, results[0]) for r in results)


def test_a_huge_alpha_is_named_before_training():
    X, y = _data()
    net = ns.Network([2, 4, 2], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="alpha=1e[+]308 is far too large"):
        net.fit(X, y, alpha=1e308, epochs=2)
    assert np.array_equal(net.params, before)


def test_the_command_line_shows_the_explosion_warning_as_one_line(tmp_path, monkeypatch, capsys):
    # Any loss counts as an explosion with this factor: what is tested is that `ninestep train`
    # passes the warning on, as one line, and still finishes its run.
    from ninestep import callbacks, cli

    monkeypatch.setattr(callbacks.DivergenceGuard.__init__, "__defaults__", (1e-300, 0.0))
    code = cli.main(["train", "--data", "sine", "--n-samples", "200", "--epochs", "3", "--out", str(tmp_path / "run"),
                     "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    lines = [line for line in err.splitlines() if "exploded" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: The training loss exploded in epoch 1")


def test_a_trained_networks_noise_near_zero_is_not_an_explosion():
    # fit called again on a trained network starts from a tiny loss; a rise from 1e-8 to 1e-5 is noise.
    X, y = _data()
    net = ns.Network([2, 16, 2], seed=0)
    net.fit(X, y, optimizer=ns.Adam(0.01), epochs=200, batch_size=16, seed=0, lr_schedule="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.LossExplosionWarning)
        for epoch in range(5):
            net.fit(X, y, optimizer=ns.Adam(0.05), epochs=1, batch_size=16, seed=epoch, tol=1e9)


@pytest.mark.filterwarnings("ignore::ninestep.LossExplosionWarning")
def test_the_divergence_message_names_the_rate_that_diverged():
    # A schedule that raises the rate tenfold each epoch: the message must name the epoch's rate, not the
    # rate the restore put back.
    import re

    X, y = _data()
    with pytest.raises(ns.DivergenceError) as caught:
        ns.Network([2, 8, 2], seed=0).fit(X, y, optimizer=ns.SGD(0.01), epochs=30, batch_size=16, seed=0,
                                          lr_schedule=lambda e, lr0: lr0 * 10.0 ** e, tol=1e9)
    epoch, lr = re.search(r"epoch (\d+): .* lr=([0-9.e+-]+)\.", str(caught.value)).groups()
    assert float(lr) == pytest.approx(0.01 * 10.0 ** (int(epoch) - 1))  # epoch e (from 1) ran at lr0 10^(e-1)


def test_the_returned_history_does_not_keep_the_data():
    import pickle

    X, y = _data(2000)
    history = ns.Network([2, 8, 2], seed=0).fit(X, y, epochs=2, batch_size=64, tol=1e9)
    assert history.trainer is None and len(pickle.dumps(history)) < 4000


def test_a_second_fit_with_a_schedule_starts_from_the_optimisers_own_rate():
    X, y = _data()
    opt = ns.Adam(0.01)
    net = ns.Network([2, 8, 2], seed=0)
    first = net.fit(X, y, optimizer=opt, epochs=10, batch_size=16, seed=0, lr_schedule="cosine")
    second = net.fit(X, y, optimizer=opt, epochs=10, batch_size=16, seed=0, lr_schedule="cosine")
    assert opt.lr == 0.01 and first.lr[0] == second.lr[0] == 0.01 and first.lr[-1] < 0.001
