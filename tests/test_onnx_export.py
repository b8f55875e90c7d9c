"""ONNX export: onnxruntime must predict what ninestep predicts, from raw features.

Every model below goes through a real model file (save_model, load_model),
is exported with ``to_onnx`` and run by onnxruntime; its outputs are
compared with ``SavedModel.predict`` (and the network's probabilities) on
random rows and on edge cases: raw columns of very different magnitudes
(1e6, 1e-6, 1, 1e3, so the scaler does real work), rows ten standard
deviations out, rows within 1e-6 standard deviations of the mean, a single
row and 20,000 rows.

Tolerance: ``|onnx - ninestep| <= rtol * max(|ninestep|, column scale)``
with rtol 1e-5 for float32 graphs and 1e-12 for float64 ones. The floor
(the largest |value| of that output column on the random rows) is there
because an output near zero is the difference of terms of the column's
size: the round-off of that sum is relative to those terms, not to the
small result, so a pure relative test near zero would measure the
cancellation, not the export. Class labels must be identical.

The same holds for a model with a TablePreprocessor (one input per raw
column of a messy table) and for an Ensemble (the members' mean and spread).
Run as a script, this module prints the worst errors over the agreement
tests' models.
"""

import os
import re
import sys

import numpy as np
import pytest

import ninestep as ns
from ninestep.activations import Activation, LeakyReLU, ReLU

onnx = pytest.importorskip("onnx", reason="onnx is not installed; pip install -e '.[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed; pip install -e '.[onnx]'")

from ninestep.onnx_export import DEFAULT_OPSET, MIN_OPSET, to_onnx  # noqa: E402

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
HIDDEN = ["relu", "leaky_relu", "sigmoid", "tanh", "linear"]
#: Raw feature columns of very different magnitudes: (scale, offset) per column.
SCALE = np.array([1e6, 1e-6, 1.0, 1e3])
OFFSET = np.array([3e6, -2e-6, 0.5, 0.0])


def _raw(rng, n, spread=1.0):
    return OFFSET + spread * SCALE * rng.standard_normal((n, SCALE.size))


def _cases(scaled: bool) -> dict[str, np.ndarray]:
    """Inputs to compare on: raw magnitudes when the model has an input scaler, order 1 when not."""
    rng = np.random.default_rng(7)
    cases = {"random": _raw(rng, 1000), "10 std out": _raw(rng, 200, 10.0), "1e-6 std": _raw(rng, 200, 1e-6),
             "one row": _raw(rng, 1), "20000 rows": _raw(rng, 20_000)}
    return cases if scaled else {k: (X - OFFSET) / SCALE for k, X in cases.items()}


def _saved(tmp_path, net, scaled=True, y_scaled=False, **kwargs):
    """A model through a real file: what load_model gives back, as the CLI would export it."""
    rng = np.random.default_rng(1)
    X = _raw(rng, 500)
    x_scaler = ns.StandardScaler().fit(X) if scaled else None
    y_scaler = ns.StandardScaler().fit(rng.normal(size=(500, net.n_outputs)) * 1e4 + 50) if y_scaled else None
    path = tmp_path / "model.npz"
    ns.save_model(path, net, x_scaler=x_scaler, y_scaler=y_scaler, **kwargs)
    return ns.load_model(path)


def _net(sizes, hidden, output, dtype=np.float64, seed=3):
    # bias_init="same": non-zero biases, so that a bias wrongly placed would show
    return ns.Network(sizes, activation=hidden, output_activation=output, seed=seed, dtype=dtype, bias_init="same")


def _run(proto, X, dtype):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": np.asarray(X, dtype=dtype)})))


def _worst(got, want, rtol, scale) -> float:
    """The largest error in units of the tolerance's reference size (see the module docstring)."""
    assert got.shape == want.shape
    return float((np.abs(got - want) / np.maximum(np.abs(want), scale)).max())


