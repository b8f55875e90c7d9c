"""What every command shares: the report printer, the usage error, number and
table formatting, JSON output, and the option parsers used by more than one
command.

Nothing here knows about a particular command; a command module imports
what it needs from here and from the library's public API.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..optimizers import Optimizer, get_optimizer

__all__ = ["Out", "UsageError", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INTERRUPTED",
           "fmt", "text_table", "ranges", "json_default", "dumps", "print_json", "finite_json", "number", "integer", "parse_layers",
           "make_optimizer", "auto_epochs", "auto_patience", "auto_val_size",
           "DEFAULT_BATCH", "TRAIN_LAYERS", "TRAIN_LR", "TRAIN_ALPHA", "TRAIN_INIT", "MIN_VAL_ROWS", "show_warning"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: The default recipe of ``train``, chosen by the study in benchmarks/defaults.py (twelve tabular data
#: sets, five seeds, against scikit-learn's defaults): one hidden layer of 100 ReLU units, Glorot weights
#: for every layer, Adam lr 1e-3 with cosine decay, batches of 64, L2 alpha 0.1, and a 10 % early-stopping
#: hold-out only from MIN_VAL_ROWS training rows (below that, the hold-out picked lucky early epochs).
TRAIN_LAYERS, TRAIN_LR, TRAIN_ALPHA, TRAIN_INIT, MIN_VAL_ROWS = (100,), 1e-3, 0.1, "glorot_uniform", 1000
DEFAULT_BATCH = 64


class UsageError(Exception):
    """A bad command line (exit code 2)."""


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

    def saved(self, paths) -> None:
        """The files a command wrote, after "Saved", wrapped to fit 80 columns (one name never split)."""
        self(textwrap.fill(", ".join(map(str, paths)), width=80, initial_indent="Saved   ",
                           subsequent_indent="        ", break_long_words=False, break_on_hyphens=False))


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr (installed as ``warnings.showwarning`` by main)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- numbers and tables
def fmt(value: float) -> str:
    """A number in at most about 7 characters."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def text_table(header: list[str], rows: list[list[Any]]) -> str:
    """Right-aligned columns; numbers through :func:`fmt`, strings as they are."""
    cells = [[str(h) for h in header]] + [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def ranges(X: np.ndarray, names: list[str], limit: int = 8) -> str:
    """min / max / mean of the first ``limit`` columns of X, as a table."""
    rows = [[n, float(X[:, j].min()), float(X[:, j].max()), float(X[:, j].mean())]
            for j, n in enumerate(names[:limit])]
    text = text_table(["column", "min", "max", "mean"], rows)
    if len(names) > limit:
        text += f"\n... and {len(names) - limit} more columns"
    return text


# ---------------------------------------------------------------------- JSON
def json_default(obj):
    """NumPy scalars and arrays and paths as plain JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def dumps(obj, indent: int | None = None) -> str:
    """Strict JSON: NaN and infinity have no JSON spelling, so they are written as null
    rather than as the ``NaN``/``Infinity`` that Python would write and other readers refuse."""
    return json.dumps(finite_json(obj), indent=indent, default=json_default, allow_nan=False)


def finite_json(obj):
    """``obj`` with every float that is not finite (NaN, +-inf) replaced by None (JSON null)."""
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_json(obj.tolist())
    return obj


def print_json(obj) -> None:
    """The one JSON object of ``--json`` on stdout."""
    print(dumps(obj), flush=True)


# ---------------------------------------------------------------------- options shared by commands
# Python's float() and int() also read "1_000", "inf", "nan" and "0x10"; an option never means those,
# so numbers on the command line are plain decimals (argparse names the option in the error).
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


def number(text: str) -> float:
    """An argparse ``type``: a finite decimal number such as 0.01, 1e-3 or 30."""
    value = float(text) if _DECIMAL.fullmatch(text.strip()) else math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite decimal number (e.g. 0.01 or 1e-3)")
    return value


def integer(text: str) -> int:
    """An argparse ``type``: a whole number in decimal digits, such as 200."""
    if not _INTEGER.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (e.g. 200)")
    return int(text)


def parse_layers(spec: str) -> list[int]:
    """``"64,64"`` -> [64, 64]; a UsageError naming --layers otherwise."""
    try:
        sizes = [int(s) for s in str(spec).split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--layers must be hidden-layer widths separated by commas, e.g. 64,64; got {spec!r}.") from None
    if any(s < 1 for s in sizes):
        raise UsageError(f"--layers widths must be >= 1, got {spec!r}.")
    return sizes


def make_optimizer(cfg: dict) -> Optimizer:
    """The optimiser a run's settings name (``optimizer``, ``lr``, ``momentum``, ``nesterov``)."""
    if cfg["optimizer"] == "adam":
        return get_optimizer("adam", lr=cfg["lr"])
    # A run.json may lack "nesterov" (written without --nesterov): plain momentum then.
    return get_optimizer("sgd", lr=cfg["lr"], momentum=cfg["momentum"], nesterov=bool(cfg.get("nesterov")))


def auto_patience(epochs: int) -> int:
    """Default early-stopping patience: half the epochs (at least 10); see ninestep.cli.train for why."""
    return max(10, epochs // 2)


def auto_val_size(n_train: int) -> float:
    """Default early-stopping hold-out: 10 % of the training rows from MIN_VAL_ROWS of them, else none.

    On small sets the hold-out's noise picked lucky early epochs (iris kept epoch 4) and its rows were
    missing from training; the defaults study found no hold-out better there (docs/cli.md).
    """
    return 0.1 if n_train >= MIN_VAL_ROWS else 0.0


def auto_epochs(n_fit: int, batch_size: int | None, max_epochs: int = 200, budget_steps: int = 40_000) -> int:
    """Default epochs: 200, fewer for big data so that training takes at most ~40,000 updates (at least 20 epochs)."""
    steps = math.ceil(n_fit / min(batch_size or n_fit, n_fit))
    return int(min(max_epochs, max(20, math.ceil(budget_steps / steps))))
