"""Hostile inputs against every command that reads them.

Each entry of ``CORPUS`` is a file or folder made in the test (binary ones are generated, not stored),
the commands it is given to, and the expected outcome of each: the exit code and a piece of the one-line
message. For every pair the test checks the exit code, that an error is one line without a traceback,
that no file anywhere in the test's world changed (a failing ``train`` creates no folder), and that
whatever a successful command wrote holds no NaN. ``python tests/test_cli_corpus.py`` prints the table
as Markdown; ``python tests/test_cli_corpus.py --update-doc`` writes it into docs/robustness.md, whose
copy tests/test_robustness_doc.py holds equal to it.

An entry in ``NOT_YET`` is a refusal the library still owes: its expected outcome is
the refusal, and its cases are strict expected failures, so that the day the library refuses it the test
says to move it out of ``NOT_YET``. The table marks those rows.
"""

import io
import json
import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ninestep
from ninestep import cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes and links as POSIX has them")
NOT_JSON = "NaN/Infinity"


# ---------------------------------------------------------------------- the corpus: how each file is made
def _csv(text):
    return lambda world, path: path.write_text(text)


def _bytes(data):
    return lambda world, path: path.write_bytes(data)


def _folder(world, path):
    path.mkdir()


def _model_bytes(world, path):
    path.write_bytes((world / "run" / "model.npz").read_bytes())


def _rewritten_model(change):
    """The good model with its members passed through ``change(members) -> members`` (name -> bytes)."""
    def make(world, path):
        with zipfile.ZipFile(world / "run" / "model.npz") as z:
            members = {name: z.read(name) for name in z.namelist()}
        with zipfile.ZipFile(path, "w") as z:
            for name, data in change(members).items():
                z.writestr(name, data)
    return make


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _nan_weights(members):
    W = np.load(io.BytesIO(members["W0.npy"]))
    W[0, 0] = np.nan
    return {**members, "W0.npy": _npy(W)}


def _member_as(name, dtype):
    """The good model with member ``name`` stored in another dtype."""
    return lambda members: {**members, f"{name}.npy": _npy(np.load(io.BytesIO(members[f"{name}.npy"])).astype(dtype))}


def _description(**changes):
    """The good model with its JSON description changed (the arrays untouched)."""
    def change(members):
        meta = json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())
        text = json.dumps({**meta, **changes}).encode("utf-8")
        return {**members, "__meta__.npy": _npy(np.frombuffer(text, dtype=np.uint8))}
    return change


def _checkpoint(world, path):
    path.write_bytes((world / "run" / "checkpoint.npz").read_bytes())


def _run_folder(record):
    """A run folder whose run.json is ``record`` (text, or a dict merged into the good run's)."""
    def make(world, path):
        shutil.copytree(world / "run", path)
        if isinstance(record, str):
            text = record
        else:
            text = json.dumps({**json.loads((world / "run" / "run.json").read_text()), **record})
        (path / "run.json").write_text(text)
    return make


