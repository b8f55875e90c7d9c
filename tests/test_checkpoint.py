"""Checkpoints: atomic writes that survive SIGKILL, and resume that is bit-identical.

``fit(..., checkpoint=PATH)`` writes the whole training state (weights,
optimiser state, epoch, RNG state, history, early-stopping state) to a
temporary file in the same folder, fsyncs it, then ``os.replace``-s it over
PATH. ``fit(..., resume_from=PATH)`` continues as if never interrupted.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep import checkpoint
from ninestep.archive import write_archive
from ninestep.checkpoint import load_checkpoint


class _Interrupt(Exception):
    pass


def _data():
    X, y = ns.make_moons(120, noise=0.3, seed=0)
    X_val, y_val = ns.make_moons(60, noise=0.3, seed=1)
    return X, y, (X_val, y_val)


def _setup(opt, init_seed=0):
    net = ns.Network([2, 8, 2], output_activation="softmax", seed=init_seed)
    optimizer = ns.SGD(lr=0.1, momentum=0.9) if opt == "sgd" else ns.Adam(lr=0.1)
    return net, optimizer


def _fit(net, optimizer, **kwargs):
    X, y, val = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        return net.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=30, batch_size=16,
                       shuffle=True, seed=5, validation_data=val, **kwargs)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("patience", [None, 2])
@pytest.mark.parametrize("stop_after", [1, 6])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, opt, patience, stop_after):
    net, optimizer = _setup(opt)
    history = _fit(net, optimizer, patience=patience)
    if patience is not None:
        assert history.stopped_early, "the early-stopping case must actually stop early"

    # The same run, interrupted after `stop_after` epochs (the callback runs before that
    # epoch's checkpoint is written, so the file holds the epochs before it).
    def interrupt(epoch, logs):
        if epoch == stop_after:
            raise _Interrupt
    path = tmp_path / "ck.npz"
    net2, optimizer2 = _setup(opt)
    with pytest.raises(_Interrupt):
        _fit(net2, optimizer2, patience=patience, checkpoint=path, callback=interrupt)
    assert load_checkpoint(path, *_setup(opt))["epoch"] == stop_after

    # Resumed into a differently initialised network and a fresh optimiser: the file alone
    # must carry the weights, the optimiser state, the epoch counter and the RNG state.
    net3, optimizer3 = _setup(opt, init_seed=123)
    resumed = _fit(net3, optimizer3, patience=patience, resume_from=path)
    assert np.array_equal(net3.params, net.params)
    assert resumed.loss == history.loss and resumed.val_loss == history.val_loss
    assert resumed.lr == history.lr
    assert resumed.best_epoch == history.best_epoch and resumed.stopped_early == history.stopped_early
    if opt == "adam":
        assert optimizer3.t == optimizer.t
        assert np.array_equal(optimizer3.m, optimizer.m) and np.array_equal(optimizer3.v, optimizer.v)
    else:
        assert np.array_equal(optimizer3.velocity, optimizer.velocity)


def test_resume_with_cosine_schedule_is_bit_identical(tmp_path):
    net, optimizer = _setup("sgd")
    history = _fit(net, optimizer, lr_schedule="cosine", checkpoint=tmp_path / "full.npz", checkpoint_every=7)
    path = tmp_path / "ck.npz"

    def interrupt(epoch, logs):
        if epoch == 11:
            raise _Interrupt
    net2, optimizer2 = _setup("sgd")
    with pytest.raises(_Interrupt):
        _fit(net2, optimizer2, lr_schedule="cosine", checkpoint=path, checkpoint_every=5, callback=interrupt)
    assert load_checkpoint(path, *_setup("sgd"))["epoch"] == 10
    net3, optimizer3 = _setup("sgd", init_seed=7)
    resumed = _fit(net3, optimizer3, lr_schedule="cosine", resume_from=path)
    assert np.array_equal(net3.params, net.params) and resumed.lr == history.lr


def test_resuming_a_finished_early_stopped_run_changes_nothing(tmp_path):
    net, optimizer = _setup("adam")
    path = tmp_path / "ck.npz"
    history = _fit(net, optimizer, patience=2, checkpoint=path)
    assert history.stopped_early
    net2, optimizer2 = _setup("adam", init_seed=3)
    again = _fit(net2, optimizer2, patience=2, resume_from=path)
    assert np.array_equal(net2.params, net.params) and again.loss == history.loss


def test_checkpoint_is_written_every_k_epochs_and_at_the_end(tmp_path, monkeypatch):
    saved = []
    real = checkpoint.save_checkpoint
    monkeypatch.setattr(checkpoint, "save_checkpoint",
                        lambda path, trainer, cbs: (saved.append(trainer.epoch + 1), real(path, trainer, cbs))[1])
    net, optimizer = _setup("sgd")
    _fit(net, optimizer, checkpoint=tmp_path / "ck.npz", checkpoint_every=7)
    assert saved == [7, 14, 21, 28, 30]


def test_atomic_write_uses_a_temp_file_in_the_same_folder_fsync_then_replace(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", fd)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", a, b)), real_replace(a, b))[1])
    target = tmp_path / "m.npz"
    write_archive(target, {}, {"x": np.arange(3.0)})
    kinds = [c[0] for c in calls]
    assert "fsync" in kinds and "replace" in kinds
    assert kinds.index("fsync") < kinds.index("replace")  # the data is on disk before the rename
    _, tmp, dst = calls[kinds.index("replace")]
    assert os.path.dirname(tmp) == str(tmp_path) and dst == target  # same folder: rename is atomic
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    with np.load(target) as archive:
        assert np.array_equal(archive["x"], np.arange(3.0))


def test_failed_write_leaves_the_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    write_archive(target, {}, {"x": np.arange(3.0)})
    before = target.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        write_archive(target, {}, {"x": np.arange(5.0)})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


# ---------------------------------------------------------------------- SIGKILL
_TRAINER = textwrap.dedent("""
    import os, signal, stat, sys, warnings
    import numpy as np
    import ninestep as ns

    path, final, kill_in_write = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kill_in_write:
        # Die with SIGKILL inside the write of checkpoint number `kill_in_write`: after its
        # bytes went to the temporary file, before the rename.
        writes = []
        real_fsync = os.fsync
        def fsync(fd):
            info = os.fstat(fd)
            if info.st_size > 0 and not stat.S_ISDIR(info.st_mode):  # the file, not its folder
                writes.append(fd)
                if len(writes) == kill_in_write:
                    os.kill(os.getpid(), signal.SIGKILL)
            real_fsync(fd)
        os.fsync = fsync
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20))
    y = np.sin(X[:, :3]).sum(axis=1)
    net = ns.Network([20, 128, 128, 1], seed=0)  # ~19k parameters: writes take a good share of the time
    opt = ns.Adam(lr=1e-3)
    resume = path if os.path.exists(path) else None
    warnings.simplefilter("ignore", ns.ConvergenceWarning)
    net.fit(X, y, optimizer=opt, epochs=int(sys.argv[4]), batch_size=50, seed=1, checkpoint=path,
            resume_from=resume)
    np.save(final, net.params)
