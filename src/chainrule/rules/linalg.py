"""Rules for products and linear algebra: dot, outer, inner, tensordot, einsum, trace,
diagonal, det, slogdet, inv, solve and norm.  (`@` / np.matmul live in arithmetic.py.)

A product is linear in each operand, so each operand's gradient is the same
kind of product of the output's gradient with the other operand: for
z = x @ y, dx = dz @ y.T.  Rules whose shape bookkeeping would not fit in one
readable line call helpers from runtime.py.
"""

import numpy as np

from ..runtime import (
    cofactor,
    diagonal_grad,
    dot_grad_left,
    dot_grad_right,
    einsum_first_jvp,
    einsum_grad,
    einsum_jvp,
    einsum_sublist_grad,
    einsum_sublist_grad_jvp,
    einsum_sublist_grad_vjp,
    einsum_sublist_jvp,
    inner_grad_left,
    inner_grad_right,
    norm_grad,
    restore_axes,
    solve_grad_a,
    solve_transposed,
    tensordot_grad_left,
    tensordot_grad_right,
    unbroadcast,
    vector_norm_order,
)
from .registry import adjoint, literal, nondifferentiable, tangent


@adjoint(np.dot, np.ndarray.dot)
def dot(z, a, b, out=None):
    "dot product: da = dz @ b.T and db = a.T @ dz (summed over the contracted axis)"
    da = dot_grad_left(dz, a, b)
    db = dot_grad_right(dz, a, b)


@tangent(np.dot, np.ndarray.dot)
def dot_tangent(z, a, b, out=None):
    "product rule: d(a . b) = da . b + a . db"
    dz = np.dot(da, b) + np.dot(a, db)


@adjoint(np.outer)
def outer(z, a, b, out=None):
    "outer product z[i, j] = a[i] b[j]: da = dz @ b and db = a @ dz"
    da = np.reshape(dz @ np.ravel(b), np.shape(a))
    db = np.reshape(np.ravel(a) @ dz, np.shape(b))


@tangent(np.outer)
def outer_tangent(z, a, b, out=None):
    "product rule: d outer(a, b) = outer(da, b) + outer(a, db)"
    dz = np.outer(da, b) + np.outer(a, db)


@adjoint(np.inner)
def inner(z, a, b):
    "inner product over the last axes: each side gets dz times the other"
    da = inner_grad_left(dz, a, b)
    db = inner_grad_right(dz, a, b)


@tangent(np.inner)
def inner_tangent(z, a, b):
    "product rule: d inner(a, b) = inner(da, b) + inner(a, db)"
    dz = np.inner(da, b) + np.inner(a, db)


@adjoint(np.tensordot)
def tensordot(z, a, b, axes=2):
    "tensordot: each side gets dz contracted with the other over the free axes"
    da = tensordot_grad_left(dz, a, b, axes)
    db = tensordot_grad_right(dz, a, b, axes)


@tangent(np.tensordot)
def tensordot_tangent(z, a, b, axes=2):
    "product rule: each side's tangent contracted with the other side"
    dz = np.tensordot(da, b, axes) + np.tensordot(a, db, axes)


@adjoint(np.einsum)
def einsum(y, subscripts, *operands, optimize=False):
    "einsum: each operand's gradient is the einsum of dy with the other operands"
    if literal(subscripts):
        doperands = einsum_grad(dy, subscripts, operands)
    else:  # a string in a variable, or the sublist form np.einsum(x, [0, 1], y, [1, 2])
        doperands = einsum_sublist_grad(dy, subscripts, operands)[1:]
        dsubscripts = einsum_sublist_grad(dy, subscripts, operands)[0]


@tangent(np.einsum)
def einsum_tangent(y, subscripts, *operands, optimize=False):
    "einsum: the product rule, one einsum per operand's tangent"
    if literal(subscripts):
        dy = einsum_jvp(subscripts, operands, doperands)
    else:  # a string in a variable, or the sublist form np.einsum(x, [0, 1], y, [1, 2])
        dy = einsum_sublist_jvp(subscripts, operands, doperands) + einsum_first_jvp(
            subscripts, operands, dsubscripts
        )


@adjoint(einsum_sublist_grad)
def einsum_sublist_grad_adjoint(r, g, first, rest):
    "einsum_sublist_grad: einsum_grad's adjoint, in the string form the sublists spell"
    dg = einsum_sublist_grad_vjp(g, first, rest, dr)[0]
    dfirst = einsum_sublist_grad_vjp(g, first, rest, dr)[1]
    drest = einsum_sublist_grad_vjp(g, first, rest, dr)[2]


@tangent(einsum_sublist_grad)
def einsum_sublist_grad_tangent(r, g, first, rest):
    "einsum_sublist_grad: linear in g and in each operand, one term per tangent"
    dr = einsum_sublist_grad_jvp(g, dg, first, rest, dfirst, drest)


