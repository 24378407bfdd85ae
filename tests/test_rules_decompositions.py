"""Rules for factorizations and matrix functions (rules/decompositions.py): cholesky, eigh,
eigvalsh, pinv, matrix_power, det at singular matrices, and SciPy's solve_triangular and
expm, over hypothesis-drawn sizes, against finite differences, second derivatives and
autograd (rules_cases.check_case).  cholesky and eigh read one triangle of their
argument, so the cases that compare with autograd symmetrize it first."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FEWER
from hypothesis import given
from hypothesis import strategies as st
from rules_cases import Case, check_case

import chainrule

scipy_linalg = pytest.importorskip("scipy.linalg")
import scipy  # noqa: E402  (after the skip: the cases call scipy.linalg)


def spd(r, n):
    b = r.normal(size=(n, n))
    return b @ b.T + n * np.eye(n)


def sym(r, n):
    b = r.normal(size=(n, n))
    return b + b.T


def cholesky(a):
    return np.linalg.cholesky(a)


def cholesky_symmetrized(a):
    return np.linalg.cholesky((a + a.T) / 2)


def cholesky_batch(a):
    return np.linalg.cholesky(a)


def eigh_values(a):
    w, v = np.linalg.eigh(a)
    return w


def eigh_vectors(a):
    w, v = np.linalg.eigh((a + a.T) / 2)
    return w[0] * v[:, 0] ** 2 + v[1] ** 2


def eigh_upper(a):
    w, v = np.linalg.eigh(a, "U")
    return w + v[0] ** 2


def eigvalsh(a):
    return np.linalg.eigvalsh((a + a.T) / 2)


def pinv(a):
    return np.linalg.pinv(a)


def matrix_power(a):
    return np.linalg.matrix_power(a, 3)


def matrix_power_inverse(a):
    return np.linalg.matrix_power(a, -2)


def solve_triangular(a, b):
    return scipy.linalg.solve_triangular(a, b)


def solve_triangular_lower_t(a, b):
    return scipy.linalg.solve_triangular(a, b, trans="T", lower=True)


def solve_triangular_unit(a, b):
    return scipy.linalg.solve_triangular(a, b, lower=True, unit_diagonal=True)


def expm(a):
    return scipy.linalg.expm(a)


def det(a):
    return np.linalg.det(a)


def singular_values(a):
    return np.linalg.svd(a, compute_uv=False)


def svd_reconstruction(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u * s) @ vh + np.abs(u[0]) @ np.abs(vh)


def svd_square(a):
    u, s, vh = np.linalg.svd(a)
    return s + np.abs(u[:, 0]) + np.abs(vh[1])


def well_conditioned(r, n):
    return r.normal(size=(n, n)) + (n + 2) * np.eye(n)


CASES = [
    Case(cholesky, lambda r, n: (spd(r, n + 1),), autograd=False),
    Case(cholesky_symmetrized, lambda r, n: (spd(r, n + 1),)),
    Case(cholesky_batch, lambda r, n: (np.stack([spd(r, n + 1), spd(r, n + 1)]),), False),
    Case(eigh_values, lambda r, n: (sym(r, n + 1),), autograd=False),
    Case(eigh_vectors, lambda r, n: (sym(r, n + 2),)),
    Case(eigh_upper, lambda r, n: (sym(r, n + 1),), autograd=False),
    Case(eigvalsh, lambda r, n: (sym(r, n + 1),), autograd=False),
    Case(pinv, lambda r, n: (r.normal(size=(n + 2, n)),)),
    Case(pinv, lambda r, n: (r.normal(size=(n, n + 2)),)),
    Case(matrix_power, lambda r, n: (r.normal(size=(n + 1, n + 1)),), False, False),
    Case(matrix_power_inverse, lambda r, n: (well_conditioned(r, n + 1),), False, False),
    Case(
        solve_triangular,
        lambda r, n: (well_conditioned(r, n + 1), r.normal(size=n + 1)),
        autograd=False,
    ),
    Case(
        solve_triangular_lower_t,
        lambda r, n: (well_conditioned(r, n + 1), r.normal(size=(n + 1, 2))),
        autograd=False,
    ),
    Case(
        solve_triangular_unit,
        lambda r, n: (well_conditioned(r, n + 1), r.normal(size=n + 1)),
        autograd=False,
    ),
    Case(expm, lambda r, n: (0.5 * r.normal(size=(n + 1, n + 1)),), autograd=False),
    Case(det, lambda r, n: (well_conditioned(r, n + 1),)),
    Case(singular_values, lambda r, n: (r.normal(size=(n + 1, 3)),), order2=False),
    Case(svd_reconstruction, lambda r, n: (r.normal(size=(n + 1, 3)),), False, False),
    Case(svd_square, lambda r, n: (r.normal(size=(n + 1, n + 1)),), False, False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 3))
def test_rule(case, seed, size, tmp_path_factory):
    check_case(case, np.random.default_rng(seed), size, tmp_path_factory.mktemp("scalar"))


def cholesky_upper(a):
    return np.linalg.cholesky(a, upper=True)


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2, reason="upper= is NumPy 2")
def test_cholesky_upper_is_refused_at_run_time():
    with pytest.raises(ValueError, match="upper=True"):
        chainrule.vjp(cholesky_upper, 3.0 * np.eye(2))[1](np.ones((2, 2)))
