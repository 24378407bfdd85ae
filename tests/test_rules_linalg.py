"""Linear-algebra derivative rules (rules/linalg.py and `@`) against central finite differences.

Array-valued primitives are checked with chainrule.vjp and a fixed random
cotangent (`check_vjp` in helpers.py, built on chainrule.testing); functions with arguments
that are not differentiated (einsum subscripts, axes, ord) return
`np.sum(result * w)` for a fixed random weight array `w` and go through
chainrule.check_grad.  Every tested function is defined at module level,
because chainrule reads its source.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEWER, check_vjp, weights
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import check_grad
from chainrule.testing import check_grads

LINALG_TOL = {"rtol": 1e-4, "atol": 1e-6}


def values(shape):
    """Hypothesis floats in [-2, 2] of a fixed shape (no subnormals: FD steps stay meaningful)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-2, 2, allow_subnormal=False))


def operands(shapes):
    """A tuple of value arrays, one per shape."""
    return st.tuples(*(values(s) for s in shapes))


# seeds for rng-drawn values, where kinks or conditioning rule out arbitrary floats
seeds = st.integers(0, 2**32 - 1)


def well_conditioned(rng, shape):
    """A random square matrix (or stack of them) plus a multiple of the identity."""
    n = shape[-1]
    return rng.uniform(-1, 1, size=shape) + (n + 1) * np.eye(n)


# -- matmul and @ (the rule lives in arithmetic.py; its helpers are checked here) ------

MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((1, 4), (4, 1)),
    ((2, 3, 4), (4, 5)),  # batched left, broadcast right
    ((3, 4), (2, 4, 5)),  # broadcast left, batched right
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),  # batch axes broadcast against each other
    ((1, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
]


def matmul_op(a, b):
    return a @ b


def np_matmul(a, b):
    return np.matmul(a, b)


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@FEWER
@given(data=st.data())
def test_matmul_operator(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(matmul_op, a, b)


@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((2, 3, 4), (4, 5))], ids=str)
@FEWER
@given(data=st.data())
def test_np_matmul(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(np_matmul, a, b)


def quadratic_form(x, A):
    return x @ A @ x


@FEWER
@given(operands([(3,), (3, 3)]))
def test_matmul_scalar_output_uses_a_value_twice(args):
    x, A = args
    check_grad(quadratic_form, x, A, argnums=(0, 1))


# -- dot, outer, inner, tensordot -----------------------------------------------------

DOT_SHAPES = [
    ((), ()),
    ((), (3,)),
    ((2, 3), ()),
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),  # N-D: dot contracts a's last axis with b's second-to-last
    ((2, 3, 4), (5, 4, 2)),
]


def dot(a, b):
    return np.dot(a, b)


def dot_method(a, b):
    return a.dot(b)


@pytest.mark.parametrize("shapes", DOT_SHAPES, ids=str)
@FEWER
@given(data=st.data())
def test_dot(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(dot, a, b)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (4,))], ids=str)
@FEWER
@given(data=st.data())
def test_ndarray_dot(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(dot_method, a, b)


def dot_with_scalar(x):
    return np.dot(2.5, x)


def test_dot_with_a_python_scalar():
    check_vjp(dot_with_scalar, weights((2, 3)))


def outer(a, b):
    return np.outer(a, b)


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (4,)), ((), (3,)), ((1,), (2, 2))])
@FEWER
@given(data=st.data())
def test_outer(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(outer, a, b)


def inner(a, b):
    return np.inner(a, b)


@pytest.mark.parametrize(
    "shapes", [((), (3,)), ((4,), (4,)), ((3, 4), (4,)), ((3, 4), (2, 4)), ((2, 3, 4), (5, 4))]
)
@FEWER
@given(data=st.data())
def test_inner(shapes, data):
    a, b = data.draw(operands(shapes))
    check_vjp(inner, a, b)


def tensordot(a, b, axes, w):
    return np.sum(np.tensordot(a, b, axes) * w)


TENSORDOT_CASES = [
    ((3, 4), (4, 5), 1),
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (4,), 0),  # an outer product
    ((3, 4), (3, 4), 2),  # a full contraction: a scalar
    ((3, 4, 5), (5, 3, 2), ([0, 2], [1, 0])),  # pairs in an order differing from both
    ((3, 4), (4, 3), ((1, 0), (0, 1))),
    ((3, 4), (2, 4), (1, 1)),  # a pair of ints
    ((2, 3, 4), (4, 3), ([-1, -2], [0, -1])),  # negative axes
]


@pytest.mark.parametrize("case", TENSORDOT_CASES, ids=str)
@FEWER
@given(data=st.data())
def test_tensordot(case, data):
    sa, sb, axes = case
    a, b = data.draw(operands([sa, sb]))
    w = weights(np.shape(np.tensordot(a, b, axes)))
    check_grad(tensordot, a, b, axes, w, argnums=(0, 1))


