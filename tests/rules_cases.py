"""Shared machinery of the rule tests for issue 15's functions (test_rules_signals.py,
test_rules_decompositions.py, test_rules_scipy.py): each case is a function written
with `np` (and `scipy`) at module level, a way to draw its arguments, and whether
autograd has it.  `check_case` checks both modes against finite differences, the
Hessian of a scalar reduction (forward over reverse and reverse over reverse), and
chainrule's gradient against autograd's run on the very same code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from helpers import write_module

import chainrule
from chainrule.testing import check_grads

try:
    import autograd
    import autograd.numpy as anp
    import autograd.scipy as ascipy
except ImportError:  # pragma: no cover - autograd is a test dependency
    autograd = anp = ascipy = None


@dataclass
class Case:
    f: Callable
    draw: Callable  # (rng, size) -> tuple of arguments; size is a hypothesis-drawn length
    autograd: bool = True  # autograd has every function f uses
    order2: bool = True  # second derivatives exist (and are checked)
    rtol: float = 1e-4

    @property
    def name(self) -> str:
        return self.f.__name__


def with_autograd(f: Callable) -> Callable:
    """The same code object with `np` meaning autograd.numpy and `scipy` autograd.scipy."""
    scope = {**f.__globals__, "np": anp}
    if "scipy" in scope:
        scope["scipy"] = ascipy
    return type(f)(f.__code__, scope, f.__name__)


def check_case(case: Case, rng: np.random.Generator, size: int, directory) -> None:
    args = case.draw(rng, size)
    check_grads(case.f, args, rtol=case.rtol, atol=1e-6)
    out = case.f(*args)
    w = rng.normal(size=np.shape(out))
    g = chainrule.vjp(case.f, *args)[1](w)
    if case.autograd and autograd is not None:
        fa = with_autograd(case.f)
        for i in range(len(args)):
            expected = np.asarray(autograd.make_vjp(fa, argnum=i)(*args)[0](w))
            while expected.ndim > np.ndim(g[i]):  # autograd leaves some broadcasts unsummed
                expected = expected.sum(axis=0)
            if expected.size == np.size(g[i]):  # or keeps their length-1 axes
                expected = expected.reshape(np.shape(g[i]))
            np.testing.assert_allclose(g[i], expected, rtol=1e-6, atol=1e-8)
    if case.order2:
        scalar = scalar_of(case.f, len(args), directory)
        check_grads(scalar, args, order=2, rtol=case.rtol, atol=1e-5)


def scalar_of(f: Callable, nargs: int, directory) -> Callable:
    """sum(sin(f(...))**2), a scalar function of f's outputs whose Hessian is not trivially
    zero, written to a module file in `directory` (chainrule reads source from files)."""
    params = ", ".join(f"x{i}" for i in range(nargs))
    source = f"""
import numpy as np
f = None
def scalar_of({params}):
    return np.sum(np.sin(f({params})) ** 2)
"""
    scalar = write_module(directory, source, "scalar_of")
    scalar.__globals__["f"] = f
    return scalar
