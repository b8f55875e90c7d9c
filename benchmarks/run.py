"""ninestep against scikit-learn, PyTorch and the article's own algorithm, side by side, in one run.

Five comparisons, each timed in this one run so that only ratios
are compared (absolute times drift between runs and machines):

1. seed    the seed task: [2, 64, 64, 3] ReLU, Adam lr 1e-3, batch 64, float64,
           the same standardised data and the same epochs for ninestep,
           scikit-learn's MLPRegressor and a plain PyTorch loop (2 threads).
2. article the article's notebook run: [2, 4, 4, 3], full-batch gradient
           descent (lr 0.01) on the 7,000 training points, from its own
           RandomState(42) draw, against the notebook's code structure
           (benchmarks/article_reference.py: its layer objects, forward and
           backward passes and update loop; benchmarks/article_notebook.py).
3. large   60,000 x 784 float32, 784-256-256-10 softmax cross-entropy, Adam,
           batch 128, one epoch; throughput against PyTorch, scikit-learn and
           the machine's limit (6 x parameters FLOPs per sample at the
           measured float32 GEMM rate).
4. memory  peak resident memory of each system while training the large
           case, each in its own process, against dataset + parameters +
           optimiser state.
5. scaling time per epoch against the number of samples (10k to 1M) and
           against the width (16 to 1024); plots in benchmarks/results/.

Sections 1 and 3 also time ``bare_numpy.py``: the same training as one
hand-inlined NumPy loop without any checks, from ninestep's initial
weights - the floor for pure-NumPy code on this machine, and a measure of
what ninestep's checks and structure cost.

Times are the best of a few repeats (wall clock): other processes on the
machine only ever make a run slower, so the minimum is the least noisy.

Run:    python benchmarks/run.py            (about 2 minutes on 2 cores; also `make bench`)
        python benchmarks/run.py --quick    (about 30 seconds, fewer epochs and sizes)
        python benchmarks/run.py --only seed article
Needs:  pip install -e '.[bench]'  (scikit-learn, torch, matplotlib, threadpoolctl, psutil)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # article_reference.py

import ninestep as ns  # noqa: E402

RESULTS = HERE / "results"
SECTIONS = ("seed", "article", "large", "scaling")


# ---------------------------------------------------------------------- helpers
def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def environment() -> dict:
    """What ran: versions, the BLAS library and kernel (threadpoolctl), threads, CPU."""
    from threadpoolctl import threadpool_info

    info = {"python": platform.python_version(), "numpy": np.__version__, "ninestep": ns.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # NumPy's own BLAS is the one ninestep uses; scikit-learn (SciPy) and torch may load others.
    info["blas"] = [{**{k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads")},
                     "library": Path(pool["filepath"]).parent.name}
                    for pool in threadpool_info() if pool.get("user_api") == "blas"]
    info["env"] = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_"))}
    return info


def arithmetic_data():
    """The seed task's data: the article's 10,000 points, first 70 % train, standardised on train."""
    X, y = ns.make_arithmetic(10_000, seed=42)
    n_train = 7_000
    xs, ys = ns.StandardScaler().fit(X[:n_train]), ns.StandardScaler().fit(y[:n_train])
    return (xs.transform(X[:n_train]), ys.transform(y[:n_train]),
            xs.transform(X[n_train:]), ys.transform(y[n_train:]))


def test_mse(pred: np.ndarray, Y: np.ndarray) -> float:
    """Mean squared error over samples and outputs (standardised units), the same for every system."""
    return float(np.mean((np.asarray(pred, dtype=np.float64) - Y) ** 2))


# ---------------------------------------------------------------------- each system in a fresh process
def in_subprocess(worker: str, *args) -> dict:
    """Run ``run.py --worker worker args...`` in a fresh Python and return its JSON result.

    Every system gets its own process so that none inherits another's
    imports, thread pools or allocator state: the article's algorithm, for
    one, allocates a new 7,000-row array for every intermediate, and how
    much that costs depends on what the process allocated and freed before
    (in a process that had just run scikit-learn it ran 2.5x faster than on
    its own). Alone is how each program runs for its users.
    """
    out = subprocess.run([sys.executable, __file__, "--worker", worker, *map(str, args)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {worker} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- 1. seed task
SEED_SYSTEMS = {
    "seed-ninestep": "ninestep (Glorot init, as scikit-learn)",
    "seed-ninestep-he": "ninestep (default He init)",
    "seed-bare": "plain NumPy loop, hand-inlined (the floor)",
    "seed-sklearn": "scikit-learn MLPRegressor",
    "seed-torch": "PyTorch (2 threads)",
}


def seed_worker(system: str, epochs: int, repeats: int) -> dict:
    """Train the seed task ``repeats`` times with ``system``; the best time and the test MSE."""
    Xtr, Ytr, Xte, Yte = arithmetic_data()
    if system.startswith("seed-ninestep"):
        init = "glorot_uniform" if system == "seed-ninestep" else None

        def train():
            net = ns.Network([2, 64, 64, 3], init=init, seed=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ns.ConvergenceWarning)
                net.fit(Xtr, Ytr, optimizer=ns.Adam(lr=1e-3), epochs=epochs, batch_size=64, seed=0)
            return net.predict(Xte)
    elif system == "seed-bare":
        import bare_numpy

        def train():
            net = ns.Network([2, 64, 64, 3], init="glorot_uniform", seed=0)  # ninestep's initial weights
            bare_numpy.train(net.params, [2, 64, 64, 3], Xtr, Ytr, "mse", epochs, batch=64, seed=0)
            return net.predict(Xte)
    elif system == "seed-sklearn":
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        def train():
            model = MLPRegressor(hidden_layer_sizes=(64, 64), solver="adam", learning_rate_init=1e-3,
                                 alpha=0.0, batch_size=64, shuffle=True, max_iter=epochs, tol=0.0,
                                 n_iter_no_change=10**9, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkConvergenceWarning)
                model.fit(Xtr, Ytr)
            return model.predict(Xte)
    else:
        import torch
        torch.set_num_threads(2)

        def train():
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                        torch.nn.ReLU(), torch.nn.Linear(64, 3)).double()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            X, Y = torch.from_numpy(Xtr), torch.from_numpy(Ytr)
            gen = torch.Generator().manual_seed(0)
            for _ in range(epochs):
                order = torch.randperm(len(X), generator=gen)
                for start in range(0, len(X), 64):
                    idx = order[start:start + 64]
                    opt.zero_grad()
                    loss = 0.5 * ((model(X[idx]) - Y[idx]) ** 2).sum(dim=1).mean()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                return model(torch.from_numpy(Xte)).numpy()
    pred = {}
    seconds = best_time(lambda: pred.update(y=train()), repeats)
    return {"seconds": seconds, "test_mse": test_mse(pred["y"], Yte)}


def bench_seed(epochs: int, repeats: int) -> dict:
    steps = epochs * -(-7_000 // 64)
    results = {label: in_subprocess(system, epochs, repeats) for system, label in SEED_SYSTEMS.items()}
    base = results[SEED_SYSTEMS["seed-ninestep"]]["seconds"]
    rows = [[label, f"{r['seconds']:.3f} s", f"{r['seconds'] / steps * 1e6:.0f} us",
             f"{r['seconds'] / base:.1f}x", f"{r['test_mse']:.2e}"] for label, r in results.items()]
    print(f"\n1. Seed task: [2, 64, 64, 3] ReLU, Adam lr 1e-3, batch 64, float64, {epochs} epochs "
          f"({steps} steps), best of {repeats}, each system in its own process")
    print(table(rows, ["system", "time", "per step", "vs ninestep", "test MSE (std. units)"]))
    return results


# ---------------------------------------------------------------------- 2. the article's set-up
ARTICLE_SYSTEMS = {"article-reference": "the notebook's code (benchmarks/article_reference.py)",
                   "article-ninestep": "ninestep"}


def article_worker(system: str, epochs: int, repeats: int) -> dict:
    """The notebook's run (RandomState(42): its data and weights), full-batch GD; best time per epoch, final weights."""
    import article_notebook

    run = article_notebook.notebook_run if system == "article-reference" else article_notebook.ninestep_run
    best, weights = np.inf, None
    for _ in range(repeats):
        (wall, _cpu), weights = run(epochs)
        best = min(best, wall)
    return {"ms_per_epoch": best / epochs * 1e3, "weights": [[W.tolist(), b.tolist()] for W, b in weights]}


