"""Helpers of the rules for operators, elementwise functions, reductions and indexing.

`unbroadcast` sums a gradient back to the shape of an input NumPy
broadcast; `expand_to` undoes a reduction; `index_grad` scatters a
gradient back to the places an index read; `seed_gradient` starts a
backward pass.  Like every runtime helper they depend on NumPy alone and
never modify their arguments.
"""

from __future__ import annotations

import numpy as np


def unbroadcast(g, x):
    """Sum the gradient `g` back down to the shape of `x` (undoing broadcasting).

    NumPy broadcasting copies `x` along new or size-1 axes; the copy gate says
    the gradient of a copied value is the sum of the copies' gradients.
    """
    if isinstance(g, list) and isinstance(x, (list, tuple)):
        return g  # item-by-item gradients of a tuple of results (ItemGradients) add as they are
    shape = getattr(x, "shape", None)
    if shape is None:  # Python floats have no shape: (); a list of rows has one
        shape = np.shape(x) if isinstance(x, (list, tuple)) else ()
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    if not shape:  # a scalar was broadcast against everything: sum it all
        return g.sum()
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if not shape:
        g = g[()] if isinstance(g, np.ndarray) else g
    return g


def unpack_grad(rows, source):
    """Gradient of `a, b = source`: the rows' gradients, shaped like the source.

    An array's rows are stacked back into an array; a list or tuple (np.split's
    pieces, which may differ in shape) gets a list.
    """
    if isinstance(source, np.ndarray):
        return np.stack(rows)
    return list(rows)


def record_grad(g, n):
    """The gradient of a record of `n` values taken off a list's gradient: `g` itself, or
    n zeros when the slot holds the plain zero of a record nobody differentiated."""
    if isinstance(g, (tuple, list)):
        return g
    return (0.0,) * n


def zeros_like_item(v):
    """A zero gradient for one item of a list: an array of zeros shaped like an array
    item, a tuple of zeros for a record, 0.0 for a number."""
    if isinstance(v, tuple):
        return tuple(zeros_like_item(e) for e in v)
    if isinstance(v, np.ndarray):
        return np.zeros_like(v, dtype=v.dtype if v.dtype.kind in "fc" else float)
    return 0.0


def zeros_like_list(items):
    """The zero gradient of a list: one zero item per item (see zeros_like_item)."""
    return [zeros_like_item(v) for v in items]