def _check_against_ninestep(model, dtype):
    """Export, run every case through onnxruntime, compare; return the worst error seen."""
    proto = to_onnx(model, dtype=dtype)
    onnx.checker.check_model(proto, full_check=True)
    cases = _cases(model.x_scaler is not None)
    classifier = model.classes is not None
    # a float32 network computes in float32, whatever graph it is exported to
    rtol = RTOL[np.float32] if model.net.dtype == np.float32 else RTOL[dtype]
    want_of = model.predict_proba if classifier else model.predict
    scale = np.abs(want_of(cases["random"].astype(dtype))).max(axis=0)
    if classifier:  # more than one class occurs, so the label lookup is really exercised
        assert len(set(model.predict(cases["random"].astype(dtype)))) > 1
    worst = 0.0
    for name, X in cases.items():
        X = X.astype(dtype)  # both sides see the same input values
        got = _run(proto, X, dtype)
        if classifier:
            np.testing.assert_array_equal(got["label"], model.predict(X), err_msg=name)
            assert got["label"].dtype.kind == ("O" if isinstance(model.classes[0], str) else "i")
            out = got["probabilities"]
        else:
            out = got["y"]
        error = _worst(out, want_of(X), rtol, scale)
        assert error <= rtol, f"{name}: error {error:.3g} > {rtol:g}"
        worst = max(worst, error)
    return worst


# ---------------------------------------------------------------------- agreement with ninestep
#: (kind, hidden activation, class names, input scaler) of every model the agreement test runs:
#: regression with and without scalers, softmax with string and integer names, one sigmoid output.
MODELS = ([("regression", h, None, scaled) for h in HIDDEN for scaled in (True, False)]
          + [("softmax", h, names, scaled) for h in HIDDEN
             for names, scaled in ((["setosa", "versicolor", "virginica"], True), ([10, -3, 7], False))]
          + [("sigmoid", h, names, True) for h in HIDDEN for names in (["no", "yes"], [0, 1])])


def _model(folder, kind, hidden, classes, scaled):
    if kind == "regression":
        return _saved(folder, _net([4, 16, 8, 3], hidden, "linear"), scaled=scaled, y_scaled=scaled,
                      task="regression")
    net = _net([4, 16, 8, 3] if kind == "softmax" else [4, 16, 1], hidden, kind)
    if kind == "softmax":  # decisive, as trained nets are: sigmoid units alone leave one class on top
        net.layers[-1].W[...] *= 8
    return _saved(folder, net, scaled=scaled, classes=classes, task="classification")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,hidden,classes,scaled", MODELS,
                         ids=[f"{k}-{h}-{c and c[0]}-{'scaled' if s else 'raw'}" for k, h, c, s in MODELS])
def test_onnxruntime_matches_ninestep(tmp_path, dtype, kind, hidden, classes, scaled):
    _check_against_ninestep(_model(tmp_path, kind, hidden, classes, scaled), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"])
def test_bare_network_exports_its_forward_pass(dtype, output):
    net = _net([4, 12, 3], "tanh", output)
    X = _cases(False)["random"].astype(dtype)
    got = _run(to_onnx(net, dtype=dtype), X, dtype)
    assert list(got) == ["y"]
    want = net.forward(X)
    assert _worst(got["y"], want, RTOL[dtype], np.abs(want).max(axis=0)) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden,output", [("leaky_relu", "linear"), ("tanh", "softmax")])
def test_ensemble_exports_the_members_mean_and_spread(dtype, hidden, output):
    from ninestep.ensemble import Ensemble

    ensemble = Ensemble([4, 12, 8, 3], n_members=4, seed=5, activation=hidden, output_activation=output,
                        bias_init="same")
    proto = to_onnx(ensemble, dtype=dtype)
    rtol = RTOL[dtype]
    for name, X in _cases(False).items():
        X = X.astype(dtype)
        got = _run(proto, X, dtype)
        mean, std = ensemble.predict(X, return_std=True)
        assert std.max() > 1e-3 * np.abs(mean).max()  # the members differ, so the spread means something
        # the spread's floor is the mean's scale: it is computed from differences of outputs of that size
        assert _worst(got["y"], mean, rtol, np.abs(mean).max(axis=0)) <= rtol, name
        assert _worst(got["y_std"], std, rtol, np.abs(mean).max(axis=0)) <= rtol, name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_keeps_the_layers_own_slope(dtype):
    net = _net([4, 12, 12, 2], "leaky_relu", "linear")
    net.layers[0].activation = LeakyReLU(slope=0.2)  # the second hidden layer keeps 0.01
    X = _cases(False)["random"].astype(dtype)
    got = _run(to_onnx(net, dtype=dtype), X, dtype)["y"]
    want = net.forward(X)
    assert _worst(got, want, RTOL[dtype], np.abs(want).max(axis=0)) <= RTOL[dtype]
    net.layers[0].activation = LeakyReLU()  # the graph above must differ from the default slope's
    assert np.abs(got - net.forward(X)).max() > 1e3 * RTOL[dtype] * np.abs(want).max()


@pytest.mark.parametrize("export_dtype", [np.float32, np.float64])
def test_float32_network(tmp_path, export_dtype):
    model = _saved(tmp_path, _net([4, 16, 3], "relu", "softmax", dtype=np.float32), classes=["a", "b", "c"])
    _check_against_ninestep(model, export_dtype)


def test_float_class_names_stay_float64(tmp_path):
    model = _saved(tmp_path, _net([4, 8, 3], "tanh", "softmax"), classes=[0.5, 1.5, 2.25])
    X = _cases(True)["random"]
    got = _run(to_onnx(model), X, np.float32)["label"]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, model.predict(X.astype(np.float32)))


