"""Shape derivative rules (rules/shapes.py) against central finite differences.

Functions whose every argument is differentiated are checked with
chainrule.vjp and a fixed random cotangent (`check_vjp` in helpers.py);
functions that take shapes or axes as arguments return `np.sum(result * w)`
for a fixed random weight array `w` and go through chainrule.check_grad, so
the axis is a run-time value rather than a literal.  Tested functions are
defined at module level, because chainrule reads their source.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEWER, check_vjp, weights
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import check_grad


def values(shape):
    """Hypothesis floats in [-2, 2] of a fixed shape."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-2, 2, allow_subnormal=False))


def any_array(min_dims=0, max_dims=3):
    """Arrays of hypothesis-chosen shapes (sides 1 to 4) and values."""
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)
    return shapes.flatmap(values)


# -- reshaping ------------------------------------------------------------------------


def reshape(x, w, shape):
    return np.sum(np.reshape(x, shape) * w)


@FEWER
@given(any_array(), st.sampled_from(["flat", "column", "reversed", "padded"]))
def test_reshape_any_target(x, kind):
    shape = {
        "flat": (-1,),
        "column": (x.size, 1),
        "reversed": x.shape[::-1],
        "padded": (1, *x.shape, 1),
    }[kind]
    check_grad(reshape, x, weights(np.reshape(x, shape).shape), shape)


def reshape_literal(x):
    return np.reshape(x, (4, 3))


def reshape_fortran(x):
    return np.reshape(x, (2, 6), order="F")


def reshape_method_varargs(x):
    return x.reshape(2, -1)


def reshape_method_tuple(x):
    return x.reshape((6, 2))


def reshape_method_fortran(x):
    return x.reshape(3, 4, order="F")


def ravel(x):
    return np.ravel(x)


def ravel_method(x):
    return x.ravel()


def ravel_fortran(x):
    return np.ravel(x, order="F")


def flatten_method(x):
    return x.flatten()


def squeeze_axis(x):
    return np.squeeze(x[:, None, :, None], axis=1)


def squeeze_method(x):
    return x[None].squeeze()


def expand_dims(x):
    return np.expand_dims(x, (0, 2))


def atleast_2d(x):
    return np.atleast_2d(x)


def atleast_3d(x):
    return np.atleast_3d(x)


def atleast_1d(x):
    return np.atleast_1d(x) * 2.0


RESHAPES = [
    reshape_literal,
    reshape_fortran,
    reshape_method_varargs,
    reshape_method_tuple,
    reshape_method_fortran,
    ravel,
    ravel_method,
    ravel_fortran,
    flatten_method,
    squeeze_axis,
    squeeze_method,
    expand_dims,
    atleast_2d,
    atleast_3d,
    atleast_1d,
]


@pytest.mark.parametrize("f", RESHAPES, ids=lambda f: f.__name__)
@FEWER
@given(values((3, 4)))
def test_reshaping_forms(f, x):
    check_vjp(f, x)


@pytest.mark.parametrize("f", [atleast_1d, atleast_2d, atleast_3d], ids=lambda f: f.__name__)
def test_atleast_of_a_scalar(f):
    check_vjp(f, 1.5)
    check_vjp(f, weights((3,)))


# -- transposing and moving axes ------------------------------------------------------


def transpose(x, w, axes):
    return np.sum(np.transpose(x, axes) * w)


@FEWER
@given(any_array(min_dims=1, max_dims=4), st.data())
def test_transpose_any_permutation(x, data):
    axes = tuple(data.draw(st.permutations(range(x.ndim))))
    if data.draw(st.booleans()):
        axes = tuple(a - x.ndim for a in axes)  # negative axes
    check_grad(transpose, x, weights(np.transpose(x, axes).shape), axes)


def transpose_default(x):
    return np.transpose(x)


def transpose_literal(x):
    return np.transpose(x, (1, 2, 0))


def transpose_negative(x):
    return np.transpose(x, (0, -1, -2))


def transpose_method_varargs(x):
    return x.transpose(2, 0, 1)


def transpose_method_tuple(x):
    return x.transpose((1, 0, 2))


def transpose_method_none(x):
    return x.transpose()


def transpose_attribute(x):
    return x.T


def matrix_transpose(x):  # NumPy 2.0+
    return np.matrix_transpose(x) * x.mT


def swapaxes(x):
    return np.swapaxes(x, 0, 2)


def swapaxes_method(x):
    return x.swapaxes(-1, 1)


def moveaxis(x):
    return np.moveaxis(x, 0, -1)


def moveaxis_several(x):
    return np.moveaxis(x, (0, 1), (2, 0))


