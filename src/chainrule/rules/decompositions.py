"""Rules for matrix functions and factorizations: cholesky, eigh, eigvalsh, svd, qr, pinv,
lstsq, matrix_power, the cofactor matrix (the gradient of det), and SciPy's
solve_triangular, cho_factor, cho_solve and expm.

A factorization's outputs are tied together by the identity that defines it
(A = L L.T, A V = V diag(w), ...); differentiating that identity and solving
for the outputs' tangents gives the tangent rule, and the adjoint is its
transpose.  The formulas that take more than a line are runtime helpers in
runtime/decompositions.py.  Symmetric-input rules (cholesky, eigh) read only
the lower triangle, as NumPy does, and treat dA as symmetric.
"""

import numpy as np

from ..runtime import (
    cho_keeps_a,
    cofactor,
    cofactor_jvp,
    cofactor_vjp,
    eig_check_real,
    eig_grad,
    eig_jvp,
    eigen_gaps,
    eigh_vectors,
    expm_frechet,
    expm_frechet2,
    flipped_trans,
    index_grad,
    lstsq_checked,
    matrix_power_grad,
    matrix_power_jvp,
    qr_checked,
    solve_grad_a,
    solve_product,
    svd_checked,
    symmetric_as_read,
    symmetric_part_read,
    triangle_into,
    triangle_of,
    unsupported_qr,
    unsupported_upper,
)
from .registry import adjoint, literal, nondifferentiable, tangent

nondifferentiable(unsupported_upper, unsupported_qr, why="it only raises an error")
nondifferentiable(eig_check_real, why="a check: it returns nothing")
nondifferentiable(lstsq_checked, why="it is the constant 1.0 (or raises an error)")
nondifferentiable(cho_keeps_a, why="it is a constant: what the installed SciPy does")
nondifferentiable(flipped_trans, why="a transpose option is a flag")
nondifferentiable(svd_checked, why="it is the constant 1.0 (or raises an error)")

# -- the cofactor matrix: det(A) inv(A).T, the gradient of det --------------------------


@tangent(cofactor)
def cofactor_tangent(r, a):
    "cofactor C = det(A) inv(A).T: dC = trace(inv(A) dA) C - C dA.T inv(A).T (minors if singular)"
    dr = cofactor_jvp(a, da)


@adjoint(cofactor)
def cofactor_adjoint(r, a):
    "cofactor C = det(A) inv(A).T: dA = <dC, C> inv(A).T - inv(A).T dC.T C (minors if singular)"
    da = cofactor_vjp(a, dr)


# -- Cholesky: A = L L.T (NumPy reads A's lower triangle) ---------------------------------


@adjoint(np.linalg.cholesky, check_signature=False)  # upper= exists from NumPy 2.0
def cholesky(y, a, *, upper=False):
    "Cholesky: dA = L^-T phi(L^T dL) L^-1 (phi: lower triangle, half diagonal), folded"
    if literal(upper) and not upper:
        p = np.swapaxes(y, -1, -2) @ dy
        p = np.tril(p) - 0.5 * p * np.eye(np.shape(a)[-1])
        s = np.linalg.solve(np.swapaxes(y, -1, -2), p)
        s = np.swapaxes(np.linalg.solve(np.swapaxes(y, -1, -2), np.swapaxes(s, -1, -2)), -1, -2)
        da = symmetric_part_read(s, "L")
    else:
        da = unsupported_upper(a)


@tangent(np.linalg.cholesky, check_signature=False)
def cholesky_tangent(y, a, *, upper=False):
    "Cholesky: dL = L phi(L^-1 dA L^-T), dA read from its lower triangle as NumPy does"
    if literal(upper) and not upper:
        s = symmetric_as_read(da, "L")
        x = np.linalg.solve(y, np.swapaxes(np.linalg.solve(y, s), -1, -2))
        dy = y @ (np.tril(x) - 0.5 * x * np.eye(np.shape(a)[-1]))
    else:
        dy = unsupported_upper(da)


# -- symmetric eigendecomposition: A V = V diag(w) (A's lower triangle, UPLO="L") ----------


@adjoint(np.linalg.eigh)
def eigh(y, a, UPLO="L"):
    "eigh: dA = V (diag(dw) + F * (V^T dV)) V^T, F[i, j] = 1 / (w[j] - w[i]); on A's triangle"
    f = eigen_gaps(y[0])
    s = (
        y[1]
        @ (
            np.expand_dims(dy[0], -1) * np.eye(np.shape(a)[-1])
            + f * (np.swapaxes(y[1], -1, -2) @ dy[1])
        )
        @ np.swapaxes(y[1], -1, -2)
    )
    da = symmetric_part_read(s, UPLO)


