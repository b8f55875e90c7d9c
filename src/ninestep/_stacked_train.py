"""Private: the training loop of K stacked networks, what :meth:`ninestep.Ensemble.fit` runs.

:mod:`ninestep._stacked` holds the arithmetic of one step for K members
(forward, back-propagation, the optimisers' updates); this module runs it
the way :func:`ninestep.training.fit` runs a lone network's step: epochs,
then batches, then a step, with the same batch order, learning-rate
schedule, early stopping and divergence handling - member by member.

* **Members never mix.** Every number of member k depends on member k's
  arrays only, so its bits do not depend on K or on the other members. That
  lets :func:`train_members` (a) split the stack into chunks of at most
  :data:`CHUNK_BYTES` of working set, shared out among threads (the
  measurements are in docs/ensembles.md) - NumPy releases the GIL inside its loops and in BLAS,
  so two cores work at once when each call has enough work - and (b) drop
  members that stopped (early stopping, divergence) from the arrays.
* **The optimisers' state** moves in and out of the stack: each member
  starts from its own optimiser's state (a second ``fit`` goes on as a lone
  network's would) and hands its final state back (:func:`load_state`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ._stacked import Stack, StackedAdam, StackedSGD, member_coef, validation_loss
from ._validation import check_int, overflow_error
from .callbacks import History
from .network import count_params
from .optimizers import SGD, Adam

__all__ = ["Outcome", "Settings", "train_members", "train", "stacked_optimizer", "load_state", "plan_chunks"]


# ---------------------------------------------------------------------- one chunk of members
@dataclass
class Outcome:
    """How one member's training ended."""

    params: np.ndarray                 # final flat parameters (best ones under early stopping)
    history: History
    opt_state: dict                    # its optimiser state: velocity, or m, v and t
    diverged: str | None = None        # why it stopped, if its loss or weights became NaN or infinite


@dataclass
class Settings:
    """What every member shares in a fit, besides the data."""

    loss: str
    epochs: int
    batch_size: int
    shuffle: bool
    alpha: list[float]
    lr0: list[float]
    patience: int | None = None
    min_delta: float = 0.0
    lr_schedule: Callable[[int, float], float] | None = None
    callback: Callable[[int, int], Any] | None = None
    validation: tuple[np.ndarray, np.ndarray] | None = None   # (X_val^T, Y_val^T)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _opt_row(opt, row: int) -> dict:
    if isinstance(opt, StackedAdam):
        return {"m": opt.m[row].copy(), "v": opt.v[row].copy(), "t": int(opt.t[row])}
    return {"velocity": None if opt.velocity is None else opt.velocity[row].copy()}


