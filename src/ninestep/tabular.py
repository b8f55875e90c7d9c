"""Reading a CSV file into arrays, with errors a user can act on.

:func:`read_csv` reads a comma-separated file with a header row into a
:class:`Table`: the feature matrix ``X`` (float64) and, when target columns
are named, the targets ``y``.

What it copes with, and how:

* a UTF-8 byte-order mark (Excel writes one) is dropped (``utf-8-sig``);
* quoted fields (``"1,5"``, ``"New York"``) follow the :mod:`csv` module's
  rules, so a comma inside quotes does not split a field;
* blank lines are skipped;
* an empty file, a header without data rows, a row with the wrong number
  of fields (with its line number), a duplicate column name, a missing
  column (listing the columns that exist), an empty or non-numeric cell
  (naming the column, the line and the value), NaN or infinity: each gives
  a :class:`CSVError` (a ``ValueError``) that says what to fix.

A target column whose values are not all numbers holds class labels: they
come back as strings, and :func:`infer_task` calls that classification.

Memory: a large file is streamed row by row into one typed buffer per
column (``array('d')``, 8 bytes a number), never held as a list of lists
of strings. The buffers are then copied column by column into ``X`` and
freed as they go, so the peak is about one copy of the data, not three.
"""

from __future__ import annotations

import csv
import math
import os
from array import array
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["CSVError", "Table", "read_csv", "read_header", "infer_task", "parse_columns"]


class CSVError(ValueError):
    """A CSV file that cannot be read as numbers; the message says where and why."""


@dataclass
class Table:
    """What :func:`read_csv` returns.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features), float64
    y : ndarray of shape (n_rows,) or (n_rows, n_targets), or None
        float64 for numeric targets; for a target with text labels, an
        object array of str of shape (n_rows,).
    feature_names, target_names : list of str
    columns : list of str
        Every column of the file, in order.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]


def parse_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (names stripped); None stays None."""
    if spec is None:
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise CSVError(f"column list {spec!r} has an empty name; give names separated by commas, e.g. 'a,b'.")
    return names


def _header(reader, path: str) -> list[str]:
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines before the header
        names = [cell.strip() for cell in row]
        if any(not n for n in names):
            j = names.index("")
            raise CSVError(f"{path}: the header (line {reader.line_num}) has an empty column name "
                           f"in position {j + 1}; every column needs a name.")
        seen = set()
        for n in names:
            if n in seen:
                raise CSVError(f"{path}: the header names column {n!r} twice; column names must be unique.")
            seen.add(n)
        return names
    raise CSVError(f"{path} is empty; expected a header row of column names, then one row per sample.")


def read_header(path: str | os.PathLike, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file, reading only its header row."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file {path!r} does not exist.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        return _header(csv.reader(f, delimiter=delimiter), path)


def _missing(kind: str, missing: list[str], columns: list[str], path: str) -> CSVError:
    return CSVError(f"{path}: {kind} column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(repr(m) for m in missing)} not found; the file has columns "
                    f"{', '.join(columns)}.")


def read_csv(path: str | os.PathLike, target: str | Sequence[str] | None = None,
             features: str | Sequence[str] | None = None, *, delimiter: str = ",",
             label_targets: Sequence[str] = ()) -> Table:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : str or path
    target : str or list of str, optional
        Target column name(s); ``"a,b"`` is accepted. Without targets the
        table has ``y = None`` (for prediction).
    features : str or list of str, optional
        Feature columns; by default every column that is not a target.
    delimiter : str, default ","
    label_targets : list of str
        Target columns to keep as text labels even if they look numeric.

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        No such file.
    CSVError
        Anything wrong with the contents (see the module docstring).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file {path!r} does not exist" +
                                (" (it is a folder)" if os.path.isdir(path) else "") + ".")
    targets = parse_columns(target) or []
    wanted = parse_columns(features)
    labels = set(label_targets)
    while True:
        try:
            return _read(path, targets, wanted, delimiter, labels)
        except _TextTarget as exc:
            # Found the first non-number in a target column: read again, keeping that
            # column as text labels. At most one extra pass per target column.
            labels.add(exc.column)


class _TextTarget(Exception):
    def __init__(self, column: str):
        self.column = column


