"""``ninestep train``: the nine steps, printed, on built-in or table data; saves a model.

The default recipe (chosen by ``benchmarks/defaults.py`` on twelve tabular
data sets, five seeds each, against scikit-learn's default MLP: see
docs/cli.md): one hidden layer of 100 ReLU units, Glorot weights for every
layer; standardised inputs and, for regression, standardised targets; Adam
with lr 1e-3 decayed to 0 along a cosine over the epochs; mini-batches of
64; L2 penalty alpha 0.1. When the training set has at least 1000 rows, 10 %
of them are held out to keep the weights of the epoch with the best
validation loss, stopping early when it has not improved for half the
epochs (long on purpose: while the learning rate is still high the
validation loss jumps about, and a short patience stopped some runs at a
lucky early minimum). Below 1000 rows there is no hold-out: its noise
picked lucky early epochs there (iris kept epoch 4) and its rows were
missing from training.

A table file (CSV in any dialect, ``.csv.gz``, Parquet) goes through a
:class:`~ninestep.preprocessing.TablePreprocessor`: text columns one-hot,
gaps imputed with indicator columns (``--missing``), rows with a bad target
dropped and counted; the model file stores it, so that ``predict`` takes
raw rows. A ``.npy`` file (``--target-npy`` for its targets) is
memory-mapped: see docs/cli.md for how it is standardised without being
loaded.

Files in ``--out`` (default ``runs/latest``): ``model.npz`` (network,
scalers, class names; read it with ``ninestep.load_model``), ``loss.png``
and the pictures that fit the task (``--no-pictures`` skips them), ``metrics.json``, ``checkpoint.npz`` (the full training state, every epoch)
and ``run.json`` (the settings, the data source and the run's ``status``:
running, interrupted, failed or finished), so that ``ninestep train
--resume DIR`` continues an interrupted run and ends with the same bits as
a run that was never interrupted.

A run goes: check every option (usage errors, exit 2) -> load the data and
build the network (steps 1-5; bad data, exit 1) -> lock the folder ->
remove the previous run's checkpoint and results and write ``run.json`` ->
train -> write the results. Nothing in the folder changes before the lock,
and from then on ``run.json`` says plainly which run the folder holds and
how it ended (see docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .. import ConvergenceWarning, save_model
from ..callbacks import Callback, GradientNorms, ProgressBar
from ..datasets import DATASETS, file_sha256
from ..layers import INITIALIZERS
from ..plotting import TRAINING_PICTURES
from ..preprocessing import MISSING_MODES
from ..scaling import StandardScaler
from ._common import (DEFAULT_BATCH, EXIT_INTERRUPTED, EXIT_OK, MIN_VAL_ROWS, TRAIN_ALPHA, TRAIN_INIT, TRAIN_LR, Out,
                      UsageError, auto_epochs, auto_patience, fmt, integer, make_optimizer, number, print_json,
                      show_warning)
from ._files import RunLock, write_json
from ._settings import DEFAULT_OUT, DEFAULTS, check, option, train_config
from ._steps import (EVAL_ROWS, Prepared, article_cases, metrics, pictures, prepare, print_cases,
                     print_metrics)

#: What a run writes besides run.json and checkpoint.npz; a new run removes the previous run's
#: (and its checkpoint) when it starts training, so that a folder never mixes two runs.
RESULT_FILES = ("model.npz", "metrics.json", "loss.png", *TRAINING_PICTURES)
#: run.json's own fields besides the settings.
_STATUS_KEYS = ("status", "finished", "error")


def register(sub, common) -> None:
    """Add ``train`` and its options to the subparsers ``sub``."""
    t = sub.add_parser("train", parents=[common], argument_default=argparse.SUPPRESS,
                       help="run the nine steps and save a model",
                       description="Train a network, printing each of the nine steps. With no options: the "
                                   "article's arithmetic data with the default recipe.")
    g = t.add_argument_group("data")
    g.add_argument("--data", help=f"a table file with a header row (CSV with ',', ';' or tab, .csv.gz, Parquet), "
                                  f"a 2-D float .npy file (with --target-npy), or a built-in data set: "
                                  f"{', '.join(DATASETS)} (default: arithmetic)")
    g.add_argument("--target", help="target column(s) of the table, e.g. price or a,b (default: the last column)")
    g.add_argument("--features", help="feature columns (default: every column that is not a target or dropped)")
    g.add_argument("--drop", metavar="COLS", help="columns to leave out, e.g. id,date")
    g.add_argument("--missing", choices=MISSING_MODES,
                   help="gaps and bad cells in features: impute (median / most frequent value, plus a "
                        "<column>_missing column), drop the rows, or error (default impute); rows with a missing "
                        "target are always dropped and counted (refused under error)")
    g.add_argument("--delimiter", help="the table's delimiter: ',', ';' or tab (default: detected)")
    g.add_argument("--decimal", choices=[".", ","], help="decimal mark (default ',' with ';' delimiters, else '.')")
    g.add_argument("--na-values", metavar="LIST",
                   help="cells that mean missing, separated by commas (default: NA,N/A,NaN,null,None,?,- and empty)")
    g.add_argument("--target-npy", metavar="FILE",
                   help="targets of a .npy --data file (one row per row); the data are memory-mapped, not loaded")
    g.add_argument("--task", choices=["regression", "classification"],
                   help="default: inferred (text or few whole-number labels -> classification)")
    g.add_argument("--n-samples", type=integer, help="rows to generate (built-in) or a random subset (CSV)")
    g.add_argument("--test-size", type=number, help="fraction held out for the test (default 0.3)")
    g.add_argument("--val-size", type=number,
                   help=f"fraction of the training rows held out for early stopping (default: 0.1 from "
                        f"{MIN_VAL_ROWS} training rows, else none; none for a .npy file)")
    g = t.add_argument_group("network and training")
    g.add_argument("--layers", help=f"hidden-layer widths, e.g. 64,64 (default {DEFAULTS['layers']})")
    g.add_argument("--activation", choices=["relu", "leaky_relu", "tanh", "sigmoid"],
                   help="hidden-layer activation (default relu)")
    g.add_argument("--init", choices=sorted(INITIALIZERS),
                   help=f"initial weights of every layer (default {TRAIN_INIT})")
    g.add_argument("--bias-init", choices=["zeros", "same"],
                   help="initial biases: zeros, or drawn like the weights as the article does (default zeros)")
    g.add_argument("--optimizer", choices=["adam", "sgd"], help="default adam")
    g.add_argument("--lr", type=number, help=f"learning rate (default {TRAIN_LR:g})")
    g.add_argument("--momentum", type=number, help="SGD momentum, in [0, 1) (default 0)")
    g.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum (needs --momentum > 0)")
    g.add_argument("--epochs", type=integer,
                   help="maximum epochs (default 200, fewer for large data: at most ~40,000 updates)")
    g.add_argument("--batch-size", type=integer, help=f"rows per update; 0 = full batch (default {DEFAULT_BATCH})")
    g.add_argument("--alpha", type=number, help=f"L2 penalty on the weights (default {TRAIN_ALPHA:g})")
    g.add_argument("--patience", type=integer,
                   help="early stopping: epochs without validation improvement (default: half the epochs; 0 = off)")
    g.add_argument("--schedule", choices=["cosine", "constant"],
                   help="learning-rate schedule (default cosine decay to 0)")
    g.add_argument("--shuffle", choices=["full", "blocks"],
                   help="order of the rows each epoch: a full random permutation (default), or blocks of "
                        "64 batches in random order, each read in one sweep (faster from a file larger than memory)")
    g.add_argument("--seed", type=integer, help="seed for data, split, weights and shuffling (default 0)")
    g.add_argument("--dtype", choices=["float64", "float32"], help="default float64")
    g = t.add_argument_group("files")
    g.add_argument("--pictures", action=argparse.BooleanOptionalAction,
                   help="draw the decision boundary or predictions, weights, activations (dead units) and "
                        "gradient norms per layer beside loss.png (default: on, needs matplotlib; off for a "
                        ".npy file)")
    g.add_argument("--out", help=f"output folder (default {DEFAULT_OUT}); one run at a time (see docs/cli.md)")
    g.add_argument("--resume", metavar="DIR",
                   help="continue the interrupted run saved in DIR (its --out folder) with its saved settings; "
                        "takes no other train option")
    t.set_defaults(run=run)


def _check_alpha(p: Prepared, alpha: float, batch: int | None) -> None:
    """Refuse an L2 penalty so large that its gradient (alpha / n) W, squared as Adam squares it,
    overflows the network's dtype at the initial weights: training could only fail, later and less clearly."""
    if not alpha:
        return
    n = batch or len(p.y_fit)
    with np.errstate(over="ignore", invalid="ignore"):
        g = [np.asarray(alpha / n, dtype=p.net.dtype) * layer.W for layer in p.net.layers]
        fine = all(np.isfinite(gW * gW).all() for gW in g)
    if not fine:
        raise UsageError(f"--alpha {alpha:g} is too large: the L2 penalty's gradient (alpha / n) W overflows "
                         f"{p.net.dtype.name} at the initial weights; typical values are 1e-5 to 1.")


