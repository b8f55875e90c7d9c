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
compared across machines. Both the wall-clock time and the process's CPU
time are reported: on a busy machine the wall clock also counts the time
spent waiting for a core, the CPU time does not (both programs run on one
thread: their arrays are too small for BLAS to split). The time of the full 1,000,000 epochs is
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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import article_reference as notebook  # noqa: E402

from ninestep import article  # noqa: E402


def notebook_run(epochs: int) -> tuple[tuple[float, float], list]:
    """The notebook's loop for ``epochs``: ((wall s, CPU s), final weights in ninestep's layout)."""
    rs = np.random.RandomState(42)
    X_train, _, y_train, _, _, _, neural_net = notebook.setup(rs)
    start, cpu = time.perf_counter(), time.process_time()
    notebook.train(X_train, y_train, neural_net, epochs, 0.01, print_every=epochs + 1)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    return seconds, [(layer.W.T, layer.b.ravel()) for layer in neural_net[1:]]


def ninestep_run(epochs: int) -> tuple[tuple[float, float], list]:
    """ninestep's ``article.train`` for ``epochs``: ((wall s, CPU s), final weights)."""
    run = article.setup(42)
    start, cpu = time.perf_counter(), time.process_time()
    article.train(run, epochs=epochs)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
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

    runs = {"notebook": notebook_run, "ninestep": ninestep_run}
    best = {name: [np.inf, np.inf] for name in runs}  # [wall, CPU]
    for _ in range(args.repeats):
        for name, fn in runs.items():
            best[name] = np.minimum(best[name], fn(args.epochs)[0]).tolist()
    per_epoch = {k: [v / args.epochs for v in pair] for k, pair in best.items()}
    machine = platform.processor() or platform.machine()
    print(f"The article's run: [2, 4, 4, 3], full-batch GD lr 0.01 on 7,000 points; {args.epochs:,} epochs, "
          f"best of {args.repeats} alternating rounds ({os.cpu_count()} CPUs, {machine}, NumPy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"  {'system':<40} {'wall per epoch':>15} {'CPU per epoch':>14}   1,000,000 epochs (extrapolated)")
    for name, label in (("notebook", "the notebook's code (article_reference)"), ("ninestep", "ninestep")):
        wall, cpu = per_epoch[name]
        print(f"  {label:<40} {wall * 1e3:>12.3f} ms {cpu * 1e3:>11.3f} ms   "
              f"{wall * 1e6 / 60:.1f} min wall, {cpu * 1e6 / 60:.1f} min CPU")
    ratio = [per_epoch["notebook"][i] / per_epoch["ninestep"][i] for i in (0, 1)]
    print(f"  ninestep is {ratio[0]:.2f}x (wall) / {ratio[1]:.2f}x (CPU) as fast as the notebook's code "
          "on the article's own run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
