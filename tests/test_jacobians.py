"""A Jacobian of a Jacobian (jacrev(jacrev(f)) and the other spellings) and functions
returning a tuple of arrays (vjp, jvp, jacfwd, jacrev): jacobians.py.

Every second derivative is checked against central differences of the first
derivative, against autograd's nested jacobian, and the four spellings against each
other; every tuple output against per-item finite differences and autograd."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import FEWER
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import CompileError, grad, hessian, hvp, jacfwd, jacrev, jvp, vjp
from chainrule.testing import numerical_jacobian, numerical_vjp

JACOBIANS = (jacfwd, jacrev)
SPELLINGS = [(outer, inner) for outer in JACOBIANS for inner in JACOBIANS]


def vector_field(x, y):
    return np.sin(x) * y[0] + x**2 * np.sum(y) + np.tanh(x * y[-1])


def vector_field_ag(x, y):
    return anp.sin(x) * y[0] + x**2 * anp.sum(y) + anp.tanh(x * y[-1])


def cubes(x):
    return np.sum(x**3)


def close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


# -- a Jacobian of a Jacobian ----------------------------------------------------------


def test_the_issue_example_gives_the_hessian_in_every_spelling():
    x = np.array([1.0, 2.0])
    expected = np.array([[6.0, 0.0], [0.0, 12.0]])
    for outer, inner in SPELLINGS:
        close(outer(inner(cubes))(x), expected)
    close(jacrev(grad(cubes))(x), expected)
    close(jacfwd(grad(cubes))(x), expected)


@FEWER
@given(n=st.integers(1, 4), m=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_second_jacobians_match_autograd_finite_differences_and_each_other(n, m, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=m)
    for a in (0, 1):
        first = jacrev(vector_field, argnums=a)
        for b in (0, 1):
            expected = autograd.jacobian(autograd.jacobian(vector_field_ag, a), b)(x, y)
            fd = numerical_jacobian(first, (x, y), b)
            close(fd, expected, rtol=1e-4, atol=1e-5)
            results = [o(i(vector_field, argnums=a), argnums=b)(x, y) for o, i in SPELLINGS]
            for r in results:
                assert r.shape == (n,) + np.shape((x, y)[a]) + np.shape((x, y)[b])
                close(r, expected)
                close(r, results[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("outer", "inner"), SPELLINGS)
def test_tuple_argnums_nest_as_jax_does(outer, inner):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=3), rng.normal(size=2)
    blocks = outer(inner(vector_field, argnums=(0, 1)), argnums=(0, 1))(x, y)
    for a in (0, 1):
        for b in (0, 1):
            expected = autograd.jacobian(autograd.jacobian(vector_field_ag, a), b)(x, y)
            close(blocks[a][b], expected)
    # one tuple level only where one was asked for
    inner_only = outer(inner(vector_field, argnums=(0, 1)), argnums=1)(x, y)
    outer_only = outer(inner(vector_field, argnums=0), argnums=(0, 1))(x, y)
    for a in (0, 1):
        close(inner_only[a], blocks[a][1])
        close(outer_only[a], blocks[0][a])


def test_python_floats_give_a_float():
    def f(a, b):
        return a * a * b + np.sin(a)

    for outer, inner in SPELLINGS:
        value = outer(inner(f))(1.5, 2.0)
        assert type(value) is float
        assert value == pytest.approx(2 * 2.0 - np.sin(1.5), rel=1e-12)


def test_keywords_and_defaults_are_bound_as_for_the_inner_jacobian():
    def f(x, scale=2.0):
        return scale * np.sin(x) * x[0]

    x = np.array([0.3, -1.2, 0.7])
    expected = jacrev(jacrev(f))(x, 2.0)
    for outer, inner in SPELLINGS:
        close(outer(inner(f))(x), expected)
        close(outer(inner(f))(x, scale=2.0), expected)
        close(outer(inner(f))(x=x), expected)
    close(expected, numerical_jacobian(jacfwd(f), (x, 2.0), 0), rtol=1e-4, atol=1e-5)


def test_a_hessian_inside_a_jacobian_is_a_third_derivative():
    def quartic(x):
        return np.sum(x**4) + x[0] * x[1] ** 2

    x = np.array([1.0, 2.0])
    expected = autograd.jacobian(autograd.hessian(lambda v: anp.sum(v**4) + v[0] * v[1] ** 2))(x)
    for outer in JACOBIANS:
        close(outer(hessian(quartic))(x), expected)
        for inner in JACOBIANS:
            close(outer(inner(grad(quartic)))(x), expected)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
def test_a_tuple_output_under_two_jacobians():
    def h(x, y):
        return np.sin(x) * y[0], x * y, np.sum(x)

    def h_ag(x, y):
        return anp.sin(x) * y[0], x * y, anp.sum(x)

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=3), rng.normal(size=3)
    for outer, inner in SPELLINGS:
        result = outer(inner(h), argnums=1)(x, y)
        assert type(result) is tuple and len(result) == 3
        for p in range(3):
            piece = autograd.jacobian(lambda a, b, p=p: h_ag(a, b)[p], 0)
            close(result[p], autograd.jacobian(piece, 1)(x, y))


def test_a_third_jacobian_is_refused_with_what_to_write():
    for outer in JACOBIANS:
        with pytest.raises(CompileError, match=r"not three.*jacfwd\(jacrev\(grad\(f\)\)\)"):
            outer(jacrev(jacfwd(cubes)))
        with pytest.raises(CompileError, match="one block at a time"):
            outer(hessian(cubes, argnums=(0,)))


def test_grad_jvp_vjp_hvp_and_hessian_of_a_jacobian_are_refused_clearly():
    x = np.array([1.0, 2.0])
    calls = [
        lambda j: grad(j)(x),
        lambda j: hessian(j)(x),
        lambda j: jvp(j, (x,), (x,)),
        lambda j: vjp(j, x),
        lambda j: hvp(j, (x,), (x,)),
    ]
    for made in (jacrev(cubes), jacfwd(cubes), hessian(cubes)):
        for call in calls:
            with pytest.raises(CompileError, match="take jacfwd or jacrev of it"):
                call(made)


def test_the_source_of_a_second_jacobian_is_the_outer_code():
    text = jacrev(jacfwd(cubes)).source
    assert "def vjp_cubes_column(x, _seed)" in text


# -- tuple outputs -------------------------------------------------------------------


def two_outputs(x, y):
    return np.sin(x) * y[0], x * y


def two_outputs_ag(x, y):
    return anp.sin(x) * y[0], x * y


@FEWER
@given(n=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_vjp_of_a_tuple_output_takes_a_tuple_of_cotangents(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    out, pullback = vjp(two_outputs, x, y)
    assert type(out) is tuple and len(out) == 2
    close(out[0], np.sin(x) * y[0])
    cts = (rng.normal(size=n), rng.normal(size=n))
    grads = pullback(cts)

    def contracted(a, b):
        o = two_outputs_ag(a, b)
        return anp.sum(cts[0] * o[0]) + anp.sum(cts[1] * o[1])

    for k in (0, 1):
        expected = sum(
            numerical_vjp(lambda a, b, p=p: two_outputs(a, b)[p], (x, y), cts[p], k) for p in (0, 1)
        )
        close(grads[k], expected, rtol=1e-4, atol=1e-5)
        close(grads[k], autograd.grad(contracted, k)(x, y))


@FEWER
@given(n=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_jacobians_of_a_tuple_output_are_a_tuple(n, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.normal(size=n)
    results = [J(two_outputs, argnums=(0, 1))(x, y) for J in JACOBIANS]
    for p in (0, 1):
        for k in (0, 1):
            expected = autograd.jacobian(lambda a, b, p=p: two_outputs_ag(a, b)[p], k)(x, y)
            fd = numerical_jacobian(lambda a, b, p=p: two_outputs(a, b)[p], (x, y), k)
            for r in results:
                assert type(r) is tuple
                close(r[p][k], expected)
                close(r[p][k], fd, rtol=1e-4, atol=1e-5)


def test_jvp_of_a_tuple_output_gives_a_tuple_of_tangents():
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    dx = np.array([1.0, 0.5])
    out, tangent = jvp(two_outputs, (x, y), (dx, None))
    assert len(out) == 2 and len(tangent) == 2
    for p in (0, 1):
        expected = numerical_jacobian(lambda a, b, p=p: two_outputs(a, b)[p], (x, y), 0) @ dx
        close(tangent[p], expected, rtol=1e-5, atol=1e-6)


def tuple_returns(np):
    """Tuples returned from several places (issue 15), for NumPy or autograd.numpy."""

    def by_case(x):
        if np.sum(x) > 1.0:
            return x * x, np.sin(x[0])
        for k in range(3):
            if np.max(x) > 0.5 * k:
                return x * k, x[1] * x[0]
        return -x, np.sum(x**3)

    def polar(a, b):  # inlined, returning tuples from both branches
        r = np.sqrt(a * a + b * b)
        if b >= 0:
            return r, np.arctan2(b, a)
        return r, np.arctan2(b, a) + 2.0 * np.pi

    def through_polar(a, b):
        r, t = polar(a, b)
        return r * t

    return by_case, through_polar


@pytest.mark.parametrize("x", [[0.9, 0.6], [0.2, 0.3], [-0.4, 0.7], [-0.5, -0.2]])
def test_tuples_returned_from_several_places(x):
    (by_case, through_polar), (by_case_ag, through_polar_ag) = tuple_returns(np), tuple_returns(anp)
    x = np.array(x)
    for J in JACOBIANS:
        ours = J(by_case)(x)
        for p in (0, 1):
            close(ours[p], autograd.jacobian(lambda v, p=p: by_case_ag(v)[p])(x))
            close(ours[p], numerical_jacobian(lambda v, p=p: by_case(v)[p], (x,), 0))
    a, b = x
    g = grad(through_polar, argnums=(0, 1))(a, b)
    close(g, [autograd.grad(through_polar_ag, i)(a, b) for i in (0, 1)])
    close(hessian(through_polar)(a, b), autograd.hessian(through_polar_ag)(a, b))


def split_in_two(x):
    return np.split(x, [1])


def test_ragged_pieces_np_split():
    x = np.array([0.5, 1.5, -2.0])
    out, pullback = vjp(split_in_two, x)
    assert [np.shape(o) for o in out] == [(1,), (2,)]
    (g,) = pullback((np.array([1.0]), np.array([2.0, 3.0])))
    close(g, [1.0, 2.0, 3.0])
    for J in JACOBIANS:
        jac = J(split_in_two)(x)
        assert type(jac) is list
        close(jac[0], np.eye(3)[:1])
        close(jac[1], np.eye(3)[1:])


def test_vjp_names_a_cotangent_that_does_not_fit():
    _, pullback = vjp(split_in_two, np.array([0.5, 1.5, -2.0]))
    with pytest.raises(ValueError, match="pass a tuple of 2 cotangents"):
        pullback(np.ones(3))
    with pytest.raises(ValueError, match="cotangent 0 has shape"):
        pullback((np.ones(2), np.ones(2)))
    _, pullback = vjp(cubes, np.ones(2))
    with pytest.raises(ValueError, match="pass an array shaped like the output"):
        pullback(np.ones(2))


def thin_svd(a):
    return np.linalg.svd(a, full_matrices=False)


def test_svd_factors_keep_their_names():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 3))
    out, pullback = vjp(thin_svd, a)
    cts = tuple(rng.normal(size=np.shape(o)) for o in out)

    def contracted(m):
        u, s, vh = anp.linalg.svd(m, full_matrices=False)
        return anp.sum(cts[0] * u) + anp.sum(cts[1] * s) + anp.sum(cts[2] * vh)

    close(pullback(cts)[0], autograd.grad(contracted)(a))
    forward, reverse = jacfwd(thin_svd)(a), jacrev(thin_svd)(a)
    assert forward.U.shape == (4, 3, 4, 3) and reverse.S.shape == (3, 4, 3)
    for f_item, r_item, name in zip(forward, reverse, ("U", "S", "Vh")):
        close(f_item, r_item, rtol=1e-9, atol=1e-9)
        fd = numerical_jacobian(lambda m, name=name: getattr(thin_svd(m), name), (a,), 0)
        close(r_item, fd, rtol=1e-4, atol=1e-5)


def test_slogdet_result_and_its_second_derivative():
    def slogdet(a):
        return np.linalg.slogdet(a)

    a = np.eye(3) + 0.2 * np.random.default_rng(2).normal(size=(3, 3))
    first = jacrev(slogdet)(a)
    close(first.logabsdet, np.linalg.inv(a).T)
    close(first.sign, np.zeros((3, 3)))
    second = jacfwd(jacrev(slogdet))(a).logabsdet
    expected = autograd.hessian(lambda m: anp.linalg.slogdet(m)[1])(a)
    close(second, expected)


def test_a_nested_tuple_output_is_refused_with_advice():
    def nested(x):
        return (np.sin(x), x), x

    for J in JACOBIANS:
        with pytest.raises(TypeError, match="flat tuple of arrays"):
            J(nested)(np.ones(2))


def test_the_source_of_a_tuple_output_is_the_packed_code():
    text = chainrule.source(two_outputs, mode="vjp")
    assert "return tuple(_chainrule_f(x, y))" in text
    assert "unpack_grad" in text
