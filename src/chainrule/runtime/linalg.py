"""Helpers of the linear-algebra rules: products, contractions, einsum, solve, norms."""

from __future__ import annotations

import numpy as np

from .gradients import restore_axes, unbroadcast


def _as_array(x):
    return x if type(x) is np.ndarray else np.asarray(x)


def _spread_over_product(g, x, y):
    """A gradient of x @ y that is one number for every element (second-order code
    hands zeros on as 0.0), spread over the product's shape; any other `g` as it is."""
    if getattr(g, "ndim", 0) or (x.ndim == 1 and y.ndim == 1):  # (cheap: a hot path)
        return g
    if x.ndim == 1:
        shape = y.shape[:-2] + y.shape[-1:]
    elif y.ndim == 1:
        shape = x.shape[:-1]
    else:
        shape = np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1])
    return np.broadcast_to(g, shape)


def matmul_grad_left(g, x, y):
    """Gradient of x @ y with respect to x: g @ y.T, generalised to 1-D and batches.

    Written with a fast path per common rank, because this runs on every
    layer of every backward pass.
    """
    x, y = _as_array(x), _as_array(y)
    g = _spread_over_product(g, x, y)
    xd, yd = x.ndim, y.ndim
    if yd == 2:
        if xd == 2:
            return g @ y.T
        if xd == 1:
            return y @ g
    elif yd == 1:
        if xd == 1:
            return g * y
        if xd == 2:
            return np.multiply.outer(g, y)
        return unbroadcast(np.expand_dims(g, -1) * y, x)
    if xd == 1:
        return unbroadcast((y @ np.expand_dims(g, -1))[..., 0], x)
    return unbroadcast(g @ np.swapaxes(y, -1, -2), x)


def matmul_grad_right(g, x, y):
    """Gradient of x @ y with respect to y: x.T @ g, generalised to 1-D and batches."""
    x, y = _as_array(x), _as_array(y)
    g = _spread_over_product(g, x, y)
    xd, yd = x.ndim, y.ndim
    if xd == 2:
        if yd == 2:
            return x.T @ g
        if yd == 1:
            return g @ x
    elif xd == 1:
        if yd == 1:
            return g * x
        if yd == 2:
            return np.multiply.outer(x, g)
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if yd == 1:
        return unbroadcast((np.swapaxes(x, -1, -2) @ np.expand_dims(g, -1))[..., 0], y)
    return unbroadcast(np.swapaxes(x, -1, -2) @ g, y)


# -- linear algebra, shapes and indexing (rules/linalg.py, shapes.py, indexing.py) ---


def _contracted_axes(a, b, axes):
    """np.tensordot's `axes` as two lists of non-negative axes (of a, of b), paired in order."""
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(na - n, na)), list(range(n))
    axes_a, axes_b = axes
    axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    return [int(i) % na for i in axes_a], [int(i) % nb for i in axes_b]


def tensordot_grad_left(g, a, b, axes=2):
    """Gradient of np.tensordot(a, b, axes) with respect to a.

    The output's axes are a's free axes, then b's; contracting `g` with `b`
    over b's free axes gives back a's free axes followed by the contracted
    ones, which a transpose puts in a's order.
    """
    in_a, in_b = _contracted_axes(a, b, axes)
    free_a = [i for i in range(np.ndim(a)) if i not in in_a]
    free_b = [i for i in range(np.ndim(b)) if i not in in_b]
    g_of_b = list(range(len(free_a), np.ndim(g)))
    r = np.tensordot(g, b, axes=(g_of_b, free_b))
    order = free_a + [in_a[in_b.index(j)] for j in sorted(in_b)]
    return np.transpose(r, np.argsort(order))


def tensordot_grad_right(g, a, b, axes=2):
    """Gradient of np.tensordot(a, b, axes) with respect to b (see tensordot_grad_left)."""
    in_a, in_b = _contracted_axes(a, b, axes)
    free_a = [i for i in range(np.ndim(a)) if i not in in_a]
    free_b = [i for i in range(np.ndim(b)) if i not in in_b]
    r = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    order = [in_b[in_a.index(i)] for i in sorted(in_a)] + free_b
    return np.transpose(r, np.argsort(order))


def _dot_axes(a, b):
    # np.dot sums over a's last axis and b's second-to-last (its only one if 1-D)
    return [np.ndim(a) - 1], [max(np.ndim(b) - 2, 0)]


def dot_grad_left(g, a, b):
    """Gradient of np.dot(a, b) with respect to a, for every case np.dot handles.

    With a scalar operand np.dot is a product; otherwise it is the tensordot
    over a's last axis and b's second-to-last (for 2-D: dz @ b.T).
    """
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        return unbroadcast(g * b, a)
    if na <= 2 and nb <= 2:  # np.dot is np.matmul here: its fast paths
        return matmul_grad_left(g, a, b)
    return tensordot_grad_left(g, a, b, _dot_axes(a, b))


