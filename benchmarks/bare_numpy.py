"""The same training as ninestep's ``fit``, as one hand-inlined NumPy loop: the floor for pure NumPy.

``benchmarks/run.py`` times this next to ninestep to answer two questions:
how much do ninestep's checks and structure cost, and how fast can *any*
pure-NumPy implementation of this algorithm be on this machine? The loop
does exactly the work of a training step and nothing else: no input checks,
no divergence checks, no history, no Python objects per layer. Every array
is allocated once, every operation writes into it (``out=``), and the
bias rides in the matrix products through a column of ones, as in ninestep.

It is written for [n_in, h1, h2, n_out] networks with ReLU hidden layers
and either a linear output with the half squared error (the seed task) or
a softmax output with cross-entropy (the large benchmark), trained with
Adam (torch's formula, in ninestep's ten-pass form). The shuffling is
ninestep's (``rng.permutation`` once per epoch from the same seed), so from
the same initial weights it follows ninestep's trajectory bit for bit
(``tests/test_bare_loop.py`` checks it).
"""

from __future__ import annotations

import math

import numpy as np


def train(params: np.ndarray, sizes: list[int], X: np.ndarray, Y: np.ndarray, loss: str, epochs: int,
          batch: int, lr: float = 1e-3, seed: int = 0) -> np.ndarray:
    """Train the flat parameter vector ``params`` (ninestep's layout) in place; returns it."""
    assert len(sizes) == 4 and loss in ("mse", "cross_entropy")
    dt, n = params.dtype, X.shape[0]
    mm, mul, add, sub, sq, sqrt, div = np.matmul, np.multiply, np.add, np.subtract, np.square, np.sqrt, np.divide
    # [W; b] views of the parameters and of the gradient, one per layer.
    Wb, G, start = [], [], 0
    grad = np.empty_like(params)
    for k_in, k_out in zip(sizes[:-1], sizes[1:]):
        size = (k_in + 1) * k_out
        Wb.append(params[start:start + size].reshape(k_in + 1, k_out))
        G.append(grad[start:start + size].reshape(k_in + 1, k_out))
        start += size
    W2T, W3T = Wb[1][:-1].T, Wb[2][:-1].T
    m, v = np.zeros_like(params), np.zeros_like(params)
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    tiny = float(np.finfo(dt).tiny)
    # Adam in chunks of 256 KiB per vector (they stay in the L2 cache), views made once.
    step = max(1, 2**18 // params.itemsize)
    buf = np.empty(min(step, params.size), dt)
    chunks = [(params[lo:lo + step], grad[lo:lo + step], m[lo:lo + step], v[lo:lo + step],
               buf[:min(step, params.size - lo)]) for lo in range(0, params.size, step)]

    def buffers(rows):
        X1 = np.ones((rows, sizes[0] + 1), dt)
        H1, H2 = np.ones((rows, sizes[1] + 1), dt, order="F"), np.ones((rows, sizes[2] + 1), dt, order="F")
        F = lambda k: np.empty((rows, k), dt, order="F")  # noqa: E731
        return (X1, X1[:, :-1], X1.T, H1, H1[:, :-1], H1.T, H2, H2[:, :-1], H2.T, F(sizes[1]), F(sizes[2]),
                F(sizes[3]), F(sizes[1]), F(sizes[2]), F(sizes[3]), np.empty((rows, sizes[3]), Y.dtype))

    by_rows = {}
    Xb_all, Yb_all = np.empty((batch, X.shape[1]), dt), np.empty((batch, Y.shape[1]), Y.dtype)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            rows = len(idx)
            if rows not in by_rows:
                by_rows[rows] = buffers(rows)
            X1, Xv, X1T, H1, A1, H1T, H2, A2, H2T, Z1, Z2, Z3, D1, D2, D3, _ = by_rows[rows]
            Xb = X.take(idx, axis=0, out=Xb_all[:rows], mode="clip")
            Yb = Y.take(idx, axis=0, out=Yb_all[:rows], mode="clip")
            Xv[...] = Xb
            mm(X1, Wb[0], out=Z1)
            np.maximum(Z1, 0, out=A1)
            mm(H1, Wb[1], out=Z2)
            np.maximum(Z2, 0, out=A2)
            mm(H2, Wb[2], out=Z3)
            if loss == "mse":  # dZ = (A - Y) / n, scaled as ninestep does (times 1/n)
                sub(Z3, Yb, out=D3)
                r = D3.ravel(order="K")
                value = 0.5 * float(np.dot(r, r)) / rows
                mul(D3, 1.0 / rows, out=D3)
            else:  # dZ = (softmax(Z) - Y) / n, divided as ninestep does
                shifted = Z3 - Z3.max(axis=1, keepdims=True)
                E = np.exp(shifted)
                s_row = E.sum(axis=1, keepdims=True)
                value = float(np.log(s_row).sum() - np.vdot(Yb, shifted)) / rows
                div(E, s_row, out=E)
                sub(E, Yb, out=D3)
                div(D3, rows, out=D3)
            mm(H2T, D3, out=G[2])
            mm(D3, W3T, out=D2)
            mul(D2, Z2 > 0, out=D2)
            mm(H1T, D2, out=G[1])
            mm(D2, W2T, out=D1)
            mul(D1, Z1 > 0, out=D1)
            mm(X1T, D1, out=G[0])
            if not math.isfinite(value):
                raise FloatingPointError("diverged")
            # Adam as ninestep's fast path runs it: the paper's m, v, bias corrections folded
            # into lr_t and eps_t.
            t += 1
            c = math.sqrt(1.0 - b2 ** t)
            lr_t, eps_t = lr * c / (1.0 - b1 ** t), eps * c
            for p, g, mc, vc, bc in chunks:
                mul(g, 1.0 - b1, out=bc)
                mul(mc, b1, out=mc)
                add(mc, bc, out=mc)
                sq(g, out=bc)
                mul(bc, 1.0 - b2, out=bc)
                mul(vc, b2, out=vc)
                add(vc, bc, out=vc)
                sqrt(vc, out=bc)
                add(bc, eps_t, out=bc)
                div(mc, bc, out=bc)
                mul(bc, lr_t, out=bc)
                sub(p, bc, out=p)
            if t % 64 == 0:  # as ninestep: no moment may turn subnormal (100x slower arithmetic)
                for moment, beta in ((m, b1), (v, b2)):
                    np.copyto(moment, 0, where=np.abs(moment) < tiny / beta ** 64)
    return params
