"""Indexing derivative rules (rules/indexing.py) against central finite differences.

x[index] and np.take copy some of x's elements, so the gradient is the
output's gradient written back where the elements came from; an element read
twice (a repeated integer index) must receive both gradients.  Functions
taking an index as an argument return `np.sum(x[index] * w)` for a fixed
random weight array `w`; the others are checked with chainrule.vjp
(`check_vjp` in helpers.py).  Tested functions are defined at module level, because
chainrule reads their source.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEW, check_vjp, weights
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import CompileError, check_grad


def values(shape):
    """Hypothesis floats in [-2, 2] of a fixed shape."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-2, 2, allow_subnormal=False))


def any_array(min_dims=1, max_dims=3):
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)
    return shapes.flatmap(values)


# -- an index passed in as data ------------------------------------------------------------


def pick(x, w, index):
    return np.sum(x[index] * w)


def check_pick(x, index):
    w = weights(np.shape(x[index]))
    check_grad(pick, x, w, index)


@FEW
@given(any_array(), st.data())
def test_basic_indices(x, data):
    """ints (also negative), slices with any step, None and Ellipsis, mixed in tuples."""
    index = data.draw(hnp.basic_indices(x.shape, min_dims=0, allow_newaxis=True))
    check_pick(x, index)


@FEW
@given(any_array(), st.data())
def test_integer_array_indices_with_repeats(x, data):
    index = data.draw(
        hnp.integer_array_indices(
            x.shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)
        )
    )
    check_pick(x, index)


@FEW
@given(any_array(), st.data())
def test_boolean_masks(x, data):
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    check_pick(x, mask)
    row_mask = data.draw(hnp.arrays(np.bool_, x.shape[:1]))
    check_pick(x, row_mask)


@FEW
@given(values((3, 4, 2)), st.data())
def test_mixed_advanced_and_basic_indices(x, data):
    rows = data.draw(st.lists(st.integers(-3, 2), min_size=1, max_size=4))
    check_pick(x, (rows, slice(None, None, -1)))
    check_pick(x, (Ellipsis, [1, 1, 0]))
    check_pick(x, (None, rows, 1))
    check_pick(x, (slice(1, None), [0, 3, 3], [1, 0, 1]))


def test_repeated_integer_indices_accumulate():
    x = np.arange(4.0)
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    g = chainrule.grad(pick)(x, w, [2, 0, 2, 2])
    # y = x[[2, 0, 2, 2]] reads x[2] three times: its gradient is the sum of those weights
    np.testing.assert_array_equal(g, [10.0, 0.0, 1101.0, 0.0])
    check_pick(x, [2, 0, 2, 2])


# -- literal indices, as users write them ---------------------------------------------------


def first_row(x):
    return x[0]


def last_row(x):
    return x[-1]


def reversed_columns(x):
    return x[:, ::-1]


def strided(x):
    return x[-1:0:-2, 1::2]


def new_axes(x):
    return x[None, ..., 1:, None]


def element(x):
    return x[1, 2]


def repeated_rows(x):
    return x[[0, 0, 2, 0]]


def fancy_pairs(x):
    return x[[0, 2, 0], [1, 1, 1]]


def positive_part(x):
    return x[x > 0]


def used_twice(x):
    return x * x[::-1]


def overlapping_slices(x):
    return x[1:] - x[:-1]


LITERALS = [
    first_row,
    last_row,
    reversed_columns,
    strided,
    new_axes,
    element,
    repeated_rows,
    fancy_pairs,
    used_twice,
    overlapping_slices,
]


@pytest.mark.parametrize("f", LITERALS, ids=lambda f: f.__name__)
@FEW
@given(values((3, 4)))
def test_literal_indices(f, x):
    check_vjp(f, x)


@FEW
@given(st.integers(0, 2**32 - 1))
def test_boolean_mask_from_the_values(seed):
    # random normal values: none is 0, where the mask (and the output's length) would jump
    check_vjp(positive_part, np.random.default_rng(seed).normal(size=(3, 4)))


def test_a_value_used_twice_sums_its_gradients():
    x = np.array([1.0, 2.0, 3.0])
    (g,) = check_vjp(used_twice, x)
    w = weights((3,))
    # y[i] = x[i] x[2-i]: x[j] is read by y[j] and by y[2-j], so dx[j] = (w[j] + w[2-j]) x[2-j]
    np.testing.assert_allclose(g, (w + w[::-1]) * x[::-1])


def select_by_data(x, labels, w):
    picked = x[np.arange(len(labels)), labels]  # one entry per row, as in a classifier's loss
    return picked @ w


@FEW
@given(values((4, 3)), st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_index_computed_from_data(x, labels):
    labels = np.array(labels)
    check_grad(select_by_data, x, labels, weights((4,)))


def index_from_the_value_itself(x):
    return x[np.argmax(x)] + x[(x * 0).astype(int)][0]


def test_an_index_computed_from_a_differentiated_value_is_refused():
    with pytest.raises(CompileError, match="index"):
        chainrule.grad(index_from_the_value_itself)(np.ones(3))


# -- np.take ---------------------------------------------------------------------------------


def take(x, w, indices, axis, mode):
    return np.sum(np.take(x, indices, axis=axis, mode=mode) * w)


def take_method(x, w, indices, axis):
    return np.sum(x.take(indices, axis) * w)


@FEW
@given(any_array(), st.data())
def test_take(x, data):
    axis = data.draw(st.sampled_from([None, *range(-x.ndim, x.ndim)]))
    mode = data.draw(st.sampled_from(["raise", "wrap", "clip"]))
    n = x.size if axis is None else x.shape[axis]
    bound = 2 * n if mode != "raise" else n
    indices = data.draw(
        st.one_of(
            st.integers(-bound, bound - 1),
            hnp.arrays(
                np.intp,
                hnp.array_shapes(max_dims=2, max_side=4),
                elements=st.integers(-bound, bound - 1),
            ),
        )
    )
    w = weights(np.shape(np.take(x, indices, axis=axis, mode=mode)))
    check_grad(take, x, w, indices, axis, mode)
    if mode == "raise":
        check_grad(take_method, x, w, indices, axis)


def take_literal(x):
    return np.take(x, [0, 3, 3, -1])


def take_rows(x):
    return np.take(x, [[0, 1], [1, 1]], axis=1)


@pytest.mark.parametrize("f", [take_literal, take_rows], ids=lambda f: f.__name__)
@FEW
@given(values((3, 4)))
def test_take_forms(f, x):
    check_vjp(f, x)


# -- the generated code reads like the textbook rule ------------------------------------


def test_generated_code_for_indexing_reads_well():
    text = chainrule.source(strided, mode="vjp")
    assert "index_grad(dt1, x, np.s_[-1:0:-2, 1::2])" in text
