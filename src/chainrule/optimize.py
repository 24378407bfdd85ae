"""Stage 6, optimize: remove what the generated function does not need.

Activity analysis already keeps gradients to the values that need them; this
stage removes primal statements whose values nobody reads (for example an
intermediate only the user's own dead code used).  It only removes
statements known to be free of side effects: single operations with a
derivative rule, and expressions that call nothing.  Calls to unknown
functions (print, random number generators) always stay.
"""

from __future__ import annotations

import ast

from .analyze import names_in


def _removable(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.Assign):
        return False
    if getattr(stmt, "prim", None) is not None:
        return True
    return not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))


def _stored(stmt: ast.stmt) -> set[str]:
    return {n for t in stmt.targets for n in names_in(t)} if isinstance(stmt, ast.Assign) else set()


def remove_dead_primal(primal: list[ast.stmt], live_roots: list[ast.AST]) -> list[ast.stmt]:
    """Drop removable primal assignments whose targets are never read."""
    while True:
        read: set[str] = set()
        for node in [*primal, *live_roots]:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    read.add(sub.id)
        dead = [s for s in _walk(primal) if _removable(s) and _stored(s) and not (_stored(s) & read)]
        if not dead:
            return primal
        ids = {id(s) for s in dead}
        primal = _filter(primal, ids)


def _walk(body):
    for s in body:
        yield s
        if isinstance(s, ast.If):
            yield from _walk(s.body)
            yield from _walk(s.orelse)


def _filter(body: list[ast.stmt], ids: set[int]) -> list[ast.stmt]:
    out = []
    for s in body:
        if id(s) in ids:
            continue
        if isinstance(s, ast.If):
            s.body = _filter(s.body, ids) or [ast.Pass()]
            s.orelse = _filter(s.orelse, ids)
        out.append(s)
    return out
