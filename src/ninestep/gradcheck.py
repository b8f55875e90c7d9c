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
* 1e-6 to 1e-4: suspicious - a net whose loss is very flat or very steep
  at this point;
* 1e-3 or larger: a bug in that layer's backward pass, or in the layers
  above it, whose errors flow down into it.

**Kinks.** ReLU and leaky ReLU have a kink at 0: their derivative jumps
there. If moving ``p`` from ``p - eps`` to ``p + eps`` moves some sample's
pre-activation across 0 (or off an exact 0 - a sample that switches off a
whole layer feeds exactly ``Z = b = 0`` to the next when the biases are
zero), the difference quotient averages two different slopes and says
nothing about either: it can be off by O(1) where back-propagation is
right. Such an entry is found by comparing the on/off pattern ``Z > 0`` of
every kinked layer at ``p - eps``, ``p`` and ``p + eps``; it is left out of
the relative error and counted in the report (``W_kinks``, ``b_kinks``).
Every other entry still has to agree, so a real bug (a wrong derivative, a
missing transpose) still shows.

It costs two evaluations of the loss and gradient, and of the ReLU pattern,
per parameter, so use it on small
networks and batches (a few hundred parameters, a few dozen rows). In
float32 the difference quotient drowns in round-off (float32 keeps about 7
digits; the two losses differ in their 7th), so a float32 network is
checked through a float64 copy of it, with a warning that says so.

Only the public API is used: ``loss_and_gradients`` for the loss and its
gradient, ``forward(X, return_all=True)`` for the pre-activations, and each
layer's ``W`` and ``b`` (views into ``net.params``) for the perturbations.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._validation import check_nonnegative, check_positive
from .network import Network

__all__ = ["check_gradients", "KINKED_ACTIVATIONS"]

#: Activations whose derivative jumps at Z = 0.
KINKED_ACTIVATIONS = frozenset({"relu", "leaky_relu"})


def check_gradients(net: Network, X: Any, y: Any, loss: str = "mse", eps: float = 1e-6,
                    alpha: float = 0.0, skip_kinks: bool = True) -> list[dict[str, Any]]:
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
    skip_kinks : bool, default True
        Leave out the entries whose central difference crosses a ReLU or
        leaky-ReLU kink (see the module docstring); ``False`` keeps them,
        to see what they do.

    Returns
    -------
    list of dict, one per layer (``layer`` counts from 0)
        ``{"layer": i, "W": rel_error_W, "b": rel_error_b, "W_kinks": k_W,
        "b_kinks": k_b}``: the relative errors over the entries checked,
        and how many entries were left out because they cross a kink
        (always 0 with ``skip_kinks=False`` or without ReLU layers).

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
    _, grads = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)  # also checks X, y and loss
    kinked = [l for l, layer in enumerate(net.layers) if skip_kinks and layer.activation.name in KINKED_ACTIVATIONS]

    def on_off() -> list[np.ndarray]:
        Z, _ = net.forward(X, return_all=True)
        return [Z[l] > 0 for l in kinked]

    base = on_off()
    report = []
    saved = net.params.copy()
    try:
        for i, (layer, (dW, db)) in enumerate(zip(net.layers, grads)):
            errors = {}
            for name, param, analytic in (("W", layer.W, dW), ("b", layer.b, db)):
                numeric = np.zeros_like(param)
                crosses = np.zeros(param.shape, dtype=bool)
                for idx in np.ndindex(param.shape):
                    p = param[idx]
                    param[idx] = p + eps
                    plus, on_plus = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)[0], on_off()
                    param[idx] = p - eps
                    minus, on_minus = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)[0], on_off()
                    param[idx] = p
                    numeric[idx] = (plus - minus) / (2 * eps)
                    crosses[idx] = any((a != m).any() or (a != b).any() for a, m, b in zip(on_plus, on_minus, base))
                keep = ~crosses
                errors[name] = _rel(analytic[keep], numeric[keep])
                errors[f"{name}_kinks"] = int(crosses.sum())
            report.append({"layer": i, "W": errors["W"], "b": errors["b"],
                           "W_kinks": errors["W_kinks"], "b_kinks": errors["b_kinks"]})
    finally:
        net.params[...] = saved  # bit for bit, even if a loss evaluation raised
    return report


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
    # Both zero (a unit that is dead for every sample, or every entry left out): nothing disagrees.
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
