"""Stage 2, part of normalize: comprehensions over differentiated values become loops.

A list comprehension is the loop it stands for, and `sum` of a generator is an
accumulation, so both are written out and normalized like any loop:

    ys = [f(x) for x in xs if x > 0]     items = []
                                    ->   for x_1 in xs:
                                             if x_1 > 0:
                                                 items.append(f(x_1))
                                         ys = items

    s = sum(g(p) for p in ps)       ->   total = 0
                                         for p_1 in ps:
                                             total = total + g(p_1)

The comprehension's variables get names of their own (a comprehension is its own
scope in Python, so `x` outside keeps its value).  Only comprehensions Python
surely evaluates are lowered here (they reach `ExpressionNormalizer.atom` or a
call of `sum`, `list` or `tuple`); one inside a lambda, another comprehension or
a lazy operand is still refused where it stands, as are set and dict
comprehensions and nested scopes inside the comprehension.
"""

from __future__ import annotations

import ast

from ..ir import clone
from .advice import unsupported_expression
from .core import Normalizer

_INNER_SCOPES = (
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.NamedExpr,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
)

Comprehension = ast.ListComp | ast.GeneratorExp


class ComprehensionLowering:
    """Writes a comprehension out as statements and returns the name holding its value."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def items(self, expr: Comprehension) -> ast.Name:
        """`[e for t in xs if c]`: a list built by appends."""
        items = self.n.local_name("items")
        self.n.varied_user.add(items)  # (activity ran before this name existed)
        empty = ast.copy_location(ast.List(elts=[], ctx=ast.Load()), expr)
        self.n.assignments.assign_name(items, empty)
        self._loops(expr, lambda elt: _append(items, elt))
        return ast.copy_location(ast.Name(id=items, ctx=ast.Load()), expr)

    def total(self, expr: Comprehension, start: ast.expr | None) -> ast.Name:
        """`sum(e for t in xs if c)`: Python's sum, the items added to `start` in order."""
        total = self.n.local_name("total")
        self.n.varied_user.add(total)
        first = start if start is not None else ast.Constant(0)
        self.n.assignments.assign_name(total, ast.copy_location(first, expr))
        self._loops(expr, lambda elt: _accumulate(total, elt))
        return ast.copy_location(ast.Name(id=total, ctx=ast.Load()), expr)

    def _loops(self, expr: Comprehension, innermost) -> None:
        for part in [expr.elt, *(p for g in expr.generators for p in [g.iter, *g.ifs])]:
            for sub in ast.walk(part):
                if isinstance(sub, _INNER_SCOPES) or any(g.is_async for g in expr.generators):
                    raise self.n.error(expr, unsupported_expression(expr))
        renames: dict[str, str] = {}
        headers = []
        for generator in expr.generators:
            iterator = _renamed(generator.iter, renames)  # in the scope so far
            for name in [n for n in ast.walk(generator.target) if isinstance(n, ast.Name)]:
                renames[name.id] = self.n.local_name(name.id)
            target = _renamed(generator.target, renames)
            tests = [_renamed(t, renames) for t in generator.ifs]
            headers.append((target, iterator, tests))
        body: list[ast.stmt] = [innermost(_renamed(expr.elt, renames))]
        for target, iterator, tests in reversed(headers):
            for test in reversed(tests):
                body = [ast.If(test=test, body=body, orelse=[])]
            before: list[ast.stmt] = []
            if isinstance(iterator, (ast.Tuple, ast.List)) and self.n.varied(iterator):
                # a display of differentiated values: a container, named (loops over it unroll)
                sequence = self.n.local_name("sequence")
                store = ast.Name(id=sequence, ctx=ast.Store())
                before = [ast.Assign(targets=[store], value=iterator)]
                iterator = ast.Name(id=sequence, ctx=ast.Load())
            body = [*before, ast.For(target=target, iter=iterator, body=body, orelse=[])]
        for stmt in body:
            for node in ast.walk(stmt):
                ast.copy_location(node, expr)
            self.n.statements.statement(stmt)


def _renamed(node: ast.expr, renames: dict[str, str]) -> ast.expr:
    """A copy of `node` with the comprehension's variables under their new names."""
    copy = clone(node)
    for sub in ast.walk(copy):
        if isinstance(sub, ast.Name) and sub.id in renames:
            sub.id = renames[sub.id]
    return copy


def _append(items: str, elt: ast.expr) -> ast.stmt:
    method = ast.Attribute(value=ast.Name(id=items, ctx=ast.Load()), attr="append", ctx=ast.Load())
    return ast.Expr(value=ast.Call(func=method, args=[elt], keywords=[]))


def _accumulate(total: str, elt: ast.expr) -> ast.stmt:
    added = ast.BinOp(left=ast.Name(id=total, ctx=ast.Load()), op=ast.Add(), right=elt)
    return ast.Assign(targets=[ast.Name(id=total, ctx=ast.Store())], value=added)
