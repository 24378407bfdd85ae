"""Small helpers that generated gradient code calls.

Derivative templates use these where a rule needs more than one NumPy
expression.  Each helper depends on NumPy alone and is self-contained, so an
exported gradient module can carry a copy of the ones it uses and run
without chainrule installed.  They never modify their arguments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "stop_gradient",
    "unbroadcast",
    "seed_gradient",
    "add_lists",
    "old_value",
    "unpack_grad",
    "record_grad",
    "join_like",
    "zeros_like_item",
    "zeros_like_list",
    "power_term",
    "restore_axes",
    "expand_to",
    "index_grad",
    "select_grad",
    "reduce_extreme_grad",
    "prod_grad",
    "cumprod_grad",
    "matmul_grad_left",
    "matmul_grad_right",
    "tensordot_grad_left",
    "tensordot_grad_right",
    "dot_grad_left",
    "dot_grad_right",
    "inner_grad_left",
    "inner_grad_right",
    "einsum_grad",
    "diagonal_grad",
    "diag_grad",
    "solve_transposed",
    "solve_grad_a",
    "norm_grad",
    "untranspose",
    "split_like",
    "untile",
    "unrepeat",
    "cast_grad",
    "take_grad",
    "broadcast_like",
    "cumprod_jvp",
    "einsum_jvp",
    "einsum_grad_jvp",
]


def unbroadcast(g, x):
    """Sum the gradient `g` back down to the shape of `x` (undoing broadcasting).

    NumPy broadcasting copies `x` along new or size-1 axes; the copy gate says
    the gradient of a copied value is the sum of the copies' gradients.
    """
    shape = getattr(x, "shape", ())  # Python floats have no shape: ()
    gshape = getattr(g, "shape", ())
    if gshape == shape:
        return g
    if not shape:  # a scalar was broadcast against everything: sum it all
        return g.sum()
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if not shape:
        g = g[()] if isinstance(g, np.ndarray) else g
    return g


def unpack_grad(rows, source):
    """Gradient of `a, b = source`: the rows' gradients, shaped like the source.

    An array's rows are stacked back into an array; a list or tuple (np.split's
    pieces, which may differ in shape) gets a list.
    """
    if isinstance(source, np.ndarray):
        return np.stack(rows)
    return list(rows)


def record_grad(g, n):
    """The gradient of a record of `n` values taken off a list's gradient: `g` itself, or
    n zeros when the slot holds the plain zero of a record nobody differentiated."""
    if isinstance(g, (tuple, list)):
        return g
    return (0.0,) * n


def zeros_like_item(v):
    """A zero gradient for one item of a list: an array of zeros shaped like an array
    item, a tuple of zeros for a record, 0.0 for a number."""
    if isinstance(v, tuple):
        return tuple(zeros_like_item(e) for e in v)
    if isinstance(v, np.ndarray):
        return np.zeros_like(v, dtype=v.dtype if v.dtype.kind in "fc" else float)
    return 0.0


def zeros_like_list(items):
    """The zero gradient of a list: one zero item per item (see zeros_like_item)."""
    return [zeros_like_item(v) for v in items]


def power_term(c, x, e):
    """c * x ** e, and exactly 0 where c is 0 even if x ** e is infinite.

    The power rule's y * x ** (y - 1) at y = 0 and x = 0 is 0 (x ** 0 is the
    constant 1), not 0 * inf; its derivatives are power terms again.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = c * np.power(x, e)
    out = np.where(np.equal(c, 0), 0.0, t)
    return out if out.ndim else out[()]


def old_value(a, index):
    """The elements `a[index]` is about to overwrite, copied (the adjoint restores them)."""
    value = a[index]
    return value.copy() if type(value) is np.ndarray else value


def add_lists(a, b):
    """Sum of two list gradients, element by element (`b` may be an array of rows)."""
    return [x + y for x, y in zip(a, b, strict=True)]


