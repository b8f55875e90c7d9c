"""Step 8: the training loop - batches, epochs, validation, early stopping.

One **epoch** passes over the training set once, in mini-batches of
``batch_size`` rows (``None``: the whole set, the article's full-batch
gradient descent). For every batch: forward, loss and gradients (means over
the batch), one optimiser step. The loss recorded for the epoch is the
mean of the batch losses weighted by batch size - the loss *before* each
update, as Keras and scikit-learn report it (for a full batch, simply the
loss at the start of the epoch).

Safety, in the loop:

* A non-finite loss (the learning rate is too large) stops training at
  once: the weights and the optimiser's state (momentum, moments) are put
  back to the last finite state, at the start of the epoch, and
  :class:`DivergenceError` says to lower the learning rate; training can
  go on from there with a smaller one.
* Early stopping (``patience``) watches the validation loss and restores
  the best weights seen.
* Running out of epochs while the monitored loss is still improving gives
  a :class:`ConvergenceWarning`.
* ``checkpoint=`` writes the whole training state atomically every
  ``checkpoint_every`` epochs; ``resume_from=`` continues from such a file
  and gives the same bits as a run that was never interrupted.
"""

from __future__ import annotations

import math
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._validation import as_generator, check_int, check_nonnegative, check_in_range, check_positive
from .losses import get_loss
from .network import Network, overflow_error, prepare_targets
from .optimizers import Adam, Optimizer

__all__ = ["fit", "History", "ConvergenceWarning", "DivergenceError", "batch_slices"]


class ConvergenceWarning(UserWarning):
    """Training ran out of epochs while the monitored loss was still improving."""


