"""Rules for matrix functions and factorizations: cholesky, eigh, eigvalsh, svd, qr, pinv,
lstsq, matrix_power, and the cofactor matrix (the gradient of det).

A factorization's outputs are tied together by the identity that defines it
(A = L L.T, A V = V diag(w), ...); differentiating that identity and solving
for the outputs' tangents gives the tangent rule, and the adjoint is its
transpose.  The formulas that take more than a line are runtime helpers in
runtime/decompositions.py.  Symmetric-input rules (cholesky, eigh) read only
the lower triangle, as NumPy does, and treat dA as symmetric.
"""

import numpy as np

from ..runtime import (
    cofactor,
    cofactor_jvp,
    cofactor_vjp,
    eigen_gaps,
    eigh_vectors,
    expm_frechet,
    expm_frechet2,
    flipped_trans,
    matrix_power_grad,
    matrix_power_jvp,
    solve_grad_a,
    solve_product,
    svd_grad,
    svd_jvp,
    svd_values_grad,
    svd_values_jvp,
    symmetric_as_read,
    symmetric_part_read,
    thin_svd,
    triangle_into,
    triangle_of,
    unsupported_upper,
)
from .registry import adjoint, literal, nondifferentiable, tangent

nondifferentiable(unsupported_upper, why="it only raises an error")
nondifferentiable(flipped_trans, why="a transpose option is a flag")
nondifferentiable(thin_svd, why="the factors are the saved output again")

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
    if literal(compute_uv) and not compute_uv:
        da = svd_values_grad(dy, a)
    else:
        da = svd_grad(dy, a, thin_svd(a, full_matrices), full_matrices)


@tangent(np.linalg.svd)
def svd_tangent(y, a, full_matrices=True, compute_uv=True, hermitian=False):
    "SVD: ds = diag(U^T dA V), and dU, dV from the off-diagonal part"
    if literal(compute_uv) and not compute_uv:
        dy = svd_values_jvp(a, da)
    else:
        dy = svd_jvp(a, da, thin_svd(a, full_matrices), full_matrices)