def test_classifier_with_linear_output_labels_its_largest_output(tmp_path):
    model = _saved(tmp_path, _net([4, 8, 3], "relu", "linear"), classes=["a", "b", "c"])
    X = _cases(True)["random"]
    got = _run(to_onnx(model, dtype=np.float64), X, np.float64)
    np.testing.assert_array_equal(got["label"], model.predict(X))
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(X), rtol=1e-12)


# ---------------------------------------------------------------------- the graph itself
def test_graph_names_shapes_opset_and_metadata(tmp_path):
    model = _saved(tmp_path, _net([4, 8, 3], "relu", "softmax"), classes=["a", "b", "c"],
                   feature_names=["w", "x", "y", "z"])
    proto = to_onnx(model)
    graph = proto.graph

    def shape(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, shape(v)) for v in graph.input] == [("X", ["N", 4])]
    assert [(v.name, shape(v)) for v in graph.output] == [("label", ["N"]), ("probabilities", ["N", 3])]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.STRING
    assert [op.version for op in proto.opset_import] == [DEFAULT_OPSET]
    assert proto.ir_version == 8  # the oldest IR that carries opset 17, so older runtimes load it
    ops = [node.op_type for node in graph.node]
    assert ops[:4] == ["Sub", "Div", "Gemm", "Relu"] and "ArgMax" in ops and "Gather" in ops
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["feature_names"] == '["w", "x", "y", "z"]' and meta["classes"] == '["a", "b", "c"]'


def test_float64_graph_is_double_throughout():
    proto = to_onnx(_net([4, 8, 2], "leaky_relu", "linear"), dtype="float64")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert all(t.data_type == onnx.TensorProto.DOUBLE for t in proto.graph.initializer)


@pytest.mark.parametrize("opset", [MIN_OPSET, 21])
def test_other_opsets(opset):
    net = _net([4, 8, 3], "leaky_relu", "softmax")
    proto = to_onnx(net, opset=opset)
    assert proto.opset_import[0].version == opset
    X = _cases(False)["random"].astype(np.float32)
    want = net.forward(X)
    assert _worst(_run(proto, X, np.float32)["y"], want, 1e-5, np.abs(want).max(axis=0)) <= 1e-5


def test_writes_the_file_atomically(tmp_path):
    net = _net([4, 8, 1], "tanh", "linear")
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    proto = to_onnx(net, path)
    assert path.read_bytes() == proto.SerializeToString()
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary file left behind
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    with pytest.raises(FileNotFoundError, match="folder .* does not exist"):
        to_onnx(net, tmp_path / "missing" / "model.onnx")


def test_importing_ninestep_does_not_import_onnx():
    import subprocess

    code = "import sys, ninestep, ninestep.onnx_export; print('onnx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------------- what cannot be exported
class Swish(Activation):
    name = "swish"

    def forward(self, Z, out=None):
        return Z / (1 + np.exp(-Z))


class ShiftedReLU(ReLU):  # a subclass with its own forward must not pass for its parent
    def forward(self, Z, out=None):
        return np.maximum(Z, 1.0)


