"""The pictures: files written, titles and labels a learner reads, what they show, and errors for bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import block_import

import ninestep as ns
from ninestep import plotting
from ninestep.plotting import (plot_activations, plot_decision_boundary, plot_gradient_norms, plot_loss_curve,
                               plot_predictions, plot_weights, training_pictures)

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed; pip install -e '.[test]'")
from matplotlib.figure import Figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    return os.path.getsize(path) > 1000 and open(path, "rb").read(8) == PNG


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def threshold_net(n_classes=2, sigmoid=False):
    """2 inputs and known regions: class 1 where x1 > 0.02 (with 3 classes: class 2 where x1 > 1.34)."""
    if sigmoid:
        net = ns.Network([2, 1], output_activation="sigmoid", seed=0)
        net.layers[0].W[...] = [[50.0], [0.0]]
        net.layers[0].b[...] = 0.0
        return net
    net = ns.Network([2, 2, n_classes], output_activation="softmax", seed=0)
    net.layers[0].W[...] = [[1.0, 1.0], [0.0, 0.0]]
    net.layers[0].b[...] = [0.0, -1.0]  # hidden: relu(x1), relu(x1 - 1)
    W2 = np.zeros((2, n_classes))
    W2[0, 1] = 50.0                     # logits: 1, 50 relu(x1) [, 200 relu(x1 - 1)]
    if n_classes == 3:
        W2[1, 2] = 200.0
    net.layers[1].W[...] = W2
    net.layers[1].b[...] = np.eye(n_classes)[0]
    return net


# ---------------------------------------------------------------------- loss curve
def test_loss_curve_writes_a_png_with_log_axis_and_labels(tmp_path, monkeypatch):
    seen = {}
    real_savefig = Figure.savefig

    def spy(fig, *args, **kwargs):
        ax = fig.axes[0]
        seen.update(yscale=ax.get_yscale(), xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(),
                    labels=[line.get_label() for line in ax.get_lines()])
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    path = plot_loss_curve(tmp_path / "loss.png", [1.0, 0.5, 0.2], [1.1, 0.6, 0.3], best_epoch=2, loss_name="MSE")
    assert is_png(path)
    assert seen["yscale"] == "log" and seen["xlabel"] == "epoch" and seen["ylabel"].startswith("MSE")
    assert seen["labels"][:2] == ["train", "validation"]


def test_loss_curve_without_path_returns_the_figure():
    fig = plot_loss_curve(None, [1.0, 0.5], title="my run")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "my run"


def test_zero_loss_falls_back_to_linear_axis():
    assert plot_loss_curve(None, [1.0, 0.0]).axes[0].get_yscale() == "linear"


def test_empty_loss_is_refused(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        plot_loss_curve(tmp_path / "loss.png", [])


def test_write_is_atomic_and_replaces_the_old_file(tmp_path):
    target = tmp_path / "loss.png"
    target.write_bytes(b"old")
    plot_loss_curve(target, [1.0, 0.5])
    assert is_png(target) and os.listdir(tmp_path) == ["loss.png"]  # no temporary file left behind


@pytest.mark.parametrize("draw", [
    lambda: plot_loss_curve(None, [1.0]),
    lambda: plot_weights(ns.Network([2, 1], seed=0)),
    lambda: plot_gradient_norms([[1.0]]),
])
def test_without_matplotlib_names_the_extra(monkeypatch, draw):
    block_import(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r"pip install 'ninestep\[plot\]'"):
        draw()


# ---------------------------------------------------------------------- decision boundary
@pytest.mark.parametrize("n_classes", [2, 3])
def test_decision_boundary_colours_each_region_by_the_predicted_class(tmp_path, n_classes):
    net = threshold_net(n_classes)
    X = np.array([[-2.0, -1.0], [0.5, 1.0], [2.0, 0.0]])[[0, 2] if n_classes == 2 else [0, 1, 2]]
    y = np.arange(n_classes)
    names = ["left", "middle", "right"][:n_classes]
    fig = plot_decision_boundary(net, X, y, classes=names, feature_names=["a", "b"], resolution=50)
    ax = fig.axes[0]
    assert fig.get_suptitle().startswith("Decision boundary")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "b")
    labels = legend_labels(ax)
    assert [f"predicted {n}" for n in names] == labels[:n_classes] and "decision boundary" in labels
    # The grid spans x1 from -2.2 to 2.2: class 0 (colour C0) at the left edge, the last class at the right.
    rgb = np.asarray(ax.get_images()[0].get_array())[..., :3]
    assert np.allclose(rgb[25, 1], matplotlib.colors.to_rgb("C0"))
    assert np.allclose(rgb[25, -2], matplotlib.colors.to_rgb(f"C{n_classes - 1}"))
    if n_classes == 3:
        assert np.allclose(rgb[25, 28], matplotlib.colors.to_rgb("C1"))  # x1 = 0.49
    path = plot_decision_boundary(net, X, y, tmp_path / "db.png", resolution=50)
    assert is_png(path)


def test_decision_boundary_reads_a_single_sigmoid_output_as_two_classes():
    fig = plot_decision_boundary(threshold_net(sigmoid=True), [[-1.0, 0.0], [1.0, 1.0]], [0, 1], resolution=20)
    assert legend_labels(fig.axes[0])[:2] == ["predicted class 0", "predicted class 1"]
    # class names that are numbers (as a data set's labels 0, 1 often are) still read as classes
    fig = plot_decision_boundary(threshold_net(sigmoid=True), [[-1.0, 0.0], [1.0, 1.0]], [0, 1], resolution=20,
                                 classes=[0, "-1.5"])
    assert legend_labels(fig.axes[0])[:2] == ["predicted class 0", "predicted class -1.5"]


def test_decision_boundary_works_in_original_units_behind_a_scaler():
    X = np.array([[100.0, 0.0], [300.0, 10.0], [200.0, 5.0]])
    scaler = ns.StandardScaler().fit(X)  # the net sees x1 - 200 scaled: class 1 right of x1 = 200
    fig = plot_decision_boundary(threshold_net(), X, [0, 1, 1], x_scaler=scaler, resolution=41)
    rgb = np.asarray(fig.axes[0].get_images()[0].get_array())[..., :3]
    assert np.allclose(rgb[20, 5], matplotlib.colors.to_rgb("C0")) and np.allclose(rgb[20, -5],
                                                                                   matplotlib.colors.to_rgb("C1"))
    assert fig.axes[0].get_xlim()[0] < 100 and fig.axes[0].get_xlim()[1] > 300


def test_regression_surface_has_a_panel_and_colour_bar_per_output():
    net = ns.Network([2, 4, 3], seed=0)
    X = np.random.default_rng(0).uniform(0, 100, (50, 2))
    y = np.column_stack([X.sum(1), X[:, 0] - X[:, 1], abs(X[:, 0] - X[:, 1])])
    fig = plot_decision_boundary(net, X, y, feature_names=["a", "b"], target_names=["a+b", "a-b", "|a-b|"],
                                 resolution=20)
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in panels] == ["output 1: a+b", "output 2: a-b", "output 3: |a-b|"]
    assert len(fig.axes) == 6  # three panels and their three colour bars
    assert fig.axes[3].get_ylabel().startswith("a+b")
    assert all(ax.get_xlabel() == "a" and ax.get_ylabel() == "b" for ax in panels)
    assert fig.get_suptitle() == "What the network predicts over its inputs"


def test_regression_curve_for_one_input_draws_the_prediction_in_original_units():
    net = ns.Network([1, 1], seed=0)
    net.layers[0].W[...] = 1.0
    net.layers[0].b[...] = 0.0
    X = np.array([[0.0], [10.0]])
    y = np.array([5.0, 25.0])
    ys = ns.StandardScaler().fit(y.reshape(-1, 1))  # the net's output 0 means 15 in original units
    fig = plot_decision_boundary(net, X, y, y_scaler=ys, resolution=11)
    ax = fig.axes[0]
    line = [l for l in ax.get_lines() if l.get_label() == "network's prediction"][0]
    xs, ys_drawn = line.get_data()
    assert np.allclose(ys_drawn, 15 + 10 * xs)  # identity net behind the scaler: mean 15, scale 10
    assert ax.get_xlabel() == "x1" and ax.get_ylabel() == "y1"


@pytest.mark.parametrize("X, y, task, match", [
    (np.zeros((4, 3)), np.zeros(4), "classification",
     r"X has 3 features; pass two columns, e.g. X\[:, \[0, 1\]\], with a network trained on those"),
    (np.zeros((4, 3)), np.zeros(4), "regression", r"1 or 2-D input plane, but X has 3 features.*plot_predictions"),
    (np.zeros((4, 1)), np.zeros(4), "classification", r"2-D input plane, but X has 1 features"),
    (np.zeros((4, 2)), np.zeros(3), "classification", r"X has 4 rows but y has 3"),
    (np.zeros((4, 2)), np.array([0, 1, 2, 5]), "classification", r"y holds class 5 but the network predicts 2"),
    (np.zeros((4, 2)), np.array([0, 1, 0.5, 1]), "classification", r"y must hold class labels 0..k-1"),
    (np.zeros((4, 2)), np.zeros(4), "ranking", r"task must be one of 'classification', 'regression'; got 'ranking'"),
])
def test_decision_boundary_refuses_bad_input_saying_what_to_pass(X, y, task, match):
    net = ns.Network([X.shape[1], 2], output_activation="softmax", seed=0)
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(net, X, y, task=task)


def test_decision_boundary_refuses_x_the_net_was_not_built_for():
    with pytest.raises(ValueError, match="X has 2 features but the network expects 1"):
        plot_decision_boundary(ns.Network([1, 1], seed=0), np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="y has 1 columns but the network has 2 outputs"):
        plot_decision_boundary(ns.Network([1, 2], seed=0), np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="3 sigmoid outputs, one yes/no label each.*draw one label at a time"):
        plot_decision_boundary(ns.Network([2, 3], output_activation="sigmoid", seed=0), np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="predict_proba needs a classifier"):
        plot_decision_boundary(ns.Network([2, 2], seed=0), np.zeros((2, 2)), [0, 1], task="classification")
    with pytest.raises(ValueError, match="classes has 3 names but there are 2"):
        plot_decision_boundary(threshold_net(), np.zeros((2, 2)), [0, 1], classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="resolution must be an integer >= 2, got 1"):
        plot_decision_boundary(threshold_net(), np.zeros((2, 2)), [0, 1], resolution=1)


# ---------------------------------------------------------------------- predicted against true
def test_predictions_show_r2_and_the_perfect_line(tmp_path):
    t = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    fig = plot_predictions(t, t * [1, 0], target_names=["sum", "zero"])
    assert fig.axes[0].get_title() == "sum: R\u00b2 = 1.0000"
    assert fig.axes[1].get_title().startswith("zero: R\u00b2 = -")
    assert fig.axes[0].get_xlabel() == "true sum" and fig.axes[0].get_ylabel() == "predicted sum"
    assert "perfect: predicted = true" in legend_labels(fig.axes[0])
    assert is_png(plot_predictions([1.0, 2.0], [1.5, 2.5], tmp_path / "p.png"))


def test_predictions_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match=r"y_true has shape \(3, 1\) but y_pred has \(2, 1\)"):
        plot_predictions([1, 2, 3], [1, 2])


# ---------------------------------------------------------------------- weights
def test_weights_heat_map_per_layer_shows_w_and_the_bias_row(tmp_path):
    net = ns.Network([2, 3, 1], seed=0)
    fig = plot_weights(net, feature_names=["a", "b"])
    maps = [ax for ax in fig.axes if ax.get_images()]
    assert len(maps) == 2 and len(fig.axes) == 4  # a map and a colour bar per layer
    for layer, ax in zip(net.layers, maps):
        assert np.array_equal(ax.get_images()[0].get_array(), np.vstack([layer.W, layer.b]))
        assert ax.get_yticklabels()[-1].get_text() == "bias"
        lo, hi = ax.get_images()[0].get_clim()
        assert lo == -hi  # white is zero
    assert maps[0].get_title() == "layer 1 (relu): W1 2\u00d73 + b1"
    assert [t.get_text() for t in maps[0].get_yticklabels()] == ["a", "b", "bias"]
    assert maps[0].get_ylabel() == "input i" and maps[1].get_xlabel() == "unit j of layer 2"
    assert fig.axes[2].get_ylabel() == "weight"
    assert [t.get_text() for t in maps[0].texts[:2]] == [f"{net.layers[0].W[0, 0]:.2f}", f"{net.layers[0].W[0, 1]:.2f}"]
    assert len(maps[0].texts) == 9 and len(maps[1].texts) == 4  # small layers show their values
    assert not plot_weights(ns.Network([32, 1], seed=0)).axes[0].texts  # a tall one has no room for them
    assert is_png(plot_weights(ns.Network([40, 20, 20, 20, 20, 3], seed=0), tmp_path / "w.png"))


# ---------------------------------------------------------------------- activations and dead units
def test_activations_mark_and_count_units_made_dead_by_hand(tmp_path):
    net = ns.Network([2, 3, 4, 1], seed=0)
    X = np.random.default_rng(0).normal(size=(200, 2))
    net.layers[0].W[:, 1] = 0.0
    net.layers[0].b[1] = -1.0   # layer 1, unit 1: Z = -1 on every row
    net.layers[1].W[:, 2] = 0.0
    net.layers[1].b[2] = -0.5   # layer 2, unit 2
    net.layers[1].W[:, 3] = 0.0
    net.layers[1].b[3] = 0.0    # layer 2, unit 3: Z = 0 on every row - still dead (relu'(0) = 0)
    fig = plot_activations(net, X)
    hist1, units1, hist2, units2 = fig.axes
    assert units1.get_title() == "layer 1: 1 of 3 units dead"
    assert units2.get_title() == "layer 2: 2 of 4 units dead"
    for ax, dead in ((units1, [1]), (units2, [2, 3])):
        crosses = [l for l in ax.get_lines() if l.get_label().startswith("dead unit")]
        assert list(crosses[0].get_xdata()) == dead and list(crosses[0].get_ydata()) == [0] * len(dead)
        assert len(ax.patches) == ax.get_xlim()[1] + 0.4 - len(dead)  # one bar per live unit
    assert hist1.get_title() == "layer 1 (relu): outputs A1" and hist1.get_yscale() == "log"
    assert "of outputs exactly 0" in legend_labels(hist2)[1]
    assert units2.get_xlabel() == "unit j of layer 2 (0-based)"
    assert units2.get_ylabel() == "share of rows where it fires (Z > 0)"
    # the same units as the diagnostics module reports
    from ninestep.diagnostics import dead_units
    assert dead_units(net, X).as_list() == [(1, 1), (2, 2), (2, 3)]
    assert is_png(plot_activations(net, X, tmp_path / "a.png"))


def test_activations_with_no_dead_unit_say_so():
    net = ns.Network([1, 2, 1], seed=0)
    net.layers[0].W[...] = [[1.0, -1.0]]
    net.layers[0].b[...] = 0.0
    fig = plot_activations(net, [[-1.0], [1.0]])
    assert fig.axes[1].get_title() == "layer 1: 0 of 2 units dead"
    assert not [l for l in fig.axes[1].get_lines() if l.get_label().startswith("dead")]


def test_activations_need_a_hidden_layer_and_the_right_width():
    with pytest.raises(ValueError, match=r"no hidden layer.*Network\(\[2, 8, 1\]\)"):
        plot_activations(ns.Network([2, 1], seed=0), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="X has 3 features but the network expects 2"):
        plot_activations(ns.Network([2, 2, 1], seed=0), np.zeros((3, 3)))


# ---------------------------------------------------------------------- gradient norms
def test_gradient_norms_from_the_callbacks_shape(tmp_path):
    norms = [[(1.0, 0.5), (0.1, 0.05), (0.01, 0.0)], [(0.8, 0.4), (0.08, 0.04), (0.008, 0.0)]]
    fig = plot_gradient_norms(norms, bias=True)
    ax = fig.axes[0]
    drawn = [l for l in ax.get_lines() if l.get_label().startswith("layer")]
    assert [l.get_label() for l in drawn] == ["layer 1: \u2016dW1\u2016", "layer 1: \u2016db1\u2016",
                                              "layer 2: \u2016dW2\u2016", "layer 2: \u2016db2\u2016",
                                              "layer 3: \u2016dW3\u2016", "layer 3: \u2016db3\u2016"]
    assert np.allclose(drawn[2].get_ydata(), [0.1, 0.08])
    assert np.isnan(drawn[5].get_ydata()).all()  # zero norms: not drawn on a log axis, and said so
    assert "(zero norms not drawn)" in legend_labels(ax)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and "gradient norm" in ax.get_ylabel()
    assert ax.get_title() == "Gradient size per layer"
    only_w = plot_gradient_norms(norms).axes[0]
    assert len([l for l in only_w.get_lines() if l.get_label().startswith("layer")]) == 3
    assert is_png(plot_gradient_norms(norms, tmp_path / "g.png"))


def test_gradient_norms_from_a_plain_epochs_by_layers_array():
    fig = plot_gradient_norms(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    drawn = [l for l in fig.axes[0].get_lines() if l.get_label().startswith("layer")]
    assert len(drawn) == 2 and np.allclose(drawn[1].get_data()[1], [2.0, 4.0, 6.0])
    assert list(drawn[0].get_xdata()) == [1, 2, 3]
    resumed = plot_gradient_norms(np.ones((3, 2)), first_epoch=11)  # e.g. epochs 11-13 of a resumed run
    assert list(resumed.axes[0].get_lines()[0].get_xdata()) == [11, 12, 13]
    with pytest.raises(ValueError, match="first_epoch must be an integer >= 1, got 0"):
        plot_gradient_norms(np.ones((3, 2)), first_epoch=0)


@pytest.mark.parametrize("norms, match", [
    ([1.0, 2.0], r"shape \(epochs, layers\) or \(epochs, layers, 2\).*got shape \(2,\)"),
    ([[(1.0, 2.0, 3.0)]], r"got shape \(1, 1, 3\)"),
    ([], r"got shape \(0,\)"),
    ([[1.0, 2.0], [1.0]], "every epoch with the same number of layers"),
    ([[1.0, -2.0]], r"norms\[0\]\[1\] = -2.0 is not a norm"),
    ([[1.0], [np.inf]], r"norms\[1\]\[0\] = inf is not a norm.*diverging"),
])
def test_gradient_norms_refuse_bad_input(norms, match):
    with pytest.raises(ValueError, match=match):
        plot_gradient_norms(norms)


def test_gradient_norms_bias_needs_the_bias_norms():
    with pytest.raises(ValueError, match="bias=True needs the bias norms"):
        plot_gradient_norms([[1.0, 2.0]], bias=True)


@pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")
def test_gradient_norms_recorded_by_the_callback_plot():
    from ninestep.callbacks import GradientNorms
    X, y = ns.make_moons(60, seed=0)
    net = ns.Network([2, 4, 4, 2], activation="sigmoid", output_activation="softmax", seed=0)
    recorder = GradientNorms()
    net.fit(X, y, loss="cross_entropy", epochs=3, batch_size=20, callbacks=[recorder], seed=0)
    drawn = [l for l in plot_gradient_norms(recorder.norms).axes[0].get_lines() if l.get_label().startswith("layer")]
    assert len(drawn) == 3 and all(len(l.get_xdata()) == 3 for l in drawn)


# ---------------------------------------------------------------------- for ninestep train
def test_training_pictures_fit_a_two_input_classification(tmp_path, monkeypatch):
    X, y = ns.make_moons(80, seed=0)
    scaler = ns.StandardScaler().fit(X[:60])
    net = ns.Network([2, 5, 2], output_activation="softmax", seed=0)
    seen = {}
    monkeypatch.setattr(plotting, "plot_activations", lambda net, X, path, title: seen.update(X=X, title=title))
    files = training_pictures(tmp_path, net, X[60:], y[60:], "classification", X_train=X[:60], x_scaler=scaler,
                              grad_norms=[[(1.0, 0.1), (0.5, 0.05)]], classes=["upper", "lower"])
    assert set(files) == {"decision_boundary", "weights", "activations", "grad_norms"}
    assert all(is_png(files[k]) and files[k].parent == tmp_path for k in ("decision_boundary", "weights"))
    assert [files[k].name for k in ("decision_boundary", "grad_norms")] == ["decision_boundary.png", "grad_norms.png"]
    assert set(os.listdir(tmp_path)) <= set(plotting.TRAINING_PICTURES)
    # the activations are drawn on the training rows, scaled as the network saw them
    assert np.array_equal(seen["X"], scaler.transform(X[:60])) and seen["title"].endswith("on 60 training rows")


def test_training_pictures_skip_the_boundary_for_many_inputs_and_add_predictions(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    files = training_pictures(tmp_path, ns.Network([3, 4, 2], seed=0), X, y, "regression")
    assert set(files) == {"predictions", "weights", "activations"}
    assert sorted(os.listdir(tmp_path)) == ["activations.png", "predictions.png", "weights.png"]


def test_training_pictures_regression_surface_in_original_units(tmp_path):
    X, y = ns.make_arithmetic(200, seed=0)
    xs, ys = ns.StandardScaler().fit(X), ns.StandardScaler().fit(y)
    files = training_pictures(tmp_path, ns.Network([2, 3], seed=0), X, y, "regression", x_scaler=xs, y_scaler=ys,
                              feature_names=["a", "b"], target_names=["a+b", "a-b", "|a-b|"], grad_norms=[])
    assert set(files) == {"decision_boundary", "predictions", "weights"}  # no hidden layer, no epochs


def test_training_pictures_need_a_known_task(tmp_path):
    with pytest.raises(ValueError, match="task must be one of 'classification', 'regression'; got 'clustering'"):
        training_pictures(tmp_path, ns.Network([2, 1], seed=0), np.zeros((2, 2)), np.zeros(2), "clustering")


def test_drawing_leaves_pyplot_alone():
    # pyplot keeps a global list of figures and may pick an interactive backend; a library has no use for it.
    code = ("import sys, numpy as np, ninestep as ns\n"
            "from ninestep.plotting import plot_weights, plot_activations\n"
            "net = ns.Network([2, 3, 1], seed=0)\n"
            "plot_weights(net); plot_activations(net, np.ones((4, 2)))\n"
            "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "False"], result.stderr