@tangent(np.linalg.eigh)
def eigh_tangent(y, a, UPLO="L"):
    "eigh: with M = V^T dA V, dw = diag(M) and dV = V (F * M), F[i, j] = 1 / (w[j] - w[i])"
    m = np.swapaxes(y[1], -1, -2) @ symmetric_as_read(da, UPLO) @ y[1]
    dy = (np.diagonal(m, 0, -2, -1), y[1] @ (eigen_gaps(y[0]) * m))


@adjoint(np.linalg.eigvalsh)
def eigvalsh(w, a, UPLO="L"):
    "eigvalsh: dA = V diag(dw) V^T, on the triangle NumPy read"
    v = eigh_vectors(a, UPLO)
    da = symmetric_part_read((v * np.expand_dims(dw, -2)) @ np.swapaxes(v, -1, -2), UPLO)


@tangent(np.linalg.eigvalsh)
def eigvalsh_tangent(w, a, UPLO="L"):
    "eigvalsh: dw = diag(V^T dA V)"
    v = eigh_vectors(a, UPLO)
    dw = np.sum(v * (symmetric_as_read(da, UPLO) @ v), axis=-2)


@tangent(eigh_vectors)
def eigh_vectors_tangent(v, a, UPLO="L"):
    "eigenvectors: dV = V (F * (V^T dA V)), F[i, j] = 1 / (w[j] - w[i])"
    dv = v @ (
        eigen_gaps(np.linalg.eigvalsh(a, UPLO))
        * (np.swapaxes(v, -1, -2) @ symmetric_as_read(da, UPLO) @ v)
    )


@adjoint(eigh_vectors)
def eigh_vectors_adjoint(v, a, UPLO="L"):
    "eigenvectors: dA = V (F * (V^T dV)) V^T, on the triangle NumPy read"
    s = (
        v
        @ (eigen_gaps(np.linalg.eigvalsh(a, UPLO)) * (np.swapaxes(v, -1, -2) @ dv))
        @ np.swapaxes(v, -1, -2)
    )
    da = symmetric_part_read(s, UPLO)


# -- QR: A = Q R, Q^T Q = I, R upper triangular (reduced, m >= n) ------------------------


@tangent(np.linalg.qr)
def qr_tangent(y, a, mode="reduced"):
    "QR: X = Q^T dA R^-1, W = triu(X) + tril(X, -1)^T; dR = W R, dQ = dA R^-1 - Q W"
    if literal(mode) and mode in ("reduced", "complete"):
        r = qr_checked(y[1], a)
        rt = np.swapaxes(r, -1, -2)
        x = np.swapaxes(
            np.linalg.solve(rt, np.swapaxes(np.swapaxes(y[0], -1, -2) @ da, -1, -2)), -1, -2
        )
        w = np.triu(x) + np.swapaxes(np.tril(x, -1), -1, -2)
        dy = (np.swapaxes(np.linalg.solve(rt, np.swapaxes(da, -1, -2)), -1, -2) - y[0] @ w, w @ r)
    elif literal(mode) and mode == "r":
        r = qr_checked(y, a)
        q = np.linalg.qr(a)[0]
        x = np.swapaxes(
            np.linalg.solve(
                np.swapaxes(r, -1, -2), np.swapaxes(np.swapaxes(q, -1, -2) @ da, -1, -2)
            ),
            -1,
            -2,
        )
        dy = (np.triu(x) + np.swapaxes(np.tril(x, -1), -1, -2)) @ r
    else:
        dy = unsupported_qr(a, mode)


@adjoint(np.linalg.qr)
def qr(y, a, mode="reduced"):
    "QR: M = R dR^T - dQ^T Q, dA = (dQ + Q (tril(M) + tril(M, -1)^T)) R^-T"
    if literal(mode) and mode in ("reduced", "complete"):
        r = qr_checked(y[1], a)
        m = r @ np.swapaxes(dy[1], -1, -2) - np.swapaxes(dy[0], -1, -2) @ y[0]
        b = dy[0] + y[0] @ (np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2))
        da = np.swapaxes(np.linalg.solve(r, np.swapaxes(b, -1, -2)), -1, -2)
    elif literal(mode) and mode == "r":
        r = qr_checked(y, a)
        q = np.linalg.qr(a)[0]
        m = r @ np.swapaxes(dy, -1, -2)
        b = q @ (np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2))
        da = np.swapaxes(np.linalg.solve(r, np.swapaxes(b, -1, -2)), -1, -2)
    else:
        da = unsupported_qr(a, mode)


