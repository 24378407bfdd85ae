"""Rules for the runtime helpers that generated gradient code calls (runtime.py).

Generated code is itself differentiable source: `hessian(f)` runs the
forward-mode transformation on the code `grad(f)` generated, and
`grad(grad(f))` runs reverse mode on it.  Those passes meet the helpers that
gradient templates call (`unbroadcast`, `expand_to`, `matmul_grad_left`...),
so each helper has rules like any NumPy function.  Most helpers are linear
in the gradient they receive, so their tangent is the same helper applied
to the tangent, and their adjoint is the helper's transpose.
"""

import numpy as np

from ..runtime import (
    add_lists,
    broadcast_like,
    cast_grad,
    diag_grad,
    diagonal_grad,
    dot_grad_left,
    dot_grad_right,
    einsum_grad,
    einsum_grad_jvp,
    einsum_grad_vjp,
    einsum_jvp,
    einsum_pairs,
    expand_to,
    index_grad,
    inner_grad_left,
    inner_grad_right,
    join_like,
    kept_writes,
    matmul_grad_left,
    matmul_grad_right,
    old_value,
    power_term,
    prod_grad,
    prod_pairs,
    record_grad,
    reduce_extreme_grad,
    restore_axes,
    retranspose,
    rows_like,
    seed_gradient,
    select_grad,
    solve_grad_a,
    solve_product,
    solve_transposed,
    split_like,
    stored_tangent,
    take_grad,
    tensordot_grad_left,
    tensordot_grad_right,
    unbroadcast,
    unpack_grad,
    unrepeat,
    untile,
    untranspose,
    zeros_like_item,
    zeros_like_list,
)
from .registry import adjoint, nondifferentiable, tangent

# the seed dL/dL = 1 is a constant (seed_gradient only checks that the output is a scalar)
nondifferentiable(seed_gradient, why="the seed dL/dL = 1 is a constant")
nondifferentiable(
    zeros_like_item, zeros_like_list, why="zeros do not depend on the values they are shaped like"
)


# -- linear in the gradient, reading the other arguments for their shapes ---------------


@tangent(unbroadcast)
def unbroadcast_tangent(r, g, x):
    "unbroadcast: linear in the gradient, so its tangent is unbroadcast too"
    dr = unbroadcast(dg, x)


@adjoint(unbroadcast)
def unbroadcast_adjoint(r, g, x):
    "unbroadcast sums copies: its adjoint copies the gradient back (broadcasting)"
    dg = broadcast_like(dr, g)


@tangent(broadcast_like)
def broadcast_like_tangent(r, t, y):
    "broadcast_like: linear, so its tangent is broadcast the same way"
    dr = broadcast_like(dt, y)


@adjoint(broadcast_like)
def broadcast_like_adjoint(r, t, y):
    "broadcast_like copies: the copies' gradients are summed back"
    dt = unbroadcast(dr, t)


@tangent(restore_axes)
def restore_axes_tangent(r, g, x, axis, keepdims):
    "restore_axes: a reshape, applied to the tangent too"
    dr = restore_axes(dg, x, axis, keepdims)


@adjoint(restore_axes)
def restore_axes_adjoint(r, g, x, axis, keepdims):
    "restore_axes: a reshape, undone on the gradient"
    dg = np.reshape(dr, np.shape(g))


@tangent(expand_to)
def expand_to_tangent(r, g, x, axis=None, keepdims=False):
    "expand_to: copies along the reduced axes, applied to the tangent too"
    dr = expand_to(dg, x, axis, keepdims)


@adjoint(expand_to)
def expand_to_adjoint(r, g, x, axis=None, keepdims=False):
    "expand_to copies along the reduced axes: their gradients are summed back"
    dg = np.reshape(np.sum(dr, axis, keepdims=True), np.shape(g))


@tangent(index_grad)
def index_grad_tangent(r, g, x, index):
    "index_grad: a scatter into zeros, applied to the tangent too"
    dr = index_grad(dg, x, index)


@adjoint(index_grad)
def index_grad_adjoint(r, g, x, index):
    "index_grad scatters: its adjoint gathers from the same positions"
    dg = unbroadcast(old_value(dr, index), g)  # an item of a tuple's gradients, too


