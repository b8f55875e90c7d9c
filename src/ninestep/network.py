"""Steps 5-7: the network - a list of Dense layers, forward and back-propagation.

Notation (written once, used everywhere in ninestep). For a batch of ``n``
samples, one per **row**:

    A^0 = X                              (n, N_0)
    Z^l = A^{l-1} W^l + b^l              (n, N_l)      l = 1 .. L
    A^l = sigma_l(Z^l)                   (n, N_l)
    y_hat = A^L

``W^l`` has shape ``(N_{l-1}, N_l)`` and ``b^l`` shape ``(N_l,)``. The
article keeps one sample per *column* and writes ``Z^l = W^l A^{l-1} + b^l``;
transposing that gives ours, so the article's ``W^l`` is our ``W^l.T`` and
every equation below is the article's, transposed.

Back-propagation (the chain rule, from the output back):

    dZ^L = dL/dZ^L                       (from the loss; (A^L - Y)/n for the
                                           canonical pairs mse+linear,
                                           cross-entropy+softmax, bce+sigmoid)
    dW^l = (A^{l-1})^T dZ^l              (N_{l-1}, N_l)
    db^l = sum over the rows of dZ^l     (N_l,)
    dA^{l-1} = dZ^l (W^l)^T
    dZ^{l-1} = dA^{l-1} (.) sigma'_{l-1}(Z^{l-1})

Because the loss is a mean over the batch, the ``1/n`` sits in ``dZ^L``
and ``dW``, ``db`` come out as the article's batch means of the per-sample
gradients.

With an L2 penalty ``alpha`` (weights only, never biases) the loss is

    L = data_loss + alpha / (2 n) * sum_l ||W^l||_F^2,    dW^l += (alpha / n) W^l

where ``n`` is the number of samples in the batch - scikit-learn's
convention: ``alpha`` is the ridge penalty of the *summed* loss, so its
strength relative to the data does not depend on the batch size.

All parameters live in one flat vector ``net.params``; each layer's ``W``
and ``b`` are views into it. Optimisers then update every parameter with a
handful of vectorised operations instead of one loop per layer.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, NamedTuple, Sequence

import numpy as np

from ._validation import as_generator, check_array, check_dtype, check_int, check_nonnegative
from .activations import get_activation
from .layers import Dense
from .losses import Loss, get_loss

__all__ = ["Network", "count_params", "prepare_targets", "CapacityWarning"]


class CapacityWarning(UserWarning):
    """The network has at least as many parameters as there are training samples."""


def count_params(layer_sizes: Sequence[int]) -> int:
    """The article's formula ``N = sum_{l=1..L} (N_{l-1} + 1) N_l``.

    Each unit of layer ``l`` has one weight per unit of layer ``l-1`` plus
    one bias. For ``[2, 4, 4, 3]``: ``3*4 + 5*4 + 5*3 = 47``.
    """
    sizes = _check_layer_sizes(layer_sizes)
    return sum((n_prev + 1) * n for n_prev, n in zip(sizes[:-1], sizes[1:]))


def _check_layer_sizes(layer_sizes: Any) -> list[int]:
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a list of ints such as [2, 64, 64, 3], got {layer_sizes!r}.")
    if len(layer_sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least two entries (inputs and outputs), got {list(layer_sizes)!r}."
        )
    return [check_int(n, f"layer_sizes[{i}]") for i, n in enumerate(layer_sizes)]


def overflow_error(what: str, X: np.ndarray, Y: np.ndarray | None = None) -> ValueError:
    """The error for a result that is not finite although every input was: name the largest value.

    Finite inputs give a NaN or infinite result only when a sum or product
    leaves the range of the dtype (about 1e308 for float64, 3e38 for
    float32) - inputs such as 1e300 - so the message points at the data.
    """
    where = []
    for name, arr in (("X", X), ("y", Y)):
        if arr is not None and arr.size:
            i, j = np.unravel_index(int(np.argmax(np.abs(arr))), arr.shape)
            where.append(f"largest |{name}| is {name}[{i}, {j}] = {arr[i, j]:.3g}")
    return ValueError(
        f"{what} is not finite: the arithmetic overflowed {X.dtype.name} ({'; '.join(where)}). "
        "Standardise the data (ninestep.StandardScaler) so that values are of order 1, "
        "or check the weights for huge values."
    )


def prepare_targets(y: Any, loss: Loss, n_out: int, dtype: Any) -> np.ndarray:
    """Return the targets as a float (n, n_out) matrix for ``loss``.

    ``cross_entropy`` accepts integer labels of shape (n,) (turned into
    one-hot rows) or one-hot / probability rows of shape (n, n_out).
    ``binary_cross_entropy`` and ``mse`` accept shape (n,) when the network
    has a single output.
    """
    y = check_array(y, "y", ndim=(1, 2), dtype=None)
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"y must be numeric for a Network, got dtype {y.dtype}; encode the labels as integers "
            "0..k-1 (ninestep.sklearn.MLPClassifier does this for you)."
        )
    y = check_array(y, "y", ndim=(1, 2), dtype=np.float64) if y.dtype.kind == "f" else y
    if loss.name == "cross_entropy" and y.ndim == 1:
        labels = y
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            i = int(np.argmax(labels != np.round(labels)))
            raise ValueError(
                f"cross_entropy needs class labels, integers 0..{n_out - 1}, but y[{i}] = {labels[i].item()!r} is "
                "not an integer; continuous targets call for a regression loss (loss='mse')."
            )
        labels = labels.astype(np.int64)
        bad = (labels < 0) | (labels >= n_out)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"y[{i}] = {labels[i]} is not a valid class for a network with {n_out} outputs; "
                f"labels must be integers in 0..{n_out - 1}."
            )
        Y = np.zeros((labels.shape[0], n_out), dtype=dtype)
        Y[np.arange(labels.shape[0]), labels] = 1
        return Y
    if y.ndim == 1:
        if n_out != 1:
            raise ValueError(
                f"y is 1-D but the network has {n_out} outputs; pass y of shape (n_samples, {n_out})."
            )
        y = y.reshape(-1, 1)
    if y.shape[1] != n_out:
        raise ValueError(f"y has {y.shape[1]} columns but the network has {n_out} outputs.")
    if loss.name in ("cross_entropy", "binary_cross_entropy") and ((y < 0) | (y > 1)).any():
        i, j = np.argwhere((y < 0) | (y > 1))[0]
        raise ValueError(
            f"{loss.name} targets must lie in [0, 1] (one-hot rows or 0/1 labels), but y[{i}, {j}] = "
            f"{y[i, j].item()!r}; continuous targets call for a regression loss (loss='mse')."
        )
    if loss.name == "cross_entropy":
        off = np.abs(y.sum(axis=1) - 1) > 1e-6
        if off.any():
            i = int(np.argmax(off))
            raise ValueError(
                f"cross_entropy needs one-hot (or probability) rows that sum to 1, but row {i} of y sums "
                f"to {float(y[i].sum()):.6g}; pass integer labels of shape (n_samples,) instead."
            )
    return np.asarray(y, dtype=dtype)


class _Step(NamedTuple):
    """One layer's share of the training scratch arrays (see :meth:`Network._scratch`)."""

    layer: Dense
    Wb: np.ndarray      # [W^l; b^l], a view of net.params
    W_T: np.ndarray     # (W^l)^T, a view of net.params
    In: np.ndarray      # [A^{l-1}, 1], (n, N_{l-1} + 1): [X, 1] for the first layer
    In_T: np.ndarray    # its transpose
    Z: np.ndarray       # (n, N_l)
    A: np.ndarray       # (n, N_l), the next layer's In without its column of ones
    dZ: np.ndarray      # (n, N_l); also holds dA^l before the activation's backward


