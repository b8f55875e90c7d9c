"""One column of a raw table, parsed, and what it becomes (private to :mod:`ninestep.preprocessing`).

:class:`Cells` reads a column's text once: which cells are missing, which
are numbers, which are not, and so what kind of column it is. :func:`fit_column`
learns a training column's recipe (a plain dict, stored as JSON in the model
file) and :func:`assemble` applies the recipes to a table, giving the
unscaled matrix. :class:`~ninestep.preprocessing.TablePreprocessor` holds the
recipes and the scalers, and decides rows and targets.
"""

from __future__ import annotations

import re
import warnings
from functools import cached_property
from typing import Any

import numpy as np

from .tabular import RawTable, parse_number

__all__ = ["NA_VALUES", "BOOLEAN_WORDS", "MISSING_MODES", "DataError", "DataWarning", "Cells", "cells_at", "fmt",
           "fill_text", "count", "as_table", "fit_column", "assemble"]

#: Cells that mean "missing" by default (compared ignoring case); an empty cell always does.
NA_VALUES = ("", "NA", "N/A", "NaN", "null", "None", "?", "-")
BOOLEAN_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
MISSING_MODES = ("impute", "drop", "error")
_DATE = re.compile(r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
                   r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?\Z")


class DataError(ValueError):
    """A table the preprocessor cannot turn into numbers; the message says where and what to do."""


class DataWarning(UserWarning):
    """Something in the data worth knowing (an unseen category, an input outside the training range)."""


# ---------------------------------------------------------------------- one column's cells
class Cells:
    """One column parsed: ``values`` (NaN where not a number), ``missing`` and ``bad`` masks, stripped ``text``."""

    def __init__(self, cells: list[str], decimal: str, na: frozenset[str]):
        self.text = [c.strip() for c in cells]
        self.missing = np.fromiter((t.lower() in na for t in self.text), bool, len(self.text))
        numbers = [None if m else parse_number(t, decimal) for t, m in zip(self.text, self.missing)]
        self.values = np.array([np.nan if v is None else v for v in numbers], dtype=np.float64)
        self.bad = ~self.missing & np.isnan(self.values)
        self.n_present = int((~self.missing).sum())

    @cached_property
    def kind(self) -> str:
        """"number", "bool", "date", "category" or "empty" (no values at all)."""
        n_bad = int(self.bad.sum())
        if self.n_present == 0:
            return "empty"
        if n_bad == 0:
            return "number"
        words = [self.text[i] for i in np.flatnonzero(self.bad)]
        if n_bad == self.n_present and all(w.lower() in BOOLEAN_WORDS for w in words):
            return "bool"
        if 2 * sum(_DATE.match(w) is not None for w in words) > self.n_present:
            return "date"
        # Numbers apart from a few cells: a column of numbers with typos, not a column of text.
        if n_bad <= max(2, self.n_present // 20) and 4 * n_bad <= self.n_present:
            return "number"
        return "category"


def cells_at(table: RawTable, mask: np.ndarray, cells: Cells, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(f"{table.where(i)} {cells.text[i]!r}" for i in idx[:limit])
    return shown + (f" and {idx.size - limit} more" if idx.size > limit else "")


def fmt(value: float, integer: bool = False, digits: int = 6) -> str:
    if integer and float(value).is_integer():
        return str(int(value))
    return np.format_float_positional(value, precision=digits, unique=True, fractional=False, trim="-")


def fill_text(column: dict) -> str:
    """A column's imputation value as a reader would write it: 82.5, 2014, 1, 'Paris'."""
    if column["kind"] == "category":
        return repr(column["fill"])
    return fmt(column["fill"], column.get("integer", True))


def count(n: int, noun: str) -> str:
    """``1 row``, ``3 rows``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def as_table(data) -> RawTable:
    return data if isinstance(data, RawTable) else RawTable.from_columns(data)


def fit_column(table: RawTable, name: str, cells: Cells, max_levels: int, report: list[str]) -> dict:
    """What one training column becomes: its kind, imputation value, indicator and, for text, categories.

    Appends to ``report`` what was done; raises DataError for an empty column, dates, or too many levels.
    """
    kind = cells.kind
    where = f"{table.source}: column {name!r}"
    if kind == "empty":
        raise DataError(f"{where} has no values in the training rows; leave it out with --drop {name}.")
    if kind == "date":
        example = next(t for t in cells.text if _DATE.match(t))
        raise DataError(f"{where} holds dates such as {example!r}; a network needs numbers. Turn them into "
                        "numbers in new columns first (for example the year, the month, or days since a start "
                        f"date), or leave the column out with --drop {name}.")
    gaps = cells.missing | (cells.bad if kind == "number" else False)
    spec: dict[str, Any] = {"name": name, "kind": kind, "indicator": bool(gaps.any())}
    if kind == "number":
        present = cells.values[~gaps]
        spec["integer"] = all(cells.text[i].lstrip("+-").isdigit() for i in np.flatnonzero(~gaps))
        spec["fill"] = float(np.median(present))
        spec["min"], spec["max"] = float(present.min()), float(present.max())
        if cells.bad.any():
            report.append(f"column {name!r}: {int(cells.bad.sum())} cell(s) that are not numbers "
                          f"({cells_at(table, cells.bad, cells)}) treated as missing")
        how = f"the median {fill_text(spec)}"
    elif kind == "bool":
        values = np.array([BOOLEAN_WORDS[cells.text[i].lower()] for i in np.flatnonzero(~gaps)])
        spec["fill"] = float(values.mean() >= 0.5)
        report.append(f"column {name!r}: yes/no words -> 1/0")
        how = f"the most frequent value {fill_text(spec)}"
    else:
        levels, counts = np.unique([cells.text[i] for i in np.flatnonzero(~gaps)], return_counts=True)
        if levels.size > max_levels or (cells.n_present >= 20 and 2 * levels.size > cells.n_present):
            raise DataError(f"{where} has {levels.size} different values in {cells.n_present} rows (e.g. "
                            f"{', '.join(map(repr, levels[:3].tolist()))}): "
                            + ("it looks like an ID or free text" if 2 * levels.size > cells.n_present
                               else f"more than max_levels={max_levels} categories")
                            + f", which one-hot encoding cannot use. Leave it out with --drop {name} "
                            "(or choose columns with --features).")
        spec["categories"] = levels.tolist()
        spec["fill"] = str(levels[int(np.argmax(counts))])  # ties: the first in sorted order
        report.append(f"one-hot {name!r} -> {levels.size} columns ({', '.join(levels[:6].tolist())}"
                            + (", ..." if levels.size > 6 else "") + ")")
        how = f"the most frequent value {fill_text(spec)}"
    if gaps.any():
        report.append(f"imputed {count(int(gaps.sum()), 'cell')} in {name!r} with {how}; added {name}_missing")
    return spec


def assemble(columns: list[dict], table: RawTable, na: frozenset[str], missing: str, quiet: bool,
             parsed: dict | None = None) -> np.ndarray:
    """The unscaled matrix of ``columns`` (fitted specs): numbers, 0/1 columns and indicators, gaps filled.

    Warns (DataWarning) unless ``quiet``; under ``missing="error"`` refuses gaps.
    """
    absent = [c["name"] for c in columns if c["name"] not in table.cells]
    if absent:
        raise DataError(f"{table.source}: feature column{'s' if len(absent) > 1 else ''} "
                        f"{', '.join(map(repr, absent))} not found; the table has columns "
                        f"{', '.join(table.columns)}.")
    blocks = []
    for c in columns:
        cells = parsed[c["name"]] if parsed else Cells(table.cells[c["name"]], table.decimal, na)
        if c["kind"] == "number":
            block, gaps = cells.values[:, None].copy(), cells.missing | cells.bad
        elif c["kind"] == "bool":
            words = {**BOOLEAN_WORDS, "1": 1.0, "0": 0.0}
            block = np.array([[words.get(t.lower(), np.nan)] for t in cells.text])
            gaps = cells.missing | np.isnan(block[:, 0])
        else:
            index = {v: k for k, v in enumerate(c["categories"])}
            block = np.zeros((table.n_rows, len(index)))
            gaps = cells.missing
            unseen = []
            for i, t in enumerate(cells.text):
                k = c["fill"] if gaps[i] else t
                if k in index:
                    block[i, index[k]] = 1.0
                else:
                    unseen.append(i)
            if unseen and not quiet:
                values = sorted({cells.text[i] for i in unseen})
                warnings.warn(DataWarning(
                    f"{table.source}: column {c['name']!r} has {len(unseen)} cell(s) with categories never seen "
                    f"in training ({', '.join(map(repr, values[:5]))}"
                    + (f" and {len(values) - 5} more" if len(values) > 5 else "")
                    + f", e.g. {table.where(unseen[0])}); they are encoded as all zeros."), stacklevel=4)
        bad = gaps & ~cells.missing
        if gaps.any() and not quiet:
            if missing == "error":
                raise DataError(f"{table.source}: column {c['name']!r} has missing or bad cells "
                                f"({cells_at(table, gaps, cells)}) and missing='error'.")
            if bad.any() or not c["indicator"]:
                warnings.warn(DataWarning(
                    f"{table.source}: column {c['name']!r}: {int(gaps.sum())} missing or unreadable cell(s) "
                    f"({cells_at(table, gaps, cells)}) filled with the training value {fill_text(c)}."),
                    stacklevel=4)
        if c["kind"] != "category":
            block[gaps, 0] = c["fill"]
        blocks.append(block)
        if c["indicator"]:
            blocks.append(gaps[:, None].astype(np.float64))
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((table.n_rows, 0))
