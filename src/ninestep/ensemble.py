"""Many networks at once: an :class:`Ensemble` of K networks of one shape, trained together.

A deep ensemble - several networks from different initial draws, trained
on the same data - is the standard simple way to see when a network does
not know: where the members agree the prediction is well supported, where
they spread apart (far outside the training data) it is a guess.

Training K networks one after the other pays NumPy's per-call cost K
times; an Ensemble stacks the members' parameters on a leading axis so
that one NumPy call serves all K (see :mod:`ninestep._stacked` for how).
Nothing about the maths changes: **member k ends exactly where the same
network trained alone would** - ``Network(layer_sizes, seed=seeds[k],
...).fit(X, y, optimizer=its optimiser, alpha=its alpha, seed=s, ...)`` -
to round-off (tests/test_ensemble.py checks 1e-10 relative in float64),
including early stopping, where each member stops on its own patience and
keeps its own best weights while the others go on.

Seeds: ``Ensemble(sizes, n_members=K, seed=s)`` gives member k the seed
``np.random.SeedSequence(s).spawn(K)[k]`` (independent streams; member k's
weights do not depend on K), listed in ``ensemble.seeds``. A list
``seed=[s_0, ..., s_{K-1}]`` gives member k exactly ``Network(sizes,
seed=s_k)``: ``Ensemble([2, 4, 4, 3], seed=range(42, 50),
bias_init="same")`` is the article's net from eight initial draws.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ._stacked import LOSSES, Stack
from ._stacked_train import Settings, load_state, train_members
from ._validation import (as_generator, check_array, check_int, check_nonnegative, check_positive,
                          check_sample_weight, overflow_error)
from .activations import get_activation
from .archive import ArchiveError, read_archive, write_archive
from .callbacks import cosine_schedule
from .losses import get_loss, prepare_targets
from .network import Network, count_params
from .optimizers import SGD, Adam
from .training import ConvergenceWarning, _check_two_classes, check_fit_options

__all__ = ["Ensemble", "EnsembleHistory", "DivergenceWarning", "train_seeds"]


class DivergenceWarning(RuntimeWarning):
    """A member's loss became NaN or infinite: it stopped (weights put back), the others went on."""


@dataclass
class EnsembleHistory:
    """What :meth:`Ensemble.fit` did, member by member.

    Attributes
    ----------
    histories : list of History
        Member k's ``History``, equal to what its lone ``Network.fit`` returns.
    diverged : dict {k: message}
        Members whose loss or weights became NaN or infinite; each went back
        to the start of that epoch and stopped (a lone fit raises DivergenceError there).
    optimizers : list of SGD or Adam
        Each member's optimiser with its state (velocity, moments) at the end:
        pass them to the next ``fit`` to go on as a lone network would.
    """

    histories: list = field(default_factory=list)
    diverged: dict[int, str] = field(default_factory=dict)
    optimizers: list = field(default_factory=list)

    def __getitem__(self, k: int):
        return self.histories[k]

    def __len__(self) -> int:
        return len(self.histories)

    @property
    def loss(self) -> list[list[float]]:
        """Training loss per epoch, one list per member (lengths differ under early stopping)."""
        return [h.loss for h in self.histories]

    @property
    def val_loss(self) -> list[list[float]]:
        return [h.val_loss for h in self.histories]

    @property
    def stopped_early(self) -> list[bool]:
        return [h.stopped_early for h in self.histories]


