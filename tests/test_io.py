"""The model file: exact round trips, and safe refusal of everything that is not a ninestep file.

Every refusal is a ModelFileError (a ValueError) with a message naming the
problem, raised without executing anything from the file: the malicious
files below carry pickles that would create a marker file if unpickled,
and the tests prove the marker never appears (and that NumPy with
``allow_pickle=True`` *would* create it, so the files really are armed).
"""

import io as _io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest

import ninestep as ns
from ninestep.archive import FORMAT_VERSION
from ninestep.checkpoint import load_checkpoint
from ninestep.model_file import ModelFileError


# ---------------------------------------------------------------------- helpers
def _trained_net(dtype=np.float64, sizes=(3, 5, 2), out="linear", seed=0):
    net = ns.Network(list(sizes), activation="tanh", output_activation=out, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, sizes[0]))
    y = rng.normal(size=(40, sizes[-1])) if out == "linear" else rng.integers(0, sizes[-1], 40)
    loss = "mse" if out == "linear" else "cross_entropy"
    with warnings.catch_warnings():  # five epochs are meant to stop short of convergence
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        net.fit(X, y, loss=loss, optimizer=ns.Adam(lr=1e-2), epochs=5, seed=seed)
    return net, X


def _npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = _io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=allow_pickle)
    return buf.getvalue()


