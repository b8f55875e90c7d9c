"""Faults during training and prediction: divergence, overflow, and running out of epochs.

* A learning rate that makes the loss NaN or infinite stops training at
  once with ``DivergenceError`` (a ValueError and FloatingPointError) that
  suggests a smaller learning rate; the weights go back to the last finite
  state, and no model file or checkpoint ever holds NaN.
* Inputs so large that the arithmetic overflows (1e300) never give a silent
  NaN: fit, forward, evaluate and loss_and_gradients raise a ValueError
  that names the largest input and says to standardise.
* Running out of epochs while the validation loss still improves gives a
  ``ConvergenceWarning`` (a UserWarning); early stopping gives none.
"""

import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep.archive import read_archive
from ninestep.checkpoint import load_checkpoint
from ninestep.optimizers import Optimizer


def _regression(n=64, seed=0):
    X, y = ns.make_sine(n, seed=seed)
    return X, y * 10


# ---------------------------------------------------------------------- divergence
@pytest.mark.parametrize("optimizer, batch_size", [
    (lambda: ns.SGD(lr=1e3), 16),              # explodes within an epoch
    (lambda: ns.SGD(lr=1e3, momentum=0.9), None),  # full batch: explodes between epochs
    (lambda: ns.Adam(lr=1e200), 16),
    (lambda: ns.SGD(lr=1e308), None),          # a single step overflows the weights themselves
], ids=["sgd-in-epoch", "momentum-between-epochs", "adam", "step-overflows-weights"])
def test_huge_learning_rate_stops_at_once_and_restores_the_last_finite_weights(optimizer, batch_size):
    X, y = _regression()
    net = ns.Network([1, 16, 1], seed=0)
    after_epoch = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow notes before our error
        with pytest.raises(ns.DivergenceError, match="smaller learning rate") as err:
            net.fit(X, y, optimizer=optimizer(), epochs=50, batch_size=batch_size, seed=0,
                    callback=lambda epoch, logs: after_epoch.append(net.params.copy()))
    assert isinstance(err.value, ValueError) and isinstance(err.value, FloatingPointError)
    assert len(after_epoch) < 50, "training must stop at once, not run out its epochs"
    assert np.isfinite(net.params).all()
    start_of_failed_epoch = after_epoch[-1] if after_epoch else ns.Network([1, 16, 1], seed=0).params
    assert np.array_equal(net.params, start_of_failed_epoch)
    assert f"epoch {len(after_epoch) + 1}" in str(err.value)


def test_a_gradient_that_overflows_while_the_loss_is_finite_stops_training_and_restores_the_optimizer():
    """Weights 1.7e308 into a zero output layer: the loss is finite (50) but dW2 = A^T dZ overflows.

    The poisoned weights are set after epoch 1, so the overflow happens mid-training; it must stop
    training in epoch 2 and put back the weights *and* Adam's moments of the start of epoch 2.
    """
    X, y = np.full((16, 1), 1.7), np.full(16, 10.0)
    net, opt = ns.Network([1, 1, 1], activation="linear", seed=0), ns.Adam(lr=0.1)
    start_of_epoch_2 = {}

    def poison(epoch, logs):
        if epoch == 0:
            net.set_weights([(np.array([[1e308]]), np.zeros(1)), (np.zeros((1, 1)), np.zeros(1))])
            start_of_epoch_2.update(params=net.params.copy(), opt=opt.state_dict())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ns.DivergenceError, match="epoch 2.*optimizer's state were restored"):
            net.fit(X, y, optimizer=opt, epochs=5, batch_size=4, callback=poison)
    assert np.array_equal(net.params, start_of_epoch_2["params"])
    saved = start_of_epoch_2["opt"]
    assert opt.t == saved["t"] == 4
    assert np.array_equal(opt.m, saved["m"]) and np.array_equal(opt.v, saved["v"])
    assert np.isfinite(opt.m).all() and np.isfinite(opt.v).all()


class _StepOnly(Optimizer):
    """A user's optimiser with only ``step`` (plain gradient descent)."""

    def __init__(self, lr):
        self.lr = lr

    def step(self, params, grad):
        params -= self.lr * grad


class _SaveOnly(_StepOnly):
    def state_dict(self):
        return {"lr": self.lr}