class Ensemble:
    """K networks of the same shape, stored and trained as one stack.

    Parameters
    ----------
    layer_sizes : sequence of int
        As for :class:`~ninestep.Network`, e.g. ``[2, 8, 8, 1]``.
    n_members : int, optional
        K; may be left out when ``seed`` is a list (one seed per member).
    seed : int, SeedSequence, Generator, None, or a sequence of K of them
        One seed: member k's is ``np.random.SeedSequence(seed).spawn(K)[k]``
        (a Generator is spawned likewise: ``seed.spawn(K)``). A sequence:
        member k's seed is ``seed[k]``, exactly as ``Network(..., seed=seed[k])``.
    **network_options
        ``activation``, ``output_activation``, ``init``, ``dtype``,
        ``bias_init``: as for Network, the same for every member.

    Attributes
    ----------
    params : ndarray of shape (K, n_params)
        Row k is member k's ``Network.params`` (same layout).
    seeds : list
        The seed each member's initial weights were drawn from (None after
        ``from_networks`` or loading).
    """

    def __init__(self, layer_sizes: Sequence[int], n_members: int | None = None, seed=None, **network_options):
        seeds = _member_seeds(seed, n_members)
        nets = [Network(layer_sizes, seed=s, **network_options) for s in seeds]
        self._adopt(nets)
        self.seeds = seeds

    @classmethod
    def from_networks(cls, nets: Sequence[Network]) -> "Ensemble":
        """An ensemble of copies of ``nets`` (same layer sizes, activations and dtype)."""
        nets = list(nets)
        if not nets or not all(isinstance(net, Network) for net in nets):
            raise TypeError("from_networks needs a non-empty list of ninestep.Network objects.")
        first = nets[0]
        for k, net in enumerate(nets[1:], start=1):
            if (net.layer_sizes != first.layer_sizes or net.dtype != first.dtype
                    or [l.activation.name for l in net.layers] != [l.activation.name for l in first.layers]):
                raise ValueError(f"nets[{k}] is a {net!r} but nets[0] is a {first!r}; an Ensemble stacks "
                                 "networks of one shape (layer sizes, activations, dtype).")
        ens = cls.__new__(cls)
        ens._adopt(nets)
        ens.seeds = [None] * len(nets)
        return ens

    def _adopt(self, nets: list[Network]) -> None:
        first = nets[0]
        self.layer_sizes = first.layer_sizes
        self.dtype = first.dtype
        self.activations = [layer.activation for layer in first.layers]
        self.params = np.stack([net.params for net in nets])   # (K, n_params), C-contiguous

    # ------------------------------------------------------------------ structure
    @property
    def n_members(self) -> int:
        return self.params.shape[0]

    def __len__(self) -> int:
        return self.n_members

    @property
    def n_inputs(self) -> int:
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    def member(self, k: int) -> Network:
        """Member k as a new, independent :class:`Network` (a copy of its weights)."""
        k = check_int(k, "k", minimum=0)
        if k >= self.n_members:
            raise IndexError(f"member {k} does not exist; the ensemble has {self.n_members} (0..{self.n_members - 1}).")
        names = [a.name for a in self.activations]
        net = Network(self.layer_sizes, activation=names[0], output_activation=names[-1], seed=0, dtype=self.dtype)
        for layer, activation in zip(net.layers, self.activations):
            layer.activation = activation
        net.params[...] = self.params[k]
        return net

    @property
    def members(self) -> list[Network]:
        """Every member as an independent :class:`Network` - copies: changing them leaves the ensemble alone
        (rebuild one with ``Ensemble.from_networks``)."""
        return [self.member(k) for k in range(self.n_members)]

    def __repr__(self) -> str:
        names = [a.name for a in self.activations]
        return (f"Ensemble({self.layer_sizes}, n_members={self.n_members}, activation={names[0]!r}, "
                f"output_activation={names[-1]!r}, dtype={self.dtype.name})")

    def _stack(self) -> Stack:
        return Stack(self.params, self.layer_sizes, self.activations)

    def _check_X(self, X, name: str = "X") -> np.ndarray:
        X = check_array(X, name, dtype=self.dtype)
        if X.shape[1] != self.n_inputs:
            raise ValueError(f"{name} has {X.shape[1]} features but the ensemble expects {self.n_inputs} "
                             f"(layer_sizes starts with {self.n_inputs}).")
        return X

    # ------------------------------------------------------------------ prediction
    def predict_members(self, X: Any) -> np.ndarray:
        """Every member's ``y_hat``: an array of shape (K, n_samples, n_outputs)."""
        X = self._check_X(X)
        out = self._stack().predict(X)
        if not np.isfinite(out).all():
            raise overflow_error("the ensemble's output", X)
        return out

    def predict(self, X: Any, return_std: bool = False):
        """The members' mean prediction, shape (n_samples, n_outputs); with ``return_std`` also their spread.

        For a classifier (softmax or sigmoid output) this is the mean of the
        members' probabilities. The spread is the standard deviation over
        the K members (``ddof=0``), in the units of the output.
        """
        out = self.predict_members(X)
        mean = out.mean(axis=0)
        return (mean, out.std(axis=0)) if return_std else mean

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any, loss: str = "mse", optimizer=None, epochs: int = 100,
            batch_size: int | None = None, shuffle: bool = True, validation_data=None, seed=None, *,
            alpha: float | Sequence[float] = 0.0, patience: int | None = None, min_delta: float = 0.0,
            lr_schedule: str | Callable[[int, float], float] | None = None, tol: float = 1e-4,
            n_threads: int | None = None, callback: Callable[[int, int], Any] | None = None,
            sample_weight: Any = None) -> EnsembleHistory:
        """Train every member on ``(X, y)``; member k as ``Network.fit`` with its own optimiser and alpha.

        Parameters are those of :func:`ninestep.training.fit`, and:

        optimizer : SGD or Adam, or a list of K of them (default ``Adam(lr=1e-3)``)
            One optimiser: each member trains with its own copy (the copies,
            with their final state, are in the result's ``optimizers``). A
            list: member k trains with ``optimizer[k]`` and that object ends
            with the state a lone fit leaves in it. One kind for all members
            (all SGD or all Adam); lr, momentum, Nesterov, betas and eps may differ.
        alpha : float or a list of K floats
            Each member's L2 strength.
        seed : int or Generator
            The batch order, the same for every member: what ``fit(seed=...)``
            alone draws. A Generator passed in is advanced as far as the
            longest-running member would advance it.
        n_threads : int, optional
            Train the stack in this many chunks on as many threads (results
            do not depend on it). Default: one per core when each NumPy
            call has enough work to release the GIL for long, else 1.
        callback : callable(epoch, n_members_trained), optional
            Called after each epoch of each chunk (under a lock), e.g. for a progress bar.
        sample_weight : array of shape (n_samples,), optional
            One weight >= 0 per row, as for ``Network.fit``: each batch's
            loss is the weighted mean and the L2 term's ``n`` the sum of the
            batch's weights. The same weights for every member.

        Returns
        -------
        EnsembleHistory
            One History per member, the diverged members and the optimisers.
        """
        K = self.n_members
        loss_fn = get_loss(loss)
        if loss_fn.name not in LOSSES or type(loss_fn) is not type(get_loss(loss_fn.name)):
            raise ValueError(f"an Ensemble trains with 'mse', 'cross_entropy' or 'binary_cross_entropy', "
                             f"got {loss!r}.")
        loss_fn.check_activation(self.activations[-1])
        epochs, patience, min_delta, tol = check_fit_options(epochs, patience, min_delta, tol, validation_data)
        alphas = _per_member(alpha, K, "alpha", check_nonnegative)
        if not np.isfinite(self.params).all():
            raise ValueError("the ensemble's weights contain NaN or infinity; build a new Ensemble before training.")
        X = self._check_X(X)
        Y = prepare_targets(y, loss_fn, self.n_outputs, self.dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {Y.shape[0]}; they must match.")
        n = X.shape[0]
        w = None if sample_weight is None else check_sample_weight(sample_weight, n)
        batch_size = n if batch_size is None else min(check_int(batch_size, "batch_size"), n)
        validation = None
        if validation_data is not None:
            X_val = self._check_X(validation_data[0], "validation X")
            Y_val = prepare_targets(validation_data[1], loss_fn, self.n_outputs, self.dtype)
            if X_val.shape[0] != Y_val.shape[0]:
                raise ValueError(f"validation X has {X_val.shape[0]} rows but y has {Y_val.shape[0]}.")
            validation = (np.ascontiguousarray(X_val.T), np.ascontiguousarray(Y_val.T))
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
        schedule = _schedule(lr_schedule, epochs)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be a function callback(epoch, n_members), got {callback!r}.")
        if loss_fn.name in ("cross_entropy", "binary_cross_entropy"):
            _check_two_classes(Y, loss_fn.name)
        optimizers = _optimizers(optimizer, K)

        rng = as_generator(seed)
        settings = Settings(loss=loss_fn.name, epochs=epochs, batch_size=batch_size, shuffle=bool(shuffle),
                                     alpha=alphas, lr0=[float(o.lr) for o in optimizers], patience=patience,
                                     min_delta=min_delta, lr_schedule=schedule, callback=callback,
                                     validation=validation)
        outcomes = train_members(self.params, self.layer_sizes, self.activations, optimizers, X, Y, settings, rng,
                                 n_threads, w)

        result = EnsembleHistory()
        for k, o in enumerate(outcomes):
            self.params[k] = o.params
            result.histories.append(o.history)
            if o.diverged:
                result.diverged[k] = o.diverged
            load_state(optimizers[k], o)
        result.optimizers = optimizers
        if isinstance(seed, np.random.Generator) and shuffle and batch_size < n:
            # the caller's own generator: advance it as far as the longest lone fit would have
            for _ in range(max(len(h.loss) + (k in result.diverged) for k, h in enumerate(result.histories))):
                rng.permutation(n)
        for k, message in result.diverged.items():
            warnings.warn(message, DivergenceWarning, stacklevel=2)
        if lr_schedule != "cosine":  # as fit: the cosine schedule's last steps are small by design
            _warn_if_still_improving(result, tol)
        return result

    # ------------------------------------------------------------------ files
    def _to_archive(self, info: dict | None = None) -> tuple[dict, dict[str, np.ndarray]]:
        """The description and arrays of an ensemble file: ``W{i}`` (K, n_in, n_out), ``b{i}`` (K, n_out)."""
        if not np.isfinite(self.params).all():
            raise ValueError("refusing to save an ensemble whose weights contain NaN or infinity.")
        meta = {"kind": "ensemble", "layer_sizes": self.layer_sizes,
                "activations": [a.name for a in self.activations], "dtype": self.dtype.name,
                "n_members": self.n_members, "info": info or {}}
        arrays = {}
        for i, Wb in enumerate(self._stack().Wb):
            arrays[f"W{i}"], arrays[f"b{i}"] = np.ascontiguousarray(Wb[:, :-1, :]), np.ascontiguousarray(Wb[:, -1, :])
        return meta, arrays

    @classmethod
    def _from_archive(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "Ensemble":
        """Rebuild from what the safe reader returned; raises ValueError naming what is wrong."""
        sizes, names, K = meta.get("layer_sizes"), meta.get("activations"), meta.get("n_members")
        if (meta.get("kind") != "ensemble" or not isinstance(sizes, list) or len(sizes) < 2
                or any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes)
                or not isinstance(names, list) or len(names) != len(sizes) - 1
                or not isinstance(K, int) or isinstance(K, bool) or K < 1
                or meta.get("dtype") not in ("float32", "float64")):
            raise ValueError("not a valid ensemble description (kind 'ensemble', layer_sizes, activations, "
                             "n_members, dtype float32/float64).")
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for key, shape in ((f"W{i}", (K, n_in, n_out)), (f"b{i}", (K, n_out))):
                if key not in arrays or arrays[key].shape != shape:
                    got = arrays[key].shape if key in arrays else "missing"
                    raise ValueError(f"array {key!r} should have shape {shape} for layer_sizes {sizes} and "
                                     f"{K} members, got {got}.")
        ens = cls.__new__(cls)
        ens.layer_sizes, ens.dtype = list(sizes), np.dtype(meta["dtype"])
        ens.activations = [get_activation(name) for name in names]
        ens.params = np.empty((K, count_params(sizes)), dtype=ens.dtype)
        ens.seeds = [None] * K
        for i, Wb in enumerate(ens._stack().Wb):
            Wb[:, :-1, :], Wb[:, -1, :] = arrays[f"W{i}"], arrays[f"b{i}"]
        if not np.isfinite(ens.params).all():
            raise ValueError("the weights are too large for the file's dtype.")
        return ens

    def save(self, path: str | os.PathLike, info: dict | None = None):
        """Save to a ``.npz`` file atomically: plain arrays and a JSON description, nothing that runs on load.

        ``ninestep.load(path)`` (or :meth:`load`) reads it back.
        """
        meta, arrays = self._to_archive(info)
        return write_archive(path, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Ensemble":
        """Read an ensemble saved by :meth:`save`, safely (never unpickles); ModelFileError if it is not one."""
        def expected(meta):  # the arrays the description explains; any other member is refused
            sizes = meta.get("layer_sizes")
            n_layers = len(sizes) - 1 if isinstance(sizes, list) else 0
            return lambda name: name in {f"{p}{i}" for p in "Wb" for i in range(max(n_layers, 0))}

        meta, arrays = read_archive(path, expected)
        try:
            return cls._from_archive(meta, arrays)
        except ValueError as exc:
            raise ArchiveError(f"{str(path)!r} is not a valid ninestep ensemble file: {exc}") from None


def train_seeds(layer_sizes: Sequence[int], seeds: Sequence, X: Any, y: Any, network_options: dict | None = None,
                **fit_options) -> tuple[Ensemble, EnsembleHistory]:
    """One network per seed, trained as one Ensemble: a seed study in one call.

    Member k ends as ``Network(layer_sizes, seed=seeds[k], **network_options).fit(X, y, **fit_options)``
    would (to round-off), so a loop over seeds becomes::

        ens, result = train_seeds([2, 4, 4, 3], range(42, 50), Xs, ys, {"bias_init": "same"},
                                  optimizer=ns.SGD(lr=0.01), epochs=3000)
        result[k].loss[-1], ens.member(k)      # seed seeds[k]'s final loss and network

    ``fit_options`` are :meth:`Ensemble.fit`'s; one optimiser is copied for every member.
    """
    ens = Ensemble(layer_sizes, seed=list(seeds), **(network_options or {}))
    return ens, ens.fit(X, y, **fit_options)


# ---------------------------------------------------------------------- helpers
def _member_seeds(seed, n_members) -> list:
    if isinstance(seed, (list, tuple, range)):
        seeds = list(seed)
        if n_members is not None and check_int(n_members, "n_members") != len(seeds):
            raise ValueError(f"seed lists {len(seeds)} seeds but n_members={n_members}; give one seed per member.")
        if not seeds:
            raise ValueError("seed is an empty list; give one seed per member.")
        return seeds
    if n_members is None:
        raise TypeError("give n_members=K (or seed=[one seed per member]).")
    K = check_int(n_members, "n_members")
    if isinstance(seed, np.random.Generator):
        if not hasattr(seed, "spawn"):  # NumPy < 1.25
            raise TypeError("a Generator seed needs NumPy >= 1.25 (Generator.spawn); give an int or a "
                            "SeedSequence, or a list of K seeds.")
        return seed.spawn(K)
    if seed is not None and not isinstance(seed, np.random.SeedSequence):
        as_generator(seed)  # the same checks and message as Network's
    return (seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)).spawn(K)


def _per_member(value, K: int, name: str, check) -> list[float]:
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(value)
        if len(values) != K:
            raise ValueError(f"{name} lists {len(values)} values but the ensemble has {K} members; "
                             "give one value, or one per member.")
        return [check(v, f"{name}[{k}]") for k, v in enumerate(values)]
    return [check(value, name)] * K


def _schedule(lr_schedule, epochs: int):
    if lr_schedule is None:
        return None
    if lr_schedule == "cosine":
        return lambda epoch, lr0: cosine_schedule(epoch, epochs, lr0)
    if isinstance(lr_schedule, str) or not callable(lr_schedule):
        raise ValueError(f"lr_schedule must be None, 'cosine' or a callable, got {lr_schedule!r}.")
    return lambda epoch, lr0: check_positive(lr_schedule(epoch, lr0), f"lr_schedule({epoch}, {lr0:g})")


def _optimizers(optimizer, K: int) -> list:
    """K optimiser objects: the caller's own (a list), or copies of the one given."""
    if isinstance(optimizer, (list, tuple)):
        if len(optimizer) != K:
            raise ValueError(f"optimizer lists {len(optimizer)} optimisers but the ensemble has {K} members; "
                             "give one, or one per member.")
        opts = list(optimizer)
    else:
        template = Adam(lr=1e-3) if optimizer is None else optimizer
        opts = [copy.deepcopy(template) for _ in range(K)]
    for k, opt in enumerate(opts):
        if type(opt) not in (SGD, Adam):
            raise TypeError(f"optimizer[{k}] must be ninestep.SGD or ninestep.Adam, got {opt!r}.")
    if len({type(opt) for opt in opts}) > 1:
        raise ValueError("the optimizer list mixes SGD and Adam; an Ensemble trains its members with one kind "
                         "(their lr, momentum and betas may differ). Fit two Ensembles instead.")
    return opts


def _warn_if_still_improving(result: EnsembleHistory, tol: float) -> None:
    """One ConvergenceWarning naming the members whose monitored loss still improved at the end."""
    still = []
    for k, h in enumerate(result.histories):
        curve = h.val_loss or h.loss
        if h.stopped_early or k in result.diverged or len(curve) < 2:
            continue
        last = max(1, min(10, len(curve) // 10))
        recent, before = min(curve[-last:]), min(curve[:-last])
        if recent < before - tol * max(abs(before), 1e-12):
            still.append(k)
    if still:
        warnings.warn(f"Training stopped while the loss of member(s) {still} was still improving; more epochs or "
                      "a larger learning rate may help.", ConvergenceWarning, stacklevel=3)
