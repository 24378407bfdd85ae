"""Reference gradients and how to compare with them.

Finite differences are the oracle that always applies, but they are only
right where the function is smooth within the step: near a branch boundary, a
kink (abs, maximum, where) or a tie they measure a jump, not a derivative.  So
every point is first tested for smoothness, coordinate by coordinate, with
three step sizes, and re-drawn when the test fails:

- the central differences at h = 1e-3, 1e-4 and 1e-5 must agree (a smooth
  function's differ by O(h^2), a jump or kink within h makes them differ by
  O(1));
- the second difference |f(x+h) - 2 f(x) + f(x-h)| / h must shrink with h
  (it is about h |f''| where f is smooth, and stays at the slope jump J when a
  kink lies within h, at x itself included).

Autograd is the second oracle, where it runs the program (it refuses in-place
writes and a few functions; then it simply does not apply).  Its answer is
only trusted when its value equals NumPy's and its gradient agrees with finite
differences; then it is compared with chainrule at a much tighter tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FD_STEPS = (1e-3, 1e-4, 1e-5)


class ShapeMismatch(Exception):
    """A gradient whose structure or shape differs from its argument's."""


# -- argument trees: dicts and tuples of floats and arrays -------------------------------------


def flat(template: Any, tree: Any) -> np.ndarray:
    """The leaves of `tree`, in `template`'s order, as one float vector; checks the structure."""
    if isinstance(template, dict):
        if not isinstance(tree, dict) or set(tree) != set(template):
            raise ShapeMismatch(f"expected a dict with keys {sorted(template)}, got {tree!r:.80}")
        parts = [flat(template[k], tree[k]) for k in template]
    elif isinstance(template, (tuple, list)):
        if not isinstance(tree, (tuple, list)) or len(tree) != len(template):
            raise ShapeMismatch(f"expected a sequence of {len(template)}, got {tree!r:.80}")
        parts = [flat(t, g) for t, g in zip(template, tree)]
    else:
        if np.shape(tree) != np.shape(template):
            raise ShapeMismatch(f"expected shape {np.shape(template)}, got {np.shape(tree)}")
        return np.asarray(tree, dtype=float).reshape(-1)
    return np.concatenate(parts) if parts else np.zeros(0)


def unflat(template: Any, vector: np.ndarray) -> Any:
    """A new tree shaped like `template` holding `vector`'s values (floats stay Python floats)."""
    position = 0

    def build(t: Any) -> Any:
        nonlocal position
        if isinstance(t, dict):
            return {k: build(v) for k, v in t.items()}
        if isinstance(t, (tuple, list)):
            return type(t)(build(v) for v in t)
        size = int(np.size(t))
        chunk = vector[position : position + size]
        position += size
        return float(chunk[0]) if isinstance(t, float) else chunk.reshape(np.shape(t)).copy()

    return build(template)


def copy_args(args: list[Any]) -> list[Any]:
    return unflat(list(args), flat(list(args), list(args)))


def same_args(a: list[Any], b: list[Any]) -> bool:
    return bool(np.array_equal(flat(list(a), list(a)), flat(list(a), list(b))))


# -- finite differences ------------------------------------------------------------------


@dataclass
class FiniteDifferences:
    value: float
    grad: np.ndarray  # central differences at the smallest step
    smooth: bool
    reason: str = ""  # why the point is not smooth


