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
import gzip
import math
import os
import re
import zipfile
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["CSVError", "Table", "RawTable", "read_csv", "read_table", "read_header", "write_table",
           "sniff_delimiter", "parse_number", "infer_task", "parse_columns"]

#: Delimiters :func:`sniff_delimiter` chooses among.
DELIMITERS = (",", ";", "\t")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?\Z")


class CSVError(ValueError):
    """A table file that cannot be read; the message says which file, where and why."""


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


# ---------------------------------------------------------------------- cells
def parse_number(cell: str, decimal: str = ".") -> float | None:
    """The number a cell holds, or None when it is not a plain finite number.

    Accepts ``12``, ``-1.5``, ``.5``, ``2e3`` and, with ``decimal=","``,
    ``1,5`` (a decimal point is still read). Refuses what Python's
    ``float`` would also take but a table should not: ``1_000``, ``nan``,
    ``inf``, and numbers too large for float64.
    """
    text = cell.strip()
    if decimal == "," and "," in text and _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon or tab, whichever splits the sample's lines most consistently.

    The rule (steadier than :class:`csv.Sniffer` on short files): a
    candidate must split the header into at least two fields and every
    other line of the sample into as many; among those, the one giving the
    most fields wins. When none is consistent, the one giving the header
    the most fields; a single-column file falls back to a comma.
    """
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may end in the middle of a line
    best, best_key = ",", (False, 1)
    for d in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=d))
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        # A quoted field spanning lines makes a short row; those do not count against a candidate.
        consistent = all(len(r) == width for r in rows[1:-1]) if len(rows) > 2 else \
            all(len(r) == width for r in rows[1:])
        key = (consistent and width > 1, width)
        if width > 1 and key > best_key:
            best, best_key = d, key
    return best


# ---------------------------------------------------------------------- opening a file
def _binary_kind(head: bytes) -> str | None:
    """What a file that is not text looks like, from its first bytes; None for text."""
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return ("an old-style Excel workbook (.xls) or another Microsoft Office file; save the sheet as "
                "'CSV UTF-8' in Excel and give that file")
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith((b"\x93NUMPY", b"\x89PNG", b"%PDF", b"\x7fELF", b"SQLite format")):
        return "a binary file (" + head[:8].decode("latin-1").strip("\x00\x89\x93\x7f") + ")"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with a byte-order mark
    if b"\x00" in head:
        return ("a binary file (it holds NUL bytes; if it is UTF-16 text without a byte-order mark, "
                "save it as UTF-8)")
    return None


def _zip_kind(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a zip archive"
    if any(n.startswith("xl/") for n in names):
        return ("an Excel workbook (.xlsx); save the sheet as 'CSV UTF-8' in Excel, or read it with "
                "pandas.read_excel and pass the DataFrame to TablePreprocessor")
    csvs = [n for n in names if n.lower().endswith((".csv", ".tsv", ".txt"))]
    return "a zip archive" + (f" holding {', '.join(csvs[:3])}: unzip it and give that file" if csvs else "")


@dataclass
class _Source:
    """A text table file: where it is, how to decode it, and its dialect."""

    path: str
    compressed: bool
    encoding: str
    delimiter: str = ","
    decimal: str = "."

    def open(self):
        # newline="" lets the csv module handle line ends inside quoted fields.
        if self.compressed:
            return gzip.open(self.path, "rt", encoding=self.encoding, newline="")
        return open(self.path, newline="", encoding=self.encoding)

    def decode_error(self, exc: UnicodeDecodeError) -> CSVError:
        """Where the undecodable bytes are (line and column), found by decoding the file again whole."""
        with (gzip.open(self.path, "rb") if self.compressed else open(self.path, "rb")) as f:
            data = f.read()
        try:
            data.decode(self.encoding)
            at = exc.start
        except UnicodeDecodeError as whole:
            at = whole.start
        line = data.count(b"\n", 0, at) + 1
        column = at - (data.rfind(b"\n", 0, at) + 1) + 1
        return CSVError(f"{self.path}, line {line}, column {column} (byte {at}): {data[at:at + 4]!r} is not "
                        f"{'UTF-16' if self.encoding == 'utf-16' else 'UTF-8'} text ({exc.reason}); save the file "
                        "as UTF-8 CSV (in Excel: 'CSV UTF-8').")


def _source(path: str, delimiter: str | None, decimal: str | None) -> _Source:
    """Check that ``path`` is a text table and find its encoding and dialect; CSVError if it is not."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file {path!r} does not exist" +
                                (" (it is a folder)" if os.path.isdir(path) else "") + ".")
    with open(path, "rb") as f:
        head = f.read(4096)
    compressed = head[:2] == b"\x1f\x8b"
    if compressed:
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(4096)
        except (OSError, EOFError) as exc:
            raise CSVError(f"{path} starts like a gzip file but cannot be decompressed ({exc}).") from None
    kind = _binary_kind(head)
    if kind == "a zip archive":
        kind = _zip_kind(path)
    if kind is not None:
        what = "" if kind.startswith("a Parquet") else " It is not a CSV text file."
        raise CSVError(f"{path} looks like {kind}.{what}")
    # utf-8-sig reads UTF-8 with or without a byte-order mark; "utf-16" needs (and drops) one.
    src = _Source(path, compressed, "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig")
    if delimiter is None:
        try:
            with src.open() as f:
                delimiter = sniff_delimiter(f.read(65536))
        except UnicodeDecodeError as exc:
            raise src.decode_error(exc) from None
    elif len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character such as ',', ';' or '\\t', got {delimiter!r}.")
    if decimal is None:
        decimal = "," if delimiter == ";" else "."
    elif decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ',', got {decimal!r}.")
    if decimal == delimiter:
        raise ValueError(f"the decimal mark and the delimiter are both {decimal!r}; give another --delimiter.")
    src.delimiter, src.decimal = delimiter, decimal
    return src


