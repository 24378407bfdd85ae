"""The gradient variables of a backward pass, and adding contributions to them.

Each active value `v` gets a gradient variable `dv` (derivatives.py names
it).  While the backward pass is written, last statement first, `Gradients`
knows which of them hold a value so far (`defined`), and `add_to` writes
each new contribution:

* the first contribution to `dx` is a plain assignment `dx = ...`;
* later ones are sums `dx = dx + ...` (the copy gate: a value used several
  times receives the sum of its uses' gradients).  We never write `dx += ...`
  because `dx` may be the very array another gradient name refers to (the add
  gate hands out the same `dz` to both inputs), except on arrays known to be
  private (`owned`), where a loop's scattered contributions become
  `dxs[t] += dt`;
* a value from outside a loop collects a contribution on every iteration:
  its accumulator starts at zero before the reversed loop (`init_before`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from ..derivatives import DerivativeContext
from ..flow import integer_names
from ..ir import (
    assigned_by,
    clone,
    comment,
    facts_of,
    walk_statements,
)
from ..runtime import add_lists, index_grad, zeros_like_list
from ..transformation import assign


@dataclass
class LoopInfo:
    """A loop being reversed."""

    variant: set[str]  # names assigned anywhere in the loop
    body: list[ast.stmt] = field(default_factory=list)  # the loop's own statement list
    phis: list[str] = field(default_factory=list)  # its active loop-carried names
    phi_sources: dict[str, str] = field(default_factory=dict)  # phi -> value copied into it
    needs_init: list[str] = field(default_factory=list)  # outside names accumulated inside
    rebound: set[str] = field(default_factory=set)  # names the reversed header assigns
    invariant: set[str] = field(default_factory=set)  # same value every iteration: not saved
    changed: set[str] = field(default_factory=set)  # arrays and lists it changes in place


class Gradients:
    """Which gradient variables hold a value, and how a contribution is added to one."""

    def __init__(self, ctx: DerivativeContext) -> None:
        self.ctx = ctx
        fn = ctx.fn
        self.defined: set[str] = set()  # gradient variables holding a value so far
        self.summed: set[str] = set()  # gradient variables already explained as copy gates
        self.owned: set[str] = set()  # gradient arrays no other name shares
        self.loops: list[LoopInfo] = []  # the loops being reversed, innermost last
        self.loop_inited: dict[str, LoopInfo] = {}  # accumulator -> the loop it starts before
        self.branch_depth = 0  # `if`s being reversed
        self.maybe_unbound = maybe_unbound(fn.body)
        self.unbound_phis = {  # loop-carried names with no value before their loop
            t for s in walk_statements(fn.body) if facts_of(s).unbound_init for t in assigned_by(s)
        }
        self.int_names: set[str] = integer_names(fn.body, fn.params)  # indices, counters, sizes

    def simplify(self, code: list[ast.stmt]) -> None:
        """Drop `unbroadcast` calls that provably do nothing from freshly written code."""
        self.ctx.shapes.simplify(code, len(self.loops) + self.branch_depth)

    def outer_loop(self, name: str) -> LoopInfo | None:
        """The outermost loop being reversed that does not assign `name`."""
        return next((loop for loop in self.loops if name not in loop.variant), None)

    def init_before(self, loop: LoopInfo, name: str, g: str) -> None:
        """Start gradient `g` of `name` at zero before the reversed `loop` (an accumulator)."""
        loop.needs_init.append(name)
        self.loop_inited[g] = loop

    def zeros_for(self, g: str, primal: str, bound: bool = False) -> ast.stmt:
        """`g = zeros shaped like primal`; `bound` says primal surely exists here."""
        ctx = self.ctx
        self.owned.add(g)
        if primal in self.maybe_unbound and not bound:
            # `primal` exists only on some paths (e.g. a value assigned by a `return`
            # inside a loop): on the others no adjoint reads this zero's shape
            return assign(g, ast.Constant(0.0))
        if primal in ctx.list_names:  # one zero per element, shaped like it
            zeros = ctx.helper_call(
                zeros_like_list, "zeros_like_list", [ast.Name(primal, ast.Load())]
            )
            return assign(g, zeros)
        if ctx.shapes.is_scalar(primal):
            return assign(g, ast.Constant(0.0))
        return assign(g, ctx.numpy_call("zeros_like", [ast.Name(primal, ast.Load())]))

    def own(self, g: str) -> list[ast.stmt]:
        """Before changing gradient array `g` in place, make sure no other name shares it."""
        if g in self.owned:
            return []
        self.owned.add(g)
        copy_call = ast.Call(
            func=ast.Attribute(value=ast.Name(g, ast.Load()), attr="copy", ctx=ast.Load()),
            args=[],
            keywords=[],
        )
        return [assign(g, copy_call)]

    # -- contributions -------------------------------------------------------------------
    def accumulate(self, where: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Add `value` to the gradient of `where` (a name or a display of names)."""
        ctx = self.ctx
        if isinstance(where, ast.Name):
            if not ctx.active(where.id):
                return []
            return self.add_to(where.id, value)
        if isinstance(where, (ast.List, ast.Tuple)):
            # the gradient of a display is a sequence shaped like it: unpack it
            pending: list[ast.stmt] = []
            seen: set[str] = set()

            def target_for(elt: ast.expr) -> ast.expr:
                if isinstance(elt, (ast.List, ast.Tuple)) and any(
                    isinstance(n, ast.Name) and ctx.active(n.id) for n in ast.walk(elt)
                ):
                    return ast.Tuple(elts=[target_for(e) for e in elt.elts], ctx=ast.Store())
                if isinstance(elt, ast.Name) and ctx.active(elt.id):
                    g = ctx.dname(elt.id)
                    outside = any(elt.id not in loop.variant for loop in self.loops)
                    if g not in self.defined and elt.id not in seen and not outside:
                        seen.add(elt.id)
                        self.defined.add(g)
                        self.owned.discard(g)  # (it may be an array another name holds)
                        return ast.Name(g, ast.Store())
                    # a value from outside the loop accumulates over iterations: add_to
                    tmp = ctx.names.temp()
                    pending.extend(self.add_to(elt.id, ast.Name(tmp, ast.Load())))
                    return ast.Name(tmp, ast.Store())
                return ast.Name(ctx.names.fresh("_"), ast.Store())

            tgt = target_for(where)
            return [ast.Assign(targets=[tgt], value=value), *pending]
        return []  # a constant: no gradient

    def add_to(self, name: str, value: ast.expr) -> list[ast.stmt]:
        """Add the contribution `value` to the gradient of `name`."""
        g = self.ctx.dname(name)
        if name in self.ctx.list_names:
            return self.add_to_list(name, g, value)
        if g not in self.defined:
            outer = self.outer_loop(name)
            self.defined.add(g)
            if outer is None:
                self.owned.discard(g)  # it may be the very array another gradient holds
                return [assign(g, value)]
            self.owned.add(g)
            # a value from outside the loop collects a gradient on every iteration:
            # its accumulator starts at zero before the reversed loop
            self.init_before(outer, name, g)
            in_place = self.scatter_in_place(g, value)
            if in_place is not None:
                return [in_place]
            total = ast.BinOp(left=ast.Name(g, ast.Load()), op=ast.Add(), right=value)
            return [assign(g, total)]
        out: list[ast.stmt] = []
        if g not in self.summed:
            self.summed.add(g)
            out.append(
                comment(f"copy gate: {name} is used more than once, so its gradients add up")
            )
        in_place = self.scatter_in_place(g, value)
        if in_place is not None:
            out.append(in_place)
            return out
        total = ast.BinOp(left=ast.Name(g, ast.Load()), op=ast.Add(), right=value)
        out.append(assign(g, total))
        self.owned.add(g)  # a sum is a new array
        return out

    def add_to_list(self, name: str, g: str, value: ast.expr) -> list[ast.stmt]:
        """The gradient of a list is a list of the same length: add element by element."""
        if g not in self.defined:
            outer = self.outer_loop(name)
            self.defined.add(g)
            if outer is None:
                as_list = ast.Call(func=ast.Name("list", ast.Load()), args=[value], keywords=[])
                return [assign(g, as_list)]
            self.init_before(outer, name, g)
        total = self.ctx.helper_call(add_lists, "add_lists", [ast.Name(g, ast.Load()), value])
        return [assign(g, total)]

    def scatter_in_place(self, g: str, value: ast.expr) -> ast.stmt | None:
        """`dxs = dxs + index_grad(dt, xs, np.s_[t])` as `dxs[t] += dt` on an owned dxs.

        Inside a loop this turns a full-size zero array per iteration into one
        element update; it is only done when no other name can share `dxs`.
        """
        if g not in self.owned or not self.loops:
            return None
        bindings = self.ctx.bindings
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and bindings.cells.get(value.func.id) is index_grad
            and len(value.args) == 3
        ):
            return None
        dy, _, index = value.args
        if (
            isinstance(index, ast.Subscript)
            and isinstance(index.value, ast.Attribute)
            and index.value.attr == "s_"
        ):
            index = index.slice  # np.s_[...] -> the index itself
        if self.basic_index(index):
            target = ast.Subscript(
                value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Store()
            )
            return ast.AugAssign(target=target, op=ast.Add(), value=dy)
        np_name = bindings.name_for(np, "np")
        add_at = ast.Attribute(
            value=ast.Attribute(value=ast.Name(np_name, ast.Load()), attr="add", ctx=ast.Load()),
            attr="at",
            ctx=ast.Load(),
        )
        call = ast.Call(func=add_at, args=[ast.Name(g, ast.Load()), clone(index), dy], keywords=[])
        return ast.Expr(value=call)

    def basic_index(self, index: ast.expr) -> bool:
        """Ints (range loop variables, literals, arithmetic on them) and slices only."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return all(isinstance(part, ast.Slice) or self.int_expr(part) for part in parts)

    def int_expr(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) is int
        if isinstance(expr, ast.Name):
            return expr.id in self.int_names
        if isinstance(expr, ast.BinOp) and isinstance(
            expr.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
        ):
            return self.int_expr(expr.left) and self.int_expr(expr.right)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return self.int_expr(expr.operand)
        return False


def maybe_unbound(body: list[ast.stmt]) -> set[str]:
    """Names that may not exist on every path: assigned in one branch of an `if` only
    (a name that both branches assign is bound after the `if`), or only by the
    end-of-iteration copy of a loop (no value before the loop)."""
    defs: dict[str, list[bool]] = {}
    definite: set[str] = set()

    def block(stmts: list[ast.stmt], branch: bool) -> set[str]:
        """Visit a statement list; return the names it surely assigns when it runs."""
        sure: set[str] = set()
        for stmt in stmts:
            for name in assigned_by(stmt):
                back = facts_of(stmt).phi_back
                defs.setdefault(name, []).append(back)
                if not back and not facts_of(stmt).unbound_init:  # (`y_1 = None`: no value)
                    sure.add(name)
            if isinstance(stmt, ast.If):
                sure |= block(stmt.body, True) & block(stmt.orelse, True)
            elif isinstance(stmt, (ast.For, ast.While)):
                block(stmt.body, False)
        if not branch:  # (a branch's own names exist only when it ran)
            definite.update(sure)
        return sure

    block(body, False)
    return {n for n, backs in defs.items() if n not in definite or all(backs)}
