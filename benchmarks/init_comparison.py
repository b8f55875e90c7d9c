"""He against Glorot initial weights under ninestep train's default recipe, on every built-in data set.

By default a Network draws He (``he_normal``) weights for its ReLU layers
and Glorot (``glorot_uniform``) weights for its output layer; scikit-learn
and Keras use Glorot for every layer. This script runs
``ninestep train --data NAME --seed S [--init INIT] --json`` (everything
else at its default) with the default and with each initialiser for every
layer, three seeds each, and prints the test score of each run: accuracy
for classification (higher is better), the test loss for regression (lower
is better), and how often Glorot everywhere beat the default. It is
evidence for choosing a default, not a test; each run takes a second or two.

Run:    python benchmarks/init_comparison.py            (about 2 minutes on 2 cores)
        python benchmarks/init_comparison.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import warnings

from ninestep import cli
from ninestep.datasets import DATASETS

INITS = ("default", "he_normal", "glorot_uniform")


def score(name: str, seed: int, init: str) -> tuple[str, float]:
    """(metric, value) of one ``ninestep train`` run with the default recipe and ``init``."""
    argv = ["train", "--data", name, "--seed", str(seed), "--json"] + ([] if init == "default" else ["--init", init])
    stdout = io.StringIO()
    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(stdout), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = cli.main(argv + ["--out", out])
    if code:
        raise RuntimeError(f"ninestep {' '.join(argv)} exited with {code}")
    metrics = json.loads(stdout.getvalue().strip().splitlines()[-1])["metrics"]
    key = "test_accuracy" if "test_accuracy" in metrics else "test_loss"
    return key, float(metrics[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(f"$ python benchmarks/init_comparison.py --seeds {' '.join(map(str, args.seeds))}")
    print(f"{'data set':<14} {'score':<14} " + "".join(f"{init:<34}" for init in INITS)
          + "glorot_uniform against the default")
    for name in sorted(DATASETS):
        runs = {init: [score(name, seed, init) for seed in args.seeds] for init in INITS}
        key = runs[INITS[0]][0][0]
        values = {init: [v for _, v in runs[init]] for init in INITS}
        better = (lambda a, b: a > b) if key == "test_accuracy" else (lambda a, b: a < b)
        pairs = list(zip(values["glorot_uniform"], values["default"]))
        wins, losses = sum(better(g, d) for g, d in pairs), sum(better(d, g) for g, d in pairs)
        print(f"{name:<14} {key:<14} " + "".join(f"{'  '.join(f'{v:.4g}' for v in values[init]):<34}"
                                                 for init in INITS)
              + f"better {wins}, worse {losses}, equal {len(pairs) - wins - losses}")


if __name__ == "__main__":
    main()
