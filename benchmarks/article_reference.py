"""The article's algorithm, re-implemented faithfully: the baseline for target 2.

"Machine Learning in Python NumPy: Neural Network in 9 Steps" keeps one
sample per **column**: ``X`` has shape (2, n), ``W^l`` shape (N_l, N_{l-1})
and ``b^l`` shape (N_l, 1). One epoch of its full-batch gradient descent::

    Z^l = W^l A^{l-1} + b^l,   A^l = sigma(Z^l)            (forward)
    dZ^L = A^L - Y                                          (e = 1/2 (y_hat - y)^2)
    dW^l = dZ^l (A^{l-1})^T / m,  db^l = sum_cols(dZ^l) / m
    dZ^{l-1} = (W^l)^T dZ^l (.) sigma'(Z^{l-1})
    W^l <- W^l - lr dW^l,  b^l <- b^l - lr db^l

written the way the notebook writes it: plain NumPy expressions, a new
array for every intermediate, no buffers. It is deliberately *not*
ninestep code, so the benchmark compares two independent programs; its
results are checked against ninestep's in ``run.py`` (same initial
weights, same loss after the same epochs, to round-off).
"""

from __future__ import annotations

import numpy as np


class Layer:
    """The article's ``layer``: W (n_out, n_in), b (n_out, 1), an activation name."""

    def __init__(self, n_in: int, n_out: int, activation: str, rng: np.random.Generator):
        # He initialisation for weights *and* biases, as the notebook does.
        self.W = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
        self.b = rng.standard_normal((n_out, 1)) * np.sqrt(2.0 / n_in)
        self.activation = activation


def activation(Z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(Z, 0)
    return Z  # linear


def derivative_activation(Z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    return np.ones_like(Z)


def build(layers_dim=(2, 4, 4, 3), seed: int = 42) -> list[Layer]:
    rng = np.random.default_rng(seed)
    n_layers = len(layers_dim) - 1
    return [Layer(n_in, n_out, "relu" if i < n_layers - 1 else "linear", rng)
            for i, (n_in, n_out) in enumerate(zip(layers_dim[:-1], layers_dim[1:]))]


def forward(X: np.ndarray, neural_net: list[Layer]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``X`` of shape (N_0, m); returns the lists of Z^l and A^l (A^0 = X)."""
    Zs, As = [], [X]
    for layer in neural_net:
        Z = np.dot(layer.W, As[-1]) + layer.b
        Zs.append(Z)
        As.append(activation(Z, layer.activation))
    return Zs, As


def loss(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """The article's metric: mean over samples of 1/2 ||y_hat - y||^2."""
    return float(np.mean(0.5 * np.sum((Y_hat - Y) ** 2, axis=0)))


def epoch(X: np.ndarray, Y: np.ndarray, neural_net: list[Layer], lr: float) -> float:
    """One full-batch gradient-descent step; returns the loss before the update."""
    m = X.shape[1]
    Zs, As = forward(X, neural_net)
    value = loss(As[-1], Y)
    dZ = As[-1] - Y  # linear output: dA^L = dZ^L
    grads = []
    for l in range(len(neural_net) - 1, -1, -1):
        dW = np.dot(dZ, As[l].T) / m
        db = np.sum(dZ, axis=1, keepdims=True) / m
        grads.append((dW, db))
        if l > 0:
            dA = np.dot(neural_net[l].W.T, dZ)
            dZ = dA * derivative_activation(Zs[l - 1], neural_net[l - 1].activation)
    for layer, (dW, db) in zip(reversed(neural_net), grads):
        layer.W = layer.W - lr * dW
        layer.b = layer.b - lr * db
    return value


def train(X: np.ndarray, Y: np.ndarray, neural_net: list[Layer], lr: float = 0.01,
          epochs: int = 1000) -> list[float]:
    """``epochs`` full-batch steps on X (N_0, m), Y (N_L, m); the loss of each."""
    return [epoch(X, Y, neural_net, lr) for _ in range(epochs)]
