"""``ninestep train``: the nine steps, printed, on built-in or CSV data; saves a model.

The default recipe (checked on regression and classification data sets in
the project's report): hidden layers 64, 64 with ReLU; standardised inputs
and, for regression, standardised targets; Adam with lr 0.01 decayed to 0
along a cosine over the epochs; mini-batches of 64; 10 % of the training
rows held out to keep the weights of the epoch with the best validation loss,
stopping early when it has not improved for half the epochs. (The patience
is long on purpose: while the learning rate is still high the validation
loss jumps about, and a short patience stopped some arithmetic runs at a
lucky early minimum - 5 of 10 seeds with patience 30, 1 of 10 with 50.)

Files in ``--out`` (default ``runs/latest``): ``model.npz`` (network,
scalers, class names; read it with ``ninestep.load_model``), ``loss.png``,
``metrics.json``, ``checkpoint.npz`` (the full training state, every epoch,
atomically) and ``run.json`` (the settings and data source, so that
``ninestep train --resume DIR`` continues an interrupted run and ends with
the same bits as a run that was never interrupted).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .. import ConvergenceWarning, Network, save_model
from ..datasets import DATASETS, file_sha256, is_builtin
from ..layers import INITIALIZERS
from ._common import (DEFAULT_BATCH, DEFAULT_LAYERS, DEFAULT_LR, EXIT_INTERRUPTED, EXIT_OK, Out, UsageError,
                      article_cases, auto_epochs, auto_patience, fmt, json_default, make_optimizer,
                      parse_layers, show_warning, write_json)
from ._steps import Prepared, Progress, metrics, prepare, print_cases, print_metrics

DEFAULT_OUT = os.path.join("runs", "latest")


def register(sub, common) -> None:
    """Add ``train`` and its options to the subparsers ``sub``."""
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
    g.add_argument("--bias-init", default="zeros", choices=["zeros", "same"],
                   help="initial biases: zeros, or drawn like the weights as the article does (default zeros)")
    g.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="default adam")
    g.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"learning rate (default {DEFAULT_LR:g})")
    g.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    g.add_argument("--nesterov", action="store_true", help="SGD with Nesterov momentum (needs --momentum > 0)")
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
    t.set_defaults(run=run)


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
    if args.nesterov and (args.optimizer != "sgd" or not args.momentum > 0):
        raise UsageError("--nesterov applies to --optimizer sgd with --momentum > 0.")
    source = args.data
    if is_builtin(source):
        if args.target is not None or args.features is not None:
            raise UsageError(f"--target and --features apply to CSV files, not the built-in data set {source!r}.")
    elif os.path.exists(source):
        source = os.path.abspath(source)
    return {
        "data": source, "target": args.target, "features": args.features, "task": args.task,
        "n_samples": args.n_samples, "seed": args.seed, "test_size": args.test_size, "val_size": args.val_size,
        "layers": parse_layers(args.layers), "activation": args.activation, "init": args.init,
        "bias_init": args.bias_init, "optimizer": args.optimizer, "lr": lr, "momentum": args.momentum,
        "nesterov": args.nesterov, "epochs": args.epochs, "batch_size": args.batch_size,
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
    digest = None if cfg["data"] in DATASETS or not os.path.isfile(cfg["data"]) else file_sha256(cfg["data"])
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
        write_json(out_dir / "run.json", {**cfg, "finished": False})

    Xs_fit = p.x_scaler.transform(p.X_fit)
    T_fit = p.t(p.y_fit)
    val = (p.x_scaler.transform(p.X_val), p.t(p.y_val)) if p.X_val is not None else None
    loss0, grads = net.loss_and_gradients(Xs_fit, T_fit, loss=p.loss)
    out(f"Step 6  Forward: X {Xs_fit.shape} -> y_hat {net.forward(Xs_fit).shape}")
    out(f"Step 7  Back-propagate: initial training loss {fmt(loss0)}; gradients "
        + ", ".join(f"dW{i + 1}{dW.shape} db{i + 1}{db.shape}" for i, (dW, db) in enumerate(grads)))
    opt_text = (f"Adam lr {cfg['lr']:g}" if cfg["optimizer"] == "adam"
                else f"SGD lr {cfg['lr']:g}, momentum {cfg['momentum']:g}"
                + (" (Nesterov)" if cfg.get("nesterov") else ""))
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
    optimizer = make_optimizer(cfg)
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
        m["article_cases"] = article_cases(net, p.x_scaler, p.y_scaler)
        print_cases(m["article_cases"], p.data.target_names, out)

    files = _save(out_dir, p, net, cfg, info={"metrics": {k: v for k, v in m.items()
                                                          if k.startswith("test_") and k != "test_confusion_matrix"}})
    files["metrics"] = out_dir / "metrics.json"
    m["history"] = history.as_dict()
    write_json(files["metrics"], {"config": cfg, "metrics": m})
    if not history.epochs:  # --epochs 0: the untrained network is saved and evaluated, without a curve
        out("        (no loss curve: no epochs were run)")
    else:
        try:
            from ..plotting import plot_loss_curve
            files["loss_curve"] = plot_loss_curve(
                out_dir / "loss.png", history.loss, history.val_loss, best_epoch=history.best_epoch,
                loss_name="cross-entropy" if p.loss == "cross_entropy" else "loss (1/2 MSE, standardised)",
                title=f"ninestep train: {os.path.basename(cfg['data'])} {p.net.layer_sizes}")
        except ImportError as exc:
            out(f"        (no loss curve: {exc})")
    write_json(out_dir / "run.json", {**cfg, "finished": True})  # --resume refuses a finished run
    out("Saved   " + ", ".join(str(f) for f in files.values()))
    example = "--input 30,70" if cfg["data"] == "arithmetic" else "--data FILE.csv"
    out(f"Next    ninestep predict --model {files['model']} {example}")
    return EXIT_OK, {"out": str(out_dir), "files": {k: str(v) for k, v in files.items()}, "metrics": m,
                     "config": cfg}


def _save(out_dir: Path, p: Prepared, net: Network, cfg: dict, info: dict) -> dict:
    path = out_dir / "model.npz"
    save_model(path, net, x_scaler=p.x_scaler, y_scaler=p.y_scaler, classes=p.data.classes, task=p.data.task,
               feature_names=p.data.feature_names, target_names=p.data.target_names,
               info={"data": cfg["data"], "seed": cfg["seed"], **info})
    return {"model": path}


def run(args, out: Out) -> int:
    """``ninestep train``: a new run into --out, or --resume DIR."""
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
        code, result = run_training(cfg, Path(args.out), out, progress=not args.quiet)
    if out.as_json:
        print(json.dumps(result, default=json_default))
    return code
