"""Stage 6, optimize (continued): save per iteration only what the backward pass reads.

The reverse transformation decides what a loop iteration saves
(`stack.append((t1, t2))` in the primal, `t1, t2 = stack.pop()` in the
backward pass) from the adjoint code it writes.  The rewrites of a variant
(optimize.py) then simplify that code, and some saved values are no longer
read: a value kept only for its shape, once the shape is known, or a product
folded away.  `prune_saved_values` takes them out of both the record and its
restore; the statements that computed them may then be dead too.
"""

from __future__ import annotations

import ast

from .ir import walk_statements


def _push(stmt: ast.stmt) -> tuple[str, ast.Call] | None:
    """`stack.append(value)`: the list's name and the call."""
    if (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Attribute)
        and stmt.value.func.attr == "append"
        and isinstance(stmt.value.func.value, ast.Name)
        and len(stmt.value.args) == 1
        and not stmt.value.keywords
    ):
        return stmt.value.func.value.id, stmt.value
    return None


def _pop(stmt: ast.stmt) -> str | None:
    """`names = stack.pop()`: the list's name."""
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Attribute)
        and stmt.value.func.attr == "pop"
        and isinstance(stmt.value.func.value, ast.Name)
        and not stmt.value.args
        and not stmt.value.keywords
    ):
        return stmt.value.func.value.id
    return None


def _names(node: ast.expr) -> list[str] | None:
    """The names of `a` or `(a, b)`; None for anything else."""
    elts = node.elts if isinstance(node, ast.Tuple) else [node]
    if all(isinstance(e, ast.Name) for e in elts):
        return [e.id for e in elts]  # type: ignore[attr-defined]
    return None


def _pack(names: list[str], ctx: ast.expr_context) -> ast.expr:
    if len(names) == 1:
        return ast.Name(names[0], ctx)
    return ast.Tuple(elts=[ast.Name(n, type(ctx)()) for n in names], ctx=ctx)


def prune_saved_values(function: ast.FunctionDef, primal: list[ast.stmt]) -> None:
    """Drop, from each loop's saved records, the values no statement of the backward
    pass reads.  `primal` holds the function's top-level primal statements.

    Only a list made empty in the function (`stack = []`), with one push in
    the primal and one pop in the backward pass of the same layout, is
    changed; a name stays saved if any backward statement reads it.
    """
    primal_ids = {id(s) for s in walk_statements(primal)}
    statements = list(walk_statements(function.body))
    backward = [s for s in statements if id(s) not in primal_ids]
    made_empty = {
        s.targets[0].id
        for s in statements
        if isinstance(s, ast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], ast.Name)
        and isinstance(s.value, ast.List)
        and not s.value.elts
    }
    pushes: dict[str, list[ast.Call]] = {}
    pops: dict[str, list[ast.Assign]] = {}
    for s in statements:
        push = _push(s)
        if push is not None and id(s) in primal_ids:
            pushes.setdefault(push[0], []).append(push[1])
        popped = _pop(s)
        if popped is not None and id(s) not in primal_ids:
            pops.setdefault(popped, []).append(s)  # type: ignore[arg-type]
    read_back = {
        n.id
        for s in backward
        if _pop(s) is None
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    for stack in made_empty & pushes.keys() & pops.keys():
        if len(pushes[stack]) != 1 or len(pops[stack]) != 1:
            continue
        push_call, pop_stmt = pushes[stack][0], pops[stack][0]
        saved, restored = _names(push_call.args[0]), _names(pop_stmt.targets[0])
        if saved is None or restored is None or saved != restored:
            continue
        if sum(1 for n in ast.walk(function) if _is_name(n, stack)) != 3:
            continue  # (made, pushed, popped: nothing else may see the records)
        kept = [n for n in saved if n in read_back]
        if kept == saved:
            continue
        if kept:
            push_call.args[0] = _pack(kept, ast.Load())
            pop_stmt.targets[0] = _pack(kept, ast.Store())
        else:  # nothing to save: the list, its push and its pop go
            _remove(function.body, {id(s) for s in statements if _mentions(s, stack)})


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _mentions(stmt: ast.stmt, stack: str) -> bool:
    """`stack = []`, its push or its pop (the only statements that name it)."""
    if isinstance(stmt, (ast.For, ast.While, ast.If)):
        return False
    return any(_is_name(n, stack) for n in ast.walk(stmt))


def _remove(body: list[ast.stmt], doomed: set[int]) -> None:
    """Delete the statements in `doomed`, at any depth (an emptied body gets `pass`)."""
    body[:] = [s for s in body if id(s) not in doomed]
    for s in body:
        if isinstance(s, (ast.For, ast.While, ast.If)):
            _remove(s.body, doomed)
            if not s.body:
                s.body.append(ast.Pass())
            _remove(s.orelse, doomed)
