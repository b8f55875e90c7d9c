"""The settings of ``ninestep train``: every option's default, and the checks a run's settings pass
(a new run's options, or a run.json that ``--resume`` reads) before anything is touched.

A problem is a :class:`~ninestep.cli._common.UsageError` naming the option (exit code 2).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..datasets import DATASET_TASKS, is_builtin
from ..layers import INITIALIZERS
from ..preprocessing import MISSING_MODES
from ..tabular import parse_columns
from ._common import DEFAULT_BATCH, TRAIN_ALPHA, TRAIN_INIT, TRAIN_LAYERS, TRAIN_LR, UsageError, parse_layers

__all__ = ["DEFAULT_OUT", "DEFAULTS", "TABLE_OPTIONS", "option", "check", "train_config"]

DEFAULT_OUT = os.path.join("runs", "latest")
#: Every option of train and its default. The parser itself has no defaults (argparse.SUPPRESS), so
#: that ``run`` can tell an option typed on the command line from one left out (see --resume).
DEFAULTS = {
    "data": "arithmetic", "target": None, "features": None, "drop": None, "task": None, "n_samples": None,
    "missing": "impute", "delimiter": None, "decimal": None, "na_values": None, "target_npy": None,
    "test_size": 0.3, "val_size": "auto", "layers": ",".join(map(str, TRAIN_LAYERS)), "activation": "relu",
    "init": TRAIN_INIT, "bias_init": "zeros", "optimizer": "adam", "lr": TRAIN_LR, "momentum": 0.0,
    "nesterov": False, "epochs": None, "batch_size": DEFAULT_BATCH, "alpha": TRAIN_ALPHA, "patience": None,
    "schedule": "cosine", "shuffle": "full", "seed": 0, "dtype": "float64", "pictures": None, "out": DEFAULT_OUT,
    "resume": None,
}
#: The options that only a table file takes (a built-in set or a .npy file refuses them).
TABLE_OPTIONS = ("target", "features", "drop", "delimiter", "decimal", "na_values")


def option(key: str) -> str:
    return "--" + key.replace("_", "-")


# ---------------------------------------------------------------------- checks (nothing is touched yet)
#: The numeric settings: (name, whole number?, may be absent?, test, what the test asks for).
_RANGES = [
    ("lr", False, False, lambda v: v > 0, "> 0"),
    ("momentum", False, False, lambda v: 0 <= v < 1, "in [0, 1)"),
    ("alpha", False, False, lambda v: v >= 0, ">= 0"),
    ("test_size", False, False, lambda v: 0 < v < 1, "in (0, 1)"),
    ("val_size", False, False, lambda v: 0 <= v < 1, "in [0, 1)"),
    ("seed", True, False, lambda v: v >= 0, ">= 0 (a seed for numpy.random.SeedSequence)"),
    ("n_samples", True, True, lambda v: v >= 1, ">= 1"),
    ("epochs", True, True, lambda v: v >= 0, ">= 0"),
    ("batch_size", True, False, lambda v: v >= 0, ">= 0 (0 = full batch)"),
    ("patience", True, False, lambda v: v >= 0, ">= 0 (0 = off)"),
]


def check(cfg: dict) -> None:
    """Every setting of a run, checked; a UsageError names the option. Used for new runs and run.json."""
    if not isinstance(cfg.get("data"), str):
        raise UsageError(f"--data must be a data set name or a CSV file, got {cfg.get('data')!r}.")
    for key, whole, optional, good, what in _RANGES:
        value = cfg.get(key)
        if (value is None and optional) or (key in ("patience", "val_size") and value == "auto"):
            continue
        number_ok = (isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value))
        if isinstance(value, bool) or not number_ok or not good(value):
            raise UsageError(f"{option(key)} must be {what}, got {value!r}.")
    if cfg["patience"] not in (0, None, "auto") and cfg["val_size"] == 0:
        raise UsageError("early stopping (--patience) needs a validation set; give --val-size > 0 or --patience 0.")
    if cfg.get("nesterov") and (cfg["optimizer"] != "sgd" or not cfg["momentum"] > 0):
        raise UsageError("--nesterov applies to --optimizer sgd with --momentum > 0.")
    for key, choices in (("activation", ("relu", "leaky_relu", "tanh", "sigmoid")), ("optimizer", ("adam", "sgd")),
                         ("schedule", ("cosine", "constant")), ("dtype", ("float64", "float32")),
                         ("bias_init", ("zeros", "same")), ("init", (None, *INITIALIZERS)),
                         ("task", (None, "regression", "classification")), ("missing", (None, *MISSING_MODES)),
                         ("shuffle", (None, "full", "blocks")), ("decimal", (None, ".", ","))):
        if cfg.get(key) not in choices:
            raise UsageError(f"{option(key)} must be one of {', '.join(map(str, choices))}; got {cfg.get(key)!r}.")
    layers = cfg["layers"]
    if not isinstance(layers, list) or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in layers):
        raise UsageError(f"--layers must be widths >= 1, got {layers!r}.")
    if "\n" in str(cfg.get("na_values") or ""):
        raise UsageError("--na-values must be one line of values separated by commas.")
    delimiter = cfg.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise UsageError(f"--delimiter must be one character such as ',' ';' or tab, got {delimiter!r}.")
    columns = {}
    for key in ("target", "features", "drop", "na_values"):
        try:
            names = parse_columns(cfg.get(key)) or []
        except ValueError as exc:
            raise UsageError(f"{option(key)}: {exc}") from None
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise UsageError(f"{option(key)} names {', '.join(map(repr, twice))} twice; give each column once.")
        columns[key] = names
    both = [n for n in columns["target"] if n in columns["features"]]
    if both:
        raise UsageError(f"{', '.join(map(repr, both))} is both a --target and a --features column; a column "
                         "is one or the other.")
    if is_builtin(cfg["data"]) or str(cfg["data"]).lower().endswith(".npy"):
        given = [option(k) for k in (*TABLE_OPTIONS, "missing") if cfg.get(k) not in (None, DEFAULTS.get(k))]
        what = f"the built-in data set {cfg['data']!r}" if is_builtin(cfg["data"]) else "a .npy file"
        if given:
            raise UsageError(f"{' and '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to table files such as "
                             f"CSV, not {what}.")
    if str(cfg["data"]).lower().endswith(".npy"):
        if not cfg.get("target_npy"):
            raise UsageError("a .npy --data file needs --target-npy FILE.npy with its targets.")
        for key in ("n_samples", "pictures"):
            if cfg.get(key):
                raise UsageError(f"{option(key)} does not apply to a memory-mapped .npy file.")
    elif cfg.get("target_npy"):
        raise UsageError("--target-npy goes with a .npy --data file.")
    if is_builtin(cfg["data"]):
        task = DATASET_TASKS[cfg["data"]]
        if cfg.get("task") not in (None, task):
            raise UsageError(f"the built-in data set {cfg['data']!r} is a {task} task; drop --task {cfg['task']}.")


def train_config(opts: dict) -> dict:
    """The settings of a new run from the options (defaults filled in), checked."""
    source, target_npy = opts["data"], opts["target_npy"]
    if not is_builtin(source) and os.path.exists(source):
        source = os.path.abspath(source)
    if target_npy is not None and os.path.exists(target_npy):
        target_npy = os.path.abspath(target_npy)
    patience = opts["patience"]
    if patience is None:
        patience = 0 if opts["val_size"] == 0 else "auto"
    delimiter = {"tab": "\t", "\\t": "\t"}.get(opts["delimiter"], opts["delimiter"])
    cfg = {
        "data": source, "target": opts["target"], "features": opts["features"], "drop": opts["drop"],
        "task": opts["task"], "missing": opts["missing"], "delimiter": delimiter, "decimal": opts["decimal"],
        "na_values": opts["na_values"], "target_npy": target_npy, "n_samples": opts["n_samples"], "seed": opts["seed"], "test_size": opts["test_size"],
        "val_size": opts["val_size"], "layers": parse_layers(opts["layers"]), "activation": opts["activation"],
        "init": opts["init"], "bias_init": opts["bias_init"], "optimizer": opts["optimizer"], "lr": opts["lr"],
        "momentum": opts["momentum"], "nesterov": opts["nesterov"], "epochs": opts["epochs"],
        "batch_size": opts["batch_size"], "alpha": opts["alpha"], "patience": patience,
        "schedule": opts["schedule"], "shuffle": opts["shuffle"], "dtype": opts["dtype"],
        # Pictures are drawn unless asked not to; a file larger than memory gets none (they need its rows).
        "pictures": (not str(opts["data"]).lower().endswith(".npy")) if opts["pictures"] is None else opts["pictures"],
    }
    check(cfg)
    out = Path(opts["out"])
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file; give a folder for the run's files.")
    return cfg
