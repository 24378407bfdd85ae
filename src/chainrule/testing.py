"""Checking derivatives against finite differences.

`check_grad(f, *args)` compares chainrule's gradient of a scalar-valued
function with central finite differences (container arguments too) and
returns the largest difference.  `check_grads(f, args, order, modes)` is
modelled on `jax.test_util.check_grads`: it checks forward mode (`jvp` along
random tangents) and reverse mode (`vjp` of a random cotangent) for a
function with array or scalar output, and with `order=2` the same
derivatives of its gradient (forward over reverse, reverse over reverse).
Both raise AssertionError naming the argument and the element that disagree.

The finite differences themselves are public too: `numerical_jvp`,
`numerical_vjp` and `numerical_jacobian`.  All use central differences with
a step of `eps` (1e-6), scaled by max(1, |x|) element by element except
along a tangent.  Each evaluation of `f` gets its own copies of the arrays
in the arguments, so a function that writes into an argument (`x[0] = v`)
is measured as each call would see it, and the caller's arrays stay as they
were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .api import Argnums, grad, jacrev, jvp, vjp
from .arguments import normalize_argnums
from .parse import parse_function


def check_grad(
    f: Callable,
    *args: Any,
    argnums: Argnums = 0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    eps: float | None = None,
) -> float:
    """Compare chainrule's gradient of `f` with central finite differences.

    Returns the largest absolute difference.  Raises AssertionError naming
    the argument and its worst element when some difference exceeds
    `atol + rtol * |finite difference|`.  Container arguments (dicts,
    tuples, lists) are checked leaf by leaf, and a failure names the leaf.
    """
    nums, _ = normalize_argnums(argnums, "check_grad")
    g = grad(f, argnums=tuple(nums))(*args)
    params = parse_function(f).params
    worst = 0.0
    for k, i in enumerate(nums):
        name = params[i] if i < len(params) else str(i)
        for path, leaf in _leaves(args[i]):
            ours_leaf = g[k]
            for key in path:
                ours_leaf = ours_leaf[key]

            def at(value: Any, i: int = i, path: tuple = path) -> Any:
                call = list(args)
                call[i] = _replace_leaf(args[i], path, value)
                return _call(f, call)

            label = name + "".join(f"[{key!r}]" for key in path)
            worst = max(worst, _check_leaf(at, leaf, ours_leaf, label, i, rtol, atol, eps))
    return worst


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if type(value) is dict:
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if type(value) in (tuple, list):
        return [p for k, v in enumerate(value) for p in _leaves(v, (*path, k))]
    return [(path, value)]


def _replace_leaf(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if type(tree) is dict:
        return {k: _replace_leaf(v, rest, value) if k == head else v for k, v in tree.items()}
    items = [_replace_leaf(v, rest, value) if j == head else v for j, v in enumerate(tree)]
    return tuple(items) if type(tree) is tuple else items


def _check_leaf(
    at: Callable, leaf: Any, ours: Any, label: str, i: int, rtol: float, atol: float, eps: Any
) -> float:
    """Finite differences of `at(leaf + h e_j)` against `ours`, element by element."""
    fd = np.asarray(_numerical_gradient(lambda x: np.sum(at(x)), leaf, eps), dtype=float)
    ours = np.asarray(ours, dtype=float).reshape(fd.shape)
    bad = _disagreement(ours, fd, rtol, atol)
    if bad is not None:
        where, detail = bad
        raise AssertionError(
            f"gradient of argument {i} ({label!r}) disagrees with finite differences at "
            f"{label}{where}: {detail}"
        )
    err_all = np.abs(ours - fd)
    return float(np.max(err_all)) if err_all.size else 0.0


def _disagreement(
    ours: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> tuple[str, str] | None:
    """Where `ours` is worst outside atol + rtol * |expected| (`[i, j]`, or "" for a
    scalar) and what it is there, or None when every element is within."""
    err = np.abs(ours - expected)
    bound = atol + rtol * np.abs(expected)
    if not err.size or not np.any(~(err <= bound)):
        return None
    idx = np.unravel_index(
        int(np.argmax(np.where(np.isnan(err), np.inf, err - bound))), expected.shape
    )
    where = f"[{', '.join(map(str, idx))}]" if expected.ndim else ""
    detail = (
        f"chainrule {ours[idx]!r}, finite difference {expected[idx]!r} "
        f"(|difference| {err[idx]:.3g} > {bound[idx]:.3g})"
    )
    return where, detail


# -- finite differences ------------------------------------------------------------------


def _numerical_gradient(g: Callable[[Any], float], x: Any, eps: float | None) -> Any:
    """Central differences of the scalar function `g` at `x`, element by element."""
    point = np.array(x, dtype=float)
    scalar = not isinstance(x, np.ndarray)  # pass floats as floats
    out = np.zeros(np.shape(point))
    flat = out.reshape(-1)
    for j in range(flat.size):
        h = eps if eps is not None else 1e-6 * max(1.0, abs(float(point.reshape(-1)[j])))
        plus, minus = point.copy(), point.copy()
        plus.reshape(-1)[j] += h
        minus.reshape(-1)[j] -= h
        if scalar:
            plus, minus = float(plus), float(minus)
        flat[j] = (float(g(plus)) - float(g(minus))) / (2 * h)
    return float(out) if scalar else out


def _fresh(value: Any) -> Any:
    """`value` with every array in it copied (through tuples, lists and dicts)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if type(value) in (tuple, list):
        return type(value)(_fresh(v) for v in value)
    return value


