"""PyTorch autograd as an independent reference for ninestep's maths (float64).

* Loss, forward output and every gradient of ``net.loss_and_gradients`` equal
  torch's autograd on random networks (depth 1-4, widths 1-32), for every
  hidden activation, every loss (with the output activations it is used
  with), with and without L2, on batches of 1 and 17 rows.
* Trajectories of ``ninestep.fit`` with SGD (plain, momentum, Nesterov) and
  Adam equal ``torch.optim``'s from the same initial weights.

ninestep's W is (n_in, n_out), the transpose of ``nn.Linear.weight``; here
the torch side computes ``X @ W + b`` with the very same arrays, so no
transposition is involved. L2 goes into torch's loss for the weights only
(torch's ``weight_decay`` would also decay biases and couple to the
learning rate). Relative errors are ``||ours - torch|| / ||torch||`` per array.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed; pip install -e '.[test]'")

import ninestep  # noqa: E402

torch.set_num_threads(1)  # tiny tensors; more threads only add overhead on a shared machine
# Six epochs are a trajectory to compare, not a training run to finish.
pytestmark = pytest.mark.filterwarnings("ignore::ninestep.ConvergenceWarning")

TOL = 1e-10
HIDDEN = ["relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax"]  # softmax: allowed, if odd, as hidden
# (loss, output activation) pairs as they are used: the three canonical pairs,
# and mse through non-linear outputs (which exercises each activation's backward,
# softmax's full Jacobian included).
OUTPUTS = [("mse", "linear"), ("mse", "tanh"), ("mse", "softmax"),
           ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")]


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    scale = np.linalg.norm(ref)
    return float(np.linalg.norm(ours - ref) / scale) if scale > 0 else float(np.linalg.norm(ours))


def torch_activation(name, Z):
    return {
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "linear": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=1),
    }[name](Z)


def torch_loss(name, Z, A, Y, weights, alpha):
    """The same losses, from torch's own building blocks (means over the n rows)."""
    n = Z.shape[0]
    F = torch.nn.functional
    if name == "mse":
        value = 0.5 * ((A - Y) ** 2).sum() / n
    elif name == "cross_entropy":
        value = F.cross_entropy(Z, Y)  # Y: integer labels; log-softmax inside, mean over rows
    else:
        value = F.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / n
    return value + alpha / (2 * n) * sum((W ** 2).sum() for W in weights)


def torch_forward(net, X, params):
    A, Z = torch.from_numpy(X), None
    for layer, (W, b) in zip(net.layers, params):
        Z = A @ W + b
        A = torch_activation(layer.activation.name, Z)
    return Z, A


def make_targets(loss, n, k, rng):
    if loss == "mse":
        return rng.normal(size=(n, k)), None
    if loss == "cross_entropy":
        labels = rng.integers(0, k, size=n)
        return labels, torch.from_numpy(labels)
    Y = (rng.random((n, k)) < 0.5).astype(np.float64)
    return Y, None


CASES = [(h, loss, out, alpha, n) for h in HIDDEN for loss, out in OUTPUTS
         for alpha in (0.0, 0.3) for n in (1, 17)]


@pytest.mark.parametrize("hidden, loss, output, alpha, n", CASES)
def test_loss_forward_and_gradients_match_autograd(hidden, loss, output, alpha, n):
    case = CASES.index((hidden, loss, output, alpha, n))
    rng = np.random.default_rng(case)
    depth = int(rng.integers(1, 5))
    k = int(rng.integers(2, 6)) if output == "softmax" else int(rng.integers(1, 6))
    sizes = [int(rng.integers(1, 33)) for _ in range(depth)] + [k]  # inputs, hidden widths, outputs
    net = ninestep.Network(sizes, activation=hidden, output_activation=output, seed=rng)
    net.params[...] = rng.normal(scale=0.7, size=net.params.size)  # non-zero biases too
    X = rng.normal(size=(n, sizes[0]))
    y, labels = make_targets(loss, n, k, rng)

    value, grads = net.loss_and_gradients(X, y, loss=loss, alpha=alpha)
    out = net.forward(X)

    params = [(torch.tensor(layer.W, requires_grad=True), torch.tensor(layer.b, requires_grad=True))
              for layer in net.layers]
    Z, A = torch_forward(net, X, params)
    Y = labels if labels is not None else torch.from_numpy(np.asarray(y, dtype=np.float64).reshape(n, k))
    t_value = torch_loss(loss, Z, A, Y, [W for W, _ in params], alpha)
    t_value.backward()

    assert rel_err(value, t_value.item()) <= TOL
    assert rel_err(out, A.detach().numpy()) <= TOL
    for i, ((dW, db), (W, b)) in enumerate(zip(grads, params)):
        assert rel_err(dW, W.grad.numpy()) <= TOL, f"layer {i} dW, sizes {sizes}"
        assert rel_err(db, b.grad.numpy()) <= TOL, f"layer {i} db, sizes {sizes}"


