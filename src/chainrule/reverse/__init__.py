"""Stage 5, reverse mode: the adjoint of a normalized function.

The adjoint is the primal statements followed by the derivative of each
active statement in reverse order (reverser.py); the gradient variables and
the copy gate are in gradients.py, the adjoints of in-place changes in
writes.py; emit.py wraps the result into the `grad`, `value_and_grad` or
`vjp` function, and modes.py registers those three transformations.
"""

from __future__ import annotations

from .emit import Returns, emit_function
from .modes import GRAD, VALUE_AND_GRAD, VJP, ReverseMode
from .reverser import Adjoint, Reverser

__all__ = [
    "GRAD",
    "VALUE_AND_GRAD",
    "VJP",
    "Adjoint",
    "Returns",
    "ReverseMode",
    "Reverser",
    "emit_function",
]