def tensordot_literal_axes(a, b):
    return np.tensordot(a, b, axes=([1, 0], [0, 2]))


@FEWER
@given(operands([(3, 2, 4), (2, 5, 3)]))
def test_tensordot_literal_axes(args):
    check_vjp(tensordot_literal_axes, *args)


# -- einsum ----------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output: labels used once, sorted
    ("ij,ji->", [(2, 3), (3, 2)]),
    ("ii->", [(3, 3)]),  # a trace
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),  # a diagonal
    ("iij->ji", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),  # i only in this operand: the gradient is copied along it
    ("ijk->kij", [(2, 3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,...jk->...ik", [(1, 2, 3), (2, 3, 4)]),  # broadcasting batch axes
    ("...ij,jk", [(2, 2, 3), (3, 4)]),
    ("i...,i...->...", [(3, 2), (3, 1)]),  # a length-1 axis broadcast
    ("Ab,bA->A", [(2, 3), (3, 2)]),
    ("i j , j ->i", [(2, 3), (3,)]),  # spaces are allowed
    ("i,i,i->", [(3,), (3,), (3,)]),
]


def einsum1(spec, a, w):
    return np.sum(np.einsum(spec, a) * w)


def einsum2(spec, a, b, w):
    return np.sum(np.einsum(spec, a, b) * w)


def einsum3(spec, a, b, c, w):
    return np.sum(np.einsum(spec, a, b, c) * w)


@pytest.mark.parametrize("case", EINSUM_CASES, ids=lambda c: c[0])
@FEWER
@given(data=st.data())
def test_einsum(case, data):
    spec, shapes = case
    ops = data.draw(operands(shapes))
    w = weights(np.shape(np.einsum(spec, *ops)))
    f = {1: einsum1, 2: einsum2, 3: einsum3}[len(ops)]
    check_grad(f, spec, *ops, w, argnums=tuple(range(1, len(ops) + 1)))


def einsum_matmul(a, b):
    return np.einsum("ij,jk->ik", a, b)


def einsum_same_operand_twice(x):
    return np.einsum("ij,ij->", x, x)


def einsum_square(x):
    return np.einsum("ij,jk->ik", x, x)


@FEWER
@given(operands([(2, 3), (3, 4)]))
def test_einsum_literal_subscripts(args):
    check_vjp(einsum_matmul, *args)


@FEWER
@given(values((2, 3)))
def test_einsum_repeated_operand_sums_gradients(x):
    (g,) = check_vjp(einsum_same_operand_twice, x)
    np.testing.assert_allclose(g, 2 * x * weights(()), rtol=1e-12)


@FEWER
@given(values((3, 3)))
def test_einsum_square_of_a_matrix(x):
    check_vjp(einsum_square, x)


def einsum_interleaved(x):
    return np.einsum(x, [0, 1], [1])


def einsum_sublists(a, b):
    return np.einsum(a, [0, 1], b, [1, 2], [0, 2])


def einsum_sublists_transpose(x):
    return np.einsum(x, (0, 1), (1, 0))


def einsum_sublists_three(a, b, c):
    return np.einsum(a, [0, 1], b, [1, Ellipsis], c, [Ellipsis, 0])


def einsum_sublists_one_active(a):
    return np.einsum(a, [0, 1], np.ones((3, 2)), [1, 2], [0, 2])


@FEWER
@given(seeds)
def test_einsum_interleaved_form(seed):
    """The sublist form np.einsum(x, [0, 1], y, [1, 2]) in both modes, against finite
    differences and autograd (it once gave a zero tangent)."""
    anp = pytest.importorskip("autograd.numpy")
    autograd = pytest.importorskip("autograd")
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    check_grads(einsum_interleaved, (a,))
    check_grads(einsum_sublists, (a, b))
    check_grads(einsum_sublists_transpose, (a,))
    check_grads(einsum_sublists_three, (a, b, c))
    check_grads(einsum_sublists_one_active, (a,))
    g = chainrule.grad(lambda x, y: np.sum(einsum_sublists(x, y) ** 2), argnums=(0, 1))(a, b)
    expected = autograd.grad(
        lambda x, y: anp.sum(anp.einsum(x, [0, 1], y, [1, 2], [0, 2]) ** 2), argnum=(0, 1)
    )(a, b)
    np.testing.assert_allclose(g[0], expected[0], rtol=1e-10)
    np.testing.assert_allclose(g[1], expected[1], rtol=1e-10)


# -- trace and diagonal -----------------------------------------------------------------

TRACE_CASES = [
    ((3, 3), 0, 0, 1),
    ((3, 4), 1, 0, 1),
    ((4, 3), -2, 0, 1),
    ((2, 3, 4), 0, 1, 2),  # a batch of traces
    ((3, 2, 4), 1, 2, 0),  # axis1 > axis2
    ((2, 3), 5, 0, 1),  # an empty diagonal
]


def trace(a, w, offset, axis1, axis2):
    return np.sum(np.trace(a, offset, axis1, axis2) * w)


def diagonal(a, w, offset, axis1, axis2):
    return np.sum(np.diagonal(a, offset, axis1, axis2) * w)


@pytest.mark.parametrize("case", TRACE_CASES, ids=str)
@FEWER
@given(data=st.data())
def test_trace_and_diagonal(case, data):
    shape, offset, axis1, axis2 = case
    a = data.draw(values(shape))
    w = weights(np.shape(np.trace(a, offset, axis1, axis2)))
    check_grad(trace, a, w, offset, axis1, axis2)
    w = weights(np.shape(np.diagonal(a, offset, axis1, axis2)))
    check_grad(diagonal, a, w, offset, axis1, axis2)


def trace_default(a):
    return np.trace(a)


def trace_method(a):
    return a.trace(offset=1)


@FEWER
@given(values((3, 3)))
def test_trace_forms(a):
    (g,) = check_vjp(trace_default, a)
    np.testing.assert_allclose(g, weights(()) * np.eye(3))
    check_vjp(trace_method, a)


# -- det, inv, solve ------------------------------------------------------------------


def det(a):
    return np.linalg.det(a)


def inv(a):
    return np.linalg.inv(a)


def solve(a, b):
    return np.linalg.solve(a, b)


def log_det_of_inverse(a):
    return np.log(np.abs(np.linalg.det(np.linalg.inv(a))))


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (4, 4), (2, 3, 3)], ids=str)
@FEWER
@given(seed=seeds)
def test_det_and_inv(shape, seed):
    a = well_conditioned(np.random.default_rng(seed), shape)
    check_vjp(det, a, **LINALG_TOL)
    check_vjp(inv, a, **LINALG_TOL)