ROWS = "0.1,0.2\n0.5,0.4\n0.9,0.8\n-0.3,-0.2\n1.2,0.9\n-1,-0.8\n0.7,0.6\n0.2,0.1\n0.4,0.4\n1,0.8\n"
CSV_COMMANDS = ("train", "predict", "evaluate")
MODEL_COMMANDS = ("predict", "evaluate", "summary")
#: (name, how it is made, {command: (exit code, piece of the message)}); "" expects success.
CORPUS = [
    # CSV data: train --data F --target y; predict and evaluate the good model on F
    ("good.csv", _csv("x,y\n" + ROWS), {"train": (0, ""), "predict": (0, ""), "evaluate": (0, "")}),
    ("empty.csv", _csv(""), dict.fromkeys(CSV_COMMANDS, (1, "is empty"))),
    ("header-only.csv", _csv("x,y\n"), dict.fromkeys(CSV_COMMANDS, (1, "no data rows"))),
    ("ragged.csv", _csv("x,y\n1,2\n3\n"), dict.fromkeys(CSV_COMMANDS, (1, "line 3"))),
    # a cell that is not a finite number: train's table preprocessing treats it as missing (imputed, with an
    # indicator column, and says so); a model trained without that preprocessing refuses it
    ("text-cell.csv", _csv("x,y\n" + ROWS + "five,3\n"), {"train": (0, ""), "predict": (1, "'five'"),
                                                       "evaluate": (1, "'five'")}),
    ("nan-cell.csv", _csv("x,y\n" + ROWS + "nan,3\n"), {"train": (0, ""), "predict": (1, "not a finite number"),
                                                      "evaluate": (1, "not a finite number")}),
    ("inf-cell.csv", _csv("x,y\n" + ROWS + "inf,3\n"), {"train": (0, ""), "predict": (1, "not a finite number"),
                                                      "evaluate": (1, "not a finite number")}),
    ("duplicate-header.csv", _csv("x,x,y\n1,2,3\n"), dict.fromkeys(CSV_COMMANDS, (1, "twice"))),
    ("other-columns.csv", _csv("a,y\n" + ROWS), {"train": (0, ""), "predict": (1, "'x'"), "evaluate": (1, "'x'")}),
    ("binary.csv", _bytes(bytes(range(256)) * 8), dict.fromkeys(CSV_COMMANDS, (1, "binary.csv"))),
    ("a-folder.csv", _folder, dict.fromkeys(CSV_COMMANDS, (1, "folder"))),
    # model files: predict --input, evaluate on good.csv, summary
    ("model.npz", _model_bytes, dict.fromkeys(MODEL_COMMANDS, (0, ""))),
    ("checkpoint.npz", _checkpoint, {"predict": (1, "training checkpoint"), "evaluate": (1, "training checkpoint"),
                                     "summary": (0, "")}),
    ("empty.npz", _bytes(b""), dict.fromkeys(MODEL_COMMANDS, (1, "empty"))),
    ("text.npz", _bytes(b"W0,b0\n1,2\n"), dict.fromkeys(MODEL_COMMANDS, (1, "text.npz"))),
    ("random.npz", _bytes(np.random.default_rng(0).bytes(4096)), dict.fromkeys(MODEL_COMMANDS, (1, "random.npz"))),
    ("truncated.npz", lambda world, path: path.write_bytes((world / "run" / "model.npz").read_bytes()[:2000]),
     dict.fromkeys(MODEL_COMMANDS, (1, "truncated.npz"))),
    ("pickle-member.npz", _rewritten_model(lambda m: {**m, "W0.npy": _npy(np.array([{"a": 1}], dtype=object))}),
     dict.fromkeys(MODEL_COMMANDS, (1, "pickle"))),
    ("extra-member.npz", _rewritten_model(lambda m: {**m, "extra.npy": _npy(np.zeros(3))}),
     dict.fromkeys(MODEL_COMMANDS, (1, "extra"))),
    ("missing-member.npz", _rewritten_model(lambda m: {k: v for k, v in m.items() if k != "b0.npy"}),
     dict.fromkeys(MODEL_COMMANDS, (1, "b0"))),
    ("nan-weights.npz", _rewritten_model(_nan_weights), dict.fromkeys(MODEL_COMMANDS, (1, "NaN"))),
    # members of the wrong dtype, and a description that contradicts the arrays (sine's model is [1, 3, 1])
    ("int-weights.npz", _rewritten_model(_member_as("W0", np.int64)), dict.fromkeys(MODEL_COMMANDS, (1, "dtype int64"))),
    ("int-scaler.npz", _rewritten_model(_member_as("x_mean", np.int64)),
     dict.fromkeys(MODEL_COMMANDS, (1, "scaler of dtype int64"))),
    ("float16-weights.npz", _rewritten_model(_member_as("W0", np.float16)),
     dict.fromkeys(MODEL_COMMANDS, (1, "float16"))),
    ("layer-sizes-contradict.npz", _rewritten_model(_description(layer_sizes=[1, 4, 1])),
     dict.fromkeys(MODEL_COMMANDS, (1, "layer_sizes [1, 4, 1] needs"))),
    ("activations-contradict.npz", _rewritten_model(_description(activations=["relu"])),
     dict.fromkeys(MODEL_COMMANDS, (1, "need 2 activation names"))),
    ("dtype-contradicts.npz", _rewritten_model(_description(dtype="float32")),
     dict.fromkeys(MODEL_COMMANDS, (1, "float32"))),
    ("feature-names-contradict.npz", _rewritten_model(_description(feature_names=["x", "z"])),
     dict.fromkeys(MODEL_COMMANDS, (1, "lists 2 feature_names"))),
    ("target-names-contradict.npz", _rewritten_model(_description(target_names=["y", "z"])),
     dict.fromkeys(MODEL_COMMANDS, (1, "target_names"))),
    ("classes-contradict.npz", _rewritten_model(_description(classes=["a", "b", "c"])),
     dict.fromkeys(MODEL_COMMANDS, (1, "lists 3 classes"))),
    ("task-contradicts.npz", _rewritten_model(_description(task="classification")),
     dict.fromkeys(MODEL_COMMANDS, (1, "task"))),
    ("format-version-1.npz", _rewritten_model(_description(format_version=1)), dict.fromkeys(MODEL_COMMANDS, (0, ""))),
    ("format-version-3.npz", _rewritten_model(_description(format_version=3)),
     dict.fromkeys(MODEL_COMMANDS, (1, "newer ninestep"))),
    ("a-folder.npz", _folder, dict.fromkeys(MODEL_COMMANDS, (1, "folder"))),
    # run folders: train --resume F
    ("interrupted-run", _run_folder({"status": "interrupted", "finished": False}), {"resume": (0, "")}),
    ("finished-run", _run_folder({}), {"resume": (1, "already finished")}),
    ("no-run-json", lambda world, path: path.mkdir(), {"resume": (1, "run.json does not exist")}),
    ("run-json-not-json", _run_folder("{'data': 'sine'"), {"resume": (1, "is not valid JSON")}),
    ("run-json-infinity", _run_folder('{"data": "sine", "alpha": Infinity}'), {"resume": (1, "Infinity is not")}),
    ("run-json-a-list", _run_folder("[1, 2]"), {"resume": (1, "expected a JSON object")}),
    ("run-json-bad-lr", _run_folder({"status": "running", "finished": False, "lr": -1}),
     {"resume": (1, "--lr must be > 0")}),
    ("run-json-bad-layers", _run_folder({"status": "running", "finished": False, "layers": [0]}),
     {"resume": (1, "--layers")}),
]
#: Refusals the library still owes, and what it does today. Their cases are strict expected failures.
NOT_YET: dict[str, str] = {}


