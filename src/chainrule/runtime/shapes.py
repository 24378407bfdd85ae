"""Helpers of the shape rules (transpose, split, tile, repeat, take, casts),
`stop_gradient`, the identity function that differentiation treats as a constant,
and the shape checks of the distributions' rules (rules/scipy_stats.py)."""

from __future__ import annotations

from typing import Any

import numpy as np


def untranspose(g, axes=None):
    """Gradient of np.transpose(x, axes): `g` transposed by the inverse permutation.

    Also takes ndarray.transpose's argument forms: (), ((1, 0),) and (1, 0).
    """
    if axes is not None and len(axes) == 1 and (axes[0] is None or np.ndim(axes[0]) == 1):
        axes = axes[0]
    if axes is None or len(axes) == 0:
        return np.transpose(g)
    perm = [int(a) % np.ndim(g) for a in axes]
    return np.transpose(g, np.argsort(perm))


def split_like(g, arrays, axis=0, promote=None):
    """Gradients of np.concatenate(arrays, axis): `g` cut into one piece per array.

    `promote` is the np.atleast_* function hstack/vstack/dstack apply before
    joining; axis=None means the arrays were flattened first.  If `arrays`
    is itself an array (its rows were joined), the pieces are stacked.
    """
    shapes = [np.shape(promote(a) if promote is not None else a) for a in arrays]
    if axis is None:
        sizes = [int(np.prod(s)) for s in shapes]
        cuts = np.cumsum(sizes)[:-1]
        pieces = np.split(np.ravel(np.broadcast_to(g, (sum(sizes),))), cuts)
    else:
        cuts = np.cumsum([s[axis] for s in shapes])[:-1]
        if np.ndim(g) == 0 and shapes:  # a gradient that is one number for every element
            whole = list(shapes[0])
            whole[axis] = sum(s[axis] for s in shapes)
            g = np.broadcast_to(g, tuple(whole))
        pieces = np.split(g, cuts, axis=axis)
    grads = [np.reshape(p, np.shape(a)) for p, a in zip(pieces, arrays, strict=True)]
    if isinstance(arrays, np.ndarray):
        return np.stack(grads) if grads else np.zeros(arrays.shape)
    return grads


def join_like(pieces, g, arrays, axis=0, promote=None):
    """The transpose of split_like: one gradient per array, joined into the shape of `g`."""
    shapes = [np.shape(promote(a) if promote is not None else a) for a in arrays]
    parts = [
        np.reshape(np.broadcast_to(p, np.shape(a)), s)
        for p, a, s in zip(pieces, arrays, shapes, strict=True)
    ]
    if axis is None:
        return np.reshape(np.concatenate([np.ravel(p) for p in parts]), np.shape(g))
    return np.concatenate(parts, axis=axis)


def untile(g, x, reps):
    """Gradient of np.tile(x, reps): the sum of the gradients of all the copies of x."""
    shape = np.shape(x)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    d = max(len(reps), len(shape))
    xs = (1,) * (d - len(shape)) + shape
    rs = (1,) * (d - len(reps)) + reps
    g = np.reshape(
        g, [n for pair in zip(rs, xs, strict=True) for n in pair]
    )  # (copy, element) per axis
    return np.reshape(np.sum(g, axis=tuple(range(0, 2 * d, 2))), shape)


def unrepeat(g, x, repeats, axis=None):
    """Gradient of np.repeat(x, repeats, axis): each element gets the sum over its copies."""
    shape = np.shape(x)
    if axis is None:
        g, axis, n = np.ravel(g), 0, int(np.prod(shape))
    else:
        axis = int(axis) % len(shape)
        n = shape[axis]
    moved = np.moveaxis(g, axis, 0)
    if np.ndim(repeats) == 0 or np.size(repeats) == 1:
        r = int(np.ravel(repeats)[0])
        out = np.sum(np.reshape(moved, (n, r) + moved.shape[1:]), axis=1)
    else:
        out = np.zeros((n,) + moved.shape[1:], dtype=moved.dtype)
        np.add.at(out, np.repeat(np.arange(n), repeats), moved)
    return np.reshape(np.moveaxis(out, 0, axis), shape)


