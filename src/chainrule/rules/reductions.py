"""Rules for reductions (sum, mean, prod, max, var, ...) and cumulative sums and products.

Each rule is registered for the NumPy function and for the ndarray method
(`np.sum(x, 0)` and `x.sum(0)`), and its parameters follow the positional
order both share (`a, axis`).  `keepdims` is keyword-only here: in NumPy it
comes after `dtype` and `out`, which have no rule, so passing `dtype=`, `out=`,
`where=` or `initial=` is reported by the compiler instead of being ignored.

A reduction's gradient is the incoming gradient copied back along the reduced
axes (`expand_to`), times the local derivative of each element.
"""

import numpy as np

from ..runtime import (
    cumprod_grad,
    cumprod_jvp,
    expand_to,
    median_weights,
    prod_grad,
    reduce_extreme_grad,
    restore_axes,
)
from .registry import adjoint, literal, nondifferentiable, numpy_attrs, tangent


@adjoint(np.sum, np.ndarray.sum)
def sum_(y, a, axis=None, *, keepdims=False):
    "sum: every summed element receives the output's gradient"
    if axis is None:
        da = np.full_like(a, dy)
    elif literal(keepdims) and not keepdims:
        da = expand_to(dy, a, axis)
    else:
        da = expand_to(dy, a, axis, keepdims)


@tangent(np.sum, np.ndarray.sum)
def sum_tangent(y, a, axis=None, *, keepdims=False):
    "sum: the tangent of a sum is the sum of the tangents"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.sum(da)
    elif literal(keepdims) and not keepdims:
        dy = np.sum(da, axis)
    else:
        dy = np.sum(da, axis, keepdims=keepdims)


@adjoint(np.nansum)
def nansum(y, a, axis=None, *, keepdims=False):
    "nansum: the gradient reaches every element that is not NaN"
    if axis is None:
        da = dy * ~np.isnan(a)
    else:
        da = expand_to(dy, a, axis, keepdims) * ~np.isnan(a)


@tangent(np.nansum)
def nansum_tangent(y, a, axis=None, *, keepdims=False):
    "nansum: the sum of the tangents of the elements that are not NaN"
    dy = np.sum(np.where(np.isnan(a), 0.0, da), axis, keepdims=keepdims)


