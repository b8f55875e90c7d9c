"""Hyperparameter sweeps: a grid of settings times seeds, trained group by group as Ensembles.

A **configuration** is one choice per axis - hidden layers, activation,
learning rate, batch size, L2 alpha, optimiser (:func:`grid` makes them
all). Each is trained from several initial draws (**seeds**) and judged by
its validation metric, mean and spread over the seeds: accuracy for
classification, R^2 (mean over the targets) for regression; higher is
better for both. A seed whose training diverged has no metric (NaN) and
is counted in the configuration's ``diverged``, not in its mean.

Configurations that share the network's shape and the batch order -
layers, activation, optimiser kind and batch size - form a **group**: its
configurations times its seeds train as one :class:`~ninestep.Ensemble`
(learning rates and alphas differ per member), one NumPy call serving them
all. A group is also the unit of work handed to Dask
(:func:`run_sweep` with a ``dask.distributed`` client): one task per group.

Seeds. ``seeds[s]`` (a SeedSequence) draws the initial weights of seed s
of *every* configuration, so configurations of one shape start from the
same weights and differ only by what the sweep varies. The batch order
comes from one ``fit_seed`` for all. Results depend on nothing else: not on
the grouping, the threads, or which Dask worker ran a group (each member's
bits do not depend on the other members of its Ensemble).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .ensemble import Ensemble
from .network import Network
from .optimizers import SGD, Adam
from .training import ConvergenceWarning

__all__ = ["Config", "SweepData", "SweepSettings", "Group", "grid", "group_configs", "train_group",
           "run_sweep", "SweepResult", "AXES"]

#: The grid's axes, as ``ninestep sweep`` names them (``--batch-size`` is ``batch_size`` here).
AXES = ("layers", "activation", "lr", "batch_size", "alpha", "optimizer")


@dataclass(frozen=True)
class Config:
    """One point of the grid."""

    layers: tuple[int, ...]
    activation: str = "relu"
    lr: float = 0.01
    batch_size: int | None = 64
    alpha: float = 0.0
    optimizer: str = "adam"


def grid(layers: Sequence[Sequence[int]], activation: Sequence[str] = ("relu",), lr: Sequence[float] = (0.01,),
         batch_size: Sequence[int | None] = (64,), alpha: Sequence[float] = (0.0,),
         optimizer: Sequence[str] = ("adam",)) -> list[Config]:
    """Every combination of the values given, in the order given (the last axis varies fastest)."""
    axes = {"layers": [tuple(int(w) for w in spec) for spec in layers], "activation": list(activation),
            "lr": [float(v) for v in lr], "batch_size": list(batch_size), "alpha": [float(v) for v in alpha],
            "optimizer": [str(o).lower() for o in optimizer]}
    for name, values in axes.items():
        if not values:
            raise ValueError(f"the sweep axis {name!r} has no values; give at least one.")
        if len(set(values)) != len(values):
            raise ValueError(f"the sweep axis {name!r} lists a value twice: {values}.")
    for o in axes["optimizer"]:
        if o not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {o!r} in the sweep; choose adam or sgd.")
    for name in ("lr",):
        if any(not v > 0 for v in axes[name]):
            raise ValueError(f"every {name} must be > 0, got {axes[name]}.")
    if any(v < 0 for v in axes["alpha"]):
        raise ValueError(f"every alpha must be >= 0, got {axes['alpha']}.")
    return [Config(*values) for values in itertools.product(*axes.values())]


@dataclass
class Group:
    """Configurations trained together: the same layers, activation, optimiser kind and batch size."""

    index: int
    configs: list[Config]

    @property
    def key(self) -> tuple:
        c = self.configs[0]
        return (c.layers, c.activation, c.optimizer, c.batch_size)


def group_configs(configs: Sequence[Config]) -> list[Group]:
    """Configurations grouped by what one Ensemble must share, groups in order of first appearance."""
    groups: dict[tuple, Group] = {}
    for c in configs:
        key = (c.layers, c.activation, c.optimizer, c.batch_size)
        groups.setdefault(key, Group(len(groups), [])).configs.append(c)
    return list(groups.values())


@dataclass
class SweepData:
    """The arrays every configuration trains and is judged on (inputs scaled, targets as the network sees them).

    ``y_*``: class codes 0..k-1 (classification) or scaled targets (n, n_targets).
    """

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: str                    # "classification" or "regression"
    n_outputs: int
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def loss(self) -> str:
        return "cross_entropy" if self.task == "classification" else "mse"

    @property
    def output_activation(self) -> str:
        return "softmax" if self.task == "classification" else "linear"


@dataclass
class SweepSettings:
    """What every group shares."""

    seeds: list                    # one SeedSequence (or int) per seed: the initial weights
    epochs: int = 50
    fit_seed: Any = 0              # the batch order
    patience: int | None = None
    schedule: str | None = "cosine"
    momentum: float = 0.0
    dtype: str = "float64"
    n_threads: int | None = None   # per Ensemble; 1 on Dask workers (the workers are the parallelism)
    init: str | None = None        # the weights' initialiser (Network's init=; None: He for ReLU, else Glorot)


def metric(data: SweepData, out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each member's validation metric from its predictions ``out`` (K, n, n_outputs); higher is better."""
    if data.task == "classification":
        return (out.argmax(axis=2) == y[None, :]).mean(axis=1)               # accuracy
    Y = y.reshape(len(y), -1)
    ss_res = ((out - Y[None]) ** 2).sum(axis=1)
    ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    return (1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)).mean(axis=1)   # R^2, mean over targets


