"""Small pieces shared by several test modules (imported as ``helpers``)."""

import builtins

import numpy as np


def central_differences(net, X, y, loss, alpha, eps=1e-6):
    """dL/dparams by central differences, one parameter at a time: an independent reference."""
    numeric = np.empty_like(net.params)
    for i in range(net.params.size):
        saved = net.params[i]
        net.params[i] = saved + eps
        plus = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)[0]
        net.params[i] = saved - eps
        minus = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)[0]
        net.params[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    return numeric


def block_import(monkeypatch, module):
    """Make ``import module`` (and its submodules) fail, as on a machine without it."""
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named '{module}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)