@tangent(old_value)
def old_value_tangent(r, a, index):
    "old_value: a copy of a[index], so its tangent is a copy of da[index]"
    dr = old_value(da, index)


@tangent(add_lists)
def add_lists_tangent(r, a, b):
    "add_lists: the tangents add element by element"
    dr = add_lists(da, db)


@tangent(unpack_grad)
def unpack_grad_tangent(r, rows, source):
    "unpack_grad: the rows' tangents are assembled the same way"
    dr = unpack_grad(drows, source)


@adjoint(power_term)
def power_term_adjoint(r, c, x, e):
    "power term c x**e: its derivatives are power terms again, 0 wherever c or e is"
    dc = unbroadcast(dr * power_term(1.0, x, e), c)
    dx = unbroadcast(dr * power_term(c * e, x, e - 1), x)
    de = unbroadcast(dr * r * np.log(np.where(x == 0, 1, x)), e)


@tangent(power_term)
def power_term_tangent(r, c, x, e):
    "power term c x**e: its derivatives are power terms again, 0 wherever c or e is"
    dr = (
        power_term(1.0, x, e) * dc
        + power_term(c * e, x, e - 1) * dx
        + r * np.log(np.where(x == 0, 1, x)) * de
    )


@tangent(record_grad)
def record_grad_tangent(r, g, n):
    "record_grad: passes a record's gradients through"
    dr = record_grad(dg, n)


@adjoint(record_grad)
def record_grad_adjoint(r, g, n):
    "record_grad: passes a record's gradients through"
    dg = dr


@tangent(select_grad)
def select_grad_tangent(r, g, condition, x):
    "select_grad: a mask, applied to the tangent too"
    dr = select_grad(dg, condition, x)


@tangent(reduce_extreme_grad)
def reduce_extreme_grad_tangent(r, g, x, y, axis=None, keepdims=False):
    "reduce_extreme_grad: routes to the winners, which do not move (piecewise constant)"
    dr = reduce_extreme_grad(dg, x, y, axis, keepdims)


@adjoint(reduce_extreme_grad)
def reduce_extreme_grad_adjoint(r, g, x, y, axis=None, keepdims=False):
    "reduce_extreme_grad routes to the winners: their gradients are gathered back"
    share = reduce_extreme_grad(np.ones_like(g), x, y, axis, keepdims)
    dg = np.reshape(np.sum(share * dr, axis, keepdims=True), np.shape(g))


@tangent(diagonal_grad)
def diagonal_grad_tangent(r, g, x, offset=0, axis1=0, axis2=1):
    "diagonal_grad: a scatter onto a diagonal, applied to the tangent too"
    dr = diagonal_grad(dg, x, offset, axis1, axis2)


@tangent(diag_grad)
def diag_grad_tangent(r, g, v, k=0):
    "diag_grad: moves values to or from a diagonal, applied to the tangent too"
    dr = diag_grad(dg, v, k)


@tangent(untranspose)
def untranspose_tangent(r, g, axes=None):
    "untranspose: a permutation, applied to the tangent too"
    dr = untranspose(dg, axes)


@adjoint(unpack_grad)
def unpack_grad_adjoint(r, rows, source):
    "unpack_grad stacks the rows' gradients: its adjoint hands each row its slice back"
    drows = list(dr)


@adjoint(split_like)
def split_like_adjoint(r, g, arrays, axis=0, promote=None):
    "split_like cuts a gradient into pieces: its adjoint joins the pieces' gradients back"
    dg = join_like(dr, g, arrays, axis, promote)


@tangent(join_like)
def join_like_tangent(r, pieces, g, arrays, axis=0, promote=None):
    "join_like: linear in the pieces, so their tangents are joined the same way"
    dr = join_like(dpieces, g, arrays, axis, promote)


@adjoint(join_like)
def join_like_adjoint(r, pieces, g, arrays, axis=0, promote=None):
    "join_like joins pieces: its adjoint cuts the gradient back into them"
    dpieces = split_like(dr, arrays, axis, promote)


@tangent(split_like)
def split_like_tangent(r, g, arrays, axis=0, promote=None):
    "split_like: cuts the tangent the same way"
    dr = split_like(dg, arrays, axis, promote)


@tangent(untile)
def untile_tangent(r, g, x, reps):
    "untile: sums the copies of the tangent the same way"
    dr = untile(dg, x, reps)


