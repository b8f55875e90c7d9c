"""A central-difference gradient check - to see back-propagation is right.

For every parameter ``p`` the derivative is estimated as

    dL/dp ~ (L(p + eps) - L(p - eps)) / (2 eps)

whose error is O(eps^2), and compared with the analytic gradient of
:meth:`Network.loss_and_gradients`. The relative error per layer,
``||g_analytic - g_numeric|| / max(||g_analytic|| + ||g_numeric||, tiny)``, should
be around 1e-8 or smaller in float64; 1e-3 means a bug. It costs two
forward passes per parameter, so use it on small networks and batches: it
is a learning and debugging tool, not part of training.

A ReLU kink between ``p - eps`` and ``p + eps`` makes the numeric estimate
wrong at that one point; a larger error on a ReLU net with tiny
pre-activations is that, not a bug.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_positive

__all__ = ["check_gradients"]


def check_gradients(net, X: Any, y: Any, loss: str = "mse", eps: float = 1e-6,
                    alpha: float = 0.0) -> list[dict[str, float]]:
    """Compare analytic and central-difference gradients.

    Returns
    -------
    list of dict, one per layer
        ``{"layer": i, "W": rel_error_W, "b": rel_error_b}``.

    The network's weights are left unchanged. Requires float64 for
    meaningful results (float32 round-off swamps the difference quotient).
    """
    eps = check_positive(eps, "eps")
    _, grads = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)
    numeric = np.zeros_like(net.params)
    params = net.params
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + eps
        plus, _ = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)
        params[i] = saved - eps
        minus, _ = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)
        params[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    report = []
    for i, ((dW, db), (nW, nb)) in enumerate(zip(grads, net._views(numeric))):
        report.append({"layer": i, "W": _rel(dW, nW), "b": _rel(db, nb)})
    return report


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    denom = max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
    return float(np.linalg.norm(a - b) / denom)
