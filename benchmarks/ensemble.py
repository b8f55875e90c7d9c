"""K networks at once: one Ensemble fit against K sequential ninestep fits, in one run.

Three cases, each the same work both ways - the same seeds,
optimisers and batch order, so the Ensemble's members end equal to the
sequential networks (checked here too, 1e-10 relative):

1. playground  [2, 8, 8, 1] (TensorFlow Playground's size), 500 points, batch 10, SGD, K = 64
               target: >= 10x less time in all
2. article     [2, 4, 4, 3] (the article's set-up), 7,000 rows, full batch, SGD lr 0.01, 8 seeds
               target: >= 1.5x
3. seed        [2, 64, 64, 3] (the seed task), batch 64, Adam, K = 16, 3,000 spiral points
               target: >= 1.3x

Then the time per network against K (a plot), and peak memory (tracemalloc,
which sees NumPy's allocations) against K, for 2 and 10 epochs: it grows
linearly in K by the members' own vectors (weights, gradient, snapshots),
the batch arrays are those of the chunks being trained at the time, and 10
epochs peak where 2 do (no per-epoch copy of the data).

``--uncertainty`` instead trains a deep ensemble on the article's data and
prints the members' spread at the article's test cases: (888, 122) lies far
outside the training range [0, 100), (30, 70) inside.

Times are the best of ``--rounds`` repeats, the two ways taking turns, so
that a slow spell of a shared machine falls on both: only ratios are
compared.

Run:    python benchmarks/ensemble.py                 (about a minute on 2 idle cores)
        python benchmarks/ensemble.py --quick
        python benchmarks/ensemble.py --uncertainty
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

import ninestep as ns
from ninestep.ensemble import Ensemble

RESULTS = Path(__file__).resolve().parent / "results"


def processor() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in text.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def case_data(name: str):
    rng = np.random.default_rng(0)
    if name == "playground":
        X, y = ns.make_moons(500, seed=0)
        return dict(sizes=[2, 8, 8, 1], X=X, y=y.astype(float), loss="binary_cross_entropy", out="sigmoid",
                    batch=10, K=64, opt=lambda k: ns.SGD(lr=0.03), target=10.0)
    if name == "article":
        X, y = ns.make_arithmetic(10_000, seed=42)
        X, y = X[:7000], y[:7000]
        X = ns.StandardScaler().fit(X).transform(X)
        y = ns.StandardScaler().fit(y).transform(y)
        return dict(sizes=[2, 4, 4, 3], X=X, y=y, loss="mse", out="linear", batch=None, K=8,
                    opt=lambda k: ns.SGD(lr=0.01), target=1.5)
    X, y = ns.make_spirals(3000, seed=0)
    X = ns.StandardScaler().fit(X).transform(X)
    del rng
    return dict(sizes=[2, 64, 64, 3], X=X, y=y, loss="cross_entropy", out="softmax", batch=64, K=16,
                opt=lambda k: ns.Adam(lr=1e-3), target=1.3)


def sequential(c: dict, epochs: int, K: int) -> tuple[float, np.ndarray]:
    nets = [ns.Network(c["sizes"], seed=k, output_activation=c["out"]) for k in range(K)]
    start = time.perf_counter()
    for k, net in enumerate(nets):
        net.fit(c["X"], c["y"], loss=c["loss"], optimizer=c["opt"](k), epochs=epochs, batch_size=c["batch"], seed=1)
    return time.perf_counter() - start, np.stack([net.params for net in nets])


def stacked(c: dict, epochs: int, K: int, n_threads=None) -> tuple[float, np.ndarray]:
    ens = Ensemble(c["sizes"], seed=list(range(K)), output_activation=c["out"])
    start = time.perf_counter()
    ens.fit(c["X"], c["y"], loss=c["loss"], optimizer=[c["opt"](k) for k in range(K)], epochs=epochs,
            batch_size=c["batch"], seed=1, n_threads=n_threads)
    return time.perf_counter() - start, ens.params


def speed(rounds: int, quick: bool) -> list[dict]:
    epochs = {"playground": 2 if quick else 5, "article": 100 if quick else 400, "seed": 1 if quick else 4}
    rows = []
    for name in ("playground", "article", "seed"):
        c = case_data(name)
        E, K = epochs[name], c["K"]
        seq, ens = [], []
        for _ in range(rounds):   # taking turns: a busy spell of the machine hits both
            t, P_seq = sequential(c, E, K)
            seq.append(t)
            t, P_ens = stacked(c, E, K)
            ens.append(t)
        error = float(np.max(np.abs(P_ens - P_seq)) / np.max(np.abs(P_seq)))
        steps = E * (1 if c["batch"] is None else -(-len(c["X"]) // c["batch"]))
        row = {"case": name, "sizes": c["sizes"], "K": K, "epochs": E, "steps": steps,
               "sequential_s": min(seq), "ensemble_s": min(ens), "ratio": min(seq) / min(ens),
               "target": c["target"], "max_rel_diff": error,
               "us_per_net_step_seq": min(seq) / (K * steps) * 1e6, "us_per_net_step_ens": min(ens) / (K * steps) * 1e6}
        rows.append(row)
        print(f"{name:<11} {str(c['sizes']):<14} K={K:<3} {E} epochs: sequential {min(seq):7.3f} s "
              f"({row['us_per_net_step_seq']:.1f} us per network-step), ensemble {min(ens):7.3f} s "
              f"({row['us_per_net_step_ens']:.1f} us) -> {row['ratio']:.2f}x (target {c['target']}x); "
              f"members vs sequential: {error:.1e} relative", flush=True)
    return rows


def scaling(quick: bool) -> list[dict]:
    """Time per network against K on the playground case."""
    c = case_data("playground")
    Ks = [1, 2, 4, 8, 16, 32, 64] + ([] if quick else [128, 256])
    rows = []
    for K in Ks:
        best = min(stacked(c, 2, K)[0] for _ in range(3))
        rows.append({"K": K, "ms_per_network": best / K * 1e3})
    t_seq = min(sequential(c, 2, 4)[0] for _ in range(3)) / 4
    print("time per network (playground case, 2 epochs): sequential "
          f"{t_seq * 1e3:.2f} ms; ensemble " + ", ".join(f"K={r['K']}: {r['ms_per_network']:.2f} ms" for r in rows))
    try:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(5.5, 3.8), layout="constrained")
        ax = fig.add_subplot()
        ax.loglog([r["K"] for r in rows], [r["ms_per_network"] for r in rows], "o-", label="one Ensemble of K")
        ax.axhline(t_seq * 1e3, color="gray", ls="--", label="one ninestep fit")
        ax.set_xlabel("K (networks)")
        ax.set_ylabel("ms per network (2 epochs)")
        ax.set_title("[2, 8, 8, 1], 500 points, batch 10")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        RESULTS.mkdir(exist_ok=True)
        fig.savefig(RESULTS / "ensemble_scaling.png", dpi=100)
        print(f"plot: {RESULTS / 'ensemble_scaling.png'}")
    except ImportError:
        print("(no plot: matplotlib is not installed)")
    return rows


def memory() -> list[dict]:
    """Peak memory of an Ensemble fit (tracemalloc) against K and epochs, on the article's 7,000 rows."""
    c = case_data("article")
    data_mb = (c["X"].nbytes + c["y"].nbytes) / 2**20
    rows = []
    for K in (4, 8, 16, 32):
        for epochs in (2, 10):
            ens = Ensemble(c["sizes"], n_members=K, seed=0)
            tracemalloc.start()
            ens.fit(c["X"], c["y"], optimizer=ns.SGD(lr=0.01), epochs=epochs, n_threads=1)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            rows.append({"K": K, "epochs": epochs, "peak_mb": peak})
    per_K = [(r["K"], r["peak_mb"]) for r in rows if r["epochs"] == 10]
    slope = (per_K[-1][1] - per_K[0][1]) / (per_K[-1][0] - per_K[0][0])
    print(f"peak memory of Ensemble.fit, article case (data {data_mb:.2f} MB): "
          + ", ".join(f"K={r['K']} {r['epochs']} epochs {r['peak_mb']:.2f} MB" for r in rows)
          + f"; {slope * 1024:.1f} KB more per member (its weights, gradient and snapshots), on top of one "
          f"chunk's step arrays at a time ({7000 * 14 * 3 * 8 / 2**20:.2f} MB per member in a chunk, as a lone fit)")
    return rows