@tangent(unrepeat)
def unrepeat_tangent(r, g, x, repeats, axis=None):
    "unrepeat: sums the repeats of the tangent the same way"
    dr = unrepeat(dg, x, repeats, axis)


@tangent(cast_grad)
def cast_grad_tangent(r, g, dtype):
    "cast_grad: the tangent passes a float cast; an integer cast has none"
    dr = cast_grad(dg, dtype)


@tangent(take_grad)
def take_grad_tangent(r, g, a, indices, axis=None, mode="raise"):
    "take_grad: a scatter, applied to the tangent too"
    dr = take_grad(dg, a, indices, axis, mode)


# -- bilinear: linear in the gradient and in the other factor ---------------------------


@tangent(matmul_grad_left)
def matmul_grad_left_tangent(r, g, x, y):
    "product rule: d(g @ y.T) = dg @ y.T + g @ dy.T"
    dr = matmul_grad_left(dg, x, y) + matmul_grad_left(g, x, dy)


@tangent(matmul_grad_right)
def matmul_grad_right_tangent(r, g, x, y):
    "product rule: d(x.T @ g) = dx.T @ g + x.T @ dg"
    dr = matmul_grad_right(dg, x, y) + matmul_grad_right(g, dx, y)


@tangent(dot_grad_left)
def dot_grad_left_tangent(r, g, a, b):
    "product rule on the gradient of a dot product: one term per factor"
    dr = dot_grad_left(dg, a, b) + dot_grad_left(g, a, db)


@tangent(dot_grad_right)
def dot_grad_right_tangent(r, g, a, b):
    "product rule on the gradient of a dot product: one term per factor"
    dr = dot_grad_right(dg, a, b) + dot_grad_right(g, da, b)


@tangent(inner_grad_left)
def inner_grad_left_tangent(r, g, a, b):
    "product rule on the gradient of an inner product: one term per factor"
    dr = inner_grad_left(dg, a, b) + inner_grad_left(g, a, db)


@tangent(inner_grad_right)
def inner_grad_right_tangent(r, g, a, b):
    "product rule on the gradient of an inner product: one term per factor"
    dr = inner_grad_right(dg, a, b) + inner_grad_right(g, da, b)


@tangent(tensordot_grad_left)
def tensordot_grad_left_tangent(r, g, a, b, axes=2):
    "product rule on the gradient of a tensordot: one term per factor"
    dr = tensordot_grad_left(dg, a, b, axes) + tensordot_grad_left(g, a, db, axes)


@tangent(tensordot_grad_right)
def tensordot_grad_right_tangent(r, g, a, b, axes=2):
    "product rule on the gradient of a tensordot: one term per factor"
    dr = tensordot_grad_right(dg, a, b, axes) + tensordot_grad_right(g, da, b, axes)


@tangent(einsum_grad)
def einsum_grad_tangent(r, g, subscripts, operands):
    "product rule on the operands' einsum gradients: one term per factor"
    dr = einsum_grad_jvp(g, dg, subscripts, operands, doperands)


@tangent(solve_grad_a)
def solve_grad_a_tangent(r, gb, a, b, x):
    "product rule on -gb @ x.T: one term per factor"
    dr = solve_grad_a(dgb, a, b, x) + solve_grad_a(gb, a, b, dx)


@tangent(solve_transposed)
def solve_transposed_tangent(r, a, b, g):
    "d(inv(A).T g) = inv(A).T (dg - dA.T inv(A).T g)"
    dr = solve_transposed(a, b, dg) - solve_transposed(a, b, matmul_grad_right(r, da, r))


# -- adjoints of the product helpers: each is the other half of the same bilinear form ---
#
# matmul_grad_left(g, x, y) is defined by <result, x'> = <g, x' @ y> for every x', so the
# gradient of <result, r> is r @ y with respect to g and matmul_grad_right(g, r, y) with
# respect to y; likewise for the other products.


@adjoint(matmul_grad_left)
def matmul_grad_left_adjoint(r, g, x, y):
    "gradient of a matmul gradient: <r, dx> = <g, dx @ y> read the other way"
    dg = dr @ y
    dy = matmul_grad_right(g, dr, y)