def power_term(c, x, e):
    """c * x ** e, and exactly 0 where c is 0 even if x ** e is infinite.

    The power rule's y * x ** (y - 1) at y = 0 and x = 0 is 0 (x ** 0 is the
    constant 1), not 0 * inf; its derivatives are power terms again.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = c * np.power(x, e)
    out = np.where(np.equal(c, 0), 0.0, t)
    return out if out.ndim else out[()]


def old_value(a, index):
    """The elements `a[index]` is about to overwrite, copied (the adjoint restores them)."""
    value = a[index]
    return value.copy() if type(value) is np.ndarray else value


def kept_writes(t, index, array):
    """The part of `t` that a write `array[index] = ...` kept, for the written values.

    `t` is shaped like `array[index]` (the gradient at the written place, or
    a tangent).  A repeated fancy index writes the same element several
    times and NumPy keeps the last write, so only that position is kept;
    an integer or boolean array truncates what it stores, so nothing is.
    """
    kind = array.dtype.kind
    if kind not in "fc":
        return np.zeros(np.shape(t))
    if _is_basic_index(index):
        return t.copy() if type(t) is np.ndarray else t
    owner = np.full(np.shape(array), -1, dtype=np.intp)
    ids = np.arange(np.size(t)).reshape(np.shape(t))
    owner[index] = ids
    kept = owner[index] == ids
    if kept.all():
        return np.array(t, copy=True)
    return np.where(kept, t, 0.0)


def stored_tangent(t, array):
    """The tangent of a value stored into `array`: zero when the array holds integers or
    booleans (the stored value is truncated), else `t` itself."""
    if array.dtype.kind in "fc":
        return t
    return np.zeros(np.shape(t))


def add_lists(a, b):
    """Sum of two list gradients, element by element (`b` may be an array of rows)."""
    return [x + y for x, y in zip(a, b, strict=True)]


def rows_like(g, x):
    """A list gradient `g` in the form of `x`: a list when `x` is one, else an array of
    rows (add_lists also adds a list to an array of rows, whose gradient is an array)."""
    if isinstance(x, list):
        return list(g)
    return np.asarray(g) if isinstance(g, list) else g


def seed_gradient(y):
    """The gradient of the output with respect to itself: 1 (dL/dL = 1).

    `grad` is defined for scalar outputs only; anything else is refused here
    rather than silently summed.
    """
    if isinstance(y, float):
        return 1.0
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        return 1.0
    if isinstance(y, np.ndarray) and y.size == 1 and y.dtype.kind == "f":
        return np.ones_like(y)
    if isinstance(y, np.floating):
        return np.ones_like(y)
    shape = getattr(y, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(y).__name__}"
    raise ValueError(
        f"grad needs a function with a scalar output (a float or an array of size 1), "
        f"but it returned {what}; use chainrule.vjp for array outputs"
    )


def restore_axes(g, x, axis, keepdims):
    """Re-insert the axes a reduction removed, so that `g` broadcasts against `x`."""
    if keepdims or axis is None:
        return g
    ndim = np.ndim(x)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(sorted(a % ndim for a in axes))
    return np.expand_dims(g, axes)


def median_weights(x, axis=None):
    """W with np.median(x, axis) = np.sum(W * x, axis): 1 on the middle element along the
    axis (0.5 on each of the two middle ones for an even count), shared equally among
    elements equal to it (ties, as max and min share).  Piecewise constant in x."""
    x = np.asarray(x, dtype=float)
    axes = tuple(range(x.ndim)) if axis is None else _reduced_axes(x.ndim, axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    n = flat.shape[-1]
    ordered = np.sort(flat, axis=-1)
    middle = [(n // 2, 1.0)] if n % 2 else [(n // 2 - 1, 0.5), (n // 2, 0.5)]
    w = np.zeros(flat.shape)
    for k, share in middle:
        tied = flat == ordered[..., k : k + 1]
        w = w + share * tied / np.sum(tied, axis=-1, keepdims=True)
    return np.moveaxis(w.reshape(moved.shape), last, axes)


def expand_to(g, x, axis=None, keepdims=False):
    """The gradient of a sum over `axis`: `g` copied back along the reduced axes."""
    return np.broadcast_to(restore_axes(g, x, axis, keepdims), np.shape(x))


class ItemGradients(list):
    """The gradients of the items of a tuple of results, one per item: `+` adds them item
    by item (as gradients add up), where a plain list would concatenate."""

    def __add__(self, other):
        if isinstance(other, (list, tuple)):
            return ItemGradients(a + b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __radd__ = __add__


def index_grad(g, x, index):
    """Gradient of `x[index]`: `g` scattered into zeros shaped like `x`.

    Repeated integer indices read the same element several times, so their
    gradients must add up (np.add.at); plain ints and slices are assigned.
    A list of equal-shaped arrays (np.split's pieces) gets a stacked gradient.
    """
    if isinstance(x, (list, tuple)) and type(index) in (int, np.intp, np.int64):
        out = ItemGradients(zeros_like_list(x))  # a tuple of results (eigh's w, v)
        out[index] = g
        return out
    if isinstance(x, (list, tuple)) and type(index) is slice:  # some of a tuple's items
        out = ItemGradients(zeros_like_list(x))
        for k, item in zip(range(len(x))[index], g, strict=True):
            out[k] = item
        return out
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError:
            raise ValueError(
                "indexing a list of arrays of different shapes (np.array_split's pieces) "
                "is not differentiable; unpack the list instead: a, b = np.split(x, 2)"
            ) from None
    dx = np.zeros(np.shape(x), dtype=np.result_type(x, g))
    if _is_basic_index(index):
        dx[index] = g
    else:
        np.add.at(dx, index, g)
    return dx


def _is_basic_index(index) -> bool:
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        if part is None or part is Ellipsis or type(part) in (int, slice):
            continue
        if isinstance(part, np.integer):
            continue
        return False
    return True


def select_grad(g, condition, x):
    """Gradient of one side of np.where(condition, a, b): `g` where chosen, else 0."""
    return unbroadcast(np.where(condition, g, 0.0), x)


def reduce_extreme_grad(g, x, y, axis=None, keepdims=False):
    """Gradient of max/min over `axis`: routed to the winning elements.

    Ties share the gradient equally, so the total that flows back equals `g`.
    """
    y = restore_axes(y, x, axis, keepdims)
    g = restore_axes(g, x, axis, keepdims)
    winners = x == y
    # the count of winners in x's float type, so that float32 stays float32
    counts = np.sum(winners, axis=axis, keepdims=True, dtype=np.result_type(x, np.float16))
    return g * winners / counts


def _reduced_axes(ndim, axis):
    """The axes a reduction over `axis` of an array of `ndim` dimensions removes, as
    sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def prod_grad(g, x, axis=None, keepdims=False):
    """Gradient of np.prod over `axis`: each factor receives the product of the others.

    `y / x` is the textbook form but divides by zero when a factor is 0; products
    of everything before and everything after each factor (exclusive cumulative
    products from both ends) are exact with zeros.
    """
    x = np.asarray(x)
    axes = _reduced_axes(np.ndim(x), axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    if flat.shape[-1] == 0:
        return np.zeros(x.shape, dtype=np.result_type(x, g))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.moveaxis((before * after).reshape(moved.shape), last, axes)
    return restore_axes(g, x, axis, keepdims) * others


def cumprod_grad(g, x, axis=None):
    """Gradient of np.cumprod along `axis` (None: of the flattened array).

    Without zeros it is the reversed cumulative sum of g * y, divided by x.  A
    zero factor makes that division fail, so then the exact recurrence
    s[k] = g[k] + x[k+1] * s[k+1], dx[k] = (product of x before k) * s[k] is used.
    """
    x = np.asarray(x)
    shape = x.shape
    if axis is None:
        x, g, axis = x.reshape(-1), np.reshape(g, -1), 0
    xs = np.moveaxis(x, axis, -1)
    gs = np.moveaxis(np.asarray(g), axis, -1)
    if np.all(xs != 0):
        y = np.cumprod(xs, axis=-1)
        d = np.flip(np.cumsum(np.flip(gs * y, -1), axis=-1), -1) / xs
    else:
        n = xs.shape[-1]
        ones = np.ones(xs.shape[:-1] + (1,), dtype=xs.dtype)
        before = np.cumprod(np.concatenate([ones, xs[..., :-1]], axis=-1), axis=-1)
        s = np.zeros(np.broadcast_shapes(xs.shape, gs.shape), dtype=np.result_type(xs, gs))
        acc = np.zeros(s.shape[:-1], dtype=s.dtype)
        for k in range(n - 1, -1, -1):
            acc = gs[..., k] + (xs[..., k + 1] * acc if k + 1 < n else 0)
            s[..., k] = acc
        d = before * s
    return np.moveaxis(d, -1, axis).reshape(shape)


def prod_pairs(x, t, axis=None):
    """The Hessian of np.prod over `axis` applied to `t`: for each factor i, the sum over
    the other factors j of t[j] times the product of all factors but i and j (exact with
    zeros; O(n**2) along the reduced axes)."""
    x = np.asarray(x, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    axes = _reduced_axes(np.ndim(x), axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    xm, tm = np.moveaxis(x, axes, last), np.moveaxis(t, axes, last)
    lead = xm.shape[: x.ndim - len(axes)]
    xf, tf = xm.reshape(lead + (-1,)), tm.reshape(lead + (-1,))
    out = np.zeros(xf.shape)
    for i in range(xf.shape[-1]):
        without_i = xf.copy()
        without_i[..., i] = 1.0
        others = prod_grad(1.0, without_i, -1, True)  # prod over k != j of without_i
        others[..., i] = 0.0
        out[..., i] = np.sum(others * tf, axis=-1)
    return np.moveaxis(out.reshape(xm.shape), last, axes)
