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
    optimiser state and early-stopping weights; the description then also
    holds ``epoch``, ``rng_state``, ``history``, ``lr0``, ``best_val``,
    ``wait``, ``optimizer`` (hyperparameters) and ``run`` (what a resumed
    run must share: sizes, data checksums, batch size, shuffle, loss, alpha).

Reading never unpickles: pickled models can execute arbitrary code, which
is why PyTorch made ``weights_only=True`` its default. The archive is taken
apart with :mod:`zipfile` and each member's ``.npy`` header (a plain
literal) is checked first - numeric dtype, and a shape whose size matches
the bytes stored - so an object array, whose data would be a pickle, is
refused before its data is read, and no header can make us allocate more
than the file holds. Every array is then checked against the description
(shapes, finiteness) before a network is built, so a truncated, corrupted,
inconsistent or newer file gives a :class:`ModelFileError`, never a
half-built model.

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
    try:  # strict JSON: NaN and infinity have no JSON spelling, and objects none at all
        text = json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot save the model description as JSON ({exc}); class names, feature names "
                        "and info must be plain strings and numbers.") from None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def _network_arrays(net: Network) -> tuple[dict, dict[str, np.ndarray]]:
    if not isinstance(net, Network):
        raise TypeError(f"expected a ninestep.Network to save, got {type(net).__name__}.")
    if not np.isfinite(net.params).all():
        raise ValueError("refusing to save a network whose weights contain NaN or infinity "
                         "(a model file never holds NaN); retrain with a smaller learning rate.")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "layer_sizes": net.layer_sizes,
            "activations": [layer.activation.name for layer in net.layers], "dtype": net.dtype.name}
    arrays = {}
    for i, layer in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = layer.W, layer.b
    return meta, arrays


def _json_safe(values, name: str, length: int | None = None):
    if values is None:
        return None
    values = [v.item() if hasattr(v, "item") else v for v in values]
    if length is not None and len(values) != length:
        raise ValueError(f"{name} has {len(values)} entries but the network needs {length}.")
    return values


def save_model(path, net: Network, *, x_scaler: StandardScaler | None = None,
               y_scaler: StandardScaler | None = None, classes=None, task: str | None = None,
               feature_names=None, target_names=None, info: dict | None = None) -> Path:
    """Save ``net`` (and optionally its scalers and class names) to ``path`` (.npz), atomically.

    ``classes`` names the outputs of a classifier (2 names for a single
    sigmoid output, else one per output); ``feature_names`` one per input;
    ``info`` is any JSON object. Raises ValueError for NaN weights or
    mismatched lengths, so that no file is written that could not be read.
    """
    meta, arrays = _network_arrays(net)
    n_classes = 2 if net.n_outputs == 1 else net.n_outputs
    meta.update(kind="model", classes=_json_safe(classes, "classes", n_classes), task=task,
                feature_names=_json_safe(feature_names, "feature_names", net.n_inputs),
                target_names=_json_safe(target_names, "target_names"), info=info or {})
    for prefix, scaler, width in (("x", x_scaler, net.n_inputs), ("y", y_scaler, net.n_outputs)):
        if scaler is not None:
            if getattr(scaler, "mean_", None) is None or np.shape(scaler.mean_) != (width,):
                raise ValueError(f"{prefix}_scaler must be a StandardScaler fitted on {width} columns.")
            arrays[f"{prefix}_mean"], arrays[f"{prefix}_scale"] = scaler.mean_, scaler.scale_
    arrays[_META] = _meta_array(meta)
    return atomic_write(path, arrays)


