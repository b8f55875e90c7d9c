"""What ninestep train promises about its output folder (docs/cli.md): check first, touch second;
one run per folder; a failed run marked as such; atomic writes that never follow a link; strict JSON;
the umask's permissions for new files and the old mode for replaced ones; checkpoints are not models."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

import ninestep
from ninestep import cli
from test_cli import one_line_error, regression_csv, run  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="modes, links and signals as POSIX has them")
QUICK = ["--data", "sine", "--layers", "4", "--epochs", "2", "--patience", "0", "--quiet"]


def strict_json(path):
    """Parse a JSON file as any strict reader would: NaN and Infinity are not JSON."""
    def refuse(name):
        raise AssertionError(f"{path} holds {name}, which is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def snapshot(folder):
    """Every entry of a folder: name -> (bytes or link target, mode)."""
    shot = {}
    for entry in sorted(os.listdir(folder)):
        path = folder / entry
        st = path.lstat()
        body = os.readlink(path) if path.is_symlink() else path.read_bytes()
        shot[entry] = (body, stat.S_IMODE(st.st_mode))
    return shot


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished run (sine data), trained once for the module; tests copy it."""
    folder = tmp_path_factory.mktemp("finished") / "keep"
    assert cli.main(["train", *QUICK, "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def keep(tmp_path, finished_run):
    folder = tmp_path / "keep"
    shutil.copytree(finished_run, folder, symlinks=True)
    return folder


# ---------------------------------------------------------------------- check first, touch second
@pytest.mark.parametrize("argv, option", [
    (["--lr", "inf"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--alpha", "inf"], "--alpha"),
    (["--alpha", "1e308"], "--alpha"),
    (["--seed", "-1"], "--seed"),
    (["--epochs", "1_000"], "--epochs"),
    (["--momentum", "1.5"], "--momentum"),
    (["--n-samples", "0"], "--n-samples"),
    (["--nesterov"], "--nesterov"),
])
def test_a_bad_option_leaves_the_run_folder_as_it_was(capsys, keep, argv, option):
    before = snapshot(keep)
    code, _, err = run(capsys, "train", "--data", "sine", "--out", keep, *argv)
    assert code == 2
    assert option in one_line_error(err)
    assert snapshot(keep) == before


def test_a_bad_option_creates_no_folder(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--alpha", "inf", "--out", tmp_path / "new" / "run")
    assert code == 2 and "--alpha" in one_line_error(err)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--target", "price,price", "--target names 'price' twice"),
    ("--features", "size,age,size", "--features names 'size' twice"),
])
def test_duplicate_column_names_are_refused(capsys, tmp_path, regression_csv, option, value, message):
    extra = [] if option == "--target" else ["--target", "price"]
    code, _, err = run(capsys, "train", "--data", regression_csv, option, value, *extra, "--out", tmp_path / "r")
    assert code == 2 and message in one_line_error(err)
    assert not (tmp_path / "r").exists()


def test_bad_data_leaves_the_run_folder_as_it_was(capsys, tmp_path, keep):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,y\n1,2\n3,oops\n")
    before = snapshot(keep)
    code, _, err = run(capsys, "train", "--data", bad, "--target", "y", "--out", keep, "--task", "regression")
    assert code == 1 and "holds text labels" in one_line_error(err)
    assert snapshot(keep) == before


def test_a_failed_run_is_marked_and_keeps_nothing_of_the_previous_run(capsys, keep):
    code, _, err = run(capsys, "train", "--data", "sine", "--out", keep, "--optimizer", "sgd", "--lr", "1e6",
                       "--momentum", "0.9", "--quiet")
    assert code == 1 and "smaller learning rate" in one_line_error(err)
    record = strict_json(keep / "run.json")
    assert record["status"] == "failed" and record["finished"] is False
    assert "smaller learning rate" in record["error"] and record["lr"] == 1e6
    # The old run's model, metrics and picture are gone: nothing in the folder belongs to another run.
    assert not any((keep / name).exists() for name in ("model.npz", "metrics.json", "loss.png"))
    assert not (keep / ".lock").exists()


def test_resume_refuses_other_options(capsys, tmp_path):
    from test_cli_train import _interrupt_at

    out = tmp_path / "cut"
    with pytest.MonkeyPatch.context() as m:
        _interrupt_at(m, 1)
        assert run(capsys, "train", "--data", "sine", "--epochs", "4", "--quiet", "--out", out)[0] == 130
    assert strict_json(out / "run.json")["status"] == "interrupted"
    before = snapshot(out)
    code, _, err = run(capsys, "train", "--resume", out, "--lr", "0.01", "--epochs", "9", "--quiet")
    assert code == 2 and "drop --lr, --epochs" in one_line_error(err)
    assert snapshot(out) == before
    assert run(capsys, "train", "--resume", out, "--quiet")[0] == 0  # --quiet, --json, --debug are allowed
    assert strict_json(out / "run.json")["status"] == "finished"


def test_resume_refuses_a_run_json_with_infinity(capsys, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "run.json").write_text('{"data": "sine", "alpha": Infinity, "finished": false}')
    code, _, err = run(capsys, "train", "--resume", out)
    assert code == 1 and "not valid JSON (Infinity is not a JSON number)" in one_line_error(err)


def test_resume_checks_the_saved_settings(capsys, keep):
    record = strict_json(keep / "run.json")
    record.update(finished=False, status="interrupted", lr=-1)
    (keep / "run.json").write_text(json.dumps(record))
    before = snapshot(keep)
    code, _, err = run(capsys, "train", "--resume", keep)
    assert code == 1 and "holds invalid settings (--lr must be > 0, got -1.)" in one_line_error(err)
    assert snapshot(keep) == before


def test_out_that_is_a_file_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "f").write_text("mine")
    code, _, err = run(capsys, "train", *QUICK, "--out", tmp_path / "f")
    assert code == 2 and "--out" in one_line_error(err) and (tmp_path / "f").read_text() == "mine"


# ---------------------------------------------------------------------- one run per folder
def _command(*argv):
    return [sys.executable, "-m", "ninestep", *map(str, argv)]


def test_two_runs_at_once_one_refuses_and_the_other_is_intact(tmp_path):
    out = tmp_path / "shared"
    argv = _command("train", "--data", "sine", "--epochs", "100000", "--patience", "0", "--quiet", "--out", out)
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while all(p.poll() is None for p in procs):  # the one that finds the folder locked stops at once
            assert time.monotonic() < deadline, "both runs are training into the same folder"
            time.sleep(0.05)
        loser = next(p for p in procs if p.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        _, err = loser.communicate()
        assert loser.returncode == 1, err
        line = one_line_error(err)
        assert f"in use by another ninestep run: process {winner.pid}" in line and "--debug" not in line
        while not (out / "checkpoint.npz").is_file():  # the winner is training
            assert winner.poll() is None and time.monotonic() < deadline, winner.communicate()
            time.sleep(0.05)
        winner.send_signal(signal.SIGINT)
        _, err = winner.communicate(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert winner.returncode == 130, err
    assert strict_json(out / "run.json")["status"] == "interrupted"
    assert np.isfinite(ninestep.load_model(out / "model.npz").net.params).all()
    assert not (out / ".lock").exists()


def test_a_stale_lock_is_taken_over(capsys, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / ".lock").write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename,
                                           "started": "2026-01-01T00:00:00"}))
    assert run(capsys, "train", *QUICK, "--out", out)[0] == 0
    assert strict_json(out / "run.json")["status"] == "finished" and not (out / ".lock").exists()


def test_a_link_planted_at_the_lock_is_refused(capsys, tmp_path):
    out, victim = tmp_path / "r", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    (out / ".lock").symlink_to(victim)
    code, _, err = run(capsys, "train", *QUICK, "--out", out)
    assert code == 1 and ".lock" in one_line_error(err)
    assert victim.read_text() == "precious" and os.listdir(out) == [".lock"]


# ---------------------------------------------------------------------- how files are written
def test_a_link_in_the_folder_is_replaced_never_followed(capsys, tmp_path, keep):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("loss.png", "metrics.json", "run.json", "model.npz"):
        (keep / name).unlink()
        (keep / name).symlink_to(victim)
    assert run(capsys, "train", *QUICK, "--out", keep)[0] == 0
    assert victim.read_text() == "precious"
    for name in ("loss.png", "metrics.json", "run.json", "model.npz"):
        assert not (keep / name).is_symlink() and (keep / name).stat().st_size > 0
    dest = tmp_path / "pred.csv"
    dest.symlink_to(victim)
    assert run(capsys, "predict", "--model", keep / "model.npz", "--input", "1", "--output", dest)[0] == 0
    assert victim.read_text() == "precious" and not dest.is_symlink()
    assert dest.read_text().startswith("x,y")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_files_get_the_umask_modes(capsys, tmp_path, umask_022):
    out = tmp_path / "r"
    assert run(capsys, "train", *QUICK, "--out", out)[0] == 0
    assert run(capsys, "predict", "--model", out / "model.npz", "--input", "1", "--output", out / "p.csv")[0] == 0
    modes = {name: oct(mode) for name, (_, mode) in snapshot(out).items()}
    # every file, the pictures that train draws by default included
    assert {"checkpoint.npz", "loss.png", "metrics.json", "model.npz", "p.csv", "run.json", "weights.png"} <= set(modes)
    assert modes == dict.fromkeys(modes, oct(0o644))


def test_retraining_keeps_each_files_mode(capsys, keep, umask_022):
    wanted = {"model.npz": 0o640, "metrics.json": 0o600, "loss.png": 0o604, "run.json": 0o660,
              "checkpoint.npz": 0o640}
    for name, mode in wanted.items():
        os.chmod(keep / name, mode)
    assert run(capsys, "train", *QUICK, "--seed", "1", "--out", keep)[0] == 0
    assert {name: oct(snapshot(keep)[name][1]) for name in wanted} == {n: oct(m) for n, m in wanted.items()}


def test_nothing_written_is_nan_or_infinity(tmp_path):
    from ninestep.cli._files import write_json

    path = write_json(tmp_path / "m.json", {"r2": float("nan"), "ratio": [1.0, float("inf")], "n": np.float32(2)})
    assert strict_json(path) == {"r2": None, "ratio": [1.0, None], "n": 2.0}


def test_every_json_of_a_run_is_strict(capsys, keep):
    for name in ("run.json", "metrics.json"):
        strict_json(keep / name)
    code, stdout, _ = run(capsys, "summary", "--model", keep / "model.npz", "--json")
    assert code == 0 and json.loads(stdout, parse_constant=lambda c: pytest.fail(c))["kind"] == "model"


# ---------------------------------------------------------------------- a checkpoint is not a model
@pytest.mark.parametrize("command", [["predict", "--input", "1"], ["evaluate", "--data", "{csv}"]])
def test_predict_and_evaluate_refuse_a_checkpoint(capsys, tmp_path, keep, command):
    csv = tmp_path / "sine.csv"
    csv.write_text("x,y\n0.5,0.48\n1.0,0.84\n")
    argv = [c.replace("{csv}", str(csv)) for c in command]
    code, _, err = run(capsys, *argv[:1], "--model", keep / "checkpoint.npz", *argv[1:])
    assert code == 1
    assert "training checkpoint" in one_line_error(err) and "model.npz" in err


def test_summary_says_a_checkpoint_is_not_a_model(capsys, keep):
    code, stdout, _ = run(capsys, "summary", "--model", keep / "checkpoint.npz")
    assert code == 0
    assert "training checkpoint, not a model" in stdout and "ninestep train --resume" in stdout
    code, stdout, _ = run(capsys, "summary", "--model", keep / "checkpoint.npz", "--json")
    result = json.loads(stdout)
    assert result["kind"] == "checkpoint" and result["layers"] == [1, 4, 1] and result["epoch"] == 2
    code, stdout, _ = run(capsys, "summary", "--model", keep / "model.npz")
    assert code == 0 and "model file" in stdout


# ---------------------------------------------------------------------- smaller ones
@pytest.mark.parametrize("argv, message", [
    (["--input", "1", "--limit", "-1"], "--limit must be >= 0"),
    (["--input", "1_000"], "must be numbers separated by commas"),
    (["--input", "nan"], "must be numbers separated by commas"),
])
def test_predict_options_are_checked(capsys, keep, argv, message):
    code, _, err = run(capsys, "predict", "--model", keep / "model.npz", *argv)
    assert code == 2 and message in one_line_error(err)


@pytest.mark.parametrize("which", ["model", "data"])
def test_predict_output_never_overwrites_its_inputs(capsys, tmp_path, keep, which):
    data = tmp_path / "x.csv"
    data.write_text("x\n0.5\n")
    target = keep / "model.npz" if which == "model" else data
    before = target.read_bytes()
    code, _, err = run(capsys, "predict", "--model", keep / "model.npz", "--data", data, "--output", target)
    assert code == 2 and f"is the --{which} file" in one_line_error(err)
    assert target.read_bytes() == before


@pytest.mark.parametrize("resume", [False, True])
def test_while_training_the_folder_is_locked_and_marked_running(capsys, tmp_path, monkeypatch, resume):
    from ninestep.cli import train
    from test_cli_train import _interrupt_at

    out, seen = tmp_path / "r", []
    if resume:
        with pytest.MonkeyPatch.context() as m:
            _interrupt_at(m, 1)
            assert run(capsys, "train", *QUICK, "--epochs", "4", "--out", out)[0] == 130
    real = train.KeepBest.on_epoch_end

    def look(self, epoch, logs=None):
        seen.append((strict_json(out / "run.json")["status"], json.loads((out / ".lock").read_text())["pid"]))
        return real(self, epoch, logs)

    monkeypatch.setattr(train.KeepBest, "on_epoch_end", look)
    argv = ["--resume", out, "--quiet"] if resume else [*QUICK, "--out", out]
    assert run(capsys, "train", *argv)[0] == 0
    assert seen and set(seen) == {("running", os.getpid())}
    assert strict_json(out / "run.json")["status"] == "finished" and not (out / ".lock").exists()