def _call(f: Callable, args: Sequence) -> Any:
    """`f(*args)` on copies of the arrays in `args`: a function that writes into its
    argument (`x[0] = a * b`, as Python allows) neither changes the caller's arrays
    nor sees the changes an earlier evaluation made, so finite differences hold."""
    return f(*[_fresh(a) for a in args])


def _moved(args: Sequence, argnum: int, value: Any) -> list:
    call = list(args)
    call[argnum] = value
    return call


def numerical_vjp(
    f: Callable, args: Sequence, cotangent: Any, argnum: int, eps: float | None = None
) -> Any:
    """Central differences of sum(cotangent * f(*args)) with respect to args[argnum]: the
    vector-Jacobian product (the gradient, for a cotangent of 1).  A float argument
    gives a float."""
    w = np.asarray(cotangent, dtype=float)
    return _numerical_gradient(
        lambda x: np.sum(np.asarray(_call(f, _moved(args, argnum, x)), dtype=float) * w),
        args[argnum],
        eps,
    )


def numerical_jvp(f: Callable, args: Sequence, tangents: Sequence, eps: float = 1e-6) -> np.ndarray:
    """Central difference of f along `tangents` (None: that argument stays put)."""

    def moved(sign: float) -> list:
        out = []
        for a, t in zip(args, tangents):
            if t is None:
                out.append(a)
            elif isinstance(a, float):
                out.append(a + sign * eps * float(t))
            else:
                out.append(np.asarray(a, dtype=float) + sign * eps * np.asarray(t))
        return out

    plus = np.asarray(_call(f, moved(1.0)), dtype=float)
    minus = np.asarray(_call(f, moved(-1.0)), dtype=float)
    return (plus - minus) / (2 * eps)


def numerical_jacobian(f: Callable, args: Sequence, argnum: int, eps: float = 1e-6) -> Any:
    """Central differences, laid out as the output's shape then the input's (as jacfwd)."""
    x = np.asarray(args[argnum], dtype=float)
    columns = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = eps
        e = e.reshape(x.shape)
        as_float = isinstance(args[argnum], float)
        plus = _moved(args, argnum, float(x + e) if as_float else x + e)
        minus = _moved(args, argnum, float(x - e) if as_float else x - e)
        columns.append(
            (np.asarray(_call(f, plus), float) - np.asarray(_call(f, minus), float)) / (2 * eps)
        )
    out_shape = np.shape(_call(f, args))
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


# -- check_grads -------------------------------------------------------------------------


