"""Training from a memory-mapped file (data larger than memory), in ninestep.training and ninestep._validation."""

import numpy as np
import pytest

import ninestep as ns
from ninestep._validation import memory_map_of


@pytest.fixture
def mapped(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 5))
    y = X[:, :2].sum(axis=1)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r"), X, y


@pytest.mark.parametrize("shuffle", [True, False, "blocks"])
def test_a_memory_mapped_file_trains_exactly_as_the_same_array_in_memory(mapped, shuffle):
    Xm, ym, X, y = mapped
    a, b = ns.Network([5, 8, 1], seed=0), ns.Network([5, 8, 1], seed=0)
    ha = a.fit(Xm, ym, epochs=3, batch_size=64, seed=1, shuffle=shuffle, tol=1e9)
    hb = b.fit(X, y, epochs=3, batch_size=64, seed=1, shuffle=shuffle, tol=1e9)
    assert a.params.tobytes() == b.params.tobytes() and ha.loss == hb.loss


def test_the_mapping_is_found_through_views_and_released(mapped, monkeypatch):
    Xm = mapped[0]
    assert memory_map_of(np.asarray(Xm)[10:20]) is not None and memory_map_of(mapped[2]) is None
    import ninestep.training as training
    released, real = [], training.release_pages
    monkeypatch.setattr(training, "release_pages", lambda arr: (released.append(memory_map_of(arr)), real(arr)))
    ns.Network([5, 8, 1], seed=0).fit(Xm, mapped[1], epochs=1, batch_size=8, seed=0, tol=1e9)  # 375 batches
    assert released, "the pages read were never handed back"


def test_block_shuffling_visits_every_row_once_per_epoch_in_blocks():
    from ninestep.training import _block_order
    order = _block_order(np.random.default_rng(0), 1000, 64)
    assert sorted(order) == list(range(1000))
    blocks = order[:64] // 64
    assert (blocks == blocks[0]).all()  # one block at a time


def test_a_mapped_file_of_another_dtype_is_refused_rather_than_loaded(mapped):
    with pytest.raises(ValueError, match="memory-mapped float64 array but float32 is needed.*dtype=np.float64"):
        ns.Network([5, 8, 1], seed=0, dtype=np.float32).fit(mapped[0], mapped[1], epochs=1)


def test_nan_in_a_large_mapped_file_is_found_block_by_block(tmp_path, monkeypatch):
    import ninestep._validation as validation
    monkeypatch.setattr(validation, "_BLOCK_BYTES", 4096)  # many blocks for a small file
    X = np.ones((2000, 4))
    X[1777, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(ValueError, match="row 1777, column 2"):
        ns.Network([4, 3, 1], seed=0).fit(np.load(tmp_path / "X.npy", mmap_mode="r"), np.ones(2000), epochs=1)


def test_a_checkpointed_run_on_a_mapped_file_resumes_bit_for_bit(mapped, tmp_path):
    # The checkpoint's checksum of the data reads a mapped file block by block: the same value as in memory.
    from ninestep.checkpoint import run_fingerprint
    Xm, ym, X, y = mapped
    assert run_fingerprint((Xm, ym), "mse", 64, True, 0.0, None) == run_fingerprint((X, y), "mse", 64, True, 0.0, None)
    full = ns.Network([5, 8, 1], seed=0)
    full.fit(Xm, ym, epochs=4, batch_size=64, seed=1, tol=1e9)
    part = ns.Network([5, 8, 1], seed=0)
    part.fit(Xm, ym, epochs=2, batch_size=64, seed=1, tol=1e9, checkpoint=tmp_path / "ck.npz")
    resumed = ns.Network([5, 8, 1], seed=3)
    resumed.fit(Xm, ym, epochs=4, batch_size=64, seed=1, tol=1e9, resume_from=tmp_path / "ck.npz")
    assert resumed.params.tobytes() == full.params.tobytes()


def test_a_copy_on_write_mapping_keeps_the_callers_changes(tmp_path):
    # np.load(..., mmap_mode="c") keeps changes in memory only: handing its pages back would lose them.
    np.save(tmp_path / "X.npy", np.zeros((3000, 5)))
    Xc = np.load(tmp_path / "X.npy", mmap_mode="c")
    Xc += 5.0  # e.g. standardised in place by the caller
    assert memory_map_of(Xc) is None
    ns.Network([5, 4, 1], seed=0).fit(Xc, np.ones(3000), epochs=1, batch_size=8, seed=0, tol=1e9)
    assert (Xc == 5.0).all()
