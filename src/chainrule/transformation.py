"""The transformation interface, and what every transformation shares.

A transformation turns a normalized `Function` (ir.py) into the syntax tree
of a new function: reverse mode (reverse/) writes the adjoint, forward mode
(forward.py) the tangent code.  The pipeline knows them only through this
interface:

* `Transformation`: a name (what requests ask for, part of the compile
  key), a label (the header of the generated file names it), and `emit`,
  from a normalized function and a `Target` (which parameters, which
  specialisation) to an `Emitted` function;
* `register` and `transformation_named`: the registry the pipeline looks
  requests up in.  A new transformation is one module that subclasses
  `Transformation`, keeps its own rule table, and registers an instance.

Each transformation is an interpreter over the same small set of statement
kinds, with its own rule for each: `statement_kind` is the one place that
tells the kinds apart (a call of a primitive, a list append, a write into an
array, tuple unpacking...), and each transformation keeps a table from kind
to what it emits.  `function_def` and `generated_name` build the `def`.
"""

from __future__ import annotations

import abc
import ast
import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .ir import (
    ADD_AT,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    SETITEM,
    UNPACK,
    Function,
    Method,
    facts_of,
)
from .rules import is_nondifferentiable


@dataclass(frozen=True)
class Target:
    """What a transformation is asked for, besides the function itself."""

    wrt: list[str]  # the parameters to differentiate (every parameter, for vjp)
    as_tuple: bool = False  # derivatives as a tuple even for a single parameter
    scalars: frozenset[str] = frozenset()  # parameters known to be Python scalars (a variant)
    # ndim of array parameters that have no axis of length 1 (a variant)
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass
class Emitted:
    """What a transformation returns: the function, and what the later stages need."""

    function: ast.FunctionDef
    cells: dict[str, Any]  # objects the generated code reaches by name (templates' bindings)
    removable: list[ast.stmt]  # statements of function.body that optimize drops when unread
    keeps_defaults: bool = True  # the generated function takes the primal's defaults


class Transformation(abc.ABC):
    """One way of turning a normalized function into another function (see module doc)."""

    name: str  # what requests ask for ("grad", "jvp"): part of the compile key
    label: str  # how the generated file's header names it ("forward mode (jvp)")

    @abc.abstractmethod
    def emit(self, fn: Function, target: Target) -> Emitted:
        """The transformed function of `fn`."""

    def __repr__(self) -> str:
        return f"<chainrule transformation {self.name!r}>"


_TRANSFORMATIONS: dict[str, Transformation] = {}


def register(transformation: Transformation) -> Transformation:
    """Make `transformation` available to the pipeline under its name (replacing any
    transformation of that name)."""
    _TRANSFORMATIONS[transformation.name] = transformation
    return transformation


def transformation_named(name: str) -> Transformation:
    """The registered transformation called `name` (KeyError if there is none)."""
    return _TRANSFORMATIONS[name]


def transformation_names() -> list[str]:
    return list(_TRANSFORMATIONS)


class StatementKind(enum.Enum):
    """What a normalized statement does, as far as a transformation is concerned."""

    INERT = "a statement that carries no derivative (no primitive)"
    PRIMITIVE = "one operation with a rule: an operator, a NumPy function, a copy"
    NONDIFFERENTIABLE = "one operation whose result carries no derivative"
    METHOD = "a method call without a rule"
    LIST_APPEND = "hs.append(v) on a list made in the function"
    LIST_POP = "t = hs.pop() on a list made in the function"
    LIST_GET = "t = hs[i] on a list made in the function"
    LIST_SET = "hs[i] = v on a list made in the function"
    SETITEM = "out[i] = v, a write into an array made in the function"
    ADD_AT = "np.add.at(out, i, v) on an array made in the function"
    UNPACK = "a, b = x, unpacking an array"


_MARKERS = {
    id(LIST_APPEND): StatementKind.LIST_APPEND,
    id(LIST_GET): StatementKind.LIST_GET,
    id(LIST_SET): StatementKind.LIST_SET,
    id(SETITEM): StatementKind.SETITEM,
    id(ADD_AT): StatementKind.ADD_AT,
    id(UNPACK): StatementKind.UNPACK,
}


def statement_kind(stmt: ast.stmt, lists: Collection[str] = ()) -> StatementKind:
    """The kind of a normalized statement; `lists` are the lists made in the function
    (without them, `t = hs.pop()` is a METHOD, not a LIST_POP)."""
    prim = facts_of(stmt).prim
    if prim is None:
        return StatementKind.INERT
    marker = _MARKERS.get(id(prim))
    if marker is not None:
        return marker
    if isinstance(prim, Method):
        return StatementKind.LIST_POP if is_list_pop(stmt, lists) else StatementKind.METHOD
    if is_nondifferentiable(prim):
        return StatementKind.NONDIFFERENTIABLE
    return StatementKind.PRIMITIVE


def is_list_pop(stmt: ast.stmt, lists: Collection[str]) -> bool:
    """`t = hs.pop()` on a list made in the function."""
    record = facts_of(stmt)
    prim, args = record.prim, record.args
    return (
        isinstance(prim, Method)
        and prim.name == "pop"
        and isinstance(stmt, ast.Assign)
        and bool(args)
        and isinstance(args[0], ast.Name)
        and args[0].id in lists
    )


def generated_name(prefix: str, primal_name: str) -> str:
    """The name of a generated function: `grad_loss`, `jvp_f`, `grad_lambda`."""
    base = primal_name if primal_name.isidentifier() else "lambda"
    return f"{prefix}_{base}"


def function_def(name: str, args: ast.arguments, body: list[ast.stmt]) -> ast.FunctionDef:
    """A `def` statement, valid on every supported Python version."""
    node = ast.FunctionDef(
        name=name, args=args, body=body, decorator_list=[], returns=None, type_comment=None
    )
    if hasattr(ast.FunctionDef, "type_params"):
        node.type_params = []
    return node


def assign(name: str, value: ast.expr) -> ast.stmt:
    """`name = value`."""
    return ast.Assign(targets=[ast.Name(name, ast.Store())], value=value)
