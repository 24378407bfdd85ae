"""Data-flow facts about a Python function body, before and after normalization.

Small, pure analyses on statement lists that several stages need: which
names may be read after a compound statement (liveness), which names an
iteration of a loop reads before assigning them, and which names always
hold Python ints.  They look at `ast` nodes only, so both the normalizer
(on the user's code) and the reverse stage (on normalized code) use them.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .ir import facts_of, names_in, walk_statements

T = TypeVar("T")
D = TypeVar("D")


def live_after(body: list[ast.stmt]) -> dict[int, frozenset[str]]:
    """For each `if`, `for` and `while` in `body`: the names that may be read after it
    before being assigned again (classic backward liveness, loops to a fixpoint).

    "After" includes later iterations of every enclosing loop.  A loop may run
    zero times, so it kills nothing for the code after it.  A local function
    (a def, or a lambda bound to a name) reads its free names when it is
    called, so a read of its name reads them too; one that escapes (its name
    used other than by a call, or a lambda not bound to a name) may be called
    anywhere, so its free names count as live everywhere.
    """
    out: dict[int, frozenset[str]] = {}
    local_fns, nested = _local_functions(body)

    def uses(node: ast.AST | None) -> set[str]:
        if node is None:
            return set()
        found = {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        todo = [n for n in found if n in local_fns]
        while todo:  # a call reads the function's free names, and so on through its calls
            for name in local_fns[todo.pop()] - found:
                found.add(name)
                if name in local_fns:
                    todo.append(name)
        return found

    def kills(target: ast.AST) -> set[str]:
        if isinstance(target, ast.Name):
            return {target.id}
        if isinstance(target, (ast.Tuple, ast.List)):
            return {n for e in target.elts for n in kills(e)}
        return set()  # a subscript or attribute target changes an object, binds nothing

    def block(stmts: list[ast.stmt], live: set[str]) -> set[str]:
        live = set(live) | nested
        for stmt in reversed(stmts):
            live = statement(stmt, live) | nested
        return live

    def statement(stmt: ast.stmt, live: set[str]) -> set[str]:
        if isinstance(stmt, ast.Assign):
            killed = {n for t in stmt.targets for n in kills(t)}
            reads = uses(stmt.value) | {n for t in stmt.targets for n in uses(t)}
            return (live - killed) | reads
        if isinstance(stmt, ast.AugAssign):  # reads its target, then assigns it
            return (
                live
                | uses(stmt.value)
                | {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
            )
        if isinstance(stmt, ast.AnnAssign):
            return (live - kills(stmt.target)) | uses(stmt.value) | uses(stmt.target)
        if isinstance(stmt, ast.If):
            out[id(stmt)] = frozenset(live)
            return uses(stmt.test) | block(stmt.body, live) | block(stmt.orelse, live)
        if isinstance(stmt, (ast.For, ast.While)):
            out[id(stmt)] = frozenset(live)
            check = facts_of(stmt).exit_check
            head = set(live)
            if isinstance(stmt, ast.While):
                head |= uses(stmt.test)
            while True:  # the head of the loop: after the body, back to the head
                body_in = block(stmt.body, head | uses(check))
                if isinstance(stmt, ast.For):
                    body_in -= kills(stmt.target)
                new = head | body_in
                if new == head:
                    break
                head = new
            return head | (uses(stmt.iter) if isinstance(stmt, ast.For) else set())
        if isinstance(stmt, ast.Return):
            return uses(stmt.value)
        if isinstance(stmt, ast.FunctionDef):
            return live - {stmt.name}
        return live | uses(stmt)

    block(body, set())
    return out


def _local_functions(body: list[ast.stmt]) -> tuple[dict[str, set[str]], frozenset[str]]:
    """The local functions of `body` bound to a name, each with its free names, and
    the free names of those that escape (see live_after)."""
    named: dict[str, set[str]] = {}
    lambdas_bound: set[int] = set()
    nodes = [sub for stmt in body for sub in ast.walk(stmt)]
    for sub in nodes:
        if isinstance(sub, ast.FunctionDef):
            named.setdefault(sub.name, set()).update(free_names(sub))
        elif (
            isinstance(sub, ast.Assign)
            and len(sub.targets) == 1
            and isinstance(sub.targets[0], ast.Name)
            and isinstance(sub.value, ast.Lambda)
        ):
            named.setdefault(sub.targets[0].id, set()).update(free_names(sub.value))
            lambdas_bound.add(id(sub.value))
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    escaping: set[str] = set()
    for sub in nodes:
        if isinstance(sub, ast.Lambda) and id(sub) not in lambdas_bound:
            escaping |= free_names(sub)
        elif (
            isinstance(sub, ast.Name)
            and isinstance(sub.ctx, ast.Load)
            and sub.id in named
            and id(sub) not in called
        ):
            escaping |= named[sub.id]
    # what an escaping function's free functions read escapes too
    todo = [n for n in escaping if n in named]
    while todo:
        for name in named[todo.pop()] - escaping:
            escaping.add(name)
            if name in named:
                todo.append(name)
    return named, frozenset(escaping)


def free_names(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The names a local function reads from the enclosing scope: those it loads
    minus its parameters and the names it binds itself (its own locals)."""
    args = fn.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    body = fn.body if isinstance(fn, ast.FunctionDef) else [fn.body]
    nodes = [n for part in body for n in ast.walk(part)]
    bound = params | {
        n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    bound |= {n.name for n in nodes if isinstance(n, ast.FunctionDef)}
    loads = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    defaults = [d for d in (*args.defaults, *args.kw_defaults) if d is not None]
    return (loads - bound) | {
        n.id for d in defaults for n in ast.walk(d) if isinstance(n, ast.Name)
    }


def read_before_assigned(loop: ast.For | ast.While) -> set[str]:
    """Names an iteration of `loop` may read before it assigns them (in evaluation
    order, on some path): those read the previous iteration's value."""
    early: set[str] = set()

    def loads(node: ast.AST | None, assigned: set[str]) -> None:
        if node is None:
            return
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in assigned:
                early.add(n.id)

    def stores(target: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}

    def block(stmts: list[ast.stmt], assigned: set[str]) -> set[str]:
        assigned = set(assigned)
        for stmt in stmts:
            if isinstance(stmt, ast.Assign):
                loads(stmt.value, assigned)
                for t in stmt.targets:  # (a subscript target reads its base and index)
                    loads(t, assigned)
                    if not isinstance(t, ast.Subscript):
                        assigned |= stores(t)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
                loads(stmt.value, assigned)
                if isinstance(stmt, ast.AugAssign) or isinstance(stmt.target, ast.Subscript):
                    early.update(n for n in stores(stmt.target) if n not in assigned)
                if not isinstance(stmt.target, ast.Subscript):
                    assigned |= stores(stmt.target)
            elif isinstance(stmt, ast.If):
                loads(stmt.test, assigned)
                assigned = block(stmt.body, assigned) & block(stmt.orelse, assigned)
            elif isinstance(stmt, ast.For):
                loads(stmt.iter, assigned)
                block(stmt.body, assigned | stores(stmt.target))
            elif isinstance(stmt, ast.While):
                loads(stmt.test, assigned)
                block(stmt.body, assigned)
            else:
                loads(stmt, assigned)
            check = facts_of(stmt).exit_check
            if check is not None:
                loads(check.test, assigned)
        return assigned

    if isinstance(loop, ast.While):
        loads(loop.test, set())
        block(loop.body, set())
    else:  # the loop variable is assigned at the start of every iteration
        block(loop.body, stores(loop.target))
    return early


_INT_CALLS = frozenset({"len", "int", "round"})
_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)


