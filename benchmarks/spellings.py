"""The seven seed workloads of issue 14, each written in two (optionally three) spellings.

The same math can be spelled with NumPy's functions or with operators and
methods, and chainrule's generated code should not care which.  Every
workload here comes as

* spelling A, NumPy functions: `np.dot`, `np.matmul`, `np.inner`, `np.sum`,
  `np.max`, `np.mean`, `np.square`;
* spelling B, operators and methods: `@`, `x.dot(w)`, `.sum()`, `.max()`,
  `.mean()`, `** 2`;
* spelling C (optional, `--spellings A,B,C`), contractions: `np.einsum` and
  `np.tensordot`, where a person might write them (not for the oscillator,
  which has no products to contract).

Only the spelling differs: each line of A has its counterpart in B.  The
hand-written backward passes (one per workload, since the math is the same)
come from bench_core.py and examples/loop_workloads.py, and so do the data;
`make_data(rng, quick=True)` gives small sizes for smoke runs.  Each workload
also has a PyTorch version (same math, idiomatic torch), bound to the torch
module at run time so this file imports without torch.

Which calls each spelling uses, per workload:

    workload      A                                   B
    mlp_tiny      np.dot, np.sum                      @, .sum()
    mlp_softmax   np.dot, np.matmul, np.max, np.sum   @, .max(), .sum()
    logreg        np.dot, np.mean                     x.dot(w), .mean()
    rnn           np.dot, np.sum                      @, .sum()
    oscillator    np.square                           ** 2
    residual      np.dot, np.inner                    @
    conv_pool     np.sum, np.max                      .sum(), .max()
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
for _folder in (HERE, HERE.parent / "examples"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import loop_workloads as lw  # noqa: E402
from bench_core import (  # noqa: E402
    logreg_data,
    logreg_hand_grad,
    mlp_softmax_data,
    mlp_softmax_hand_grad,
    mlp_tiny_data,
    mlp_tiny_hand_grad,
)

torch: Any = None  # the *_torch functions below are rebound with bind_torch before use

# ---------------------------------------------------------------------------
# 1. The seed two-layer net: x in R^3, 4 hidden ReLU units, squared error.


def mlp_tiny_a(W1, b1, w2, b2, x, y):
    z1 = np.dot(W1, x) + b1
    h = np.maximum(0, z1)
    yhat = np.dot(w2, h) + b2
    return np.sum((yhat - y) ** 2) / 2


def mlp_tiny_b(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    return ((yhat - y) ** 2).sum() / 2


def mlp_tiny_c(W1, b1, w2, b2, x, y):
    z1 = np.einsum("ij,j->i", W1, x) + b1
    h = np.maximum(0, z1)
    yhat = np.einsum("i,i->", w2, h) + b2
    return np.sum((yhat - y) ** 2) / 2


def mlp_tiny_torch(W1, b1, w2, b2, x, y):
    h = torch.relu(W1 @ x + b1)
    return (w2 @ h + b2 - y) ** 2 / 2


# ---------------------------------------------------------------------------
# 2. A 784-128-10 ReLU MLP on a batch of 256, softmax cross-entropy.


def mlp_softmax_a(W1, b1, W2, b2, X, Y):
    H = np.maximum(0, np.dot(X, W1) + b1)
    logits = np.matmul(H, W2) + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * (shifted - lse)) / X.shape[0]


def mlp_softmax_b(W1, b1, W2, b2, X, Y):
    H = np.maximum(0, X @ W1 + b1)
    logits = H @ W2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(Y * (shifted - lse)).sum() / X.shape[0]


def mlp_softmax_c(W1, b1, W2, b2, X, Y):
    H = np.maximum(0, np.einsum("nd,dk->nk", X, W1) + b1)
    logits = np.tensordot(H, W2, axes=1) + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.einsum("nk,nk->", Y, shifted - lse) / X.shape[0]


def mlp_softmax_torch(W1, b1, W2, b2, X, Y):
    H = torch.relu(X @ W1 + b1)
    logits = H @ W2 + b2
    shifted = logits - logits.max(dim=1, keepdim=True).values
    lse = torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    return -(Y * (shifted - lse)).sum() / X.shape[0]


# ---------------------------------------------------------------------------
# 3. Logistic regression, 1000 x 50, mean binary cross-entropy.


def logreg_a(w, b, X, y):
    z = np.dot(X, w) + b
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_b(w, b, X, y):
    z = X.dot(w) + b
    p = 1 / (1 + np.exp(-z))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()


def logreg_c(w, b, X, y):
    z = np.tensordot(X, w, axes=1) + b
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_torch(w, b, X, y):
    p = 1 / (1 + torch.exp(-(X @ w + b)))
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


# ---------------------------------------------------------------------------
# 4. A tanh RNN, T = 50 steps, hidden size 32, loss on the final state.


def rnn_a(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(Wh, h) + np.dot(Wx, xs[t]) + b)
    return np.sum(h**2)


def rnn_b(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
    return (h**2).sum()


def rnn_c(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.einsum("ij,j->i", Wh, h) + np.einsum("ij,j->i", Wx, xs[t]) + b)
    return np.sum(h**2)


def rnn_torch(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(Wh @ h + Wx @ xs[t] + b)
    return (h**2).sum()


# ---------------------------------------------------------------------------
# 5. A damped oscillator, explicit Euler, 1,000 steps; d/dk, d/dc.  There are no
#    products or sums to respell: A squares with np.square, B with ** 2.


def oscillator_a(k, c, x0, v0, x_obs, dt):
    x = x0
    v = v0
    loss = 0.0
    for i in range(x_obs.shape[0]):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        loss = loss + np.square(x - x_obs[i])
    return loss


def oscillator_b(k, c, x0, v0, x_obs, dt):
    x = x0
    v = v0
    loss = 0.0
    for i in range(x_obs.shape[0]):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        loss = loss + (x - x_obs[i]) ** 2
    return loss


def oscillator_torch(k, c, x0, v0, x_obs, dt):
    x = x0
    v = v0
    loss = 0.0
    for i in range(x_obs.shape[0]):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        loss = loss + (x - x_obs[i]) ** 2
    return loss


# ---------------------------------------------------------------------------
# 6. A 50-layer residual stack of width 64.


def residual_a(Ws, h0):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + np.tanh(np.dot(Ws[l], h))
    return np.inner(h, h) / 2


def residual_b(Ws, h0):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + np.tanh(Ws[l] @ h)
    return h @ h / 2


def residual_c(Ws, h0):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + np.tanh(np.tensordot(Ws[l], h, axes=1))
    return np.einsum("i,i->", h, h) / 2


def residual_torch(Ws, h0):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + torch.tanh(Ws[l] @ h)
    return h @ h / 2


# ---------------------------------------------------------------------------
# 7. A 3x3 valid convolution and 2x2 max-pooling written with loops, on 10x10.


def conv_pool_a(K, img, W):
    out = np.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + 3, j : j + 3] * K)
    pooled = np.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.max(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.sum(pooled * W)


def conv_pool_b(K, img, W):
    out = np.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (img[i : i + 3, j : j + 3] * K).sum()
    pooled = np.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    return (pooled * W).sum()


def conv_pool_c(K, img, W):
    out = np.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.tensordot(img[i : i + 3, j : j + 3], K)
    pooled = np.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.max(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.einsum("ij,ij->", pooled, W)


def conv_pool_torch(K, img, W):
    out = torch.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (img[i : i + 3, j : j + 3] * K).sum()
    pooled = torch.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    return (pooled * W).sum()


# ---------------------------------------------------------------------------
# The registry.


@dataclass
class Spelled:
    """One workload: its spellings, data, hand-written gradient and torch version.

    `name` is also the name bench_loops.py's framework variants are filed under
    (autograd and JAX cannot run conv_pool's array writes; JAX's jit runs the
    oscillator as lax.fori_loop).
    """

    name: str
    description: str
    spellings: dict[str, Callable]
    argnums: tuple[int, ...]
    data: Callable[[np.random.Generator], tuple]
    quick_data: Callable[[np.random.Generator], tuple]
    hand_grad: Callable
    torch_fn: Callable

    def make_data(self, rng: np.random.Generator, quick: bool = False) -> tuple:
        return (self.quick_data if quick else self.data)(rng)


WORKLOADS: dict[str, Spelled] = {
    w.name: w
    for w in [
        Spelled(
            "mlp_tiny",
            "seed two-layer net, 3 inputs, 4 hidden, squared error; d/dW1,b1,w2,b2",
            {"A": mlp_tiny_a, "B": mlp_tiny_b, "C": mlp_tiny_c},
            (0, 1, 2, 3),
            mlp_tiny_data,
            mlp_tiny_data,
            mlp_tiny_hand_grad,
            mlp_tiny_torch,
        ),
        Spelled(
            "mlp_softmax",
            "784-128-10 ReLU MLP, batch 256, softmax cross-entropy; d/dW1,b1,W2,b2",
            {"A": mlp_softmax_a, "B": mlp_softmax_b, "C": mlp_softmax_c},
            (0, 1, 2, 3),
            mlp_softmax_data,
            lambda rng: mlp_softmax_data(rng, n=16, d=12, k=8, c=5),
            mlp_softmax_hand_grad,
            mlp_softmax_torch,
        ),
        Spelled(
            "logreg",
            "logistic regression, 1000x50, mean binary cross-entropy; d/dw,b",
            {"A": logreg_a, "B": logreg_b, "C": logreg_c},
            (0, 1),
            logreg_data,
            lambda rng: logreg_data(rng, n=40, d=5),
            logreg_hand_grad,
            logreg_torch,
        ),
        Spelled(
            "rnn",
            "tanh RNN, T=50, hidden 32, input 16, loss sum(h_T**2); d/dWh,Wx,b,h0",
            {"A": rnn_a, "B": rnn_b, "C": rnn_c},
            (0, 1, 2, 3),
            lw.make_rnn_data,
            lambda rng: lw.make_rnn_data(rng, T=4, hidden=5, inputs=3),
            lw.rnn_hand_grad,
            rnn_torch,
        ),
        Spelled(
            "oscillator",
            "damped spring, explicit Euler, 1,000 steps, squared error; d/dk,c",
            {"A": oscillator_a, "B": oscillator_b},
            (0, 1),
            lw.make_oscillator_data,
            lambda rng: lw.make_oscillator_data(rng, n=20),
            lw.oscillator_hand_grad,
            oscillator_torch,
        ),
        Spelled(
            "residual",
            "50-layer residual stack h + tanh(W_l h), width 64; d/dWs,h0",
            {"A": residual_a, "B": residual_b, "C": residual_c},
            (0, 1),
            lw.make_residual_data,
            lambda rng: lw.make_residual_data(rng, L=3, width=5),
            lw.residual_hand_grad,
            residual_torch,
        ),
        Spelled(
            "conv_pool",
            "3x3 valid conv + 2x2 max-pool written with loops, 10x10 image; d/dK,img",
            {"A": conv_pool_a, "B": conv_pool_b, "C": conv_pool_c},
            (0, 1),
            lw.make_conv_pool_data,
            lambda rng: lw.make_conv_pool_data(rng, size=6),
            lw.conv_pool_hand_grad,
            conv_pool_torch,
        ),
    ]
}

SPELLINGS = {
    "A": "NumPy functions (np.dot, np.matmul, np.inner, np.sum, ...)",
    "B": "operators and methods (@, x.dot(w), .sum(), ...)",
    "C": "contractions (np.einsum, np.tensordot)",
}


def bind_torch(f: Callable, torch: Any) -> Callable:
    """`f` with its global `torch` bound to the torch module (imported by the caller)."""
    namespace = {"torch": torch, "__builtins__": builtins}
    return types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)


def first_call_case(name: str, spelling: str, quick: bool = False, seed: int = 0):
    """(f, argnums, args) for a first-call measurement in a new process (_first_call.py)."""
    w = WORKLOADS[name]
    return w.spellings[spelling], w.argnums, w.make_data(np.random.default_rng(seed), quick)
