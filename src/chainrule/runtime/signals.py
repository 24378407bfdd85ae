"""Helpers of the rules for array and signal functions (rules/signals.py): cross and
Kronecker products, differences, convolutions, padding, sorting, gathers, interpolation."""

from __future__ import annotations

import numpy as np

from .gradients import unbroadcast

# -- gathers: every output element is a copy of one input element -------------------------


def _scatter_add(g, source, shape):
    """Sum `g` into zeros of `shape` at the flat positions `source` (-1: from nowhere)."""
    size = int(np.prod(shape))
    g = np.broadcast_to(g, np.shape(source))
    keep = source >= 0
    flat = np.bincount(source[keep], weights=g[keep], minlength=size)
    return np.reshape(flat, shape)


def take_along_axis_grad(g, arr, indices, axis=-1):
    """Gradient of np.take_along_axis(arr, indices, axis): `g` added back to the positions
    read (an index read twice receives both gradients)."""
    shape = np.shape(arr)
    positions = np.reshape(np.arange(int(np.prod(shape))), shape)
    return _scatter_add(g, np.take_along_axis(positions, indices, axis), shape)


def pad_grad(g, array, pad_width, mode="constant"):
    """Gradient of np.pad(array, pad_width, mode) for the modes that copy elements
    (constant, edge, reflect, symmetric, wrap): each copy's gradient goes back to its source."""
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"the gradient of np.pad supports the copying modes, not mode={mode!r}")
    shape = np.shape(array)
    positions = np.reshape(np.arange(int(np.prod(shape))), shape)
    if mode == "constant":
        source = np.pad(positions, pad_width, mode, constant_values=-1)
    else:
        source = np.pad(positions, pad_width, mode)
    return _scatter_add(g, source, shape)


def sorted_from(y, a, axis=-1):
    """The positions of `a` that np.sort or np.partition put at each position of `y`
    (along `axis`; None: of the flattened array), matching equal values in order."""
    if axis is None:
        y, a, axis = np.ravel(y), np.ravel(a), -1
    order_a = np.argsort(a, axis=axis, kind="stable")
    order_y = np.argsort(y, axis=axis, kind="stable")
    source = np.empty_like(order_a)
    np.put_along_axis(source, order_y, order_a, axis=axis)
    return source


def item_grad(g, a, args):
    """Gradient of a.item(*args): `g` at that one element, zeros elsewhere."""
    out = np.zeros(np.shape(a))
    if len(args) == 0:
        out.flat[0] = g
    elif len(args) == 1 and np.ndim(args[0]) == 0:
        out.flat[int(args[0])] = g
    else:
        out[tuple(args[0]) if len(args) == 1 else tuple(args)] = g
    return out


def item_of(t, args):
    """The tangent of a.item(*args): the same element of the tangent, as a float."""
    return float(np.asarray(t, dtype=float).item(*args))


# -- products ---------------------------------------------------------------------------


def _as_3vectors(v, axis):
    """Vectors along `axis` moved last and padded with a zero z to length 3."""
    v = np.moveaxis(np.asarray(v, dtype=float), axis, -1)
    if v.shape[-1] == 2:
        v = np.concatenate([v, np.zeros(v.shape[:-1] + (1,))], axis=-1)
    return v


