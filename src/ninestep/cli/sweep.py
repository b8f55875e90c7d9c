"""``ninestep sweep``: a grid of hyperparameters times seeds, with a leaderboard.

    ninestep sweep --data moons --layers 8,8 16,16 --lr 0.01 0.03 --seeds 4 --epochs 50 --out runs/sweep

Each grid axis takes several values after one flag, named as in ``ninestep
train``: ``--layers``, ``--activation``, ``--lr``, ``--batch-size`` (0 =
full batch), ``--alpha``, ``--optimizer``. Every configuration trains from
``--seeds`` initial draws; configurations of one shape (layers, activation,
optimiser, batch size) train together as one Ensemble (see
:mod:`ninestep.sweep`).

The data, split, scaling and recipe are ``ninestep train``'s: seed s of
every configuration starts from the weights that ``ninestep train --seed
SEED+s`` draws, and uses the data, split and batch order of ``--seed
SEED``; with ``--seeds 1`` a configuration's model is the one ``ninestep
train`` with the same options saves. Options off the grid (``--init``,
``--schedule``, ``--momentum``, ``--dtype``) and the grid's defaults are
train's too, except two: the sweep always holds out ``--val-size`` (default
0.1) of the training rows to judge on, and trains ``--epochs`` (default 50)
epochs; give train the same ``--val-size`` and ``--epochs`` to compare.

Files in ``--out`` (default ``runs/sweep``): ``results.csv`` (one row per
configuration: the validation metric's mean and spread over the seeds),
``results.json`` (that, every seed's row and the settings), ``metric.png``
(the metric against each axis that varies; needs matplotlib) and
``best/model.npz`` (the best configuration's best seed, with the scalers and
class names: ``ninestep predict --model runs/sweep/best/model.npz``).
Like train, a sweep holds its folder's lock (``.lock``) from before it
touches the folder until it ends: a second run into the folder is refused,
naming the process that holds it.

``--workers N`` trains on a local Dask cluster of N worker processes;
``--scheduler ADDRESS`` on an existing ``dask.distributed`` cluster (needs
``pip install ninestep[dask]``). One task per group; the results equal an
in-process run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import save_model
from ..datasets import is_builtin, seed_streams
from ..layers import INITIALIZERS
from ..sweep import SweepData, SweepSettings, grid, group_configs, run_sweep
from ._common import (DEFAULT_BATCH, EXIT_OK, TRAIN_ALPHA, TRAIN_INIT, TRAIN_LAYERS, TRAIN_LR, Out, UsageError,
                      auto_patience, fmt, integer, number, parse_layers, print_json, text_table)
from ._files import RunLock, write_csv, write_json
from ._settings import DEFAULTS, check
from ._steps import prepare

DEFAULT_OUT = os.path.join("runs", "sweep")
_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")


def register(sub, common) -> None:
    """Add ``sweep`` and its options to the subparsers ``sub``."""
    s = sub.add_parser("sweep", parents=[common], help="a grid of hyperparameters x seeds, trained as ensembles",
                       description=__doc__.split("\n\n")[1].strip(), formatter_class=argparse.RawDescriptionHelpFormatter)
    g = s.add_argument_group("data (as ninestep train)")
    g.add_argument("--data", default="moons", help="built-in data set or CSV file (default moons)")
    g.add_argument("--target", help="target column(s) of the CSV (default: the last column)")
    g.add_argument("--features", help="feature columns of the CSV (default: every other column)")
    g.add_argument("--task", choices=["regression", "classification"], help="default: inferred")
    g.add_argument("--n-samples", type=integer, help="rows to generate (built-in) or a random subset (CSV)")
    g.add_argument("--test-size", type=number, default=0.3, help="fraction held out for the test (default 0.3)")
    g.add_argument("--val-size", type=number, default=0.1,
                   help="fraction of the training rows that judges the configurations (default 0.1)")
    g.add_argument("--seed", type=integer, default=0, help="seed of the data, split and batch order (default 0)")
    g = s.add_argument_group("the grid: several values per flag")
    layers = ",".join(map(str, TRAIN_LAYERS))
    g.add_argument("--layers", nargs="+", default=[layers], help=f"hidden-layer widths, e.g. 8,8 16,16 (default {layers})")
    g.add_argument("--activation", nargs="+", default=["relu"], choices=_ACTIVATIONS, help="default relu")
    g.add_argument("--lr", nargs="+", type=number, default=[TRAIN_LR], help=f"default {TRAIN_LR:g}")
    g.add_argument("--batch-size", nargs="+", type=integer, default=[DEFAULT_BATCH],
                   help=f"rows per step, 0 = full batch (default {DEFAULT_BATCH})")
    g.add_argument("--alpha", nargs="+", type=number, default=[TRAIN_ALPHA], help=f"L2 penalty (default {TRAIN_ALPHA:g})")
    g.add_argument("--optimizer", nargs="+", default=["adam"], choices=["adam", "sgd"], help="default adam")
    g = s.add_argument_group("training")
    g.add_argument("--seeds", type=integer, default=3, help="initial draws per configuration (default 3)")
    g.add_argument("--epochs", type=integer, default=50, help="default 50")
    g.add_argument("--patience", type=integer,
                   help="early stopping patience in epochs (default: half the epochs, as train; 0 = off)")
    g.add_argument("--momentum", type=number, default=0.0, help="SGD momentum (default 0)")
    g.add_argument("--schedule", default="cosine", choices=["cosine", "constant"], help="default cosine, as train")
    g.add_argument("--init", default=TRAIN_INIT, choices=list(INITIALIZERS),
                   help=f"the weights' initialiser, as train (default {TRAIN_INIT})")
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    g = s.add_argument_group("where it runs, and files")
    g.add_argument("--workers", type=integer, help="start a local Dask cluster of this many worker processes")
    g.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    s.set_defaults(run=run)


def _configs(args):
    for name, values, ok, what in (("--lr", args.lr, lambda v: v > 0, "> 0"), ("--alpha", args.alpha, lambda v: v >= 0, ">= 0"),
                                   ("--batch-size", args.batch_size, lambda v: v >= 0, ">= 0 (0 = full batch)")):
        bad = [v for v in values if not ok(v)]
        if bad:
            raise UsageError(f"{name} values must be {what}, got {bad[0]!r}.")
    for name, value, low in (("--seeds", args.seeds, 1), ("--epochs", args.epochs, 1), ("--patience", args.patience, 0),
                             ("--workers", args.workers, 1)):
        if value is not None and value < low:
            raise UsageError(f"{name} must be >= {low}, got {value}.")
    if not (0 < args.test_size < 1 and 0 < args.val_size < 1):
        raise UsageError(f"--test-size and --val-size must be in (0, 1) (the sweep judges on the validation rows); "
                         f"got {args.test_size} and {args.val_size}.")
    if not 0 <= args.momentum < 1:
        raise UsageError(f"--momentum must be in [0, 1), got {args.momentum}.")
    if args.workers and args.scheduler:
        raise UsageError("give --workers (a local cluster) or --scheduler (an existing one), not both.")
    try:
        configs = grid(layers=[parse_layers(spec) for spec in args.layers], activation=args.activation, lr=args.lr,
                       batch_size=[b or None for b in args.batch_size], alpha=args.alpha, optimizer=args.optimizer)
    except ValueError as exc:
        raise UsageError(str(exc).replace("axis 'batch_size'", "--batch-size").replace("axis '", "--").replace("' lists", " lists")) from None
    # The options that sweep shares with train are checked as train checks them: every value of the grid
    # becomes one run's settings (usage errors name the option, exit code 2).
    for config in configs:
        check({**DEFAULTS, "data": args.data, "target": args.target, "features": args.features, "task": args.task,
               "n_samples": args.n_samples, "seed": args.seed, "test_size": args.test_size, "val_size": args.val_size,
               "layers": list(config.layers), "activation": config.activation, "optimizer": config.optimizer,
               "lr": config.lr, "alpha": config.alpha, "batch_size": config.batch_size or 0,
               "momentum": args.momentum, "schedule": args.schedule, "dtype": args.dtype, "init": args.init,
               "epochs": args.epochs, "patience": "auto" if args.patience is None else args.patience})
    return configs


def _client(args):
    """(client, closer) for --workers / --scheduler, or (None, None)."""
    if not args.workers and not args.scheduler:
        return None, None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--workers and --scheduler need Dask: pip install 'ninestep[dask]'.") from None
    if args.scheduler:
        client = Client(args.scheduler, timeout="20s")
        return client, client.close
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=40)
    client = Client(cluster)
    return client, lambda: (client.close(), cluster.close())


def _plot(path: Path, leaderboard: list[dict], metric_name: str, axes: dict[str, list]) -> Path | None:
    """The metric (mean and spread over seeds) against each axis that varies (values in the order given);
    None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(4.2 * len(axes), 3.4), layout="constrained")
    for i, (axis, values) in enumerate(axes.items(), start=1):
        ax = fig.add_subplot(1, len(axes), i)
        labels = [_show(v) for v in values]
        at = {v: j for j, v in enumerate(labels)}
        for row in leaderboard:
            ax.errorbar(at[_show(row[axis])], row["mean"], yerr=row["std"], fmt="o", alpha=0.7, capsize=3)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(axis)
        ax.set_ylabel(metric_name if i == 1 else "")
        ax.grid(alpha=0.3)
    fig.suptitle(f"ninestep sweep: {metric_name}, mean and spread over seeds (each point a configuration)")
    from ..archive import atomic_path
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return "full" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


