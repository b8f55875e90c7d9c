"""Training on data larger than memory: a memory-mapped .npy file of 4 GB or more, and the peak RSS.

Run:  python benchmarks/mmap_training.py [--gigabytes 4.3] [--dir DIR] [--epochs 1] [--keep | --reuse]

1. Writes X (n x 100 float64, the size asked for) and y (n,) to .npy files in
   DIR (default: a temporary folder), block by block, in its own process.
2. Trains ninestep on ``np.load(path, mmap_mode="r")`` in a fresh process:
   [100, 32, 1] ReLU, Adam, batch 512, one epoch by default, once with
   ``shuffle=True`` (every row in a random order) and once with
   ``shuffle="blocks"`` (blocks of consecutive rows in a random order), and
   prints the peak resident memory of that process (``VmHWM``) and the time.

The target: a peak RSS under 500 MB for a file of at least 4 GB. Peak
memory is then the batch plus the parameters (and the interpreter), not the
data: fit checks the file for NaN block by block and gathers each
mini-batch from it, handing the pages it has read back to the OS as it
goes (``madvise(MADV_DONTNEED)``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

N_FEATURES = 100
BLOCK_ROWS = 100_000

_TRAIN = textwrap.dedent("""
    import sys, time, warnings
    import numpy as np
    import ninestep as ns

    def peak_mb():
        # VmHWM, this process's own high-water mark (ru_maxrss would carry over the parent's
        # across fork and exec, and the parent has just written the file)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

    X = np.load(sys.argv[1], mmap_mode="r")
    y = np.load(sys.argv[2], mmap_mode="r")
    at_start = peak_mb()
    net = ns.Network([X.shape[1], 32, 1], seed=0)
    shuffle = {"true": True, "blocks": "blocks"}[sys.argv[4]]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        history = net.fit(X, y, optimizer=ns.Adam(1e-3), epochs=int(sys.argv[3]), batch_size=512, seed=0,
                          shuffle=shuffle)
    seconds = time.perf_counter() - start
    print(f"{seconds:.1f} {peak_mb():.0f} {at_start:.0f} {history.loss[-1]:.4g}")
""")


def write_data(folder: str, gigabytes: float) -> tuple[str, str, int]:
    """Write X and y block by block (never all in memory); return their paths and the row count."""
    n = int(gigabytes * 1e9 / (N_FEATURES * 8))
    x_path, y_path = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float64, shape=(n, N_FEATURES))
    y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.float64, shape=(n,))
    rng = np.random.default_rng(0)
    w = rng.standard_normal(N_FEATURES) / np.sqrt(N_FEATURES)
    for start in range(0, n, BLOCK_ROWS):
        block = rng.standard_normal((min(BLOCK_ROWS, n - start), N_FEATURES))
        X[start:start + len(block)] = block
        y[start:start + len(block)] = np.tanh(block @ w) + 0.1 * rng.standard_normal(len(block))
    X.flush()
    y.flush()
    del X, y
    return x_path, y_path, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.3, help="size of X (default 4.3)")
    parser.add_argument("--dir", help="where to write the files (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the files already in --dir")
    args = parser.parse_args()
    folder = args.dir or tempfile.mkdtemp(prefix="ninestep-mmap-")
    start = time.perf_counter()
    if args.reuse:
        x_path, y_path = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
        n = np.load(y_path, mmap_mode="r").shape[0]
    else:
        x_path, y_path, n = write_data(folder, args.gigabytes)
    size = os.path.getsize(x_path) + os.path.getsize(y_path)
    print(f"data: {n:,} rows x {N_FEATURES} float64, {size / 1e9:.2f} GB ({folder}; written in "
          f"{time.perf_counter() - start:.0f} s)")
    try:
        for shuffle in ("true", "blocks"):
            out = subprocess.run([sys.executable, "-c", _TRAIN, x_path, y_path, str(args.epochs), shuffle],
                                 check=True, capture_output=True, text=True).stdout.split()
            seconds, peak, at_start, loss = float(out[0]), float(out[1]), float(out[2]), out[3]
            steps = args.epochs * -(-n // 512)
            print(f"shuffle={'True' if shuffle == 'true' else repr(shuffle)}: [{N_FEATURES}, 32, 1], Adam, batch 512, "
                  f"{args.epochs} epoch(s) = {steps:,} steps in {seconds:.1f} s, last epoch loss {loss}; "
                  f"peak RSS {peak:.0f} MB (after imports and mapping: {at_start:.0f} MB), "
                  f"{peak / (size / 1e6):.3f} of the data's size; target < 500 MB: "
                  f"{'met' if peak < 500 else 'NOT met'}")
    finally:
        if not args.keep:
            for path in (x_path, y_path):
                os.unlink(path)
            if not args.dir:
                os.rmdir(folder)


if __name__ == "__main__":
    main()
