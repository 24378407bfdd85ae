"""Rules for array and signal functions: cross and Kronecker products, differences and
np.gradient, convolutions, padding, sorting, gathers, interpolation, integration, the
real/imaginary parts of real arrays, and the remaining joins and rearrangements.

Most of these are linear in each differentiated input, so a tangent is the function
applied to the tangent, and an adjoint is the transposed map (a helper in
runtime/signals.py where it takes more than a line).
"""

import numpy as np

from ..runtime import (
    broadcast_like,
    column_of,
    conv_grad,
    corr_crop,
    corr_embed,
    cross_grad_left,
    cross_grad_right,
    diff_grad,
    gradient_grad,
    interp_grads,
    item_grad,
    item_of,
    kron_grad_left,
    kron_grad_right,
    pad_grad,
    restore_axes,
    rollaxis_order,
    select_choices_grad,
    select_default_grad,
    sorted_from,
    split_like,
    take_along_axis_grad,
    trapezoid_weights,
    trapezoid_x_grad,
    trapezoid_x_tangent,
    unbroadcast,
    untranspose,
)
from .registry import adjoint, literal, nondifferentiable, tangent

nondifferentiable(sorted_from, rollaxis_order, why="positions and axis orders are integers")

# -- products -------------------------------------------------------------------------


