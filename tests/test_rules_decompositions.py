"""Rules for factorizations and matrix functions (rules/decompositions.py): cholesky, eigh,
eigvalsh, pinv, matrix_power, det at singular matrices, qr, lstsq, eig, eigvals, and
SciPy's solve_triangular, cho_factor, cho_solve and expm, over hypothesis-drawn sizes,
against finite differences, second derivatives and autograd (rules_cases.check_case).
cholesky and eigh read one triangle of their argument, so the cases that compare with
autograd symmetrize it first."""

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


def qr_reduced(a):
    q, r = np.linalg.qr(a)
    return q * np.sum(r) + np.abs(r[0]) @ q.T[:, : r.shape[1]] * 0.0 + r[0, 0] * q


def qr_both(a):
    q, r = np.linalg.qr(a)
    return np.concatenate([q.ravel(), r.ravel()])


def qr_r_only(a):
    return np.linalg.qr(a, mode="r")


def qr_complete_square(a):
    q, r = np.linalg.qr(a, "complete")
    return q @ np.diag(np.diag(r))


def lstsq_solution(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


def lstsq_everything(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b, rcond=None)
    return np.concatenate([np.ravel(x), residuals, s])


def cho_solve_pair(a, b):
    c, low = scipy.linalg.cho_factor(a, lower=True)
    return scipy.linalg.cho_solve((c, low), b)


def cho_solve_upper(a, b):
    factor = scipy.linalg.cho_factor(a)
    return scipy.linalg.cho_solve(factor, b)


def cho_factor_matrix(a):
    c, low = scipy.linalg.cho_factor(a)
    return c


def cho_factor_lower(a):
    return scipy.linalg.cho_factor(a, True)[0]


def eig_values(a):
    return np.linalg.eig(a)[0].real  # NumPy 2.5 returns complex arrays (real values here)


def eig_vectors(a):
    w, v = np.linalg.eig(a)
    return (v * w).real


def eigvals(a):
    return np.linalg.eigvals(a).real


def real_spectrum(r, n):
    """A matrix with real, well separated eigenvalues: S diag(1, 3, 5, ...) S^-1."""
    s = r.normal(size=(n, n)) + (n + 2) * np.eye(n)
    return s @ np.diag(1.0 + 2.0 * np.arange(n)) @ np.linalg.inv(s)


def least_squares_data(r, n, columns):
    a = r.normal(size=(n + 3, n)) + np.eye(n + 3, n) * 3.0
    return a, r.normal(size=(n + 3,) if columns == 0 else (n + 3, columns))


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
    Case(qr_reduced, lambda r, n: (r.normal(size=(n + 2, n)),), autograd=False),
    Case(qr_both, lambda r, n: (r.normal(size=(n + 1, n + 1)),), autograd=False),
    Case(qr_both, lambda r, n: (r.normal(size=(2, n + 2, n)),), autograd=False),
    Case(qr_r_only, lambda r, n: (r.normal(size=(n + 3, n)),), autograd=False),
    Case(qr_complete_square, lambda r, n: (r.normal(size=(n + 1, n + 1)),), autograd=False),
    Case(lstsq_solution, lambda r, n: least_squares_data(r, n, 0), autograd=False),
    Case(lstsq_solution, lambda r, n: least_squares_data(r, n, 2), autograd=False),
    Case(lstsq_everything, lambda r, n: least_squares_data(r, n, 0), autograd=False),
    Case(lstsq_everything, lambda r, n: least_squares_data(r, n, 3), autograd=False),
    Case(cho_solve_pair, lambda r, n: (spd(r, n + 1), r.normal(size=n + 1)), autograd=False),
    Case(cho_solve_upper, lambda r, n: (spd(r, n + 1), r.normal(size=(n + 1, 2))), False),
    Case(cho_factor_matrix, lambda r, n: (spd(r, n + 1),), autograd=False),
    Case(cho_factor_lower, lambda r, n: (spd(r, n + 1),), autograd=False),
    Case(eig_values, lambda r, n: (real_spectrum(r, n + 1),), autograd=False, order2=False),
    Case(eig_vectors, lambda r, n: (real_spectrum(r, n + 1),), autograd=False, order2=False),
    Case(eigvals, lambda r, n: (real_spectrum(r, n + 1),), autograd=False, order2=False),
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


def test_lstsq_and_cho_solve_agree_with_the_normal_equations():
    """An independent oracle where autograd has no rule: x = (A^T A)^-1 A^T b and
    x = K^-1 b, differentiated by chainrule through np.linalg.solve."""
    rng = np.random.default_rng(4)
    a, b = least_squares_data(rng, 3, 2)
    k = spd(rng, 4)

    for ours, normal, args in [
        (lstsq_solution, normal_equations, (a, b)),
        (cho_solve_pair, plain_solve, (k, b[:4])),
        (cho_solve_upper, plain_solve, (k, b[:4])),
    ]:
        out, pullback = chainrule.vjp(ours, *args)
        expected_out, expected_pullback = chainrule.vjp(normal, *args)
        np.testing.assert_allclose(out, expected_out, rtol=1e-9, atol=1e-12)
        w = rng.normal(size=np.shape(out))
        for g, e in zip(pullback(w), expected_pullback(w)):
            if ours is not lstsq_solution and g.ndim == 2 and g.shape[0] == g.shape[1]:
                g, e = g + g.T - np.diag(np.diag(g)), e + e.T - np.diag(np.diag(e))
                g, e = np.tril(g), np.tril(e)  # the factor reads one triangle of K
            np.testing.assert_allclose(g, e, rtol=1e-7, atol=1e-9)


def normal_equations(a, b):
    return np.linalg.solve(a.T @ a, a.T @ b)


def plain_solve(k, b):
    return np.linalg.solve(k, b)


def qr_wide(a):
    return np.linalg.qr(a)[1]


def qr_raw(a):
    return np.linalg.qr(a, "raw")[0]


def qr_complete(a):
    return np.linalg.qr(a, "complete")[0]


def test_qr_refuses_what_it_cannot_differentiate():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="m >= n"):
        chainrule.jacrev(qr_wide)(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match="mode='raw'"):
        chainrule.jacrev(qr_raw)(rng.normal(size=(3, 2)))
    with pytest.raises(ValueError, match="non-square"):
        chainrule.jacfwd(qr_complete)(rng.normal(size=(3, 2)))


