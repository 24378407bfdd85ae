"""Rules for scipy.linalg.solve_banded and solve_sylvester (rules/scipy_linalg.py) and the
banded-storage helpers they call (runtime/banded.py).

Each rule is checked in both modes against central finite differences
(`check_grads`), to second order (forward over reverse and reverse over reverse), and
against autograd: its own `solve_sylvester` and `solve_banded` (whose banded gradient
handles a vector b only), and independent oracles differentiated by autograd, the
dense solve of the matrix assembled from the band and the Kronecker form of the
Sylvester equation.  hessian, grad(grad) and hvp are compared with autograd's Hessian
of the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FEWER
from hypothesis import given
from hypothesis import strategies as st
from rules_cases import scalar_of

import chainrule.runtime as rt
from chainrule import grad, hessian, hvp, jvp, vjp
from chainrule.testing import check_grads

scipy = pytest.importorskip("scipy")
sl = pytest.importorskip("scipy.linalg")
autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")
asl = pytest.importorskip("autograd.scipy.linalg")

# autograd warns that the Hessian of a linear function is zero; that is the expected answer
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


# -- the functions under test: bands written as literals, in a name, in two names ---------


def banded_11(ab, b):
    return sl.solve_banded((1, 1), ab, b)


def banded_02(ab, b):
    return sl.solve_banded((0, 2), ab, b)


def banded_21(ab, b):
    lu = (2, 1)
    return sl.solve_banded(lu, ab, b)


def banded_30(ab, b):
    lower, upper = 3, 0
    return sl.solve_banded((lower, upper), ab, b)


BANDED = {banded_11: (1, 1), banded_02: (0, 2), banded_21: (2, 1), banded_30: (3, 0)}


def sylvester(a, b, q):
    return sl.solve_sylvester(a, b, q)


def band_data(rng, f, n, k):
    lower, upper = BANDED[f]
    ab = rng.normal(size=(lower + upper + 1, n))
    ab[upper] += lower + upper + 3.0  # diagonally dominant: well conditioned
    b = rng.normal(size=(n,) if k == 0 else (n, k))
    return ab, b


def sylvester_data(rng, m, n, batch=()):
    a = rng.normal(size=(*batch, m, m)) + 3.0 * np.eye(m)  # spectra near 3 and -3: apart
    b = rng.normal(size=(*batch, n, n)) + 3.0 * np.eye(n)
    return a, b, rng.normal(size=(*batch, m, n))


# -- the oracles, written for autograd --------------------------------------------------


def dense_of(ab, lower, upper):
    """The matrix A with A[i, j] = ab[upper + i - j, j] on its band, from diagonals."""
    n = ab.shape[1]
    out = anp.zeros((n, n))
    for r in range(lower + upper + 1):
        d = upper - r  # the offset j - i of the diagonal row r holds
        out = out + (anp.diag(ab[r, d:], d) if d >= 0 else anp.diag(ab[r, : n + d], d))
    return out


def band_oracle(f):
    lower, upper = BANDED[f]
    return lambda ab, b: anp.linalg.solve(dense_of(ab, lower, upper), b)


def kronecker_sylvester(a, b, q):
    """A X + X B = Q as (I kron A + B^T kron I) vec(X) = vec(Q), columns stacked."""
    m, n = q.shape
    k = anp.kron(anp.eye(n), a) + anp.kron(anp.transpose(b), anp.eye(m))
    x = anp.linalg.solve(k, anp.reshape(anp.transpose(q), -1))
    return anp.transpose(anp.reshape(x, (n, m)))


def scalar_oracle(f):
    return lambda *args: anp.sum(anp.sin(f(*args)) ** 2)


def autograd_jvp(f, args, tangents):
    """The tangent of f along `tangents`, from autograd's Jacobians of f."""
    out = 0.0
    for i, t in enumerate(tangents):
        jac = autograd.jacobian(f, i)(*args)
        out = out + np.tensordot(jac, t, axes=np.ndim(t))
    return out


def autograd_vjp(f, args, w):
    return [autograd.make_vjp(f, i)(*args)[0](w) for i in range(len(args))]


def close(got, expected, rtol=1e-8, atol=1e-10):
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# -- first order ----------------------------------------------------------------------


@pytest.mark.parametrize("f", list(BANDED), ids=lambda f: f.__name__)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 6), k=st.sampled_from([0, 1, 3]))
def test_solve_banded_first_order(f, seed, n, k):
    rng = np.random.default_rng(seed)
    args = band_data(rng, f, n, k)
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    oracle = band_oracle(f)
    out, pullback = vjp(f, *args)
    close(out, oracle(*args))
    w = rng.normal(size=np.shape(out))
    got = pullback(w)
    for g, e in zip(got, autograd_vjp(oracle, args, w)):
        close(g, e)
    if k == 0:  # autograd's own rule (its banded gradient assumes a vector b)
        lu = BANDED[f]
        for g, e in zip(got, autograd_vjp(lambda ab, b: asl.solve_banded(lu, ab, b), args, w)):
            close(g, e)
    tangents = [rng.normal(size=np.shape(a)) for a in args]
    close(jvp(f, args, tangents)[1], autograd_jvp(oracle, args, tangents))


