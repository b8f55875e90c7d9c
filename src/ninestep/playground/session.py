"""One training session per browser tab: the model behind the page.

A :class:`Session` holds the data, the network, the optimiser and the
history of one run, and trains it with the same calls as ``ninestep
train``: the data, the split, the initial weights and the shuffling each
draw from their own stream spawned from the one seed
(``SeedSequence(seed).spawn(4)``, as ``ninestep train --seed``), the inputs
and (for regression) the targets are standardised on the training rows,
and every epoch is one ``net.fit(..., epochs=1)`` call whose optimiser and
shuffling generator carry on from the last. Training E epochs in chunks of
any size therefore gives the same bits as one ``fit(epochs=E)`` - which is
what makes the page's URL a reproducible run, and the exported command line
the same model (see :mod:`ninestep.playground.export`).

The session never trains on its own: the page asks for the next frame
(:meth:`Session.tick`) and the session trains ``speed`` epochs before
answering. When the page closes, the requests stop and so does training.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import threading
import time
import warnings
from array import array
from dataclasses import dataclass

import numpy as np

from .. import DivergenceError, Network, StandardScaler, train_test_split
from .. import data as generators
from ..callbacks import LossExplosionWarning, cosine_schedule
from ..datasets import seed_streams
from ..optimizers import get_optimizer
from ..tabular import infer_task, read_csv, read_header
from . import views
from .settings import DATASETS, Limits, Settings, parse_settings

__all__ = ["Data", "Session", "load_data", "read_uploaded_csv"]

_WARNINGS_LOCK = threading.Lock()
#: Seconds of training a frame may take (at least one epoch): the page stays lively at any speed.
FRAME_BUDGET_S = 0.5


@dataclass
class Data:
    """A data set as the page draws it.

    ``X`` (n, d) float64; ``y`` (n,) class codes 0..k-1 indexing ``classes``,
    or regression targets (n,) or (n, t); ``plot`` the 1 or 2 columns of X
    on the axes.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list[str]
    target_names: list[str]
    classes: list | None
    plot: tuple[int, ...]
    description: str


def generator_call(s: Settings) -> tuple[str, dict]:
    """The :mod:`ninestep.data` generator of a built-in data set, and its arguments besides n and seed."""
    kwargs: dict = {} if s.data == "arithmetic" else {"noise": s.noise}
    if DATASETS[s.data][2]:  # circles, gauss and spirals take a number of classes
        kwargs["n_classes"] = s.classes
    return f"make_{s.data}", kwargs


def generate(s: Settings) -> Data:
    """A built-in data set drawn from the settings' seed."""
    name, kwargs = generator_call(s)
    X, y = getattr(generators, name)(s.n, **kwargs, seed=np.random.default_rng(seed_streams(s.seed)["data"]))
    if s.data == "arithmetic":
        return Data(X, y, "regression", ["a", "b"], ["a+b", "a-b", "|a-b|"], None, (0, 1),
                    "the article's data: a, b uniform in [0, 100); targets a+b, a-b, |a-b|")
    if s.data == "sine":
        return Data(X, y, "regression", ["x"], ["y"], None, (0,), f"y = sin(x) + {s.noise:g} N(0, 1)")
    k = kwargs.get("n_classes", 2)
    return Data(X, y, "classification", ["x1", "x2"], ["class"], list(range(k)), (0, 1),
                f"{s.data}: {k} classes, noise {s.noise:g}")


def read_uploaded_csv(content: bytes, target: str, limits: Limits) -> tuple[Data, list[str]]:
    """Parse an uploaded CSV file with ninestep's numeric reader (``tabular.read_csv``).

    Every feature column must hold numbers: unlike ``ninestep train --data
    FILE.csv``, the page does not one-hot text columns or impute gaps (a
    file with them gets a message saying which column). ``target`` "" means
    the last column. Returns the data (all other
    columns are features; the first two are drawn) and the file's columns.
    Raises ValueError with a message for the page.
    """
    if len(content) > limits.max_upload_bytes:
        raise ValueError(f"the file is {len(content):,} bytes; the playground takes CSV files up to "
                         f"{limits.max_upload_bytes:,} bytes (train bigger ones with ninestep train).")
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        columns = read_header(path)
        if len(columns) > limits.max_columns + 1:
            raise ValueError(f"the file has {len(columns)} columns; the playground takes at most "
                             f"{limits.max_columns + 1} (features and one target).")
        if len(columns) < 2:
            raise ValueError(f"the file has {len(columns)} column ({columns[0]!r}); it needs a target and at "
                             "least one feature column.")
        target = target or columns[-1]
        if target not in columns:
            raise ValueError(f"there is no column {target!r}; the columns are {', '.join(columns)}.")
        table = read_csv(path, target=[target])
    except ValueError as exc:  # the reader names its file: here a temporary one the user never saw
        raise ValueError(str(exc).replace(path, "the file")) from None
    finally:
        os.unlink(path)
    if table.n_rows > limits.max_rows:
        raise ValueError(f"the file has {table.n_rows:,} rows; the playground takes at most {limits.max_rows:,} "
                         "(train bigger files with ninestep train).")
    if table.n_rows < 10:
        raise ValueError(f"the file has {table.n_rows} data rows; the playground needs at least 10.")
    y = table.y
    task = infer_task(y)
    classes = None
    if task == "classification":
        values, y = np.unique(y, return_inverse=True)  # class labels -> 0..k-1, names sorted, as ninestep train
        if values.size < 2:
            raise ValueError(f"the target {target!r} has a single class ({values[0]!r}); classification needs at "
                             "least two. Choose another Target.")
        classes = [v.item() if hasattr(v, "item") else v for v in values]
        y = y.astype(np.int64)
    plot = (0, 1) if table.X.shape[1] >= 2 else (0,)
    return Data(table.X, y, task, list(table.feature_names), list(table.target_names), classes, plot,
                f"uploaded CSV: {table.n_rows} rows, target {target!r}"), columns


