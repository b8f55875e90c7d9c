"""The loss curve as a PNG (needs matplotlib: ``pip install ninestep[plot]``).

matplotlib is imported inside :func:`plot_loss_curve`, with its
non-interactive ``Agg`` backend, so that importing ninestep never needs it
and the plot works on a server without a display.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["plot_loss_curve"]


def plot_loss_curve(path: str | os.PathLike, loss: Sequence[float], val_loss: Sequence[float] | None = None,
                    *, title: str = "Loss curve", loss_name: str = "loss",
                    best_epoch: int | None = None) -> Path:
    """Write the training (and validation) loss per epoch to a PNG at ``path``.

    Parameters
    ----------
    path : str or path
        Where to write the PNG; the folder must exist.
    loss : sequence of float
        Training loss per epoch (``History.loss``).
    val_loss : sequence of float, optional
        Validation loss per epoch (``History.val_loss``).
    title : str
    loss_name : str
        The loss's name, for the y-axis label (e.g. "MSE/2, standardised").
    best_epoch : int, optional
        0-based epoch whose weights were kept; marked with a dotted line.

    The y-axis is logarithmic: a loss falls over orders of magnitude, and a
    linear axis would hide everything after the first few epochs.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting the loss curve needs matplotlib; pip install 'ninestep[plot]'.") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"loss must be a non-empty list of per-epoch values, got shape {loss.shape}.")
    epochs = np.arange(1, loss.size + 1)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        ax.plot(epochs, loss, label="train")
        if val_loss is not None and len(val_loss):
            val = np.asarray(val_loss, dtype=np.float64)
            ax.plot(np.arange(1, val.size + 1), val, label="validation")
        if best_epoch is not None:
            ax.axvline(best_epoch + 1, color="grey", linestyle=":", label=f"best epoch ({best_epoch + 1})")
        # A log axis needs positive values; a loss of exactly 0 would break it.
        if np.all(loss > 0) and (val_loss is None or np.all(np.asarray(val_loss) > 0)):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(loss_name + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