def _header(reader, path: str, delimiter: str) -> list[str]:
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


def read_header(path: str | os.PathLike, delimiter: str | None = None) -> list[str]:
    """The column names of a CSV file, reading only its header row (delimiter sniffed by default)."""
    src = _source(os.fspath(path), delimiter, None)
    with _reading(src) as reader:
        return _header(reader, src.path, src.delimiter)


@contextmanager
def _reading(src: _Source):
    """A csv reader over ``src``; csv and decoding errors become CSVErrors naming the line."""
    with src.open() as f:
        reader = csv.reader(f, delimiter=src.delimiter)
        try:
            yield reader
        except csv.Error as exc:
            raise CSVError(f"{src.path}, line {reader.line_num}: malformed CSV ({exc}).") from None
        except UnicodeDecodeError as exc:
            raise src.decode_error(exc) from None


def _records(reader, src: _Source, columns: list[str]):
    """(line, row) for each data row; blank lines skipped, a row of the wrong length refused."""
    for row in reader:
        if len(row) != len(columns):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            raise _bad_length(src.path, reader.line_num, row, columns, src.delimiter)
        yield reader.line_num, row


def _missing(kind: str, missing: list[str], columns: list[str], path: str, delimiter: str) -> CSVError:
    hint = ""
    if len(columns) == 1:
        hint = f" (read with delimiter {delimiter!r} as a single column; if the file uses another, give --delimiter)"
    return CSVError(f"{path}: {kind} column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(repr(m) for m in missing)} not found; the file has columns "
                    f"{', '.join(columns)}{hint}.")


def _bad_length(path: str, line: int, row: list, columns: list[str], delimiter: str) -> CSVError:
    return CSVError(f"{path}, line {line}: {len(row)} fields, but the header has {len(columns)} "
                    f"({', '.join(columns)}), reading with delimiter {delimiter!r}. Fix that row (a missing or "
                    "extra delimiter, or an unquoted delimiter inside a value?).")


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
    """Write ``table`` as CSV in its own dialect (delimiter), header first; cells as they are."""
    own = isinstance(path_or_file, (str, os.PathLike))
    f = open(path_or_file, "w", newline="", encoding="utf-8") if own else path_or_file
    try:
        w = csv.writer(f, delimiter=table.delimiter, lineterminator="\n")
        w.writerow(table.columns)
        w.writerows(zip(*(table.cells[c] for c in table.columns)))
    finally:
        if own:
            f.close()


# ---------------------------------------------------------------------- read_csv (all numbers)
def parse_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (names stripped); None stays None."""
    if spec is None:
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise CSVError(f"column list {spec!r} has an empty name; give names separated by commas, e.g. 'a,b'.")
    return names


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
