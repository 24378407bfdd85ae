"""Helpers of the rules for matrix functions and factorizations (rules/decompositions.py):
cofactors (the gradient of det, also at singular matrices), eigen-, singular-value,
Cholesky and QR decompositions, and the einsum sublist form."""

from __future__ import annotations

import numpy as np

from .linalg import einsum_grad
from .tangents import einsum_grad_jvp, einsum_jvp


def _mT(a):
    return np.swapaxes(a, -1, -2)


def cofactor(a):
    """The cofactor matrix of `a` (or of each matrix in a stack): the gradient of det(a).

    det(a) inv(a).T where that is exact, and the transposed adjugate from a
    singular value decomposition where det(a) is 0: a = U S Vh gives
    adj(a).T = det(U) det(Vh) U diag(prod of the other s) Vh, finite everywhere.
    """
    a = np.asarray(a, dtype=float)
    d = np.linalg.det(a)
    if np.all(d != 0) and np.all(np.isfinite(d)):
        return np.expand_dims(d, (-2, -1)) * _mT(np.linalg.inv(a))
    u, s, vh = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.prod(np.where(np.eye(n, dtype=bool), 1.0, np.expand_dims(s, -2)), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return np.expand_dims(sign, (-2, -1)) * ((u * np.expand_dims(others, -2)) @ vh)


# -- the einsum sublist form: np.einsum(a, [0, 1], b, [1, 2], [0, 2]) ----------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _labels(sublist) -> str:
    return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sublist)


def einsum_as_string(first, rest):
    """np.einsum(first, *rest) in the sublist form as (subscripts string, operands, positions):
    `positions` are the places of the operands among (first, *rest)."""
    args = [first, *rest]
    pairs = len(args) // 2
    operands = args[0 : 2 * pairs : 2]
    spec = ",".join(_labels(s) for s in args[1 : 2 * pairs : 2])
    if len(args) % 2:
        spec += "->" + _labels(args[-1])
    return spec, operands, list(range(0, 2 * pairs, 2))


def einsum_sublist_grad(g, first, rest):
    """Gradients of np.einsum(first, *rest), one per argument of (first, *rest): zeros for
    the sublists (a string-form call, np.einsum('ij->ji', x), gets 0.0 for the string)."""
    if isinstance(first, str):
        return [0.0, *einsum_grad(g, first, rest)]
    spec, operands, positions = einsum_as_string(first, rest)
    args = [first, *rest]
    out = [np.zeros(len(a)) for a in args]
    for k, grad_k in zip(positions, einsum_grad(g, spec, operands), strict=True):
        out[k] = grad_k
    return out


def einsum_sublist_jvp(first, rest, drest):
    """Tangent of np.einsum(first, *rest) along the tangents of the operands in `rest`
    (the sublists' slots are ignored): the product rule, one term per operand."""
    if isinstance(first, str):
        spec, operands, tangents = first, list(rest), list(drest)
    else:
        spec, operands, positions = einsum_as_string(first, rest)
        tangents = [None] + [drest[k - 1] for k in positions[1:]]
    total = 0.0
    for k in range(1, len(operands)) if not isinstance(first, str) else range(len(operands)):
        args = list(operands)
        args[k] = tangents[k]
        total = total + np.einsum(spec, *args)
    return total


def _as_string_form(first, rest):
    """(subscripts, operands, the operands' places among (first, *rest)) of either form."""
    if isinstance(first, str):
        return first, list(rest), list(range(1, len(rest) + 1))
    return einsum_as_string(first, rest)


def einsum_sublist_grad_vjp(g, first, rest, cotangents):
    """The adjoint of einsum_sublist_grad(g, first, rest) for the cotangents of its
    outputs (one per argument of (first, *rest)): (dg, dfirst, drest), zeros for the
    subscripts and sublists.  In the string form, what einsum_grad's adjoint does."""
    spec, operands, positions = _as_string_form(first, rest)
    picked = [cotangents[k] for k in positions]
    out = [0.0] * (1 + len(rest))
    for k, d in zip(positions, einsum_grad_vjp(g, spec, operands, picked), strict=True):
        out[k] = d
    return einsum_jvp(spec, operands, picked), out[0], tuple(out[1:])