""")


def _run(script, *args):
    # One BLAS thread: the runs being compared do the same arithmetic in the same order.
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


_POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL needs a POSIX system")


@_POSIX_ONLY
def test_sigkill_inside_a_write_leaves_the_previous_checkpoint(tmp_path):
    script = tmp_path / "trainer.py"
    script.write_text(_TRAINER)
    path = tmp_path / "ck.npz"
    proc = _run(script, path, tmp_path / "final.npy", 3, 50)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the kill should have hit the write of the third checkpoint"
    state = load_checkpoint(path, ns.Network([20, 128, 128, 1], seed=5), ns.Adam())
    assert state["epoch"] == 2  # the third write never landed; the second is intact


def _wait_for_new_checkpoint(proc, path, before_inode):
    """Wait until ``proc`` has written its first checkpoint (os.replace gives a new inode), so
    that a kill lands in training or writing, not in the interpreter's start-up."""
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < 60:
        try:
            if path.stat().st_ino != before_inode:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.002)


@pytest.mark.slow
@_POSIX_ONLY
def test_repeated_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_result(tmp_path):
    script = tmp_path / "trainer.py"
    script.write_text(_TRAINER)
    epochs = 40
    reference = _run(script, tmp_path / "ref.npz", tmp_path / "ref.npy", 0, epochs)
    _wait_for_new_checkpoint(reference, tmp_path / "ref.npz", None)
    started = time.monotonic()
    assert reference.wait(timeout=120) == 0, reference.stderr.read().decode()
    duration = time.monotonic() - started  # training time after the first checkpoint

    path, final = tmp_path / "ck.npz", tmp_path / "final.npy"
    chance = random.Random(20261129)
    epochs_seen, kills = [], 0
    for attempt in range(8):
        final.unlink(missing_ok=True)  # a kill may land in the final np.save; only a whole run counts
        before = path.stat().st_ino if path.exists() else None
        proc = _run(script, path, final, 0, epochs)
        _wait_for_new_checkpoint(proc, path, before)
        # Kill somewhere in the next eighth of a run: four kills cannot finish the training.
        time.sleep(chance.uniform(0.0, duration / 8))
        if proc.poll() is not None:
            break  # it finished before we could kill it
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        # Every kill leaves a checkpoint that loads, and training never goes backwards.
        state = load_checkpoint(path, ns.Network([20, 128, 128, 1], seed=9), ns.Adam())
        assert 1 <= state["epoch"] <= epochs
        assert not epochs_seen or state["epoch"] >= epochs_seen[-1]
        epochs_seen.append(state["epoch"])
        if kills >= 4:
            break
    assert kills >= 3, f"only {kills} kills landed (at epochs {epochs_seen}); the trainer finished too fast"
    if not final.exists():
        proc = _run(script, path, final, 0, epochs)
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    assert np.array_equal(np.load(final), np.load(tmp_path / "ref.npy")), f"resumed at epochs {epochs_seen}"


