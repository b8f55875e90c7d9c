"""The article's exact set-up, as a library: its data, its initial weights, its loss figure.

"Machine Learning in Python NumPy: Neural Network in 9 Steps" trains a
[2, 4, 4, 3] ReLU/ReLU/linear network on a + b, a - b and |a - b|. Its
notebook (:data:`NOTEBOOK_URL`) draws every random number from NumPy's
*legacy* generator seeded with 42, in this order:

1. ``X_raw = rand(2, 10000) * 100`` - one sample per **column**;
2. for each layer in turn, ``W = randn(n_out, n_in) * sqrt(2 / n_in)``,
   then ``b = randn(n_out, 1) * sqrt(2 / n_in)`` (He-scaled, biases too).

The first 7,000 columns train, the other 3,000 test; each input and output
row is standardised with ``np.mean`` / ``np.std`` of its training columns.
Training is full-batch gradient descent, lr 0.01, 1,000,000 epochs, with

    dZ^L = Y_hat - Y,   dW^l = dZ^l (A^{l-1})^T / m,   db^l = sum(dZ^l) / m.

ninestep keeps one sample per *row*, so its ``W`` is the notebook's
``W.T`` and its ``b`` the notebook's ``b`` flattened. Its ``"mse"`` loss,
``(1/m) sum_i 1/2 ||y_hat_i - y_i||^2``, has the gradient
``dL/dY_hat = (Y_hat - Y) / m``: back-propagated, that is exactly the
notebook's ``dZ`` and ``/ m``, so ``fit`` with ``SGD(lr=0.01)`` and full
batches takes the notebook's steps (tests/test_article.py checks one step
against the notebook's formulas, and the run against its printed figures).

Here the randomness is passed in as a ``numpy.random.RandomState`` (or a
seed for one): the global state is never touched. The same generator must
serve :func:`make_data` first and :func:`network` second, as in the
notebook; :func:`setup` does both in that order::

    >>> import ninestep as ns
    >>> run = ns.article.setup(42)              # the notebook's data, split, scalers and net
    >>> history = ns.article.train(run, epochs=1_000)
    >>> round(ns.article.loss(run.net.predict(run.X_train), run.y_train), 4) > 0
    True

**The notebook's printed loss is not the MSE.** It prints
``np.mean`` over samples of ``np.linalg.norm(0.5 * (y_hat - y)**2)`` -
for each sample the Euclidean norm of the vector of its three half squared
errors, ``1/2 sqrt(e_1^4 + e_2^4 + e_3^4)`` - while the gradient it
descends is that of the half squared error *summed* over the outputs,
``1/2 (e_1^2 + e_2^2 + e_3^2)`` (ninestep's ``"mse"``). The two agree when
one output carries all the error and otherwise the printed figure is
smaller (up to ``sqrt(3)`` times for three equal errors). :func:`loss`
computes the printed figure so that it can be compared digit for digit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .data import arithmetic_targets
from .diagnostics import DeadUnits, dead_units
from .network import Network
from .optimizers import SGD, Adam
from .scaling import StandardScaler
from .training import ConvergenceWarning

if TYPE_CHECKING:
    from .callbacks import History

__all__ = ["ARTICLE_CASES", "NOTEBOOK_URL", "NOTEBOOK", "LAYER_SIZES", "FIXES", "Setup", "Result", "SeedResult",
           "random_state", "make_data", "network", "setup", "train", "loss", "predict", "measure", "try_fix",
           "notebook_network", "seed_study"]

#: Where the article's code and stored outputs live.
NOTEBOOK_URL = "https://github.com/edenau/ML-in-NumPy/blob/master/neural-net.ipynb"

#: The article's four test cases (a, b); (888, 122) lies far outside the training range [0, 100).
ARTICLE_CASES: tuple[tuple[float, float], ...] = ((30.0, 70.0), (70.0, 30.0), (3.0, 5.0), (888.0, 122.0))

#: The article's network: 2 inputs, two hidden ReLU layers of 4, 3 linear outputs.
LAYER_SIZES: tuple[int, ...] = (2, 4, 4, 3)

SEED, N_SAMPLES, N_TRAIN, LR, EPOCHS, PRINT_EVERY = 42, 10_000, 7_000, 0.01, 1_000_000, 100_000


@dataclass(frozen=True)
class _Printed:
    """What the notebook printed (its stored outputs): the target of the reproduction."""

    #: The loss printed every 100,000 epochs (epochs 100,000 .. 1,000,000), to the 4 decimals shown.
    losses: tuple[float, ...]
    #: The test loss by the same metric, as printed.
    test_loss: float
    #: Predictions for :data:`ARTICLE_CASES` in original units: one row per case, columns a+b, a-b, |a-b|
    #: (the notebook prints the transpose).
    predictions: tuple[tuple[float, float, float], ...]


NOTEBOOK = _Printed(
    losses=(0.3502,) + (0.3450,) * 9,
    test_loss=0.3194238845483295,
    predictions=((98.56378114, -26.25088759, 48.08520947),
                 (102.63221611, 14.80155747, 25.18205121),
                 (5.56349031, 21.3245024, 15.71597463),
                 (562.15335048, 221.60597885, -64.01423955)),
)


def random_state(seed: int | np.random.RandomState = SEED) -> np.random.RandomState:
    """A fresh ``numpy.random.RandomState(seed)`` (the notebook's generator), or ``seed`` itself if it is one."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"random_state must be a non-negative int or a numpy.random.RandomState, "
                        f"got {type(seed).__name__} {seed!r}. The article uses 42.")
    return np.random.RandomState(int(seed))


