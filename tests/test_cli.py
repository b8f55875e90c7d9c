"""The ninestep command, driven as a user would: in-process through main() and, twice, as a real process."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ninestep
from ninestep import cli
from helpers import block_import

FAST = ["--epochs", "4", "--quiet"]


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(300, 3))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    path = tmp_path / "houses.csv"
    rows = "\n".join(f"{a:.6f},{b:.6f},{c:.6f},{t:.6f}" for (a, b, c), t in zip(X, y))
    path.write_text("size,age,\"dist, km\",price\n" + rows + "\n")
    return path


@pytest.fixture
def labels_csv(tmp_path):
    X, y = ninestep.make_spirals(300, seed=0)
    names = np.array(["red", "green", "blue"])
    path = tmp_path / "colours.csv"
    rows = "\n".join(f"{a:.6f},{b:.6f},{names[k]}" for (a, b), k in zip(X, y))
    path.write_text("\ufeffu,v,colour\n" + rows + "\n")  # with a BOM, as Excel writes
    return path


# ---------------------------------------------------------------------- train
def test_train_csv_regression_writes_model_png_and_json(capsys, tmp_path, regression_csv):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "--data", regression_csv, "--target", "price", "--out", out,
                          "--epochs", "5")
    assert code == 0
    for step in range(1, 10):
        assert f"Step {step}" in stdout
    assert "more samples than parameters" in stdout or "parameters >= samples" in stdout
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]["test_mae"]) == {"price"}
    assert len(metrics["metrics"]["history"]["loss"]) == 5
    model = ninestep.load_model(out / "model.npz")
    assert model.task == "regression" and model.feature_names == ["size", "age", "dist, km"]
    assert model.target_names == ["price"] and model.classes is None


def test_train_csv_with_string_labels_is_classification(capsys, tmp_path, labels_csv):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "--data", labels_csv, "--target", "colour", "--out", out, *FAST)
    assert code == 0 and stdout == ""  # --quiet
    model = ninestep.load_model(out / "model.npz")
    assert model.task == "classification" and model.classes == ["blue", "green", "red"]
    assert model.net.layers[-1].activation.name == "softmax"
    code, stdout, _ = run(capsys, "predict", "--model", out / "model.npz", "--input", "0.1,0.2", "--json")
    assert code == 0
    [row] = json.loads(stdout)
    assert row["colour"] in model.classes and 0 < row["probability"] <= 1


def test_train_without_target_uses_last_column_and_says_so(capsys, tmp_path, labels_csv):
    code, stdout, _ = run(capsys, "train", "--data", labels_csv, "--out", tmp_path / "r", "--epochs", "2")
    assert code == 0 and "using the last column, 'colour'" in stdout


def test_whole_number_target_can_be_forced_to_regression(capsys, tmp_path):
    path = tmp_path / "counts.csv"
    rng = np.random.default_rng(1)
    path.write_text("x,n\n" + "\n".join(f"{x:.4f},{k}" for x, k in zip(rng.random(80), rng.integers(0, 3, 80))))
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", path, "--out", out, *FAST)[0] == 0
    assert ninestep.load_model(out / "model.npz").task == "classification"
    assert run(capsys, "train", "--data", path, "--out", out, "--task", "regression", *FAST)[0] == 0
    assert ninestep.load_model(out / "model.npz").task == "regression"


def test_train_json_output_is_machine_readable(capsys, tmp_path):
    code, stdout, _ = run(capsys, "train", "--data", "moons", "--out", tmp_path / "r", "--epochs", "3", "--json")
    assert code == 0
    result = json.loads(stdout)  # nothing but the JSON object on stdout
    assert result["metrics"]["epochs_run"] == 3 and 0 <= result["metrics"]["test_accuracy"] <= 1
    assert result["config"]["data"] == "moons"


@pytest.mark.slow  # importing scikit-learn takes seconds on a busy machine
def test_builtin_sklearn_dataset(capsys, tmp_path):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed; pip install -e '.[test]'")
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", "iris", "--out", out, *FAST)[0] == 0
    assert ninestep.load_model(out / "model.npz").classes == ["setosa", "versicolor", "virginica"]


def test_options_reach_the_network(capsys, tmp_path):
    out = tmp_path / "r"
    code, _, _ = run(capsys, "train", "--data", "sine", "--out", out, "--layers", "7,5", "--activation", "tanh",
                     "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--batch-size", "0",
                     "--dtype", "float32", "--patience", "0", "--schedule", "constant", "--alpha", "0.001",
                     *FAST)
    assert code == 0
    model = ninestep.load_model(out / "model.npz")
    assert model.net.layer_sizes == [1, 7, 5, 1] and model.net.dtype == np.float32
    assert model.net.layers[0].activation.name == "tanh"
    cfg = json.loads((out / "metrics.json").read_text())["config"]
    assert cfg["optimizer"] == "sgd" and cfg["momentum"] == 0.9 and cfg["batch_size"] == 0


def test_zero_epochs_saves_and_evaluates_the_untrained_network(capsys, tmp_path):
    out = tmp_path / "r"
    code, stdout, _ = run(capsys, "train", "--data", "sine", "--out", out, "--epochs", "0", "--patience", "0")
    assert code == 0 and "no loss curve: no epochs were run" in stdout
    assert (out / "model.npz").is_file() and not (out / "loss.png").exists()
    assert json.loads((out / "run.json").read_text())["finished"] is True


def test_init_reaches_the_network(capsys, tmp_path):
    out = tmp_path / "r"
    code, stdout, _ = run(capsys, "train", "--data", "sine", "--out", out, "--init", "glorot_uniform",
                          "--epochs", "0", "--patience", "0")
    assert code == 0 and "glorot_uniform weights" in stdout
    W = ninestep.load_model(out / "model.npz").net.layers[1].W  # untrained: the initial weights
    bound = np.sqrt(6 / sum(W.shape))  # glorot_uniform draws from [-bound, bound]; he_normal would not stay inside
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound
    assert json.loads((out / "metrics.json").read_text())["config"]["init"] == "glorot_uniform"


def test_progress_without_tqdm_prints_plain_lines(capsys, tmp_path, monkeypatch):
    block_import(monkeypatch, "tqdm")
    code, stdout, _ = run(capsys, "train", "--data", "sine", "--out", tmp_path / "r", "--epochs", "20")
    assert code == 0
    progress = [line for line in stdout.splitlines() if line.strip().startswith("epoch ")]
    assert len(progress) == 11 and "val_loss" in progress[-1] and "20/20" in progress[-1]


def test_divergence_is_one_line_error(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--data", "sine", "--out", tmp_path / "r", "--optimizer", "sgd",
                       "--lr", "1e6", "--momentum", "0.9", "--quiet")
    assert code == 1
    assert "smaller learning rate" in one_line_error(err)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("argv, code, message", [
    (["train", "--data", "missing.csv"], 1, "does not exist"),
    (["train", "--data", "nosuchset"], 1, "built-in data sets are arithmetic"),
    (["train", "--bogus"], 2, "unrecognized arguments"),
    (["train", "--optimizer", "rmsprop"], 2, "invalid choice"),
    (["train", "--lr", "0"], 2, "--lr must be > 0"),
    (["train", "--layers", "64,x"], 2, "--layers must be"),
    (["train", "--test-size", "1.5"], 2, "--test-size"),
    (["train", "--val-size", "0", "--patience", "5"], 2, "needs a validation set"),
    (["train", "--data", "moons", "--target", "y"], 2, "apply to CSV files"),
    (["predict", "--model", "nope.npz", "--input", "1,2"], 1, "does not exist"),
    (["summary"], 2, "--model"),
])
def test_errors_are_one_line_with_exit_code(capsys, tmp_path, monkeypatch, argv, code, message):
    monkeypatch.chdir(tmp_path)
    got, _, err = run(capsys, *argv)
    assert got == code
    assert message in one_line_error(err)


def test_missing_column_lists_existing_ones(capsys, tmp_path, regression_csv):
    code, _, err = run(capsys, "train", "--data", regression_csv, "--target", "cost", "--out", tmp_path / "r")
    assert code == 1
    assert "target column 'cost' not found; the file has columns size, age, dist, km, price" in one_line_error(err)


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("a,b,y\n", "but no data rows"),
    ("a,b,y\n1,2,3\n4,5\n", "line 3: 2 fields, but the header has 3"),
    ("a,b,y\n1,2,3\n4,five,6\n", "line 3, column 'b': 'five' is not a number"),
    ("a,b,y\n1,2,3\n4,,6\n", "line 3, column 'b': the cell is empty"),
    ("a,b,y\n1,nan,3\n", "line 2, column 'b': 'nan' is not a finite number"),
    ("a,b,y\n1,2,0.5\n2,3,1.5\n", "continuous values"),  # forced classification below
    ("a,b,y\n1,2,3\n2,3,3\n", "single class"),
])
def test_csv_faults_through_the_command(capsys, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, _, err = run(capsys, "train", "--data", path, "--target", "y", "--task", "classification",
                       "--out", tmp_path / "r", "--quiet")
    assert code == 1
    assert message in one_line_error(err)


def test_debug_shows_the_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--data", tmp_path / "missing.csv", "--debug")
    assert code == 1 and "Traceback" in err and "does not exist" in err.splitlines()[-1]


def test_help_and_no_command(capsys):
    assert run(capsys, "--help")[0] == 0
    code, stdout, _ = run(capsys)
    assert code == 2 and "train" in stdout


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
    assert rows[0] == ["size", "age", "dist, km", "price"] and len(rows) == 301
    written = np.array(rows[1:], dtype=float)
    model = ninestep.load_model(model_path)
    X = np.genfromtxt(data, delimiter=",", skip_header=1)[:, :3]
    np.testing.assert_allclose(written[:, :3], X)
    np.testing.assert_allclose(written[:, 3], model.predict(X).ravel(), rtol=1e-12)


def test_predict_input_rows_and_errors(capsys, trained):
    model_path, _ = trained
    code, stdout, _ = run(capsys, "predict", "--model", model_path, "--input", "0,0,0;1,1,1", "--json")
    assert code == 0 and len(json.loads(stdout)) == 2
    code, _, err = run(capsys, "predict", "--model", model_path, "--input", "1,2")
    assert code == 2 and "has 2 values but the model expects 3" in one_line_error(err)
    code, _, err = run(capsys, "predict", "--model", model_path)
    assert code == 2 and "--input" in one_line_error(err)


def test_evaluate_regression_matches_metrics(capsys, trained):
    model_path, data = trained
    code, stdout, _ = run(capsys, "evaluate", "--model", model_path, "--data", data, "--json")
    assert code == 0
    result = json.loads(stdout)
    model = ninestep.load_model(model_path)
    table = np.genfromtxt(data, delimiter=",", skip_header=1)
    pred = model.predict(table[:, :3]).ravel()
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
    assert code == 0 and f"parameters: {n_params}" in stdout and "features (3): size, age, dist, km" in stdout


# ---------------------------------------------------------------------- gradcheck, reproduce
def test_gradcheck_passes_and_reports_each_layer(capsys):
    code, stdout, _ = run(capsys, "gradcheck", "--loss", "cross_entropy", "--outputs", "3", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert len(result["report"]) == 3 and result["max_error"] < 1e-6 and result["ok"]


def test_gradcheck_fails_above_tolerance(capsys):
    code, stdout, _ = run(capsys, "gradcheck", "--tolerance", "1e-30")
    assert code == 1 and "FAILED" in stdout


def test_reproduce_measures_its_diagnosis(capsys):
    code, stdout, _ = run(capsys, "reproduce", "--epochs", "50", "--default-epochs", "3")
    assert code == 0
    for needle in ("[2, 4, 4, 3]", "Diagnosis", "dead", "linear pieces", "test MAE |a-b|", "(888, 122) *"):
        assert needle in stdout
    code, stdout, _ = run(capsys, "reproduce", "--epochs", "20", "--default-epochs", "2", "--json")
    result = json.loads(stdout)
    assert result["article"]["n_params"] == 47 and result["article"]["epochs"] == 20
    assert len(result["article"]["dead_relu_fraction"]) == 2


# ---------------------------------------------------------------------- interruption and resume
def _interrupt_at(monkeypatch, epoch_to_stop):
    real = cli.Progress.update

    def update(self, epoch, logs):
        if epoch == epoch_to_stop:
            raise KeyboardInterrupt
        return real(self, epoch, logs)

    monkeypatch.setattr(cli.Progress, "update", update)


def test_ctrl_c_saves_model_and_resume_is_bit_identical(capsys, tmp_path, monkeypatch, regression_csv):
    args = ["train", "--data", regression_csv, "--target", "price", "--epochs", "8", "--quiet"]
    assert run(capsys, *args, "--out", tmp_path / "straight")[0] == 0

    with monkeypatch.context() as m:
        _interrupt_at(m, 4)
        code, _, err = run(capsys, *args, "--out", tmp_path / "cut")
    assert code == 130 and "--resume" in err
    assert ninestep.load_model(tmp_path / "cut" / "model.npz").info["interrupted"] is True
    code, stdout, _ = run(capsys, "train", "--resume", tmp_path / "cut")
    assert code == 0

    straight = ninestep.load_model(tmp_path / "straight" / "model.npz").net.params
    resumed = ninestep.load_model(tmp_path / "cut" / "model.npz").net.params
    np.testing.assert_array_equal(resumed, straight)
    history = json.loads((tmp_path / "cut" / "metrics.json").read_text())["metrics"]["history"]
    assert len(history["loss"]) == 8

    code, _, err = run(capsys, "train", "--resume", tmp_path / "cut")
    assert code == 1 and "already finished" in one_line_error(err)


def test_new_run_in_the_same_folder_forgets_the_old_checkpoint(capsys, tmp_path, monkeypatch):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", "sine", "--out", out, "--layers", "3", *FAST)[0] == 0
    with monkeypatch.context() as m:
        _interrupt_at(m, 0)  # before the new run's first checkpoint
        assert run(capsys, "train", "--data", "sine", "--out", out, "--layers", "5", *FAST)[0] == 130
    code, stdout, _ = run(capsys, "train", "--resume", out)
    assert code == 0 and "starting from the first epoch" in stdout
    assert ninestep.load_model(out / "model.npz").net.layer_sizes == [1, 5, 1]


def test_resume_refuses_a_changed_data_file(capsys, tmp_path, monkeypatch, regression_csv):
    with monkeypatch.context() as m:
        _interrupt_at(m, 2)
        run(capsys, "train", "--data", regression_csv, "--target", "price", "--epochs", "6", "--quiet",
            "--out", tmp_path / "cut")
    with open(regression_csv, "a") as f:
        f.write("0,0,0,0\n")
    code, _, err = run(capsys, "train", "--resume", tmp_path / "cut")
    assert code == 1 and "changed since this run started" in one_line_error(err)


def test_resume_without_a_run_folder(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--resume", tmp_path)
    assert code == 1 and "run.json" in one_line_error(err)


# ---------------------------------------------------------------------- real processes
def _command(*argv):
    return [sys.executable, "-m", "ninestep.cli", *map(str, argv)]


def test_real_process_exit_codes(tmp_path):
    ok = subprocess.run(_command("train", "--data", "moons", "--epochs", "2", "--quiet", "--out", tmp_path / "r"),
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "r" / "model.npz").is_file()
    bad = subprocess.run(_command("train", "--data", tmp_path / "missing.csv"), capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and one_line_error(bad.stderr)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child needs POSIX")
def test_real_ctrl_c_saves_the_model_and_exits_130(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.Popen(_command("train", "--data", "arithmetic", "--epochs", "100000", "--patience", "0",
                                     "--quiet", "--out", out),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.npz").is_file():  # training has started
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "saved" in err and "--resume" in err
    model = ninestep.load_model(out / "model.npz")
    assert np.isfinite(model.net.params).all()


# ---------------------------------------------------------------------- the default run
@pytest.mark.slow
def test_default_train_meets_the_article_target(capsys, tmp_path):
    start = time.perf_counter()
    code, stdout, _ = run(capsys, "train", "--out", tmp_path / "r", "--json")
    seconds = time.perf_counter() - start
    assert code == 0
    metrics = json.loads(stdout)["metrics"]
    assert max(metrics["test_mae"].values()) <= 0.05, metrics["test_mae"]
    for case in metrics["article_cases"][:3]:
        assert np.max(np.abs(np.subtract(case["prediction"], case["truth"]))) <= 0.1, case
    assert metrics["article_cases"][3]["outside_training_range"]
    assert seconds < 60