class DivergenceError(FloatingPointError, ValueError):
    """The loss became NaN or infinite; the weights (and the optimiser's state) went back to the epoch's start."""


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Training loss per epoch (including the L2 penalty, which is what
        the optimiser minimises).
    val_loss : list of float
        Validation loss per epoch (data loss only), empty without
        validation data.
    lr : list of float
        Learning rate used in each epoch.
    best_epoch : int or None
        Index (from 0) of the epoch with the lowest validation loss; with
        ``patience`` set, its weights are the ones the network keeps. None
        without validation data.
    stopped_early : bool
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, Any]:
        return {"loss": list(self.loss), "val_loss": list(self.val_loss), "lr": list(self.lr),
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        return cls(loss=[float(v) for v in d["loss"]], val_loss=[float(v) for v in d["val_loss"]],
                   lr=[float(v) for v in d["lr"]], best_epoch=d["best_epoch"],
                   stopped_early=bool(d["stopped_early"]))

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        val = f", val_loss={self.val_loss[-1]:.4g}" if self.val_loss else ""
        return f"History(epochs={self.epochs}{last}{val})"


def batch_slices(n_samples: int, batch_size: int) -> list[slice]:
    """Consecutive slices of ``batch_size`` rows; the last one may be shorter."""
    return [slice(start, min(start + batch_size, n_samples)) for start in range(0, n_samples, batch_size)]


def _cosine(epoch: int, epochs: int, lr0: float) -> float:
    return 0.5 * lr0 * (1.0 + math.cos(math.pi * epoch / epochs))


def fit(net: Network, X: Any, y: Any, loss="mse", optimizer: Optimizer | None = None, epochs: int = 100,
        batch_size: int | None = None, shuffle: bool = True, validation_data=None, seed=None, *,
        alpha: float = 0.0, patience: int | None = None, min_delta: float = 0.0,
        lr_schedule: str | Callable[[int, float], float] | None = None, tol: float = 1e-4,
        callback: Callable[[int, dict], Any] | None = None, checkpoint=None, checkpoint_every: int = 1,
        resume_from=None) -> History:
    """Train ``net`` on ``(X, y)`` and return its :class:`History`.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
    y : targets; see :func:`ninestep.network.prepare_targets`
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    optimizer : SGD or Adam, default ``Adam(lr=1e-3)``
        Its state (momentum, moments) carries on if ``fit`` is called again.
    epochs : int, default 100
        Number of passes over the data (the maximum, with early stopping).
    batch_size : int or None
        Rows per gradient step; ``None`` means the full batch (the article).
    shuffle : bool, default True
        Visit the rows in a new random order every epoch.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch into ``History.val_loss``.
    seed : int or numpy.random.Generator, optional
        Randomness for shuffling; same seed, same bits.
    alpha : float, default 0
        L2 penalty on the weights (see :mod:`ninestep.network`).
    patience : int, optional
        Early stopping: stop after ``patience`` epochs without the
        validation loss improving by more than ``min_delta``, and restore
        the best weights. Needs ``validation_data``.
    lr_schedule : None, "cosine" or callable(epoch, lr0) -> lr
        ``"cosine"`` decays the learning rate from its initial value to 0
        over ``epochs`` along half a cosine, which lets SGD and Adam settle
        into a minimum instead of rattling around it.
    tol : float, default 1e-4
        Relative improvement of the monitored loss over the last epochs
        above which running out of epochs gives a ConvergenceWarning.
    callback : callable(epoch, logs), optional
        Called after every epoch with ``logs = {"loss": ..., "val_loss": ..., "lr": ...}``;
        returning ``True`` stops training.
    checkpoint : path, optional
        Write the full training state there every ``checkpoint_every``
        epochs, atomically (see :func:`ninestep.io.save_checkpoint`).
    resume_from : path, optional
        Continue from a checkpoint written by an earlier call with the same
        data and settings; the result is bit-identical to an uninterrupted run.
    """
    from . import io  # the file format depends on training, not the other way round at import time

    if not isinstance(net, Network):
        raise TypeError(f"net must be a ninestep.Network, got {type(net).__name__}.")
    loss_fn = get_loss(loss)
    loss_fn.check_activation(net.layers[-1].activation)
    epochs = check_int(epochs, "epochs", minimum=0)
    alpha = check_nonnegative(alpha, "alpha")
    min_delta = check_nonnegative(min_delta, "min_delta")
    tol = check_nonnegative(tol, "tol")
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
    if not np.isfinite(net.params).all():
        raise ValueError("the network's weights contain NaN or infinity; build a new Network "
                         "(or load a saved one) before training.")
    X = net._check_X(X)
    Y = prepare_targets(y, loss_fn, net.n_outputs, net.dtype)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {Y.shape[0]}; they must match.")
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    batch_size = min(check_int(batch_size, "batch_size"), n)
    if patience is not None:
        patience = check_int(patience, "patience")
        if validation_data is None:
            raise ValueError("patience (early stopping) needs validation_data=(X_val, y_val) to watch.")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val).")
        X_val = net._check_X(validation_data[0])
        Y_val = prepare_targets(validation_data[1], loss_fn, net.n_outputs, net.dtype)
        if X_val.shape[0] != Y_val.shape[0]:
            raise ValueError(f"validation X has {X_val.shape[0]} rows but y has {Y_val.shape[0]}.")
    if optimizer is None:
        optimizer = Adam(lr=1e-3)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be ninestep.SGD or ninestep.Adam, got {optimizer!r}.")
    if isinstance(lr_schedule, str) and lr_schedule != "cosine":
        raise ValueError(f"lr_schedule must be None, 'cosine' or a callable, got {lr_schedule!r}.")
    if lr_schedule is not None and not isinstance(lr_schedule, str) and not callable(lr_schedule):
        raise TypeError(f"lr_schedule must be None, 'cosine' or a callable, got {lr_schedule!r}.")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(epoch, logs), got {callback!r}.")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
    if loss_fn.name in ("cross_entropy", "binary_cross_entropy"):
        _check_two_classes(Y, loss_fn.name)

    rng = as_generator(seed)
    history = History()
    lr0 = optimizer.lr
    best_params, best_val, wait, start_epoch = None, np.inf, 0, 0
    run = None
    if checkpoint is not None or resume_from is not None:
        run = _fingerprint(X, Y, loss_fn, batch_size, shuffle, alpha,
                           (X_val, Y_val) if validation_data is not None else None)
    if resume_from is not None:
        state = io.load_checkpoint(resume_from, net, optimizer, run=run)
        rng.bit_generator.state = state["rng_state"]
        history = History.from_dict(state["history"])
        lr0, best_val, wait, start_epoch = state["lr0"], state["best_val"], state["wait"], state["epoch"]
        best_params = state.get("best_params")
        if history.stopped_early:  # that run had finished; resuming it must not train any further
            start_epoch = epochs

    grad = np.empty_like(net.params)
    grads = net._augmented(grad)  # each layer's [dW; db], see Network._augmented
    slices = batch_slices(n, batch_size)
    full_batch = len(slices) == 1
    if full_batch:
        # The same targets every epoch: store them samples-contiguous once, like
        # the network's scratch arrays (Network._scratch), so that the loss's
        # A - Y runs along memory in both (5x faster on the article's 7,000 x 3).
        Y = np.asfortranarray(Y)
    # The weights and the optimiser's state at the start of the epoch: a DivergenceError puts both
    # back (for Adam that keeps two parameter-sized copies of its moments during fit).
    snapshot, opt_snapshot = np.empty_like(net.params), None

    def restore_epoch_start() -> str:
        """Put back the start of the epoch; returns what was put back, for the message."""
        net.params[...] = snapshot
        if opt_snapshot is None:
            return "The weights were"
        optimizer.load_state_dict(opt_snapshot)
        return "The weights and the optimizer's state were"

    if shuffle and not full_batch:
        # Batches are gathered into these buffers instead of copying the
        # whole shuffled data set every epoch.
        X_buf = np.empty((batch_size, X.shape[1]), dtype=X.dtype)
        Y_buf = np.empty((batch_size, Y.shape[1]), dtype=Y.dtype)

    first_step = True
    for epoch in range(start_epoch, epochs):
        if lr_schedule == "cosine":
            optimizer.lr = _cosine(epoch, epochs, lr0)
        elif lr_schedule is not None:
            optimizer.lr = check_positive(lr_schedule(epoch, lr0), f"lr_schedule({epoch}, {lr0:g})")
        np.copyto(snapshot, net.params)
        opt_snapshot = None  # drop the last epoch's copy before making the next
        opt_snapshot = _optimizer_state(optimizer)
        order = rng.permutation(n) if shuffle and not full_batch else None
        total = 0.0
        for s in slices:
            if order is None:
                Xb, Yb = X[s], Y[s]
            else:
                idx = order[s]
                # mode="clip" (the indices are a permutation, always valid)
                # spares take's default mode its extra buffered copy; the method
                # skips np.take's Python wrapper (0.5 us a call, 1 % of a seed step).
                if len(idx) == batch_size:
                    Xb = X.take(idx, axis=0, out=X_buf, mode="clip")
                    Yb = Y.take(idx, axis=0, out=Y_buf, mode="clip")
                else:  # the shorter last batch
                    Xb = X.take(idx, axis=0, out=X_buf[:len(idx)], mode="clip")
                    Yb = Y.take(idx, axis=0, out=Y_buf[:len(idx)], mode="clip")
            batch_loss = net._loss_and_grad(Xb, Yb, loss_fn, alpha, grads)
            # Only the loss is checked at every step. A gradient that is not finite makes the
            # update of SGD or Adam, hence the weights, inf or NaN, which makes the next batch's
            # loss (or the check after the epoch) not finite: training stops a step later, with
            # weights and optimiser state put back all the same. (A user's optimiser that turns
            # an infinite gradient into a finite step is trusted to mean it.) Testing the 269,322
            # gradients of the large benchmark at every step (one BLAS dot) took 30-40 us of a
            # 1.4 ms step. The very first step is checked in full: an overflow there is the
            # data's fault.
            if not math.isfinite(batch_loss) or (first_step and not np.isfinite(grad).all()):
                restored = restore_epoch_start()
                if first_step:  # no update yet: the data, not the lr
                    raise overflow_error("the loss or its gradient before the first update", Xb, Yb)
                raise DivergenceError(
                    f"Training diverged in epoch {epoch + 1}: the loss became {batch_loss} "
                    f"with lr={optimizer.lr:g}. {restored} restored to the start of that epoch. "
                    "Try a smaller learning rate (e.g. 10x smaller), standardise the inputs and "
                    "targets, or use Adam.")
            first_step = False
            optimizer.step(net.params, grad)
            total += batch_loss * (s.stop - s.start)
        if not np.isfinite(net.params).all():
            # The epoch's last step overflowed the weights (a huge lr): no later batch of this
            # epoch would notice, and the next epoch's snapshot must be finite.
            restored = restore_epoch_start()
            raise DivergenceError(
                f"Training diverged in epoch {epoch + 1}: an update with lr={optimizer.lr:g} made the "
                f"weights infinite or NaN. {restored} restored to the start of that epoch. "
                "Try a smaller learning rate (e.g. 10x smaller).")
        history.loss.append(total / n)
        history.lr.append(float(optimizer.lr))
        logs = {"epoch": epoch + 1, "loss": history.loss[-1], "lr": history.lr[-1]}
        if validation_data is not None:
            val = net._evaluate(X_val, Y_val, loss_fn)
            if not math.isfinite(val):
                restored = restore_epoch_start()
                if not math.isfinite(net._evaluate(X_val, Y_val, loss_fn)):  # not finite before the epoch either
                    raise overflow_error("the validation loss", X_val, Y_val)
                raise DivergenceError(
                    f"The validation loss became {val} in epoch {epoch + 1} with lr={optimizer.lr:g}. "
                    f"{restored} restored to the start of that epoch. Try a smaller learning rate.")
            history.val_loss.append(val)
            logs["val_loss"] = val
            if val < best_val - min_delta:
                best_val, wait, history.best_epoch = val, 0, epoch
                if patience is not None:
                    best_params = net.params.copy()
            else:
                wait += 1
        stop = callback(epoch, logs) is True if callback is not None else False
        if patience is not None and wait >= patience:
            history.stopped_early = True
            stop = True
        if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or stop or epoch + 1 == epochs):
            io.save_checkpoint(checkpoint, net, optimizer, epoch=epoch + 1,
                               rng_state=rng.bit_generator.state, history=history.as_dict(),
                               lr0=lr0, best_val=best_val, wait=wait, best_params=best_params, run=run)
        if stop:
            break

    net._work.clear()  # the scratch arrays hold a batch of activations; free them
    if patience is not None and best_params is not None:
        net.params[...] = best_params
    if not history.stopped_early and history.epochs >= 2:
        _warn_if_still_improving(history, tol)
    return history