def bench_article(epochs: int, repeats: int) -> dict:
    labels = ARTICLE_SYSTEMS
    res = {label: in_subprocess(system, epochs, repeats) for system, label in labels.items()}
    # Same algorithm, same start: the final weights agree to round-off.
    ref_w, our_w = res[labels["article-reference"]]["weights"], res["ninestep"]["weights"]
    diff = max(float(np.max(np.abs(np.subtract(a, b)) / np.maximum(np.abs(b), 1e-300)))
               for pair_a, pair_b in zip(ref_w, our_w) for a, b in zip(pair_a, pair_b))
    base = res["ninestep"]["ms_per_epoch"]
    rows = [[label, f"{r['ms_per_epoch']:.3f} ms", f"{r['ms_per_epoch'] / base:.2f}x",
             f"{r['ms_per_epoch'] * 1e6 / 1e3 / 60:.1f} min"] for label, r in res.items()]
    print(f"\n2. The article's set-up: the notebook's run ([2, 4, 4, 3], RandomState(42), full-batch GD lr 0.01 on "
          f"7,000 points), {epochs} epochs, best of {repeats}, each in its own process")
    print(table(rows, ["system", "per epoch", "vs ninestep", "1,000,000 epochs (extrapolated)"]))
    print(f"   largest relative difference between the two final weights: {diff:.1e}")
    return {"ms_per_epoch": {k: v["ms_per_epoch"] for k, v in res.items()}, "max_rel_weight_diff": diff}