def load_data(s: Settings, upload: bytes | None, limits: Limits) -> tuple[Data, list[str]]:
    """The data the settings ask for: generated, or the uploaded file with the chosen target and axes."""
    if s.data != "csv":
        return generate(s), []
    if upload is None:
        raise ValueError("Dataset csv: upload a CSV file first (the URL holds the settings, not the file).")
    data, columns = read_uploaded_csv(upload, s.target, limits)
    drawn = [c for c in (s.fx, s.fy) if c]
    for c in drawn:
        if c not in data.feature_names:
            raise ValueError(f"the feature to draw {c!r} is not a feature column; choose from "
                             f"{', '.join(data.feature_names)}.")
    if drawn:
        data.plot = tuple(dict.fromkeys(data.feature_names.index(c) for c in drawn))
    return data, columns


class Run:
    """Steps 3-8 for one setting: the split, the scalers, the network, the optimiser, the epochs so far."""

    def __init__(self, s: Settings, data: Data):
        streams = seed_streams(s.seed)
        self.classify = data.task == "classification"
        test_size = round(1.0 - s.train, 6)  # 1 - 0.7 is 0.30000000000000004, one more test row than 0.3
        try:
            self.X_train, self.X_test, self.y_train, self.y_test = train_test_split(
                data.X, data.y, test_size=test_size, seed=np.random.default_rng(streams["split"]),
                stratify=data.y if self.classify else None)
        except ValueError as exc:
            raise ValueError(f"cannot split {len(data.X)} rows with train ratio {s.train:g}: {exc}") from None
        if self.classify and np.unique(self.y_train).size < len(data.classes):
            raise ValueError(f"the training part ({len(self.y_train)} rows) holds {np.unique(self.y_train).size} "
                             f"of the {len(data.classes)} classes; raise Samples or the Train ratio so that every "
                             "class has training rows.")
        self.x_scaler = StandardScaler().fit(self.X_train)
        self.y_scaler = None if self.classify else StandardScaler().fit(self.y_train)
        self.Xs_train, self.Xs_test = self.x_scaler.transform(self.X_train), self.x_scaler.transform(self.X_test)
        self.T_train, self.T_test = self.targets(self.y_train), self.targets(self.y_test)
        n_out = len(data.classes) if self.classify else (1 if data.y.ndim == 1 else data.y.shape[1])
        self.loss = "cross_entropy" if self.classify else "mse"
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:  # e.g. CapacityWarning
            warnings.simplefilter("always")
            self.net = Network([data.X.shape[1], *s.layers, n_out], activation=s.act,
                               output_activation="softmax" if self.classify else "linear",
                               init=None if s.init == "default" else s.init, bias_init=s.bias,
                               seed=np.random.default_rng(streams["init"]))
        self.notes = [str(w.message) for w in caught]
        self.optimizer = make_optimizer(s)
        self.rng = np.random.default_rng(streams["fit"])  # one generator: the shuffles carry on across fit calls
        self.settings = s
        self.epoch = 0
        # 8 bytes an epoch each (a list of floats would take 32): 100,000 epochs cost 1.6 MB.
        self.train_loss, self.test_loss = array("d"), array("d")
        self.error = ""
        self.view_cache: tuple | None = None  # (key, views) of the last frame, see views.frame

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the network sees them: class labels, or standardised values."""
        return y if self.y_scaler is None else self.y_scaler.transform(y)

    def train(self, epochs: int, budget_s: float = math.inf) -> int:
        """Up to ``epochs`` more epochs (not past the setting's total, nor past ``budget_s`` seconds
        once one has run); returns how many ran."""
        s = self.settings
        todo = max(0, min(epochs, s.epochs - self.epoch))
        deadline = time.perf_counter() + budget_s
        for done in range(todo):
            if done and time.perf_counter() > deadline:
                return done
            if s.schedule == "cosine":  # fit's "cosine" over s.epochs, applied one epoch at a time
                self.optimizer.lr = cosine_schedule(self.epoch, s.epochs, s.lr)
            try:
                # catch_warnings changes the process's filters: one session at a time in here
                # (and in Run.__init__).
                with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught, \
                        np.errstate(over="ignore", invalid="ignore"):
                    warnings.simplefilter("always")
                    h = self.net.fit(self.Xs_train, self.T_train, loss=self.loss, optimizer=self.optimizer,
                                     epochs=1, batch_size=s.batch_size, shuffle=True,
                                     validation_data=(self.Xs_test, self.T_test), seed=self.rng, alpha=s.alpha)
            except (DivergenceError, ValueError) as exc:
                self.error = str(exc)
                return done
            for w in caught:
                # fit's explosion check compares with the first batch of the call, here the epoch's:
                # on a fitted network that is noise. The loss curve shows a real explosion.
                if not issubclass(w.category, LossExplosionWarning) and str(w.message) not in self.notes:
                    self.notes.append(str(w.message))
            self.epoch += 1
            self.train_loss.append(h.loss[-1])
            self.test_loss.append(h.val_loss[-1])
        return todo

    @property
    def finished(self) -> bool:
        return self.epoch >= self.settings.epochs or bool(self.error)


def make_optimizer(s: Settings):
    """Step 8's optimiser; "gd" is plain SGD on the full batch (``Settings.batch_size`` is None)."""
    if s.opt == "adam":
        return get_optimizer("adam", lr=s.lr)
    momentum = s.momentum if s.opt in ("momentum", "nesterov") else 0.0
    return get_optimizer("sgd", lr=s.lr, momentum=momentum, nesterov=s.opt == "nesterov")


