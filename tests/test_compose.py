"""Transformations inside differentiated code: grad of code that calls grad or jvp."""

import numpy as np
import pytest
from helpers import FEW
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule import CompileError, check_grad, grad, hessian, jvp, value_and_grad
from chainrule.testing import numerical_jacobian, numerical_vjp


def f(x):
    return np.sum(np.sin(x) * x**2)


df = grad(f)


def g(x, w):
    return np.tanh(x * w)


def uses_a_gradient(x):
    return np.sum(df(x) ** 2)


def builds_the_gradient_inline(x):
    return np.sum(grad(f)(x * 2.0))


def uses_value_and_grad(x):
    value, slope = value_and_grad(f)(x)
    return value * np.sum(slope)


def uses_jvp(x, v):
    out, t = jvp(g, (x, 2.0), (v, None))
    return np.sum(t**2) + np.sum(out)


def layer(x):
    return np.tanh(x) * 0.5 + x


def with_helpers(x):
    h = layer(layer(x))
    return np.sum(h * h * x)


ARRAYS = hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-1.5, 1.5))


@FEW
@given(ARRAYS)
def test_grad_of_code_that_calls_a_gradient(x):
    check_grad(uses_a_gradient, x, rtol=1e-4, atol=1e-5)
    check_grad(builds_the_gradient_inline, x, rtol=1e-4, atol=1e-5)
    check_grad(uses_value_and_grad, x, rtol=1e-4, atol=1e-5)


@FEW
@given(ARRAYS)
def test_grad_of_code_that_calls_jvp(x):
    v = np.linspace(-1.0, 1.0, x.size)
    check_grad(uses_jvp, x, v, argnums=(0, 1), rtol=1e-4, atol=1e-5)


def test_hessian_through_inlined_helpers():
    x = np.array([0.3, -0.7, 1.1])
    H = hessian(with_helpers)(x)
    fd = numerical_jacobian(grad(with_helpers), (x,), 0)
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


def test_transformations_need_static_arguments():
    def dynamic(x, fn):
        return np.sum(jvp(fn, (x,), (x,))[1])

    with pytest.raises(CompileError, match="function by name"):
        grad(dynamic)(np.ones(2), np.sin)


def test_forward_mode_refuses_containers_with_advice():
    def f(p):
        return np.sum(p["a"] ** 2)

    from chainrule import jacfwd, jacrev

    p = {"a": np.ones(2)}
    for call in (
        lambda: jvp(f, (p,), (p,)),
        lambda: hessian(f)(p),
        lambda: jacfwd(f)(p),
        lambda: jacrev(f)(p),
    ):
        with pytest.raises(TypeError, match="pass the arrays as separate arguments"):
            call()


def fills_an_array(x):
    out = np.zeros(3)
    for i in range(3):
        out[i] = np.sin(x[i]) * x[(i + 1) % 3]
    return np.sum(out**2) + out[0] * out[2]


def test_second_derivatives_through_array_writes():
    from chainrule import jacrev

    x = np.array([0.3, -0.5, 0.8])
    g = grad(fills_an_array)
    fd = numerical_jacobian(g, (x,), 0)
    np.testing.assert_allclose(hessian(fills_an_array)(x), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jacrev(grad(fills_an_array))(x), fd, rtol=1e-5, atol=1e-6)

    def norm2(v):
        return np.sum(g(v) ** 2)

    fd2 = numerical_vjp(norm2, (x,), 1.0, 0, eps=1e-6)
    gg = grad(lambda v: np.sum(grad(fills_an_array)(v) ** 2))(x)
    np.testing.assert_allclose(gg, fd2, rtol=1e-5, atol=1e-6)


def reads_then_overwrites(x):
    out = x * 1.0
    out = out.copy()
    out[1] = out[1] * out[0]
    return np.sum(out**2)


def test_second_derivatives_refuse_a_read_before_an_overwrite():
    x = np.array([0.3, -0.5, 0.8])
    check_grad(reads_then_overwrites, x)  # first order is fine
    with pytest.raises(CompileError, match="also refers to"):
        hessian(reads_then_overwrites)(x)