PERMUTES = [
    transpose_default,
    transpose_literal,
    transpose_negative,
    transpose_method_varargs,
    transpose_method_tuple,
    transpose_method_none,
    transpose_attribute,
    swapaxes,
    swapaxes_method,
    moveaxis,
    moveaxis_several,
] + ([matrix_transpose] if hasattr(np, "matrix_transpose") else [])


@pytest.mark.parametrize("f", PERMUTES, ids=lambda f: f.__name__)
@FEWER
@given(values((2, 3, 4)))
def test_permuting_forms(f, x):
    check_vjp(f, x)


def matrix_transpose_product(a, b):
    return a.T @ b


@FEWER
@given(values((3, 2)), values((3, 4)))
def test_transpose_attribute_in_a_product(a, b):
    check_vjp(matrix_transpose_product, a, b)


# -- joining --------------------------------------------------------------------------


def concatenate3(a, b, c, w, axis):
    return np.sum(np.concatenate([a, b, c], axis=axis) * w)


@FEWER
@given(st.data())
def test_concatenate_any_axis(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(3):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))  # the joined axis may differ in length
        arrays.append(data.draw(values(tuple(s))))
    w = weights(np.concatenate(arrays, axis=axis).shape)
    check_grad(concatenate3, *arrays, w, axis, argnums=(0, 1, 2))


def concatenate_flat(a, b):
    return np.concatenate((a, b), axis=None)


def concatenate_same_twice(a, b):
    return np.concatenate([a, b, a])


def concatenate_with_data(a):
    return np.concatenate([np.zeros(2), a])


def stack(a, b):
    return np.stack([a, b])


def stack_last(a, b):
    return np.stack([a, b, a], axis=-1)


def vstack(a, b):
    return np.vstack([a, b])


def hstack(a, b):
    return np.hstack([a, b])


def dstack(a, b):
    return np.dstack((a, b))


def stack_rows_of_one_array(m):
    return np.concatenate(m)


JOINS = [
    (concatenate_flat, [(2, 3), (4,)]),
    (concatenate_same_twice, [(2,), (3,)]),
    (stack, [(2, 3), (2, 3)]),
    (stack, [(), ()]),
    (stack_last, [(3,), (3,)]),
    (vstack, [(2, 3), (3,)]),  # a 1-D input becomes one row
    (vstack, [(3,), (3,)]),
    (hstack, [(2,), (3,)]),  # 1-D inputs are joined along axis 0
    (hstack, [(2, 1), (2, 3)]),
    (hstack, [(2, 1, 2), (2, 3, 2)]),
    (hstack, [(), (2,)]),
    (dstack, [(2, 3), (2, 3)]),
    (dstack, [(3,), (3,)]),
    (stack_rows_of_one_array, [(3, 2, 2)]),
]


@pytest.mark.parametrize("f, shapes", JOINS, ids=lambda v: getattr(v, "__name__", str(v)))
@FEWER
@given(st.data())
def test_joining_forms(f, shapes, data):
    check_vjp(f, *(data.draw(values(s)) for s in shapes))


def test_joining_constant_data_gives_only_the_variable_a_gradient():
    (g,) = check_vjp(concatenate_with_data, np.arange(3.0))
    np.testing.assert_allclose(g, weights((5,))[2:])


# -- splitting ----------------------------------------------------------------------------


def split_halves(x):
    a, b = np.split(x, 2, axis=1)
    return a * b


def array_split_one_unused(x):
    a, b, c = np.array_split(x, 3)
    return a - 2.0 * c


def hsplit_and_vsplit(x):
    left, right = np.hsplit(x, 2)
    top, middle, bottom = np.vsplit(x, 3)
    return left @ top + right @ bottom - middle[0]


def array_split_unequal(x):
    a, b, c, d = np.array_split(x, 4)  # 6 rows: pieces of 2, 2, 1 and 1 rows
    return a * b + c - d


def split_at_indices(x):
    top, middle, bottom = np.vsplit(x, [1, 4])
    return top.T @ bottom[:1] + np.sum(middle)


def split_then_index(x):
    parts = np.split(x, 2)
    return parts[0] * parts[1]


@pytest.mark.parametrize(
    "f",
    [
        split_halves,
        array_split_one_unused,
        array_split_unequal,
        split_at_indices,
        hsplit_and_vsplit,
        split_then_index,
    ],
    ids=lambda f: f.__name__,
)
@FEWER
@given(values((6, 4)))
def test_splitting(f, x):
    check_vjp(f, x)


# -- copies: tile, repeat, broadcast_to ---------------------------------------------------


def tile(x, w, reps):
    return np.sum(np.tile(x, reps) * w)


