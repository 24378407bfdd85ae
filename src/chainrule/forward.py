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
(`dt1 = x * dy` when only y varies).  Where a dropped term was the one that
broadcasting made large, the remaining tangent is stretched back to the
result's shape with `broadcast_like`, unless the shapes provably agree.

Tangent variables are named like gradients (`dv`, or `d_v` if taken): the
naming, bindings, comments and template machinery are those of reverse.py.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analyze import names_in, targets_of
from .codegen import comment
from .normalize import (
    ADD_AT,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    SETITEM,
    UNPACK,
    Function,
    Method,
    clone,
)
from .optimize import fold_constants
from .reverse import (
    Reverser,
    _assign,
    _free_names,
    _funcdef,
    _resolve_static_ifs,
    _resolve_template_name,
    _stored,
    _substitute,
    function_name,
    is_list_pop,
)
from .rules import Rule, display_name, is_nondifferentiable, lookup, lookup_tangent

_NP = "__chainrule_np__"  # placeholder for numpy's name inside a template being pruned


@dataclass
class Tangent:
    """A function with tangent statements interleaved: what emit_forward wraps."""

    fn: Function
    wrt: list[str]
    body: list[ast.stmt]
    tangent_params: list[str]  # the tangent argument of each wrt parameter
    result_tangent: ast.expr
    bindings: Any