def _optimizer_state(optimizer: Optimizer) -> dict | None:
    """A copy of the optimiser's state to go back to; None if it cannot both save and load one.

    A user's :class:`Optimizer` subclass may implement only ``step``: its state
    is then not restored after a DivergenceError (and the message says so).
    """
    cls = type(optimizer)
    if cls.state_dict is Optimizer.state_dict or cls.load_state_dict is Optimizer.load_state_dict:
        return None
    return optimizer.state_dict()


def _fingerprint(X, Y, loss, batch_size: int, shuffle: bool, alpha: float, validation) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint to continue it bit for bit.

    The data enter as CRC-32 checksums (fast, computed once, and only when
    checkpointing or resuming), so that resuming on other data is refused.
    """
    def crc(*arrays) -> int:
        value = 0
        for a in arrays:
            value = zlib.crc32(np.ascontiguousarray(a).data, value)
        return value
    return {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "loss": loss.name,
            "batch_size": int(batch_size), "shuffle": bool(shuffle), "alpha": float(alpha),
            "data_crc32": crc(X, Y), "validation_crc32": None if validation is None else crc(*validation)}


def _check_two_classes(Y: np.ndarray, loss: str) -> None:
    """A classifier cannot learn from training targets that all name the same class."""
    if loss == "cross_entropy":
        labels = Y.argmax(axis=1)
        single = bool((labels == labels[0]).all())
        which = f"class {int(labels[0])}"
    else:
        single = bool((Y == Y.flat[0]).all())
        which = f"the value {Y.flat[0]:g}"
    if single:
        raise ValueError(
            f"y holds only one class (every target is {which}); a classifier needs examples of at least "
            "two classes. Check the labels, or split with train_test_split(..., stratify=y).")


def _warn_if_still_improving(history: History, tol: float) -> None:
    """Warn when the best monitored loss of the last epochs beats the earlier best by more than ``tol``."""
    curve = history.val_loss or history.loss
    k = max(1, min(10, len(curve) // 10))
    recent, before = min(curve[-k:]), min(curve[:-k])
    if recent < before - tol * max(abs(before), 1e-12):
        which = "validation loss" if history.val_loss else "training loss"
        warnings.warn(
            f"Training stopped after {len(curve)} epochs while the {which} was still improving "
            f"({before:.4g} -> {recent:.4g} over the last {k} epochs); "
            "more epochs or a larger learning rate may help.",
            ConvergenceWarning, stacklevel=_stacklevel_outside_ninestep())


def _stacklevel_outside_ninestep() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside ninestep.

    ``fit`` is reached from user code directly, through ``Network.fit`` or
    through ``ninestep.sklearn``; a fixed stacklevel would blame one of
    ninestep's own files for some of those.
    """
    frame, level = sys._getframe(1), 1  # level 1: the function that calls warnings.warn
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "ninestep":
        frame, level = frame.f_back, level + 1
    return level
