"""Every tangent (forward-mode) rule against central finite differences.

Each case is a small lambda applying one primitive; `check_jvp` compares
chainrule.jvp with a finite difference along a random tangent, first with a
tangent on every argument, then on each argument alone (the code that drops
the terms of inputs without a tangent).  `test_every_tangent_rule_is_exercised`
checks that the cases reach every registered tangent rule.
"""

import ast
import builtins
import math
import operator

import numpy as np
import pytest
from helpers import check_jvp

from chainrule import runtime as rt
from chainrule.ir import facts_of
from chainrule.normalize import normalize
from chainrule.parse import parse_function
from chainrule.rules import ADJOINTS, TANGENTS, display_name

rng = np.random.default_rng(7)
A = rng.normal(size=(2, 3))
B = rng.normal(size=(2, 3))
ROW = rng.normal(size=3)
COL = rng.normal(size=(2, 1))
P = rng.uniform(0.5, 2.0, size=(2, 3))  # positive
Q = rng.uniform(0.5, 2.0, size=(2, 3))
U = rng.uniform(-0.8, 0.8, size=(2, 3))  # inside (-1, 1)
G = rng.uniform(1.2, 3.0, size=(2, 3))  # greater than 1
M = rng.normal(size=(3, 3)) + 3 * np.eye(3)  # well conditioned
N = rng.normal(size=(3, 3))
V = rng.normal(size=3)
W = rng.normal(size=3)
Z = rng.normal(size=(4, 6))
T3 = rng.normal(size=(2, 3, 4))
S, S2 = 0.7, -1.3  # Python floats
SP, SP2 = 1.6, 0.8  # positive floats


def copy_then_scale(x):
    y = x  # a plain copy (the IDENTITY primitive)
    return y * 2.0