@pytest.mark.parametrize("activation,name", [(Swish(), "'swish' (Swish)"), (ShiftedReLU(), "'relu' (ShiftedReLU)")])
def test_unknown_activation_is_refused_by_name(activation, name):
    net = _net([4, 8, 8, 2], "relu", "linear")
    net.layers[1].activation = activation
    with pytest.raises(ValueError, match=re.escape(f"layer 2's activation {name} cannot be exported")):
        to_onnx(net)


def test_preprocessing_the_exporter_does_not_know_is_refused(tmp_path):
    model = _saved(tmp_path, _net([4, 8, 2], "relu", "linear"))
    model.imputer = {"fill": [0.0, 1.0, 2.0, 3.0]}  # what a newer model file could hold
    with pytest.raises(ValueError, match="holds 'imputer', preprocessing that the ONNX exporter does not cover"):
        to_onnx(model)


def test_scaler_of_another_kind_is_refused(tmp_path):
    class MinMaxScaler(ns.StandardScaler):
        pass

    model = _saved(tmp_path, _net([4, 8, 2], "relu", "linear"))
    model.x_scaler = MinMaxScaler.from_params(np.zeros(4), np.ones(4))
    with pytest.raises(TypeError, match="x_scaler is a MinMaxScaler; only ninestep.StandardScaler"):
        to_onnx(model)


def test_weights_too_large_for_float32_are_refused_not_overflowed():
    net = _net([4, 8, 2], "relu", "linear")
    net.layers[1].W[0, 0] = 1e39
    with pytest.raises(ValueError, match=r"layer 2's W holds values that are not finite in float32 .*1e\+39"):
        to_onnx(net)
    to_onnx(net, dtype=np.float64)  # exact there


def test_nan_weights_are_refused():
    net = _net([4, 8, 2], "relu", "linear")
    net.layers[0].b[2] = np.nan
    with pytest.raises(ValueError, match="layer 1's weights hold NaN or infinity"):
        to_onnx(net)


def test_mixed_class_names_are_refused(tmp_path):
    model = _saved(tmp_path, _net([4, 8, 3], "relu", "softmax"))
    model.classes = ["a", 1, "c"]
    with pytest.raises(ValueError, match="mix text and numbers"):
        to_onnx(model)


