"""Rules for SciPy's Cholesky factor, banded and Sylvester solves, registered only when
SciPy imports: `scipy.linalg.cholesky(a, lower)`, `scipy.linalg.solve_banded((l, u), ab,
b)` and `scipy.linalg.solve_sylvester(a, b, q)`.  The Cholesky rules are NumPy's, for the
factor SciPy returns (U = L^T unless lower=True) and the triangle it reads (A's upper one
unless lower=True).

Both differentiate the equation that defines the solution.  For A x = b with A in
banded storage `ab` (see runtime/banded.py), dx = A^-1 (db - dA x), so the adjoint
solves with A^T, itself banded with bands (u, l): db = A^-T dx, and dA = -db x^T, of
which `ab` receives the band only (the corners of `ab` are ignored, as SciPy ignores
them).  For the Sylvester equation A X + X B = Q, dA X + A dX + dX B + X dB = dQ, so
dX solves a Sylvester equation with the right-hand side dQ - dA X - X dB, and the
adjoint solves the transposed one, A^T Y + Y B^T = dX.  The pair (l, u) is integers.

The templates call only functions with rules (the solves themselves and the banded
helpers, whose rules are here too), so second derivatives need nothing more.
"""

import numpy as np

from ..runtime import (
    banded_matmul,
    banded_outer,
    banded_transpose,
    flipped_bands,
    symmetric_as_read,
    symmetric_part_read,
)
from .registry import adjoint, nondifferentiable, tangent

nondifferentiable(flipped_bands, why="it swaps two integers, a matrix's band widths")

try:
    import scipy.linalg as sl
except ImportError:  # pragma: no cover - SciPy is optional
    sl = None


if sl is not None:

    @adjoint(sl.solve_banded)
    def solve_banded(x, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
        "banded solve x = A^-1 b: db = A^-T dx (A^T banded too), dab = -(db x^T) on the band"
        z = sl.solve_banded(flipped_bands(l_and_u), banded_transpose(ab, l_and_u), dx)
        db = z
        dab = -banded_outer(z, x, l_and_u)

    @tangent(sl.solve_banded)
    def solve_banded_tangent(
        x, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True
    ):
        "banded solve x = A^-1 b: dx = A^-1 db - A^-1 (dA x), dA x from the band of dab"
        dx = sl.solve_banded(l_and_u, ab, db) - sl.solve_banded(
            l_and_u, ab, banded_matmul(dab, l_and_u, x)
        )  # two solves: each is dropped when its tangent is zero

    @adjoint(sl.cholesky)
    def cholesky(y, a, lower=False, overwrite_a=False, check_finite=True):
        "Cholesky (SciPy: upper U = L^T by default, read from A's upper triangle): as NumPy's"
        f = np.where(lower, y, np.swapaxes(y, -1, -2))
        df = np.where(lower, dy, np.swapaxes(dy, -1, -2))
        ft = np.swapaxes(f, -1, -2)
        p = ft @ df
        p = np.tril(p) - 0.5 * p * np.eye(np.shape(a)[-1])
        s = np.swapaxes(np.linalg.solve(ft, np.swapaxes(np.linalg.solve(ft, p), -1, -2)), -1, -2)
        da = np.where(lower, symmetric_part_read(s, "L"), symmetric_part_read(s, "U"))

    @tangent(sl.cholesky)
    def cholesky_tangent(y, a, lower=False, overwrite_a=False, check_finite=True):
        "Cholesky: dL = L phi(L^-1 dA L^-T), dA read from the triangle SciPy reads"
        f = np.where(lower, y, np.swapaxes(y, -1, -2))
        s = np.where(lower, symmetric_as_read(da, "L"), symmetric_as_read(da, "U"))
        x = np.linalg.solve(f, np.swapaxes(np.linalg.solve(f, s), -1, -2))
        df = f @ (np.tril(x) - 0.5 * x * np.eye(np.shape(a)[-1]))
        dy = np.where(lower, df, np.swapaxes(df, -1, -2))

    @adjoint(sl.solve_sylvester)
    def solve_sylvester(x, a, b, q):
        "Sylvester A X + X B = Q: Y solves A^T Y + Y B^T = dX; dQ = Y, dA = -Y X^T, dB = -X^T Y"
        y = sl.solve_sylvester(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), dx)
        dq = y
        da = -(y @ np.swapaxes(x, -1, -2))
        db = -(np.swapaxes(x, -1, -2) @ y)

    @tangent(sl.solve_sylvester)
    def solve_sylvester_tangent(x, a, b, q):
        "Sylvester A X + X B = Q: dX solves A dX + dX B = dQ - dA X - X dB"
        dx = (
            sl.solve_sylvester(a, b, dq)
            - sl.solve_sylvester(a, b, da @ x)
            - sl.solve_sylvester(a, b, x @ db)
        )  # three solves: each is dropped when its tangent is zero


# -- the banded helpers' own rules (second derivatives) -------------------------------------


@tangent(banded_matmul)
def banded_matmul_tangent(r, ab, l_and_u, x):
    "banded product A x: bilinear in the band and x"
    dr = banded_matmul(dab, l_and_u, x) + banded_matmul(ab, l_and_u, dx)


@adjoint(banded_matmul)
def banded_matmul_adjoint(r, ab, l_and_u, x):
    "banded product A x: dab = the band of dr x^T, dx = A^T dr"
    dab = banded_outer(dr, x, l_and_u)
    dx = banded_matmul(banded_transpose(ab, l_and_u), flipped_bands(l_and_u), dr)


@tangent(banded_outer)
def banded_outer_tangent(r, y, x, l_and_u):
    "the band of y x^T: bilinear in y and x"
    dr = banded_outer(dy, x, l_and_u) + banded_outer(y, dx, l_and_u)


@adjoint(banded_outer)
def banded_outer_adjoint(r, y, x, l_and_u):
    "the band of y x^T: with G the band dr as a matrix, dy = G x and dx = G^T y"
    dy = banded_matmul(dr, l_and_u, x)
    dx = banded_matmul(banded_transpose(dr, l_and_u), flipped_bands(l_and_u), y)


@tangent(banded_transpose)
def banded_transpose_tangent(r, ab, l_and_u):
    "the band of A^T: linear, applied to the tangent"
    dr = banded_transpose(dab, l_and_u)


@adjoint(banded_transpose)
def banded_transpose_adjoint(r, ab, l_and_u):
    "the band of A^T: its adjoint transposes back, from bands (u, l) to (l, u)"
    dab = banded_transpose(dr, flipped_bands(l_and_u))