def train(stack: Stack, opt: StackedSGD | StackedAdam, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None,
          settings: Settings, rng: np.random.Generator, members: Sequence[int]) -> dict[int, Outcome]:
    """Train one chunk of members (ids ``members``, rows of ``stack``) as ``ninestep.training.fit`` would each.

    Every member sees the same batches: one ``rng.permutation(n)`` per epoch
    when shuffling mini-batches, as a lone network's ``fit(seed=...)`` draws.
    A member whose loss or weights become NaN or infinite goes back to the
    start of that epoch (weights and optimiser state), as a lone network's
    DivergenceError leaves it, and stops; the others go on. Under early
    stopping each member stops on its own patience and keeps its own best
    weights. Stopped members leave the arrays. ``w``: the rows' sample
    weights, or None. Returns ``{member id: Outcome}``.
    """
    n = X.shape[0]
    n_total = n if w is None else float(w.sum())   # what the epoch's loss is the mean over
    w_buf = None if w is None else np.empty(settings.batch_size)
    XT, YT = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)   # samples contiguous, as the stack
    batches = [slice(s, min(s + settings.batch_size, n)) for s in range(0, n, settings.batch_size)]
    full_batch = len(batches) == 1
    ids = np.asarray(members)
    K = len(ids)
    histories = [History() for _ in range(K)]
    best_val, wait = np.full(K, np.inf), np.zeros(K, dtype=np.int64)
    best_params = np.full_like(stack.params, np.nan) if settings.patience is not None else None
    has_best = np.zeros(K, dtype=bool)
    outcomes: dict[int, Outcome] = {}
    rows = np.arange(K)          # rows[i]: the member (0..K-1 of this chunk) in row i of the stack
    first_step, loaded = True, False

    def finish(i_rows: np.ndarray, reason: dict[int, str]) -> None:
        for i in i_rows:
            j = rows[i]
            params = stack.params[i].copy()
            if best_params is not None and has_best[j] and j not in reason:
                params = best_params[j].copy()   # early stopping: the best validation weights
            outcomes[int(ids[j])] = Outcome(params, histories[j], _opt_row(opt, i), reason.get(j))

    def coefficients() -> tuple[list[float], float | np.ndarray]:
        """The members' initial learning rates and their alpha, for the members in the arrays now."""
        return ([settings.lr0[ids[j]] for j in rows],
                member_coef([settings.alpha[ids[j]] for j in rows], stack.dtype))

    lr0, alpha = coefficients()
    lr_values, lr = lr0, member_coef(lr0, stack.dtype)
    snapshot = np.empty_like(stack.params)
    # NaN and infinity are expected here (a diverging member) and handled below, member by member.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(settings.epochs):
            if settings.lr_schedule is not None:
                lr_values = [settings.lr_schedule(epoch, v) for v in lr0]
                lr = member_coef(lr_values, stack.dtype)
            np.copyto(snapshot, stack.params)    # what a diverging member goes back to
            opt_snapshot = opt.state()
            order = rng.permutation(n) if settings.shuffle and not full_batch else None
            total = np.zeros(stack.K)
            bad = np.zeros(stack.K, dtype=bool)
            for s in batches:
                size = s.stop - s.start
                work = stack._scratch(size)
                wb = None if w is None else w[s]
                if order is not None:
                    # Gather the batch's columns straight into the step's arrays: no copy of the data set.
                    XT.take(order[s], axis=1, out=work.XT[:-1], mode="clip")
                    YT.take(order[s], axis=1, out=work.YT, mode="clip")
                    if w is not None:
                        wb = w.take(order[s], out=w_buf[:size], mode="clip")
                elif not (full_batch and loaded):
                    work.XT[:-1], work.YT[...] = XT[:, s], YT[:, s]
                    loaded = True
                values = stack.loss_and_grad(work, settings.loss, alpha, wb)
                if first_step:  # before any update a non-finite loss is the data's fault, not the lr's
                    broken = ~(np.isfinite(values) & np.isfinite(stack.grad).all(axis=1))
                    if broken.any():
                        raise overflow_error(f"the loss or its gradient before the first update (member "
                                             f"{int(ids[rows[int(np.argmax(broken))]])})",
                                             work.XT[:-1].T, work.YT.T)
                    first_step = False
                bad |= ~np.isfinite(values)
                opt.step(stack.params, stack.grad, lr)
                total += values * (size if wb is None else float(wb.sum()))
            bad |= ~np.isfinite(stack.params).all(axis=1)
            reason: dict[int, str] = {}
            if bad.any():
                for i in np.flatnonzero(bad):
                    reason[rows[i]] = (f"member {int(ids[rows[i]])} diverged in epoch {epoch + 1} with "
                                       f"lr={lr_values[i]:g}: its loss or weights became NaN or infinite; its weights "
                                       "and optimiser state went back to the start of that epoch. Try a smaller "
                                       "learning rate.")
            for i, (j, value) in enumerate(zip(rows, (total / n_total).tolist())):
                if not bad[i]:
                    histories[j].loss.append(value)
                    histories[j].lr.append(float(lr_values[i]))
            if settings.validation is not None:
                val = validation_loss(stack, *settings.validation, settings.loss)
                for i in np.flatnonzero(~bad & ~np.isfinite(val)):
                    bad[i] = True
                    histories[rows[i]].loss.pop()
                    histories[rows[i]].lr.pop()
                    reason[rows[i]] = (f"member {int(ids[rows[i]])}: the validation loss became {val[i]} in epoch "
                                       f"{epoch + 1} with lr={lr_values[i]:g}; its weights and optimiser state went "
                                       "back to the start of that epoch. Try a smaller learning rate.")
                for i in np.flatnonzero(~bad):
                    j = rows[i]
                    histories[j].val_loss.append(float(val[i]))
                    if val[i] < best_val[j] - settings.min_delta:
                        best_val[j], wait[j], histories[j].best_epoch = val[i], 0, epoch
                        if best_params is not None:
                            best_params[j], has_best[j] = stack.params[i], True
                    else:
                        wait[j] += 1
            if bad.any():
                stack.params[bad] = snapshot[bad]
                opt.restore(opt_snapshot, bad)
            stopped = bad.copy()
            if settings.patience is not None:
                for i in np.flatnonzero(~bad & (wait[rows] >= settings.patience)):
                    histories[rows[i]].stopped_early = True
                    stopped[i] = True
            if settings.callback is not None:
                with settings.lock:
                    settings.callback(epoch, int(stack.K))
            if stopped.any():   # drop them from the arrays: the others' bits do not depend on them
                finish(np.flatnonzero(stopped), reason)
                keep = np.flatnonzero(~stopped)
                rows = rows[keep]
                if not keep.size:
                    break
                stack._work.clear()  # the stopped members' scratch arrays go with the old stack
                stack, opt, loaded = stack.take(keep), opt.take(keep), False
                lr0, alpha = coefficients()
                lr_values, lr = [lr_values[i] for i in keep], _rows(lr, keep)
                snapshot = np.empty_like(stack.params)
    finish(np.arange(len(rows)), {})
    stack._work.clear()  # a batch of activations per member: free them as Network.fit does
    return outcomes


