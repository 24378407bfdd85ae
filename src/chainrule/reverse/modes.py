"""The three reverse-mode transformations: grad, value_and_grad and vjp.

They share everything up to the adjoint (reverser.py) and differ only in
what the generated function returns (emit.py, `Returns`).
"""

from __future__ import annotations

import dataclasses

from ..ir import Function, name_of
from ..shapes import scalar_fills
from ..templates import fold_constants
from ..transformation import Emitted, Target, Transformation, register
from .emit import Returns, emit_function
from .reverser import Reverser


class ReverseMode(Transformation):
    """Reverse mode: the primal statements, then the adjoint of each, last first."""

    def __init__(self, returns: Returns) -> None:
        self.returns = returns
        self.name = returns.name
        self.label = returns.name

    def emit(self, fn: Function, target: Target) -> Emitted:
        leaves: list[str] = []
        for name in target.wrt:  # a container argument is differentiated through its leaves
            tree = fn.param_trees.get(name)
            if tree is not None:
                leaves.extend(name_of(leaf) for leaf in tree.leaves())
            else:
                leaves.append(name)
        adj = Reverser(fn, dataclasses.replace(target, wrt=leaves)).run()
        if adj.shapes is not None and adj.shapes.dims:  # a variant: known ranks
            scalar_fills(adj.backward, adj.shapes)
        funcdef = emit_function(adj, self.returns, target.as_tuple, target.wrt)
        fold_constants(adj.backward)
        return Emitted(funcdef, adj.bindings.cells, adj.primal)


GRAD = register(ReverseMode(Returns("grad", "Gradient of {f} with respect to {wrt}.")))
VALUE_AND_GRAD = register(
    ReverseMode(
        Returns(
            "value_and_grad",
            "Value of {f} and its gradient with respect to {wrt}.",
            value=True,
        )
    )
)
VJP = register(
    ReverseMode(
        Returns("vjp", "Value of {f} and its vector-Jacobian product function.", backward=True)
    )
)
