"""``ninestep predict``, ``evaluate`` and ``summary``: using a model file that ``train`` wrote.

A model trained on a table file holds its :class:`~ninestep.preprocessing.TablePreprocessor`;
then ``predict`` and ``evaluate`` read raw rows (columns by name, in any order), ``predict``
keeps every input column as written and adds its prediction columns, and ``summary`` lists
the preprocessing. Other models take numeric columns, as before.
"""

from __future__ import annotations

import argparse
import io
import os
from typing import Any

import numpy as np

from .. import count_params, load, load_model
from ..archive import atomic_write_bytes, read_description
from ..metrics import accuracy, confusion_matrix, mae, mse, r2
from ..preprocessing import predict_table
from ..tabular import RawTable, parse_columns, parse_number, read_csv, read_table, write_table
from ._common import EXIT_OK, Out, UsageError, dumps, integer, number, print_json, text_table
from ._files import write_csv


def register(sub, common) -> None:
    """Add ``predict``, ``evaluate`` and ``summary`` to the subparsers ``sub``."""
    pr = sub.add_parser("predict", parents=[common], help="predict with a saved model")
    pr.add_argument("--model", required=True, help="model file written by 'ninestep train'")
    pr.add_argument("--data", help="table file with the model's feature columns (any order; other columns are kept)")
    pr.add_argument("--input", action="append",
                    help="one row of feature values in the order 'summary' lists the model's columns, e.g. 30,70 "
                         "or 120,Paris,yes (repeatable; ';' separates rows; an empty value is missing)")
    pr.add_argument("--output", help="write the predictions to this CSV file")
    pr.add_argument("--limit", type=integer, default=20, help="rows to print (default 20; 0 = all)")
    _dialect_options(pr)
    pr.set_defaults(run=predict)

    e = sub.add_parser("evaluate", parents=[common], help="metrics of a saved model on new data")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True, help="CSV file with the features and the target")
    e.add_argument("--target", help="target column(s) (default: those the model was trained on)")
    _dialect_options(e)
    e.set_defaults(run=evaluate)

    s = sub.add_parser("summary", parents=[common],
                       help="what a saved file is (model or training checkpoint), its architecture and parameters")
    s.add_argument("--model", required=True, help="model file, or a training checkpoint (described, not loaded)")
    s.set_defaults(run=summary)


def _dialect_options(parser) -> None:
    parser.add_argument("--delimiter", help="the table's delimiter: ',', ';' or tab (default: detected)")
    parser.add_argument("--decimal", choices=[".", ","],
                        help="decimal mark (default ',' with ';' delimiters, else '.')")


def _read(args) -> RawTable:
    delimiter = {"tab": "\t", "\\t": "\t"}.get(args.delimiter, args.delimiter)
    return read_table(args.data, delimiter=delimiter, decimal=args.decimal)


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
                row = [number(v) for v in part.split(",")]
            except argparse.ArgumentTypeError:
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
    if args.limit < 0:
        raise UsageError(f"--limit must be >= 0 (0 = all rows), got {args.limit}.")
    for option, path in (("--model", args.model), ("--data", args.data)):
        if args.output and path and os.path.exists(args.output) and os.path.samefile(args.output, path):
            raise UsageError(f"--output {args.output} is the {option} file; write the predictions elsewhere.")
    model = load_model(args.model)
    if model.preprocessor is not None:
        return _predict_table(args, model, out)
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
        conf = model.predict_proba(X).max(axis=1)  # the predicted class's probability
        values = [[*x, str(c), float(q)] for x, c, q in zip(X.tolist(), pred.tolist(), conf)]
        columns += [names[0], "probability"]
    else:
        P = pred.reshape(len(X), -1)
        values = [[*x, *p] for x, p in zip(X.tolist(), P.tolist())]
        columns += names
    if args.output:
        write_csv(args.output, columns, values)
        out(f"wrote {len(values)} predictions to {args.output}")
    if out.as_json:
        print_json([dict(zip(columns, v)) for v in values])
    elif not args.output:
        shown = values[:args.limit] if args.limit else values
        out(text_table(columns, shown))
        if len(shown) < len(values):
            out(f"... {len(values) - len(shown)} more rows (use --output FILE.csv for all)")
    return EXIT_OK


