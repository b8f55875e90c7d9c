"""ninestep predict, evaluate and summary (cli/inspect.py) on a model that train wrote.

A model trained on a CSV file holds its TablePreprocessor, so these go through the raw-table path;
tests/test_cli_tables.py has messy tables, test_cli_corpus.py models without a preprocessor.
"""

import csv
import json

import numpy as np
import pytest

import ninestep
from test_cli import FAST, labels_csv, one_line_error, regression_csv, run  # noqa: F401 (fixtures)


# ---------------------------------------------------------------------- predict / evaluate / summary
@pytest.fixture
def trained(capsys, tmp_path, regression_csv):
    out = tmp_path / "model"
    assert run(capsys, "train", "--data", regression_csv, "--target", "price", "--out", out, *FAST)[0] == 0
    return out / "model.npz", regression_csv


def test_predict_csv_matches_the_saved_model(capsys, tmp_path, trained):
    model_path, data = trained
    dest = tmp_path / "pred.csv"
    code, stdout, _ = run(capsys, "predict", "--model", model_path, "--data", data, "--output", dest)
    assert code == 0 and "wrote 300 predictions" in stdout
    with open(dest, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["size", "age", "dist, km", "price", "price_pred"] and len(rows) == 301
    with open(data, newline="") as f:
        given = list(csv.reader(f))
    assert [r[:4] for r in rows[1:]] == given[1:]  # every input cell as written, the true target kept
    model = ninestep.load_model(model_path)
    X = np.array(given[1:], dtype=float)
    raw = {"dist, km": X[:, 2], "age": X[:, 1], "size": X[:, 0]}  # columns by name, in any order
    np.testing.assert_allclose(np.array([r[4] for r in rows[1:]], dtype=float), model.predict(raw).ravel(),
                               rtol=1e-7)  # written with 8 significant digits


def test_predict_input_rows_and_errors(capsys, trained):
    model_path, _ = trained
    code, stdout, _ = run(capsys, "predict", "--model", model_path, "--input", "0,0,0;1,1,1", "--json")
    assert code == 0 and len(json.loads(stdout)) == 2
    code, _, err = run(capsys, "predict", "--model", model_path, "--input", "1,2")
    assert code == 2 and "has 2 values but the model takes 3: size, age, dist, km" in one_line_error(err)
    code, _, err = run(capsys, "predict", "--model", model_path)
    assert code == 2 and "--input" in one_line_error(err)


def test_evaluate_regression_matches_metrics(capsys, trained):
    model_path, data = trained
    code, stdout, _ = run(capsys, "evaluate", "--model", model_path, "--data", data, "--json")
    assert code == 0
    result = json.loads(stdout)
    model = ninestep.load_model(model_path)
    table = np.genfromtxt(data, delimiter=",", skip_header=1)
    pred = model.predict({"size": table[:, 0], "age": table[:, 1], "dist, km": table[:, 2]}).ravel()
    assert result["n_rows"] == 300
    assert result["price"]["mae"] == pytest.approx(np.mean(np.abs(pred - table[:, 3])), rel=1e-12)
    assert result["price"]["r2"] == pytest.approx(ninestep.r2(table[:, 3], pred), rel=1e-12)


def test_evaluate_classifier_with_string_labels(capsys, tmp_path, labels_csv):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", labels_csv, "--target", "colour", "--out", out, *FAST)[0] == 0
    code, stdout, _ = run(capsys, "evaluate", "--model", out / "model.npz", "--data", labels_csv, "--json")
    assert code == 0
    result = json.loads(stdout)
    C = np.array(result["confusion_matrix"])
    assert C.shape == (3, 3) and C.sum() == 300
    assert result["accuracy"] == pytest.approx(np.trace(C) / 300)
    bad = tmp_path / "unseen.csv"
    bad.write_text("u,v,colour\n0.1,0.2,purple\n")
    code, _, err = run(capsys, "evaluate", "--model", out / "model.npz", "--data", bad)
    assert code == 1 and "labels the model never saw: 'purple'" in one_line_error(err)


def test_summary(capsys, trained):
    model_path, _ = trained
    code, stdout, _ = run(capsys, "summary", "--model", model_path)
    n_params = ninestep.load_model(model_path).net.n_params
    assert code == 0 and f"parameters: {n_params}" in stdout and "input columns size, age, dist, km" in stdout
    assert "  age: number, range [" in stdout


def test_predict_probability_is_the_predicted_class_probability(capsys, tmp_path, labels_csv):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", labels_csv, "--target", "colour", "--out", out, *FAST)[0] == 0
    code, stdout, _ = run(capsys, "predict", "--model", out / "model.npz", "--input", "0.1,0.2;-0.5,0.3", "--json")
    assert code == 0
    model = ninestep.load_model(out / "model.npz")
    proba = model.predict_proba({"u": [0.1, -0.5], "v": [0.2, 0.3]})
    rows = json.loads(stdout)
    assert [r["colour_pred"] for r in rows] == [model.classes[k] for k in proba.argmax(axis=1)]
    np.testing.assert_allclose([[r[f"colour_proba_{c}"] for c in model.classes] for r in rows], proba, rtol=1e-7)


def test_summary_describes_an_ensemble_file(tmp_path, capsys):
    import numpy as np
    import ninestep as ns
    from ninestep.cli import main

    X = np.random.default_rng(0).standard_normal((50, 2))
    ens = ns.Ensemble([2, 4, 1], n_members=3, seed=0)
    ens.fit(X, X.sum(axis=1), epochs=2, lr_schedule="cosine")
    ens.save(tmp_path / "e.npz")
    assert main(["summary", "--model", str(tmp_path / "e.npz")]) == 0
    assert "ensemble of 3 networks" in capsys.readouterr().out
    assert main(["predict", "--model", str(tmp_path / "e.npz"), "--input", "1,2"]) == 1
    assert "holds an 'ensemble', not a model (read it with ninestep.load)" in capsys.readouterr().err