# ---------------------------------------------------------------------- 3-4. large MLP, each system in its own process
LARGE = {"n_train": 60_000, "n_test": 10_000, "n_in": 784, "hidden": 256, "n_out": 10, "batch": 128}


LARGE_SYSTEMS = {"ninestep": "ninestep", "bare": "plain NumPy loop, hand-inlined (the floor)",
                 "torch": "PyTorch (2 threads)", "sklearn": "scikit-learn MLPClassifier"}


def large_data():
    """Synthetic 784-feature float32 data with 10 classes from a random linear teacher (no float64 copy)."""
    rng = np.random.default_rng(0)
    n = LARGE["n_train"] + LARGE["n_test"]
    X = rng.standard_normal((n, LARGE["n_in"]), dtype=np.float32)
    teacher = rng.standard_normal((LARGE["n_in"], LARGE["n_out"]), dtype=np.float32)
    # In blocks of rows: one 70,000-row product would make OpenBLAS touch ~60 MB
    # of packing buffers that training itself never needs, inflating peak RSS.
    y = np.concatenate([np.argmax(X[i:i + 1024] @ teacher, axis=1) for i in range(0, n, 1024)])
    k = LARGE["n_train"]
    return X[:k], y[:k], X[k:], y[k:]


def large_params() -> int:
    h = LARGE["hidden"]
    return ns.count_params([LARGE["n_in"], h, h, LARGE["n_out"]])


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's VmHWM, which starts afresh with the new program after exec
    (ru_maxrss does not: a child would inherit its parent's peak). Read
    right after training, before the test set is evaluated.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):  # not Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KB elsewhere
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def large_worker(system: str) -> dict:
    """Train the large case for one epoch with ``system``; runs in a fresh process."""
    h, batch = LARGE["hidden"], LARGE["batch"]
    if system == "torch":
        import torch
        torch.set_num_threads(2)
    elif system == "sklearn":
        from sklearn.neural_network import MLPClassifier
    rss_start = rss_mb()
    Xtr, ytr, Xte, yte = large_data()
    data_mb = (Xtr.nbytes + ytr.nbytes + Xte.nbytes + yte.nbytes) / 2**20
    n_params = large_params()
    if system == "ninestep":
        net = ns.Network([LARGE["n_in"], h, h, LARGE["n_out"]], output_activation="softmax",
                         dtype=np.float32, seed=0)
        opt = ns.Adam(lr=1e-3)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ns.ConvergenceWarning)
            net.fit(Xtr, ytr, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=batch, seed=0)
        seconds = time.perf_counter() - start
        rss_trained = rss_mb()
        test_loss = net.evaluate(Xte, yte, loss="cross_entropy")
        state_bytes = opt.m.nbytes + opt.v.nbytes
    elif system == "bare":
        import bare_numpy
        net = ns.Network([LARGE["n_in"], h, h, LARGE["n_out"]], output_activation="softmax",
                         dtype=np.float32, seed=0)  # ninestep's initial weights
        start = time.perf_counter()
        Y = np.zeros((len(ytr), LARGE["n_out"]), dtype=np.float32)
        Y[np.arange(len(ytr)), ytr] = 1
        bare_numpy.train(net.params, [LARGE["n_in"], h, h, LARGE["n_out"]], Xtr, Y, "cross_entropy", 1,
                         batch=batch, seed=0)
        seconds = time.perf_counter() - start
        rss_trained = rss_mb()
        test_loss = net.evaluate(Xte, yte, loss="cross_entropy")
        state_bytes = 2 * 4 * n_params
    elif system == "torch":
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(LARGE["n_in"], h), torch.nn.ReLU(), torch.nn.Linear(h, h),
                                    torch.nn.ReLU(), torch.nn.Linear(h, LARGE["n_out"]))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        X, y = torch.from_numpy(Xtr), torch.from_numpy(ytr)
        start = time.perf_counter()
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
        for i in range(0, len(X), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        rss_trained = rss_mb()
        with torch.no_grad():
            test_loss = float(torch.nn.functional.cross_entropy(model(torch.from_numpy(Xte)),
                                                                torch.from_numpy(yte)))
        state_bytes = 2 * 4 * n_params
    else:
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
        model = MLPClassifier(hidden_layer_sizes=(h, h), solver="adam", learning_rate_init=1e-3, alpha=0.0,
                              batch_size=batch, max_iter=1, shuffle=True, random_state=0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkConvergenceWarning)
            model.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        rss_trained = rss_mb()
        P = np.clip(model.predict_proba(Xte), 1e-12, 1)
        test_loss = float(-np.mean(np.log(P[np.arange(len(yte)), yte])))
        state_bytes = 2 * 4 * n_params
    return {"seconds": seconds, "samples_per_s": len(Xtr) / seconds, "test_loss": test_loss,
            "rss_start_mb": rss_start, "rss_peak_mb": rss_trained, "data_mb": data_mb,
            "params_mb": 4 * n_params / 2**20, "state_mb": state_bytes / 2**20}


def gemm_gflops(repeats: int = 20) -> dict:
    """This machine's float32 matrix-product rate in GFLOP/s: at the large case's shapes, and at its peak.

    ``"training"``: the nine products of one training step of the large case
    (batch 128: three forward, three weight gradients, three input
    gradients), timed back to back; that is the rate at which any system can
    do the 6 x parameters FLOPs per sample, so it sets the limit.
    ``"peak"``: one 2048 x 2048 product, for reference.
    """
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape, dtype=np.float32)  # noqa: E731
    b, sizes = LARGE["batch"], [LARGE["n_in"], LARGE["hidden"], LARGE["hidden"], LARGE["n_out"]]
    As = [f32(b, k) for k in sizes]
    Ws = [f32(k_in, k_out) for k_in, k_out in zip(sizes[:-1], sizes[1:])]

    def step():
        for l, W in enumerate(Ws):
            As[l] @ W                  # Z = A W
            As[l].T @ As[l + 1]        # dW = A^T dZ
            As[l + 1] @ W.T            # dA = dZ W^T
    step()
    flops = 6 * b * sum(W.size for W in Ws)
    training = flops / best_time(step, repeats) / 1e9
    n = 2048
    A, B, C = f32(n, n), f32(n, n), np.empty((n, n), dtype=np.float32)
    np.matmul(A, B, out=C)
    peak = 2 * n**3 / best_time(lambda: np.matmul(A, B, out=C), 5) / 1e9
    return {"training": training, "peak": peak}


