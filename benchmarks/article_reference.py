"""The article's notebook, as its code is written: the baseline for the speed claim against the article.

The notebook (https://github.com/edenau/ML-in-NumPy/blob/master/neural-net.ipynb) is a
sequence of top-level cells: a ``layer`` class whose objects keep their own
``W``, ``b``, ``Z``, ``A`` and gradients, a list ``neural_net`` of them
(with an input "layer" 0 that only holds ``A = X``), an ``activation``
function and its derivative looked up by name, ``forward_prop`` and
``backward_prop`` walking that list, and a loop of gradient-descent updates
that prints its loss every 100,000 epochs. Samples are **columns**.

This file is that program, transcribed cell by cell into functions; the
only changes are the ones a library benchmark needs:

* the cells run inside :func:`run_notebook` instead of at top level;
* randomness comes from a ``numpy.random.RandomState(42)`` passed in, in
  the notebook's order (data, then W and b layer by layer), instead of
  ``np.random.seed(42)`` on the global state;
* ``print`` goes through a ``say`` argument so a benchmark can be quiet.

The notebook's code cells are not in this repository's copy of the article
(its code was images), so this is a transcription of the notebook's
structure and operations, not a byte-for-byte copy; what it must share with
the notebook - the draws, the arithmetic of every step and the printed
figures (0.3502 at epoch 100,000) - is checked in tests/test_article.py.

Per epoch it does what the notebook does: a forward pass through the layer
objects, ``dZ = A - Y`` at the output, per layer ``dW = dZ A_prev^T / m``,
``db = sum(dZ) / m``, ``dA_prev = W^T dZ``, ``dZ_prev = dA_prev * relu'(Z)``,
then ``W -= lr dW``, ``b -= lr db`` for every layer. The loss (the
notebook's metric, a Python loop over the samples) is computed only when
printed, as in the notebook.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


class layer:  # noqa: N801 - the notebook's name
    """One layer of the notebook's ``neural_net``: W (output_dim, input_dim), b (output_dim, 1)."""

    def __init__(self, layer_index: int, is_output: bool, input_dim: int, output_dim: int, activation: str,
                 rs: np.random.RandomState):
        self.layer_index = layer_index
        self.is_output = is_output
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.activation = activation
        # He-scaled weights and biases, drawn in this order for each layer.
        if layer_index != 0:
            self.W = rs.randn(output_dim, input_dim) * np.sqrt(2 / input_dim)
            self.b = rs.randn(output_dim, 1) * np.sqrt(2 / input_dim)


def activation(input_: np.ndarray, act_func: str) -> np.ndarray:
    if act_func == "relu":
        return np.maximum(input_, np.zeros(input_.shape))
    elif act_func == "linear":
        return input_
    else:
        raise Exception("Activation function is not defined.")


def derivative_activation(input_: np.ndarray, act_func: str) -> np.ndarray:
    if act_func == "relu":
        return np.greater(input_, np.zeros(input_.shape)).astype(float)
    elif act_func == "linear":
        return np.ones(input_.shape)
    else:
        raise Exception("Derivative activation function is not defined.")


def forward_prop(input_layer: np.ndarray, neural_net: list) -> None:
    neural_net[0].A = input_layer
    for l in range(1, len(neural_net)):
        neural_net[l].Z = np.add(np.dot(neural_net[l].W, neural_net[l - 1].A), neural_net[l].b)
        neural_net[l].A = activation(neural_net[l].Z, neural_net[l].activation)


def backward_prop(y: np.ndarray, neural_net: list) -> None:
    m = y.shape[1]
    for l in range(len(neural_net) - 1, 0, -1):
        if neural_net[l].is_output:
            neural_net[l].dZ = neural_net[l].A - y  # e = 1/2 (y_hat - y)^2, linear output
        else:
            neural_net[l].dZ = np.multiply(neural_net[l].dA,
                                           derivative_activation(neural_net[l].Z, neural_net[l].activation))
        neural_net[l].dW = np.dot(neural_net[l].dZ, neural_net[l - 1].A.T) / m
        neural_net[l].db = np.sum(neural_net[l].dZ, axis=1, keepdims=True) / m
        neural_net[l - 1].dA = np.dot(neural_net[l].W.T, neural_net[l].dZ)


def update_parameters(neural_net: list, learning_rate: float) -> None:
    for l in range(1, len(neural_net)):
        neural_net[l].W = neural_net[l].W - learning_rate * neural_net[l].dW
        neural_net[l].b = neural_net[l].b - learning_rate * neural_net[l].db


