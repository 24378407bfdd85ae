"""Stage 6, optimize: remove what the generated function does not need.

Activity analysis already keeps gradients to the values that need them; this
stage removes primal statements whose values nobody reads (for example an
intermediate only the user's own dead code used, or a tangent nobody needs).
A transformation says which statements of its function are candidates
(`Emitted.removable`); `remove_dead_statements` drops those that are dead.  It only removes
statements known to be free of side effects: single operations with a
derivative rule, and expressions that call nothing.  Calls to unknown
functions (print, random number generators) always stay.
"""

from __future__ import annotations

import ast

from .ir import Method, assigned_names, facts_of, walk_statements


def _removable(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.Assign) or not all(isinstance(t, ast.Name) for t in stmt.targets):
        return False  # (writes into arrays are effects, not definitions)
    record = facts_of(stmt)
    if record.pure:
        return True
    if isinstance(record.prim, Method):  # a method without a rule may change its object
        return False  # (hs.pop() takes an item off the list even when nobody reads it)
    if record.prim is not None:
        return True
    return not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))


def remove_dead_primal(primal: list[ast.stmt], live_roots: list[ast.AST]) -> list[ast.stmt]:
    """Drop removable primal assignments whose targets are never read.

    A worklist over use counts: removing a statement may make the statements
    that fed it dead in turn, in time linear in the size of the code.
    """
    statements = list(walk_statements(primal))
    uses: dict[str, int] = {}
    own_reads: dict[int, list[str]] = {}
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in statements:
        reads = _own_loads(stmt)
        own_reads[id(stmt)] = reads
        for name in reads:
            uses[name] = uses.get(name, 0) + 1
        for name in assigned_names(stmt):
            defs.setdefault(name, []).append(stmt)
    for root in live_roots:
        for sub in ast.walk(root):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                uses[sub.id] = uses.get(sub.id, 0) + 1
    dead: set[int] = set()
    work = [s for s in statements if _removable(s)]
    while work:
        stmt = work.pop()
        if id(stmt) in dead or not assigned_names(stmt):
            continue
        if any(uses.get(name, 0) for name in assigned_names(stmt)):
            continue
        dead.add(id(stmt))
        for name in own_reads[id(stmt)]:
            uses[name] -= 1
            if uses[name] == 0:
                work.extend(d for d in defs.get(name, []) if _removable(d) and id(d) not in dead)
    return _filter(primal, dead) if dead else primal


def _own_loads(stmt: ast.stmt) -> list[str]:
    """Names a statement reads itself (a compound statement: its test or iterable)."""
    if isinstance(stmt, (ast.If, ast.While)):
        parts: list[ast.AST] = [stmt.test]
    elif isinstance(stmt, ast.For):
        parts = [stmt.iter]
    else:
        parts = [stmt]
    return [
        n.id
        for part in parts
        for n in ast.walk(part)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


def _filter(body: list[ast.stmt], ids: set[int]) -> list[ast.stmt]:
    out = []
    for s in body:
        if id(s) in ids:
            continue
        if isinstance(s, ast.If):
            s.body = _filter(s.body, ids) or [ast.Pass()]
            s.orelse = _filter(s.orelse, ids)
        elif isinstance(s, (ast.For, ast.While)):
            s.body = _filter(s.body, ids) or [ast.Pass()]
        out.append(s)
    return out


def remove_dead_statements(function: ast.FunctionDef, removable: list[ast.stmt]) -> None:
    """Drop, from `function`'s body, the statements of `removable` (some of its top-level
    statements, the primal part) whose values nothing else in the function reads."""
    if not removable:
        return
    candidates = {id(s) for s in removable}
    roots = [s for s in function.body if id(s) not in candidates]
    kept = {id(s) for s in remove_dead_primal(removable, roots)}
    function.body = [s for s in function.body if id(s) not in candidates or id(s) in kept]
