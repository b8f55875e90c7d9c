"""``ninestep reproduce``: the article's exact set-up beside the default one, with a diagnosis."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from ..data import make_arithmetic, train_test_split
from ..network import Network
from ..optimizers import SGD, Adam
from ..scaling import StandardScaler
from ..metrics import mae
from ._common import DEFAULT_BATCH, DEFAULT_LAYERS, DEFAULT_LR, EXIT_OK, Out, UsageError, auto_epochs, auto_patience
from ._common import article_cases as _article_cases
from ._common import fmt as _fmt
from ._common import json_default as _json_default
from ._common import relu_usage as _relu_usage
from ._common import text_table as _table


def register(sub, common) -> None:
    """Add ``reproduce`` and its options to the subparsers ``sub``."""
    r = sub.add_parser("reproduce", parents=[common], help="the article's exact set-up, then the default, with a diagnosis")
    r.add_argument("--epochs", type=int, default=20_000,
                   help="epochs of the article's set-up (default 20,000: seconds, not the article's 13 minutes)")
    r.add_argument("--full", action="store_true", help="run the article's 1,000,000 epochs (3.5 minutes here)")
    r.add_argument("--lr", type=float, default=0.01, help="the article's learning rate (default 0.01)")
    r.add_argument("--default-epochs", type=int, help="epochs of the default configuration (default: as 'train')")
    r.add_argument("--seed", type=int, default=42, help="seed for data and weights (default 42, the article's)")
    r.set_defaults(run=run)


def run(args, out: Out) -> int:
    epochs = 1_000_000 if args.full else args.epochs
    if epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {epochs}.")
    X, y = make_arithmetic(10_000, seed=args.seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=False)
    xs, ys = StandardScaler().fit(X_train), StandardScaler().fit(y_train)
    Xs_train, Xs_test, T_train, T_test = xs.transform(X_train), xs.transform(X_test), ys.transform(y_train), ys.transform(y_test)
    names = ["a+b", "a-b", "|a-b|"]
    out(f"The article's set-up: 10,000 points (seed {args.seed}), first 70 % train / last 30 % test (unshuffled), "
        "scalers fitted on the training set,")
    out(f"[2, 4, 4, 3] ReLU/linear, He-initialised W and b, full-batch gradient descent, lr {args.lr:g}, "
        f"{epochs:,} epochs" + (" (the article: 1,000,000; --full runs them)." if epochs != 1_000_000 else "."))
    net = Network([2, 4, 4, 3], seed=args.seed, bias_init="same")
    report = max(1, epochs // 10)

    def every(epoch, logs):
        if (epoch + 1) % report == 0:
            out(f"        epoch {epoch + 1:>9,}  loss {logs['loss']:.4f}")

    start = time.perf_counter()
    with warnings.catch_warnings():
        # The article's run is meant to end before it converges; the warning would repeat the printed loss.
        warnings.simplefilter("ignore")
        history = net.fit(Xs_train, T_train, loss="mse", optimizer=SGD(lr=args.lr), epochs=epochs,
                          batch_size=None, shuffle=False, callback=every)
    article_seconds = time.perf_counter() - start

    out("\nThe default configuration of 'ninestep train', on the same split:")
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.1, seed=args.seed)
    T_fit, T_val = ys.transform(y_fit), ys.transform(y_val)
    default = Network([2, *DEFAULT_LAYERS, 3], seed=args.seed)
    default_epochs = args.default_epochs or auto_epochs(len(X_fit), DEFAULT_BATCH)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h2 = default.fit(xs.transform(X_fit), T_fit, optimizer=Adam(lr=DEFAULT_LR),
                         epochs=default_epochs, batch_size=DEFAULT_BATCH, seed=args.seed,
                         validation_data=(xs.transform(X_val), T_val), patience=auto_patience(default_epochs),
                         lr_schedule="cosine")
    default_seconds = time.perf_counter() - start

    rows, result = [], {}
    for label, model, hist, secs in (("article", net, history, article_seconds),
                                     ("default", default, h2, default_seconds)):
        pred = ys.inverse_transform(model.forward(Xs_test))
        cases = _article_cases(model, xs, ys)
        usage = _relu_usage(model, Xs_train)
        curve = hist.loss
        half = curve[len(curve) // 2]
        result[label] = {
            "layers": model.layer_sizes, "n_params": model.n_params, "epochs": hist.epochs, "seconds": secs,
            "train_loss": model.evaluate(Xs_train, T_train), "test_loss": model.evaluate(Xs_test, T_test),
            "test_mae": dict(zip(names, mae(y_test, pred, multioutput="raw_values").tolist())),
            "dead_relu_fraction": usage[0],
            "linear_pieces": usage[1],
            "hidden_units": sum(layer.n_out for layer in model.layers[:-1]),
            "loss_drop_second_half": (half - curve[-1]) / half if half > 0 else 0.0,
            "cases": cases,
        }
    a, d = result["article"], result["default"]
    side = [
        ["layers", str(a["layers"]), str(d["layers"])],
        ["parameters", str(a["n_params"]), str(d["n_params"])],
        ["init", "He W and b", "He W, zero b"],
        ["optimiser", f"GD lr {args.lr:g}, full batch", f"Adam lr {DEFAULT_LR:g}, cosine, batch {DEFAULT_BATCH}"],
        ["epochs (time)", f"{a['epochs']:,} ({a['seconds']:.1f} s)", f"{d['epochs']} ({d['seconds']:.1f} s)"],
        ["train loss", _fmt(a["train_loss"]), _fmt(d["train_loss"])],
        ["test loss", _fmt(a["test_loss"]), _fmt(d["test_loss"])],
        *[[f"test MAE {n}", f"{a['test_mae'][n]:.3f}", f"{d['test_mae'][n]:.3f}"] for n in names],
        ["dead ReLU units", ", ".join(f"{f:.0%}" for f in a["dead_relu_fraction"]),
         ", ".join(f"{f:.0%}" for f in d["dead_relu_fraction"])],
        ["linear pieces used", str(a["linear_pieces"]), str(d["linear_pieces"])],
    ]
    for i, c in enumerate(a["cases"]):
        side.append([f"({c['a']:.0f}, {c['b']:.0f})" + (" *" if c["outside_training_range"] else ""),
                     " ".join(f"{v:.1f}" for v in c["prediction"]),
                     " ".join(f"{v:.1f}" for v in d["cases"][i]["prediction"])])
    out.block(_table(["", "article", "default"], side))
    out("        * outside the training range [0, 100); truth (100, -40, 40), (100, 40, 40), (8, -2, 2), "
        "(1010, 766, 766)")

    out("\nDiagnosis (measured in this run):")
    dead_units = round(sum(f * layer.n_out for f, layer in zip(a["dead_relu_fraction"], net.layers[:-1])))
    if dead_units:
        out(f"  - dead units: {dead_units} of the article net's {a['hidden_units']} hidden ReLU units never fire on "
            f"any training row ({', '.join(f'{f:.0%}' for f in a['dead_relu_fraction'])} per layer). A dead unit "
            "passes no gradient, so gradient descent never revives it.")
    else:
        out(f"  - dead units: none of the article net's {a['hidden_units']} hidden ReLU units is dead with this "
            "seed (other seeds kill some: try --seed 1, 2, ...).")
    out(f"  - capacity: {a['n_params']} parameters; on the training rows the article's net uses "
        f"{a['linear_pieces']} linear pieces (distinct on/off patterns of its ReLU units), the default net "
        f"{d['linear_pieces']} ({d['n_params']} parameters). |a-b| bends along a = b, and few pieces fit it coarsely.")
    worst = max(names, key=lambda n: a["test_mae"][n])
    out(f"  - per output: the article's worst test MAE is {worst} ({a['test_mae'][worst]:.3f}) against "
        f"{d['test_mae'][worst]:.3f} for the default.")
    out(f"  - progress: the article's loss fell {a['loss_drop_second_half']:.1%} over the second half of its "
        f"{a['epochs']:,} epochs" + (" - it has stalled." if a["loss_drop_second_half"] < 0.01 else
                                     " - it is still falling" + ("; --full runs the article's 1,000,000 epochs."
                                                                 if a["epochs"] < 1_000_000 else ".")))
    far = [np.subtract(r["cases"][3]["prediction"], r["cases"][3]["truth"]) for r in (a, d)]
    out(f"  - outside the training range, (888, 122) is off by {' '.join(f'{v:+.0f}' for v in far[0])} (article) and "
        f"{' '.join(f'{v:+.0f}' for v in far[1])} (default): a ReLU net continues its last linear pieces, "
        "so neither is to be trusted there.")
    if out.as_json:
        print(json.dumps(result, default=_json_default))
    return EXIT_OK

