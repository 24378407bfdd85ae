"""The loop workloads of examples/loop_workloads.py: hand-written and chainrule gradients.

Two groups of tests:

* the hand-written backward passes against central finite differences, and
  the textbook facts about pooling and convolution shown with them;
* chainrule's gradients of the same loop-written functions against the
  hand-written ones and finite differences, and the same textbook facts
  falling out of the compiler.

Data comes from seeded generators (hypothesis draws sizes, loop counts
including zero, and seeds), so max-pooling never meets a tie.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule.testing import numerical_vjp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import loop_workloads as lw  # noqa: E402
from helpers import FEW

SEEDS = st.integers(0, 2**32 - 1)


# -- helpers ----------------------------------------------------------------------------


def assert_matches_fd(f, args, argnums, grads, rtol=1e-5, atol=1e-6):
    assert len(grads) == len(argnums)
    for g, i in zip(grads, argnums):
        assert np.shape(g) == np.shape(args[i]), (f.__name__, i)
        np.testing.assert_allclose(
            g,
            numerical_vjp(f, args, 1.0, i),
            rtol=rtol,
            atol=atol,
            err_msg=f"{f.__name__}, argument {i}",
        )


def assert_same(grads, expected, rtol=1e-9, atol=1e-11):
    assert len(grads) == len(expected)
    for k, (g, e) in enumerate(zip(grads, expected)):
        assert np.shape(g) == np.shape(e), k
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"gradient {k}")


def directional_error(f, args, argnums, grads, rng):
    """Relative error of sum(grad * v) against a central difference of f along v."""
    fd, vs = lw.directional_fd(f, args, argnums, rng)
    exact = sum(float(np.sum(g * vs[i])) for g, i in zip(grads, argnums))
    return abs(exact - fd) / max(abs(fd), 1e-12)


def small_data(name, rng):
    """Inputs small enough for entry-by-entry finite differences."""
    return {
        "rnn": lambda: lw.make_rnn_data(rng, T=5, hidden=4, inputs=3),
        "oscillator": lambda: lw.make_oscillator_data(rng, n=200),
        "residual": lambda: lw.make_residual_data(rng, L=4, width=5),
        "conv_pool": lambda: lw.make_conv_pool_data(rng),
        "conv_avgpool": lambda: lw.make_conv_pool_data(rng),
        "conv": lambda: lw.make_conv_data(rng, size=7),
        "maxpool": lambda: lw.make_pool_data(rng, size=6),
        "avgpool": lambda: lw.make_pool_data(rng, size=6),
    }[name]()


def cross_correlate_valid(a, k):
    """c[i, j] = sum over (u, v) of a[i + u, j + v] * k[u, v], for every full overlap."""
    windows = np.lib.stride_tricks.sliding_window_view(a, k.shape)
    return np.einsum("ijuv,uv->ij", windows, k)


def convolve_full(g, k):
    """c[p, q] = sum over (u, v) of g[p - u, q - v] * k[u, v], wherever they overlap at all."""
    c = np.zeros((g.shape[0] + k.shape[0] - 1, g.shape[1] + k.shape[1] - 1))
    for p in range(c.shape[0]):
        for q in range(c.shape[1]):
            for u in range(k.shape[0]):
                for v in range(k.shape[1]):
                    if 0 <= p - u < g.shape[0] and 0 <= q - v < g.shape[1]:
                        c[p, q] += g[p - u, q - v] * k[u, v]
    return c


def assert_routes_to_winner(dx, x, W):
    """Every 2x2 window's gradient sits, whole, on the window's largest entry."""
    expected = np.zeros_like(x)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            a, b = np.unravel_index(np.argmax(window), (2, 2))
            expected[2 * i + a, 2 * j + b] = W[i, j]
    np.testing.assert_array_equal(dx, expected)


def assert_spreads_evenly(dx, W):
    """Every 2x2 window's entries get a quarter of the window's gradient each."""
    expected = np.zeros_like(dx)
    expected[: 2 * W.shape[0], : 2 * W.shape[1]] = np.kron(W, np.ones((2, 2))) / 4
    np.testing.assert_allclose(dx, expected, rtol=1e-14, atol=0)


# -- the reference helpers themselves ---------------------------------------------------


def test_reference_convolutions_agree_with_numpy_in_one_dimension():
    rng = np.random.default_rng(0)
    a, g, k = rng.normal(size=9), rng.normal(size=4), rng.normal(size=3)
    np.testing.assert_allclose(
        cross_correlate_valid(a[None, :], g[None, :])[0], np.correlate(a, g, "valid")
    )
    np.testing.assert_allclose(convolve_full(g[None, :], k[None, :])[0], np.convolve(g, k))
    np.testing.assert_allclose(convolve_full(g[:, None], k[:, None])[:, 0], np.convolve(g, k))


def test_reference_convolutions_agree_with_scipy_when_installed():
    rng = np.random.default_rng(1)
    a, g, k = rng.normal(size=(7, 6)), rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    c = cross_correlate_valid(a, g)
    assert c.shape == (4, 4)
    assert np.isclose(c[1, 2], np.sum(a[1:5, 2:5] * g))
    full = convolve_full(g, k)
    assert full.shape == (6, 4)
    assert np.isclose(full[0, 0], g[0, 0] * k[0, 0])
    try:
        from scipy import signal
    except ImportError:  # scipy is optional; the checks above do not need it
        return
    np.testing.assert_allclose(c, signal.correlate2d(a, g, mode="valid"))
    np.testing.assert_allclose(full, signal.convolve2d(g, k, mode="full"))


# -- hand-written backward passes ------------------------------------------------------


@pytest.mark.parametrize("name", list(lw.WORKLOADS))
def test_hand_grad_matches_finite_differences(name):
    w = lw.WORKLOADS[name]
    args = small_data(name, np.random.default_rng(3))
    assert_matches_fd(w.fn, args, w.argnums, w.hand_grad(*args))


@pytest.mark.parametrize("name", list(lw.WORKLOADS))
def test_hand_grad_at_benchmark_size(name):
    w = lw.WORKLOADS[name]
    rng = np.random.default_rng(4)
    args = w.make_data(rng)
    grads = w.hand_grad(*args)
    for _ in range(3):
        assert directional_error(w.fn, args, w.argnums, grads, rng) < 1e-6


@FEW
@given(T=st.integers(0, 6), hidden=st.integers(1, 4), inputs=st.integers(1, 3), seed=SEEDS)
def test_hand_rnn_any_length(T, hidden, inputs, seed):
    args = lw.make_rnn_data(np.random.default_rng(seed), T=T, hidden=hidden, inputs=inputs)
    assert_matches_fd(lw.rnn_loss, args, (0, 1, 2, 3), lw.rnn_hand_grad(*args))


@FEW
@given(n=st.integers(0, 60), k=st.floats(0.5, 5), c=st.floats(0, 1), seed=SEEDS)
def test_hand_oscillator_any_length(n, k, c, seed):
    args = lw.make_oscillator_data(np.random.default_rng(seed), n=n, dt=0.05)
    args = (k, c, *args[2:])
    assert_matches_fd(lw.oscillator_loss, args, (0, 1), lw.oscillator_hand_grad(*args))


@FEW
@given(L=st.integers(0, 5), width=st.integers(1, 5), seed=SEEDS)
def test_hand_residual_any_depth(L, width, seed):
    args = lw.make_residual_data(np.random.default_rng(seed), L=L, width=width)
    assert_matches_fd(lw.residual_loss, args, (0, 1), lw.residual_hand_grad(*args))


@FEW
@given(rows=st.integers(3, 9), cols=st.integers(3, 9), seed=SEEDS)
def test_hand_conv_pool_any_image(rows, cols, seed):
    rng = np.random.default_rng(seed)
    K, img = rng.normal(size=(3, 3)), rng.normal(size=(rows, cols))
    W = rng.normal(size=((rows - 2) // 2, (cols - 2) // 2))
    assert_matches_fd(lw.conv_pool_loss, (K, img, W), (0, 1), lw.conv_pool_hand_grad(K, img, W))


def test_hand_maxpool_routes_the_gradient_to_the_winner():
    x, W = lw.make_pool_data(np.random.default_rng(5), size=8)
    (dx,) = lw.maxpool_hand_grad(x, W)
    assert_routes_to_winner(dx, x, W)
    assert np.count_nonzero(dx) == W.size


def test_hand_avgpool_spreads_the_gradient_evenly():
    x, W = lw.make_pool_data(np.random.default_rng(6), size=8)
    (dx,) = lw.avgpool_hand_grad(x, W)
    assert_spreads_evenly(dx, W)


@pytest.mark.parametrize("size, k", [(10, 3), (7, 2), (5, 5), (6, 1)])
def test_hand_conv_gradients_are_correlation_and_full_convolution(size, k):
    K, img, G = lw.make_conv_data(np.random.default_rng(size * k), size=size, k=k)
    dK, dimg = lw.conv_hand_grad(K, img, G)
    np.testing.assert_allclose(dK, cross_correlate_valid(img, G), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dimg, convolve_full(G, K), rtol=1e-12, atol=1e-12)


# -- chainrule on the loop-written functions --------------------------------------------


def chainrule_grads(w, args):
    """chainrule's gradients, checking that the caller's arrays come back unchanged."""
    before = [np.copy(a) for a in args]
    grads = chainrule.grad(w.fn, argnums=w.argnums)(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    return grads


@pytest.mark.parametrize("name", list(lw.WORKLOADS))
def test_chainrule_matches_hand_written_at_benchmark_size(name):
    w = lw.WORKLOADS[name]
    args = w.make_data(np.random.default_rng(7))
    assert_same(chainrule_grads(w, args), w.hand_grad(*args))


@pytest.mark.parametrize("name", list(lw.WORKLOADS))
def test_chainrule_matches_finite_differences(name):
    w = lw.WORKLOADS[name]
    args = small_data(name, np.random.default_rng(8))
    assert_matches_fd(w.fn, args, w.argnums, chainrule_grads(w, args))


@pytest.mark.parametrize("name", lw.SEED_WORKLOADS)
def test_chainrule_value_and_grad(name):
    w = lw.WORKLOADS[name]
    args = w.make_data(np.random.default_rng(9))
    value, grads = chainrule.value_and_grad(w.fn, argnums=w.argnums)(*args)
    assert np.isclose(value, w.fn(*args), rtol=1e-12)
    assert_same(grads, w.hand_grad(*args))


@FEW
@given(T=st.integers(0, 6), hidden=st.integers(1, 4), inputs=st.integers(1, 3), seed=SEEDS)
def test_chainrule_rnn_any_length(T, hidden, inputs, seed):
    args = lw.make_rnn_data(np.random.default_rng(seed), T=T, hidden=hidden, inputs=inputs)
    assert_same(chainrule_grads(lw.WORKLOADS["rnn"], args), lw.rnn_hand_grad(*args))


@FEW
@given(n=st.integers(0, 60), k=st.floats(0.5, 5), c=st.floats(0, 1), seed=SEEDS)
def test_chainrule_oscillator_any_length(n, k, c, seed):
    args = lw.make_oscillator_data(np.random.default_rng(seed), n=n, dt=0.05)
    args = (k, c, *args[2:])
    grads = chainrule_grads(lw.WORKLOADS["oscillator"], args)
    assert_same(grads, lw.oscillator_hand_grad(*args))


@FEW
@given(L=st.integers(0, 5), width=st.integers(1, 5), seed=SEEDS)
def test_chainrule_residual_any_depth(L, width, seed):
    args = lw.make_residual_data(np.random.default_rng(seed), L=L, width=width)
    assert_same(chainrule_grads(lw.WORKLOADS["residual"], args), lw.residual_hand_grad(*args))


@FEW
@given(rows=st.integers(3, 9), cols=st.integers(3, 9), seed=SEEDS)
def test_chainrule_conv_pool_any_image(rows, cols, seed):
    rng = np.random.default_rng(seed)
    K, img = rng.normal(size=(3, 3)), rng.normal(size=(rows, cols))
    W = rng.normal(size=((rows - 2) // 2, (cols - 2) // 2))
    grads = chainrule_grads(lw.WORKLOADS["conv_pool"], (K, img, W))
    assert_same(grads, lw.conv_pool_hand_grad(K, img, W))


def test_chainrule_maxpool_routes_the_gradient_to_the_winner():
    x, W = lw.make_pool_data(np.random.default_rng(10), size=8)
    dx = chainrule.grad(lw.maxpool_loss)(x, W)
    assert_routes_to_winner(dx, x, W)


def test_chainrule_avgpool_spreads_the_gradient_evenly():
    x, W = lw.make_pool_data(np.random.default_rng(11), size=8)
    dx = chainrule.grad(lw.avgpool_loss)(x, W)
    assert_spreads_evenly(dx, W)


@pytest.mark.parametrize("size, k", [(10, 3), (7, 2), (5, 5), (6, 1)])
def test_chainrule_conv_gradients_are_correlation_and_full_convolution(size, k):
    K, img, G = lw.make_conv_data(np.random.default_rng(size * k), size=size, k=k)
    dK, dimg = chainrule.grad(lw.conv_loss, argnums=(0, 1))(K, img, G)
    np.testing.assert_allclose(dK, cross_correlate_valid(img, G), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dimg, convolve_full(G, K), rtol=1e-12, atol=1e-12)


def test_chainrule_conv_pool_routes_through_the_winners():
    """In conv + max-pool, the conv output's gradient is W placed at each window's winner."""
    K, img, W = lw.make_conv_pool_data(np.random.default_rng(12))
    dK, dimg = chainrule.grad(lw.conv_pool_loss, argnums=(0, 1))(K, img, W)
    out = lw.conv_forward(K, img)
    dout = np.zeros_like(out)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            a, b = np.unravel_index(np.argmax(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]), (2, 2))
            dout[2 * i + a, 2 * j + b] = W[i, j]
    np.testing.assert_allclose(dK, cross_correlate_valid(img, dout), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dimg, convolve_full(dout, K), rtol=1e-12, atol=1e-12)