def test_solve_banded_ignores_the_corners_of_ab():
    """The entries of ab that stand for no entry of A get a gradient of 0, as SciPy ignores
    them; the others get -(z x^T) on the band."""
    rng = np.random.default_rng(3)
    ab, b = band_data(rng, banded_21, 5, 2)
    dab = grad(lambda ab, b: np.sum(banded_21(ab, b) ** 2))(ab, b)
    corners = np.zeros_like(ab, dtype=bool)
    corners[0, 0] = True  # upper = 1: row 0 starts one column in
    corners[2, 4] = corners[3, 3:] = True  # lower = 2: rows 2 and 3 end early
    assert np.all(dab[corners] == 0.0)
    assert np.all(dab[~corners] != 0.0)


def _needs_stacks(f, args):
    """Skip where the installed SciPy's function itself does not take stacks of matrices
    (SciPy added batching to scipy.linalg in 1.16): there is nothing to differentiate."""
    try:
        f(*args)
    except ValueError as error:
        pytest.skip(f"this SciPy ({scipy.__version__}) does not take stacks here: {error}")


@pytest.mark.parametrize("batch", [(), (2,)], ids=["one", "batched"])
@FEWER
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 3), n=st.integers(1, 3))
def test_solve_sylvester_first_order(batch, seed, m, n):
    rng = np.random.default_rng(seed)
    args = sylvester_data(rng, m, n, batch)
    if batch:
        _needs_stacks(sylvester, args)
    check_grads(sylvester, args, rtol=1e-5, atol=1e-7)
    out, pullback = vjp(sylvester, *args)
    w = rng.normal(size=np.shape(out))
    tangents = [rng.normal(size=np.shape(a)) for a in args]
    if batch:  # autograd's rule and the Kronecker form take one system
        return
    close(out, kronecker_sylvester(*args))
    got = pullback(w)
    for oracle in (asl.solve_sylvester, kronecker_sylvester):
        for g, e in zip(got, autograd_vjp(oracle, args, w)):
            close(g, e)
    close(jvp(sylvester, args, tangents)[1], autograd_jvp(kronecker_sylvester, args, tangents))


@pytest.mark.parametrize("argnum", [0, 1, 2])
def test_solve_sylvester_one_argument_at_a_time(argnum):
    """Tangents of the other arguments are zero: their solves are dropped, not zero-filled."""
    rng = np.random.default_rng(argnum)
    args = sylvester_data(rng, 3, 2)
    check_grads(sylvester, args, argnums=argnum, rtol=1e-5, atol=1e-7)
    expected = autograd.jacobian(kronecker_sylvester, argnum)(*args)
    t = rng.normal(size=np.shape(args[argnum]))
    tangents = [t if i == argnum else np.zeros_like(a) for i, a in enumerate(args)]
    close(jvp(sylvester, args, tangents)[1], np.tensordot(expected, t, axes=2))


# -- second order: hessian, grad(grad) and hvp against autograd's Hessian ----------------


def second_order_agrees(s, oracle, args, rng):
    """hessian (forward over reverse), grad(grad) (reverse over reverse) and hvp of the
    scalar `s` against autograd's Hessian of `oracle`, block by block."""
    nums = tuple(range(len(args)))
    expected = [[autograd.jacobian(autograd.grad(oracle, i), j)(*args) for j in nums] for i in nums]
    got = hessian(s, argnums=nums)(*args)
    for i in nums:
        for j in nums:
            close(got[i][j], expected[i][j])
    vs = [rng.normal(size=np.shape(a)) for a in args]
    contracted = [
        sum(np.tensordot(expected[i][j], vs[j], axes=np.ndim(vs[j])) for j in nums) for i in nums
    ]
    for g, e in zip(hvp(s, args, vs), contracted, strict=True):
        close(g, e)
    grads = grad(s, argnums=nums)
    if len(args) == 2:

        def directional(x, y):
            g = grads(x, y)
            return np.sum(g[0] * vs[0]) + np.sum(g[1] * vs[1])
    else:

        def directional(x, y, z):
            g = grads(x, y, z)
            return np.sum(g[0] * vs[0]) + np.sum(g[1] * vs[1]) + np.sum(g[2] * vs[2])

    for g, e in zip(grad(directional, argnums=nums)(*args), contracted, strict=True):
        close(g, e)


@pytest.mark.parametrize("k", [0, 2], ids=["vector", "matrix"])
@pytest.mark.parametrize("f", [banded_11, banded_21], ids=lambda f: f.__name__)
def test_solve_banded_second_order(f, k, tmp_path):
    rng = np.random.default_rng(11 + k)
    args = band_data(rng, f, 4, k)
    s = scalar_of(f, 2, tmp_path)
    check_grads(s, args, order=2, rtol=1e-4, atol=1e-5)
    second_order_agrees(s, scalar_oracle(band_oracle(f)), args, rng)