def seed_gradient(y):
    """The gradient of the output with respect to itself: 1 (dL/dL = 1).

    `grad` is defined for scalar outputs only; anything else is refused here
    rather than silently summed.
    """
    if isinstance(y, float):
        return 1.0
    if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
        return 1.0
    if isinstance(y, np.ndarray) and y.size == 1 and y.dtype.kind == "f":
        return np.ones_like(y)
    if isinstance(y, np.floating):
        return np.ones_like(y)
    shape = getattr(y, "shape", None)
    what = f"an array of shape {shape}" if shape is not None else f"a {type(y).__name__}"
    raise ValueError(
        f"grad needs a function with a scalar output (a float or an array of size 1), "
        f"but it returned {what}; use chainrule.vjp for array outputs"
    )


def restore_axes(g, x, axis, keepdims):
    """Re-insert the axes a reduction removed, so that `g` broadcasts against `x`."""
    if keepdims or axis is None:
        return g
    ndim = np.ndim(x)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    axes = tuple(sorted(a % ndim for a in axes))
    return np.expand_dims(g, axes)


def expand_to(g, x, axis=None, keepdims=False):
    """The gradient of a sum over `axis`: `g` copied back along the reduced axes."""
    return np.broadcast_to(restore_axes(g, x, axis, keepdims), np.shape(x))


def index_grad(g, x, index):
    """Gradient of `x[index]`: `g` scattered into zeros shaped like `x`.

    Repeated integer indices read the same element several times, so their
    gradients must add up (np.add.at); plain ints and slices are assigned.
    A list of equal-shaped arrays (np.split's pieces) gets a stacked gradient.
    """
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError:
            raise ValueError(
                "indexing a list of arrays of different shapes (np.array_split's pieces) "
                "is not differentiable; unpack the list instead: a, b = np.split(x, 2)"
            ) from None
    dx = np.zeros(np.shape(x), dtype=np.result_type(x, g))
    if _is_basic_index(index):
        dx[index] = g
    else:
        np.add.at(dx, index, g)
    return dx


def _is_basic_index(index) -> bool:
    parts = index if type(index) is tuple else (index,)
    for part in parts:
        if part is None or part is Ellipsis or type(part) in (int, slice):
            continue
        if isinstance(part, np.integer):
            continue
        return False
    return True


def select_grad(g, condition, x):
    """Gradient of one side of np.where(condition, a, b): `g` where chosen, else 0."""
    return unbroadcast(np.where(condition, g, 0.0), x)


def reduce_extreme_grad(g, x, y, axis=None, keepdims=False):
    """Gradient of max/min over `axis`: routed to the winning elements.

    Ties share the gradient equally, so the total that flows back equals `g`.
    """
    y = restore_axes(y, x, axis, keepdims)
    g = restore_axes(g, x, axis, keepdims)
    winners = x == y
    return g * winners / np.sum(winners, axis=axis, keepdims=True)


def _reduced_axes(x, axis):
    """The axes a reduction over `axis` removes, as sorted non-negative ints."""
    ndim = np.ndim(x)
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def prod_grad(g, x, axis=None, keepdims=False):
    """Gradient of np.prod over `axis`: each factor receives the product of the others.

    `y / x` is the textbook form but divides by zero when a factor is 0; products
    of everything before and everything after each factor (exclusive cumulative
    products from both ends) are exact with zeros.
    """
    x = np.asarray(x)
    axes = _reduced_axes(x, axis)
    last = tuple(range(x.ndim - len(axes), x.ndim))
    moved = np.moveaxis(x, axes, last)
    flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
    if flat.shape[-1] == 0:
        return np.zeros(x.shape, dtype=np.result_type(x, g))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.moveaxis((before * after).reshape(moved.shape), last, axes)
    return restore_axes(g, x, axis, keepdims) * others


