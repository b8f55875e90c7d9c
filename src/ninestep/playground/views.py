"""What the page draws, computed on the server as small JSON frames.

The browser only paints: every number here comes from the real network
through the same equations as step 6 (``Z = A W + b``, ``A = g(Z)``).
Heat maps are small grids (50 x 50 for the output, 20 x 20 per hidden
unit) quantised to one byte a cell and sent as base64, so that a frame
stays small and quick to make.

Functions
---------
frame(session, since) -> dict
    The live part: epoch, losses, metrics, heat maps, unit thumbnails,
    weights, dead units, gradient sizes, predicted against true.
dataset(session) -> dict
    What changes only when the data or the network is rebuilt: the points,
    the axes, the names, the nine steps with their array shapes.
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["frame", "dataset", "MAX_DRAWN_UNITS"]

#: Units drawn per layer (the network diagram); the rest are counted, not drawn.
MAX_DRAWN_UNITS = 16
#: Multiply-adds a frame may spend on the dead-unit check and the gradient sizes: every training
#: row for small networks (the article's 700 rows, [2, 64, 64, 3] on 4,500), at least MIN_CHECK_ROWS.
CHECK_BUDGET, MIN_CHECK_ROWS = 20_000_000, 500
MAX_POINTS = 2000
OUTPUT_RES, UNIT_RES, CURVE_RES = 50, 20, 120


def _b64(q: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(q, dtype=np.uint8).tobytes()).decode("ascii")


def _quantise(values: np.ndarray, lo: float, hi: float) -> str:
    """Values in [lo, hi] -> bytes 0..255 (clipped), base64."""
    span = hi - lo if hi > lo else 1.0
    return _b64(np.clip(np.rint((values - lo) / span * 255.0), 0, 255))


def _round(x, digits: int = 5):
    """Floats for JSON with ``digits`` significant digits (NaN/inf -> None)."""
    a = np.asarray(x, dtype=np.float64)
    out = np.array([float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in a.ravel()], dtype=object)
    return out.reshape(a.shape).tolist()


def _axes(session) -> list[tuple[float, float]]:
    """Each drawn feature's range in original units, padded by 5 %."""
    X = session.data.X
    out = []
    for j in session.data.plot:
        lo, hi = float(X[:, j].min()), float(X[:, j].max())
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        out.append((lo - pad, hi + pad))
    return out


def _grid(session, res: int) -> np.ndarray:
    """Standardised inputs over the drawn plane (row 0 at the top); the other features at their training mean."""
    run = session.run
    axes = _axes(session)
    mean = run.x_scaler.mean_
    if len(axes) == 1:
        X = np.tile(mean, (res, 1))
        X[:, session.data.plot[0]] = np.linspace(*axes[0], res)
    else:
        xs = np.linspace(*axes[0], res)
        ys = np.linspace(axes[1][1], axes[1][0], res)
        gx, gy = np.meshgrid(xs, ys)
        X = np.tile(mean, (res * res, 1))
        X[:, session.data.plot[0]] = gx.ravel()
        X[:, session.data.plot[1]] = gy.ravel()
    return run.x_scaler.transform(X)


