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

__version__ = "0.1.0"

from .api import (  # noqa: E402
    check_grad,
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
from .errors import CompileError  # noqa: E402
from .exporting import ExportError, export  # noqa: E402
from .rules import RuleError, adjoint, nondifferentiable, tangent  # noqa: E402
from .runtime import stop_gradient  # noqa: E402

__all__ = [
    "CompileError",
    "ExportError",
    "RuleError",
    "adjoint",
    "check_grad",
    "export",
    "grad",
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
