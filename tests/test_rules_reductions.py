"""Reduction and cumulative rules (rules/reductions.py) against central finite differences.

Each reduction is tested as a NumPy function and as an ndarray method, over
shapes with size-1 axes and every kind of `axis` (None, int, negative int,
tuple) with and without keepdims.  `axis` and `keepdims` are passed as
arguments, so the same compiled gradient serves every drawn combination; a
second set of functions writes them as literals (`x.sum(0)`), which the
compiler resolves when it instantiates the rule.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEW, MORE, weights
from hypothesis import assume, given
from hypothesis import strategies as st

import chainrule
from chainrule import CompileError, check_grad
from chainrule.testing import check_grads

SHAPES = [(), (1,), (4,), (2, 3), (3, 1), (1, 3), (2, 1, 3), (2, 3, 2)]


@st.composite
def array_and_axis(draw, lo=-2.0, hi=2.0, tuples=True):
    """An array, an axis argument valid for it (None, int, negative int, tuple)."""
    shape = draw(st.sampled_from(SHAPES))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        if tuples:
            choices.append(
                st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
                    lambda axes: st.tuples(
                        *[st.sampled_from([a, a - ndim]) for a in axes]
                    )  # mix positive and negative spellings of the same axes
                )
            )
    axis = draw(st.one_of(*choices))
    return x, axis


def slices(x, axis):
    """How many elements each reduced slice has."""
    return x.size // max(np.sum(x, axis=axis).size, 1) if x.size else 0


# -- sum, mean, prod, nansum ---------------------------------------------------------------


def r_sum(x, w, axis, keepdims):
    return np.sum(np.sum(x, axis=axis, keepdims=keepdims) * w)


def r_sum_method(x, w, axis, keepdims):
    return np.sum(x.sum(axis=axis, keepdims=keepdims) * w)


def r_mean(x, w, axis, keepdims):
    return np.sum(np.mean(x, axis=axis, keepdims=keepdims) * w)


def r_mean_method(x, w, axis, keepdims):
    return np.sum(x.mean(axis=axis, keepdims=keepdims) * w)


def r_prod(x, w, axis, keepdims):
    return np.sum(np.prod(x, axis=axis, keepdims=keepdims) * w)


def r_prod_method(x, w, axis, keepdims):
    return np.sum(x.prod(axis=axis, keepdims=keepdims) * w)


def r_nansum(x, w, axis, keepdims):
    return np.sum(np.nansum(x, axis=axis, keepdims=keepdims) * w)


SMOOTH = [r_sum, r_sum_method, r_mean, r_mean_method, r_prod, r_prod_method, r_nansum]


@pytest.mark.parametrize("f", SMOOTH, ids=lambda f: f.__name__[2:])
@FEW
@given(data=array_and_axis(lo=0.5, hi=1.5), keepdims=st.booleans())
def test_sum_mean_prod(f, data, keepdims):
    x, axis = data
    w = weights(np.sum(x, axis=axis, keepdims=keepdims).shape)
    check_grad(f, x, w, axis, keepdims)


# -- max and min --------------------------------------------------------------------------


def r_max(x, w, axis, keepdims):
    return np.sum(np.max(x, axis=axis, keepdims=keepdims) * w)


def r_amax(x, w, axis, keepdims):
    return np.sum(np.amax(x, axis=axis, keepdims=keepdims) * w)


def r_max_method(x, w, axis, keepdims):
    return np.sum(x.max(axis=axis, keepdims=keepdims) * w)


def r_min(x, w, axis, keepdims):
    return np.sum(np.min(x, axis=axis, keepdims=keepdims) * w)


def r_amin(x, w, axis, keepdims):
    return np.sum(np.amin(x, axis=axis, keepdims=keepdims) * w)


def r_min_method(x, w, axis, keepdims):
    return np.sum(x.min(axis=axis, keepdims=keepdims) * w)


EXTREMES = [r_max, r_amax, r_max_method, r_min, r_amin, r_min_method]


@pytest.mark.parametrize("f", EXTREMES, ids=lambda f: f.__name__[2:])
@FEW
@given(data=array_and_axis(), keepdims=st.booleans())
def test_max_min(f, data, keepdims):
    x, axis = data
    gaps = np.diff(np.sort(x.reshape(-1)))
    assume(np.all(gaps > 1e-3))  # no ties: finite differences need a unique winner
    w = weights(np.sum(x, axis=axis, keepdims=keepdims).shape)
    check_grad(f, x, w, axis, keepdims)


def t_max_all(x):
    return np.max(x)


def t_min_rows(x, w):
    return np.sum(x.min(axis=1) * w)


def t_amax_cols(x, w):
    return np.sum(np.amax(x, 0, keepdims=True) * w)


def test_ties_share_the_gradient_equally():
    g = chainrule.grad(t_max_all)(np.array([1.0, 3.0, 3.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [0, 1 / 3, 1 / 3, 0, 1 / 3])
    assert np.sum(g) == pytest.approx(1.0)

    x = np.array([[1.0, 1.0, 2.0], [0.5, 4.0, 0.5], [2.0, 2.0, 2.0]])
    w = weights(3)
    g = chainrule.grad(t_min_rows)(x, w)
    np.testing.assert_allclose(np.sum(g, axis=1), w)  # each row passes on exactly its w
    np.testing.assert_allclose(g[0], [w[0] / 2, w[0] / 2, 0])
    np.testing.assert_allclose(g[2], np.full(3, w[2] / 3))

    w = weights((1, 3))
    g = chainrule.grad(t_amax_cols)(x, w)
    np.testing.assert_allclose(np.sum(g, axis=0), w[0])
    np.testing.assert_allclose(g[:, 0], [0, 0, w[0, 0]])


# -- var and std ----------------------------------------------------------------------------


def r_var(x, w, axis, keepdims, ddof):
    return np.sum(np.var(x, axis=axis, ddof=ddof, keepdims=keepdims) * w)


def r_var_method(x, w, axis, keepdims, ddof):
    return np.sum(x.var(axis=axis, ddof=ddof, keepdims=keepdims) * w)


def r_std(x, w, axis, keepdims, ddof):
    return np.sum(np.std(x, axis=axis, ddof=ddof, keepdims=keepdims) * w)


def r_std_method(x, w, axis, keepdims, ddof):
    return np.sum(x.std(axis=axis, ddof=ddof, keepdims=keepdims) * w)


@pytest.mark.parametrize(
    "f", [r_var, r_var_method, r_std, r_std_method], ids=lambda f: f.__name__[2:]
)
@FEW
@given(data=array_and_axis(), keepdims=st.booleans(), ddof=st.sampled_from([0, 1]))
def test_var_std(f, data, keepdims, ddof):
    x, axis = data
    assume(slices(x, axis) > ddof)
    # std is not differentiable where a slice is constant (std = 0)
    assume(np.all(np.std(x, axis=axis) > 0.05))
    w = weights(np.sum(x, axis=axis, keepdims=keepdims).shape)
    check_grad(f, x, w, axis, keepdims, ddof)


# -- cumulative sums and products -------------------------------------------------------


def r_cumsum(x, w, axis):
    return np.sum(np.cumsum(x, axis=axis) * w)


def r_cumsum_method(x, w, axis):
    return np.sum(x.cumsum(axis) * w)


def r_cumprod(x, w, axis):
    return np.sum(np.cumprod(x, axis=axis) * w)


def r_cumprod_method(x, w, axis):
    return np.sum(x.cumprod(axis) * w)


CUMULATIVE = [r_cumsum, r_cumsum_method, r_cumprod, r_cumprod_method]


@pytest.mark.parametrize("f", CUMULATIVE, ids=lambda f: f.__name__[2:])
@FEW
@given(data=array_and_axis(lo=0.5, hi=1.5, tuples=False))
def test_cumsum_cumprod(f, data):
    x, axis = data
    w = weights(np.cumsum(x, axis=axis).shape)
    check_grad(f, x, w, axis)


if hasattr(np, "cumulative_sum"):

    def r_cumulative_sum(x, w):
        return np.sum(np.cumulative_sum(x, axis=1) * w)

    def r_cumulative_prod(x, w):
        return np.sum(np.cumulative_prod(x, axis=-1) * w)

    def test_cumulative_functions():
        x = np.random.default_rng(0).uniform(0.5, 1.5, (2, 3))
        x[1, 1] = 0.0
        check_grad(r_cumulative_sum, x, weights((2, 3)))
        check_grad(r_cumulative_prod, x, weights((2, 3)))


# -- exact with zeros ------------------------------------------------------------------------


def z_prod_all(x):
    return np.prod(x)


def z_prod_rows(x, w):
    return np.sum(np.prod(x, axis=1) * w)


def z_cumprod_flat(x, w):
    return np.sum(np.cumprod(x) * w)


def z_cumprod_cols(x, w):
    return np.sum(x.cumprod(axis=0) * w)


def test_prod_with_zeros_is_exact():
    # d prod / dx_i is the product of the other elements: no division by x_i
    g = chainrule.grad(z_prod_all)(np.array([2.0, 0.0, 3.0, 4.0]))
    np.testing.assert_array_equal(g, [0.0, 24.0, 0.0, 0.0])
    g = chainrule.grad(z_prod_all)(np.array([2.0, 0.0, 3.0, 0.0]))
    np.testing.assert_array_equal(g, np.zeros(4))
    x = np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, -2.0, 0.5]])
    w = weights(3)
    g = chainrule.grad(z_prod_rows)(x, w)
    assert np.all(np.isfinite(g))
    check_grad(z_prod_rows, x, w)


@MORE
@given(
    x=hnp.arrays(
        np.float64,
        st.sampled_from([(5,), (3, 4), (2, 1, 3)]),
        elements=st.sampled_from([0.0, 0.0, 0.5, -1.5, 1.25, 0.8]),
    )
)
def test_prod_and_cumprod_with_zeros(x):
    w = weights(x.shape)
    check_grad(z_prod_all, x)
    check_grad(z_cumprod_flat, x, w.reshape(-1))
    check_grad(z_cumprod_cols, x, w)
    g = chainrule.grad(z_cumprod_cols)(x, w)
    assert np.all(np.isfinite(g))


# -- literal axes and positional arguments -------------------------------------------------


def s_sum_method_positional(x, w):
    return np.sum(x.sum(0) * w)


def s_sum_tuple_keepdims(x, w):
    return np.sum(np.sum(x, axis=(0, 2), keepdims=True) * w)


def s_mean_negative(x, w):
    return np.sum(np.mean(x, -1) * w)


def s_max_method_positional(x, w):
    return np.sum(x.max(1) * w)


def s_prod_all(x, w):
    return np.prod(x) * w


def s_var_ddof(x, w):
    return np.sum(x.var(axis=(1, 2), ddof=1) * w)


def s_std_all(x, w):
    return np.std(x) * w


def s_cumsum_negative(x, w):
    return np.sum(np.cumsum(x, -2) * w)


def s_chain(x, w):
    # reductions feeding each other
    centered = x - x.mean(axis=0, keepdims=True)
    return np.sum(np.max(centered * centered, axis=-1) * w) + np.sum(np.sum(x, axis=(0, 1)) ** 2)


STATIC = [  # (function, shape of its weights) for x of shape (2, 3, 4)
    (s_sum_method_positional, (3, 4)),
    (s_sum_tuple_keepdims, (1, 3, 1)),
    (s_mean_negative, (2, 3)),
    (s_max_method_positional, (2, 4)),
    (s_prod_all, ()),
    (s_var_ddof, (2,)),
    (s_std_all, ()),
    (s_cumsum_negative, (2, 3, 4)),
    (s_chain, (3,)),
]


@pytest.mark.parametrize("f, wshape", STATIC, ids=[f.__name__[2:] for f, _ in STATIC])
def test_literal_axes(f, wshape):
    x = np.random.default_rng(5).uniform(0.5, 1.5, (2, 3, 4))
    check_grad(f, x, weights(wshape))


def test_literal_axis_is_resolved_when_compiling():
    src = chainrule.grad(s_sum_method_positional).source
    assert "if " not in src.split("backward pass")[1]


def e_sum_dtype(x):
    return np.sum(x, dtype=np.float32)


def e_max_initial(x):
    return np.max(x, initial=0.0)


def e_mean_where(x):
    return np.mean(x, where=x > 0)


@pytest.mark.parametrize(
    "f", [e_sum_dtype, e_max_initial, e_mean_where], ids=lambda f: f.__name__[2:]
)
def test_unsupported_arguments_are_reported(f):
    with pytest.raises(CompileError, match="does not accept"):
        chainrule.grad(f)(np.array([1.0, 2.0]))


# -- np.median: the middle element(s) ----------------------------------------------------


def _median_loss(x):
    return np.sum(np.sin(np.median(x, axis=0)) * np.arange(1.0, 5.0)) + np.median(x * x) ** 2


def _middle(sorted_values, n):
    """The median of n sorted values along the first axis, written out."""
    if n % 2:
        return sorted_values[n // 2]
    return (sorted_values[n // 2 - 1] + sorted_values[n // 2]) / 2


def _median_oracle(x):
    """The median written with a sort (autograd has no rule for np.median)."""
    anp = pytest.importorskip("autograd.numpy")
    columns = anp.stack([_middle(anp.sort(x[:, j]), x.shape[0]) for j in range(x.shape[1])])
    squares = _middle(anp.sort(anp.reshape(x * x, -1)), x.size)
    return anp.sum(anp.sin(columns) * anp.arange(1.0, 5.0)) + squares**2


@pytest.mark.parametrize("rows", [5, 4])  # one middle element per column, then two
def test_median(rows):
    autograd = pytest.importorskip("autograd")
    x = np.random.default_rng(rows).normal(size=(rows, 4))
    np.testing.assert_allclose(
        chainrule.grad(_median_loss)(x), autograd.grad(_median_oracle)(x), atol=1e-12
    )
    np.testing.assert_allclose(
        chainrule.hessian(_median_loss)(x), autograd.hessian(_median_oracle)(x), atol=1e-12
    )
    check_grads(_median_loss, (x,), order=2)
    ties = np.array([1.0, 2.0, 2.0, 5.0])  # the middle value twice: the two share it
    np.testing.assert_allclose(chainrule.grad(np.median)(ties), [0.0, 0.5, 0.5, 0.0])


def r_median(x, w, axis, keepdims):
    return np.sum(np.median(x, axis=axis, keepdims=keepdims) * w)


@FEW
@given(data=array_and_axis(), keepdims=st.booleans())
def test_median_over_drawn_shapes_and_axes(data, keepdims):
    """Reverse and forward mode (check_grad, check_grads) against finite differences."""
    x, axis = data
    assume(x.size > 0)
    gaps = np.diff(np.sort(x.reshape(-1)))
    assume(np.all(gaps > 1e-3))  # no ties: finite differences need one middle element
    w = weights(np.median(x, axis=axis, keepdims=keepdims).shape)
    check_grad(r_median, x, w, axis, keepdims)
    check_grads(lambda v: np.sum(np.median(v, axis=axis, keepdims=keepdims) * w), (x,))
