"""From a raw table to the numbers a network needs, and back: :class:`TablePreprocessor`.

A real table holds text (``city = Paris``), gaps (``NA``), yes/no words and
the odd typo. What scikit-learn users build from ``ColumnTransformer``,
``SimpleImputer`` and ``OneHotEncoder``, this one object does, with every
statistic learned from the **training rows only** (as step 4's scaler):

==============  ==============================================================
column kind     becomes
==============  ==============================================================
numbers         the number, standardised (mean 0, std 1) with StandardScaler
yes/no words    1/0 (true/false, yes/no; any case)
text            one 0/1 column per category seen in training ("one-hot");
                a category never seen becomes all zeros, with a warning
dates           an error saying how to turn them into numbers
gaps            filled with the training median (numbers) or most frequent
                value (text, yes/no), plus a 0/1 ``<column>_missing``
                column where the training rows had gaps
==============  ==============================================================

Missing means an empty cell or one of :data:`NA_VALUES` (any case).
``missing="drop"`` drops training rows with gaps instead, and
``missing="error"`` refuses them. A column of numbers with a few cells
that are not numbers (``1O`` for ``10``) is a column of numbers with bad
cells: they are reported by line and treated as missing (or refused).

The target follows the same rules but is never imputed: a row whose target
is missing or bad is dropped, with a count, and can never turn a numeric
target into hundreds of classes. The task is inferred from the cleaned
target (text -> classification; a few whole numbers -> classification;
other numbers -> regression), and a text target with more classes than its
rows can teach is refused with the evidence. Regression targets are
standardised; :meth:`TablePreprocessor.inverse_transform_target` maps the
network's outputs back to original units or class labels.

Columns are matched by name, so a table with the same columns in any order
(and extra ones) transforms the same. :meth:`TablePreprocessor.to_arrays`
gives plain JSON metadata and float arrays for the model file (no pickle);
:func:`predict_table` writes predictions beside the input columns as written.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

# How one column is parsed and encoded lives in the private _cells module; the constants and the
# error and warning classes are part of this module's API.
from ._cells import (BOOLEAN_WORDS, MISSING_MODES, NA_VALUES, Cells, DataError, DataWarning, as_table,
                     assemble, cells_at, count, fit_column, fmt, fill_text)
from .scaling import StandardScaler
from .tabular import RawTable, infer_task

__all__ = ["TablePreprocessor", "DataError", "DataWarning", "NA_VALUES", "BOOLEAN_WORDS", "predict_table"]

_FORMAT = 1


# ---------------------------------------------------------------------- the preprocessor
class TablePreprocessor:
    """Raw table -> standardised float64 matrix (and targets), fitted on the training rows.

    Parameters
    ----------
    target : str or list of str, optional
        Target column(s). Without one the preprocessor only handles features.
    features : list of str, optional
        Feature columns; default: every column that is not a target or in ``drop``.
    drop : list of str, default ()
        Columns to leave out (an ID, a date, free text).
    task : {"regression", "classification"}, optional
        Default: inferred from the target (see the module docstring).
    missing : {"impute", "drop", "error"}, default "impute"
        What to do with gaps and bad cells in the features.
    na_values : sequence of str, default NA_VALUES
        Cells that mean "missing" (ignoring case); an empty cell always does.
    max_levels : int, default 50
        Most categories a text column may have.

    Attributes (after fit)
    ----------------------
    task_ : str or None
    classes_ : list or None
        Class labels (str, or int for whole-number labels), for classification.
    columns_ : list of dict
        Per feature column: ``name``, ``kind`` ("number", "bool", "category"),
        ``fill`` (the imputation value), ``indicator`` (bool), ``categories``
        and ``integer`` where they apply, ``min``/``max`` for numbers.
    scaler_ : StandardScaler or None
        Fitted on the number columns (0/1 columns stay 0/1); None without any.
    target_scaler_ : StandardScaler or None
        For regression targets.
    report_ : list of str
        What was done, one line each ("imputed 3 cells in 'area' with the median 82").
    """

    def __init__(self, target: str | Sequence[str] | None = None, *, features: Sequence[str] | None = None,
                 drop: Sequence[str] = (), task: str | None = None, missing: str = "impute",
                 na_values: Sequence[str] = NA_VALUES, max_levels: int = 50):
        if missing not in MISSING_MODES:
            raise ValueError(f"missing must be one of {', '.join(MISSING_MODES)}, got {missing!r}.")
        if task not in (None, "regression", "classification"):
            raise ValueError(f"task must be 'regression', 'classification' or None, got {task!r}.")
        if not isinstance(max_levels, int) or max_levels < 2:
            raise ValueError(f"max_levels must be an int >= 2, got {max_levels!r}.")
        self.targets = [target] if isinstance(target, str) else list(target or [])
        if task == "classification" and len(self.targets) > 1:
            raise ValueError(f"classification takes one target column, got {self.targets}.")
        self.features = None if features is None else list(features)
        self.drop, self.task, self.missing = list(drop), task, missing
        self.na_values, self.max_levels = tuple(na_values), max_levels
        self._na = frozenset(v.strip().lower() for v in self.na_values) | {""}
        self.task_ = task
        self.classes_: list | None = None
        self.report_: list[str] = []
        self._decided = False  # task_ and classes_ are fixed by the first clean()

    # ------------------------------------------------------------ rows and target
    def _feature_names(self, table: RawTable) -> list[str]:
        unknown = [c for c in [*self.targets, *(self.features or []), *self.drop] if c not in table.cells]
        if unknown:
            raise DataError(f"{table.source}: column{'s' if len(unknown) > 1 else ''} "
                            f"{', '.join(map(repr, unknown))} not found; the table has columns "
                            f"{', '.join(table.columns)}.")
        names = self.features or [c for c in table.columns if c not in self.targets and c not in self.drop]
        both = [c for c in names if c in self.targets]
        if both:
            raise DataError(f"column(s) {', '.join(both)} are both feature and target; a column can only be one.")
        if not names:
            raise DataError(f"{table.source}: no feature columns are left (columns: {', '.join(table.columns)}; "
                            f"target: {', '.join(self.targets)}).")
        return names

    def clean(self, data) -> tuple[RawTable, np.ndarray | None]:
        """The rows to learn from, and their targets.

        Drops rows whose target is missing or not valid (or refuses them
        under ``missing="error"``); under ``missing="drop"`` also rows with
        a gap in a feature. The first call decides ``task_`` and
        ``classes_`` (call it on all rows before a train/test split, so
        that every class is known); later calls reuse them.

        Returns
        -------
        table : RawTable
            The kept rows.
        y : ndarray or None
            Regression: float64 (n,) or (n, n_targets) in original units;
            classification: int64 codes (n,) indexing ``classes_``.
        """
        table = as_table(data)
        keep = self._rows_without_gaps(table)
        if not self.targets:
            return (table if keep.all() else table.take(np.flatnonzero(keep))), None
        columns = [Cells(table.cells[t], table.decimal, self._na) for t in self.targets]
        first = not self._decided
        task = self.task_ or self._infer_task(table, columns)
        valid = np.ones(table.n_rows, dtype=bool)
        for name, cells in zip(self.targets, columns):
            valid &= self._valid_target(table, name, cells, task)
        keep &= valid
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            raise DataError(f"{table.source}: no rows are left once rows with a missing target are dropped.")
        if task == "classification":
            labels = self._labels(columns[0], rows)
            if first:
                self._set_classes(table, labels, explicit=self.task == "classification")
            known = {c: i for i, c in enumerate(self.classes_)}
            unknown = sorted({v for v in labels if v not in known}, key=str)
            if unknown:
                raise DataError(f"{table.source}: target {self.targets[0]!r} has labels the model never saw: "
                                f"{', '.join(map(repr, unknown[:5]))}; it knows {self.classes_}.")
            y = np.array([known[v] for v in labels], dtype=np.int64)
        else:
            y = np.column_stack([c.values[rows] for c in columns])
            y = y.ravel() if len(self.targets) == 1 else y
        if first:
            self.report_.append(f"target {', '.join(map(repr, self.targets))}: {task}"
                                + (f", {len(self.classes_)} classes" if task == "classification" else ""))
        self.task_, self._decided = task, True
        return (table if keep.all() else table.take(rows)), y

    def _rows_without_gaps(self, table: RawTable) -> np.ndarray:
        """Rows to keep under missing="drop" (all of them under "impute"); raises under "error"."""
        keep = np.ones(table.n_rows, dtype=bool)
        names = self._feature_names(table)
        if self.missing == "impute":
            return keep
        for name in names:
            cells = Cells(table.cells[name], table.decimal, self._na)
            gaps = cells.missing | (cells.bad if cells.kind == "number" else False)
            if gaps.any() and self.missing == "error":
                raise DataError(f"{table.source}: column {name!r} has {int(gaps.sum())} missing or bad "
                                f"cell(s) ({cells_at(table, gaps, cells)}) and missing='error'; fill them "
                                "in, or use --missing impute (or drop).")
            keep &= ~gaps
        if (~keep).any():
            self.report_.append(f"dropped {count(int((~keep).sum()), 'row')} with a gap in a feature (missing='drop')")
        return keep

    def _valid_target(self, table: RawTable, name: str, cells: Cells, task: str) -> np.ndarray:
        """Rows whose target ``name`` is usable; reports (or, under missing="error", refuses) the others."""
        numeric = cells.kind == "number" and not self._text_classes()
        if task == "regression" and not numeric:
            raise DataError(f"{table.source}: target {name!r} holds text labels such as "
                            f"{cells.text[int(np.flatnonzero(cells.bad)[0])]!r}; that is a classification "
                            "target, so drop --task regression.")
        # A column of numbers with a few bad cells stays numbers, whatever the task: the bad
        # cells are typos to report, not classes of their own.
        bad = cells.bad if numeric else np.zeros_like(cells.bad)
        problems = ((bad, f"whose target {name!r} is numbers apart from {int(bad.sum())} cell(s): "
                          f"{cells_at(table, bad, cells)}"),
                    (cells.missing, f"with a missing target {name!r}"))
        for mask, what in problems:
            if mask.any():
                if self.missing == "error":
                    raise DataError(f"{table.source}: {int(mask.sum())} row(s) {what}"
                                    + ("" if mask is bad else f" ({cells_at(table, mask, cells)})")
                                    + "; fix them, or use --missing impute to drop those rows.")
                self.report_.append(f"dropped {count(int(mask.sum()), 'row')} {what}")
        return ~cells.missing & ~bad

    def _infer_task(self, table: RawTable, columns: list[Cells]) -> str:
        if len(columns) > 1:
            return "regression"
        cells = columns[0]
        kind = cells.kind
        if kind == "number":
            ok = ~cells.missing & ~cells.bad
            return infer_task(cells.values[ok]) if ok.any() else "regression"
        if kind == "date":
            raise DataError(f"{table.source}: target {self.targets[0]!r} holds dates; a network predicts numbers "
                            "or classes: turn the dates into numbers first.")
        return "classification"

    def _text_classes(self) -> bool:
        return self.classes_ is not None and any(isinstance(c, str) for c in self.classes_)

    def _labels(self, cells: Cells, rows: np.ndarray) -> list:
        if cells.kind == "number" and not self._text_classes():
            values = cells.values[rows]
            if np.all(values == np.round(values)):
                return [int(v) for v in values]  # 1 and 1.0 are the same class; JSON keeps ints as ints
            return [float(v) for v in values]
        return [cells.text[i] for i in rows.tolist()]

    def _set_classes(self, table: RawTable, labels: list, explicit: bool) -> None:
        classes = sorted(set(labels), key=lambda v: (isinstance(v, str), v))
        if len(classes) < 2:
            raise DataError(f"{table.source}: target {self.targets[0]!r} has a single class ({classes[0]!r}); "
                            "classification needs at least two.")
        n = len(labels)
        # At most one class per five rows (at least 10 allowed), and never most rows a class of their own.
        limit = min(max(10, n // 5), max(2, n // 2))
        if not explicit and len(classes) > limit:
            raise DataError(f"{table.source}: target {self.targets[0]!r} has {len(classes)} different labels in "
                            f"{n} rows (e.g. {', '.join(map(repr, classes[:4]))}): too many classes to learn from "
                            f"{n} rows (at most {limit}). If it is a number column with "
                            "typos, fix them or pass --task regression; to train a classifier anyway, pass "
                            "--task classification.")
        self.classes_ = classes

    # ------------------------------------------------------------ fit / transform
    def fit(self, data) -> "TablePreprocessor":
        """Learn everything from ``data``, the training rows (a RawTable, dict of columns or DataFrame)."""
        self._fit(*self.clean(data))
        return self

    def fit_transform(self, data) -> tuple[np.ndarray, np.ndarray | None]:
        """Fit on ``data`` and return ``(X, y)`` for its kept rows.

        X : float64 (n_kept, n_features_out); y : the target as the network
        sees it (standardised for regression, class codes for
        classification), or None without a target.
        """
        table, y = self.clean(data)
        X = self._fit(table, y)
        return self._scale(X), (None if y is None else self.transform_target(y))

    def _fit(self, table: RawTable, y: np.ndarray | None) -> np.ndarray:
        """Learn the columns and scalers from ``table``; returns its matrix before scaling."""
        self.feature_names_in_ = self._feature_names(table)
        # Each column is parsed once here and shared by the steps below (parsing is most of the cost).
        parsed = {name: Cells(table.cells[name], table.decimal, self._na) for name in self.feature_names_in_}
        self.columns_ = [fit_column(table, name, parsed[name], self.max_levels, self.report_) for name in self.feature_names_in_]
        self.target_scaler_ = StandardScaler().fit(y) if y is not None and self.task_ == "regression" else None
        X = assemble(self.columns_, table, self._na, self.missing, quiet=True, parsed=parsed)
        idx = self._numeric_out()
        # Only number columns are standardised: 0/1 columns (one-hot, yes/no, indicators) stay 0/1,
        # as scikit-learn's ColumnTransformer recipes and fastai do; a rare category scaled by its
        # small standard deviation would become a large input.
        self.scaler_ = StandardScaler().fit(X[:, idx]) if idx.size else None
        return X


    def get_feature_names_out(self) -> list[str]:
        """Names of the output columns: ``x``, ``city=Paris``, ``x_missing``..."""
        self._check_fitted()
        names = []
        for c in self.columns_:
            names += [f"{c['name']}={v}" for v in c["categories"]] if c["kind"] == "category" else [c["name"]]
            if c["indicator"]:
                names.append(f"{c['name']}_missing")
        return names

    def _numeric_out(self) -> np.ndarray:
        idx, j = [], 0
        for c in self.columns_:
            if c["kind"] == "number":
                idx.append(j)
            j += len(c["categories"]) if c["kind"] == "category" else 1
            j += c["indicator"]
        return np.asarray(idx, dtype=np.int64)

    def transform(self, data) -> np.ndarray:
        """Feature matrix of shape (n_rows, n_features_out), float64, standardised.

        Columns are found by name (any order; extra columns are ignored).
        Warns (DataWarning) about categories never seen in training and
        about gaps or bad cells in columns that had none in training.
        """
        self._check_fitted()
        return self._scale(assemble(self.columns_, as_table(data), self._na, self.missing, quiet=False))

    def _scale(self, X: np.ndarray) -> np.ndarray:
        idx = self._numeric_out()
        if idx.size:
            X[:, idx] = self.scaler_.transform(X[:, idx])
        return X

    # ------------------------------------------------------------ targets
    def transform_target(self, y: np.ndarray) -> np.ndarray:
        """Targets from :meth:`clean` -> what the network trains on (standardised, or class codes as they are)."""
        self._check_fitted()
        return self.target_scaler_.transform(y) if self.target_scaler_ is not None else np.asarray(y)

    def inverse_transform_target(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs -> original units (regression, (n,) for one target) or class labels (n,).

        For classification ``outputs`` are probabilities of shape
        (n, n_classes) (softmax) or (n, 1) (sigmoid); the labels come
        back as an object array of ``classes_`` entries.
        """
        self._check_fitted()
        outputs = np.asarray(outputs)
        if self.task_ == "classification":
            P = outputs.reshape(len(outputs), -1)
            codes = (P[:, 0] > 0.5).astype(np.int64) if P.shape[1] == 1 else P.argmax(axis=1)
            return np.asarray(self.classes_, dtype=object)[codes]
        if self.target_scaler_ is None:
            return outputs
        out = self.target_scaler_.inverse_transform(outputs.reshape(len(outputs), -1))
        return out.ravel() if len(self.targets) == 1 else out

    # ------------------------------------------------------------ storage
    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(meta, arrays)``: plain JSON-able metadata and float64 arrays, enough to rebuild the preprocessor."""
        self._check_fitted()
        meta = {"format": _FORMAT, "targets": self.targets, "features": self.feature_names_in_,
                "drop": self.drop, "task": self.task_, "classes": self.classes_, "missing": self.missing,
                "na_values": list(self.na_values), "max_levels": self.max_levels,
                "columns": [{k: v for k, v in c.items() if k not in ("min", "max")} for c in self.columns_]}
        numbers = [c for c in self.columns_ if c["kind"] == "number"]
        empty = np.zeros(0)
        arrays = {"x_mean": empty if self.scaler_ is None else self.scaler_.mean_,
                  "x_scale": empty if self.scaler_ is None else self.scaler_.scale_,
                  "x_min": np.array([c["min"] for c in numbers], dtype=np.float64),
                  "x_max": np.array([c["max"] for c in numbers], dtype=np.float64)}
        if self.target_scaler_ is not None:
            arrays.update(y_mean=self.target_scaler_.mean_, y_scale=self.target_scaler_.scale_)
        return meta, {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "TablePreprocessor":
        """The fitted preprocessor that :meth:`to_arrays` described. Raises ValueError on inconsistent data."""
        try:
            if meta.get("format") != _FORMAT:
                raise ValueError(f"unknown preprocessor format {meta.get('format')!r} (this version reads {_FORMAT})")
            self = cls(meta["targets"], features=meta["features"], drop=meta["drop"], task=meta["task"],
                       missing=meta["missing"], na_values=meta["na_values"], max_levels=meta["max_levels"])
            self.classes_, self.feature_names_in_ = meta["classes"], list(meta["features"])
            self._decided = True
            self.columns_ = [dict(c) for c in meta["columns"]]
            for c in self.columns_:
                if c.get("kind") not in ("number", "bool", "category") or not isinstance(c.get("name"), str):
                    raise ValueError(f"column entry {c!r} is not valid")
            numbers = [c for c in self.columns_ if c["kind"] == "number"]
            if not (len(arrays["x_min"]) == len(arrays["x_max"]) == len(numbers) == len(arrays["x_mean"])):
                raise ValueError(f"{len(numbers)} number columns but {len(arrays['x_mean'])} scaler entries")
            self.scaler_ = (StandardScaler.from_params(arrays["x_mean"], arrays["x_scale"])
                            if len(numbers) else None)
            for c, lo, hi in zip(numbers, arrays["x_min"].tolist(), arrays["x_max"].tolist()):
                c["min"], c["max"] = lo, hi
            self.target_scaler_ = (StandardScaler.from_params(arrays["y_mean"], arrays["y_scale"])
                                   if "y_mean" in arrays else None)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the stored preprocessor is incomplete or malformed ({type(exc).__name__}: {exc}).") \
                from None
        return self

    def describe(self) -> list[str]:
        """One line per feature column: how it is turned into numbers (for ``ninestep summary``)."""
        self._check_fitted()
        lines = []
        for c in self.columns_:
            text = {"number": f"number, range [{fmt(c.get('min', 0), c.get('integer', False))}, "
                              f"{fmt(c.get('max', 0), c.get('integer', False))}]",
                    "bool": "yes/no -> 1/0"}.get(c["kind"], f"one-hot, {len(c.get('categories', []))} categories")
            lines.append(f"{c['name']}: {text}; gaps filled with {fill_text(c)}"
                         + (f", plus {c['name']}_missing" if c["indicator"] else ""))
        return lines

    def out_of_range(self, data) -> list[str]:
        """One message per number column with values outside the training range."""
        self._check_fitted()
        table, messages = as_table(data), []
        for c in self.columns_:
            if c["kind"] != "number" or c["name"] not in table.cells:
                continue
            cells = Cells(table.cells[c["name"]], table.decimal, self._na)
            with np.errstate(invalid="ignore"):
                out = (cells.values < c["min"]) | (cells.values > c["max"])
            if out.any():
                messages.append(f"{table.source}: column {c['name']!r}: {int(out.sum())} value(s) outside the "
                                f"training range [{fmt(c['min'], c['integer'])}, {fmt(c['max'], c['integer'])}] "
                                f"({cells_at(table, out, cells, 3)}); predictions there are extrapolations.")
        return messages

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise RuntimeError("This TablePreprocessor is not fitted yet; call fit(training_table) first.")

    def __repr__(self) -> str:
        return (f"TablePreprocessor(target={self.targets!r}, missing={self.missing!r}"
                + (f", task={self.task_!r}, {len(self.get_feature_names_out())} output columns)"
                   if hasattr(self, "columns_") else ")"))


def predict_table(preprocessor: TablePreprocessor, net, data) -> RawTable:
    """Predictions written beside every input column, as written.

    Parameters
    ----------
    preprocessor : TablePreprocessor (fitted)
    net : object with ``forward(X)`` (a Network)
    data : RawTable, dict of columns or DataFrame
        Raw rows with the feature columns, in any order; other columns
        (the true target, IDs) are kept too.

    Returns
    -------
    RawTable
        The input columns unchanged (``2014`` stays ``2014``), then for
        regression ``<target>_pred`` per target; for classification
        ``<target>_pred`` (the class) and ``<target>_proba_<class>`` per
        class. Numbers are written with the table's decimal mark. Inputs
        outside the training range give one DataWarning per column.
    """
    table = as_table(data)
    for message in preprocessor.out_of_range(table):
        warnings.warn(DataWarning(message), stacklevel=2)
    outputs = np.asarray(net.forward(preprocessor.transform(table)))
    names = preprocessor.targets or [f"y{j}" for j in range(outputs.shape[1])]

    def text(values) -> list[str]:
        cells = [fmt(float(v), digits=8) for v in values]
        return [c.replace(".", ",") for c in cells] if table.decimal == "," else cells

    added: dict[str, list[str]] = {}
    if preprocessor.task_ == "classification":
        added[f"{names[0]}_pred"] = [str(v) for v in preprocessor.inverse_transform_target(outputs)]
        P = outputs if outputs.shape[1] > 1 else np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
        for k, cls in enumerate(preprocessor.classes_):
            added[f"{names[0]}_proba_{cls}"] = text(P[:, k])
    else:
        values = preprocessor.inverse_transform_target(outputs).reshape(len(outputs), -1)
        for j, name in enumerate(names):
            added[f"{name}_pred"] = text(values[:, j])
    cells = {**table.cells, **added}
    columns = table.columns + [c for c in added if c not in table.cells]
    return RawTable(columns, cells, table.lines, table.source, table.delimiter, table.decimal)

