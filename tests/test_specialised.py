"""The variant compiled at the first call: ranks known, code as a person writes it.

The first call of a `grad` function compiles a variant for the ndim of its
array arguments (those with no axis of length 1) and its Python scalars
(shapes.array_dims).  These tests check that the variant's backward
statements do not depend on how a product is spelled, that they read like
hand-written code, and that the variant agrees with the general code, with
finite differences and with autograd.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import weights

import chainrule
from chainrule.pipeline import CompileRequest, compile_function


def variant_source(f, args, argnums=(0, 1), mode="grad"):
    kinds = tuple(
        (i, -1) if isinstance(a, float) else (i, a.ndim)
        for i, a in enumerate(args)
        if isinstance(a, float) or 1 not in a.shape
    )
    return compile_function(CompileRequest(f, argnums, mode, True, kinds)).source


def backward_statements(source: str) -> list[str]:
    """The code lines of the backward pass, comments and the def line left out."""
    lines = source.split("# backward pass", 1)[1].splitlines()[1:]
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def mv_dot(W, h):
    return np.tanh(np.dot(W, h))


def mv_matmul_op(W, h):
    return np.tanh(W @ h)


def mv_method(W, h):
    return np.tanh(W.dot(h))


def mv_np_matmul(W, h):
    return np.tanh(np.matmul(W, h))


def mv_tensordot(W, h):
    return np.tanh(np.tensordot(W, h, 1))


def mv_inner(W, h):
    return np.tanh(np.inner(W, h))


SPELLINGS = [mv_dot, mv_matmul_op, mv_method, mv_np_matmul, mv_tensordot]


def loss_of(spelled):
    def loss(W, h):
        return np.sum(spelled(W, h) ** 2)

    return loss


def sum_dot(W, h):
    return np.sum(np.tanh(np.dot(W, h)) ** 2)


def sum_matmul_op(W, h):
    return np.sum(np.tanh(W @ h) ** 2)


def sum_method(W, h):
    return np.sum(np.tanh(W.dot(h)) ** 2)


def sum_np_matmul(W, h):
    return np.sum(np.tanh(np.matmul(W, h)) ** 2)


def sum_tensordot(W, h):
    return np.sum(np.tanh(np.tensordot(W, h, 1)) ** 2)


def sum_inner(W, h):
    return np.sum(np.tanh(np.inner(W, h)) ** 2)


LOSSES = [sum_dot, sum_matmul_op, sum_method, sum_np_matmul, sum_tensordot]

SHAPES = {
    "matrix-vector": ((4, 3), (3,)),
    "vector-matrix": ((3,), (3, 4)),
    "matrix-matrix": ((4, 3), (3, 5)),
    "vector-vector": ((3,), (3,)),
}

EXPECTED = {  # what a person writes for each side's gradient
    "matrix-vector": ["np.outer(", "W.T @ "],
    "vector-matrix": [" @ d", "np.outer(W, "],
    "matrix-matrix": [" @ h.T", "W.T @ "],
    "vector-vector": [" * h", " * W"],
}


@pytest.mark.parametrize("case", list(SHAPES))
def test_spellings_of_a_product_give_identical_backward_statements(case):
    W, h = (weights(s, seed=i) for i, s in enumerate(SHAPES[case]))
    losses = LOSSES + ([sum_inner] if case in ("matrix-vector", "vector-vector") else [])
    texts = {}
    for f in losses:
        source = variant_source(f, (W, h))
        assert "dot_grad" not in source and "matmul_grad" not in source, source
        assert "unbroadcast" not in source and "tensordot_grad" not in source, source
        texts[f.__name__] = backward_statements(source)
    first = texts[losses[0].__name__]
    for name, text in texts.items():
        assert text == first, f"{name} differs from {losses[0].__name__}:\n" + "\n".join(text)
    joined = "\n".join(first)
    for piece in EXPECTED[case]:
        assert piece in joined, joined


@pytest.mark.parametrize("case", list(SHAPES))
@pytest.mark.parametrize("f", LOSSES, ids=lambda f: f.__name__)
def test_specialised_products_agree_with_autograd(case, f):
    W, h = (weights(s, seed=i) for i, s in enumerate(SHAPES[case]))
    g = chainrule.grad(f, argnums=(0, 1))
    got = g(W, h)
    again = g(W, h)  # the variant, from the guard's fast path
    expected = autograd.grad(lambda W, h: anp.sum(anp.tanh(anp.dot(W, h)) ** 2), (0, 1))(W, h)
    for a, b, c in zip(got, again, expected):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, c, rtol=1e-10, atol=1e-12)
    chainrule.check_grad(f, W, h)


def dense(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2)


def test_a_bias_added_to_a_batch_sums_its_leading_axis():
    W, b, X = weights((3, 4)), weights((4,), 1), weights((5, 3), 2)
    source = variant_source(dense, (W, b, X))
    body = "\n".join(backward_statements(source))
    assert ".sum(axis=0)" in body and "unbroadcast" not in body, source
    expected = autograd.grad(lambda W, b: anp.sum(anp.tanh(anp.dot(X, W) + b) ** 2), (0, 1))(W, b)
    g = chainrule.grad(dense, argnums=(0, 1))
    for got, want in zip(g(W, b, X), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_a_new_batch_size_reuses_the_variant_and_length_one_axes_take_the_general_code():
    g = chainrule.grad(dense, argnums=(0, 1))
    W, b = weights((3, 4)), weights((4,), 1)
    g(W, b, weights((5, 3), 2))
    variant = g._variant
    for X, bias in [
        (weights((7, 3), 3), b),
        (weights((1, 3), 4), b),  # a batch of one: an axis of length 1
        (weights((6, 3), 5), weights((1,), 6)),  # a bias broadcast along its only axis
    ]:
        got = g(W, bias, X)
        want = autograd.grad(lambda W, c, X=X: anp.sum(anp.tanh(anp.dot(X, W) + c) ** 2), (0, 1))(
            W, bias
        )
        for a, e in zip(got, want):
            assert a.shape == e.shape
            np.testing.assert_allclose(a, e, rtol=1e-10)
    assert g._variant is variant  # compiled once for every batch size


def two_layer(W1, b1, w2, b2, x, y):
    z1 = np.dot(W1, x) + b1
    h = np.maximum(0, z1)
    yhat = np.dot(w2, h) + b2
    return np.sum((yhat - y) ** 2) / 2


def test_the_seed_network_variant_reads_like_hand_written_code():
    args = (weights((4, 3)), weights((4,), 1), weights((4,), 2), 0.5, weights((3,), 3), 0.25)
    source = variant_source(two_layer, args, argnums=(0, 1, 2, 3))
    body = backward_statements(source)
    assert "dW1 = np.outer(dz1, x)" in body, source
    assert not any("unbroadcast" in s or "np.full" in s or "dot_grad" in s for s in body), source
    g = chainrule.grad(two_layer, argnums=(0, 1, 2, 3))
    want = autograd.grad(
        lambda W1, b1, w2, b2: (
            anp.sum((anp.dot(w2, anp.maximum(0, anp.dot(W1, args[4]) + b1)) + b2 - args[5]) ** 2)
            / 2
        ),
        (0, 1, 2, 3),
    )(*args[:4])
    for got, expected in zip(g(*args), want):
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert isinstance(g(*args)[3], float)


def test_second_order_still_transforms_the_general_code():
    W, h = weights((3, 3)), weights((3,), 1)
    H = chainrule.hessian(lambda h: sum_dot(W, h))(h)
    want = autograd.hessian(lambda h: anp.sum(anp.tanh(anp.dot(W, h)) ** 2))(h)
    np.testing.assert_allclose(H, want, rtol=1e-8, atol=1e-10)
    gg = chainrule.grad(lambda h: np.sum(chainrule.grad(sum_dot, argnums=1)(W, h)))
    np.testing.assert_allclose(gg(h), want.sum(axis=0), rtol=1e-8, atol=1e-10)


def softmax_mlp(W1, b1, W2, b2, X, Y):
    H = np.maximum(0, np.dot(X, W1) + b1)
    logits = H @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * (shifted - lse)) / X.shape[0]


def rnn(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(Wh, h) + Wx @ xs[t] + b)
    return np.mean(h**2)


def logistic(w, b, X, y):
    p = 1 / (1 + np.exp(-(X.dot(w) + b)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


FLOAT32_CASES = {
    "softmax_mlp": (
        softmax_mlp,
        [(6, 5), (5,), (5, 3), (3,), (8, 6), (8, 3)],
        (0, 1, 2, 3),
    ),
    "rnn": (rnn, [(4, 4), (4, 3), (4,), (4,), (5, 3)], (0, 1, 2, 3)),
    "logistic": (logistic, [(5,), (), (20, 5), (20,)], (0, 1)),
}


@pytest.mark.parametrize("case", list(FLOAT32_CASES))
def test_float32_in_float32_gradients_out(case):
    f, shapes, argnums = FLOAT32_CASES[case]
    args64 = [weights(s, seed=i) * 0.5 for i, s in enumerate(shapes)]
    if case == "logistic":
        args64[3] = (args64[3] > 0).astype(float)
    args32 = [a.astype(np.float32) for a in args64]
    g = chainrule.grad(f, argnums=argnums)
    for _ in range(2):  # the first call, then the variant's fast path
        got = g(*args32)
        for a in got:
            assert a.dtype == np.float32, (case, a.dtype)
    general = chainrule.grad(f, argnums=argnums).compiled().function(*args32)
    for a in general:
        assert np.asarray(a).dtype == np.float32
    for a, e in zip(got, g(*args64)):
        np.testing.assert_allclose(a, e, rtol=2e-3, atol=2e-4)


def unpacks(x):
    a, b, c = x[:3]
    return a * b**2 + np.sin(c)


def carried(W, h0, xs):
    h = h0
    acc = 0.0
    for t in range(xs.shape[0]):
        g = h
        h = np.tanh(W @ g + xs[t])
        acc = acc + np.sum(h * g)
    return acc + np.sum(h**2)


def test_copies_and_in_place_sums_keep_the_gradient():
    x = np.array([0.3, -0.5, 0.7, 1.1])
    g = chainrule.grad(unpacks)
    want = autograd.grad(lambda x: x[0] * x[1] ** 2 + anp.sin(x[2]))(x)
    np.testing.assert_allclose(g(x), want, rtol=1e-12)
    W, h0, xs = weights((3, 3)) * 0.5, weights((3,), 1), weights((4, 3), 2)
    source = variant_source(carried, (W, h0, xs), argnums=(0, 1))
    assert "dW += " in source, source
    g = chainrule.grad(carried, argnums=(0, 1))
    first, again = g(W, h0, xs), g(W, h0, xs)  # the buffer is new at every call

    def reference(W, h0):
        h, acc = h0, 0.0
        for t in range(xs.shape[0]):
            prev = h
            h = anp.tanh(anp.dot(W, prev) + xs[t])
            acc = acc + anp.sum(h * prev)
        return acc + anp.sum(h**2)

    for a, b, c in zip(first, again, autograd.grad(reference, (0, 1))(W, h0)):
        np.testing.assert_allclose(a, c, rtol=1e-10)
        np.testing.assert_allclose(b, c, rtol=1e-10)
    H = chainrule.hessian(lambda h0: carried(W, h0, xs))(h0)
    np.testing.assert_allclose(H, autograd.hessian(lambda h0: reference(W, h0))(h0), rtol=1e-7)


def sorted_and_factored(x, a):
    s = np.sort(x, axis=1) * x
    c = np.linalg.cholesky(a) * a
    return np.sum(s**2) + np.sum(c) + np.sum(np.median(x, axis=0) * x[0])


def test_shape_rules_of_sort_cholesky_and_median():
    """np.sort (along an axis), np.linalg.cholesky and np.median (a reduction) have shape
    rules: the specialised code knows their results' shapes, so the products' gradients
    need no unbroadcast."""
    x = weights((3, 4))
    b = weights((3, 3), 1)
    a = b @ b.T + 3 * np.eye(3)
    source = variant_source(sorted_and_factored, (x, a))
    assert "unbroadcast" not in "\n".join(backward_statements(source)), source
    chainrule.check_grad(sorted_and_factored, x, a)
    chainrule.check_grad(sorted_and_factored, x, a, argnums=1)