def save_checkpoint(path, net: Network, optimizer: Optimizer, *, epoch: int, rng_state: dict,
                    history: dict, lr0: float, best_val: float, wait: int,
                    best_params: np.ndarray | None, run: dict | None = None) -> Path:
    """Save the whole training state, so that :func:`ninestep.training.fit` can resume bit for bit.

    ``run`` describes the data and settings (sizes, checksums, batch size...)
    that a resumed run must share; :func:`load_checkpoint` compares them.
    """
    meta, arrays = _network_arrays(net)
    opt_state = optimizer.state_dict()
    meta.update(kind="checkpoint", epoch=epoch, rng_state=rng_state, history=history, lr0=lr0, run=run,
                best_val=None if not np.isfinite(best_val) else best_val, wait=wait,
                optimizer={k: v for k, v in opt_state.items() if not isinstance(v, np.ndarray)})
    for k, v in opt_state.items():
        if isinstance(v, np.ndarray):
            arrays[f"opt.{k}"] = v
    if best_params is not None:
        arrays["best_params"] = best_params
    for name, value in arrays.items():
        if not np.isfinite(value).all():  # the reader refuses such a file, so never write one
            raise ValueError(f"refusing to write a checkpoint whose {name!r} holds NaN or infinity.")
    arrays[_META] = _meta_array(meta)
    return atomic_write(path, arrays)


# ---------------------------------------------------------------------- reading
#: Array dtypes a ninestep file may hold: real numbers only (no objects, strings or records).
_NUMERIC_KINDS = "fiu"
#: Deflated members may expand at most this much (ninestep writes them uncompressed; float
#: weights compress to ~90%, so only a "zip bomb" crafted to exhaust memory gets near it).
_MAX_EXPANSION = 100


def _fail(path, why: str) -> ModelFileError:
    return ModelFileError(f"{str(path)!r} {why}")