def _read(path: str, targets: list[str], wanted: list[str] | None, delimiter: str,
          labels: set[str]) -> Table:
    # newline="" lets the csv module handle line ends inside quoted fields.
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            columns = _header(reader, path)
            missing = [t for t in targets if t not in columns]
            if missing:
                raise _missing("target", missing, columns, path)
            if wanted is None:
                features = [c for c in columns if c not in targets]
            else:
                missing = [c for c in wanted if c not in columns]
                if missing:
                    raise _missing("feature", missing, columns, path)
                overlap = [c for c in wanted if c in targets]
                if overlap:
                    raise CSVError(f"column(s) {', '.join(overlap)} are both feature and target; "
                                   "a column can only be one of them.")
                features = list(wanted)
            if not features:
                raise CSVError(f"{path}: no feature columns are left (columns: {', '.join(columns)}; "
                               f"targets: {', '.join(targets)}).")
            index = {name: j for j, name in enumerate(columns)}
            feat_idx = [index[c] for c in features]
            tgt_idx = [index[c] for c in targets]
            X_cols = [array("d") for _ in features]
            y_cols: list = [[] if t in labels else array("d") for t in targets]
            n_fields = len(columns)
            n_rows = 0
            for row in reader:
                if len(row) != n_fields:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # a blank line
                    raise CSVError(f"{path}, line {reader.line_num}: {len(row)} fields, but the header has "
                                   f"{n_fields} ({', '.join(columns)}). Fix that row (a missing or extra "
                                   "comma, or an unquoted comma inside a value?).")
                line = reader.line_num
                for buf, j, name in zip(X_cols, feat_idx, features):
                    buf.append(_number(row[j], name, line, path, "feature"))
                for buf, j, name in zip(y_cols, tgt_idx, targets):
                    if isinstance(buf, list):
                        cell = row[j].strip()
                        if not cell:
                            raise CSVError(f"{path}, line {line}, column {name!r}: the label is empty; "
                                           "every row needs a target value.")
                        buf.append(cell)
                    else:
                        try:
                            buf.append(_number(row[j], name, line, path, "target"))
                        except CSVError:
                            if len(targets) == 1 and row[j].strip() and not _is_nonfinite(row[j]):
                                raise _TextTarget(name) from None
                            raise
                n_rows += 1
        except csv.Error as exc:
            raise CSVError(f"{path}, line {reader.line_num}: malformed CSV ({exc}).") from None
        except UnicodeDecodeError as exc:
            raise CSVError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "save it as UTF-8 CSV.") from None
    if n_rows == 0:
        raise CSVError(f"{path} has a header ({', '.join(columns)}) but no data rows.")
    X = np.empty((n_rows, len(features)), dtype=np.float64)
    for j in range(len(features)):
        X[:, j] = np.frombuffer(X_cols[j], dtype=np.float64)
        X_cols[j] = None  # free each buffer as soon as it is copied
    y = None
    if targets:
        if isinstance(y_cols[0], list):
            y = np.asarray(y_cols[0], dtype=object)
        elif len(targets) == 1:
            y = np.frombuffer(y_cols[0], dtype=np.float64).copy()
        else:
            y = np.column_stack([np.frombuffer(c, dtype=np.float64) for c in y_cols])
    return Table(X=X, y=y, feature_names=features, target_names=targets, columns=columns)


def _is_nonfinite(cell: str) -> bool:
    try:
        return not math.isfinite(float(cell))
    except ValueError:
        return False


def _number(cell: str, name: str, line: int, path: str, kind: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        text = cell.strip()
        if not text:
            raise CSVError(f"{path}, line {line}, column {name!r}: the cell is empty; fill in or drop "
                           "rows with missing values first.") from None
        hint = ("drop it with --features or encode it as numbers" if kind == "feature"
                else "use a single text-label target for classification")
        raise CSVError(f"{path}, line {line}, column {name!r}: {text!r} is not a number; {hint}.") from None
    if not math.isfinite(value):
        raise CSVError(f"{path}, line {line}, column {name!r}: {cell.strip()!r} is not a finite number; "
                       "remove or impute NaN and infinite values first.")
    return value


def infer_task(y: np.ndarray, max_classes: int = 20) -> str:
    """Guess "classification" or "regression" from the targets.

    Text labels mean classification. Numbers do too when there is one
    target column of whole numbers with at most ``max_classes`` distinct
    values (and fewer distinct values than half the rows); anything else
    is regression. Pass ``--task`` on the command line to override.
    """
    y = np.asarray(y)
    if y.dtype.kind in "OUS":
        return "classification"
    if y.ndim != 1:
        return "regression"
    values = np.unique(y)
    whole = bool(np.all(values == np.round(values)))
    if whole and 2 <= values.size <= max_classes and values.size <= max(2, y.shape[0] // 2):
        return "classification"
    return "regression"
