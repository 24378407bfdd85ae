"""Stage 2, normalize: one operation per statement, one assignment per name.

Reverse mode needs every intermediate value that a derivative rule reads to
have a name, and needs every name to keep its value until the backward pass
reads it.  This stage rewrites the function body so that:

* every statement that can carry a gradient performs exactly one operation on
  *atoms* (names or constants): `t1 = yhat - y`, `t2 = t1 ** 2`, `L = t2 / 2`
  (A-normal form).  Subexpressions that cannot carry a gradient (shapes,
  comparisons, masks, data that does not depend on the differentiated
  arguments) are left intact, so the primal part stays close to what the
  user wrote;
* every name is assigned once (SSA).  Reassigning `x` creates `x_1`, `x_2`,
  ... so the adjoint still sees each earlier value;
* `a if c else b` becomes an `if` statement assigning one name in both
  branches, so only the chosen side is evaluated, as in Python.

Each emitted statement is annotated (`ir.annotate`) with the primitive it
applies (looked up by identity in the rule registry), its bound arguments,
and the user's statement it came from, for comments and error positions.

The work is shared by collaborators around one `Normalizer` (core.py):
statements.py (the walk, `if`), loops.py, assignments.py, writes.py
(in-place changes), expressions.py, containers.py and inlining.py, and
jumps.py lowers `break`, `continue` and early `return` first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir import Function, Parsed
from .assignments import AssignmentNormalizer
from .containers import ContainerResolver
from .core import Normalizer
from .expressions import ExpressionNormalizer
from .inlining import Inliner
from .loops import LoopNormalizer
from .statements import StatementNormalizer
from .writes import InPlaceNormalizer


def normalize(
    parsed: Parsed,
    varied_params: set[str],
    structures: dict[str, Any] | None = None,
    has_aux: bool = False,
    compile_jvp: Callable[[Any, tuple[int, ...]], Any] | None = None,
    functions: dict[str, Any] | None = None,
) -> Function:
    """Rewrite `parsed` into ANF + SSA (see the module docstring).

    `varied_params` are the parameters differentiated, `structures` gives
    the nesting of container arguments (ir.structure), `has_aux` says the
    function returns (value, aux), and `compile_jvp(f, argnums)` returns the
    forward-mode code of f, for `jvp(f, ...)` calls (pipeline.py).  `functions`
    gives the function objects the API saw passed to function parameters (the
    generated code is specialised on them: its calls of `f(y)` are inlined).
    """
    n = Normalizer(parsed, varied_params, structures, has_aux, compile_jvp)
    n.expressions = ExpressionNormalizer(n)
    n.assignments = AssignmentNormalizer(n)
    n.writes = InPlaceNormalizer(n)
    statements = StatementNormalizer(n)
    n.statements = statements
    n.loops = LoopNormalizer(n)
    n.containers = ContainerResolver(n)
    n.inliner = Inliner(n)
    for param, obj in (functions or {}).items():
        n.inliner.bind_parameter(param, obj)
    return statements.run()


__all__ = ["Normalizer", "normalize"]
