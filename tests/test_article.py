"""ninestep.article: the notebook's draws, its gradient step, its loss figure and its printed figures."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import ninestep as ns
from ninestep import article

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import article_reference as notebook  # noqa: E402  the notebook's code, for side-by-side runs


def test_data_are_the_notebooks_draw_one_sample_per_row():
    X, y = article.make_data(np.random.RandomState(42))
    X_nb = np.random.RandomState(42).rand(2, 10000) * 100  # the notebook's (2, 10000), one sample per column
    np.testing.assert_array_equal(X, X_nb.T)
    a, b = X_nb
    np.testing.assert_array_equal(y, np.column_stack([a + b, a - b, np.abs(a - b)]))


def test_weights_are_drawn_after_the_data_layer_by_layer_w_then_b():
    run = article.setup(42)
    rs = np.random.RandomState(42)
    rs.rand(2, 10000)
    for layer, (n_in, n_out) in zip(run.net.layers, [(2, 4), (4, 4), (4, 3)]):
        W = rs.randn(n_out, n_in) * np.sqrt(2 / n_in)
        b = rs.randn(n_out, 1) * np.sqrt(2 / n_in)
        np.testing.assert_array_equal(layer.W, W.T)  # ours is the notebook's W transposed
        np.testing.assert_array_equal(layer.b, b[:, 0])
    assert [layer.activation.name for layer in run.net.layers] == ["relu", "relu", "linear"]


def test_zero_biases_keeps_the_same_weights():
    plain, zero = article.setup(42), article.setup(42, zero_biases=True)
    for p, z in zip(plain.net.layers, zero.net.layers):
        np.testing.assert_array_equal(p.W, z.W)
        assert not z.b.any() and p.b.any()


def test_split_and_scalers_are_the_notebooks():
    run = article.setup(42)
    X_nb = np.random.RandomState(42).rand(2, 10000) * 100
    train = X_nb[:, :7000]
    mean, std = np.mean(train, axis=1), np.std(train, axis=1)
    # Bit for bit: the last bits of the scalers move the 1,000,000-epoch run's 15th digit.
    np.testing.assert_array_equal(run.x_scaler.mean_, mean)
    np.testing.assert_array_equal(run.x_scaler.scale_, std)
    np.testing.assert_array_equal(run.X_test, ((X_nb[:, 7000:].T - mean) / std))
    a, b = X_nb
    y_train = np.array([a + b, a - b, np.abs(a - b)])[:, :7000]
    np.testing.assert_array_equal(run.y_scaler.mean_, np.mean(y_train, axis=1))
    assert run.X_train.shape == (7000, 2) and run.y_test.shape == (3000, 3)


def test_the_global_random_state_is_never_touched():
    before = np.random.get_state()[1].copy()
    run = article.setup(42)
    article.train(run, epochs=2)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_random_state_accepts_a_seed_or_a_generator_and_names_bad_input():
    rs = np.random.RandomState(7)
    assert article.random_state(rs) is rs
    assert article.random_state(42).rand() == np.random.RandomState(42).rand()
    with pytest.raises(TypeError, match="random_state must be a non-negative int or a numpy.random.RandomState, "
                                        "got Generator"):
        article.random_state(np.random.default_rng(42))
    with pytest.raises(TypeError, match="got int -1"):
        article.random_state(-1)


def test_mse_gradient_is_the_notebooks_dz_and_mean():
    # The notebook: dZ = Y_hat - Y (columns), dW = dZ A_prev^T / m, db = sum(dZ) / m, back through W^T and relu'.
    run = article.setup(42)
    net, X, Y = run.net, run.X_train, run.y_train
    _, grads = net.loss_and_gradients(X, Y, loss="mse")
    Z, A = net.forward(X, return_all=True)
    m = X.shape[0]
    dZ = (A[-1] - Y).T  # the notebook's (n_out, m)
    for l in range(len(net.layers) - 1, -1, -1):
        dW_nb, db_nb = dZ @ A[l] / m, dZ.sum(axis=1, keepdims=True) / m
        np.testing.assert_allclose(grads[l][0], dW_nb.T, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[l][1], db_nb[:, 0], rtol=1e-12, atol=1e-15)
        if l:
            dZ = (net.layers[l].W @ dZ) * (Z[l - 1].T > 0)


def test_a_short_run_takes_the_notebooks_steps():
    # The notebook's own loop (benchmarks/article_reference.py) from the same RandomState, past the
    # epoch (326) at which its first unit dies.
    X_train, _, y_train, _, _, _, neural_net = notebook.setup(np.random.RandomState(42))
    notebook.train(X_train, y_train, neural_net, epochs=1_000, print_every=10**9)
    run = article.setup(42)
    article.train(run, epochs=1_000)
    for layer, nb in zip(run.net.layers, neural_net[1:]):
        np.testing.assert_allclose(layer.W, nb.W.T, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(layer.b, nb.b[:, 0], rtol=1e-11, atol=1e-13)


def test_the_article_loss_is_the_mean_norm_of_half_squared_errors_not_the_mse():
    y = np.zeros((2, 3))
    y_hat = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # sample 1: ||(2, 0, 0)|| = 2; sample 2: ||(0.5, 0.5, 0.5)|| = 0.5 sqrt(3)
    assert article.loss(y_hat, y) == pytest.approx((2 + 0.5 * np.sqrt(3)) / 2)
    # the MSE: (2 + 1.5) / 2; equal for sample 1 (one output carries the error), larger for sample 2
    assert ns.get_loss("mse").value(None, y_hat, y) == pytest.approx(1.75)
    assert article.loss(y_hat, y) == pytest.approx(np.mean([notebook.get_loss(y.T, y_hat.T)]))
    with pytest.raises(ValueError, match=r"y_hat \(2, 3\) and y \(2, 2\) must be matching"):
        article.loss(y_hat, y[:, :2])


def test_measure_and_predict_report_in_the_right_units():
    run = article.setup(42)
    result = article.measure(run, 0)
    assert result.epochs == 0 and result.dead.total == 8
    assert result.mse == pytest.approx(run.net.evaluate(run.X_train, run.y_train))
    pred = article.predict(run)
    assert pred.shape == (4, 3)
    cases = np.array(article.ARTICLE_CASES)
    np.testing.assert_allclose(pred, run.y_scaler.inverse_transform(run.net.predict(run.x_scaler.transform(cases))))


def test_try_fix_names_the_fixes():
    with pytest.raises(ValueError, match="unknown fix 'dropout'; choose one of 'zero biases'"):
        article.try_fix("dropout", 10)
    assert article.try_fix("wider hidden layers", 1).dead.total == 16


# ---------------------------------------------------------------------- ninestep reproduce
def reproduce(capsys, *args):
    from ninestep.cli import main
    code = main(["reproduce", *args])
    return code, capsys.readouterr().out


def test_reproduce_prints_both_losses_the_diagnosis_and_the_fixes(capsys):
    code, out = reproduce(capsys, "--epochs", "400", "--fix-epochs", "40", "--default-epochs", "2")
    assert code == 0
    assert "numpy.random.RandomState(42)" in out and article.NOTEBOOK_URL in out
    assert "epoch       400   article's loss" in out and "MSE" in out  # every tenth of the run
    assert "0.5 sqrt(e1^4 + e2^4 + e3^4)" in out  # the difference between the two, explained
    # the unit that dies at epoch 326, dated to the check interval
    assert "layer 2 unit 0: killed by a step: alive at epoch 320, dead from epoch 330 on" in out
    for fix in ("zero biases", "wider hidden layers", "Adam", "default recipe of 'ninestep train'"):
        assert fix in out


def test_reproduce_json_holds_the_figures(capsys):
    code, out = reproduce(capsys, "--epochs", "400", "--fix-epochs", "0", "--json")
    result = json.loads(out[out.index("{"):])
    assert code == 0 and result["article"]["n_params"] == 47 and result["article"]["epochs"] == 400
    assert result["article"]["dead_units"] == [[2, 0]] and result["article"]["dead_since"] == {"layer 2 unit 0": 330}
    assert len(result["article"]["printed"]) == 10 and result["fixes"] == {}


def test_reproduce_names_bad_options(capsys):
    from ninestep.cli import main
    assert main(["reproduce", "--epochs", "0"]) == 2
    assert "--epochs must be >= 1, got 0" in capsys.readouterr().err


@pytest.mark.slow  # about 25 s on one core: the notebook's first printed figure needs 100,000 epochs
def test_reproduce_100000_epochs_prints_the_notebooks_0_3502(capsys):
    code, out = reproduce(capsys, "--fix-epochs", "0")
    assert code == 0
    # By then both units the notebook's run loses are dead: unit 0 of layer 2 (from epoch 326) and unit 3
    # (from epoch 17,936).
    assert "epoch   100,000   article's loss 0.3502   MSE 0.4906   (notebook printed 0.3502)" in out
    assert "2 of 8 hidden units dead (layer 1: none of 4; layer 2: units 0, 3 (2 of 4))" in out
    assert "layer 2 unit 3: killed by a step: alive at epoch 17,920, dead from epoch 17,930 on" in out