def _argv(command, path, world):
    good_model, good_csv, out = world / "run" / "model.npz", world / "corpus" / "good.csv", world / "out"
    return {"train": ["train", "--data", path, "--target", "y", "--epochs", "2", "--patience", "0", "--out", out],
            "predict": ["predict", "--model", path, "--input", "0.5"] if path.suffix == ".npz"
            else ["predict", "--model", good_model, "--data", path],
            "evaluate": ["evaluate", "--model", path, "--data", good_csv] if path.suffix == ".npz"
            else ["evaluate", "--model", good_model, "--data", path],
            "summary": ["summary", "--model", path],
            "resume": ["train", "--resume", path]}[command]


# ---------------------------------------------------------------------- the world the corpus lives in
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished run on sine data (one input 'x', target 'y') and every corpus entry, made once."""
    world = tmp_path_factory.mktemp("world")
    assert cli.main(["train", "--data", "sine", "--layers", "3", "--epochs", "2", "--patience", "0",
                              "--quiet", "--out", str(world / "run")]) == 0
    (world / "corpus").mkdir()
    for name, make, _ in CORPUS:
        make(world, world / "corpus" / name)
    return world


def _snapshot(root):
    shot = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            body = os.readlink(path) if stat.S_ISLNK(st.st_mode) else (
                open(path, "rb").read() if stat.S_ISREG(st.st_mode) else None)
            shot[os.path.relpath(path, root)] = (body, stat.S_IMODE(st.st_mode))
    return shot


def _no_nan_written(folder):
    for path in folder.rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path} holds {c}"))
        elif path.name == "model.npz":
            assert np.isfinite(ninestep.load_model(path).net.params).all()


CASES = [pytest.param(name, command, expected, id=f"{command}-{name}",
                      marks=[pytest.mark.xfail(strict=True, reason=f"not refused yet: {NOT_YET[name]}")]
                      if name in NOT_YET else [])
         for name, _, outcomes in CORPUS for command, expected in outcomes.items()]


@pytest.mark.parametrize("name, command, expected", CASES)
def test_every_command_on_every_corpus_file(capsys, world, name, command, expected):
    code_wanted, message = expected
    path = world / "corpus" / name
    if command == "resume":  # resuming changes its own folder: work on a copy
        shutil.rmtree(world / "resumed", ignore_errors=True)
        shutil.copytree(path, world / "resumed", symlinks=True)
        path = world / "resumed"
    shutil.rmtree(world / "out", ignore_errors=True)
    before = _snapshot(world)
    code = cli.main([str(a) for a in _argv(command, path, world)] + ["--quiet"])
    err = capsys.readouterr().err
    assert code == code_wanted, err
    after = _snapshot(world)
    if code == 0:
        written = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        allowed = "out" if command == "train" else "resumed" if command == "resume" else None
        assert all(k.split(os.sep)[0] == allowed for k in written), sorted(written)
        if allowed:
            _no_nan_written(world / allowed)
    else:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
        assert message in lines[0], lines[0]
        assert after == before  # a failing command changes nothing, and a failing train creates no folder


def markdown() -> str:
    """The corpus and its expected outcomes as a Markdown table (rows of ``NOT_YET`` marked)."""
    rows = ["| input | commands | exit code | message contains |", "|---|---|---|---|"]
    for name, _, outcomes in CORPUS:
        same: dict[tuple, list[str]] = {}  # the commands that share an outcome, on one row
        for command, expected in outcomes.items():
            same.setdefault(expected, []).append(command)
        owed = f" **not yet** (today: {NOT_YET[name]})" if name in NOT_YET else ""
        for (code, message), commands in same.items():
            rows.append(f"| `{name}` | {', '.join(commands)} | {code} | {message and f'`{message}`'}{owed} |")
    return "\n".join(rows)


DOC = Path(__file__).resolve().parent.parent / "docs" / "robustness.md"
UPDATE = "python tests/test_cli_corpus.py --update-doc"
BEGIN = f"<!-- corpus table: generated by `{UPDATE}`; do not edit by hand -->"
END = "<!-- end of corpus table -->"


def doc_with_table(text: str) -> str:
    """``text`` (docs/robustness.md) with the block between BEGIN and END replaced by today's table."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{DOC} must hold the markers {BEGIN!r} and {END!r} once each, in that order.")
    head, rest = text.split(BEGIN)
    return f"{head}{BEGIN}\n{markdown()}\n{END}{rest.split(END, 1)[1]}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--update-doc"]:
        DOC.write_text(doc_with_table(DOC.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote the corpus table into {DOC}")
    else:
        print(markdown())