def einsum_sublist_grad_jvp(g, dg, first, rest, dfirst, drest):
    """The tangent of einsum_sublist_grad(g, first, rest) along dg and the operands'
    tangents (in dfirst and drest; the sublists' are ignored)."""
    spec, operands, positions = _as_string_form(first, rest)
    args = [dfirst, *drest]
    terms = einsum_grad_jvp(g, dg, spec, operands, [args[k] for k in positions])
    out = [np.zeros(len(a)) if not isinstance(a, str) else 0.0 for a in [first, *rest]]
    for k, t in zip(positions, terms, strict=True):
        out[k] = t
    return out


def einsum_first_jvp(first, rest, dfirst):
    """Tangent of np.einsum(first, *rest) in the sublist form along the first operand's
    tangent (0.0 for the string form, whose first argument is the subscripts)."""
    if isinstance(first, str):
        return 0.0
    spec, operands, _ = einsum_as_string(first, rest)
    return np.einsum(spec, dfirst, *operands[1:])


# -- helpers of second-order rules (rules/helpers.py) ------------------------------------


def _solve_is_vector(a, b):
    # as runtime.linalg: NumPy 2 reads b as a vector only if it is 1-D
    return np.ndim(b) == 1 or (
        int(np.__version__.split(".")[0]) < 2 and np.ndim(b) == np.ndim(a) - 1
    )


def solve_product(m, a, b, v):
    """-(m @ v), with v read as a vector (or a stack of them) exactly when
    np.linalg.solve(a, b) read b as one: the adjoints of solve_grad_a."""
    if _solve_is_vector(a, b):
        return -np.matmul(m, np.expand_dims(v, -1))[..., 0]
    return -np.matmul(m, v)


def retranspose(g, axes=None):
    """np.transpose(g, axes) for every argument form untranspose takes: its inverse."""
    if axes is not None and len(axes) == 1 and (axes[0] is None or np.ndim(axes[0]) == 1):
        axes = axes[0]
    if axes is None or len(axes) == 0:
        return np.transpose(g)
    return np.transpose(g, [int(a) % np.ndim(g) for a in axes])


def einsum_grad_vjp(g, subscripts, operands, cotangents):
    """The operands' part of the adjoint of einsum_grad(g, subscripts, operands): operand
    j's gradient of sum_k <cotangents[k], einsum_grad(...)[k]>, one einsum per k != j."""
    out = [0.0] * len(operands)
    for k, c in enumerate(cotangents):
        moved = list(operands)
        moved[k] = c
        grads = einsum_grad(g, subscripts, moved)
        out = [o if j == k else o + grads[j] for j, o in enumerate(out)]
    return out


# -- symmetric matrices read from one triangle (cholesky, eigh, eigvalsh) -----------------


def symmetric_as_read(d, UPLO="L"):
    """The symmetric matrix NumPy reads from `d`'s lower (or upper) triangle."""
    if UPLO.upper() == "L":
        return np.tril(d) + _mT(np.tril(d, -1))
    return np.triu(d) + _mT(np.triu(d, 1))


def symmetric_part_read(s, UPLO="L"):
    """The transpose of symmetric_as_read: `s` folded onto the triangle NumPy reads (the
    diagonal once, each off-diagonal pair summed into the triangle)."""
    if UPLO.upper() == "L":
        return np.tril(s) + np.tril(_mT(s), -1)
    return np.triu(s) + np.triu(_mT(s), 1)


def eigen_gaps(w):
    """F[..., i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (eigenvalues w)."""
    n = np.shape(w)[-1]
    eye = np.eye(n)
    with np.errstate(divide="ignore"):
        return (1.0 - eye) / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye)


def eigh_vectors(a, UPLO="L"):
    """The eigenvectors of the symmetric matrix read from `a` (np.linalg.eigh's second part)."""
    return np.linalg.eigh(a, UPLO)[1]


