"""chainrule: a source-to-source gradient compiler for Python and NumPy.

    >>> import numpy as np
    >>> from chainrule import grad
    >>> def f(x):
    ...     return np.sum(np.tanh(x) ** 2)
    >>> df = grad(f)
    >>> print(df.source)  # doctest: +SKIP

`grad(f)` reads f's source, writes the adjoint function as ordinary Python,
and runs it.  See docs/ for the supported subset and how it works.
"""

from .api import (
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    show,
    source,
    value_and_grad,
    vjp,
)
from .errors import CompileError
from .exporting import ExportError, export
from .graph import graph
from .rules import RuleError, adjoint, nondifferentiable, tangent
from .runtime import stop_gradient
from .testing import check_grad
from .version import __version__

__all__ = [
    "CompileError",
    "ExportError",
    "RuleError",
    "adjoint",
    "check_grad",
    "export",
    "grad",
    "graph",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "nondifferentiable",
    "show",
    "source",
    "stop_gradient",
    "tangent",
    "value_and_grad",
    "vjp",
    "__version__",
]
