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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .normalize import UNPACK, Function, Method
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
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from walk_statements(stmt.body)
            yield from walk_statements(stmt.orelse)


def analyze(fn: Function, wrt: list[str]) -> Activity:
    varied = set(wrt)
    for stmt in walk_statements(fn.body):  # forward: definitions come before uses
        if any(n in varied for n in differentiable_inputs(stmt)):
            varied.update(targets_of(stmt))
    useful: set[str] = set(names_in(fn.result))
    for stmt in reversed(list(walk_statements(fn.body))):
        if any(t in useful for t in targets_of(stmt)):
            useful.update(differentiable_inputs(stmt))
    return Activity(varied, useful)


def signature_text(rule: Rule) -> str:
    return f"{rule.name}{inspect.Signature(list(rule.signature.parameters.values()))}"