def unsupported_upper(a):
    """Raised by the gradient of np.linalg.cholesky(a, upper=True)."""
    raise ValueError(
        "the derivative of np.linalg.cholesky(a, upper=True) is not supported; use the lower "
        "factor, np.linalg.cholesky(a), and transpose it"
    )


def matrix_power_jvp(a, t, n):
    """Tangent of np.linalg.matrix_power(a, n) along t: sum_k B^k dB B^(m-1-k), with
    B = A, m = n (n >= 0) or B = inv(A), m = -n.  (Differentiated by its source.)"""
    n = int(n)
    if n >= 0:
        b = np.asarray(a, dtype=float)
        db = t
    else:
        b = np.linalg.inv(a)
        db = -(b @ t @ b)
    m = abs(n)
    powers = [np.broadcast_to(np.eye(b.shape[-1]), b.shape)]
    for _ in range(1, m):
        powers.append(powers[-1] @ b)
    out = np.zeros(np.broadcast_shapes(b.shape, np.shape(t)))
    for k in range(m):
        out = out + powers[k] @ db @ powers[m - 1 - k]
    return out


def matrix_power_grad(g, a, n):
    """Gradient of np.linalg.matrix_power(a, n): sum_k (B^T)^k g (B^T)^(m-1-k), then
    through B = inv(A) if n < 0.  (Differentiated by its source.)"""
    n = int(n)
    if n >= 0:
        bt = _mT(np.asarray(a, dtype=float))
    else:
        bt = _mT(np.linalg.inv(a))
    m = abs(n)
    powers = [np.broadcast_to(np.eye(bt.shape[-1]), bt.shape)]
    for _ in range(1, m):
        powers.append(powers[-1] @ bt)
    gb = np.zeros(np.broadcast_shapes(bt.shape, np.shape(g)))
    for k in range(m):
        gb = gb + powers[k] @ g @ powers[m - 1 - k]
    if n >= 0:
        return gb
    return -(bt @ gb @ bt)


# -- triangular solves and the matrix exponential (SciPy) ---------------------------------


def _is_transposed(trans):
    return trans not in (0, "N", "n")


def _mask(m, lower, unit_diagonal):
    k = -1 if unit_diagonal else 0
    return np.tril(m, k) if lower else np.triu(m, -k)


def triangle_of(m, trans=0, lower=False, unit_diagonal=False):
    """The part of a matrix solve_triangular reads, as `m` would be read after its
    transpose option (`trans`): the adjoint of triangle_into."""
    return _mask(_mT(m) if _is_transposed(trans) else m, lower, unit_diagonal)


def triangle_into(m, trans=0, lower=False, unit_diagonal=False):
    """The triangle solve_triangular reads, transposed as `trans` says: op(T) for T = m."""
    t = _mask(m, lower, unit_diagonal)
    return _mT(t) if _is_transposed(trans) else t


def flipped_trans(trans):
    """The transpose option of the transposed system (0 <-> 1)."""
    return 0 if _is_transposed(trans) else 1


def _expm(a):
    import scipy.linalg

    return scipy.linalg.expm(a)


def expm_frechet(a, e):
    """The derivative of expm at `a` in the direction `e`: the upper-right block of
    expm([[a, e], [0, a]])."""
    a, e = np.asarray(a, dtype=float), np.asarray(e, dtype=float)
    a, e = np.broadcast_arrays(a, e)
    n = a.shape[-1]
    zero = np.zeros_like(a)
    block = np.concatenate(
        [np.concatenate([a, e], axis=-1), np.concatenate([zero, a], axis=-1)], axis=-2
    )
    return _expm(block)[..., :n, n:]


def expm_frechet2(a, e, f):
    """The second derivative of expm at `a` in the directions `e` and `f` (symmetric in
    them): from the corner block of expm([[a, e, 0], [0, a, f], [0, 0, a]]), both orders."""
    a, e, f = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, e, f)))
    n = a.shape[-1]
    zero = np.zeros_like(a)

    def corner(p, q):
        rows = [[a, p, zero], [zero, a, q], [zero, zero, a]]
        block = np.concatenate([np.concatenate(r, axis=-1) for r in rows], axis=-2)
        return _expm(block)[..., :n, 2 * n :]

    return corner(e, f) + corner(f, e)