# ---------------------------------------------------------------------- the run folder
def _write_run(out_dir: Path, cfg: dict, status: str, error: str | None = None) -> None:
    record = {**cfg, "status": status, "finished": status == "finished"}
    if error:
        record["error"] = error
    write_json(out_dir / "run.json", record)


def _read_run(run_dir: Path) -> tuple[dict, bytes]:
    """The settings saved in ``run_dir/run.json`` (checked) and the file's bytes."""
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        raise FileNotFoundError(f"cannot resume: {run_file} does not exist (give the --out folder of an "
                                "interrupted 'ninestep train').")
    raw = run_file.read_bytes()

    def no_constant(name):
        raise ValueError(f"{name} is not a JSON number")
    try:
        record = json.loads(raw.decode("utf-8"), parse_constant=no_constant)
        if not isinstance(record, dict):
            raise ValueError("expected a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot resume: {run_file} is not valid JSON ({exc}).") from None
    if record.get("finished"):
        raise ValueError(f"the run in {run_dir} already finished (its model is {run_dir / 'model.npz'}); "
                         "start a new one with 'ninestep train --out NEW_FOLDER'.")
    cfg = {k: v for k, v in record.items() if k not in _STATUS_KEYS}
    try:
        missing = [k for k in ("data", "seed", "layers", "lr", "epochs", "patience") if k not in cfg]
        if missing:
            raise UsageError(f"it has no {', '.join(missing)}")
        check({**{k: v for k, v in DEFAULTS.items() if k not in ("layers",)}, **cfg})
    except UsageError as exc:
        raise ValueError(f"cannot resume: {run_file} holds invalid settings ({exc}).") from None
    return cfg, raw


