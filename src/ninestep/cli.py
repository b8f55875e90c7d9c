"""The ``ninestep`` command: the nine steps on built-in or CSV data.

Commands::

    ninestep train      [--data NAME|FILE.csv --target COL ...]  the nine steps, printed; saves a model
    ninestep reproduce  [--epochs N]   the article's exact set-up beside the default one, with a diagnosis
    ninestep predict    --model FILE (--data FILE.csv | --input 30,70)
    ninestep evaluate   --model FILE --data FILE.csv [--target COL]
    ninestep summary    --model FILE
    ninestep gradcheck  [--layers 5,4 --activation tanh --loss mse]   back-propagation vs central differences

Exit codes: 0 success, 2 usage error (a bad option), 1 any other error
(bad data, missing file, divergence), 130 interrupted with Ctrl-C (the last
good model is saved first). An error is one line on stderr; ``--debug``
shows the traceback. ``--json`` prints one JSON object on stdout instead of
the human-readable report.

``train`` writes into ``--out`` (default ``runs/latest``): ``model.npz``
(network, scalers, class names; read it with ``ninestep.load_model``),
``loss.png``, ``metrics.json``, ``checkpoint.npz`` (the full training state,
every epoch, atomically) and ``run.json`` (the settings and data source, so
that ``ninestep train --resume DIR`` continues an interrupted run and ends
with the same bits as a run that was never interrupted).

The default recipe (checked on regression and classification data sets in
the project's report): hidden layers 64, 64 with ReLU; standardised inputs
and, for regression, standardised targets; Adam with lr 0.01 decayed to 0
along a cosine over the epochs; mini-batches of 64; 10 % of the training
rows held out to keep the weights of the epoch with the best validation loss,
stopping early when it has not improved for half the epochs. (The patience
is long on purpose: while the learning rate is still high the validation
loss jumps about, and a short patience stopped some arithmetic runs at a
lucky early minimum - 5 of 10 seeds with patience 30, 1 of 10 with 50.)

This module is a convenience on top of the core: it uses tqdm (progress
bar) and matplotlib (loss curve) when installed and works without them.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .data import make_arithmetic, train_test_split
from .datasets import DATASETS, load_dataset
from .gradcheck import check_gradients
from .io import load_model, save_model
from .layers import INITIALIZERS
from .metrics import accuracy, confusion_matrix, mae, mse, r2
from .network import Network
from .optimizers import SGD, Adam
from .scaling import StandardScaler
from .tabular import infer_task, parse_columns, read_csv, read_header
from .training import ConvergenceWarning

__all__ = ["main", "build_parser"]

DEFAULT_OUT = os.path.join("runs", "latest")
#: The article's four test cases; (888, 122) lies outside the training range [0, 100).
ARTICLE_CASES = np.array([[30.0, 70.0], [70.0, 30.0], [3.0, 5.0], [888.0, 122.0]])
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: The default recipe of ``train`` (and of the "default" column of ``reproduce``).
DEFAULT_LAYERS, DEFAULT_LR, DEFAULT_BATCH = (64, 64), 1e-2, 64


class UsageError(Exception):
    """A bad command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help').")


# ---------------------------------------------------------------------- output
class Out:
    """Where the human-readable report goes: stdout, unless --quiet or --json."""

    def __init__(self, quiet: bool = False, as_json: bool = False, stream=None):
        self.silent = quiet or as_json
        self.as_json = as_json
        self.stream = stream if stream is not None else sys.stdout

    def __call__(self, text: str = "") -> None:
        if not self.silent:
            print(text, file=self.stream, flush=True)

    def block(self, text: str, indent: str = "        ") -> None:
        self(indent + text.replace("\n", "\n" + indent))


def _fmt(value: float) -> str:
    """A number in at most about 7 characters."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in header]] + [[c if isinstance(c, str) else _fmt(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _write_json(path: Path, obj: dict) -> None:
    """Write JSON atomically: a temp file in the same folder, then os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, default=_json_default)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------- data
@dataclass
class Data:
    """The data a command works on, with targets encoded for the network."""

    X: np.ndarray
    y: np.ndarray            # regression: float targets; classification: int codes 0..k-1
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list | None
    source: str              # data set name or absolute file path
    description: str = ""


def _is_builtin(source: str) -> bool:
    return source in DATASETS and not os.path.exists(source)


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _encode_labels(y: np.ndarray, name: str) -> tuple[np.ndarray, list]:
    """Class labels (strings or whole numbers) -> codes 0..k-1 and the sorted class names."""
    if y.ndim != 1:
        raise ValueError("classification needs a single target column; give one --target.")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(y != np.round(y))
        if bad.size:
            raise ValueError(f"target {name!r} has continuous values (e.g. {y[bad[0]]!r} in row {bad[0]}) "
                             "but the task is classification; use --task regression, or give class labels.")
        y = y.astype(np.int64)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"target {name!r} has a single class ({classes[0]!r}); classification needs at "
                         "least two.")
    return codes.astype(np.int64), [c.item() if hasattr(c, "item") else c for c in classes]


def load_data(source: str, target=None, features=None, task: str | None = None,
              n_samples: int | None = None, seed=None, out: Out | None = None) -> Data:
    """Load a built-in data set or a CSV file, and encode its targets for ``task``."""
    if _is_builtin(source):
        if target is not None or features is not None:
            raise UsageError(f"--target and --features apply to CSV files, not the built-in data set {source!r}.")
        ds = load_dataset(source, n_samples=n_samples, seed=seed)
        if task is not None and task != ds.task:
            raise UsageError(f"the built-in data set {source!r} is a {ds.task} task; drop --task {task}.")
        return Data(ds.X, ds.y, ds.task, ds.feature_names, ds.target_names, ds.classes, source, ds.description)
    if not os.path.exists(source) and not source.lower().endswith((".csv", ".txt", ".tsv")) and os.sep not in source:
        raise FileNotFoundError(f"no data file or built-in data set called {source!r}; built-in data sets are "
                                f"{', '.join(DATASETS)}.")
    targets = parse_columns(target)
    if targets is None:
        # No --target: the last column, as most tabular files put it last; say so.
        columns = read_header(source)
        targets = [columns[-1]]
        if out is not None:
            out(f"        (no --target given: using the last column, {targets[0]!r}; pass --target to choose)")
    table = read_csv(source, target=targets, features=features)
    if n_samples is not None and n_samples < table.n_rows:
        keep = np.sort(np.random.default_rng(seed).permutation(table.n_rows)[:n_samples])
        table.X, table.y = table.X[keep], table.y[keep]
    y = table.y
    task = task or infer_task(y)
    classes = None
    if task == "classification":
        y, classes = _encode_labels(y, targets[0])
    elif y.dtype == object:
        raise ValueError(f"target {targets[0]!r} holds text labels such as {y[0]!r}; that is a classification "
                         "target, so drop --task regression.")
    return Data(table.X, y, task, table.feature_names, table.target_names, classes,
                os.path.abspath(source), f"{os.path.basename(source)}: {table.n_rows} rows")


