"""Raw tables through the command line: train cleans and preprocesses them, the model file keeps the
preprocessor, predict / evaluate / summary use it; .npy files larger than memory; the default recipe."""

import csv
import json
import os

import numpy as np
import pytest

import ninestep
from ninestep.tabular import read_table
from test_cli import one_line_error, run

CITIES = {"Paris": 1.8, "Lyon": 1.2, "Metz": 0.8}


@pytest.fixture
def messy_csv(tmp_path):
    """Houses as a French Excel saves them: ';', decimal commas, a text column, yes/no, gaps, NA and a typo."""
    rng = np.random.default_rng(3)
    lines = ["area;rooms;city;garden;year;price"]
    for i in range(160):
        city, area, garden = rng.choice(list(CITIES)), rng.uniform(30, 200), rng.random() < 0.4
        year = int(rng.integers(1950, 2021))
        price = 3000 * area * CITIES[city] + 30000 * garden + 500 * (year - 1950)
        cells = [f"{area:.1f}".replace(".", ","), str(int(area // 35) + 1), city, "yes" if garden else "no",
                 str(year), f"{price:.0f}"]
        if i % 17 == 3:
            cells[0] = ""  # a gap in a number column
        if i % 23 == 5:
            cells[2] = "NA"  # a gap in a text column
        if i == 7:
            cells[5] = "1O"  # a typo in the target
        if i == 11:
            cells[5] = "NA"  # a missing target
        lines.append(";".join(cells))
    path = tmp_path / "houses.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _train(capsys, tmp_path, data, *extra):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "--data", data, "--out", out, "--epochs", "30", *extra)
    assert code == 0, err
    return out / "model.npz", stdout


def test_messy_csv_trains_and_predicts_from_another_column_order(capsys, tmp_path, messy_csv):
    model_path, stdout = _train(capsys, tmp_path, messy_csv, "--target", "price")
    for said in ("dropped 1 row whose target 'price' is numbers apart from 1 cell(s): line 9 '1O'",
                 "dropped 1 row with a missing target 'price'", "one-hot 'city' -> 3 columns (Lyon, Metz, Paris)",
                 "column 'garden': yes/no words -> 1/0", "added area_missing", "Step 9"):
        assert said in stdout
    model = ninestep.load_model(model_path)
    assert model.preprocessor is not None and model.preprocessor.feature_names_in_[:3] == ["area", "rooms", "city"]
    assert json.loads((model_path.parent / "metrics.json").read_text())["metrics"]["test_r2"]["price"] > 0.5

    # The same rows with the columns in another order, plus a row with an unseen city and a future year.
    original = read_table(messy_csv)
    order = ["year", "price", "city", "garden", "area", "rooms"]
    rows = [[original.cells[c][i] for c in order] for i in range(5)] + [["2031", "", "Brest", "no", "99,5", "3"]]
    raw = tmp_path / "new.csv"
    raw.write_text(";".join(order) + "\n" + "\n".join(";".join(r) for r in rows) + "\n")
    dest = tmp_path / "pred.csv"
    code, _, err = run(capsys, "predict", "--model", model_path, "--data", raw, "--output", dest)
    assert code == 0
    assert "column 'year': 1 value(s) outside the training range [" in err and "line 7 '2031'" in err
    assert "column 'city' has 1 cell(s) with categories never seen in training ('Brest'" in err
    with open(dest, newline="") as f:
        written = list(csv.reader(f, delimiter=";"))
    assert written[0] == [*order, "price_pred"]
    assert [r[:-1] for r in written[1:]] == rows  # every input cell as written: 2019 stays 2019, 99,5 stays 99,5
    predicted = np.array([float(r[-1].replace(",", ".")) for r in written[1:6]])
    expected = model.predict(original.take(range(5)))  # the file's own column order
    np.testing.assert_allclose(predicted, expected.ravel(), rtol=1e-7)

    code, stdout, _ = run(capsys, "evaluate", "--model", model_path, "--data", messy_csv, "--json")
    result = json.loads(stdout)
    assert code == 0 and result["n_rows"] == 158 and result["price"]["r2"] > 0.5
    code, stdout, _ = run(capsys, "summary", "--model", model_path)
    assert code == 0 and "city: one-hot, 3 categories; gaps filled with" in stdout


def test_input_values_map_onto_the_models_columns(capsys, tmp_path, messy_csv):
    model_path, _ = _train(capsys, tmp_path, messy_csv, "--target", "price", "--drop", "rooms")
    code, stdout, _ = run(capsys, "predict", "--model", model_path, "--input", "120,Paris,yes,2001;80,,no,1990",
                          "--json")
    assert code == 0
    rows = json.loads(stdout)
    model = ninestep.load_model(model_path)
    expected = model.predict({"area": ["120", "80"], "city": ["Paris", ""], "garden": ["yes", "no"],
                              "year": ["2001", "1990"]})
    assert rows[0]["city"] == "Paris" and "rooms" not in rows[0]
    np.testing.assert_allclose([r["price_pred"] for r in rows], expected.ravel(), rtol=1e-7)
    code, _, err = run(capsys, "predict", "--model", model_path, "--input", "120,Paris")
    assert code == 2 and "takes 4: area, city, garden, year" in one_line_error(err)


def test_a_text_target_gives_the_class_and_a_probability_per_class(capsys, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "churn.csv"
    rows = ["tenure,plan,churned"]
    for _ in range(200):
        tenure, plan = int(rng.integers(0, 72)), rng.choice(["basic", "plus"])
        rows.append(f"{tenure},{plan},{'yes' if tenure < 20 else 'no'}")
    path.write_text("\n".join(rows) + "\n")
    model_path, stdout = _train(capsys, tmp_path, path, "--target", "churned")
    assert "classes: no (" in stdout
    code, stdout, _ = run(capsys, "predict", "--model", model_path, "--data", path, "--json")
    first = json.loads(stdout)[0]
    assert set(first) == {"tenure", "plan", "churned", "churned_pred", "churned_proba_no", "churned_proba_yes"}
    assert first["churned_proba_no"] + first["churned_proba_yes"] == pytest.approx(1, abs=1e-7)
    code, stdout, _ = run(capsys, "evaluate", "--model", model_path, "--data", path, "--json")
    assert code == 0 and json.loads(stdout)["accuracy"] > 0.8


@pytest.mark.parametrize("missing, said", [("drop", "with a gap in a feature (missing='drop')"),
                                           ("error", "column 'area' has 10 missing or bad cell(s)")])
def test_missing_drop_or_error(capsys, tmp_path, messy_csv, missing, said):
    code, stdout, err = run(capsys, "train", "--data", messy_csv, "--target", "price", "--missing", missing,
                            "--epochs", "2", "--out", tmp_path / "r")
    assert said in (stdout if missing == "drop" else one_line_error(err))
    assert code == (0 if missing == "drop" else 1)


def test_delimiter_and_decimal_options(capsys, tmp_path):
    path = tmp_path / "pipes.txt"
    rng = np.random.default_rng(1)
    path.write_text("a|b|y\n" + "".join(f"{x:.3f}|{z:.3f}|{x - z:.3f}\n".replace(".", ",")
                                        for x, z in rng.random((60, 2))))
    code, _, err = run(capsys, "train", "--data", path, "--delimiter", "|", "--decimal", ",", "--epochs", "2",
                       "--out", tmp_path / "r", "--quiet")
    assert code == 0, err
    assert ninestep.load_model(tmp_path / "r" / "model.npz").preprocessor.feature_names_in_ == ["a", "b"]


def test_the_default_recipe(capsys, tmp_path):
    """One layer of 100 ReLU units, Glorot, Adam 1e-3 cosine, batches of 64, alpha 0.1; a hold-out from 1000 rows."""
    code, stdout, _ = run(capsys, "train", "--data", "sine", "--epochs", "1", "--out", tmp_path / "small")
    assert code == 0 and "Step 3  Split (shuffled): train 700, test 300" in stdout  # 700 < 1000: no hold-out
    assert "Network [1, 100, 1]" in stdout and "glorot_uniform weights" in stdout
    assert "Adam lr 0.001, cosine decay, batches of 64" in stdout and "L2 alpha 0.1" in stdout
    assert "early stopping" not in stdout
    code, stdout, _ = run(capsys, "train", "--data", "moons", "--n-samples", "1500", "--epochs", "1",
                          "--out", tmp_path / "big")
    assert code == 0 and "train 945 + validation 105 (for early stopping), test 450" in stdout
    assert "early stopping after 10 epochs" in stdout


def test_npy_files_train_memory_mapped_and_leave_no_scratch(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(50, 10, size=(3000, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "r"
    code, stdout, err = run(capsys, "train", "--data", tmp_path / "X.npy", "--target-npy", tmp_path / "y.npy",
                            "--shuffle", "blocks", "--epochs", "20", "--out", out, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["metrics"]["test_r2"]["y"] > 0.99 and result["config"]["shuffle"] == "blocks"
    assert not (out / "standardised.tmp.npy").exists()  # the scratch copy goes when the run ends
    model = ninestep.load_model(out / "model.npz")
    # The model keeps the block-wise scaler of the training rows, so that it takes raw rows.
    np.testing.assert_allclose(model.x_scaler.mean_, X.mean(axis=0), rtol=0.02)
    np.testing.assert_allclose(model.x_scaler.scale_, X.std(axis=0), rtol=0.05)
    assert np.abs(model.predict(X[:50]).ravel() - y[:50]).max() < 0.25 * y.std()
    code, _, err = run(capsys, "train", "--data", tmp_path / "X.npy", "--target-npy", tmp_path / "y.npy",
                       "--pictures", "--out", tmp_path / "r2")
    assert code == 2 and "--pictures does not apply to a memory-mapped .npy file" in one_line_error(err)
    assert not os.path.exists(tmp_path / "r2")
