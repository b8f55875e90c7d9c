"""Reading tables: CSV files in the usual dialects, into arrays or raw text cells.

Two readers share one way of opening a file:

* :func:`read_csv` reads an all-numeric file straight into a :class:`Table`
  (``X`` float64 and, when target columns are named, ``y``), streaming it
  row by row into one typed buffer per column (``array('d')``, 8 bytes a
  number), so the peak memory is about one copy of the data.
* :func:`read_table` keeps every cell as written, in a :class:`RawTable`,
  for :class:`ninestep.preprocessing.TablePreprocessor` to turn text,
  gaps and booleans into numbers, and for predictions that copy the input
  columns unchanged (``2014`` stays ``2014``, not ``2014.0``).

What both cope with, and how:

* the delimiter: comma, semicolon or tab, detected from the first lines
  (:func:`sniff_delimiter`: the one that splits the header into the most
  fields and every following line into as many); ``delimiter=`` overrides;
* a decimal comma (``1,5``): read when the delimiter is ``;`` or with
  ``decimal=","``; a decimal point is read too, so mixed files work;
* encodings: UTF-8 with or without a byte-order mark (Excel writes one),
  UTF-16 with a byte-order mark; a gzip-compressed file (``.csv.gz``);
* an Excel workbook, a zip archive or another binary file gets an error
  that names the file and says what it looks like; a Parquet file is
  read by :func:`read_table` when pyarrow is installed;
* quoted fields (``"New York, NY"``) follow the :mod:`csv` module's rules;
  blank lines are skipped.

Numbers are read strictly (:func:`parse_number`): Python's ``float``
accepts ``1_000``, ``nan`` and ``infinity``; a table cell that says
``1_000`` is a typo or a text code, not a thousand. Every error is a
:class:`CSVError` (a ``ValueError``) naming the file and, where there is
one, the line and column.
"""

from __future__ import annotations

import csv
import io
import math
import os
from array import array
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

# The file's encoding, dialect and header come from the private _csvfile module; its public
# names are part of this module's API.
from ._csvfile import (CSVError, _header, _missing, _reading, _records, _source, _Source, parse_columns,
                       parse_number, read_header, sniff_delimiter)
from .archive import atomic_write_bytes

__all__ = ["CSVError", "Table", "RawTable", "read_csv", "read_table", "read_header", "write_table",
           "sniff_delimiter", "parse_number", "infer_task", "parse_columns"]


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