def bench_large(repeats: int) -> dict:
    results = {}
    # Round by round, every system once per round, so that a slow spell of the machine
    # (other tenants) falls on all of them rather than on one system's repeats.
    # The GEMM rate that sets the limit is measured in every round too, and the best one
    # counts: the limit is then the highest the machine showed while the systems ran.
    runs = {system: [] for system in LARGE_SYSTEMS}
    rate_runs = []
    for round_ in range(repeats):
        for system in LARGE_SYSTEMS:
            if system != "sklearn" or round_ == 0:  # scikit-learn: once (slow, and far behind)
                runs[system].append(in_subprocess(f"large-{system}"))
        rate_runs.append(gemm_gflops())
    for system, label in LARGE_SYSTEMS.items():
        best = max(runs[system], key=lambda r: r["samples_per_s"])
        best["rss_peak_mb"] = max(r["rss_peak_mb"] for r in runs[system])
        results[label] = best
    rates = {key: max(r[key] for r in rate_runs) for key in ("training", "peak")}
    gflops = rates["training"]
    limit = gflops * 1e9 / (6 * large_params())
    base = results["ninestep"]["samples_per_s"]
    print(f"\n3. Large MLP: {LARGE['n_train']:,} x {LARGE['n_in']} float32, 784-256-256-10 softmax "
          f"cross-entropy, Adam, batch {LARGE['batch']}, one epoch, best of {repeats} (scikit-learn: 1)")
    rows = [[label, f"{r['seconds']:.2f} s", f"{r['samples_per_s']:,.0f}", f"{base / r['samples_per_s']:.2f}x",
             f"{r['samples_per_s'] / limit:.0%}", f"{r['test_loss']:.3f}"] for label, r in results.items()]
    rows.append([f"limit: float32 GEMM {gflops:.0f} GFLOP/s / (6 x {large_params():,} FLOPs)", "",
                 f"{limit:,.0f}", "", "100%", ""])
    print(table(rows, ["system", "time", "samples/s", "ninestep is", "of limit", "test loss"]))
    print(f"   GEMM rate at the training step's nine shapes (batch {LARGE['batch']}), best of "
          f"{len(rate_runs)} measurements between the rounds: {gflops:.0f} GFLOP/s; "
          f"one 2048 x 2048 product: {rates['peak']:.0f} GFLOP/s "
          f"(at that rate the limit would be {rates['peak'] * 1e9 / (6 * large_params()):,.0f} samples/s)")
    print(f"\n4. Memory while training the large case (peak RSS, each system in its own process)")
    rows = []
    for label, r in results.items():
        need = r["data_mb"] + r["params_mb"] + r["state_mb"]
        rows.append([label, f"{r['rss_start_mb']:.0f} MB", f"{r['rss_peak_mb']:.0f} MB",
                     f"{r['rss_peak_mb'] - r['rss_start_mb']:.0f} MB", f"{need:.0f} MB",
                     f"{r['rss_peak_mb'] / need:.2f}x", f"{(r['rss_peak_mb'] - r['rss_start_mb']) / need:.2f}x"])
    print(table(rows, ["system", "after imports", "peak", "peak - imports", "data+params+state",
                       "peak / that", "(peak - imports) / that"]))
    return {"systems": results, "gemm_gflops": rates, "limit_samples_per_s": limit}