class Forwarder(Reverser):
    """Walks a normalized body in program order and adds each active statement's tangent."""

    def run(self) -> Tangent:  # type: ignore[override]
        tangent_params = [self.grad(p) for p in self.wrt]
        body = self.forward_block(self.fn.body)
        result = self.fn.result
        if isinstance(result, ast.Name) and self.active(result.id):
            result_tangent: ast.expr = ast.Name(self.grad(result.id), ast.Load())
        else:
            body.append(comment("the output does not depend on the inputs: its tangent is 0"))
            result_tangent = self.zeros_of(clone(result))
        return Tangent(self.fn, self.wrt, body, tangent_params, result_tangent, self.bindings)

    # -- statement lists ---------------------------------------------------------
    def forward_block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            if isinstance(stmt, ast.If):
                saved = self.last_origin
                stmt.body = self.forward_block(stmt.body) or [ast.Pass()]
                self.last_origin = saved
                stmt.orelse = self.forward_block(stmt.orelse)
                self.last_origin = None
                out.append(stmt)
            elif isinstance(stmt, (ast.For, ast.While)):
                self.last_origin = None
                stmt.body = self.forward_block(stmt.body) or [ast.Pass()]
                self.last_origin = None
                out.append(stmt)
            else:
                header, code = self.tangent(stmt)
                out.extend(header)
                out.append(stmt)
                for c in code:
                    c.tangent = True  # type: ignore[attr-defined]
                out.extend(code)
        return out

    # -- one statement -------------------------------------------------------------
    def tangent(self, stmt: ast.stmt) -> tuple[list[ast.stmt], list[ast.stmt]]:
        """Comments to put before `stmt`, and its tangent statements to put after it."""
        prim = getattr(stmt, "prim", None)
        if is_list_pop(stmt, self.list_names) and self.active(stmt.args[0].id):  # type: ignore
            return self.list_pop(stmt)
        active = [t for t in targets_of(stmt) if self.active(t)]
        if not active:
            return [], []
        if prim is LIST_APPEND:
            hs, value = stmt.args  # type: ignore[attr-defined]
            note = "append: the list of tangents gets the value's tangent"
            item = self.tangent_expr(value) or self.zeros_of(clone(value))
            call = ast.Call(
                func=ast.Attribute(
                    value=ast.Name(self.grad(hs.id), ast.Load()), attr="append", ctx=ast.Load()
                ),
                args=[item],
                keywords=[],
            )
            return self.header(stmt, None, note), [ast.Expr(value=call)]
        if prim is LIST_SET:
            hs, index, value = stmt.args[:3]  # type: ignore[attr-defined]
            note = "list item assignment: the list of tangents gets the value's tangent there"
            written = self.tangent_expr(value) or self.zeros_of(clone(value))
            target = ast.Subscript(
                value=ast.Name(self.grad(hs.id), ast.Load()), slice=clone(index), ctx=ast.Store()
            )
            return self.header(stmt, None, note), [ast.Assign(targets=[target], value=written)]
        if prim is SETITEM:
            array, index, value = stmt.args[:3]  # type: ignore[attr-defined]
            note = "write into an array: the tangent array gets the value's tangent there"
            written = self.tangent_expr(value) or ast.Constant(0.0)
            target = ast.Subscript(
                value=ast.Name(self.grad(array.id), ast.Load()), slice=clone(index), ctx=ast.Store()
            )
            return self.header(stmt, None, note), [ast.Assign(targets=[target], value=written)]
        if prim is ADD_AT:
            array, index, value = stmt.args[:3]  # type: ignore[attr-defined]
            added = self.tangent_expr(value)
            if added is None:
                return [], []
            note = "np.add.at: the tangent array accumulates the values' tangents the same way"
            np_name = self.bindings.name_for(np, "np")
            add_at = ast.Attribute(
                value=ast.Attribute(
                    value=ast.Name(np_name, ast.Load()), attr="add", ctx=ast.Load()
                ),
                attr="at",
                ctx=ast.Load(),
            )
            call = ast.Call(
                func=add_at,
                args=[ast.Name(self.grad(array.id), ast.Load()), clone(index), added],
                keywords=[],
            )
            return self.header(stmt, None, note), [ast.Expr(value=call)]
        target = stmt.targets[0]  # type: ignore[attr-defined]
        if prim is LIST_GET:
            hs, index = stmt.args  # type: ignore[attr-defined]
            note = "list item: its tangent is the same item of the list of tangents"
            value = ast.Subscript(
                value=ast.Name(self.grad(hs.id), ast.Load()), slice=clone(index), ctx=ast.Load()
            )
            return self.header(stmt, None, note), [_assign(self.grad(target.id), value)]
        if prim is UNPACK:
            source = self.tangent_expr(stmt.args[0])  # type: ignore[attr-defined]
            if source is None:
                return [], [_assign(self.grad(n), self.zero(n)) for n in active]
            names = [
                ast.Name(self.grad(n) if self.active(n) else self.names.fresh("_"), ast.Store())
                for n in names_in(target)
            ]
            unpack = ast.Assign(targets=[ast.Tuple(elts=names, ctx=ast.Store())], value=source)
            return self.header(stmt, None, "unpacking: each name gets its row's tangent"), [unpack]
        if isinstance(prim, Method):
            raise self.scope(stmt).error(
                stmt.site,  # type: ignore[attr-defined]
                f"the method .{prim.name}() has no derivative rule; use the NumPy function "
                "instead (for example np.sum(x) for x.sum()), or register a rule for it",
            )
        if prim is None or is_nondifferentiable(prim):
            # a constant or a piecewise-constant value assigned to a name that varies
            # elsewhere (the other branch of an `if`, a loop-carried value): tangent 0
            return [], [self.zero_value(n, stmt) for n in active]
        rule = lookup_tangent(prim)
        if rule is None:
            raise self.scope(stmt).error(stmt.site, _no_tangent_message(prim))  # type: ignore[attr-defined]
        header = self.header(stmt, rule)
        return header, self.instantiate_tangent(rule, stmt, target.id)

    def list_pop(self, stmt: ast.stmt) -> tuple[list[ast.stmt], list[ast.stmt]]:
        """`t = hs.pop()`: the list of tangents gives up its last item too, even when that
        item's tangent is not needed, so that the two lists stay in step."""
        hs, *rest = stmt.args  # type: ignore[attr-defined]
        pop = ast.Call(
            func=ast.Attribute(
                value=ast.Name(self.grad(hs.id), ast.Load()), attr="pop", ctx=ast.Load()
            ),
            args=[clone(a) for a in rest],
            keywords=[],
        )
        target = stmt.targets[0]  # type: ignore[attr-defined]
        if isinstance(target, ast.Name) and self.active(target.id):
            note = "pop: the list of tangents gives up its last item too"
            return self.header(stmt, None, note), [_assign(self.grad(target.id), pop)]
        return [], [ast.Expr(value=pop)]

    def zero_value(self, name: str, stmt: ast.stmt) -> ast.stmt:
        """The tangent of a name given a value that does not vary."""
        value = getattr(stmt, "value", None)
        if name in self.list_names and isinstance(value, ast.List):
            items = [self.tangent_expr(e) or self.zeros_of(clone(e)) for e in value.elts]
            return _assign(self.grad(name), ast.List(elts=items, ctx=ast.Load()))
        if name in self.list_names:  # a list of zero tangents, one per item
            length = ast.Call(
                func=ast.Name("len", ast.Load()), args=[ast.Name(name, ast.Load())], keywords=[]
            )
            zeros = ast.List(elts=[ast.Constant(0.0)], ctx=ast.Load())
            return _assign(self.grad(name), ast.BinOp(left=zeros, op=ast.Mult(), right=length))
        if isinstance(value, ast.Constant) and type(value.value) in (int, float):
            return _assign(self.grad(name), ast.Constant(0.0))
        return _assign(self.grad(name), self.zero(name))

    def zero(self, name: str) -> ast.expr:
        if self.shapes.is_scalar(name):
            return ast.Constant(0.0)
        return self.zeros_of(ast.Name(name, ast.Load()))

    def zeros_of(self, expr: ast.expr) -> ast.expr:
        if isinstance(expr, ast.Constant) and type(expr.value) in (int, float):
            return ast.Constant(0.0)
        if isinstance(expr, ast.Name) and self.shapes.is_scalar(expr.id):
            return ast.Constant(0.0)
        return self.template_call("zeros_like", np.zeros_like, [expr])

    def tangent_expr(self, value: Any) -> ast.expr | None:
        """The tangent of an argument, or None when it has none (it is zero)."""
        if isinstance(value, ast.Name):
            return ast.Name(self.grad(value.id), ast.Load()) if self.active(value.id) else None
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
    def instantiate_tangent(self, rule: Rule, stmt: ast.stmt, target: str) -> list[ast.stmt]:
        subst = self.substitution(rule, stmt, target, "tangent")
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
        body = _resolve_static_ifs(clone(rule.body), subst)
        pruner = _Pruner(zero, tangent_names, rule.result, filled=set(subst) & zero)
        body = pruner.statements(body, output)
        temps: dict[str, str] = {_NP: self.bindings.name_for(np, "np")}
        local = {n for s in body for n in _stored(s)} - {output}
        free = _free_names(body, set(subst) | {output, _NP} | zero)
        for name in sorted(local):
            temps[name] = self.names.temp()
        for name in sorted(free - local):
            obj = _resolve_template_name(rule, name)
            temps[name] = self.bindings.name_for(obj, name)
        out = [self.route_tangent(s, output, target, subst, temps, pruner) for s in body]
        fold_constants(out)
        return out

    def route_tangent(self, tstmt, output, target, subst, temps, pruner) -> ast.stmt:
        if isinstance(tstmt, ast.If):
            test = _substitute(tstmt.test, subst, temps)
            body = [self.route_tangent(s, output, target, subst, temps, pruner) for s in tstmt.body]
            orelse = [
                self.route_tangent(s, output, target, subst, temps, pruner) for s in tstmt.orelse
            ]
            return ast.If(test=test, body=body or [ast.Pass()], orelse=orelse)
        if isinstance(tstmt, ast.Assign) and _stored(tstmt) == {output}:
            if tstmt.value is None:  # every input's term was dropped
                return _assign(self.grad(target), self.zero(target))
            value = _substitute(tstmt.value, subst, temps)
            if id(tstmt) in pruner.narrowed:
                value = self.broadcast_like(value, target)
            return _assign(self.grad(target), value)
        return _substitute(tstmt, subst, temps)

    def broadcast_like(self, value: ast.expr, target: str) -> ast.expr:
        """`broadcast_like(value, target)`, unless value provably has target's shape."""
        from .runtime import broadcast_like

        mine = self.shapes.of(value)
        if mine is not None and mine is self.shapes.of(ast.Name(target, ast.Load())):
            return value
        helper = self.bindings.name_for(broadcast_like, "broadcast_like")
        return ast.Call(
            func=ast.Name(helper, ast.Load()),
            args=[value, ast.Name(target, ast.Load())],
            keywords=[],
        )


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
            elif isinstance(stmt, ast.Assign) and _stored(stmt) == {output}:
                value, narrowed = self.prune(stmt.value)
                stmt.value = value  # type: ignore[assignment]  (None: no tangent at all)
                if narrowed and value is not None and not self.full_shape(value):
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
    if isinstance(prim, type(_no_tangent_message)) and lookup(prim) is None:
        return (
            f"calls to the Python function {prim.__qualname__!r} are not differentiated yet; "
            "inline its body into the function, or register derivative rules for it with "
            "chainrule.tangent (forward mode) and chainrule.adjoint (reverse mode)"
        )
    if lookup(prim) is not None:
        return (
            f"{name} has an adjoint (reverse-mode) rule but no tangent (forward-mode) rule; "
            "register one with chainrule.tangent (see docs/rules.md), or use reverse mode"
        )
    return (
        f"{name} has no derivative rule; use a NumPy function that has one, or register a "
        "tangent rule with chainrule.tangent (see docs/rules.md)"
    )


def forward(
    fn: Function,
    wrt: list[str],
    scalar_params: frozenset[str] = frozenset(),
    ranks: dict[str, int] | None = None,
) -> Tangent:
    return Forwarder(fn, wrt, scalar_params, ranks).run()


def emit_forward(tan: Tangent) -> ast.FunctionDef:
    """`jvp_f(x, y, dx, dy)`: the primal arguments, then one tangent per wrt argument."""
    parsed = tan.fn.parsed
    name = function_name("jvp", parsed.func.__name__)
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
    return _funcdef(name, args, body)
