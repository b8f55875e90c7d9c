"""The printed nine steps of ``ninestep train``: steps 1-5 (data to network)
in :func:`prepare`, the step 9 figures, and the pictures of the run.

A run is rebuilt from its settings alone (``run.json``), with one random
stream per use of ``--seed``, so ``--resume`` gets the same data, split and
initial weights as the interrupted run.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, article
from ..data import arithmetic_targets, train_test_split
from .._validation import release_pages
from ..datasets import Dataset, column_stats, load_data, seed_streams, standardise_to_file
from ..metrics import accuracy, confusion_matrix, mae, mse, r2
from ..network import Network
from ..preprocessing import TablePreprocessor
from ..scaling import StandardScaler
from ..tabular import parse_columns
from ._common import MIN_VAL_ROWS, Out, UsageError, auto_val_size, fmt, ranges, text_table

__all__ = ["Prepared", "prepare", "metrics", "print_metrics", "article_cases", "print_cases", "pictures",
           "outputs", "mean_loss", "SCRATCH_NAME"]


@dataclass
class Prepared:
    """Everything a training run needs, rebuilt identically from its config.

    ``X_*`` are the network's inputs before ``x_scaler`` (which is None when
    they are already scaled: a table file through ``pre``, or a ``.npy``
    file, whose standardised rows :meth:`materialise` writes beside the
    run's output); ``y_*`` the targets in original units or class codes.
    """

    data: Dataset
    X_fit: np.ndarray | None
    X_val: np.ndarray | None
    X_test: np.ndarray | None
    y_fit: np.ndarray
    y_val: np.ndarray | None
    y_test: np.ndarray
    x_scaler: StandardScaler | None
    y_scaler: StandardScaler | None
    net: Network
    loss: str
    fit_seed: Any
    pre: TablePreprocessor | None = None
    parts: list | None = None  # a .npy file's sorted fit/validation/test row indices, until materialise()
    scratch: Path | None = None  # the standardised copy of a .npy file, removed when the run ends
    mean_: np.ndarray | None = None  # a .npy file's standardisation, from column_stats over the fit rows
    scale_: np.ndarray | None = None

    def t(self, y):  # targets as the network sees them
        return self.y_scaler.transform(y) if self.y_scaler is not None else y

    def s(self, X):  # inputs as the network sees them
        return self.x_scaler.transform(X) if self.x_scaler is not None else X

    def materialise(self, out_dir: Path, out: Out) -> None:
        """For a ``.npy`` file: write its standardised rows into ``out_dir`` (one pass, block by block)."""
        if self.parts is None or self.X_fit is not None:
            return
        self.scratch = out_dir / SCRATCH_NAME
        start = time.perf_counter()
        views = standardise_to_file(self.data.X, [p for p in self.parts if p is not None], self.mean_, self.scale_,
                                    self.scratch, dtype=self.net.dtype)
        self.X_fit, self.X_val, self.X_test = (views.pop(0) if p is not None else None for p in self.parts)
        out(f"        wrote the standardised rows to {self.scratch} ({self.scratch.stat().st_size / 2**20:.0f} MiB, "
            f"{time.perf_counter() - start:.1f} s; removed when the run ends)")

    def discard(self) -> None:
        """Remove the standardised copy of a ``.npy`` file."""
        if self.scratch is not None:
            self.X_fit = self.X_val = self.X_test = None
            with contextlib.suppress(FileNotFoundError):
                self.scratch.unlink()


#: The standardised copy of a memory-mapped .npy file, in the run's folder while the run trains.
SCRATCH_NAME = "standardised.tmp.npy"


def _split(cfg: dict, data: Dataset, rng) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Row indices of the fit, validation (or None) and test parts; the hold-out follows --val-size
    ("auto": 10 % from MIN_VAL_ROWS training rows, none below, and none for a memory-mapped file)."""
    n, strat = data.n_rows, data.task == "classification"
    rows = np.arange(n)
    try:
        train, test, y_train, _ = train_test_split(rows, data.y, test_size=cfg["test_size"], seed=rng,
                                                   stratify=data.y if strat else None)
        if strat and np.unique(y_train).size < 2:  # before any transform warns about the test rows
            raise ValueError(f"the {len(train)} training row(s) hold a single class; a classifier needs at "
                             "least two (give more rows, or a smaller --test-size).")
        val_size = cfg["val_size"]
        if val_size == "auto":
            val_size = 0.0 if data.mapped else auto_val_size(len(train))
        if val_size > 0:
            fit, val, _, _ = train_test_split(train, y_train, test_size=val_size, seed=rng,
                                              stratify=y_train if strat else None)
            return fit, val, test
    except ValueError as exc:
        raise ValueError(f"cannot split {n} rows into train/validation/test: {exc}") from None
    if cfg["patience"] not in (0, "auto"):
        raise UsageError(f"--patience {cfg['patience']} needs a validation set, and the default hold-out is used "
                         f"from {MIN_VAL_ROWS} training rows (there are {len(train)}); give --val-size 0.1 as well.")
    return train, None, test