def _sniff(path) -> str:
    """Name what a file that is not a zip archive looks like, for the error message."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return "is empty (0 bytes), not a ninestep model file."
    if head.startswith(np.lib.format.MAGIC_PREFIX):
        return "is a single .npy array, not a ninestep .npz model file."
    if head[:1] == b"\x80":  # the PROTO opcode that starts every pickle since protocol 2
        return ("looks like a Python pickle; ninestep refuses to load pickles because unpickling "
                "can run arbitrary code. Re-save the model with ninestep.")
    return "is not a ninestep model file (not an .npz archive); it may be truncated or corrupted."


def _read_member(path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """Read one ``.npy`` member without ever unpickling: header first, dtype and size checked, then bytes."""
    name = info.filename[:-4]
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _MAX_EXPANSION * info.compress_size + 2**20:
        raise _fail(path, f"member {name!r} would expand from {info.compress_size} to {info.file_size} bytes; "
                          "refusing it (ninestep writes uncompressed archives).")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} is not supported")
        except ValueError as exc:
            raise _fail(path, f"has a malformed array {name!r} ({exc}).") from None
        # The header is a plain literal (NumPy parses it with ast.literal_eval); only now, with
        # the dtype known to be numeric, are any bytes of data read. An object array, whose data
        # would be a pickle, is refused here without reading it.
        if dtype.hasobject:
            raise _fail(path, f"holds an object array {name!r}, whose data is a pickle; ninestep refuses "
                              "to load it because unpickling can run arbitrary code.")
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise _fail(path, f"holds array {name!r} of dtype {dtype}; only real numbers are allowed.")
        count = 1
        for n in shape:
            count *= int(n)
        nbytes = count * dtype.itemsize
        if f.tell() + nbytes != info.file_size:
            raise _fail(path, f"is truncated or corrupted: array {name!r} declares shape {shape} "
                              f"({nbytes} bytes) but its member holds {info.file_size - f.tell()}.")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise _fail(path, f"is truncated: array {name!r} ends after {len(data)} of {nbytes} bytes.")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _read(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Every array and the JSON description of a ninestep file, each checked; raises ModelFileError.

    The archive is taken apart with :mod:`zipfile` and each member's ``.npy``
    header is checked before its data is read, so nothing in the file can
    make NumPy unpickle, allocate more than the file holds, or run code. The
    description is read first, so a file from a newer ninestep is named as
    such even if its arrays have changed.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder, not a model file; give the path of the .npz in it.")
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    arrays: dict[str, np.ndarray] = {}
    try:
        if not zipfile.is_zipfile(path):
            raise _fail(path, _sniff(path))
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for info in members:
                if not info.filename.endswith(".npy") or "/" in info.filename:
                    raise _fail(path, f"holds an unexpected member {info.filename!r}; not a ninestep model file.")
            described = [info for info in members if info.filename == _META + ".npy"]
            if not described:
                raise _fail(path, f"has no ninestep description ({_META}); is it a ninestep model?")
            meta = _description(path, _read_member(path, archive, described[-1]))
            for info in members:
                if info.filename != _META + ".npy":
                    arrays[info.filename[:-4]] = _read_member(path, archive, info)
    except (ModelFileError, PermissionError):
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, NotImplementedError,
            RuntimeError, MemoryError, OverflowError) as exc:
        raise _fail(path, f"is truncated or corrupted and cannot be read ({type(exc).__name__}: {exc}).") from None
    for name, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _fail(path, f"holds NaN or infinity in array {name!r}; a ninestep file never does, "
                              "so it is corrupted.")
    return meta, arrays


def _description(path, raw: np.ndarray) -> dict:
    """The JSON description, checked to be a ninestep one of a format version we can read."""
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(path, "has a malformed description.")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _fail(path, f"has a corrupted JSON description ({type(exc).__name__}: {exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(path, "is not a ninestep model file (its description does not say format 'ninestep').")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(path, f"has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise _fail(path, f"was written by a newer ninestep (format version {version}; this one reads up "
                          f"to {FORMAT_VERSION}). Upgrade ninestep to load it.")
    return meta


def _names(path, meta: dict, key: str, length: int | None) -> list | None:
    """A list of plain JSON scalars from the description (class, feature or target names), or None."""
    values = meta.get(key)
    if values is None:
        return None
    if (not isinstance(values, list) or any(not isinstance(v, (str, int, float)) or isinstance(v, bool)
                                            for v in values)):
        raise _fail(path, f"has an invalid {key!r} entry: expected a list of names, got {values!r:.80}.")
    if length is not None and len(values) != length:
        raise _fail(path, f"lists {len(values)} {key} but the network needs {length}.")
    return values


def _build_network(path, meta: dict, arrays: dict[str, np.ndarray]) -> Network:
    try:
        sizes = meta["layer_sizes"]
        activations = meta["activations"]
        if (not isinstance(sizes, list) or len(sizes) < 2
                or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in sizes)):
            raise ValueError(f"layer_sizes must be a list of at least two positive ints, got {sizes!r:.80}")
        if not isinstance(activations, list) or len(activations) != len(sizes) - 1:
            raise ValueError(f"need {len(sizes) - 1} activation names, got {activations!r:.80}")
        activations = [get_activation(name).name for name in activations]
        dtype = np.dtype(meta["dtype"]) if meta.get("dtype") in ("float32", "float64") else None
        if dtype is None:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {meta.get('dtype')!r:.40}")
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid network description ({type(exc).__name__}: {exc}).") from None
    # Check every array against layer_sizes *before* building the network, so that a crafted
    # description cannot make us allocate a network larger than the arrays in the file.
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for key, shape in ((f"W{i}", (n_in, n_out)), (f"b{i}", (n_out,))):
            if key not in arrays:
                raise _fail(path, f"is missing array {key!r} (layer_sizes {sizes} has {len(sizes) - 1} layers).")
            if arrays[key].shape != shape:
                raise _fail(path, f"is inconsistent: array {key!r} has shape {arrays[key].shape}, but layer_sizes "
                                  f"{sizes} needs {shape}.")
    net = Network(sizes, activation=activations[0], output_activation=activations[-1], seed=0, dtype=dtype)
    for layer, name in zip(net.layers, activations):
        if layer.activation.name != name:
            layer.activation = get_activation(name)
    for i, layer in enumerate(net.layers):
        layer.W[...] = arrays[f"W{i}"]
        layer.b[...] = arrays[f"b{i}"]
    if not np.isfinite(net.params).all():  # finite float64 weights can overflow float32
        raise _fail(path, "holds weights too large for its dtype.")
    return net


def _scaler(path, arrays, prefix: str, width: int) -> StandardScaler | None:
    mean, scale = arrays.get(f"{prefix}_mean"), arrays.get(f"{prefix}_scale")
    if mean is None and scale is None:
        return None
    if mean is None or scale is None or mean.shape != (width,) or scale.shape != (width,) or (scale <= 0).any():
        raise _fail(path, f"is inconsistent: the stored {prefix} scaler (mean, scale) does not fit a network "
                          f"with {width} {'inputs' if prefix == 'x' else 'outputs'}, or has a scale <= 0.")
    return StandardScaler.from_params(mean.astype(np.float64), scale.astype(np.float64))


def _n_classes(net: Network) -> int:
    """How many class names a classifier with this output layer needs (2 for one sigmoid unit)."""
    return 2 if net.n_outputs == 1 else net.n_outputs


def load_model(path) -> SavedModel:
    """Read a model file written by :func:`save_model` (or a checkpoint) safely.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError (a ValueError)
        Anything else: not a ninestep file, a pickle or object array,
        truncated or corrupted, inconsistent shapes, NaN, a newer format.
    """
    meta, arrays = _read(path)
    net = _build_network(path, meta, arrays)
    classes = _names(path, meta, "classes", _n_classes(net) if meta.get("classes") is not None else None)
    task, info = meta.get("task"), meta.get("info") or {}
    if task is not None and not isinstance(task, str):
        raise _fail(path, f"has an invalid 'task' entry {task!r:.40}.")
    if not isinstance(info, dict):
        raise _fail(path, "has an invalid 'info' entry (expected a JSON object).")
    return SavedModel(net=net, x_scaler=_scaler(path, arrays, "x", net.n_inputs),
                      y_scaler=_scaler(path, arrays, "y", net.n_outputs), classes=classes, task=task,
                      feature_names=_names(path, meta, "feature_names", net.n_inputs),
                      target_names=_names(path, meta, "target_names", None), info=info)


def load(path) -> Network:
    """Load the :class:`Network` saved at ``path`` by ``net.save(path)``."""
    return load_model(path).net


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_loop_state(meta: dict) -> None:
    """Raise ValueError unless the checkpoint's loop state is plain, well-typed data."""
    if not _count(meta.get("epoch")) or not _count(meta.get("wait")):
        raise ValueError(f"epoch and wait must be ints >= 0, got {meta.get('epoch')!r}, {meta.get('wait')!r}")
    lr0, best_val = meta.get("lr0"), meta.get("best_val")
    if not isinstance(lr0, (int, float)) or isinstance(lr0, bool) or not 0 < lr0 < float("inf"):
        raise ValueError(f"lr0 must be a finite number > 0, got {lr0!r}")
    if best_val is not None and (not isinstance(best_val, (int, float)) or not np.isfinite(best_val)):
        raise ValueError(f"best_val must be a finite number or null, got {best_val!r}")
    history = meta.get("history")
    if not isinstance(history, dict):
        raise ValueError("history must be a JSON object")
    for key in ("loss", "val_loss", "lr"):
        values = history.get(key)
        if not isinstance(values, list) or any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values):
            raise ValueError(f"history[{key!r}] must be a list of numbers")
    if len(history["loss"]) != meta["epoch"]:
        raise ValueError(f"history has {len(history['loss'])} epochs but the checkpoint says {meta['epoch']}")
    if not (history.get("best_epoch") is None or _count(history.get("best_epoch"))):
        raise ValueError("history['best_epoch'] must be an int or null")
    if not isinstance(history.get("stopped_early"), bool):
        raise ValueError("history['stopped_early'] must be true or false")
    state = meta.get("rng_state")
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise ValueError(f"rng_state must be the state of one of {', '.join(_BIT_GENERATORS)}")
    getattr(np.random, state["bit_generator"])().state = state  # NumPy checks the fields


