"""Opening a table file: the dialect, the encoding, the header, the rows (private to :mod:`ninestep.tabular`).

What a text table needs before its cells mean anything: is it text at
all (or an Excel workbook, a zip archive, Parquet), how is it encoded,
which delimiter and decimal mark does it use, what are its column names,
and which line is each row on (for error messages). :mod:`ninestep.tabular`
reads the cells on top of this; every error is a :class:`CSVError` naming
the file and, where there is one, the line and column.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Sequence

__all__ = ["CSVError", "DELIMITERS", "parse_number", "sniff_delimiter", "parse_columns", "read_header"]

#: Delimiters :func:`sniff_delimiter` chooses among.
DELIMITERS = (",", ";", "\t")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?\Z")


class CSVError(ValueError):
    """A table file that cannot be read; the message says which file, where and why."""


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


def parse_columns(spec: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (names stripped); None stays None."""
    if spec is None:
        return None
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [str(n).strip() for n in names]
    if not names or any(not n for n in names):
        raise CSVError(f"column list {spec!r} has an empty name; give names separated by commas, e.g. 'a,b'.")
    return names