class Session:
    """Everything one tab owns; every public method takes the lock (the server calls them from threads)."""

    def __init__(self, settings: Settings, limits: Limits):
        self.lock = threading.Lock()
        self.limits = limits
        self.upload: bytes | None = None
        self.columns: list[str] = []
        self.version = 0  # bumped whenever the data or the network is rebuilt, so the page redraws them
        self.last_seen = time.monotonic()
        self._build(settings, self.upload)

    def _build(self, settings: Settings, upload: bytes | None) -> None:
        data, columns = load_data(settings, upload, self.limits)
        run = Run(settings, data)  # may raise: nothing is replaced until both are built
        self.settings, self.data, self.run, self.upload = settings, data, run, upload
        if columns:
            self.columns = columns
        self.version += 1

    def configure(self, raw: dict) -> None:
        """New settings (a dict of URL values): rebuild and start again. A bad value keeps the old run."""
        with self.lock:
            self.last_seen = time.monotonic()
            settings = parse_settings(raw, self.limits, base=self.settings)
            if settings == self.settings:
                return
            if dataclasses.replace(settings, speed=self.settings.speed) == self.settings:
                # Speed says how many epochs a frame shows, not what they compute: the run carries on.
                self.settings = settings
                self.run.settings = settings
                return
            self._build(settings, self.upload)

    def upload_csv(self, content: bytes, target: str = "") -> None:
        """Switch to an uploaded file (last column the target unless ``target``); a bad file changes nothing."""
        with self.lock:
            self.last_seen = time.monotonic()
            data, columns = read_uploaded_csv(content, target, self.limits)
            names = data.feature_names
            settings = parse_settings({"data": "csv", "target": data.target_names[0], "fx": names[0],
                                       "fy": names[1] if len(names) > 1 else ""}, self.limits, base=self.settings)
            self._build(settings, content)

    def reset(self) -> None:
        """Back to epoch 0: the same seed gives the same data, split and initial weights."""
        with self.lock:
            self.last_seen = time.monotonic()
            self._build(self.settings, self.upload)

    def tick(self, action: str, since: int, version: int | None = None) -> dict:
        """Train ("play": ``speed`` epochs, "step": one) and return the frame the page draws.

        ``version``: the run the page asked about; a request sent before a
        Reset or a new setting (still on its way) does not train the new run.
        """
        with self.lock:
            self.last_seen = time.monotonic()
            if version is not None and version != self.version:
                action = "none"
            if action == "play":
                # A frame at least every FRAME_BUDGET_S, whatever the speed: Pause and other settings
                # wait for the tick in progress. Epoch boundaries do not change the bits.
                self.run.train(self.settings.speed, FRAME_BUDGET_S)
            elif action == "step":
                self.run.train(1)
            elif action != "none":
                raise ValueError(f"action must be play, step or none; got {action!r}.")
            return views.frame(self, since)