def _layers_forward(net, Xs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Step 6 on ``Xs``: every layer's ``Z`` and ``A`` (A[0] is the input)."""
    Z, A = [], [Xs]
    for layer in net.layers:
        Z.append(A[-1] @ layer.W + layer.b)
        A.append(layer.activation(Z[-1]))
    return Z, A


def _output_view(session, P: np.ndarray) -> dict:
    """The output over the plane: class / probability, or each target in original units."""
    run, data = session.run, session.data
    one_d = len(data.plot) == 1
    if run.classify:
        if one_d:
            return {"kind": "curve_proba", "values": _round(P, 3)}
        if P.shape[1] == 2:
            return {"kind": "binary", "grid": _quantise(P[:, 1], 0.0, 1.0)}
        return {"kind": "classes", "grid": _b64(P.argmax(axis=1)),
                "confidence": _quantise(P.max(axis=1), 0.0, 1.0)}
    Y = run.y_scaler.inverse_transform(P).reshape(len(P), -1)
    if one_d:
        return {"kind": "curve", "values": _round(Y, 4)}
    Y_all = data.y.reshape(len(data.y), -1)
    lo, hi = Y_all.min(axis=0), Y_all.max(axis=0)
    return {"kind": "regression", "grids": [_quantise(Y[:, o], lo[o], hi[o]) for o in range(Y.shape[1])],
            "lo": _round(lo), "hi": _round(hi)}


def _units(session, A: list[np.ndarray], dead: list[np.ndarray]) -> list[list[dict]]:
    """A thumbnail per drawn hidden unit: its activation over the plane, scaled by its largest size."""
    out = []
    for l, A_l in enumerate(A[1:-1]):
        layer = []
        for j in range(min(A_l.shape[1], MAX_DRAWN_UNITS)):
            a = A_l[:, j]
            m = float(np.abs(a).max())
            layer.append({"grid": _quantise(a, -m, m) if m > 0 else _b64(np.full(a.shape, 128)),
                          "dead": bool(dead[l][j])})
        out.append(layer)
    return out


def frame(session, since: int = 0) -> dict:
    """The live view of the session's run (see the module docstring); ``since``: epochs the page already has.

    The views of one epoch are computed once (a paused page's heartbeat,
    or a second look, costs nothing); the loss history is sliced per call.
    """
    run = session.run
    key = (session.version, run.epoch, run.error)
    if run.view_cache is None or run.view_cache[0] != key:
        run.view_cache = (key, _views(session))
    start = max(since, run.epoch - 2000) if 0 <= since <= run.epoch else max(0, run.epoch - 2000)
    history = {"start": start, "train": _round(run.train_loss[start:]), "test": _round(run.test_loss[start:])}
    return {**run.view_cache[1], "history": history}


def _views(session) -> dict:
    run, data = session.run, session.data
    net = run.net
    one_d = len(data.plot) == 1
    n_weights = sum(layer.W.size for layer in net.layers)
    # A big network gets a coarser output grid: 8 x 256 units cost 0.5 M multiply-adds a point.
    res = CURVE_RES if one_d else OUTPUT_RES if n_weights < 50_000 else UNIT_RES
    _, A_out = _layers_forward(net, _grid(session, res))
    _, A_units = _layers_forward(net, _grid(session, CURVE_RES if one_d else UNIT_RES))
    # Dead units and gradient sizes on the training rows, or the first of them (in shuffled
    # order) that CHECK_BUDGET allows: bounded work per frame.
    rows = max(MIN_CHECK_ROWS, CHECK_BUDGET // n_weights)
    Xc, Tc = run.Xs_train[:rows], run.T_train[:rows]
    Z_check, _ = _layers_forward(net, Xc)
    relu = net.activation in ("relu", "leaky_relu")
    dead = [(Z <= 0).all(axis=0) if relu else np.zeros(Z.shape[1], bool) for Z in Z_check[:-1]]
    _, grads = net.loss_and_gradients(Xc, Tc, loss=run.loss, alpha=run.settings.alpha)
    out_test = net.forward(run.Xs_test)
    metrics: dict = {"epoch": run.epoch,
                     "train_loss": run.train_loss[-1] if run.epoch else net.evaluate(run.Xs_train, run.T_train,
                                                                                     loss=run.loss),
                     "test_loss": run.test_loss[-1] if run.epoch else net.evaluate(run.Xs_test, run.T_test,
                                                                                   loss=run.loss),
                     "lr": float(run.optimizer.lr)}
    extra: dict = {}
    if run.classify:
        metrics["test_accuracy"] = float((out_test.argmax(axis=1) == run.y_test).mean())
        if net.n_inputs > 2:
            k = len(data.classes)
            C = np.zeros((k, k), dtype=np.int64)
            np.add.at(C, (run.y_test, out_test.argmax(axis=1)), 1)
            extra["confusion"] = C.tolist()
    else:
        pred = run.y_scaler.inverse_transform(out_test).reshape(len(out_test), -1)
        truth = run.y_test.reshape(len(run.y_test), -1)
        metrics["test_rmse"] = float(np.sqrt(np.mean((pred - truth) ** 2)))
        metrics["test_mae"] = float(np.mean(np.abs(pred - truth)))
        if net.n_inputs > 2 or net.n_outputs > 1:
            shown = slice(0, 300)
            extra["pvt"] = {"truth": _round(truth[shown].T, 4), "pred": _round(pred[shown].T, 4)}
    return {
        "version": session.version, "finished": run.finished, "error": run.error, "notes": list(run.notes),
        "metrics": {k: (v if k == "epoch" else _round(v)) for k, v in metrics.items()},
        "output": _output_view(session, A_out[-1]),
        "units": _units(session, A_units, dead),
        "weights": [_round(layer.W[:MAX_DRAWN_UNITS, :MAX_DRAWN_UNITS], 3) for layer in net.layers],
        "dead": [int(d.sum()) for d in dead],
        "grad_norms": _round([float(np.linalg.norm(dW)) for dW, _ in grads], 3),
        "check_rows": len(Xc), "train_rows": len(run.Xs_train),
        **extra,
    }


def nine_steps(session) -> list[dict]:
    """The nine steps with this run's array shapes (rows are samples, as in ninestep's code)."""
    run, data, s = session.run, session.data, session.settings
    net = run.net
    n, d = data.X.shape
    batch = s.batch_size or len(run.X_train)
    batch = min(batch, len(run.X_train))
    L = len(net.layers)
    sizes = net.layer_sizes
    shp = lambda *dims: "(" + ", ".join(map(str, dims)) + ")"
    opt = {"gd": "W -= lr dW (full batch)", "sgd": "W -= lr dW", "momentum": "v = mu v - lr dW;  W += v",
           "nesterov": "v = mu v - lr dW;  W += mu v - lr dW",
           "adam": "m = b1 m + (1-b1) dW;  v = b2 v + (1-b2) dW^2;  W -= lr m_hat / (sqrt(v_hat) + eps)"}[s.opt]
    return [
        {"step": 1, "title": "Initialise", "equation": f"seed {s.seed} -> streams for data, split, weights, shuffles",
         "shapes": []},
        {"step": 2, "title": "Data", "equation": data.description,
         "shapes": [f"X {shp(n, d)}", f"y {shp(*data.y.shape)}"]},
        {"step": 3, "title": "Split", "equation": f"train {s.train:g} / test {1 - s.train:.2g}, shuffled",
         "shapes": [f"X_train {shp(*run.X_train.shape)}", f"X_test {shp(*run.X_test.shape)}"]},
        {"step": 4, "title": "Standardise", "equation": "Xs = (X - mean) / std   (fitted on the training rows)",
         "shapes": [f"mean {shp(d)}", f"std {shp(d)}"]},
        {"step": 5, "title": "Initialise the network",
         "equation": f"{sizes}, {s.init} weights, {s.bias} biases",
         "shapes": [f"W{l + 1} {shp(sizes[l], sizes[l + 1])}" for l in range(L)]
         + [f"b{l + 1} {shp(sizes[l + 1])}" for l in range(L)]},
        {"step": 6, "title": "Forward", "equation": f"Z = A W + b;  A = {s.act}(Z);  output {net.output_activation}",
         "shapes": [f"Z{l + 1}, A{l + 1} {shp(batch, sizes[l + 1])}" for l in range(L)]},
        {"step": 7, "title": "Back-propagate",
         "equation": "dZ_L = (A_L - Y) / batch;  dW = A_prev^T dZ;  dZ_prev = dZ W^T * g'(Z_prev)",
         "shapes": [f"dZ{l + 1} {shp(batch, sizes[l + 1])}" for l in range(L)]
         + [f"dW{l + 1} {shp(sizes[l], sizes[l + 1])}" for l in range(L)]},
        {"step": 8, "title": "Optimise", "equation": f"{s.opt}: {opt}" + (f" + L2 alpha {s.alpha:g}" if s.alpha else ""),
         "shapes": [f"{len(run.X_train)} rows in batches of {batch}: "
                    f"{-(-len(run.X_train) // batch)} steps an epoch"]},
        {"step": 9, "title": "Evaluate", "equation": "test loss, and accuracy or error in original units",
         "shapes": [f"X_test {shp(*run.X_test.shape)}"]},
    ]


def dataset(session) -> dict:
    """The points (a sample of at most MAX_POINTS of each part), axes and names; sent when ``version`` changes."""
    run, data = session.run, session.data

    def points(X, y):
        keep = slice(0, MAX_POINTS)
        return {"x": _round(X[keep][:, list(data.plot)].T, 4),
                "y": y[keep].tolist() if run.classify else _round(y[keep].reshape(len(y[keep]), -1).T, 4)}

    return {
        "version": session.version, "task": data.task, "description": data.description,
        "settings": session.settings.query(), "columns": session.columns,
        "feature_names": data.feature_names, "target_names": data.target_names,
        "classes": None if data.classes is None else [str(c) for c in data.classes],
        "plot": [data.feature_names[j] for j in data.plot], "axes": _axes(session),
        "layer_sizes": run.net.layer_sizes, "n_params": int(run.net.n_params),
        "train": points(run.X_train, run.y_train), "test": points(run.X_test, run.y_test),
        "n_train": len(run.X_train), "n_test": len(run.X_test),
        "steps": nine_steps(session),
    }
