"""ninestep against the article's notebook code on the article's own run, per epoch and for 1,000,000 epochs.

Both start from the notebook's draw (``RandomState(42)``: data, then W and
b layer by layer) and take the same full-batch gradient-descent steps
(lr 0.01) on the 7,000 standardised training points:

* the notebook: benchmarks/article_reference.py - its ``layer`` objects,
  ``forward_prop``, ``backward_prop`` and update loop;
* ninestep: ``ns.article.setup(42)`` and ``ns.article.train`` (``fit`` with
  ``SGD(0.01)``, full batch, no shuffle).

The two are timed in alternating rounds (best of ``--repeats``), so that a
slow spell of a shared machine falls on both; only the ratio is meant to be
compared across machines. The time of the full 1,000,000 epochs is
extrapolated from the timed run (time per epoch x 1,000,000) and labelled
so. Before timing, both run the same ``--epochs`` and their weights must
agree to round-off, so the two programs are known to compute the same thing.

Run:  python benchmarks/article_notebook.py               (about a minute on 2 cores)
      python benchmarks/article_notebook.py --epochs 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import article_reference as notebook  # noqa: E402

import ninestep as ns  # noqa: E402
from ninestep import article  # noqa: E402


def notebook_run(epochs: int) -> tuple[float, list]:
    rs = np.random.RandomState(42)
    X_train, _, y_train, _, _, _, neural_net = notebook.setup(rs)
    start = time.perf_counter()
    notebook.train(X_train, y_train, neural_net, epochs, 0.01, print_every=epochs + 1)
    seconds = time.perf_counter() - start
    return seconds, [(layer.W.T, layer.b.ravel()) for layer in neural_net[1:]]


def ninestep_run(epochs: int) -> tuple[float, list]:
    run = article.setup(42)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)  # the article's run is meant to stop early
        article.train(run, epochs=epochs)
    seconds = time.perf_counter() - start
    return seconds, run.net.get_weights()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20_000, help="epochs per timed run (default 20,000)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; the best counts (default 3)")
    args = parser.parse_args(argv)

    _, ours = ninestep_run(args.epochs)
    _, theirs = notebook_run(args.epochs)
    diff = max(float(np.abs(a - b).max()) for pair_a, pair_b in zip(ours, theirs) for a, b in zip(pair_a, pair_b))
    print(f"Same computation: after {args.epochs:,} epochs the weights differ by at most {diff:.1e}")
    if diff > 1e-9:
        print("the two programs disagree; the timings below compare different computations")
        return 1

    best = {"notebook": np.inf, "ninestep": np.inf}
    for _ in range(args.repeats):
        best["notebook"] = min(best["notebook"], notebook_run(args.epochs)[0])
        best["ninestep"] = min(best["ninestep"], ninestep_run(args.epochs)[0])
    per_epoch = {k: v / args.epochs for k, v in best.items()}
    cpu = platform.processor() or platform.machine()
    print(f"The article's run: [2, 4, 4, 3], full-batch GD lr 0.01 on 7,000 points; {args.epochs:,} epochs, "
          f"best of {args.repeats} alternating rounds ({os.cpu_count()} CPUs, {cpu}, NumPy {np.__version__})")
    print(f"  {'system':<40} {'per epoch':>10} {'1,000,000 epochs (extrapolated)':>32}")
    for name, label in (("notebook", "the notebook's code (article_reference)"), ("ninestep", "ninestep")):
        print(f"  {label:<40} {per_epoch[name] * 1e3:>7.3f} ms {per_epoch[name] * 1e6 / 60:>26.1f} min")
    print(f"  ninestep is {per_epoch['notebook'] / per_epoch['ninestep']:.2f}x as fast as the notebook's code "
          "on the article's own run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