def _optimizer_from(meta: dict, arrays: dict[str, np.ndarray], net: Network) -> Optimizer:
    """A fresh optimiser built (and so validated) from the checkpoint's hyperparameters and state."""
    opt = dict(meta.get("optimizer") or {})
    name = opt.get("name")
    if name == "sgd":
        restored: Optimizer = SGD(lr=opt.get("lr"), momentum=opt.get("momentum"), nesterov=opt.get("nesterov") is True)
    elif name == "adam":
        restored = Adam(lr=opt.get("lr"), beta1=opt.get("beta1"), beta2=opt.get("beta2"), eps=opt.get("eps"))
        if not _count(opt.get("t")):
            raise ValueError(f"Adam's step count t must be an int >= 0, got {opt.get('t')!r}")
    else:
        raise ValueError(f"unknown optimizer {name!r}")
    for key, value in arrays.items():
        if key.startswith("opt."):
            if value.shape != net.params.shape:
                raise ValueError(f"optimizer state {key!r} has shape {value.shape}, expected {net.params.shape}")
            opt[key[4:]] = value.astype(net.dtype)
    restored.load_state_dict(opt)
    return restored


def load_checkpoint(path, net: Network, optimizer: Optimizer, run: dict | None = None) -> dict:
    """Restore ``net`` and ``optimizer`` from a checkpoint; return the loop's state.

    Everything is checked before anything is changed: on a
    :class:`ModelFileError` the network and the optimiser are untouched.
    With ``run`` (the resuming call's data and settings, as
    :func:`save_checkpoint` stored them) a checkpoint of a different run is
    refused with a ValueError naming what differs.

    Returns
    -------
    dict with ``epoch`` (epochs done), ``rng_state`` (the shuffling
    generator's ``bit_generator.state``), ``history`` (``History.as_dict()``),
    ``lr0``, ``best_val`` (inf when none), ``wait`` and ``best_params``
    (flat array or None), as :func:`ninestep.training.fit` left them.
    """
    meta, arrays = _read(path)
    if meta.get("kind") != "checkpoint":
        raise _fail(path, "is a model file, not a training checkpoint; resume needs a file written by "
                          "fit(..., checkpoint=PATH).")
    saved = _build_network(path, meta, arrays)
    if saved.layer_sizes != net.layer_sizes or saved.dtype != net.dtype:
        raise _fail(path, f"is a checkpoint of a {saved.layer_sizes} {saved.dtype.name} network, "
                          f"not of this {net.layer_sizes} {net.dtype.name} one.")
    name = (meta.get("optimizer") or {}).get("name") if isinstance(meta.get("optimizer"), dict) else None
    expected = {"sgd": SGD, "adam": Adam}.get(name)
    if expected is not None and not isinstance(optimizer, expected):
        raise _fail(path, f"was written with optimizer {name!r}; resume with the same optimizer, "
                          f"not {type(optimizer).__name__}.")
    best = arrays.get("best_params")
    try:
        _check_loop_state(meta)
        restored = _optimizer_from(meta, arrays, net)
        if best is not None and best.shape != net.params.shape:
            raise ValueError(f"best_params has shape {best.shape}, expected {net.params.shape}")
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid training state ({type(exc).__name__}: {exc}).") from None
    saved_run = meta.get("run")
    if run is not None and isinstance(saved_run, dict):
        differ = [f"{key} {saved_run[key]!r} there, {run.get(key)!r} here" for key in sorted(saved_run)
                  if saved_run[key] != run.get(key)]
        if differ:
            raise ValueError(f"checkpoint {str(path)!r} was written by a run with other data or settings "
                             f"({'; '.join(differ)}); resume with the same data, batch_size, shuffle, loss "
                             "and alpha, or start afresh without resume_from.")
    net.params[...] = saved.params
    optimizer.load_state_dict(restored.state_dict())
    return {"epoch": meta["epoch"], "rng_state": meta["rng_state"], "history": meta["history"],
            "lr0": float(meta["lr0"]), "best_val": np.inf if meta["best_val"] is None else float(meta["best_val"]),
            "wait": meta["wait"], "best_params": None if best is None else best.astype(net.dtype)}