def integer_names(body: list[ast.stmt], params: list[str] | set[str]) -> set[str]:
    """Names that always hold a Python int: loop indices, counters, sizes.

    A greatest fixpoint over every assignment: a name stays an int while each
    of its definitions is int-valued (int literals, `range` and `enumerate`
    indices, `len(...)`, `.shape[k]`, `.size`, `.ndim`, and `+ - * // %` of
    ints), including the positions of records restored from a list
    (`i, t = stack.pop()` where every record pushed an int at `i`'s place).
    Ints carry no derivative, however they were computed.  `params` hold
    values from outside, of unknown type, so they are never ints.
    """
    defs: dict[str, list[Any]] = {}

    def add(name: str, value: Any) -> None:
        defs.setdefault(name, []).append(value)

    unknown = object()
    for stmt in walk_statements(body):
        if isinstance(stmt, ast.For):
            target, it = stmt.target, stmt.iter
            func = it.func.id if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) else ""
            if isinstance(target, ast.Name):
                add(
                    target.id,
                    "int" if func == "range" or facts_of(stmt).range_loop else unknown,
                )
            elif isinstance(target, ast.Tuple):
                for k, elt in enumerate(target.elts):
                    for n in names_in(elt):
                        add(
                            n,
                            "int"
                            if func == "enumerate" and k == 0 and isinstance(elt, ast.Name)
                            else unknown,
                        )
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if (
                isinstance(call.func, ast.Attribute)
                and call.func.attr == "append"
                and isinstance(call.func.value, ast.Name)
                and len(call.args) == 1
            ):
                owner, item = call.func.value.id, call.args[0]
                if isinstance(item, ast.Tuple):
                    for k, elt in enumerate(item.elts):
                        add(f"{owner}#{k}", elt)
                else:
                    add(f"{owner}#*", item)
            continue
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            add(
                stmt.target.id,
                ast.BinOp(left=ast.Name(stmt.target.id, ast.Load()), op=stmt.op, right=stmt.value),
            )
            continue
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            add(stmt.target.id, stmt.value if stmt.value is not None else unknown)
            continue
        if not isinstance(stmt, ast.Assign):
            continue
        value = stmt.value
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                add(target.id, value)
            elif isinstance(target, ast.Tuple):
                popped = (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Attribute)
                    and value.func.attr == "pop"
                    and isinstance(value.func.value, ast.Name)
                    and not value.args
                )
                for k, elt in enumerate(target.elts):
                    if not isinstance(elt, ast.Name):
                        for n in names_in(elt):
                            add(n, unknown)
                    elif popped:
                        add(elt.id, ("pop", value.func.value.id, k))  # type: ignore[union-attr]
                    elif isinstance(value, ast.Tuple) and len(value.elts) == len(target.elts):
                        add(elt.id, value.elts[k])
                    else:
                        add(elt.id, unknown)
    # a name bound some other way (an assignment expression, `with ... as`) may hold
    # anything; a comprehension's variables are its own (a scope of their own in Python)
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.NamedExpr):
            add(node.target.id, unknown)
        elif isinstance(node, (ast.withitem, ast.ExceptHandler)):
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    add(n.id, unknown)
    ints = set(defs) - set(params)

    def is_int(value: Any) -> bool:
        if value == "int":
            return True
        if isinstance(value, tuple):  # ("pop", owner, k)
            _, owner, k = value
            return f"{owner}#{k}" in ints and f"{owner}#*" not in defs
        if isinstance(value, ast.Constant):
            return type(value.value) in (int, bool)
        if isinstance(value, ast.Name):
            return value.id in ints
        if isinstance(value, ast.BinOp) and isinstance(value.op, _INT_OPS):
            return is_int(value.left) and is_int(value.right)
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
            return is_int(value.operand)
        if isinstance(value, ast.IfExp):
            return is_int(value.body) and is_int(value.orelse)
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            if value.func.id in _INT_CALLS and len(value.args) == 1 and not value.keywords:
                return True
            if value.func.id in ("min", "max") and value.args and not value.keywords:
                return all(is_int(a) for a in value.args)
        if isinstance(value, ast.Attribute):
            return value.attr in ("size", "ndim")
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Attribute):
            return value.value.attr == "shape" and is_int(value.slice)
        return False

    shrink_to_fixpoint(ints, defs, is_int)
    return {n for n in ints if "#" not in n}


