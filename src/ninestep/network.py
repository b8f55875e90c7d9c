"""Steps 5-7: the network - a list of Dense layers, forward and back-propagation.

This module is the **reference path**: the maths as the article writes it,
one equation a line. ``fit`` runs the same arithmetic through a faster
private path (:mod:`ninestep._fastpath`), and a test holds the two equal.

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

In the code, Python lists count from 0: ``A[0] = X``, and layer ``l`` of
the list ``net.layers`` turns ``A[l]`` into ``Z[l]`` and ``A[l + 1]``.

All parameters live in one flat vector ``net.params``; each layer's ``W``
and ``b`` are views into it. Optimisers then update every parameter with a
handful of vectorised operations instead of one loop per layer.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._validation import (as_generator, check_array, check_dtype, check_int, check_nonnegative,
                          check_sample_weight, overflow_error)
from .activations import get_activation
from .archive import write_archive
from .layers import Dense
from .losses import Loss, get_loss, prepare_targets, weights_column

__all__ = ["Network", "count_params", "CapacityWarning"]


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

    Thread safety: predicting (``forward``, ``predict``, ``evaluate``,
    ``loss_and_gradients``) from several threads at once is safe, since
    they only read the weights. Training changes them in place: ``fit``
    refuses to start on a network that another thread is training.
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
        for layer, (W, b) in zip(self.layers, self.unflatten(self.params)):
            layer.bind(W, b)
        self.activation, self.output_activation = hidden.name, output.name
        self.init = init
        self.bias_init = bias_init

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

    def unflatten(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split a vector laid out like ``net.params`` into ``(W, b)`` views, one pair per layer.

        ``net.unflatten(net.params)`` gives the layers' own arrays; a
        gradient vector of the same layout gives each layer's ``(dW, db)``.
        """
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
        # A copy or a pickle is not being trained, whatever the original is doing (see training.fit).
        return {k: v for k, v in self.__dict__.items() if k != "_trained_by"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Pickle and deepcopy restore each layer's W and b as arrays of their
        # own; point them back into the flat vector so training updates them.
        for layer, (W, b) in zip(self.layers, self.unflatten(self.params)):
            layer._W, layer._b = W, b

    def copy(self) -> "Network":
        """An independent copy with the same weights."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ step 6
    def _check_X(self, X: Any, name: str = "X") -> np.ndarray:
        X = check_array(X, name, dtype=self.dtype)
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"{name} has {X.shape[1]} features but the network expects {self.n_inputs} "
                f"(layer_sizes starts with {self.n_inputs})."
            )
        return X

    def forward(self, X: Any, return_all: bool = False):
        """Forward propagation: ``y_hat = A^L`` of shape (n_samples, n_outputs).

        With ``return_all=True`` return ``(Z, A)`` instead: every layer's
        pre-activation and output, the look inside that explains training
        (dead units, saturation). ``len(Z) == L`` and ``len(A) == L + 1``:
        ``A[0]`` is ``X`` (checked, as an array of the network's dtype),
        layer ``l`` of ``net.layers`` gives ``Z[l]`` and ``A[l + 1]``.
        """
        X = self._check_X(X)
        Z, A = self._forward(X)
        if not np.isfinite(A[-1]).all():
            raise overflow_error("the network's output", X)
        return (Z, A) if return_all else A[-1]

    def _forward(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The forward pass on a checked ``X``; may hold inf or NaN (the callers say what went wrong)."""
        Z, A = [], [X]
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.layers:
                Z.append(A[-1] @ layer.W + layer.b)        # Z^l = A^{l-1} W^l + b^l
                A.append(layer.activation.forward(Z[-1]))  # A^l = sigma_l(Z^l)
        return Z, A

    def predict(self, X: Any) -> np.ndarray:
        """The network's output for ``X``, as :meth:`forward` gives it (probabilities for a classifier)."""
        return self.forward(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class: a softmax output's rows, or ``[1 - p, p]`` for one sigmoid.

        A network with several sigmoid outputs (one yes/no label each)
        gives each label's probability, shape (n_samples, n_outputs).
        """
        if self.output_activation not in ("softmax", "sigmoid"):
            raise ValueError(f"predict_proba needs a classifier: a softmax or sigmoid output layer, but this "
                             f"network's output is {self.output_activation!r} (a regression network; use predict).")
        P = self.forward(X)
        return np.column_stack([1 - P[:, 0], P[:, 0]]) if P.shape[1] == 1 else P

    def predict_classes(self, X: Any) -> np.ndarray:
        """Class labels 0..k-1: the most probable class of a softmax (or one-sigmoid) output.

        Several sigmoid outputs give a 0/1 matrix, one column per label.
        ``ns.accuracy(y, net.predict_classes(X))`` is then the accuracy.
        """
        P = self.predict_proba(X)
        if self.output_activation == "sigmoid" and self.n_outputs > 1:
            return (P > 0.5).astype(np.int64)
        return P.argmax(axis=1)

    # ------------------------------------------------------------------ step 7
    def backward(self, Z: list[np.ndarray], A: list[np.ndarray], dZ: np.ndarray,
                 alpha: float = 0.0, n: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Back-propagation: every layer's ``(dW, db)`` from the output layer's ``dZ = dL/dZ^L``.

        ``Z`` and ``A`` are what ``forward(X, return_all=True)`` returned;
        ``alpha`` adds the L2 penalty's gradient ``(alpha / n) W``, with ``n``
        the batch's rows (or the sum of its sample weights).
        """
        n = A[0].shape[0] if n is None else n
        grads = []
        for l in reversed(range(len(self.layers))):  # from the output layer back to the first
            W, A_prev = self.layers[l].W, A[l]
            dW = A_prev.T @ dZ                                         # dW = A_prev^T dZ
            db = dZ.sum(axis=0)                                        # db = sum of dZ over the rows
            if alpha:
                dW += (alpha / n) * W                                  # the L2 penalty's gradient
            grads.insert(0, (dW, db))
            if l > 0:
                dA_prev = dZ @ W.T                                     # dA_prev = dZ W^T
                sigma_prev = self.layers[l - 1].activation
                dZ = sigma_prev.backward(Z[l - 1], A_prev, dA_prev)    # dZ_prev = dA_prev * sigma'(Z_prev)
        return grads

    def l2_penalty(self, alpha: float, n: int) -> float:
        """``alpha / (2 n) * sum_l ||W^l||^2``, the L2 term of the loss for a batch of ``n`` rows."""
        return 0.5 * alpha / n * sum(float(np.vdot(layer.W, layer.W)) for layer in self.layers)

    def _checked_targets(self, X: Any, y: Any, loss: Loss, what: str = "") -> tuple[np.ndarray, np.ndarray]:
        """``X`` and the targets as ``loss`` needs them; ``what`` names the data in errors ("validation ")."""
        loss.check_activation(self.layers[-1].activation)
        X = self._check_X(X, f"{what}X")
        Y = prepare_targets(y, loss, self.n_outputs, self.dtype, name=f"{what}y")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"{what}X has {X.shape[0]} rows but {what}y has {Y.shape[0]}; they must match.")
        return X, Y

    def loss_and_gradients(self, X: Any, y: Any, loss: str | Loss = "mse", alpha: float = 0.0,
                           sample_weight: Any = None) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Loss on the batch ``(X, y)`` and its exact gradients, by back-propagation.

        ``sample_weight`` (one number >= 0 per row) turns the mean over the
        batch into a weighted mean and ``n`` of the L2 term into the sum of
        the weights (see :mod:`ninestep.losses`): whole-number weights give
        the gradients of the batch with each row repeated that many times.

        Returns
        -------
        loss : float
            The mean loss over the batch (plus the L2 penalty if ``alpha > 0``).
        grads : list of (dW, db)
            Aligned with ``net.layers``; ``dW`` has the shape of ``W`` and
            ``db`` that of ``b``. Fresh arrays, safe to keep.
        """
        loss = get_loss(loss)
        alpha = check_nonnegative(alpha, "alpha")
        X, Y = self._checked_targets(X, y, loss)
        w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
        weights, n = weights_column(w, X.shape[0], self.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # reported once, clearly, below
            Z, A = self._forward(X)
            value = loss.value(Z[-1], A[-1], Y, weights)
            dZ = loss.dZ(Z[-1], A[-1], Y, self.layers[-1].activation, weights)   # dZ^L = dL/dZ^L
            grads = self.backward(Z, A, dZ, alpha, n)
            if alpha:
                value += self.l2_penalty(alpha, n)
        if not (np.isfinite(value) and all(np.isfinite(dW).all() and np.isfinite(db).all() for dW, db in grads)):
            raise overflow_error("the loss or its gradient", X, Y)
        return value, grads

    def evaluate(self, X: Any, y: Any, loss: str | Loss = "mse", sample_weight: Any = None) -> float:
        """The mean loss on ``(X, y)`` without the L2 penalty (what a test set reports); weighted with weights."""
        loss = get_loss(loss)
        X, Y = self._checked_targets(X, y, loss)
        w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
        value = self._data_loss(X, Y, loss, weights_column(w, X.shape[0], self.dtype)[0])
        if not np.isfinite(value):
            raise overflow_error("the loss", X, Y)
        return value

    def _data_loss(self, X: np.ndarray, Y: np.ndarray, loss: Loss, weights: np.ndarray | None = None) -> float:
        """The data loss on checked arrays; may be inf or NaN (training turns that into DivergenceError)."""
        Z, A = self._forward(X)
        with np.errstate(over="ignore", invalid="ignore"):
            return loss.value(Z[-1], A[-1], Y, weights)

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
        from .training import fit  # training imports nothing from this module, so no import loop

        return fit(self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, validation_data=validation_data, seed=seed, **kwargs)

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The network as plain data: a JSON-able description and its arrays ``W0, b0, W1, ...``.

        What the model file stores (:mod:`ninestep.model_file`);
        :meth:`from_arrays` is the inverse.
        """
        if not np.isfinite(self.params).all():
            raise ValueError("refusing to save a network whose weights contain NaN or infinity "
                             "(a model file never holds NaN); retrain with a smaller learning rate.")
        meta = {"layer_sizes": self.layer_sizes, "activations": [layer.activation.name for layer in self.layers],
                "dtype": self.dtype.name}
        arrays = {}
        for i, layer in enumerate(self.layers):
            arrays[f"W{i}"], arrays[f"b{i}"] = layer.W, layer.b
        return meta, arrays

    @staticmethod
    def check_description(meta: dict) -> tuple[list[int], list[str]]:
        """``layer_sizes`` and activation names from :meth:`to_arrays`'s description, checked."""
        sizes, activations = meta.get("layer_sizes"), meta.get("activations")
        if (not isinstance(sizes, list) or len(sizes) < 2
                or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in sizes)):
            raise ValueError(f"layer_sizes must be a list of at least two positive ints, got {sizes!r:.80}")
        if not isinstance(activations, list) or len(activations) != len(sizes) - 1:
            raise ValueError(f"need {len(sizes) - 1} activation names, got {activations!r:.80}")
        if any(not isinstance(name, str) for name in activations):
            raise ValueError(f"activation names must be strings, got {activations!r:.80}")
        activations = [get_activation(name).name for name in activations]
        if meta.get("dtype") not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {meta.get('dtype')!r:.40}")
        return sizes, activations

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "Network":
        """Rebuild a network from :meth:`to_arrays`'s output; raises ValueError naming what is wrong.

        Every array is checked against ``layer_sizes`` *before* the network
        is built, so a crafted description cannot make us allocate a
        network larger than the arrays it comes with.
        """
        sizes, activations = cls.check_description(meta)
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for key, shape in ((f"W{i}", (n_in, n_out)), (f"b{i}", (n_out,))):
                if key not in arrays:
                    raise ValueError(f"missing array {key!r} (layer_sizes {sizes} has {len(sizes) - 1} layers)")
                if arrays[key].shape != shape:
                    raise ValueError(f"inconsistent: array {key!r} has shape {arrays[key].shape}, but layer_sizes "
                                     f"{sizes} needs {shape}")
                if arrays[key].dtype != np.dtype(meta["dtype"]):  # never cast: a cast would change the weights
                    raise ValueError(f"array {key!r} has dtype {arrays[key].dtype}, but the description says "
                                     f"{meta['dtype']}")
        net = cls(sizes, activation=activations[0], output_activation=activations[-1], seed=0,
                  dtype=np.dtype(meta["dtype"]))
        for i, (layer, name) in enumerate(zip(net.layers, activations)):
            if layer.activation.name != name:
                layer.activation = get_activation(name)
            layer.W[...] = arrays[f"W{i}"]
            layer.b[...] = arrays[f"b{i}"]
        return net

    def save(self, path: str | Path) -> Path:
        """Save the bare network to ``path`` (.npz, atomically); ``ninestep.load(path)`` reads it back.

        To keep scalers, class and feature names with it, use
        :func:`ninestep.save_model`.
        """
        meta, arrays = self.to_arrays()
        return write_archive(path, {**meta, "kind": "model"}, arrays)