def run(args, out: Out) -> int:
    """``ninestep sweep``."""
    configs = _configs(args)
    source = args.data if is_builtin(args.data) or not os.path.exists(args.data) else os.path.abspath(args.data)
    cfg = {"data": source, "target": args.target, "features": args.features, "task": args.task,
           "n_samples": args.n_samples, "seed": args.seed, "test_size": args.test_size, "val_size": args.val_size,
           "layers": list(configs[0].layers), "activation": configs[0].activation, "init": args.init,
           "bias_init": "zeros", "dtype": args.dtype, "patience": args.patience}
    p = prepare(cfg, Out(quiet=True))          # ninestep train's steps 1-5, not printed
    data = SweepData(p.s(p.X_fit), p.t(p.y_fit), p.s(p.X_val), p.t(p.y_val), p.data.task, p.net.n_outputs,
                     X_test=p.s(p.X_test), y_test=p.t(p.y_test))
    patience = auto_patience(args.epochs) if args.patience is None else (args.patience or None)
    seeds = [seed_streams(args.seed + s)["init"] for s in range(args.seeds)]  # train's stream for the weights
    settings = SweepSettings(seeds=seeds, epochs=args.epochs, fit_seed=p.fit_seed, patience=patience,
                             schedule=args.schedule, momentum=args.momentum, dtype=args.dtype, init=args.init)
    groups = group_configs(configs)
    out(f"Sweep   {_count(len(configs), 'configuration')} x {_count(args.seeds, 'seed')} = "
        f"{_count(len(configs) * args.seeds, 'network')} in {_count(len(groups), 'ensemble')}, on "
        f"{p.data.description} ({p.data.task}): train {len(p.X_fit)}, "
        f"validation {len(p.X_val)}, test {len(p.X_test)} rows")
    out(f"        up to {args.epochs} epochs, {args.schedule} learning rate"
        + (f", early stopping after {patience} epochs without improvement" if patience else ""))

    out_dir = Path(args.out)
    with RunLock(out_dir):  # as ninestep train: one run per folder, taken before anything in it is touched
        return _sweep_into(out_dir, args, out, configs, cfg, p, data, settings)


