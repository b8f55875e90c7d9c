"""The ninestep command as a whole: the parser, the one-line errors and exit codes, and a real process.

The helpers and fixtures here are shared by tests/test_cli_*.py (one test module per command module).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ninestep
from ninestep import cli

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
    (["train", "--data", "moons", "--target", "y"], 2, "--target applies to table files such as CSV"),
    (["train", "--data", "moons", "--missing", "drop"], 2, "--missing applies to table files"),
    (["train", "--data", "x.npy"], 2, "needs --target-npy"),
    (["train", "--data", "x.csv", "--target-npy", "y.npy"], 2, "--target-npy goes with a .npy --data file"),
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
    assert "column 'cost' not found; the table has columns size, age, dist, km, price" in one_line_error(err)


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("a,b,y\n", "but no data rows"),
    ("a,b,y\n1,2,3\n4,5\n", "line 3: 2 fields, but the header has 3"),
    ("a,b,y\n1,2,3\n4,,6\n", "column 'b' has 1 missing or bad cell(s) (line 3 '') and missing='error'"),
    ("a,b,y\n1,nan,3\n2,3,4\n", "column 'b' has 1 missing or bad cell(s) (line 2 'nan')"),
    ("a,b,y\n1,2,3\n2,3,NA\n", "1 row(s) with a missing target 'y' (line 3 'NA')"),
    ("a,b,y\n1,2,3\n2,3,3\n", "single class"),
    ("a,b,y\n1,2001-02-03,3.5\n2,2001-02-04,4.25\n", "column 'b' holds dates such as '2001-02-0"),
])
def test_csv_faults_through_the_command(capsys, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    task = ["--task", "classification"] if "single class" in message else []
    code, _, err = run(capsys, "train", "--data", path, "--target", "y", *task, "--missing", "error",
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


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    # `ninestep gradcheck | head -1`: the reader goes away before the command writes; no error, no traceback.
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "ninestep", "gradcheck"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # nobody reads: the first write gets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == "", err