def shrink_to_fixpoint(
    names: set[T], defs: Mapping[T, list[D]], holds: Callable[[D], bool]
) -> None:
    """Remove from `names`, until nothing changes, every name one of whose definitions
    does not satisfy `holds` (a greatest fixpoint: `holds` may ask whether other names
    are still in `names`, so a loop-carried name keeps its property when everything
    feeding it does)."""
    changed = True
    while changed:
        changed = False
        for name, values in defs.items():
            if name in names and not all(holds(v) for v in values):
                names.discard(name)
                changed = True


def bound_on_entry(body: list[ast.stmt], params: list[str]) -> dict[int, frozenset[str]]:
    """For each `if`, `for` and `while`: the names surely bound when it starts.

    Forward definite assignment: after an `if`, the names both branches
    bind; a loop may run zero times, so it binds nothing for what follows.
    """
    out: dict[int, frozenset[str]] = {}

    def targets(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, (ast.Tuple, ast.List)):
            return {n for e in node.elts for n in targets(e)}
        return set()

    def block(stmts: list[ast.stmt], bound: set[str]) -> set[str]:
        bound = set(bound)
        for stmt in stmts:
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                out[id(stmt)] = frozenset(bound)
            if isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    bound |= targets(t)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
                bound |= targets(stmt.target)
            elif isinstance(stmt, ast.If):
                bound = block(stmt.body, bound) & block(stmt.orelse, bound)
            elif isinstance(stmt, ast.For):
                block(stmt.body, bound | targets(stmt.target))
            elif isinstance(stmt, ast.While):
                block(stmt.body, bound)
        return bound

    block(body, set(params))
    return out