def cross_grad_left(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Gradient of np.cross(a, b, ...) with respect to a: b x g (3-vectors; 2-vectors have
    z = 0, and a 2-vector cross product's scalar result is the z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    n_a, n_b = np.shape(a)[axisa], np.shape(b)[axisb]
    b3 = _as_3vectors(b, axisb)
    if n_a == 2 and n_b == 2:  # a scalar result: the z component of the 3-D product
        g3 = np.stack([np.zeros_like(g), np.zeros_like(g), g], axis=-1)
    else:
        g3 = np.moveaxis(np.asarray(g, dtype=float), axisc, -1)
    grad = np.cross(b3, g3)[..., :n_a]
    return unbroadcast(np.moveaxis(grad, -1, axisa), np.asarray(a))


def cross_grad_right(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Gradient of np.cross(a, b, ...) with respect to b: g x a."""
    if axis is not None:
        axisa = axisb = axisc = axis
    n_a, n_b = np.shape(a)[axisa], np.shape(b)[axisb]
    a3 = _as_3vectors(a, axisa)
    if n_a == 2 and n_b == 2:
        g3 = np.stack([np.zeros_like(g), np.zeros_like(g), g], axis=-1)
    else:
        g3 = np.moveaxis(np.asarray(g, dtype=float), axisc, -1)
    grad = np.cross(g3, a3)[..., :n_b]
    return unbroadcast(np.moveaxis(grad, -1, axisb), np.asarray(b))


def _kron_shapes(a, b):
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    return nd, sa, sb


def kron_grad_left(g, a, b):
    """Gradient of np.kron(a, b) with respect to a: each block of g weighted by b, summed."""
    nd, sa, sb = _kron_shapes(a, b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    weighted = blocks * np.reshape(b, [n for s in sb for n in (1, s)])
    return np.reshape(np.sum(weighted, axis=tuple(range(1, 2 * nd, 2))), np.shape(a))


def kron_grad_right(g, a, b):
    """Gradient of np.kron(a, b) with respect to b: the blocks of g weighted by a, summed."""
    nd, sa, sb = _kron_shapes(a, b)
    blocks = np.reshape(g, [n for pair in zip(sa, sb, strict=True) for n in pair])
    weighted = blocks * np.reshape(a, [n for s in sa for n in (s, 1)])
    return np.reshape(np.sum(weighted, axis=tuple(range(0, 2 * nd, 2))), np.shape(b))


# -- differences, gradients, convolutions: linear maps and their transposes ---------------


def diff_grad(g, n=1, axis=-1):
    """Gradient of np.diff(a, n, axis): the transposed difference, n times."""
    for _ in range(n):
        g = -np.diff(g, 1, axis, prepend=0.0, append=0.0)
    return g


def _spacing_matrix(n, spacing, edge_order):
    """The matrix of np.gradient along one axis of length n: column j is the gradient of e_j."""
    args = () if spacing is None else (spacing,)
    return np.gradient(np.eye(n), *args, axis=0, edge_order=edge_order)


def _gradient_axes(f, varargs, axis):
    nd = np.ndim(f)
    axes = list(range(nd)) if axis is None else [axis] if np.ndim(axis) == 0 else list(axis)
    axes = [int(a) % nd for a in axes]
    if len(varargs) == 0:
        spacings = [None] * len(axes)
    elif len(varargs) == 1:
        spacings = [varargs[0]] * len(axes)
    else:
        spacings = list(varargs)
    return axes, spacings


def gradient_grad(g, f, varargs=(), axis=None, edge_order=1):
    """Gradient of np.gradient(f, *varargs, axis=axis, edge_order=edge_order): each axis'
    difference matrix, transposed, applied to that axis' part of `g`."""
    axes, spacings = _gradient_axes(f, varargs, axis)
    parts = [g] if len(axes) == 1 else list(g)
    out = np.zeros(np.shape(f))
    for ax, h, part in zip(axes, spacings, parts, strict=True):
        d = _spacing_matrix(np.shape(f)[ax], h, edge_order)
        out = out + np.moveaxis(np.tensordot(d.T, np.moveaxis(part, ax, 0), axes=1), 0, ax)
    return out


def conv_grad(g, a, v, mode="full"):
    """Gradient of np.convolve(a, v, mode) with respect to a (with respect to v: swap them,
    a convolution is symmetric): the output gradient, placed in the full-length output,
    correlated with v."""
    n, m = np.size(a), np.size(v)
    full = np.zeros(n + m - 1, dtype=np.result_type(g, v, float))
    start = _window_start(np.convolve, n, m, mode)
    full[start : start + np.size(g)] = g
    return np.correlate(full, v, "valid")


def _window_start(join, n, m, mode):
    """Where join(a, v, mode) (np.convolve or np.correlate) starts inside join(a, v, "full")."""
    if mode == "full":
        return 0
    a, v = np.arange(1.0, n + 1), np.linspace(0.5, 1.5, m) ** 2
    full, part = join(a, v, "full"), join(a, v, mode)
    for start in range(len(full) - len(part) + 1):
        if np.allclose(full[start : start + len(part)], part):
            return start
    raise ValueError(f"mode {mode!r} is not a window of the full output")


def trapezoid_weights(shape, x=None, dx=1.0, axis=-1):
    """d trapezoid(y, x, dx, axis) / dy for y of this shape: half the spacing at the ends,
    the mean of the two neighbouring spacings inside, broadcast like y.  (Differentiated
    by its source, in x and dx.)"""
    n, nd = shape[axis], len(shape)
    if x is None:
        return _spacing_weights(dx * np.ones(n - 1), nd, axis)
    if np.ndim(x) == 1:
        return _spacing_weights(np.diff(np.asarray(x, dtype=float)), nd, axis)
    h = np.moveaxis(np.diff(np.asarray(x, dtype=float), axis=axis), axis, -1)
    edge = np.zeros(h.shape[:-1] + (1,))
    w = np.concatenate([h / 2, edge], axis=-1) + np.concatenate([edge, h / 2], axis=-1)
    return np.moveaxis(w, -1, axis)


def _spacing_weights(h, nd, axis):
    """trapezoid_weights for one row of spacings h, shaped to broadcast along `axis`."""
    edge = np.zeros(1)
    w = np.concatenate([h / 2, edge]) + np.concatenate([edge, h / 2])
    return np.moveaxis(np.reshape(w, (len(w),) + (1,) * (nd - 1)), 0, axis)


def interp_grads(g, x, xp, fp):
    """Gradients of np.interp(x, xp, fp) (no left/right/period) with respect to x, xp and fp.

    Inside [xp[0], xp[-1]] y = fp[j] + s (x - xp[j]) on the segment j that holds x, with
    slope s; outside it is the end value, flat in x.
    """
    x, xp, fp = np.asarray(x, dtype=float), np.asarray(xp, dtype=float), np.asarray(fp, float)
    g = np.broadcast_to(g, x.shape)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    h = xp[j + 1] - xp[j]
    t = (x - xp[j]) / h
    s = (fp[j + 1] - fp[j]) / h
    inside = (x >= xp[0]) & (x <= xp[-1])
    left, right = x < xp[0], x > xp[-1]
    dx = np.where(inside, g * s, 0.0)
    dfp = np.zeros(len(fp))
    np.add.at(dfp, j, np.where(inside, g * (1 - t), 0.0))
    np.add.at(dfp, j + 1, np.where(inside, g * t, 0.0))
    dfp[0] += np.sum(g[left])
    dfp[-1] += np.sum(g[right])
    dxp = np.zeros(len(xp))
    np.add.at(dxp, j, np.where(inside, g * s * (t - 1), 0.0))
    np.add.at(dxp, j + 1, np.where(inside, -g * s * t, 0.0))
    return dx, dxp, dfp


def trapezoid_x_grad(g, y, x, axis=-1):
    """Gradient of np.trapezoid(y, x, axis=axis) with respect to the sample points x:
    the mean of the two neighbouring pairs' averages, differenced (0 if x is None).
    (Differentiated by its source.)"""
    if x is None:
        return 0.0
    y = np.moveaxis(np.asarray(y, dtype=float), axis, -1)
    pairs = (y[..., :-1] + y[..., 1:]) / 2
    edge = np.zeros(pairs.shape[:-1] + (1,))
    d = -np.diff(np.concatenate([edge, pairs, edge], axis=-1), axis=-1) * np.expand_dims(g, -1)
    if np.ndim(x) == 1:
        return np.reshape(np.sum(np.reshape(d, (-1, d.shape[-1])), axis=0), np.shape(x))
    return unbroadcast(np.moveaxis(d, -1, axis), np.asarray(x))


def trapezoid_x_tangent(y, t, axis=-1):
    """Tangent of np.trapezoid(y, x, axis=axis) along the sample points' tangent t: the
    rule is linear in x, so it is np.trapezoid(y, t) (0 if x is None).  (Differentiated
    by its source.)"""
    if t is None:
        return 0.0
    y = np.moveaxis(np.asarray(y, dtype=float), axis, -1)
    t = np.asarray(t, dtype=float)
    if t.ndim != 1:
        t = np.moveaxis(t, axis, -1)
    return np.sum((y[..., :-1] + y[..., 1:]) / 2 * np.diff(t, axis=-1), axis=-1)


# -- joins and choices ----------------------------------------------------------------------


def column_of(a):
    """What np.column_stack makes of one input: a 1-D array becomes a column."""
    a = np.asarray(a)
    return a.reshape(-1, 1) if a.ndim < 2 else a


def rollaxis_order(ndim, axis, start=0):
    """The axis order np.rollaxis(a, axis, start) produces for an a of `ndim` axes (for
    untranspose): read off a zero-size-cost array whose axis k has length k + 2."""
    probe = np.broadcast_to(0.0, tuple(range(2, ndim + 2)))
    return [n - 2 for n in np.rollaxis(probe, axis, start).shape]


def select_choices_grad(g, condlist, choicelist):
    """Gradients of np.select(condlist, choicelist, default) with respect to each choice:
    `g` where that choice was the first whose condition holds, 0 elsewhere."""
    taken = np.zeros(np.shape(g), dtype=bool)
    grads = []
    for cond, choice in zip(condlist, choicelist, strict=True):
        here = np.asarray(cond) & ~taken
        taken = taken | here
        grads.append(unbroadcast(np.where(here, g, 0.0), choice))
    return grads


def select_default_grad(g, condlist, default):
    """Gradient of np.select(condlist, choicelist, default) with respect to the default:
    `g` where no condition holds."""
    none = np.ones(np.shape(g), dtype=bool)
    for cond in condlist:
        none = none & ~np.asarray(cond)
    return unbroadcast(np.where(none, g, 0.0), default)


def corr_embed(g, a, v, mode="valid"):
    """The gradient of np.correlate(a, v, mode) placed in the full-length correlation."""
    full = np.zeros(np.size(a) + np.size(v) - 1, dtype=np.result_type(g, float))
    start = _window_start(np.correlate, np.size(a), np.size(v), mode)
    full[start : start + np.size(g)] = g
    return full


def corr_crop(full, a, v, mode="valid"):
    """The window of a full-length correlation that np.correlate(a, v, mode) returns."""
    start = _window_start(np.correlate, np.size(a), np.size(v), mode)
    n, m = np.size(a), np.size(v)
    length = {"full": n + m - 1, "same": max(n, m), "valid": max(n, m) - min(n, m) + 1}[mode]
    return full[start : start + length]


def convolve2d_checked(boundary="fill", fillvalue=0):
    """1.0, after checking that scipy.signal.convolve2d pads with zeros (then it is
    scipy.signal.convolve, whose rules it uses); other boundaries have no rule yet."""
    if boundary not in ("fill", "pad") or fillvalue != 0:
        raise ValueError(
            "the derivative of scipy.signal.convolve2d is supported with boundary='fill' and "
            f"fillvalue=0 (got boundary={boundary!r}, fillvalue={fillvalue!r}); pad the "
            "input with np.pad and use mode='valid' instead"
        )
    return 1.0


def signal_conv_grad(g, in1, in2, mode="full", which=0):
    """Gradient of scipy.signal.convolve(in1, in2, mode) with respect to in1 (which=0) or
    in2 (which=1): the output gradient placed in the full N-D convolution, correlated
    ('valid') with the other input."""
    import scipy.signal

    def conv(a, v, m):
        return scipy.signal.convolve(a, v, m)

    n, m = np.shape(in1), np.shape(in2)
    full = np.zeros([a + b - 1 for a, b in zip(n, m, strict=True)], dtype=float)
    starts = [_window_start(conv, a, b, mode) for a, b in zip(n, m, strict=True)]
    full[tuple(slice(s, s + k) for s, k in zip(starts, np.shape(g), strict=True))] = g
    other = in2 if which == 0 else in1
    return scipy.signal.correlate(full, other, "valid")
