"""Pictures of training and of the inside of a network (needs matplotlib: ``pip install 'ninestep[plot]'``).

Every function draws one figure for a learner to read without the code:
a title, labelled axes and a legend or colour bar.

* :func:`plot_loss_curve` - the loss per epoch (step 8);
* :func:`plot_decision_boundary` - the class regions over a 2-D input plane,
  or the regression curve/surface over 1 or 2 inputs, with the data;
* :func:`plot_predictions` - predicted against true, per output (step 9);
* :func:`plot_weights` - each layer's ``W`` (and ``b``) as a heat map;
* :func:`plot_activations` - per hidden layer, a histogram of its outputs
  ``A^l`` and which units are dead (pass no gradient on any row);
* :func:`plot_gradient_norms` - ``||dW^l||`` per layer per epoch;
* :func:`training_pictures` - the pictures that fit a task, written to a folder.

``path``: give one and the PNG is written there atomically (a reader never
sees half a file) and the path is returned; leave it ``None`` and the
matplotlib ``Figure`` is returned (in a notebook it displays itself).
matplotlib is imported inside the functions, so importing ninestep never
needs it; figures are drawn on the Agg canvas without ``pyplot``: nothing is
shown, no global list of figures grows, and the backend a notebook or an
application chose is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._validation import check_array, check_choice, check_int
from .archive import atomic_path
from .diagnostics import dead_units
from .metrics import r2

__all__ = ["plot_loss_curve", "plot_decision_boundary", "plot_predictions", "plot_weights",
           "plot_activations", "plot_gradient_norms", "training_pictures", "TRAINING_PICTURES"]

PathLike = str | os.PathLike
#: Drawing every one of 10,000 points hides the picture under them; every k-th row is drawn.
MAX_POINTS = 1500
CLASSIFIER_OUTPUTS = ("softmax", "sigmoid")
TASKS = ("classification", "regression")


def _figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float], squeeze: bool = False):
    """A Figure on the Agg canvas with a grid of axes (as ``plt.subplots``, without pyplot's state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib; pip install 'ninestep[plot]'.") from None
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze)
    return fig, axes


def _panels(n: int, width: float, height: float, most_per_row: int = 3):
    """A Figure with ``n`` panels of ``width`` x ``height`` inches, ``most_per_row`` to a row; the list of panels."""
    ncols = min(n, most_per_row)
    nrows = -(-n // ncols)
    fig, axes = _figure(nrows, ncols, size=(width * ncols, height * nrows))
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:n])


def _finish(fig, path: PathLike | None):
    """Return the Figure (``path=None``) or write it as a PNG and return the path."""
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    with atomic_path(path) as tmp:
        # The temporary name may not end in .png, so the format is given.
        fig.savefig(tmp, format="png")
    return path


