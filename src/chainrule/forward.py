"""Stage 5 (forward mode): emit the tangent version of a normalized function.

Forward mode carries, next to every value `v`, its *tangent* `dv`: the
derivative of `v` along one chosen direction of the inputs.  On normalized
code (one operation per statement, SSA names) that is a local rewrite: after
each active statement `z = prim(x, y)` comes its tangent statement, the
primitive's tangent template (rules/) with `z`, `x`, `y`, `dx`, `dy` bound to
the actual names:

    t1 = x * y
    dt1 = dx * y + x * dy

Nothing is saved and nothing runs backwards, so `if`, `for` and `while` keep
their shape: the tangents simply flow with the values.  Inputs that carry no
tangent (constants, data, values that do not depend on the differentiated
arguments) are not given zeros; their terms are dropped from the template
(`dt1 = x * dy` when only y varies, `_Pruner`).  Where a dropped term was the
one that broadcasting made large, the remaining tangent is stretched back to
the result's shape with `broadcast_like`, unless the shapes provably agree.

Tangent variables are named like gradients (`dv`, or `d_v` if taken); the
naming, bindings and comments are shared with reverse mode
(derivatives.py), and templates are instantiated by templates.py.  The kind
of a statement picks its tangent from one table, `TANGENT_OF_KIND`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .aliasing import view_bases
from .derivatives import DerivativeContext
from .ir import (
    Function,
    Method,
    assigned_names,
    clone,
    comment,
    derived_from,
    facts,
    facts_of,
    name_of,
    names_in,
    targets_of,
    walk_statements,
)
from .rules import Rule, display_name, lookup, lookup_tangent, rule_example
from .runtime import broadcast_like, stored_tangent, zeros_like_list
from .templates import (
    Bindings,
    fold_constants,
    name_temporaries,
    resolve_static_ifs,
    substitute,
)
from .transformation import (
    Emitted,
    StatementKind,
    Target,
    Transformation,
    assign,
    function_def,
    generated_name,
    register,
    statement_kind,
)

_NP = "__chainrule_np__"  # placeholder for numpy's name inside a template being pruned

Code = tuple[list[ast.stmt], list[ast.stmt]]  # comments before a statement, tangents after it


@dataclass
class Tangent:
    """A function with tangent statements interleaved: what emit_forward wraps."""

    fn: Function
    wrt: list[str]
    body: list[ast.stmt]
    tangent_params: list[str]  # the tangent argument of each wrt parameter
    result_tangent: ast.expr
    bindings: Bindings


class Forwarder:
    """Walks a normalized body in program order and adds each active statement's tangent."""

    def __init__(self, fn: Function, target: Target) -> None:
        self.fn = fn
        self.ctx = DerivativeContext(fn, target)
        # arrays written into later (out[i] = v, np.add.at): their tangents must be arrays
        # of their own, not a view or another name's tangent (`dy = dx` for y = x + 1.0)
        self.written = {
            name_of(facts_of(s).args[0])
            for s in walk_statements(fn.body)
            if statement_kind(s, fn.lists) in (StatementKind.SETITEM, StatementKind.ADD_AT)
        }
        self.derived: list[tuple[ast.stmt, ast.stmt]] = []  # (tangent statement, its statement)

    def run(self) -> Tangent:
        ctx = self.ctx
        tangent_params = [ctx.dname(p) for p in ctx.wrt]
        body = self.block(self.fn.body)
        self.separate_tangents()
        result = self.fn.result
        if isinstance(result, ast.Name) and ctx.active(result.id):
            result_tangent: ast.expr = ast.Name(ctx.dname(result.id), ast.Load())
        else:
            body.append(comment("the output does not depend on the inputs: its tangent is 0"))
            result_tangent = self.zeros_of(clone(result))
        return Tangent(self.fn, ctx.wrt, body, tangent_params, result_tangent, ctx.bindings)

    # -- statement lists ---------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        ctx = self.ctx
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, ast.If):
                saved = ctx.last_origin
                stmt.body = self.block(stmt.body) or [ast.Pass()]
                ctx.last_origin = saved
                stmt.orelse = self.block(stmt.orelse)
                ctx.last_origin = None
                out.append(stmt)
            elif isinstance(stmt, (ast.For, ast.While)):
                ctx.last_origin = None
                stmt.body = self.block(stmt.body) or [ast.Pass()]
                ctx.last_origin = None
                out.append(stmt)
            else:
                header, code = self.tangent(stmt)
                out.extend(header)
                out.append(stmt)
                for c in code:
                    facts(c).pure = True  # a tangent nobody reads may go (optimize)
                out.extend(code)
        return out

    # -- one statement -------------------------------------------------------------
    def tangent(self, stmt: ast.stmt) -> Code:
        """Comments to put before `stmt`, and its tangent statements to put after it."""
        ctx = self.ctx
        kind = statement_kind(stmt, ctx.list_names)
        if kind is StatementKind.LIST_POP and ctx.active(name_of(facts_of(stmt).args[0])):
            return self.list_pop(stmt)
        active = [t for t in targets_of(stmt) if ctx.active(t)]
        if not active:
            return [], []
        header, code = TANGENT_OF_KIND[kind](self, stmt, active)
        if kind is StatementKind.PRIMITIVE and self.written.intersection(active):
            code = [self.own_tangent(c, active) for c in code]
        if self.written:
            self.derived.extend((c, stmt) for c in code)
        return header, derived_from(stmt, code)

    def separate_tangents(self) -> None:
        """Copy each tangent that would share memory with the tangent of an array written
        into later, where the value itself does not share that array's memory.

        A rule's tangent may be its operand's tangent itself (`dy = dx` for y = x + 1.0
        or y = x ** 1) while y is a new array: the write `x[0] = v` then changes dx in
        place, and through it dy, which is no longer y's tangent.  Where y is a view of
        x, so is dy, and the write is checked like any write through a view.  Sharing
        passes along chains (`t = x.reshape(3)`, `dt` a view of dx, then `y = t + 1.0`,
        `dy = dt`) and around loops, so the facts are iterated to a fixed point.
        """
        ctx = self.ctx
        tied = {ctx.dnames[w] for w in self.written if w in ctx.dnames}
        copies: set[int] = set()
        changed = True
        while changed:
            changed = False
            for tstmt, stmt in self.derived:
                if not isinstance(tstmt, ast.Assign):
                    continue
                if isinstance(tstmt.targets[0], ast.Tuple):  # rows: views, as the value's are
                    rows = set(names_in(tstmt.targets[0])) - tied
                    if rows and view_bases(tstmt.value, ctx.list_names) & tied:
                        tied |= rows
                        changed = True
                    continue
                if not isinstance(tstmt.targets[0], ast.Name):
                    continue
                name = tstmt.targets[0].id
                if name in tied or id(tstmt) in copies:
                    continue
                shared = view_bases(tstmt.value, ctx.list_names) & tied
                if not shared:
                    continue
                primal = ctx.primal_of.get(name)
                of_value = view_bases(stmt.value, ctx.list_names) if primal else set()
                if primal is None or all(ctx.primal_of.get(t) in of_value for t in shared):
                    tied.add(name)  # a temporary of the rule, or a view of a view
                else:
                    copies.add(id(tstmt))
                changed = True
        for tstmt, _ in self.derived:
            if id(tstmt) in copies:
                assert isinstance(tstmt, ast.Assign)
                tstmt.value = ctx.numpy_call("array", [tstmt.value])

    def own_tangent(self, stmt: ast.stmt, active: list[str]) -> ast.stmt:
        """`dy = <tangent>` for an array y that is written into later: a copy, unless the
        tangent is surely a new array already."""
        ctx = self.ctx
        owned = {ctx.dname(n) for n in active if n in self.written}
        if not (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id in owned
        ):
            return stmt
        value = stmt.value
        fresh = (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in ("zeros_like", "zeros", "full_like", "full", "ones_like")
        ) or isinstance(value, ast.BinOp)
        if not fresh:
            stmt.value = ctx.numpy_call("array", [value])
        return stmt

    def list_append(self, stmt: ast.stmt, active: list[str]) -> Code:
        hs, value = facts_of(stmt).args
        note = "append: the list of tangents gets the value's tangent"
        item = self.tangent_expr(value) or self.zeros_of(clone(value))
        tangents = ast.Name(self.ctx.dname(name_of(hs)), ast.Load())
        call = _method(tangents, "append", [item])
        return self.ctx.header(stmt, None, note), [ast.Expr(value=call)]

    def list_set(self, stmt: ast.stmt, active: list[str]) -> Code:
        hs, index, value = facts_of(stmt).args[:3]
        note = "list item assignment: the list of tangents gets the value's tangent there"
        written = self.tangent_expr(value) or self.zeros_of(clone(value))
        place = _item(self.ctx.dname(name_of(hs)), index, ast.Store())
        return self.ctx.header(stmt, None, note), [ast.Assign(targets=[place], value=written)]

    def setitem(self, stmt: ast.stmt, active: list[str]) -> Code:
        array, index, value = facts_of(stmt).args[:3]
        note = "write into an array: the tangent array gets the value's tangent there"
        written = self.tangent_expr(value) or ast.Constant(0.0)
        if not isinstance(written, ast.Constant):  # an integer array keeps no tangent
            written = self.ctx.helper_call(
                stored_tangent, "stored_tangent", [written, ast.Name(name_of(array), ast.Load())]
            )
        place = _item(self.ctx.dname(name_of(array)), index, ast.Store())
        return self.ctx.header(stmt, None, note), [ast.Assign(targets=[place], value=written)]

    def add_at(self, stmt: ast.stmt, active: list[str]) -> Code:
        ctx = self.ctx
        array, index, value = facts_of(stmt).args[:3]
        added = self.tangent_expr(value)
        if added is None:
            return [], []
        note = "np.add.at: the tangent array accumulates the values' tangents the same way"
        np_name = ctx.bindings.name_for(np, "np")
        add_at = ast.Attribute(
            value=ast.Attribute(value=ast.Name(np_name, ast.Load()), attr="add", ctx=ast.Load()),
            attr="at",
            ctx=ast.Load(),
        )
        args = [ast.Name(ctx.dname(name_of(array)), ast.Load()), clone(index), added]
        call = ast.Call(func=add_at, args=args, keywords=[])
        return ctx.header(stmt, None, note), [ast.Expr(value=call)]

    def list_get(self, stmt: ast.stmt, active: list[str]) -> Code:
        ctx = self.ctx
        assert isinstance(stmt, ast.Assign)
        hs, index = facts_of(stmt).args
        note = "list item: its tangent is the same item of the list of tangents"
        value = _item(ctx.dname(name_of(hs)), index, ast.Load())
        return ctx.header(stmt, None, note), [assign(ctx.dname(name_of(stmt.targets[0])), value)]

    def unpack(self, stmt: ast.stmt, active: list[str]) -> Code:
        ctx = self.ctx
        assert isinstance(stmt, ast.Assign)
        source = self.tangent_expr(facts_of(stmt).args[0])
        if source is None:
            return [], [assign(ctx.dname(n), self.zero(n)) for n in active]
        names: list[ast.expr] = [
            ast.Name(ctx.dname(n) if ctx.active(n) else ctx.names.fresh("_"), ast.Store())
            for n in names_in(stmt.targets[0])
        ]
        unpack = ast.Assign(targets=[ast.Tuple(elts=names, ctx=ast.Store())], value=source)
        return ctx.header(stmt, None, "unpacking: each name gets its row's tangent"), [unpack]

    def method(self, stmt: ast.stmt, active: list[str]) -> Code:
        prim = facts_of(stmt).prim
        assert isinstance(prim, Method)
        raise self.ctx.method_error(stmt, prim)

    def constant(self, stmt: ast.stmt, active: list[str]) -> Code:
        """A constant or a piecewise-constant value assigned to a name that varies
        elsewhere (the other branch of an `if`, a loop-carried value): tangent 0."""
        return [], [self.zero_value(n, stmt) for n in active]

    def primitive(self, stmt: ast.stmt, active: list[str]) -> Code:
        ctx = self.ctx
        assert isinstance(stmt, ast.Assign)
        prim = facts_of(stmt).prim
        rule = lookup_tangent(prim)
        if rule is None:
            raise ctx.scope(stmt).error(facts_of(stmt).site, _no_tangent_message(prim))
        header = ctx.header(stmt, rule)
        return header, self.instantiate(rule, stmt, name_of(stmt.targets[0]))

    def list_pop(self, stmt: ast.stmt) -> Code:
        """`t = hs.pop()`: the list of tangents gives up its last item too, even when that
        item's tangent is not needed, so that the two lists stay in step."""
        ctx = self.ctx
        assert isinstance(stmt, ast.Assign)
        hs, *rest = facts_of(stmt).args
        pop = _method(ast.Name(ctx.dname(name_of(hs)), ast.Load()), "pop", [clone(a) for a in rest])
        target = stmt.targets[0]
        if isinstance(target, ast.Name) and ctx.active(target.id):
            note = "pop: the list of tangents gives up its last item too"
            return ctx.header(stmt, None, note), [assign(ctx.dname(target.id), pop)]
        return [], [ast.Expr(value=pop)]

    # -- zeros -------------------------------------------------------------------------
    def zero_value(self, name: str, stmt: ast.stmt) -> ast.stmt:
        """The tangent of a name given a value that does not vary."""
        ctx = self.ctx
        value = getattr(stmt, "value", None)
        if name in ctx.list_names and isinstance(value, ast.List):
            items = [self.tangent_expr(e) or self.zeros_of(clone(e)) for e in value.elts]
            return assign(ctx.dname(name), ast.List(elts=items, ctx=ast.Load()))
        if name in ctx.list_names:  # a list of zero tangents, one per item
            length = ast.Call(
                func=ast.Name("len", ast.Load()), args=[ast.Name(name, ast.Load())], keywords=[]
            )
            zeros = ast.List(elts=[ast.Constant(0.0)], ctx=ast.Load())
            return assign(ctx.dname(name), ast.BinOp(left=zeros, op=ast.Mult(), right=length))
        if isinstance(value, ast.Constant) and type(value.value) in (int, float):
            return assign(ctx.dname(name), ast.Constant(0.0))
        return assign(ctx.dname(name), self.zero(name))

    def zero(self, name: str) -> ast.expr:
        if self.ctx.shapes.is_scalar(name):
            return ast.Constant(0.0)
        if name in self.ctx.list_names:  # one zero per item, shaped like it
            return self.ctx.helper_call(
                zeros_like_list, "zeros_like_list", [ast.Name(name, ast.Load())]
            )
        return self.zeros_of(ast.Name(name, ast.Load()))

    def zeros_of(self, expr: ast.expr) -> ast.expr:
        if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return ast.Constant(0.0)
        if isinstance(expr, ast.Name) and self.ctx.shapes.is_scalar(expr.id):
            return ast.Constant(0.0)
        return self.ctx.numpy_call("zeros_like", [expr])

    def tangent_expr(self, value: Any) -> ast.expr | None:
        """The tangent of an argument, or None when it has none (it is zero)."""
        ctx = self.ctx
        if isinstance(value, ast.Name):
            return ast.Name(ctx.dname(value.id), ast.Load()) if ctx.active(value.id) else None
        if isinstance(value, (ast.List, ast.Tuple)):
            parts = [self.tangent_expr(e) for e in value.elts]
            if all(p is None for p in parts):
                return None
            elts = [
                p if p is not None else self.zeros_of(clone(e)) for p, e in zip(parts, value.elts)
            ]
            return type(value)(elts=elts, ctx=ast.Load())
        return None

    # -- templates ----------------------------------------------------------------
    def instantiate(self, rule: Rule, stmt: ast.stmt, target: str) -> list[ast.stmt]:
        """The rule's tangent template at `stmt`, the terms of zero tangents dropped."""
        ctx = self.ctx
        subst = ctx.bound_arguments(rule, stmt, target, "tangent")
        ctx.refuse_underived(rule, stmt, subst, lambda e: self.tangent_expr(e) is not None)
        output = "d" + rule.result
        tangent_names = {"d" + p for p in rule.params}
        zero = set()
        for p in rule.params:
            value = subst.get(p)
            t = self.tangent_expr(value)
            if t is None:
                zero.add("d" + p)
                if isinstance(value, (ast.List, ast.Tuple)):  # where zeros are needed: one each
                    zeros = [self.zeros_of(clone(e)) for e in value.elts]
                    subst["d" + p] = type(value)(elts=zeros, ctx=ast.Load())
            else:
                subst["d" + p] = t
        body = resolve_static_ifs(clone(rule.body), subst)
        pruner = _Pruner(zero, tangent_names, rule.result, filled=set(subst) & zero)
        body = pruner.statements(body, output)
        temps = {_NP: ctx.bindings.name_for(np, "np")}
        bound = set(subst) | {output, _NP} | zero
        name_temporaries(rule, body, bound, {output}, ctx.names, ctx.bindings, temps)
        out = [self.route(s, output, target, subst, temps, pruner) for s in body]
        fold_constants(out)
        return out

    def route(self, tstmt, output, target, subst, temps, pruner) -> ast.stmt:
        """Substitute names in one template statement; the output assigns the tangent."""
        ctx = self.ctx
        if isinstance(tstmt, ast.If):
            test = substitute(tstmt.test, subst, temps)
            body = [self.route(s, output, target, subst, temps, pruner) for s in tstmt.body]
            orelse = [self.route(s, output, target, subst, temps, pruner) for s in tstmt.orelse]
            return ast.If(test=test, body=body or [ast.Pass()], orelse=orelse)
        if isinstance(tstmt, _Vanished):  # every input's term was dropped
            return assign(ctx.dname(target), self.zero(target))
        if isinstance(tstmt, ast.Assign) and assigned_names(tstmt) == {output}:
            value = substitute(tstmt.value, subst, temps)
            if id(tstmt) in pruner.narrowed:
                value = self.broadcast_like(value, target)
            return assign(ctx.dname(target), value)
        return substitute(tstmt, subst, temps)

    def broadcast_like(self, value: ast.expr, target: str) -> ast.expr:
        """`broadcast_like(value, target)`, unless value provably has target's shape."""
        shapes = self.ctx.shapes
        mine = shapes.of(value)
        if mine is not None and mine is shapes.of(ast.Name(target, ast.Load())):
            return value
        return self.ctx.helper_call(
            broadcast_like, "broadcast_like", [value, ast.Name(target, ast.Load())]
        )