# -- the singular value decomposition (distinct, nonzero singular values) -------------------


def svd_checked(a, full_matrices=True):
    """1.0, after checking that np.linalg.svd(a, full_matrices) has a derivative: a
    square `a`, or full_matrices=False (the extra singular vectors are not unique)."""
    m, n = np.shape(a)[-2:]
    if full_matrices and m != n:
        raise ValueError(
            "the derivative of np.linalg.svd(a) of a non-square matrix needs "
            "full_matrices=False (the extra singular vectors are not unique)"
        )
    return 1.0


def _cofactor_derivative(a):
    """T[..., i, j, k, l] = d cofactor(a)[i, j] / d a[k, l], from the cofactors of the
    (n-1) x (n-1) minors (exact also where a is singular)."""
    a = np.asarray(a, dtype=float)
    n = a.shape[-1]
    t = np.zeros(a.shape[:-2] + (n, n, n, n))
    if n < 2:
        return t
    for i in range(n):
        for j in range(n):
            rows = [k for k in range(n) if k != i]
            cols = [k for k in range(n) if k != j]
            minor = a[..., rows, :][..., :, cols]
            block = (-1) ** (i + j) * cofactor(minor)
            t[..., i, j, :, :][..., np.ix_(rows, cols)[0], np.ix_(rows, cols)[1]] = block
    return t


def cofactor_jvp(a, t):
    """Tangent of cofactor(a) along t: trace(inv(a) t) C - C t^T inv(a)^T where a is
    invertible, the derivative of each entry's minor elsewhere."""
    a = np.asarray(a, dtype=float)
    d = np.linalg.det(a)
    if np.all(d != 0) and np.all(np.isfinite(d)):
        c = cofactor(a)
        ainv_t = _mT(np.linalg.inv(a))
        return np.expand_dims(np.sum(ainv_t * t, axis=(-2, -1)), (-2, -1)) * c - c @ _mT(t) @ ainv_t
    return np.einsum("...ijkl,...kl->...ij", _cofactor_derivative(a), t)


def cofactor_vjp(a, g):
    """Adjoint of cofactor(a) applied to g: <g, C> inv(a)^T - inv(a)^T g^T C where a is
    invertible, the derivative of each entry's minor elsewhere."""
    a = np.asarray(a, dtype=float)
    d = np.linalg.det(a)
    if np.all(d != 0) and np.all(np.isfinite(d)):
        c = cofactor(a)
        ainv_t = _mT(np.linalg.inv(a))
        return np.expand_dims(np.sum(g * c, axis=(-2, -1)), (-2, -1)) * ainv_t - ainv_t @ _mT(g) @ c
    return np.einsum("...ijkl,...ij->...kl", _cofactor_derivative(a), g)


# -- QR, least squares, Cholesky solves (checks: the rules are written in NumPy) ---------


def qr_checked(r, a):
    """`r` (the R of np.linalg.qr(a)), after checking that its derivative is one the rules
    cover: a tall or square `a` (m >= n), whose reduced R is square and invertible."""
    m, n = np.shape(a)[-2:]
    if m < n:
        raise ValueError(
            f"the derivative of np.linalg.qr(a) is supported for m >= n (a is {m} x {n}): "
            "differentiate the QR of the transpose, or use np.linalg.lstsq or pinv"
        )
    if np.shape(r)[-2] != np.shape(r)[-1]:
        raise ValueError(
            "the derivative of np.linalg.qr(a, mode='complete') of a non-square matrix is not "
            "supported (the extra columns of Q are not unique); use mode='reduced'"
        )
    if np.any(np.diagonal(r, 0, -2, -1) == 0):
        raise ValueError(
            "the derivative of np.linalg.qr(a) needs a of full column rank (R has a zero on "
            "its diagonal there)"
        )
    return r


