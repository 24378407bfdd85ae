"""The shape-specialised variant of grad against chainrule's own general code.

A call of `grad(f)` runs a variant compiled for the kinds of its first call's
arguments (Python floats, arrays by rank with no axis of length 1; see
arguments.kinds_of), rewritten in ways only those kinds allow (shapes.py,
optimize.py).  The general code runs for arguments of any other kind, and is
what hessian, grad(grad(f)) and export transform.  The two must compute the
same numbers, to rounding: this check runs the variant twice (the first call
takes the API's slow path, the second the generated runner of
arguments.make_runner) and the general code once, on the same arguments, and
compares them at a tight tolerance.  Finite differences, in the grad stage,
only see a variant's defect larger than their own error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule
from chainrule.arguments import returned_gradients

from .oracles import TIGHT_TOL, ShapeMismatch, flat, mismatch


def variant_and_general(
    f: Callable, argnums: tuple[int, ...], call: Callable[[Callable[[list[Any]], Any]], Any]
) -> tuple[list[tuple[str, Any]], Any] | None:
    """[(which call, gradients)] of the variant's two calls, and the general code's
    gradients; None when these arguments' kinds give no variant (it is the general
    code).  `call` runs a thunk on a fresh copy of the arguments (Checker.call)."""
    g = chainrule.grad(f, argnums=argnums)
    first = call(lambda a: g(*a))  # compiles; the slow path runs the variant
    general = g.compiled()
    if g._variant is None or g._variant is general or g._ran_general:
        return None
    second = call(lambda a: g(*a))  # the fast path: arguments.make_runner's runner
    reference = call(lambda a: returned_gradients(general.function(*a), a, argnums, as_tuple=True))
    return [("first call", first), ("second call", second)], reference


def variant_mismatch(
    template: list[Any],
    runs: list[tuple[str, Any]],
    reference: Any,
    fd: np.ndarray,
) -> str | None:
    """None when every run of the variant matches the general code; else what differs,
    and which of the two finite differences side with (when they were computed)."""
    try:
        expected = flat(template, list(reference))
    except ShapeMismatch as error:
        return f"the general code's gradients: {error}"
    for which, tree in runs:
        try:
            got = flat(template, list(tree))
        except ShapeMismatch as error:
            return f"the variant's gradients ({which}): {error}"
        problem = mismatch(got, expected, TIGHT_TOL)
        if problem is None:
            continue
        k = int(np.argmax(np.abs(got - expected)))
        detail = f"the variant ({which}) differs from the general code: {problem}"
        if fd.shape == got.shape:
            side = "general" if abs(expected[k] - fd[k]) < abs(got[k] - fd[k]) else "variant"
            detail += (
                f"\nat [{k}]: finite differences {fd[k]:.10g}, general {expected[k]:.10g}, "
                f"variant {got[k]:.10g}: finite differences side with the {side} code"
            )
        return detail
    return None
