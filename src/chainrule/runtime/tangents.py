"""Helpers of the forward-mode (tangent) rules that need more than one expression."""

from __future__ import annotations

import numpy as np

from .linalg import einsum_grad


def broadcast_like(t, y):
    """The tangent `t` stretched to the shape of `y`, as a new array.

    Forward mode drops the terms of inputs that carry no tangent; when the
    dropped input was the one broadcasting made large (`x + c` with a big
    constant `c`), the remaining tangent is smaller than its result.
    """
    if isinstance(t, list) and isinstance(y, (list, tuple)):
        return t  # item by item, as unbroadcast passes such a gradient on (its adjoint)
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape).copy()


def cumprod_jvp(t, x, axis=None):
    """Tangent of np.cumprod(x, axis) along `t`, exact when x has zeros.

    Each factor's tangent times the product of the other factors of every
    running product: O(n**2) along the axis, with no division by x.
    """
    x = np.asarray(x, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    if axis is None:
        x, t, axis = x.ravel(), t.ravel(), 0
    xm, tm = np.moveaxis(x, axis, -1), np.moveaxis(t, axis, -1)
    out = np.zeros(xm.shape)
    for i in range(xm.shape[-1]):
        others = xm.copy()
        others[..., i] = 1.0
        term = np.cumprod(others, axis=-1) * tm[..., i : i + 1]
        term[..., :i] = 0.0
        out += term
    return np.moveaxis(out, -1, axis)


def einsum_jvp(subscripts, operands, tangents):
    """Tangent of np.einsum(subscripts, *operands): the product rule, one term per operand."""
    if not isinstance(subscripts, str):
        raise ValueError(
            "the tangent of np.einsum needs the subscripts as a string (the interleaved "
            "np.einsum(x, [0, 1], ...) form is not supported)"
        )
    total = 0.0
    for k, t in enumerate(tangents):
        args = list(operands)
        args[k] = t
        total = total + np.einsum(subscripts, *args)
    return total


def einsum_pairs(subscripts, operands, first, second):
    """The sum over k != j of np.einsum(subscripts, *operands) with operand k replaced by
    first[k] and operand j by second[j]: the product rule's second-order terms (the
    tangent of einsum_jvp along the operands)."""
    total = 0.0
    for k, a in enumerate(first):
        for j, b in enumerate(second):
            if j != k:
                args = list(operands)
                args[k], args[j] = a, b
                total = total + np.einsum(subscripts, *args)
    return total


def einsum_grad_jvp(g, dg, subscripts, operands, tangents):
    """Tangent of einsum_grad(g, subscripts, operands) along dg and the operands' tangents.

    Each operand's gradient is linear in g and in every other operand, so
    its tangent has one term for dg and one per other operand's tangent.
    """
    out = list(einsum_grad(dg, subscripts, operands))
    for k, t in enumerate(tangents):
        moved = list(operands)
        moved[k] = t
        terms = einsum_grad(g, subscripts, moved)
        out = [o if i == k else o + terms[i] for i, o in enumerate(out)]
    return out
