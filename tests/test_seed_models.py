"""The seed material's models, differentiated and checked against independent answers."""

import numpy as np
import pytest
from helpers import MORE
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import check_grad, grad, value_and_grad


def two_layer(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    L = (yhat - y) ** 2 / 2
    return L


def two_layer_by_hand(W1, b1, w2, b2, x, y):
    """The textbook backward pass, written independently of chainrule."""
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    dyhat = yhat - y
    dw2 = dyhat * h
    db2 = dyhat
    dh = dyhat * w2
    dz1 = dh * (z1 > 0)
    return np.outer(dz1, x), dz1, dw2, db2


@MORE
@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**16))
def test_two_layer_network(n_in, n_hidden, seed):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(n_hidden, n_in))
    b1 = rng.normal(size=n_hidden)
    w2 = rng.normal(size=n_hidden)
    b2 = float(rng.normal())
    x = rng.normal(size=n_in)
    y = float(rng.normal())
    ours = grad(two_layer, argnums=(0, 1, 2, 3))(W1, b1, w2, b2, x, y)
    theirs = two_layer_by_hand(W1, b1, w2, b2, x, y)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    if np.all(np.abs(W1 @ x + b1) > 1e-4):  # finite differences need to stay off the kink
        assert check_grad(two_layer, W1, b1, w2, b2, x, y, argnums=(0, 1, 2, 3)) < 1e-5


def sigmoid_loss(w, b, X, t):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.sum(t * np.log(p) + (1.0 - t) * np.log(1.0 - p))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**16))
def test_logistic_regression_weight_gradient_is_error_times_input(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    t = (rng.uniform(size=n) < 0.5).astype(float)
    w = rng.normal(size=d) * 0.5
    b = 0.1
    dw, db = grad(sigmoid_loss, argnums=(0, 1))(w, b, X, t)
    prediction = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(dw, np.sum((prediction - t)[:, None] * X, axis=0), rtol=1e-10)
    assert db == pytest.approx(np.sum(prediction - t), rel=1e-10)
    assert check_grad(sigmoid_loss, w, b, X, t, argnums=(0, 1)) < 1e-5


def test_training_the_seed_network_lowers_the_loss():
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(8, 2)) * 0.5, np.zeros(8)
    w2, b2 = rng.normal(size=8) * 0.5, 0.0
    data = rng.uniform(-1, 1, size=(64, 2))
    targets = np.sin(2 * data[:, 0]) * data[:, 1]
    step = value_and_grad(two_layer, argnums=(0, 1, 2, 3))

    def epoch_loss():
        return np.mean([two_layer(W1, b1, w2, b2, x, y) for x, y in zip(data, targets)])

    before = epoch_loss()
    for _ in range(20):
        for x, y in zip(data, targets):
            _, (dW1, db1, dw2, db2) = step(W1, b1, w2, b2, x, y)
            W1, b1, w2, b2 = W1 - 0.05 * dW1, b1 - 0.05 * db1, w2 - 0.05 * dw2, b2 - 0.05 * db2
    assert epoch_loss() < 0.5 * before


def test_the_generated_backward_pass_reads_like_the_textbook():
    source = grad(two_layer, argnums=(0, 1, 2, 3)).source
    assert "dz1 = dh * (0 < z1)" in source  # ReLU: the max gate routes to the winner
    assert "# h = np.maximum(0, z1)" in source
    assert "max gate" in source and "add gate" in source
