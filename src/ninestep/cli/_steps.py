"""The printed nine steps of ``ninestep train``: steps 1-5 (data to network)
in :func:`prepare`, the step 9 figures, and the pictures of the run.

A run is rebuilt from its settings alone (``run.json``), with one random
stream per use of ``--seed``, so ``--resume`` gets the same data, split and
initial weights as the interrupted run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, article
from ..data import arithmetic_targets, train_test_split
from ..datasets import Dataset, load_data
from ..metrics import accuracy, confusion_matrix, mae, mse, r2
from ..network import Network
from ..scaling import StandardScaler
from ._common import Out, fmt, ranges, text_table

__all__ = ["Prepared", "prepare", "metrics", "print_metrics", "article_cases", "print_cases", "pictures"]


@dataclass
class Prepared:
    """Everything a training run needs, rebuilt identically from its config."""

    data: Dataset
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
                     seed=np.random.default_rng(seeds["data"]))
    if data.target_guessed:
        out(f"        (no --target given: using the last column, {data.target_names[0]!r}; pass --target to choose)")
    n = data.X.shape[0]
    out(f"Step 2  Data: {data.description}")
    out(f"        X {data.X.shape}, y {data.y.shape}; task: {data.task}")
    out.block(ranges(data.X, data.feature_names))
    if data.task == "classification":
        counts = np.bincount(data.y, minlength=len(data.classes))
        out("        classes: " + ", ".join(f"{c} ({k})" for c, k in zip(data.classes, counts)))
    else:
        Y = data.y.reshape(n, -1)
        out.block(ranges(Y, data.target_names))

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
    out.block(text_table(["column", "mean", "scale"],
                    [[n_, m, s] for n_, m, s in zip(data.feature_names[:8], x_scaler.mean_, x_scaler.scale_)])
              + (f"\n... and {len(data.feature_names) - 8} more" if len(data.feature_names) > 8 else ""))
    if y_scaler is not None:
        out.block(text_table(["target", "mean", "scale"],
                        [[n_, m, s] for n_, m, s in zip(data.target_names, y_scaler.mean_, y_scaler.scale_)]))

    n_out = len(data.classes) if strat else (1 if data.y.ndim == 1 else data.y.shape[1])
    sizes = [data.X.shape[1], *cfg["layers"], n_out]
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
    out.block(net.summary(n_samples=len(X_fit), warn=False))
    return Prepared(data, X_fit, X_val, X_test, y_fit, y_val, y_test, x_scaler, y_scaler, net, loss,
                    seeds["fit"])


def metrics(p: Prepared, net: Network) -> dict:
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