def _ranges(X: np.ndarray, names: list[str], limit: int = 8) -> str:
    rows = [[n, float(X[:, j].min()), float(X[:, j].max()), float(X[:, j].mean())]
            for j, n in enumerate(names[:limit])]
    text = _table(["column", "min", "max", "mean"], rows)
    if len(names) > limit:
        text += f"\n... and {len(names) - limit} more columns"
    return text


# ---------------------------------------------------------------------- the recipe
def _parse_layers(spec: str) -> list[int]:
    try:
        sizes = [int(s) for s in str(spec).split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--layers must be hidden-layer widths separated by commas, e.g. 64,64; got {spec!r}.") from None
    if any(s < 1 for s in sizes):
        raise UsageError(f"--layers widths must be >= 1, got {spec!r}.")
    return sizes


def auto_patience(epochs: int) -> int:
    """Default early-stopping patience: half the epochs (at least 10); see the module docstring for why."""
    return max(10, epochs // 2)


def auto_epochs(n_fit: int, batch_size: int | None, max_epochs: int = 200, budget_steps: int = 40_000) -> int:
    """Default epochs: 200, fewer for big data so that training takes at most ~40,000 updates (at least 20 epochs)."""
    steps = math.ceil(n_fit / min(batch_size or n_fit, n_fit))
    return int(min(max_epochs, max(20, math.ceil(budget_steps / steps))))


@dataclass
class Prepared:
    """Everything a training run needs, rebuilt identically from its config."""

    data: Data
    X_fit: np.ndarray
    X_val: np.ndarray | None
    X_test: np.ndarray
    y_fit: np.ndarray
    y_val: np.ndarray | None
    y_test: np.ndarray
    x_scaler: StandardScaler
    y_scaler: StandardScaler | None
    net: Network
    loss: str
    fit_seed: Any
    extras: dict = field(default_factory=dict)

    def t(self, y):  # targets as the network sees them
        return self.y_scaler.transform(y) if self.y_scaler is not None else y


def _seeds(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent random streams for each use of the one --seed."""
    data, split, init, fit = np.random.SeedSequence(seed).spawn(4)
    return {"data": data, "split": split, "init": init, "fit": fit}


def prepare(cfg: dict, out: Out) -> Prepared:
    """Steps 1-5 from a run configuration (printed through ``out``)."""
    seeds = _seeds(cfg["seed"])
    out(f"Step 1  Initialise: ninestep {__version__}, NumPy {np.__version__}; every random draw comes "
        f"from --seed {cfg['seed']}")
    data = load_data(cfg["data"], cfg.get("target"), cfg.get("features"), cfg.get("task"), cfg.get("n_samples"),
                     seed=np.random.default_rng(seeds["data"]), out=out)
    n = data.X.shape[0]
    out(f"Step 2  Data: {data.description}")
    out(f"        X {data.X.shape}, y {data.y.shape}; task: {data.task}")
    out.block(_ranges(data.X, data.feature_names))
    if data.task == "classification":
        counts = np.bincount(data.y, minlength=len(data.classes))
        out(f"        classes: " + ", ".join(f"{c} ({k})" for c, k in zip(data.classes, counts)))
    else:
        Y = data.y.reshape(n, -1)
        out.block(_ranges(Y, data.target_names))

    strat = data.task == "classification"
    split_rng = np.random.default_rng(seeds["split"])
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=cfg["test_size"], seed=split_rng, stratify=data.y if strat else None)
        X_val = y_val = None
        if cfg["val_size"] > 0:
            X_fit, X_val, y_fit, y_val = train_test_split(
                X_train, y_train, test_size=cfg["val_size"], seed=split_rng, stratify=y_train if strat else None)
        else:
            X_fit, y_fit = X_train, y_train
    except ValueError as exc:
        raise ValueError(f"cannot split {n} rows into train/validation/test: {exc}") from None
    out(f"Step 3  Split (shuffled{', stratified' if strat else ''}): train {len(X_fit)}"
        + (f" + validation {len(X_val)} (for early stopping)" if X_val is not None else "")
        + f", test {len(X_test)}")

    x_scaler = StandardScaler().fit(X_fit)
    y_scaler = StandardScaler().fit(y_fit) if data.task == "regression" else None
    out(f"Step 4  Standardise, fitted on the {len(X_fit)} training rows only (the test set stays unseen):")
    out.block(_table(["column", "mean", "scale"],
                     [[n_, m, s] for n_, m, s in zip(data.feature_names[:8], x_scaler.mean_, x_scaler.scale_)])
              + (f"\n... and {len(data.feature_names) - 8} more" if len(data.feature_names) > 8 else ""))
    if y_scaler is not None:
        out.block(_table(["target", "mean", "scale"],
                         [[n_, m, s] for n_, m, s in zip(data.target_names, y_scaler.mean_, y_scaler.scale_)]))

    n_out = len(data.classes) if strat else (1 if data.y.ndim == 1 else data.y.shape[1])
    sizes = [data.X.shape[1], *cfg["layers"], n_out]
    init = cfg.get("init")  # absent from the run.json of runs started before --init existed
    net = Network(sizes, activation=cfg["activation"], output_activation="softmax" if strat else "linear",
                  init=init, seed=np.random.default_rng(seeds["init"]), dtype=np.dtype(cfg["dtype"]))
    loss = "cross_entropy" if strat else "mse"
    out(f"Step 5  Network {sizes}: {cfg['activation']} hidden layers, {net.output_activation} output "
        f"(loss: {'cross-entropy' if strat else '1/2 squared error'}), {net.dtype.name}, "
        + (f"{init} weights" if init else "default weights (He for ReLU layers, Glorot otherwise)"))
    out.block(net.summary(n_samples=len(X_fit), warn=False))
    return Prepared(data, X_fit, X_val, X_test, y_fit, y_val, y_test, x_scaler, y_scaler, net, loss,
                    seeds["fit"])


def _make_optimizer(cfg: dict):
    if cfg["optimizer"] == "adam":
        return Adam(lr=cfg["lr"])
    return SGD(lr=cfg["lr"], momentum=cfg["momentum"])


class Progress:
    """Per-epoch progress: a tqdm bar when available, otherwise a line every tenth of the run."""

    def __init__(self, total: int, start: int, enabled: bool, stream=None):
        self.total, self.enabled = total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=start, desc="        training", unit="epoch",
                                file=self.stream, leave=True, dynamic_ncols=True)
        self.every = max(1, total // 10)

    def update(self, epoch: int, logs: dict) -> None:
        if not self.enabled:
            return
        shown = {"loss": f"{logs['loss']:.4g}"}
        if "val_loss" in logs:
            shown["val_loss"] = f"{logs['val_loss']:.4g}"
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(epoch + 1 - self.bar.n)  # epoch counts from the checkpoint on --resume
        elif (epoch + 1) % self.every == 0 or epoch == 0:
            print(f"        epoch {epoch + 1:>5}/{self.total}  " + "  ".join(f"{k} {v}" for k, v in shown.items()),
                  file=sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _metrics(p: Prepared, net: Network) -> dict:
    """Step 9 figures in original units, for the train, validation and test sets."""
    res: dict[str, Any] = {}
    parts = {"train": (p.X_fit, p.y_fit), "test": (p.X_test, p.y_test)}
    if p.X_val is not None:
        parts["validation"] = (p.X_val, p.y_val)
    for part, (X, y) in parts.items():
        Xs = p.x_scaler.transform(X)
        res[f"{part}_loss"] = net.evaluate(Xs, p.t(y), loss=p.loss)
        out = net.forward(Xs)
        if p.data.task == "classification":
            res[f"{part}_accuracy"] = accuracy(y, out.argmax(axis=1))
        else:
            pred = p.y_scaler.inverse_transform(out).reshape(y.shape)
            res[f"{part}_mae"] = dict(zip(p.data.target_names, np.atleast_1d(mae(y, pred, multioutput="raw_values"))))
            res[f"{part}_rmse"] = dict(zip(p.data.target_names,
                                           np.sqrt(np.atleast_1d(mse(y, pred, multioutput="raw_values")))))
            res[f"{part}_r2"] = dict(zip(p.data.target_names, np.atleast_1d(r2(y, pred, multioutput="raw_values"))))
    if p.data.task == "classification":
        pred = net.forward(p.x_scaler.transform(p.X_test)).argmax(axis=1)
        C, _ = confusion_matrix(p.y_test, pred, labels=np.arange(len(p.data.classes)))
        res["test_confusion_matrix"] = C.tolist()
    return {k: ({kk: float(vv) for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in res.items()}


def _print_metrics(m: dict, p: Prepared, out: Out) -> None:
    ratio = m["test_loss"] / m["train_loss"] if m["train_loss"] > 0 else float("inf")
    out(f"Step 9  Test: train loss {_fmt(m['train_loss'])}, test loss {_fmt(m['test_loss'])} "
        f"(test/train {ratio:.2f}; near 1 means it generalises)")
    if p.data.task == "classification":
        out(f"        accuracy: train {m['train_accuracy']:.4f}, test {m['test_accuracy']:.4f}")
        classes = [str(c) for c in p.data.classes]
        if len(classes) <= 12:
            out("        test confusion matrix (rows: true class, columns: predicted):")
            out.block(_table(["", *classes], [[c, *map(str, row)] for c, row in zip(classes, m["test_confusion_matrix"])]))
    else:
        out("        test set, original units:")
        out.block(_table(["target", "MAE", "RMSE", "R2"],
                         [[t, m["test_mae"][t], m["test_rmse"][t], f"{m['test_r2'][t]:.5f}"]
                          for t in p.data.target_names]))


def _article_cases(net: Network, x_scaler, y_scaler) -> list[dict]:
    pred = y_scaler.inverse_transform(net.forward(x_scaler.transform(ARTICLE_CASES)))
    a, b = ARTICLE_CASES[:, 0], ARTICLE_CASES[:, 1]
    truth = np.column_stack([a + b, a - b, np.abs(a - b)])
    return [{"a": float(a_), "b": float(b_), "truth": t.tolist(), "prediction": pr.tolist(),
             "outside_training_range": bool(max(a_, b_) >= 100)}
            for a_, b_, t, pr in zip(a, b, truth, pred)]


def _print_cases(cases: list[dict], names: list[str], out: Out) -> None:
    out("        the article's test cases, original units (truth / prediction / error):")
    rows = []
    for c in cases:
        cells = [f"{t:.0f} / {p:.2f} / {p - t:+.2f}" for t, p in zip(c["truth"], c["prediction"])]
        rows.append([f"({c['a']:.0f}, {c['b']:.0f})", *cells,
                     "<- outside the training range [0, 100)" if c["outside_training_range"] else ""])
    out.block(_table(["(a, b)", *names, ""], rows))


# ---------------------------------------------------------------------- train
def _train_config(args) -> dict:
    lr = DEFAULT_LR if args.lr is None else args.lr
    for name, value, low in (("--lr", lr, 0.0), ("--test-size", args.test_size, 0.0)):
        if not (value > low):
            raise UsageError(f"{name} must be > {low}, got {value}.")
    if not 0 < args.test_size < 1 or not 0 <= args.val_size < 1:
        raise UsageError(f"--test-size must be in (0, 1) and --val-size in [0, 1); got {args.test_size} "
                         f"and {args.val_size}.")
    if args.patience and args.val_size == 0:
        raise UsageError("early stopping (--patience) needs a validation set; give --val-size > 0 or --patience 0.")
    patience = args.patience
    if patience is None:
        patience = "auto" if args.val_size > 0 else 0
    for name in ("epochs", "batch_size", "patience", "n_samples"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {value}.")
    source = args.data
    if not _is_builtin(source) and os.path.exists(source):
        source = os.path.abspath(source)
    return {
        "data": source, "target": args.target, "features": args.features, "task": args.task,
        "n_samples": args.n_samples, "seed": args.seed, "test_size": args.test_size, "val_size": args.val_size,
        "layers": _parse_layers(args.layers), "activation": args.activation, "init": args.init,
        "optimizer": args.optimizer,
        "lr": lr, "momentum": args.momentum, "epochs": args.epochs, "batch_size": args.batch_size,
        "alpha": args.alpha, "patience": patience, "schedule": args.schedule, "dtype": args.dtype,
    }


def run_training(cfg: dict, out_dir: Path, out: Out, progress: bool, resume: bool = False) -> tuple[int, dict]:
    """Steps 1-9 for ``cfg``; writes into ``out_dir``. Returns (exit code, result dict)."""
    p = prepare(cfg, out)
    net = p.net
    n_fit = len(p.X_fit)
    batch = None if cfg["batch_size"] in (None, 0) or cfg["batch_size"] >= n_fit else cfg["batch_size"]
    epochs = cfg["epochs"] if cfg["epochs"] is not None else auto_epochs(n_fit, batch)
    patience = auto_patience(epochs) if cfg["patience"] == "auto" else cfg["patience"]
    cfg = {**cfg, "epochs": epochs, "patience": patience}
    if cfg["data"] in DATASETS or not os.path.isfile(cfg["data"]):
        digest = None
    else:
        digest = _file_digest(cfg["data"])
    if resume:
        if cfg.get("data_sha256") not in (None, digest):
            raise ValueError(f"the data file {cfg['data']} changed since this run started; resuming would not "
                             "give the same model. Start a new run instead.")
    else:
        cfg["data_sha256"] = digest
        out_dir.mkdir(parents=True, exist_ok=True)
        # A checkpoint left by an earlier run in this folder must not be resumed as this one's.
        with contextlib.suppress(FileNotFoundError):
            (out_dir / "checkpoint.npz").unlink()
        _write_json(out_dir / "run.json", {**cfg, "finished": False})

    Xs_fit = p.x_scaler.transform(p.X_fit)
    T_fit = p.t(p.y_fit)
    val = (p.x_scaler.transform(p.X_val), p.t(p.y_val)) if p.X_val is not None else None
    loss0, grads = net.loss_and_gradients(Xs_fit, T_fit, loss=p.loss)
    out(f"Step 6  Forward: X {Xs_fit.shape} -> y_hat {net.forward(Xs_fit).shape}")
    out(f"Step 7  Back-propagate: initial training loss {_fmt(loss0)}; gradients "
        + ", ".join(f"dW{i + 1}{dW.shape} db{i + 1}{db.shape}" for i, (dW, db) in enumerate(grads)))
    opt_text = (f"Adam lr {cfg['lr']:g}" if cfg["optimizer"] == "adam"
                else f"SGD lr {cfg['lr']:g}, momentum {cfg['momentum']:g}")
    out(f"Step 8  Optimise: {opt_text}"
        + (", cosine decay" if cfg["schedule"] == "cosine" else "")
        + f", {'full batch' if batch is None else f'batches of {batch}'}, up to {epochs} epochs"
        + (f", early stopping after {cfg['patience']} epochs without improvement (best weights kept)"
           if cfg["patience"] else "")
        + (f", L2 alpha {cfg['alpha']:g}" if cfg["alpha"] else ""))

    checkpoint = out_dir / "checkpoint.npz"
    resume_from = checkpoint if resume and checkpoint.is_file() else None
    if resume:
        out(f"        resuming from {checkpoint}" if resume_from else
            "        no checkpoint was written before the interruption; starting from the first epoch")
    bar = Progress(epochs, 0, progress and not out.silent)
    best = {"val": np.inf, "params": None}

    def on_epoch(epoch: int, logs: dict) -> None:
        # Keep a copy of the best weights so far: Ctrl-C then saves the best model, not the last.
        if "val_loss" in logs and logs["val_loss"] < best["val"]:
            best["val"], best["params"] = logs["val_loss"], net.params.copy()
        bar.update(epoch, logs)

    start = time.perf_counter()
    optimizer = _make_optimizer(cfg)
    caught: list = []
    try:
        # Warnings are held back until the progress bar is closed, so they do not break it.
        # NumPy's overflow warnings are silenced: fit checks every loss for NaN/inf and
        # raises DivergenceError with advice, which says more than "overflow in matmul".
        with warnings.catch_warnings(record=True) as caught, np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("always")
            history = net.fit(Xs_fit, T_fit, loss=p.loss, optimizer=optimizer, epochs=epochs, batch_size=batch,
                              shuffle=True, validation_data=val, seed=p.fit_seed, alpha=cfg["alpha"],
                              patience=cfg["patience"] or None,
                              lr_schedule="cosine" if cfg["schedule"] == "cosine" else None, callback=on_epoch,
                              checkpoint=checkpoint, checkpoint_every=1, resume_from=resume_from)
    except KeyboardInterrupt:
        bar.close()
        params = best["params"] if best["params"] is not None else net.params
        if np.isfinite(params).all():
            net.params[...] = params
            _save(out_dir, p, net, cfg, info={"interrupted": True})
            msg = (f"interrupted: saved the best model so far to {out_dir / 'model.npz'}; continue with "
                   f"'ninestep train --resume {out_dir}'.")
        else:
            msg = "interrupted before the weights were finite; nothing saved."
        print(msg, file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED, {"interrupted": True, "out": str(out_dir)}
    finally:
        bar.close()
        for w in caught:
            # With the cosine schedule the last epochs take ever smaller steps by design, so the
            # loss still creeping down at the end is the schedule landing, not a call for more epochs.
            if not (issubclass(w.category, ConvergenceWarning) and cfg["schedule"] == "cosine"):
                _show_warning(w.message, w.category, w.filename, w.lineno)
    seconds = time.perf_counter() - start
    stopped = (f"stopped early at epoch {history.epochs}, kept the weights of epoch {history.best_epoch + 1}"
               if history.stopped_early else f"ran {history.epochs} epochs")
    out(f"        {stopped} ({seconds:.1f} s)")

    metrics = _metrics(p, net)
    metrics.update(epochs_run=history.epochs, best_epoch=None if history.best_epoch is None else history.best_epoch + 1,
                   stopped_early=history.stopped_early, seconds=seconds, n_params=net.n_params)
    _print_metrics(metrics, p, out)
    if cfg["data"] == "arithmetic":
        metrics["article_cases"] = _article_cases(net, p.x_scaler, p.y_scaler)
        _print_cases(metrics["article_cases"], p.data.target_names, out)

    files = _save(out_dir, p, net, cfg, info={"metrics": {k: v for k, v in metrics.items()
                                                          if k.startswith("test_") and k != "test_confusion_matrix"}})
    files["metrics"] = out_dir / "metrics.json"
    metrics["history"] = history.as_dict()
    _write_json(files["metrics"], {"config": cfg, "metrics": metrics})
    if not history.epochs:  # --epochs 0: the untrained network is saved and evaluated, without a curve
        out("        (no loss curve: no epochs were run)")
    else:
        try:
            from .plotting import plot_loss_curve
            files["loss_curve"] = plot_loss_curve(
                out_dir / "loss.png", history.loss, history.val_loss, best_epoch=history.best_epoch,
                loss_name="cross-entropy" if p.loss == "cross_entropy" else "loss (1/2 MSE, standardised)",
                title=f"ninestep train: {os.path.basename(cfg['data'])} {p.net.layer_sizes}")
        except ImportError as exc:
            out(f"        (no loss curve: {exc})")
    _write_json(out_dir / "run.json", {**cfg, "finished": True})  # --resume refuses a finished run
    out("Saved   " + ", ".join(str(f) for f in files.values()))
    example = "--input 30,70" if cfg["data"] == "arithmetic" else "--data FILE.csv"
    out(f"Next    ninestep predict --model {files['model']} {example}")
    return EXIT_OK, {"out": str(out_dir), "files": {k: str(v) for k, v in files.items()}, "metrics": metrics,
                     "config": cfg}


def _save(out_dir: Path, p: Prepared, net: Network, cfg: dict, info: dict) -> dict:
    path = out_dir / "model.npz"
    save_model(path, net, x_scaler=p.x_scaler, y_scaler=p.y_scaler, classes=p.data.classes, task=p.data.task,
               feature_names=p.data.feature_names, target_names=p.data.target_names,
               info={"data": cfg["data"], "seed": cfg["seed"], **info})
    return {"model": path}


def cmd_train(args, out: Out) -> int:
    if args.resume:
        run_dir = Path(args.resume)
        if run_dir.is_file():
            run_dir = run_dir.parent
        run_file = run_dir / "run.json"
        if not run_file.is_file():
            raise FileNotFoundError(f"cannot resume: {run_file} does not exist (give the --out folder of an "
                                    "interrupted 'ninestep train').")
        try:
            cfg = json.loads(run_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"cannot resume: {run_file} is not valid JSON ({exc}).") from None
        if cfg.get("finished"):
            raise ValueError(f"the run in {run_dir} already finished (its model is {run_dir / 'model.npz'}); "
                             "start a new one with 'ninestep train --out NEW_FOLDER'.")
        out(f"Resuming the run in {run_dir} with its saved settings (other options are ignored).")
        code, result = run_training(cfg, run_dir, out, progress=not args.quiet, resume=True)
    else:
        cfg = _train_config(args)
        out_dir = Path(args.out)
        code, result = run_training(cfg, out_dir, out, progress=not args.quiet)
    if out.as_json:
        print(json.dumps(result, default=_json_default))
    return code


# ---------------------------------------------------------------------- reproduce
def _relu_usage(net: Network, Xs: np.ndarray) -> tuple[list[float], int]:
    """Measured on the rows of Xs: per hidden layer, the fraction of units that never fire
    (pre-activation <= 0 on every row), and the number of distinct on/off patterns of the
    hidden units - each pattern is one linear piece of the function the net computes."""
    Zs, _ = net._forward(net._check_X(Xs))
    dead = [float((Z <= 0).all(axis=0).mean()) for Z in Zs[:-1]]
    patterns = np.concatenate([Z > 0 for Z in Zs[:-1]], axis=1)
    return dead, int(np.unique(patterns, axis=0).shape[0])


def cmd_reproduce(args, out: Out) -> int:
    epochs = 1_000_000 if args.full else args.epochs
    if epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {epochs}.")
    X, y = make_arithmetic(10_000, seed=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=False)
    xs, ys = StandardScaler().fit(X_train), StandardScaler().fit(y_train)
    Xs_train, Xs_test, T_train, T_test = xs.transform(X_train), xs.transform(X_test), ys.transform(y_train), ys.transform(y_test)
    names = ["a+b", "a-b", "|a-b|"]
    out(f"The article's set-up: 10,000 points (seed {args.seed}), first 70 % train / last 30 % test (unshuffled), "
        "scalers fitted on the training set,")
    out(f"[2, 4, 4, 3] ReLU/linear, He-initialised W and b, full-batch gradient descent, lr {args.lr:g}, "
        f"{epochs:,} epochs" + (" (the article: 1,000,000; --full runs them)." if epochs != 1_000_000 else "."))
    net = Network([2, 4, 4, 3], seed=args.seed, bias_init="same")
    report = max(1, epochs // 10)

    def every(epoch, logs):
        if (epoch + 1) % report == 0:
            out(f"        epoch {epoch + 1:>9,}  loss {logs['loss']:.4f}")

    start = time.perf_counter()
    with warnings.catch_warnings():
        # The article's run is meant to end before it converges; the warning would repeat the printed loss.
        warnings.simplefilter("ignore")
        history = net.fit(Xs_train, T_train, loss="mse", optimizer=SGD(lr=args.lr), epochs=epochs,
                          batch_size=None, shuffle=False, callback=every)
    article_seconds = time.perf_counter() - start

    out("\nThe default configuration of 'ninestep train', on the same split:")
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.1, seed=args.seed)
    T_fit, T_val = ys.transform(y_fit), ys.transform(y_val)
    default = Network([2, *DEFAULT_LAYERS, 3], seed=args.seed)
    default_epochs = args.default_epochs or auto_epochs(len(X_fit), DEFAULT_BATCH)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h2 = default.fit(xs.transform(X_fit), T_fit, optimizer=Adam(lr=DEFAULT_LR),
                         epochs=default_epochs, batch_size=DEFAULT_BATCH, seed=args.seed,
                         validation_data=(xs.transform(X_val), T_val), patience=auto_patience(default_epochs),
                         lr_schedule="cosine")
    default_seconds = time.perf_counter() - start

    rows, result = [], {}
    for label, model, hist, secs in (("article", net, history, article_seconds),
                                     ("default", default, h2, default_seconds)):
        pred = ys.inverse_transform(model.forward(Xs_test))
        cases = _article_cases(model, xs, ys)
        usage = _relu_usage(model, Xs_train)
        curve = hist.loss
        half = curve[len(curve) // 2]
        result[label] = {
            "layers": model.layer_sizes, "n_params": model.n_params, "epochs": hist.epochs, "seconds": secs,
            "train_loss": model.evaluate(Xs_train, T_train), "test_loss": model.evaluate(Xs_test, T_test),
            "test_mae": dict(zip(names, mae(y_test, pred, multioutput="raw_values").tolist())),
            "dead_relu_fraction": usage[0],
            "linear_pieces": usage[1],
            "hidden_units": sum(layer.n_out for layer in model.layers[:-1]),
            "loss_drop_second_half": (half - curve[-1]) / half if half > 0 else 0.0,
            "cases": cases,
        }
    a, d = result["article"], result["default"]
    side = [
        ["layers", str(a["layers"]), str(d["layers"])],
        ["parameters", str(a["n_params"]), str(d["n_params"])],
        ["init", "He W and b", "He W, zero b"],
        ["optimiser", f"GD lr {args.lr:g}, full batch", f"Adam lr {DEFAULT_LR:g}, cosine, batch {DEFAULT_BATCH}"],
        ["epochs (time)", f"{a['epochs']:,} ({a['seconds']:.1f} s)", f"{d['epochs']} ({d['seconds']:.1f} s)"],
        ["train loss", _fmt(a["train_loss"]), _fmt(d["train_loss"])],
        ["test loss", _fmt(a["test_loss"]), _fmt(d["test_loss"])],
        *[[f"test MAE {n}", f"{a['test_mae'][n]:.3f}", f"{d['test_mae'][n]:.3f}"] for n in names],
        ["dead ReLU units", ", ".join(f"{f:.0%}" for f in a["dead_relu_fraction"]),
         ", ".join(f"{f:.0%}" for f in d["dead_relu_fraction"])],
        ["linear pieces used", str(a["linear_pieces"]), str(d["linear_pieces"])],
    ]
    for i, c in enumerate(a["cases"]):
        side.append([f"({c['a']:.0f}, {c['b']:.0f})" + (" *" if c["outside_training_range"] else ""),
                     " ".join(f"{v:.1f}" for v in c["prediction"]),
                     " ".join(f"{v:.1f}" for v in d["cases"][i]["prediction"])])
    out.block(_table(["", "article", "default"], side))
    out("        * outside the training range [0, 100); truth (100, -40, 40), (100, 40, 40), (8, -2, 2), "
        "(1010, 766, 766)")

    out("\nDiagnosis (measured in this run):")
    dead_units = round(sum(f * layer.n_out for f, layer in zip(a["dead_relu_fraction"], net.layers[:-1])))
    if dead_units:
        out(f"  - dead units: {dead_units} of the article net's {a['hidden_units']} hidden ReLU units never fire on "
            f"any training row ({', '.join(f'{f:.0%}' for f in a['dead_relu_fraction'])} per layer). A dead unit "
            "passes no gradient, so gradient descent never revives it.")
    else:
        out(f"  - dead units: none of the article net's {a['hidden_units']} hidden ReLU units is dead with this "
            "seed (other seeds kill some: try --seed 1, 2, ...).")
    out(f"  - capacity: {a['n_params']} parameters; on the training rows the article's net uses "
        f"{a['linear_pieces']} linear pieces (distinct on/off patterns of its ReLU units), the default net "
        f"{d['linear_pieces']} ({d['n_params']} parameters). |a-b| bends along a = b, and few pieces fit it coarsely.")
    worst = max(names, key=lambda n: a["test_mae"][n])
    out(f"  - per output: the article's worst test MAE is {worst} ({a['test_mae'][worst]:.3f}) against "
        f"{d['test_mae'][worst]:.3f} for the default.")
    out(f"  - progress: the article's loss fell {a['loss_drop_second_half']:.1%} over the second half of its "
        f"{a['epochs']:,} epochs" + (" - it has stalled." if a["loss_drop_second_half"] < 0.01 else
                                     " - it is still falling" + ("; --full runs the article's 1,000,000 epochs."
                                                                 if a["epochs"] < 1_000_000 else ".")))
    far = [np.subtract(r["cases"][3]["prediction"], r["cases"][3]["truth"]) for r in (a, d)]
    out(f"  - outside the training range, (888, 122) is off by {' '.join(f'{v:+.0f}' for v in far[0])} (article) and "
        f"{' '.join(f'{v:+.0f}' for v in far[1])} (default): a ReLU net continues its last linear pieces, "
        "so neither is to be trusted there.")
    if out.as_json:
        print(json.dumps(result, default=_json_default))
    return EXIT_OK


# ---------------------------------------------------------------------- predict / evaluate / summary
def _parse_inputs(specs: list[str], n_in: int) -> np.ndarray:
    rows = []
    for spec in specs:
        for part in spec.split(";"):
            if not part.strip():
                continue
            try:
                row = [float(v) for v in part.split(",")]
            except ValueError:
                raise UsageError(f"--input {part!r} must be numbers separated by commas, e.g. 30,70.") from None
            if len(row) != n_in:
                raise UsageError(f"--input {part!r} has {len(row)} values but the model expects {n_in}.")
            rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def _model_features(model, path: str) -> np.ndarray:
    table = read_csv(path, features=model.feature_names)
    return table.X, table.feature_names


def cmd_predict(args, out: Out) -> int:
    if (args.data is None) == (not args.input):
        raise UsageError("give one of --data FILE.csv or --input VALUES (e.g. --input 30,70).")
    model = load_model(args.model)
    n_in = model.net.n_inputs
    if args.input:
        X = _parse_inputs(args.input, n_in)
        features = model.feature_names or [f"x{j}" for j in range(n_in)]
    else:
        X, features = _model_features(model, args.data)
    pred = model.predict(X)
    names = model.target_names or [f"y{j}" for j in range(1 if pred.ndim == 1 else pred.shape[1])]
    columns = list(features)
    if model.classes is not None:
        proba = model.net.forward(model.x_scaler.transform(X) if model.x_scaler is not None else X)
        conf = proba.max(axis=1) if proba.shape[1] > 1 else np.where(proba[:, 0] > 0.5, proba[:, 0], 1 - proba[:, 0])
        values = [[*x, str(c), float(q)] for x, c, q in zip(X.tolist(), pred.tolist(), conf)]
        columns += [names[0], "probability"]
    else:
        P = pred.reshape(len(X), -1)
        values = [[*x, *p] for x, p in zip(X.tolist(), P.tolist())]
        columns += names
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows(values)
        out(f"wrote {len(values)} predictions to {args.output}")
    if out.as_json:
        print(json.dumps([dict(zip(columns, v)) for v in values], default=_json_default))
    elif not args.output:
        shown = values[:args.limit] if args.limit else values
        out(_table(columns, shown))
        if len(shown) < len(values):
            out(f"... {len(values) - len(shown)} more rows (use --output FILE.csv for all)")
    return EXIT_OK


def cmd_evaluate(args, out: Out) -> int:
    model = load_model(args.model)
    targets = parse_columns(args.target) or model.target_names
    if not targets:
        raise UsageError("the model file names no target column; give --target COL.")
    labels = targets if model.classes is not None and isinstance(model.classes[0], str) else ()
    table = read_csv(args.data, target=targets, features=model.feature_names, label_targets=labels)
    pred = model.predict(table.X)
    result: dict[str, Any] = {"n_rows": table.n_rows}
    if model.classes is not None:
        y = table.y
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError(f"target {targets[0]!r} has continuous values but the model is a classifier.")
            y = y.astype(np.int64)
        known = set(model.classes)
        unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
        if unknown:
            raise ValueError(f"target {targets[0]!r} has labels the model never saw: "
                             f"{', '.join(map(repr, unknown[:5]))}; the model knows {model.classes}.")
        y = np.asarray(y.tolist(), dtype=object)
        pred = np.asarray(pred.tolist(), dtype=object)
        result["accuracy"] = accuracy(y, pred)
        C, labels_ = confusion_matrix(y, pred, labels=np.asarray(model.classes, dtype=object))
        result["confusion_matrix"] = C.tolist()
        result["classes"] = model.classes
        out(f"{table.n_rows} rows; accuracy {result['accuracy']:.4f}")
        out("confusion matrix (rows: true class, columns: predicted):")
        classes = [str(c) for c in model.classes]
        out(_table(["", *classes], [[c, *map(str, row)] for c, row in zip(classes, C.tolist())]))
    else:
        y = table.y.reshape(table.n_rows, -1)
        P = pred.reshape(table.n_rows, -1)
        if y.shape[1] != P.shape[1]:
            raise ValueError(f"{len(targets)} target column(s) given but the model predicts {P.shape[1]}.")
        rows = []
        for j, name in enumerate(targets):
            m = {"mse": mse(y[:, j], P[:, j]), "mae": mae(y[:, j], P[:, j]), "r2": r2(y[:, j], P[:, j])}
            result[name] = m
            rows.append([name, m["mse"], m["mae"], m["r2"]])
        out(f"{table.n_rows} rows; metrics in original units:")
        out(_table(["target", "MSE", "MAE", "R2"], rows))
    if out.as_json:
        print(json.dumps(result, default=_json_default))
    return EXIT_OK


def cmd_summary(args, out: Out) -> int:
    model = load_model(args.model)
    net = model.net
    result = {"layers": net.layer_sizes, "activations": [layer.activation.name for layer in net.layers],
              "n_params": net.n_params, "dtype": net.dtype.name, "task": model.task,
              "features": model.feature_names, "targets": model.target_names, "classes": model.classes,
              "info": model.info}
    out(f"{args.model}: {model.task or 'network'}, {net.dtype.name}")
    out(net.summary())
    if model.feature_names:
        out(f"features ({len(model.feature_names)}): {', '.join(model.feature_names)}")
    if model.target_names:
        out(f"targets: {', '.join(model.target_names)}")
    if model.classes is not None:
        out(f"classes: {', '.join(map(str, model.classes))}")
    if model.x_scaler is not None:
        out("input scaler: stored (predictions take raw inputs)")
    if model.info.get("metrics"):
        out("test metrics at training time: " + json.dumps(model.info["metrics"], default=_json_default))
    if out.as_json:
        print(json.dumps(result, default=_json_default))
    return EXIT_OK


def cmd_gradcheck(args, out: Out) -> int:
    output = {"mse": "linear", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[args.loss]
    sizes = [args.inputs, *_parse_layers(args.layers), args.outputs]
    if args.loss == "cross_entropy" and args.outputs < 2:
        raise UsageError("--loss cross_entropy needs --outputs >= 2.")
    rng = np.random.default_rng(args.seed)
    net = Network(sizes, activation=args.activation, output_activation=output, seed=rng)
    X = rng.standard_normal((args.samples, args.inputs))
    if args.loss == "mse":
        y = rng.standard_normal((args.samples, args.outputs))
    elif args.loss == "cross_entropy":
        y = rng.integers(0, args.outputs, args.samples)
    else:
        y = rng.integers(0, 2, (args.samples, args.outputs)).astype(np.float64)
    report = check_gradients(net, X, y, loss=args.loss, eps=args.eps, alpha=args.alpha)
    worst = max(max(r["W"], r["b"]) for r in report)
    ok = worst <= args.tolerance
    out(f"Gradient check: network {sizes}, {args.activation} -> {output}, loss {args.loss}, "
        f"{args.samples} random samples, eps {args.eps:g}" + (f", alpha {args.alpha:g}" if args.alpha else ""))
    out("relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) per layer:")
    out(_table(["layer", "W shape", "W", "b"],
               [[str(r["layer"] + 1), str(net.layers[r["layer"]].W.shape), f"{r['W']:.2e}", f"{r['b']:.2e}"]
                for r in report]))
    out(f"{'OK' if ok else 'FAILED'}: largest error {worst:.2e} "
        f"{'<=' if ok else '>'} tolerance {args.tolerance:g}"
        + ("" if ok or args.activation not in ("relu", "leaky_relu") else
           " (a ReLU kink within eps of a sample can cause this; try another --seed)"))
    if out.as_json:
        print(json.dumps({"layers": sizes, "report": report, "max_error": worst, "ok": ok}))
    return EXIT_OK if ok else EXIT_ERROR


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="print nothing but errors")
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the report")
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")

    parser = _Parser(prog="ninestep", description="Neural networks from scratch in NumPy, in nine steps.",
                     epilog="Exit codes: 0 success, 1 error, 2 usage error, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"ninestep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", parents=[common], help="run the nine steps and save a model",
                       description="Train a network, printing each of the nine steps. With no options: the "
                                   "article's arithmetic data with the default recipe.")
    g = t.add_argument_group("data")
    g.add_argument("--data", default="arithmetic",
                   help=f"a CSV file with a header row, or a built-in data set: {', '.join(DATASETS)} "
                        "(default: arithmetic)")
    g.add_argument("--target", help="target column(s) of the CSV, e.g. price or a,b (default: the last column)")
    g.add_argument("--features", help="feature columns (default: every column that is not a target)")
    g.add_argument("--task", choices=["regression", "classification"],
                   help="default: inferred (text or few whole-number labels -> classification)")
    g.add_argument("--n-samples", type=int, help="rows to generate (built-in) or a random subset (CSV)")
    g.add_argument("--test-size", type=float, default=0.3, help="fraction held out for the test (default 0.3)")
    g.add_argument("--val-size", type=float, default=0.1,
                   help="fraction of the training rows held out for early stopping (default 0.1)")
    g = t.add_argument_group("network and training")
    layers = ",".join(map(str, DEFAULT_LAYERS))
    g.add_argument("--layers", default=layers, help=f"hidden-layer widths (default {layers})")
    g.add_argument("--activation", default="relu", choices=["relu", "leaky_relu", "tanh", "sigmoid"],
                   help="hidden-layer activation (default relu)")
    g.add_argument("--init", choices=sorted(INITIALIZERS),
                   help="initial weights of every layer (default: he_normal for relu and leaky_relu "
                        "layers, glorot_uniform for the others)")
    g.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="default adam")
    g.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"learning rate (default {DEFAULT_LR:g})")
    g.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    g.add_argument("--epochs", type=int,
                   help="maximum epochs (default 200, fewer for large data: at most ~40,000 updates)")
    g.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                   help=f"rows per update; 0 = full batch (default {DEFAULT_BATCH})")
    g.add_argument("--alpha", type=float, default=0.0, help="L2 penalty on the weights (default 0)")
    g.add_argument("--patience", type=int,
                   help="early stopping: epochs without validation improvement (default: half the epochs; 0 = off)")
    g.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning-rate schedule (default cosine decay to 0)")
    g.add_argument("--seed", type=int, default=0, help="seed for data, split, weights and shuffling (default 0)")
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    g = t.add_argument_group("files")
    g.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    g.add_argument("--resume", metavar="DIR",
                   help="continue the interrupted run saved in DIR (its --out folder) with its settings")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("reproduce", parents=[common], help="the article's exact set-up, then the default, with a diagnosis")
    r.add_argument("--epochs", type=int, default=20_000,
                   help="epochs of the article's set-up (default 20,000: seconds, not the article's 13 minutes)")
    r.add_argument("--full", action="store_true", help="run the article's 1,000,000 epochs (3.5 minutes here)")
    r.add_argument("--lr", type=float, default=0.01, help="the article's learning rate (default 0.01)")
    r.add_argument("--default-epochs", type=int, help="epochs of the default configuration (default: as 'train')")
    r.add_argument("--seed", type=int, default=42, help="seed for data and weights (default 42, the article's)")
    r.set_defaults(func=cmd_reproduce)

    pr = sub.add_parser("predict", parents=[common], help="predict with a saved model")
    pr.add_argument("--model", required=True, help="model file written by 'ninestep train'")
    pr.add_argument("--data", help="CSV file with the model's feature columns")
    pr.add_argument("--input", action="append", help="one row of feature values, e.g. 30,70 (repeatable; ';' separates rows)")
    pr.add_argument("--output", help="write the predictions to this CSV file")
    pr.add_argument("--limit", type=int, default=20, help="rows to print (default 20; 0 = all)")
    pr.set_defaults(func=cmd_predict)

    e = sub.add_parser("evaluate", parents=[common], help="metrics of a saved model on new data")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True, help="CSV file with the features and the target")
    e.add_argument("--target", help="target column(s) (default: those the model was trained on)")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("summary", parents=[common], help="architecture and parameter count of a saved model")
    s.add_argument("--model", required=True)
    s.set_defaults(func=cmd_summary)

    gc = sub.add_parser("gradcheck", parents=[common], help="check back-propagation against central differences")
    gc.add_argument("--inputs", type=int, default=3, help="input features (default 3)")
    gc.add_argument("--layers", default="5,4", help="hidden-layer widths (default 5,4)")
    gc.add_argument("--outputs", type=int, default=2, help="outputs (default 2)")
    gc.add_argument("--activation", default="tanh", choices=["relu", "leaky_relu", "tanh", "sigmoid", "linear"],
                    help="hidden activation (default tanh: smooth, so no kinks disturb the check)")
    gc.add_argument("--loss", default="mse", choices=["mse", "cross_entropy", "binary_cross_entropy"])
    gc.add_argument("--samples", type=int, default=8, help="random samples (default 8)")
    gc.add_argument("--alpha", type=float, default=0.0, help="L2 penalty to include (default 0)")
    gc.add_argument("--eps", type=float, default=1e-6, help="central-difference step (default 1e-6)")
    gc.add_argument("--tolerance", type=float, default=1e-6, help="largest acceptable relative error (default 1e-6)")
    gc.add_argument("--seed", type=int, default=0)
    gc.set_defaults(func=cmd_gradcheck)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        out = Out(quiet=args.quiet, as_json=args.json)
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return args.func(args, out)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print("interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # one line, not a traceback, unless --debug
        if debug:
            traceback.print_exc()
        text = str(exc).replace("\n", " ") or type(exc).__name__
        if not isinstance(exc, (ValueError, TypeError, OSError, ImportError)):
            text = f"{type(exc).__name__}: {text} (rerun with --debug for the traceback)"
        print(f"error: {text}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