def _sweep_into(out_dir: Path, args, out: Out, configs, cfg: dict, p, data: SweepData, settings: SweepSettings) -> int:
    """Train the sweep and write its files, with ``out_dir`` locked."""
    classification = p.data.task == "classification"
    client, close = _client(args)
    bar = _bar(len(configs) * args.seeds * args.epochs, enabled=not out.silent)
    try:
        if client is not None:
            out(f"        on Dask: {client.scheduler.address if hasattr(client, 'scheduler') else args.scheduler} "
                f"({len(client.scheduler_info()['workers'])} workers), one task per ensemble")
        result = run_sweep(configs, data, settings, client=client, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
        if close is not None:
            close()

    (out_dir / "best").mkdir(parents=True, exist_ok=True)
    axes = {a: sorted({getattr(c, a) for c in configs}, key=[getattr(c, a) for c in configs].index)
            for a in ("layers", "activation", "lr", "batch_size", "alpha", "optimizer")}
    axes = {a: values for a, values in axes.items() if len(values) > 1}
    columns = ["layers", "activation", "optimizer", "lr", "batch_size", "alpha", "mean", "std", "min", "max",
               "test_mean", "epochs_mean", "diverged", "seeds"]
    board = result.leaderboard
    write_csv(out_dir / "results.csv", [("val_" if c in ("mean", "std", "min", "max") else "") + c for c in columns],
              [[_show(row[c]) if c in ("layers", "batch_size") else row[c] for c in columns] for row in board])
    best = result.best
    info = {"sweep": {k: _show(best[k]) for k in ("layers", "activation", "optimizer", "lr", "batch_size", "alpha")},
            "seed_index": best["seed"], result.metric_name: best["metric"], "data": cfg["data"]}
    # as ninestep train saves its model: a table file's preprocessor holds its scalers
    save_model(out_dir / "best" / "model.npz", result.best_network(), x_scaler=p.x_scaler,
               y_scaler=None if p.pre is not None else p.y_scaler, classes=p.data.classes, task=p.data.task,
               feature_names=p.data.feature_names, target_names=p.data.target_names, info=info, preprocessor=p.pre)
    summary = {"metric": result.metric_name, "leaderboard": board, "runs": result.plain_rows(),
               "settings": {**{k: v for k, v in vars(args).items() if k not in ("run",)}, "patience": settings.patience},
               "best": {k: v for k, v in best.items() if k != "params"}}
    write_json(out_dir / "results.json", summary)
    plot = _plot(out_dir / "metric.png", board, result.metric_name, axes) if axes else None

    name = "accuracy" if classification else "R^2"
    out(f"Leaderboard (validation {name}, mean +- spread over {args.seeds} seeds; higher is better):")
    rows = [[str(i), _show(r["layers"]), r["activation"], r["optimizer"], _show(r["lr"]), _show(r["batch_size"]),
             _show(r["alpha"]), f"{r['mean']:.4f} +- {r['std']:.4f}" if r["seeds"] > r["diverged"] else "-",
             fmt(r["min"]) if r["seeds"] > r["diverged"] else "-", fmt(r["epochs_mean"]),
             str(r["diverged"]) if r["diverged"] else ""] for i, r in enumerate(board[:20], start=1)]
    out.block(text_table(["#", "layers", "activation", "optimizer", "lr", "batch", "alpha", name, "worst", "epochs",
                          "diverged"], rows))
    if len(board) > 20:
        out(f"        ... and {len(board) - 20} more in results.csv")
    files = [out_dir / "results.csv", out_dir / "results.json", out_dir / "best" / "model.npz"] + ([plot] if plot else [])
    out.saved(files)
    out(f"Next    ninestep predict --model {out_dir / 'best' / 'model.npz'} --data FILE.csv")
    if out.as_json:
        print_json({"out": str(out_dir), **{k: summary[k] for k in ("metric", "leaderboard", "best")}})
    return EXIT_OK


def _bar(total: int, enabled: bool):
    """A tqdm bar over the sweep's network-epochs on stderr, or None."""
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="        sweep", unit=" net-epochs", unit_scale=True, dynamic_ncols=True)
