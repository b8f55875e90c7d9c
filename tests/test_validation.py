"""Input validation at every public entry point.

Each bad input gets a ValueError or TypeError whose message names the
argument, shows the value (or the row and column) and says what to do -
never a traceback from deep inside NumPy. The cases are listed in tables,
one row per entry point and fault, so that docs/robustness.md can point at
them.
"""

import numpy as np
import pytest

import ninestep as ns
from ninestep._validation import as_generator, check_array, check_X_y

X4 = np.arange(8.0).reshape(4, 2)
Y4 = np.array([0.5, 1.0, 1.5, 2.0])


def _reg():
    return ns.Network([2, 3, 1], seed=0)


def _clf(k=3):
    return ns.Network([2, 3, k], output_activation="softmax", seed=0)


def _bin():
    return ns.Network([2, 3, 1], output_activation="sigmoid", seed=0)


def _nan_at(i, j):
    X = X4.copy()
    X[i, j] = np.nan
    return X


def _inf_at(i, j):
    X = X4.copy()
    X[i, j] = -np.inf
    return X


# (id, call, exception, message regex)
CASES = [
    # ---- NaN / inf: the message names row and column
    ("forward-nan", lambda: _reg().forward(_nan_at(2, 1)), ValueError, r"X contains NaN \(nan\) at row 2, column 1"),
    ("forward-inf", lambda: _reg().forward(_inf_at(3, 0)), ValueError, r"X contains infinity \(-inf\) at row 3, column 0"),
    ("fit-nan-X", lambda: _reg().fit(_nan_at(1, 0), Y4, epochs=1), ValueError, r"row 1, column 0"),
    ("fit-nan-y", lambda: _reg().fit(X4, [1.0, np.nan, 2.0, 3.0], epochs=1), ValueError, r"y contains NaN \(nan\) at index 1"),
    ("fit-nan-val", lambda: _reg().fit(X4, Y4, epochs=1, validation_data=(_nan_at(0, 1), Y4)), ValueError, r"validation X contains NaN .* row 0, column 1"),
    ("fit-nan-val-y", lambda: _reg().fit(X4, Y4, epochs=1, validation_data=(X4, np.array([1.0, 2.0, np.nan, 4.0]))),
     ValueError, r"validation y contains NaN .* index 2"),
    ("evaluate-nan", lambda: _reg().evaluate(_inf_at(0, 0), Y4), ValueError, r"infinity .* row 0, column 0"),
    ("grads-nan", lambda: _reg().loss_and_gradients(_nan_at(3, 1), Y4), ValueError, r"row 3, column 1"),
    ("scaler-fit-nan", lambda: ns.StandardScaler().fit(_nan_at(2, 0)), ValueError, r"row 2, column 0"),
    ("scaler-transform-nan", lambda: ns.StandardScaler().fit(X4).transform(_nan_at(1, 1)), ValueError, r"row 1, column 1"),
    ("metric-nan", lambda: ns.mse([1.0, np.nan], [1.0, 2.0]), ValueError, r"y_true contains NaN \(nan\) at index 1"),
    ("r2-inf", lambda: ns.r2([1.0, 2.0], [np.inf, 2.0]), ValueError, r"y_pred contains infinity"),
    # ---- dimensionality: say how to reshape
    ("forward-1d", lambda: _reg().forward(np.ones(2)), ValueError, r"must be 2-D.*reshape\(-1, 1\).*reshape\(1, -1\)"),
    ("fit-1d", lambda: ns.Network([1, 2, 1], seed=0).fit(np.ones(5), np.ones(5)), ValueError, r"X.reshape\(-1, 1\)"),
    ("forward-3d", lambda: _reg().forward(np.ones((2, 2, 2))), ValueError, r"must be 2-D, got 3-D with shape \(2, 2, 2\)"),
    ("forward-scalar", lambda: _reg().forward(3.0), ValueError, r"must be 2-D, got 0-D"),
    ("fit-y-3d", lambda: _reg().fit(X4, np.ones((4, 1, 1))), ValueError, r"y must be 1-D or 2-D"),
    # ---- zero samples or features
    ("forward-0-samples", lambda: _reg().forward(np.ones((0, 2))), ValueError, r"X has 0 samples"),
    ("fit-0-samples", lambda: _reg().fit(np.ones((0, 2)), np.ones(0)), ValueError, r"0 samples"),
    ("scaler-0-features", lambda: ns.StandardScaler().fit(np.ones((3, 0))), ValueError, r"X has 0 features"),
    ("split-0-samples", lambda: ns.train_test_split(np.ones((0, 2)), np.ones(0)), ValueError, r"0 samples; a split needs at least 2"),
    ("split-1-sample", lambda: ns.train_test_split(np.ones((1, 2)), np.ones(1)), ValueError, r"1 samples"),
    ("metric-empty", lambda: ns.mae([], []), ValueError, r"0 samples"),
    ("accuracy-empty", lambda: ns.accuracy([], []), ValueError, r"0 samples"),
    ("confusion-empty", lambda: ns.confusion_matrix([], []), ValueError, r"0 samples"),
    # ---- X and y lengths
    ("fit-length", lambda: _reg().fit(X4, np.ones(3)), ValueError, r"X has 4 rows but y has 3"),
    ("evaluate-length", lambda: _reg().evaluate(X4, np.ones(5)), ValueError, r"X has 4 rows but y has 5"),
    ("grads-length", lambda: _reg().loss_and_gradients(X4, np.ones(2)), ValueError, r"X has 4 rows but y has 2"),
    ("val-length", lambda: _reg().fit(X4, Y4, validation_data=(X4, np.ones(3))), ValueError, r"validation X has 4 rows but validation y has 3"),
    ("split-length", lambda: ns.train_test_split(X4, np.ones(3)), ValueError, r"X has 4 rows but y has 3"),
    ("metric-length", lambda: ns.mse([1, 2], [1, 2, 3]), ValueError, r"y_true has shape \(2, 1\) but y_pred has shape \(3, 1\)"),
    ("accuracy-length", lambda: ns.accuracy([1, 2], [1, 2, 3]), ValueError, r"same length"),
    # ---- feature count at predict time
    ("forward-features", lambda: _reg().forward(np.ones((2, 3))), ValueError, r"X has 3 features but the network expects 2"),
    ("val-features", lambda: _reg().fit(X4, Y4, validation_data=(np.ones((4, 5)), Y4)), ValueError, r"5 features but the network expects 2"),
    ("scaler-features", lambda: ns.StandardScaler().fit(X4).transform(np.ones((2, 3))), ValueError, r"X has 3 columns but the scaler was fitted on 2"),
    ("scaler-inverse-features", lambda: ns.StandardScaler().fit(X4).inverse_transform(np.ones((2, 1))), ValueError, r"Z has 1 columns but the scaler was fitted on 2"),
    ("y-columns", lambda: _reg().fit(X4, np.ones((4, 2))), ValueError, r"y has 2 columns but the network has 1 outputs"),
    # ---- non-numeric values: name the column and the value
    ("forward-text", lambda: _reg().forward([[1.0, 2.0], [3.0, "high"]]), ValueError, r"non-numeric value 'high' at row 1, column 1"),
    ("forward-none", lambda: _reg().forward([[1.0, None], [3.0, 4.0]]), ValueError, r"non-numeric value None at row 0, column 1"),
    ("fit-text", lambda: _reg().fit([["a", 1], [2, 3]], [1, 2]), ValueError, r"non-numeric value 'a' at row 0, column 0"),
    ("scaler-text", lambda: ns.StandardScaler().fit([[1, "x"], [2, 3]]), ValueError, r"'x' at row 0, column 1"),
    ("forward-complex", lambda: _reg().forward(np.ones((2, 2)) * 1j), TypeError, r"complex"),
    ("forward-string", lambda: _reg().forward("1,2"), TypeError, r"X must be an array of numbers, got str"),
    ("forward-dict", lambda: _reg().forward({"a": 1}), TypeError, r"got dict"),
    ("forward-ragged", lambda: _reg().forward([[1, 2], [3, 4], [5]]), ValueError, r"rows have different lengths \(row 0 has 2 values, row 2 has 1\)"),
    ("forward-masked", lambda: _reg().forward(np.ma.masked_array(X4, mask=X4 == 5)), ValueError, r"X contains a masked value at row 2, column 1"),
    ("fit-y-text", lambda: _clf().fit(X4, ["a", "b", "a", "c"], loss="cross_entropy"), ValueError, r"y must be numeric.*encode the labels"),
    # ---- classification targets
    ("ce-continuous", lambda: _clf().fit(X4, [0.5, 1.2, 0.3, 2.0], loss="cross_entropy"), ValueError, r"y\[0\] = 0.5 is not an integer.*loss='mse'"),
    ("ce-out-of-range", lambda: _clf().fit(X4, [0, 1, 3, 0], loss="cross_entropy"), ValueError, r"y\[2\] = 3 is not a valid class.*0..2"),
    ("ce-negative", lambda: _clf().fit(X4, [0, -1, 2, 0], loss="cross_entropy"), ValueError, r"y\[1\] = -1 is not a valid class"),
    ("ce-single-class", lambda: _clf().fit(X4, [1, 1, 1, 1], loss="cross_entropy"), ValueError, r"only one class \(every target is class 1\)"),
    ("ce-rows-not-one-hot", lambda: _clf().fit(X4, np.ones((4, 3)), loss="cross_entropy"), ValueError, r"row 0 of y sums to 3"),
    ("bce-continuous", lambda: _bin().fit(X4, [0.0, 2.5, 1.0, 0.0], loss="binary_cross_entropy"), ValueError, r"y\[1, 0\] = 2.5.*loss='mse'"),
    ("bce-single-class", lambda: _bin().fit(X4, [0, 0, 0, 0], loss="binary_cross_entropy"), ValueError, r"only one class"),
    ("ce-wrong-output", lambda: _reg().fit(X4, [0, 1, 0, 1], loss="cross_entropy"), ValueError, r"needs a 'softmax' output layer.*output_activation='softmax'"),
    # ---- hyperparameters: name, value, allowed range
    ("net-sizes-short", lambda: ns.Network([3]), ValueError, r"layer_sizes needs at least two entries"),
    ("net-sizes-zero", lambda: ns.Network([2, 0, 1]), ValueError, r"layer_sizes\[1\] must be an integer >= 1, got 0"),
    ("net-sizes-float", lambda: ns.Network([2, 2.5, 1]), ValueError, r"layer_sizes\[1\] must be an integer >= 1, got 2.5"),
    ("net-sizes-text", lambda: ns.Network("2,3,1"), TypeError, r"layer_sizes must be a list of ints"),
    ("net-activation", lambda: ns.Network([2, 1], activation="relux"), ValueError, r"Unknown activation 'relux'; choose one of"),
    ("net-init", lambda: ns.Network([2, 1], init="xavier"), ValueError, r"Unknown init 'xavier'"),
    ("net-dtype", lambda: ns.Network([2, 1], dtype=np.int32), ValueError, r"dtype must be float32 or float64, got int32"),
    ("net-seed", lambda: ns.Network([2, 1], seed=-3), ValueError, r"seed must be a non-negative integer, got -3"),
    ("net-seed-type", lambda: ns.Network([2, 1], seed=1.5), TypeError, r"seed must be None, a non-negative int or a numpy.random.Generator"),
    ("fit-epochs", lambda: _reg().fit(X4, Y4, epochs=-1), ValueError, r"epochs must be an integer >= 0, got -1"),
    ("fit-epochs-float", lambda: _reg().fit(X4, Y4, epochs=2.5), ValueError, r"epochs must be an integer >= 0, got 2.5"),
    ("fit-batch", lambda: _reg().fit(X4, Y4, batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    ("fit-patience", lambda: _reg().fit(X4, Y4, patience=0, validation_data=(X4, Y4)), ValueError, r"patience must be an integer >= 1, got 0"),
    ("fit-patience-no-val", lambda: _reg().fit(X4, Y4, patience=3), ValueError, r"patience .* needs validation_data"),
    ("fit-alpha", lambda: _reg().fit(X4, Y4, alpha=-0.1), ValueError, r"alpha must be a finite number >= 0, got -0.1"),
    ("fit-min-delta", lambda: _reg().fit(X4, Y4, min_delta=float("nan")), ValueError, r"min_delta must be a finite number >= 0, got nan"),
    ("fit-tol", lambda: _reg().fit(X4, Y4, tol=-1), ValueError, r"tol must be a finite number >= 0, got -1"),
    ("fit-checkpoint-every", lambda: _reg().fit(X4, Y4, checkpoint_every=0), ValueError, r"checkpoint_every must be an integer >= 1, got 0"),
    ("fit-validation-shape", lambda: _reg().fit(X4, Y4, validation_data=X4), ValueError, r"validation_data must be a pair"),
    ("fit-loss", lambda: _reg().fit(X4, Y4, loss="hinge"), ValueError, r"Unknown loss 'hinge'; choose one of"),
    ("fit-loss-type", lambda: _reg().fit(X4, Y4, loss=None), TypeError, r"loss must be a name"),
    ("fit-optimizer", lambda: _reg().fit(X4, Y4, optimizer="adam"), TypeError, r"optimizer must be ninestep.SGD or ninestep.Adam"),
    ("fit-schedule", lambda: _reg().fit(X4, Y4, lr_schedule="step"), ValueError, r"lr_schedule must be None, 'cosine' or a callable"),
    ("fit-callback", lambda: _reg().fit(X4, Y4, callback="print"), TypeError, r"callback must be a function"),
    ("fit-shuffle", lambda: _reg().fit(X4, Y4, shuffle="no"), TypeError, r"shuffle must be True or False, got 'no'"),
    ("fit-net", lambda: ns.fit("net", X4, Y4), TypeError, r"net must be a ninestep.Network, got str"),
    ("sgd-lr", lambda: ns.SGD(lr=0), ValueError, r"lr must be a finite number > 0, got 0"),
    ("sgd-lr-text", lambda: ns.SGD(lr="0.1"), ValueError, r"lr must be a finite number > 0, got '0.1'"),
    ("sgd-lr-inf", lambda: ns.SGD(lr=float("inf")), ValueError, r"lr must be a finite number > 0, got inf"),
    ("sgd-momentum", lambda: ns.SGD(momentum=1.0), ValueError, r"momentum must be a number in \[0.0, 1.0\), got 1.0"),
    ("sgd-nesterov", lambda: ns.SGD(momentum=0.0, nesterov=True), ValueError, r"nesterov=True needs momentum > 0"),
    ("sgd-nesterov-type", lambda: ns.SGD(momentum=0.9, nesterov="yes"), TypeError, r"nesterov must be True or False"),
    ("adam-lr", lambda: ns.Adam(lr=-1e-3), ValueError, r"lr must be a finite number > 0, got -0.001"),
    ("adam-beta1", lambda: ns.Adam(beta1=1.0), ValueError, r"beta1 must be a number in \[0.0, 1.0\), got 1.0"),
    ("adam-beta2", lambda: ns.Adam(beta2=-0.1), ValueError, r"beta2 must be a number in \[0.0, 1.0\), got -0.1"),
    ("adam-eps", lambda: ns.Adam(eps=-1.0), ValueError, r"eps must be"),
    ("scaler-flag", lambda: ns.StandardScaler(with_mean="no"), TypeError, r"with_mean must be True or False, got 'no'"),
    ("scaler-unfitted", lambda: ns.StandardScaler().transform(X4), RuntimeError, r"not fitted yet; call fit\(X_train\) first"),
    ("split-size-zero", lambda: ns.train_test_split(X4, Y4, test_size=0.0), ValueError, r"test_size must be a number in \(0.0, 1.0\), got 0.0"),
    ("split-size-one", lambda: ns.train_test_split(X4, Y4, test_size=1.0), ValueError, r"test_size must be a number in \(0.0, 1.0\)"),
    ("split-size-all", lambda: ns.train_test_split(X4, Y4, test_size=4), ValueError, r"leaves 0 training and 4 test rows"),
    ("split-size-bool", lambda: ns.train_test_split(X4, Y4, test_size=True), ValueError, r"test_size must be a number"),
    ("split-shuffle", lambda: ns.train_test_split(X4, Y4, shuffle="yes"), TypeError, r"shuffle must be True or False"),
    ("split-stratify-no-shuffle", lambda: ns.train_test_split(X4, Y4, shuffle=False, stratify=[0, 1, 0, 1]), ValueError, r"stratify needs shuffle=True"),
    ("split-stratify-length", lambda: ns.train_test_split(X4, Y4, stratify=[0, 1]), ValueError, r"stratify has 2 entries but X has 4 rows"),
    ("split-seed", lambda: ns.train_test_split(X4, Y4, seed="abc"), TypeError, r"seed must be None"),
    ("arithmetic-n", lambda: ns.make_arithmetic(0), ValueError, r"n_samples must be an integer >= 1, got 0"),
    ("arithmetic-range", lambda: ns.make_arithmetic(10, low=5, high=1), ValueError, r"need finite numbers low < high, got low=5, high=1"),
    ("arithmetic-range-text", lambda: ns.make_arithmetic(10, low="a"), ValueError, r"low='a'"),
    ("sine-range-nan", lambda: ns.make_sine(10, high=float("nan")), ValueError, r"high=nan"),
    ("moons-n", lambda: ns.make_moons(1), ValueError, r"n_samples must be an integer >= 2, got 1"),
    ("moons-noise", lambda: ns.make_moons(10, noise=-0.1), ValueError, r"noise must be a finite number >= 0, got -0.1"),
    ("spirals-classes", lambda: ns.make_spirals(10, n_classes=1), ValueError, r"n_classes must be an integer >= 2, got 1"),
    ("spirals-too-few", lambda: ns.make_spirals(2, n_classes=3), ValueError, r"n_samples=2 is fewer than n_classes=3"),
    ("metric-multioutput", lambda: ns.mse([1, 2], [1, 2], multioutput="mean"), ValueError, r"multioutput must be one of 'uniform_average', 'raw_values'; got 'mean'"),
    ("confusion-repeated-labels", lambda: ns.confusion_matrix([0, 1], [0, 1], labels=[0, 0, 1]), ValueError, r"labels must not repeat"),
    ("confusion-label", lambda: ns.confusion_matrix([0, 1], [0, 2], labels=[0, 1]), ValueError, r"label 2 is not in labels \[0, 1\]"),
    ("summary-n", lambda: _reg().summary(n_samples=-1), ValueError, r"n_samples must be an integer >= 0, got -1"),
    ("grads-alpha", lambda: _reg().loss_and_gradients(X4, Y4, alpha=-1), ValueError, r"alpha must be a finite number >= 0, got -1"),
    ("count-params", lambda: ns.count_params([2, -1]), ValueError, r"layer_sizes\[1\] must be an integer >= 1, got -1"),
    ("set-weights-shape", lambda: _reg().set_weights([(np.ones((3, 3)), np.ones(3)), (np.ones((3, 1)), np.ones(1))]), ValueError, r"W must have shape \(2, 3\), got \(3, 3\)"),
    ("set-weights-count", lambda: _reg().set_weights([]), ValueError, r"expected 2 \(W, b\) pairs, got 0"),
    ("gradcheck-eps", lambda: ns.check_gradients(_reg(), X4, Y4, eps=0), ValueError, r"eps must be a finite number > 0, got 0"),
    ("save-type", lambda: ns.save_model("m.npz", "not a net"), TypeError, r"expected a ninestep.Network to save, got str"),
    ("activation-name", lambda: ns.get_activation("swish"), ValueError, r"Unknown activation 'swish'"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_every_error_is_a_value_or_type_error_or_runtime_for_unfitted():
    """The errors above are the documented kinds, so callers can catch them."""
    for name, call, exc, _ in CASES:
        assert issubclass(exc, (ValueError, TypeError, RuntimeError)), name


def test_messages_show_the_offending_value_not_numpy_reprs():
    with pytest.raises(ValueError) as err:
        _reg().forward(_nan_at(0, 0))
    assert "np.float64" not in str(err.value)
    with pytest.raises(ValueError) as err:
        _clf().fit(X4, [0.5, 1, 2, 0], loss="cross_entropy")
    assert "np.float64" not in str(err.value)


def test_validation_does_not_modify_the_callers_arrays():
    X = X4.copy()
    y = Y4.copy()
    net = _reg()
    net.fit(X, y, epochs=2, optimizer=ns.SGD(lr=0.01), seed=0, tol=1e9)
    ns.StandardScaler().fit(X).transform(X)
    ns.train_test_split(X, y, seed=0)
    assert np.array_equal(X, X4) and np.array_equal(y, Y4)


def test_valid_but_unusual_inputs_are_accepted():
    net = _reg()
    # lists, ints, bools, float32 and numeric strings all convert; one sample is fine for predict
    assert net.forward([[1, 2]]).shape == (1, 1)
    assert net.forward(np.array([[True, False]])).shape == (1, 1)
    assert net.forward(np.ones((2, 2), dtype=np.float32)).dtype == np.float64
    assert net.forward([["1.5", "2"]]).shape == (1, 1)
    # soft (probability) targets are allowed for the classification losses
    _bin().fit(X4, [0.1, 0.9, 0.5, 0.0], loss="binary_cross_entropy", epochs=1, tol=1e9)
    _clf(2).fit(X4, [[0.2, 0.8], [1, 0], [0.5, 0.5], [0, 1]], loss="cross_entropy", epochs=1, tol=1e9)
    # a class missing from the training labels is not an error (it may be rare), but it is said
    with pytest.warns(UserWarning, match="3 softmax outputs but the training labels never use class 2"):
        _clf(3).fit(X4, [0, 1, 0, 1], loss="cross_entropy", epochs=1, tol=1e9)


def test_check_array_reports_the_count_of_bad_values():
    X = np.full((3, 3), np.nan)
    with pytest.raises(ValueError, match=r"row 0, column 0 \(9 such values in all\)"):
        check_array(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bad, what", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_check_array_finds_one_bad_value_in_a_large_matrix(dtype, order, bad, what):
    # Large matrices are summed by a matrix-vector product (_validation._sum): one bad
    # value, anywhere, in either memory order, must still be found and named.
    X = np.asarray(np.random.default_rng(0).standard_normal((400, 300)), dtype=dtype, order=order)
    for i, j in [(0, 0), (123, 45), (399, 299)]:
        Y = X.copy(order=order)
        Y[i, j] = bad
        with pytest.raises(ValueError, match=rf"row {i}, column {j}"):
            check_array(Y, dtype=dtype)
        wide = np.zeros((400, 600), dtype=dtype, order=order)
        wide[:, ::2] = Y
        with pytest.raises(ValueError, match=rf"row {i}, column {j}"):  # a strided view of Y
            check_array(wide[:, ::2], dtype=dtype)


def test_check_array_accepts_a_large_matrix_whose_sum_overflows():
    # Every value is finite, but the row sums overflow to inf: the exact check decides.
    X = np.full((300, 300), 1e308)
    assert check_array(X) is X
    X32 = np.full((300, 300), 3e38, dtype=np.float32)
    assert check_array(X32, dtype=np.float32) is X32


def test_check_array_allow_empty_and_finite_flags():
    assert check_array(np.ones((0, 2)), allow_empty=True).shape == (0, 2)
    assert np.isnan(check_array([[np.nan]], finite=False)).all()


def test_check_X_y_lengths():
    with pytest.raises(ValueError, match="X has 2 rows, y has 3"):
        check_X_y(np.ones((2, 1)), np.ones(3))


def test_as_generator_passes_generators_through_and_never_touches_global_state():
    rng = np.random.default_rng(0)
    assert as_generator(rng) is rng
    state = np.random.get_state()[1].copy()
    as_generator(5).random(3)
    ns.Network([2, 3, 1], seed=1).fit(X4, Y4, epochs=2, seed=2, batch_size=2, tol=1e9)
    assert np.array_equal(np.random.get_state()[1], state)
    with pytest.raises(TypeError, match="seed must be None"):
        as_generator(True)


def test_robustness_doc_names_only_tests_that_exist():
    """Every test that docs/robustness.md cites exists, so the table cannot silently rot."""
    import fnmatch
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "robustness.md").read_text()
    ids = [c[0] for c in CASES]
    cited = 0
    for row in doc.splitlines():
        if not row.startswith("|"):
            continue
        current = None
        for token in re.findall(r"`([^`]*)`", row):
            match = re.fullmatch(r"(?:(test_\w+\.py))?::(test_\w+)(?:\[(.+)\])?", token)
            if match:
                current = match.group(1) or current
                assert current, f"{token!r} has no test file before it"
                source = (root / "tests" / current).read_text()
                assert re.search(rf"^def {match.group(2)}\(", source, re.M), f"{current}::{match.group(2)} is missing"
                cited += 1
            elif re.fullmatch(r"\[[\w*-]+\]", token):
                pattern = token[1:-1]
                assert fnmatch.filter(ids, pattern), f"no validation case matches {token}"
                cited += 1
    assert cited > 60


def test_dates_are_refused_with_what_to_do():
    days = np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]")
    with pytest.raises(TypeError, match=r"dates or durations \(datetime64\[D\]\).*days since a start date"):
        ns.Network([2, 3, 1], seed=0).forward(days)
