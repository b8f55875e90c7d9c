"""Export a trained model to ONNX, so that onnxruntime (C++, C#, Java, JavaScript, mobile) can serve it.

The graph holds the whole prediction from raw features, exactly as
``SavedModel.predict`` computes it, one ONNX operator per equation::

    X                                    input "X", (N, n_features), float32 (default) or float64
    A^0 = (X - x_mean) / x_scale         Sub, Div      when the model stores an input scaler
    Z^l = A^{l-1} W^l + b^l              Gemm          l = 1 .. L, W^l (N_{l-1}, N_l) as in ninestep
    A^l = sigma_l(Z^l)                   Relu, LeakyRelu, Sigmoid, Tanh, Softmax; linear adds nothing
    regression:     y = A^L * y_scale + y_mean     Mul, Add       output "y", (N, n_outputs)
    classification: P = A^L  (one output p: [1 - p, p])  Sub, Concat  output "probabilities", (N, n_classes)
                    label = classes[ArgMax(P, axis 1)]   ArgMax, Gather  output "label", (N,)

The batch dimension ``N`` is dynamic. "probabilities" is what
``SavedModel.predict_proba`` returns and "label" what ``predict`` returns;
class names keep their type: text becomes a string tensor, whole numbers
int64, other numbers float64. A bare :class:`~ninestep.Network` exports
its forward pass alone: input "X", output "y".

Everything that cannot be written exactly is refused with an error that
names it - an activation the exporter does not know, a scaler of another
kind, preprocessing the model file holds but this module does not cover
yet, weights too large for float32 - so that nothing is exported silently
wrong. Every model is checked with ``onnx.checker.check_model`` before it
is returned.

The ``onnx`` package (the optional extra ``ninestep[onnx]``) is imported
here only, inside :func:`to_onnx`; ``import ninestep`` never imports it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ._validation import check_dtype
from .archive import atomic_write_bytes
from .activations import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .network import Network
from .scaling import StandardScaler

__all__ = ["to_onnx", "DEFAULT_OPSET", "MIN_OPSET"]

#: Opset 17 (ONNX 1.12, 2022): run by onnxruntime 1.12 and later, onnxruntime-web and mobile.
DEFAULT_OPSET = 17
#: Every operator used here has had its present form since opset 13.
MIN_OPSET = 13

#: What the exporter knows of a SavedModel; any other attribute that holds a value is
#: preprocessing it would leave out, so it is refused rather than exported wrong.
_KNOWN_PARTS = {"net", "x_scaler", "y_scaler", "classes", "task", "feature_names", "target_names", "info"}

#: Activation classes and their ONNX operator (None: nothing to add). The exact class is
#: looked up, so a user's subclass with its own forward is refused, not exported as its parent.
_ELEMENTWISE = {ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh", Linear: None}


def to_onnx(model: Any, path: str | os.PathLike | None = None, *, dtype: Any = np.float32,
            opset: int = DEFAULT_OPSET):
    """Build the ONNX graph of ``model``'s prediction from raw features; optionally write it.

    Parameters
    ----------
    model : SavedModel or Network
        What :func:`ninestep.load_model` returns (network, scalers, class
        names), or a bare network (its forward pass only).
    path : str or path-like, optional
        Where to write the ``.onnx`` file, atomically (a temporary file in
        the same folder, fsync-ed, then moved over ``path``).
    dtype : numpy.float32 (default) or numpy.float64
        Type of the input, the weights and the arithmetic. float32 is what
        ONNX runtimes expect; float64 reproduces a float64 model to
        round-off.
    opset : int, default :data:`DEFAULT_OPSET` (17)
        The ONNX operator set, from :data:`MIN_OPSET` (13) to the newest the
        installed ``onnx`` knows.

    Returns
    -------
    onnx.ModelProto
        Input "X" (N, n_features); outputs "y" (N, n_outputs) for
        regression and bare networks, or "label" (N,) and "probabilities"
        (N, n_classes) for classifiers (see the module docstring).

    Raises
    ------
    ImportError
        The ``onnx`` package is not installed.
    TypeError, ValueError
        Something in the model cannot be exported exactly; the message
        names it.
    """
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'ninestep[onnx]' "
                          "(or pip install onnx).") from None
    dt = check_dtype(dtype)
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be an int from {MIN_OPSET} to {newest} (the newest the installed onnx "
                         f"knows), got {opset!r}; the default {DEFAULT_OPSET} runs on onnxruntime 1.12 and later.")
    parts = _parts(model)
    graph = _Graph(dt, TensorProto.FLOAT if dt == np.float32 else TensorProto.DOUBLE)
    outputs = graph.prediction(**parts)

    net = parts["net"]
    n_rows = "N"  # a named dynamic dimension: every output has as many rows as X
    inputs = [helper.make_tensor_value_info("X", graph.elem, [n_rows, net.n_inputs])]
    value_infos = [helper.make_tensor_value_info(name, elem, [n_rows, *shape]) for name, elem, shape in outputs]
    doc = (f"ninestep {net.layer_sizes} network ({', '.join(layer.activation.name for layer in net.layers)}), "
           f"{dt.name}: input X (N, {net.n_inputs}) of raw features; outputs "
           + ", ".join(f"{name} (N{''.join(f', {n}' for n in shape)})" for name, _, shape in outputs) + ".")
    onnx_graph = helper.make_graph(graph.nodes, "ninestep", inputs, value_infos,
                                   initializer=graph.initializers, doc_string=doc)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="ninestep",
                              producer_version=_version(), doc_string=doc)
    # The oldest IR version that carries this opset, so that older runtimes load the file too.
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(proto, _metadata(parts))
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write_bytes(path, proto.SerializeToString())
    return proto


# ---------------------------------------------------------------------- what the model holds
def _parts(model: Any) -> dict[str, Any]:
    """The network, scalers and class names of a SavedModel or bare Network, each checked."""
    if isinstance(model, Network):
        return {"net": model, "x_scaler": None, "y_scaler": None, "classes": None,
                "feature_names": None, "target_names": None}
    net = getattr(model, "net", None)
    if not isinstance(net, Network):
        raise TypeError(f"to_onnx needs a ninestep.Network or the SavedModel that ninestep.load_model "
                        f"returns, got {type(model).__name__}.")
    extra = sorted(k for k, v in vars(model).items() if k not in _KNOWN_PARTS and v is not None
                   and not (hasattr(v, "__len__") and len(v) == 0))
    if extra:
        raise ValueError(f"the model holds {', '.join(map(repr, extra))}, preprocessing that the ONNX exporter "
                         "does not cover yet; exporting without it would give wrong predictions on raw data.")
    for name in ("x_scaler", "y_scaler"):
        scaler = getattr(model, name)
        if scaler is not None and type(scaler) is not StandardScaler:
            raise TypeError(f"the model's {name} is a {type(scaler).__name__}; only ninestep.StandardScaler "
                            "can be exported to ONNX.")
    return {"net": net, "x_scaler": model.x_scaler, "y_scaler": model.y_scaler,
            "classes": model.classes, "feature_names": model.feature_names, "target_names": model.target_names}


def _class_array(classes: list) -> np.ndarray:
    """Class names as a NumPy array of one ONNX-storable type: text, int64 or float64."""
    if all(isinstance(c, str) for c in classes):
        return np.array(classes, dtype=object)
    if any(isinstance(c, (str, bytes)) or not isinstance(c, (int, float, np.number)) or isinstance(c, bool)
           for c in classes):
        raise ValueError(f"the class names {classes!r:.80} mix text and numbers (or hold other objects); the "
                         "ONNX label output needs a single type, so save the model with names of one type.")
    values = np.asarray(classes)
    if values.dtype.kind not in "if":  # whole numbers beyond int64 become an object array
        raise ValueError(f"the class names {classes!r:.80} do not fit int64 or float64.")
    return values.astype(np.int64 if values.dtype.kind == "i" else np.float64)


def _metadata(parts: dict) -> dict[str, str]:
    """Names a user needs beside the graph (ONNX metadata is a map of strings)."""
    meta = {"format": "ninestep", "layer_sizes": json.dumps(parts["net"].layer_sizes),
            "activations": json.dumps([layer.activation.name for layer in parts["net"].layers])}
    for key in ("feature_names", "target_names", "classes"):
        if parts[key] is not None:
            meta[key] = json.dumps(list(parts[key]))
    return meta


def _version() -> str:
    from . import __version__
    return __version__


# ---------------------------------------------------------------------- the graph
class _Graph:
    """Collects nodes and constants; each method adds one step and returns its output's name."""

    def __init__(self, dtype: np.dtype, elem: int):
        self.dtype, self.elem = dtype, elem
        self.nodes: list = []
        self.initializers: list = []

    def constant(self, name: str, value: np.ndarray, what: str, cast: bool = True) -> str:
        """Add ``value`` as a constant tensor; floats become the export dtype unless ``cast`` is False."""
        from onnx import numpy_helper

        if cast and value.dtype.kind == "f":
            with np.errstate(over="ignore"):
                cast = value.astype(self.dtype)
            if not np.isfinite(cast).all():
                raise ValueError(f"{what} holds values that are not finite in {self.dtype.name} "
                                 f"(largest |value| {np.abs(value).max():.3g}); export with dtype=np.float64.")
            value = cast
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def prediction(self, net: Network, x_scaler, y_scaler, classes, **_) -> list[tuple[str, int, list[int]]]:
        """Add every step of the prediction; return the outputs as (name, element type, shape without N)."""
        A = "X"
        if x_scaler is not None:  # (X - mean) / scale, the order StandardScaler.transform uses
            A = self.node("Sub", [A, self.constant("x_mean", x_scaler.mean_, "the input scaler's mean")], "X_centred")
            A = self.node("Div", [A, self.constant("x_scale", x_scaler.scale_, "the input scaler's scale")], "A0")
        for l, layer in enumerate(net.layers, start=1):
            if not (np.isfinite(layer.W).all() and np.isfinite(layer.b).all()):
                raise ValueError(f"layer {l}'s weights hold NaN or infinity; there is nothing sensible to export.")
            W = self.constant(f"W{l}", layer.W, f"layer {l}'s W")
            b = self.constant(f"b{l}", layer.b, f"layer {l}'s b")
            A = self.activation(self.node("Gemm", [A, W, b], f"Z{l}"), layer.activation, l)
        if classes is not None:
            return self.classifier(A, net, classes)
        if y_scaler is not None:  # Z * scale + mean, as StandardScaler.inverse_transform
            A = self.node("Mul", [A, self.constant("y_scale", y_scaler.scale_, "the target scaler's scale")], "y_scaled")
            A = self.node("Add", [A, self.constant("y_mean", y_scaler.mean_, "the target scaler's mean")], "y_raw")
        self.node("Identity", [A], "y")
        return [("y", self.elem, [net.n_outputs])]

    def activation(self, Z: str, act, l: int) -> str:
        kind = type(act)
        if kind in _ELEMENTWISE:
            op = _ELEMENTWISE[kind]
            return Z if op is None else self.node(op, [Z], f"A{l}")
        if kind is Softmax:
            return self.node("Softmax", [Z], f"A{l}", axis=1)
        if kind is LeakyReLU:
            if self.dtype == np.float32:  # LeakyRelu's alpha attribute is a float32: exact here only
                return self.node("LeakyRelu", [Z], f"A{l}", alpha=act.slope)
            # In float64 the float32 alpha would be off by ~1e-9 relative, so spell out
            # np.where(Z > 0, Z, Z * slope) with the slope as a float64 constant.
            slope = self.constant(f"slope{l}", np.array(act.slope), f"layer {l}'s leaky_relu slope")
            zero = self.constant(f"zero{l}", np.array(0.0), "zero")
            positive = self.node("Greater", [Z, zero], f"Z{l}_positive")
            leaked = self.node("Mul", [Z, slope], f"Z{l}_leaked")
            return self.node("Where", [positive, Z, leaked], f"A{l}")
        raise ValueError(f"layer {l}'s activation {getattr(act, 'name', '')!r} ({kind.__name__}) cannot be exported "
                         "to ONNX; exportable: relu, leaky_relu, sigmoid, tanh, linear, softmax.")

    def classifier(self, A: str, net: Network, classes: list) -> list[tuple[str, int, list[int]]]:
        """Probabilities as SavedModel.predict_proba gives them, their ArgMax, and the label lookup."""
        from onnx import TensorProto

        names = _class_array(list(classes))
        n_classes = 2 if net.n_outputs == 1 else net.n_outputs
        if len(names) != n_classes:
            raise ValueError(f"the model lists {len(names)} classes for a network with {net.n_outputs} outputs.")
        if net.n_outputs == 1:  # one output p stands for the pair [1 - p, p]
            below = self.node("Sub", [self.constant("one", np.array(1.0), "1"), A], "p_first")
            P = self.node("Concat", [below, A], "probabilities", axis=1)
        else:
            P = self.node("Identity", [A], "probabilities")
        # ArgMax, like NumPy's argmax, takes the first of equal maxima; on [1 - p, p] it picks the
        # second class exactly when p > 0.5 (1 - p is exact for p in [0.25, 1]), predict's threshold.
        index = self.node("ArgMax", [P], "index", axis=1, keepdims=0)
        self.node("Gather", [self.constant("classes", names, "classes", cast=False), index], "label", axis=0)
        label_elem = {"O": TensorProto.STRING, "i": TensorProto.INT64, "f": TensorProto.DOUBLE}[names.dtype.kind]
        return [("label", label_elem, []), (P, self.elem, [n_classes])]
