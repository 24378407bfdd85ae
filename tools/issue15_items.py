"""Today's status of every function and defect issue 15 names (a measurement, not a test).

Each case is a small scalar function of one array ``x``, written here so that
chainrule can read its source.  For each case the script reports

- ``adjoint`` / ``tangent``: whether the NumPy/SciPy function has a rule in
  chainrule's registry;
- ``grad``: ``grad(f)(x)`` against central finite differences;
- ``jvp``: ``jvp(f, (x,), (v,))`` against finite differences along ``v``;
- ``grad∘grad``: reverse over reverse, ``grad(lambda x: sum(grad(f)(x) * w))``
  (written as a generated module, as a user would), against finite
  differences of the (checked) gradient;
- ``hessian``: ``hessian(f)(x) @ w`` (forward over reverse), likewise.

Each cell is ``ok``, ``refused: <message>``, ``wrong (<detail>)`` or
``crash: <exception>``.  Special cases (library functions passed directly,
the rule-level defects) have their own checks at the end.

    python tools/issue15_items.py > items.md
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:
    import scipy.linalg as sla
    import scipy.special as sp
    import scipy.stats as st
except ImportError:  # pragma: no cover - SciPy is an optional extra
    sla = sp = st = None

import chainrule as cr
from chainrule import rules

warnings.simplefilter("ignore")
np.seterr(all="ignore")

RNG = np.random.default_rng(15)
C3 = RNG.normal(size=3)
C33 = RNG.normal(size=(3, 3))
C34 = RNG.normal(size=(3, 4))
B32 = RNG.normal(size=(3, 2))
Y3 = RNG.normal(size=3)
K2 = np.array([0.5, -1.0])
XP = np.array([0.0, 1.0, 2.0, 3.0])
FP = np.array([1.0, 3.0, 2.0, 0.5])
XQ = np.array([0.3, 1.7, 2.4])
IDX = np.array([0, 2, 0, 1])
TAKE = np.array([[2, 0], [1, 1], [0, 2]])


def spd(x):
    """A symmetric positive definite matrix made from a 3x3 x."""
    return x @ x.T + 3.0 * np.eye(3)


def sym(x):
    return 0.5 * (x + x.T)


# -- 1. linear algebra --------------------------------------------------------------


def f_cholesky(x):
    return np.sum(np.sin(np.linalg.cholesky(spd(x))))


def f_eigh(x):
    w, v = np.linalg.eigh(sym(x))
    return np.sum(w * C3) + np.sum(v * v * C33)


def f_eigvalsh(x):
    return np.sum(np.sin(np.linalg.eigvalsh(sym(x))))


def f_svd_s(x):
    return np.sum(np.sin(np.linalg.svd(x, compute_uv=False)))


def f_svd(x):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return np.sum(s * s) + np.sum((u @ vt) * C34)


def f_qr(x):
    q, r = np.linalg.qr(x)
    return np.sum(np.sin(r)) + np.sum(q * C33)


def f_pinv(x):
    return np.sum(np.sin(np.linalg.pinv(x)))


def f_lstsq_a(x):
    return np.sum(np.sin(np.linalg.lstsq(x, Y3, rcond=None)[0]))


def f_lstsq_b(x):
    return np.sum(np.sin(np.linalg.lstsq(B32, x, rcond=None)[0]))


def f_matrix_power(x):
    return np.sum(np.linalg.matrix_power(x, 3) * C33)


def f_solve_triangular(x):
    return np.sum(np.sin(sla.solve_triangular(np.tril(x) + 3.0 * np.eye(3), Y3, lower=True)))


def f_cho_solve(x):
    c = sla.cho_factor(spd(x))
    return np.sum(np.sin(sla.cho_solve(c, Y3)))


def f_expm(x):
    return np.sum(sla.expm(0.3 * x) * C33)


def f_det_singular(x):
    return np.linalg.det(x)


def f_slogdet(x):
    sign, logdet = np.linalg.slogdet(spd(x))
    return logdet


def f_slogdet_attr(x):
    return np.linalg.slogdet(spd(x)).logabsdet


# -- 2. arrays and signals ----------------------------------------------------------


def f_diff(x):
    return np.sum(np.sin(np.diff(x)))


def f_diff_axis(x):
    return np.sum(np.sin(np.diff(x, n=2, axis=0)))


def f_convolve(x):
    return np.sum(np.sin(np.convolve(x, K2)))


def f_convolve_valid(x):
    return np.sum(np.sin(np.convolve(x, K2, mode="valid")))


def f_correlate(x):
    return np.sum(np.sin(np.correlate(x, K2, mode="full")))


def f_sort(x):
    return np.sum(np.sort(x) * C3)


def f_partition(x):
    return np.sum(np.partition(x, 1) * C3)


def f_pad(x):
    return np.sum(np.sin(np.pad(x, 2)))


def f_pad_edge(x):
    return np.sum(np.sin(np.pad(x, ((1, 0), (0, 2)), mode="edge")))


def f_roll(x):
    return np.sum(np.roll(x, 1) * C3)


def f_roll_axis(x):
    return np.sum(np.roll(x, 1, axis=1) * C34)


def f_repeat(x):
    return np.sum(np.sin(np.repeat(x, 2)))


def f_tile(x):
    return np.sum(np.sin(np.tile(x, (2, 2))))


def f_take_along_axis(x):
    return np.sum(np.sin(np.take_along_axis(x, TAKE, axis=1)))


def f_interp_x(x):
    return np.sum(np.sin(np.interp(x, XP, FP)))


def f_interp_fp(x):
    return np.sum(np.sin(np.interp(XQ, XP, x)))


def f_cumsum_axis(x):
    return np.sum(np.sin(np.cumsum(x, axis=1)))


def f_cumprod_axis(x):
    return np.sum(np.sin(np.cumprod(x, axis=0)))


def f_trapezoid(x):
    return np.trapezoid(np.sin(x), XP[:3])


def f_trapezoid_dx(x):
    return np.trapezoid(x * x, dx=0.5)


def f_norm_vec_1(x):
    return np.linalg.norm(x, 1)


def f_norm_vec_inf(x):
    return np.linalg.norm(x, np.inf)


def f_norm_vec_3(x):
    return np.linalg.norm(x, 3)


def f_norm_fro(x):
    return np.linalg.norm(x, "fro")


def f_norm_nuc(x):
    return np.linalg.norm(x, "nuc")


def f_norm_mat_2(x):
    return np.linalg.norm(x, 2)


def f_norm_mat_1(x):
    return np.linalg.norm(x, 1)


def f_norm_mat_inf(x):
    return np.linalg.norm(x, np.inf)


def f_norm_axis1(x):
    return np.sum(np.linalg.norm(x, axis=1))


def f_norm_axis0_ord1(x):
    return np.sum(np.linalg.norm(x, ord=1, axis=0))


def f_norm_axes01(x):
    return np.linalg.norm(x, axis=(0, 1))


def f_norm_keepdims(x):
    return np.sum(np.linalg.norm(x, axis=1, keepdims=True) * C3[:, None])


def f_norm_positional_axis(x):
    return np.sum(np.linalg.norm(x, None, 1) * C3)


def f_norm_vector_output(x):
    return np.linalg.norm(x, None, 1)


def f_norm_positional_broadcast(x):
    return np.sum(np.linalg.norm(x, None, 1) * C34.T)


def f_norm_positional_loop(x):
    total = 0.0
    for i in range(2):
        total = total + np.sum(np.linalg.norm(x, None, 1) * C3) * (i + 1.0)
    return total


def f_norm_list(x):
    return np.linalg.norm([x, x + 2])


def f_item(x):
    return x[1:2].item() ** 2 + np.sum(x)


def f_item_index(x):
    return x.item(1) ** 2


def f_add_at(x):
    a = np.zeros(3)
    np.add.at(a, IDX[:3], x)
    return np.sum(np.sin(a))


def f_add_at_repeated(x):
    a = np.zeros(3)
    np.add.at(a, IDX, np.concatenate((x, x[:1])))
    return np.sum(np.sin(a))


# -- 3. SciPy -----------------------------------------------------------------------


def f_erf(x):
    return np.sum(sp.erf(x))


def f_erfc(x):
    return np.sum(sp.erfc(x))


def f_erfinv(x):
    return np.sum(sp.erfinv(0.3 * np.tanh(x)))


def f_gammaln(x):
    return np.sum(sp.gammaln(x * x + 0.5))


def f_digamma(x):
    return np.sum(sp.digamma(x * x + 0.5))


def f_polygamma(x):
    return np.sum(sp.polygamma(1, x * x + 0.5))


def f_expit(x):
    return np.sum(sp.expit(x))


def f_logit(x):
    return np.sum(sp.logit(sp.expit(x) * 0.5 + 0.25))


def f_logsumexp(x):
    return sp.logsumexp(x)


def f_logsumexp_axis_b(x):
    return np.sum(sp.logsumexp(x, axis=1, b=C34 * C34))


def f_softmax(x):
    return np.sum(sp.softmax(x) * C3)


def f_log_softmax(x):
    return np.sum(sp.log_softmax(x) * C3)


def f_xlogy(x):
    return np.sum(sp.xlogy(x, x * x + 1.0))


def f_xlog1py(x):
    return np.sum(sp.xlog1py(x, x * x))


def f_norm_pdf(x):
    return np.sum(st.norm.pdf(x))


def f_norm_logpdf(x):
    return np.sum(st.norm.logpdf(x, 0.5, 2.0))


def f_norm_cdf(x):
    return np.sum(st.norm.cdf(x))


def f_norm_cdf_loc_scale(x):
    return np.sum(st.norm.cdf(x, 0.5, 2.0))


def f_norm_logcdf(x):
    return np.sum(st.norm.logcdf(x))


def f_norm_sf(x):
    return np.sum(st.norm.sf(x))


# -- 7. the rest of NumPy's surface ---------------------------------------------------


def f_cross(x):
    return np.sum(np.cross(x, C3) * C3)


def f_kron(x):
    return np.sum(np.sin(np.kron(x, K2)))


def f_gradient(x):
    return np.sum(np.sin(np.gradient(x)))


def f_rollaxis(x):
    return np.sum(np.rollaxis(x, 1) * C34.T)


def f_column_stack(x):
    return np.sum(np.sin(np.column_stack((x, 2.0 * x))))


def f_row_stack(x):
    return np.sum(np.sin(np.row_stack((x, 2.0 * x))))


def f_append(x):
    return np.sum(np.sin(np.append(x, 2.0 * x)))


def f_dsplit(x):
    a, b = np.dsplit(x.reshape(1, 2, 2), 2)
    return np.sum(a * np.sin(b))


def f_select(x):
    return np.sum(np.select([x > 0, x <= 0], [x * x, np.sin(x)]))


def f_rot90(x):
    return np.sum(np.rot90(x) * C34.T)


def f_nan_to_num(x):
    return np.sum(np.sin(np.nan_to_num(x)))


def f_real(x):
    return np.sum(np.sin(np.real(x)))


def f_imag(x):
    return np.sum(np.imag(x)) + np.sum(x * x)


def f_conjugate(x):
    return np.sum(np.sin(np.conjugate(x)))


def f_angle(x):
    return np.sum(np.angle(x)) + np.sum(x * x)


def f_tuple_rows(x):
    rows = tuple(x)
    return np.sum(rows[0] * rows[1])


def f_list_rows(x):
    rows = list(x)
    return np.sum(rows[0] * np.sin(rows[2]))


def f_kalman_1x1(x):
    r = x[0] * x[1]
    R = np.array([[r]])
    return np.sum(R * R)


# -- rule-level defects ---------------------------------------------------------------


def f_pow0(x):
    return np.sum(x**0 + x**1 + x**2)


def f_np_power0(x):
    return np.sum(np.power(x, 0))


def f_poly(x):
    total = 0.0
    for k in range(4):
        total = total + (k + 1.0) * x**k
    return np.sum(total)


def f_pow_neg_base(x):
    return np.sum(np.power(-2.0, x))


def f_r_(x):
    return np.sum(np.r_[x, x] * np.arange(6.0))


def f_c_(x):
    return np.sum(np.c_[x, 2.0 * x] * C34[:, :2])


def f_std_one(x):
    return np.std(x)


def f_std_axis1(x):
    return np.sum(np.std(x, axis=0))


def f_einsum_sublist(x):
    return np.sum(np.einsum(x, (0, 1), (1, 0)) * C33)


def f_concat_ragged(x):
    return np.sum(np.sin(np.concatenate((x, x[:2]))) ** 2)


def f_vstack_ragged(x):
    return np.sum(np.sin(np.vstack((x, x[:1]))) ** 2)


def f_hstack_ragged(x):
    return np.sum(np.sin(np.hstack((x, x[:, :1]))) ** 2)


def f_split_ragged(x):
    a, b = np.split(x, [1])
    return np.sum(np.sin(a)) * np.sum(b * b)


def f_array_split_ragged(x):
    a, b = np.array_split(x, 2)
    return np.sum(np.sin(a) ** 2) + np.sum(b**3)


def f_cube(x):
    return np.sum(x**3)


@dataclass
class Case:
    group: str
    name: str
    fn: Callable
    x: Any
    prims: list = field(default_factory=list)
    second: bool = True
    note: str = ""


def _x(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape)


def cases() -> list[Case]:
    sq = _x(3, 3)
    out = [
        Case("linalg", "np.linalg.cholesky", f_cholesky, sq, [np.linalg.cholesky]),
        Case("linalg", "np.linalg.eigh", f_eigh, sq, [np.linalg.eigh]),
        Case("linalg", "np.linalg.eigvalsh", f_eigvalsh, sq, [np.linalg.eigvalsh]),
        Case("linalg", "np.linalg.svd(compute_uv=False)", f_svd_s, _x(3, 4), [np.linalg.svd]),
        Case("linalg", "np.linalg.svd (u, s, vt)", f_svd, _x(3, 4), [np.linalg.svd]),
        Case("linalg", "np.linalg.qr", f_qr, sq, [np.linalg.qr]),
        Case("linalg", "np.linalg.pinv", f_pinv, _x(3, 2), [np.linalg.pinv]),
        Case("linalg", "np.linalg.lstsq (wrt a)", f_lstsq_a, _x(3, 2), [np.linalg.lstsq]),
        Case("linalg", "np.linalg.lstsq (wrt b)", f_lstsq_b, _x(3), [np.linalg.lstsq]),
        Case("linalg", "np.linalg.matrix_power", f_matrix_power, sq, [np.linalg.matrix_power]),
    ]
    if sla is not None:
        out += [
            Case(
                "linalg",
                "scipy.linalg.solve_triangular",
                f_solve_triangular,
                sq,
                [sla.solve_triangular],
            ),
            Case(
                "linalg",
                "scipy.linalg.cho_factor/cho_solve",
                f_cho_solve,
                sq,
                [sla.cho_factor, sla.cho_solve],
            ),
            Case("linalg", "scipy.linalg.expm", f_expm, sq, [sla.expm]),
        ]
    out += [
        Case(
            "defect",
            "np.linalg.det at a singular matrix",
            f_det_singular,
            np.array([[1.0, 2.0], [2.0, 4.0]]),
            [np.linalg.det],
        ),
        Case("defect", "sign, logdet = np.linalg.slogdet(K)", f_slogdet, sq, [np.linalg.slogdet]),
        Case("defect", "np.linalg.slogdet(K).logabsdet", f_slogdet_attr, sq, [np.linalg.slogdet]),
        Case("arrays", "np.diff", f_diff, _x(4), [np.diff]),
        Case("arrays", "np.diff(n=2, axis=0)", f_diff_axis, _x(4, 2), [np.diff]),
        Case("arrays", "np.convolve (full)", f_convolve, _x(4), [np.convolve]),
        Case("arrays", "np.convolve (valid)", f_convolve_valid, _x(4), [np.convolve]),
        Case("arrays", "np.correlate", f_correlate, _x(4), [np.correlate]),
        Case("arrays", "np.sort", f_sort, _x(3), [np.sort]),
        Case("arrays", "np.partition", f_partition, _x(3), [np.partition]),
        Case("arrays", "np.pad (constant)", f_pad, _x(3), [np.pad]),
        Case("arrays", "np.pad (edge, 2-D widths)", f_pad_edge, _x(2, 2), [np.pad]),
        Case("arrays", "np.roll", f_roll, _x(3), [np.roll]),
        Case("arrays", "np.roll(axis=1)", f_roll_axis, _x(3, 4), [np.roll]),
        Case("arrays", "np.repeat", f_repeat, _x(3), [np.repeat]),
        Case("arrays", "np.tile", f_tile, _x(3), [np.tile]),
        Case("arrays", "np.take_along_axis", f_take_along_axis, _x(3, 3), [np.take_along_axis]),
        Case("arrays", "np.interp (in x)", f_interp_x, np.array([0.4, 1.3, 2.6]), [np.interp]),
        Case("arrays", "np.interp (in fp)", f_interp_fp, FP.copy(), [np.interp]),
        Case("arrays", "np.cumsum(axis=1)", f_cumsum_axis, _x(3, 4), [np.cumsum]),
        Case("arrays", "np.cumprod(axis=0)", f_cumprod_axis, _x(3, 4), [np.cumprod]),
        Case("arrays", "np.trapezoid(y, x)", f_trapezoid, _x(3), [np.trapezoid]),
        Case("arrays", "np.trapezoid(y, dx=)", f_trapezoid_dx, _x(4), [np.trapezoid]),
        Case("norm", "norm(x, 1) vector", f_norm_vec_1, _x(3), [np.linalg.norm]),
        Case("norm", "norm(x, inf) vector", f_norm_vec_inf, _x(3), [np.linalg.norm]),
        Case("norm", "norm(x, 3) vector", f_norm_vec_3, _x(3), [np.linalg.norm]),
        Case("norm", "norm(X, 'fro')", f_norm_fro, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, 'nuc')", f_norm_nuc, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, 2) matrix", f_norm_mat_2, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, 1) matrix", f_norm_mat_1, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, inf) matrix", f_norm_mat_inf, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, axis=1)", f_norm_axis1, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, ord=1, axis=0)", f_norm_axis0_ord1, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, axis=(0, 1))", f_norm_axes01, _x(3, 4), [np.linalg.norm]),
        Case("norm", "norm(X, axis=1, keepdims=True)", f_norm_keepdims, _x(3, 4), [np.linalg.norm]),
        Case(
            "defect",
            "norm(X, None, 1) (positional axis)",
            f_norm_positional_axis,
            _x(3, 4),
            [np.linalg.norm],
        ),
        Case(
            "defect",
            "norm(X, None, 1) * (4, 3) weights (broadcast)",
            f_norm_positional_broadcast,
            _x(3, 4),
            [np.linalg.norm],
        ),
        Case(
            "defect",
            "norm(X, None, 1) in a loop",
            f_norm_positional_loop,
            _x(3, 4),
            [np.linalg.norm],
        ),
        Case("defect", "norm([x, x + 2]) of a list", f_norm_list, _x(3), [np.linalg.norm]),
        Case("arrays", "x[1:2].item()", f_item, _x(3), [np.ndarray.item]),
        Case("arrays", "x.item(1)", f_item_index, _x(3), [np.ndarray.item]),
        Case("arrays", "np.add.at(a, idx, x), a local", f_add_at, _x(3), []),
        Case("arrays", "np.add.at with repeated indices", f_add_at_repeated, _x(3), []),
    ]
    if sp is not None:
        out += [
            Case("scipy", "scipy.special.erf", f_erf, _x(3), [sp.erf]),
            Case("scipy", "scipy.special.erfc", f_erfc, _x(3), [sp.erfc]),
            Case("scipy", "scipy.special.erfinv", f_erfinv, _x(3), [sp.erfinv]),
            Case("scipy", "scipy.special.gammaln", f_gammaln, _x(3), [sp.gammaln]),
            Case("scipy", "scipy.special.digamma", f_digamma, _x(3), [sp.digamma]),
            Case("scipy", "scipy.special.polygamma", f_polygamma, _x(3), [sp.polygamma]),
            Case("scipy", "scipy.special.expit", f_expit, _x(3), [sp.expit]),
            Case("scipy", "scipy.special.logit", f_logit, _x(3), [sp.logit]),
            Case("scipy", "scipy.special.logsumexp", f_logsumexp, _x(3), [sp.logsumexp]),
            Case(
                "scipy",
                "scipy.special.logsumexp(axis=1, b=)",
                f_logsumexp_axis_b,
                _x(3, 4),
                [sp.logsumexp],
            ),
            Case("scipy", "scipy.special.softmax", f_softmax, _x(3), [sp.softmax]),
            Case("scipy", "scipy.special.log_softmax", f_log_softmax, _x(3), [sp.log_softmax]),
            Case("scipy", "scipy.special.xlogy", f_xlogy, np.abs(_x(3)) + 0.1, [sp.xlogy]),
            Case("scipy", "scipy.special.xlog1py", f_xlog1py, np.abs(_x(3)) + 0.1, [sp.xlog1py]),
            Case("scipy", "scipy.stats.norm.pdf", f_norm_pdf, _x(3), [st.norm.pdf]),
            Case(
                "scipy",
                "scipy.stats.norm.logpdf(x, loc, scale)",
                f_norm_logpdf,
                _x(3),
                [st.norm.logpdf],
            ),
            Case("scipy", "scipy.stats.norm.cdf", f_norm_cdf, _x(3), [st.norm.cdf]),
            Case(
                "scipy",
                "scipy.stats.norm.cdf(x, loc, scale)",
                f_norm_cdf_loc_scale,
                _x(3),
                [st.norm.cdf],
            ),
            Case("scipy", "scipy.stats.norm.logcdf", f_norm_logcdf, _x(3), [st.norm.logcdf]),
            Case("scipy", "scipy.stats.norm.sf", f_norm_sf, _x(3), [st.norm.sf]),
        ]
    out += [
        Case("surface", "np.cross", f_cross, _x(3), [np.cross]),
        Case("surface", "np.kron", f_kron, _x(3), [np.kron]),
        Case("surface", "np.gradient", f_gradient, _x(4), [np.gradient]),
        Case("surface", "np.rollaxis", f_rollaxis, _x(3, 4), [np.rollaxis]),
        Case("surface", "np.column_stack", f_column_stack, _x(3), [np.column_stack]),
        Case("surface", "np.row_stack", f_row_stack, _x(3), [np.row_stack]),
        Case("surface", "np.append", f_append, _x(3), [np.append]),
        Case("surface", "np.dsplit", f_dsplit, _x(4), [np.dsplit]),
        Case("surface", "np.select", f_select, _x(3), [np.select]),
        Case("surface", "np.rot90", f_rot90, _x(3, 4), [np.rot90]),
        Case("surface", "np.nan_to_num", f_nan_to_num, _x(3), [np.nan_to_num]),
        Case("surface", "np.real (real input)", f_real, _x(3), [np.real]),
        Case("surface", "np.imag (real input)", f_imag, _x(3), [np.imag]),
        Case("surface", "np.conjugate (real input)", f_conjugate, _x(3), [np.conjugate]),
        Case("surface", "np.angle (real input)", f_angle, np.abs(_x(3)) + 0.1, [np.angle]),
        Case("surface", "tuple(x) of an array", f_tuple_rows, _x(2, 3), [tuple]),
        Case("surface", "list(x) of an array", f_list_rows, _x(3, 2), [list]),
        Case("closure", "np.array([[r]]) (Kalman 1x1)", f_kalman_1x1, _x(2), [np.array]),
        Case("defect", "x ** 0 at x = 0", f_pow0, np.array([0.0, 1.5]), []),
        Case("defect", "np.power(x, 0) at x = 0", f_np_power0, np.array([0.0, 1.5]), []),
        Case("defect", "sum(c_k * x ** k) at x = 0", f_poly, np.array([0.0, 1.0]), []),
        Case("defect", "d/dy (-2) ** y (nan expected)", f_pow_neg_base, np.array([0.5, 1.5]), []),
        Case("defect", "np.r_[x, x]", f_r_, _x(3), []),
        Case("defect", "np.c_[x, 2 * x]", f_c_, _x(3), []),
        Case("defect", "np.std of one element", f_std_one, _x(1), [np.std]),
        Case("defect", "np.std(axis=0) of length 1", f_std_axis1, _x(1, 3), [np.std]),
        Case("defect", "np.einsum(x, (0, 1), (1, 0))", f_einsum_sublist, _x(3, 3), [np.einsum]),
        Case("defect", "np.concatenate of ragged pieces", f_concat_ragged, _x(3), [np.concatenate]),
        Case("defect", "np.vstack of ragged pieces", f_vstack_ragged, _x(2, 3), [np.vstack]),
        Case("defect", "np.hstack of ragged pieces", f_hstack_ragged, _x(2, 3), [np.hstack]),
        Case("defect", "np.split into ragged pieces", f_split_ragged, _x(3), [np.split]),
        Case(
            "defect",
            "np.array_split into ragged pieces",
            f_array_split_ragged,
            _x(5),
            [np.array_split],
        ),
    ]
    return out


# -- checking ------------------------------------------------------------------------

EPS = 1e-6
_modules = tempfile.mkdtemp(prefix="issue15-items-")
_count = [0]


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout("took longer than 60 s")


_SHORT = (
    (re.compile(r"^(\S+) has no derivative rule"), "refused (no rule: {})"),
    (re.compile(r"^(\S+) is library code without a derivative rule"), "refused (no rule: {})"),
    (
        re.compile(r"^calls to the Python function '([^']+)' are not differentiated"),
        "refused (no tangent: {})",
    ),
    (
        re.compile(r"^(\S+) has an adjoint \(reverse-mode\) rule but no tangent"),
        "refused (no tangent: {})",
    ),
)


def _short(message: str) -> str:
    for pattern, text in _SHORT:
        m = pattern.match(message)
        if m:
            return text.format(m.group(1))
    return "refused: " + message[:110]


def _run(thunk: Callable) -> tuple[Any, str | None]:
    signal.alarm(60)
    try:
        return thunk(), None
    except cr.CompileError as exc:
        first = exc.message.splitlines()[0] if exc.message else str(exc).splitlines()[0]
        if "chainrule bug" in first:
            return None, "crash: " + first[:180]
        return None, _short(first)
    except Exception as exc:  # noqa: BLE001
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" (at {os.path.basename(tb.filename)}:{tb.lineno})"
        return None, f"crash: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}{where}"
    finally:
        signal.alarm(0)


def fd_grad(f: Callable, x: np.ndarray, eps: float = EPS) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def _agree(got: Any, want: Any, rtol: float = 1e-4) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False
    scale = max(1.0, float(np.nanmax(np.abs(want), initial=0.0)))
    return bool(np.allclose(got, want, rtol=rtol, atol=rtol * scale, equal_nan=True))


def _verdict(got: Any, want: Any, err: str | None) -> str:
    if err:
        return err
    if _agree(got, want):
        return "ok"
    g, w = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if g.shape != w.shape:
        return f"wrong (shape {g.shape}, expected {w.shape})"
    return (
        f"wrong (max diff {np.nanmax(np.abs(g - w)):.3g}; got {np.round(g.ravel()[:3], 3)}, "
        f"want {np.round(w.ravel()[:3], 3)})"
    )


def _second_module(gf: Any, w: np.ndarray) -> Any:
    _count[0] += 1
    name = f"issue15_second_{_count[0]}"
    path = os.path.join(_modules, name + ".py")
    with open(path, "w") as fh:
        fh.write("import numpy as np\n\n\ndef s(x):\n    return np.sum(GF(x) * W)\n")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.GF, module.W = gf, w
    return module


def check(case: Case) -> dict:
    row: dict[str, str] = {}
    if case.prims:
        row["adjoint"] = "yes" if all(rules.lookup(p) for p in case.prims) else "no"
        row["tangent"] = "yes" if all(rules.lookup_tangent(p) for p in case.prims) else "no"
    else:
        row["adjoint"] = row["tangent"] = "n/a"
    x = np.asarray(case.x, dtype=float)
    f = case.fn
    want = fd_grad(f, x)
    got, err = _run(lambda: cr.grad(f)(x))
    row["grad"] = _verdict(got, want, err)
    v = RNG.normal(size=x.shape)
    got, err = _run(lambda: cr.jvp(f, (x,), (v,))[1])
    row["jvp"] = _verdict(got, float(np.sum(want * v)), err)
    if not case.second:
        row["grad∘grad"] = row["hessian"] = "n/a"
        return row
    w = RNG.normal(size=x.shape)
    gf = cr.grad(f)
    if row["grad"] == "ok":
        hw = fd_grad(lambda z: float(np.sum(gf(z) * w)), x)
    else:  # no trustworthy gradient: differentiate finite differences twice
        hw = fd_grad(lambda z: float(np.sum(fd_grad(f, z, 1e-4) * w)), x, 1e-4)
    module = _second_module(gf, w)
    got, err = _run(lambda: cr.grad(module.s)(x))
    row["grad∘grad"] = _verdict(got, hw, err)
    got, err = _run(
        lambda: np.tensordot(cr.hessian(f)(x), w, axes=w.ndim) if w.ndim else cr.hessian(f)(x) * w
    )
    row["hessian"] = _verdict(got, hw, err)
    return row


# -- special checks: direct library functions, jacobian composition ------------------


def special_checks() -> list[tuple[str, str]]:
    out = []
    x = RNG.normal(size=3)
    got, err = _run(lambda: cr.grad(np.sum)(x))
    out.append(("grad(np.sum)(x)", _verdict(got, np.ones(3), err)))
    got, err = _run(lambda: cr.grad(np.linalg.norm)(x))
    out.append(("grad(np.linalg.norm)(x)", _verdict(got, x / np.linalg.norm(x), err)))
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))
    got, err = _run(lambda: cr.vjp(np.einsum, "ij,jk->ik", a, b))
    out.append(("vjp(np.einsum, 'ij,jk->ik', a, b)", "ok" if not err else err))
    got, err = _run(lambda: cr.jacfwd(np.cumsum)(x))
    out.append(("jacfwd(np.cumsum)(x)", _verdict(got, np.tril(np.ones((3, 3))), err)))
    got, err = _run(lambda: cr.jacrev(np.tanh)(x))
    out.append(("jacrev(np.tanh)(x)", _verdict(got, np.diag(1 - np.tanh(x) ** 2), err)))
    x2 = np.array([1.0, 2.0])
    want = np.diag(6 * x2)
    for label, fn in (
        ("jacrev(jacrev(f)), f = sum(x**3)", lambda: cr.jacrev(cr.jacrev(f_cube))(x2)),
        ("jacfwd(jacrev(f))", lambda: cr.jacfwd(cr.jacrev(f_cube))(x2)),
        ("jacrev(jacfwd(f))", lambda: cr.jacrev(cr.jacfwd(f_cube))(x2)),
        ("jacfwd(jacfwd(f))", lambda: cr.jacfwd(cr.jacfwd(f_cube))(x2)),
        ("jacrev(grad(f))", lambda: cr.jacrev(cr.grad(f_cube))(x2)),
        ("hessian(f)", lambda: cr.hessian(f_cube)(x2)),
    ):
        got, err = _run(fn)
        out.append((label, _verdict(got, want, err)))
    got, err = _run(lambda: cr.grad(f_norm_vector_output)(RNG.normal(size=(3, 4))))
    out.append(
        (
            "grad(f) where f returns norm(X, None, 1), a vector (an error expected)",
            "accepted, no error (returns an array shaped " + str(np.shape(got)) + ")"
            if err is None
            else err,
        )
    )
    got, err = _run(lambda: cr.grad(f_pow0)(0.0))
    out.append(("grad(sum(x**0 + x**1 + x**2))(0.0), a Python float", _verdict(got, 1.0, err)))
    jv = _run(lambda: cr.jvp(f_einsum_sublist, (x2[:1].reshape(1, 1),), (np.ones((1, 1)),)))
    out.append(
        (
            "jvp of np.einsum(x, (0, 1), (1, 0)) (1x1)",
            _verdict(jv[0][1] if jv[0] else None, C33[0, 0], jv[1]),
        )
    )
    return out


def main() -> int:
    signal.signal(signal.SIGALRM, _alarm)
    buf = io.StringIO()
    print("## Issue 15 items: today's status (tools/issue15_items.py)\n", file=buf)
    print(f"NumPy {np.__version__}; np.trapz exists: {hasattr(np, 'trapz')}\n", file=buf)
    cols = ("adjoint", "tangent", "grad", "jvp", "grad∘grad", "hessian")
    group = None
    for case in cases():
        if case.group != group:
            group = case.group
            print(f"\n### {group}\n", file=buf)
            print("| item | " + " | ".join(cols) + " |", file=buf)
            print("|---|" + "---|" * len(cols), file=buf)
        row = check(case)
        cells = [row.get(c, "").replace("|", "\\|") for c in cols]
        print(f"| {case.name} | " + " | ".join(cells) + " |", file=buf)
    print("\n### Library functions passed directly; Jacobian compositions\n", file=buf)
    print("| call | status |\n|---|---|", file=buf)
    for label, verdict in special_checks():
        cell = verdict.replace("|", "\\|")
        print(f"| `{label}` | {cell} |", file=buf)
    sys.stdout.write(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