def make_data(rs: int | np.random.RandomState = SEED, n_samples: int = N_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's data, drawn as it draws it: ``rs.rand(2, n_samples) * 100``.

    Returns ``X`` of shape (n_samples, 2) (columns a, b) and ``y`` of shape
    (n_samples, 3) (a+b, a-b, |a-b|): the notebook's arrays transposed to
    one sample per row. Draw the weights from the same ``rs`` afterwards
    (:func:`network`) to get the notebook's initial weights.
    """
    rs = random_state(rs)
    X = (rs.rand(2, n_samples) * 100).T  # the notebook's (2, n) array, one sample per row
    return X, arithmetic_targets(X)


def network(rs: int | np.random.RandomState = SEED, layer_sizes: Sequence[int] = LAYER_SIZES,
            zero_biases: bool = False) -> Network:
    """A ReLU/linear :class:`Network` with the notebook's initial weights, drawn from ``rs``.

    For each layer in order: ``W = rs.randn(n_out, n_in) * sqrt(2/n_in)``,
    then ``b = rs.randn(n_out, 1) * sqrt(2/n_in)``; ninestep stores ``W.T``
    and ``b`` flattened. ``zero_biases=True`` draws the same numbers (so
    the weights are identical) and then sets every bias to 0 - the
    experiment that shows what the random bias draw costs.
    """
    rs = random_state(rs)
    # seed=0: its own draw is overwritten at once; the notebook's numbers come from rs.
    net = Network(layer_sizes, activation="relu", output_activation="linear", seed=0)
    weights = []
    for n_in, n_out in zip(net.layer_sizes[:-1], net.layer_sizes[1:]):
        W = rs.randn(n_out, n_in) * np.sqrt(2 / n_in)
        b = rs.randn(n_out, 1) * np.sqrt(2 / n_in)
        weights.append((W.T, np.zeros(n_out) if zero_biases else b[:, 0]))
    net.set_weights(weights)
    return net


@dataclass
class Setup:
    """The notebook's run before training: raw split, scalers, standardised arrays and the net.

    ``X_train`` (7000, 2), ``y_train`` (7000, 3), ``X_test`` (3000, 2),
    ``y_test`` (3000, 3) are *standardised* (what the net sees);
    ``X_raw`` / ``y_raw`` hold all 10,000 samples in original units.
    """

    X_raw: np.ndarray
    y_raw: np.ndarray
    x_scaler: StandardScaler
    y_scaler: StandardScaler
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    net: Network


def setup(rs: int | np.random.RandomState = SEED, layer_sizes: Sequence[int] = LAYER_SIZES,
          zero_biases: bool = False) -> Setup:
    """The notebook's steps 2-5 from one generator: data, first-7,000 split, per-row scalers, net.

    ``layer_sizes`` and ``zero_biases`` change the net only (the data are
    drawn first, so they stay the notebook's): that is how the fixes are
    measured "from the same initial draw".
    """
    rs = random_state(rs)
    X, y = make_data(rs)
    n_train = N_TRAIN * len(X) // N_SAMPLES
    x_scaler, y_scaler = _notebook_scaler(X[:n_train]), _notebook_scaler(y[:n_train])
    Xs, ys = x_scaler.transform(X), y_scaler.transform(y)
    return Setup(X, y, x_scaler, y_scaler, Xs[:n_train], ys[:n_train], Xs[n_train:], ys[n_train:],
                 network(rs, layer_sizes, zero_biases=zero_biases))


def _notebook_scaler(X: np.ndarray) -> StandardScaler:
    """A StandardScaler fitted to X (n, k) whose mean and scale are the notebook's, to the last bit.

    The notebook takes ``np.mean`` / ``np.std`` of each contiguous row of
    its (k, n) array. A column reduction of our (n, k) array adds the same
    numbers in another order and differs in the last bits (1e-13 for these
    targets), which is enough to move the 1,000,000-epoch run's 15th digit;
    so the statistics are taken from contiguous rows, as the notebook does.
    """
    scaler = StandardScaler().fit(X)
    rows = np.ascontiguousarray(X.T)
    scaler.mean_, scaler.scale_ = np.mean(rows, axis=1), np.std(rows, axis=1)
    return scaler


def train(run: Setup, epochs: int = EPOCHS, lr: float = LR, optimizer=None,
          callback: Callable[[int, dict], Any] | None = None, **fit_kwargs) -> "History":
    """Train ``run.net`` as the notebook does: full-batch gradient descent on the training rows.

    ``fit`` with loss ``"mse"``, ``SGD(lr)``, ``batch_size=None`` and
    ``shuffle=False`` (rows in the notebook's order, so the sums add in the
    same order every epoch). ``optimizer`` replaces ``SGD(lr)`` (e.g.
    ``Adam`` for the fix study); other keywords go to :meth:`Network.fit`.

    No :class:`~ninestep.ConvergenceWarning`: the article's run stops
    while its loss still moves in the 7th digit, by design, and the stall
    it reaches is what this module is for.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return run.net.fit(run.X_train, run.y_train, loss="mse", optimizer=optimizer or SGD(lr=lr), epochs=epochs,
                           batch_size=None, shuffle=False, callback=callback, **fit_kwargs)


def loss(y_hat: Any, y: Any) -> float:
    """The figure the notebook prints: ``mean_i || 1/2 (y_hat_i - y_i)^2 ||_2`` over samples i.

    ``y_hat`` and ``y`` of shape (n_samples, n_outputs). Not the MSE (see
    the module docstring): per sample it is ``1/2 sqrt(sum_j e_j^4)``, not
    ``1/2 sum_j e_j^2``.
    """
    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)
    if y_hat.shape != y.shape or y.ndim != 2:
        raise ValueError(f"y_hat {y_hat.shape} and y {y.shape} must be matching (n_samples, n_outputs) arrays.")
    return float(np.mean(np.linalg.norm(0.5 * (y_hat - y) ** 2, axis=1)))


def predict(run: Setup, cases: Any = ARTICLE_CASES) -> np.ndarray:
    """The net's predictions for ``cases`` (n, 2) in original units, one row per case."""
    return run.y_scaler.inverse_transform(run.net.predict(run.x_scaler.transform(np.asarray(cases, dtype=float))))


@dataclass(frozen=True)
class Result:
    """Where a run stands after ``epochs`` epochs (standardised units unless said otherwise)."""

    epochs: int
    #: The notebook's printed metric (:func:`loss`) on the training / test rows.
    loss: float
    test_loss: float
    #: ninestep's ``"mse"``, the loss gradient descent minimises, on the training / test rows.
    mse: float
    test_mse: float
    #: Mean absolute test error per output (a+b, a-b, |a-b|), in original units.
    test_mae: tuple[float, ...]
    #: The hidden units dead on the training rows.
    dead: DeadUnits


def measure(run: Setup, epochs: int) -> Result:
    """Measure ``run.net`` as it is now; ``epochs`` is only recorded."""
    net = run.net
    error = run.y_scaler.inverse_transform(net.predict(run.X_test)) - run.y_scaler.inverse_transform(run.y_test)
    return Result(epochs, loss(net.predict(run.X_train), run.y_train), loss(net.predict(run.X_test), run.y_test),
                  net.evaluate(run.X_train, run.y_train, "mse"), net.evaluate(run.X_test, run.y_test, "mse"),
                  tuple(float(v) for v in np.abs(error).mean(axis=0)), dead_units(net, run.X_train))


#: Fixes for the article's stall, each a change to :func:`setup` or :func:`train` from the same
#: ``RandomState`` draw (so the data, and the weights where the shapes allow, are the notebook's).
FIXES: dict[str, str] = {
    "zero biases": "the same data and weights, every bias set to 0",
    "wider hidden layers": "[2, 8, 8, 3]: twice the units, drawn from the same generator after the same data",
    "Adam": "the same data and weights, Adam(lr=0.01) in place of gradient descent",
}


def try_fix(name: str, epochs: int, rs: int | np.random.RandomState = SEED) -> Result:
    """Train the article's set-up with the fix ``name`` (a key of :data:`FIXES`) and measure it.

    Full-batch training for ``epochs`` epochs on the notebook's training
    rows, like :func:`train`; ``rs`` is a seed or a *fresh* RandomState.
    """
    if name not in FIXES:
        raise ValueError(f"unknown fix {name!r}; choose one of {', '.join(map(repr, FIXES))}.")
    run = setup(rs, layer_sizes=(2, 8, 8, 3) if name == "wider hidden layers" else LAYER_SIZES,
                zero_biases=name == "zero biases")
    train(run, epochs=epochs, optimizer=Adam(lr=LR) if name == "Adam" else None)
    return measure(run, epochs)


def notebook_network(seed: int) -> Network:
    """The net the notebook would start from after ``np.random.seed(seed)`` (its weights come after its data)."""
    rs = random_state(seed)
    rs.rand(2, N_SAMPLES)  # the data come first in the notebook's draw order
    return network(rs)


@dataclass(frozen=True)
class SeedResult:
    """One seed of :func:`seed_study`."""

    seed: int
    #: Hidden units dead on the training rows before the first step (killed by the initial draw) and at the end.
    dead_at_start: int
    dead_at_end: int
    #: The notebook's loss figure and the MSE on the training rows at the end.
    loss: float
    mse: float


def seed_study(seeds: Sequence[int], epochs: int, n_threads: int | None = None) -> list[SeedResult]:
    """The notebook's run on its own data (seed 42's) from the initial weights each seed would draw.

    Every seed's net is :func:`notebook_network` - for seed 42 exactly the
    notebook's - trained like :func:`train` (full batch, lr 0.01, rows in
    order) for ``epochs``; all of them at once, as one
    :class:`~ninestep.ensemble.Ensemble` (each member takes the same steps
    as its lone ``fit``).
    """
    from .ensemble import Ensemble  # only the seed study needs the stacked trainer

    run = setup(SEED)
    nets = [notebook_network(seed) for seed in seeds]
    start = [dead_units(net, run.X_train).count for net in nets]
    ensemble = Ensemble.from_networks(nets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # as in train(): the stall is the subject
        ensemble.fit(run.X_train, run.y_train, loss="mse", optimizer=SGD(lr=LR), epochs=epochs, batch_size=None,
                     shuffle=False, n_threads=n_threads)
    results = []
    for seed, dead0, net in zip(seeds, start, ensemble.members):
        results.append(SeedResult(int(seed), dead0, dead_units(net, run.X_train).count,
                                  loss(net.predict(run.X_train), run.y_train), net.evaluate(run.X_train, run.y_train)))
    return results