TangentOfKind = Callable[[Forwarder, ast.stmt, list[str]], Code]

TANGENT_OF_KIND: dict[StatementKind, TangentOfKind] = {
    StatementKind.PRIMITIVE: Forwarder.primitive,
    StatementKind.NONDIFFERENTIABLE: Forwarder.constant,
    StatementKind.INERT: Forwarder.constant,
    StatementKind.METHOD: Forwarder.method,
    StatementKind.LIST_POP: Forwarder.method,  # (on a list without tangents)
    StatementKind.LIST_APPEND: Forwarder.list_append,
    StatementKind.LIST_GET: Forwarder.list_get,
    StatementKind.LIST_SET: Forwarder.list_set,
    StatementKind.SETITEM: Forwarder.setitem,
    StatementKind.ADD_AT: Forwarder.add_at,
    StatementKind.UNPACK: Forwarder.unpack,
}


def _method(obj: ast.expr, name: str, args: list[ast.expr]) -> ast.Call:
    """`obj.name(args)`."""
    return ast.Call(
        func=ast.Attribute(value=obj, attr=name, ctx=ast.Load()), args=args, keywords=[]
    )


def _item(name: str, index: ast.expr, ctx: ast.expr_context) -> ast.Subscript:
    """`name[index]` (a copy of the index)."""
    return ast.Subscript(value=ast.Name(name, ast.Load()), slice=clone(index), ctx=ctx)