@tangent(qr_checked)
def qr_checked_tangent(y, r, a):
    "a check that passes r on: the tangent passes through"
    dy = dr


@adjoint(qr_checked)
def qr_checked_adjoint(y, r, a):
    "a check that passes r on: the gradient passes through"
    dr = dy


# -- least squares: x = (A^T A)^-1 A^T b for A of full column rank -------------------------


@tangent(np.linalg.lstsq)
def lstsq_tangent(y, a, b, rcond=None):
    "least squares (full column rank), r = b - A x: dx = (A^T A)^-1 (dA^T r - A^T dA x + A^T db)"
    r = b - a @ y[0]
    usv = np.linalg.svd(a * lstsq_checked(y[2], a), full_matrices=False)
    dy = (
        np.linalg.solve(  # the check first: it refuses a singular A^T A with a message
            np.swapaxes(a, -1, -2) @ a * lstsq_checked(y[2], a),
            np.swapaxes(a, -1, -2) @ (db - da @ y[0]) + np.swapaxes(da, -1, -2) @ r,
        ),
        np.reshape(
            2.0 * np.sum(np.reshape(r * (db - da @ y[0]), (np.shape(a)[0], -1)), axis=0), (-1,)
        )[: np.size(y[1])],
        np.zeros(()),
        np.sum(usv[0] * (da @ np.swapaxes(usv[2], -1, -2)), axis=-2),
    )


