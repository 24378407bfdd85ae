"""Logistic regression: chainrule's gradient is the textbook sum((p - t) * x).

With the logistic sigmoid p = 1 / (1 + exp(-w.x)) and the cross-entropy loss

    L(w) = -sum_i [ t_i log p_i + (1 - t_i) log(1 - p_i) ],

the derivative of the log terms cancels the derivative of the sigmoid and the
gradient collapses to

    dL/dw = sum_i (p_i - t_i) x_i    (in matrix form: X.T @ (p - t)).

This script builds a two-class data set, differentiates `nll` with chainrule,
compares the result with that closed form, and takes a few gradient steps.

Run it with:  python examples/logistic_regression.py
"""

import numpy as np

import chainrule


def nll(w, X, t):
    """Negative log-likelihood of labels t (0 or 1) under weights w."""
    z = X @ w
    p = 1 / (1 + np.exp(-z))
    L = -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))
    return L


def make_data(rng, n=200):
    """Two Gaussian blobs in the plane; a constant 1 column plays the bias."""
    t = (rng.random(n) < 0.5).astype(float)
    centers = np.where(t[:, None] == 1, [1.0, 1.0], [-1.0, -0.5])
    points = centers + rng.normal(scale=0.8, size=(n, 2))
    X = np.column_stack([points, np.ones(n)])
    return X, t


def main():
    rng = np.random.default_rng(42)
    X, t = make_data(rng)
    w = np.array([0.1, -0.2, 0.0])

    dnll = chainrule.grad(nll)  # with respect to w (argument 0)
    print("Generated gradient code:\n")
    chainrule.show(dnll)

    ours = dnll(w, X, t)
    p = 1 / (1 + np.exp(-(X @ w)))
    closed_form = np.sum((p - t)[:, None] * X, axis=0)  # sum_i (p_i - t_i) x_i
    print("chainrule gradient:       ", ours)
    print("sum((p - t) * x):         ", closed_form)
    print(f"max |difference|:          {np.max(np.abs(ours - closed_form)):.2e}")
    assert np.allclose(ours, closed_form, rtol=1e-10, atol=1e-10)

    print("\nGradient descent (step size 0.01):")
    loss_and_grad = chainrule.value_and_grad(nll)
    for step in range(31):
        L, dw = loss_and_grad(w, X, t)
        if step % 5 == 0:
            accuracy = np.mean((X @ w > 0) == (t == 1))
            print(f"  step {step:2d}  loss {L:8.3f}  accuracy {accuracy:.0%}")
        w = w - 0.01 * dw
    print("learned weights (x1, x2, bias):", np.round(w, 3))


if __name__ == "__main__":
    main()