class _Vanished(ast.stmt):
    """A tangent assignment every term of which was dropped: the tangent is zero."""

    _fields = ()


class _Pruner:
    """Drop the terms of tangent expressions whose input tangents are zero.

    A tangent is linear in the input tangents, so a subexpression that only
    reads zero tangents is zero: `dx * y + x * dy` with dy zero is `dx * y`.
    Sums lose the zero side; other operations on one tangent vanish with it;
    anything else that mixes zero and non-zero tangents (np.where(c, dx, dy),
    a list of tangents) gets explicit zeros for the missing ones.
    """

    def __init__(self, zero: set[str], tangents: set[str], result: str, filled: set[str]) -> None:
        self.zero = zero
        self.filled = filled  # zero tangents already substituted by explicit zeros
        self.tangents = tangents
        self.result = result
        self.narrowed: set[int] = set()  # output assignments that may have lost their shape

    def statements(self, body: list[ast.stmt], output: str) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, ast.If):
                stmt.body = self.statements(stmt.body, output)
                stmt.orelse = self.statements(stmt.orelse, output)
            elif isinstance(stmt, ast.Assign) and assigned_names(stmt) == {output}:
                value, narrowed = self.prune(stmt.value)
                if value is None:  # every term was dropped: the tangent is zero
                    stmt = ast.copy_location(_Vanished(), stmt)
                else:
                    stmt.value = value
                    if narrowed and not self.full_shape(value):
                        self.narrowed.add(id(stmt))
            out.append(stmt)
        return out

    def full_shape(self, e: ast.expr) -> bool:
        """Whether what is left still has the result's shape: every term reads the result, or
        every input whose term was dropped (as in `dx * y`, which broadcasts against y)."""
        terms = _terms(e)
        dropped = {z[1:] for z in self.zero}
        return all(self.result in (names := set(names_in(t))) or dropped <= names for t in terms)

    def prune(self, e: ast.expr) -> tuple[ast.expr | None, bool]:
        present = {n for n in names_in(e) if n in self.tangents}
        if not present & self.zero:
            return e, False
        if present <= self.zero:
            return None, False
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
            left, fl = self.prune(e.left)
            right, fr = self.prune(e.right)
            if left is None:
                assert right is not None
                if isinstance(e.op, ast.Sub):
                    return ast.UnaryOp(op=ast.USub(), operand=right), True
                return right, True
            if right is None:
                return left, True
            return ast.BinOp(left=left, op=e.op, right=right), fl or fr
        if isinstance(e, ast.BinOp):
            in_left = any(n in self.tangents for n in names_in(e.left))
            in_right = any(n in self.tangents for n in names_in(e.right))
            if in_left != in_right:
                if in_left:
                    side, flag = self.prune(e.left)
                    return ast.BinOp(left=side, op=e.op, right=e.right), flag
                side, flag = self.prune(e.right)
                return ast.BinOp(left=e.left, op=e.op, right=side), flag
        if isinstance(e, ast.UnaryOp):
            operand, flag = self.prune(e.operand)
            return ast.UnaryOp(op=e.op, operand=operand), flag
        if isinstance(e, ast.IfExp):
            body, fb = self.prune(e.body)
            orelse, fo = self.prune(e.orelse)
            return (
                ast.IfExp(
                    test=e.test,
                    body=body if body is not None else ast.Constant(0.0),
                    orelse=orelse if orelse is not None else ast.Constant(0.0),
                ),
                True,
            )
        return _ZeroFiller(self.zero - self.filled).visit(e), False


