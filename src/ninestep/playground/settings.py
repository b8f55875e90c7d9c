"""The playground's settings: what the URL holds, their limits, and the two presets.

Every setting is a short query-string key (``?data=spirals&layers=8,8&lr=0.03``)
so that the page's URL is the whole run: the same URL, the same bits.
:func:`parse_settings` turns such a dict of strings (or a JSON object from
the page) into a checked :class:`Settings`; a bad value raises a
ValueError that names the setting, shows the value and says what is
allowed, which the page shows as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["Limits", "Settings", "parse_settings", "PRESETS", "DATASETS", "OPTIMIZERS", "ACTIVATIONS",
           "INITS"]

#: name -> (task, default noise, number of classes: None for regression, 0 if fixed at 2)
DATASETS: dict[str, tuple[str, float, int | None]] = {
    "circles": ("classification", 0.1, 2), "xor": ("classification", 0.1, 0),
    "gauss": ("classification", 0.1, 2), "spirals": ("classification", 0.2, 3),
    "moons": ("classification", 0.1, 0), "arithmetic": ("regression", 0.0, None),
    "sine": ("regression", 0.1, None), "csv": ("csv", 0.0, None),
}
OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("default", "he_normal", "he_uniform", "glorot_uniform", "glorot_normal")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Limits:
    """What one server allows; each limit's error message names it.

    The defaults keep a session to a few tens of MB: 8 x 256 units is
    about 460,000 parameters (3.7 MB in float64, times 3 with Adam's
    moments), 10,000 rows of 100 columns 8 MB.
    """

    max_sessions: int = 16
    max_layers: int = 8
    max_units: int = 256
    max_rows: int = 10_000
    max_columns: int = 100
    max_upload_bytes: int = 5 * 1024 * 1024
    max_epochs: int = 100_000
    max_speed: int = 1000
    idle_timeout_s: float = 600.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Settings:
    """One run. ``batch`` 0 means the full batch; ``init`` "default" is Network's per-layer choice."""

    data: str = "spirals"
    n: int = 500
    noise: float = 0.2
    classes: int = 3
    train: float = 0.7
    layers: tuple[int, ...] = (8, 8)
    act: str = "tanh"
    init: str = "glorot_uniform"  # ninestep train's default; "default" is Network's He-for-ReLU choice per layer
    bias: str = "zeros"
    opt: str = "adam"
    lr: float = 0.03
    momentum: float = 0.9
    batch: int = 16
    alpha: float = 0.0
    schedule: str = "constant"
    epochs: int = 2000
    seed: int = 0
    speed: int = 1
    target: str = ""
    fx: str = ""
    fy: str = ""

    def query(self) -> dict[str, str]:
        """The settings as the URL's query-string values."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" \
                if isinstance(value, float) else str(value)
        return out

    @property
    def batch_size(self) -> int | None:
        """Rows per step for ``fit``: None (the full batch) for "gd" or batch 0."""
        return None if self.opt == "gd" or self.batch == 0 else self.batch


#: One click each. "The article": its [2, 4, 4, 3] on a + b, a - b, |a - b| with random biases,
#: full-batch gradient descent and lr 0.01 - the loss stalls and dead ReLU units show why (seed 3:
#: two of the second layer's four). "Well configured": ninestep train's defaults (cli/_common.py's
#: TRAIN_* and DEFAULT_BATCH, held equal by a test): 100 ReLU units, Glorot weights, Adam lr 1e-3
#: decayed along a cosine over 200 epochs (auto_epochs for 700 rows), batches of 64, L2 alpha 0.1.
PRESETS: dict[str, dict[str, Any]] = {
    "article": dict(data="arithmetic", n=1000, noise=0.0, train=0.7, layers="4,4", act="relu", init="he_normal",
                    bias="same", opt="gd", lr=0.01, batch=0, alpha=0.0, schedule="constant", epochs=20000,
                    seed=3, speed=50),
    "well": dict(data="arithmetic", n=1000, noise=0.0, train=0.7, layers="100", act="relu", init="glorot_uniform",
                 bias="zeros", opt="adam", lr=0.001, batch=64, alpha=0.1, schedule="cosine", epochs=200, seed=0,
                 speed=1),
}


def _number(raw: Any, name: str, kind: type, low: float, high: float, what: str):
    try:
        value = kind(raw) if kind is float else int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{what} ({name}) must be a{'n integer' if kind is int else ' number'} from {low:g} "
                         f"to {high:g}, got {raw!r}.") from None
    if not (low <= value <= high):  # also rejects NaN
        raise ValueError(f"{what} ({name}) must be from {low:g} to {high:g}, got {raw!r}.")
    return value


def _choice(raw: Any, name: str, choices, what: str) -> str:
    value = str(raw)
    if value not in choices:
        raise ValueError(f"{what} ({name}) must be one of {', '.join(choices)}; got {raw!r}.")
    return value


def parse_layers(raw: Any, limits: Limits) -> tuple[int, ...]:
    """``"8,8"`` (or a list) -> (8, 8); "" is no hidden layer. Checked against the limits."""
    parts = raw if isinstance(raw, (list, tuple)) else [p for p in str(raw).split(",") if p.strip()]
    if len(parts) > limits.max_layers:
        raise ValueError(f"Hidden layers (layers): at most {limits.max_layers} layers, got {len(parts)}.")
    return tuple(_number(p, "layers", int, 1, limits.max_units, "Units per hidden layer") for p in parts)


def parse_settings(raw: dict[str, Any], limits: Limits, base: Settings | None = None) -> Settings:
    """Check ``raw`` (strings from the URL or values from the page) on top of ``base``.

    Unknown keys are ignored (a URL may carry more); ``preset=article`` or
    ``preset=well`` starts from that preset.
    """
    base = base or Settings()
    raw = dict(raw)
    if "preset" in raw:
        preset = _choice(raw.pop("preset"), "preset", tuple(PRESETS), "Preset")
        raw = {**PRESETS[preset], **raw}
    s = dataclasses.asdict(base)
    if "data" in raw and raw["data"] != s["data"]:
        # A new data set starts from its usual noise and number of classes (ninestep train's defaults).
        _, s["noise"], classes = DATASETS.get(str(raw["data"]), ("", 0.0, None))
        s["classes"] = classes or 2
        s["target"] = s["fx"] = s["fy"] = ""  # the columns of a file belong to that file
    checks = {
        "data": lambda v: _choice(v, "data", tuple(DATASETS), "Dataset"),
        "n": lambda v: _number(v, "n", int, 10, limits.max_rows, "Samples"),
        "noise": lambda v: _number(v, "noise", float, 0.0, 2.0, "Noise"),
        "classes": lambda v: _number(v, "classes", int, 2, 6, "Classes"),
        "train": lambda v: _number(v, "train", float, 0.1, 0.9, "Train ratio"),
        "layers": lambda v: parse_layers(v, limits),
        "act": lambda v: _choice(v, "act", ACTIVATIONS, "Activation"),
        "init": lambda v: _choice(v, "init", INITS, "Initialisation"),
        "bias": lambda v: _choice(v, "bias", ("zeros", "same"), "Bias initialisation"),
        "opt": lambda v: _choice(v, "opt", OPTIMIZERS, "Optimiser"),
        "lr": lambda v: _number(v, "lr", float, 1e-6, 10.0, "Learning rate"),
        "momentum": lambda v: _number(v, "momentum", float, 0.0, 0.999, "Momentum"),
        "batch": lambda v: _number(v, "batch", int, 0, limits.max_rows, "Batch size"),
        "alpha": lambda v: _number(v, "alpha", float, 0.0, 10.0, "L2 alpha"),
        "schedule": lambda v: _choice(v, "schedule", SCHEDULES, "Learning-rate schedule"),
        "epochs": lambda v: _number(v, "epochs", int, 1, limits.max_epochs, "Epochs"),
        "seed": lambda v: _number(v, "seed", int, 0, 2**32 - 1, "Seed"),
        "speed": lambda v: _number(v, "speed", int, 1, limits.max_speed, "Speed (epochs per frame)"),
        "target": str, "fx": str, "fy": str,
    }
    for key, check in checks.items():
        if key in raw:
            s[key] = check(raw[key])
    return Settings(**s)
