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
its forward pass alone: input "X", output "y". An
:class:`~ninestep.ensemble.Ensemble` exports every member side by side and
what ``Ensemble.predict(X, return_std=True)`` returns: their mean "y" and
spread "y_std" (standard deviation over the members), each (N, n_outputs).

A model that holds a :class:`~ninestep.preprocessing.TablePreprocessor`
(text columns, gaps) takes one input per raw column instead of "X", each
(N, 1): a number column as floats with NaN for a missing cell; a yes/no or
text column as strings, cells as written but with surrounding spaces
removed. The graph then fills gaps with the training median or most
frequent value (IsNaN, LabelEncoder, Where), adds the ``<column>_missing``
indicators, reads yes/no words as 1/0, one-hot encodes categories (an
unseen one becomes all zeros), and standardises the number columns, before
the layers above. Missing-value words and yes/no words match ignoring the
case of ASCII letters, as ninestep does.

Everything that cannot be written exactly is refused with an error that
names it - an activation the exporter does not know, a scaler of another
kind, preprocessing of a kind this module does not know, weights too large
for float32 - so that nothing is exported silently wrong. Every model is
checked with ``onnx.checker.check_model`` before it is returned.

The ``onnx`` package (the optional extra ``ninestep[onnx]``) is imported
here only, inside :func:`to_onnx`; ``import ninestep`` never imports it.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import numpy as np

from ._validation import check_dtype
from .archive import atomic_write_bytes
from .ensemble import Ensemble
from .activations import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .network import Network
from .preprocessing import BOOLEAN_WORDS, TablePreprocessor
from .scaling import StandardScaler

__all__ = ["to_onnx", "DEFAULT_OPSET", "MIN_OPSET"]

#: Opset 17 (ONNX 1.12, 2022): run by onnxruntime 1.12 and later, onnxruntime-web and mobile.
DEFAULT_OPSET = 17
#: Every operator used here has had its present form since opset 13.
MIN_OPSET = 13

#: What the exporter knows of a SavedModel; any other attribute that holds a value is
#: preprocessing it would leave out, so it is refused rather than exported wrong.
_KNOWN_PARTS = {"net", "x_scaler", "y_scaler", "classes", "task", "feature_names", "target_names", "info",
                "preprocessor"}