def _meta_bytes(meta: dict) -> bytes:
    return _npy_bytes(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def _write_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {info.filename[:-4]: z.read(info) for info in z.infolist()}


def _meta(path) -> dict:
    raw = np.load(_io.BytesIO(_members(path)["__meta__"]), allow_pickle=False)
    return json.loads(raw.tobytes())


def _with_meta(src, dst, **changes):
    """Copy the model file ``src`` to ``dst`` with its JSON description changed."""
    members = _members(src)
    meta = _meta(src)
    meta.update(changes)
    members["__meta__"] = _meta_bytes(meta)
    return _write_zip(dst, members)


def _with_array(src, dst, name, arr, allow_pickle=False):
    members = _members(src)
    members[name] = _npy_bytes(arr, allow_pickle=allow_pickle)
    return _write_zip(dst, members)


class _Marker:
    """Unpickling this creates ``path``: the stand-in for arbitrary code in a pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def model_file(tmp_path):
    net, X = _trained_net()
    path = tmp_path / "model.npz"
    net.save(path)
    return path, net, X


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    net, X = _trained_net(dtype=dtype)
    net.save(tmp_path / "m.npz")
    back = ns.load(tmp_path / "m.npz")
    assert back.dtype == np.dtype(dtype)
    assert back.layer_sizes == net.layer_sizes
    assert [layer.activation.name for layer in back.layers] == [layer.activation.name for layer in net.layers]
    out, out_back = net.forward(X), back.forward(X)
    assert out_back.dtype == np.dtype(dtype)
    assert np.array_equal(out, out_back)  # bit for bit, not approximately


def test_model_file_keeps_scalers_class_names_and_feature_names(tmp_path):
    rng = np.random.default_rng(1)
    X_raw = rng.normal(50.0, 10.0, size=(60, 3))
    labels = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 60)]
    x_scaler = ns.StandardScaler().fit(X_raw)
    net = ns.Network([3, 6, 3], output_activation="softmax", seed=2)
    y = np.searchsorted(np.unique(labels), labels)
    net.fit(x_scaler.transform(X_raw), y, loss="cross_entropy", epochs=3, seed=0, tol=1e9)
    ns.save_model(tmp_path / "c.npz", net, x_scaler=x_scaler, classes=["cat", "dog", "emu"],
                  task="classification", feature_names=["a", "b", "c"], info={"note": "test"})
    saved = ns.load_model(tmp_path / "c.npz")
    assert saved.classes == ["cat", "dog", "emu"]
    assert saved.feature_names == ["a", "b", "c"] and saved.task == "classification"
    assert saved.info == {"note": "test"}
    assert np.array_equal(saved.x_scaler.mean_, x_scaler.mean_)
    assert np.array_equal(saved.x_scaler.scale_, x_scaler.scale_)
    expected = np.array(["cat", "dog", "emu"])[net.forward(x_scaler.transform(X_raw)).argmax(axis=1)]
    assert list(saved.predict(X_raw)) == list(expected)


def test_regression_model_predicts_in_original_units(tmp_path):
    X, y = ns.make_sine(80, seed=3)
    xs, ys = ns.StandardScaler().fit(X), ns.StandardScaler().fit(y)
    net = ns.Network([1, 8, 1], activation="tanh", seed=3)
    net.fit(xs.transform(X), ys.transform(y), epochs=5, seed=0, tol=1e9)
    ns.save_model(tmp_path / "r.npz", net, x_scaler=xs, y_scaler=ys)
    saved = ns.load_model(tmp_path / "r.npz")
    expected = ys.inverse_transform(net.forward(xs.transform(X)))
    assert np.array_equal(saved.predict(X), expected)


def test_file_is_plain_arrays_and_json_with_a_format_version(model_file):
    path, net, _ = model_file
    with zipfile.ZipFile(path) as z:
        names = sorted(info.filename for info in z.infolist())
    assert names == ["W0.npy", "W1.npy", "__meta__.npy", "b0.npy", "b1.npy"]
    meta = _meta(path)
    assert meta["format"] == "ninestep" and meta["format_version"] == FORMAT_VERSION == 2
    assert meta["layer_sizes"] == net.layer_sizes and meta["kind"] == "model"
    for name, data in _members(path).items():  # every member loads without pickle
        assert np.load(_io.BytesIO(data), allow_pickle=False).dtype.kind in "fu"


def test_save_refuses_nan_weights_and_leaves_no_file(tmp_path):
    net, _ = _trained_net()
    net.layers[0].W[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.save(tmp_path / "bad.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_wrong_number_of_class_names(tmp_path):
    net = ns.Network([2, 3, 3], output_activation="softmax", seed=0)
    with pytest.raises(ValueError, match="classes has 2 entries but the network needs 3"):
        ns.save_model(tmp_path / "m.npz", net, classes=["a", "b"])
    with pytest.raises(ValueError, match="feature_names has 1 entries but the network needs 2"):
        ns.save_model(tmp_path / "m.npz", net, feature_names=["x"])


def test_save_refuses_scaler_of_the_wrong_width(tmp_path):
    net = ns.Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="x_scaler must be a StandardScaler fitted on 2 columns"):
        ns.save_model(tmp_path / "m.npz", net, x_scaler=ns.StandardScaler().fit(np.ones((3, 3))))


def test_save_into_missing_folder_says_so(tmp_path):
    net = ns.Network([2, 1], seed=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.save(tmp_path / "no" / "such" / "m.npz")


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ns.load(tmp_path / "missing.npz")


# ---------------------------------------------------------------------- malicious files
def _armed(tmp_path, marker):
    """Check that a pickle of _Marker really does create the marker when unpickled."""
    pickle.loads(pickle.dumps(_Marker(marker)))
    assert marker.exists()
    marker.unlink()


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail loudly if anything calls pickle while the loader runs."""
    def refuse(*args, **kwargs):
        raise AssertionError("the loader called pickle")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def test_object_array_holding_a_pickle_is_refused_without_running_it(tmp_path, model_file):
    src, _, _ = model_file
    marker = tmp_path / "pwned"
    _armed(tmp_path, marker)
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    bad = _with_array(src, tmp_path / "evil.npz", "W0", evil, allow_pickle=True)
    with pytest.raises(ModelFileError, match="object array 'W0'.*pickle"):
        ns.load(bad)
    assert not marker.exists()
    # The file is genuinely armed: NumPy with allow_pickle=True would have run it.
    with np.load(bad, allow_pickle=True) as archive:
        archive["W0"]
    assert marker.exists()


def test_pickled_description_is_refused_without_running_it(tmp_path, model_file, no_unpickling):
    src, _, _ = model_file
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    bad = _with_array(src, tmp_path / "evil.npz", "__meta__", evil, allow_pickle=True)
    with pytest.raises(ModelFileError, match="object array '__meta__'"):
        ns.load_model(bad)
    assert not marker.exists()


def test_plain_pickle_file_is_refused_without_running_it(tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.npz"
    bad.write_bytes(pickle.dumps({"weights": _Marker(marker)}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(ModelFileError, match="pickle"):
        ns.load(bad)
    assert not marker.exists()


def test_single_npy_object_array_is_refused(tmp_path, no_unpickling):
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    bad = tmp_path / "model.npy"
    bad.write_bytes(_npy_bytes(evil, allow_pickle=True))
    with pytest.raises(ModelFileError, match="single .npy array"):
        ns.load(bad)
    assert not marker.exists()


def test_checkpoint_loader_refuses_pickles_too(tmp_path, model_file, no_unpickling):
    src, net, _ = model_file
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    ck = _checkpoint(tmp_path, net.copy(), ns.Adam())
    bad = _with_array(ck, tmp_path / "evil.npz", "opt.m", evil, allow_pickle=True)
    with pytest.raises(ModelFileError, match="object array 'opt.m'"):
        load_checkpoint(bad, net, ns.Adam())
    assert not marker.exists()


@pytest.mark.parametrize("dtype", ["U5", "S3", "c16", [("a", "f8"), ("b", "f8")]])
def test_non_numeric_arrays_are_refused(tmp_path, model_file, dtype):
    src, _, _ = model_file
    bad = _with_array(src, tmp_path / "bad.npz", "b0", np.zeros(5, dtype=dtype))
    with pytest.raises(ModelFileError, match="array 'b0' of dtype"):
        ns.load(bad)


# ---------------------------------------------------------------------- damaged files
def test_every_truncation_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    data = src.read_bytes()
    cut = tmp_path / "cut.npz"
    for length in list(range(0, len(data), max(1, len(data) // 200))) + [len(data) - 1]:
        cut.write_bytes(data[:length])
        with pytest.raises(ModelFileError):
            ns.load(cut)


def test_flipped_bytes_are_refused_or_harmless(model_file, tmp_path):
    """A corrupted byte either makes loading fail, or hit a byte that does not matter (a timestamp)."""
    src, net, X = model_file
    data = bytearray(src.read_bytes())
    expected = net.forward(X)
    bad = tmp_path / "flip.npz"
    refused = 0
    for pos in range(0, len(data), 3):
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            back = ns.load(bad)
        except ModelFileError:
            refused += 1
            continue
        assert np.array_equal(back.forward(X), expected), f"byte {pos} changed the model silently"
    assert refused > 0.8 * len(range(0, len(data), 3))


def test_empty_file_says_empty(tmp_path):
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        ns.load(tmp_path / "e.npz")


def test_text_file_is_not_a_model(tmp_path):
    (tmp_path / "t.npz").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ModelFileError, match="not a ninestep model file"):
        ns.load(tmp_path / "t.npz")


def test_npz_from_someone_else_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", W0=np.ones((2, 2)))
    with pytest.raises(ModelFileError, match="no ninestep description"):
        ns.load(tmp_path / "other.npz")


def test_future_format_version_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    bad = _with_meta(src, tmp_path / "future.npz", format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match=f"newer ninestep.*format version {FORMAT_VERSION + 1}.*Upgrade"):
        ns.load(bad)


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True, None])
def test_invalid_format_version_is_refused(model_file, tmp_path, version):
    src, _, _ = model_file
    bad = _with_meta(src, tmp_path / "v.npz", format_version=version)
    with pytest.raises(ModelFileError, match="invalid format_version"):
        ns.load(bad)


def test_inconsistent_shapes_are_refused(model_file, tmp_path):
    src, _, _ = model_file
    bad = _with_array(src, tmp_path / "shape.npz", "W1", np.zeros((4, 2)))
    with pytest.raises(ModelFileError, match=r"array 'W1' has shape \(4, 2\), but layer_sizes \[3, 5, 2\] needs \(5, 2\)"):
        ns.load(bad)


def test_layer_sizes_that_disagree_with_the_arrays_are_refused_before_allocating(model_file, tmp_path):
    src, _, _ = model_file
    # A crafted description asking for a huge network must fail on the shape check, not on memory.
    bad = _with_meta(src, tmp_path / "big.npz", layer_sizes=[3, 10**9, 2])
    with pytest.raises(ModelFileError, match="inconsistent"):
        ns.load(bad)


def test_missing_array_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    members = _members(src)
    del members["b1"]
    bad = _write_zip(tmp_path / "missing.npz", members)
    with pytest.raises(ModelFileError, match="missing array 'b1'"):
        ns.load(bad)


@pytest.mark.parametrize("change, message", [
    ({"layer_sizes": "3,5,2"}, "layer_sizes"),
    ({"layer_sizes": [3, 0, 2]}, "layer_sizes"),
    ({"activations": ["tanh"]}, "activation"),
    ({"activations": ["tanh", "os.system"]}, "Unknown activation"),
    ({"dtype": "object"}, "dtype"),
    ({"classes": ["only-one"]}, "classes"),
    ({"classes": [{"a": 1}, "b"]}, "classes"),
    ({"feature_names": ["a"]}, "feature_names"),
    ({"info": [1, 2]}, "info"),
    ({"format": "pytorch"}, "not a ninestep model file"),
])
def test_malformed_descriptions_are_refused(model_file, tmp_path, change, message):
    src, _, _ = model_file
    bad = _with_meta(src, tmp_path / "meta.npz", **change)
    with pytest.raises(ModelFileError, match=message):
        ns.load_model(bad)


def test_corrupted_json_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    members = _members(src)
    members["__meta__"] = _npy_bytes(np.frombuffer(b"{\"format\": \"ninestep\", ", dtype=np.uint8))
    with pytest.raises(ModelFileError, match="corrupted JSON"):
        ns.load(_write_zip(tmp_path / "j.npz", members))
    members["__meta__"] = _npy_bytes(np.frombuffer(b"[" * 100_000, dtype=np.uint8))  # deep nesting
    with pytest.raises(ModelFileError, match="corrupted JSON"):
        ns.load(_write_zip(tmp_path / "j.npz", members))


@pytest.mark.parametrize("where", [("W0", 0, 1), ("b1", 1, None)])
def test_nan_or_inf_in_a_file_is_refused(model_file, tmp_path, where):
    src, net, _ = model_file
    name, i, j = where
    arr = (net.layers[int(name[1])].W if name[0] == "W" else net.layers[int(name[1])].b).copy()
    arr[(i, j) if j is not None else i] = np.inf if name[0] == "b" else np.nan
    bad = _with_array(src, tmp_path / "nan.npz", name, arr)
    with pytest.raises(ModelFileError, match=f"NaN or infinity in array '{name}'"):
        ns.load(bad)


def test_npy_header_declaring_a_huge_array_is_refused_without_allocating(model_file, tmp_path):
    src, _, _ = model_file
    members = _members(src)
    header = _io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    members["b0"] = header.getvalue() + b"\0" * 40
    with pytest.raises(ModelFileError, match="declares shape"):
        ns.load(_write_zip(tmp_path / "huge.npz", members))


def test_zip_bomb_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    members = _members(src)
    members["b0"] = _npy_bytes(np.zeros(2_000_000))  # 16 MB of zeros deflates to ~16 kB
    bad = _write_zip(tmp_path / "bomb.npz", members, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="would expand"):
        ns.load(bad)


def test_unexpected_member_is_refused(model_file, tmp_path):
    src, _, _ = model_file
    with zipfile.ZipFile(src, "a") as z:
        z.writestr("payload.py", "print('hi')")
    with pytest.raises(ModelFileError, match="unexpected member 'payload.py'"):
        ns.load(src)


def test_load_checkpoint_refuses_a_plain_model(model_file):
    src, net, _ = model_file
    before = net.params.copy()
    with pytest.raises(ModelFileError, match="model file, not a training checkpoint"):
        load_checkpoint(src, net, ns.Adam())
    assert np.array_equal(net.params, before)


def _checkpoint(tmp_path, net, opt, steps=1, **fit_args):
    """A checkpoint after one epoch of ``steps`` optimiser steps on a little regression task."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2 * steps, net.n_inputs))
    y = rng.standard_normal((2 * steps, net.n_outputs))
    path = tmp_path / "ck.npz"
    net.fit(X, y, optimizer=opt, epochs=1, batch_size=2, shuffle=False, checkpoint=path, **fit_args)
    return path


@pytest.mark.parametrize("change, message", [
    ({"epoch": -1}, "epoch must be an int"),
    ({"epoch": 2}, "history has 1 epochs"),
    ({"rng_state": {"bit_generator": "Evil"}}, "rng_state"),
    ({"rng_state": {"bit_generator": "PCG64", "state": "x"}}, "invalid training state"),
    ({"optimizer": {"name": "sgd", "lr": -1.0, "momentum": 0.0, "nesterov": False}}, "lr must be"),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": "yes"}}, "nesterov"),
    ({"callbacks": {"History": {"loss": ["x"], "val_loss": [], "lr": [], "best_epoch": None,
                                "stopped_early": False}}}, "history"),
    ({"callbacks": []}, "callbacks"),
])
def test_checkpoint_with_invalid_training_state_is_refused_and_changes_nothing(tmp_path, change, message):
    net = ns.Network([2, 3, 1], seed=0)
    opt = ns.SGD(lr=0.01, momentum=0.9)
    path = _checkpoint(tmp_path, net, opt)
    bad = _with_meta(path, tmp_path / "bad.npz", **change)
    fresh, fresh_opt = ns.Network([2, 3, 1], seed=1), ns.SGD(lr=0.5, momentum=0.9)
    before = fresh.params.copy()
    with pytest.raises(ModelFileError, match=message):
        load_checkpoint(bad, fresh, fresh_opt)
    assert np.array_equal(fresh.params, before) and fresh_opt.lr == 0.5 and fresh_opt.velocity is None


def test_resume_refuses_an_invalid_callback_state_and_changes_nothing(tmp_path):
    net, opt = ns.Network([2, 3, 1], seed=0), ns.SGD(lr=0.01)
    path = _checkpoint(tmp_path, net, opt, lr_schedule="cosine")
    meta = _meta(path)
    meta["callbacks"]["LearningRateSchedule"]["lr0"] = 0
    bad = _with_meta(path, tmp_path / "bad.npz", callbacks=meta["callbacks"])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((2, 2)), rng.standard_normal((2, 1))
    fresh = ns.Network([2, 3, 1], seed=1)
    before = fresh.params.copy()
    with pytest.raises(ModelFileError, match="LearningRateSchedule.*lr0"):
        fresh.fit(X, y, optimizer=ns.SGD(lr=0.01), epochs=2, batch_size=2, shuffle=False,
                  lr_schedule="cosine", resume_from=bad)
    assert np.array_equal(fresh.params, before)


@pytest.mark.parametrize("other, message", [
    (lambda: (ns.Network([2, 4, 1], seed=0), ns.Adam()), r"layer_sizes \[2, 3, 1\] there, \[2, 4, 1\] here"),
    (lambda: (ns.Network([2, 3, 1], activation="tanh", seed=0), ns.Adam()),
     r"activations \['relu', 'linear'\] there, \['tanh', 'linear'\] here"),
    (lambda: (ns.Network([2, 3, 1], output_activation="sigmoid", seed=0), ns.Adam()),
     r"activations \['relu', 'linear'\] there, \['relu', 'sigmoid'\] here"),
    (lambda: (ns.Network([2, 3, 1], seed=0, dtype=np.float32), ns.Adam()), "dtype 'float64' there, 'float32' here"),
    (lambda: (ns.Network([2, 3, 1], seed=0), ns.SGD(lr=0.1)), "optimizer 'adam' there, 'sgd' here"),
])
def test_checkpoint_for_another_network_or_optimizer_is_refused_naming_each_difference(tmp_path, other, message):
    path = _checkpoint(tmp_path, ns.Network([2, 3, 1], seed=0), ns.Adam())
    net, opt = other()
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, net, opt)
    assert np.array_equal(net.params, before)


def test_checkpoint_round_trip_restores_optimizer_state(tmp_path):
    net = ns.Network([2, 3, 1], seed=0)
    opt = ns.Adam(lr=0.02)
    path = _checkpoint(tmp_path, net, opt, steps=3)
    other, other_opt = ns.Network([2, 3, 1], seed=9), ns.Adam(lr=0.5)
    state = load_checkpoint(path, other, other_opt)
    assert np.array_equal(other.params, net.params)
    assert other_opt.t == 3 and other_opt.lr == 0.02
    assert np.array_equal(other_opt.m, opt.m) and np.array_equal(other_opt.v, opt.v)
    assert state["epoch"] == 1 and state["history"].epochs == 1 and "EarlyStopping" not in state["callbacks"]


def test_a_checkpoint_is_not_a_model(tmp_path):
    # It holds the last epoch's weights and no scalers: predicting from it would silently differ.
    path = _checkpoint(tmp_path, ns.Network([2, 3, 1], seed=0), ns.Adam())
    for load in (ns.load_model, ns.load):
        with pytest.raises(ModelFileError, match="training checkpoint, not a model.*model.npz"):
            load(path)


# ---------------------------------------------------------------------- on the command line
def test_cli_refuses_an_armed_model_file_in_one_line_without_running_it(tmp_path, model_file, capsys):
    from ninestep.cli import main

    src, _, _ = model_file
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(marker)
    bad = _with_array(src, tmp_path / "evil.npz", "W0", evil, allow_pickle=True)
    assert main(["predict", "--model", str(bad), "--input", "1,2,3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "pickle" in err and "\n" not in err
    assert not marker.exists()


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a model file"):
        ns.load(tmp_path)


def test_newer_version_is_named_even_when_its_arrays_are_unreadable_to_us(model_file, tmp_path):
    src, _, _ = model_file
    members = _members(src)
    meta = _meta(src)
    meta["format_version"] = FORMAT_VERSION + 1
    members["__meta__"] = _meta_bytes(meta)
    members["W0"] = _npy_bytes(np.zeros(3, dtype="U4"))  # say a future version stored names here
    with pytest.raises(ModelFileError, match="newer ninestep"):
        ns.load(_write_zip(tmp_path / "future.npz", members))


def test_load_returns_what_predicts_from_raw_inputs(tmp_path):
    # A file with scalers gives the SavedModel (raw inputs in, original units out), never the bare
    # network, whose predict would expect standardised inputs and silently answer wrong.
    X, y = ns.make_arithmetic(500, seed=0)
    xs, ys = ns.StandardScaler().fit(X), ns.StandardScaler().fit(y)
    net = ns.Network([2, 16, 3], seed=0)
    net.fit(xs.transform(X), ys.transform(y), optimizer=ns.Adam(0.01), epochs=60, batch_size=32, seed=0, tol=1e9)
    ns.save_model(tmp_path / "model.npz", net, x_scaler=xs, y_scaler=ys)
    loaded = ns.load(tmp_path / "model.npz")
    assert isinstance(loaded, ns.SavedModel)
    np.testing.assert_allclose(loaded.predict([[30, 70]]), ns.load_model(tmp_path / "model.npz").predict([[30, 70]]))
    assert abs(loaded.predict([[30, 70]])[0, 0] - 100) < 5
    net.save(tmp_path / "bare.npz")
    assert isinstance(ns.load(tmp_path / "bare.npz"), ns.Network)


def test_a_weight_array_of_the_wrong_dtype_is_refused(tmp_path, model_file):
    src, _, _ = model_file
    bad = _with_array(src, tmp_path / "int.npz", "W0", np.zeros((3, 5), dtype=np.int64))
    with pytest.raises(ModelFileError, match="'W0' has dtype int64"):
        ns.load(bad)


def test_a_model_with_a_table_preprocessor_predicts_from_raw_columns_in_any_order(tmp_path):
    from ninestep.preprocessing import TablePreprocessor
    from ninestep.tabular import RawTable

    rng = np.random.default_rng(0)
    n = 200
    area = rng.uniform(30, 200, n)
    city = rng.choice(["Paris", "Lyon", "Nice"], n)
    price = area * 3 + np.where(city == "Paris", 100, 0) + rng.normal(0, 5, n)
    columns = {"area": [f"{a:.1f}" for a in area], "city": list(city), "price": [f"{p:.2f}" for p in price]}
    columns["area"][3] = ""  # a gap, imputed
    pre = TablePreprocessor("price")
    X, y = pre.fit_transform(RawTable.from_columns(columns))
    net = ns.Network([X.shape[1], 16, 1], seed=0)
    net.fit(X, y, optimizer=ns.Adam(0.01), epochs=150, batch_size=32, seed=0, tol=1e9)
    ns.save_model(tmp_path / "m.npz", net, preprocessor=pre, task="regression", target_names=["price"])
    model = ns.load(tmp_path / "m.npz")
    assert isinstance(model, ns.SavedModel) and model.preprocessor is not None
    rows = {"city": ["Paris", "Nice"], "area": ["100", "100"]}  # columns in another order, no target
    pred = model.predict(RawTable.from_columns(rows)).ravel()
    assert abs(pred[0] - pred[1] - 100) < 30 and abs(pred[1] - 300) < 40
    # a preprocessor array without its description is refused, like any member the file does not explain
    bad = _with_meta(tmp_path / "m.npz", tmp_path / "bad.npz", preprocessor=None)
    with pytest.raises(ModelFileError, match="preprocessing arrays .* but no preprocessor description"):
        ns.load(bad)