def evaluate(f: Callable, args: list[Any]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return float(f(*copy_args(args)))


def finite_differences(f: Callable, args: list[Any]) -> FiniteDifferences:
    """Central differences of f at args in every coordinate, and whether f is smooth there."""
    x0 = flat(list(args), list(args))
    f0 = evaluate(f, args)
    grad = np.zeros(x0.size)
    for j in range(x0.size):
        central, second = {}, {}
        for h in FD_STEPS:
            moved = []
            for sign in (1.0, -1.0):
                x = x0.copy()
                x[j] += sign * h
                try:
                    moved.append(evaluate(f, unflat(list(args), x)))
                except Exception:  # e.g. a branch that returns None just beside the point
                    moved.append(float("nan"))
            plus, minus = moved
            if not (np.isfinite(plus) and np.isfinite(minus)):
                return FiniteDifferences(f0, grad, False, f"not finite near coordinate {j}")
            central[h] = (plus - minus) / (2 * h)
            second[h] = abs(plus - 2 * f0 + minus) / h
        big, mid, small = FD_STEPS
        scale = 1.0 + abs(central[small])
        if abs(central[big] - central[small]) > 1e-3 * scale:
            return FiniteDifferences(f0, grad, False, f"jump or kink within 1e-3 of coordinate {j}")
        if abs(central[mid] - central[small]) > 1e-5 * scale:
            return FiniteDifferences(f0, grad, False, f"jump or kink within 1e-4 of coordinate {j}")
        if second[small] > 0.05 * second[big] + 1e-6 * (1.0 + abs(f0)):
            return FiniteDifferences(f0, grad, False, f"kink at coordinate {j}")
        grad[j] = central[small]
    return FiniteDifferences(f0, grad, True)


def fd_jacobian(
    g: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central differences of a vector function of a vector: columns are d g / d x_j."""
    columns = []
    for j in range(x0.size):
        plus, minus = x0.copy(), x0.copy()
        plus[j] += h
        minus[j] -= h
        columns.append((g(plus) - g(minus)) / (2 * h))
    return np.stack(columns, axis=-1) if columns else np.zeros((0, 0))


# -- comparisons -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    rtol: float  # relative to each expected element
    atol: float  # relative to the largest expected element (at least 1)


FD_TOL = Tolerance(rtol=1e-4, atol=2e-5)
TIGHT_TOL = Tolerance(rtol=1e-7, atol=1e-8)
HESSIAN_TOL = Tolerance(rtol=1e-3, atol=1e-4)
SYMMETRY_TOL = Tolerance(rtol=1e-6, atol=1e-7)


def mismatch(got: Any, expected: Any, tol: Tolerance) -> str | None:
    """None if got matches expected; else a one-line description of the worst element."""
    got = np.asarray(got, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    if got.size == 0:
        return None
    if not np.all(np.isfinite(got)):
        k = int(np.argmin(np.isfinite(got).reshape(-1)))
        g, e = got.reshape(-1)[k], expected.reshape(-1)[k]
        return f"non-finite value at [{k}]: got {g}, expected {e:.6g}"
    scale = max(1.0, float(np.max(np.abs(expected))))
    allowed = tol.atol * scale + tol.rtol * np.abs(expected)
    excess = np.abs(got - expected) - allowed
    if np.all(excess <= 0):
        return None
    k = int(np.argmax(excess.reshape(-1)))
    g, e = got.reshape(-1)[k], expected.reshape(-1)[k]
    return f"max |diff| {abs(g - e):.3g} at [{k}]: expected {e:.6g}, got {g:.6g}"


def describe(got: Any, expected: Any) -> str:
    """The full vectors, short, for a report."""
    fmt = {"float_kind": lambda v: f"{v:.4g}"}
    g = np.array2string(np.asarray(got, dtype=float).reshape(-1), formatter=fmt, max_line_width=200)
    e = np.array2string(
        np.asarray(expected, dtype=float).reshape(-1), formatter=fmt, max_line_width=200
    )
    return f"expected {e}; got {g}"


# -- autograd ----------------------------------------------------------------------------


def autograd_gradient(f: Callable, args: list[Any]) -> tuple[float, np.ndarray] | None:
    """(value, flat gradient) by autograd, or None where autograd cannot run the program."""
    try:
        import autograd
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                value = float(f(*copy_args(args)))
                grads = [autograd.grad(f, argnum=i)(*copy_args(args)) for i in range(len(args))]
        return value, flat(list(args), grads)
    except Exception:
        return None