def _terms(e: ast.expr) -> list[ast.expr]:
    """The summands of a sum (or difference)."""
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
        return _terms(e.left) + _terms(e.right)
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return _terms(e.operand)
    return [e]


class _ZeroFiller(ast.NodeTransformer):
    """Replace zero tangents `dp` by `np.zeros_like(p)` inside a term that needs them."""

    def __init__(self, zero: set[str]) -> None:
        self.zero = zero

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.zero and isinstance(node.ctx, ast.Load):
            func = ast.Attribute(value=ast.Name(_NP, ast.Load()), attr="zeros_like", ctx=ast.Load())
            return ast.Call(func=func, args=[ast.Name(node.id[1:], ast.Load())], keywords=[])
        return node


def _no_tangent_message(prim: Any) -> str:
    name = display_name(prim)
    library = getattr(prim, "__module__", "").split(".")[0] in ("numpy", "scipy", "chainrule")
    if isinstance(prim, type(_no_tangent_message)) and lookup(prim) is None and not library:
        return (
            f"calls to the Python function {prim.__qualname__!r} are not differentiated yet; "
            "inline its body into the function, or register derivative rules for it with "
            "chainrule.tangent (forward mode) and chainrule.adjoint (reverse mode)"
        )
    if lookup(prim) is not None:
        return (
            f"{name} has an adjoint (reverse-mode) rule but no tangent (forward-mode) rule; "
            "register one with chainrule.tangent, or use reverse mode"
            + rule_example(prim, "tangent")
        )
    return (
        f"{name} has no derivative rule; use a function that has one, or register a "
        "tangent rule with chainrule.tangent" + rule_example(prim, "tangent")
    )