@pytest.mark.parametrize("optimizer", [_StepOnly, _SaveOnly])
def test_divergence_with_a_users_optimizer_without_state_restore_says_only_the_weights_went_back(optimizer):
    X, y = _regression()
    net = ns.Network([1, 16, 1], seed=0)
    after_epoch = [net.params.copy()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ns.DivergenceError, match=r"The weights were restored") as err:
            net.fit(X, y, optimizer=optimizer(1e3), epochs=50, batch_size=16, seed=0,
                    callback=lambda epoch, logs: after_epoch.append(net.params.copy()))
    assert "optimizer" not in str(err.value)
    assert np.array_equal(net.params, after_epoch[-1])


def test_training_goes_on_after_divergence_with_a_smaller_learning_rate():
    X, y = _regression()
    net, opt = ns.Network([1, 16, 1], seed=0), ns.SGD(lr=1e-2, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        net.fit(X, y, optimizer=opt, epochs=2, batch_size=16, seed=0)
        before, velocity = net.params.copy(), opt.velocity.copy()
        opt.lr = 1e6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ns.DivergenceError, match="epoch 1"):
                net.fit(X, y, optimizer=opt, epochs=50, batch_size=16, seed=0)
        # The momentum went back with the weights: the huge steps left no trace in either.
        assert np.array_equal(net.params, before) and np.array_equal(opt.velocity, velocity)
        opt.lr = 1e-2
        history = net.fit(X, y, optimizer=opt, epochs=3, batch_size=16, seed=0)
    assert np.isfinite(history.loss).all() and history.loss[-1] < 1.5 * history.loss[0]


def test_after_divergence_the_model_and_checkpoint_files_hold_no_nan(tmp_path):
    X, y = _regression()
    net = ns.Network([1, 16, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ns.DivergenceError):
            net.fit(X, y, optimizer=ns.SGD(lr=0.2), epochs=300, seed=0,
                    checkpoint=tmp_path / "ck.npz")
    restored = ns.Network([1, 16, 1], seed=1)
    state = load_checkpoint(tmp_path / "ck.npz", restored, ns.SGD(lr=0.2))
    assert state["epoch"] >= 1 and np.isfinite(state["history"].loss).all()
    # The last checkpoint is the end of the last good epoch, which is where the weights went back to.
    assert np.array_equal(restored.params, net.params)
    net.save(tmp_path / "m.npz")
    back = ns.load(tmp_path / "m.npz")
    assert np.isfinite(back.params).all() and np.array_equal(back.params, net.params)


def test_fit_refuses_a_network_whose_weights_are_already_nan():
    net = ns.Network([1, 4, 1], seed=0)
    net.params[3] = np.nan
    with pytest.raises(ValueError, match="weights contain NaN or infinity"):
        net.fit(*_regression(), epochs=1)


def test_learning_rate_schedule_returning_nonsense_is_named():
    net = ns.Network([1, 4, 1], seed=0)
    with pytest.raises(ValueError, match=r"lr_schedule\(0, 0.01\) must be a finite number > 0, got -1.0"):
        net.fit(*_regression(), optimizer=ns.SGD(lr=0.01), epochs=3, lr_schedule=lambda e, lr0: -1.0)
    with pytest.raises(ValueError, match=r"lr_schedule\(0, 0.01\) must be a finite number > 0, got nan"):
        net.fit(*_regression(), optimizer=ns.SGD(lr=0.01), epochs=3, lr_schedule=lambda e, lr0: float("nan"))


# ---------------------------------------------------------------------- overflow-prone inputs
def _overflowing_net(dtype=np.float64):
    """[2, 2, 1], linear: hidden = (x1 + x2, -(x1 + x2)); output = their sum, which is inf - inf = NaN
    once x1 + x2 overflows."""
    net = ns.Network([2, 2, 1], activation="linear", seed=0, dtype=dtype)
    net.set_weights([(np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))])
    return net