def test_resuming_with_other_data_or_settings_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    net, optimizer = _setup("sgd")
    X, y, val = _data()
    net.fit(X, y, loss="cross_entropy", optimizer=optimizer, epochs=3, batch_size=16, seed=5,
            validation_data=val, checkpoint=path, tol=1e9)
    X2 = X.copy()
    X2[7, 1] += 1e-9  # one value, slightly changed
    for kwargs, message in [(dict(X=X2), "data_crc32"), (dict(batch_size=32), "batch_size 16 there, 32 here"),
                            (dict(shuffle=False), "shuffle True there, False here"),
                            (dict(validation_data=None), "validation_crc32")]:
        call = dict(X=X, y=y, loss="cross_entropy", epochs=6, batch_size=16, seed=5, validation_data=val)
        call.update(kwargs)
        fresh, fresh_opt = _setup("sgd", init_seed=4)
        before = fresh.params.copy()
        with pytest.raises(ValueError, match=f"other data or settings.*{message}"):
            fresh.fit(call.pop("X"), call.pop("y"), optimizer=fresh_opt, resume_from=path, tol=1e9, **call)
        assert np.array_equal(fresh.params, before)  # refused before anything was restored


def test_resume_in_float32_is_bit_identical(tmp_path):
    X, y, val = _data()

    def run(init_seed=0, **kwargs):
        net = ns.Network([2, 8, 2], output_activation="softmax", seed=init_seed, dtype=np.float32)
        opt = ns.Adam(lr=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ns.ConvergenceWarning)
            history = net.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=12, batch_size=16, seed=3,
                              validation_data=val, **kwargs)
        return net, opt, history

    net, opt, history = run()

    def interrupt(epoch, logs):
        if epoch == 5:
            raise _Interrupt
    with pytest.raises(_Interrupt):
        run(checkpoint=tmp_path / "ck.npz", callback=interrupt)
    net3, opt3, resumed = run(init_seed=8, resume_from=tmp_path / "ck.npz")
    assert net3.params.dtype == np.float32 and opt3.m.dtype == np.float32
    assert np.array_equal(net3.params, net.params) and resumed.loss == history.loss


def test_checkpoints_with_other_generators_and_optimiser_subclasses(tmp_path):
    X, y, _ = _data()

    class MyAdam(ns.Adam):
        pass

    path = tmp_path / "ck.npz"
    first = ns.Network([2, 8, 2], output_activation="softmax", seed=0)
    first.fit(X, y, loss="cross_entropy", optimizer=MyAdam(0.01), epochs=2, batch_size=16, tol=1e9,
              seed=np.random.Generator(np.random.MT19937(3)), checkpoint=path)  # its state holds arrays
    again = ns.Network([2, 8, 2], output_activation="softmax", seed=5)
    again.fit(X, y, loss="cross_entropy", optimizer=MyAdam(0.01), epochs=3, batch_size=16, tol=1e9,
              seed=np.random.Generator(np.random.MT19937(9)), resume_from=path)
    whole = ns.Network([2, 8, 2], output_activation="softmax", seed=0)
    whole.fit(X, y, loss="cross_entropy", optimizer=MyAdam(0.01), epochs=3, batch_size=16, tol=1e9,
              seed=np.random.Generator(np.random.MT19937(3)))
    assert again.params.tobytes() == whole.params.tobytes()

    class StepOnly(ns.optimizers.Optimizer):
        lr = 0.1

        def step(self, params, grad):
            params -= 0.1 * grad
    with pytest.raises(TypeError, match="checkpoint= and resume_from= need an optimiser"):
        ns.Network([2, 8, 2], output_activation="softmax", seed=0).fit(
            X, y, loss="cross_entropy", optimizer=StepOnly(), epochs=1, checkpoint=tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
