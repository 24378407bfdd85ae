"""Normalizing statements: the walk over a function body, and `if` statements.

`run` normalizes the function being differentiated: its body (assignment
expressions hoisted and jumps lowered first, jumps.py), then its return
value, into a `Function`.  `statement` sends each statement to the
collaborator for its kind.  An `if` statement keeps its shape; after it,
each variable its branches change has one merged name, assigned by a copy
at the end of each branch (a phi node).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..activity import possibly_varied
from ..aliasing import mark_restores
from ..flow import live_after
from ..ir import (
    IDENTITY,
    Evaluated,
    Function,
    Tree,
    annotate,
    clone,
    display,
    facts,
)
from ..parse import body_statements
from .advice import side_effect_advice, unsupported_statement
from .core import Normalizer, all_identifiers, is_cheap_name
from .jumps import hoist_assignment_expressions, lower_jumps


@dataclass(frozen=True)
class MemoryFacts:
    """What the aliasing analysis knows of one SSA name's value (see writes.py)."""

    roots: frozenset[str]  # the values whose memory it may share
    held: frozenset[str]  # for a list: what its items may share
    writable: bool  # an array made in the function
    number: bool  # surely a number
    list: bool  # a list made in the function
    restored_list: bool  # a list a record stack gave back

    def union(self, other: MemoryFacts) -> MemoryFacts:
        """Facts of a name that holds this value or the other: it may share what either
        shares, and is a fresh array (a number, a list) only if both are."""
        return MemoryFacts(
            self.roots | other.roots,
            self.held | other.held,
            self.writable and other.writable,
            self.number and other.number,
            self.list and other.list,
            self.restored_list or other.restored_list,
        )


