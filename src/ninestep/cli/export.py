"""``ninestep export``: a model file as an ONNX graph, for onnxruntime in any language.

The graph takes raw features, as ``ninestep predict`` does; see
:mod:`ninestep.onnx_export` and docs/onnx.md for what it holds.
"""

from __future__ import annotations

import os

from .. import load, load_model
from ..ensemble import Ensemble
from ..onnx_export import DEFAULT_OPSET, to_onnx
from ._common import EXIT_OK, Out, print_json


def register(sub, common) -> None:
    """Add ``export`` and its options to the subparsers ``sub``."""
    ex = sub.add_parser("export", parents=[common], help="write a saved model as an ONNX graph",
                        description="Write a model file as an ONNX graph that takes raw features (input "
                                    "scaling, every layer, output scaling or class labels inside). Needs the "
                                    "onnx package: pip install 'ninestep[onnx]'.")
    ex.add_argument("--model", required=True, help="model file written by 'ninestep train' (or an ensemble's file)")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="output format (default onnx)")
    ex.add_argument("--out", required=True, help="file to write, e.g. model.onnx")
    ex.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                    help="type of the input, weights and arithmetic (default float32, what ONNX runtimes expect)")
    ex.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                    help=f"ONNX operator set (default {DEFAULT_OPSET}: onnxruntime 1.12 and later)")
    ex.set_defaults(run=run)


def _shape(value) -> str:
    """``"(N, 4) float"``: a graph input's or output's shape and element type."""
    from onnx import TensorProto

    dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
    shape = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
    return f"{shape} {TensorProto.DataType.Name(value.type.tensor_type.elem_type).lower()}"


def run(args, out: Out) -> int:
    model = load(args.model)
    if not isinstance(model, Ensemble):  # load_model keeps the names that load drops for a bare network
        model = load_model(args.model)
    names, classes = getattr(model, "feature_names", None), getattr(model, "classes", None)
    proto = to_onnx(model, args.out, dtype=args.dtype, opset=args.opset)
    inputs = [(v.name, _shape(v)) for v in proto.graph.input]
    outputs = [(v.name, _shape(v)) for v in proto.graph.output]
    ops = [node.op_type for node in proto.graph.node]
    out(f"wrote {args.out}: ONNX opset {args.opset}, {args.dtype}, {os.path.getsize(args.out):,} bytes")
    named = inputs[0][0] == "X" and names  # one matrix: say which column is which
    out(("inputs:  " if len(inputs) > 1 else "input:   ") + ", ".join(f"{name} {shape}" for name, shape in inputs)
        + (f", columns {', '.join(names)}" if named else ""))
    out("outputs: " + ", ".join(f"{name} {shape}" for name, shape in outputs)
        + (f"; classes {', '.join(map(str, classes))}" if classes is not None else ""))
    out(f"graph:   {' -> '.join(ops)}")
    if out.as_json:
        print_json({"out": args.out, "format": args.format, "opset": args.opset, "dtype": args.dtype,
                    "inputs": dict(inputs), "outputs": dict(outputs), "ops": ops})
    return EXIT_OK
