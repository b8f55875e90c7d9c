"""``ninestep reproduce``: the article's notebook run, exactly, then why it stalls and what fixes it.

1. The run: :mod:`ninestep.article` - the notebook's data and initial
   weights from ``numpy.random.RandomState(42)``, its split and scalers,
   full-batch gradient descent at lr 0.01. Every tenth of the run it
   prints the notebook's loss figure beside the MSE that gradient descent
   minimises; with ``--full`` (1,000,000 epochs, the notebook's) it sets
   every figure the notebook printed beside ours.
2. The diagnosis: which hidden units are dead on the training rows, since
   which epoch, and whether the initial draw or a step killed them
   (:class:`ninestep.diagnostics.DeadUnitTracker`).
3. The fixes, each trained for ``--fix-epochs`` from the same draw and
   measured beside the article's run at that epoch: zero biases, wider
   hidden layers, Adam (:data:`ninestep.article.FIXES`), and the default
   recipe of ``ninestep train``.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .. import article
from ..data import arithmetic_targets, train_test_split
from ..diagnostics import DeadUnitTracker, linear_pieces
from ..network import Network
from ..optimizers import Adam
from ..training import ConvergenceWarning
from ._common import (DEFAULT_BATCH, EXIT_OK, TRAIN_ALPHA, TRAIN_INIT, TRAIN_LAYERS, TRAIN_LR, Out, UsageError, auto_epochs,
                      auto_patience, integer, number, print_json, text_table)

OUTPUTS = ("a+b", "a-b", "|a-b|")
DEFAULT = "default recipe of 'ninestep train'"
#: Dead units are looked for every this many epochs (a check costs about half an epoch).
CHECK_EVERY = 10


def register(sub, common) -> None:
    """Add ``reproduce`` and its options to the subparsers ``sub``."""
    r = sub.add_parser("reproduce", parents=[common],
                       help="the article's notebook run, exactly; why it stalls, and what each fix does")
    r.add_argument("--epochs", type=integer, default=100_000,
                   help="epochs of the article's run (default 100,000: its first printed loss, 0.3502)")
    r.add_argument("--full", action="store_true",
                   help="the notebook's 1,000,000 epochs, compared figure by figure (5 minutes on 2 busy cores)")
    r.add_argument("--fix-epochs", type=integer, default=20_000,
                   help="epochs of each fix, compared with the article's run at that epoch (default 20,000; 0 skips)")
    r.add_argument("--default-epochs", type=integer,
                   help="epochs of the default recipe among the fixes (default: as 'ninestep train' chooses)")
    r.add_argument("--lr", type=number, default=article.LR, help="learning rate (default 0.01, the notebook's)")
    r.add_argument("--seed", type=integer, default=article.SEED,
                   help="seed of the RandomState that draws data and weights (default 42, the notebook's)")
    r.set_defaults(run=run)


def run(args, out: Out) -> int:
    epochs = article.EPOCHS if args.full else args.epochs
    if epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {epochs}.")
    if args.fix_epochs < 0:
        raise UsageError(f"--fix-epochs must be >= 0 (0 skips the fixes), got {args.fix_epochs}.")
    if args.seed < 0 or args.lr <= 0:
        raise UsageError(f"--seed must be >= 0 and --lr > 0, got --seed {args.seed} --lr {args.lr:g}.")
    fix_epochs = min(args.fix_epochs, epochs)
    as_notebook = args.seed == article.SEED and args.lr == article.LR
    printed = article.NOTEBOOK.losses if as_notebook else ()

    out("The article's run, as its notebook does it:")
    out(f"  {article.NOTEBOOK_URL}")
    out(f"  data and initial weights from numpy.random.RandomState({args.seed}), in the notebook's order:")
    out("  X = rand(2, 10000) * 100, then W and b layer by layer;")
    out("  first 7,000 samples train, last 3,000 test; per-column mean/std scalers from the training rows;")
    out(f"  [2, 4, 4, 3] ReLU, ReLU, linear; He-scaled W and b; full-batch gradient descent, lr {args.lr:g};")
    out(f"  {epochs:,} epochs" + ("." if epochs == article.EPOCHS else " (the notebook's: 1,000,000; --full runs them)."))
    run_ = article.setup(np.random.RandomState(args.seed))
    tracker = DeadUnitTracker(run_.net, run_.X_train, every=CHECK_EVERY)
    report_every = max(1, epochs // 10)
    rows, at_fix = [], {}

    def every_epoch(epoch, logs):
        done = epoch + 1
        tracker(epoch, logs)
        if done == fix_epochs:
            at_fix["article"] = article.measure(run_, done)
        if done % report_every == 0:
            figure = article.loss(run_.net.predict(run_.X_train), run_.y_train)
            k = done // article.PRINT_EVERY - 1
            notebook = (f"{printed[k]:.4f}" if done % article.PRINT_EVERY == 0 and 0 <= k < len(printed) else "")
            rows.append([f"{done:,}", f"{figure:.4f}", f"{logs['loss']:.4f}", notebook])
            out(f"  epoch {done:>9,}   article's loss {figure:.4f}   MSE {logs['loss']:.4f}"
                + (f"   (notebook printed {notebook})" if notebook else ""))

    start = time.perf_counter()
    article.train(run_, epochs=epochs, lr=args.lr, callback=every_epoch)
    seconds = time.perf_counter() - start
    final = article.measure(run_, epochs)
    predictions = article.predict(run_)
    out(f"  {epochs:,} epochs in {seconds:.1f} s ({seconds / epochs * 1e3:.3f} ms per epoch).")
    out("\n  The two losses: the notebook prints the mean over samples of ||0.5 (y_hat - y)^2||, the Euclidean")
    out("  norm of each sample's three half squared errors, 0.5 sqrt(e1^4 + e2^4 + e3^4). Gradient descent")
    out("  minimises the MSE, the mean of 0.5 (e1^2 + e2^2 + e3^2) (ninestep's 'mse', whose gradient (y_hat - y)/m")
    out("  is exactly the notebook's dZ and / m). The norm is the smaller of the two unless one output carries")
    out("  all the error; both are in standardised units.")
    _print_results(out, final, predictions, as_notebook and epochs == article.EPOCHS)

    dead = final.dead
    out("\nDiagnosis (measured in this run, on the 7,000 training rows):")
    out(f"  {dead}.")
    for unit in dead.as_list():
        epoch = tracker.since[unit]
        before = max(0, epoch - CHECK_EVERY)
        cause = ("the initial draw:\n    its pre-activation W x + b was <= 0 on every row before the first step"
                 if epoch == 0 else
                 f"a step: alive at epoch {before:,}, dead from epoch {epoch:,} on (checked every "
                 f"{CHECK_EVERY} epochs);\n    a gradient-descent step pushed its pre-activation below 0 on every row")
        out(f"  - layer {unit[0]} unit {unit[1]}: killed by {cause}.")
    if dead.count:
        out("  A dead ReLU unit outputs 0 and has derivative 0 on every row, so back-propagation sends it no "
            "gradient and")
        out("  gradient descent never revives it: the net carries on with the units left.")
    out(f"  The net uses {linear_pieces(run_.net, run_.X_train)} linear pieces on the training rows (distinct on/off "
        "patterns of its hidden units;")
    out("  within one, a ReLU net is a linear function): |a-b| bends along a = b, and few pieces fit it coarsely.")

    fixes = {}
    if fix_epochs:
        fixes = _fixes(args, run_, at_fix, fix_epochs, out)
    if out.as_json:
        print_json({"article": {**_result_json(final), "n_params": run_.net.n_params, "seconds": seconds,
                                "printed": rows, "predictions": predictions.tolist(),
                                "dead_relu_fraction": dead.fractions,
                                "dead_since": {f"layer {l} unit {u}": tracker.since[(l, u)]
                                               for l, u in dead.as_list()}},
                    "fixes": {k: _result_json(v) for k, v in fixes.items()}})
    return EXIT_OK


def _print_results(out: Out, final: article.Result, predictions: np.ndarray, compare: bool) -> None:
    """The test loss and the four predictions, beside the notebook's where this is its full run."""
    expected = article.NOTEBOOK
    out(f"\n  test loss, the article's metric: {final.test_loss!r}"
        + (f"   (notebook: {expected.test_loss!r}; {_digits(final.test_loss, expected.test_loss)})"
           if compare else "") + f"   MSE {final.test_mse:.4f}")
    out("  predictions in original units" + (" (ours / the notebook's):" if compare else ":"))
    table = []
    for (a, b), ours, theirs in zip(article.ARTICLE_CASES, predictions, expected.predictions):
        cells = [f"{p:.8f}" + (f" / {t:.8f}" if compare else "") for p, t in zip(ours, theirs)]
        case = f"({a:.0f}, {b:.0f})" + (" *" if max(a, b) >= 100 else "")
        # The notebook printed 8 decimals: equal when ours rounds to what it printed.
        same = np.array_equal(np.round(ours, 8), theirs)
        table.append([case, *cells, ("equal to 8 decimals" if same else
                                     f"relative difference {np.abs(ours / theirs - 1).max():.1e}") if compare else ""])
    out(text_table(["(a, b)", *OUTPUTS, "vs the notebook" if compare else ""], table))
    truth = ", ".join("(" + ", ".join(f"{v:.0f}" for v in row) + ")"
                      for row in arithmetic_targets(article.ARTICLE_CASES))
    out(f"  * an input outside the training range [0, 100).  The truth: {truth}.")