# ---------------------------------------------------------------------- 5. scaling
def epoch_seconds(net, X, Y, optimizer, batch_size, min_seconds: float = 0.25, repeats: int = 3) -> float:
    """Best time per epoch of ``net.fit``, over enough epochs to take ``min_seconds`` per repeat."""
    def train(epochs):
        net.fit(X, Y, optimizer=optimizer, epochs=epochs, batch_size=batch_size, seed=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        once = best_time(lambda: train(1), 1)  # also the warm-up
        epochs = max(1, int(min_seconds / once))
        return min(once, best_time(lambda: train(epochs), repeats) / epochs)


def bench_scaling(quick: bool) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(exist_ok=True)
    sizes = [10_000, 30_000, 100_000] if quick else [10_000, 30_000, 100_000, 300_000, 1_000_000]
    widths = [16, 64, 256] if quick else [16, 32, 64, 128, 256, 512, 1024]
    by_samples = {"seed net [2, 64, 64, 3], Adam, batch 64": [], "article net [2, 4, 4, 3], full-batch GD": []}
    for n in sizes:
        X, y = ns.make_arithmetic(n, seed=0)
        X, Y = ns.StandardScaler().fit_transform(X), ns.StandardScaler().fit_transform(y)
        seed_net = ns.Network([2, 64, 64, 3], seed=0)
        by_samples["seed net [2, 64, 64, 3], Adam, batch 64"].append(
            epoch_seconds(seed_net, X, Y, ns.Adam(1e-3), 64, repeats=1 if n > 100_000 else 3))
        article_net = ns.Network([2, 4, 4, 3], seed=0)
        by_samples["article net [2, 4, 4, 3], full-batch GD"].append(
            epoch_seconds(article_net, X, Y, ns.SGD(0.01), None))
    Xtr, Ytr, _, _ = arithmetic_data()
    steps = -(-len(Xtr) // 64)
    per_step, flops = [], []
    for w in widths:
        net = ns.Network([2, w, w, 3], seed=0)
        per_step.append(epoch_seconds(net, Xtr, Ytr, ns.Adam(1e-3), 64, repeats=2) / steps)
        flops.append(6 * 64 * net.n_params)  # forward + backward + weight gradients, per step
    # Time per step = fixed overhead + FLOPs / rate: least squares on the relative errors,
    # so that the small widths (the overhead) weigh as much as the large ones.
    t = np.array(per_step)
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(widths)), flops]) / t[:, None], np.ones(len(t)),
                               rcond=None)
    overhead, rate = coef[0], 1 / coef[1] if coef[1] > 0 else float("inf")

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, secs in by_samples.items():
        ax.loglog(sizes, np.array(secs) * 1e3, "o-", label=label)
        ax.loglog(sizes, secs[0] * 1e3 * np.array(sizes) / sizes[0], ":", color="grey")
    ax.set_xlabel("training samples")
    ax.set_ylabel("time per epoch (ms)")
    ax.set_title("ninestep: time per epoch against the data (dotted: exactly linear)\n"
                 "full batch: above ~50k rows its arrays no longer fit the L2 cache", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    suffix = "_quick" if quick else ""  # a quick run does not overwrite the full run's plots
    fig.savefig(RESULTS / f"scaling_samples{suffix}.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    ws = np.array(widths)
    ax.loglog(ws, np.array(per_step) * 1e6, "o-", label="measured time per step")
    ax.loglog(ws, np.full(len(ws), overhead * 1e6), "--", label=f"fixed overhead {overhead * 1e6:.0f} us")
    ax.loglog(ws, np.array(flops) / rate * 1e6, ":",
              label=f"FLOPs at {rate / 1e9:.0f} GFLOP/s (6 x params x batch)")
    ax.loglog(ws, (overhead + np.array(flops) / rate) * 1e6, "-", color="grey", alpha=0.5,
              label="overhead + FLOPs (the fit)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ws, [str(w) for w in ws])
    ax.set_xlabel("hidden width w of [2, w, w, 3] (batch 64, Adam, float64)")
    ax.set_ylabel("time per step (us)")
    ax.set_title("Where the time goes: per-step overhead, then FLOPs")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"scaling_width{suffix}.png", dpi=120)
    plt.close(fig)

    print(f"\n5. Scaling (plots: benchmarks/results/scaling_samples{suffix}.png, scaling_width{suffix}.png)")
    rows = [[f"{n:,}"] + [f"{by_samples[k][i] * 1e3:.1f} ms" for k in by_samples] for i, n in enumerate(sizes)]
    print(table(rows, ["samples", "seed net, Adam, batch 64", "article net, full batch"]))
    rows = [[w, f"{p * 1e6:.0f} us", f"{f / 1e6:.2f}", f"{f / p / 1e9:.1f}"]
            for w, p, f in zip(widths, per_step, flops)]
    print(table(rows, ["width", "per step", "MFLOP/step", "GFLOP/s"]))
    print(f"   fit: time per step = {overhead * 1e6:.0f} us + FLOPs / ({rate / 1e9:.0f} GFLOP/s)")
    return {"sizes": sizes, "by_samples": by_samples, "widths": widths, "per_step": per_step,
            "overhead_s": overhead, "gflops": rate / 1e9}


# ---------------------------------------------------------------------- main
class Tee:
    """Write to several streams at once."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def summary(res: dict) -> None:
    rows = []
    if "seed" in res:
        r = {system: res["seed"][label] for system, label in SEED_SYSTEMS.items()}
        ours, sk, pt = r["seed-ninestep"], r["seed-sklearn"], r["seed-torch"]
        bare = r["seed-bare"]
        rows += [["1 seed: faster than scikit-learn", ">= 4x", f"{sk['seconds'] / ours['seconds']:.1f}x"],
                 ["  (plain NumPy floor)", "", f"{sk['seconds'] / bare['seconds']:.1f}x"],
                 ["1 seed: faster than PyTorch", ">= 8x", f"{pt['seconds'] / ours['seconds']:.1f}x"],
                 ["  (plain NumPy floor)", "", f"{pt['seconds'] / bare['seconds']:.1f}x"],
                 ["1 seed: test MSE / scikit-learn's", "<= 1x", f"{ours['test_mse'] / sk['test_mse']:.2f}x"],
                 ["  (default He init)", "", f"{r['seed-ninestep-he']['test_mse'] / sk['test_mse']:.2f}x"]]
    if "article" in res:
        m = res["article"]["ms_per_epoch"]
        ratio = m[ARTICLE_SYSTEMS["article-reference"]] / m[ARTICLE_SYSTEMS["article-ninestep"]]
        rows.append(["2 article: faster than the notebook's code", ">= 3x", f"{ratio:.2f}x"])
    if "large" in res:
        s = res["large"]["systems"]
        n9 = s["ninestep"]
        need = n9["data_mb"] + n9["params_mb"] + n9["state_mb"]
        rows += [["3 large: throughput vs PyTorch", ">= 1.2x",
                  f"{n9['samples_per_s'] / s['PyTorch (2 threads)']['samples_per_s']:.2f}x"],
                 ["3 large: share of the machine's limit", ">= 65%",
                  f"{n9['samples_per_s'] / res['large']['limit_samples_per_s']:.0%}"],
                 ["  (plain NumPy floor)", "",
                  f"{s[LARGE_SYSTEMS['bare']]['samples_per_s'] / res['large']['limit_samples_per_s']:.0%}"],
                 ["4 memory: peak RSS / (data + params + state)", "<= 1.5x", f"{n9['rss_peak_mb'] / need:.2f}x"]]
    if rows:
        print("\nTargets")
        print(table(rows, ["target", "wanted", "this run"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and sizes (about a minute)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("worker_args", nargs="*", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, system = args.worker.split("-", 1)
        worker = {"seed": seed_worker, "article": article_worker, "large": large_worker}[kind]
        result = worker(system, *args.worker_args) if kind == "large" else worker(args.worker, *args.worker_args)
        print(json.dumps(result))
        return
    try:
        import matplotlib, sklearn, threadpoolctl, torch  # noqa: F401, E401
    except ImportError as exc:
        sys.exit(f"benchmarks/run.py needs {exc.name}: pip install -e '.[bench]'")
    RESULTS.mkdir(exist_ok=True)
    # Only a full run of every section writes results.txt / results.json.
    name = "results" + ("_quick" if args.quick else "") + ("_only" if args.only else "")
    report = open(RESULTS / f"{name}.txt", "w")
    sys.stdout = Tee(sys.stdout, report)  # the printed tables also go to results/results.txt
    print("$ python benchmarks/run.py " + " ".join(sys.argv[1:]))
    env = environment()
    print(f"ninestep {env['ninestep']}, NumPy {env['numpy']}, Python {env['python']}, "
          f"torch {torch.__version__}, scikit-learn {sklearn.__version__}")
    print(f"CPU: {env['cpu']}, {env['cores']} cores")
    for pool in env["blas"]:
        print(f"BLAS: {pool['internal_api']} {pool['version']}, kernel {pool['architecture']}, "
              f"{pool['num_threads']} threads ({pool['library']})")
    if env["env"]:
        print("environment: " + ", ".join(f"{k}={v}" for k, v in env["env"].items()))
    sections = args.only or SECTIONS
    quick = args.quick
    res = {}
    t0 = time.perf_counter()
    if "seed" in sections:
        res["seed"] = bench_seed(epochs=10 if quick else 100, repeats=2 if quick else 5)
    if "article" in sections:
        res["article"] = bench_article(epochs=300 if quick else 3000, repeats=3 if quick else 5)
    if "large" in sections:
        res["large"] = bench_large(repeats=1 if quick else 3)
    if "scaling" in sections:
        res["scaling"] = bench_scaling(quick)
    summary(res)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{name}.json", "w") as f:
        json.dump({"environment": env, "command": " ".join(sys.argv), **res}, f, indent=1, default=float)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; results in {RESULTS.relative_to(HERE.parent)}/")


if __name__ == "__main__":
    main()