@adjoint(matmul_grad_right)
def matmul_grad_right_adjoint(r, g, x, y):
    "gradient of a matmul gradient: <r, dy> = <g, x @ dy> read the other way"
    dg = x @ dr
    dx = matmul_grad_left(g, x, dr)


@adjoint(dot_grad_left)
def dot_grad_left_adjoint(r, g, a, b):
    "gradient of a dot-product gradient: <r, da> = <g, dot(da, b)> read the other way"
    dg = np.dot(dr, b)
    db = dot_grad_right(g, dr, b)


@adjoint(dot_grad_right)
def dot_grad_right_adjoint(r, g, a, b):
    "gradient of a dot-product gradient: <r, db> = <g, dot(a, db)> read the other way"
    dg = np.dot(a, dr)
    da = dot_grad_left(g, a, dr)


@adjoint(inner_grad_left)
def inner_grad_left_adjoint(r, g, a, b):
    "gradient of an inner-product gradient: <r, da> = <g, inner(da, b)> read the other way"
    dg = np.inner(dr, b)
    db = inner_grad_right(g, dr, b)


@adjoint(inner_grad_right)
def inner_grad_right_adjoint(r, g, a, b):
    "gradient of an inner-product gradient: <r, db> = <g, inner(a, db)> read the other way"
    dg = np.inner(a, dr)
    da = inner_grad_left(g, a, dr)


@adjoint(tensordot_grad_left)
def tensordot_grad_left_adjoint(r, g, a, b, axes=2):
    "gradient of a tensordot gradient: <r, da> = <g, tensordot(da, b)> read the other way"
    dg = np.tensordot(dr, b, axes)
    db = tensordot_grad_right(g, dr, b, axes)


@adjoint(tensordot_grad_right)
def tensordot_grad_right_adjoint(r, g, a, b, axes=2):
    "gradient of a tensordot gradient: <r, db> = <g, tensordot(a, db)> read the other way"
    dg = np.tensordot(a, dr, axes)
    da = tensordot_grad_left(g, a, dr, axes)


@adjoint(old_value)
def old_value_adjoint(r, a, index):
    "old_value reads a[index]: its gradient goes back to those positions"
    da = index_grad(dr, a, index)


@adjoint(cast_grad)
def cast_grad_adjoint(r, g, dtype):
    "cast_grad passes a float cast and blocks an integer one, both ways"
    dg = cast_grad(dr, dtype)


@adjoint(add_lists)
def add_lists_adjoint(r, a, b):
    "add_lists: both lists receive the gradient, element by element"
    da = rows_like(dr, a)
    db = rows_like(dr, b)


@tangent(rows_like)
def rows_like_tangent(r, g, x):
    "rows_like only changes a list into rows and back"
    dr = rows_like(dg, x)


@adjoint(rows_like)
def rows_like_adjoint(r, g, x):
    "rows_like only changes a list into rows and back"
    dg = rows_like(dr, g)


@tangent(kept_writes)
def kept_writes_tangent(r, t, index, array):
    "kept_writes: a mask, linear in what it masks"
    dr = kept_writes(dt, index, array)


@adjoint(kept_writes)
def kept_writes_adjoint(r, t, index, array):
    "kept_writes: a mask, its own adjoint"
    dt = kept_writes(dr, index, array)


@tangent(stored_tangent)
def stored_tangent_tangent(r, t, array):
    "stored_tangent: zero or the identity, linear"
    dr = stored_tangent(dt, array)


@adjoint(stored_tangent)
def stored_tangent_adjoint(r, t, array):
    "stored_tangent: zero or the identity, its own adjoint"
    dt = stored_tangent(dr, array)


# -- adjoints of the scatters and copies: each is the transpose of a gather --------------


@adjoint(diagonal_grad)
def diagonal_grad_adjoint(r, g, x, offset=0, axis1=0, axis2=1):
    "diagonal_grad scatters onto a diagonal: its adjoint reads that diagonal back"
    dg = unbroadcast(np.diagonal(dr, offset, axis1, axis2), g)


@adjoint(diag_grad)
def diag_grad_adjoint(r, g, v, k=0):
    "diag_grad moves values between a diagonal and a vector: its adjoint moves them back"
    dg = diag_grad(dr, g, k)


@adjoint(untile)
def untile_adjoint(r, g, x, reps):
    "untile sums the copies: its adjoint tiles the gradient again"
    dg = np.tile(dr, reps)