@dataclass
class RawTable:
    """A table with every cell kept as written, which is what :func:`read_table` returns.

    Attributes
    ----------
    columns : list of str
        Column names in file order.
    cells : dict of str -> list of str
        The text of every cell of each column, as written (quotes removed).
    lines : list of int or None
        The file line each row ends on, for error messages; None when the
        rows did not come from a text file (then messages say "row i").
    source : str
        The file name, or a description such as "DataFrame".
    delimiter, decimal : str
        The dialect the table was read with; :func:`write_table` writes it back.
    """

    columns: list[str]
    cells: dict[str, list[str]]
    lines: list[int] | None = None
    source: str = "data"
    delimiter: str = ","
    decimal: str = "."

    @property
    def n_rows(self) -> int:
        return len(self.cells[self.columns[0]]) if self.columns else 0

    def where(self, i: int) -> str:
        """``"line 17"`` for a file's row ``i`` (counting data rows from 0), else ``"row i"``."""
        return f"line {self.lines[i]}" if self.lines is not None else f"row {i}"

    def take(self, rows: Sequence[int] | np.ndarray) -> "RawTable":
        """A new table holding only ``rows`` (indices), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        cells = {c: [v[i] for i in rows.tolist()] for c, v in self.cells.items()}
        lines = None if self.lines is None else [self.lines[i] for i in rows.tolist()]
        return RawTable(list(self.columns), cells, lines, self.source, self.delimiter, self.decimal)

    @classmethod
    def from_columns(cls, data, source: str = "data") -> "RawTable":
        """A table from a mapping of name -> sequence, or a pandas DataFrame.

        Values become text as :func:`str` writes them; None and float NaN
        become empty cells (missing).
        """
        if hasattr(data, "columns") and hasattr(data, "to_dict"):  # a pandas DataFrame, without importing pandas
            data, source = {str(c): data[c].tolist() for c in data.columns}, "DataFrame"
        if not hasattr(data, "items"):
            raise TypeError(f"expected a RawTable, a dict of columns or a pandas DataFrame, got {type(data).__name__}.")
        cells = {str(name): [_as_text(v) for v in np.asarray(values, dtype=object).ravel().tolist()]
                 for name, values in data.items()}
        lengths = {len(v) for v in cells.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns of {source} have different lengths: "
                             + ", ".join(f"{n} {len(v)}" for n, v in cells.items()) + ".")
        return cls(list(cells), cells, None, source)


def _as_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 2**53:
        return repr(float(value))  # 2014.0 from a float column stays visibly a float value
    return str(value)


# ---------------------------------------------------------------------- read_table
def read_table(path: str | os.PathLike, *, delimiter: str | None = None, decimal: str | None = None) -> RawTable:
    """Read a CSV file (or Parquet, with pyarrow) keeping every cell as written.

    Parameters
    ----------
    path : str or path
        ``.csv``, ``.tsv``, ``.txt``, any of them gzip-compressed, or Parquet.
    delimiter : str, optional
        Sniffed among comma, semicolon and tab by default.
    decimal : {".", ","}, optional
        Default "," when the delimiter is ";", else ".".

    Returns
    -------
    RawTable
    """
    path = os.fspath(path)
    try:
        src = _source(path, delimiter, decimal)
    except CSVError as exc:
        if "Parquet" in str(exc):
            return _read_parquet(path)
        raise
    with _reading(src) as reader:
        columns = _header(reader, path, src.delimiter)
        cols: list[list[str]] = [[] for _ in columns]
        lines: list[int] = []
        for line, row in _records(reader, src, columns):
            for col, cell in zip(cols, row):
                col.append(cell)
            lines.append(line)
    if not lines:
        raise CSVError(f"{path} has a header ({', '.join(columns)}) but no data rows.")
    return RawTable(columns, dict(zip(columns, cols)), lines, path, src.delimiter, src.decimal)


def _read_parquet(path: str) -> RawTable:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CSVError(f"{path} is a Parquet file; reading it needs pyarrow: pip install 'ninestep[parquet]' "
                       "(or save the data as CSV).") from None
    try:
        data = pq.read_table(path).to_pydict()
    except Exception as exc:  # pyarrow raises its own error types; the message is what matters
        raise CSVError(f"{path}: cannot read the Parquet file ({exc}).") from None
    table = RawTable.from_columns(data, source=path)
    if table.n_rows == 0:
        raise CSVError(f"{path} has columns ({', '.join(table.columns)}) but no data rows.")
    return table


def write_table(table: RawTable, path_or_file) -> None:
    """Write ``table`` as CSV in its own dialect (delimiter), header first; cells as they are.

    A path is written atomically (a temporary file, then a rename), as every file ninestep writes.
    """
    text = io.StringIO()
    w = csv.writer(text, delimiter=table.delimiter, lineterminator="\n")
    w.writerow(table.columns)
    w.writerows(zip(*(table.cells[c] for c in table.columns)))
    if isinstance(path_or_file, (str, os.PathLike)):
        atomic_write_bytes(path_or_file, text.getvalue().encode("utf-8"))
    else:
        path_or_file.write(text.getvalue())


# ---------------------------------------------------------------------- read_csv (all numbers)
def read_csv(path: str | os.PathLike, target: str | Sequence[str] | None = None,
             features: str | Sequence[str] | None = None, *, delimiter: str | None = None,
             decimal: str | None = None, label_targets: Sequence[str] = ()) -> Table:
    """Read an all-numeric CSV file with a header row into arrays.

    Parameters
    ----------
    path : str or path
    target : str or list of str, optional
        Target column name(s); ``"a,b"`` is accepted. Without targets the
        table has ``y = None`` (for prediction).
    features : str or list of str, optional
        Feature columns; by default every column that is not a target.
    delimiter : str, optional
        Sniffed among comma, semicolon and tab by default.
    decimal : {".", ","}, optional
        Default "," when the delimiter is ";", else ".".
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
        Anything wrong with the contents, e.g. a text or empty cell in a
        feature (use :func:`read_table` and a TablePreprocessor for those).
    """
    src = _source(os.fspath(path), delimiter, decimal)
    targets = parse_columns(target) or []
    wanted = parse_columns(features)
    labels = set(label_targets)
    while True:
        try:
            with _reading(src) as reader:
                return _read(reader, src, targets, wanted, labels)
        except _TextTarget as exc:
            # Found the first non-number in a target column: read again, keeping that
            # column as text labels. At most one extra pass per target column.
            labels.add(exc.column)


class _TextTarget(Exception):
    def __init__(self, column: str):
        self.column = column


def _read(reader, src: _Source, targets: list[str], wanted: list[str] | None, labels: set[str]) -> Table:
    path = src.path
    columns = _header(reader, path, src.delimiter)
    missing = [t for t in targets if t not in columns]
    if missing:
        raise _missing("target", missing, columns, path, src.delimiter)
    if wanted is None:
        features = [c for c in columns if c not in targets]
    else:
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise _missing("feature", missing, columns, path, src.delimiter)
        overlap = [c for c in wanted if c in targets]
        if overlap:
            raise CSVError(f"column(s) {', '.join(overlap)} are both feature and target; "
                           "a column can only be one of them.")
        features = list(wanted)
    if not features:
        raise CSVError(f"{path}: no feature columns are left (columns: {', '.join(columns)}; "
                       f"targets: {', '.join(targets)}; delimiter {src.delimiter!r}).")
    index = {name: j for j, name in enumerate(columns)}
    feat_idx = [index[c] for c in features]
    tgt_idx = [index[c] for c in targets]
    X_cols = [array("d") for _ in features]
    y_cols: list = [[] if t in labels else array("d") for t in targets]
    n_rows = 0
    for line, row in _records(reader, src, columns):
        for buf, j, name in zip(X_cols, feat_idx, features):
            buf.append(_number(row[j], name, line, path, "feature", src.decimal))
        for buf, j, name in zip(y_cols, tgt_idx, targets):
            if isinstance(buf, list):
                cell = row[j].strip()
                if not cell:
                    raise CSVError(f"{path}, line {line}, column {name!r}: the label is empty; "
                                   "every row needs a target value.")
                buf.append(cell)
            else:
                try:
                    buf.append(_number(row[j], name, line, path, "target", src.decimal))
                except CSVError:
                    if len(targets) == 1 and row[j].strip() and not _is_nonfinite(row[j]):
                        raise _TextTarget(name) from None
                    raise
        n_rows += 1
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


def _number(cell: str, name: str, line: int, path: str, kind: str, decimal: str) -> float:
    value = parse_number(cell, decimal)
    if value is not None:
        return value
    text = cell.strip()
    if not text:
        raise CSVError(f"{path}, line {line}, column {name!r}: the cell is empty; fill in or drop "
                       "rows with missing values first (or use TablePreprocessor, which imputes them).")
    if _is_nonfinite(text) and "_" not in text:
        raise CSVError(f"{path}, line {line}, column {name!r}: {text!r} is not a finite number; "
                       "remove or impute NaN and infinite values first.")
    hint = ("drop it with --features or encode it as numbers" if kind == "feature"
            else "use a single text-label target for classification")
    if "_" in text:
        hint = "write numbers without '_' separators, e.g. 1000 for 1_000"
    raise CSVError(f"{path}, line {line}, column {name!r}: {text!r} is not a number; {hint}.")


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
