"""The model file: plain arrays plus a JSON description, nothing that executes.

A ninestep file is a NumPy ``.npz`` archive holding

``__meta__``
    a uint8 array with the UTF-8 bytes of a JSON object: ``format``
    ("ninestep"), ``format_version``, ``kind`` ("model" or "checkpoint"),
    ``layer_sizes``, ``activations`` (one per layer), ``dtype``, and
    optionally ``classes`` (class names), ``task``, ``feature_names``,
    ``target_names`` and ``info`` (free JSON).
``W0, b0, W1, b1, ...``
    each layer's weights (n_in, n_out) and biases (n_out,).
``x_mean, x_scale, y_mean, y_scale``
    the fitted scalers, when saved with the model.
``opt.*``, ``best_params`` (checkpoints only)
    optimiser state and early-stopping weights.

Reading uses ``numpy.load(allow_pickle=False)``: a pickle or an object
array is refused, not run (pickled models can execute arbitrary code,
which is why PyTorch made ``weights_only=True`` its default). Every array's
dtype, shape and values are checked against the description before a
network is built, so a truncated, corrupted, inconsistent or newer file
gives a :class:`ModelFileError`, never a half-built model.

Writing is atomic: the archive goes to a temporary file in the same folder,
is flushed and fsync-ed, then moved over the target with ``os.replace``. A
crash in the middle leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .activations import get_activation
from .network import Network
from .optimizers import Adam, Optimizer, SGD
from .scaling import StandardScaler

__all__ = ["FORMAT_VERSION", "ModelFileError", "SavedModel", "save_model", "load_model", "load",
           "save_checkpoint", "load_checkpoint", "atomic_write"]

FORMAT = "ninestep"
#: Bumped whenever the layout changes; files from a newer version are refused.
FORMAT_VERSION = 1
_META = "__meta__"


class ModelFileError(ValueError):
    """A model or checkpoint file cannot be read safely."""


@dataclass
class SavedModel:
    """Everything a model file holds: the network and what is needed to use it on raw data."""

    net: Network
    x_scaler: StandardScaler | None = None
    y_scaler: StandardScaler | None = None
    classes: list | None = None
    task: str | None = None
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    info: dict = field(default_factory=dict)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in original units (class names for a classifier)."""
        Xs = self.x_scaler.transform(X) if self.x_scaler is not None else X
        out = self.net.forward(Xs)
        if self.classes is not None:
            idx = (out[:, 0] > 0.5).astype(int) if out.shape[1] == 1 else out.argmax(axis=1)
            return np.asarray(self.classes, dtype=object if isinstance(self.classes[0], str) else None)[idx]
        return self.y_scaler.inverse_transform(out) if self.y_scaler is not None else out


# ---------------------------------------------------------------------- writing
def atomic_write(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an .npz at ``path`` atomically (temp file, fsync, os.replace)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {str(path)!r}: folder {str(folder)!r} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _meta_array(meta: dict) -> np.ndarray:
    return np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8).copy()


def _network_arrays(net: Network) -> tuple[dict, dict[str, np.ndarray]]:
    if not np.isfinite(net.params).all():
        raise ValueError("refusing to save a network whose weights contain NaN or infinity.")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "layer_sizes": net.layer_sizes,
            "activations": [layer.activation.name for layer in net.layers], "dtype": net.dtype.name}
    arrays = {}
    for i, layer in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = layer.W, layer.b
    return meta, arrays


def _json_safe(values):
    return None if values is None else [v.item() if hasattr(v, "item") else v for v in values]


def save_model(path, net: Network, *, x_scaler: StandardScaler | None = None,
               y_scaler: StandardScaler | None = None, classes=None, task: str | None = None,
               feature_names=None, target_names=None, info: dict | None = None) -> Path:
    """Save ``net`` (and optionally its scalers and class names) to ``path`` (.npz)."""
    meta, arrays = _network_arrays(net)
    meta.update(kind="model", classes=_json_safe(classes), task=task,
                feature_names=_json_safe(feature_names), target_names=_json_safe(target_names),
                info=info or {})
    for prefix, scaler in (("x", x_scaler), ("y", y_scaler)):
        if scaler is not None:
            arrays[f"{prefix}_mean"], arrays[f"{prefix}_scale"] = scaler.mean_, scaler.scale_
    arrays[_META] = _meta_array(meta)
    return atomic_write(path, arrays)


def save_checkpoint(path, net: Network, optimizer: Optimizer, *, epoch: int, rng_state: dict,
                    history: dict, lr0: float, best_val: float, wait: int,
                    best_params: np.ndarray | None) -> Path:
    """Save the whole training state, so that :func:`ninestep.training.fit` can resume bit for bit."""
    meta, arrays = _network_arrays(net)
    opt_state = optimizer.state_dict()
    meta.update(kind="checkpoint", epoch=epoch, rng_state=rng_state, history=history, lr0=lr0,
                best_val=None if not np.isfinite(best_val) else best_val, wait=wait,
                optimizer={k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)})
    for k, v in opt_state.items():
        if isinstance(v, np.ndarray):
            arrays[f"opt.{k}"] = v
    if best_params is not None:
        arrays["best_params"] = best_params
    arrays[_META] = _meta_array(meta)
    return atomic_write(path, arrays)