@FEWER
@given(any_array(max_dims=2), st.sampled_from([2, (2,), (1, 3), (2, 1, 2), (3, 2)]))
def test_tile(x, reps):
    check_grad(tile, x, weights(np.tile(x, reps).shape), reps)


def repeat(x, w, repeats, axis):
    return np.sum(np.repeat(x, repeats, axis) * w)


def repeat_method(x, w, repeats, axis):
    return np.sum(x.repeat(repeats, axis=axis) * w)


@FEWER
@given(any_array(min_dims=1, max_dims=3), st.data())
def test_repeat(x, data):
    axis = data.draw(st.sampled_from([None, *range(-x.ndim, x.ndim)]))
    n = x.size if axis is None else x.shape[axis]
    repeats = data.draw(
        st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n))
    )
    w = weights(np.repeat(x, repeats, axis).shape)
    check_grad(repeat, x, w, repeats, axis)
    check_grad(repeat_method, x, w, repeats, axis)


def broadcast_to(x, w, shape):
    return np.sum(np.broadcast_to(x, shape) * w)


@FEWER
@given(any_array(max_dims=2), st.sampled_from([(), (2,), (3, 1)]))
def test_broadcast_to(x, extra):
    shape = tuple(extra) + tuple(n if n != 1 else 3 for n in x.shape)
    check_grad(broadcast_to, x, weights(shape), shape)


# -- flips, rolls ---------------------------------------------------------------------------


def flip(x, w, axis):
    return np.sum(np.flip(x, axis) * w)


def roll(x, w, shift, axis):
    return np.sum(np.roll(x, shift, axis) * w)


@FEWER
@given(any_array(min_dims=1, max_dims=3), st.data())
def test_flip_and_roll(x, data):
    axes = st.integers(-x.ndim, x.ndim - 1)
    axis = data.draw(
        st.one_of(
            st.none(), axes, st.lists(axes, min_size=1, max_size=2, unique_by=lambda a: a % x.ndim)
        )
    )
    axis = tuple(axis) if isinstance(axis, list) else axis
    check_grad(flip, x, weights(x.shape), axis)
    if isinstance(axis, tuple):
        shift = tuple(data.draw(st.integers(-5, 5)) for _ in axis)
    else:
        shift = data.draw(st.integers(-5, 5))
    check_grad(roll, x, weights(x.shape), shift, axis)


def fliplr(x):
    return np.fliplr(x)


def flipud(x):
    return np.flipud(x)


def flip_literal(x):
    return np.flip(x, (0, 1))


def roll_literal(x):
    return np.roll(x, (1, -2), axis=(0, 1))


def roll_flat(x):
    return np.roll(x, 5)


@pytest.mark.parametrize(
    "f", [fliplr, flipud, flip_literal, roll_literal, roll_flat], ids=lambda f: f.__name__
)
@FEWER
@given(values((3, 4)))
def test_flip_and_roll_forms(f, x):
    check_vjp(f, x)


# -- diagonals and triangles ----------------------------------------------------------------


def diag(v, w, k):
    return np.sum(np.diag(v, k) * w)


def triu(m, w, k):
    return np.sum(np.triu(m, k) * w)


def tril(m, w, k):
    return np.sum(np.tril(m, k) * w)


@FEWER
@given(st.integers(1, 4), st.integers(1, 4), st.integers(-3, 3), st.data())
def test_diag_triu_tril(n, m, k, data):
    v = data.draw(values((n,)))
    check_grad(diag, v, weights(np.diag(v, k).shape), k)  # vector -> matrix
    a = data.draw(values((n, m)))
    check_grad(diag, a, weights(np.diag(a, k).shape), k)  # matrix -> its diagonal
    check_grad(triu, a, weights(a.shape), k)
    check_grad(tril, a, weights(a.shape), k)


# -- building arrays, copies and casts --------------------------------------------------------


def array_of_scalars(a, b, c, d):
    return np.array([[a, b], [c, d]])


def array_same_scalar_twice(a, b):
    return np.array([[a, b], [b, a]])


def array_of_arrays(x, y):
    return np.array([x * y, y, np.ones(3)])


def array_nested_arrays(x, y):
    return np.array([[x, y], [y, x]])


def array_with_float_dtype(x, y):
    return np.array([x, y], dtype=float)


def array_of_an_array(x):
    return np.array(x) * x


def asarray(x):
    return np.asarray(x)


def asarray_of_list(a, b):
    return np.asarray([a, b])


def copies(x):
    return np.copy(x) * x.copy()


def float_casts(x):
    return x.astype(np.float64).astype("float64") * x.astype(float)