def prepare(cfg: dict, out: Out) -> Prepared:
    """Steps 1-5 from a run configuration (printed through ``out``)."""
    seeds = seed_streams(cfg["seed"])
    out(f"Step 1  Initialise: ninestep {__version__}, NumPy {np.__version__}; every random draw comes "
        f"from --seed {cfg['seed']}")
    data = load_data(cfg["data"], cfg.get("target"), cfg.get("features"), cfg.get("task"), cfg.get("n_samples"),
                     seed=np.random.default_rng(seeds["data"]), drop=cfg.get("drop"),
                     missing=cfg.get("missing") or "impute", delimiter=cfg.get("delimiter"),
                     decimal=cfg.get("decimal"), na_values=parse_columns(cfg.get("na_values")),
                     target_npy=cfg.get("target_npy"))
    if data.target_guessed:
        out(f"        (no --target given: using the last column, {data.target_names[0]!r}; pass --target to choose)")
    n, strat = data.n_rows, data.task == "classification"
    out(f"Step 2  Data: {data.description}")
    if data.table is not None:
        out(f"        {len(data.feature_names)} feature columns ({', '.join(data.feature_names[:8])}"
            + (", ..." if len(data.feature_names) > 8 else "") + f"), target {', '.join(data.target_names)}; "
            f"task: {data.task}")
        for line in data.preprocessor.report_:
            out(f"        {line}")
    else:
        out(f"        X {data.X.shape}, y {data.y.shape}; task: {data.task}")
        if not data.mapped:  # a file larger than memory is summarised in step 4, from one pass over it
            out.block(ranges(data.X, data.feature_names))
    if strat:
        counts = np.bincount(data.y, minlength=len(data.classes))
        out("        classes: " + ", ".join(f"{c} ({k})" for c, k in zip(data.classes, counts)))
    else:
        out.block(ranges(data.y.reshape(n, -1), data.target_names))

    fit, val, test = _split(cfg, data, np.random.default_rng(seeds["split"]))
    out(f"Step 3  Split (shuffled{', stratified' if strat else ''}): train {len(fit)}"
        + (f" + validation {len(val)} (for early stopping)" if val is not None else "")
        + f", test {len(test)}")

    y_fit, y_val, y_test = data.y[fit], None if val is None else data.y[val], data.y[test]
    y_scaler = StandardScaler().fit(y_fit) if not strat else None
    pre = parts = None
    mean = scale = None
    if data.table is not None:
        pre = data.preprocessor
        before = len(pre.report_)
        X_fit, _ = pre.fit_transform(data.table.take(fit))
        X_val = None if val is None else pre.transform(data.table.take(val))
        X_test = pre.transform(data.table.take(test))
        x_scaler, y_scaler = None, pre.target_scaler_
        data.feature_names = pre.get_feature_names_out()
        out(f"Step 4  Preprocess, fitted on the {len(fit)} training rows only (the test set stays unseen):")
        for line in pre.report_[before:]:
            out(f"        {line}")
        numbers = [c["name"] for c in pre.columns_ if c["kind"] == "number"]
        if numbers:
            out("        standardised the number columns (0/1 columns stay 0/1):")
            out.block(text_table(["column", "mean", "scale"], [[n_, m, s_] for n_, m, s_ in zip(
                numbers[:8], pre.scaler_.mean_, pre.scaler_.scale_)])
                + (f"\n... and {len(numbers) - 8} more" if len(numbers) > 8 else ""))
    elif data.mapped:
        # Sorted in place (no copies: a row index is 8 bytes a row), so that each part is read in file order.
        parts = [fit, val, test]
        for rows in parts:
            if rows is not None:
                rows.sort()
        y_fit, y_val, y_test = (None if p is None else data.y[p] for p in parts)
        y_scaler = StandardScaler().fit(y_fit) if not strat else None
        stats = column_stats(data.X, parts[0])
        mean, scale = stats["mean"], np.where(stats["std"] > 0, stats["std"], 1.0)
        x_scaler = None
        X_fit = X_val = X_test = None
        out(f"Step 4  Standardise, statistics from one pass over the {len(fit)} training rows (block by block):")
        out.block(text_table(["column", "min", "max", "mean", "scale"], [
            [n_, lo, hi, m, s_] for n_, lo, hi, m, s_ in zip(data.feature_names[:8], stats["min"], stats["max"],
                                                            mean, scale)])
            + (f"\n... and {len(data.feature_names) - 8} more" if len(data.feature_names) > 8 else ""))
        out("        the standardised rows are written to a file in the output folder when training starts")
    else:
        X_fit, X_val, X_test = data.X[fit], None if val is None else data.X[val], data.X[test]
        x_scaler = StandardScaler().fit(X_fit)
        out(f"Step 4  Standardise, fitted on the {len(fit)} training rows only (the test set stays unseen):")
        out.block(text_table(["column", "mean", "scale"],
                             [[n_, m, s_] for n_, m, s_ in zip(data.feature_names[:8], x_scaler.mean_,
                                                               x_scaler.scale_)])
                  + (f"\n... and {len(data.feature_names) - 8} more" if len(data.feature_names) > 8 else ""))
    if y_scaler is not None:
        out.block(text_table(["target", "mean", "scale"],
                             [[n_, m, s_] for n_, m, s_ in zip(data.target_names, y_scaler.mean_, y_scaler.scale_)]))

    n_in = len(data.feature_names)
    n_out = len(data.classes) if strat else (1 if data.y.ndim == 1 else data.y.shape[1])
    sizes = [n_in, *cfg["layers"], n_out]
    init = cfg.get("init")  # absent from the run.json of runs started before --init existed
    bias_init = cfg.get("bias_init") or "zeros"  # likewise for --bias-init
    net = Network(sizes, activation=cfg["activation"], output_activation="softmax" if strat else "linear",
                  init=init, seed=np.random.default_rng(seeds["init"]), dtype=np.dtype(cfg["dtype"]),
                  bias_init=bias_init)
    loss = "cross_entropy" if strat else "mse"
    out(f"Step 5  Network {sizes}: {cfg['activation']} hidden layers, {net.output_activation} output "
        f"(loss: {'cross-entropy' if strat else '1/2 squared error'}), {net.dtype.name}, "
        + (f"{init} weights" if init else "default weights (He for ReLU layers, Glorot otherwise)")
        + (", biases drawn like the weights" if bias_init == "same" else ""))
    out.block(net.summary(n_samples=len(fit), warn=False))
    return Prepared(data, X_fit, X_val, X_test, y_fit, y_val, y_test, x_scaler, y_scaler, net, loss, seeds["fit"],
                    pre=pre, parts=parts, mean_=mean, scale_=scale)


