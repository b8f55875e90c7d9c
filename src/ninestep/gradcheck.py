"""A central-difference gradient check - to see back-propagation is right.

A learning and debugging tool, not part of training. For every parameter
``p`` (every weight and bias, one at a time) the derivative is estimated as

    dL/dp ~ (L(p + eps) - L(p - eps)) / (2 eps)

whose error is O(eps^2), and compared with the analytic gradient of
:meth:`Network.loss_and_gradients` (back-propagation). The result is one
relative error per layer and per array,

    ||g_analytic - g_numeric|| / (||g_analytic|| + ||g_numeric||)

which is 0 for identical gradients and 1 for unrelated ones. How to read it
in float64 with the default ``eps = 1e-6``:

* around 1e-8 or smaller: back-propagation is right;
* 1e-6 to 1e-4: suspicious - usually a ReLU kink (below), or a net whose
  loss is very flat or very steep at this point;
* 1e-3 or larger: a bug in that layer's backward pass, or in the layers
  above it, whose errors flow down into it.

A ReLU (or leaky ReLU) kink between ``p - eps`` and ``p + eps`` makes the
numeric estimate wrong for that one parameter; a larger error on a ReLU net
with tiny pre-activations is that, not a bug: try another seed or tanh.

It costs two forward passes per parameter, so use it on small networks and
batches (a few hundred parameters, a few dozen rows). In float32 the
difference quotient drowns in round-off (float32 keeps about 7 digits; the
two losses differ in their 7th), so a float32 network is checked through a
float64 copy of it, with a warning that says so.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._validation import check_nonnegative, check_positive
from .losses import get_loss
from .network import Network, prepare_targets

__all__ = ["check_gradients"]


def check_gradients(net: Network, X: Any, y: Any, loss: str = "mse", eps: float = 1e-6,
                    alpha: float = 0.0) -> list[dict[str, float]]:
    """Compare back-propagation's gradients with central differences, layer by layer.

    Parameters
    ----------
    net : Network
        Its weights are left exactly as they were.
    X : array of shape (n_samples, n_inputs)
    y : targets, as for :meth:`Network.loss_and_gradients`
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}, default "mse"
    eps : float, default 1e-6
        The step ``p +- eps``, in the units of the parameters.
    alpha : float, default 0
        L2 penalty, included in the loss being differentiated.

    Returns
    -------
    list of dict, one per layer (``layer`` counts from 0)
        ``{"layer": i, "W": rel_error_W, "b": rel_error_b}``; see the module
        docstring for how to read the numbers.

    Examples
    --------
    >>> import numpy as np, ninestep
    >>> rng = np.random.default_rng(0)
    >>> net = ninestep.Network([3, 5, 2], activation="tanh", seed=rng)
    >>> report = ninestep.check_gradients(net, rng.normal(size=(8, 3)), rng.normal(size=(8, 2)))
    >>> max(max(r["W"], r["b"]) for r in report) < 1e-7
    True
    """
    eps = check_positive(eps, "eps")
    alpha = check_nonnegative(alpha, "alpha")
    if net.dtype != np.float64:
        warnings.warn(
            f"check_gradients: the network is {net.dtype.name}; central differences need float64 "
            "(float32 round-off is larger than the differences measured), so a float64 copy of "
            "the network is checked. Its gradients are the same formulas in higher precision.",
            UserWarning, stacklevel=2)
        net = _float64_copy(net)
    loss_fn = get_loss(loss)
    loss_fn.check_activation(net.layers[-1].activation)
    _, grads = net.loss_and_gradients(X, y, loss=loss_fn, alpha=alpha)
    # Checked once here; the loop below evaluates the loss ~2 * n_params times.
    X = net._check_X(X)
    Y = prepare_targets(y, loss_fn, net.n_outputs, net.dtype)
    n = X.shape[0]

    def loss_at() -> float:
        Zs, As = net._forward(X)
        value = loss_fn.value(Zs[-1], As[-1], Y)
        if alpha:
            value += 0.5 * alpha / n * sum(float(np.vdot(layer.W, layer.W)) for layer in net.layers)
        return value

    params = net.params
    numeric = np.zeros_like(params)
    saved = params.copy()
    try:
        for i in range(params.size):
            params[i] = saved[i] + eps
            plus = loss_at()
            params[i] = saved[i] - eps
            minus = loss_at()
            params[i] = saved[i]
            numeric[i] = (plus - minus) / (2 * eps)
    finally:
        params[...] = saved  # bit for bit, even if a loss evaluation raised
    return [{"layer": i, "W": _rel(dW, nW), "b": _rel(db, nb)}
            for i, ((dW, db), (nW, nb)) in enumerate(zip(grads, net._views(numeric)))]


def _float64_copy(net: Network) -> Network:
    """The same network (architecture, activations, weights) in float64."""
    # seed=0: the random initial weights are overwritten at once; no need for fresh entropy.
    copy = Network(net.layer_sizes, activation=net.activation, output_activation=net.output_activation,
                   seed=0, dtype=np.float64)
    for mine, theirs in zip(copy.layers, net.layers):
        mine.activation = theirs.activation  # keeps e.g. a custom leaky_relu slope
    copy.set_weights(net.get_weights())
    return copy


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    # Both zero (a unit that is dead for every sample): the gradients agree exactly.
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