def emit_forward(tan: Tangent) -> ast.FunctionDef:
    """`jvp_f(x, y, dx, dy)`: the primal arguments, then one tangent per wrt argument."""
    parsed = tan.fn.parsed
    name = generated_name("jvp", parsed.func.__name__)
    along = ", ".join(tan.tangent_params)
    doc = (
        f"Value of {parsed.func.__name__} and its tangent (Jacobian-vector product) "
        f"along {along}.\n\n    Generated by chainrule.\n    "
    )
    body: list[ast.stmt] = [ast.Expr(ast.Constant(doc))]
    body.append(
        comment(
            "forward pass with tangents: after each statement, its derivative along the "
            "input tangents"
        )
    )
    body.extend(tan.body)
    body.append(
        ast.Return(value=ast.Tuple(elts=[clone(tan.fn.result), tan.result_tangent], ctx=ast.Load()))
    )
    args = clone(parsed.node.args)
    for a in args.posonlyargs + args.args:
        a.annotation = None
    args.args = args.posonlyargs + args.args + [ast.arg(arg=t) for t in tan.tangent_params]
    args.posonlyargs = []
    args.defaults = []  # the tangents come last: callers pass every argument
    return function_def(name, args, body)


class ForwardMode(Transformation):
    """Forward mode: `jvp_f(x, ..., dx, ...)` returning the value and its tangent."""

    name = "jvp"
    label = "forward mode (jvp)"

    def emit(self, fn: Function, target: Target) -> Emitted:
        tan = Forwarder(fn, target).run()
        funcdef = emit_forward(tan)
        # everything between the docstring and the return may go if nobody reads it
        return Emitted(funcdef, tan.bindings.cells, funcdef.body[1:-1], keeps_defaults=False)


JVP = register(ForwardMode())