def _digits(ours: float, theirs: float) -> str:
    """How many significant digits two numbers share, in words."""
    if ours == theirs:
        return "identical"
    return f"the same to {int(-math.log10(abs(ours - theirs) / abs(theirs)))} significant digits"


def _fixes(args, run_: article.Setup, at_fix: dict, fix_epochs: int, out: Out) -> dict:
    out(f"\nWhat each fix does, {fix_epochs:,} epochs each, from the same RandomState({args.seed}) draw")
    out("(the same data; the same weights where the shapes allow):")
    results = {"article (the run above)": at_fix["article"]}
    details = {"article (the run above)": f"[2, 4, 4, 3], He W and b, gradient descent lr {args.lr:g}"}
    times = {}
    for name, what in article.FIXES.items():
        start = time.perf_counter()
        results[name] = article.try_fix(name, fix_epochs, np.random.RandomState(args.seed))
        times[name] = time.perf_counter() - start
        details[name] = what
    start = time.perf_counter()
    results[DEFAULT] = _default_recipe(args, run_)
    times[DEFAULT] = time.perf_counter() - start
    details[DEFAULT] = (
        f"[2, {', '.join(map(str, TRAIN_LAYERS))}, 3], {TRAIN_INIT} W, zero biases, Adam lr {TRAIN_LR:g} with "
        f"cosine decay, batches of {DEFAULT_BATCH}, L2 alpha {TRAIN_ALPHA:g}, early stopping on 10 % of the "
        f"training rows ({results[DEFAULT].epochs} epochs)")
    out(text_table(["", "MSE train", "article's loss", *[f"test MAE {o}" for o in OUTPUTS], "dead units", "time"],
                   [[name, f"{r.mse:.2e}", f"{r.loss:.4g}", *[f"{m:.3f}" for m in r.test_mae],
                     f"{r.dead.count} of {r.dead.total}", f"{times[name]:.1f} s" if name in times else ""]
                    for name, r in results.items()]))
    for name, what in details.items():
        out(f"  - {name}: {what}")
    out("  MSE and the article's loss in standardised units; test MAE in original units; time: wall clock.")
    return results


