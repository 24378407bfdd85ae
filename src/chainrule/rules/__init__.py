"""Stage 4, rules: derivative rules as small Python templates, keyed by the function.

A rule is an ordinary Python function used as a *template*.  Its first
parameter names the primitive's result, the remaining parameters are the
primitive's own, and its body assigns the gradient of each differentiable
input.  The gradient of a name `v` is written `dv`, exactly as it will appear
in generated code:

    @adjoint(np.tanh)
    def tanh(y, x):
        "tanh gate: scale by 1 - y**2, reusing the saved output"
        dx = dy * (1 - y * y)

When chainrule meets `h = np.tanh(a)` with `a` active, it substitutes
`y -> h`, `dy -> dh`, `x -> a`, `dx -> da` and inlines the body, so the
generated code reads `da = dh * (1 - h * h)`.  The docstring becomes the
comment in front of that line.  Parameters that never get a `d...`
assignment (axis, keepdims, shapes) are not differentiable.

Templates may branch on parameters whose value is a literal at the call site
(`if axis is None:`); such tests are decided at compile time and only the
chosen branch is inlined.  `literal(p)` in a test is True when `p` is a
literal at the call site, so `if literal(y) and y == 2:` specialises `x ** 2`
without ever testing an array's truth at run time.  Tests that are not
decided at compile time stay in the generated code as ordinary `if`s.
Other names a template uses (`np`, `unbroadcast`)
are resolved in the module where the template was written, and the generated
code gets bindings for them.

The registry maps the identity of the primitive (np.tanh, operator.mul,
np.ndarray.sum, ...) to its Rule.  `adjoint` is the public way to add one.

Forward mode uses *tangent* templates, registered with `tangent` beside the
adjoints and written in the same notation, the other way round: the body
assigns `dy` (the result's tangent) from the parameters' tangents `dx`:

    @tangent(np.tanh)
    def tanh(y, x):
        "tanh: dy = (1 - y**2) dx"
        dy = dx * (1 - y * y)

A tangent is linear in the input tangents, so the value assigned to `dy` is
written as a sum of terms, each linear in one input tangent
(`dz = dx * y + x * dy`).  When an input carries no tangent, the compiler
drops its terms (and keeps the result's shape, if broadcasting made it
larger) instead of adding zeros.
"""

from __future__ import annotations

# The built-in library: importing a module registers its rules.
from . import (  # noqa: E402,F401  (registered on import)
    arithmetic,
    builtin_math,
    decompositions,
    elementary,
    helpers,  # rules for runtime helpers: derivatives of derivatives
    indexing,
    linalg,
    reductions,
    scipy_linalg,  # these four only if SciPy imports
    scipy_multivariate,
    scipy_special,
    scipy_stats,
    shapes,
    signals,
)
from .registry import (
    ADJOINTS,
    NONDIFFERENTIABLE,
    TANGENTS,
    Rule,
    RuleError,
    adjoint,
    arguments_without_derivative,
    display_name,
    generation,
    is_nondifferentiable,
    literal,
    lookup,
    lookup_tangent,
    no_derivative,
    nondifferentiable,
    rule_example,
    tangent,
)

__all__ = [
    "ADJOINTS",
    "NONDIFFERENTIABLE",
    "TANGENTS",
    "Rule",
    "RuleError",
    "adjoint",
    "arguments_without_derivative",
    "display_name",
    "generation",
    "is_nondifferentiable",
    "literal",
    "lookup",
    "lookup_tangent",
    "no_derivative",
    "nondifferentiable",
    "rule_example",
    "tangent",
]