def _start(out_dir: Path, cfg: dict) -> dict[str, int]:
    """A new run takes over the folder: the previous run's checkpoint first (so that it can never be
    resumed as this run's), then its results, then this run's run.json. Returns the removed regular
    files' permission bits, which the new run's files of the same names get back (:func:`_keep_modes`)."""
    modes = {}
    for name in ("checkpoint.npz", *RESULT_FILES):
        path = out_dir / name
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                modes[name] = stat.S_IMODE(st.st_mode)
            path.unlink()  # a symbolic link is removed itself, never what it points to
    _write_run(out_dir, cfg, "running")
    return modes


def _keep_modes(out_dir: Path, modes: dict[str, int]) -> None:
    """Give the new files the modes their predecessors had (a shared folder stays as readable as it was)."""
    for name, mode in modes.items():
        try:  # O_NOFOLLOW: never change the mode of a file a link points to
            fd = os.open(out_dir / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue  # this run did not write it (e.g. no loss curve with --epochs 0)
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------- the run
def run_training(cfg: dict, out_dir: Path, out: Out, progress: bool, resume: bool = False,
                 run_bytes: bytes | None = None) -> tuple[int, dict]:
    """Steps 1-9 for ``cfg``, writing into ``out_dir`` under its lock. Returns (exit code, result dict)."""
    p = prepare(cfg, out)
    n_fit = len(p.y_fit)
    batch = None if cfg["batch_size"] in (None, 0) or cfg["batch_size"] >= n_fit else cfg["batch_size"]
    epochs = cfg["epochs"] if cfg["epochs"] is not None else auto_epochs(n_fit, batch)
    patience = cfg["patience"]
    if patience == "auto":  # half the epochs with a validation set; none without one (too few rows)
        patience = auto_patience(epochs) if p.y_val is not None else 0
    cfg = {**cfg, "epochs": epochs, "patience": patience}
    _check_alpha(p, cfg["alpha"], batch)
    digest = None if cfg["data"] in DATASETS or not os.path.isfile(cfg["data"]) else file_sha256(cfg["data"])
    target_digest = file_sha256(cfg["target_npy"]) if cfg.get("target_npy") else None
    changed = (cfg.get("data_sha256") not in (None, digest)
               or cfg.get("target_sha256") not in (None, target_digest))
    if resume and changed:
        raise ValueError(f"the data file {cfg['data']} (or its --target-npy) changed since this run started; resuming "
                         "would not give the same model. Start a new run instead.")
    cfg["data_sha256"] = digest
    if target_digest is not None:
        cfg["target_sha256"] = target_digest

    with RunLock(out_dir):
        modes: dict[str, int] = {}
        if resume:
            if (out_dir / "run.json").read_bytes() != run_bytes:
                raise ValueError(f"{out_dir / 'run.json'} changed while this run was loading its data (another "
                                 "run used the folder); nothing was resumed.")
            _write_run(out_dir, cfg, "running")
        else:
            modes = _start(out_dir, cfg)
        try:
            p.materialise(out_dir, out)
            return _train(p, cfg, batch, out_dir, out, progress, resume)
        except KeyboardInterrupt:
            _write_run(out_dir, cfg, "interrupted")
            raise
        except BaseException as exc:
            _write_run(out_dir, cfg, "failed", error=str(exc).replace("\n", " ") or type(exc).__name__)
            raise
        finally:
            p.discard()
            _keep_modes(out_dir, modes)


def _train(p: Prepared, cfg: dict, batch: int | None, out_dir: Path, out: Out, progress: bool,
           resume: bool) -> tuple[int, dict]:
    """Steps 6-9 with the folder locked and run.json written."""
    net, epochs = p.net, cfg["epochs"]
    Xs_fit = p.s(p.X_fit)
    T_fit = p.t(p.y_fit)
    val = (p.s(p.X_val), p.t(p.y_val)) if p.X_val is not None else None
    # A file larger than memory shows steps 6-7 on its first rows; data in memory, on every row.
    X6, T6 = Xs_fit[:EVAL_ROWS], T_fit[:EVAL_ROWS]
    loss0, grads = net.loss_and_gradients(X6, T6, loss=p.loss)
    rows = "" if len(X6) == len(Xs_fit) else f" (the first {len(X6)} of {len(Xs_fit)} rows)"
    out(f"Step 6  Forward: X {X6.shape} -> y_hat {net.forward(X6).shape}{rows}")
    out(f"Step 7  Back-propagate: initial training loss {fmt(loss0)}{rows}; gradients "
        + ", ".join(f"dW{i + 1}{dW.shape} db{i + 1}{db.shape}" for i, (dW, db) in enumerate(grads)))
    opt_text = (f"Adam lr {cfg['lr']:g}" if cfg["optimizer"] == "adam"
                else f"SGD lr {cfg['lr']:g}, momentum {cfg['momentum']:g}"
                + (" (Nesterov)" if cfg.get("nesterov") else ""))
    out(f"Step 8  Optimise: {opt_text}"
        + (", cosine decay" if cfg["schedule"] == "cosine" else "")
        + f", {'full batch' if batch is None else f'batches of {batch}'}, up to {epochs} epochs"
        + (f", early stopping after {cfg['patience']} epochs without improvement (best weights kept)"
           if cfg["patience"] else "")
        + (f", L2 alpha {cfg['alpha']:g}" if cfg["alpha"] else "")
        + (", shuffled in blocks of 64 batches" if cfg.get("shuffle") == "blocks" else ""))

    checkpoint = out_dir / "checkpoint.npz"
    resume_from = checkpoint if resume and checkpoint.is_file() else None
    if resume:
        out(f"        resuming from {checkpoint}" if resume_from else
            "        no checkpoint was written before the interruption; starting from the first epoch")
    best = KeepBest()
    bar = ProgressBar(epochs, stream=sys.stderr, desc="        training") if progress and not out.silent else None
    norms = GradientNorms() if cfg.get("pictures") else None
    callbacks = [cb for cb in (best, bar, norms) if cb is not None]

    start = time.perf_counter()
    caught: list = []
    failed = True
    try:
        # Warnings are held back until the progress bar is closed, so they do not break it.
        # NumPy's overflow warnings are silenced: fit checks every loss for NaN/inf and
        # raises DivergenceError with advice, which says more than "overflow in matmul".
        with warnings.catch_warnings(record=True) as caught, np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("always")
            history = net.fit(Xs_fit, T_fit, loss=p.loss, optimizer=make_optimizer(cfg), epochs=epochs,
                              batch_size=batch, shuffle="blocks" if cfg.get("shuffle") == "blocks" else True,
                              validation_data=val, seed=p.fit_seed,
                              alpha=cfg["alpha"], patience=cfg["patience"] or None,
                              lr_schedule="cosine" if cfg["schedule"] == "cosine" else None, callbacks=callbacks,
                              checkpoint=checkpoint, checkpoint_every=1, resume_from=resume_from)
        failed = False
    except KeyboardInterrupt:
        if bar is not None:
            bar.on_train_end()  # fit ends its callbacks only when training ends; close the bar before the message
        params = best.params if best.params is not None else net.params
        if np.isfinite(params).all():
            net.params[...] = params
            _save(out_dir, p, net, cfg, info={"interrupted": True})
            msg = (f"interrupted: saved the best model so far to {out_dir / 'model.npz'}; continue with "
                   f"'ninestep train --resume {out_dir}'.")
        else:
            msg = "interrupted before the weights were finite; nothing saved."
        _write_run(out_dir, cfg, "interrupted")
        print(msg, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED, {"interrupted": True, "out": str(out_dir)}
    finally:
        if bar is not None:
            bar.on_train_end()
        for w in caught:
            # With the cosine schedule the last epochs take ever smaller steps by design, so the
            # loss still creeping down at the end is the schedule landing, not a call for more epochs.
            # When training fails, its one-line error says what went wrong; the warnings that led up
            # to it (a loss explosion before a divergence) would only come first and say less.
            if not (failed or issubclass(w.category, ConvergenceWarning) and cfg["schedule"] == "cosine"):
                show_warning(w.message, w.category, w.filename, w.lineno)
    seconds = time.perf_counter() - start
    stopped = (f"stopped early at epoch {history.epochs}, kept the weights of epoch {history.best_epoch + 1}"
               if history.stopped_early else f"ran {history.epochs} epochs")
    out(f"        {stopped} ({seconds:.1f} s)")

    m = metrics(p, net)
    m.update(epochs_run=history.epochs, best_epoch=None if history.best_epoch is None else history.best_epoch + 1,
             stopped_early=history.stopped_early, seconds=seconds, n_params=net.n_params)
    print_metrics(m, p, out)
    if cfg["data"] == "arithmetic":
        m["article_cases"] = article_cases(p, net)
        print_cases(m["article_cases"], p.data.target_names, out)

    files = _save(out_dir, p, net, cfg, info={"metrics": {k: v for k, v in m.items()
                                                          if k.startswith("test_") and k != "test_confusion_matrix"}})
    files["metrics"] = out_dir / "metrics.json"
    m["history"] = history.as_dict()
    write_json(files["metrics"], {"config": cfg, "metrics": m})
    files.update(pictures(p, net, history, out_dir, out, norms.norms if norms is not None else None))
    _write_run(out_dir, cfg, "finished")  # --resume refuses a finished run
    out.saved(files.values())
    example = "--input 30,70" if cfg["data"] == "arithmetic" else \
        f"--data {cfg['data']}" if p.pre is not None else "--data FILE.csv"
    out(f"Next    ninestep predict --model {files['model']} {example}")
    return EXIT_OK, {"out": str(out_dir), "files": {k: str(v) for k, v in files.items()}, "metrics": m,
                     "config": cfg}


class KeepBest(Callback):
    """The weights of the epoch with the best validation loss so far: what Ctrl-C saves.

    (fit's early stopping keeps the best weights too, but hands them back only when training ends.)
    """

    def __init__(self):
        self.val_loss, self.params = np.inf, None

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" in logs and logs["val_loss"] < self.val_loss:
            self.val_loss, self.params = logs["val_loss"], self.trainer.net.params.copy()


def _save(out_dir: Path, p: Prepared, net, cfg: dict, info: dict) -> dict:
    path = out_dir / "model.npz"
    # A .npy file was standardised into a scratch file; the model keeps that scaler so that it takes raw rows.
    x_scaler = p.x_scaler if p.mean_ is None else StandardScaler.from_params(p.mean_, p.scale_)
    save_model(path, net, x_scaler=x_scaler, y_scaler=None if p.pre is not None else p.y_scaler,
               classes=p.data.classes, task=p.data.task, feature_names=p.data.feature_names,
               target_names=p.data.target_names, info={"data": cfg["data"], "seed": cfg["seed"], **info},
               preprocessor=p.pre)
    return {"model": path}


def run(args, out: Out) -> int:
    """``ninestep train``: a new run into --out, or --resume DIR."""
    given = {k: v for k, v in vars(args).items() if k in DEFAULTS}
    resume = given.pop("resume", None)
    progress = not args.quiet
    if resume is not None:
        if given:
            # The saved settings are the run's; an option here would be silently ignored, so it is refused.
            raise UsageError(f"--resume continues a run with its saved settings and takes no other train option; "
                             f"drop {', '.join(map(option, given))} (or start a new run with --out).")
        run_dir = Path(resume)
        if run_dir.is_file():
            run_dir = run_dir.parent
        cfg, raw = _read_run(run_dir)
        out(f"Resuming the run in {run_dir} with its saved settings.")
        code, result = run_training(cfg, run_dir, out, progress, resume=True, run_bytes=raw)
    else:
        opts = {**DEFAULTS, **given}
        cfg = train_config(opts)
        code, result = run_training(cfg, Path(opts["out"]), out, progress)
    if out.as_json:
        print_json(result)
    return code