def cast_grad(g, dtype):
    """Gradient through a cast to `dtype`: unchanged for float types, zero for int or bool.

    Rounding to an integer is a step function: its derivative is 0 wherever it exists.
    """
    if dtype is None or np.issubdtype(np.dtype(dtype), np.inexact):
        return g
    return np.zeros(np.shape(g))


def take_grad(g, a, indices, axis=None, mode="raise"):
    """Gradient of np.take(a, indices, axis, mode): `g` scattered back to the taken positions.

    An index taken twice receives both gradients (np.add.at accumulates).
    """
    shape = np.shape(a)
    n = int(np.prod(shape)) if axis is None else shape[axis]
    idx = np.asarray(indices)
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    if axis is None:
        out = np.zeros(n, dtype=np.result_type(a, g))
        np.add.at(out, idx, g)
        return np.reshape(out, shape)
    out = np.zeros(shape, dtype=np.result_type(a, g))
    np.add.at(out, (slice(None),) * (int(axis) % len(shape)) + (idx,), g)
    return out


def stop_gradient(x: Any) -> Any:
    """`x` itself, through which no gradient flows (chainrule treats it as a constant).

    Use it for targets computed from the parameters (a frozen copy of a
    network, a moving average) that must not be differentiated.
    """
    return x


def simplex_point_checked(x, alpha):
    """1.0, after checking that the derivative of scipy.stats.dirichlet.pdf(x, alpha) is
    one the rules cover: a single point `x` with as many components as `alpha`."""
    if np.ndim(x) != 1 or np.shape(x) != np.shape(alpha):
        raise ValueError(
            "the derivative of scipy.stats.dirichlet.pdf(x, alpha) (and logpdf) is supported "
            f"for one point x with all of alpha's components (x has shape {np.shape(x)}, "
            f"alpha {np.shape(alpha)}): append the last component, 1 - sum(x), and call it "
            "once per point"
        )
    return 1.0


def covariance_checked(cov):
    """1.0, after checking that the derivative of a scipy.stats.multivariate_normal
    function is one the rules cover: `cov` given as a (d, d) matrix."""
    if np.ndim(cov) != 2:
        raise ValueError(
            "the derivative of scipy.stats.multivariate_normal's functions is supported for "
            f"cov given as a (d, d) matrix (it has shape {np.shape(cov)}): write "
            "np.diag(variances) or variance * np.eye(d)"
        )
    return 1.0


def points_checked(r, e):
    """1.0, after checking that the derivative of a scipy.stats.multivariate_normal density
    `r` at the points `e` (x - mean) is one the rules cover: the dimension is e's last axis
    (SciPy also reads a 1-D x as points of dimension 1, when mean and cov say so)."""
    if np.ndim(e) > 0 and np.size(r) * np.shape(e)[-1] != np.size(e):
        raise ValueError(
            "the derivative of scipy.stats.multivariate_normal's functions is supported for "
            f"points x whose last axis is the dimension (x - mean has shape {np.shape(e)} "
            f"and the densities {np.shape(r)}): for points of dimension 1 use "
            "scipy.stats.norm, or give x the shape (n, 1)"
        )
    return 1.0


def unsupported_singular_cov(cov):
    """Raised by the derivative of scipy.stats.multivariate_normal's functions in cov when
    allow_singular is not a literal False."""
    raise ValueError(
        "the derivative of scipy.stats.multivariate_normal's functions in cov is not "
        "supported with allow_singular=True (the pseudo-determinant has no derivative where "
        "the rank changes): differentiate in x and mean only, or write allow_singular=False "
        "(or leave it out) for a covariance of full rank"
    )
