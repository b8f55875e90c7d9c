"""``ninestep predict``, ``evaluate`` and ``summary``: using a model file that ``train`` wrote."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np

from .. import load_model
from ..metrics import accuracy, confusion_matrix, mae, mse, r2
from ..tabular import parse_columns, read_csv
from ._common import EXIT_OK, Out, UsageError, json_default, text_table


def register(sub, common) -> None:
    """Add ``predict``, ``evaluate`` and ``summary`` to the subparsers ``sub``."""
    pr = sub.add_parser("predict", parents=[common], help="predict with a saved model")
    pr.add_argument("--model", required=True, help="model file written by 'ninestep train'")
    pr.add_argument("--data", help="CSV file with the model's feature columns")
    pr.add_argument("--input", action="append", help="one row of feature values, e.g. 30,70 (repeatable; ';' separates rows)")
    pr.add_argument("--output", help="write the predictions to this CSV file")
    pr.add_argument("--limit", type=int, default=20, help="rows to print (default 20; 0 = all)")
    pr.set_defaults(run=predict)

    e = sub.add_parser("evaluate", parents=[common], help="metrics of a saved model on new data")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True, help="CSV file with the features and the target")
    e.add_argument("--target", help="target column(s) (default: those the model was trained on)")
    e.set_defaults(run=evaluate)

    s = sub.add_parser("summary", parents=[common], help="architecture and parameter count of a saved model")
    s.add_argument("--model", required=True)
    s.set_defaults(run=summary)


def run(args, out: Out) -> int:
    """Run whichever of predict, evaluate and summary ``args.command`` names."""
    return {"predict": predict, "evaluate": evaluate, "summary": summary}[args.command](args, out)


def _parse_inputs(specs: list[str], n_in: int) -> np.ndarray:
    rows = []
    for spec in specs:
        for part in spec.split(";"):
            if not part.strip():
                continue
            try:
                row = [float(v) for v in part.split(",")]
            except ValueError:
                raise UsageError(f"--input {part!r} must be numbers separated by commas, e.g. 30,70.") from None
            if len(row) != n_in:
                raise UsageError(f"--input {part!r} has {len(row)} values but the model expects {n_in}.")
            rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def _model_features(model, path: str) -> np.ndarray:
    table = read_csv(path, features=model.feature_names)
    return table.X, table.feature_names


def predict(args, out: Out) -> int:
    if (args.data is None) == (not args.input):
        raise UsageError("give one of --data FILE.csv or --input VALUES (e.g. --input 30,70).")
    model = load_model(args.model)
    n_in = model.net.n_inputs
    if args.input:
        X = _parse_inputs(args.input, n_in)
        features = model.feature_names or [f"x{j}" for j in range(n_in)]
    else:
        X, features = _model_features(model, args.data)
    pred = model.predict(X)
    names = model.target_names or [f"y{j}" for j in range(1 if pred.ndim == 1 else pred.shape[1])]
    columns = list(features)
    if model.classes is not None:
        proba = model.net.forward(model.x_scaler.transform(X) if model.x_scaler is not None else X)
        conf = proba.max(axis=1) if proba.shape[1] > 1 else np.where(proba[:, 0] > 0.5, proba[:, 0], 1 - proba[:, 0])
        values = [[*x, str(c), float(q)] for x, c, q in zip(X.tolist(), pred.tolist(), conf)]
        columns += [names[0], "probability"]
    else:
        P = pred.reshape(len(X), -1)
        values = [[*x, *p] for x, p in zip(X.tolist(), P.tolist())]
        columns += names
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows(values)
        out(f"wrote {len(values)} predictions to {args.output}")
    if out.as_json:
        print(json.dumps([dict(zip(columns, v)) for v in values], default=json_default))
    elif not args.output:
        shown = values[:args.limit] if args.limit else values
        out(text_table(columns, shown))
        if len(shown) < len(values):
            out(f"... {len(values) - len(shown)} more rows (use --output FILE.csv for all)")
    return EXIT_OK


def evaluate(args, out: Out) -> int:
    model = load_model(args.model)
    targets = parse_columns(args.target) or model.target_names
    if not targets:
        raise UsageError("the model file names no target column; give --target COL.")
    labels = targets if model.classes is not None and isinstance(model.classes[0], str) else ()
    table = read_csv(args.data, target=targets, features=model.feature_names, label_targets=labels)
    pred = model.predict(table.X)
    result: dict[str, Any] = {"n_rows": table.n_rows}
    if model.classes is not None:
        y = table.y
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError(f"target {targets[0]!r} has continuous values but the model is a classifier.")
            y = y.astype(np.int64)
        known = set(model.classes)
        unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
        if unknown:
            raise ValueError(f"target {targets[0]!r} has labels the model never saw: "
                             f"{', '.join(map(repr, unknown[:5]))}; the model knows {model.classes}.")
        y = np.asarray(y.tolist(), dtype=object)
        pred = np.asarray(pred.tolist(), dtype=object)
        result["accuracy"] = accuracy(y, pred)
        C, labels_ = confusion_matrix(y, pred, labels=np.asarray(model.classes, dtype=object))
        result["confusion_matrix"] = C.tolist()
        result["classes"] = model.classes
        out(f"{table.n_rows} rows; accuracy {result['accuracy']:.4f}")
        out("confusion matrix (rows: true class, columns: predicted):")
        classes = [str(c) for c in model.classes]
        out(text_table(["", *classes], [[c, *map(str, row)] for c, row in zip(classes, C.tolist())]))
    else:
        y = table.y.reshape(table.n_rows, -1)
        P = pred.reshape(table.n_rows, -1)
        if y.shape[1] != P.shape[1]:
            raise ValueError(f"{len(targets)} target column(s) given but the model predicts {P.shape[1]}.")
        rows = []
        for j, name in enumerate(targets):
            m = {"mse": mse(y[:, j], P[:, j]), "mae": mae(y[:, j], P[:, j]), "r2": r2(y[:, j], P[:, j])}
            result[name] = m
            rows.append([name, m["mse"], m["mae"], m["r2"]])
        out(f"{table.n_rows} rows; metrics in original units:")
        out(text_table(["target", "MSE", "MAE", "R2"], rows))
    if out.as_json:
        print(json.dumps(result, default=json_default))
    return EXIT_OK


def summary(args, out: Out) -> int:
    model = load_model(args.model)
    net = model.net
    result = {"layers": net.layer_sizes, "activations": [layer.activation.name for layer in net.layers],
              "n_params": net.n_params, "dtype": net.dtype.name, "task": model.task,
              "features": model.feature_names, "targets": model.target_names, "classes": model.classes,
              "info": model.info}
    out(f"{args.model}: {model.task or 'network'}, {net.dtype.name}")
    out(net.summary())
    if model.feature_names:
        out(f"features ({len(model.feature_names)}): {', '.join(model.feature_names)}")
    if model.target_names:
        out(f"targets: {', '.join(model.target_names)}")
    if model.classes is not None:
        out(f"classes: {', '.join(map(str, model.classes))}")
    if model.x_scaler is not None:
        out("input scaler: stored (predictions take raw inputs)")
    if model.info.get("metrics"):
        out("test metrics at training time: " + json.dumps(model.info["metrics"], default=json_default))
    if out.as_json:
        print(json.dumps(result, default=json_default))
    return EXIT_OK


