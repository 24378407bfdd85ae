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
from collections.abc import Mapping
from typing import cast

import numpy as np

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


def accumulate_in_place(function: ast.FunctionDef, env: Mapping[str, object]) -> None:
    """`dW = dW + g` becomes `dW += g` where dW is a buffer the function owns.

    An accumulator qualifies when its first value is `np.zeros_like(p)` of a
    parameter p (a new array of p's shape and dtype), every other assignment to
    it is `dW = dW + ...`, and the function reads it only as an operand of an
    operator (which makes a new array) or returns it: then no other name can
    share the buffer, and adding into it changes nothing anyone else sees.
    Used for the variants specialised at the first call (whose parameters the
    API has already made float arrays); a function with a nested `def` (vjp's
    backward) is left as it is.
    """
    params = {a.arg for a in function.args.args}
    if not any(  # (most functions have no accumulator: then nothing else is walked)
        isinstance(s, ast.Assign) and _owned_zeros(s.value, params, env)
        for s in walk_statements(function.body)
    ):
        return
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(function):
        if isinstance(node, (ast.FunctionDef, ast.Lambda)) and node is not function:
            return
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    assigns: dict[str, list[ast.Assign]] = {}
    bad: set[str] = set()
    for stmt in walk_statements(function.body):
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                assigns.setdefault(stmt.targets[0].id, []).append(stmt)
            else:
                bad.update(
                    n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)
                )
        elif isinstance(stmt, (ast.AugAssign, ast.For)):
            bad.update(n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name))
    for node in ast.walk(function):  # (a second walk: parents are all known now)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            parent = parents.get(id(node))
            if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)):
                continue
            if isinstance(parent, ast.Return) or (
                isinstance(parent, ast.Tuple) and isinstance(parents.get(id(parent)), ast.Return)
            ):
                continue
            bad.add(node.id)  # read as a value another name, call or container may keep
    replacements: dict[int, ast.stmt] = {}
    for name, stmts in assigns.items():
        if name in bad or name in params or not _owned_zeros(stmts[0].value, params, env):
            continue
        updates = stmts[1:]
        if not updates or not all(_adds_to(s, name) for s in updates):
            continue
        for s in updates:
            value = cast(ast.BinOp, s.value)
            aug = ast.AugAssign(target=s.targets[0], op=ast.Add(), value=value.right)
            replacements[id(s)] = ast.copy_location(aug, s)
    if replacements:
        _replace(function.body, replacements)


def _replace(body: list[ast.stmt], replacements: dict[int, ast.stmt]) -> None:
    for i, stmt in enumerate(body):
        body[i] = replacements.get(id(stmt), stmt)
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                _replace(inner, replacements)


def _owned_zeros(value: ast.expr, params: set[str], env: Mapping[str, object]) -> bool:
    """`np.zeros_like(p)` of a parameter p (`env`: what the code's names denote)."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "zeros_like"
        and isinstance(value.func.value, ast.Name)
        and env.get(value.func.value.id) is np
        and len(value.args) == 1
        and not value.keywords
        and isinstance(value.args[0], ast.Name)
        and value.args[0].id in params
    )


def _adds_to(stmt: ast.Assign, name: str) -> bool:
    value = stmt.value
    return (
        isinstance(value, ast.BinOp)
        and isinstance(value.op, ast.Add)
        and isinstance(value.left, ast.Name)
        and value.left.id == name
    )


def remove_copies(function: ast.FunctionDef) -> None:
    """Drop copies `a = b` between names, reading b wherever a was read.

    A copy goes when a and b are each assigned once (b may be a parameter),
    b in the same statement list before the copy, and a is read only after
    the copy: then a and b hold the same value wherever a is read, in every
    iteration of any loop around them.  A copy the return statement reads
    stays (`dh0 = dh`: the gradient of parameter h0 keeps its name).
    Functions with a nested `def` (vjp's backward) are left as they are.
    """
    if any(
        isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not function
        for n in ast.walk(function)
    ):
        return
    params = {a.arg for a in function.args.args}
    number: dict[int, int] = {}  # statement -> its place in program order
    block_of: dict[int, tuple[int, int]] = {}  # statement -> (its list, index in it)
    assigned: dict[str, list[ast.stmt]] = {}
    loads: dict[str, list[tuple[int, ast.Name]]] = {}
    returned: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for i, stmt in enumerate(body):
            n = number[id(stmt)] = len(number)
            block_of[id(stmt)] = (id(body), i)
            heads: list[ast.AST]
            if isinstance(stmt, (ast.If, ast.While)):
                heads = [stmt.test]
            elif isinstance(stmt, ast.For):
                heads = [stmt.target, stmt.iter]
            else:
                heads = [stmt]
            for head in heads:
                for node in ast.walk(head):
                    if not isinstance(node, ast.Name):
                        continue
                    if isinstance(node.ctx, ast.Load):
                        loads.setdefault(node.id, []).append((n, node))
                        if isinstance(stmt, ast.Return):
                            returned.add(node.id)
                    else:
                        assigned.setdefault(node.id, []).append(stmt)
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                assigned.setdefault(stmt.target.id, []).append(stmt)
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    visit(inner)

    visit(function.body)
    rename: dict[str, str] = {}
    dropped: set[int] = set()
    for name, stmts in assigned.items():
        copy = stmts[0]
        if (
            len(stmts) != 1
            or name in params
            or name in returned
            or not isinstance(copy, ast.Assign)
            or len(copy.targets) != 1
            or not isinstance(copy.targets[0], ast.Name)
            or not isinstance(copy.value, ast.Name)
        ):
            continue
        source = copy.value.id
        source_defs = assigned.get(source, [])
        if source == name or len(source_defs) != (0 if source in params else 1):
            continue
        if source_defs:
            block, index = block_of[id(source_defs[0])]
            if block != block_of[id(copy)][0] or index >= block_of[id(copy)][1]:
                continue
        at = number[id(copy)]
        if any(n <= at for n, node in loads.get(name, []) if node is not copy.value):
            continue
        rename[name] = source
        dropped.add(id(copy))
    if not rename:
        return

    def final(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    for name in rename:
        for _, node in loads.get(name, []):
            node.id = final(name)
    _drop(function.body, dropped)


def _drop(body: list[ast.stmt], ids: set[int]) -> None:
    body[:] = [s for s in body if id(s) not in ids] or ([ast.Pass()] if body else [])
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner:
                _drop(inner, ids)