@pytest.mark.parametrize("kwargs,message", [
    ({"dtype": np.int32}, "dtype must be float32 or float64, got int32"),
    ({"dtype": "float16"}, "dtype must be float32 or float64, got float16"),
    ({"opset": 12}, f"opset must be an int from {MIN_OPSET} to"),
    ({"opset": 1000}, "opset must be an int from"),
    ({"opset": 17.0}, "opset must be an int from"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        to_onnx(_net([2, 3, 1], "relu", "linear"), **kwargs)


def test_not_a_model():
    with pytest.raises(TypeError, match="to_onnx needs a ninestep.Network, an Ensemble or the SavedModel .* got str"):
        to_onnx("model.npz")


def test_missing_onnx_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'ninestep\[onnx\]'"):
        to_onnx(_net([2, 3, 1], "relu", "linear"))


# ---------------------------------------------------------------------- tables: TablePreprocessor in the graph
def _messy_table(rng, n, target_kind):
    """A table as a user's CSV gives it: gaps spelled many ways, a typo, mixed-case yes/no, text categories."""
    def pick(values, gaps, p=0.12):
        return [str(rng.choice(gaps)) if rng.random() < p else str(rng.choice(values)) for _ in range(n)]

    area = [f"{v:.2f}" for v in rng.normal(80, 25, n)]
    area[3], area[7], area[11] = "NA", "1O", " null "  # a gap, a typo (read as a gap), a gap with spaces
    data = {"area": area,
            "city": pick(["Paris", "Lyon", "Nice", "Lille"], ["", "NA", "n/a", "None", "?"]),
            "garden": pick(["yes", "no", "Yes", "NO", "true", "False"], ["", "na", "NULL"]),
            "rooms": [str(v) for v in rng.integers(1, 7, n)]}
    if target_kind == "regression":
        data["price"] = [f"{v:.0f}" for v in 3e5 + 4e3 * rng.normal(size=n)]
    else:
        data["price"] = [str(rng.choice(target_kind)) for _ in range(n)]
    return data


def _table_feeds(pre, data, dtype):
    """What a user feeds the graph: numbers as floats (NaN where missing or unreadable), text stripped."""
    from ninestep.tabular import parse_number

    feeds = {}
    for c in pre.columns_:
        cells = data[c["name"]]
        if c["kind"] == "number":
            values = [parse_number(t) for t in cells]
            feeds[c["name"]] = np.array([[np.nan if v is None else v] for v in values], dtype=dtype)
        else:
            feeds[c["name"]] = np.array([[t.strip()] for t in cells], dtype=object)
    return feeds


@pytest.mark.filterwarnings("ignore::ninestep.preprocessing.DataWarning")  # the gaps it is built with
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", ["regression", ("cheap", "fair", "dear"), (0, 1)],
                         ids=["regression", "three string classes", "binary 0/1"])
def test_table_preprocessing_matches_ninestep(tmp_path, dtype, target):
    from ninestep.preprocessing import DataWarning, TablePreprocessor

    rng = np.random.default_rng(11)
    train = _messy_table(rng, 300, target)
    pre = TablePreprocessor("price").fit(train)
    assert {c["kind"] for c in pre.columns_} == {"number", "bool", "category"}
    assert all(c["indicator"] for c in pre.columns_ if c["name"] != "rooms")
    n_classes = len(pre.classes_ or [])
    output = {0: "linear", 2: "sigmoid"}.get(n_classes, "softmax")
    net = _net([len(pre.get_feature_names_out()), 12, 1 if n_classes < 3 else n_classes], "tanh", output)
    ns.save_model(tmp_path / "model.npz", net, preprocessor=pre, classes=pre.classes_, task=pre.task_)
    model = ns.load_model(tmp_path / "model.npz")
    proto = to_onnx(model, dtype=dtype)
    assert [i.name for i in proto.graph.input] == ["area", "city", "garden", "rooms"]

    test = _messy_table(rng, 400, target)
    test["city"][:3] = ["Marseille", " Paris ", "NULL"]  # unseen (all zeros), spaces, a gap spelled in capitals
    test["garden"][:3] = ["1", "0", "maybe"]  # read as yes/no at predict time; unreadable: a gap
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, _table_feeds(pre, test, dtype))))
    rtol = RTOL[dtype]
    with pytest.warns(DataWarning):  # ninestep warns of the unseen category; the graph cannot
        want = model.predict_proba(test) if n_classes else model.predict(test)
    if n_classes:
        np.testing.assert_array_equal(got["label"], model.predict(test))
        assert _worst(got["probabilities"], want, rtol, np.abs(want).max(axis=0)) <= rtol
    else:
        assert _worst(got["y"], want, rtol, np.abs(want).max(axis=0)) <= rtol
        assert np.abs(want).min() > 1e5  # in original units: the target scaler is in the graph


def _table_model(data, extra_inputs=0, **options):
    """A regression model holding the TablePreprocessor fitted on ``data``; the network takes ``extra_inputs`` more."""
    from ninestep.preprocessing import TablePreprocessor

    pre = TablePreprocessor("price", **options).fit(data)
    width = len(pre.get_feature_names_out())
    return ns.SavedModel(net=_net([width + extra_inputs, 4, 1], "relu", "linear"), preprocessor=pre), width


@pytest.mark.filterwarnings("ignore::ninestep.preprocessing.DataWarning")
def test_table_column_named_like_a_graph_tensor_is_refused():
    data = _messy_table(np.random.default_rng(0), 100, "regression")
    data["y"] = data.pop("rooms")
    with pytest.raises(ValueError, match="column 'y' has the name of a tensor inside the graph"):
        to_onnx(_table_model(data)[0])


@pytest.mark.filterwarnings("ignore::ninestep.preprocessing.DataWarning")
def test_table_fitted_apart_from_the_network_is_refused():
    model, width = _table_model(_messy_table(np.random.default_rng(0), 100, "regression"), extra_inputs=1)
    with pytest.raises(ValueError, match=f"gives {width} columns but the network takes {width + 1}"):
        to_onnx(model)


def test_table_that_refuses_gaps_is_not_exported():
    data = _messy_table(np.random.default_rng(0), 100, "regression")
    data["area"] = [f"{v:.2f}" for v in np.linspace(50, 120, 100)]
    data["city"] = ["Paris", "Lyon"] * 50
    data["garden"] = ["yes", "no"] * 50
    model, _ = _table_model(data, missing="error")
    with pytest.raises(ValueError, match="missing='error': ninestep refuses rows with gaps, but an ONNX graph"):
        to_onnx(model)