@adjoint(unrepeat)
def unrepeat_adjoint(r, g, x, repeats, axis=None):
    "unrepeat sums the repeats: its adjoint repeats the gradient again"
    dg = np.repeat(dr, repeats, axis)


@adjoint(take_grad)
def take_grad_adjoint(r, g, a, indices, axis=None, mode="raise"):
    "take_grad scatters: its adjoint takes from the same positions"
    dg = np.take(dr, indices, axis, mode=mode)


@adjoint(untranspose)
def untranspose_adjoint(r, g, axes=None):
    "untranspose undoes a permutation: its adjoint applies the permutation"
    dg = retranspose(dr, axes)


@tangent(retranspose)
def retranspose_tangent(r, g, axes=None):
    "retranspose: a permutation, applied to the tangent too"
    dr = retranspose(dg, axes)


@adjoint(retranspose)
def retranspose_adjoint(r, g, axes=None):
    "retranspose permutes: its adjoint undoes the permutation"
    dg = untranspose(dr, axes)


@adjoint(select_grad)
def select_grad_adjoint(r, g, condition, x):
    "select_grad masks: its adjoint masks the gradient the same way"
    dg = unbroadcast(np.where(condition, dr, 0.0), g)


@adjoint(solve_transposed)
def solve_transposed_adjoint(r, a, b, g):
    "r = inv(A).T g: dg = inv(A) dr, and dA = -r u.T with u = inv(A) dr"
    dg = solve_transposed(np.swapaxes(a, -1, -2), b, dr)
    da = solve_grad_a(r, a, b, solve_transposed(np.swapaxes(a, -1, -2), b, dr))


@adjoint(solve_grad_a)
def solve_grad_a_adjoint(r, gb, a, b, x):
    "r = -gb x.T: dgb = -dr x and dx = -dr.T gb"
    dgb = solve_product(dr, a, b, x)
    dx = solve_product(np.swapaxes(dr, -1, -2), a, b, gb)


@tangent(solve_product)
def solve_product_tangent(r, m, a, b, v):
    "product rule on -(m v): one term per factor"
    dr = solve_product(dm, a, b, v) + solve_product(m, a, b, dv)


@adjoint(solve_product)
def solve_product_adjoint(r, m, a, b, v):
    "r = -(m v): dm = -dr v.T and dv = -m.T dr"
    dm = solve_grad_a(dr, m, b, v)
    dv = solve_product(np.swapaxes(m, -1, -2), a, b, dr)


@tangent(einsum_jvp)
def einsum_jvp_tangent(r, subscripts, operands, tangents):
    "the product rule again: the tangents' own tangents, and each pair of factors"
    dr = einsum_jvp(subscripts, operands, dtangents) + einsum_pairs(
        subscripts, operands, tangents, doperands
    )


@adjoint(einsum_jvp)
def einsum_jvp_adjoint(r, subscripts, operands, tangents):
    "linear in the tangents (einsum's own gradient) and in each operand (einsum_grad's)"
    dtangents = einsum_grad(dr, subscripts, operands)
    doperands = einsum_grad_vjp(dr, subscripts, operands, tangents)


@adjoint(einsum_grad)
def einsum_grad_adjoint(r, g, subscripts, operands):
    "einsum_grad: <dr_k, r_k> = <g, einsum with operand k replaced by dr_k>, so dg = einsum_jvp"
    dg = einsum_jvp(subscripts, operands, dr)
    doperands = einsum_grad_vjp(g, subscripts, operands, dr)


@tangent(prod_grad)
def prod_grad_tangent(r, g, x, axis=None, keepdims=False):
    "the product of the other factors: linear in g; in x, the sum over pairs of factors"
    dr = prod_grad(dg, x, axis, keepdims) + restore_axes(g, x, axis, keepdims) * prod_pairs(
        x, dx, axis
    )


@adjoint(prod_grad)
def prod_grad_adjoint(r, g, x, axis=None, keepdims=False):
    "the product of the other factors: its Hessian is symmetric, so the adjoint is the tangent"
    dg = np.sum(dr * prod_grad(np.ones_like(g), x, axis, keepdims), axis, keepdims=keepdims)
    dx = prod_pairs(x, restore_axes(g, x, axis, keepdims) * dr, axis)