@adjoint(np.cross)
def cross(c, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "cross product c = a x b: da = b x dc and db = dc x a"
    da = cross_grad_left(dc, a, b, axisa, axisb, axisc, axis)
    db = cross_grad_right(dc, a, b, axisa, axisb, axisc, axis)


@tangent(np.cross)
def cross_tangent(c, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "product rule: d(a x b) = da x b + a x db"
    dc = np.cross(da, b, axisa, axisb, axisc, axis) + np.cross(a, db, axisa, axisb, axisc, axis)


@adjoint(np.kron)
def kron(y, a, b):
    "Kronecker product: each factor gets the blocks of dy weighted by the other, summed"
    da = kron_grad_left(dy, a, b)
    db = kron_grad_right(dy, a, b)


@tangent(np.kron)
def kron_tangent(y, a, b):
    "product rule: d kron(a, b) = kron(da, b) + kron(a, db)"
    dy = np.kron(da, b) + np.kron(a, db)


# -- differences, slopes, integrals -------------------------------------------------------


@adjoint(np.diff)
def diff(y, a, n=1, axis=-1):
    "diff: the transposed difference, dx[i] = dy[i - 1] - dy[i], n times"
    da = diff_grad(dy, n, axis)


@tangent(np.diff)
def diff_tangent(y, a, n=1, axis=-1):
    "diff: the differences of the tangent"
    dy = np.diff(da, n, axis)


@adjoint(np.gradient)
def gradient(y, f, *varargs, axis=None, edge_order=1):
    "np.gradient: a linear map along each axis, transposed"
    df = gradient_grad(dy, f, varargs, axis, edge_order)


@tangent(np.gradient)
def gradient_tangent(y, f, *varargs, axis=None, edge_order=1):
    "np.gradient: linear, so the tangent's np.gradient"
    dy = np.gradient(df, *varargs, axis=axis, edge_order=edge_order)


def trapezoid(r, y, xs=None, dx=1.0, axis=-1):
    "trapezoid rule: each sample's weight (half a spacing at the ends); the spacings' too"
    dy = restore_axes(dr, y, axis, False) * trapezoid_weights(np.shape(y), xs, dx, axis)
    dxs = trapezoid_x_grad(dr, y, xs, axis)
    if literal(xs) and xs is None:
        ddx = unbroadcast(
            dr * np.sum(trapezoid_weights(np.shape(y), None, 1.0, axis) * y, axis), dx
        )


def trapezoid_tangent(r, y, xs=None, dx=1.0, axis=-1):
    "trapezoid rule: linear in y, and in the sample points x (or the spacing dx)"
    if literal(xs) and xs is None:
        dr = np.sum(trapezoid_weights(np.shape(y), xs, dx, axis) * dy, axis) + ddx * np.sum(
            trapezoid_weights(np.shape(y), None, 1.0, axis) * y, axis
        )
    else:
        dr = np.sum(trapezoid_weights(np.shape(y), xs, dx, axis) * dy, axis) + trapezoid_x_tangent(
            y, dxs, axis
        )


for _name in ("trapezoid", "trapz"):  # trapezoid: NumPy 2.0+; trapz: before 2.4
    if hasattr(np, _name):
        adjoint(getattr(np, _name))(trapezoid)
        tangent(getattr(np, _name))(trapezoid_tangent)


@adjoint(np.interp)
def interp(y, x, xp, fp):
    "linear interpolation: the segment's slope for x, its two end weights for fp and xp"
    dx = interp_grads(dy, x, xp, fp)[0]
    dxp = interp_grads(dy, x, xp, fp)[1]
    dfp = interp_grads(dy, x, xp, fp)[2]


@tangent(np.interp)
def interp_tangent(y, x, xp, fp):
    "linear interpolation: slope s: dy = s dx + (fp's tangent interpolated) - s (xp's, too)"
    dy = (
        interp_grads(np.ones_like(y), x, xp, fp)[0] * dx
        + np.interp(x, xp, dfp)
        - interp_grads(np.ones_like(y), x, xp, fp)[0] * np.interp(x, xp, dxp)
    )


# -- convolutions -------------------------------------------------------------------------


@adjoint(np.convolve)
def convolve(y, a, v, mode="full"):
    "convolution: each input's gradient is dy correlated with the other input"
    da = conv_grad(dy, a, v, mode)
    dv = conv_grad(dy, v, a, mode)


@tangent(np.convolve)
def convolve_tangent(y, a, v, mode="full"):
    "product rule: d(a * v) = da * v + a * dv"
    dy = np.convolve(da, v, mode) + np.convolve(a, dv, mode)


@adjoint(np.correlate)
def correlate(y, a, v, mode="valid"):
    "correlation: a convolution with v reversed"
    da = conv_grad(corr_embed(dy, a, v, mode), a, np.flip(v), "full")
    dv = np.flip(conv_grad(corr_embed(dy, a, v, mode), np.flip(v), a, "full"))


@tangent(np.correlate)
def correlate_tangent(y, a, v, mode="valid"):
    "product rule: d corr(a, v) = corr(da, v) + corr(a, dv)"
    dy = np.correlate(da, v, mode) + np.correlate(a, dv, mode)


# -- gathers: sorting, partitions, take_along_axis, padding, item ---------------------


@adjoint(np.sort)
def sort(y, a, axis=-1, kind=None, order=None):
    "sort: each element's gradient goes back to the position it came from"
    da = take_along_axis_grad(dy, a, sorted_from(y, a, axis), axis)


@tangent(np.sort)
def sort_tangent(y, a, axis=-1, kind=None, order=None):
    "sort: the tangent is reordered the same way"
    dy = np.take_along_axis(da, sorted_from(y, a, axis), axis)


@adjoint(np.partition)
def partition(y, a, kth, axis=-1, kind="introselect", order=None):
    "partition: each element's gradient goes back to the position it came from"
    da = take_along_axis_grad(dy, a, sorted_from(y, a, axis), axis)


@tangent(np.partition)
def partition_tangent(y, a, kth, axis=-1, kind="introselect", order=None):
    "partition: the tangent is reordered the same way"
    dy = np.take_along_axis(da, sorted_from(y, a, axis), axis)


@adjoint(np.take_along_axis)
def take_along_axis(y, arr, indices, axis=-1):
    "take_along_axis: dy goes back to the positions read (repeats add up)"
    darr = take_along_axis_grad(dy, arr, indices, axis)


@tangent(np.take_along_axis)
def take_along_axis_tangent(y, arr, indices, axis=-1):
    "take_along_axis: the tangent is read at the same positions"
    dy = np.take_along_axis(darr, indices, axis)


@adjoint(np.pad, check_signature=False)  # np.pad's other keywords go in **kwargs
def pad(y, array, pad_width, mode="constant", *, constant_values=0):
    "pad: each padded copy's gradient goes back to its source; constants get none"
    darray = pad_grad(dy, array, pad_width, mode)


@tangent(np.pad, check_signature=False)
def pad_tangent(y, array, pad_width, mode="constant", *, constant_values=0):
    "pad: the tangent is padded the same way, with zeros for constants"
    dy = np.pad(darray, pad_width, mode)


@adjoint(np.ndarray.item)
def item(y, a, *args):
    "item: the gradient of one element, zeros elsewhere"
    da = item_grad(dy, a, args)


@tangent(np.ndarray.item)
def item_tangent(y, a, *args):
    "item: the same element of the tangent"
    dy = item_of(da, args)


# -- real and imaginary parts (of real arrays: the parts are x and 0) -------------------


@adjoint(
    np.real, np.real_if_close, np.conjugate, np.ndarray.conjugate, np.ndarray.conj, np.ndarray.real
)
def real(y, val):
    "real part / conjugate of a real array: the array itself, so the gradient passes"
    dval = dy


@tangent(
    np.real, np.real_if_close, np.conjugate, np.ndarray.conjugate, np.ndarray.conj, np.ndarray.real
)
def real_tangent(y, val):
    "real part / conjugate of a real array: the tangent passes"
    dy = dval


@adjoint(np.imag, np.angle, np.ndarray.imag)
def imag(y, val):
    "imaginary part, angle of a real array: 0 and 0 or pi, flat, so no gradient"
    dval = 0.0 * dy


@tangent(np.imag, np.angle, np.ndarray.imag)
def imag_tangent(y, val):
    "imaginary part, angle of a real array: flat, so a zero tangent"
    dy = 0.0 * dval


@adjoint(np.nan_to_num)
def nan_to_num(y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    "nan_to_num: the finite elements pass the gradient, the replaced ones do not"
    dx = np.where(np.isfinite(x), dy, 0.0)


@tangent(np.nan_to_num)
def nan_to_num_tangent(y, x, copy=True, nan=0.0, posinf=None, neginf=None):
    "nan_to_num: the finite elements' tangents, 0 for the replaced ones"
    dy = np.where(np.isfinite(x), dx, 0.0)


# -- rearrangements and joins -------------------------------------------------------


@adjoint(np.rollaxis)
def rollaxis(y, a, axis, start=0):
    "rollaxis: the gradient's axes are put back in order"
    da = untranspose(dy, rollaxis_order(np.ndim(a), axis, start))


@tangent(np.rollaxis)
def rollaxis_tangent(y, a, axis, start=0):
    "rollaxis: the tangent's axes are rolled the same way"
    dy = np.rollaxis(da, axis, start)


@adjoint(np.rot90)
def rot90(y, m, k=1, axes=(0, 1)):
    "rot90: the gradient is rotated back"
    dm = np.rot90(dy, -k, axes)


@tangent(np.rot90)
def rot90_tangent(y, m, k=1, axes=(0, 1)):
    "rot90: the tangent is rotated the same way"
    dy = np.rot90(dm, k, axes)


@adjoint(np.column_stack)
def column_stack(y, tup):
    "column_stack: each input gets back its own columns of dy"
    dtup = split_like(dy, tup, 1, column_of)


@tangent(np.column_stack)
def column_stack_tangent(y, tup):
    "column_stack: the tangents are stacked the same way"
    dy = np.column_stack(dtup)


@adjoint(np.append)
def append(y, arr, values, axis=None):
    "append: each input gets back its own part of dy (flattened if axis is None)"
    darr = split_like(dy, [arr, values], axis)[0]
    dvalues = split_like(dy, [arr, values], axis)[1]


@tangent(np.append)
def append_tangent(y, arr, values, axis=None):
    "append: the tangents are appended the same way (zeros for a constant part)"
    dy = np.append(darr, np.zeros(np.shape(values)), axis) + np.append(
        np.zeros(np.shape(arr)), dvalues, axis
    )


@adjoint(np.dsplit)
def dsplit(y, ary, indices_or_sections):
    "dsplit: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, 2)


@tangent(np.dsplit)
def dsplit_tangent(y, ary, indices_or_sections):
    "dsplit: the tangent is split the same way"
    dy = np.dsplit(dary, indices_or_sections)


@adjoint(np.select)
def select(y, condlist, choicelist, default=0):
    "select: each choice gets the gradient where it was chosen, the default where none was"
    dchoicelist = select_choices_grad(dy, condlist, choicelist)
    ddefault = select_default_grad(dy, condlist, default)


@tangent(np.select)
def select_tangent(y, condlist, choicelist, default=0):
    "select: the chosen tangent at each position"
    dy = np.select(condlist, dchoicelist, 0.0) + select_default_grad(
        broadcast_like(ddefault, y), condlist, y
    )


# -- the helpers' own rules (second derivatives) ----------------------------------------

nondifferentiable(column_of, why="split_like uses it for the inputs' shapes only")


@tangent(cross_grad_left)
def cross_grad_left_tangent(r, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "b x g: bilinear, one term per factor"
    dr = cross_grad_left(dg, a, b, axisa, axisb, axisc, axis) + cross_grad_left(
        g, a, db, axisa, axisb, axisc, axis
    )


@adjoint(cross_grad_left)
def cross_grad_left_adjoint(r, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "<dr, grad of <g, a x b> in a> = <g, dr x b>, read the other way"
    dg = broadcast_like(np.cross(dr, b, axisa, axisb, axisc, axis), g)
    db = cross_grad_right(g, dr, b, axisa, axisb, axisc, axis)


@tangent(cross_grad_right)
def cross_grad_right_tangent(r, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "g x a: bilinear, one term per factor"
    dr = cross_grad_right(dg, a, b, axisa, axisb, axisc, axis) + cross_grad_right(
        g, da, b, axisa, axisb, axisc, axis
    )


@adjoint(cross_grad_right)
def cross_grad_right_adjoint(r, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    "<dr, grad of <g, a x b> in b> = <g, a x dr>, read the other way"
    dg = broadcast_like(np.cross(a, dr, axisa, axisb, axisc, axis), g)
    da = cross_grad_left(g, a, dr, axisa, axisb, axisc, axis)


@tangent(kron_grad_left)
def kron_grad_left_tangent(r, g, a, b):
    "blocks of g weighted by b: bilinear, one term per factor"
    dr = kron_grad_left(dg, a, b) + kron_grad_left(g, a, db)


@adjoint(kron_grad_left)
def kron_grad_left_adjoint(r, g, a, b):
    "<dr, grad of <g, kron(a, b)> in a> = <g, kron(dr, b)>, read the other way"
    dg = np.kron(dr, b)
    db = kron_grad_right(g, dr, b)


@tangent(kron_grad_right)
def kron_grad_right_tangent(r, g, a, b):
    "blocks of g weighted by a: bilinear, one term per factor"
    dr = kron_grad_right(dg, a, b) + kron_grad_right(g, da, b)


@adjoint(kron_grad_right)
def kron_grad_right_adjoint(r, g, a, b):
    "<dr, grad of <g, kron(a, b)> in b> = <g, kron(a, dr)>, read the other way"
    dg = np.kron(a, dr)
    da = kron_grad_left(g, a, dr)


@tangent(diff_grad)
def diff_grad_tangent(r, g, n=1, axis=-1):
    "the transposed difference: linear, applied to the tangent"
    dr = diff_grad(dg, n, axis)


@adjoint(diff_grad)
def diff_grad_adjoint(r, g, n=1, axis=-1):
    "the transposed difference: its adjoint is the difference"
    dg = np.diff(dr, n, axis)


@tangent(gradient_grad)
def gradient_grad_tangent(r, g, f, varargs=(), axis=None, edge_order=1):
    "the transposed np.gradient: linear, applied to the tangent"
    dr = gradient_grad(dg, f, varargs, axis, edge_order)


@adjoint(gradient_grad)
def gradient_grad_adjoint(r, g, f, varargs=(), axis=None, edge_order=1):
    "the transposed np.gradient: its adjoint is np.gradient"
    dg = np.gradient(dr, *varargs, axis=axis, edge_order=edge_order)


@tangent(conv_grad)
def conv_grad_tangent(r, g, a, v, mode="full"):
    "dy correlated with v: bilinear, one term per factor"
    dr = conv_grad(dg, a, v, mode) + conv_grad(g, a, dv, mode)


@adjoint(conv_grad)
def conv_grad_adjoint(r, g, a, v, mode="full"):
    "<dr, grad of <g, a * v> in a> = <g, dr * v>, read the other way"
    dg = np.convolve(dr, v, mode)
    dv = conv_grad(g, v, dr, mode)


@tangent(corr_embed)
def corr_embed_tangent(r, g, a, v, mode="valid"):
    "placing a window in the full correlation: linear"
    dr = corr_embed(dg, a, v, mode)


@adjoint(corr_embed)
def corr_embed_adjoint(r, g, a, v, mode="valid"):
    "placing a window in the full correlation: its adjoint cuts the window out"
    dg = corr_crop(dr, a, v, mode)


@tangent(corr_crop)
def corr_crop_tangent(r, full, a, v, mode="valid"):
    "cutting a window out of the full correlation: linear"
    dr = corr_crop(dfull, a, v, mode)


@adjoint(corr_crop)
def corr_crop_adjoint(r, full, a, v, mode="valid"):
    "cutting a window out of the full correlation: its adjoint places it back"
    dfull = corr_embed(dr, a, v, mode)


@tangent(pad_grad)
def pad_grad_tangent(r, g, array, pad_width, mode="constant"):
    "summing the padded copies back: linear"
    dr = pad_grad(dg, array, pad_width, mode)


@adjoint(pad_grad)
def pad_grad_adjoint(r, g, array, pad_width, mode="constant"):
    "summing the padded copies back: its adjoint pads again (with zeros)"
    dg = np.pad(dr, pad_width, mode)


@tangent(take_along_axis_grad)
def take_along_axis_grad_tangent(r, g, arr, indices, axis=-1):
    "a scatter: linear"
    dr = take_along_axis_grad(dg, arr, indices, axis)


@adjoint(take_along_axis_grad)
def take_along_axis_grad_adjoint(r, g, arr, indices, axis=-1):
    "a scatter: its adjoint gathers from the same positions"
    dg = np.take_along_axis(dr, indices, axis)


@tangent(item_grad)
def item_grad_tangent(r, g, a, args):
    "one element placed in zeros: linear"
    dr = item_grad(dg, a, args)


@adjoint(item_grad)
def item_grad_adjoint(r, g, a, args):
    "one element placed in zeros: its adjoint reads that element"
    dg = item_of(dr, args)


@tangent(item_of)
def item_of_tangent(r, t, args):
    "one element read: linear"
    dr = item_of(dt, args)


@adjoint(item_of)
def item_of_adjoint(r, t, args):
    "one element read: its adjoint places the gradient there"
    dt = item_grad(dr, t, args)


@tangent(select_choices_grad)
def select_choices_grad_tangent(r, g, condlist, choicelist):
    "masks: linear"
    dr = select_choices_grad(dg, condlist, choicelist)


@adjoint(select_choices_grad)
def select_choices_grad_adjoint(r, g, condlist, choicelist):
    "masks: their adjoint selects the choices' gradients again"
    dg = broadcast_like(np.select(condlist, dr, 0.0), g)


@tangent(select_default_grad)
def select_default_grad_tangent(r, g, condlist, default):
    "a mask: linear"
    dr = select_default_grad(dg, condlist, default)


@adjoint(select_default_grad)
def select_default_grad_adjoint(r, g, condlist, default):
    "a mask: its adjoint masks again"
    dg = select_default_grad(broadcast_like(dr, g), condlist, g)
