"""Second derivatives through runtime helpers that chainrule differentiates by their source.

`chainrule.runtime.DIFFERENTIATED_BY_SOURCE` lists helpers written in the supported
subset out of primitives that have rules: when gradient code that calls one is
differentiated again, chainrule inlines the helper as it would a user's function, so
the helper needs no rule of its own.  Each public function whose derivative code calls
such a helper is checked here to second order (reverse over reverse and forward over
reverse) against finite differences, and its Hessian against autograd on the same
computation written out with functions autograd differentiates.  `COVERED` maps every
listed helper to the tests that reach it; a helper added to the list without a test
fails `test_every_helper_differentiated_by_source_is_tested`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest

import chainrule.runtime as rt
from chainrule import grad, hessian, hvp
from chainrule.rules import is_nondifferentiable
from chainrule.testing import check_grads

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

RNG = np.random.default_rng(2026)
COVERED = {
    "_mT": "test_matrix_power",
    "matrix_power_grad": "test_matrix_power",
    "matrix_power_jvp": "test_matrix_power",
    "_spacing_weights": "test_trapezoid",
    "trapezoid_weights": "test_trapezoid",
    "trapezoid_x_grad": "test_trapezoid",
    "trapezoid_x_tangent": "test_trapezoid",
    "_reduced_axes": "test_products",
    "cumprod_grad": "test_products",
    "cumprod_jvp": "test_products",
    "prod_pairs": "test_products",
    "interp_grads": "test_interp",
    "eig_factors": "test_eig",
    "eig_grad": "test_eig",
    "eig_jvp": "test_eig",
}


def test_every_helper_differentiated_by_source_is_tested():
    names = {h.__name__ for h in rt.DIFFERENTIATED_BY_SOURCE}
    assert names == set(COVERED), f"untested: {names - set(COVERED)}"
    assert all(name in globals() for name in COVERED.values())


def test_no_helper_differentiated_by_source_calls_a_function_marked_without_derivative():
    """Inside a helper differentiated by its source, a call of a runtime function that a
    rule declares without derivative (as eig_real was: "the factors are the saved output
    again") would silently lose that call's derivative; such helpers need rules."""
    offenders = []
    for helper in rt.DIFFERENTIATED_BY_SOURCE:
        tree = ast.parse(textwrap.dedent(inspect.getsource(helper)))
        checks = {id(s.value) for s in ast.walk(tree) if isinstance(s, ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in checks:
                continue  # a check whose value is not used (eig_check_real)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                called = getattr(rt, node.func.id, None)
                if called is not None and is_nondifferentiable(called):
                    offenders.append(f"{helper.__name__} calls {node.func.id}")
    assert not offenders, offenders


def _second_order_agrees(f, oracle, args, argnums=0):
    """hessian, grad(grad) and hvp of f against autograd's Hessian of the oracle."""
    expected = autograd.hessian(oracle, argnums)(*args)
    got = hessian(f, argnums=argnums)(*args)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    x = args[argnums]
    v = RNG.normal(size=np.shape(x))
    contracted = np.tensordot(expected, v, axes=np.ndim(x))

    df = grad(f, argnums=argnums)
    if len(args) == 1:

        def directional(a):
            return np.sum(df(a) * v)
    elif len(args) == 2:

        def directional(a, b):
            return np.sum(df(a, b) * v)
    else:

        def directional(a, b, c):
            return np.sum(df(a, b, c) * v)

    np.testing.assert_allclose(
        grad(directional, argnums=argnums)(*args), contracted, rtol=1e-9, atol=1e-9
    )
    tangents = tuple(v if i == argnums else np.zeros_like(a) for i, a in enumerate(args))
    products = hvp(f, tuple(args), tangents)
    product = products[argnums] if isinstance(products, tuple) else products
    np.testing.assert_allclose(product, contracted, rtol=1e-9, atol=1e-9)


# -- np.linalg.matrix_power ------------------------------------------------------------


def _power(n):
    def f(a):
        return np.sum(np.sin(np.linalg.matrix_power(a, n)))

    def oracle(a):
        b = a if n >= 0 else anp.linalg.inv(a)
        out = anp.eye(3) + 0.0 * a
        for _ in range(abs(n)):
            out = out @ b
        return anp.sum(anp.sin(out))

    return f, oracle


@pytest.mark.parametrize("n", [3, 1, 0, -2])
def test_matrix_power(n):
    a = RNG.normal(size=(3, 3)) * 0.5 + 2.0 * np.eye(3)
    f, oracle = _power(n)
    _second_order_agrees(f, oracle, (a,))
    check_grads(f, (a,), order=2)


# -- np.trapezoid (np.trapz before NumPy 2.0) --------------------------------------------

trapezoid = getattr(np, "trapezoid", None) or np.trapz


def _trapezoid_oracle(y, x, axis):
    y = anp.moveaxis(y, axis, -1)
    x = anp.moveaxis(x, axis, -1) if anp.ndim(x) > 1 else x
    return anp.sum((y[..., 1:] + y[..., :-1]) / 2 * (x[..., 1:] - x[..., :-1]), axis=-1)


def t_samples(y, x):
    return np.sum(np.sin(trapezoid(y * y, x, axis=0)))


def t_samples_oracle(y, x):
    return anp.sum(anp.sin(_trapezoid_oracle(y * y, x, 0)))


def t_grid(y, x):
    return np.sum(trapezoid(np.cos(y) * x, x, axis=1) ** 2)


def t_grid_oracle(y, x):
    return anp.sum(_trapezoid_oracle(anp.cos(y) * x, x, 1) ** 2)


def t_spacing(y, dx):
    return np.sum(trapezoid(np.sin(y) * dx, dx=dx, axis=-1) ** 2)


def t_spacing_oracle(y, dx):
    f = anp.sin(y) * dx
    return anp.sum((dx * (anp.sum(f, axis=-1) - (f[:, 0] + f[:, -1]) / 2)) ** 2)


@pytest.mark.parametrize("argnums", [0, 1])
def test_trapezoid(argnums):
    y = RNG.normal(size=(4, 3))
    x = np.sort(RNG.normal(size=4))
    grid = np.sort(RNG.normal(size=(4, 3)), axis=1)
    _second_order_agrees(t_samples, t_samples_oracle, (y, x), argnums)
    _second_order_agrees(t_grid, t_grid_oracle, (y, grid), argnums)
    _second_order_agrees(t_spacing, t_spacing_oracle, (y, 0.7), argnums)
    check_grads(t_samples, (y, x), order=2)
    check_grads(t_grid, (y, grid), order=2)
    check_grads(t_spacing, (y, 0.7), order=2)


# -- np.cumprod and np.prod, with and without a zero factor ---------------------------


def p_cumprod_axis(x):
    return np.sum(np.sin(np.cumprod(x, axis=1)))


def p_cumprod_flat(x):
    return np.sum(np.cumprod(x) ** 2)


def p_prod_axis(x):
    return np.sum(np.sin(np.prod(x, axis=0)))


def p_prod_all(x):
    return np.prod(x) ** 2


def _running_products(x):  # (autograd has no derivative of cumprod)
    return anp.stack([anp.prod(x[..., : k + 1], axis=-1) for k in range(x.shape[-1])], -1)


ORACLES = {
    p_cumprod_axis: lambda x: anp.sum(anp.sin(_running_products(x))),
    p_cumprod_flat: lambda x: anp.sum(_running_products(anp.reshape(x, -1)) ** 2),
    p_prod_axis: lambda x: anp.sum(anp.sin(anp.prod(x, axis=0))),
    p_prod_all: lambda x: anp.prod(x) ** 2,
}


@pytest.mark.parametrize("f", list(ORACLES), ids=lambda f: f.__name__)
@pytest.mark.parametrize("zero", [False, True])
def test_products(f, zero):
    x = RNG.normal(size=(3, 4))
    if zero:  # the helpers take another, exact path when a factor is 0
        x[1, 2] = 0.0
    check_grads(f, (x,), order=2)
    if not zero:  # (autograd's own products divide by the factors)
        _second_order_agrees(f, ORACLES[f], (x,))


# -- np.interp in x, xp and fp ----------------------------------------------------------


def interpolated(x, xp, fp):
    return np.sum(np.sin(np.interp(x, xp, fp)) * x)


def interpolated_oracle(segment):
    """np.interp written out for points inside [xp[0], xp[-1]], each on its segment."""

    def oracle(x, xp, fp):
        t = (x - xp[segment]) / (xp[segment + 1] - xp[segment])
        return anp.sum(anp.sin(fp[segment] + t * (fp[segment + 1] - fp[segment])) * x)

    return oracle


@pytest.mark.parametrize("argnums", [0, 1, 2])
def test_interp(argnums):
    xp = np.array([-1.0, 0.5, 1.0, 2.0, 3.0])
    fp = RNG.normal(size=5)
    inside = np.array([-0.7, 0.1, 0.7, 1.3, 2.5])
    outside = np.array([-3.0, 0.1, 0.7, 9.0])
    segment = np.searchsorted(xp, inside, side="right") - 1
    oracle = interpolated_oracle(segment)
    _second_order_agrees(interpolated, oracle, (inside, xp, fp), argnums)
    check_grads(interpolated, (inside, xp, fp), order=2)
    check_grads(interpolated, (outside, xp, fp), order=2)


# -- np.linalg.eig and eigvals (real, distinct eigenvalues) ------------------------------


def e_values(a):
    return np.sum(np.linalg.eigvals(a) ** 3)


def e_vectors(a):
    w, v = np.linalg.eig(a)
    return np.sum(w * np.sin(w)) + np.sum(np.abs(v) ** 2 * np.arange(3.0))


def e_values_oracle(a):
    """sum(w**3) = trace(A**3)."""
    return anp.trace(a @ a @ a)


@pytest.mark.parametrize("f", [e_values, e_vectors], ids=lambda f: f.__name__)
def test_eig(f):
    a = np.array([[2.0, 0.3, -0.4], [0.1, 1.0, 0.5], [0.2, -0.3, -1.5]])  # real, distinct
    check_grads(f, (a,), order=2, rtol=1e-4)
    if f is e_values:
        _second_order_agrees(f, e_values_oracle, (a,))