# ---------------------------------------------------------------------- reading
def _read(path) -> tuple[dict, dict[str, np.ndarray]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{str(path)!r} is a single .npy array, not a ninestep .npz model file.")
            arrays = {name: archive[name] for name in archive.files}
    except ModelFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ModelFileError(f"{str(path)!r} contains pickled Python objects; ninestep refuses to "
                                 "load them because unpickling can run arbitrary code.") from None
        raise ModelFileError(f"{str(path)!r} is not a valid ninestep model file ({exc}).") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, NotImplementedError,
            RuntimeError) as exc:
        raise ModelFileError(f"{str(path)!r} is truncated or corrupted and cannot be read ({exc}).") from None
    if _META not in arrays:
        raise ModelFileError(f"{str(path)!r} has no ninestep description ({_META}); is it a ninestep model?")
    raw = arrays.pop(_META)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{str(path)!r} has a malformed description.")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} has a corrupted JSON description ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not a ninestep model file.")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{str(path)!r} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{str(path)!r} was written by a newer ninestep (format version {version}; "
                             f"this one reads up to {FORMAT_VERSION}). Upgrade ninestep to load it.")
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiu":
            raise ModelFileError(f"{str(path)!r}: array {name!r} has dtype {arr.dtype}, expected numbers.")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ModelFileError(f"{str(path)!r}: array {name!r} contains NaN or infinity.")
    return meta, arrays


def _build_network(path, meta: dict, arrays: dict[str, np.ndarray]) -> Network:
    where = repr(str(path))
    try:
        sizes = [int(n) for n in meta["layer_sizes"]]
        activations = list(meta["activations"])
        dtype = np.dtype(meta["dtype"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where} has an incomplete description ({exc}).") from None
    if len(activations) != len(sizes) - 1:
        raise ModelFileError(f"{where}: {len(activations)} activations for {len(sizes) - 1} layers.")
    try:
        net = Network(sizes, activation=activations[0], output_activation=activations[-1], seed=0, dtype=dtype)
        for layer, name in zip(net.layers, activations):
            if layer.activation.name != name:
                layer.activation = get_activation(name)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where} describes an invalid network ({exc}).") from None
    for i, layer in enumerate(net.layers):
        for key, target in ((f"W{i}", layer.W), (f"b{i}", layer.b)):
            if key not in arrays:
                raise ModelFileError(f"{where} is missing array {key!r}.")
            if arrays[key].shape != target.shape:
                raise ModelFileError(f"{where}: array {key!r} has shape {arrays[key].shape}, but layer_sizes "
                                     f"{sizes} needs {target.shape}.")
            target[...] = arrays[key]
    return net


def _scaler(path, arrays, prefix: str, width: int) -> StandardScaler | None:
    mean, scale = arrays.get(f"{prefix}_mean"), arrays.get(f"{prefix}_scale")
    if mean is None and scale is None:
        return None
    if mean is None or scale is None or mean.shape != (width,) or scale.shape != (width,) or (scale <= 0).any():
        raise ModelFileError(f"{str(path)!r}: the stored {prefix} scaler is inconsistent with the network.")
    return StandardScaler.from_params(mean, scale)


def load_model(path) -> SavedModel:
    """Read a model file written by :func:`save_model` (or a checkpoint) safely."""
    meta, arrays = _read(path)
    net = _build_network(path, meta, arrays)
    classes = meta.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) < 2):
        raise ModelFileError(f"{str(path)!r}: 'classes' must be a list of at least two names.")
    return SavedModel(net=net, x_scaler=_scaler(path, arrays, "x", net.n_inputs),
                      y_scaler=_scaler(path, arrays, "y", net.n_outputs), classes=classes,
                      task=meta.get("task"), feature_names=meta.get("feature_names"),
                      target_names=meta.get("target_names"), info=meta.get("info") or {})


def load(path) -> Network:
    """Load the :class:`Network` saved at ``path`` by ``net.save(path)``."""
    return load_model(path).net


def load_checkpoint(path, net: Network, optimizer: Optimizer) -> dict:
    """Restore ``net`` and ``optimizer`` from a checkpoint; return the loop's state."""
    meta, arrays = _read(path)
    if meta.get("kind") != "checkpoint":
        raise ModelFileError(f"{str(path)!r} is a model file, not a training checkpoint.")
    saved = _build_network(path, meta, arrays)
    if saved.layer_sizes != net.layer_sizes or saved.dtype != net.dtype:
        raise ModelFileError(f"checkpoint {str(path)!r} is for a {saved.layer_sizes} {saved.dtype.name} network, "
                             f"not this {net.layer_sizes} {net.dtype.name} one.")
    opt_meta = dict(meta.get("optimizer") or {})
    expected = {"sgd": SGD, "adam": Adam}.get(opt_meta.get("name"))
    if expected is None or not isinstance(optimizer, expected):
        raise ModelFileError(f"checkpoint {str(path)!r} was written with optimizer {opt_meta.get('name')!r}; "
                             f"resume with the same optimizer, not {type(optimizer).__name__}.")
    for key, value in arrays.items():
        if key.startswith("opt."):
            if value.shape != net.params.shape:
                raise ModelFileError(f"checkpoint {str(path)!r}: optimizer state {key!r} has the wrong shape.")
            opt_meta[key[4:]] = value.astype(net.dtype)
    net.params[...] = saved.params
    optimizer.load_state_dict(opt_meta)
    best = arrays.get("best_params")
    return {"epoch": int(meta["epoch"]), "rng_state": meta["rng_state"], "history": meta["history"],
            "lr0": float(meta["lr0"]), "best_val": np.inf if meta["best_val"] is None else float(meta["best_val"]),
            "wait": int(meta["wait"]), "best_params": None if best is None else best.astype(net.dtype)}
