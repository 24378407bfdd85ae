"""Activity analysis: which values can carry a gradient.

A value needs a gradient only if it is *varied* (it depends, through
differentiable operations, on an argument we differentiate with respect to)
and *useful* (the output depends on it through differentiable operations).
Everything else is plain primal code: no gradient variable, no zeros.

Two analyses, for two stages:

* before normalizing, `possibly_varied` is a cheap, flow-insensitive pass
  over the user's code that says which of its variables *might* be varied,
  and `expr_varied` asks it of one expression: normalize leaves expressions
  that cannot be (shapes, masks, data) as the user wrote them;
* on normalized code (one operation per statement, SSA names), `analyze` is
  exact: one forward pass for varied, one backward pass for useful.
  `differentiable_inputs` says which arguments of a statement a derivative
  flows into, according to the statement's rule; reverse and forward mode
  use it too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import numpy as np

from .flow import integer_names
from .ir import (
    ADD_AT,
    IDENTITY,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    MISSING,
    SETITEM,
    UNPACK,
    Evaluated,
    Function,
    Method,
    Parsed,
    facts_of,
    name_of,
    names_in,
    targets_of,
    walk_statements,
)
from .rules import Rule, arguments_without_derivative, is_nondifferentiable, lookup

# attributes of arrays that describe them rather than hold their values
DESCRIPTIVE_ATTRS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags"})


# -- before normalizing: which user variables might be varied ------------------------------


def expr_varied(expr: ast.AST, varied: set[str], parsed: Parsed) -> bool:
    """Could `expr` depend differentiably on a varied name?  (Conservative.)"""
    if isinstance(expr, Evaluated):
        return expr.varied
    if isinstance(expr, ast.Name):
        return expr.id in varied and parsed.is_local(expr.id)
    if isinstance(expr, (ast.Constant, ast.Compare)):
        return False
    if isinstance(expr, ast.UnaryOp):
        return not isinstance(expr.op, (ast.Not, ast.Invert)) and expr_varied(
            expr.operand, varied, parsed
        )
    if isinstance(expr, ast.BinOp) and isinstance(
        expr.op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.FloorDiv, ast.LShift, ast.RShift)
    ):
        return False
    if isinstance(expr, ast.Attribute):
        if expr.attr in DESCRIPTIVE_ATTRS:
            return False
        return expr_varied(expr.value, varied, parsed)
    if isinstance(expr, ast.Subscript):
        if isinstance(parsed.resolve(expr.value), type(np.r_).__mro__[1]):
            return expr_varied(expr.slice, varied, parsed)  # np.r_[x, y] joins its "index"
        return expr_varied(expr.value, varied, parsed)
    if isinstance(expr, ast.Call):
        callee = parsed.resolve(expr.func)
        if callee is not MISSING and is_nondifferentiable(callee):
            return False
        if isinstance(expr.func, ast.Attribute) and callee is MISSING:
            method = getattr(np.ndarray, expr.func.attr, None)
            if method is not None and is_nondifferentiable(method):
                return False
            if expr_varied(expr.func.value, varied, parsed):
                return True
        if isinstance(expr.func, ast.Name) and expr_varied(expr.func, varied, parsed):
            return True  # a local function (a closure) reading differentiated values
        parts = list(expr.args) + [k.value for k in expr.keywords]
        return any(expr_varied(a, varied, parsed) for a in parts)
    if isinstance(expr, ast.IfExp):
        return expr_varied(expr.body, varied, parsed) or expr_varied(expr.orelse, varied, parsed)
    return any(expr_varied(child, varied, parsed) for child in ast.iter_child_nodes(expr))


@dataclass(frozen=True)
class _Position:
    """One position of the records appended to a list (`stack#0`), for `possibly_varied`."""

    key: str


def possibly_varied(parsed: Parsed, seeds: set[str], body: list[ast.stmt]) -> set[str]:
    """User variables that may depend on the differentiated parameters.

    Flow-insensitive fixpoint over every assignment in the function: cheap,
    conservative, and good enough to decide what to leave unflattened.
    """
    varied = set(seeds)
    assigns: list[tuple[list[str], Any]] = []
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and len(node.args) == 1
        ):
            owner, item = node.func.value.id, node.args[0]
            assigns.append(([owner], item))  # hs.append(h): hs holds h
            if isinstance(item, ast.Tuple):  # a record: each position on its own
                for k, elt in enumerate(item.elts):
                    assigns.append(([f"{owner}#{k}"], elt))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "at"
            and len(node.args) == 3
            and isinstance(node.args[0], ast.Name)
        ):
            assigns.append(([node.args[0].id], node.args[2]))  # np.add.at(a, i, v): a holds v
        if (
            isinstance(node, ast.Call)
            and (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "fill_diagonal"
                or isinstance(node.func, ast.Name)
                and node.func.id == "fill_diagonal"
            )
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Name)
        ):
            assigns.append(([node.args[0].id], node.args[1]))  # np.fill_diagonal(a, v)
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Tuple)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "pop"
            and isinstance(node.value.func.value, ast.Name)
            and not node.value.args
        ):
            # `i, t = stack.pop()` restores a record: `i` varies only if what was
            # pushed at its position does (a saved loop index never does)
            owner = node.value.func.value.id
            for k, elt in enumerate(node.targets[0].elts):
                assigns.append(
                    (
                        [n.id for n in ast.walk(elt) if isinstance(n, ast.Name)],
                        _Position(f"{owner}#{k}"),
                    )
                )
            continue
        if isinstance(node, ast.FunctionDef):  # a local def varies with what it reads
            reads = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
            assigns.append(([node.name], ast.Tuple(elts=reads, ctx=ast.Load())))
        if isinstance(node, ast.For):
            targets = [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
            assigns.append((targets, node.iter))
        elif isinstance(node, ast.Assign):
            targets = [
                n.id
                for t in node.targets
                for n in ast.walk(t.value if isinstance(t, ast.Subscript) else t)
                if isinstance(n, ast.Name)
            ]
            assigns.append((targets, node.value))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            target = node.target.value if isinstance(node.target, ast.Subscript) else node.target
            targets = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
            value = node.value
            if isinstance(node, ast.AugAssign):
                value = ast.BinOp(
                    left=ast.Name(id=targets[0], ctx=ast.Load()) if targets else node.target,
                    op=node.op,
                    right=node.value,
                )
            assigns.append((targets, value))
    changed = True
    while changed:
        changed = False
        for targets, value in assigns:
            if set(targets) <= varied:
                continue
            if (
                value.key in varied
                if isinstance(value, _Position)
                else expr_varied(value, varied, parsed)
            ):
                varied.update(targets)
                changed = True
    return varied - integer_names(body, parsed.params)


# -- on normalized code: which names are active ----------------------------------------------


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]

    def active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def rule_for(stmt: ast.stmt) -> Rule | None:
    """The adjoint rule of the primitive a statement applies, if it has one."""
    prim = facts_of(stmt).prim
    if prim is None or isinstance(prim, Method):
        return None
    return lookup(prim)


def differentiable_inputs(stmt: ast.stmt) -> list[str]:
    """Names a gradient flows into from this statement (with repeats)."""
    record = facts_of(stmt)
    prim = record.prim
    if prim is None or (not isinstance(prim, Method) and is_nondifferentiable(prim)):
        return []
    args = record.args
    if prim is LIST_SET:  # the list's other slots, and the value written
        return [name_of(args[0]), *names_in(args[2])]
    if prim is SETITEM or prim is ADD_AT:  # the array's other elements, and the value
        return [name_of(args[0]), *names_in(args[2])]
    if prim is LIST_APPEND:  # the list's earlier elements, and the value appended
        return [name_of(args[0]), *names_in(args[1])]
    if prim is LIST_GET:
        return [name_of(args[0])]
    if prim is IDENTITY or prim is UNPACK:
        return [n for a in args for n in names_in(a)]
    rule = rule_for(stmt)
    if rule is not None:
        try:
            bound = rule.bind(args, record.kwargs)
        except TypeError:
            rule = None
        else:
            out = []
            underived = arguments_without_derivative(record.prim)  # refused when reached
            for p in rule.params:
                if p not in rule.differentiable and p not in underived:
                    continue
                value = bound.get(p)
                parts = value if isinstance(value, tuple) else (value,)  # *args: a tuple
                out.extend(n for v in parts if isinstance(v, ast.AST) for n in names_in(v))
            return out
    # no rule: every input might need a gradient; the reverse stage reports it
    return [n for a in list(args) + list(record.kwargs.values()) for n in names_in(a)]


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