def _thin(n: int, what: str, most: int = MAX_POINTS) -> tuple[int, str]:
    """Draw every k-th of ``n`` rows so that at most ``most`` are drawn: k, and the legend's label."""
    every = max(1, -(-n // most))
    return every, (f"{what} (1 in {every} shown)" if every > 1 else what)


def _ticks(n: int) -> list[int]:
    """Tick positions 0..n-1: all of them for a small layer, about six for a wide one."""
    if n <= 16:
        return list(range(n))
    step = int(np.ceil(n / 6 / 5) * 5)  # a multiple of 5
    return list(range(0, n - step // 2, step))  # keeps clear of the bias row's tick at n


def _names(names: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if names is None:
        return [f"{prefix}{i + 1}" for i in range(n)]
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"{what} has {len(names)} names but there are {n}; give one name each.")
    return names


# ---------------------------------------------------------------------- step 8: the loss
def plot_loss_curve(path: PathLike | None, loss: Sequence[float], val_loss: Sequence[float] | None = None,
                    *, title: str = "Loss curve", loss_name: str = "loss", best_epoch: int | None = None):
    """The training (and validation) loss per epoch; a PNG at ``path``, or the Figure if ``path`` is None.

    Parameters
    ----------
    loss : sequence of float
        Training loss per epoch (``History.loss``).
    val_loss : sequence of float, optional
        Validation loss per epoch (``History.val_loss``).
    loss_name : str
        The loss's name, for the y-axis label (e.g. "MSE/2, standardised").
    best_epoch : int, optional
        0-based epoch whose weights were kept; marked with a dotted line.

    The y-axis is logarithmic: a loss falls over orders of magnitude, and a
    linear axis would hide everything after the first few epochs.
    """
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"loss must be a non-empty list of per-epoch values, got shape {loss.shape}.")
    fig, axes = _figure(size=(6.4, 4.0))
    ax = axes[0, 0]
    ax.plot(np.arange(1, loss.size + 1), loss, label="train")
    val = np.asarray(val_loss if val_loss is not None else [], dtype=np.float64)
    if val.size:
        ax.plot(np.arange(1, val.size + 1), val, label="validation")
    if best_epoch is not None:
        ax.axvline(best_epoch + 1, color="grey", linestyle=":", label=f"best epoch ({best_epoch + 1})")
    # A log axis needs positive values; a loss of exactly 0 would break it.
    if np.all(loss > 0) and np.all(val > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_name + (" (log scale)" if ax.get_yscale() == "log" else ""))
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _finish(fig, path)


# ---------------------------------------------------------------------- the function the net computes
def plot_decision_boundary(net, X: Any, y: Any, path: PathLike | None = None, *, task: str | None = None,
                           x_scaler=None, y_scaler=None, classes: Sequence | None = None,
                           feature_names: Sequence[str] | None = None, target_names: Sequence[str] | None = None,
                           resolution: int = 200, title: str | None = None):
    """What the net predicts over its input space, with the data on top.

    * classification (2 inputs, any number of classes): each point of the
      plane coloured by the predicted class, paler where the net is less
      sure, and the data coloured by true class;
    * regression with 2 inputs: one panel per output, the predicted surface
      as a colour map with the data coloured by their true value;
    * regression with 1 input: the predicted curve through the data, one
      panel per output.

    Parameters
    ----------
    net : Network
    X : array of shape (n, 1) or (n, 2)
        Inputs in the units to draw (original units when ``x_scaler`` is given).
    y : array of shape (n,) class labels 0..k-1, or (n,) / (n, n_outputs) targets
        In the units to draw (original units when ``y_scaler`` is given).
    task : {"classification", "regression"}, optional
        By default classification when the output activation is softmax or sigmoid.
    x_scaler, y_scaler : fitted StandardScaler, optional
        The net sees ``x_scaler.transform(X)``; its regression outputs are
        mapped back with ``y_scaler.inverse_transform``.
    classes : sequence, optional
        Names of the classes 0..k-1 for the legend.
    feature_names, target_names : sequence of str, optional
        Axis and panel labels.
    resolution : int, default 200
        Grid points along each input axis.

    Returns the path written, or the Figure when ``path`` is None.
    """
    task = check_choice(task or ("classification" if net.layers[-1].activation.name in CLASSIFIER_OUTPUTS
                                 else "regression"), "task", TASKS)
    X = check_array(X, "X")
    d = X.shape[1]
    allowed = (2,) if task == "classification" else (1, 2)
    if d not in allowed:
        pick = "two columns, e.g. X[:, [0, 1]]," if d > 2 else "two input columns"
        raise ValueError(
            f"plot_decision_boundary draws the {task} over a {' or '.join(map(str, allowed))}-D input plane, "
            f"but X has {d} features; pass {pick} with a network trained on those"
            + (", or use plot_predictions for predicted against true." if d > 2 else "."))
    if d != net.n_inputs:
        raise ValueError(f"X has {d} features but the network expects {net.n_inputs}.")
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; give one target per row.")
    resolution = check_int(resolution, "resolution", minimum=2)
    xnames = _names(feature_names, d, "x", "feature_names")
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.05 * np.where(high > low, high - low, 1.0)
    axes_1d = [np.linspace(lo - m, hi + m, resolution) for lo, hi, m in zip(low, high, margin)]
    grid = np.column_stack([g.ravel() for g in np.meshgrid(*axes_1d)]) if d == 2 else axes_1d[0][:, None]
    net_in = grid if x_scaler is None else x_scaler.transform(grid)
    # Over a coloured surface points hide it sooner than over class regions.
    every, shown = _thin(len(X), "data", MAX_POINTS if task == "classification" or d == 1 else MAX_POINTS // 4)
    if task == "classification":
        fig = _class_regions(net, net_in, X, y, axes_1d, classes, every, shown)
    else:
        fig = _regression_picture(net, net_in, X, y, axes_1d, y_scaler, target_names, every, shown)
    for ax in fig.axes[:net.n_outputs if task == "regression" else 1]:
        ax.set_xlabel(xnames[0])
        if d == 2:
            ax.set_ylabel(xnames[1])
    fig.suptitle(title or ("Decision boundary: the class the network predicts at each point"
                           if task == "classification" else "What the network predicts over its inputs"))
    return _finish(fig, path)


def _class_regions(net, grid_in, X, y, axes_1d, classes, every, shown):
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels = y.astype(np.int64, casting="unsafe") if y.dtype.kind == "f" else y
    if labels.ndim != 1 or y.dtype.kind not in "iuf" or np.any(labels != y) or labels.min() < 0:
        raise ValueError("y must hold class labels 0..k-1, one per row (shape (n,)); got "
                         f"shape {y.shape}, dtype {y.dtype}.")
    if net.layers[-1].activation.name == "sigmoid" and net.n_outputs > 1:
        raise ValueError(f"this network has {net.n_outputs} sigmoid outputs, one yes/no label each, but a decision "
                         "boundary colours each point by one class; draw one label at a time, or use softmax.")
    P = net.predict_proba(grid_in)  # (n, k); for one sigmoid output p: [1 - p, p]
    k = P.shape[1]
    if labels.max() >= k:
        raise ValueError(f"y holds class {labels.max()} but the network predicts {k} classes (0..{k - 1}).")
    names = _names(classes, k, "class ", "classes") if classes is not None else [str(i) for i in range(k)]
    # A bare number ("predicted 1") reads as a count; "predicted class 1" does not.
    names = [f"class {n}" if n.lstrip("-").replace(".", "", 1).isdigit() else n for n in names]
    # tab10 is matplotlib's default colour cycle (C0, C1, ...); beyond ten classes, hues round the circle.
    colours = np.array([colormaps["tab10"](i)[:3] if k <= 10 else colormaps["hsv"](i / k)[:3] for i in range(k)])
    n1, n2 = len(axes_1d[0]), len(axes_1d[1])
    pred = P.argmax(axis=1)
    # Paler where the net is unsure: confidence runs from 1/k (a guess) to 1 (certain).
    sure = (P.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
    rgba = np.concatenate([colours[pred], (0.15 + 0.5 * sure)[:, None]], axis=1).reshape(n2, n1, 4)
    fig, axes = _figure(size=(6.8, 5.6))
    ax = axes[0, 0]
    extent = (axes_1d[0][0], axes_1d[0][-1], axes_1d[1][0], axes_1d[1][-1])
    ax.imshow(rgba, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    # The boundary: where the predicted class changes (a line per level between class numbers).
    ax.contour(axes_1d[0], axes_1d[1], pred.reshape(n2, n1), levels=np.arange(k - 1) + 0.5,
               colors="k", linewidths=0.8)
    ax.scatter(X[::every, 0], X[::every, 1], c=colours[labels[::every]], s=14, edgecolors="k", linewidths=0.4)
    handles = [Patch(color=colours[i], alpha=0.6, label=f"predicted {names[i]}") for i in range(k)]
    handles += [Line2D([], [], marker="o", linestyle="", markerfacecolor=colours[i], markeredgecolor="k",
                       label=f"{shown}: {names[i]}") for i in range(k)]
    handles.append(Line2D([], [], color="k", linewidth=0.8, label="decision boundary"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
              title="paler = less sure", title_fontsize="small")
    ax.set_title("predicted class (regions) and true class (points)", fontsize="medium")
    return fig


def _regression_picture(net, grid_in, X, y, axes_1d, y_scaler, target_names, every, shown):
    pred = net.forward(grid_in)
    if y_scaler is not None:
        pred = y_scaler.inverse_transform(pred)
    y = check_array(y.reshape(len(y), -1) if y.ndim == 1 else y, "y")
    m = pred.shape[1]
    if y.shape[1] != m:
        raise ValueError(f"y has {y.shape[1]} columns but the network has {m} outputs; give one target per output.")
    tnames = _names(target_names, m, "y", "target_names")
    fig, panels = _panels(m, 4.6 if X.shape[1] == 1 else 5.0, 4.0)  # room for a colour bar beside a surface
    for j, ax in enumerate(panels):
        if X.shape[1] == 1:
            ax.scatter(X[::every, 0], y[::every, j], s=8, color="C0", alpha=0.5, label=shown)
            ax.plot(axes_1d[0], pred[:, j], color="C3", linewidth=2, label="network's prediction")
            ax.set_ylabel(tnames[j])
            ax.legend(fontsize="small")
        else:
            n1, n2 = len(axes_1d[0]), len(axes_1d[1])
            surface = pred[:, j].reshape(n2, n1)
            lo = min(surface.min(), y[:, j].min())
            hi = max(surface.max(), y[:, j].max())
            image = ax.imshow(surface, origin="lower", aspect="auto", cmap="viridis", vmin=lo, vmax=hi,
                              extent=(axes_1d[0][0], axes_1d[0][-1], axes_1d[1][0], axes_1d[1][-1]))
            ax.scatter(X[::every, 0], X[::every, 1], c=y[::every, j], cmap="viridis", vmin=lo, vmax=hi, s=10,
                       edgecolors="w", linewidths=0.3, label=f"{shown}, coloured by true value")
            fig.colorbar(image, ax=ax, label=f"{tnames[j]} (background: prediction)")
            ax.legend(loc="lower left", fontsize="x-small")
        ax.set_title(f"output {j + 1}: {tnames[j]}", fontsize="medium")
    return fig


def plot_predictions(y_true: Any, y_pred: Any, path: PathLike | None = None, *,
                     target_names: Sequence[str] | None = None, title: str = "Predicted against true"):
    """One panel per output: predicted against true, with the line of perfect predictions and R^2.

    ``y_true``, ``y_pred``: arrays of shape (n,) or (n, n_outputs), in the
    same units. Returns the path written, or the Figure when ``path`` is None.
    """
    y_true, y_pred = (check_array(np.asarray(v, dtype=np.float64).reshape(len(v), -1) if np.ndim(v) == 1 else v, name)
                      for v, name in ((y_true, "y_true"), (y_pred, "y_pred")))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}; they must match.")
    m = y_true.shape[1]
    names = _names(target_names, m, "y", "target_names")
    every, shown = _thin(len(y_true), "rows")
    fig, panels = _panels(m, 4.2, 4.0)
    for j, ax in enumerate(panels):
        t, p = y_true[:, j], y_pred[:, j]
        ax.scatter(t[::every], p[::every], s=8, alpha=0.5, label=shown)
        lo, hi = min(t.min(), p.min()), max(t.max(), p.max())
        ax.plot([lo, hi], [lo, hi], color="k", linestyle="--", linewidth=1, label="perfect: predicted = true")
        ax.set_title(f"{names[j]}: R\N{SUPERSCRIPT TWO} = {r2(t, p):.4f}", fontsize="medium")
        ax.set(xlabel=f"true {names[j]}", ylabel=f"predicted {names[j]}")
        ax.legend(fontsize="small")
    fig.suptitle(title)
    return _finish(fig, path)


# ---------------------------------------------------------------------- inside the network
def plot_weights(net, path: PathLike | None = None, *, feature_names: Sequence[str] | None = None,
                 title: str = "Weights per layer"):
    """Each layer's ``W^l`` (n_in rows x n_out columns) and, as the last row, ``b^l``, as heat maps.

    Red is positive, blue negative, white zero; each layer has its own
    colour scale (its colour bar), symmetric about zero. Small layers show
    the values in the cells. Returns the path written, or the Figure when
    ``path`` is None.
    """
    L = len(net.layers)
    fig, panels = _panels(L, 3.9, 3.6, most_per_row=4)
    for l, (layer, ax) in enumerate(zip(net.layers, panels), start=1):
        Wb = np.vstack([layer.W, layer.b[None, :]])
        limit = float(np.abs(Wb).max()) or 1.0
        image = ax.imshow(Wb, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        n_in, n_out = layer.W.shape
        ax.axhline(n_in - 0.5, color="k", linewidth=1.5)  # sets the bias row apart from W
        rows = (_names(feature_names, n_in, "x", "feature_names") if l == 1 and feature_names is not None
                else [str(i) for i in range(n_in)])  # units 0-based, as W[i, j] indexes them
        shown = _ticks(n_in)
        ax.set_yticks([*shown, n_in], [rows[i] for i in shown] + ["bias"])
        ax.set_xticks(_ticks(n_out))
        if Wb.shape[0] <= 10 and Wb.shape[1] <= 8:  # room for the numbers in the cells
            for (r, c), v in np.ndenumerate(Wb):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize="x-small",
                        color="w" if abs(v) > 0.6 * limit else "k")
        ax.set_title(f"layer {l} ({layer.activation.name}): W{l} {n_in}\N{MULTIPLICATION SIGN}{n_out} + b{l}",
                     fontsize="medium")
        ax.set(xlabel=f"unit j of layer {l}", ylabel="input i" if l == 1 else f"unit i of layer {l - 1}")
        fig.colorbar(image, ax=ax, label="weight")
    fig.suptitle(title)
    return _finish(fig, path)


def plot_activations(net, X: Any, path: PathLike | None = None, *, bins: int = 40,
                     title: str = "Hidden-layer activations and dead units"):
    """Per hidden layer: a histogram of its outputs ``A^l`` on the rows of X, and how often each unit fires.

    ``X`` is what the network sees (already scaled), shape (n, n_inputs).
    A unit whose pre-activation ``Z`` is <= 0 on every row is dead
    (:func:`ninestep.diagnostics.dead_units`): a dead ReLU outputs 0 and
    passes no gradient, so it never learns again. Dead units are marked
    with a red cross and counted in the panel's title. Returns the path
    written, or the Figure when ``path`` is None.
    """
    if len(net.layers) < 2:
        raise ValueError("the network has no hidden layer, so there are no hidden activations to draw; "
                         "build it with at least one hidden layer, e.g. Network([2, 8, 1]).")
    Z, A = net.forward(X, return_all=True)
    dead_idx = dead_units(net, A[0]).indices
    n_hidden = len(net.layers) - 1
    fig, axes = _figure(n_hidden, 2, size=(10.0, 3.0 * n_hidden + 0.6))
    for l, (hist_ax, unit_ax) in enumerate(axes, start=1):
        values, name = A[l], net.layers[l - 1].activation.name
        hist_ax.hist(values.ravel(), bins=bins, color="C0", label=f"{values.shape[1]} units \N{MULTIPLICATION SIGN} "
                     f"{values.shape[0]:,} rows")
        zero = float((values == 0).mean())
        if zero:
            hist_ax.plot([], [], " ", label=f"{zero:.0%} of outputs exactly 0")
        hist_ax.set(yscale="log", xlabel=f"activation value A{l}", ylabel="count (log scale)")
        hist_ax.set_title(f"layer {l} ({name}): outputs A{l}", fontsize="medium")
        hist_ax.legend(fontsize="small")
        share = (Z[l - 1] > 0).mean(axis=0)  # how often each unit fires
        dead = np.zeros(share.size, dtype=bool)
        dead[dead_idx[l - 1]] = True
        units = np.arange(share.size)  # 0-based, as dead_units reports them and as W[:, j] indexes them
        unit_ax.bar(units[~dead], share[~dead], color="C0", label="live unit")
        if dead.any():
            unit_ax.plot(units[dead], np.zeros(dead.sum()), "x", color="red", markersize=10, markeredgewidth=2.5,
                         label="dead unit: Z \N{LESS-THAN OR EQUAL TO} 0 on every row", clip_on=False)
        # The band above 1 keeps the legend off the bars.
        unit_ax.set(ylim=(0, 1.3), yticks=[0, 0.25, 0.5, 0.75, 1.0], xlim=(-0.6, share.size - 0.4),
                    xticks=_ticks(share.size), xlabel=f"unit j of layer {l} (0-based)",
                    ylabel="share of rows where it fires (Z > 0)")
        unit_ax.set_title(f"layer {l}: {int(dead.sum())} of {share.size} units dead", fontsize="medium",
                          color="red" if dead.any() else "k")
        unit_ax.legend(fontsize="small", loc="upper center", ncol=2)
    fig.suptitle(title)
    return _finish(fig, path)


def _norms_array(norms: Any) -> np.ndarray:
    """(epochs, layers, 1 or 2) from GradientNorms().norms or a plain (epochs, layers) array."""
    try:
        arr = np.asarray(norms, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("norms must be a list per epoch of per-layer norms, every epoch with the same number "
                         "of layers (GradientNorms().norms, or an array of shape (epochs, layers)).") from None
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 2) or arr.size == 0:
        raise ValueError("norms must have shape (epochs, layers) or (epochs, layers, 2) with (||dW||, ||db||) "
                         f"as recorded by GradientNorms; got shape {arr.shape}.")
    bad = np.argwhere(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        e, l = bad[0][:2]
        raise ValueError(f"norms[{e}][{l}] = {arr[e, l].tolist()} is not a norm (finite, >= 0); "
                         "was the run diverging?")
    return arr[:, :, None] if arr.ndim == 2 else arr


def plot_gradient_norms(norms: Any, path: PathLike | None = None, *, bias: bool = False, first_epoch: int = 1,
                        title: str = "Gradient size per layer"):
    """``||dW^l||`` per layer per epoch on a log axis (and ``||db^l||`` dashed with ``bias=True``).

    ``norms``: ``GradientNorms().norms`` (a list per epoch of a list per
    layer of ``(||dW||, ||db||)``), or a plain array of shape (epochs, layers)
    of ``||dW^l||``. Gradients that shrink layer by layer towards the input
    are vanishing (sigmoid's derivative is at most 1/4, and back-propagation
    multiplies one per layer); a norm of exactly 0 (a layer that learns
    nothing) cannot be drawn on a log axis and the legend says so.
    ``first_epoch``: the epoch number (from 1) of ``norms[0]``, e.g. the
    first epoch of a resumed run. Returns the path written, or the Figure
    when ``path`` is None.
    """
    arr = _norms_array(norms)
    if bias and arr.shape[2] == 1:
        raise ValueError("bias=True needs the bias norms: pass GradientNorms().norms, shape (epochs, layers, 2), "
                         f"not shape {arr.shape[:2]}.")
    parts = (("-", "W"), ("--", "b"))[:2 if bias else 1]
    first_epoch = check_int(first_epoch, "first_epoch")  # epochs count from 1
    epochs = np.arange(first_epoch, first_epoch + arr.shape[0])
    fig, axes = _figure(size=(8.0, 4.4))
    ax = axes[0, 0]
    for l in range(arr.shape[1]):
        for k, (style, what) in enumerate(parts):
            values = np.where(arr[:, l, k] > 0, arr[:, l, k], np.nan)  # log axis: zeros cannot be drawn
            ax.plot(epochs, values, style, color=f"C{l % 10}", marker="o" if len(epochs) == 1 else None,
                    label=f"layer {l + 1}: \u2016d{what}{l + 1}\u2016")
    if np.any(arr[:, :, :len(parts)] == 0):
        ax.plot([], [], " ", label="(zero norms not drawn)")
    ax.set(yscale="log", xlabel="epoch", ylabel="gradient norm (log scale)", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _finish(fig, path)


# ---------------------------------------------------------------------- for ninestep train
def training_pictures(out_dir: PathLike, net, X: Any, y: Any, task: str, *, X_train: Any = None,
                      grad_norms: Any = None, first_epoch: int = 1, x_scaler=None, y_scaler=None,
                      classes: Sequence | None = None, feature_names: Sequence[str] | None = None,
                      target_names: Sequence[str] | None = None) -> dict[str, Path]:
    """Write the pictures that fit the task into ``out_dir``; return ``{name: path}`` of those written.

    * ``decision_boundary.png``: classification with 2 inputs, or
      regression with 1 or 2 inputs (the curve or surface), with the rows of X;
    * ``predictions.png``: regression, predicted against true on the rows of X;
    * ``weights.png``: every layer;
    * ``activations.png``: with a hidden layer, on the rows of ``X_train``
      (dead units are dead where the gradient comes from: the training rows);
    * ``grad_norms.png``: when ``grad_norms`` (``GradientNorms().norms``) has
      epochs; ``first_epoch`` numbers its first (after a resume, the first
      epoch this run trained).

    ``X``, ``y`` (e.g. the test rows) and ``X_train`` (default ``X``) are in
    original units; ``x_scaler``, ``y_scaler`` are the fitted scalers the
    network was trained behind, as in a ``SavedModel``. The loss curve is
    not drawn here: see :func:`plot_loss_curve`. :data:`TRAINING_PICTURES`
    lists every file name this may write.
    """
    check_choice(task, "task", TASKS)
    out_dir = Path(out_dir)
    X = check_array(X, "X")
    scale = (lambda rows: rows) if x_scaler is None else x_scaler.transform
    files: dict[str, Path] = {}
    if X.shape[1] == 2 or (task == "regression" and X.shape[1] == 1):
        files["decision_boundary"] = plot_decision_boundary(
            net, X, y, out_dir / "decision_boundary.png", task=task, x_scaler=x_scaler, y_scaler=y_scaler,
            classes=classes, feature_names=feature_names, target_names=target_names)
    if task == "regression":
        pred = net.forward(scale(X))
        files["predictions"] = plot_predictions(y, pred if y_scaler is None else y_scaler.inverse_transform(pred),
                                                out_dir / "predictions.png", target_names=target_names)
    files["weights"] = plot_weights(net, out_dir / "weights.png",
                                    feature_names=feature_names if X.shape[1] <= 16 else None)
    if len(net.layers) > 1:
        rows = X if X_train is None else check_array(X_train, "X_train")
        files["activations"] = plot_activations(
            net, scale(rows), out_dir / "activations.png",
            title=f"Hidden-layer activations and dead units, on {len(rows):,} "
                  + ("rows" if X_train is None else "training rows"))
    if grad_norms is not None and len(grad_norms):
        files["grad_norms"] = plot_gradient_norms(grad_norms, out_dir / "grad_norms.png", first_epoch=first_epoch)
    return files


#: Every file :func:`training_pictures` may write (a tool that clears a run folder can list them).
TRAINING_PICTURES = ("decision_boundary.png", "predictions.png", "weights.png", "activations.png", "grad_norms.png")
