"""Looks inside a trained network: dead ReLU units, and when they died.

A hidden ReLU unit is **dead** on a data set when its pre-activation
``Z[:, j]`` is <= 0 on every row: its output is then 0 everywhere, its
derivative ``relu'(Z) = 0`` everywhere, so back-propagation sends it no
gradient and gradient descent can never bring it back. The network lives
on with one unit fewer - the article's [2, 4, 4, 3] net stalls at a loss of
0.3450 this way.

Everything here works through the public forward pass,
``Z, A = net.forward(X, return_all=True)`` (``Z[l - 1]`` is layer ``l``'s
pre-activation), so it applies to any :class:`~ninestep.Network`.

* :func:`dead_units` - which hidden units are dead on ``X``;
* :func:`linear_pieces` - how many distinct on/off patterns the hidden
  units show on ``X``: a ReLU net is linear within each pattern, so this is
  the number of linear pieces it actually uses there;
* :class:`DeadUnitTracker` - a training callback that records the epoch at
  which each unit died (0: dead from the initial draw, before any step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .callbacks import Callback

__all__ = ["DeadUnits", "dead_units", "linear_pieces", "DeadUnitTracker"]


def _hidden_pre_activations(net, X: Any) -> list[np.ndarray]:
    Z, _ = net.forward(X, return_all=True)
    return Z[:-1]


@dataclass(frozen=True)
class DeadUnits:
    """Per hidden layer (layer 1 is the first hidden layer), the dead units' indices.

    ``indices[l - 1]``: sorted int array of the units of hidden layer ``l``
    whose pre-activation is <= 0 on every row; ``sizes[l - 1]``: the
    layer's width.
    """

    indices: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]

    @property
    def fractions(self) -> list[float]:
        """Per hidden layer, the share of its units that are dead (0.0 .. 1.0)."""
        return [len(i) / n for i, n in zip(self.indices, self.sizes)]

    @property
    def count(self) -> int:
        """Dead units over all hidden layers."""
        return sum(len(i) for i in self.indices)

    @property
    def total(self) -> int:
        """Hidden units over all hidden layers."""
        return sum(self.sizes)

    def as_list(self) -> list[tuple[int, int]]:
        """``[(layer, unit), ...]`` for every dead unit, layers counted from 1."""
        return [(l + 1, int(j)) for l, idx in enumerate(self.indices) for j in idx]

    def __str__(self) -> str:
        parts = [f"layer {l + 1}: " + (f"unit{'s' if len(idx) > 1 else ''} {', '.join(map(str, idx))} "
                                       f"({len(idx)} of {n})" if len(idx) else f"none of {n}")
                 for l, (idx, n) in enumerate(zip(self.indices, self.sizes))]
        return f"{self.count} of {self.total} hidden units dead (" + "; ".join(parts) + ")"


def dead_units(net, X: Any) -> DeadUnits:
    """The hidden units whose pre-activation is <= 0 on every row of ``X``.

    Parameters
    ----------
    net : Network
    X : array of shape (n_samples, n_inputs)
        The rows to look at - usually the training set, where a dead unit
        receives no gradient.

    Returns
    -------
    DeadUnits
        ``.indices`` per hidden layer, ``.fractions``, ``.count``,
        ``.total``. For a ReLU layer these units output 0 and learn
        nothing; for leaky ReLU they are only inactive (their slope still
        passes a small gradient); for other activations the test says only
        that the pre-activation is never positive.

    Examples
    --------
    >>> import numpy as np, ninestep as ns
    >>> from ninestep.diagnostics import dead_units
    >>> net = ns.Network([2, 3, 1], seed=0)
    >>> net.layers[0].b[...] = [-100.0, 0.0, 0.0]
    >>> dead_units(net, np.zeros((5, 2))).as_list()  # on all-zero rows z = b, <= 0 for all three
    [(1, 0), (1, 1), (1, 2)]
    """
    Zs = _hidden_pre_activations(net, X)
    return DeadUnits(tuple(np.flatnonzero((Z <= 0).all(axis=0)) for Z in Zs), tuple(Z.shape[1] for Z in Zs))


def linear_pieces(net, X: Any) -> int:
    """The number of distinct on/off patterns (Z > 0) of all hidden units over the rows of ``X``.

    Within one pattern a ReLU network is a single linear (affine) function
    of its input, so this counts the linear pieces it uses on ``X``.
    """
    Zs = _hidden_pre_activations(net, X)
    patterns = np.concatenate([Z > 0 for Z in Zs], axis=1)
    return int(np.unique(patterns, axis=0).shape[0])


class DeadUnitTracker(Callback):
    """A training callback: the epoch at which each hidden unit died on ``X``.

    Checks :func:`dead_units` when it is made (``epoch 0``: make it before
    training, so that this is the initial draw) and after every
    ``every``-th epoch; a unit counts as dead since the
    first check at which it was dead *and* stayed dead at every later check
    (a unit that revives, which ReLU only allows through changes in the
    layers below it, starts over).

    Use it as ``net.fit(..., callbacks=[tracker])`` or as the older
    ``net.fit(..., callback=tracker)``.

    Attributes
    ----------
    since : dict {(layer, unit): epoch}
        For each unit dead at the last check, the first epoch of its final
        dead spell. 0 means it was dead before the first step: killed by the
        initial draw (for the article, the random bias), not by a step.
    checks : list of (epoch, DeadUnits)
    """

    def __init__(self, net, X: Any, every: int = 1):
        if not isinstance(every, (int, np.integer)) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int (check every N epochs), got {every!r}.")
        self.net, self.X, self.every = net, X, int(every)
        self.since: dict[tuple[int, int], int] = {}
        self.checks: list[tuple[int, DeadUnits]] = []
        self._check(0)

    def _check(self, epoch: int) -> None:
        dead = dead_units(self.net, self.X)
        now = set(dead.as_list())
        self.since = {unit: self.since.get(unit, epoch) for unit in sorted(now)}
        self.checks.append((epoch, dead))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        done = epoch + 1  # fit counts epochs from 0; after it, epoch + 1 epochs have run
        if done % self.every == 0:
            self._check(done)

    def __call__(self, epoch: int, logs: dict | None = None) -> None:
        """The same as :meth:`on_epoch_end`, for ``fit``'s older ``callback=`` argument."""
        self.on_epoch_end(epoch, logs)

    def killed_by(self, unit: tuple[int, int]) -> str:
        """``"the initial draw"`` (dead at epoch 0), or ``"a step (...)"`` with the epochs that bound it."""
        epoch = self.since[unit]
        if epoch == 0:
            return "the initial draw"
        if self.every == 1:
            return f"a step (dead since epoch {epoch:,})"
        return f"a step (alive at epoch {epoch - self.every:,}, dead from epoch {epoch:,} on)"
