"""examples/nine_steps.py, end to end through the public API."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from ninestep import article

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nine_steps.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("nine_steps", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_example_reaches_its_targets_and_warns_of_nothing_it_does_not_explain(capsys):
    example = _load_example()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = example.run(faithful_epochs=400, well_epochs=200, n_seeds=2, seed_epochs=400)
    out = capsys.readouterr().out
    assert not caught, [str(w.message) for w in caught]
    well = results["well"]["result"]
    # Target: test MAE <= 0.05 in original units on each output (a run gives ~0.01-0.02).
    assert np.all(np.array(well.test_mae) <= 0.05), well.test_mae
    # (30, 70), (70, 30), (3, 5) within 0.1 of the truth.
    truth = np.array([[100, -40, 40], [100, 40, 40], [8, -2, 2]])
    assert np.abs(results["well"]["cases"][:3] - truth).max() <= 0.1
    # The faithful run is the notebook's: its first unit dies between epochs 320 and 330.
    faithful = results["faithful"]
    assert faithful["dead_since"] == {(2, 0): 330}
    assert "layer 2 unit 0: killed by a step (alive at epoch 320, dead from epoch 330 on)" in out
    assert faithful["result"].test_mse > 100 * well.test_mse
    # The seed study includes the notebook's own draw, trained exactly as the faithful run.
    seeds = {r.seed: r for r in results["seeds"]}
    assert sorted(seeds) == [41, 42]
    assert seeds[42].mse == pytest.approx(faithful["result"].mse, rel=1e-10)
    assert seeds[42].dead_at_end == 1 and seeds[42].dead_at_start == 0


def test_the_example_keeps_no_copy_of_the_articles_cases_or_dead_counts():
    source = EXAMPLE.read_text()
    assert "888" not in source and "_forward" not in source and "(Z <= 0)" not in source
    assert "article.ARTICLE_CASES" in source and "DeadUnitTracker" in source
    assert article.ARTICLE_CASES[3] == (888.0, 122.0)