CASES = [
    ("copy", copy_then_scale, (A,)),
    # arithmetic operators and their ufuncs (broadcasting pairs included)
    ("add", lambda x, y: x + y, (A, B)),
    ("add row", lambda x, y: x + y, (A, ROW)),
    ("add col", lambda x, y: np.add(x, y), (COL, A)),
    ("sub", lambda x, y: x - y, (A, ROW)),
    ("np.subtract", lambda x, y: np.subtract(x, y), (COL, A)),
    ("mul", lambda x, y: x * y, (A, COL)),
    ("np.multiply", lambda x, y: np.multiply(x, y), (S, A)),
    ("div", lambda x, y: x / y, (A, P)),
    ("np.divide", lambda x, y: np.divide(x, y), (ROW, P)),
    ("np.true_divide", lambda x, y: np.true_divide(x, y), (A, SP)),
    ("neg", lambda x: -x, (A,)),
    ("np.negative", lambda x: np.negative(x), (A,)),
    ("pos", lambda x: +x, (A,)),
    ("np.positive", lambda x: np.positive(x), (A,)),
    ("pow", lambda x, y: x**y, (P, B)),
    ("pow 2", lambda x: x**2, (A,)),
    ("pow 3", lambda x: x**3.0, (A,)),
    ("pow const base", lambda y: 2.0**y, (A,)),
    ("np.power", lambda x, y: np.power(x, y), (P, ROW)),
    ("np.float_power", lambda x, y: np.float_power(x, y), (P, B)),
    ("np.float_power const", lambda y: np.float_power(1.5, y), (B,)),
    ("mod", lambda x, y: x % y, (A, P)),
    ("np.mod", lambda x, y: np.mod(x, y), (A, Q)),
    ("np.remainder", lambda x, y: np.remainder(x, y), (A, Q)),
    ("np.fmod", lambda x, y: np.fmod(x, y), (A, Q)),
    ("matmul", lambda x, y: x @ y, (A, M)),
    ("matmul vec", lambda x, y: x @ y, (M, V)),
    ("np.matmul", lambda x, y: np.matmul(x, y), (V, M)),
    # exponentials, logarithms, powers, roots
    ("np.exp", lambda x: np.exp(x), (A,)),
    ("np.exp2", lambda x: np.exp2(x), (A,)),
    ("np.expm1", lambda x: np.expm1(x), (A,)),
    ("np.log", lambda x: np.log(x), (P,)),
    ("np.log2", lambda x: np.log2(x), (P,)),
    ("np.log10", lambda x: np.log10(x), (P,)),
    ("np.log1p", lambda x: np.log1p(x), (P,)),
    ("np.logaddexp", lambda x, y: np.logaddexp(x, y), (A, ROW)),
    ("np.logaddexp2", lambda x, y: np.logaddexp2(x, y), (A, B)),
    ("np.sqrt", lambda x: np.sqrt(x), (P,)),
    ("np.cbrt", lambda x: np.cbrt(x), (P,)),
    ("np.square", lambda x: np.square(x), (A,)),
    ("np.reciprocal", lambda x: np.reciprocal(x), (P,)),
    # trigonometric and hyperbolic
    ("np.sin", lambda x: np.sin(x), (A,)),
    ("np.cos", lambda x: np.cos(x), (A,)),
    ("np.tan", lambda x: np.tan(x), (U,)),
    ("np.arcsin", lambda x: np.arcsin(x), (U,)),
    ("np.arccos", lambda x: np.arccos(x), (U,)),
    ("np.arctan", lambda x: np.arctan(x), (A,)),
    ("np.arctan2", lambda x, y: np.arctan2(x, y), (A, B)),
    ("np.hypot", lambda x, y: np.hypot(x, y), (A, ROW)),
    ("np.sinh", lambda x: np.sinh(x), (A,)),
    ("np.cosh", lambda x: np.cosh(x), (A,)),
    ("np.tanh", lambda x: np.tanh(x), (A,)),
    ("np.arcsinh", lambda x: np.arcsinh(x), (A,)),
    ("np.arccosh", lambda x: np.arccosh(x), (G,)),
    ("np.arctanh", lambda x: np.arctanh(x), (U,)),
    ("np.sinc", lambda x: np.sinc(x), (A,)),
    ("np.deg2rad", lambda x: np.deg2rad(x), (A,)),
    ("np.radians", lambda x: np.radians(x), (A,)),
    ("np.rad2deg", lambda x: np.rad2deg(x), (A,)),
    ("np.degrees", lambda x: np.degrees(x), (A,)),
    # piecewise
    ("np.abs", lambda x: np.abs(x), (A,)),
    ("np.absolute", lambda x: np.absolute(x), (A,)),
    ("np.fabs", lambda x: np.fabs(x), (A,)),
    ("np.maximum", lambda x, y: np.maximum(x, y), (A, B)),
    ("relu", lambda x: np.maximum(0.0, x), (A,)),
    ("np.minimum", lambda x, y: np.minimum(x, y), (A, ROW)),
    ("np.fmax", lambda x, y: np.fmax(x, y), (A, B)),
    ("np.fmin", lambda x, y: np.fmin(x, y), (A, B)),
    ("np.clip", lambda x, lo, hi: np.clip(x, lo, hi), (A, -0.3 + 0 * ROW, 0.4 + 0 * ROW)),
    ("np.clip low", lambda x: np.clip(x, None, 0.2), (A,)),
    ("np.clip high", lambda x, lo: np.clip(x, lo, None), (A, COL * 0.1)),
    ("ndarray.clip", lambda x, lo, hi: x.clip(lo, hi), (A, -0.3 + 0 * ROW, 0.4 + 0 * ROW)),
    ("ndarray.clip max", lambda x, hi: x.clip(max=hi), (A, 0.2 + 0 * ROW)),
    ("ndarray.clip min", lambda x: x.clip(min=-0.1), (A,)),
    ("np.where", lambda x, y: np.where(x > 0, x, y), (A, B)),
    ("np.where const", lambda y: np.where(y > 0, 1.0, y * 2), (A,)),
    ("np.full", lambda v: np.full((2, 3), v), (S,)),
    ("np.full row", lambda v: np.full((2, 3), v), (ROW,)),
    ("np.full_like", lambda a, v: np.full_like(a, v), (A, S)),
    ("np.linspace", lambda a, b: np.linspace(a, b, 5), (S, S2)),
    ("np.linspace vec", lambda a, b: np.linspace(a, b, 4, False), (ROW, V)),
    # reductions
    ("np.sum", lambda x: np.sum(x), (A,)),
    ("np.sum axis", lambda x: np.sum(x, 0), (A,)),
    ("np.sum keepdims", lambda x: np.sum(x, axis=1, keepdims=True), (A,)),
    ("ndarray.sum", lambda x: x.sum(1), (A,)),
    ("np.nansum", lambda x: np.nansum(x, axis=0), (A,)),
    ("np.mean", lambda x: np.mean(x), (A,)),
    ("np.mean axis", lambda x: np.mean(x, axis=(0, 1)), (T3,)),
    ("ndarray.mean", lambda x: x.mean(axis=1, keepdims=True), (A,)),
    ("np.prod", lambda x: np.prod(x), (A,)),
    ("np.prod axis", lambda x: np.prod(x, 1), (A,)),
    ("ndarray.prod", lambda x: x.prod(axis=0, keepdims=True), (A,)),
    ("np.max", lambda x: np.max(x), (A,)),
    ("np.max axis", lambda x: np.max(x, 1), (A,)),
    ("np.median", lambda x: np.median(x), (A,)),
    ("np.median axis", lambda x: np.median(x, axis=0, keepdims=True), (Z,)),
    ("np.amax", lambda x: np.amax(x, axis=0), (A,)),
    ("ndarray.max", lambda x: x.max(axis=0, keepdims=True), (A,)),
    ("np.min", lambda x: np.min(x, axis=1), (A,)),
    ("np.amin", lambda x: np.amin(x), (A,)),
    ("ndarray.min", lambda x: x.min(), (A,)),
    ("np.var", lambda x: np.var(x), (A,)),
    ("np.var axis", lambda x: np.var(x, axis=1, ddof=1), (A,)),
    ("ndarray.var", lambda x: x.var(axis=0, keepdims=True), (A,)),
    ("np.std", lambda x: np.std(x), (A,)),
    ("np.std axis", lambda x: np.std(x, axis=0, ddof=1), (A,)),
    ("ndarray.std", lambda x: x.std(1), (A,)),
    ("np.cumsum", lambda x: np.cumsum(x), (A,)),
    ("np.cumsum axis", lambda x: np.cumsum(x, 1), (A,)),
    ("ndarray.cumsum", lambda x: x.cumsum(0), (A,)),
    ("np.cumprod", lambda x: np.cumprod(x), (A,)),
    ("np.cumprod axis", lambda x: np.cumprod(x, axis=1), (A,)),
    ("ndarray.cumprod", lambda x: x.cumprod(0), (A,)),
    # shapes
    ("np.reshape", lambda x: np.reshape(x, (3, 2)), (A,)),
    ("np.reshape F", lambda x: np.reshape(x, (3, 2), order="F"), (A,)),
    ("ndarray.reshape", lambda x: x.reshape(6), (A,)),
    ("ndarray.reshape F", lambda x: x.reshape(3, 2, order="F"), (A,)),
    ("np.ravel", lambda x: np.ravel(x), (A,)),
    ("np.ravel F", lambda x: np.ravel(x, "F"), (A,)),
    ("ndarray.ravel", lambda x: x.ravel(), (A,)),
    ("ndarray.flatten", lambda x: x.flatten(), (A,)),
    ("np.squeeze", lambda x: np.squeeze(x), (COL,)),
    ("ndarray.squeeze", lambda x: x.squeeze(1), (COL,)),
    ("np.expand_dims", lambda x: np.expand_dims(x, 1), (A,)),
    ("np.atleast_1d", lambda x: np.atleast_1d(x), (S,)),
    ("np.atleast_2d", lambda x: np.atleast_2d(x), (V,)),
    ("np.atleast_3d", lambda x: np.atleast_3d(x), (A,)),
    ("np.transpose", lambda x: np.transpose(x), (A,)),
    ("np.transpose axes", lambda x: np.transpose(x, (2, 0, 1)), (T3,)),
    ("ndarray.transpose", lambda x: x.transpose(), (A,)),
    ("ndarray.transpose axes", lambda x: x.transpose(1, 2, 0), (T3,)),
    ("ndarray.transpose tuple", lambda x: x.transpose((1, 2, 0)), (T3,)),
    ("ndarray.T", lambda x: x.T, (A,)),
    ("np.swapaxes", lambda x: np.swapaxes(x, 0, 2), (T3,)),
    ("ndarray.swapaxes", lambda x: x.swapaxes(0, 1), (A,)),
    ("np.moveaxis", lambda x: np.moveaxis(x, 0, -1), (T3,)),
    ("np.flip", lambda x: np.flip(x, 1), (A,)),
    ("np.fliplr", lambda x: np.fliplr(x), (A,)),
    ("np.flipud", lambda x: np.flipud(x), (A,)),
    ("np.roll", lambda x: np.roll(x, 2, 1), (A,)),
    ("np.concatenate", lambda x, y: np.concatenate([x, y]), (A, B)),
    ("np.concatenate axis", lambda x, y: np.concatenate((x, y), axis=1), (A, COL)),
    ("np.stack", lambda x, y: np.stack([x, y], 1), (A, B)),
    ("np.vstack", lambda x, y: np.vstack([x, y]), (A, ROW)),
    ("np.hstack", lambda x, y: np.hstack([x, y]), (V, W)),
    ("np.dstack", lambda x, y: np.dstack([x, y]), (A, B)),
    ("np.split", lambda x: np.split(x, 3, axis=1), (A,)),
    ("np.array_split", lambda x: np.array_split(x, 2, axis=1)[1], (Z,)),
    ("np.hsplit", lambda x: np.hsplit(x, 3), (Z,)),
    ("np.vsplit", lambda x: np.vsplit(x, 2), (Z,)),
    ("np.broadcast_to", lambda x: np.broadcast_to(x, (2, 3)), (ROW,)),
    ("np.tile", lambda x: np.tile(x, (2, 2)), (A,)),
    ("np.repeat", lambda x: np.repeat(x, 2, axis=0), (A,)),
    ("ndarray.repeat", lambda x: x.repeat(3), (V,)),
    ("np.diag", lambda x: np.diag(x), (V,)),
    ("np.diag read", lambda x: np.diag(x, 1), (M,)),
    ("np.triu", lambda x: np.triu(x), (M,)),
    ("np.tril", lambda x: np.tril(x, -1), (M,)),
    ("np.array", lambda x, y: np.array([x, y]), (S, S2)),
    ("np.array rows", lambda x, y: np.array([x, 2.0 * y]), (V, W)),
    ("np.array dtype", lambda x: np.array(x, dtype=float), (A,)),
    ("np.asarray", lambda x: np.asarray(x), (A,)),
    ("np.asanyarray", lambda x: np.asanyarray(x), (A,)),
    ("np.ascontiguousarray", lambda x: np.ascontiguousarray(x), (A,)),
    ("np.asfortranarray", lambda x: np.asfortranarray(x), (A,)),
    ("np.require", lambda x: np.require(x), (A,)),
    ("np.require dtype", lambda x: np.require(x, dtype=float, requirements="F"), (A,)),
    ("np.copy", lambda x: np.copy(x), (A,)),
    ("ndarray.copy", lambda x: x.copy(), (A,)),
    ("ndarray.astype", lambda x: x.astype(np.float64), (A,)),
    # indexing
    ("getitem", lambda x: x[1], (A,)),
    ("getitem slice", lambda x: x[:, 1:], (A,)),
    ("getitem pair", lambda x: x[0, 2], (A,)),
    ("getitem fancy", lambda x: x[[0, 2, 2]], (V,)),
    ("np.take", lambda x: np.take(x, [2, 0, 2]), (A,)),
    ("ndarray.take", lambda x: x.take([1, 1], axis=1), (A,)),
    # linear algebra
    ("np.dot", lambda x, y: np.dot(x, y), (M, V)),
    ("np.dot vv", lambda x, y: np.dot(x, y), (V, W)),
    ("ndarray.dot", lambda x, y: x.dot(y), (A, M)),
    ("np.outer", lambda x, y: np.outer(x, y), (V, ROW)),
    ("np.inner", lambda x, y: np.inner(x, y), (A, B)),
    ("np.tensordot", lambda x, y: np.tensordot(x, y, 1), (A, M)),
    ("np.einsum", lambda x, y: np.einsum("ij,jk->ik", x, y), (A, M)),
    ("np.einsum trace", lambda x: np.einsum("ii", x), (M,)),
    ("np.trace", lambda x: np.trace(x), (M,)),
    ("ndarray.trace", lambda x: x.trace(1), (M,)),
    ("np.diagonal", lambda x: np.diagonal(x), (M,)),
    ("ndarray.diagonal", lambda x: x.diagonal(-1), (M,)),
    ("np.linalg.det", lambda x: np.linalg.det(x), (M,)),
    ("np.linalg.inv", lambda x: np.linalg.inv(x), (M,)),
    ("np.linalg.solve", lambda a, b: np.linalg.solve(a, b), (M, N)),
    ("np.linalg.norm", lambda x: np.linalg.norm(x), (A,)),
    ("np.linalg.norm axis", lambda x: np.linalg.norm(x, axis=1), (A,)),
    ("np.linalg.norm ord 1", lambda x: np.linalg.norm(x, 1), (V,)),
    ("np.linalg.norm fro", lambda x: np.linalg.norm(x, "fro"), (M,)),
    ("np.linalg.slogdet", lambda x: np.linalg.slogdet(x)[1], (M,)),
    # the math module and builtins
    ("math.exp", lambda x: math.exp(x), (S,)),
    ("math.expm1", lambda x: math.expm1(x), (S,)),
    ("math.log", lambda x: math.log(x), (SP,)),
    ("math.log base", lambda x, b: math.log(x, b), (SP, 2.5)),
    ("math.log2", lambda x: math.log2(x), (SP,)),
    ("math.log10", lambda x: math.log10(x), (SP,)),
    ("math.log1p", lambda x: math.log1p(x), (SP,)),
    ("math.sqrt", lambda x: math.sqrt(x), (SP,)),
    ("math.pow", lambda x, y: math.pow(x, y), (SP, S2)),
    ("math.pow const", lambda y: math.pow(2.0, y), (S,)),
    ("math.sin", lambda x: math.sin(x), (S,)),
    ("math.cos", lambda x: math.cos(x), (S,)),
    ("math.tan", lambda x: math.tan(x), (S,)),
    ("math.asin", lambda x: math.asin(x), (0.3,)),
    ("math.acos", lambda x: math.acos(x), (0.3,)),
    ("math.atan", lambda x: math.atan(x), (S,)),
    ("math.atan2", lambda y, x: math.atan2(y, x), (S, S2)),
    ("math.hypot", lambda x, y: math.hypot(x, y), (S, S2)),
    ("math.sinh", lambda x: math.sinh(x), (S,)),
    ("math.cosh", lambda x: math.cosh(x), (S,)),
    ("math.tanh", lambda x: math.tanh(x), (S,)),
    ("math.asinh", lambda x: math.asinh(x), (S,)),
    ("math.acosh", lambda x: math.acosh(x), (SP,)),
    ("math.atanh", lambda x: math.atanh(x), (0.4,)),
    ("math.degrees", lambda x: math.degrees(x), (S,)),
    ("math.radians", lambda x: math.radians(x), (S,)),
    ("math.erf", lambda x: math.erf(x), (S,)),
    ("math.erfc", lambda x: math.erfc(x), (S,)),
    ("math.fabs", lambda x: math.fabs(x), (S2,)),
    ("abs", lambda x: abs(x), (S2,)),
    ("max", lambda x, y: max(x, y), (S, S2)),
    ("min", lambda x, y: min(x, y), (S, S2)),
    ("sum", lambda x: sum(x), (A,)),
    ("sum start", lambda x, s: sum(x, s), (V, S)),
    ("float", lambda x: float(x * 2.0), (S,)),
    ("list", lambda x: np.stack(list(x)) * 2.0, (A,)),
]
# the runtime helpers that generated gradient code calls (hessian transforms that code)
G23, G2, G3, G33, G43 = A * 0.5 + B, ROW[:2], V * 2, M.T, np.vstack([A, B])
CASES += [
    ("unbroadcast", lambda g: rt.unbroadcast(g, ROW), (G23,)),
    ("broadcast_like", lambda t: rt.broadcast_like(t, A), (ROW,)),
    ("restore_axes", lambda g: rt.restore_axes(g, A, 1, False), (G2,)),
    ("expand_to", lambda g: rt.expand_to(g, A, 0), (G3,)),
    ("index_grad", lambda g: rt.index_grad(g, A, 1), (G3,)),
    ("old_value", lambda a: rt.old_value(a, 1), (A,)),
    ("kept_writes", lambda t: rt.kept_writes(t, [0, 0, 2], np.zeros(4)), (V,)),
    ("kept_writes int", lambda t: rt.kept_writes(t, [0, 2, 1], np.zeros(4, int)) + t, (V,)),
    ("stored_tangent", lambda t: rt.stored_tangent(t, np.zeros(2)), (V,)),
    ("stored_tangent int", lambda t: rt.stored_tangent(t, np.zeros(2, int)) + t, (V,)),
    ("add_lists", lambda x, y: np.stack(rt.add_lists([x, y], [y, x])), (ROW, V)),
    ("rows_like", lambda x, y: np.stack(rt.rows_like([x, y], [y, x])), (ROW, V)),
    ("rows_like rows", lambda x, y: rt.rows_like([x, y], np.stack([y, x])) * 2.0, (ROW, V)),
    ("unpack_grad", lambda x, y: rt.unpack_grad([x, y], A), (ROW, V)),
    ("record_grad", lambda x, y: np.stack(rt.record_grad((x, y), 2)), (ROW, V)),
    ("power_term", lambda c, x, e: rt.power_term(c, x, e), (V, np.abs(V) + 0.5, V)),
    ("select_grad", lambda g: rt.select_grad(g, A > 0, ROW), (G23,)),
    ("reduce_extreme_grad", lambda g: rt.reduce_extreme_grad(g, A, np.max(A, 1), 1), (G2,)),
    ("diagonal_grad", lambda g: rt.diagonal_grad(g, M), (G3,)),
    ("diag_grad", lambda g: rt.diag_grad(g, V), (G33,)),
    ("untranspose", lambda g: rt.untranspose(g, (2, 0, 1)), (T3,)),
    ("split_like", lambda g: np.concatenate(rt.split_like(g, [A, B], 0)), (G43,)),
    ("join_like", lambda p, q: rt.join_like([p, q], G43, [A, B], 0), (A, B)),
    ("untile", lambda g: rt.untile(g, A, (2, 1)), (G43,)),
    ("unrepeat", lambda g: rt.unrepeat(g, A, 2, 0), (G43,)),
    ("cast_grad", lambda g: rt.cast_grad(g, np.float64), (A,)),
    ("take_grad", lambda g: rt.take_grad(g, V, [0, 2]), (G2,)),
    ("matmul_grad_left", lambda g, y: rt.matmul_grad_left(g, A, y), (G23, M)),
    ("matmul_grad_right", lambda g, x: rt.matmul_grad_right(g, x, M), (G23, A)),
    ("dot_grad_left", lambda g, b: rt.dot_grad_left(g, M, b), (G3, V)),
    ("dot_grad_right", lambda g, a: rt.dot_grad_right(g, a, V), (G3, M)),
    ("inner_grad_left", lambda g, b: rt.inner_grad_left(g, A, b), (M[:2, :2], B)),
    ("inner_grad_right", lambda g, a: rt.inner_grad_right(g, a, B), (M[:2, :2], A)),
    ("tensordot_grad_left", lambda g, b: rt.tensordot_grad_left(g, A, b, 1), (G23, M)),
    ("tensordot_grad_right", lambda g, a: rt.tensordot_grad_right(g, a, M, 1), (G23, A)),
    ("einsum_grad 0", lambda g, a, b: rt.einsum_grad(g, "ij,jk->ik", (a, b))[0], (G23, A, M)),
    ("einsum_grad 1", lambda g, a, b: rt.einsum_grad(g, "ij,jk->ik", (a, b))[1], (G23, A, M)),
    (
        "einsum_jvp",
        lambda a, m, ta: rt.einsum_jvp("ij,jk->ik", (a, m), (ta, N)),
        (A, M, B),
    ),
    (
        "einsum_sublist_grad",
        lambda g, a, b: rt.einsum_sublist_grad(g, a, ((0, 1), b, (1, 2), (0, 2)))[2],
        (G23, A, M),
    ),
    (
        "norm_grad",  # ord 3 over rows; y, the rows' norms, is an input of its own here
        lambda g, x, y: rt.norm_grad(g, x, y, 3, 1, False),
        (np.array([0.7, -1.2]), A, np.array([1.5, 2.0])),
    ),
    ("solve_grad_a", lambda gb, x: rt.solve_grad_a(gb, M, N, x), (G33, N)),
    ("solve_transposed", lambda a, g: rt.solve_transposed(a, N, g), (M, G33)),
    ("solve_transposed vec", lambda a, g: rt.solve_transposed(a, V, g), (M, G3)),
    ("cofactor", lambda a: rt.cofactor(a), (M,)),
    ("prod_grad", lambda g, x: rt.prod_grad(g, x, 0), (G3, A)),
    ("tuple", lambda x: np.stack(tuple(x)) * 2.0, (A,)),
    ("np.fft.fftshift", lambda x: np.fft.fftshift(x), (A,)),
    ("np.fft.ifftshift", lambda x: np.fft.ifftshift(x, axes=1), (A,)),
    ("retranspose", lambda g: rt.retranspose(g, (2, 0, 1)), (T3,)),
    ("solve_product", lambda m, v: rt.solve_product(m, M, V, v), (M, G3)),
]