@adjoint(np.linalg.lstsq)
def lstsq(y, a, b, rcond=None):
    "least squares, r = b - A x: z = (A^T A)^-1 dx, db = A z + 2 r dres, dA = r z^T - db x^T"
    m = np.shape(a)[0]  # one name per statement: pruning drops whole statements
    n = np.shape(a)[1]
    z = np.linalg.solve(np.swapaxes(a, -1, -2) @ a * lstsq_checked(y[2], a), dy[0])
    w = np.concatenate([dy[1], np.zeros(np.size(y[0]) // n)])[: np.size(y[0]) // n]
    r = b - a @ y[0]
    db = a @ z + 2.0 * r * w
    usv = np.linalg.svd(a, full_matrices=False)
    da = (
        np.reshape(r, (m, -1)) @ np.swapaxes(np.reshape(z, (n, -1)), -1, -2)
        - np.reshape(a @ z + 2.0 * r * w, (m, -1)) @ np.swapaxes(np.reshape(y[0], (n, -1)), -1, -2)
        + (usv[0] * np.expand_dims(dy[3], -2)) @ usv[2]
    )


# -- the general eigendecomposition, real eigenvalues only: A V = V diag(w) ---------------


@tangent(np.linalg.eig)
def eig_tangent(y, a):
    "eig (real, distinct eigenvalues): M = V^-1 dA V, dw = diag(M), dV = V (F * M), unit columns"
    dy = eig_jvp(a, da)


@adjoint(np.linalg.eig)
def eig(y, a):
    "eig (real, distinct eigenvalues): dA = V^-T (diag(dw) + F * (V^T dV')) V^T"
    da = eig_grad(dy, a)


@tangent(np.linalg.eigvals)
def eigvals_tangent(w, a):
    "eigvals (real, distinct): dw = diag(V^-1 dA V)"
    dw = eig_jvp(a, da)[0]


@adjoint(np.linalg.eigvals)
def eigvals(w, a):
    "eigvals (real, distinct): dA = V^-T diag(dw) V^T"
    da = eig_grad((dw, 0.0), a)


# -- the pseudo-inverse (constant rank) -----------------------------------------------------


@adjoint(np.linalg.pinv)
def pinv(y, a, rcond=None, hermitian=False):
    "pseudo-inverse P: dA = -P^T dP P^T + (I - A P) dP^T P P^T + P^T P dP^T (I - P A)"
    pt = np.swapaxes(y, -1, -2)
    gt = np.swapaxes(dy, -1, -2)
    da = (
        -(pt @ dy @ pt)
        + (np.eye(np.shape(a)[-2]) - a @ y) @ gt @ y @ pt
        + pt @ y @ gt @ (np.eye(np.shape(a)[-1]) - y @ a)
    )


@tangent(np.linalg.pinv)
def pinv_tangent(y, a, rcond=None, hermitian=False):
    "pseudo-inverse P: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P"
    pt = np.swapaxes(y, -1, -2)
    dat = np.swapaxes(da, -1, -2)
    dy = (
        -(y @ da @ y)
        + y @ pt @ dat @ (np.eye(np.shape(a)[-2]) - a @ y)
        + (np.eye(np.shape(a)[-1]) - y @ a) @ dat @ pt @ y
    )


# -- integer matrix powers ----------------------------------------------------------------


@adjoint(np.linalg.matrix_power)
def matrix_power(y, a, n):
    "matrix power A^n: dA = sum over k of (A^T)^k dY (A^T)^(n-1-k) (through inv(A) if n < 0)"
    da = matrix_power_grad(dy, a, n)


@tangent(np.linalg.matrix_power)
def matrix_power_tangent(y, a, n):
    "matrix power A^n: dY = sum over k of A^k dA A^(n-1-k) (through inv(A) if n < 0)"
    dy = matrix_power_jvp(a, da, n)


# -- the helpers' own rules (second derivatives) ------------------------------------------


@tangent(eigen_gaps)
def eigen_gaps_tangent(r, w):
    "F[i, j] = 1 / (w[j] - w[i]): dF = -F**2 (dw[j] - dw[i])"
    dr = -r * r * (np.expand_dims(dw, -2) - np.expand_dims(dw, -1))


@adjoint(eigen_gaps)
def eigen_gaps_adjoint(r, w):
    "F[i, j] = 1 / (w[j] - w[i]): dw[k] = sum_j H[k, j] - sum_i H[i, k], H = dF F**2"
    dw = np.sum(dr * r * r, axis=-1) - np.sum(dr * r * r, axis=-2)


@tangent(symmetric_as_read)
def symmetric_as_read_tangent(r, d, UPLO="L"):
    "the matrix NumPy reads from one triangle: linear, applied to the tangent"
    dr = symmetric_as_read(dd, UPLO)


@adjoint(symmetric_as_read)
def symmetric_as_read_adjoint(r, d, UPLO="L"):
    "the matrix NumPy reads from one triangle: its transpose folds back onto the triangle"
    dd = symmetric_part_read(dr, UPLO)


@tangent(symmetric_part_read)
def symmetric_part_read_tangent(r, s, UPLO="L"):
    "folding onto a triangle: linear, applied to the tangent"
    dr = symmetric_part_read(ds, UPLO)


@adjoint(symmetric_part_read)
def symmetric_part_read_adjoint(r, s, UPLO="L"):
    "folding onto a triangle: its transpose reads the triangle as a symmetric matrix"
    ds = symmetric_as_read(dr, UPLO)


# -- SciPy: triangular solves and the matrix exponential (only if SciPy imports) ----------

try:
    import scipy.linalg as sl
except ImportError:  # pragma: no cover - SciPy is optional
    sl = None

if sl is not None:

    @adjoint(sl.solve_triangular)
    def solve_triangular(
        x, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
    ):
        "triangular solve x = op(T)^-1 b: db = op(T)^-T dx and dT = -db x^T on T's triangle"
        db = sl.solve_triangular(a, dx, flipped_trans(trans), lower, unit_diagonal)
        da = triangle_of(
            solve_grad_a(
                sl.solve_triangular(a, dx, flipped_trans(trans), lower, unit_diagonal), a, b, x
            ),
            trans,
            lower,
            unit_diagonal,
        )

    @tangent(sl.solve_triangular)
    def solve_triangular_tangent(
        x, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
    ):
        "triangular solve x = op(T)^-1 b: dx = op(T)^-1 (db - op(dT) x)"
        dx = sl.solve_triangular(a, db, trans, lower, unit_diagonal) - sl.solve_triangular(
            a,
            solve_product(triangle_into(da, trans, lower, unit_diagonal), a, b, x) * -1.0,
            trans,
            lower,
            unit_diagonal,
        )

    # cho_factor(a, lower) = (c, lower): the factor in c's `lower` (or upper) triangle, and
    # in the other a's own entries (SciPy before 1.18) or zeros (cho_keeps_a says which);
    # cho_solve reads the factor's triangle only.

    @tangent(sl.cho_factor)
    def cho_factor_tangent(y, a, lower=False, overwrite_a=False, check_finite=True):
        "Cholesky factor in c: dL = L phi(L^-1 dA L^-T) on its triangle, dA itself on the other"
        f = np.where(y[1], np.tril(y[0]), np.swapaxes(np.triu(y[0]), -1, -2))
        x = np.linalg.solve(
            f,
            np.swapaxes(
                np.linalg.solve(
                    f, np.where(y[1], symmetric_as_read(da, "L"), symmetric_as_read(da, "U"))
                ),
                -1,
                -2,
            ),
        )
        df = f @ (np.tril(x) - 0.5 * x * np.eye(np.shape(a)[-1]))
        dy = (
            np.where(
                y[1],
                df + np.triu(da, 1) * cho_keeps_a(),
                np.swapaxes(df, -1, -2) + np.tril(da, -1) * cho_keeps_a(),
            ),
            np.zeros(()),
        )

    @adjoint(sl.cho_factor)
    def cho_factor(y, a, lower=False, overwrite_a=False, check_finite=True):
        "Cholesky factor in c: the cholesky adjoint on its triangle, dc itself on the other"
        f = np.where(y[1], np.tril(y[0]), np.swapaxes(np.triu(y[0]), -1, -2))
        ft = np.swapaxes(f, -1, -2)
        p = ft @ np.where(y[1], np.tril(dy[0]), np.swapaxes(np.triu(dy[0]), -1, -2))
        p = np.tril(p) - 0.5 * p * np.eye(np.shape(a)[-1])
        s = np.swapaxes(np.linalg.solve(ft, np.swapaxes(np.linalg.solve(ft, p), -1, -2)), -1, -2)
        da = np.where(
            y[1],
            symmetric_part_read(s, "L") + np.triu(dy[0], 1) * cho_keeps_a(),
            symmetric_part_read(s, "U") + np.tril(dy[0], -1) * cho_keeps_a(),
        )

    @tangent(sl.cho_solve)
    def cho_solve_tangent(x, c_and_lower, b, overwrite_b=False, check_finite=True):
        "solve with A = L L^T from c's triangle: dx = A^-1 db - A^-1 (dL L^T + L dL^T) x"
        pair = c_and_lower  # one name: a pair written out, (c, low), is indexed through it
        f = np.where(pair[1], np.tril(pair[0]), np.swapaxes(np.triu(pair[0]), -1, -2))
        dx = np.linalg.solve(f @ np.swapaxes(f, -1, -2), db) - np.linalg.solve(
            f @ np.swapaxes(f, -1, -2),
            (
                np.where(
                    pair[1],
                    np.tril(dc_and_lower[0]),
                    np.swapaxes(np.triu(dc_and_lower[0]), -1, -2),
                )
                @ np.swapaxes(f, -1, -2)
                + f
                @ np.where(
                    pair[1],
                    np.swapaxes(np.tril(dc_and_lower[0]), -1, -2),
                    np.triu(dc_and_lower[0]),
                )
            )
            @ x,
        )  # two terms: each is dropped when its tangent is zero (c's is a pair)

    @adjoint(sl.cho_solve)
    def cho_solve(x, c_and_lower, b, overwrite_b=False, check_finite=True):
        "solve with A = L L^T from c's triangle: db = A^-1 dx, dL = -(z x^T + x z^T) L, z = db"
        pair = c_and_lower  # one name: a pair written out, (c, low), is indexed through it
        f = np.where(pair[1], np.tril(pair[0]), np.swapaxes(np.triu(pair[0]), -1, -2))
        n = np.shape(f)[-1]
        z = np.linalg.solve(f @ np.swapaxes(f, -1, -2), dx)
        db = z
        g = np.reshape(z, (n, -1)) @ np.swapaxes(np.reshape(x, (n, -1)), -1, -2)
        g = -(g + np.swapaxes(g, -1, -2)) @ f
        dc_and_lower = index_grad(  # a gradient for item 0 of the pair (c, lower)
            np.where(pair[1], np.tril(g), np.triu(np.swapaxes(g, -1, -2))), c_and_lower, 0
        )

    @adjoint(sl.expm)
    def expm(y, A):
        "matrix exponential: dA = L(A^T, dY), its Frechet derivative at the transpose"
        dA = expm_frechet(np.swapaxes(A, -1, -2), dy)

    @tangent(sl.expm)
    def expm_tangent(y, A):
        "matrix exponential: dY = L(A, dA), the upper-right block of expm([[A, dA], [0, A]])"
        dy = expm_frechet(A, dA)

    @tangent(expm_frechet)
    def expm_frechet_tangent(r, a, e):
        "Frechet derivative L(A, E): linear in E; its derivative in A is the second one"
        dr = expm_frechet(a, de) + expm_frechet2(a, e, da)

    @adjoint(expm_frechet)
    def expm_frechet_adjoint(r, a, e):
        "Frechet derivative L(A, E): dE = L(A^T, dR), dA = L2(A^T, E^T, dR)"
        de = expm_frechet(np.swapaxes(a, -1, -2), dr)
        da = expm_frechet2(np.swapaxes(a, -1, -2), np.swapaxes(e, -1, -2), dr)

    @tangent(triangle_of)
    def triangle_of_tangent(r, m, trans=0, lower=False, unit_diagonal=False):
        "a triangle (after a transpose): linear, applied to the tangent"
        dr = triangle_of(dm, trans, lower, unit_diagonal)

    @adjoint(triangle_of)
    def triangle_of_adjoint(r, m, trans=0, lower=False, unit_diagonal=False):
        "a triangle (after a transpose): its adjoint masks, then transposes back"
        dm = triangle_into(dr, trans, lower, unit_diagonal)

    @tangent(triangle_into)
    def triangle_into_tangent(r, m, trans=0, lower=False, unit_diagonal=False):
        "a triangle (then a transpose): linear, applied to the tangent"
        dr = triangle_into(dm, trans, lower, unit_diagonal)

    @adjoint(triangle_into)
    def triangle_into_adjoint(r, m, trans=0, lower=False, unit_diagonal=False):
        "a triangle (then a transpose): its adjoint transposes back, then masks"
        dm = triangle_of(dr, trans, lower, unit_diagonal)


# -- the singular value decomposition -----------------------------------------------------


@adjoint(np.linalg.svd)
def svd(y, a, full_matrices=True, compute_uv=True, hermitian=False):
    "SVD: Townsend's formula, for distinct nonzero singular values"
    if literal(compute_uv) and not compute_uv:  # U diag(dy) Vh, in primitives with rules
        usv = np.linalg.svd(a, full_matrices=False)
        da = (usv[0] * np.expand_dims(dy, -2)) @ usv[2]
    else:  # written out in the factors y = (U, s, Vh), so that it has derivatives itself
        u = y[0] * svd_checked(a, full_matrices)
        ut = np.swapaxes(u, -1, -2)
        gu = dy[0] + np.zeros_like(u)
        gs = dy[1] + np.zeros_like(y[1])
        gvh = dy[2] + np.zeros_like(y[2])
        f = eigen_gaps(y[1] * y[1])
        s_cols = np.expand_dims(y[1], -2)
        j = f * (ut @ gu - np.swapaxes(gu, -1, -2) @ u)
        k = f * (y[2] @ np.swapaxes(gvh, -1, -2) - gvh @ np.swapaxes(y[2], -1, -2))
        core = j * s_cols + np.expand_dims(y[1], -1) * k
        core = core + np.expand_dims(gs, -1) * np.eye(np.shape(y[1])[-1])
        left = (u @ core + (gu - u @ (ut @ gu)) / s_cols) @ y[2]
        da = left + (u / s_cols) @ (gvh - gvh @ np.swapaxes(y[2], -1, -2) @ y[2])


@tangent(np.linalg.svd)
def svd_tangent(y, a, full_matrices=True, compute_uv=True, hermitian=False):
    "SVD: ds = diag(U^T dA V), and dU, dV from the off-diagonal part"
    if literal(compute_uv) and not compute_uv:  # diag(U^T da V)
        usv = np.linalg.svd(a, full_matrices=False)
        dy = np.sum(usv[0] * (da @ np.swapaxes(usv[2], -1, -2)), axis=-2)
    else:  # written out in the factors y = (U, s, Vh), so that it has derivatives itself
        u = y[0] * svd_checked(a, full_matrices)
        v = np.swapaxes(y[2], -1, -2)
        f = eigen_gaps(y[1] * y[1])
        dp = np.swapaxes(u, -1, -2) @ da @ v
        dpt = np.swapaxes(dp, -1, -2)
        s_cols = np.expand_dims(y[1], -2)
        s_rows = np.expand_dims(y[1], -1)
        du = u @ (f * (dp * s_cols + s_rows * dpt)) + (da @ v - u @ dp) / s_cols
        dat = np.swapaxes(da, -1, -2)
        dv = v @ (f * (s_rows * dp + dpt * s_cols)) + (dat @ u - v @ dpt) / s_cols
        dy = (du, np.diagonal(dp, 0, -2, -1), np.swapaxes(dv, -1, -2))
