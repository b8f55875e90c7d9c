"""Input checks shared by every public entry point.

Each check raises a :class:`ValueError` or :class:`TypeError` whose message
names the offending argument, shows the value (or the row and column), and
says what to do. The aim is that no user ever sees a traceback from deep
inside NumPy for a mistake in their own input.
"""

from __future__ import annotations

import mmap
import numbers
import sys
from typing import Any

import numpy as np

__all__ = [
    "check_array",
    "check_X_y",
    "check_positive",
    "check_nonnegative",
    "check_in_range",
    "check_int",
    "check_choice",
    "as_generator",
    "check_dtype",
    "check_finite_number",
    "check_bool",
    "overflow_error",
    "check_sample_weight",
    "release_pages",
    "advise_random",
    "memory_map_of",
]


def _ragged(X: Any) -> str | None:
    """For a list of rows of different lengths, name the first row that differs."""
    try:
        lengths = [len(row) for row in X]
    except TypeError:
        return None
    for i, n in enumerate(lengths):
        if n != lengths[0]:
            return f"its rows have different lengths (row 0 has {lengths[0]} values, row {i} has {n})"
    return None


def _describe_bad_cell(arr: np.ndarray, mask: np.ndarray, name: str, what: str | None = None) -> str:
    idx = np.argwhere(mask)[0]
    count = int(mask.sum())
    if what is None:
        value = arr[tuple(idx)].item()
        what = f"{'NaN' if np.isnan(value) else 'infinity'} ({value!r})"
    if arr.ndim == 2:
        where = f"row {idx[0]}, column {idx[1]}"
    else:
        where = f"index {idx[0]}"
    more = f" ({count} such values in all)" if count > 1 else ""
    return (
        f"{name} contains {what} at {where}{more}; "
        "remove or impute those values before calling this."
    )