def _default_recipe(args, run_: article.Setup) -> article.Result:
    """``ninestep train``'s default recipe on the notebook's data (its own network and seed)."""
    X_fit, X_val, y_fit, y_val = train_test_split(run_.X_train, run_.y_train, test_size=0.1, seed=args.seed)
    net = Network([2, *TRAIN_LAYERS, 3], init=TRAIN_INIT, seed=args.seed)
    epochs = args.default_epochs or auto_epochs(len(X_fit), DEFAULT_BATCH)
    with warnings.catch_warnings():
        # Its early stopping and cosine decay decide when to stop; the epochs run are reported.
        warnings.simplefilter("ignore", ConvergenceWarning)
        history = net.fit(X_fit, y_fit, optimizer=Adam(lr=TRAIN_LR), epochs=epochs, batch_size=DEFAULT_BATCH,
                          seed=args.seed, validation_data=(X_val, y_val), patience=auto_patience(epochs),
                          lr_schedule="cosine", alpha=TRAIN_ALPHA)
    trained = article.Setup(**{**run_.__dict__, "net": net})
    return article.measure(trained, history.epochs)


def _result_json(r: article.Result) -> dict:
    return {"epochs": r.epochs, "loss": r.loss, "test_loss": r.test_loss, "mse": r.mse, "test_mse": r.test_mse,
            "test_mae": dict(zip(OUTPUTS, r.test_mae)), "dead_units": r.dead.as_list()}