def test_lstsq_refuses_a_rank_deficient_or_wide_matrix():
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])  # rank 1
    with pytest.raises(ValueError, match="full column rank.*rank 1"):
        chainrule.vjp(lstsq_solution, a, np.ones(3))[1](np.ones(2))
    with pytest.raises(ValueError, match="full column rank"):
        chainrule.jvp(lstsq_solution, (a.T, np.ones(2)), (np.ones((2, 3)), None))


def test_eig_refuses_complex_eigenvalues():
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    for f in (eig_values, eigvals):
        for jacobian in (chainrule.jacfwd, chainrule.jacrev):
            with pytest.raises(ValueError, match="real eigenvalues only"):
                jacobian(f)(rotation)


def test_eigvals_match_the_trace_and_determinant():
    """Independent checks: the eigenvalues sum to the trace and multiply to the determinant,
    so their gradients sum to the identity and combine to the cofactor matrix."""
    a = real_spectrum(np.random.default_rng(6), 3)
    jac = chainrule.jacrev(eigvals)(a)
    np.testing.assert_allclose(jac.sum(axis=0), np.eye(3), atol=1e-9)
    w = np.linalg.eigvals(a)
    product_grad = sum(np.prod(np.delete(w, i)) * jac[i] for i in range(3))
    np.testing.assert_allclose(product_grad, np.linalg.det(a) * np.linalg.inv(a).T, atol=1e-8)