#: Activation classes and their ONNX operator (None: nothing to add). The exact class is
#: looked up, so a user's subclass with its own forward is refused, not exported as its parent.
_ELEMENTWISE = {ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh", Linear: None}


def to_onnx(model: Any, path: str | os.PathLike | None = None, *, dtype: Any = np.float32,
            opset: int = DEFAULT_OPSET):
    """Build the ONNX graph of ``model``'s prediction from raw features; optionally write it.

    Parameters
    ----------
    model : SavedModel, Network or Ensemble
        What :func:`ninestep.load_model` returns (network, scalers, class
        names), a bare network (its forward pass only), or an ensemble
        (the members' mean and spread).
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
        Input "X" (N, n_features), or one (N, 1) input per raw column for
        a model with a TablePreprocessor; outputs "y" (N, n_outputs) for
        regression and bare networks, "y" and "y_std" for an ensemble, or
        "label" (N,) and "probabilities" (N, n_classes) for classifiers
        (see the module docstring).

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
    inputs, outputs = graph.inputs, [(n, e, ["N", *shape]) for n, e, shape in outputs]

    def listed(values):
        return ", ".join(f"{name} ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"
                         for name, _, shape in values)

    doc = (f"ninestep {net.layer_sizes} network ({', '.join(layer.activation.name for layer in net.layers)}), "
           f"{dt.name}: input{'s' if len(inputs) > 1 else ''} {listed(inputs)} of raw features; "
           f"outputs {listed(outputs)}.")
    onnx_graph = helper.make_graph(graph.nodes, "ninestep",
                                   [helper.make_tensor_value_info(*value) for value in inputs],
                                   [helper.make_tensor_value_info(*value) for value in outputs],
                                   initializer=graph.initializers, doc_string=doc)
    # ai.onnx.ml (LabelEncoder) only where a table's text columns need it; version 3 goes with opset 17
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if graph.uses_ml else [])
    proto = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="ninestep",
                              producer_version=_version(), doc_string=doc)
    # The oldest IR version that carries this opset, so that older runtimes load the file too.
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(proto, _metadata(parts))
    internal = {name for node in graph.nodes for name in node.output} | {t.name for t in graph.initializers}
    clash = [name for name, _, _ in inputs if name in internal]
    if clash:
        raise ValueError(f"column {clash[0]!r} has the name of a tensor inside the graph; rename the column "
                         "and retrain, or export without it.")
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write_bytes(path, proto.SerializeToString())
    return proto


# ---------------------------------------------------------------------- what the model holds
def _parts(model: Any) -> dict[str, Any]:
    """The network, scalers and class names of a SavedModel or bare Network, each checked."""
    if isinstance(model, (Network, Ensemble)):
        members = model.members if isinstance(model, Ensemble) else [model]
        return {"net": members[0], "members": members, "x_scaler": None, "y_scaler": None, "classes": None,
                "table": None, "feature_names": None, "target_names": None}
    net = getattr(model, "net", None)
    if not isinstance(net, Network):
        raise TypeError(f"to_onnx needs a ninestep.Network, an Ensemble or the SavedModel that "
                        f"ninestep.load_model returns, got {type(model).__name__}.")
    parts = {k: getattr(model, k) for k in ("net", "x_scaler", "y_scaler", "classes", "feature_names",
                                             "target_names")}
    parts["members"] = [net]
    parts["table"] = _table(model, parts)
    extra = sorted(k for k, v in vars(model).items() if k not in _KNOWN_PARTS
                   and v is not None and not (hasattr(v, "__len__") and len(v) == 0))
    if extra:
        raise ValueError(f"the model holds {', '.join(map(repr, extra))}, preprocessing that the ONNX exporter "
                         "does not cover yet; exporting without it would give wrong predictions on raw data.")
    for name in ("x_scaler", "y_scaler"):
        scaler = getattr(model, name)
        if scaler is not None and type(scaler) is not StandardScaler:
            raise TypeError(f"the model's {name} is a {type(scaler).__name__}; only ninestep.StandardScaler "
                            "can be exported to ONNX.")
    return parts


def _table(model: Any, parts: dict) -> TablePreprocessor | None:
    """The model's TablePreprocessor, if any, with the scalers set as SavedModel.predict uses them beside it."""
    table = getattr(model, "preprocessor", None)
    if table is None:
        return None
    if type(table) is not TablePreprocessor:
        raise TypeError(f"the model's preprocessor is a {type(table).__name__}; only ninestep.TablePreprocessor "
                        "can be exported to ONNX.")
    if not hasattr(table, "columns_"):
        raise ValueError("the model's preprocessor is not fitted; there is nothing to export.")
    if table.missing == "error":
        raise ValueError("the model's preprocessor has missing='error': ninestep refuses rows with gaps, but an "
                         "ONNX graph cannot refuse, so it would fill them without a word. Retrain with "
                         "missing='impute' (the default) to export it.")
    # predict reads the table's own scaling of its number columns, not x_scaler, and unscales with its
    # target scaler when there is one
    parts["x_scaler"] = None
    if table.target_scaler_ is not None:
        parts["y_scaler"] = table.target_scaler_
    return table


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


def _spellings(words: set[str]) -> list[str]:
    """Every mix of upper and lower case of each word: a lookup of these ignores case, as str.lower() does
    for ASCII letters (ONNX's StringNormalizer would need a locale, which runtimes may lack)."""
    return sorted({"".join(p) for w in words for p in itertools.product(*({ch.lower(), ch.upper()} for ch in w))})


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
        self.inputs: list[tuple[str, int, list]] = []  # (name, element type, shape) of each graph input
        self.uses_ml = False  # whether a node of the ai.onnx.ml domain was added

    def input(self, name: str, elem: int, width: int) -> str:
        self.inputs.append((name, elem, ["N", width]))  # "N": the number of rows, dynamic
        return name

    def constant(self, name: str, value: np.ndarray, what: str, cast: bool = True) -> str:
        """Add ``value`` as a constant tensor; floats become the export dtype unless ``cast`` is False."""
        from onnx import numpy_helper

        if cast and value.dtype.kind == "f":
            with np.errstate(over="ignore"):
                converted = value.astype(self.dtype)
            if not np.isfinite(converted).all():
                raise ValueError(f"{what} holds values that are not finite in {self.dtype.name} "
                                 f"(largest |value| {np.abs(value).max():.3g}); export with dtype=np.float64.")
            value = converted
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def prediction(self, net: Network, members: list[Network], x_scaler, y_scaler, classes, table,
                   **_) -> list[tuple[str, int, list[int]]]:
        """Add every step of the prediction; return the outputs as (name, element type, shape without N)."""
        A = self.table(table, net.n_inputs) if table is not None else self.input("X", self.elem, net.n_inputs)
        if x_scaler is not None:  # (X - mean) / scale, the order StandardScaler.transform uses
            A = self.node("Sub", [A, self.constant("x_mean", x_scaler.mean_, "the input scaler's mean")], "X_centred")
            A = self.node("Div", [A, self.constant("x_scale", x_scaler.scale_, "the input scaler's scale")], "A0")
        if len(members) > 1:
            return self.ensemble(A, members)
        A = self.layers(A, net)
        if classes is not None:
            return self.classifier(A, net, classes)
        if y_scaler is not None:  # Z * scale + mean, as StandardScaler.inverse_transform
            scale = self.constant("y_scale", y_scaler.scale_, "the target scaler's scale")
            A = self.node("Mul", [A, scale], "y_scaled")
            A = self.node("Add", [A, self.constant("y_mean", y_scaler.mean_, "the target scaler's mean")], "y_raw")
        self.node("Identity", [A], "y")
        return [("y", self.elem, [net.n_outputs])]

    def layers(self, A: str, net: Network, prefix: str = "") -> str:
        """``Z^l = A^{l-1} W^l + b^l`` and ``A^l = sigma_l(Z^l)`` for every layer; returns the output's name."""
        for l, layer in enumerate(net.layers, start=1):
            where = f"{prefix}layer {l}"
            if not (np.isfinite(layer.W).all() and np.isfinite(layer.b).all()):
                raise ValueError(f"{where}'s weights hold NaN or infinity; there is nothing sensible to export.")
            W = self.constant(f"{prefix}W{l}", layer.W, f"{where}'s W")
            b = self.constant(f"{prefix}b{l}", layer.b, f"{where}'s b")
            A = self.activation(self.node("Gemm", [A, W, b], f"{prefix}Z{l}"), layer.activation, l, prefix)
        return A

    def ensemble(self, A: str, members: list[Network]) -> list[tuple[str, int, list[int]]]:
        """Ensemble.predict: the members' mean as "y", and their spread (std, ddof=0) as "y_std"."""
        # Sum, then divide by K, as NumPy's mean does (onnxruntime's Mean has no float64 kernel)
        K = self.constant("K", np.array(float(len(members))), "the number of members")
        outs = [self.layers(A, net, f"member {k} ") for k, net in enumerate(members)]
        mean = self.node("Div", [self.node("Sum", outs, "members_sum"), K], "y")
        squares = [self.node("Mul", [d, d], f"{d}^2")
                   for d in (self.node("Sub", [y, mean], f"member {k} deviation") for k, y in enumerate(outs))]
        variance = self.node("Div", [self.node("Sum", squares, "squares_sum"), K], "variance")
        self.node("Sqrt", [variance], "y_std")
        width = [members[0].n_outputs]
        return [("y", self.elem, width), ("y_std", self.elem, width)]

    def table(self, table: TablePreprocessor, width: int) -> str:
        """``TablePreprocessor.transform`` in the graph: one input per raw column, imputed, encoded, scaled.

        A number column is a float input, NaN for a missing cell; a yes/no or
        text column is a string input, each cell as written with surrounding
        spaces removed (ninestep strips them; ONNX has no operator that does).
        """
        from onnx import TensorProto

        na = _spellings({v.strip().lower() for v in table.na_values} | {""})
        words = {**BOOLEAN_WORDS, "1": 1, "0": 0}  # the cells TablePreprocessor reads as yes/no
        blocks, scaled = [], []  # the output columns, and which of them the scaler standardises
        for c in table.columns_:
            name, kind = c["name"], c["kind"]
            if kind == "number":
                x = self.input(name, self.elem, 1)
                gap = self.node("IsNaN", [x], f"{name}:gap")
                fill = self.constant(f"{name}:fill", np.array(c["fill"]), f"column {name!r}'s fill value")
                blocks.append(self.node("Where", [gap, fill, x], f"{name}:filled"))
                scaled.append(True)
            else:
                text = self.input(name, TensorProto.STRING, 1)
                missing = self.node("Cast", [self.lookup(text, dict.fromkeys(na, 1), 0, f"{name}:na")],
                                    f"{name}:missing", to=TensorProto.BOOL)
                if kind == "bool":
                    code = self.lookup(text, {s: v for w, v in words.items() for s in _spellings({w})}, -1,
                                       f"{name}:code")
                    no_word = self.constant(f"{name}:no_word", np.array(-1, dtype=np.int64), "")
                    unread = self.node("Equal", [code, no_word], f"{name}:unread")
                    gap = self.node("Or", [missing, unread], f"{name}:gap")
                    value = self.node("Cast", [code], f"{name}:value", to=self.elem)
                    fill = self.constant(f"{name}:fill", np.array(c["fill"]), f"column {name!r}'s fill value")
                    blocks.append(self.node("Where", [gap, fill, value], f"{name}:filled"))
                    scaled.append(False)
                else:  # one-hot: a missing cell counts as the fill category, an unseen one as none
                    categories, gap = c["categories"], missing
                    index = self.lookup(text, {v: k for k, v in enumerate(categories)}, -1, f"{name}:index")
                    fill = self.constant(f"{name}:fill", np.array(categories.index(c["fill"]), dtype=np.int64), "")
                    index = self.node("Where", [missing, fill, index], f"{name}:filled")
                    codes = self.constant(f"{name}:codes", np.arange(len(categories), dtype=np.int64), "")
                    hot = self.node("Equal", [index, codes], f"{name}:hot")
                    blocks.append(self.node("Cast", [hot], f"{name}:onehot", to=self.elem))
                    scaled += [False] * len(categories)
            if c["indicator"]:
                blocks.append(self.node("Cast", [gap], f"{name}_missing", to=self.elem))
                scaled.append(False)
        if len(scaled) != width:
            raise ValueError(f"the model's table preprocessing gives {len(scaled)} columns but the network takes "
                             f"{width}; they were not fitted together.")
        A = self.node("Concat", blocks, "table", axis=1)
        if table.scaler_ is None:
            return A
        # Only the number columns are standardised; 0 and 1 leave the 0/1 columns exactly as they are.
        mean, scale = np.zeros(len(scaled)), np.ones(len(scaled))
        mean[scaled], scale[scaled] = table.scaler_.mean_, table.scaler_.scale_
        A = self.node("Sub", [A, self.constant("x_mean", mean, "the table's scaler mean")], "X_centred")
        return self.node("Div", [A, self.constant("x_scale", scale, "the table's scaler scale")], "A0")

    def lookup(self, text: str, table: dict, default: int, output: str) -> str:
        """int64 code of each string cell from ``table`` (``default`` when absent): ai.onnx.ml's LabelEncoder."""
        self.uses_ml = True
        keys = sorted(table)
        return self.node("LabelEncoder", [text], output, domain="ai.onnx.ml", keys_strings=keys,
                         values_int64s=[int(table[k]) for k in keys], default_int64=default)

    def activation(self, Z: str, act, l: int, prefix: str = "") -> str:
        kind, A = type(act), f"{prefix}A{l}"
        if kind in _ELEMENTWISE:
            op = _ELEMENTWISE[kind]
            return Z if op is None else self.node(op, [Z], A)
        if kind is Softmax:
            return self.node("Softmax", [Z], A, axis=1)
        if kind is LeakyReLU:
            if self.dtype == np.float32:  # LeakyRelu's alpha attribute is a float32: exact here only
                return self.node("LeakyRelu", [Z], A, alpha=act.slope)
            # In float64 the float32 alpha would be off by ~1e-9 relative, so spell out
            # np.where(Z > 0, Z, Z * slope) with the slope as a float64 constant.
            slope = self.constant(f"{prefix}slope{l}", np.array(act.slope), f"{prefix}layer {l}'s leaky_relu slope")
            zero = self.constant(f"{prefix}zero{l}", np.array(0.0), "zero")
            positive = self.node("Greater", [Z, zero], f"{Z}_positive")
            leaked = self.node("Mul", [Z, slope], f"{Z}_leaked")
            return self.node("Where", [positive, Z, leaked], A)
        raise ValueError(f"{prefix}layer {l}'s activation {getattr(act, 'name', '')!r} ({kind.__name__}) cannot be "
                         "exported to ONNX; exportable: relu, leaky_relu, sigmoid, tanh, linear, softmax.")

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
