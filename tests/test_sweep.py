"""Sweeps: the grid, groups trained as Ensembles, and Dask (a LocalCluster of two worker processes)."""

import os
import signal
import time
import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep import sweep


def moons_data(n=300, seed=0) -> sweep.SweepData:
    X, y = ns.make_moons(n + 100, seed=seed)
    Xs = ns.StandardScaler().fit(X[:n]).transform(X)
    return sweep.SweepData(Xs[:n], y[:n], Xs[n:n + 50], y[n:n + 50], "classification", 2,
                           X_test=Xs[n + 50:], y_test=y[n + 50:])


def settings(epochs=15, seeds=2, **kw) -> sweep.SweepSettings:
    return sweep.SweepSettings(seeds=np.random.SeedSequence(0).spawn(seeds), epochs=epochs, fit_seed=7, **kw)


def same_rows(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x["params"], y["params"]) and x["metric"] == y["metric"] and x["lr"] == y["lr"]
        and x["layers"] == y["layers"] and x["seed"] == y["seed"] for x, y in zip(a, b))


def test_grid_and_groups():
    configs = sweep.grid(layers=[(8, 8), (16,)], lr=[0.01, 0.03], alpha=[0.0, 1e-3], optimizer=["adam", "sgd"])
    assert len(configs) == 16
    assert configs[0] == sweep.Config((8, 8), "relu", 0.01, 64, 0.0, "adam")
    assert configs[1].optimizer == "sgd"                     # the last axis varies fastest
    groups = sweep.group_configs(configs)
    assert len(groups) == 4                                  # layers x optimiser; lr and alpha inside
    assert all(len(g.configs) == 4 and len({(c.layers, c.optimizer)
                                           for c in g.configs}) == 1 for g in groups)
    with pytest.raises(ValueError, match="axis 'lr' lists a value twice"):
        sweep.grid(layers=[(8,)], lr=[0.1, 0.1])
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        sweep.grid(layers=[(8,)], optimizer=["rmsprop"])
    with pytest.raises(ValueError, match="every lr must be > 0"):
        sweep.grid(layers=[(8,)], lr=[0.0])


def test_groups_do_not_change_results_and_the_best_is_a_lone_network():
    data, st = moons_data(), settings(epochs=12)
    configs = sweep.grid(layers=[(8, 8), (6,)], lr=[0.01, 0.05], alpha=[0.0, 0.01], batch_size=[32])
    together = sweep.run_sweep(configs, data, st)
    alone = [row for c in configs for row in sweep.run_sweep([c], data, st).rows]
    key = lambda r: (r["layers"], r["lr"], r["alpha"], r["seed"])
    assert same_rows(sorted(together.rows, key=key), sorted(alone, key=key))
    assert len(together.leaderboard) == 8 and together.leaderboard[0]["mean"] >= together.leaderboard[-1]["mean"]
    assert together.metric_name == "val_accuracy" and all(r["seeds"] == 2 for r in together.leaderboard)
    # the saved model: the best configuration's best seed, as Network.fit alone makes it
    best = together.best
    net = ns.Network([2, *best["layers"], 2], seed=st.seeds[best["seed"]], output_activation="softmax")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        net.fit(data.X_fit, data.y_fit, loss="cross_entropy", optimizer=ns.Adam(lr=best["lr"]), alpha=best["alpha"],
                epochs=12, batch_size=32, seed=7, validation_data=(data.X_val, data.y_val), lr_schedule="cosine")
    got = together.best_network()
    assert np.max(np.abs(got.params - net.params)) <= 1e-10 * np.max(np.abs(net.params))
    assert best["metric"] == ns.accuracy(data.y_val, net.predict(data.X_val).argmax(axis=1))


def test_regression_metric_is_r2():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = np.column_stack([X[:, 0] + 0.1 * rng.normal(size=200), X[:, 1] ** 2])
    data = sweep.SweepData(X[:150], y[:150], X[150:], y[150:], "regression", 2)
    result = sweep.run_sweep(sweep.grid(layers=[(16,)], lr=[0.01]), data, settings(epochs=30))
    assert result.metric_name == "val_r2"
    best = result.best
    pred = result.best_network().predict(data.X_val)
    assert best["metric"] == pytest.approx(np.mean(ns.r2(data.y_val, pred, multioutput="raw_values")), rel=1e-12)
    assert 0.3 < best["metric"] <= 1.0