def train_members(params: np.ndarray, layer_sizes: Sequence[int], activations: Sequence, optimizers: list,
                  X: np.ndarray, Y: np.ndarray, settings: Settings, rng: np.random.Generator,
                  n_threads: int | None = None, w: np.ndarray | None = None) -> list[Outcome]:
    """Train the K members whose parameters are the rows of ``params``; member k with ``optimizers[k]``.

    ``w``: one sample weight per row of ``X``, or None.
    ``params`` is left as it is (each member's final parameters are in its
    Outcome). The members are split into chunks for the cache and trained
    on threads (:func:`plan_chunks`); each chunk draws the batch order from
    its own copy of ``rng``, so all chunks see the permutations that a
    single ``fit(seed=...)`` would draw. With several threads, BLAS is held
    to one thread of its own per call (when threadpoolctl is installed):
    two threads of ours, each calling a BLAS that starts two more, would
    fight over two cores. Returns the K Outcomes, in member order.
    """
    K = params.shape[0]
    chunks, threads = plan_chunks(n_threads, K, settings.batch_size, layer_sizes, params.dtype.itemsize)

    def one(ids: np.ndarray) -> dict[int, Outcome]:
        rows = params[ids].copy()
        stack = Stack(rows, layer_sizes, activations)
        opt = stacked_optimizer([optimizers[i] for i in ids], rows)
        return train(stack, opt, X, Y, w, settings, copy.deepcopy(rng), list(ids))

    outcomes: dict[int, Outcome] = {}
    parts = np.array_split(np.arange(K), chunks)
    if threads == 1:
        for ids in parts:
            outcomes.update(one(ids))
    else:
        with _blas_single_threaded(), ThreadPoolExecutor(max_workers=threads) as pool:
            for result in pool.map(one, parts):
                outcomes.update(result)
    return [outcomes[k] for k in range(K)]


