"""The training checkpoint: everything a run needs to continue bit for bit.

A checkpoint is an archive of :mod:`ninestep.archive` of kind
``"checkpoint"``, written by the :class:`Checkpoint` callback (``fit(...,
checkpoint=PATH)``) and read by ``fit(..., resume_from=PATH)``. Its
description holds the network's (``layer_sizes``, ``activations``,
``dtype``), ``epoch`` (epochs done), the shuffling generator's
``rng_state``, the ``optimizer``'s name and hyperparameters, ``run`` (what
a resumed run must share: the loss, batch size, shuffle, alpha and CRC-32
checksums of the data) and ``callbacks``: each stateful callback's state
by name (the history, early stopping's best loss, the schedule's initial
rate). Arrays: the weights ``W0, b0, ...``, the optimiser's ``opt.*``
(SGD's velocity, Adam's ``m`` and ``v``) and the callbacks' ``cb.NAME.*``
(early stopping's best weights).

A checkpoint is not a model: it holds no scalers and the last epoch's
weights, so :func:`ninestep.load_model` refuses it.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import memory_map_of, release_pages
from .archive import _fail, read_network_archive, write_archive
from .callbacks import Callback, History, _is_count
from .optimizers import Optimizer, get_optimizer

__all__ = ["Checkpoint", "save_checkpoint", "read_checkpoint", "load_checkpoint", "run_fingerprint",
           "optimizer_name"]

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def run_fingerprint(data: tuple, loss_name: str, batch_size: int, shuffle: bool, alpha: float, validation) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint to continue it bit for bit.

    ``data`` is ``(X, Y)`` or ``(X, Y, sample_weight)``. The data enter as CRC-32 checksums (fast, computed once, and only when
    checkpointing or resuming), so that resuming on other data is refused.
    """
    def crc(*arrays) -> int:
        value = 0
        for a in arrays:
            if memory_map_of(a) is None:
                value = zlib.crc32(np.ascontiguousarray(a).data, value)
                continue
            # A memory-mapped file (data larger than memory): block by block, its pages given back.
            rows = max(1, (64 << 20) // max(1, a[:1].nbytes))
            for start in range(0, a.shape[0], rows):
                value = zlib.crc32(np.ascontiguousarray(a[start:start + rows]).data, value)
                release_pages(a)
        return value
    X = data[0]
    return {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "loss": loss_name,
            "batch_size": int(batch_size), "shuffle": shuffle if isinstance(shuffle, str) else bool(shuffle),
            "alpha": float(alpha),
            "data_crc32": crc(*data), "validation_crc32": None if validation is None else crc(*validation)}


def _plain(value):
    """A generator's state as JSON: MT19937, Philox and SFC64 keep arrays in it (NumPy takes lists back)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.tolist() if isinstance(value, np.ndarray) else value


def optimizer_name(optimizer: Optimizer) -> str | None:
    """The name a checkpoint knows an optimiser by (``"sgd"``, ``"adam"``), from its ``state_dict``."""
    try:
        return optimizer.state_dict().get("name")
    except NotImplementedError:
        return None


def _callback_keys(callbacks: list[Callback]) -> list[str]:
    """A name per callback for the file: the class name, numbered when a class appears twice."""
    names = [type(cb).__name__ for cb in callbacks]
    return [name if names.count(name) == 1 else f"{name}#{names[:i].count(name)}" for i, name in enumerate(names)]


def save_checkpoint(path: str | os.PathLike, trainer, callbacks: list[Callback]) -> Path:
    """Write the whole training state of ``trainer`` after its current epoch, atomically."""
    meta, arrays = trainer.net.to_arrays()
    opt_state = trainer.optimizer.state_dict()
    states: dict[str, Any] = {}
    for key, cb in zip(_callback_keys(callbacks), callbacks):
        state = cb.state_dict()
        if state:
            states[key] = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
            arrays.update({f"cb.{key}.{k}": v for k, v in state.items() if isinstance(v, np.ndarray)})
    meta.update(kind="checkpoint", epoch=trainer.epoch + 1, rng_state=_plain(trainer.rng.bit_generator.state),
                run=trainer.fingerprint, callbacks=states,
                optimizer={k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)})
    arrays.update({f"opt.{k}": v for k, v in opt_state.items() if isinstance(v, np.ndarray)})
    return write_archive(path, meta, arrays)


class Checkpoint(Callback):
    """Write the training state to ``path`` every ``every`` epochs, and when training stops."""

    def __init__(self, path: str | os.PathLike, every: int = 1, callbacks: list[Callback] | None = None):
        self.path, self.every = path, every
        self.callbacks = callbacks if callbacks is not None else []  # whose state goes in the file

    def on_epoch_end(self, epoch, logs=None):
        trainer = self.trainer
        if (epoch + 1) % self.every == 0 or trainer.stop_training or epoch + 1 == trainer.epochs:
            save_checkpoint(self.path, trainer, self.callbacks)


class ResumeState:
    """A checkpoint read and checked against the run that resumes it; nothing applied yet."""

    def __init__(self, path, meta: dict, arrays: dict[str, np.ndarray], optimizer: Optimizer):
        self.path, self.meta, self.arrays, self.optimizer = path, meta, arrays, optimizer
        self.epoch: int = meta["epoch"]
        self.history = History.from_dict(meta["callbacks"].get("History", {}))

    def load_callbacks(self, callbacks: list[Callback]) -> None:
        """Give each callback its saved state (checked by the callback; raises ninestep.ModelFileError)."""
        saved = self.meta["callbacks"]
        for key, cb in zip(_callback_keys(callbacks), callbacks):
            if key not in saved:
                continue
            prefix = f"cb.{key}."
            state = {**saved[key], **{k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}}
            try:
                cb.load_state_dict(state)
            except (KeyError, TypeError, ValueError) as exc:
                raise _fail(self.path, f"has an invalid state for {key} ({exc}).") from None

    def apply(self, net, optimizer: Optimizer, rng: np.random.Generator | None = None) -> None:
        """Put the weights, the optimiser's state and the shuffling generator where the checkpoint left them."""
        for i, (W, b) in enumerate(net.unflatten(net.params)):
            W[...], b[...] = self.arrays[f"W{i}"], self.arrays[f"b{i}"]
        optimizer.load_state_dict(self.optimizer.state_dict())
        if rng is not None:
            rng.bit_generator.state = self.meta["rng_state"]


def _optimizer_from(meta: dict, arrays: dict[str, np.ndarray], net) -> Optimizer:
    """A fresh optimiser built (and so validated) from the checkpoint's hyperparameters and state."""
    opt = dict(meta.get("optimizer") or {})
    name = opt.get("name")
    hyper = {"sgd": ("lr", "momentum", "nesterov"), "adam": ("lr", "beta1", "beta2", "eps")}
    if name not in hyper:
        raise ValueError(f"unknown optimizer {name!r}")
    restored = get_optimizer(name, **{k: opt.get(k) for k in hyper[name]})
    if name == "adam" and not _is_count(opt.get("t")):
        raise ValueError(f"Adam's step count t must be an int >= 0, got {opt.get('t')!r}")
    for key, value in arrays.items():
        if key.startswith("opt."):
            if value.shape != net.params.shape or value.dtype.kind != "f":
                raise ValueError(f"optimizer state {key!r} has shape {value.shape} and dtype {value.dtype}, "
                                 f"expected {net.params.shape} floats")
            opt[key[4:]] = value.astype(net.dtype)
    restored.load_state_dict(opt)
    return restored


def _differences(saved: dict, here: dict) -> list[str]:
    return [f"{key} {saved.get(key)!r} there, {here.get(key)!r} here" for key in sorted(set(saved) | set(here))
            if saved.get(key) != here.get(key)]


def read_checkpoint(path: str | os.PathLike, net, optimizer: Optimizer, fingerprint: dict | None = None
                    ) -> ResumeState:
    """Read the checkpoint at ``path`` and check it against a run; change nothing.

    Refused, with every mismatch named: another network (layer sizes,
    activations, output activation, dtype), another optimiser type, or
    (with the resuming run's ``fingerprint``) other data or settings:
    loss, batch size, shuffle, alpha, the data's checksums. A malformed
    file is a ``ninestep.ModelFileError``.
    """
    def extra(name: str) -> bool:
        return name.startswith("opt.") or name.startswith("cb.")

    meta, arrays, saved_net = read_network_archive(path, "checkpoint", type(net), extra)
    here = {"layer_sizes": net.layer_sizes, "activations": [layer.activation.name for layer in net.layers],
            "dtype": net.dtype.name, "optimizer": optimizer_name(optimizer)}
    there = {"layer_sizes": saved_net.layer_sizes, "activations": [l.activation.name for l in saved_net.layers],
             "dtype": saved_net.dtype.name, "optimizer": (meta.get("optimizer") or {}).get("name")}
    run = meta.get("run")
    if not isinstance(run, dict):
        raise _fail(path, "has no description of its run; it was not written by this version of ninestep.")
    differ = _differences(there, here) + (_differences(run, fingerprint) if fingerprint is not None else [])
    if differ:
        raise ValueError(f"checkpoint {str(path)!r} was written by another network, optimizer, or other data or "
                         f"settings ({'; '.join(differ)}); "
                         "resume with the same network, optimizer, data, batch_size, shuffle, loss and alpha, "
                         "or start afresh without resume_from.")
    try:
        if not _is_count(meta.get("epoch")):
            raise ValueError(f"epoch must be an int >= 0, got {meta.get('epoch')!r}")
        if not isinstance(meta.get("callbacks"), dict) or any(not isinstance(v, dict) for v in meta["callbacks"].values()):
            raise ValueError("callbacks must be a JSON object of objects")
        state = meta.get("rng_state")
        if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
            raise ValueError(f"rng_state must be the state of one of {', '.join(_BIT_GENERATORS)}")
        getattr(np.random, state["bit_generator"])().state = state  # NumPy checks the fields
        resumed = ResumeState(path, meta, arrays, _optimizer_from(meta, arrays, net))
        if resumed.history.epochs != meta["epoch"]:
            raise ValueError(f"history has {resumed.history.epochs} epochs but the checkpoint says {meta['epoch']}")
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid training state ({type(exc).__name__}: {exc}).") from None
    return resumed


def load_checkpoint(path: str | os.PathLike, net, optimizer: Optimizer) -> dict:
    """Restore ``net`` and ``optimizer`` from a checkpoint, to inspect it or to train on by hand.

    Everything is checked before anything changes. Returns the loop's
    state: ``epoch`` (epochs done), ``history`` (a :class:`History`),
    ``rng_state`` (the shuffling generator's ``bit_generator.state``) and
    ``callbacks`` (each saved callback's state, arrays included). To
    continue training exactly, use ``fit(..., resume_from=path)`` instead.
    """
    state = read_checkpoint(path, net, optimizer)
    state.apply(net, optimizer)
    callbacks = {key: {**value, **{k.split(".", 2)[2]: v for k, v in state.arrays.items()
                                   if k.startswith(f"cb.{key}.")}}
                 for key, value in state.meta["callbacks"].items()}
    return {"epoch": state.epoch, "history": state.history, "rng_state": state.meta["rng_state"],
            "callbacks": callbacks}
