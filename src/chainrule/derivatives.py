"""What reverse and forward mode share while they walk one normalized function.

Both transformations put a *derivative variable* next to each active value
(`dv`: its gradient in reverse mode, its tangent in forward mode), both
instantiate rule templates (templates.py) whose helpers need names in the
generated code, and both introduce the code of each user line with the same
comments.  `DerivativeContext` holds that shared state, and each mode keeps
one (composition, not inheritance): which names are active, what their
derivative variables are called, the bindings, the comments, and the shape
facts (shapes.py) used to write less code.
"""

from __future__ import annotations

import ast
from collections import ChainMap
from typing import Any

import numpy as np

from .activity import analyze
from .dims import array_dims
from .ir import (
    ADD_AT,
    LIST_APPEND,
    Function,
    Method,
    Parsed,
    comment,
    facts_of,
    name_of,
    names_in,
    walk_statements,
)
from .rules import Rule, arguments_without_derivative
from .shapes import scalar_names, shape_classes
from .templates import Bindings, bound_arguments, cell_value
from .transformation import Target, is_list_pop


class DerivativeContext:
    """The state a derivative transformation keeps about one function (see module doc)."""

    def __init__(self, fn: Function, target: Target) -> None:
        self.fn = fn
        self.wrt = target.wrt
        self.scalar_params = target.scalars
        self.p: Parsed = fn.parsed
        self.names = fn.names
        self.activity = analyze(fn, self.wrt)
        self.list_names: set[str] = set(fn.lists)  # lists made in the function
        self.dnames: dict[str, str] = {}  # primal name -> its derivative variable
        self.primal_of: dict[str, str] = {}  # derivative variable -> primal name
        # the objects the function's free names denote: its globals, and its closure cells
        # (generated code, transformed again, reaches np and the helpers through cells)
        user_names = set(self.names.taken)
        cell_values = {n: cell_value(c) for n, c in self.p.cells.items()}
        self.bindings = Bindings(self.names, ChainMap(cell_values, self.p.globals), user_names)
        self.ops_per_origin: dict[int, int] = {}  # user statement -> its active operations
        for stmt in walk_statements(fn.body):
            if self.is_active_stmt(stmt):
                key = id(facts_of(stmt).origin)
                self.ops_per_origin[key] = self.ops_per_origin.get(key, 0) + 1
        self.last_origin: Any = None  # the user statement the last comments quoted
        env = ChainMap(self.bindings.cells, self.p.globals)  # live: templates add bindings
        self.scalars = scalar_names(fn, target.scalars, target.ranks)
        dims = array_dims(fn, self.scalars, target.ranks, env) if target.ranks else None
        if dims:  # shape () in this variant: seeded with 1.0, zeros are 0.0
            self.scalars |= {name for name, d in dims.items() if d == ()}
        self.shapes = shape_classes(fn.params, fn.body, env, self.primal_of, self.scalars, dims)
        self.shapes.numpy_name = lambda: self.bindings.name_for(np, "np")

    # -- names -------------------------------------------------------------------------
    def dname(self, name: str) -> str:
        """The derivative variable of `name`: dname, or d_name (d_name_1, ...) if taken."""
        d = self.dnames.get(name)
        if d is None:
            d = "d" + name
            if d in self.names.taken:
                d = self.names.fresh("d_" + name)
            self.names.taken.add(d)
            self.dnames[name] = d
            self.primal_of[d] = name
        return d

    def active(self, name: str) -> bool:
        return self.activity.active(name)

    def is_active_stmt(self, stmt: ast.stmt) -> bool:
        """Whether a statement has a derivative: it changes an active value."""
        record = facts_of(stmt)
        if is_list_pop(stmt, self.fn.lists):
            # every pop is undone, active or not: the list may be the very object another
            # name (a merge, a record) holds, whose backward pass reads it again
            return True
        if record.prim in (LIST_APPEND, ADD_AT) or is_list_pop(stmt, self.fn.lists):
            return self.active(name_of(record.args[0]))  # (the list or array it changes)
        return (
            isinstance(stmt, ast.Assign)
            and record.prim is not None
            and any(self.active(t) for t in names_in(stmt.targets[0]))
        )

    # -- calls in generated code ---------------------------------------------------------
    def helper_call(self, helper: Any, name: str, args: list[ast.expr]) -> ast.expr:
        """A call of a runtime helper, under the name generated code reaches it by."""
        func = ast.Name(self.bindings.name_for(helper, name), ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    def numpy_call(self, name: str, args: list[ast.expr]) -> ast.expr:
        """`np.<name>(args)` spelled with whatever name numpy has in generated code."""
        np_name = self.bindings.name_for(np, "np")
        func = ast.Attribute(value=ast.Name(np_name, ast.Load()), attr=name, ctx=ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    def bound_arguments(
        self, rule: Rule, stmt: ast.stmt, target: str, kind: str
    ) -> dict[str, ast.expr]:
        """The substitution of `rule`'s parameters at `stmt` (templates.bound_arguments)."""
        return bound_arguments(rule, stmt, target, kind, self.scope(stmt), self.p)

    # -- comments and errors -------------------------------------------------------------
    def scope(self, stmt: ast.stmt) -> Parsed:
        """The Parsed function a statement came from (an inlined callee, or the root)."""
        return facts_of(stmt).scope or self.p

    def line_of(self, stmt: ast.stmt, origin: ast.AST) -> str:
        """The user's line behind `stmt`, prefixed with the helper's name if inlined."""
        scope = self.scope(stmt)
        text = scope.line_text(getattr(origin, "lineno", 0))
        if text and scope is not self.p:
            return f"{getattr(scope.func, '__name__', '?')}: {text}"
        return text

    def header(self, stmt: ast.stmt, rule: Rule | None, note: str | None = None) -> list[ast.stmt]:
        """Comments quoting the user's line (once per line) and naming the local rule
        (`note`, or the rule's)."""
        out = []
        origin = facts_of(stmt).origin
        if origin is not self.last_origin:
            self.last_origin = origin
            text = self.line_of(stmt, origin)
            if text:
                end = getattr(origin, "end_lineno", None)
                if end and end != getattr(origin, "lineno", None):
                    text += " ..."
                out.append(comment(text))
        if note is None and rule is not None:
            note = rule.note
        if self.ops_per_origin.get(id(origin), 0) > 1:
            text = statement_text(stmt)
            out.append(comment(f"{text}: {note}" if note else text))
        elif note:
            out.append(comment(note))
        return out

    def method_error(self, stmt: ast.stmt, method: Method) -> Exception:
        """The error for a method (or attribute) without a rule that needs a derivative."""
        if method.attribute:
            return self.scope(stmt).error(
                facts_of(stmt).site,
                f"the attribute .{method.name} of a computed value is not differentiable "
                "(it is not an array attribute chainrule knows); for a function returning "
                "several results unpack them into names instead, e.g. "
                "sign, logdet = np.linalg.slogdet(a)",
            )
        return self.scope(stmt).error(
            facts_of(stmt).site,
            f"the method .{method.name}() has no derivative rule; use the NumPy function "
            "instead (for example np.sum(x) for x.sum()), or register a rule for it",
        )

    def refuse_underived(self, rule: Rule, stmt: ast.stmt, subst: dict, carries: Any) -> None:
        """Refuse a differentiated value (`carries(expr)`) reaching an argument whose
        derivative has no rule (rules.no_derivative), rather than give it zero."""
        for p in sorted(arguments_without_derivative(facts_of(stmt).prim)):
            if subst.get(p) is not None and carries(subst[p]):
                raise self.scope(stmt).error(
                    stmt,
                    f"{rule.name} has no derivative rule with respect to its argument {p!r}, "
                    "which depends on a differentiated value here; pass a constant, or wrap "
                    "it in chainrule.stop_gradient(...) if its gradient is meant to be zero",
                )


def statement_text(stmt: ast.stmt) -> str:
    """`ast.unparse(stmt)`, the same on every Python: 3.10 wraps a tuple target in
    parentheses (`(a, b) = t`), later versions do not."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Tuple) and target.elts:
            names = ", ".join(ast.unparse(e) for e in target.elts)
            if len(target.elts) == 1:
                names += ","
            return f"{names} = {ast.unparse(stmt.value)}"
    return ast.unparse(stmt)