def test_diverged_seeds_have_no_metric_and_sink_to_the_bottom():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 2))
    y = X[:, :1] * 3 + X[:, 1:]
    data = sweep.SweepData(X[:100], y[:100], X[100:], y[100:], "regression", 1)
    result = sweep.run_sweep(sweep.grid(layers=[(8,)], lr=[100.0, 0.01], optimizer=["sgd"]), data,
                             settings(epochs=5, momentum=0.9))
    assert all(r["diverged"] and np.isnan(r["metric"]) for r in result.rows if r["lr"] == 100.0)
    assert result.leaderboard[-1]["lr"] == 100.0 and result.leaderboard[-1]["diverged"] == 2
    assert np.isnan(result.leaderboard[-1]["mean"]) and result.best["lr"] == 0.01


# ---------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed; "
                                                            "pip install -e '.[dask]'")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_results_equal_in_process_and_survive_a_killed_worker(client):
    data = moons_data(n=400)
    st = settings(epochs=150, seeds=2)
    configs = sweep.grid(layers=[(8, 8), (12,), (10, 10), (16,), (6, 6), (14,)], lr=[0.01, 0.03], batch_size=[16])
    here = sweep.run_sweep(configs, data, st)

    pids = client.run(os.getpid)
    killed, arrivals = [], []

    def kill_a_busy_worker(index, rows):
        arrivals.append(index)
        if killed:
            return
        # a worker that still has groups to train: its work is lost and Dask must run it again
        for address, keys in client.processing().items():
            if keys and address in pids:
                os.kill(pids[address], signal.SIGKILL)
                killed.append(pids[address])
                return

    there = sweep.run_sweep(configs, data, st, client=client, on_group=kill_a_busy_worker)
    assert killed, "no worker was busy when the first group arrived"
    assert sorted(arrivals) == list(range(6))               # every group exactly once
    assert same_rows(here.rows, there.rows)                 # and equal to the in-process run
    for _ in range(100):                                    # the nanny restarts the killed worker
        if len(client.scheduler_info()["workers"]) == 2:
            break
        time.sleep(0.1)
    assert killed[0] not in client.run(os.getpid).values()


def test_sklearn_estimators_under_the_dask_joblib_backend(client):
    joblib = pytest.importorskip("joblib")
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV

    from ninestep.sklearn import MLPClassifier

    X, y = ns.make_moons(150, seed=3)
    grid = {"learning_rate_init": [0.01, 0.05], "alpha": [1e-4, 1e-2]}
    make = lambda n_jobs: GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=40, random_state=0), grid,
                                       cv=3, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with joblib.parallel_backend("dask"):
            on_dask = make(2).fit(X, y)
        here = make(1).fit(X, y)
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == here.best_params_
    np.testing.assert_array_equal(on_dask.best_estimator_.net_.params, here.best_estimator_.net_.params)


# ---------------------------------------------------------------------- the command
@pytest.fixture
def cli(monkeypatch):
    """``main(argv) -> exit code`` with the sweep command registered (until cli/__init__ lists it)."""
    from ninestep import cli as package
    from ninestep.cli import sweep as command

    if command not in package.COMMANDS:
        monkeypatch.setattr(package, "COMMANDS", [*package.COMMANDS, command])
    return package.main


