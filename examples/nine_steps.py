"""The article's nine steps, end to end through ninestep's public API.

Run:  python examples/nine_steps.py  [--faithful-epochs N] [--seeds K] [--quiet]

Steps 1-4 take the notebook's own data (``ns.article``: drawn from
``numpy.random.RandomState(42)`` exactly as the notebook draws them). Then
it trains twice:

* **faithfully** - the article's [2, 4, 4, 3] ReLU/linear net with the
  notebook's initial weights (He-scaled W *and* b), full-batch gradient
  descent, lr 0.01 - and says which hidden units died, and when
  (``ns.diagnostics``). Run long enough (``ninestep reproduce --full``) it
  stalls at the notebook's 0.3450 with two dead units;
* **well** - [2, 32, 32, 3], zero biases, Adam with a cosine learning-rate
  decay, mini-batches of 64: test MAE of a few hundredths in original units.

Then the seed study: the notebook's run on its own data from the initial
weights that ``np.random.seed(s)`` would have drawn for each seed s (seed
42 is the notebook's), all trained at once as one ``ns.Ensemble``: how
many hidden units each draw loses, to the draw itself or to a step, and
where its loss is after the same epochs.

``run()`` returns the figures, so tests can check them.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import ninestep as ns
from ninestep import article
from ninestep.data import arithmetic_targets
from ninestep.diagnostics import DeadUnitTracker

OUTPUTS = ("a+b", "a-b", "|a-b|")


def run(faithful_epochs: int = 3_000, well_epochs: int = 200, n_seeds: int = 8, seed_epochs: int = 3_000,
        verbose: bool = True) -> dict:
    say = print if verbose else (lambda *a, **k: None)
    say(f"Step 1  Initialise: NumPy only; randomness from numpy.random.RandomState({article.SEED}), passed in "
        "(the notebook seeds the global state; ninestep never does)")

    data = article.setup(article.SEED)  # steps 2-5 of the notebook, from one generator
    X, y = data.X_raw, data.y_raw
    say(f"Step 2  Data: X {X.shape} (a, b uniform in [0, 100)), y {y.shape} (a+b, a-b, |a-b|)")
    say(f"        X ranges {X.min(axis=0).round(2)} .. {X.max(axis=0).round(2)}")
    say(f"Step 3  Split 70/30 (first rows train, as the article): train {len(data.X_train)}, "
        f"test {len(data.X_test)}")
    say("Step 4  Standardise with scalers fitted on the training set only:")
    say(f"        x mean {data.x_scaler.mean_.round(3)}, x scale {data.x_scaler.scale_.round(3)}")
    say(f"        y mean {data.y_scaler.mean_.round(3)}, y scale {data.y_scaler.scale_.round(3)}")

    results = {}
    for name in ("faithful", "well"):
        if name == "faithful":
            net = data.net  # the notebook's initial weights
        else:
            net = ns.Network([2, 32, 32, 3], activation="relu", output_activation="linear", seed=article.SEED)
        say(f"\n=== {name}: {net.layer_sizes} ===")
        say("Step 5  Build the net (W is n_in x n_out: one sample per row; the notebook's W transposed)")
        say("        " + net.summary(n_samples=len(data.X_train)).replace("\n", "\n        "))

        y_hat = net.forward(data.X_train[:5])
        say(f"Step 6  Forward: X {data.X_train[:5].shape} -> y_hat {y_hat.shape}")
        loss, grads = net.loss_and_gradients(data.X_train, data.y_train, loss="mse")
        say(f"Step 7  Back-propagate: loss {loss:.4f}; gradient shapes "
            + ", ".join(f"{dW.shape}+{db.shape}" for dW, db in grads))

        # Dead units are dated to within 10 full-batch epochs (the faithful run) or to the epoch (the well run).
        tracker = DeadUnitTracker(net, data.X_train, every=10 if name == "faithful" else 1)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ns.ConvergenceWarning)
            if name == "faithful":
                history = article.train(data, epochs=faithful_epochs, callback=tracker)
            else:
                history = net.fit(data.X_train, data.y_train, loss="mse", optimizer=ns.Adam(lr=1e-2),
                                  epochs=well_epochs, batch_size=64, lr_schedule="cosine", seed=article.SEED,
                                  callback=tracker)
        seconds = time.perf_counter() - start
        curve = history.loss
        marks = sorted({0, len(curve) // 4, len(curve) // 2, 3 * len(curve) // 4, len(curve) - 1})
        say(f"Step 8  Optimise: {history.epochs} epochs in {seconds:.1f} s; MSE "
            + " -> ".join(f"{curve[i]:.4g} (epoch {i + 1})" for i in marks))
        for w in caught:
            if issubclass(w.category, ns.ConvergenceWarning):
                say(f"        fit noted: {w.message}\n        That is expected here: the MSE is already "
                    f"{curve[-1]:.1e} (standardised units) and the test error below is hundredths in original units.")
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)

        trained = article.Setup(**{**data.__dict__, "net": net})
        result = article.measure(trained, history.epochs)
        say(f"Step 9  Test: train MSE {result.mse:.3g}, test MSE {result.test_mse:.3g}; the notebook's figure "
            f"{result.test_loss:.4g}; test MAE in original units: "
            + ", ".join(f"{o} {m:.3f}" for o, m in zip(OUTPUTS, result.test_mae)))
        cases = article.predict(trained)
        say(f"        {'a':>5} {'b':>5} | " + " | ".join(f"{o:>17}" for o in OUTPUTS))
        for (a, b), p, t in zip(article.ARTICLE_CASES, cases, arithmetic_targets(article.ARTICLE_CASES)):
            note = "  <- outside the training range" if max(a, b) >= 100 else ""
            say(f"        {a:5.0f} {b:5.0f} | "
                + " | ".join(f"{pi:8.2f} ({ti:6.0f})" for pi, ti in zip(p, t)) + note)
        say(f"        dead hidden units on the training rows: {result.dead}")
        for unit in result.dead.as_list():
            say(f"          layer {unit[0]} unit {unit[1]}: killed by {tracker.killed_by(unit)}")
        results[name] = {"history": history, "seconds": seconds, "result": result, "cases": cases,
                         "dead_since": dict(tracker.since)}

    say(f"\n=== the notebook's run from {n_seeds} initial draws, {seed_epochs:,} epochs each (one Ensemble) ===")
    say("        each seed s: the weights np.random.seed(s) would draw after the notebook's data draw; "
        "the data are seed 42's")
    seeds = _seeds(n_seeds)
    start = time.perf_counter()
    study = article.seed_study(seeds, seed_epochs)
    say(f"        ({time.perf_counter() - start:.1f} s)")
    say(f"        {'seed':>6} {'MSE':>8} {'notebook figure':>16}  dead hidden units: at the start -> at the end")
    for r in study:
        say(f"        {r.seed:>6} {r.mse:>8.4f} {r.loss:>16.4f}  {r.dead_at_start} -> {r.dead_at_end} of 8"
            + ("   (the notebook's draw)" if r.seed == article.SEED else ""))
    lost = [r for r in study if r.dead_at_end]
    say(f"        {len(lost)} of {len(study)} draws lose units: "
        f"{sum(r.dead_at_start for r in study)} units dead from the draw itself, "
        f"{sum(r.dead_at_end - r.dead_at_start for r in study)} more killed by steps.")
    say(f"        Median MSE of the draws that lose units: {np.median([r.mse for r in lost]) if lost else np.nan:.3g}; "
        f"of those that keep all 8: {np.median([r.mse for r in study if not r.dead_at_end] or [np.nan]):.3g}. "
        "A 4-unit layer cannot spare a unit lightly, but which unit dies matters as much as how many.")
    results["seeds"] = study
    return results


def _seeds(n_seeds: int) -> list[int]:
    """The notebook's seed 42 and its neighbours."""
    first = max(0, article.SEED - n_seeds // 2)
    return list(range(first, first + n_seeds))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faithful-epochs", type=int, default=3_000,
                        help="epochs of the article's set-up (its notebook runs 1,000,000)")
    parser.add_argument("--well-epochs", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=8, help="initial draws of the article's set-up to compare")
    parser.add_argument("--seed-epochs", type=int, default=3_000, help="epochs of each draw in the seed study")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    run(args.faithful_epochs, args.well_epochs, args.seeds, args.seed_epochs, verbose=not args.quiet)


if __name__ == "__main__":
    main()
