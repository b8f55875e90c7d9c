"""The article's nine steps, end to end, through ninestep's public API.

Run:  python examples/nine_steps.py  [--faithful-epochs N] [--seed S] [--quiet]

It walks the steps with printed output, then trains twice:

* **faithfully** - the article's [2, 4, 4, 3] ReLU/linear net with
  He-initialised weights *and* biases, full-batch gradient descent,
  lr 0.01. Whether its loss stalls depends on the initial draw, so after
  the walk-through the script repeats it for several seeds and prints, for
  each, the final loss and the fraction of hidden ReLU units that never
  fire on the training set: the runs that stall well above zero are the
  ones with dead units, as the article's run (stuck at 0.345) was;
* **well** - [2, 32, 32, 3], Adam with a cosine learning-rate decay,
  mini-batches of 64: test MAE of a few hundredths in original units.

``run()`` returns the figures, so tests can check them.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import ninestep as ns

# The article's four test cases; the last lies far outside the training range [0, 100).
CASES = np.array([[30.0, 70.0], [70.0, 30.0], [3.0, 5.0], [888.0, 122.0]])
OUTPUTS = ("a+b", "a-b", "|a-b|")


def truth(X: np.ndarray) -> np.ndarray:
    a, b = X[:, 0], X[:, 1]
    return np.column_stack([a + b, a - b, np.abs(a - b)])


def dead_fraction(net: ns.Network, X: np.ndarray) -> list[float]:
    """Per hidden layer, the fraction of ReLU units that output 0 for every row of X."""
    Zs, _ = net._forward(net._check_X(X))
    return [float((Z <= 0).all(axis=0).mean()) for Z in Zs[:-1]]


def run(faithful_epochs: int = 3_000, well_epochs: int = 200, seed: int = 42, n_seeds: int = 8,
        verbose: bool = True) -> dict:
    say = print if verbose else (lambda *a, **k: None)
    # The article's set-up is *meant* to end before it converges; its
    # ConvergenceWarning would only repeat what the printed loss shows.
    warnings.simplefilter("ignore", ns.ConvergenceWarning)

    say("Step 1  Initialise: NumPy only; randomness comes from seed =", seed)

    X, y = ns.make_arithmetic(10_000, seed=seed)
    say(f"Step 2  Data: X {X.shape} (a, b uniform in [0, 100)), y {y.shape} (a+b, a-b, |a-b|)")
    say(f"        X ranges {X.min(axis=0).round(2)} .. {X.max(axis=0).round(2)}")

    X_train, X_test, y_train, y_test = ns.train_test_split(X, y, test_size=0.3, shuffle=False)
    say(f"Step 3  Split 70/30 (first rows train, as the article): train {len(X_train)}, test {len(X_test)}")

    x_scaler, y_scaler = ns.StandardScaler().fit(X_train), ns.StandardScaler().fit(y_train)
    Xs_train, Xs_test = x_scaler.transform(X_train), x_scaler.transform(X_test)
    ys_train, ys_test = y_scaler.transform(y_train), y_scaler.transform(y_test)
    say("Step 4  Standardise with scalers fitted on the training set only:")
    say(f"        x mean {x_scaler.mean_.round(3)}, x scale {x_scaler.scale_.round(3)}")
    say(f"        y mean {y_scaler.mean_.round(3)}, y scale {y_scaler.scale_.round(3)}")

    results = {}
    for name, sizes, kwargs in (
        ("faithful", [2, 4, 4, 3], dict(optimizer=ns.SGD(lr=0.01), epochs=faithful_epochs, batch_size=None)),
        ("well", [2, 32, 32, 3], dict(optimizer=ns.Adam(lr=1e-2), epochs=well_epochs, batch_size=64,
                                      lr_schedule="cosine")),
    ):
        say(f"\n=== {name}: {sizes} ===")
        net = ns.Network(sizes, activation="relu", output_activation="linear", seed=seed,
                         bias_init="same" if name == "faithful" else "zeros")
        say("Step 5  Build the net (W is n_in x n_out: one sample per row)")
        say("        " + net.summary(n_samples=len(X_train)).replace("\n", "\n        "))

        y_hat = net.forward(Xs_train[:5])
        say(f"Step 6  Forward: X {Xs_train[:5].shape} -> y_hat {y_hat.shape}")
        loss, grads = net.loss_and_gradients(Xs_train, ys_train, loss="mse")
        say(f"Step 7  Back-propagate: loss {loss:.4f}; gradient shapes "
            + ", ".join(f"{dW.shape}+{db.shape}" for dW, db in grads))

        start = time.perf_counter()
        history = net.fit(Xs_train, ys_train, loss="mse", seed=seed, **kwargs)
        seconds = time.perf_counter() - start
        curve = history.loss
        marks = sorted({0, len(curve) // 4, len(curve) // 2, 3 * len(curve) // 4, len(curve) - 1})
        say(f"Step 8  Optimise: {history.epochs} epochs in {seconds:.1f} s; loss "
            + " -> ".join(f"{curve[i]:.4g} (epoch {i + 1})" for i in marks))

        report = ns.loss_report(net, (Xs_train, ys_train), (Xs_test, ys_test), loss="mse")
        pred = y_scaler.inverse_transform(net.forward(Xs_test))
        mae = ns.mae(y_test, pred, multioutput="raw_values")
        say(f"Step 9  Test: train loss {report['train_loss']:.3g}, test loss {report['test_loss']:.3g} "
            f"(ratio {report['ratio']:.2f}); test MAE in original units: "
            + ", ".join(f"{o} {m:.3f}" for o, m in zip(OUTPUTS, mae)))
        cases = y_scaler.inverse_transform(net.forward(x_scaler.transform(CASES)))
        say(f"        {'a':>5} {'b':>5} | " + " | ".join(f"{o:>17}" for o in OUTPUTS))
        for (a, b), p, t in zip(CASES, cases, truth(CASES)):
            note = "  <- outside the training range" if max(a, b) >= 100 else ""
            say(f"        {a:5.0f} {b:5.0f} | "
                + " | ".join(f"{pi:8.2f} ({ti:6.0f})" for pi, ti in zip(p, t)) + note)
        results[name] = {"history": history, "seconds": seconds, "mae": mae, "cases": cases,
                         "train_loss": report["train_loss"], "test_loss": report["test_loss"]}

    say(f"\n=== the article's set-up from {n_seeds} initial draws ({faithful_epochs} epochs each) ===")
    say(f"        {'seed':>6} {'final loss':>11}  dead ReLU units (layer 1, layer 2)")
    sweep = []
    for s in range(seed, seed + n_seeds):
        net = ns.Network([2, 4, 4, 3], seed=s, bias_init="same")
        history = net.fit(Xs_train, ys_train, optimizer=ns.SGD(lr=0.01), epochs=faithful_epochs)
        dead = dead_fraction(net, Xs_train)
        sweep.append({"seed": s, "loss": history.loss[-1], "dead": dead})
        say(f"        {s:>6} {history.loss[-1]:>11.4f}  " + ", ".join(f"{d:.0%}" for d in dead))
    results["sweep"] = sweep
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faithful-epochs", type=int, default=3_000,
                        help="epochs of the article's set-up (its notebook runs 1,000,000)")
    parser.add_argument("--well-epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seeds", type=int, default=8, help="initial draws of the article's set-up to compare")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    run(args.faithful_epochs, args.well_epochs, args.seed, args.seeds, verbose=not args.quiet)


if __name__ == "__main__":
    main()