if hasattr(np, "cumulative_sum"):
    CASES += [
        ("np.cumulative_sum", lambda x: np.cumulative_sum(x, axis=1), (A,)),
        ("np.cumulative_prod", lambda x: np.cumulative_prod(x, axis=0), (A,)),
    ]
if hasattr(np, "matrix_transpose"):
    CASES += [
        ("np.matrix_transpose", lambda x: np.matrix_transpose(x), (T3,)),
        ("ndarray.mT", lambda x: x.mT, (T3,)),
    ]


@pytest.mark.parametrize("name, f, args", CASES, ids=[c[0] for c in CASES])
def test_tangent_rule(name, f, args):
    check_jvp(f, *args)
    if len(args) > 1:  # one argument at a time: the others' terms are dropped
        for i in range(len(args)):
            check_jvp(f, *args, which={i}, seed=i + 1)


def _primitives(f):
    """The primitives the normalized body of `f` applies."""
    parsed = parse_function(f)
    fn = normalize(parsed, set(parsed.params))
    return [facts_of(s).prim for s in ast.walk(ast.Module(body=fn.body, type_ignores=[]))]


# the rules of these modules have finite-difference cases of their own, over drawn sizes:
# tests/test_rules_signals.py, test_rules_decompositions.py, test_rules_scipy.py and
# test_rules_scipy_stats.py
CHECKED_ELSEWHERE = (
    "chainrule.rules.signals",
    "chainrule.rules.decompositions",
    "chainrule.rules.scipy_special",
    "chainrule.rules.scipy_stats",
    "chainrule.rules.scipy_multivariate",
    "chainrule.rules.scipy_linalg",  # tests/test_scipy_linalg_rules.py
)


