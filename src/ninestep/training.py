"""Step 8: the training loop - epochs, then batches, then a step.

One **epoch** passes over the training set once, in mini-batches of
``batch_size`` rows (``None``: the whole set, the article's full-batch
gradient descent). For every batch: forward, loss and gradients (means over
the batch), one optimiser step. The loss recorded for the epoch is the
mean of the batch losses weighted by batch size - the loss *before* each
update, as Keras and scikit-learn report it (for a full batch, simply the
loss at the start of the epoch).

Everything else - early stopping, divergence, checkpoints, progress, the
learning-rate schedule, the history - is a callback
(:mod:`ninestep.callbacks`), called at fixed points of the loop in
:func:`fit`. The step itself runs through :mod:`ninestep._fastpath`,
which computes what :meth:`Network.loss_and_gradients` and the optimiser's
``step`` compute, faster.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from ._fastpath import TrainingStep, fast_update
from ._validation import (as_generator, check_bool, check_int, check_nonnegative, check_sample_weight,
                          advise_random, memory_map_of, release_pages)
from .callbacks import (Callback, DivergenceError, DivergenceGuard, EarlyStopping, History, LambdaCallback,
                        LearningRateSchedule, stacklevel_outside_ninestep)
from .checkpoint import Checkpoint, optimizer_name, read_checkpoint, run_fingerprint
from .losses import get_loss
from .optimizers import Adam, Optimizer

__all__ = ["fit", "Trainer", "History", "ConvergenceWarning", "DivergenceError", "batch_slices"]


class ConvergenceWarning(UserWarning):
    """Training ran out of epochs while the monitored loss was still improving."""


def batch_slices(n_samples: int, batch_size: int) -> list[slice]:
    """Consecutive slices of ``batch_size`` rows; the last one may be shorter."""
    return [slice(start, min(start + batch_size, n_samples)) for start in range(0, n_samples, batch_size)]


class Trainer:
    """A training run's state, as callbacks see it (``callback.trainer``).

    Attributes: ``net``, ``optimizer``, ``loss`` (a Loss), ``history``,
    ``epoch`` (from 0), ``epochs``, ``start_epoch`` (after a resume),
    ``stop_training`` (set True to stop after this epoch), ``X``, ``Y`` and
    ``w`` (the checked data, targets and sample weights), ``grad`` (the
    last step's flat gradient, laid out like ``net.params``; see
    ``net.unflatten``), ``batch`` (the last step's ``(X, Y)``),
    ``validation`` (``(X_val, Y_val)`` or None), ``rng``, ``alpha``.
    """

    def __init__(self, net, X, Y, loss, optimizer, epochs, batch_size, shuffle, validation, rng, alpha, w=None):
        self.net, self.X, self.Y, self.loss, self.optimizer = net, X, Y, loss, optimizer
        self.w = w  # sample weights, or None
        self.epochs, self.batch_size, self.shuffle = epochs, batch_size, shuffle
        self.validation, self.rng, self.alpha = validation, rng, alpha
        self.history = History()
        self.epoch = self.start_epoch = 0
        self.stop_training = False
        self.grad = np.empty_like(net.params)
        self.batch: tuple[np.ndarray, np.ndarray] | None = None
        self._fingerprint: dict | None = None

    @property
    def fingerprint(self) -> dict:
        """The run's data and settings, as a checkpoint records them (computed once, when needed)."""
        if self._fingerprint is None:
            data = (self.X, self.Y) if self.w is None else (self.X, self.Y, self.w)
            self._fingerprint = run_fingerprint(data, self.loss.name, self.batch_size, self.shuffle,
                                                self.alpha, self.validation)
        return self._fingerprint

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """This epoch's mini-batches ``(X, Y, w)``, in a new random order when shuffling (``w``: None unweighted)."""
        X, Y, w, n, size = self.X, self.Y, self.w, self.X.shape[0], self.batch_size
        if size >= n:
            yield X, Y, w
            return
        mapped = memory_map_of(X) is not None
        if not self.shuffle:
            for i, s in enumerate(batch_slices(n, size)):
                if mapped and i % 256 == 255:  # a file larger than memory: hand back the pages read so far
                    release_pages(X)
                yield X[s], Y[s], None if w is None else w[s]
            return
        order = self.rng.permutation(n) if self.shuffle is True else _block_order(self.rng, n, 64 * size)
        # Each batch is gathered into the same buffers (no copy of the shuffled data set);
        # mode="clip" (a permutation is always in range) spares take its extra buffered copy.
        X_buf, Y_buf, w_buf = self._buffers
        # A file larger than memory: hand back the pages read so far, often. Rows in a random order
        # touch a new page each, and the OS maps 64 KiB around every page it reads in, so they are
        # handed back every 8 batches (and read-ahead is turned off); blocks of consecutive rows
        # touch few pages, every 256 batches will do.
        release_every = 8 if self.shuffle is True else 256
        if mapped and self.shuffle is True:
            advise_random(X)
        for i, s in enumerate(batch_slices(n, size)):
            if mapped and i % release_every == release_every - 1:
                release_pages(X)
            rows = order[s]
            if len(rows) < size:  # the shorter last batch; every other batch fills the buffers (no slicing)
                X_buf, Y_buf = X_buf[:len(rows)], Y_buf[:len(rows)]
                w_buf = None if w_buf is None else w_buf[:len(rows)]
            yield (X.take(rows, axis=0, out=X_buf, mode="clip"), Y.take(rows, axis=0, out=Y_buf, mode="clip"),
                   None if w is None else w.take(rows, out=w_buf, mode="clip"))

    def validation_loss(self) -> float:
        X_val, Y_val = self.validation
        return self.net._data_loss(X_val, Y_val, self.loss)


def _callback_list(callbacks: Any, callback: Callable | None) -> list[Callback]:
    if callbacks is None:
        callbacks = []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of ninestep.Callback objects, got {callbacks!r}.")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must hold ninestep.Callback objects, got {cb!r}; wrap a function "
                            "with ninestep.callbacks.LambdaCallback(fn).")
    return list(callbacks) + ([LambdaCallback(callback)] if callback is not None else [])