@adjoint(np.trace, np.ndarray.trace)
def trace(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    "trace: the gradient is dy on the summed diagonal and 0 elsewhere"
    da = diagonal_grad(np.expand_dims(dy, -1), a, offset, axis1, axis2)


@tangent(np.trace, np.ndarray.trace)
def trace_tangent(y, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    "trace: the trace of the tangent"
    dy = np.trace(da, offset, axis1, axis2)


@adjoint(np.diagonal, np.ndarray.diagonal)
def diagonal(y, a, offset=0, axis1=0, axis2=1):
    "diagonal: dy goes back onto the diagonal it was read from, 0 elsewhere"
    da = diagonal_grad(dy, a, offset, axis1, axis2)


@tangent(np.diagonal, np.ndarray.diagonal)
def diagonal_tangent(y, a, offset=0, axis1=0, axis2=1):
    "diagonal: the same diagonal of the tangent"
    dy = np.diagonal(da, offset, axis1, axis2)


@adjoint(np.linalg.det)
def det(y, a):
    "determinant (Jacobi's formula): the cofactor matrix, det(A) inv(A).T where A is invertible"
    da = np.expand_dims(dy, (-2, -1)) * cofactor(a)


@tangent(np.linalg.det)
def det_tangent(y, a):
    "determinant (Jacobi's formula): d det(A) = <cofactor(A), dA>, det(A) trace(inv(A) dA)"
    dy = np.sum(cofactor(a) * da, axis=(-2, -1))


@adjoint(np.linalg.inv)
def inv(y, a):
    "matrix inverse: d inv(A) = -inv(A) dA inv(A), so dA = -inv(A).T @ dy @ inv(A).T"
    yT = np.swapaxes(y, -1, -2)
    da = -(yT @ dy @ yT)


@tangent(np.linalg.inv)
def inv_tangent(y, a):
    "matrix inverse: d inv(A) = -inv(A) dA inv(A)"
    dy = -(y @ da @ y)


@adjoint(np.linalg.solve)
def solve(x, a, b):
    "linear solve x = inv(A) b: db = inv(A).T dx and dA = -db x.T"
    g = solve_transposed(a, b, dx)
    db = unbroadcast(g, b)
    da = solve_grad_a(g, a, b, x)


@tangent(np.linalg.solve)
def solve_tangent(x, a, b):
    "linear solve x = inv(A) b: dx = inv(A) (db - dA x)"
    dx = np.linalg.solve(a, db) - np.linalg.solve(a, da @ x)


@adjoint(np.linalg.norm)
def norm(y, x, ord=None, axis=None, keepdims=False):
    "norm: the 2-norm's gradient is x / norm(x), 0 at x = 0 (norm_grad has the other ords)"
    if literal(ord) and ord is None and literal(axis) and axis is None:
        dx = dy * np.divide(x, np.where(y == 0, 1, y))
    elif literal(ord) and ord is None:
        dx = restore_axes(dy / np.where(y == 0, 1, y), x, axis, keepdims) * x
    else:
        dx = norm_grad(dy, x, y, ord, axis, keepdims)


@tangent(np.linalg.norm)
def norm_tangent(y, x, ord=None, axis=None, keepdims=False):
    "norm: the 2-norm's tangent is sum(x dx) / norm(x), 0 at x = 0"
    if literal(ord) and ord is None:
        dy = np.sum(np.multiply(x, dx), axis, keepdims=keepdims) / np.where(y == 0, 1, y)
    else:
        share = norm_grad(np.ones_like(y), x, y, ord, axis, keepdims)
        dy = np.sum(share * dx, axis, keepdims=keepdims)


# -- the gradient of a p-norm, differentiated again (hessian, grad of grad) -------------
# out = norm_grad(g, x, y) = g s |x|^(p-1) / y^(p-1), with s = sign(x) and y the norm:
# d out / dg = s (|x|/y)^(p-1), d out / dx = g (p-1) (|x|/y)^(p-2) / y (y held),
# d out / dy = g s (|x|/y)^(p-1) (1-p) / y.  vector_norm_order raises for the other orders.

nondifferentiable(vector_norm_order, why="the order of a norm is a number, not a value")


@adjoint(norm_grad)
def norm_grad_adjoint(r, g, x, y, ord=None, axis=None, keepdims=False):
    "gradient of a p-norm, s |x|^(p-1) g / y^(p-1), differentiated in g, x and y"
    p = vector_norm_order(x, ord, axis)
    gx = restore_axes(g, x, axis, keepdims)
    yx = restore_axes(np.where(y == 0, 1, y), x, axis, keepdims)
    share = np.sign(x) * (np.abs(x) / yx) ** (p - 1)
    dg = np.sum(dr * share, axis, keepdims=keepdims)
    dx = dr * gx * (p - 1) * (np.abs(x) / yx) ** (p - 2) / yx
    dy = np.sum(dr * gx * share * (1 - p) / yx, axis, keepdims=keepdims)


@tangent(norm_grad)
def norm_grad_tangent(r, g, x, y, ord=None, axis=None, keepdims=False):
    "gradient of a p-norm, s |x|^(p-1) g / y^(p-1): the product rule in g, x and y"
    p = vector_norm_order(x, ord, axis)
    gx = restore_axes(g, x, axis, keepdims)
    yx = restore_axes(np.where(y == 0, 1, y), x, axis, keepdims)
    share = np.sign(x) * (np.abs(x) / yx) ** (p - 1)
    dr = (
        restore_axes(dg, x, axis, keepdims) * share
        + gx * (p - 1) * (np.abs(x) / yx) ** (p - 2) / yx * dx
        + gx * share * (1 - p) / yx * restore_axes(dy, x, axis, keepdims)
    )


@adjoint(np.linalg.slogdet)
def slogdet(y, a):
    "log-determinant: d log|det A| = inv(A).T (the sign is piecewise constant)"
    da = np.expand_dims(dy[1], (-2, -1)) * np.linalg.inv(a).swapaxes(-1, -2)


@tangent(np.linalg.slogdet)
def slogdet_tangent(y, a):
    "log-determinant: d log|det A| = trace(inv(A) dA); the sign is flat"
    dy = (np.zeros_like(y[0]), np.trace(np.linalg.solve(a, da), axis1=-2, axis2=-1))