def _blas_single_threaded():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own threads
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _rows(coef: float | np.ndarray, keep: np.ndarray) -> float | np.ndarray:
    return coef if isinstance(coef, float) else coef[keep]


# ---------------------------------------------------------------------- the optimisers' state, in and out
def stacked_optimizer(opts: list, params: np.ndarray) -> StackedSGD | StackedAdam:
    """The members' optimisers (all SGD or all Adam) as one stacked optimiser, each row from its own state."""
    K, P, dtype = params.shape[0], params.shape[1], params.dtype
    if isinstance(opts[0], SGD):
        momentum = [o.momentum for o in opts]
        velocity = None
        if any(momentum):
            velocity = np.zeros((K, P), dtype=dtype)
            for k, o in enumerate(opts):
                v = o.state_dict().get("velocity")
                if v is not None and np.shape(v) == (P,):
                    velocity[k] = v
        return StackedSGD(momentum, [o.nesterov for o in opts], dtype, velocity)
    m, v = np.zeros((K, P), dtype=dtype), np.zeros((K, P), dtype=dtype)
    t = []
    for k, o in enumerate(opts):
        if o.m is not None and np.shape(o.m) == (P,):
            m[k], v[k] = o.m, o.v
            t.append(int(o.t))
        else:
            t.append(0)
    return StackedAdam([o.beta1 for o in opts], [o.beta2 for o in opts], [o.eps for o in opts], t, m, v)


def load_state(opt: SGD | Adam, outcome: Outcome) -> None:
    """Leave ``opt`` as a lone fit would: the member's final state, and its own learning rate (a schedule
    hands the rate it started from back, so that a second fit schedules from it again)."""
    state = outcome.opt_state
    saved = opt.state_dict()
    saved = {k: val for k, val in saved.items() if not isinstance(val, np.ndarray)}
    if isinstance(opt, Adam):
        saved["t"] = state["t"]
        if state["t"] > 0:
            saved["m"], saved["v"] = state["m"], state["v"]
    elif state.get("velocity") is not None and opt.momentum:
        saved["velocity"] = state["velocity"]
    opt.load_state_dict(saved)


# ---------------------------------------------------------------------- chunks and threads
#: Bytes of a chunk's working set (a step's batch arrays and the optimiser's vectors): members are
#: stacked up to this, and the chunks are shared out among the threads. Large enough that each
#: thread's NumPy calls carry several members' work (a chunk of one member per thread left the
#: second core waiting on the GIL between calls), small enough to stay within a last-level cache;
#: docs/ensembles.md has the measurements.
CHUNK_BYTES = 16 * 2**20
#: Per member, a step below this many numbers (batch rows x units) is mostly Python between
#: NumPy calls, which holds the GIL: a second thread would only wait for it.
THREAD_WORK = 2000


def plan_chunks(n_threads, K: int, batch_size: int, sizes: Sequence[int], itemsize: int) -> tuple[int, int]:
    """(chunks, threads): how to split K members for the cache, and how many threads train the chunks.

    Results do not depend on either (members never mix). A chunk holds as
    many members as fit in :data:`CHUNK_BYTES`; threads run when each
    NumPy call has enough work to release the GIL for long (NumPy releases
    it inside its loops and in BLAS), one per core (or ``n_threads``).
    """
    per_member = itemsize * (batch_size * sum(3 * (width + 1) for width in sizes[1:]) + 5 * count_params(sizes))
    chunks = max(1, min(K, -(-K * per_member // CHUNK_BYTES)))
    if n_threads is not None:
        threads = check_int(n_threads, "n_threads")
    else:
        threads = _cores() if batch_size * sum(sizes[1:]) >= THREAD_WORK else 1
    threads = max(1, min(threads, K))
    return max(chunks, threads), threads


def _cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
