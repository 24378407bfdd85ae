"""Stage 3, analyze: which values need a gradient (activity analysis).

A value needs a gradient only if it is *varied* (it depends, through
differentiable operations, on an argument we differentiate with respect to)
and *useful* (the output depends on it through differentiable operations).
Everything else is plain primal code: no gradient variable, no zeros.

The analysis runs on normalized code (one operation per statement, SSA
names), so it is two linear passes: forward for varied, backward for useful.
`differentiable_inputs` is shared with the reverse stage: it says which
arguments of a statement a derivative flows into, according to the rule.
"""

from __future__ import annotations

import ast
import inspect
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .flow import integer_names  # noqa: F401  (re-exported for reverse)
from .normalize import (
    ADD_AT,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    SETITEM,
    UNPACK,
    Function,
    Method,
)
from .rules import Rule, is_nondifferentiable, lookup
from .rules.arithmetic import IDENTITY


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]

    def active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def names_in(expr: ast.AST | None) -> Iterator[str]:
    if expr is None:
        return
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            yield node.id


def targets_of(stmt: ast.stmt) -> list[str]:
    if getattr(stmt, "prim", None) in (SETITEM, ADD_AT, LIST_APPEND, LIST_SET):
        return [stmt.args[0].id]  # type: ignore[attr-defined]  (the array or list changed)
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in names_in(t)]
    return []


def rule_for(stmt: ast.stmt) -> Rule | None:
    prim = getattr(stmt, "prim", None)
    if prim is None or isinstance(prim, Method):
        return None
    return lookup(prim)


def bind(rule: Rule, stmt: ast.stmt) -> dict[str, Any]:
    """Match a statement's arguments to the rule's parameters (raises TypeError)."""
    bound = rule.signature.bind(*stmt.args, **stmt.kwargs)  # type: ignore[attr-defined]
    bound.apply_defaults()
    return dict(bound.arguments)


def differentiable_inputs(stmt: ast.stmt) -> list[str]:
    """Names a gradient flows into from this statement (with repeats)."""
    prim = getattr(stmt, "prim", None)
    if prim is None or (not isinstance(prim, Method) and is_nondifferentiable(prim)):
        return []
    args: list[ast.expr] = stmt.args  # type: ignore[attr-defined]
    if prim is LIST_SET:  # the list's other slots, and the value written
        return [args[0].id, *names_in(args[2])]  # type: ignore[attr-defined]
    if prim is SETITEM or prim is ADD_AT:  # the array's other elements, and the value
        return [args[0].id, *names_in(args[2])]  # type: ignore[attr-defined]
    if prim is LIST_APPEND:  # the list's earlier elements, and the value appended
        return [args[0].id, *names_in(args[1])]  # type: ignore[attr-defined]
    if prim is LIST_GET:
        return [args[0].id]  # type: ignore[attr-defined]
    if prim is IDENTITY or prim is UNPACK:
        return [n for a in args for n in names_in(a)]
    rule = rule_for(stmt)
    if rule is not None:
        try:
            bound = bind(rule, stmt)
        except TypeError:
            rule = None
        else:
            out = []
            for p in rule.params:
                if p not in rule.differentiable:
                    continue
                value = bound.get(p)
                parts = value if isinstance(value, tuple) else (value,)  # *args: a tuple
                out.extend(n for v in parts if isinstance(v, ast.AST) for n in names_in(v))
            return out
    # no rule: every input might need a gradient; the reverse stage reports it
    kwargs: dict = stmt.kwargs  # type: ignore[attr-defined]
    return [n for a in list(args) + list(kwargs.values()) for n in names_in(a)]


def walk_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, depth first, in program order (into branches and loops)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from walk_statements(stmt.body)
            yield from walk_statements(stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.While)):
            yield from walk_statements(stmt.body)


def analyze(fn: Function, wrt: list[str]) -> Activity:
    """Varied (forward) and useful (backward) names.

    In straight-line SSA code one pass each suffices; loop-carried copies
    (`h_1 = h_2` at the end of a body, read at its start) need a fixpoint.
    """
    statements = list(walk_statements(fn.body))
    edges = [(targets_of(s), differentiable_inputs(s)) for s in statements]
    varied = set(wrt)
    changed = True
    while changed:
        changed = False
        for targets, inputs in edges:
            if any(n in varied for n in inputs) and not set(targets) <= varied:
                varied.update(targets)
                changed = True
    useful: set[str] = set(names_in(fn.result))
    changed = True
    while changed:
        changed = False
        for targets, inputs in reversed(edges):
            if any(t in useful for t in targets) and not set(inputs) <= useful:
                useful.update(inputs)
                changed = True
    return Activity(varied, useful)


def signature_text(rule: Rule) -> str:
    return f"{rule.name}{inspect.Signature(list(rule.signature.parameters.values()))}"


