"""The two-layer network every backpropagation tutorial starts with.

For one sample x with target y:

    z1 = W1 @ x + b1        hidden pre-activation
    h = max(0, z1)          ReLU
    yhat = w2 @ h + b2      linear output
    L = (yhat - y)**2 / 2   squared error

This script prints the gradient function chainrule writes for `loss`, checks
it against finite differences with `check_grad`, and trains the network with
stochastic gradient descent to fit a small "teacher" network.

Run it with:  python examples/seed_network.py
"""

import numpy as np

import chainrule


def loss(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    L = (yhat - y) ** 2 / 2
    return L


PARAMS = (0, 1, 2, 3)  # differentiate with respect to W1, b1, w2, b2


def teacher_data(rng, n=100, d=4):
    """Targets produced by a random network of the same shape, plus a little noise."""
    X = rng.normal(size=(n, d))
    V1, c1, v2 = rng.normal(size=(6, d)), rng.normal(size=6), rng.normal(size=6)
    Y = np.maximum(0, X @ V1.T + c1) @ v2 + 0.05 * rng.normal(size=n)
    return X, Y


def main():
    rng = np.random.default_rng(7)
    X, Y = teacher_data(rng)
    hidden, d = 12, X.shape[1]
    params = [
        rng.normal(size=(hidden, d)) * 0.5,
        np.full(hidden, 0.1),
        rng.normal(size=hidden) * 0.3,
        0.0,
    ]

    # 1. The generated code: one line per operation, then the adjoints in reverse.
    step = chainrule.value_and_grad(loss, argnums=PARAMS)
    chainrule.show(step)

    # 2. The gradient agrees with central finite differences (for every argument,
    #    including the input x).
    worst = chainrule.check_grad(loss, *params, X[0], Y[0], argnums=(0, 1, 2, 3, 4))
    print(f"check_grad: largest difference from finite differences {worst:.1e}\n")

    # 3. Training: one epoch = one pass over the shuffled samples.
    lr = 0.01
    for epoch in range(16):
        total = 0.0
        for i in rng.permutation(len(X)):
            L, grads = step(*params, X[i], Y[i])
            total += L
            params = [p - lr * g for p, g in zip(params, grads, strict=True)]
        if epoch % 3 == 0 or epoch == 15:
            print(f"epoch {epoch:2d}  mean loss during the epoch {total / len(X):.4f}")


if __name__ == "__main__":
    main()