def _input_table(specs: list[str], names: list[str]) -> RawTable:
    """``--input`` rows as a raw table whose columns are the model's input columns, in order."""
    rows = []
    for spec in specs:
        for part in spec.split(";"):
            if not part.strip():
                continue
            values = [v.strip() for v in part.split(",")]
            if len(values) != len(names):
                raise UsageError(f"--input {part!r} has {len(values)} values but the model takes {len(names)}: "
                                 f"{', '.join(names)}.")
            rows.append(values)
    if not rows:
        raise UsageError("--input holds no values; give e.g. --input " + ",".join("..." for _ in names) + ".")
    return RawTable.from_columns({name: [r[j] for r in rows] for j, name in enumerate(names)}, source="--input")


def _predict_table(args, model, out: Out) -> int:
    """predict for a model with a preprocessor: every input column as written, then the predictions."""
    pre = model.preprocessor
    table = _input_table(args.input, pre.feature_names_in_) if args.input else _read(args)
    result = predict_table(pre, model.net, table)
    added = result.columns[len(table.columns):]
    if args.output:
        text = io.StringIO(newline="")
        write_table(result, text)
        atomic_write_bytes(args.output, text.getvalue().encode("utf-8"))
        out(f"wrote {result.n_rows} predictions to {args.output}")
    if out.as_json:
        # Input cells as written; the predictions as numbers (or class names).
        print_json([{c: (parse_number(result.cells[c][i], result.decimal) if c in added and "_proba_" in c
                         or c in added and pre.task_ == "regression" else result.cells[c][i])
                     for c in result.columns} for i in range(result.n_rows)])
    elif not args.output:
        shown = result.n_rows if not args.limit else min(args.limit, result.n_rows)
        out(text_table(result.columns, [[result.cells[c][i] for c in result.columns] for i in range(shown)]))
        if shown < result.n_rows:
            out(f"... {result.n_rows - shown} more rows (use --output FILE.csv for all)")
    return EXIT_OK


def _evaluate_table(args, model, out: Out) -> int:
    """evaluate for a model with a preprocessor: the rows cleaned as in training, then the metrics."""
    pre = model.preprocessor
    if args.target:
        pre.targets = parse_columns(args.target)
    table, y = pre.clean(_read(args))
    for line in pre.report_:
        out(line)
    outputs = model.net.forward(pre.transform(table))
    result: dict[str, Any] = {"n_rows": table.n_rows}
    if pre.task_ == "classification":
        classes = [str(c) for c in pre.classes_]
        pred = outputs.argmax(axis=1) if outputs.shape[1] > 1 else (outputs[:, 0] > 0.5).astype(int)
        _report_classes(y, pred, np.arange(len(classes)), pre.classes_, result, out)
    else:
        _report_regression(y.reshape(table.n_rows, -1),
                           pre.inverse_transform_target(outputs).reshape(table.n_rows, -1), pre.targets, result, out)
    if out.as_json:
        print_json(result)
    return EXIT_OK


def _report_classes(y, pred, labels, classes: list, result: dict, out: Out) -> None:
    """Accuracy and the confusion matrix of class labels ``y`` against ``pred`` (``labels`` in class order)."""
    result["accuracy"] = accuracy(y, pred)
    C, _ = confusion_matrix(y, pred, labels=labels)
    result.update(confusion_matrix=C.tolist(), classes=classes)
    out(f"{len(y)} rows; accuracy {result['accuracy']:.4f}")
    out("confusion matrix (rows: true class, columns: predicted):")
    names = [str(c) for c in classes]
    out(text_table(["", *names], [[c, *map(str, row)] for c, row in zip(names, C.tolist())]))


def _report_regression(Y: np.ndarray, P: np.ndarray, targets: list, result: dict, out: Out) -> None:
    """MSE, MAE and R2 per target column, in original units."""
    rows = []
    for j, name in enumerate(targets):
        m = {"mse": mse(Y[:, j], P[:, j]), "mae": mae(Y[:, j], P[:, j]), "r2": r2(Y[:, j], P[:, j])}
        result[name] = m
        rows.append([name, m["mse"], m["mae"], m["r2"]])
    out(f"{len(Y)} rows; metrics in original units:")
    out(text_table(["target", "MSE", "MAE", "R2"], rows))


