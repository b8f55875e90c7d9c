"""Built-in data sets by name."""

from helpers import block_import

import numpy as np
import pytest

from ninestep.datasets import DATASETS, SKLEARN_DATASETS, load_dataset


@pytest.mark.parametrize("name, shape, task", [
    ("arithmetic", (10_000, 2), "regression"),
    ("sine", (1000, 1), "regression"),
    ("moons", (1000, 2), "classification"),
    ("spirals", (900, 2), "classification"),
])
def test_generated_sets(name, shape, task):
    ds = load_dataset(name, seed=0)
    assert ds.X.shape == shape and ds.task == task and ds.X.dtype == np.float64 and ds.source == name
    assert len(ds.feature_names) == shape[1]
    if task == "classification":
        assert ds.y.dtype == np.int64
        assert set(np.unique(ds.y)) == set(range(len(ds.classes)))


def test_arithmetic_targets_are_the_articles():
    ds = load_dataset("arithmetic", n_samples=50, seed=1)
    a, b = ds.X[:, 0], ds.X[:, 1]
    np.testing.assert_array_equal(ds.y, np.column_stack([a + b, a - b, np.abs(a - b)]))
    assert ds.target_names == ["a+b", "a-b", "|a-b|"]


def test_same_seed_same_data_and_n_samples():
    a, b = load_dataset("moons", n_samples=64, seed=3), load_dataset("moons", n_samples=64, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.X.shape == (64, 2)
    assert not np.array_equal(a.X, load_dataset("moons", n_samples=64, seed=4).X)


@pytest.mark.parametrize("name, n, k", [("iris", 150, 3), ("breast_cancer", 569, 2), ("digits", 1797, 10),
                                        ("diabetes", 442, None)])
def test_sklearn_sets(name, n, k):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed; pip install -e '.[test]'")
    ds = load_dataset(name)
    assert ds.X.shape[0] == n and ds.y.shape == (n,)
    if k is None:
        assert ds.task == "regression" and ds.classes is None
    else:
        assert ds.task == "classification" and len(ds.classes) == k
    small = load_dataset(name, n_samples=40, seed=0)
    assert small.X.shape == (40, ds.X.shape[1])


def test_sklearn_missing_names_the_extra(monkeypatch):
    block_import(monkeypatch, "sklearn")
    with pytest.raises(ImportError, match=r"pip install 'ninestep\[sklearn\]'"):
        load_dataset("iris")


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="arithmetic, sine, moons, spirals"):
        load_dataset("mnist")
    assert set(SKLEARN_DATASETS) <= set(DATASETS)


# ---------------------------------------------------------------------- load_data: a name or a CSV file
def test_load_data_csv_guesses_the_last_column_and_encodes_labels(tmp_path):
    from ninestep.datasets import load_data

    path = tmp_path / "pets.csv"
    path.write_text("w,h,kind\n1,2,dog\n3,4,cat\n5,6,dog\n7,8,cat\n")
    data = load_data(str(path))
    assert data.target_guessed and data.target_names == ["kind"] and data.task == "classification"
    assert data.classes == ["cat", "dog"] and data.y.tolist() == [1, 0, 1, 0]
    assert data.source == str(path.resolve()) and data.X is None and data.feature_names == ["w", "h"]
    assert data.table.n_rows == 4 and data.preprocessor.targets == ["kind"]
    assert not load_data(str(path), target="kind").target_guessed


def test_load_data_builtin_refuses_csv_options():
    from ninestep.datasets import DATASET_TASKS, load_data

    with pytest.raises(ValueError, match="apply to CSV files"):
        load_data("moons", target="y")
    with pytest.raises(ValueError, match="is a classification task, not regression"):
        load_data("moons", task="regression")
    assert set(DATASET_TASKS) == set(DATASETS)
    assert all(load_dataset(n, n_samples=20, seed=0).task == DATASET_TASKS[n] for n in ("arithmetic", "moons"))


def test_encode_labels_refuses_continuous_and_single_class():
    from ninestep.datasets import encode_labels

    codes, classes = encode_labels(np.array([3.0, 1.0, 3.0]), "y")
    assert codes.tolist() == [1, 0, 1] and classes == [1, 3]
    with pytest.raises(ValueError, match="continuous values"):
        encode_labels(np.array([0.5, 1.0]), "y")
    with pytest.raises(ValueError, match="single class"):
        encode_labels(np.array(["a", "a"], dtype=object), "y")


# ---------------------------------------------------------------------- files larger than memory, block by block
def test_column_stats_and_standardise_to_file_read_in_blocks(tmp_path, monkeypatch):
    from ninestep import datasets

    monkeypatch.setattr(datasets, "BLOCK_BYTES", 8 * 3 * 7)  # 7 rows a block: many blocks, a short last one
    rng = np.random.default_rng(0)
    X = rng.normal(1e6, 1.0, size=(100, 3))  # a large mean: a naive sum of squares would lose the variance
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    rows = np.sort(rng.permutation(100)[:60])
    stats = datasets.column_stats(mapped, rows)
    np.testing.assert_allclose(stats["mean"], X[rows].mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(stats["std"], X[rows].std(axis=0), rtol=1e-9)
    np.testing.assert_array_equal(stats["max"], X[rows].max(axis=0))
    rest = np.setdiff1d(np.arange(100), rows)
    fit, test = datasets.standardise_to_file(mapped, [rows, rest], stats["mean"], stats["std"],
                                             tmp_path / "s.npy", dtype=np.float32)
    assert fit.dtype == np.float32 and fit.shape == (60, 3) and test.shape == (40, 3)
    np.testing.assert_allclose(fit, (X[rows] - stats["mean"]) / stats["std"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(test, (X[rest] - stats["mean"]) / stats["std"], rtol=1e-5, atol=1e-5)
    X[5, 1] = np.nan
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match="NaN or infinite"):
        datasets.column_stats(np.load(tmp_path / "bad.npy", mmap_mode="r"))
