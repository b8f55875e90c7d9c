"""Property-based tests: random shapes, dtypes and values (hypothesis).

Each property is something that must hold for *every* input, not just the
hand-picked ones: splits partition the rows, the scaler round-trips,
forward and backward keep shapes and dtypes and match central
differences, and no sequence of bytes makes the model loader do anything
but load or raise ModelFileError.
"""

import contextlib
import io as _io
import math
import pickle
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed; pip install -e '.[test]'")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import ninestep as ns  # noqa: E402
from helpers import central_differences  # noqa: E402
from ninestep.model_file import ModelFileError  # noqa: E402

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = st.integers(0, 2**32 - 1)
DTYPES = st.sampled_from([np.float32, np.float64])


def finite_matrices(min_rows=1, max_rows=30, min_cols=1, max_cols=6, dtype=np.float64, bound=1e6):
    shape = st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols))
    return hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                                                        width=32 if dtype == np.float32 else 64))


# ---------------------------------------------------------------------- data utilities
@FAST
@given(n=st.integers(2, 200), frac=st.floats(0.01, 0.99), seed=SEEDS, shuffle=st.booleans(), width=st.integers(1, 4))
def test_train_test_split_partitions_the_rows_with_the_promised_sizes(n, frac, seed, shuffle, width):
    n_test = math.ceil(frac * n)
    assume(1 <= n_test <= n - 1)
    X = np.repeat(np.arange(n, dtype=float)[:, None], width, axis=1)  # each row carries its index
    y = np.arange(n) * 10
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=frac, shuffle=shuffle, seed=seed)
    assert len(X_te) == len(y_te) == n_test and len(X_tr) == len(y_tr) == n - n_test
    rows = np.concatenate([X_tr[:, 0], X_te[:, 0]])
    assert sorted(rows) == list(range(n))  # every row exactly once
    assert np.array_equal(y_tr, X_tr[:, 0] * 10) and np.array_equal(y_te, X_te[:, 0] * 10)  # pairs kept
    if not shuffle:  # the article's split: first rows train, last rows test
        assert np.array_equal(X_te[:, 0], np.arange(n - n_test, n))
    again = ns.train_test_split(X, y, test_size=frac, shuffle=shuffle, seed=seed)
    assert np.array_equal(again[1], X_te)  # same seed, same split


@FAST
@given(labels=st.lists(st.integers(0, 3), min_size=4, max_size=120), frac=st.floats(0.1, 0.9), seed=SEEDS)
def test_stratified_split_partitions_and_keeps_each_class_share(labels, frac, seed):
    y = np.array(labels)
    n = y.size
    n_test = math.ceil(frac * n)
    assume(1 <= n_test <= n - 1)
    X = np.arange(n, dtype=float)[:, None]
    X_tr, X_te, y_tr, y_te = ns.train_test_split(X, y, test_size=frac, seed=seed, stratify=y)
    assert sorted(np.concatenate([X_tr[:, 0], X_te[:, 0]])) == list(range(n))
    assert len(X_te) == n_test
    classes, counts = np.unique(y, return_counts=True)
    quota = n_test * counts / n
    in_test = np.array([np.sum(y_te == k) for k in classes])
    assert (in_test >= np.floor(quota)).all()  # never below its share rounded down
    if (np.ceil(quota) < counts).all():
        # Every class can give its share rounded up and still keep a training row: each
        # gets its share of the test rows, give or take one.
        assert (np.abs(in_test - quota) <= 1).all()
    if n - n_test >= classes.size:
        # Otherwise a class too small for its share keeps a training row, and the test rows it
        # cannot give go to other classes (labels [0, 1, 2, 2, 2, 2, 2, 2] with 5 test rows:
        # classes 0 and 1 stay in training, class 2 gives 5 of its 6 rows).
        assert (in_test < counts).all()


