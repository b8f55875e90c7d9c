"""ninestep's ``fit`` does the work of the hand-inlined loop in ``benchmarks/bare_numpy.py``, no more, no less.

The benchmark times that loop as the floor for pure-NumPy training; these
tests keep the comparison honest (the same arithmetic, the same shuffling,
the same Adam) and check ninestep's training loop against a straight-line
implementation of the same algorithm written without any of its structure.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ninestep as ns

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bare_numpy  # noqa: E402


def _fit(net, X, Y, loss, epochs, batch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        net.fit(X, Y, loss=loss, optimizer=ns.Adam(lr=1e-3), epochs=epochs, batch_size=batch, seed=3)


@pytest.mark.parametrize("batch", [32, 50])  # 300 rows: 32 leaves a last batch of 12, 50 divides evenly
def test_fit_is_the_bare_loop_bit_for_bit_with_the_squared_error(batch):
    X, y = ns.make_arithmetic(300, seed=1)
    net = ns.Network([2, 16, 8, 3], seed=0)
    params = bare_numpy.train(net.params.copy(), [2, 16, 8, 3], X, y, "mse", epochs=70, batch=batch, seed=3)
    _fit(net, X, y, "mse", epochs=70, batch=batch)  # 70 epochs: past a _flush_tiny or two
    assert params.tobytes() == net.params.tobytes()


@pytest.mark.parametrize("batch", [64, 48])  # 450 rows: last batches of 2 and 18
def test_fit_is_the_bare_loop_bit_for_bit_with_cross_entropy_in_float32(batch):
    X, labels = ns.make_spirals(450, n_classes=3, seed=2)
    X, Y = X.astype(np.float32), np.eye(3, dtype=np.float32)[labels]
    net = ns.Network([2, 32, 16, 3], output_activation="softmax", dtype=np.float32, seed=0)
    params = bare_numpy.train(net.params.copy(), [2, 32, 16, 3], X, Y, "cross_entropy", epochs=5, batch=batch,
                              seed=3)
    _fit(net, X, labels, "cross_entropy", epochs=5, batch=batch)
    assert params.dtype == net.params.dtype == np.float32
    assert params.tobytes() == net.params.tobytes()
