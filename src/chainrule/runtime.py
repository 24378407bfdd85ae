"""Small helpers that generated gradient code calls.

Derivative templates use these where a rule needs more than one NumPy
expression.  Each helper depends on NumPy alone and is self-contained, so an
exported gradient module can carry a copy of the ones it uses and run
without chainrule installed.  They never modify their arguments.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "unbroadcast",
    "seed_gradient",
    "restore_axes",
    "expand_to",
    "index_grad",
    "select_grad",
    "reduce_extreme_grad",
    "matmul_grad_left",
    "matmul_grad_right",
]


def unbroadcast(g, x):
    """Sum the gradient `g` back down to the shape of `x` (undoing broadcasting).

    NumPy broadcasting copies `x` along new or size-1 axes; the copy gate says
    the gradient of a copied value is the sum of the copies' gradients.
    """
    shape = getattr(x, "shape", ())
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if not shape:
        g = g[()] if isinstance(g, np.ndarray) else g
    return g


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


def expand_to(g, x, axis=None, keepdims=False):
    """The gradient of a sum over `axis`: `g` copied back along the reduced axes."""
    return np.broadcast_to(restore_axes(g, x, axis, keepdims), np.shape(x))


def index_grad(g, x, index):
    """Gradient of `x[index]`: `g` scattered into zeros shaped like `x`.

    Repeated integer indices read the same element several times, so their
    gradients must add up (np.add.at); plain ints and slices are assigned.
    """
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


def reduce_extreme_grad(g, x, y, axis, keepdims):
    """Gradient of max/min over `axis`: routed to the winning elements.

    Ties share the gradient equally, so the total that flows back equals `g`.
    """
    y = restore_axes(y, x, axis, keepdims)
    g = restore_axes(g, x, axis, keepdims)
    winners = x == y
    return g * winners / np.sum(winners, axis=axis, keepdims=True)


def matmul_grad_left(g, x, y):
    """Gradient of x @ y with respect to x (1-D, 2-D and batched operands)."""
    if np.ndim(y) == 1:
        if np.ndim(x) == 1:
            return g * y
        return unbroadcast(np.expand_dims(g, -1) * y, x)
    if np.ndim(x) == 1:
        return unbroadcast((y @ np.expand_dims(g, -1))[..., 0], x)
    return unbroadcast(g @ np.swapaxes(y, -1, -2), x)


def matmul_grad_right(g, x, y):
    """Gradient of x @ y with respect to y (1-D, 2-D and batched operands)."""
    if np.ndim(x) == 1:
        if np.ndim(y) == 1:
            return g * x
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if np.ndim(y) == 1:
        return unbroadcast((np.swapaxes(x, -1, -2) @ np.expand_dims(g, -1))[..., 0], y)
    return unbroadcast(np.swapaxes(x, -1, -2) @ g, y)