def test_preprocessor_of_another_kind_is_refused():
    model = ns.SavedModel(net=_net([4, 8, 2], "relu", "linear"), preprocessor={"fill": [1.0]})
    with pytest.raises(TypeError, match="preprocessor is a dict; only ninestep.TablePreprocessor"):
        to_onnx(model)


# ---------------------------------------------------------------------- ninestep export
@pytest.mark.parametrize("data,dtype", [("iris", "float32"), ("diabetes", "float64"), ("moons", "float32")])
def test_cli_exports_what_train_saved(tmp_path, capsys, data, dtype):
    import ninestep.cli as cli
    from ninestep.datasets import load_dataset

    run = tmp_path / "run"
    assert cli.main(["train", "--data", data, "--epochs", "3", "--out", str(run), "--quiet"]) == 0
    path = tmp_path / "model.onnx"
    assert cli.main(["export", "--model", str(run / "model.npz"), "--format", "onnx", "--out", str(path),
                     "--dtype", dtype]) == 0
    report = capsys.readouterr().out
    assert f"wrote {path}: ONNX opset {DEFAULT_OPSET}, {dtype}" in report and "input:   X (N, " in report
    model = ns.load_model(run / "model.npz")
    X = load_dataset(data, seed=5).X[:300]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"X": X.astype(dtype)})))
    if model.classes is not None:
        np.testing.assert_array_equal(got["label"], model.predict(X.astype(dtype)))
    else:
        want = model.predict(X.astype(dtype))
        rtol = RTOL[np.dtype(dtype).type]
        assert _worst(got["y"], want, rtol, np.abs(want).max(axis=0)) <= rtol


@pytest.mark.filterwarnings("ignore::ninestep.preprocessing.DataWarning")
def test_cli_json_and_errors(tmp_path, capsys):
    import ninestep.cli as cli

    model = tmp_path / "model.npz"
    ns.save_model(model, _net([4, 8, 3], "relu", "softmax"), classes=["a", "b", "c"])
    assert cli.main(["export", "--model", str(model), "--out", str(tmp_path / "m.onnx"), "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["outputs"] == {"label": "(N,) string", "probabilities": "(N, 3) float"}
    assert result["opset"] == DEFAULT_OPSET
    from ninestep.ensemble import Ensemble

    ensemble = tmp_path / "ensemble.npz"
    Ensemble([2, 5, 1], n_members=3, seed=0).save(ensemble)
    assert cli.main(["export", "--model", str(ensemble), "--out", str(tmp_path / "e.onnx"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == {"y": "(N, 1) float", "y_std": "(N, 1) float"}
    table_model, _ = _table_model(_messy_table(np.random.default_rng(0), 100, "regression"))
    ns.save_model(tmp_path / "table.npz", table_model.net, preprocessor=table_model.preprocessor)
    assert cli.main(["export", "--model", str(tmp_path / "table.npz"), "--out", str(tmp_path / "t.onnx")]) == 0
    assert ("inputs:  area (N, 1) float, city (N, 1) string, garden (N, 1) string, rooms (N, 1) float\n"
            "outputs: y (N, 1) float\n") in capsys.readouterr().out
    assert cli.main(["export", "--model", str(model), "--out", str(tmp_path / "m.onnx"), "--format", "tflite"]) == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err
    assert cli.main(["export", "--model", str(model), "--out", str(tmp_path / "m.onnx"), "--opset", "9"]) == 1
    assert f"error: opset must be an int from {MIN_OPSET}" in capsys.readouterr().err
    assert cli.main(["export", "--model", str(tmp_path / "none.npz"), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "none.npz" in capsys.readouterr().err


if __name__ == "__main__":  # the worst errors over the agreement test's models: python tests/test_onnx_export.py
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        worst = {dtype: max(_check_against_ninestep(_model(Path(folder), *m), dtype) for m in MODELS)
                 for dtype in (np.float32, np.float64)}
    rows = sum(len(X) for X in _cases(True).values())
    print(f"{len(MODELS)} models x 2 dtypes, {rows:,} rows each, labels identical; worst error float32 graph "
          f"{worst[np.float32]:.2g} (tolerance 1e-5), float64 graph {worst[np.float64]:.2g} (1e-12)")