def _optimizer(c: Config, momentum: float):
    return Adam(lr=c.lr) if c.optimizer == "adam" else SGD(lr=c.lr, momentum=momentum)


def train_group(group: Group, data: SweepData, settings: SweepSettings,
                callback: Callable[[int, int], Any] | None = None) -> list[dict]:
    """Train a group's configurations x seeds as one Ensemble; one result row per (configuration, seed).

    A plain function of plain data, so that Dask can run it on any worker
    (and run it again elsewhere if that worker dies).
    """
    S = len(settings.seeds)
    first = group.configs[0]
    sizes = [data.X_fit.shape[1], *first.layers, data.n_outputs]
    ens = Ensemble(sizes, seed=list(settings.seeds) * len(group.configs), activation=first.activation,
                   output_activation=data.output_activation, init=settings.init, dtype=np.dtype(settings.dtype))
    optimizers = [_optimizer(c, settings.momentum) for c in group.configs for _ in range(S)]
    alphas = [c.alpha for c in group.configs for _ in range(S)]
    with warnings.catch_warnings():
        # A sweep tries settings that are meant to fail; its table says how each did.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = ens.fit(data.X_fit, data.y_fit, loss=data.loss, optimizer=optimizers, alpha=alphas,
                         epochs=settings.epochs, batch_size=first.batch_size, seed=settings.fit_seed,
                         validation_data=(data.X_val, data.y_val), patience=settings.patience,
                         lr_schedule=None if settings.schedule in (None, "constant") else settings.schedule,
                         n_threads=settings.n_threads, callback=callback)
    val = metric(data, ens.predict_members(data.X_val), data.y_val)
    test = metric(data, ens.predict_members(data.X_test), data.y_test) if data.X_test is not None else None
    rows = []
    for k in range(ens.n_members):
        c, s = group.configs[k // S], k % S
        h = result[k]
        gone = k in result.diverged   # its weights went back to an epoch's start: no result to judge
        rows.append({"group": group.index, **asdict(c), "seed": s, "metric": math.nan if gone else float(val[k]),
                     "test_metric": None if test is None or gone else float(test[k]),
                     "val_loss": float(min(h.val_loss)) if h.val_loss else math.nan, "epochs": h.epochs,
                     "stopped_early": h.stopped_early, "diverged": k in result.diverged,
                     "params": ens.params[k].copy()})
    return rows


@dataclass
class SweepResult:
    """Every (configuration, seed) row, and the table of configurations."""

    rows: list[dict]
    data: SweepData
    settings: SweepSettings
    metric_name: str = ""
    leaderboard: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.metric_name = "val_accuracy" if self.data.task == "classification" else "val_r2"
        by_config: dict[Config, list[dict]] = {}
        for row in self.rows:
            by_config.setdefault(_config_of(row), []).append(row)
        table = []
        for c, rows in by_config.items():
            values = np.array([r["metric"] for r in rows if not r["diverged"]])   # diverged seeds: counted apart
            tests = [r["test_metric"] for r in rows if r["test_metric"] is not None]
            stats = (np.mean(values), np.std(values), np.min(values), np.max(values)) if values.size else [math.nan] * 4
            table.append({**asdict(c), **dict(zip(("mean", "std", "min", "max"), map(float, stats))), "seeds": len(rows),
                          "test_mean": float(np.mean(tests)) if tests else None,
                          "epochs_mean": float(np.mean([r["epochs"] for r in rows])),
                          "diverged": sum(r["diverged"] for r in rows)})
        self.leaderboard = sorted(table, key=lambda t: -t["mean"] if math.isfinite(t["mean"]) else math.inf)

    @property
    def best(self) -> dict:
        """The best (configuration, seed) row of the best configuration."""
        top = _config_of(self.leaderboard[0])
        return max((r for r in self.rows if _config_of(r) == top),
                   key=lambda r: r["metric"] if math.isfinite(r["metric"]) else -math.inf)

    def best_network(self) -> Network:
        """The best configuration's best seed as a :class:`Network` (what ``best/model.npz`` holds)."""
        row = self.best
        sizes = [self.data.X_fit.shape[1], *row["layers"], self.data.n_outputs]
        net = Network(sizes, activation=row["activation"], output_activation=self.data.output_activation,
                      seed=0, dtype=np.dtype(self.settings.dtype))
        net.params[...] = row["params"]
        return net

    def plain_rows(self) -> list[dict]:
        """The rows without the weights, for CSV and JSON."""
        return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items() if k != "params"}
                for r in self.rows]