@FEWER
@given(seed=seeds)
def test_det_of_inv_chain(seed):
    a = well_conditioned(np.random.default_rng(seed), (3, 3))
    g = chainrule.grad(log_det_of_inverse)(a)
    np.testing.assert_allclose(g, -np.linalg.inv(a).T, rtol=1e-10)  # d log|det A^-1| = -A^-T
    check_grad(log_det_of_inverse, a, **LINALG_TOL)


def log_abs_det(a, w):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(logdet * w)


def signed_log_det(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)], ids=str)
@FEWER
@given(seed=seeds)
def test_slogdet(shape, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, shape) * rng.choice([-1.0, 1.0], size=shape[:-2] + (1, 1))
    check_grad(log_abs_det, a, weights(shape[:-2]), **LINALG_TOL)
    if len(shape) == 2:
        check_grad(signed_log_det, a, **LINALG_TOL)


SOLVE_SHAPES = [
    ((3, 3), (3,)),
    ((3, 3), (3, 2)),
    ((1, 1), (1,)),
    ((2, 3, 3), (2, 3, 2)),  # a batch of systems
    ((3, 3), (2, 3, 1)),  # a broadcast against the batch
]
if np.__version__.startswith("1."):
    SOLVE_SHAPES += [((2, 3, 3), (2, 3))]  # NumPy 1: b.ndim == a.ndim - 1 is a stack of vectors
else:
    SOLVE_SHAPES += [((2, 3, 3), (3, 2)), ((2, 3, 3), (3,))]  # NumPy 2: b broadcast to the batch


@pytest.mark.parametrize("shapes", SOLVE_SHAPES, ids=str)
@FEWER
@given(seed=seeds)
def test_solve(shapes, seed):
    rng = np.random.default_rng(seed)
    a = well_conditioned(rng, shapes[0])
    b = rng.uniform(-2, 2, size=shapes[1])
    check_vjp(solve, a, b, **LINALG_TOL)


# -- norm -------------------------------------------------------------------------------