class StatementNormalizer:
    """Walks statement lists and normalizes `if` statements (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def run(self) -> Function:
        node = self.n.p.node
        # the parsed tree is shared: never mutate it
        body = [clone(stmt) for stmt in body_statements(node)]
        code = getattr(getattr(self.n.p.func, "__func__", self.n.p.func), "__code__", None)
        if code is not None:  # a helper calling back into this function is recursion
            self.n.inlining.append(code)
            self.n.inlining_names.append(self.n.p.func.__qualname__)
        body = hoist_assignment_expressions(body, self.n.error)
        body = lower_jumps(body, self.n.local_name)
        body = self.private_copies(body)
        ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
        self.n.live = live_after(body)
        self.n.body = body
        self.n.varied_user = possibly_varied(self.n.p, self.n.seeds, body)
        self.n.param_trees = {}
        for param, shape in self.n.structures.items():
            if shape is not None and param in self.n.seeds:
                tree = self.n.containers.param_tree(param, shape, node)
                self.n.trees[param] = self.n.param_trees[param] = tree
        if not body or not isinstance(body[-1], ast.Return):
            last = body[-1] if body else node
            raise self.n.error(
                last,
                f"{self.n.p.func.__name__!r} must end with a `return` statement giving the "
                "value to differentiate",
            )
        for stmt in body[:-1]:
            self.statement(stmt)
        ret = body[-1]
        self.n.origin = ret
        if ret.value is None:
            raise self.n.error(ret, "`return` needs a value to differentiate")
        returned = self.n.containers.static_value(ret.value)
        aux: ast.expr | None = None
        if self.n.has_aux:
            if not (
                isinstance(returned, Tree) and returned.kind != "dict" and len(returned.items) == 2
            ):
                raise self.n.error(
                    ret.value,
                    "with has_aux=True the function must return a pair (value, aux): the "
                    "value to differentiate and anything else to hand back untouched",
                )
            value, aux_value = returned.values()
            aux = display(aux_value) if isinstance(aux_value, Tree) else aux_value
            returned = value
        if isinstance(returned, Tree):
            raise self.n.error(
                ret.value,
                f"the function returns a {returned.kind}; a gradient needs one scalar output: "
                "return (value, aux) with has_aux=True to hand back extra values; vjp, "
                "jacrev and jacfwd take a function with several outputs",
            )
        result = self.n.expressions.atom(returned if returned is not None else ret.value)
        mark_restores(self.n.out, self.n.roots_of, self.n.writable.__contains__)
        return Function(
            self.n.p,
            list(self.n.p.params),
            self.n.out,
            result,
            self.n.names,
            ret,
            lists=set(self.n.lists),
            restored_lists=set(self.n.restored_lists),
            aux=aux,
            param_trees=self.n.param_trees,
            extra_cells=self.n.extra_cells,
            dependencies=self.n.dependencies,
        )

    def statement(self, stmt: ast.stmt) -> None:
        self.n.origin = stmt
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) == 1:
                self.n.assignments.assign(stmt.targets[0], stmt.value)
            else:  # a = b = expr: evaluate once, bind every target
                varied = self.n.varied(stmt.value)
                value = (
                    Evaluated(self.n.expressions.atom(stmt.value), varied) if varied else stmt.value
                )
                for target in stmt.targets:
                    self.n.assignments.assign(target, value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.n.assignments.assign(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self.n.assignments.augassign(stmt)
        elif isinstance(stmt, ast.Expr):
            if self.n.writes.list_append(stmt):
                return
            if self.n.writes.list_pop(stmt):
                return
            if self.n.writes.add_at(stmt) or self.n.writes.fill_diagonal(stmt):
                return
            if self.n.varied(stmt.value):
                raise self.n.error(stmt.value, side_effect_advice(stmt.value))
            self.n.emit(annotate(ast.Expr(value=self.n.expressions.rename(stmt.value)), stmt))
        elif isinstance(stmt, (ast.Assert, ast.Raise)):
            self.n.emit(annotate(self.n.expressions.rename(stmt), stmt))  # type: ignore[arg-type]
        elif isinstance(stmt, ast.Pass):
            return
        elif isinstance(stmt, ast.FunctionDef):
            self.n.inliner.local_def(stmt, stmt.name)
        elif isinstance(stmt, ast.If):
            self.if_statement(stmt)
        elif isinstance(stmt, ast.For):
            self.n.loops.for_statement(stmt)
        elif isinstance(stmt, ast.While):
            self.n.loops.while_statement(stmt)
        elif isinstance(stmt, ast.Return):
            raise self.n.error(
                stmt, "`return` must be the last statement; statements after it never run"
            )
        else:
            raise self.n.error(stmt, unsupported_statement(stmt))

    def if_statement(self, stmt: ast.If) -> None:
        """Both branches in SSA form, then one merged name per variable they change.

        The merge (a phi node) is a copy at the end of each branch: `x_3 = x_1`
        in one, `x_3 = x` in the other, so after the `if` there is one name
        whose adjoint routes the gradient into whichever branch ran.
        """
        test = (
            self.n.expressions.rename(stmt.test)
            if is_cheap_name(stmt.test)
            else self.n.expressions.atom(stmt.test)
        )
        before = dict(self.n.current)
        outer = self.n.out
        results = []
        # a name first defined in an `if` keeps the user's name in each branch that
        # defines it (readable code, and no merge copy when both do): the facts kept per
        # SSA name are then the last branch's, which the merge and later checks must not
        # take for the other branch's (a view in one branch, a copy in the other)
        seen: list[dict[str, MemoryFacts]] = []
        for branch in (stmt.body, stmt.orelse):
            self.n.current = dict(before)
            self.n.out = []
            start = len(self.n.plain_definitions)
            for sub in branch:
                self.statement(sub)
            self.n.origin = stmt
            results.append((self.n.out, self.n.current))
            defined = set(self.n.plain_definitions[start:])
            seen.append({ssa: self.memory_facts(ssa) for ssa in defined})
        (body, body_names), (orelse, else_names) = results
        both = seen[0].keys() & seen[1].keys()
        for ssa in both:
            if body_names.get(ssa) == ssa != else_names.get(ssa):
                self.set_memory_facts(ssa, seen[0][ssa])  # the value the merge copies
        merged: dict[str, str] = {}
        read_after = self.n.live.get(id(stmt))
        for name in sorted(set(body_names) | set(else_names)):
            b, e = body_names.get(name), else_names.get(name)
            live = read_after is None or name in read_after
            if (b != before.get(name) or e != before.get(name)) and live:
                # containers and local functions exist only at compile time: which
                # branch ran is known only at run time
                self.refuse_container_merge(stmt, name, (b, e), "in one branch of an `if`")
            if b == e:
                merged[name] = b  # type: ignore[assignment]
                continue
            if not live:  # nobody reads it after the `if`: no merged name
                merged[name] = f"<{name} after an if>"
                continue
            phi = self.n.names.fresh(name)
            for stmts, value in ((body, b), (orelse, e)):
                if value is None:
                    # unbound on this path, as in Python; the merged name holds None
                    # here, which the user's code never reads (it would fail), but a
                    # later merge's copy does (a loop unrolled, an `if` after this one)
                    init = ast.Assign(
                        targets=[ast.Name(id=phi, ctx=ast.Store())], value=ast.Constant(None)
                    )
                    marked = annotate(init, stmt)
                    facts(marked).unbound_init = True
                    stmts.append(marked)
                    continue
                atom = ast.Name(id=value, ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                stmts.append(annotate(copy_stmt, stmt, stmt, IDENTITY, [atom]))
            if b is None or e is None:
                self.n.unbound.add(phi)
            self.n.writes.track_copy(phi, [v for v in (b, e) if v is not None])
            merged[name] = phi
        for ssa in both:  # it holds one branch's value or the other's
            self.set_memory_facts(ssa, seen[0][ssa].union(seen[1][ssa]))
        self.n.current = merged
        self.n.out = outer
        self.n.emit(annotate(ast.If(test=test, body=body or [ast.Pass()], orelse=orelse), stmt))

    def memory_facts(self, ssa: str) -> MemoryFacts:
        n = self.n
        return MemoryFacts(
            n.roots_of(ssa),
            n.held_of(ssa),
            ssa in n.writable,
            ssa in n.numbers,
            ssa in n.lists,
            ssa in n.restored_lists,
        )

    def set_memory_facts(self, ssa: str, known: MemoryFacts) -> None:
        n = self.n
        if known.roots == {ssa}:
            n.roots.pop(ssa, None)
        else:
            n.roots[ssa] = known.roots
        if known.held:
            n.held[ssa] = known.held
        else:
            n.held.pop(ssa, None)
        for table, holds in (
            (n.writable, known.writable),
            (n.numbers, known.number),
            (n.lists, known.list),
            (n.restored_lists, known.restored_list),
        ):
            if holds:
                table.add(ssa)
            else:
                table.discard(ssa)

    def private_copies(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """`x[0] = a * b` where x is a parameter: the generated code writes into a private
        copy (`x = x.copy()` first), so it never changes the caller's array.  A parameter
        the function rebinds before anything else mentions it (`x = x.copy()` written
        out) needs no copy."""
        # only differentiated arguments: the API makes them floats or float arrays, so
        # x.copy() is theirs; a data argument could be a list or a tuple
        params = [
            p for p in self.n.p.params if p in self.n.seeds and self.n.structures.get(p) is None
        ]
        first: dict[str, ast.AST] = {}
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            places: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                places = list(node.targets)
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                places = [node.target]
            elif (
                isinstance(node, ast.Call)
                and (
                    isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("at", "fill_diagonal")
                    or isinstance(node.func, ast.Name)
                    and node.func.id == "fill_diagonal"
                )
                and node.args
            ):  # np.add.at(x, ...), np.fill_diagonal(x, v)
                places = [ast.Subscript(value=node.args[0], slice=ast.Constant(0), ctx=ast.Store())]
            for place in places:
                for sub in ast.walk(place):
                    if not (isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Store)):
                        continue
                    base = sub.value
                    while isinstance(base, ast.Subscript):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id in params:
                        first.setdefault(base.id, node)
        rebound = set()  # `x = x.copy()` (or any `x = ...`) before anything else reads x
        for name in first:
            for stmt in body:
                if not any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt)):
                    continue
                if (
                    isinstance(stmt, ast.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id == name
                ):
                    rebound.add(name)
                break
        copies: list[ast.stmt] = []
        for name in params:
            if name in first and name not in rebound:
                call = ast.Call(
                    func=ast.Attribute(
                        value=ast.Name(id=name, ctx=ast.Load()), attr="copy", ctx=ast.Load()
                    ),
                    args=[],
                    keywords=[],
                )
                stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=call)
                copies.append(ast.copy_location(stmt, first[name]))
        return copies + body

    def refuse_container_merge(self, stmt: ast.AST, name: str, ssas, where: str) -> None:
        if any(s in self.n.trees or s in self.n.local_defs for s in ssas if s is not None):
            what = "function" if any(s in self.n.local_defs for s in ssas) else "container"
            if what == "container" and _lowered_result(name, self.n.p.node):
                raise self.n.error(
                    stmt,
                    "the function returns a container (a dict, a list, or a tuple holding "
                    "one) from more than one `return`; chainrule resolves containers when it "
                    "compiles, so assign its arrays to names in each branch and build the "
                    "container in one `return` at the end (tuples of arrays, `return a, b`, "
                    "may be returned from several places)",
                )
            raise self.n.error(
                stmt,
                f"{name!r} holds a {what} that is assigned {where}; chainrule resolves "
                f"{what}s when it compiles, so assign it once, outside (or assign its "
                "arrays to separate names)",
            )


def _lowered_result(name: str, node: ast.AST) -> bool:
    """Is `name` one that jumps.py made to hold the returned value (not the user's)?"""
    return name.split("_")[0] == "result" and name not in all_identifiers(node)