def dot_grad_right(g, a, b):
    """Gradient of np.dot(a, b) with respect to b (for 2-D: a.T @ dz)."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        return unbroadcast(g * a, b)
    if na <= 2 and nb <= 2:
        return matmul_grad_right(g, a, b)
    return tensordot_grad_right(g, a, b, _dot_axes(a, b))


def inner_grad_left(g, a, b):
    """Gradient of np.inner(a, b) (a product over both last axes) with respect to a."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    return tensordot_grad_left(g, a, b, ([-1], [-1]))


def inner_grad_right(g, a, b):
    """Gradient of np.inner(a, b) with respect to b."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    return tensordot_grad_right(g, a, b, ([-1], [-1]))


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_explicit(subscripts, operands):
    """Rewrite einsum subscripts with explicit output and no '...'.

    Each label then has one size everywhere: an axis of size 1 that
    broadcasts against a longer one gets a label of its own (so it is summed,
    as unbroadcasting requires).  Returns (input label strings, output labels).
    """
    if not isinstance(subscripts, str):
        raise TypeError(
            "the gradient of np.einsum needs the subscripts-string form, "
            "np.einsum('ij,jk->ik', a, b); the interleaved operand/sublist form is not supported"
        )
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(
            f"einsum subscripts {subscripts!r} name {len(inputs)} operands, got {len(operands)}"
        )
    fresh = [c for c in _EINSUM_LETTERS if c not in spec]
    ellipsis_dims = [
        np.ndim(op) - len(s.replace("...", "")) if "..." in s else 0
        for s, op in zip(inputs, operands, strict=True)
    ]
    n_ell = max(ellipsis_dims, default=0)
    ell, fresh = "".join(fresh[:n_ell]), fresh[n_ell:]
    inputs = [
        s.replace("...", ell[n_ell - k :] if k else "")
        for s, k in zip(inputs, ellipsis_dims, strict=True)
    ]
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: "".join(inputs).count(c) for c in "".join(inputs)}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    size = {}
    for labels, op in zip(inputs, operands, strict=True):
        for c, n in zip(labels, np.shape(op), strict=True):
            size[c] = max(size.get(c, 1), n)
    relabeled = []
    for labels, op in zip(inputs, operands, strict=True):
        new = []
        for c, n in zip(labels, np.shape(op), strict=True):
            if n == 1 and size[c] != 1:
                if not fresh:
                    raise ValueError("einsum gradient: too many broadcast axes to relabel")
                new.append(fresh.pop(0))
            else:
                new.append(c)
        relabeled.append("".join(new))
    return relabeled, out


def einsum_grad(g, subscripts, operands):
    """Gradients of np.einsum(subscripts, *operands): one per operand.

    Operand k's gradient is the einsum of `g` with all the other operands,
    written to k's labels.  Labels only k has were summed away, so their
    gradient is copied back along them (broadcast); a label repeated in k
    ('ii') reads a diagonal, so the gradient is written onto that diagonal.
    """
    inputs, out = _einsum_explicit(subscripts, operands)
    grads = []
    for k, (labels, op) in enumerate(zip(inputs, operands, strict=True)):
        others = [j for j in range(len(operands)) if j != k]
        available = set(out).union(*(inputs[j] for j in others))
        unique = "".join(dict.fromkeys(labels))
        keep = "".join(c for c in unique if c in available)
        spec = ",".join([out] + [inputs[j] for j in others]) + "->" + keep
        r = np.einsum(spec, g, *(operands[j] for j in others))
        shape = dict(zip(labels, np.shape(op), strict=True))
        r = np.reshape(r, [shape[c] if c in available else 1 for c in unique])
        r = np.broadcast_to(r, [shape[c] for c in unique])
        if len(unique) < len(labels):  # a diagonal: scatter onto it
            grid = np.indices(r.shape, sparse=True)
            full = np.zeros(np.shape(op), dtype=r.dtype)
            full[tuple(grid[unique.index(c)] for c in labels)] = r
            r = full
        grads.append(r)
    return grads


def diagonal_grad(g, x, offset=0, axis1=0, axis2=1):
    """Gradient of np.diagonal(x, offset, axis1, axis2): `g` on that diagonal, zeros elsewhere.

    `g` has the diagonal as its last axis (it may have length 1 and broadcast,
    as the gradient of a trace does).
    """
    dx = np.zeros(np.shape(x), dtype=np.result_type(x, g))
    view = np.moveaxis(dx, (axis1, axis2), (-2, -1))  # a view: writing fills dx
    rows, cols = view.shape[-2:]
    if offset >= 0:
        n = max(0, min(rows, cols - offset))
        i, j = np.arange(n), np.arange(n) + offset
    else:
        n = max(0, min(rows + offset, cols))
        i, j = np.arange(n) - offset, np.arange(n)
    view[..., i, j] = g
    return dx


def diag_grad(g, v, k=0):
    """Gradient of np.diag(v, k): np.diag both builds (1-D v) and reads (2-D v) a diagonal."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k)
    return diagonal_grad(g, v, k)