@adjoint(np.mean, np.ndarray.mean)
def mean(y, a, axis=None, *, keepdims=False):
    "mean: every element receives the gradient divided by the number averaged"
    if axis is None:
        da = np.full_like(a, dy / np.size(a))
    elif literal(keepdims) and not keepdims:
        da = expand_to(dy / (np.size(a) // np.size(y)), a, axis)
    else:
        da = expand_to(dy / (np.size(a) // np.size(y)), a, axis, keepdims)


@tangent(np.mean, np.ndarray.mean)
def mean_tangent(y, a, axis=None, *, keepdims=False):
    "mean: the tangent of a mean is the mean of the tangents"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.mean(da)
    elif literal(keepdims) and not keepdims:
        dy = np.mean(da, axis)
    else:
        dy = np.mean(da, axis, keepdims=keepdims)


@adjoint(np.prod, np.ndarray.prod, *numpy_attrs("product"))  # product: NumPy < 2
def prod(y, a, axis=None, *, keepdims=False):
    "prod: each factor receives the gradient times the product of the others"
    if axis is None:
        da = prod_grad(dy, a)
    elif literal(keepdims) and not keepdims:
        da = prod_grad(dy, a, axis)
    else:
        da = prod_grad(dy, a, axis, keepdims)


@tangent(np.prod, np.ndarray.prod, *numpy_attrs("product"))
def prod_tangent(y, a, axis=None, *, keepdims=False):
    "prod: each factor's tangent times the product of the others, summed"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.sum(prod_grad(np.ones_like(y), a) * da)
    else:
        dy = np.sum(prod_grad(np.ones_like(y), a, axis, keepdims) * da, axis, keepdims=keepdims)


@adjoint(np.max, np.amax, np.ndarray.max, np.min, np.amin, np.ndarray.min)
def extreme(y, a, axis=None, *, keepdims=False):
    "max/min: the gradient goes to the winning elements (ties share it equally)"
    if axis is None:
        da = reduce_extreme_grad(dy, a, y)
    elif literal(keepdims) and not keepdims:
        da = reduce_extreme_grad(dy, a, y, axis)
    else:
        da = reduce_extreme_grad(dy, a, y, axis, keepdims)


@tangent(np.max, np.amax, np.ndarray.max, np.min, np.amin, np.ndarray.min)
def extreme_tangent(y, a, axis=None, *, keepdims=False):
    "max/min: the tangent of the winning element (ties share equally)"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.sum(reduce_extreme_grad(np.ones_like(y), a, y) * da)
    else:
        share = reduce_extreme_grad(np.ones_like(y), a, y, axis, keepdims)
        dy = np.sum(share * da, axis, keepdims=keepdims)


@adjoint(np.median)
def median(y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    "median: the gradient goes to the middle element (halves to the two middle ones; ties share)"
    da = restore_axes(dy, a, axis, keepdims) * median_weights(a, axis)


@tangent(np.median)
def median_tangent(y, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    "median: the tangent of the middle element (the mean of the two middle ones' tangents)"
    dy = np.sum(median_weights(a, axis) * da, axis, keepdims=keepdims)


@adjoint(np.var, np.ndarray.var)
def var(y, a, axis=None, *, ddof=0, keepdims=False):
    "var: d var = 2 (a - mean(a)) / (n - ddof), n = the number of elements averaged"
    if axis is None:
        if literal(ddof) and ddof == 0:
            da = dy * 2 * (a - np.mean(a)) / np.size(a)
        else:
            da = dy * 2 * (a - np.mean(a)) / (np.size(a) - ddof)
    else:
        n = np.size(a) // np.size(y)
        centered = a - np.mean(a, axis=axis, keepdims=True)
        da = restore_axes(dy, a, axis, keepdims) * 2 * centered / (n - ddof)


@tangent(np.var, np.ndarray.var)
def var_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    "var: d var = sum(2 (a - mean(a)) da) / (n - ddof), n = the number of elements averaged"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.sum(2 * (a - np.mean(a)) * da) / (np.size(a) - ddof)
    else:
        n = np.size(a) // np.size(y)
        centered = a - np.mean(a, axis=axis, keepdims=True)
        dy = np.sum(2 * centered * da, axis, keepdims=keepdims) / (n - ddof)


@adjoint(np.std, np.ndarray.std)
def std(y, a, axis=None, *, ddof=0, keepdims=False):
    "std: d std = (a - mean(a)) / ((n - ddof) std), n = the number averaged (0 where std is 0)"
    if axis is None:
        if literal(ddof) and ddof == 0:
            da = dy * (a - np.mean(a)) / (np.size(a) * np.where(y == 0, 1, y))
        else:
            da = dy * (a - np.mean(a)) / ((np.size(a) - ddof) * np.where(y == 0, 1, y))
    else:
        n = np.size(a) // np.size(y)
        centered = a - np.mean(a, axis=axis, keepdims=True)
        da = restore_axes(dy / np.where(y == 0, 1, y), a, axis, keepdims) * centered / (n - ddof)


@tangent(np.std, np.ndarray.std)
def std_tangent(y, a, axis=None, *, ddof=0, keepdims=False):
    "std: d std = sum((a - mean(a)) da) / ((n - ddof) std), n = the number averaged (0 if std is 0)"
    if literal(axis) and axis is None and literal(keepdims) and not keepdims:
        dy = np.sum((a - np.mean(a)) * da) / ((np.size(a) - ddof) * np.where(y == 0, 1, y))
    else:
        n = np.size(a) // np.size(y)
        centered = a - np.mean(a, axis=axis, keepdims=True)
        dy = np.sum(centered * da, axis, keepdims=keepdims) / ((n - ddof) * np.where(y == 0, 1, y))


@adjoint(np.cumsum, np.ndarray.cumsum)
def cumsum(y, a, axis=None):
    "cumsum: each element receives the sum of the gradients from its position on"
    if axis is None:
        da = np.reshape(np.cumsum(dy[::-1])[::-1], np.shape(a))
    else:
        da = np.flip(np.cumsum(np.flip(dy, axis), axis), axis)


@tangent(np.cumsum, np.ndarray.cumsum)
def cumsum_tangent(y, a, axis=None):
    "cumsum: the running sum of the tangents"
    if literal(axis) and axis is None:
        dy = np.cumsum(da)
    else:
        dy = np.cumsum(da, axis)


@adjoint(np.cumprod, np.ndarray.cumprod, *numpy_attrs("cumproduct"))
def cumprod(y, a, axis=None):
    "cumprod: each factor receives the later gradients times the other factors"
    if axis is None:
        da = cumprod_grad(dy, a)
    else:
        da = cumprod_grad(dy, a, axis)


@tangent(np.cumprod, np.ndarray.cumprod, *numpy_attrs("cumproduct"))
def cumprod_tangent(y, a, axis=None):
    "cumprod: each factor's tangent times the other factors of every running product"
    dy = cumprod_jvp(da, a, axis)


if hasattr(np, "cumulative_sum"):  # NumPy >= 2.1: axis is keyword-only

    @adjoint(np.cumulative_sum, check_signature=False)
    def cumulative_sum(y, x, *, axis=None):
        "cumulative_sum: each element receives the sum of the gradients from its position on"
        if axis is None:
            dx = np.reshape(np.cumsum(dy[::-1])[::-1], np.shape(x))
        else:
            dx = np.flip(np.cumsum(np.flip(dy, axis), axis), axis)

    @adjoint(np.cumulative_prod, check_signature=False)
    def cumulative_prod(y, x, *, axis=None):
        "cumulative_prod: each factor receives the later gradients times the other factors"
        dx = cumprod_grad(dy, x, axis)

    @tangent(np.cumulative_sum, check_signature=False)
    def cumulative_sum_tangent(y, x, *, axis=None):
        "cumulative_sum: the running sum of the tangents"
        dy = np.cumulative_sum(dx, axis=axis)

    @tangent(np.cumulative_prod, check_signature=False)
    def cumulative_prod_tangent(y, x, *, axis=None):
        "cumulative_prod: each factor's tangent times the other factors of every running product"
        dy = cumprod_jvp(dx, x, axis)


# fmt: off
nondifferentiable(
    np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero, np.ndarray.argmax,
    np.ndarray.argmin, np.ndarray.argsort, np.ndarray.nonzero, np.flatnonzero,
    np.any, np.all, np.ndarray.any, np.ndarray.all, np.searchsorted, np.ndarray.searchsorted,
    np.argwhere, np.digitize, np.argpartition, np.ndarray.argpartition, np.lexsort,
    np.unravel_index, np.ravel_multi_index, np.isin,
    why="the result is an index, count or truth value",
)
nondifferentiable(median_weights, why="which elements are in the middle: piecewise constant")
# fmt: on
