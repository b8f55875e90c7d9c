"""Safe files: atomic writes, and a ``.npz`` reader that never unpickles.

This module is the bottom layer of ninestep's files and imports nothing
from ninestep. The model file (:mod:`ninestep.model_file`), the training
checkpoint (:mod:`ninestep.checkpoint`), ensembles, the command line's JSON
and pictures all write through it.

Writing is atomic. The bytes go to a temporary file in the target's
folder, which is flushed and fsync-ed, then moved over the target with
``os.replace``; the folder is fsync-ed so that the rename itself survives
a crash. A crash at any moment leaves either the old file or the new one,
never half of one. Two more promises, as a plain ``open(path, "w")``
would keep them:

* permissions: a new file gets ``0o666`` minus the umask; a file that is
  replaced keeps its mode (``mkstemp`` alone would make every file 0600);
* symbolic links: a link at the target is **replaced** by the new file,
  never followed, so a link planted in an output folder cannot make
  ninestep overwrite the file it points to.

Reading takes a zip archive apart with :mod:`zipfile` and checks each
member's ``.npy`` header (a plain literal) before any data: a numeric
dtype, and a size that matches the bytes stored. An object array, whose
data would be a pickle, is refused before its data is read, and no header
can make us allocate more than the file holds. Every member must be one
the caller expects, and the JSON description comes first so that a file
from a newer format is named as such.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "ArchiveError", "atomic_path", "atomic_write_bytes",
           "atomic_write_json", "write_archive", "read_archive", "read_description", "read_network_archive"]

FORMAT = "ninestep"
#: Bumped whenever the layout changes; files from a newer version are refused.
#: 2: checkpoints keep each callback's state; models may hold preprocessing.
FORMAT_VERSION = 2
META = "__meta__"

#: Array dtypes a ninestep file may hold: real numbers only (no objects, strings or records).
_NUMERIC_KINDS = "fiu"
#: Deflated members may expand at most this much (ninestep writes them uncompressed; float
#: weights compress to ~90%, so only a "zip bomb" crafted to exhaust memory gets near it).
_MAX_EXPANSION = 100


class ArchiveError(ValueError):
    """A file cannot be read safely (exported as ``ninestep.ModelFileError``)."""


# ---------------------------------------------------------------------- writing
def _mode_for(path: Path) -> int:
    """The permission bits the new file gets: the old file's (not a link's), else 0o666 minus the umask."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode)
    except FileNotFoundError:
        pass
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Use it for writers that want a file name (``fig.savefig(tmp)``)::

        with atomic_path("runs/latest/loss.png") as tmp:
            fig.savefig(tmp, format="png")

    On an exception the temporary file is removed and ``path`` is left as
    it was. See the module docstring for permissions and symbolic links.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist.")
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a folder.")
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # replaces a symbolic link itself, never the file it points to
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, default: Callable | None = None) -> Path:
    """Write ``obj`` as strict JSON (no NaN or Infinity, which JSON has no spelling for), atomically."""
    try:
        text = json.dumps(obj, indent=2, allow_nan=False, default=default)
    except ValueError as exc:
        raise ValueError(f"refusing to write {str(path)!r}: {exc} (a ninestep file never holds NaN or "
                         "infinity).") from None
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def _meta_array(meta: dict) -> np.ndarray:
    try:  # strict JSON: NaN and infinity have no JSON spelling, and objects none at all
        text = json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot save the description as JSON ({exc}); class names, feature names "
                        "and info must be plain strings and finite numbers.") from None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def write_archive(path: str | os.PathLike, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` and the JSON description ``meta`` as an uncompressed ``.npz``, atomically.

    ``meta`` gains ``format`` and ``format_version``. Arrays holding NaN or
    infinity are refused (the reader refuses such a file, so it is never
    written).
    """
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"array {name!r} has dtype {value.dtype}; a ninestep file holds real numbers only.")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"refusing to write {str(path)!r}: array {name!r} holds NaN or infinity.")
    members = {**arrays, META: _meta_array({**meta, "format": FORMAT, "format_version": FORMAT_VERSION})}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **members)
    return Path(path)


# ---------------------------------------------------------------------- reading
def _fail(path, why: str) -> ArchiveError:
    return ArchiveError(f"{str(path)!r} {why}")


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


def read_description(path: str | os.PathLike) -> dict:
    """The JSON description of a ninestep file, checked, without reading its arrays."""
    meta, _ = read_archive(path, lambda meta: (lambda name: False), arrays=False)
    return meta


def read_archive(path: str | os.PathLike, expected: Callable[[dict], Callable[[str], bool]] | None = None,
                 *, arrays: bool = True) -> tuple[dict, dict[str, np.ndarray]]:
    """Every array and the JSON description of a ninestep file, each checked.

    ``expected(meta)`` returns a predicate that says which member names
    the file may hold, given its description; any other member is refused
    (a file that holds more than its description explains was not written
    by ninestep, or has been tampered with). ``arrays=False`` stops after
    the description. Raises :class:`ArchiveError`,
    ``FileNotFoundError`` or ``IsADirectoryError``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder, not a model file; give the path of the .npz in it.")
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist.")
    read_arrays, arrays = arrays, {}
    try:
        if not zipfile.is_zipfile(path):
            raise _fail(path, _sniff(path))
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            for info in members:
                if not info.filename.endswith(".npy") or "/" in info.filename:
                    raise _fail(path, f"holds an unexpected member {info.filename!r}; not a ninestep model file.")
            described = [info for info in members if info.filename == META + ".npy"]
            if not described:
                raise _fail(path, f"has no ninestep description ({META}); is it a ninestep model?")
            if len(described) > 1 or len({info.filename for info in members}) != len(members):
                raise _fail(path, "holds the same member twice; not a file ninestep wrote.")
            meta = _description(path, _read_member(path, archive, described[0]))
            if not read_arrays:
                return meta, {}
            allowed = expected(meta) if expected is not None else None
            for info in members:
                name = info.filename[:-4]
                if name == META:
                    continue
                if allowed is not None and not allowed(name):
                    raise _fail(path, f"holds an unexpected array {name!r} that its description does not "
                                      "explain; ninestep refuses files it did not write.")
                arrays[name] = _read_member(path, archive, info)
    except (ArchiveError, PermissionError):
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, NotImplementedError,
            RuntimeError, MemoryError, OverflowError) as exc:
        raise _fail(path, f"is truncated or corrupted and cannot be read ({type(exc).__name__}: {exc}).") from None
    for name, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _fail(path, f"holds NaN or infinity in array {name!r}; a ninestep file never does, "
                              "so it is corrupted.")
    return meta, arrays


# ---------------------------------------------------------------------- files that hold a network
def read_network_archive(path: str | os.PathLike, kind: str, network_class, extra_members: Callable[[str], bool]):
    """Read a ninestep file of ``kind`` that holds a network; return ``(meta, arrays, network)``.

    The kind and the network's description are checked before any array
    is read; ``extra_members(name)`` says which arrays besides the
    network's ``W0, b0, ...`` the kind may hold, and any other member is
    refused. ``network_class`` (``ninestep.Network``) is passed in, so that
    this layer still imports nothing from ninestep; its
    ``check_description`` and ``from_arrays`` do the network's checks.
    Shared by model files and checkpoints.
    """
    def expected(meta):
        found = meta.get("kind")
        if found != kind:
            raise _wrong_kind(path, found, kind)
        try:
            sizes, _ = network_class.check_description(meta)
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"has an invalid network description ({exc}).") from None
        weights = {f"{k}{i}" for i in range(len(sizes) - 1) for k in "Wb"}
        return lambda name: name in weights or extra_members(name)

    meta, arrays = read_archive(path, expected)
    try:
        net = network_class.from_arrays(meta, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(path, f"has an invalid network description or arrays: {exc}.") from None
    return meta, arrays, net


def _wrong_kind(path, found, kind: str) -> ArchiveError:
    if found == "checkpoint":
        return _fail(path, f"is a training checkpoint, not a model: it holds the last epoch's weights and "
                           f"no scalers, so its predictions would differ from the run's model. Use model.npz "
                           f"from the same folder, or continue training with 'ninestep train --resume "
                           f"{Path(path).parent}' / fit(..., resume_from=PATH).")
    if found == "model" and kind == "checkpoint":
        return _fail(path, "is a model file, not a training checkpoint; resume needs a file written by "
                           "fit(..., checkpoint=PATH).")
    return _fail(path, f"holds {'an' if str(found)[:1] in 'aeiou' else 'a'} {found!r}, not a {kind}"
                       f"{' (read it with ninestep.load)' if found == 'ensemble' else ''}.")