_RUNNING = threading.Lock()  # guards the check-and-set of a network's "being trained" mark


def fit(net, X: Any, y: Any, loss="mse", optimizer: Optimizer | None = None, epochs: int = 100,
        batch_size: int | None = None, shuffle: bool = True, validation_data=None, seed=None, *,
        alpha: float = 0.0, patience: int | None = None, min_delta: float = 0.0,
        lr_schedule: str | Callable[[int, float], float] | None = None, tol: float = 1e-4,
        callbacks: list[Callback] | None = None, callback: Callable[[int, dict], Any] | None = None,
        checkpoint=None, checkpoint_every: int = 1, resume_from=None, sample_weight=None) -> History:
    """Train ``net`` on ``(X, y)`` and return its :class:`History`.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
        May be a memory-mapped array (``np.load(path, mmap_mode="r")``) of
        the network's dtype: it is checked block by block and mini-batches
        are gathered from it, handing the pages read back to the OS as it
        goes, so that resident memory holds about a batch and the
        parameters, not the data (see docs/tabular.md for the trade-off of
        shuffling a file).
    y : targets; see :func:`ninestep.losses.prepare_targets`
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    optimizer : SGD, Adam or your own Optimizer, default ``Adam(lr=1e-3)``
        Its state (momentum, moments) carries on if ``fit`` is called again.
    epochs : int, default 100
        Number of passes over the data (the maximum, with early stopping).
    batch_size : int or None
        Rows per gradient step; ``None`` means the full batch (the article).
    shuffle : True (default), False or "blocks"
        Visit the rows in a new random order every epoch. ``"blocks"``
        shuffles the order of blocks of ``64 * batch_size`` consecutive rows
        and the rows inside each block: far fewer reads for a memory-mapped
        file larger than memory (each block is read in one sweep), at the
        cost of batches drawn from one block at a time.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch into ``History.val_loss``.
    seed : int or numpy.random.Generator, optional
        Randomness for shuffling; same seed, same bits.
    alpha : float, default 0
        L2 penalty on the weights (see :mod:`ninestep.network`).
    patience, min_delta : early stopping (:class:`~ninestep.callbacks.EarlyStopping`)
        Stop after ``patience`` epochs without the validation loss
        improving by more than ``min_delta``, and restore the best weights.
        Needs ``validation_data``.
    lr_schedule : None, "cosine" or callable(epoch, lr0) -> lr
        See :class:`~ninestep.callbacks.LearningRateSchedule`.
    tol : float, default 1e-4
        Relative improvement of the monitored loss over the last epochs
        above which running out of epochs gives a ConvergenceWarning (not
        with the cosine schedule, whose last steps are small by design).
    callbacks : list of Callback, optional
        Your own callbacks (:mod:`ninestep.callbacks`), called after
        ninestep's own.
    callback : callable(epoch, logs), optional
        Called after every epoch; returning ``True`` stops training.
    checkpoint : path, optional
        Write the full training state there every ``checkpoint_every``
        epochs, atomically (:mod:`ninestep.checkpoint`).
    resume_from : path, optional
        Continue from a checkpoint written by an earlier call with the same
        network, data and settings; the result is bit-identical to an
        uninterrupted run.
    sample_weight : array of shape (n_samples,), optional
        One weight >= 0 per row: each batch's loss becomes the weighted mean
        and the L2 term's ``n`` the sum of the batch's weights, as in
        scikit-learn. Whole-number weights train a full batch exactly as
        repeating each row that many times would.
    """
    if not (hasattr(net, "params") and hasattr(net, "layers") and hasattr(net, "_check_X")):
        raise TypeError(f"net must be a ninestep.Network, got {type(net).__name__}.")
    loss_fn = get_loss(loss)
    loss_fn.check_activation(net.layers[-1].activation)
    epochs, patience, min_delta, tol = check_fit_options(epochs, patience, min_delta, tol, validation_data)
    alpha = check_nonnegative(alpha, "alpha")
    checkpoint_every = check_int(checkpoint_every, "checkpoint_every")
    if shuffle != "blocks":
        shuffle = check_bool(shuffle, "shuffle")
    user_callbacks = _callback_list(callbacks, callback)
    if not np.isfinite(net.params).all():
        raise ValueError("the network's weights contain NaN or infinity; build a new Network "
                         "(or load a saved one) before training.")
    X, Y = net._checked_targets(X, y, loss_fn)
    n = X.shape[0]
    w = None if sample_weight is None else check_sample_weight(sample_weight, n)
    batch_size = n if batch_size is None else min(check_int(batch_size, "batch_size"), n)
    validation = None
    if validation_data is not None:
        validation = net._checked_targets(*validation_data, loss_fn, what="validation ")
    if optimizer is None:
        optimizer = Adam(lr=1e-3)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be ninestep.SGD or ninestep.Adam, got {optimizer!r}.")
    if (checkpoint is not None or resume_from is not None) and optimizer_name(optimizer) not in ("sgd", "adam"):
        raise TypeError(f"checkpoint= and resume_from= need an optimiser whose state a checkpoint can hold "
                        f"(ninestep.SGD or ninestep.Adam, or a subclass keeping their state_dict); got {optimizer!r}.")
    if loss_fn.name in ("cross_entropy", "binary_cross_entropy"):
        _check_two_classes(Y, loss_fn.name)
    if loss_fn.name == "cross_entropy":
        _warn_about_unused_outputs(Y)
    if alpha and not np.isfinite(net.l2_penalty(alpha, batch_size) * n):
        raise ValueError(f"alpha={alpha:g} is far too large: the L2 penalty alpha / (2 n) ||W||^2 alone overflows "
                         f"{net.dtype.name}. Typical values are 1e-5 to 10.")
    if batch_size >= n:
        # The same targets every epoch: store them samples-contiguous once, like the fast path's
        # scratch arrays, so that the loss's A - Y runs along memory in both.
        Y = np.asfortranarray(Y)

    trainer = Trainer(net, X, Y, loss_fn, optimizer, epochs, batch_size, shuffle, validation,
                      as_generator(seed), alpha, w)
    guard, history = DivergenceGuard(), trainer.history
    own: list[Callback] = [guard, history]
    if lr_schedule is not None:
        own.append(LearningRateSchedule(lr_schedule, epochs))
    if validation is not None:
        own.append(EarlyStopping(patience, min_delta))
    stateful = own + user_callbacks
    everything = stateful + ([Checkpoint(checkpoint, checkpoint_every, stateful)] if checkpoint is not None else [])
    for cb in everything:
        cb.set_trainer(trainer)
    resumed = None
    if resume_from is not None:
        resumed = read_checkpoint(resume_from, net, optimizer, trainer.fingerprint)
    if resumed is not None:
        # A finished early-stopped run must not train any further.
        trainer.start_epoch = epochs if resumed.history.stopped_early else resumed.epoch

    try:
        with _training(net):
            _loop(trainer, everything, resumed, stateful)
    finally:
        for cb in own:  # the History returned must not keep the data, buffers and gradient alive
            cb.trainer = None
    ran_out = not trainer.stop_training and history.epochs == epochs  # not stopped by a callback
    # With the cosine schedule the last epochs take ever smaller steps by design: a loss still
    # creeping down at the end is the schedule landing, not a call for more epochs.
    if ran_out and history.epochs >= 2 and lr_schedule != "cosine":
        _warn_if_still_improving(history, tol)
    return history