def surely_binds(stmts: list[ast.stmt]) -> set[str]:
    """Names that running `stmts` binds, whichever way its branches go (a loop may run
    zero times, so it binds nothing for sure)."""
    out: set[str] = set()
    for stmt in stmts:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets = [stmt.target]
        elif isinstance(stmt, ast.If):
            out |= surely_binds(stmt.body) & surely_binds(stmt.orelse)
        for target in targets:
            if isinstance(target, (ast.Name, ast.Tuple, ast.List)):
                out.update(
                    n.id
                    for n in ast.walk(target)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                )
    return out


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """The lines a statement's text covers, its parts included (a statement lowering
    made, such as the `else` that holds the code after an early return, carries the
    location of one line but holds others)."""
    lines = [
        (n.lineno, getattr(n, "end_lineno", None) or n.lineno)
        for n in ast.walk(stmt)
        if isinstance(getattr(n, "lineno", None), int)
    ]
    return min(a for a, _ in lines), max(b for _, b in lines)


def rebound_between(body: list[ast.stmt], name: str, write: int, read: int) -> bool:
    """Whether every path from a change at line `write` to a read of `name` at line `read`
    (later in the text) passes a statement that binds `name` afresh: one that precedes
    the read's statement in a block around the read, starts after the change, and binds
    the name whichever way its branches go (or, for the statement holding the change,
    binds it after the change on every path to its end).  The read then sees the new
    binding.  (Jumps are lowered already: a loop is left only at the end of an
    iteration.)"""
    block = body
    while block:
        spans = [_span(stmt) for stmt in block]
        k = next((i for i, (a, b) in enumerate(spans) if a <= read <= b), None)
        if k is None:
            return False
        for j in range(k):
            if spans[j][0] > write and name in surely_binds([block[j]]):
                return True
            if spans[j][0] <= write <= spans[j][1] and binds_after([block[j]], name, write):
                return True
        holder = block[k]
        if isinstance(holder, ast.If):
            inside = [part for part in (holder.body, holder.orelse) if part and _covers(part, read)]
            block = inside[0] if len(inside) == 1 else []
        elif isinstance(holder, (ast.For, ast.While)):
            block = holder.body
        else:
            return False
    return False


