"""Take a playground run away: the model file, the data, a command line and a Python script.

* :func:`model_bytes` - the ``.npz`` that ``ninestep predict`` reads, saved
  with ``ns.save_model`` and the scalers, class names and column names that
  ``ninestep train`` writes.
* :func:`data_csv` - the session's rows as CSV (the features, the target and
  a ``split`` column), so a learner can check the model on them elsewhere.
* :func:`command_line` - the ``ninestep train`` command with the same
  settings. For a built-in data set at its usual noise (and classes), with
  the constant schedule or a finished cosine run, it trains the same model
  bit for bit: same seed streams, split, scalers, weights and shuffles.
* :func:`python_script` - the same run in a few lines of the library's API;
  run as it is, it ends with the page's weights, bit for bit.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
import tempfile

from .. import save_model
from .session import generator_call
from .settings import DATASETS

__all__ = ["model_bytes", "data_csv", "command_line", "python_script"]


def model_bytes(session) -> bytes:
    """The trained network as ``ninestep train``'s ``model.npz``."""
    run, data, s = session.run, session.data, session.settings
    fd, path = tempfile.mkstemp(suffix=".npz")
    os.close(fd)
    try:
        save_model(path, run.net, x_scaler=run.x_scaler, y_scaler=run.y_scaler, classes=data.classes,
                   task=data.task, feature_names=data.feature_names, target_names=data.target_names,
                   info={"data": s.data, "seed": s.seed, "epochs": run.epoch, "source": "ninestep playground",
                         "settings": s.query()})
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def data_csv(session) -> str:
    """Every row: the features, the target(s) in original units or class names, and train/test."""
    run, data = session.run, session.data
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*data.feature_names, *data.target_names, "split"])
    for part, X, y in (("train", run.X_train, run.y_train), ("test", run.X_test, run.y_test)):
        Y = y.reshape(len(y), -1)
        for x, t in zip(X.tolist(), Y.tolist()):
            target = [data.classes[int(t[0])]] if data.classes is not None else [repr(v) for v in t]
            w.writerow([*map(repr, x), *target, part])
    return buf.getvalue()


def _optimizer_flags(s) -> list[str]:
    if s.opt == "adam":
        return ["--optimizer", "adam"]
    flags = ["--optimizer", "sgd"]
    if s.opt in ("momentum", "nesterov"):
        flags += ["--momentum", f"{s.momentum:g}"]
    if s.opt == "nesterov":
        flags.append("--nesterov")
    return flags


def command_line(session) -> str:
    """``ninestep train ...`` with these settings (no validation split, no early stopping: as the page)."""
    s, data = session.settings, session.data
    if s.data == "csv":
        source = ["--data", "FILE.csv", "--target", data.target_names[0], "--task", data.task]
    else:
        source = ["--data", s.data, "--n-samples", str(s.n)]
    args = ["ninestep", "train", *source, "--test-size", f"{round(1 - s.train, 6):g}", "--val-size", "0",
            "--layers", ",".join(map(str, s.layers)), "--activation", s.act]
    # --init names one initialiser for every layer. Network's per-layer default (He for ReLU layers,
    # Glorot for the rest) is Glorot uniform throughout when no layer is ReLU; with ReLU layers the
    # nearest is He normal, and a comment says so.
    per_layer = s.init == "default" and s.act in ("relu", "leaky_relu") and bool(s.layers)
    args += ["--init", s.init if s.init != "default" else "he_normal" if per_layer else "glorot_uniform"]
    if s.bias != "zeros":
        args += ["--bias-init", s.bias]
    args += [*_optimizer_flags(s), "--lr", f"{s.lr:g}", "--batch-size", str(s.batch_size or 0),
             "--alpha", f"{s.alpha:g}", "--epochs", str(s.epochs), "--schedule", s.schedule, "--seed", str(s.seed)]
    notes = ["the page's initialisation (He for the ReLU layers, Glorot for the output) has no --init"] \
        if per_layer else []
    if s.data != "csv":
        _, noise, classes = DATASETS[s.data]
        notes += [f"the page used noise {s.noise:g} (ninestep train's {s.data}: {noise:g})"] if s.noise != noise else []
        notes += [f"the page used {s.classes} classes (ninestep train's: {classes})"] \
            if classes and s.classes != classes else []
    # shlex.join: a CSV column may hold spaces or quotes
    return shlex.join(args) + "".join(f"\n# {note}; the Python script is the exact run" for note in notes)


def python_script(session) -> str:
    """A script that reruns the page's run to its current epoch with ninestep's API."""
    s, data, run = session.settings, session.data, session.run
    classify = data.task == "classification"
    if s.data == "csv":
        load = [f"table = read_csv('FILE.csv', target={data.target_names!r})", "X, y = table.X, table.y"]
        if classify:
            load.append("classes, y = np.unique(y, return_inverse=True)  # labels -> 0..k-1, as ninestep train")
        imports = ["from ninestep.tabular import read_csv"]
    else:
        name, kwargs = generator_call(s)
        load = [f"X, y = {name}({s.n}, " + "".join(f"{k}={v!r}, " for k, v in kwargs.items()) + "seed=rng(streams[0]))"]
        imports = [f"from ninestep.data import {name}"]
    sizes = [data.X.shape[1], *s.layers, len(data.classes) if classify else run.net.n_outputs]
    opt = ("ns.Adam(lr={lr!r})" if s.opt == "adam" else "ns.SGD(lr={lr!r}, momentum={m!r}, nesterov={nv})").format(
        lr=s.lr, m=s.momentum if s.opt in ("momentum", "nesterov") else 0.0, nv=s.opt == "nesterov")
    schedule = ("None" if s.schedule == "constant" else
                f"lambda epoch, lr0: 0.5 * lr0 * (1 + math.cos(math.pi * epoch / {s.epochs}))")
    lines = [
        *(["import math", ""] if s.schedule == "cosine" else []), "import numpy as np", "",
        "import ninestep as ns", *imports, "",
        f"# {run.epoch} epochs of the page's run; each use of seed {s.seed} has its own stream, as in ninestep train",
        "rng = np.random.default_rng",
        f"streams = np.random.SeedSequence({s.seed}).spawn(4)  # data, split, weights, shuffles",
        *load,
        f"X_train, X_test, y_train, y_test = ns.train_test_split(X, y, test_size={round(1 - s.train, 6)!r}, "
        f"seed=rng(streams[1]){', stratify=y' if classify else ''})",
        "x_scaler = ns.StandardScaler().fit(X_train)",
        "y_scaler = None" if classify else "y_scaler = ns.StandardScaler().fit(y_train)",
        f"net = ns.Network({sizes}, activation={s.act!r}, "
        f"output_activation={'softmax' if classify else 'linear'!r}, "
        f"init={None if s.init == 'default' else s.init!r}, bias_init={s.bias!r}, seed=rng(streams[2]))",
        f"optimizer = {opt}",
        "targets = y_train if y_scaler is None else y_scaler.transform(y_train)",
        f"history = net.fit(x_scaler.transform(X_train), targets, loss={run.loss!r}, optimizer=optimizer, "
        f"epochs={run.epoch}, batch_size={s.batch_size}, seed=rng(streams[3]), alpha={s.alpha!r}, "
        f"lr_schedule={schedule})",
        "ns.save_model('model.npz', net, x_scaler=x_scaler, y_scaler=y_scaler, "
        f"classes={data.classes!r}, task={data.task!r}, feature_names={data.feature_names!r}, "
        f"target_names={data.target_names!r})",
    ]
    return "\n".join(lines) + "\n"