def check_fit_options(epochs: Any, patience: Any, min_delta: Any, tol: Any,
                      validation_data: Any) -> tuple[int, int | None, float, float]:
    """The options that every fit checks alike (this module's and ``Ensemble.fit``), checked.

    Returns ``(epochs, patience, min_delta, tol)``; raises if ``validation_data``
    is not a pair ``(X_val, y_val)`` or None, or if early stopping has no validation data to watch.
    """
    epochs = check_int(epochs, "epochs", minimum=0)
    min_delta = check_nonnegative(min_delta, "min_delta")
    tol = check_nonnegative(tol, "tol")
    if patience is not None:
        patience = check_int(patience, "patience")
        if validation_data is None:
            raise ValueError("patience (early stopping) needs validation_data=(X_val, y_val) to watch.")
    if validation_data is not None and (not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2):
        raise ValueError("validation_data must be a pair (X_val, y_val).")
    return epochs, patience, min_delta, tol


class _training:
    """Mark ``net`` as being trained for the length of a ``with`` block; refuse a second trainer."""

    def __init__(self, net):
        self.net = net

    def __enter__(self):
        with _RUNNING:
            other = getattr(self.net, "_trained_by", None)
            if other is not None:
                raise RuntimeError(f"this network is already being trained (by thread {other}); training "
                                   "changes the weights in place, so one network trains in one thread at a "
                                   "time. Train a copy (net.copy()) instead.")
            self.net._trained_by = threading.current_thread().name

    def __exit__(self, *exc):
        self.net._trained_by = None


