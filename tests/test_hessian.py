"""Jacobians, Hessians and higher derivatives, against finite differences.

jacfwd (forward mode) and jacrev (reverse mode) must agree with each other
and with finite differences, in JAX's layout (output shape, then input
shape).  hessian is forward over reverse (the forward transformation of the
code grad generated): symmetric, and equal to finite differences of grad.
hvp equals hessian @ v.  grad(grad(f)) and jacfwd(grad(f)) transform
generated code again, through branches and loops.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEWER, check_vjp
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import grad, hessian, hvp, jacfwd, jacrev, jvp
from chainrule import runtime as rt
from chainrule.testing import numerical_jacobian, numerical_jvp

rng = np.random.default_rng(11)


# -- functions ------------------------------------------------------------------------


def layer(x, W, b):
    return np.tanh(W @ x + b)


def wide(x):  # R^2 -> R^(3, 2)
    return np.stack([np.sin(x), x * x[0], np.exp(-x)])


def energy(x):
    return np.sum(np.tanh(x) ** 2) + np.sum(x[0] * x) + np.log(1 + np.sum(x * x))


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def two_args(x, w):
    return np.sum(np.sin(x * w)) + np.sum(x) * np.sum(w**2)


def branchy(x):
    if np.sum(x) > 0:
        y = x * x * x
    else:
        y = np.exp(x) + x
    return np.sum(y * x)


def looped(x, n):
    h = x
    for i in range(n):
        h = np.tanh(h * 1.3 + 0.1 * i)
    return np.sum(h**2)


def recurrent(x, W):
    h = np.zeros(2)
    total = 0.0
    for t in range(3):
        h = np.tanh(W @ h + x[t])
        total = total + np.sum(h * h)
    return total


def mixed_control(x):
    acc = 0.0
    for v in x:
        if v > 0:
            acc = acc + v**3
        else:
            acc = acc + np.sin(v)
    return acc * np.sum(x)


def appended(x):
    hs = []
    h = x[0]
    for i in range(3):
        h = np.cos(h) * x[1] + i
        hs.append(h)
    return np.sum(np.stack(hs) * x[2])


def einsum_energy(x, W):
    return np.sum(np.einsum("i,ij,j->j", x, W, x) ** 2)


def scalar_f(x):
    return np.sin(x) * x**3


def matmul_loss(W, x):
    return np.sum((W @ x) ** 2) + np.sum(W * W * W)


# -- Jacobians -----------------------------------------------------------------------


def test_jacobians_agree_with_each_other_and_fd():
    x, W, b = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2)
    for argnum in range(3):
        jf = jacfwd(layer, argnum)(x, W, b)
        jr = jacrev(layer, argnum)(x, W, b)
        fd = numerical_jacobian(layer, (x, W, b), argnum)
        assert jf.shape == (2,) + np.shape((x, W, b)[argnum])
        np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(jf, fd, rtol=1e-5, atol=1e-7)


def test_jacobian_layouts():
    x = np.array([0.3, -0.7])
    jf, jr = jacfwd(wide)(x), jacrev(wide)(x)
    assert jf.shape == jr.shape == (3, 2, 2)
    np.testing.assert_allclose(jf, numerical_jacobian(wide, (x,), 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(jr, jf, atol=1e-12)
    assert isinstance(jacfwd(scalar_f)(0.5), float)  # scalar in, scalar out
    g = jacrev(energy)(x)  # scalar out: the gradient
    np.testing.assert_allclose(g, grad(energy)(x), atol=1e-12)


def test_tuple_argnums():
    x, W, b = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2)
    jx, jW = jacfwd(layer, (0, 1))(x, W, b)
    rx, rW = jacrev(layer, argnums=(0, 1))(x, W, b)
    np.testing.assert_allclose(jx, rx, atol=1e-12)
    np.testing.assert_allclose(jW, rW, atol=1e-12)
    assert jW.shape == (2, 2, 3)


@FEWER
@given(
    hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-2, 2)),
    st.integers(1, 3),
)
def test_hypothesis_jacobians(x, k):
    def f(x, k):
        return np.tanh(np.outer(np.arange(1.0, k + 1), x) + x)

    jf = jacfwd(f)(x, k)
    np.testing.assert_allclose(jf, jacrev(f)(x, k), atol=1e-12)
    np.testing.assert_allclose(jf, numerical_jacobian(f, (x, k), 0), rtol=1e-5, atol=1e-7)


# -- Hessians ------------------------------------------------------------------------


def check_hessian(f, *args, argnum=0, rtol=1e-5, atol=1e-6):
    H = hessian(f, argnum)(*args)
    x = args[argnum]
    assert np.shape(H) == np.shape(x) + np.shape(x)
    n = int(np.size(x))
    flat = np.reshape(H, (n, n))
    np.testing.assert_allclose(flat, flat.T, rtol=1e-8, atol=1e-10, err_msg="not symmetric")
    fd = numerical_jacobian(grad(f, argnum), args, argnum)
    np.testing.assert_allclose(H, fd, rtol=rtol, atol=atol, err_msg="hessian vs FD of grad")
    return H


def test_hessian_straight_line():
    H = check_hessian(rosenbrock, np.array([0.5, -0.3]))
    x, y = 0.5, -0.3  # the textbook Hessian, as a cross-check of the layout
    expected = [[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200]]
    np.testing.assert_allclose(H, expected, rtol=1e-10)
    check_hessian(energy, rng.normal(size=4))
    check_hessian(scalar_f, 0.8)


def test_hessian_matmul_einsum_and_second_argument():
    check_hessian(einsum_energy, rng.normal(size=3), rng.normal(size=(3, 3)))
    W, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    check_hessian(matmul_loss, W, x)
    check_hessian(matmul_loss, W, x, argnum=1)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_hessian_branches(sign):
    check_hessian(branchy, sign * np.array([0.4, 0.9, 0.2]))


def test_hessian_loops():
    check_hessian(looped, rng.normal(size=3), 4)
    check_hessian(recurrent, rng.normal(size=(3, 2)), rng.normal(size=(2, 2)))
    check_hessian(recurrent, rng.normal(size=(3, 2)), rng.normal(size=(2, 2)), argnum=1)
    check_hessian(mixed_control, np.array([0.5, -0.4, 1.2, -1.1]))
    check_hessian(appended, np.array([0.4, 1.3, 0.2]))


def test_hessian_tuple_argnums_blocks():
    x, w = rng.normal(size=3), rng.normal(size=3)
    (Hxx, Hxw), (Hwx, Hww) = hessian(two_args, (0, 1))(x, w)
    np.testing.assert_allclose(Hxw, Hwx.T, atol=1e-10)
    np.testing.assert_allclose(Hxw, numerical_jacobian(grad(two_args, 0), (x, w), 1), atol=1e-6)
    np.testing.assert_allclose(Hww, hessian(two_args, 1)(x, w), atol=1e-12)


@FEWER
@given(hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-1.5, 1.5)), st.integers(0, 3))
def test_hypothesis_hessian_loops(x, n):
    check_hessian(looped, x, n)


# -- Hessian-vector products -----------------------------------------------------------


def test_hvp_equals_hessian_times_v():
    x, v = rng.normal(size=4), rng.normal(size=4)
    np.testing.assert_allclose(hvp(energy, (x,), (v,)), hessian(energy)(x) @ v, atol=1e-10)
    x3 = rng.normal(size=(3, 2))
    W, V = rng.normal(size=(2, 2)), rng.normal(size=(3, 2))
    hv = hvp(recurrent, (x3, W), (V, None))[0]
    H = hessian(recurrent)(x3, W).reshape(6, 6)
    np.testing.assert_allclose(hv, (H @ V.ravel()).reshape(3, 2), atol=1e-10)


def test_hvp_tuple_blocks():
    x, w = rng.normal(size=3), rng.normal(size=3)
    vx, vw = rng.normal(size=3), rng.normal(size=3)
    hx, hw = hvp(two_args, (x, w), (vx, vw))
    (Hxx, Hxw), (Hwx, Hww) = hessian(two_args, (0, 1))(x, w)
    np.testing.assert_allclose(hx, Hxx @ vx + Hxw @ vw, atol=1e-10)
    np.testing.assert_allclose(hw, Hwx @ vx + Hww @ vw, atol=1e-10)


# -- closure: transforming generated code again ----------------------------------------


def test_grad_of_grad():
    d2 = grad(grad(scalar_f))
    x, h = 0.7, 1e-5
    g = grad(scalar_f)
    assert d2(x) == pytest.approx(numerical_jvp(g, (x,), (1.0,), eps=h), rel=1e-6)
    assert "def grad_grad_scalar_f(x):" in d2.source
    d3 = grad(grad(grad(scalar_f)))
    assert d3(x) == pytest.approx(numerical_jvp(d2, (x,), (1.0,), eps=h), rel=1e-5)


def scalar_loop(x):
    h = x
    for i in range(3):
        h = np.tanh(h * 1.5 + 0.1 * i) * x
    return h


def scalar_branches(x):
    if x > 0.2:
        y = x * np.sin(x)
    else:
        y = np.exp(x) * x
    while np.abs(y) < 2.0:
        y = y * 1.7 + x * x
    return y


def vector_loop(x, W):
    h = x
    for _ in range(2):
        h = np.tanh(W @ h) + x
    return np.sum(h * h)


@pytest.mark.parametrize("x", [0.4, -0.3, 0.9])
def test_grad_of_grad_through_loops_and_branches(x):
    for f in (scalar_loop, scalar_branches):
        d2 = grad(grad(f))
        assert d2(x) == pytest.approx(
            numerical_jvp(grad(f), (x,), (1.0,), eps=1e-5), rel=1e-6, abs=1e-8
        )
        assert d2(x) == pytest.approx(hessian(f)(x), rel=1e-10, abs=1e-12)


def test_reverse_over_reverse_hessian_of_vector_loop():
    x, W = rng.normal(size=3), rng.normal(size=(3, 3)) * 0.5
    H = hessian(vector_loop)(x, W)
    # jacrev of the gradient: reverse mode over the reverse-mode code, with its loop records
    np.testing.assert_allclose(jacrev(grad(vector_loop))(x, W), H, atol=1e-10)
    np.testing.assert_allclose(H, numerical_jacobian(grad(vector_loop), (x, W), 0), atol=1e-6)


def test_jacfwd_of_grad_is_the_hessian():
    x = rng.normal(size=3)
    np.testing.assert_allclose(jacfwd(grad(energy))(x), hessian(energy)(x), atol=1e-12)
    np.testing.assert_allclose(jacrev(grad(energy))(x), hessian(energy)(x), atol=1e-8)


def test_jvp_of_grad_and_of_jvp_source():
    x, v = rng.normal(size=3), rng.normal(size=3)
    _, t = jvp(grad(branchy), (x,), (v,))
    np.testing.assert_allclose(t, hessian(branchy)(x) @ v, atol=1e-10)
    text = chainrule.source(grad(looped), mode="forward")
    assert "dstack.pop()" in text and "for i_1 in reversed(range(n)):" in text


def test_hessian_source_is_forward_over_reverse():
    text = hessian(rosenbrock).source
    assert "def jvp_grad_rosenbrock(p, d_p):" in text


# -- adjoint rules of the helpers (reverse over reverse) --------------------------------

G = rng.normal(size=(2, 3))


def h_unbroadcast(g):
    return rt.unbroadcast(g, np.ones(3))


def h_broadcast_like(t):
    return rt.broadcast_like(t, np.ones((2, 3)))


def h_restore_axes(g):
    return rt.restore_axes(g, np.ones((2, 3)), 1, False)


def h_expand_to(g):
    return rt.expand_to(g, np.ones((2, 3)), 0)


def h_index_grad(g):
    return rt.index_grad(g, np.ones((2, 3)), 1)


def h_reduce_extreme_grad(g):
    return rt.reduce_extreme_grad(g, G, np.max(G, 1), 1)


M3, V3 = rng.normal(size=(3, 3)), rng.normal(size=3)


def h_matmul_grad_left(g, y):
    return rt.matmul_grad_left(g, G, y)


def h_matmul_grad_right(g, x):
    return rt.matmul_grad_right(g, x, M3)


def h_dot_grad_left(g, b):
    return rt.dot_grad_left(g, M3, b)


def h_dot_grad_right(g, a):
    return rt.dot_grad_right(g, a, V3)


def h_inner_grad_left(g, b):
    return rt.inner_grad_left(g, G, b)


def h_inner_grad_right(g, a):
    return rt.inner_grad_right(g, a, G)


def h_tensordot_grad_left(g, b):
    return rt.tensordot_grad_left(g, G, b, 1)


def h_tensordot_grad_right(g, a):
    return rt.tensordot_grad_right(g, a, M3, 1)


def h_old_value(a):
    return rt.old_value(a, 1)


def h_cast_grad(g):
    return rt.cast_grad(g, np.float64)


@pytest.mark.parametrize(
    "f, args",
    [
        (h_matmul_grad_left, (G, M3)),
        (h_matmul_grad_right, (G, G)),
        (h_dot_grad_left, (V3, V3)),
        (h_dot_grad_right, (V3, M3)),
        (h_inner_grad_left, (M3[:2, :2], G)),
        (h_inner_grad_right, (M3[:2, :2], G)),
        (h_tensordot_grad_left, (G, M3)),
        (h_tensordot_grad_right, (G, G)),
        (h_old_value, (G,)),
        (h_cast_grad, (G,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_product_helper_adjoints(f, args):
    check_vjp(f, *args)


def h_list(x):
    return np.stack(list(x)) * 2.0


@pytest.mark.parametrize(
    "f, arg",
    [
        (h_list, G),
        (h_unbroadcast, G),
        (h_broadcast_like, G[0]),
        (h_restore_axes, G[:, 0]),
        (h_expand_to, G[0]),
        (h_index_grad, G[0]),
        (h_reduce_extreme_grad, G[:, 0]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_helper_adjoints(f, arg):
    check_vjp(f, arg)