_NUMPY_1 = int(np.__version__.split(".")[0]) < 2


def _solve_is_vector(a, b):
    # NumPy 2 reads b as a vector only if it is 1-D; NumPy 1 whenever b.ndim == a.ndim - 1
    return np.ndim(b) == 1 or (_NUMPY_1 and np.ndim(b) == np.ndim(a) - 1)


def solve_transposed(a, b, g):
    """inv(a).T @ g: the gradient of np.linalg.solve(a, b) with respect to b.

    `g` is read as a vector (or a stack of them) exactly when np.linalg.solve
    read `b` as one; the batch axes broadcasting added are still there.
    """
    at = np.swapaxes(a, -1, -2)
    if _solve_is_vector(a, b):
        return np.linalg.solve(at, np.expand_dims(g, -1))[..., 0]
    return np.linalg.solve(at, g)


def solve_grad_a(gb, a, b, x):
    """-gb @ x.T: the gradient of x = np.linalg.solve(a, b) with respect to a.

    `gb` is solve_transposed(a, b, dx); for a vector b the product is an outer
    product.  Batch axes that a broadcast against are summed.
    """
    if _solve_is_vector(a, b):
        da = -np.expand_dims(gb, -1) * np.expand_dims(x, -2)
    else:
        da = -(gb @ np.swapaxes(x, -1, -2))
    return unbroadcast(da, a)


def norm_grad(g, x, y, ord=None, axis=None, keepdims=False):
    """Gradient of y = np.linalg.norm(x, ord, axis, keepdims), for NumPy's vector and matrix norms.

    Where the norm has a kink it returns a subgradient: 0 for a zero vector,
    and maxima tied for the max (ord=inf, matrix 1/inf norms) share the gradient.
    """
    x = np.asarray(x)
    nd = x.ndim
    if axis is None:
        axes = tuple(range(nd))
        if ord is not None and nd not in (1, 2):
            raise ValueError("np.linalg.norm with an ord needs a 1-D or 2-D array")
    else:
        axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(int(a) % nd for a in axes) if nd else ()
    g = restore_axes(g, x, axis, keepdims)
    y = restore_axes(y, x, axis, keepdims)
    sign = np.sign(x)
    if ord is None or (ord in ("fro", "f") and len(axes) == 2) or (ord == 2 and len(axes) == 1):
        return g / np.where(y == 0, 1, y) * x
    if len(axes) == 1:
        if ord == 1:
            return g * sign
        if ord in (np.inf, -np.inf):
            winners = np.abs(x) == y
            return g * sign * winners / np.sum(winners, axis=axes, keepdims=True)
        if ord == 0:
            return np.zeros(x.shape, dtype=np.result_type(x, g, float))
        with np.errstate(divide="ignore", invalid="ignore"):
            d = sign * (np.abs(x) / np.where(y == 0, 1, y)) ** (ord - 1)
        return g * np.where(x == 0, 0, d)
    rows, cols = axes
    if ord == "nuc" or ord in (2, -2):
        xm = np.moveaxis(x, (rows, cols), (-2, -1))
        u, s, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            d = u @ vh
        else:
            k = 0 if ord == 2 else -1
            d = np.expand_dims(u[..., :, k], -1) * np.expand_dims(vh[..., k, :], -2)
        return g * np.moveaxis(d, (-2, -1), (rows, cols))
    if ord in (1, -1):
        sums, across = np.sum(np.abs(x), axis=rows, keepdims=True), cols  # column sums
    elif ord in (np.inf, -np.inf):
        sums, across = np.sum(np.abs(x), axis=cols, keepdims=True), rows  # row sums
    else:
        raise ValueError(f"invalid norm order {ord!r} for matrices")
    winners = sums == y
    return g * sign * winners / np.sum(winners, axis=across, keepdims=True)


def vector_norm_order(x, ord=None, axis=None):
    """The p of np.linalg.norm(x, ord, axis) where it is an elementwise p-norm, whose
    gradient norm_grad's own rules differentiate again: 2 for ord None or "fro",
    a finite ord >= 1 over one axis (a 1-D x for axis None).  Other orders (matrix
    2-, nuclear, 1- and inf-norms, vector inf- and 0-norms) raise a ValueError."""
    if ord is None or (isinstance(ord, str) and ord in ("fro", "f")):
        return 2.0
    ndim = np.ndim(x)
    one_axis = np.ndim(axis) == 0 if axis is not None else ndim == 1
    if isinstance(ord, str) or not one_axis or not (1 <= ord < np.inf):
        raise ValueError(
            f"second derivatives of np.linalg.norm(x, ord={ord!r}) (x of {ndim} dimensions, "
            f"axis {axis!r}) are not supported: they are for ord None, 'fro', and vector "
            "norms with a finite ord >= 1; write the norm out with np.sum and np.abs"
        )
    return float(ord)
