"""``ninestep gradcheck``: back-propagation against central differences on a random network."""

from __future__ import annotations

import numpy as np

from ..gradcheck import check_gradients
from ..network import Network
from ._common import EXIT_ERROR, EXIT_OK, Out, UsageError, integer, number, parse_layers, print_json, text_table


def register(sub, common) -> None:
    """Add ``gradcheck`` and its options to the subparsers ``sub``."""
    gc = sub.add_parser("gradcheck", parents=[common], help="check back-propagation against central differences")
    gc.add_argument("--inputs", type=integer, default=3, help="input features (default 3)")
    gc.add_argument("--layers", default="5,4", help="hidden-layer widths (default 5,4)")
    gc.add_argument("--outputs", type=integer, default=2, help="outputs (default 2)")
    gc.add_argument("--activation", default="tanh", choices=["relu", "leaky_relu", "tanh", "sigmoid", "linear"],
                    help="hidden activation (default tanh: smooth, so no kinks disturb the check)")
    gc.add_argument("--loss", default="mse", choices=["mse", "cross_entropy", "binary_cross_entropy"])
    gc.add_argument("--samples", type=integer, default=8, help="random samples (default 8)")
    gc.add_argument("--alpha", type=number, default=0.0, help="L2 penalty to include (default 0)")
    gc.add_argument("--eps", type=number, default=1e-6, help="central-difference step (default 1e-6)")
    gc.add_argument("--tolerance", type=number, default=1e-6, help="largest acceptable relative error (default 1e-6)")
    gc.add_argument("--seed", type=integer, default=0)
    gc.add_argument("--keep-kinks", action="store_true",
                    help="also compare the entries whose central difference crosses a ReLU kink (default: left out)")
    gc.set_defaults(run=run)


def run(args, out: Out) -> int:
    output = {"mse": "linear", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[args.loss]
    for name in ("inputs", "outputs", "samples"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be >= 1, got {getattr(args, name)}.")
    for name in ("eps", "tolerance"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name} must be > 0, got {getattr(args, name)}.")
    if args.alpha < 0 or args.seed < 0:
        raise UsageError(f"--alpha and --seed must be >= 0, got {args.alpha} and {args.seed}.")
    sizes = [args.inputs, *parse_layers(args.layers), args.outputs]
    if args.loss == "cross_entropy" and args.outputs < 2:
        raise UsageError("--loss cross_entropy needs --outputs >= 2.")
    rng = np.random.default_rng(args.seed)
    net = Network(sizes, activation=args.activation, output_activation=output, seed=rng)
    X = rng.standard_normal((args.samples, args.inputs))
    if args.loss == "mse":
        y = rng.standard_normal((args.samples, args.outputs))
    elif args.loss == "cross_entropy":
        y = rng.integers(0, args.outputs, args.samples)
    else:
        y = rng.integers(0, 2, (args.samples, args.outputs)).astype(np.float64)
    report = check_gradients(net, X, y, loss=args.loss, eps=args.eps, alpha=args.alpha, skip_kinks=not args.keep_kinks)
    worst = max(max(r["W"], r["b"]) for r in report)
    kinks = sum(r["W_kinks"] + r["b_kinks"] for r in report)
    ok = worst <= args.tolerance
    out(f"Gradient check: network {sizes}, {args.activation} -> {output}, loss {args.loss}, "
        f"{args.samples} random samples, eps {args.eps:g}" + (f", alpha {args.alpha:g}" if args.alpha else ""))
    out("relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) per layer:")
    out(text_table(["layer", "W shape", "W", "b", "left out (kinks)"],
                   [[str(r["layer"] + 1), str(net.layers[r["layer"]].W.shape), *_cells(r, net.layers[r["layer"]]),
                     f"{r['W_kinks']} W, {r['b_kinks']} b"] for r in report]))
    if kinks:
        out(f"{kinks} of {net.n_params} entries left out: moving one of them by +-eps moves some sample's "
            "pre-activation across a ReLU kink (Z = 0),\nwhere the derivative jumps and the central difference "
            "averages two slopes. Every other entry is compared; --keep-kinks compares these too.")
    out(f"{'OK' if ok else 'FAILED'}: largest error {worst:.2e} "
        f"{'<=' if ok else '>'} tolerance {args.tolerance:g}")
    if out.as_json:
        print_json({"layers": sizes, "report": report, "max_error": worst, "left_out": kinks, "ok": ok})
    return EXIT_OK if ok else EXIT_ERROR


def _cells(r: dict, layer) -> list[str]:
    """The W and b errors; "all left out" where no entry was compared (an error of 0 would claim a match)."""
    return ["all left out" if r[f"{name}_kinks"] == getattr(layer, name).size else f"{r[name]:.2e}"
            for name in ("W", "b")]
