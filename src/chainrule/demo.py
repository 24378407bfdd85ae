"""`python -m chainrule demo`: differentiate a two-layer network and train it.

The network is the usual first example of backpropagation: one hidden ReLU
layer, one linear output and a squared error, for a single sample

    z1 = W1 @ x + b1,  h = max(0, z1),  yhat = w2 @ h + b2,  L = (yhat - y)**2 / 2

The demo prints the gradient function chainrule writes for it, then fits the
network to a small synthetic regression problem with plain stochastic
gradient descent, one sample per step.  Everything is seeded, so two runs
print the same numbers.
"""

from __future__ import annotations

import inspect
import sys
from typing import TextIO

import numpy as np

from .api import grad
from .highlight import highlight

PARAMS = (0, 1, 2, 3)  # W1, b1, w2, b2: the arguments we train


def loss(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    L = (yhat - y) ** 2 / 2
    return L


def make_data(rng: np.random.Generator, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """n points in [-1, 1]^3 and a smooth nonlinear target for each."""
    X = rng.uniform(-1.0, 1.0, size=(n, 3))
    Y = np.sin(2.0 * X[:, 0]) + X[:, 1] * X[:, 2]
    return X, Y


def init_params(rng: np.random.Generator, hidden: int = 16) -> list:
    """Small random weights; a slightly positive bias keeps most ReLUs alive at the start."""
    W1 = rng.normal(size=(hidden, 3)) * 0.3
    b1 = np.full(hidden, 0.1)
    w2 = rng.normal(size=hidden) / np.sqrt(hidden)
    b2 = 0.0
    return [W1, b1, w2, b2]


def mean_loss(params: list, X: np.ndarray, Y: np.ndarray) -> float:
    """The average of the (undifferentiated) loss over the whole data set."""
    return float(np.mean([loss(*params, x, y) for x, y in zip(X, Y, strict=True)]))


def train(
    steps: int = 600,
    lr: float = 0.05,
    seed: int = 0,
    every: int = 50,
    out: TextIO | None = None,
) -> tuple[float, float]:
    """Fit the network with SGD; print the mean loss every `every` steps.

    Returns the mean loss before and after training.
    """
    out = out or sys.stdout
    rng = np.random.default_rng(seed)
    X, Y = make_data(rng)
    params = init_params(rng)
    dloss = grad(loss, argnums=PARAMS)
    first = mean_loss(params, X, Y)
    print(f"step {0:4d}  loss {first:.4f}", file=out)
    for step in range(1, steps + 1):
        i = rng.integers(len(X))
        grads = dloss(*params, X[i], Y[i])
        params = [p - lr * g for p, g in zip(params, grads, strict=True)]
        if step % every == 0:
            print(f"step {step:4d}  loss {mean_loss(params, X, Y):.4f}", file=out)
    last = mean_loss(params, X, Y)
    return first, last


def main(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    print("The network, a plain NumPy function (chainrule/demo.py):\n", file=out)
    print(highlight(inspect.getsource(loss), out), file=out)
    print(
        "chainrule writes this gradient function for it (grad(loss, argnums=(0, 1, 2, 3))):\n",
        file=out,
    )
    print(highlight(grad(loss, argnums=PARAMS).source, out), file=out)
    print(
        "Training on 64 synthetic points (y = sin(2 x0) + x1 x2), SGD, one sample per step:\n",
        file=out,
    )
    first, last = train(out=out)
    print(
        f"\ndone: the mean loss fell from {first:.4f} to {last:.4f} ({first / last:.0f}x lower)",
        file=out,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