@FAST
@given(n=st.integers(2, 300), seed=SEEDS, noise=st.floats(0, 1), k=st.integers(2, 6))
def test_generators_give_the_documented_shapes_and_are_seeded(n, seed, noise, k):
    X, y = ns.make_arithmetic(n, seed=seed)
    assert X.shape == (n, 2) and y.shape == (n, 3)
    assert np.array_equal(y, np.column_stack([X.sum(1), X[:, 0] - X[:, 1], np.abs(X[:, 0] - X[:, 1])]))
    X, y = ns.make_moons(n, noise=noise, seed=seed)
    assert X.shape == (n, 2) and y.shape == (n,) and set(np.unique(y)) <= {0, 1}
    assume(n >= k)
    X, y = ns.make_spirals(n, n_classes=k, noise=noise, seed=seed)
    assert X.shape == (n, 2) and set(np.unique(y)) == set(range(k))
    X, y = ns.make_sine(n, noise=noise, seed=seed)
    assert X.shape == (n, 1) and y.shape == (n,) and np.isfinite(y).all()
    assert np.array_equal(ns.make_sine(n, noise=noise, seed=seed)[1], y)


# ---------------------------------------------------------------------- scaler
@FAST
@given(X=finite_matrices(min_rows=2), dtype=DTYPES)
def test_scaler_round_trip_and_standardised_columns(X, dtype):
    X = X.astype(dtype)
    scaler = ns.StandardScaler().fit(X)
    Z = scaler.transform(X)
    assert Z.shape == X.shape and np.isfinite(Z).all()
    assert Z.dtype == dtype  # float32 stays float32
    back = scaler.inverse_transform(Z)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    scale = np.maximum(np.abs(X).max(axis=0), 1.0)
    assert (np.abs(back - X) <= tol * scale).all()
    varying = scaler.scale_ != 1.0
    assert np.allclose(Z[:, varying].mean(axis=0), 0, atol=1e-3 if dtype == np.float32 else 1e-7)


@FAST
@given(value=st.floats(-1e300, 1e300, allow_nan=False), n=st.integers(1, 20), width=st.integers(1, 4))
def test_constant_columns_map_to_zero_without_dividing_by_zero(value, n, width):
    X = np.full((n, width), value)
    scaler = ns.StandardScaler().fit(X)
    assert (scaler.scale_ == 1.0).all()
    assert np.array_equal(scaler.transform(X), np.zeros((n, width)))


@FAST
@given(train=finite_matrices(min_rows=2, min_cols=3, max_cols=3), test=finite_matrices(min_cols=3, max_cols=3))
def test_scaler_uses_only_the_training_statistics(train, test):
    scaler = ns.StandardScaler().fit(train)
    mean, scale = scaler.mean_.copy(), scaler.scale_.copy()
    out = scaler.transform(test)
    assert np.array_equal(scaler.mean_, mean) and np.array_equal(scaler.scale_, scale)  # transform learns nothing
    np.testing.assert_array_equal(out, (test - mean) / scale)


# ---------------------------------------------------------------------- forward and backward
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "linear"]


@st.composite
def networks(draw, dtype=None, hidden=ACTIVATIONS):
    sizes = draw(st.lists(st.integers(1, 8), min_size=2, max_size=4))
    output = draw(st.sampled_from(["linear", "sigmoid", "tanh", "softmax"]))
    dtype = draw(DTYPES) if dtype is None else dtype
    net = ns.Network(sizes, activation=draw(st.sampled_from(hidden)), output_activation=output,
                     seed=draw(SEEDS), dtype=dtype)
    return net


@FAST
@given(net=networks(), n=st.integers(1, 40), seed=SEEDS, scale=st.floats(1e-3, 1e3))
def test_forward_and_backward_keep_shapes_dtypes_and_finiteness(net, n, seed, scale):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, net.n_inputs)) * scale).astype(net.dtype)
    out = net.forward(X)
    assert out.shape == (n, net.n_outputs) and out.dtype == net.dtype and np.isfinite(out).all()
    y = rng.normal(size=(n, net.n_outputs)).astype(net.dtype)
    value, grads = net.loss_and_gradients(X, y, loss="mse", alpha=0.1)
    assert math.isfinite(value) and value >= 0
    assert len(grads) == len(net.layers)
    for layer, (dW, db) in zip(net.layers, grads):
        assert dW.shape == layer.W.shape and db.shape == layer.b.shape
        assert dW.dtype == net.dtype and db.dtype == net.dtype  # float32 stays float32
        assert np.isfinite(dW).all() and np.isfinite(db).all()