def get_loss(y: np.ndarray, y_hat: np.ndarray) -> float:
    """The notebook's printed metric: mean over samples (columns) of ||1/2 (y_hat - y)^2||_2."""
    individual_loss = 0.5 * (y_hat - y) ** 2
    return np.mean([np.linalg.norm(individual_loss[:, col], 2) for col in range(individual_loss.shape[1])])


def standardize(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return (x - mean) / std


def unstandardize(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return x * std + mean


def setup(rs: np.random.RandomState, layers_dim_hidden=(4, 4)):
    """The notebook's cells 2-5: data, 70/30 split, per-row scalers, ``neural_net``."""
    # Data: inputs a, b in [0, 100), one sample per column; outputs a+b, a-b, |a-b|.
    X = rs.rand(2, 10000) * 100
    y = np.array([X[0] + X[1], X[0] - X[1], np.abs(X[0] - X[1])])
    split = int(0.7 * X.shape[1])
    X_train, X_test, y_train, y_test = X[:, :split], X[:, split:], y[:, :split], y[:, split:]
    X_scaler = [(np.mean(X_train[i]), np.std(X_train[i])) for i in range(X_train.shape[0])]
    y_scaler = [(np.mean(y_train[i]), np.std(y_train[i])) for i in range(y_train.shape[0])]
    X_train = np.array([standardize(X_train[i], *X_scaler[i]) for i in range(X_train.shape[0])])
    X_test = np.array([standardize(X_test[i], *X_scaler[i]) for i in range(X_test.shape[0])])
    y_train = np.array([standardize(y_train[i], *y_scaler[i]) for i in range(y_train.shape[0])])
    y_test = np.array([standardize(y_test[i], *y_scaler[i]) for i in range(y_test.shape[0])])
    layers_dim = [X_train.shape[0], *layers_dim_hidden, y_train.shape[0]]
    return X_train, X_test, y_train, y_test, X_scaler, y_scaler, build_neural_net(layers_dim, rs)


def build_neural_net(layers_dim, rs: np.random.RandomState) -> list:
    """The notebook's ``neural_net``: an input layer 0, ReLU hidden layers, a linear output layer."""
    neural_net = []
    for i, dim in enumerate(layers_dim):
        if i == 0:
            neural_net.append(layer(i, False, 0, dim, "irrelevant", rs))
        elif i + 1 == len(layers_dim):
            neural_net.append(layer(i, True, layers_dim[i - 1], dim, "linear", rs))
        else:
            neural_net.append(layer(i, False, layers_dim[i - 1], dim, "relu", rs))
    return neural_net


def train(X_train: np.ndarray, y_train: np.ndarray, neural_net: list, epochs: int = 1_000_000,
          learning_rate: float = 0.01, print_every: int = 100_000, say: Callable = print) -> list[float]:
    """The notebook's training loop; returns the printed losses (every ``print_every`` epochs)."""
    printed = []
    for i in range(epochs):
        forward_prop(X_train, neural_net)
        backward_prop(y_train, neural_net)
        update_parameters(neural_net, learning_rate)
        if (i + 1) % print_every == 0:
            forward_prop(X_train, neural_net)
            loss = get_loss(y_train, neural_net[-1].A)
            printed.append(loss)
            say(loss)
    return printed


def predict(cases: np.ndarray, neural_net: list, X_scaler, y_scaler) -> np.ndarray:
    """The notebook's step 9: predictions for ``cases`` (2, k) in original units, (3, k)."""
    X = np.array([standardize(cases[i], *X_scaler[i]) for i in range(cases.shape[0])])
    forward_prop(X, neural_net)
    return np.array([unstandardize(neural_net[-1].A[i], *y_scaler[i]) for i in range(neural_net[-1].A.shape[0])])


def run_notebook(epochs: int = 1_000_000, print_every: int = 100_000, seed: int = 42, say: Callable = print) -> dict:
    """The whole notebook from ``RandomState(seed)``: printed losses, test loss, the four predictions."""
    rs = np.random.RandomState(seed)
    X_train, X_test, y_train, y_test, X_scaler, y_scaler, neural_net = setup(rs)
    printed = train(X_train, y_train, neural_net, epochs, 0.01, print_every, say)
    forward_prop(X_test, neural_net)
    test_loss = get_loss(y_test, neural_net[-1].A)
    cases = np.array([[30, 70, 3, 888], [70, 30, 5, 122]], dtype=float)
    return {"printed": printed, "test_loss": float(test_loss),
            "predictions": predict(cases, neural_net, X_scaler, y_scaler),
            "weights": [(l.W.copy(), l.b.copy()) for l in neural_net[1:]]}
