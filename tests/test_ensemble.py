"""Ensemble: member k ends where the same network trained alone ends.

The reference is ``Network.fit`` itself (the fast path that fit runs, held
equal to the readable reference path by its own tests), called with the
member's seed, its own optimiser and alpha, and the same batch order.
"""

import warnings

import numpy as np
import pytest

import ninestep as ns
from ninestep.ensemble import DivergenceWarning, Ensemble, EnsembleHistory

RTOL = {np.float64: 1e-10, np.float32: 2e-5}   # float32: its own round-off, amplified over the steps


def close(a, b, dtype) -> float:
    """Largest difference relative to the largest magnitude (a relative error of the whole vector)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def data(loss: str, n: int = 60, n_out: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 20, 2))
    if loss == "cross_entropy":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)          # 3 classes
    elif loss == "binary_cross_entropy":
        y = (X[:, 0] * X[:, 1] > 0).astype(float)
    else:
        y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] ** 2, X[:, 0] * X[:, 1]])[:, :n_out]
    return X[:n], y[:n], X[n:], y[n:]


def optimisers(kind: str):
    if kind == "sgd":
        return [ns.SGD(lr=0.05), ns.SGD(lr=0.02, momentum=0.9), ns.SGD(lr=0.03, momentum=0.5, nesterov=True)]
    return [ns.Adam(lr=0.01), ns.Adam(lr=0.02, beta1=0.8, beta2=0.99), ns.Adam(lr=0.005, eps=1e-6)]


def lone_fits(ens_seeds, sizes, net_options, X, y, fit_kwargs, opts, alphas):
    """Each member's network trained alone; returns (nets, histories or the DivergenceError)."""
    nets, results = [], []
    for k, s in enumerate(ens_seeds):
        net = ns.Network(sizes, seed=s, **net_options)
        try:
            results.append(net.fit(X, y, optimizer=opts[k], alpha=alphas[k], **fit_kwargs))
        except ns.DivergenceError as exc:
            results.append(exc)
        nets.append(net)
    return nets, results


CASES = [("relu", "linear", "mse"), ("tanh", "softmax", "cross_entropy"),
         ("sigmoid", "sigmoid", "binary_cross_entropy"), ("leaky_relu", "linear", "mse")]