def test_sweep_command_writes_a_leaderboard_and_a_model_for_predict(cli, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = cli(["sweep", "--data", "moons", "--n-samples", "300", "--layers", "8", "6,6", "--lr", "0.01", "0.05",
                "--seeds", "2", "--epochs", "10", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 configurations x 2 seeds = 8 networks in 2 ensembles" in printed
    assert "Leaderboard (validation accuracy" in printed
    import csv
    import json
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and {r["layers"] for r in table} == {"8", "6,6"}
    means = [float(r["val_mean"]) for r in table]
    assert means == sorted(means, reverse=True)
    summary = json.loads((out / "results.json").read_text())
    assert len(summary["runs"]) == 8 and summary["metric"] == "val_accuracy"
    model = ns.load_model(out / "best" / "model.npz")
    assert model.classes == [0, 1] and model.x_scaler is not None
    assert model.predict(np.array([[0.0, 0.5], [1.0, -0.4]])).shape == (2,)
    assert cli(["predict", "--model", str(out / "best" / "model.npz"), "--input", "0.5,0.2"]) == 0


def test_one_configuration_one_seed_is_what_train_saves(cli, tmp_path):
    common = ["--data", "moons", "--n-samples", "200", "--layers", "8,8", "--lr", "0.02", "--epochs", "12",
              "--val-size", "0.1", "--seed", "3", "--quiet"]   # train's other defaults are the sweep's
    assert cli(["sweep", *common, "--seeds", "1", "--out", str(tmp_path / "s")]) == 0
    assert cli(["train", *common, "--out", str(tmp_path / "t")]) == 0
    swept = ns.load_model(tmp_path / "s" / "best" / "model.npz").net.params
    trained = ns.load_model(tmp_path / "t" / "model.npz").net.params
    assert np.max(np.abs(swept - trained)) <= 1e-10 * np.max(np.abs(trained))


def test_sweep_on_a_csv_file_is_judged_by_r2(cli, tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(240, 2))
    lines = ["a,b,y"] + [f"{a:.5f},{b:.5f},{a * b + 0.5 * a:.5f}" for a, b in X]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    code = cli(["sweep", "--data", str(tmp_path / "d.csv"), "--target", "y", "--layers", "16", "--lr", "0.01",
                "0.03", "--alpha", "0", "0.001", "--seeds", "2", "--epochs", "15", "--out", str(tmp_path / "o"),
                "--json"])
    assert code == 0
    import json
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "val_r2" and len(result["leaderboard"]) == 4
    # the best model holds the table's preprocessing, as train's does: it predicts from the raw columns
    model = tmp_path / "o" / "best" / "model.npz"
    assert ns.load_model(model).preprocessor is not None
    assert cli(["predict", "--model", str(model), "--data", str(tmp_path / "d.csv"), "--quiet"]) == 0


@pytest.mark.parametrize("argv, message", [
    (["--lr", "0.1", "0"], "--lr values must be > 0"),
    (["--lr", "0.1", "0.1"], "--lr lists a value twice"),
    (["--workers", "2", "--scheduler", "tcp://x:1"], "not both"),
    (["--val-size", "0"], "--val-size must be in"),
])
def test_sweep_usage_errors(cli, tmp_path, capsys, argv, message):
    assert cli(["sweep", "--epochs", "2", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_sweep_holds_its_folder_as_train_does(cli, tmp_path, capsys):
    from ninestep.cli._files import RunLock

    out = tmp_path / "sweep"
    out.mkdir()
    (out / "results.csv").write_text("another run's results\n")
    argv = ["sweep", "--n-samples", "150", "--layers", "4", "--seeds", "1", "--epochs", "2", "--out", str(out)]
    with RunLock(out):   # another run (train or sweep) is writing into the folder
        assert cli(argv) == 1
    err = capsys.readouterr().err
    assert f"in use by another ninestep run: process {os.getpid()}" in err and "Traceback" not in err
    assert (out / "results.csv").read_text() == "another run's results\n"       # nothing touched
    assert sorted(os.listdir(out)) == ["results.csv"]
    assert cli([*argv, "--quiet"]) == 0                                           # free again: it runs
    assert not (out / ".lock").exists() and (out / "best" / "model.npz").exists()


@pytest.mark.parametrize("option, message", [(["--seed", "-1"], "--seed must be >= 0"),
                                             (["--task", "regression"], "drop --task regression"),
                                             (["--n-samples", "0"], "--n-samples must be >= 1"),
                                             (["--target", "x"], "--target applies to table files")])
def test_sweep_checks_the_options_it_shares_with_train_as_train_does(tmp_path, capsys, option, message):
    from ninestep.cli import main

    code = main(["sweep", "--data", "moons", "--layers", "8", "--seeds", "1", "--epochs", "2",
                 "--out", str(tmp_path / "s"), "--quiet", *option])
    assert code == 2 and message in capsys.readouterr().err and not (tmp_path / "s").exists()