@pytest.mark.parametrize("m, n", [(2, 2), (3, 2)])
def test_solve_sylvester_second_order(m, n, tmp_path):
    rng = np.random.default_rng(m * n)
    args = sylvester_data(rng, m, n)
    s = scalar_of(sylvester, 3, tmp_path)
    check_grads(s, args, order=2, rtol=1e-4, atol=1e-5)
    second_order_agrees(s, scalar_oracle(kronecker_sylvester), args, rng)


# -- the banded helpers ----------------------------------------------------------------


def test_banded_helpers_agree_with_dense_matrices():
    rng = np.random.default_rng(5)
    for lower, upper, n in [(1, 1, 5), (0, 2, 4), (3, 0, 4), (2, 1, 3), (0, 0, 2)]:
        ab = rng.normal(size=(lower + upper + 1, n))
        a = dense_of(ab, lower, upper)
        band = (a != 0.0) | np.asarray(dense_of(np.ones_like(ab), lower, upper), dtype=bool)
        close(rt.banded_transpose(ab, (lower, upper)), _storage(a.T, upper, lower))
        for shape in [(n,), (n, 2)]:
            x, y = rng.normal(size=shape), rng.normal(size=shape)
            close(rt.banded_matmul(ab, (lower, upper), x), a @ x)
            outer = np.reshape(y, (n, -1)) @ np.reshape(x, (n, -1)).T
            close(rt.banded_outer(y, x, (lower, upper)), _storage(outer * band, lower, upper))


def _storage(a, lower, upper):
    n = a.shape[0]
    ab = np.zeros((lower + upper + 1, n))
    for i in range(n):
        for j in range(max(0, i - lower), min(n, i + upper + 1)):
            ab[upper + i - j, j] = a[i, j]
    return ab


def h_matmul(ab, x):
    return rt.banded_matmul(ab, (2, 1), x)


def h_outer(y, x):
    return rt.banded_outer(y, x, (2, 1))


def h_transpose(ab):
    return rt.banded_transpose(ab, (2, 1))


@pytest.mark.parametrize("k", [0, 2], ids=["vector", "matrix"])
def test_banded_helpers_rules(k, tmp_path):
    """The helpers' own rules, which second derivatives of solve_banded go through."""
    rng = np.random.default_rng(k)
    shape = (5,) if k == 0 else (5, k)
    ab, x, y = rng.normal(size=(4, 5)), rng.normal(size=shape), rng.normal(size=shape)
    for f, args in [(h_matmul, (ab, x)), (h_outer, (y, x)), (h_transpose, (ab,))]:
        check_grads(f, args, rtol=1e-5, atol=1e-7)
        check_grads(scalar_of(f, len(args), tmp_path), args, order=2, rtol=1e-4, atol=1e-5)


def test_a_stack_of_banded_matrices_is_refused():
    rng = np.random.default_rng(0)
    ab = rng.normal(size=(2, 3, 4)) + np.array([0.0, 5.0, 0.0])[:, None]
    b = rng.normal(size=(2, 4, 1))
    _needs_stacks(banded_11, (ab, b))
    out, pullback = vjp(banded_11, ab, b)
    with pytest.raises(ValueError, match="one banded matrix"):
        pullback(np.ones_like(out))


# -- scipy.linalg.cholesky: U = L^T by default, read from A's upper triangle --------------

_WEIGHTS = np.random.default_rng(21).normal(size=(3, 3))


def _upper_factor(a):
    return np.sum(np.sin(sl.cholesky(a)) * _WEIGHTS)


def _lower_factor(a):
    return np.sum(np.sin(sl.cholesky(a, lower=True)) * _WEIGHTS)


def _upper_oracle(a):  # SciPy reads the upper triangle
    return anp.sum(anp.sin(anp.linalg.cholesky(anp.triu(a) + anp.triu(a, 1).T).T) * _WEIGHTS)


def _lower_oracle(a):
    return anp.sum(anp.sin(anp.linalg.cholesky(anp.tril(a) + anp.tril(a, -1).T)) * _WEIGHTS)


@pytest.mark.parametrize(
    "f, oracle", [(_upper_factor, _upper_oracle), (_lower_factor, _lower_oracle)]
)
def test_scipy_cholesky(f, oracle):
    b = np.random.default_rng(22).normal(size=(3, 3))
    a = b @ b.T + 3 * np.eye(3) + np.triu(np.ones((3, 3)), 1) * 0.2  # not symmetric
    np.testing.assert_allclose(grad(f)(a), autograd.grad(oracle)(a), atol=1e-12)
    np.testing.assert_allclose(hessian(f)(a), autograd.hessian(oracle)(a), atol=1e-10)
    check_grads(f, (a,), order=2)


@FEWER
@given(n=st.integers(1, 4), lower=st.booleans(), seed=st.integers(0, 2**16))
def test_scipy_cholesky_over_drawn_sizes(n, lower, seed):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(n, n))
    a = b @ b.T + n * np.eye(n)
    w = rng.normal(size=(n, n))

    def loss(a):
        return np.sum(sl.cholesky(a, lower=lower) * w)

    check_grads(loss, (a,), order=2, rtol=1e-4, atol=1e-6)