def test_one_hot_and_label_targets_give_the_same_cross_entropy():
    rng = np.random.default_rng(1)
    net = ninestep.Network([4, 6, 3], activation="tanh", output_activation="softmax", seed=rng)
    X, labels = rng.normal(size=(9, 4)), rng.integers(0, 3, size=9)
    value, grads = net.loss_and_gradients(X, labels, loss="cross_entropy")
    value_1h, grads_1h = net.loss_and_gradients(X, np.eye(3)[labels], loss="cross_entropy")
    assert value == value_1h
    for (dW, db), (dW1, db1) in zip(grads, grads_1h):
        np.testing.assert_array_equal(dW, dW1)
        np.testing.assert_array_equal(db, db1)


# ---------------------------------------------------------------- optimiser trajectories
OPTIMIZERS = {
    "sgd": (lambda: ninestep.SGD(lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd_momentum": (lambda: ninestep.SGD(lr=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "sgd_nesterov": (lambda: ninestep.SGD(lr=0.05, momentum=0.9, nesterov=True),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    # ninestep's Adam is torch's formula (eps added to sqrt(v_hat)), so the defaults compare directly.
    "adam": (lambda: ninestep.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_betas": (lambda: ninestep.Adam(lr=0.02, beta1=0.8, beta2=0.99, eps=1e-6),
                   lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("loss, output", [("mse", "linear"), ("cross_entropy", "softmax")])
def test_fit_trajectory_matches_torch_optim(name, loss, output):
    rng = np.random.default_rng(7)
    epochs, batch, alpha = 6, 17, 0.1  # 40 rows: batches of 17, 17 and 6, so 18 steps
    net = ninestep.Network([5, 16, 8, 3], activation="tanh", output_activation=output, seed=rng)
    net.params[...] += rng.normal(scale=0.1, size=net.params.size)
    X = rng.normal(size=(40, 5))
    y, labels = make_targets(loss, 40, 3, rng)
    params = [(torch.tensor(layer.W, requires_grad=True), torch.tensor(layer.b, requires_grad=True))
              for layer in net.layers]
    make_ours, make_torch = OPTIMIZERS[name]

    history = ninestep.fit(net, X, y, loss=loss, optimizer=make_ours(), epochs=epochs, batch_size=batch,
                           shuffle=False, alpha=alpha)

    opt = make_torch([p for pair in params for p in pair])
    Y = labels if labels is not None else torch.from_numpy(y)
    torch_curve = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, 40, batch):
            rows = slice(start, min(start + batch, 40))
            opt.zero_grad()
            Z, A = torch_forward(net, X[rows], params)
            value = torch_loss(loss, Z, A, Y[rows], [W for W, _ in params], alpha)
            value.backward()
            opt.step()
            total += value.item() * (rows.stop - rows.start)
        torch_curve.append(total / 40)

    assert rel_err(history.loss, torch_curve) <= TOL
    for layer, (W, b) in zip(net.layers, params):
        assert rel_err(layer.W, W.detach().numpy()) <= TOL
        assert rel_err(layer.b, b.detach().numpy()) <= TOL
    # The trajectory went somewhere: the comparison is not of unchanged weights.
    assert history.loss[-1] < history.loss[0]