def cumprod_grad(g, x, axis=None):
    """Gradient of np.cumprod along `axis` (None: of the flattened array).

    Without zeros it is the reversed cumulative sum of g * y, divided by x.  A
    zero factor makes that division fail, so then the exact recurrence
    s[k] = g[k] + x[k+1] * s[k+1], dx[k] = (product of x before k) * s[k] is used.
    """
    x = np.asarray(x)
    shape = x.shape
    if axis is None:
        x, g, axis = x.reshape(-1), np.reshape(g, -1), 0
    xs = np.moveaxis(x, axis, -1)
    gs = np.moveaxis(np.asarray(g), axis, -1)
    if np.all(xs != 0):
        y = np.cumprod(xs, axis=-1)
        d = np.flip(np.cumsum(np.flip(gs * y, -1), axis=-1), -1) / xs
    else:
        n = xs.shape[-1]
        ones = np.ones(xs.shape[:-1] + (1,), dtype=xs.dtype)
        before = np.cumprod(np.concatenate([ones, xs[..., :-1]], axis=-1), axis=-1)
        s = np.zeros(np.broadcast_shapes(xs.shape, gs.shape), dtype=np.result_type(xs, gs))
        acc = np.zeros(s.shape[:-1], dtype=s.dtype)
        for k in range(n - 1, -1, -1):
            acc = gs[..., k] + (xs[..., k + 1] * acc if k + 1 < n else 0)
            s[..., k] = acc
        d = before * s
    return np.moveaxis(d, -1, axis).reshape(shape)


def _as_array(x):
    return x if type(x) is np.ndarray else np.asarray(x)


def matmul_grad_left(g, x, y):
    """Gradient of x @ y with respect to x: g @ y.T, generalised to 1-D and batches.

    Written with a fast path per common rank, because this runs on every
    layer of every backward pass.
    """
    x, y = _as_array(x), _as_array(y)
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
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    return tensordot_grad_left(g, a, b, _dot_axes(a, b))


def dot_grad_right(g, a, b):
    """Gradient of np.dot(a, b) with respect to b (for 2-D: a.T @ dz)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
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
        cuts = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]
        pieces = np.split(np.ravel(g), cuts)
    else:
        cuts = np.cumsum([s[axis] for s in shapes])[:-1]
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


def broadcast_like(t, y):
    """The tangent `t` stretched to the shape of `y`, as a new array.

    Forward mode drops the terms of inputs that carry no tangent; when the
    dropped input was the one broadcasting made large (`x + c` with a big
    constant `c`), the remaining tangent is smaller than its result.
    """
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape).copy()


def cumprod_jvp(t, x, axis=None):
    """Tangent of np.cumprod(x, axis) along `t`, exact when x has zeros.

    Each factor's tangent times the product of the other factors of every
    running product: O(n**2) along the axis, with no division by x.
    """
    x = np.asarray(x, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    if axis is None:
        x, t, axis = x.ravel(), t.ravel(), 0
    xm, tm = np.moveaxis(x, axis, -1), np.moveaxis(t, axis, -1)
    out = np.zeros(xm.shape)
    for i in range(xm.shape[-1]):
        others = xm.copy()
        others[..., i] = 1.0
        term = np.cumprod(others, axis=-1) * tm[..., i : i + 1]
        term[..., :i] = 0.0
        out += term
    return np.moveaxis(out, -1, axis)


def einsum_jvp(subscripts, operands, tangents):
    """Tangent of np.einsum(subscripts, *operands): the product rule, one term per operand."""
    if not isinstance(subscripts, str):
        raise ValueError(
            "the tangent of np.einsum needs the subscripts as a string (the interleaved "
            "np.einsum(x, [0, 1], ...) form is not supported)"
        )
    total = 0.0
    for k, t in enumerate(tangents):
        args = list(operands)
        args[k] = t
        total = total + np.einsum(subscripts, *args)
    return total


def einsum_grad_jvp(g, dg, subscripts, operands, tangents):
    """Tangent of einsum_grad(g, subscripts, operands) along dg and the operands' tangents.

    Each operand's gradient is linear in g and in every other operand, so
    its tangent has one term for dg and one per other operand's tangent.
    """
    out = list(einsum_grad(dg, subscripts, operands))
    for k, t in enumerate(tangents):
        moved = list(operands)
        moved[k] = t
        terms = einsum_grad(g, subscripts, moved)
        out = [o if i == k else o + terms[i] for i, o in enumerate(out)]
    return out
