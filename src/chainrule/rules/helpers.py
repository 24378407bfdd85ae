"""Rules for the runtime helpers that generated gradient code calls (runtime.py).

Generated code is itself differentiable source: `hessian(f)` runs the
forward-mode transformation on the code `grad(f)` generated, and
`grad(grad(f))` runs reverse mode on it.  Those passes meet the helpers that
gradient templates call (`unbroadcast`, `expand_to`, `matmul_grad_left`...),
so each helper has rules like any NumPy function.  Most helpers are linear
in the gradient they receive, so their tangent is the same helper applied
to the tangent, and their adjoint is the helper's transpose.
"""

import numpy as np

from .. import runtime as rt
from . import adjoint, nondifferentiable, tangent  # noqa: F401