INF = np.inf
NORM_CASES = [
    # vectors
    ((5,), None, None, False),
    ((5,), 2, None, False),
    ((5,), 1, None, False),
    ((5,), INF, None, False),
    ((5,), -INF, None, False),
    ((5,), 3, None, False),
    ((5,), 0.5, None, False),
    ((5,), -1, None, False),
    ((5,), 0, None, False),
    ((5,), None, None, True),
    # vectors along an axis
    ((3, 4), None, 1, False),
    ((3, 4), None, 0, True),
    ((3, 4), 1, -1, False),
    ((3, 4), INF, 0, True),
    ((3, 4), 2, (1,), False),
    ((2, 3, 4), 3, 1, True),
    # matrices
    ((3, 4), None, None, False),  # Frobenius
    ((3, 4), "fro", None, True),
    ((3, 4), "nuc", None, False),
    ((3, 4), 2, None, False),  # the largest singular value
    ((4, 3), -2, None, False),  # the smallest
    ((3, 4), 1, None, False),  # the largest column sum of |x|
    ((3, 4), -1, None, False),
    ((3, 4), INF, None, False),  # the largest row sum of |x|
    ((3, 4), -INF, None, True),
    # stacks of matrices, and everything at once
    ((2, 3, 4), None, (1, 2), False),
    ((2, 3, 4), "fro", (0, 2), True),
    ((2, 3, 4), "nuc", (2, 1), False),
    ((2, 3, 4), 2, (1, 2), False),
    ((2, 3, 4), 1, (0, 1), False),
    ((2, 3, 4), INF, (2, 0), True),
    ((2, 3, 4), None, None, False),
    ((2, 3, 4), None, (0, 2), True),
]


def norm(x, w, ord, axis, keepdims):
    return np.sum(np.linalg.norm(x, ord, axis, keepdims) * w)


@pytest.mark.parametrize("case", NORM_CASES, ids=str)
@FEWER
@given(seed=seeds)
def test_norm(case, seed):
    shape, ord, axis, keepdims = case
    x = np.random.default_rng(seed).normal(size=shape)  # no ties, no zeros: no kinks
    if isinstance(ord, (int, float)) and 0 < ord < 1:
        # |x|**(ord - 1) blows up near 0, where central differences are not accurate
        x = np.sign(x) * (0.3 + np.abs(x))
    w = weights(np.shape(np.linalg.norm(x, ord, axis, keepdims)))
    check_grad(norm, x, w, ord, axis, keepdims, **LINALG_TOL)


def norm_default(x):
    return np.linalg.norm(x)


def norm_rows(x):
    return np.linalg.norm(x, axis=1)


def norm_columns_kept(x):
    return np.linalg.norm(x, axis=0, keepdims=True)


def norm_l1(x):
    return np.linalg.norm(x, 1)


def norm_max(x):
    return np.linalg.norm(x, ord=np.inf)


@pytest.mark.parametrize(
    "f, shape",
    [
        (norm_default, (5,)),
        (norm_default, (3, 4)),
        (norm_rows, (3, 4)),
        (norm_columns_kept, (3, 4)),
        (norm_l1, (5,)),
        (norm_max, (5,)),
        (norm_max, (3, 4)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
@FEWER
@given(seed=seeds)
def test_norm_call_forms(f, shape, seed):
    check_vjp(f, np.random.default_rng(seed).normal(size=shape), **LINALG_TOL)


def test_norm_of_zero_is_a_finite_zero_subgradient():
    assert np.array_equal(chainrule.grad(norm_default)(np.zeros(4)), np.zeros(4))
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = chainrule.vjp(norm_rows, x)[1](np.ones(2))[0]
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]])
    for ord in (None, 1, 2, 3, np.inf):
        g = chainrule.grad(norm)(np.zeros(3), 1.0, ord, None, False)
        assert np.all(np.isfinite(g)) and np.allclose(g, 0), ord


def test_norm_max_ties_share_the_gradient():
    g = chainrule.grad(norm_max)(np.array([1.0, -3.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, -0.5, 0.5])


# -- the generated code reads like the textbook rule ------------------------------------


def test_generated_code_for_inv_and_solve_reads_well():
    text = chainrule.source(inv, mode="vjp")
    assert "np.swapaxes(" in text and "@ dt1 @" in text
    text = chainrule.source(solve, mode="vjp")
    assert "solve_transposed(a, b, dt1)" in text
    text = chainrule.source(norm_default)
    assert "np.where(" in text and "norm_grad(" not in text


def test_matmul_gradients_spread_a_gradient_that_is_one_number():
    # second-order code hands a zero gradient of x @ y on as 0.0: the helpers raised
    # "matmul: Input operand 0 does not have enough dimensions" (a crash of the
    # 10,000-program run); they must treat it as that number in every element
    from chainrule.runtime import matmul_grad_left, matmul_grad_right

    rng = np.random.default_rng(3)
    for xs, ys in [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4))]:
        x, y = rng.normal(size=xs), rng.normal(size=ys)
        full = np.full(np.shape(x @ y), 0.7)
        np.testing.assert_allclose(matmul_grad_left(0.7, x, y), matmul_grad_left(full, x, y))
        np.testing.assert_allclose(matmul_grad_right(0.7, x, y), matmul_grad_right(full, x, y))