def _builtin(template_id):
    module = next(r.template.__module__ for r in TANGENTS.values() if id(r.template) == template_id)
    return module.startswith("chainrule.") and module not in CHECKED_ELSEWHERE


def test_every_tangent_rule_is_exercised():
    reached = {id(p) for _, f, _ in CASES for p in _primitives(f)}
    rules = {id(TANGENTS[k].template) for k in TANGENTS}
    reached_rules = {id(TANGENTS[k].template) for k in TANGENTS if id(k) in reached}
    rules = {r for r in rules if _builtin(r)}
    missing = sorted(
        display_name(k)
        for k in TANGENTS
        if id(TANGENTS[k].template) in rules - reached_rules and not isinstance(k, tuple)
    )
    assert not missing, f"tangent rules without a finite-difference case: {missing}"


def test_every_adjoint_has_a_tangent():
    builtin = [k for k in ADJOINTS if ADJOINTS[k].template.__module__.startswith("chainrule.")]
    missing = [display_name(k) for k in builtin if k not in TANGENTS]
    assert not missing


def test_mixed_ops_shapes_follow_primal():
    """A tangent has its primal's shape even when the varying input is the small one."""

    def f(x, c):
        return (x + c) * 2.0 - c

    t = check_jvp(f, S, A, which={0})
    assert np.shape(t) == (2, 3)


@pytest.mark.parametrize("prim", [operator.add, builtins.abs, np.tanh])
def test_tangent_rules_have_comments(prim):
    assert TANGENTS[prim].note