def _loop(trainer: Trainer, callbacks: list[Callback], resumed, stateful: list[Callback]) -> None:
    """Set up the fast path and the callbacks, then train."""
    net, optimizer = trainer.net, trainer.optimizer
    step = TrainingStep(net, trainer.loss, trainer.alpha, trainer.grad)  # writes the gradient into trainer.grad
    update = fast_update(optimizer)
    if trainer.shuffle and trainer.batch_size < trainer.X.shape[0]:
        trainer._buffers = (np.empty((trainer.batch_size, trainer.X.shape[1]), dtype=trainer.X.dtype),
                            np.empty((trainer.batch_size, trainer.Y.shape[1]), dtype=trainer.Y.dtype),
                            None if trainer.w is None else np.empty(trainer.batch_size))
    batch_callbacks = [cb for cb in callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
    for cb in callbacks:
        cb.on_train_begin()
    logs = {"failed": True}
    try:
        if resumed is not None:
            resumed.load_callbacks(stateful)
            resumed.apply(net, optimizer, trainer.rng)
        # NumPy's overflow warnings are silenced: the divergence guard stops a run whose loss becomes
        # NaN or infinite and says what to do, which says more than "overflow encountered in matmul".
        with np.errstate(over="ignore", invalid="ignore"):
            _epochs(trainer, callbacks, batch_callbacks, step, update)
        logs["failed"] = False
    finally:  # also when training stops with an error, so that a progress bar closes
        for cb in callbacks:
            cb.on_train_end(logs)


def _epochs(trainer: Trainer, callbacks: list[Callback], batch_callbacks: list[Callback], step, update) -> None:
    """Epochs, then batches, then a step: the whole of training."""
    net, optimizer = trainer.net, trainer.optimizer
    n = trainer.X.shape[0] if trainer.w is None else float(trainer.w.sum())
    for epoch in range(trainer.start_epoch, trainer.epochs):
        trainer.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        total = 0.0
        for batch, (Xb, Yb, wb) in enumerate(trainer.batches()):
            trainer.batch = (Xb, Yb)
            batch_loss = step(Xb, Yb, wb)    # forward and back-propagation; the gradient is in trainer.grad
            update(net.params, trainer.grad)  # the optimiser's step
            logs = {"loss": batch_loss, "size": Xb.shape[0]}
            for cb in batch_callbacks:       # the divergence guard checks the loss here
                cb.on_batch_end(batch, logs)
            total += batch_loss * (Xb.shape[0] if wb is None else float(wb.sum()))
        logs = {"epoch": epoch + 1, "loss": total / n, "lr": float(optimizer.lr)}
        if trainer.validation is not None:
            logs["val_loss"] = trainer.validation_loss()
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break


def _block_order(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """Rows in a random order of blocks of ``block`` consecutive rows, each block's rows shuffled."""
    starts = rng.permutation(-(-n // block)) * block
    return np.concatenate([start + rng.permutation(min(block, n - start)) for start in starts])


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


def _warn_about_unused_outputs(Y: np.ndarray) -> None:
    """A softmax output that no training label uses is a class the network can only learn to avoid."""
    unused = np.flatnonzero(Y.max(axis=0) == 0)
    if unused.size:
        warnings.warn(
            f"The network has {Y.shape[1]} softmax outputs but the training labels never use "
            f"{'class' if unused.size == 1 else 'classes'} {', '.join(map(str, unused.tolist()))}; "
            f"build the network with as many outputs as there are classes (labels 0..k-1), or check the labels.",
            UserWarning, stacklevel=stacklevel_outside_ninestep())


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
            ConvergenceWarning, stacklevel=stacklevel_outside_ninestep())