@st.composite
def classification_problem(draw):
    k = draw(st.integers(2, 4))
    sizes = [draw(st.integers(1, 4))] + draw(st.lists(st.integers(1, 5), min_size=0, max_size=2)) + [k]
    net = ns.Network(sizes, activation=draw(st.sampled_from(["tanh", "sigmoid", "linear"])),
                     output_activation="softmax", seed=draw(SEEDS))
    n = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(SEEDS))
    return net, rng.normal(size=(n, sizes[0])), rng.integers(0, k, size=n), draw(st.floats(0, 1))




def _flat(grads):
    return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads])


@settings(max_examples=25, deadline=None)
@given(problem=classification_problem())
def test_cross_entropy_gradient_matches_central_differences(problem):
    net, X, y, alpha = problem
    _, grads = net.loss_and_gradients(X, y, loss="cross_entropy", alpha=alpha)
    numeric = central_differences(net, X, y, "cross_entropy", alpha)
    np.testing.assert_allclose(_flat(grads), numeric, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(net=networks(dtype=np.float64, hidden=["tanh", "sigmoid", "linear"]), n=st.integers(1, 10), seed=SEEDS,
       alpha=st.floats(0, 1))
def test_mse_gradient_matches_central_differences(net, n, seed, alpha):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, net.n_inputs)), rng.normal(size=(n, net.n_outputs))
    _, grads = net.loss_and_gradients(X, y, loss="mse", alpha=alpha)
    numeric = central_differences(net, X, y, "mse", alpha)
    np.testing.assert_allclose(_flat(grads), numeric, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------- the file loader
@contextlib.contextmanager
def _no_unpickling():
    """Make any call into pickle fail loudly while the loader runs."""
    saved = pickle.load, pickle.loads, pickle.Unpickler

    def refuse(*args, **kwargs):
        raise AssertionError("the model loader called pickle")
    pickle.load = pickle.loads = pickle.Unpickler = refuse
    try:
        yield
    finally:
        pickle.load, pickle.loads, pickle.Unpickler = saved


def _load_or_refuse(path):
    """Load ``path``; the only allowed failure is ModelFileError (a ValueError subclass)."""
    with _no_unpickling():
        try:
            return ns.load_model(path)
        except ModelFileError as exc:
            assert str(path) in str(exc)  # the message names the file
            return None


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("props")
    net = ns.Network([3, 4, 2], output_activation="softmax", seed=0)
    scaler = ns.StandardScaler().fit(np.random.default_rng(0).normal(size=(10, 3)))
    path = folder / "model.npz"
    ns.save_model(path, net, x_scaler=scaler, classes=["no", "yes"], feature_names=["a", "b", "c"])
    return folder, path.read_bytes(), net


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_load_and_never_crash(valid_file, data):
    folder, _, _ = valid_file
    path = folder / "random.npz"
    path.write_bytes(data)
    assert _load_or_refuse(path) is None


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_mutated_model_files_load_correctly_or_are_refused(valid_file, mutations, cut):
    folder, good, net = valid_file
    data = bytearray(good)
    for pos, byte in mutations:
        data[pos % len(data)] = byte
    if cut is not None:
        data = data[:cut % len(data)]
    path = folder / "mutated.npz"
    path.write_bytes(bytes(data))
    saved = _load_or_refuse(path)
    if saved is not None:  # the mutation hit bytes that do not matter (timestamps, padding)
        X = np.random.default_rng(1).normal(size=(5, 3))
        assert np.array_equal(saved.net.forward(X), net.forward(X))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=3),
       descr=st.sampled_from(["<f8", "<f4", "|u1", "<i8", "|O", "<U3", "<c16", "|V8"]),
       payload=st.binary(max_size=64))
def test_arbitrary_npy_headers_in_a_model_file_are_refused_safely(valid_file, shape, descr, payload):
    """A member whose header lies about its shape or dtype is refused before any allocation."""
    folder, good, _ = valid_file
    with zipfile.ZipFile(_io.BytesIO(good)) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    header = _io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    members["W1.npy"] = header.getvalue() + payload
    path = folder / "header.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    saved = _load_or_refuse(path)
    if saved is not None:  # only possible when the header and payload describe a valid (4, 2) float array
        assert saved.net.layers[1].W.shape == (4, 2)