#: Rows per block when a whole part is passed through the network (a file larger than memory included).
EVAL_ROWS = 65536


def _row_blocks(X: np.ndarray):
    """``X`` in blocks of EVAL_ROWS rows; a memory-mapped file's pages go back to the OS after each block."""
    for i in range(0, len(X), EVAL_ROWS):
        yield X[i:i + EVAL_ROWS], slice(i, i + EVAL_ROWS)
        release_pages(X)


def outputs(net: Network, X: np.ndarray) -> np.ndarray:
    """``net.forward(X)`` block by block (one block for data in memory of up to EVAL_ROWS rows)."""
    return np.concatenate([net.forward(block) for block, _ in _row_blocks(X)])


def mean_loss(net: Network, X: np.ndarray, T: np.ndarray, loss: str) -> float:
    """``net.evaluate(X, T, loss)`` (a mean over rows), block by block."""
    return sum(net.evaluate(block, T[rows], loss=loss) * len(block) for block, rows in _row_blocks(X)) / len(X)


def metrics(p: Prepared, net: Network) -> dict:
    """Step 9 figures in original units, for the train, validation and test sets."""
    res: dict[str, Any] = {}
    parts = {"train": (p.X_fit, p.y_fit), "test": (p.X_test, p.y_test)}
    if p.X_val is not None:
        parts["validation"] = (p.X_val, p.y_val)
    for part, (X, y) in parts.items():
        Xs = p.s(X)
        res[f"{part}_loss"] = mean_loss(net, Xs, p.t(y), p.loss)
        out = outputs(net, Xs)
        if p.data.task == "classification":
            res[f"{part}_accuracy"] = accuracy(y, out.argmax(axis=1))
        else:
            pred = p.y_scaler.inverse_transform(out).reshape(y.shape)
            res[f"{part}_mae"] = dict(zip(p.data.target_names, np.atleast_1d(mae(y, pred, multioutput="raw_values"))))
            res[f"{part}_rmse"] = dict(zip(p.data.target_names,
                                           np.sqrt(np.atleast_1d(mse(y, pred, multioutput="raw_values")))))
            res[f"{part}_r2"] = dict(zip(p.data.target_names, np.atleast_1d(r2(y, pred, multioutput="raw_values"))))
    if p.data.task == "classification":
        pred = outputs(net, p.s(p.X_test)).argmax(axis=1)
        C, _ = confusion_matrix(p.y_test, pred, labels=np.arange(len(p.data.classes)))
        res["test_confusion_matrix"] = C.tolist()
    return {k: ({kk: float(vv) for kk, vv in v.items()} if isinstance(v, dict) else v) for k, v in res.items()}