def uncertainty(members: int, epochs: int) -> dict:
    """A deep ensemble on the article's data: the members' spread at its test cases."""
    from ninestep.article import ARTICLE_CASES

    X, y = ns.make_arithmetic(10_000, seed=42)
    X_train, y_train = X[:7000], y[:7000]
    xs, ys = ns.StandardScaler().fit(X_train), ns.StandardScaler().fit(y_train)
    ens = Ensemble([2, 64, 64, 3], n_members=members, seed=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        ens.fit(xs.transform(X_train), ys.transform(y_train), optimizer=ns.Adam(lr=0.01), epochs=epochs,
                batch_size=64, seed=0, lr_schedule="cosine")
    seconds = time.perf_counter() - start
    cases = np.array(ARTICLE_CASES)
    each = np.stack([ys.inverse_transform(p) for p in ens.predict_members(xs.transform(cases))])  # original units
    mean, spread = each.mean(axis=0), each.std(axis=0)
    truth = np.column_stack([cases.sum(axis=1), cases[:, 0] - cases[:, 1], np.abs(cases[:, 0] - cases[:, 1])])
    print(f"deep ensemble: {members} x [2, 64, 64, 3], Adam lr 0.01 cosine, batch 64, {epochs} epochs "
          f"on the article's 7,000 training points, in {seconds:.1f} s")
    print(f"{'(a, b)':<12} {'output':<7} {'truth':>7} {'mean':>9} {'spread (std)':>13}")
    for i, (a, b) in enumerate(cases):
        for j, name in enumerate(("a+b", "a-b", "|a-b|")):
            print(f"({a:.0f}, {b:.0f}){'':<{12 - len(f'({a:.0f}, {b:.0f})')}} {name:<7} {truth[i, j]:>7.0f} "
                  f"{mean[i, j]:>9.2f} {spread[i, j]:>13.3f}")
    far, near = spread[3].mean(), spread[0].mean()
    print(f"mean spread at (888, 122): {far:.3f}; at (30, 70): {near:.3f}; ratio {far / near:.0f}x")
    return {"spread": spread.tolist(), "mean": mean.tolist(), "ratio": float(far / near)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and sizes")
    parser.add_argument("--rounds", type=int, default=3, help="repeats per case; the best counts (default 3)")
    parser.add_argument("--uncertainty", action="store_true", help="the deep-ensemble spread on the article's data")
    parser.add_argument("--members", type=int, default=8, help="members of the deep ensemble (default 8)")
    parser.add_argument("--epochs", type=int, default=60, help="epochs of the deep ensemble (default 60)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ns.ConvergenceWarning)
    print(f"processor: {processor()}, {os.cpu_count()} cores; NumPy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    if args.uncertainty:
        uncertainty(args.members, args.epochs)
        return
    speed(args.rounds, args.quick)
    scaling(args.quick)
    memory()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
