"""The three reverse-mode transformations: grad, value_and_grad and vjp.

They share everything up to the adjoint (reverser.py) and differ only in
what the generated function returns (emit.py, `Returns`).
"""

from __future__ import annotations

import ast
import dataclasses

import numpy as np

from ..ir import Function, name_of, walk_statements
from ..shapes import ShapeClasses, scalar_fills
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
            method_reductions(adj.primal, adj.shapes)
        funcdef = emit_function(adj, self.returns, target.as_tuple, target.wrt)
        fold_constants(adj.backward)
        return Emitted(funcdef, adj.bindings.cells, adj.primal)


_REDUCTIONS = {np.sum: "sum", np.max: "max", np.min: "min", np.amax: "max", np.amin: "min"}


def method_reductions(primal: list[ast.stmt], classes: ShapeClasses) -> None:
    """`t = np.sum(x)` becomes `t = x.sum()` where x is surely an array (its rank is
    known and not 0): the same reduction (both run `np.add.reduce`), without the
    function's dispatch, which costs about a microsecond a call in a loop over
    windows.  The same for np.max and np.min.  (Rewrites `primal` in place.)"""
    for stmt in walk_statements(primal):
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
            continue
        call = stmt.value
        method = _REDUCTIONS.get(classes.resolve(call.func))  # type: ignore[call-overload]
        if method is None or call.keywords or len(call.args) != 1:
            continue
        arg = call.args[0]
        if isinstance(arg, ast.Name) and classes.dims.get(arg.id):  # (rank >= 1)
            func = ast.Attribute(value=ast.Name(arg.id, ast.Load()), attr=method, ctx=ast.Load())
            stmt.value = ast.Call(func=func, args=[], keywords=[])


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