@pytest.mark.parametrize("hidden, output, loss", CASES)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_member_equals_the_network_trained_alone(hidden, output, loss, kind, dtype, batch_size):
    sizes = [2, 6, 5, 3 if loss == "cross_entropy" else (1 if loss == "binary_cross_entropy" else 2)]
    X, y, Xv, yv = data(loss, n_out=sizes[-1])
    options = dict(activation=hidden, output_activation=output, dtype=dtype)
    alphas = [0.0, 0.1, 0.01]
    fit_kwargs = dict(loss=loss, epochs=12, batch_size=batch_size, seed=3, validation_data=(Xv, yv))
    ens = Ensemble(sizes, n_members=3, seed=11, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        result = ens.fit(X, y, optimizer=optimisers(kind), alpha=alphas, **fit_kwargs)
        nets, histories = lone_fits(ens.seeds, sizes, options, X, y, fit_kwargs, optimisers(kind), alphas)
    assert ens.params.dtype == dtype
    for k, (net, history) in enumerate(zip(nets, histories)):
        assert close(ens.params[k], net.params, dtype) < RTOL[dtype], f"member {k}"
        assert close(result[k].loss, history.loss, dtype) < RTOL[dtype] * 10
        assert close(result[k].val_loss, history.val_loss, dtype) < RTOL[dtype] * 10
        assert result[k].lr == history.lr
    # the members really differ: different seeds, optimisers and alphas
    assert close(ens.params[0], ens.params[1], np.float64) > 1e-2


@pytest.mark.parametrize("batch_size", [None, 8])
def test_early_stopping_each_member_alone(batch_size):
    X, y, Xv, yv = data("mse", n=80, n_out=1, seed=5)
    sizes, alphas = [2, 16, 1], [0.0, 0.0, 0.5, 0.0]
    opts = lambda: [ns.Adam(lr=0.05), ns.Adam(lr=0.01), ns.Adam(lr=0.05), ns.SGD(lr=0.3)]
    ens = Ensemble(sizes, seed=[0, 1, 2, 3])
    kwargs = dict(epochs=150, batch_size=batch_size, seed=1, validation_data=(Xv, yv), patience=4, min_delta=1e-4)
    with pytest.raises(ValueError, match="mixes SGD and Adam"):
        ens.fit(X, y, optimizer=opts(), **kwargs)
    opts = lambda: [ns.SGD(lr=0.2, momentum=0.9), ns.SGD(lr=0.01), ns.SGD(lr=0.2, momentum=0.9), ns.SGD(lr=0.3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        result = ens.fit(X, y, optimizer=opts(), alpha=alphas, **kwargs)
        nets, histories = lone_fits([0, 1, 2, 3], sizes, {}, X, y, kwargs, opts(), alphas)
    lengths = [h.epochs for h in histories]
    assert len(set(lengths)) > 1 and any(h.stopped_early for h in histories), lengths  # they stop apart
    for k, (net, history) in enumerate(zip(nets, histories)):
        assert result[k].epochs == history.epochs
        assert result[k].stopped_early == history.stopped_early
        assert result[k].best_epoch == history.best_epoch
        assert close(ens.params[k], net.params, np.float64) < 1e-10


def test_a_diverging_member_stops_and_goes_back_alone():
    X, y, Xv, yv = data("mse", n=64, n_out=1, seed=2)
    sizes, lrs = [2, 8, 1], [0.01, 50.0, 0.02]
    opts = lambda: [ns.SGD(lr=lr, momentum=0.9) for lr in lrs]
    ens = Ensemble(sizes, seed=[4, 5, 6])
    kwargs = dict(epochs=20, batch_size=16, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = ens.fit(X, y, optimizer=opts(), **kwargs)
        nets, histories = lone_fits([4, 5, 6], sizes, {}, X, y, kwargs, opts(), [0.0] * 3)
    assert isinstance(histories[1], ns.DivergenceError)       # alone, member 1 raises
    assert list(result.diverged) == [1]
    assert "member 1 diverged" in result.diverged[1]
    assert any(issubclass(w.category, DivergenceWarning) and "member 1" in str(w.message) for w in caught)
    for k in range(3):
        # the diverged one is back at the start of the epoch, as the lone fit's error leaves it
        assert close(ens.params[k], nets[k].params, np.float64) < 1e-10
    assert result[0].epochs == 20 and result[2].epochs == 20
    assert np.isfinite(ens.params).all()


def test_results_do_not_depend_on_the_other_members_or_threads():
    X, y, _, _ = data("mse", n=50, n_out=2)
    fit = dict(optimizer=ns.Adam(lr=0.01), epochs=5, batch_size=10, seed=0, tol=1e9)
    one = Ensemble([2, 8, 2], seed=[7])
    one.fit(X, y, **fit)
    for threads in (1, 2, 3):
        four = Ensemble([2, 8, 2], seed=[1, 7, 2, 3])
        four.fit(X, y, n_threads=threads, **fit)
        np.testing.assert_array_equal(four.params[1], one.params[0])


def test_initial_weights_and_seeds():
    sizes, options = [3, 5, 2], dict(activation="tanh", bias_init="same", dtype=np.float32)
    ens = Ensemble(sizes, n_members=4, seed=9, **options)
    children = np.random.SeedSequence(9).spawn(4)
    for k in range(4):
        np.testing.assert_array_equal(ens.params[k], ns.Network(sizes, seed=children[k], **options).params)
    # member k's weights do not depend on K
    np.testing.assert_array_equal(Ensemble(sizes, n_members=2, seed=9, **options).params, ens.params[:2])
    listed = Ensemble(sizes, seed=[42, 43], **options)
    np.testing.assert_array_equal(listed.params[1], ns.Network(sizes, seed=43, **options).params)
    assert listed.member(1).layer_sizes == sizes and listed.member(1).dtype == np.float32


def test_optimiser_state_carries_on_as_alone():
    X, y, _, _ = data("mse", n=40, n_out=1)
    mine, alone = [ns.Adam(lr=0.01), ns.Adam(lr=0.02)], [ns.Adam(lr=0.01), ns.Adam(lr=0.02)]
    ens = Ensemble([2, 6, 1], seed=[0, 1])
    nets = [ns.Network([2, 6, 1], seed=s) for s in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ns.ConvergenceWarning)
        for _ in range(2):  # a second fit goes on from the moments of the first, in both
            ens.fit(X, y, optimizer=mine, epochs=3, batch_size=8, seed=2, lr_schedule="cosine")
            for net, opt in zip(nets, alone):
                net.fit(X, y, optimizer=opt, epochs=3, batch_size=8, seed=2, lr_schedule="cosine")
    for k in range(2):
        assert mine[k].t == alone[k].t == 30   # 5 batches x 3 epochs x 2 fits
        assert close(mine[k].m, alone[k].m, np.float64) < 1e-10
        assert mine[k].lr == alone[k].lr == (0.01, 0.02)[k]   # the rate the schedule started from, as alone
        assert close(ens.params[k], nets[k].params, np.float64) < 1e-10


def test_predict_mean_and_spread():
    X, y, _, _ = data("cross_entropy", n=40)
    ens = Ensemble([2, 5, 3], n_members=5, seed=0, output_activation="softmax")
    each = np.stack([net.predict(X) for net in ens.members])
    mean, std = ens.predict(X, return_std=True)
    np.testing.assert_allclose(mean, each.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, each.std(axis=0), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)               # mean probabilities
    assert ens.predict_members(X).shape == (5, 40, 3)
    with pytest.raises(ValueError, match="X has 3 features but the ensemble expects 2"):
        ens.predict(np.zeros((4, 3)))


def test_members_are_copies_and_from_networks_round_trips():
    nets = [ns.Network([2, 4, 1], seed=s, activation="tanh") for s in range(3)]
    ens = Ensemble.from_networks(nets)
    member = ens.members[0]
    np.testing.assert_array_equal(member.params, nets[0].params)
    member.params[...] = 0
    assert np.any(ens.params[0] != 0)        # a copy
    with pytest.raises(ValueError, match=r"nets\[1\] is a Network\(\[2, 5, 1\]"):
        Ensemble.from_networks([nets[0], ns.Network([2, 5, 1])])


def test_save_and_load(tmp_path):
    ens = Ensemble([2, 4, 3], n_members=3, seed=1, output_activation="softmax", dtype=np.float32)
    path = ens.save(tmp_path / "ens.npz")
    back = ns.load(path)
    assert isinstance(back, Ensemble) and back.dtype == np.float32 and back.n_members == 3
    np.testing.assert_array_equal(back.params, ens.params)
    X = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(back.predict(X), ens.predict(X))
    net_path = ns.Network([2, 3, 1]).save(tmp_path / "net.npz")
    with pytest.raises(ns.ModelFileError, match="not a valid ninestep ensemble"):
        Ensemble.load(net_path)
    with pytest.raises(ns.ModelFileError, match="pickle"):
        (tmp_path / "evil.npz").write_bytes(b"\x80\x04K\x01.")
        Ensemble.load(tmp_path / "evil.npz")


def test_bad_arguments_say_what_to_do():
    X, y, _, _ = data("mse", n=20, n_out=1)
    ens = Ensemble([2, 3, 1], n_members=2, seed=0)
    with pytest.raises(ValueError, match="optimizer lists 3 optimisers but the ensemble has 2"):
        ens.fit(X, y, optimizer=[ns.SGD(), ns.SGD(), ns.SGD()])
    with pytest.raises(ValueError, match="alpha lists 1 values"):
        ens.fit(X, y, alpha=[0.1])
    with pytest.raises(ValueError, match=r"alpha\[1\]"):
        ens.fit(X, y, alpha=[0.1, -1.0])
    with pytest.raises(ValueError, match="patience .* needs validation_data"):
        ens.fit(X, y, patience=3)
    with pytest.raises(TypeError, match="give n_members"):
        Ensemble([2, 3, 1])
    with pytest.raises(ValueError, match="seed lists 2 seeds but n_members=3"):
        Ensemble([2, 3, 1], n_members=3, seed=[1, 2])
    with pytest.raises(ValueError, match="needs a 'softmax' output"):
        ens.fit(X, y, loss="cross_entropy")
    assert isinstance(ens.fit(X, y, epochs=0), EnsembleHistory)


def test_the_data_overflows_before_any_update():
    X, y, _, _ = data("mse", n=20, n_out=1)
    ens = Ensemble([2, 3, 1], n_members=2, seed=0)
    with pytest.raises(ValueError, match="before the first update .* not finite"):
        ens.fit(X * 1e300, y, optimizer=ns.SGD(lr=0.1), epochs=2)


def test_train_seeds_is_a_loop_over_seeds():
    from ninestep.ensemble import train_seeds

    X, y = ns.make_arithmetic(300, seed=42)
    Xs, ys = ns.StandardScaler().fit(X).transform(X), ns.StandardScaler().fit(y).transform(y)
    ens, result = train_seeds([2, 4, 4, 3], [42, 43, 44], Xs, ys, {"bias_init": "same"},
                              optimizer=ns.SGD(lr=0.01), epochs=30, tol=1e9)
    for k, s in enumerate([42, 43, 44]):
        net = ns.Network([2, 4, 4, 3], seed=s, bias_init="same")
        history = net.fit(Xs, ys, optimizer=ns.SGD(lr=0.01), epochs=30, tol=1e9)
        assert close(ens.params[k], net.params, np.float64) < 1e-10
        assert close(result[k].loss, history.loss, np.float64) < 1e-10


def test_a_tampered_ensemble_file_is_refused(tmp_path):
    from ninestep.archive import write_archive

    ens = Ensemble([2, 3, 1], n_members=2, seed=0)
    meta, arrays = ens._to_archive()
    write_archive(tmp_path / "extra.npz", meta, {**arrays, "evil": np.zeros(3)})
    with pytest.raises(ns.ModelFileError, match="unexpected array 'evil'"):
        ns.load(tmp_path / "extra.npz")
    write_archive(tmp_path / "shape.npz", {**meta, "n_members": 3}, arrays)
    with pytest.raises(ns.ModelFileError, match=r"'W0' should have shape \(3, 2, 3\)"):
        ns.load(tmp_path / "shape.npz")


def test_callback_counts_member_epochs_and_early_stopped_members_leave():
    X, y, Xv, yv = data("mse", n=40, n_out=1, seed=4)
    calls = []
    ens = Ensemble([2, 4, 1], seed=[0, 1, 2])
    result = ens.fit(X, y, optimizer=[ns.SGD(lr=0.5, momentum=0.9), ns.SGD(lr=0.01), ns.SGD(lr=0.01)], epochs=30,
                     validation_data=(Xv, yv), patience=2, n_threads=1, tol=1e9,
                     callback=lambda epoch, n: calls.append((epoch, n)))
    # every member-epoch is counted once (a diverged member's last epoch too, though its history drops it)
    assert sum(n for _, n in calls) == sum(h.epochs for h in result.histories) + len(result.diverged)
    assert any(h.stopped_early for h in result.histories)
    assert [n for _, n in calls] == sorted((n for _, n in calls), reverse=True)   # members only ever leave
    with pytest.raises(ValueError, match="n_threads"):
        ens.fit(X, y, n_threads=0)


def test_a_generator_seed_is_spawned():
    rng = np.random.default_rng(5)
    ens = Ensemble([2, 3, 1], n_members=2, seed=rng)
    children = np.random.default_rng(5).spawn(2)
    np.testing.assert_array_equal(ens.params[1], ns.Network([2, 3, 1], seed=children[1]).params)


def test_a_generator_for_the_batch_order_advances_as_a_lone_fit_would():
    X, y, _, _ = data("mse", n=30, n_out=1)
    mine, alone = np.random.default_rng(8), np.random.default_rng(8)
    Ensemble([2, 3, 1], seed=[0, 1]).fit(X, y, epochs=4, batch_size=8, seed=mine, tol=1e9)
    ns.Network([2, 3, 1], seed=0).fit(X, y, epochs=4, batch_size=8, seed=alone, tol=1e9)
    assert mine.integers(1 << 30) == alone.integers(1 << 30)


@pytest.mark.parametrize("hidden, output, loss", CASES[:3])
@pytest.mark.parametrize("batch_size", [None, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_weights_as_network_fit(hidden, output, loss, batch_size, dtype):
    sizes = [2, 6, 3 if loss == "cross_entropy" else 1]
    X, y, Xv, yv = data(loss, n=70, n_out=sizes[-1], seed=7)
    w = np.random.default_rng(1).choice([0.0, 0.5, 1.0, 3.0], size=len(X))   # zeros leave rows out
    options = dict(activation=hidden, output_activation=output, dtype=dtype)
    alphas = [0.0, 0.3]
    fit_kwargs = dict(loss=loss, epochs=8, batch_size=batch_size, seed=2, validation_data=(Xv, yv), tol=1e9)
    ens = Ensemble(sizes, seed=[5, 6], **options)
    result = ens.fit(X, y, optimizer=optimisers("adam")[:2], alpha=alphas, sample_weight=w, **fit_kwargs)
    nets, histories = lone_fits([5, 6], sizes, options, X, y, {**fit_kwargs, "sample_weight": w},
                                optimisers("adam")[:2], alphas)
    for k, (net, history) in enumerate(zip(nets, histories)):
        assert close(ens.params[k], net.params, dtype) < RTOL[dtype], f"member {k}"
        assert close(result[k].loss, history.loss, dtype) < RTOL[dtype] * 10
        assert close(result[k].val_loss, history.val_loss, dtype) < RTOL[dtype] * 10
    unweighted = Ensemble(sizes, seed=[5, 6], **options)
    unweighted.fit(X, y, optimizer=optimisers("adam")[:2], alpha=alphas, **fit_kwargs)
    assert close(unweighted.params, ens.params, np.float64) > 1e-3            # the weights did something
    with pytest.raises(ValueError, match=r"sample_weight\[0\] = -1.0 is negative"):
        ens.fit(X, y, loss=loss, sample_weight=np.r_[-1.0, w[1:]])