def check_array(
    X: Any,
    name: str = "X",
    *,
    ndim: int | tuple[int, ...] = 2,
    dtype: Any = np.float64,
    allow_empty: bool = False,
    finite: bool = True,
    copy: bool = False,
) -> np.ndarray:
    """Return ``X`` as a NumPy array of ``dtype``, or raise a clear error.

    Parameters
    ----------
    X : array-like
        The user's input.
    name : str
        What to call the argument in messages.
    ndim : int or tuple of int
        Allowed numbers of dimensions. A 1-D array where 2-D is required
        gets a message saying how to reshape it.
    dtype : numpy dtype or None
        Target dtype; ``None`` keeps the input's dtype (used for labels).
    allow_empty : bool
        Whether zero samples or zero features are accepted.
    finite : bool
        Reject NaN and infinity, naming the first offending row and column.
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(X).__name__} {X!r:.60}.")
    # A masked array exists only once numpy.ma is imported; looking it up as np.ma would
    # import it (10 ms, a third of the first fit of a 60,000 x 784 data set's checks).
    ma = sys.modules.get("numpy.ma")
    if ma is not None and isinstance(X, ma.MaskedArray) and ma.getmaskarray(X).any():
        # np.asarray would silently use the values under the mask, which are missing data.
        raise ValueError(_describe_bad_cell(ma.getdata(X), ma.getmaskarray(X), name, "a masked value"))
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} could not be turned into an array: {_ragged(X) or exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        if dtype is None:
            pass
        else:
            try:  # the common case, numbers held as objects or text: one fast conversion
                with np.errstate(over="ignore"):
                    converted = np.asarray(arr, dtype=np.float64) if arr.ndim else None
            except (TypeError, ValueError, OverflowError):
                converted = None
            if converted is not None and arr.dtype == object and np.equal(arr, None).any():
                converted = None  # NumPy reads None as NaN; name it as what it is
            if converted is not None:
                arr = converted
            # Otherwise find the first cell that is not a number, to name it.
            elif arr.ndim >= 1 and arr.size:
                for index in np.ndindex(arr.shape):
                    cell = arr[index]
                    try:
                        float(cell)
                    except OverflowError:  # an int beyond float64: reported as too large below
                        continue
                    except (TypeError, ValueError):
                        where = (
                            f"row {index[0]}, column {index[1]}" if arr.ndim == 2 else f"index {index[0]}"
                        )
                        raise ValueError(
                            f"{name} has a non-numeric value {getattr(cell, 'item', lambda: cell)()!r} at {where}; "
                            "convert or encode that column as numbers first."
                        ) from None
            if arr.dtype == object and arr.ndim == 0:
                raise TypeError(f"{name} must be an array of numbers, got {type(X).__name__}.")
    elif arr.dtype.kind == "c":
        raise TypeError(f"{name} has complex values; ninestep works with real numbers only.")
    elif arr.dtype.kind in "Mm":  # NumPy would silently turn dates into counts of its own unit
        raise TypeError(f"{name} holds dates or durations ({arr.dtype}); turn them into numbers that mean "
                        "something first, e.g. days since a start date: (d - d.min()) / np.timedelta64(1, 'D').")
    if arr.ndim not in allowed:
        if arr.ndim == 1 and 2 in allowed:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features), got a 1-D array of shape {arr.shape}. "
                f"Reshape it with {name}.reshape(-1, 1) if it is one feature, "
                f"or {name}.reshape(1, -1) if it is one sample."
            )
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}, got {arr.ndim}-D with shape {arr.shape}.")
    original = arr
    if isinstance(X, np.memmap) and dtype is not None and arr.dtype != np.dtype(dtype) and arr.dtype.kind == "f":
        raise ValueError(f"{name} is a memory-mapped {arr.dtype.name} array but {np.dtype(dtype).name} is needed; "
                         "converting it would load it all into memory. Build the network with "
                         f"dtype=np.{arr.dtype.name}, or save the data as {np.dtype(dtype).name}.")
    if dtype is not None:
        if arr.dtype == bool:
            arr = arr.astype(dtype)
        try:
            with np.errstate(over="ignore"):  # a value too large for dtype becomes inf, reported below
                arr = np.array(arr, dtype=dtype, copy=True) if copy else np.asarray(arr, dtype=dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{name} could not be converted to {np.dtype(dtype).name}: {exc}") from None
    if not allow_empty:
        if arr.ndim >= 1 and arr.shape[0] == 0:
            raise ValueError(f"{name} has 0 samples (shape {arr.shape}); at least 1 is required.")
        if arr.ndim == 2 and arr.shape[1] == 0:
            raise ValueError(f"{name} has 0 features (shape {arr.shape}); at least 1 is required.")
    if finite and arr.dtype.kind == "f":
        # A NaN or inf anywhere makes the sum NaN or inf: a check with no
        # mask the size of the data (for 60,000 x 784 floats that mask cost
        # 94 MB). Only a non-finite sum needs the mask to name the cell.
        with np.errstate(over="ignore", invalid="ignore"):
            total = _sum(arr)
        bad = ~np.isfinite(arr) if not np.isfinite(total) else np.zeros(1, dtype=bool)
        if bad.any():
            idx = tuple(np.argwhere(bad)[0])
            if original is not arr and original.dtype.kind in "fiu" and np.isfinite(original[idx]):
                where = f"row {idx[0]}, column {idx[1]}" if arr.ndim == 2 else f"index {idx[0]}"
                raise ValueError(
                    f"{name} has the value {original[idx].item()!r} at {where}, too large for "
                    f"{arr.dtype.name} (largest {np.finfo(arr.dtype).max:.3g}); standardise the data "
                    "or use float64.")
            raise ValueError(_describe_bad_cell(arr, bad, name))
    return arr


#: How much of a memory-mapped array is read between two releases of its pages.
_BLOCK_BYTES = 64 << 20


def memory_map_of(arr: Any) -> mmap.mmap | None:
    """The ``mmap`` behind an array read with ``np.load(..., mmap_mode="r")`` (or a view of one), else None.

    ``np.asarray`` turns a ``np.memmap`` into a plain ndarray view, so the
    mapping is found through the chain of ``.base`` arrays. Only a mapping
    whose pages the file itself holds counts (modes ``"r"`` and ``"r+"``): a
    copy-on-write one (``"c"``) keeps the caller's changes in memory only, and
    handing its pages back would throw those changes away.
    """
    while arr is not None:
        if isinstance(arr, np.memmap) and getattr(arr, "_mmap", None) is not None:
            return arr._mmap if arr.mode in ("r", "r+", "readonly", "readwrite") else None
        arr = getattr(arr, "base", None)
    return None


def advise_random(arr: Any) -> None:
    """Tell the OS that a memory-mapped array will be read in random order: no read-ahead (no-op otherwise)."""
    mapping = memory_map_of(arr)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        try:
            mapping.madvise(mmap.MADV_RANDOM)
        except (OSError, ValueError):
            pass


def release_pages(arr: Any) -> None:
    """Let the OS take back the pages of a memory-mapped array that have been read (no-op otherwise).

    A file mapped with ``np.load(path, mmap_mode="r")`` stays on disk, but
    every page read counts in the process's resident memory until the OS
    needs it back. ``madvise(MADV_DONTNEED)`` hands them back at once; the
    next read of the same rows comes from the OS's file cache (or the disk).
    """
    mapping = memory_map_of(arr)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # a closed or unusual mapping: nothing to give back
            pass


def _sum(arr: np.ndarray) -> float:
    """The sum of every value of ``arr``: NaN or infinite if any value is (or if the sum overflows).

    A large float matrix is summed as ``rows = arr @ ones`` then ``sum(rows)``:
    BLAS reads the matrix on every core, where a ufunc reduction uses one
    (about twice as fast on two cores). Each row sum is
    ``x * 1.0`` added up, so a NaN or infinity in the row always reaches it.
    """
    if arr.size == 0:
        return 0.0
    if arr.ndim == 2 and arr.nbytes > _BLOCK_BYTES and memory_map_of(arr) is not None:
        # Data larger than memory: read it block by block and let the OS drop each block's pages,
        # so that checking a 4 GB file does not make it all resident.
        rows = max(1, _BLOCK_BYTES // max(1, arr.strides[0]))
        total = 0.0
        for start in range(0, arr.shape[0], rows):
            total += float(_sum(np.asarray(arr[start:start + rows])))
            release_pages(arr)
        return total
    if (arr.ndim == 2 and arr.size >= 1 << 16 and arr.dtype in (np.float32, np.float64)
            and (arr.flags.c_contiguous or arr.flags.f_contiguous)):  # strided: NumPy's slow loop, not BLAS
        return np.add.reduce(arr @ np.ones(arr.shape[1], dtype=arr.dtype))
    return np.add.reduce(arr, axis=None)


def check_X_y(X: Any, y: Any, *, dtype: Any = np.float64, y_dtype: Any = np.float64,
              y_ndim: int | tuple[int, ...] = (1, 2)) -> tuple[np.ndarray, np.ndarray]:
    """Check ``X`` (2-D) and ``y`` together; they must have the same number of rows."""
    X = check_array(X, "X", dtype=dtype)
    y = check_array(y, "y", ndim=y_ndim, dtype=y_dtype)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y have different numbers of samples: X has {X.shape[0]} rows, "
            f"y has {y.shape[0]}. Each row of X needs exactly one row of y."
        )
    return X, y


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_finite_number(value: Any, name: str) -> float:
    """``value`` must be a finite real number."""
    if not _is_number(value) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(value)


def check_bool(value: Any, name: str) -> bool:
    """``value`` must be True or False (a string such as "no" would silently count as True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_positive(value: Any, name: str) -> float:
    """``value`` must be a finite real number > 0."""
    if not _is_number(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def check_nonnegative(value: Any, name: str) -> float:
    """``value`` must be a finite real number >= 0."""
    if not _is_number(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def check_in_range(value: Any, name: str, low: float, high: float, *,
                   low_open: bool = False, high_open: bool = False) -> float:
    """``value`` must lie in the interval from ``low`` to ``high``."""
    ok = _is_number(value) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` must be an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_choice(value: Any, name: str, choices: Any) -> Any:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")
    return value


def check_dtype(dtype: Any) -> np.dtype:
    """Only float32 and float64 are supported for parameters and data."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}.") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dt.name}.")
    return dt


def as_generator(seed: Any) -> np.random.Generator:
    """Turn ``seed`` (None, an int, a SeedSequence or a Generator) into a Generator.

    Randomness is always passed in: ninestep never touches NumPy's global
    random state.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)) and not isinstance(seed, bool):
        if isinstance(seed, numbers.Integral) and seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be None, a non-negative int or a numpy.random.Generator, got {type(seed).__name__} {seed!r}."
    )


def overflow_error(what: str, X: np.ndarray, Y: np.ndarray | None = None) -> ValueError:
    """The error for a result that is not finite although every input was: name the largest value.

    Finite inputs give a NaN or infinite result only when a sum or product
    leaves the range of the dtype (about 1e308 for float64, 3e38 for
    float32) - inputs such as 1e300 - so the message points at the data.
    """
    where = []
    for name, arr in (("X", X), ("y", Y)):
        if arr is not None and arr.size:
            i, j = np.unravel_index(int(np.argmax(np.abs(arr))), arr.shape)
            where.append(f"largest |{name}| is {name}[{i}, {j}] = {arr[i, j]:.3g}")
    return ValueError(
        f"{what} is not finite: the arithmetic overflowed {X.dtype.name} ({'; '.join(where)}). "
        "Standardise the data (ninestep.StandardScaler) so that values are of order 1, "
        "or check the weights for huge values."
    )


def check_sample_weight(sample_weight: Any, n: int, name: str = "sample_weight") -> np.ndarray:
    """Per-sample weights: a 1-D array of ``n`` finite numbers >= 0, not all zero (float64)."""
    w = check_array(sample_weight, name, ndim=1, dtype=np.float64)
    if w.shape[0] != n:
        raise ValueError(f"{name} has {w.shape[0]} values but there are {n} samples; give one weight per row.")
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        raise ValueError(f"{name}[{i}] = {float(w[i])!r} is negative; weights must be >= 0 (0 leaves a row out).")
    total = float(w.sum())
    if not total > 0 or not np.isfinite(total):
        raise ValueError(f"{name} sums to {total!r}; at least one weight must be > 0, and the sum finite.")
    return w