def _config_of(row: dict) -> Config:
    return Config(tuple(row["layers"]), row["activation"], row["lr"], row["batch_size"], row["alpha"],
                  row["optimizer"])


def run_sweep(configs: Sequence[Config], data: SweepData, settings: SweepSettings, client=None,
              progress: Callable[[int], Any] | None = None,
              on_group: Callable[[int, list[dict]], Any] | None = None) -> SweepResult:
    """Train every configuration x seed; in this process, or one Dask task per group with ``client``.

    Parameters
    ----------
    client : dask.distributed.Client, optional
        The data go to every worker once (``scatter``); each group is one
        task. A worker that dies takes its tasks with it and Dask runs them
        again elsewhere, so every group's result arrives exactly once.
    progress : callable(n), optional
        Called with a number of network-epochs done, e.g. a tqdm bar's
        ``update``; the total is ``len(configs) x len(seeds) x epochs``.
    on_group : callable(group index, rows), optional
        Called as each group's result arrives.
    """
    groups = group_configs(configs)
    E = settings.epochs
    results: dict[int, list[dict]] = {}

    def arrived(index: int, rows: list[dict], done: int) -> None:
        if index in results:  # cannot happen with Dask's futures; a guard for the promise we make
            raise RuntimeError(f"the result of group {index} arrived twice.")
        results[index] = rows
        if progress is not None:
            progress(len(rows) * E - done)   # early-stopped members' remaining epochs
        if on_group is not None:
            on_group(index, rows)

    if client is None:
        for group in groups:
            done = [0]

            def epoch_done(epoch: int, n_active: int, done=done) -> None:
                done[0] += n_active
                if progress is not None:
                    progress(n_active)

            arrived(group.index, train_group(group, data, settings, epoch_done), done[0])
    else:
        from distributed import as_completed

        remote = SweepSettings(**{**asdict(settings), "seeds": list(settings.seeds), "n_threads": 1})
        shared = client.scatter(data, broadcast=True, hash=False)
        futures = {client.submit(train_group, group, shared, remote, pure=False): group.index for group in groups}
        for future in as_completed(futures):
            arrived(futures[future], future.result(), 0)
    missing = [g.index for g in groups if g.index not in results]
    if missing:  # pragma: no cover - a guard
        raise RuntimeError(f"groups {missing} returned no result.")
    rows = [row for g in groups for row in results[g.index]]
    return SweepResult(rows, data, settings)