def unsupported_qr(a, mode):
    """Raised by the derivative of np.linalg.qr(a, mode) for a mode other than "reduced",
    "complete" of a square matrix, and "r"."""
    raise ValueError(
        f"the derivative of np.linalg.qr(a, mode={mode!r}) is not supported; use the default "
        "mode='reduced' (or mode='r' for R alone), with the mode written as a literal"
    )


_CHO_KEEPS: list[float] = []


def cho_keeps_a():
    """1.0 if scipy.linalg.cho_factor leaves a's own entries in the triangle of c it does
    not use (SciPy before 1.18), 0.0 if it zeroes them: asked of SciPy once."""
    if not _CHO_KEEPS:
        import scipy.linalg

        c, _ = scipy.linalg.cho_factor(np.array([[4.0, 1.0], [1.0, 4.0]]))
        _CHO_KEEPS.append(float(c[1, 0] == 1.0))
    return _CHO_KEEPS[0]


def lstsq_checked(rank, a):
    """1.0, after checking that np.linalg.lstsq(a, b) has a derivative the rules cover:
    `a` of full column rank (rank n, m >= n), where the solution is (A^T A)^-1 A^T b."""
    m, n = np.shape(a)[-2:]
    if m < n or int(rank) < n:
        raise ValueError(
            f"the derivative of np.linalg.lstsq(a, b) needs a of full column rank (a is "
            f"{m} x {n} with rank {int(rank)}): the minimum-norm solution of a "
            "rank-deficient or wide system jumps where the rank changes; use "
            "np.linalg.pinv(a) @ b if the rank is constant"
        )
    return 1.0


# -- the general eigendecomposition, for real eigenvalues -----------------------------------


def eig_check_real(w, v):
    """Raise where eig's factors are complex (its derivative is taken of real ones)."""
    if np.iscomplexobj(w) or np.iscomplexobj(v):
        if not (np.all(np.imag(w) == 0) and np.all(np.imag(v) == 0)):
            raise ValueError(
                "the derivative of np.linalg.eig(a) is supported for real eigenvalues only, and "
                "this matrix has complex ones; for a symmetric matrix use np.linalg.eigh"
            )


def eig_factors(a):
    """np.linalg.eig(a) as real (w, v), refusing complex eigenvalues (chainrule
    differentiates real values).  NumPy 2.5 returns complex arrays even for real
    eigenvalues; their imaginary parts are then exactly zero.  Differentiated by its
    source, so the factors' own derivatives flow (through np.linalg.eig's rules) when
    derivative code is differentiated again."""
    w, v = np.linalg.eig(a)
    eig_check_real(w, v)
    return np.real(w), np.real(v)


def eig_jvp(a, t):
    """Tangents (dw, dv) of np.linalg.eig(a) along t, for real, distinct eigenvalues:
    M = V^-1 t V, dw = diag(M), dV = V (F * M) with each column kept at unit length
    (as NumPy normalizes them), F[i, j] = 1 / (w[j] - w[i]).  (By its source.)"""
    w, v = eig_factors(a)
    m = np.linalg.solve(v, t @ v)
    dv = v @ (eigen_gaps(w) * m)
    dv = dv - v * np.sum(v * dv, axis=-2, keepdims=True)
    return np.diagonal(m, 0, -2, -1), dv


def eig_grad(g, a):
    """Gradient of np.linalg.eig(a) for the output gradients g = (dw, dv) (dv may be 0.0),
    for real, distinct eigenvalues: the transpose of eig_jvp.  (By its source.)"""
    w, v = eig_factors(a)
    gw, gv = g
    if np.ndim(gv) == 0:
        gv = np.zeros_like(v)
    gv = gv - v * np.sum(v * gv, axis=-2, keepdims=True)  # the unit length kept
    gm = eigen_gaps(w) * (_mT(v) @ gv) + np.expand_dims(gw, -1) * np.eye(w.shape[-1])
    return np.linalg.solve(_mT(v), gm @ _mT(v))