def print_metrics(m: dict, p: Prepared, out: Out) -> None:
    """Step 9 as text."""
    ratio = m["test_loss"] / m["train_loss"] if m["train_loss"] > 0 else float("inf")
    out(f"Step 9  Test: train loss {fmt(m['train_loss'])}, test loss {fmt(m['test_loss'])} "
        f"(test/train {ratio:.2f}; near 1 means it generalises)")
    if p.data.task == "classification":
        out(f"        accuracy: train {m['train_accuracy']:.4f}, test {m['test_accuracy']:.4f}")
        classes = [str(c) for c in p.data.classes]
        if len(classes) <= 12:
            out("        test confusion matrix (rows: true class, columns: predicted):")
            out.block(text_table(["", *classes], [[c, *map(str, row)] for c, row in zip(classes, m["test_confusion_matrix"])]))
    else:
        out("        test set, original units:")
        out.block(text_table(["target", "MAE", "RMSE", "R2"],
                        [[t, m["test_mae"][t], m["test_rmse"][t], f"{m['test_r2'][t]:.5f}"]
                         for t in p.data.target_names]))


def article_cases(p: Prepared, net: Network) -> list[dict]:
    """The network's answers to the article's four test cases (a, b), in original units."""
    cases = np.array(article.ARTICLE_CASES, dtype=np.float64)
    pred = p.y_scaler.inverse_transform(net.forward(p.x_scaler.transform(cases)))
    return [{"a": float(a), "b": float(b), "truth": truth.tolist(), "prediction": guess.tolist(),
             "outside_training_range": bool(max(a, b) >= 100)}
            for (a, b), truth, guess in zip(cases, arithmetic_targets(cases), pred)]


def print_cases(cases: list[dict], names: list[str], out: Out) -> None:
    """The article's test cases (from :func:`article_cases`) as a table."""
    out("        the article's test cases, original units (truth / prediction / error):")
    rows = []
    for c in cases:
        cells = [f"{t:.0f} / {p:.2f} / {p - t:+.2f}" for t, p in zip(c["truth"], c["prediction"])]
        rows.append([f"({c['a']:.0f}, {c['b']:.0f})", *cells,
                     "<- outside the training range [0, 100)" if c["outside_training_range"] else ""])
    out.block(text_table(["(a, b)", *names, ""], rows))


def pictures(p: Prepared, net: Network, history, out_dir: Path, out: Out, grad_norms=None) -> dict[str, Path]:
    """``loss.png`` and, with ``grad_norms`` (``ninestep train --pictures``), the pictures of
    :func:`ninestep.plotting.training_pictures` on the test rows; each written atomically.
    Without matplotlib, or without epochs, the report says why there are none."""
    if not history.epochs:  # --epochs 0: the untrained network is saved and evaluated, without a curve
        out("        (no loss curve: no epochs were run)")
        return {}
    try:
        from ..plotting import plot_loss_curve, training_pictures
        files = {"loss_curve": plot_loss_curve(
            out_dir / "loss.png", history.loss, history.val_loss, best_epoch=history.best_epoch,
            loss_name="cross-entropy" if p.loss == "cross_entropy" else "loss (1/2 MSE, standardised)",
            title=f"ninestep train: {os.path.basename(p.data.source)} {net.layer_sizes}")}
        if grad_norms is not None:
            # After --resume the norms cover only the epochs this process trained: the last ones.
            files.update(training_pictures(
                out_dir, net, p.X_test, p.y_test, p.data.task, X_train=p.X_fit, grad_norms=grad_norms, first_epoch=history.epochs - len(grad_norms) + 1,
                x_scaler=p.x_scaler, y_scaler=p.y_scaler, classes=p.data.classes,
                feature_names=p.data.feature_names, target_names=p.data.target_names))
    except ImportError as exc:
        out(f"        (no pictures: {exc})")
        return {}
    return files