def check_grads(
    f: Callable,
    args: Sequence,
    order: int = 1,
    modes: Sequence[str] = ("fwd", "rev"),
    atol: float = 1e-6,
    rtol: float = 1e-5,
    eps: float | None = None,
    argnums: Argnums | None = None,
    seed: int = 0,
) -> None:
    """Check chainrule's derivatives of `f` at `args` against finite differences.

    `modes` "fwd" checks `jvp` along random tangents against the finite
    difference along them, "rev" checks `vjp` of a random cotangent (`grad`
    or `jacrev` when only some arguments are differentiated), each gradient
    against the finite differences of sum(cotangent * f); both check the
    value they return too.  `order=2` runs the same
    checks on the gradient of `f` with respect to each argument (`f` must
    then return a scalar): forward over reverse and reverse over reverse.
    Finite differences take steps of `eps` (by default 1e-6, scaled by
    max(1, |x|) for each element in reverse mode).  `argnums` (default:
    every argument) are the arguments differentiated;
    the others (data, loop counts) stay put.  Arguments are floats and arrays
    (for containers use `check_grad`).  Raises AssertionError on the first
    disagreement, naming the mode, the argument and the element; returns None.
    """
    args = tuple(args)
    nums = (
        tuple(range(len(args))) if argnums is None else normalize_argnums(argnums, "check_grads")[0]
    )
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: modes are 'fwd' and 'rev', got {mode!r}")
    rng = np.random.default_rng(seed)
    name = getattr(f, "__name__", "f")
    if order == 1:
        _check_first(f, args, nums, modes, atol, rtol, eps, rng, name)
    elif order == 2:
        if np.ndim(_call(f, args)) != 0:
            raise ValueError(
                "check_grads(order=2) checks the derivatives of the gradient of f, "
                "so f must return a scalar"
            )
        for i in nums:
            _check_first(
                grad(f, argnums=i),
                args,
                nums,
                modes,
                atol,
                rtol,
                eps,
                rng,
                f"the gradient of {name} with respect to argument {i}",
            )
    else:
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")


def _like(value: Any, rng: np.random.Generator) -> Any:
    """A random value shaped (and typed) like `value`."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return float(rng.normal())
    return rng.normal(size=np.shape(value))


def _check_first(
    f: Callable,
    args: tuple,
    nums: tuple[int, ...],
    modes: Sequence[str],
    atol: float,
    rtol: float,
    eps: float | None,
    rng: np.random.Generator,
    what: str,
) -> None:
    """First-order checks of `f` in each mode (and of the value each mode returns)."""
    expected_out = _call(f, args)
    if "fwd" in modes:
        tangents = [_like(a, rng) if i in nums else None for i, a in enumerate(args)]
        out, ours = jvp(f, args, tangents)
        _assert_close(out, expected_out, rtol, atol, f"the value jvp returns for {what}")
        expected = numerical_jvp(f, args, tangents, 1e-6 if eps is None else eps)
        _assert_close(
            ours, expected, rtol, atol, f"forward mode (jvp) of {what} along random tangents"
        )
    if "rev" in modes:
        w = _like(expected_out, rng)
        if nums == tuple(range(len(args))):  # every argument: vjp itself
            out, backward = vjp(f, *args)
            _assert_close(out, expected_out, rtol, atol, f"the value vjp returns for {what}")
            ours_all = list(backward(w))
        elif np.ndim(expected_out) == 0:
            g = grad(f, argnums=nums)(*args)
            ours_all = [np.asarray(w) * np.asarray(gi, dtype=float) for gi in g]
        else:
            jacobians = jacrev(f, argnums=nums)(*args)
            ours_all = [np.tensordot(w, J, axes=np.ndim(w)) for J in jacobians]
        for k, i in enumerate(nums):
            expected = numerical_vjp(f, args, w, i, eps)
            _assert_close(
                ours_all[k], expected, rtol, atol, f"reverse mode (vjp) of {what}, argument {i}"
            )


def _assert_close(ours: Any, expected: Any, rtol: float, atol: float, what: str) -> None:
    expected = np.asarray(expected, dtype=float)
    ours = np.asarray(ours, dtype=float)
    if ours.shape != expected.shape:
        raise AssertionError(f"{what}: shape {ours.shape}, expected {expected.shape}")
    bad = _disagreement(ours, expected, rtol, atol)
    if bad is not None:
        where, detail = bad
        at = f" at {where}" if where else ""
        raise AssertionError(f"{what} disagrees with finite differences{at}: {detail}")