def test_forward_never_returns_a_silent_nan():
    net = _overflowing_net()
    X = np.array([[1.0, 2.0], [1e308, 1e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning noise either
        with pytest.raises(ValueError, match=r"output is not finite.*largest \|X\| is X\[1, 0\] = 1e\+308"
                                             r".*Standardise"):
            net.forward(X)
        with pytest.raises(ValueError, match="not finite"):
            net.predict(X)
    assert np.array_equal(net.forward(X[:1]), [[0.0]])  # the finite row alone is fine


def test_evaluate_and_loss_and_gradients_refuse_overflow():
    net = ns.Network([2, 4, 1], seed=0)
    X, y = np.full((3, 2), 1e300), np.ones(3)
    with pytest.raises(ValueError, match=r"the loss is not finite.*largest \|X\| is X\[0, 0\] = 1e\+300"):
        net.evaluate(X, y)
    with pytest.raises(ValueError, match="the loss or its gradient is not finite"):
        net.loss_and_gradients(X, y)


@pytest.mark.parametrize("optimizer", [lambda: ns.SGD(lr=0.01), lambda: ns.Adam()])
def test_fit_on_1e300_inputs_blames_the_data_not_the_learning_rate(optimizer):
    X, y = np.full((8, 2), 1e300), np.arange(8.0)
    net = ns.Network([2, 4, 1], seed=0)
    before = net.params.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"before the first update is not finite.*1e\+300.*Standardise") as err:
            net.fit(X, y, optimizer=optimizer(), epochs=3)
    assert not isinstance(err.value, ns.DivergenceError)
    assert np.array_equal(net.params, before)


def test_fit_with_1e300_validation_inputs_blames_the_validation_data():
    X, y = _regression()
    net = ns.Network([1, 4, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=r"the validation loss is not finite.*1e\+300"):
            net.fit(X, y, epochs=3, validation_data=(np.full((4, 1), 1e300), np.zeros(4)))


def test_standard_scaler_handles_columns_near_the_float_limit():
    X = np.array([[1e300, 1.0], [-1e300, 2.0], [5e299, 3.0], [3e299, 4.0]])
    scaler = ns.StandardScaler().fit(X)
    assert np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-12)
    with pytest.raises(ValueError, match="inverse_transform overflowed at row 0, column 0"):
        scaler.inverse_transform(np.array([[1e10, 0.0]]))


def test_values_too_large_for_float32_are_named():
    net = ns.Network([2, 3, 1], seed=0, dtype=np.float32)
    with pytest.raises(ValueError, match=r"value 1e\+300 at row 1, column 0, too large for float32"):
        net.forward(np.array([[1.0, 2.0], [1e300, 0.0]]))
    with pytest.raises(ValueError, match="too large"):
        net.forward([[1, 10**400]])


# ---------------------------------------------------------------------- convergence
def _moons():
    X, y = ns.make_moons(200, noise=0.2, seed=0)
    X_val, y_val = ns.make_moons(100, noise=0.2, seed=1)
    return X, y, (X_val, y_val)


def test_running_out_of_epochs_while_still_improving_warns():
    X, y, val = _moons()
    net = ns.Network([2, 16, 2], output_activation="softmax", seed=0)
    with pytest.warns(ns.ConvergenceWarning, match="validation loss was still improving") as record:
        net.fit(X, y, loss="cross_entropy", optimizer=ns.SGD(lr=0.05), epochs=20, validation_data=val, seed=0)
    assert issubclass(ns.ConvergenceWarning, UserWarning)
    assert len(record) == 1


def test_no_warning_when_early_stopping_triggers():
    X, y, val = _moons()
    net = ns.Network([2, 16, 2], output_activation="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.ConvergenceWarning)
        history = net.fit(X, y, loss="cross_entropy", optimizer=ns.Adam(lr=0.05), epochs=500, batch_size=32,
                          validation_data=val, patience=5, seed=0)
    assert history.stopped_early and history.epochs < 500


def test_no_warning_once_the_loss_has_levelled_off():
    X, y, val = _moons()
    net = ns.Network([2, 16, 2], output_activation="softmax", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ns.ConvergenceWarning)
        # (no learning-rate schedule: with "cosine" the warning is never given, which would hide this rule)
        history = net.fit(X, y, loss="cross_entropy", optimizer=ns.Adam(lr=0.05), epochs=300, batch_size=32,
                          validation_data=val, seed=0)
    assert history.epochs == 300


# ---------------------------------------------------------------------- on the command line
def test_cli_divergence_is_one_line_and_leaves_no_nan_file(tmp_path, capsys):
    from ninestep.cli import main

    out = tmp_path / "run"
    code = main(["train", "--data", "sine", "--n-samples", "200", "--optimizer", "sgd", "--lr", "1e4",
                 "--epochs", "20", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: Training diverged") and "smaller learning rate" in err
    assert "\n" not in err
    for path in out.glob("model.npz"):  # whatever was saved is finite and loads
        assert np.isfinite(ns.load_model(path).net.params).all()
    for path in out.glob("checkpoint.npz"):  # the reader refuses NaN, so reading it is the check
        read_archive(path)