def evaluate(args, out: Out) -> int:
    model = load_model(args.model)
    if model.preprocessor is not None:
        return _evaluate_table(args, model, out)
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
        _report_classes(y, pred, np.asarray(model.classes, dtype=object), model.classes, result, out)
    else:
        y = table.y.reshape(table.n_rows, -1)
        P = pred.reshape(table.n_rows, -1)
        if y.shape[1] != P.shape[1]:
            raise ValueError(f"{len(targets)} target column(s) given but the model predicts {P.shape[1]}.")
        _report_regression(y, P, targets, result, out)
    if out.as_json:
        print_json(result)
    return EXIT_OK


def summary(args, out: Out) -> int:
    """What the file is, then its network: a model file is loaded; a checkpoint only described."""
    kind = read_description(args.model).get("kind")
    if kind == "checkpoint":
        return _summary_checkpoint(args, out)
    if kind == "ensemble":
        return _summary_ensemble(args, out)
    model = load_model(args.model)
    net = model.net
    result = {"kind": "model", "layers": net.layer_sizes,
              "activations": [layer.activation.name for layer in net.layers],
              "n_params": net.n_params, "dtype": net.dtype.name, "task": model.task,
              "features": model.feature_names, "targets": model.target_names, "classes": model.classes,
              "info": model.info}
    out(f"{args.model}: model file, {model.task or 'network'}, {net.dtype.name}")
    out(net.summary())
    if model.feature_names:
        out(f"features ({len(model.feature_names)}): {', '.join(model.feature_names)}")
    if model.target_names:
        out(f"targets: {', '.join(model.target_names)}")
    if model.classes is not None:
        out(f"classes: {', '.join(map(str, model.classes))}")
    if model.x_scaler is not None:
        out("input scaler: stored (predictions take raw inputs)")
    if model.preprocessor is not None:
        result["preprocessing"] = model.preprocessor.describe()
        out(f"preprocessing (predict and evaluate apply it to raw rows; input columns "
            f"{', '.join(model.preprocessor.feature_names_in_)}):")
        for line in result["preprocessing"]:
            out(f"  {line}")
    if model.info.get("metrics"):
        out("test metrics at training time: " + dumps(model.info["metrics"]))
    if out.as_json:
        print_json(result)
    return EXIT_OK


def _summary_ensemble(args, out: Out) -> int:
    """An ensemble file: its members' shared shape, read (and so checked) as ninestep.load reads it."""
    ens = load(args.model)
    member = ens.member(0)
    result = {"kind": "ensemble", "n_members": ens.n_members, "layers": ens.layer_sizes,
              "activations": [layer.activation.name for layer in member.layers], "dtype": member.dtype.name,
              "n_params": member.n_params}
    out(f"{args.model}: ensemble of {ens.n_members} networks, {member.dtype.name}; each:")
    out(member.summary())
    out("Use it from Python (ninestep.load), or export it: ninestep export --model FILE --out model.onnx")
    if out.as_json:
        print_json(result)
    return EXIT_OK


def _summary_checkpoint(args, out: Out) -> int:
    """A training checkpoint is not a model (no scalers, the last epoch's weights): say so, and what it holds."""
    meta = read_description(args.model)
    sizes, activations = meta.get("layer_sizes"), meta.get("activations")
    optimizer = meta.get("optimizer") if isinstance(meta.get("optimizer"), dict) else {}
    result = {"kind": "checkpoint", "layers": sizes, "activations": activations, "dtype": meta.get("dtype"),
              "n_params": count_params(sizes), "epoch": meta.get("epoch"), "optimizer": optimizer.get("name")}
    folder = os.path.dirname(os.path.abspath(args.model))
    out(f"{args.model}: training checkpoint, not a model - the training state after epoch {meta.get('epoch')} "
        f"(the last epoch's weights, {optimizer.get('name', 'the optimiser')}'s state, no scalers).")
    out(f"layers {sizes}, activations {', '.join(map(str, activations or []))}, {meta.get('dtype')}, "
        f"parameters: {result['n_params']}")
    out(f"To predict, use model.npz from the same folder; to continue training: ninestep train --resume {folder}")
    if out.as_json:
        print_json(result)
    return EXIT_OK