class _Work(NamedTuple):
    X: np.ndarray       # [X, 1] without its column of ones: the batch is copied in here
    steps: list[_Step]  # one per layer
    hidden: list[_Step]  # steps[:-1]
    params: np.ndarray  # the flat vector the views belong to


class Network:
    """A fully connected neural network: the article's ``neural_net`` list, with methods.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[N_0, N_1, ..., N_L]``: the number of inputs, the width of each
        hidden layer and the number of outputs. The article's net is
        ``[2, 4, 4, 3]``.
    activation : str, default "relu"
        Activation of the hidden layers.
    output_activation : str, default "linear"
        Activation of the output layer: "linear" for regression, "softmax"
        for ``cross_entropy``, "sigmoid" for ``binary_cross_entropy``.
    init : str, optional
        Weight initialiser for every layer; by default He (``he_normal``)
        for the ReLU family and Glorot (``glorot_uniform``) otherwise,
        chosen per layer from that layer's activation.
    bias_init : {"zeros", "same"}, default "zeros"
        Biases start at zero; ``"same"`` draws them like the weights, as the
        article does (see :mod:`ninestep.layers` for why that is not the
        default).
    seed : int or numpy.random.Generator, optional
        Randomness for the initial weights. The same seed gives the same
        weights, bit for bit.
    dtype : numpy.float64 (default) or numpy.float32

    Attributes
    ----------
    layers : list of Dense
        The article's ``neural_net``.
    params : ndarray of shape (n_params,)
        Every parameter, in layer order (``W^1`` row-major, ``b^1``,
        ``W^2``, ...). The layers' ``W`` and ``b`` are views into it.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu",
                 output_activation: str = "linear", init: str | None = None, seed=None,
                 dtype=np.float64, *, bias_init: str = "zeros"):
        sizes = _check_layer_sizes(layer_sizes)
        self.dtype = check_dtype(dtype)
        # Look the names up now so a typo fails here, not at the first forward pass.
        hidden, output = get_activation(activation), get_activation(output_activation)
        rng = as_generator(seed)
        n_layers = len(sizes) - 1
        self.layers: list[Dense] = [
            Dense(n_in, n_out, hidden.name if i < n_layers - 1 else output.name, init=init,
                  bias_init=bias_init, seed=rng, dtype=self.dtype)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]
        self.params = np.empty(count_params(sizes), dtype=self.dtype)
        for layer, (W, b) in zip(self.layers, self._views(self.params)):
            layer.bind(W, b)
        self.activation, self.output_activation = hidden.name, output.name
        self.init = init
        self.bias_init = bias_init
        self._work: dict[int, Any] = {}  # training scratch arrays by batch size, see _scratch

    # ------------------------------------------------------------------ structure
    @property
    def layer_sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_params(self) -> int:
        """The number of weights and biases, counted from the arrays."""
        return sum(layer.W.size + layer.b.size for layer in self.layers)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    def _views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split a flat vector into (W, b) views, one pair per layer."""
        views, start = [], 0
        for layer in self.layers:
            n_w = layer.n_in * layer.n_out
            W = flat[start:start + n_w].reshape(layer.n_in, layer.n_out)
            b = flat[start + n_w:start + n_w + layer.n_out]
            views.append((W, b))
            start += n_w + layer.n_out
        return views

    def get_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of ``(W, b)`` for every layer."""
        return [(layer.W.copy(), layer.b.copy()) for layer in self.layers]

    def set_weights(self, weights: Sequence[tuple[Any, Any]]) -> None:
        """Set ``(W, b)`` for every layer (shapes must match)."""
        if len(weights) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} (W, b) pairs, got {len(weights)}.")
        for i, (layer, (W, b)) in enumerate(zip(self.layers, weights)):
            W = check_array(W, f"weights[{i}][0] (W)", dtype=self.dtype)
            b = check_array(b, f"weights[{i}][1] (b)", ndim=1, dtype=self.dtype)
            layer.W, layer.b = W, b

    def __getstate__(self) -> dict[str, Any]:
        # The scratch arrays are a cache, not state: copies and pickles start without them.
        return {**self.__dict__, "_work": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Pickle and deepcopy restore each layer's W and b as arrays of their
        # own; point them back into the flat vector so training updates them.
        for layer, (W, b) in zip(self.layers, self._views(self.params)):
            layer._W, layer._b = W, b

    def copy(self) -> "Network":
        """An independent copy with the same weights."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ step 6
    def _check_X(self, X: Any) -> np.ndarray:
        X = check_array(X, "X", dtype=self.dtype)
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"X has {X.shape[1]} features but the network expects {self.n_inputs} "
                f"(layer_sizes starts with {self.n_inputs})."
            )
        return X

    def _forward(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Forward pass keeping what backward needs: ``Zs[l]`` and ``As[l]`` (``As[0] = X``)."""
        Zs, As = [], [X]
        for layer in self.layers:
            Z, A = layer.forward(As[-1])
            Zs.append(Z)
            As.append(A)
        return Zs, As

    def _augmented(self, flat: np.ndarray) -> list[np.ndarray]:
        """Each layer's ``[W; b]`` as one (N_{l-1} + 1, N_l) view of a flat vector.

        ``b`` is stored right after ``W`` (row-major), so it is the last row
        of that matrix, and ``[A, 1] [W; b] = A W + b``: with a column of
        ones after the input, one matrix product also adds the bias, and
        ``[A, 1]^T dZ = [dW; db]`` gives both gradients at once.
        """
        views, start = [], 0
        for layer in self.layers:
            size = (layer.n_in + 1) * layer.n_out
            views.append(flat[start:start + size].reshape(layer.n_in + 1, layer.n_out))
            start += size
        return views

    def _scratch(self, n: int) -> "_Work":
        """Work arrays for a batch of ``n`` rows, reused from one training step to the next.

        Returns a :class:`_Work`: ``[X, 1]`` of shape (n, N_0 + 1) for the
        inputs and, for each layer, the ``Z``, ``A`` and ``dZ`` arrays of
        shape (n, N_l) with the views that back-propagation multiplies by
        (see :class:`_Step`). Measured reasons (``benchmarks/run.py``):

        * Fresh (n, N_l) arrays every step are larger than the allocator's
          mmap threshold, so each step paid page faults that cost more than
          the arithmetic: about 3x the time per epoch on the article's
          [2, 4, 4, 3] net and 7,000 rows.
        * They are stored samples-contiguous (``order="F"``), which is the
          article's one-sample-per-column layout in memory. With 4 units
          and 7,000 samples the element-wise steps then run along memory
          instead of across rows of 4 numbers, 6x to 14x faster for those
          steps. Shapes and maths are unchanged.
        * The column of ones is written once, here; the bias then costs no
          pass of its own (about 10 % of a step of the [2, 64, 64, 3] net).
        * The views (transposes, ``[W; b]``) are made once here too, not at
          every step: about 2 us of a 65 us step of that net.

        At most two batch sizes are kept: the batch and the shorter last one.
        """
        work = self._work.get(n)
        if work is None or work.params is not self.params:
            if len(self._work) >= 2 or work is not None:
                self._work.clear()
            # [X, 1] row-major: the batch is copied in row by row.
            X1 = np.ones((n, self.n_inputs + 1), dtype=self.dtype)
            steps, In = [], X1
            for layer, Wb, (W, _) in zip(self.layers, self._augmented(self.params), self._views(self.params)):
                Out = np.ones((n, layer.n_out + 1), dtype=self.dtype, order="F")  # [A^l, 1]
                steps.append(_Step(layer, Wb, W.T, In, In.T, np.empty((n, layer.n_out), self.dtype, order="F"),
                                   Out[:, :-1], np.empty((n, layer.n_out), self.dtype, order="F")))
                In = Out
            work = self._work[n] = _Work(X1[:, :-1], steps, steps[:-1], self.params)
        return work

    def forward(self, X: Any) -> np.ndarray:
        """Return ``y_hat = A^L`` of shape (n_samples, n_outputs) for X of shape (n_samples, n_inputs)."""
        X = A = self._check_X(X)
        with np.errstate(over="ignore", invalid="ignore"):  # reported once, clearly, below
            for layer in self.layers:
                A = layer.forward(A)[1]
        if not np.isfinite(A).all():
            raise overflow_error("the network's output", X)
        return A

    predict = forward

    # ------------------------------------------------------------------ step 7
    def _loss_and_grad(self, X: np.ndarray, Y: np.ndarray, loss: Loss, alpha: float,
                       grads: list) -> float:
        """Back-propagation on checked arrays; writes each layer's gradients into ``grads``.

        ``grads``: each layer's ``[dW; db]`` (:meth:`_augmented` of a flat
        gradient vector, what ``fit`` passes), or ``(dW, db)`` pairs.
        """
        if isinstance(grads[0], tuple):
            flat = np.empty_like(self.params)
            value = self._loss_and_grad(X, Y, loss, alpha, self._augmented(flat))
            for (dW, db), (fW, fb) in zip(grads, self._views(flat)):
                dW[...], db[...] = fW, fb
            return value
        n = X.shape[0]
        X_in, steps, hidden, _ = self._scratch(n)
        X_in[...] = X
        # Forward: Z^l = [A^{l-1}, 1] [W^l; b^l], A^l = sigma_l(Z^l).
        for layer, Wb, _, In, _, Z, A_buf, _ in hidden:
            np.matmul(In, Wb, out=Z)
            A = layer.activation.forward(Z, out=A_buf)
            if A is not A_buf:  # activations that cannot work in place return their own array
                A_buf[...] = A
        layer, Wb, _, In, _, Z, A_buf, dZ_buf = steps[-1]
        np.matmul(In, Wb, out=Z)
        sigma = layer.activation
        value, dZ = loss.value_and_dZ(Z, sigma.forward(Z, out=A_buf), Y, sigma, out=dZ_buf)
        # Backward, from the output layer to the first.
        for l in range(len(steps) - 1, -1, -1):
            layer, _, W_T, _, In_T, _, _, _ = steps[l]
            # [dW^l; db^l] = [A^{l-1}, 1]^T dZ^l: db^l, the sum of dZ^l over the samples, comes
            # out of the same matrix product as the last row.
            np.matmul(In_T, dZ, out=grads[l])
            if alpha:
                grads[l][:-1] += (alpha / n) * layer.W
            if l > 0:
                prev, _, _, _, _, Z, A, dA = steps[l - 1]
                np.matmul(dZ, W_T, out=dA)  # dA^{l-1} = dZ^l (W^l)^T
                dZ = prev.activation.backward(Z, A, dA, out=dA)
        if alpha:
            value += 0.5 * alpha / n * sum(float(np.vdot(layer.W, layer.W)) for layer in self.layers)
        return value

    def loss_and_gradients(self, X: Any, y: Any, loss: str | Loss = "mse",
                           alpha: float = 0.0) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Loss on the batch ``(X, y)`` and its exact gradients.

        Returns
        -------
        loss : float
            The mean loss over the batch (plus the L2 penalty if ``alpha > 0``).
        grads : list of (dW, db)
            Aligned with ``net.layers``; ``dW`` has the shape of ``W`` and
            ``db`` that of ``b``. Fresh arrays, safe to keep.
        """
        loss = get_loss(loss)
        loss.check_activation(self.layers[-1].activation)
        alpha = check_nonnegative(alpha, "alpha")
        X = self._check_X(X)
        Y = prepare_targets(y, loss, self.n_outputs, self.dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {Y.shape[0]}; they must match.")
        flat = np.empty_like(self.params)
        with np.errstate(over="ignore", invalid="ignore"):
            value = self._loss_and_grad(X, Y, loss, alpha, self._augmented(flat))
        if not (np.isfinite(value) and np.isfinite(flat).all()):
            raise overflow_error("the loss or its gradient", X, Y)
        return value, self._views(flat)

    def evaluate(self, X: Any, y: Any, loss: str | Loss = "mse") -> float:
        """The mean loss on ``(X, y)`` without the L2 penalty (what a test set reports)."""
        loss = get_loss(loss)
        loss.check_activation(self.layers[-1].activation)
        X = self._check_X(X)
        Y = prepare_targets(y, loss, self.n_outputs, self.dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {Y.shape[0]}; they must match.")
        value = self._evaluate(X, Y, loss)
        if not np.isfinite(value):
            raise overflow_error("the loss", X, Y)
        return value

    def _evaluate(self, X: np.ndarray, Y: np.ndarray, loss: Loss) -> float:
        """The data loss on checked arrays; may be inf or NaN (training turns that into DivergenceError)."""
        with np.errstate(over="ignore", invalid="ignore"):
            Zs, As = self._forward(X)
            return loss.value(Zs[-1], As[-1], Y)

    # ------------------------------------------------------------------ step 5 check
    def summary(self, n_samples: int | None = None, *, warn: bool = True) -> str:
        """A table of layers, shapes and parameter counts, and the article's capacity check.

        The article calls the weights and biases "hyperparameters"; the
        right word is **parameters** (learned by training). Hyperparameters
        are the choices made before training: layer sizes, learning rate,
        epochs. When ``n_samples`` is given and the network has at least as
        many parameters as samples, a :class:`CapacityWarning` is issued
        (the article raised an error): such a net *can* memorise the
        training set, so watch the test loss; it is not bound to overfit.
        """
        lines = [f"{'layer':<8}{'W shape':>12}{'b shape':>10}{'activation':>13}{'params':>10}"]
        for i, layer in enumerate(self.layers, 1):
            lines.append(
                f"{i:<8}{str(layer.W.shape):>12}{str(layer.b.shape):>10}"
                f"{layer.activation.name:>13}{layer.n_params:>10}"
            )
        formula = count_params(self.layer_sizes)
        counted = self.n_params
        lines.append(f"parameters: {counted} counted from the arrays; "
                     f"sum (N_(l-1) + 1) N_l = {formula} by formula")
        if formula != counted:  # pragma: no cover - would mean a bug in Network
            raise AssertionError(f"parameter count mismatch: {formula} != {counted}")
        if n_samples is not None:
            n_samples = check_int(n_samples, "n_samples", minimum=0)
            ok = counted < n_samples
            lines.append(f"training samples: {n_samples} -> "
                         + ("more samples than parameters" if ok else
                            "WARNING: parameters >= samples; the net can memorise the training set"))
            if not ok and warn:
                warnings.warn(
                    f"The network has {counted} parameters but only {n_samples} training samples; "
                    "it can fit the training set exactly (overfit). Watch the validation loss, "
                    "use early stopping or alpha, or a smaller network.",
                    CapacityWarning, stacklevel=2)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Network({self.layer_sizes}, activation={self.activation!r}, "
                f"output_activation={self.output_activation!r}, dtype={self.dtype.name})")

    # ------------------------------------------------------------------ step 8, files
    def fit(self, X: Any, y: Any, loss: str | Loss = "mse", optimizer=None, epochs: int = 100,
            batch_size: int | None = None, shuffle: bool = True, validation_data=None, seed=None,
            **kwargs):
        """Train the network; see :func:`ninestep.training.fit` for every option."""
        from .training import fit

        return fit(self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, validation_data=validation_data, seed=seed, **kwargs)

    def save(self, path, **kwargs) -> None:
        """Save to a ``.npz`` file (see :mod:`ninestep.io`); ``ninestep.load`` reads it back."""
        from .io import save_model

        save_model(path, self, **kwargs)