def float32_cast(x):
    return x.astype(np.float32)


def int_cast(x):
    return x.astype(int) * x


BUILDS = [
    (array_of_scalars, [(), (), (), ()]),
    (array_same_scalar_twice, [(), ()]),
    (array_of_arrays, [(3,), (3,)]),
    (array_nested_arrays, [(2,), (2,)]),
    (array_with_float_dtype, [(2, 2), (2, 2)]),
    (array_of_an_array, [(2, 3)]),
    (asarray, [(2, 3)]),
    (asarray_of_list, [(), ()]),
    (copies, [(2, 3)]),
    (float_casts, [(2, 3)]),
    (int_cast, [(2, 3)]),
]


@pytest.mark.parametrize("f, shapes", BUILDS, ids=lambda v: getattr(v, "__name__", str(v)))
@FEWER
@given(st.data())
def test_building_arrays(f, shapes, data):
    # scalars as Python floats, the way users write them
    args = [float(a) if a.ndim == 0 else a for a in (data.draw(values(s)) for s in shapes)]
    if f is int_cast:
        # keep finite differences away from the integer steps
        args = [np.where(np.abs(a - np.round(a)) < 0.01, a + 0.1, a) for a in args]
    check_vjp(f, *args)


def test_float32_cast_passes_the_gradient_through():
    x = weights((2, 3))
    out, backward = chainrule.vjp(float32_cast, x)
    assert out.dtype == np.float32
    (g,) = backward(np.ones((2, 3), dtype=np.float32))
    np.testing.assert_array_equal(g, np.ones((2, 3)))


def test_int_cast_has_a_zero_gradient():
    x = np.array([0.3, 1.7, -2.2])
    g = chainrule.vjp(int_cast, x)[1](np.ones(3))[0]
    np.testing.assert_array_equal(g, x.astype(int))  # only the factor x contributes


# -- the generated code reads like the textbook rule ------------------------------------


def test_generated_code_for_shapes_reads_well():
    assert "np.reshape(dt1, np.shape(x))" in chainrule.source(reshape_literal, mode="vjp")
    assert "np.transpose(dt1)" in chainrule.source(transpose_attribute, mode="vjp")
    text = chainrule.source(stack, mode="vjp")
    assert "da, db = np.moveaxis(dt1, 0, 0)" in text
    text = chainrule.source(array_of_scalars, mode="vjp")
    assert "(da, db), (dc, dd) = dt1" in text


def test_split_like_spreads_a_gradient_that_is_one_number():
    # second-order code hands split_like (the adjoint of np.concatenate) the gradient
    # of a joined array as a plain number, the same for every element: np.split of a
    # number raised TypeError / IndexError (two crashes of a 10,000-program run)
    from chainrule.runtime import split_like

    a, b = np.zeros(2), np.zeros((3,))
    pieces = split_like(0.5, [a, b])
    assert [np.shape(p) for p in pieces] == [(2,), (3,)]
    assert all(np.all(p == 0.5) for p in pieces)
    rows = split_like(np.float64(2.0), [np.zeros((1, 3)), np.zeros((2, 3))], axis=0)
    assert [np.shape(p) for p in rows] == [(1, 3), (2, 3)] and np.all(rows[1] == 2.0)
    flat = split_like(1.0, [np.zeros((2, 2)), np.zeros(3)], axis=None)
    assert [np.shape(p) for p in flat] == [(2, 2), (3,)]


def _joined_in_a_loop(u):
    for _ in range(2):
        y = np.concatenate((u[:1], u[[1, 2, 1]]))
    if np.full((3, 4), -0.2).mean() < 0.2:
        return np.sin(u[[2, 2, 2]])
    return np.concatenate((np.full((4, 2), 0.3).T, y[:1]))


def concatenation_left_unused_by_an_early_return(x):
    for i in range(1, 4):
        y = _joined_in_a_loop(x)
        if i % 2 == 0:
            return np.sum(y * np.linspace(0.5, 1.5, 3))
    return np.sum(x)


def test_second_order_through_a_concatenation_whose_result_is_unused():
    # the gradient of the joined array reaches split_like as one number (it is unused):
    # jacrev(grad) crashed with an IndexError inside np.split
    from chainrule.testing import numerical_jacobian

    f = concatenation_left_unused_by_an_early_return
    x = np.array([0.3, -0.7, 0.5])
    expected = numerical_jacobian(chainrule.grad(f), [x], 0)
    np.testing.assert_allclose(chainrule.jacrev(chainrule.grad(f))(x), expected, atol=1e-5)
    np.testing.assert_allclose(chainrule.hessian(f)(x), expected, atol=1e-5)