# -- outputs that are scalars by construction ----------------------------------------


def _full_reductions() -> set[int]:
    import numpy as np

    funcs = [
        np.sum,
        np.mean,
        np.max,
        np.min,
        np.amax,
        np.amin,
        np.prod,
        np.var,
        np.std,
        np.nansum,
        np.vdot,
        np.linalg.norm,
    ]
    methods = ["sum", "mean", "max", "min", "prod", "var", "std"]
    return {id(f) for f in funcs} | {id(getattr(np.ndarray, m)) for m in methods}


_FULL_REDUCTIONS: set[int] = set()


def _literal_is(expr: Any, value: Any) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is value


def scalar_names(
    fn: Function, scalar_params: frozenset[str] = frozenset(), ranks: dict | None = None
) -> set[str]:
    """All names that are scalars whatever the argument shapes (full reductions, math.*,
    sizes): grad seeds such an output with the constant 1.0, with no run-time check.

    `scalar_params` are parameters known to be scalars (the first call's
    floats, for a variant specialised on them); `ranks` gives the ndim of
    array parameters, so that `x_obs[i]` of a 1-D `x_obs` is a scalar.  This is a greatest fixpoint,
    so values carried around a loop stay scalars when everything feeding them is.
    """
    if not _FULL_REDUCTIONS:
        _FULL_REDUCTIONS.update(_full_reductions())
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in walk_statements(fn.body):
        for t in targets_of(stmt):
            defs.setdefault(t, []).append(stmt)
    scalars = set(defs) | set(scalar_params)
    for stmt in walk_statements(fn.body):  # range() loop variables are ints
        if isinstance(stmt, ast.For) and getattr(stmt, "range_loop", False):
            scalars.update(names_in(stmt.target))

    def element_of_ranked(base: ast.expr, index: ast.expr) -> bool:
        """x[i, j] with as many int indices as x (a parameter of known ndim) has axes."""
        if not (ranks and isinstance(base, ast.Name) and base.id in ranks):
            return False
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return len(parts) == ranks[base.id] and all(
            (isinstance(p, ast.Constant) and type(p.value) is int)
            or (isinstance(p, ast.Name) and p.id in scalars)
            for p in parts
        )

    def inert_scalar(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Subscript):
            return element_of_ranked(expr.value, expr.slice)
        if isinstance(expr, ast.BinOp) and not isinstance(expr.op, ast.MatMult):
            return inert_scalar(expr.left) and inert_scalar(expr.right)
        if isinstance(expr, ast.UnaryOp):
            return inert_scalar(expr.operand)
        return scalar_atom(expr) or _is_size(expr)

    def scalar_atom(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) in (int, float)
        return isinstance(expr, ast.Name) and expr.id in scalars

    def scalar_stmt(stmt: ast.stmt) -> bool:
        if (
            not isinstance(stmt, ast.Assign)
            or len(stmt.targets) != 1
            or not isinstance(stmt.targets[0], ast.Name)
        ):
            return False
        prim = getattr(stmt, "prim", None)
        value = stmt.value
        if getattr(stmt, "unbound_init", False):  # `y_1 = None`: no value is read from it
            return True
        if prim is None:  # inert: sizes (X.shape[0], len(xs)) and arithmetic on scalars
            return inert_scalar(value)
        args = stmt.args  # type: ignore[attr-defined]
        if isinstance(value, (ast.BinOp, ast.UnaryOp)) or prim is IDENTITY:
            return bool(args) and all(scalar_atom(a) for a in args)
        if prim is operator.getitem:
            return element_of_ranked(args[0], args[1])
        if isinstance(prim, np.ufunc) and prim.nout == 1 and not stmt.kwargs:  # type: ignore
            return len(args) == prim.nin and all(scalar_atom(a) for a in args)
        if id(prim) in _FULL_REDUCTIONS:
            kwargs = stmt.kwargs  # type: ignore[attr-defined]
            args = stmt.args  # type: ignore[attr-defined]
            axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
            if prim is _numpy_vdot():
                return True
            if axis is not None and not _literal_is(axis, None):
                return False
            keepdims = kwargs.get("keepdims")
            return keepdims is None or _literal_is(keepdims, False)
        module = getattr(prim, "__module__", None)
        return module == "math" or prim is float

    changed = True
    while changed:
        changed = False
        for name, stmts in defs.items():
            if name in scalars and not all(scalar_stmt(st) for st in stmts):
                scalars.discard(name)
                changed = True
    return scalars


def _numpy_vdot() -> Any:
    import numpy as np

    return np.vdot


def _is_size(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Attribute):
        return expr.attr in ("size", "ndim")
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Attribute):
        return (
            expr.value.attr == "shape"
            and isinstance(expr.slice, ast.Constant)
            and type(expr.slice.value) is int
        )
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id == "len" and len(expr.args) == 1
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float)
