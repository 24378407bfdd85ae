"""Helpers of the rules for scipy.linalg.solve_banded (rules/scipy_linalg.py): products,
outer products and transposes of a matrix kept in LAPACK's banded storage.

A matrix A with `l` subdiagonals and `u` superdiagonals is stored as `ab` of shape
(l + u + 1, n) with ab[u + i - j, j] = A[i, j]; the entries of `ab` that stand for no
entry of A (the corners) are ignored, as SciPy ignores them, and every helper here
writes zeros there.  Row r of `ab` holds the diagonal of offset i - j = r - u.  Each
helper costs O((l + u + 1) n) per column of its vector arguments, and never builds A.
"""

from __future__ import annotations

import numpy as np


def _bands(l_and_u):
    lower, upper = l_and_u
    return int(lower), int(upper)


def _one_matrix(ab):
    ab = np.asarray(ab)
    if ab.ndim != 2:
        raise ValueError(
            "chainrule differentiates solve_banded for one banded matrix ab of shape "
            f"(l + u + 1, n), not a stack of them (ab has shape {ab.shape})"
        )
    return ab


def _shifted(v, s):
    """w with w[i] = v[i - s] along the first axis, zero where i - s is out of range."""
    n = v.shape[0]
    out = np.zeros(v.shape, dtype=np.result_type(v, float))
    if abs(s) >= n:
        return out
    if s >= 0:
        out[s:] = v[: n - s]
    else:
        out[: n + s] = v[-s:]
    return out


def flipped_bands(l_and_u):
    """The (l, u) pair of the transposed matrix: (u, l)."""
    lower, upper = _bands(l_and_u)
    return (upper, lower)


def banded_matmul(ab, l_and_u, x):
    """A @ x for the matrix A stored in `ab` with bands `l_and_u`; x of shape (n,) or (n, k)."""
    ab = _one_matrix(ab)
    x = np.asarray(x)
    upper = _bands(l_and_u)[1]
    out = np.zeros(x.shape, dtype=np.result_type(ab, x, float))
    for r in range(ab.shape[0]):
        row = ab[r] if x.ndim == 1 else ab[r][:, None]
        out = out + _shifted(row * x, r - upper)  # (A x)[j + r - u] += ab[r, j] x[j]
    return out


def banded_outer(y, x, l_and_u):
    """The band of y @ x.T (y, x of shape (n,) or (n, k)) in banded storage: entry
    [r, j] is sum over k of y[j + r - u, k] x[j, k], zero in the corners."""
    y, x = np.asarray(y), np.asarray(x)
    lower, upper = _bands(l_and_u)
    rows = []
    for r in range(lower + upper + 1):
        p = _shifted(y, upper - r) * x  # y[j + r - u] x[j]
        rows.append(p if p.ndim == 1 else np.sum(p, axis=tuple(range(1, p.ndim))))
    return np.stack(rows)


def banded_transpose(ab, l_and_u):
    """The banded storage of A.T (bands (u, l)) for A stored in `ab` with bands (l, u):
    row l + d of the result is row u - d of `ab` moved d columns left, for d = -l..u."""
    ab = _one_matrix(ab)
    lower, upper = _bands(l_and_u)
    return np.stack([_shifted(ab[upper - d], -d) for d in range(-lower, upper + 1)])
