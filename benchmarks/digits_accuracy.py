"""Default MLPClassifier on digits: ninestep.sklearn vs scikit-learn, several seeds, one run.

Both estimators are used with their defaults (hidden_layer_sizes=(100,),
relu, adam, learning_rate_init=1e-3, alpha=1e-4, batch_size=min(200, n),
max_iter=200, tol=1e-4, n_iter_no_change=10) and ``random_state=seed``. For
each seed the 1,797 digits (8x8 pixels) are split 75/25, stratified, with that
seed; both train on the same split, once with the pixels as loaded (0-16) and
once divided by 16. Both run with one BLAS thread (these matrices are small,
and more threads only contend on a busy machine).

Run:  python benchmarks/digits_accuracy.py [--seeds 5]
Needs scikit-learn (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...), default 5")
    args = parser.parse_args()
    try:
        from sklearn.datasets import load_digits
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier as SkMLP
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("This benchmark needs scikit-learn: pip install -e '.[bench]'") from None
    from ninestep.sklearn import MLPClassifier as NsMLP

    X_raw, y = load_digits(return_X_y=True)
    for label, X in (("pixels 0-16, as loaded", X_raw), ("pixels / 16", X_raw / 16.0)):
        print(f"\ndigits, {label}")
        with threadpool_limits(1):
            compare(X, y, args.seeds, NsMLP, SkMLP, train_test_split, ConvergenceWarning)


def compare(X, y, n_seeds, NsMLP, SkMLP, train_test_split, ConvergenceWarning) -> None:
    rows = []
    print(f"{'seed':>4} | {'ninestep acc':>12} {'epochs':>6} {'time s':>7} | "
          f"{'sklearn acc':>11} {'epochs':>6} {'time s':>7}")
    for seed in range(n_seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
        row = [seed]
        for cls in (NsMLP, SkMLP):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                clf = cls(random_state=seed).fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
            row += [clf.score(X_te, y_te), clf.n_iter_, seconds]
        rows.append(row)
        print(f"{seed:>4} | {row[1]:>12.4f} {row[2]:>6} {row[3]:>7.2f} | {row[4]:>11.4f} {row[5]:>6} {row[6]:>7.2f}")
    acc = np.array([[r[1], r[4]] for r in rows])
    secs = np.array([[r[3], r[6]] for r in rows])
    print(f"mean | {acc[:, 0].mean():>12.4f} {'':>6} {secs[:, 0].mean():>7.2f} | "
          f"{acc[:, 1].mean():>11.4f} {'':>6} {secs[:, 1].mean():>7.2f}")
    print(f"std  | {acc[:, 0].std():>12.4f} {'':>6} {'':>7} | {acc[:, 1].std():>11.4f}")
    wins = int((acc[:, 0] >= acc[:, 1]).sum())
    print(f"ninestep >= scikit-learn on {wins} of {len(rows)} seeds; "
          f"mean difference {acc[:, 0].mean() - acc[:, 1].mean():+.4f}")


if __name__ == "__main__":
    main()
