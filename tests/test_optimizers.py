"""Step 8: optimiser updates recomputed by formula (ninestep.optimizers)."""

import numpy as np
import pytest

import ninestep as ns
from ninestep.optimizers import get_optimizer


def _gradients(n_steps=5, size=7, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=size) for _ in range(n_steps)]


def test_plain_sgd_is_the_articles_update():
    p = np.linspace(-1, 1, 7)
    expected = p.copy()
    opt = ns.SGD(lr=0.01)
    for g in _gradients():
        opt.step(p, g)
        expected = expected - 0.01 * g  # W = W - learning_rate * dW
    np.testing.assert_allclose(p, expected, rtol=1e-15)
    assert opt.velocity is None  # no state without momentum


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_by_formula(nesterov):
    lr, mu = 0.1, 0.9
    p = np.linspace(-1, 1, 7)
    expected, v = p.copy(), np.zeros(7)
    opt = ns.SGD(lr=lr, momentum=mu, nesterov=nesterov)
    for g in _gradients(6):
        opt.step(p, g)
        v = mu * v + g
        expected = expected - lr * ((g + mu * v) if nesterov else v)
        np.testing.assert_allclose(p, expected, rtol=1e-14)


def test_sgd_momentum_values_by_hand():
    # g = 1 every step, lr = 0.1, mu = 0.5: v = 1, 1.5, 1.75; p = -0.1, -0.25, -0.425.
    p = np.zeros(1)
    opt = ns.SGD(lr=0.1, momentum=0.5)
    for expected in (-0.1, -0.25, -0.425):
        opt.step(p, np.ones(1))
        assert p[0] == pytest.approx(expected, rel=1e-14)
    # Nesterov looks ahead: step lr (g + mu v): v = 1 -> -0.15; v = 1.5 -> -0.15 - 0.175 = -0.325.
    p = np.zeros(1)
    opt = ns.SGD(lr=0.1, momentum=0.5, nesterov=True)
    for expected in (-0.15, -0.325):
        opt.step(p, np.ones(1))
        assert p[0] == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("lr, beta1, beta2, eps", [(1e-3, 0.9, 0.999, 1e-8), (0.05, 0.8, 0.99, 1e-3)])
def test_adam_by_formula_with_bias_correction(lr, beta1, beta2, eps):
    p = np.linspace(-1, 1, 7)
    expected, m, v = p.copy(), np.zeros(7), np.zeros(7)
    opt = ns.Adam(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    for t, g in enumerate(_gradients(8), start=1):
        opt.step(p, g)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(p, expected, rtol=1e-13)
        assert opt.t == t
    np.testing.assert_allclose(opt.m, m, rtol=1e-13)
    np.testing.assert_allclose(opt.v, v, rtol=1e-13)


def test_adam_first_step_moves_each_parameter_by_about_lr():
    # Bias correction makes m_hat = g and v_hat = g^2 after one step, so the
    # step is lr * g / (|g| + eps): about lr against the sign of g, whatever |g|.
    p = np.zeros(4)
    g = np.array([1e-3, -5.0, 200.0, -0.02])
    ns.Adam(lr=0.01).step(p, g)
    np.testing.assert_allclose(p, -0.01 * np.sign(g), rtol=1e-4)


def test_adam_zero_gradient_gives_a_finite_zero_step():
    p = np.ones(3)
    with np.errstate(all="raise"):
        ns.Adam().step(p, np.zeros(3))
    np.testing.assert_array_equal(p, 1.0)


@pytest.mark.parametrize("opt", [ns.SGD(0.1), ns.SGD(0.1, momentum=0.9), ns.SGD(0.1, momentum=0.9, nesterov=True),
                                 ns.Adam(0.01)], ids=repr)
def test_float32_parameters_stay_float32(opt):
    opt.reset()
    p = np.linspace(-1, 1, 7).astype(np.float32)
    p64 = p.astype(np.float64)
    ref = type(opt)(**{k: v for k, v in opt.state_dict().items() if k not in ("name", "t")})
    for g in _gradients():
        opt.step(p, g.astype(np.float32))
        ref.step(p64, g.astype(np.float32).astype(np.float64))
        assert p.dtype == np.float32
    np.testing.assert_allclose(p, p64, rtol=1e-5, atol=1e-6)
    state = opt.state_dict()
    for key in ("velocity", "m", "v"):
        if key in state:
            assert state[key].dtype == np.float32


def test_state_dict_round_trip_continues_bit_for_bit():
    grads = _gradients(6)
    for make in (lambda: ns.SGD(0.1, momentum=0.9, nesterov=True), lambda: ns.Adam(0.01)):
        p_a = np.linspace(-1, 1, 7)
        a = make()
        for g in grads:
            a.step(p_a, g)
        p_b = np.linspace(-1, 1, 7)
        b = make()
        for g in grads[:3]:
            b.step(p_b, g)
        c = make()
        c.load_state_dict(b.state_dict())
        for g in grads[3:]:
            c.step(p_b, g)
        assert p_a.tobytes() == p_b.tobytes()


def test_adam_refuses_half_a_state():
    p, opt = np.linspace(-1, 1, 7), ns.Adam(0.01)
    opt.step(p, np.ones(7))
    state = opt.state_dict()
    for missing in ("m", "v"):
        with pytest.raises(ValueError, match="both moments"):
            ns.Adam(0.01).load_state_dict({k: v for k, v in state.items() if k != missing})


def test_reset_forgets_the_state():
    p, q = np.zeros(3), np.zeros(3)
    opt = ns.Adam(0.1)
    opt.step(p, np.ones(3))
    opt.reset()
    assert opt.t == 0 and opt.m is None
    opt.step(p, np.ones(3))
    ns.Adam(0.1).step(q, np.ones(3))
    np.testing.assert_allclose(p, 2 * q)  # two first steps


@pytest.mark.parametrize("make, match", [
    (lambda: ns.SGD(lr=0), "lr"),
    (lambda: ns.SGD(lr=-0.1), "lr"),
    (lambda: ns.SGD(lr=float("nan")), "lr"),
    (lambda: ns.SGD(lr=0.1, momentum=1.0), "momentum"),
    (lambda: ns.SGD(lr=0.1, momentum=-0.1), "momentum"),
    (lambda: ns.SGD(lr=0.1, nesterov=True), "nesterov"),
    (lambda: ns.Adam(lr=0), "lr"),
    (lambda: ns.Adam(beta1=1.0), "beta1"),
    (lambda: ns.Adam(beta2=-0.5), "beta2"),
    (lambda: ns.Adam(eps=-1e-8), "eps"),
    (lambda: ns.Adam(eps=0.0), "eps"),  # 0/0 = NaN for a parameter whose gradient is 0
    (lambda: get_optimizer("rmsprop"), "sgd"),
])
def test_bad_hyperparameters_are_rejected_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_get_optimizer():
    opt = get_optimizer("Adam", lr=0.5)
    assert isinstance(opt, ns.Adam) and opt.lr == 0.5
    sgd = ns.SGD(0.1)
    assert get_optimizer(sgd) is sgd