def binds_after(block: list[ast.stmt], name: str, write: int) -> bool:
    """Whether every path from line `write` (inside `block`) to the end of `block` binds
    `name`: a later statement of the block binds it for sure, or the statement holding
    the change does so after it (the rest of a branch, the rest of a loop's body, which
    every iteration finishes before the loop ends)."""
    spans = [_span(stmt) for stmt in block]
    k = next((i for i, (a, b) in enumerate(spans) if a <= write <= b), None)
    if k is None:
        return False
    if any(name in surely_binds([stmt]) for stmt in block[k + 1 :]):
        return True
    holder = block[k]
    if isinstance(holder, ast.If):
        parts = [p for p in (holder.body, holder.orelse) if p and _covers(p, write)]
        return len(parts) == 1 and binds_after(parts[0], name, write)
    if isinstance(holder, (ast.For, ast.While)):
        return _covers(holder.body, write) and binds_after(holder.body, name, write)
    return False


def _covers(block: list[ast.stmt], line: int) -> bool:
    return any(a <= line <= b for a, b in map(_span, block))


def loop_covers(loop: ast.stmt, line: int) -> bool:
    first, last = _span(loop)
    return first <= line <= last


def branches_apart(body: list[ast.stmt], first: int, second: int) -> bool:
    """Whether lines `first` and `second` lie in different branches of one `if` (no
    path runs from one to the other without going around a loop)."""
    block = body
    while block:
        holder = next((s for s in block if _covers([s], first) and _covers([s], second)), None)
        if holder is None:
            return False
        if isinstance(holder, ast.If):
            parts = [p for p in (holder.body, holder.orelse) if p]
            where = [
                next((k for k, p in enumerate(parts) if _covers(p, line)), None)
                for line in (first, second)
            ]
            if None in where:
                return False
            if where[0] != where[1]:
                return True
            block = parts[where[0]]  # type: ignore[index]
        elif isinstance(holder, (ast.For, ast.While)):
            block = holder.body
        else:
            return False
    return False


_SHAPE_ONLY_CALLS = frozenset("zeros_like ones_like empty_like shape size ndim".split())
_SHAPE_ONLY_ATTRIBUTES = frozenset("shape ndim size dtype".split())


def value_loads(
    node: ast.AST, shape_of_second: Callable[[ast.expr], bool] | None = None
) -> list[tuple[int, str]]:
    """(line, name) of the reads of names in `node` that may read an array's elements.
    A name read only for its shape (`np.zeros_like(v)`, `np.shape(v)`, `len(v)`,
    `v.shape`) is left out: an in-place change of the elements never changes that.
    So is the second argument of a call for which `shape_of_second(func)` holds
    (generated code's `unbroadcast(g, x)`, transformed again)."""
    shape_only: set[int] = set()
    for sub in ast.walk(node):
        if (
            shape_of_second is not None
            and isinstance(sub, ast.Call)
            and len(sub.args) == 2
            and isinstance(sub.args[1], ast.Name)
            and shape_of_second(sub.func)
        ):
            shape_only.add(id(sub.args[1]))
        if isinstance(sub, ast.Call) and sub.args and isinstance(sub.args[0], ast.Name):
            func = sub.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in ("np", "numpy")
                and func.attr in _SHAPE_ONLY_CALLS
                and len(sub.args) == 1
                and not sub.keywords
            ) or (isinstance(func, ast.Name) and func.id == "len" and len(sub.args) == 1):
                shape_only.add(id(sub.args[0]))
        elif (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.attr in _SHAPE_ONLY_ATTRIBUTES
        ):
            shape_only.add(id(sub.value))
    return [
        (getattr(n, "lineno", 0), n.id)
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in shape_only
    ]
