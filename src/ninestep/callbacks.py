"""Step 8's bookkeeping: small named objects that ``fit`` calls as it trains.

The loop in :mod:`ninestep.training` only says epochs, batches, step. Every
other thing that happens during training is a :class:`Callback`, in the
Keras sense: an object whose methods are called at fixed points of the
loop, and which can stop training. ninestep's own are built from
``fit``'s arguments, in this order:

=======================  ======================================================
``DivergenceGuard``      a NaN or infinite loss stops training with a
                         :class:`DivergenceError` after putting the weights
                         and the optimiser's state back to the epoch's start;
                         a loss that explodes but stays finite gets a warning
``History``              the loss, validation loss and learning rate per epoch
``LearningRateSchedule`` ``lr_schedule=``: the learning rate of each epoch
``EarlyStopping``        ``validation_data`` / ``patience=``: tracks the best
                         validation loss; with a patience, stops and restores
                         the best weights
(the user's callbacks)   ``callbacks=[...]``, and the older ``callback=fn``
``Checkpoint``           ``checkpoint=``: the whole training state on disk
=======================  ======================================================

A user's callback is written the same way::

    class StopBelow(ns.Callback):
        def on_epoch_end(self, epoch, logs):
            if logs["loss"] < 1e-3:
                self.trainer.stop_training = True

``self.trainer`` is the running :class:`ninestep.training.Trainer`: its
``net``, ``optimizer``, ``history``, ``epoch``, ``grad`` (the last step's
flat gradient) and ``stop_training``. A callback that carries state across
a resumed run implements ``state_dict`` / ``load_state_dict`` (plain
numbers, lists and NumPy arrays), which :class:`Checkpoint` saves.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any, Callable

import numpy as np

from ._validation import check_nonnegative, check_positive, overflow_error
from .optimizers import Optimizer

__all__ = ["Callback", "History", "DivergenceGuard", "DivergenceError", "LossExplosionWarning",
           "LearningRateSchedule", "EarlyStopping", "LambdaCallback", "GradientNorms", "ProgressBar",
           "cosine_schedule"]


class DivergenceError(FloatingPointError, ValueError):
    """The loss became NaN or infinite; the weights (and the optimiser's state) went back to the epoch's start."""


class LossExplosionWarning(RuntimeWarning):
    """The training loss grew far above its starting value while staying finite."""


class Callback:
    """Called by ``fit`` at fixed points of the loop; override the methods you need.

    ``logs`` of ``on_batch_end``: ``{"loss": batch loss, "size": rows}``
    (after the optimiser's step). ``logs`` of ``on_epoch_end``:
    ``{"epoch": epochs done, "loss", "lr"}`` and ``"val_loss"`` with
    validation data. ``on_train_end`` is called even when training stops
    with an error, with ``logs = {"failed": True}``. Set
    ``self.trainer.stop_training = True`` to stop after the current epoch.
    """

    trainer: Any = None

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to carry on bit for bit (plain data and arrays)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; raise ValueError for anything malformed."""


class History(Callback):
    """What happened during ``fit``, one entry per epoch; ``fit`` returns it.

    Attributes
    ----------
    loss : list of float
        Training loss per epoch (including the L2 penalty, which is what
        the optimiser minimises): the mean of the batch losses weighted by
        batch size (by weight sum, with sample weights), each taken before
        its update.
    val_loss : list of float
        Validation loss per epoch (data loss only); empty without validation data.
    lr : list of float
        Learning rate used in each epoch.
    best_epoch : int or None
        Index (from 0) of the epoch with the lowest validation loss; with
        ``patience`` set, its weights are the ones the network keeps.
    stopped_early : bool
    """

    def __init__(self, loss=None, val_loss=None, lr=None, best_epoch: int | None = None,
                 stopped_early: bool = False):
        self.loss: list[float] = list(loss or [])
        self.val_loss: list[float] = list(val_loss or [])
        self.lr: list[float] = list(lr or [])
        self.best_epoch, self.stopped_early = best_epoch, stopped_early

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def on_epoch_end(self, epoch, logs=None):
        self.loss.append(logs["loss"])
        self.lr.append(logs["lr"])
        if "val_loss" in logs:
            self.val_loss.append(logs["val_loss"])

    def as_dict(self) -> dict[str, Any]:
        return {"loss": list(self.loss), "val_loss": list(self.val_loss), "lr": list(self.lr),
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        for key in ("loss", "val_loss", "lr"):
            if not isinstance(d.get(key), list) or any(not _is_number(v) for v in d[key]):
                raise ValueError(f"history[{key!r}] must be a list of numbers")
        if not (d.get("best_epoch") is None or _is_count(d.get("best_epoch"))):
            raise ValueError("history['best_epoch'] must be an int or null")
        if not isinstance(d.get("stopped_early"), bool):
            raise ValueError("history['stopped_early'] must be true or false")
        return cls([float(v) for v in d["loss"]], [float(v) for v in d["val_loss"]],
                   [float(v) for v in d["lr"]], d["best_epoch"], d["stopped_early"])

    state_dict = as_dict

    def load_state_dict(self, state):
        other = History.from_dict(state)
        self.__dict__.update(other.__dict__)

    def __eq__(self, other) -> bool:
        return isinstance(other, History) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        val = f", val_loss={self.val_loss[-1]:.4g}" if self.val_loss else ""
        return f"History(epochs={self.epochs}{last}{val})"


class DivergenceGuard(Callback):
    """Stop a diverging run cleanly, and warn about one that explodes but stays finite.

    At the start of each epoch the weights and the optimiser's state are
    copied. A NaN or infinite batch loss, weights that an update made
    infinite, or a NaN validation loss put both back and raise
    :class:`DivergenceError` (a too-large learning rate; training can go
    on from there with a smaller one). On a fit's very first step an
    infinite loss or gradient is blamed on the data instead: no update has
    happened yet.

    The explosion warning: a batch loss above ``explode_factor`` (default
    1,000) times the first batch's loss, and above ``explode_floor``
    (default 1) - finite, but the
    optimiser is climbing, not descending - gets one
    :class:`LossExplosionWarning` at the end of that epoch, naming the epoch and both figures and advising to
    standardise the inputs or lower the learning rate. (A run that goes on
    to diverge within the same epoch gets the DivergenceError alone. The
    floor of 1 keeps a trained network's noise near zero - 1e-8 rising to
    1e-5 when ``fit`` is called again - from counting as an explosion.)
    """

    def __init__(self, explode_factor: float = 1e3, explode_floor: float = 1.0):
        self.explode_factor = check_positive(explode_factor, "explode_factor")
        self.explode_floor = check_nonnegative(explode_floor, "explode_floor")

    def on_train_begin(self, logs=None):
        self._weights = np.empty_like(self.trainer.net.params)
        self._opt_state: dict | None = None
        self._first_loss: float | None = None
        self._explosion: float | None = None
        self._warned = False
        self._set_quiet_limit()

    def on_epoch_begin(self, epoch, logs=None):
        np.copyto(self._weights, self.trainer.net.params)
        self._opt_state = None  # drop the last epoch's copy before making the next
        self._opt_state = _optimizer_state(self.trainer.optimizer)

    def _set_quiet_limit(self) -> None:
        """The loss below which a step needs no look: under the explosion line, or any finite loss once said."""
        if self._first_loss is None:
            self._quiet_below = -math.inf  # the first step is always looked at
        elif self._explosion is None and not self._warned:
            self._quiet_below = max(self.explode_floor, self.explode_factor * max(self._first_loss, 1e-300))
        else:
            self._quiet_below = sys.float_info.max

    def _restore(self) -> str:
        self.trainer.net.params[...] = self._weights
        if self._opt_state is None:
            return "The weights were"
        self.trainer.optimizer.load_state_dict(self._opt_state)
        return "The weights and the optimizer's state were"

    def on_batch_end(self, batch, logs=None):
        loss = logs["loss"]
        if loss <= self._quiet_below:  # finite and not exploding: one comparison per step (NaN compares False)
            return
        trainer = self.trainer
        first = self._first_loss is None
        # Only the loss is checked at every step: a gradient that is not finite makes the weights
        # inf or NaN, hence the next loss or the end-of-epoch check below. The first step is
        # checked in full, since an overflow there is the data's fault, not the learning rate's.
        if math.isfinite(loss) and not (first and not np.isfinite(trainer.grad).all()):
            if first:
                self._first_loss = loss
            elif self._explosion is None and not self._warned:
                self._explosion = loss  # said at the end of the epoch, unless the run diverges before
            self._set_quiet_limit()
            return
        lr = trainer.optimizer.lr  # the rate in use: the restore below puts back the optimiser's state
        restored = self._restore()
        if first:
            raise overflow_error("the loss or its gradient before the first update",
                                 trainer.batch[0], trainer.batch[1])
        raise DivergenceError(
            f"Training diverged in epoch {trainer.epoch + 1}: the loss became {loss} "
            f"with lr={lr:g}. {restored} restored to the start of that epoch. "
            "Try a smaller learning rate (e.g. 10x smaller), standardise the inputs and "
            "targets, or use Adam.")

    def on_epoch_end(self, epoch, logs=None):
        trainer = self.trainer
        lr = trainer.optimizer.lr  # the rate in use: a restore puts back the optimiser's state
        if not (np.isfinite(trainer.net.params).all() and math.isfinite(logs["loss"])):
            # The epoch's last step overflowed the weights (a huge lr): no later batch of this
            # epoch would notice, and the next epoch's copy must be finite.
            restored = self._restore()
            raise DivergenceError(
                f"Training diverged in epoch {epoch + 1}: an update with lr={lr:g} made the "
                f"weights infinite or NaN. {restored} restored to the start of that epoch. "
                "Try a smaller learning rate (e.g. 10x smaller).")
        val = logs.get("val_loss")
        if val is not None and not math.isfinite(val):
            restored = self._restore()
            X_val, Y_val = trainer.validation
            if not math.isfinite(trainer.validation_loss()):  # not finite before the epoch either
                raise overflow_error("the validation loss", X_val, Y_val)
            raise DivergenceError(
                f"The validation loss became {val} in epoch {epoch + 1} with lr={lr:g}. "
                f"{restored} restored to the start of that epoch. Try a smaller learning rate.")
        if self._explosion is not None:
            loss, first = self._explosion, max(self._first_loss, 1e-300)
            self._explosion, self._warned = None, True
            self._set_quiet_limit()
            warnings.warn(
                f"The training loss exploded in epoch {epoch + 1}: {loss:.4g}, against {first:.4g} at the "
                f"first step ({loss / first:.3g}x). Standardise the inputs (and regression targets) with "
                f"ninestep.StandardScaler, or lower the learning rate (lr={lr:g}).",
                LossExplosionWarning, stacklevel=stacklevel_outside_ninestep())

    def state_dict(self):
        return {"first_loss": self._first_loss, "warned": self._warned}

    def load_state_dict(self, state):
        first, warned = state.get("first_loss"), state.get("warned")
        if not (first is None or _is_number(first)) or not isinstance(warned, bool):
            raise ValueError(f"divergence guard state must hold a number and a bool, got {state!r:.80}")
        self._first_loss, self._warned = first, warned
        self._set_quiet_limit()


def _optimizer_state(optimizer) -> dict | None:
    """A copy of the optimiser's state to go back to; None if it cannot both save and load one.

    A user's optimiser may implement only ``step``: its state is then not
    restored after a DivergenceError (and the message says so).
    """
    cls = type(optimizer)
    if cls.state_dict is Optimizer.state_dict or cls.load_state_dict is Optimizer.load_state_dict:
        return None
    return optimizer.state_dict()


def cosine_schedule(epoch: int, epochs: int, lr0: float) -> float:
    """Half a cosine from ``lr0`` at epoch 0 down towards 0 at ``epochs``."""
    return 0.5 * lr0 * (1.0 + math.cos(math.pi * epoch / epochs))


class LearningRateSchedule(Callback):
    """Set the learning rate at the start of each epoch.

    ``schedule`` is ``"cosine"`` (decay from the optimiser's initial rate to
    0 over ``epochs`` along half a cosine, which lets SGD and Adam settle
    into a minimum instead of rattling around it) or a function
    ``schedule(epoch, lr0) -> lr``.
    """

    def __init__(self, schedule: str | Callable[[int, float], float], epochs: int):
        if isinstance(schedule, str) and schedule != "cosine":
            raise ValueError(f"lr_schedule must be None, 'cosine' or a callable, got {schedule!r}.")
        if not isinstance(schedule, str) and not callable(schedule):
            raise TypeError(f"lr_schedule must be None, 'cosine' or a callable, got {schedule!r}.")
        self.schedule, self.epochs, self.lr0 = schedule, epochs, None

    def on_train_begin(self, logs=None):
        if self.lr0 is None:  # a resumed run keeps the first run's initial rate
            self.lr0 = self.trainer.optimizer.lr

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.trainer.optimizer
        if self.schedule == "cosine":
            opt.lr = cosine_schedule(epoch, self.epochs, self.lr0)
        else:
            opt.lr = check_positive(self.schedule(epoch, self.lr0), f"lr_schedule({epoch}, {self.lr0:g})")

    def on_train_end(self, logs=None):
        # The optimiser leaves with the rate it came with: a second fit (or one after a resume)
        # schedules from lr0 again, not from the last, nearly zero, cosine rate.
        self.trainer.optimizer.lr = self.lr0

    def state_dict(self):
        return {"lr0": self.lr0}

    def load_state_dict(self, state):
        lr0 = state.get("lr0")
        if not _is_number(lr0) or not 0 < lr0 < math.inf:
            raise ValueError(f"lr0 must be a finite number > 0, got {lr0!r}")
        self.lr0 = float(lr0)


class EarlyStopping(Callback):
    """Track the best validation loss; with ``patience``, stop and keep the best weights.

    An epoch improves when its validation loss is below the best so far by
    more than ``min_delta``. Without ``patience`` this only records
    ``history.best_epoch``. With it, training stops after ``patience``
    epochs without improvement and the network gets the best epoch's
    weights back at the end.
    """

    def __init__(self, patience: int | None = None, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_val, self.wait, self.best_params = math.inf, 0, None

    def on_epoch_end(self, epoch, logs=None):
        val, history = logs["val_loss"], self.trainer.history
        if val < self.best_val - self.min_delta:
            self.best_val, self.wait, history.best_epoch = val, 0, epoch
            if self.patience is not None:
                self.best_params = self.trainer.net.params.copy()
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            history.stopped_early = True
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if logs and logs.get("failed"):  # an error keeps the weights the error left (the epoch's start)
            return
        if self.patience is not None and self.best_params is not None:
            self.trainer.net.params[...] = self.best_params

    def state_dict(self):
        state: dict[str, Any] = {"best_val": None if math.isinf(self.best_val) else self.best_val,
                                 "wait": self.wait}
        if self.best_params is not None:
            state["best_params"] = self.best_params
        return state

    def load_state_dict(self, state):
        best, wait, params = state.get("best_val"), state.get("wait"), state.get("best_params")
        if not (best is None or (_is_number(best) and math.isfinite(best))) or not _is_count(wait):
            raise ValueError(f"early-stopping state needs best_val (a finite number or null) and wait "
                             f"(an int >= 0), got {best!r}, {wait!r}")
        net = self.trainer.net
        if params is not None and np.shape(params) != net.params.shape:
            raise ValueError(f"best_params has shape {np.shape(params)}, expected {net.params.shape}")
        self.best_val = math.inf if best is None else float(best)
        self.wait = wait
        self.best_params = None if params is None else np.asarray(params, dtype=net.dtype)


class LambdaCallback(Callback):
    """``fit``'s older ``callback=fn``: ``fn(epoch, logs)`` after every epoch; returning True stops."""

    def __init__(self, on_epoch_end: Callable[[int, dict], Any]):
        if not callable(on_epoch_end):
            raise TypeError(f"callback must be a function callback(epoch, logs), got {on_epoch_end!r}.")
        self.fn = on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        result = self.fn(epoch, logs)
        if isinstance(result, (bool, np.bool_)) and result:  # np.True_ counts too
            self.trainer.stop_training = True


class GradientNorms(Callback):
    """Per-layer gradient sizes: ``norms[epoch][layer] = (||dW||, ||db||)``, the mean over the epoch's steps.

    Vanishing gradients (sigmoid and tanh in deep nets) show as norms
    that shrink towards the first layer; dead ReLU units as rows of zeros
    in ``dW``.
    """

    def on_train_begin(self, logs=None):
        self.norms: list[list[tuple[float, float]]] = getattr(self, "norms", [])
        self._views = self.trainer.net.unflatten(self.trainer.grad)

    def on_epoch_begin(self, epoch, logs=None):
        self._sum, self._steps = np.zeros((len(self._views), 2)), 0

    def on_batch_end(self, batch, logs=None):
        for row, (dW, db) in zip(self._sum, self._views):
            row[0] += math.sqrt(float(np.vdot(dW, dW)))
            row[1] += math.sqrt(float(np.vdot(db, db)))
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        self.norms.append([(float(w), float(b)) for w, b in self._sum / max(self._steps, 1)])


class ProgressBar(Callback):
    """Per-epoch progress: a tqdm bar when tqdm is installed, otherwise a line every tenth of the run."""

    def __init__(self, epochs: int, stream=None, desc: str = "training"):
        self.epochs, self.desc = epochs, desc
        self.stream = stream if stream is not None else sys.stderr
        self.bar = None
        self.every = max(1, epochs // 10)

    def on_train_begin(self, logs=None):
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=self.epochs, initial=self.trainer.start_epoch, desc=self.desc, unit="epoch",
                        file=self.stream, leave=True, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        shown = {"loss": f"{logs['loss']:.4g}"}
        if "val_loss" in logs:
            shown["val_loss"] = f"{logs['val_loss']:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(epoch + 1 - self.bar.n)
        elif (epoch + 1) % self.every == 0 or epoch == 0:
            print(f"{self.desc}: epoch {epoch + 1:>5}/{self.epochs}  "
                  + "  ".join(f"{k} {v}" for k, v in shown.items()), file=self.stream, flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def stacklevel_outside_ninestep() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside ninestep.

    ``fit`` is reached from user code directly, through ``Network.fit`` or
    through ``ninestep.sklearn``; a fixed stacklevel would blame one of
    ninestep's own files for some of those.
    """
    frame, level = sys._getframe(1), 1  # level 1: the function that calls warnings.warn
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "ninestep":
        frame, level = frame.f_back, level + 1
    return level
