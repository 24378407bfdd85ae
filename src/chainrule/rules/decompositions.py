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

from ..runtime import cofactor
from .registry import adjoint, tangent

# -- the cofactor matrix: det(A) inv(A).T, the gradient of det --------------------------


@tangent(cofactor)
def cofactor_tangent(r, a):
    "cofactor C = det(A) inv(A).T: dC = trace(inv(A) dA) C - C dA.T inv(A).T"
    ainvT = np.swapaxes(np.linalg.inv(a), -1, -2)
    dr = np.expand_dims(np.sum(ainvT * da, axis=(-2, -1)), (-2, -1)) * r - (
        r @ np.swapaxes(da, -1, -2) @ ainvT
    )


@adjoint(cofactor)
def cofactor_adjoint(r, a):
    "cofactor C = det(A) inv(A).T: dA = <dC, C> inv(A).T - inv(A).T dC.T C"
    ainvT = np.swapaxes(np.linalg.inv(a), -1, -2)
    da = np.expand_dims(np.sum(dr * r, axis=(-2, -1)), (-2, -1)) * ainvT - (
        ainvT @ np.swapaxes(dr, -1, -2) @ r
    )
