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

from .ir import Method, assigned_names, facts_of, is_comment, walk_statements


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

    Liveness is marked from what must stay (statements that are not removable,
    and `live_roots`) through the names they read to the statements that define
    those names, so a value that only feeds itself around a loop (a running loss
    the gradient does not return: `loss = loss + t` in every step) is dead too.
    Linear in the size of the code.
    """
    statements = list(walk_statements(primal))
    own_reads: dict[int, list[str]] = {}
    defs: dict[str, list[ast.stmt]] = {}
    live: set[int] = set()
    names: list[str] = []
    for stmt in statements:
        own_reads[id(stmt)] = _own_loads(stmt)
        for name in assigned_names(stmt):
            defs.setdefault(name, []).append(stmt)
        if not _removable(stmt):
            live.add(id(stmt))
            names.extend(own_reads[id(stmt)])
    for root in live_roots:
        names.extend(
            sub.id
            for sub in ast.walk(root)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
        )
    seen: set[str] = set()
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        for stmt in defs.get(name, []):
            if id(stmt) not in live:
                live.add(id(stmt))
                names.extend(own_reads[id(stmt)])
    dead = {id(s) for s in statements if id(s) not in live}
    loaded = set(names) | seen
    for stmt in reversed(statements):  # (inner loops first: an outer one may empty too)
        if _idle_range_loop(stmt, dead, loaded):
            dead.add(id(stmt))
    return _filter(primal, dead) if dead else primal


def _idle_range_loop(stmt: ast.stmt, dead: set[int], loaded: set[str]) -> bool:
    """`for t in range(n):` whose body is all dead and whose `t` nobody reads: the loop
    does nothing (`range` of names and arithmetic cannot fail or change anything)."""
    return (
        isinstance(stmt, ast.For)
        and not stmt.orelse
        and isinstance(stmt.target, ast.Name)
        and stmt.target.id not in loaded
        and isinstance(stmt.iter, ast.Call)
        and isinstance(stmt.iter.func, ast.Name)
        and stmt.iter.func.id == "range"
        and not any(isinstance(n, ast.Call) for a in stmt.iter.args for n in ast.walk(a))
        and all(id(s) in dead or is_comment(s) for s in stmt.body)
    )


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


def propagate_copies(function: ast.FunctionDef) -> None:
    """After a copy `a = b`, read b instead of a, until either name is assigned again.

    One forward pass over each straight-line run of statements (a loop or a
    branch body is a run of its own, and ends the run around it): the copies
    in force are a map, a statement first reads through it and then ends the
    copies of whatever it assigns.  A copy whose target is bound again while the
    copy is in force was never read (its reads read b), and is dropped; so are
    copies whose target nobody reads any more, and self-copies `a = a`.  This removes the chains a
    loop's backward pass is written with (`dh_2 = dh_1` at the top of the body,
    `dh_1 = dh_2` further down), which `remove_copies` leaves because those
    names are assigned more than once.  Return statements keep their names.
    """
    if any(
        isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not function
        for n in ast.walk(function)
    ):
        return

    unread: set[int] = set()  # copies overwritten before anything read them

    def run(body: list[ast.stmt]) -> None:
        copies: dict[str, str] = {}  # a -> b, for the copies `a = b` in force
        made: dict[str, ast.stmt] = {}  # a -> the copy statement `a = b` in force
        for stmt in body:
            if not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr)):
                copies.clear()
                for field in ("body", "orelse"):
                    inner = getattr(stmt, field, None)
                    if isinstance(inner, list):
                        run(inner)
                continue
            if copies:
                reads = [stmt.value]  # and the names a target reads (`a[i] = v`, `a[i] += v`)
                reads += stmt.targets if isinstance(stmt, ast.Assign) else []
                reads += [stmt.target] if isinstance(stmt, ast.AugAssign) else []
                for part in reads:
                    for node in ast.walk(part):
                        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                            node.id = copies.get(node.id, node.id)
            if _self_copy(stmt):
                continue  # `a = a` binds nothing new (and is dropped below)
            stored = set(assigned_names(stmt)) if not isinstance(stmt, ast.Expr) else set()
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
                stored.add(stmt.target.id)
            if stored:
                rebound = set()
                if isinstance(stmt, ast.Assign):  # (`a[i] = v` and `a += v` read a)
                    rebound = {
                        n.id
                        for t in stmt.targets
                        for n in ast.walk(t)
                        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                    }
                for a in [a for a, b in copies.items() if a in stored or b in stored]:
                    if a in rebound:
                        unread.add(id(made[a]))
                    del copies[a]
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Name)
                and stmt.value.id != stmt.targets[0].id
            ):
                copies[stmt.targets[0].id] = stmt.value.id
                made[stmt.targets[0].id] = stmt

    run(function.body)
    read: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            read.add(node.target.id)  # `a += x` reads a
    dropped = {
        id(stmt)
        for stmt in walk_statements(function.body)
        if isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Name)
        and (_self_copy(stmt) or stmt.targets[0].id not in read)
    } | unread
    if dropped:
        _drop(function.body, _with_own_comments(function.body, dropped))


def _with_own_comments(body: list[ast.stmt], ids: set[int]) -> set[int]:
    """`ids` and the comment lines that describe only statements in `ids`: the
    comment directly above a run of them that ends at another comment or at the
    end of its block (the statements of one rule)."""
    out = set(ids)
    for inner in statement_lists(body):
        k = 0
        while k < len(inner):
            if id(inner[k]) not in ids:
                k += 1
                continue
            start = k
            while k < len(inner) and id(inner[k]) in ids:
                k += 1
            if start and is_comment(inner[start - 1]):
                if k == len(inner) or is_comment(inner[k]):
                    out.add(id(inner[start - 1]))
    return out


def _self_copy(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Name)
        and stmt.value.id == stmt.targets[0].id
    )


def fold_repeated_terms(function: ast.FunctionDef) -> None:
    """`a = E` directly followed by `a = a + E` (the same E, not reading a) becomes
    `a = E * 2`, written `g * 2 * t` when E is `g * t`: the two products of
    `t * t`'s gradient (each operand receives `g * t`) are one.  Exact: E + E
    and 2 * E are the same floating-point number.  Likewise `a = -b`, then
    (with nothing reading a or binding a or b in between) `a = a + E` becomes
    `a = E - b`, one array operation fewer (E + -b is E - b exactly)."""
    for body in statement_lists(function.body):
        i = 0
        while i + 1 < len(body):
            _fold_negation(body, i)
            j = i + 1
            while j < len(body) - 1 and is_comment(body[j]):
                j += 1
            first, second = body[i], body[j]
            if (
                isinstance(first, ast.Assign)
                and isinstance(second, ast.Assign)
                and len(first.targets) == len(second.targets) == 1
                and isinstance(first.targets[0], ast.Name)
                and isinstance(second.targets[0], ast.Name)
                and first.targets[0].id == second.targets[0].id
                and _adds_to(second, first.targets[0].id)
                and ast.dump(cast(ast.BinOp, second.value).right) == ast.dump(first.value)
                and first.targets[0].id
                not in {n.id for n in ast.walk(first.value) if isinstance(n, ast.Name)}
            ):
                term = first.value
                two = ast.Constant(2)
                if isinstance(term, ast.BinOp) and isinstance(term.op, ast.Mult):
                    doubled: ast.expr = ast.BinOp(
                        ast.BinOp(term.left, ast.Mult(), two), ast.Mult(), term.right
                    )
                else:
                    doubled = ast.BinOp(term, ast.Mult(), two)
                first.value = ast.copy_location(doubled, term)
                del body[i + 1 : j + 1]  # the second term and its comment ("copy gate")
            i += 1


def _fold_negation(body: list[ast.stmt], i: int) -> None:
    """`a = -b` at i and a later `a = a + E` (see fold_repeated_terms) -> `a = E - b`."""
    first = body[i]
    if not (
        isinstance(first, ast.Assign)
        and len(first.targets) == 1
        and isinstance(first.targets[0], ast.Name)
        and isinstance(first.value, ast.UnaryOp)
        and isinstance(first.value.op, ast.USub)
        and isinstance(first.value.operand, ast.Name)
    ):
        return
    a, b = first.targets[0].id, first.value.operand.id
    for k in range(i + 1, len(body)):
        stmt = body[k]
        if is_comment(stmt):
            continue
        if not isinstance(stmt, ast.Assign) or any(
            isinstance(n, (ast.Subscript, ast.Attribute)) for t in stmt.targets for n in ast.walk(t)
        ):
            return  # (a write into an array may change b through another name)
        reads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}  # (targets too)
        if (
            len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == a
            and _adds_to(stmt, a)
        ):
            term = cast(ast.BinOp, stmt.value).right
            if a in {n.id for n in ast.walk(term) if isinstance(n, ast.Name)}:
                return
            stmt.value = ast.BinOp(term, ast.Sub(), ast.Name(b, ast.Load()))
            del body[i]
            return
        if a in reads or b in {
            n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)
        }:
            return


def statement_lists(body: list[ast.stmt]) -> list[list[ast.stmt]]:
    """`body` and every statement list nested in it."""
    found = [body]
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                found += statement_lists(inner)
    return found
