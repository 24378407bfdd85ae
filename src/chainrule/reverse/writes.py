"""Adjoints of the statements that change a list or an array in place, and of unpacking.

A rule template describes a function of its arguments; these statements
change an object instead, so their adjoints are written here by hand:

* `hs.append(v)` is undone by `hs.pop()`, and v takes `dhs.pop()`;
  `t = hs.pop()` (in gradient code differentiated again) is its mirror;
* `x = hs[i]` adds dx into `dhs[i]`; `hs[i] = v` hands `dhs[i]` to v and
  clears the slot for the item it replaced;
* `out[i] = v` hands a copy of `dout[i]` to v, clears the place
  (`dout[i] = 0.0`) and puts the overwritten elements back for the
  statements before it; `np.add.at(out, i, v)` likewise, without clearing;
* `a, b = x` stacks da, db into dx.
"""

from __future__ import annotations

import ast

from ..derivatives import DerivativeContext
from ..ir import ADD_AT, clone, comment, facts_of, name_of, names_in
from ..runtime import (
    kept_writes,
    record_grad,
    unbroadcast,
    unpack_grad,
    zeros_like_item,
    zeros_like_list,
)
from ..transformation import assign
from .gradients import Gradients

LIST_GET_NOTE = "list item: its gradient is added into the same slot of the list's gradient"
UNPACK_NOTE = "unpacking: each name gets its row's gradient"


def _method(obj: ast.expr, name: str, args: list[ast.expr]) -> ast.Call:
    """`obj.name(args)`."""
    return ast.Call(
        func=ast.Attribute(value=obj, attr=name, ctx=ast.Load()), args=args, keywords=[]
    )


def index_value(index: ast.expr) -> ast.expr:
    """The index of a subscript as a value that can be passed on (`1:3` -> `slice(1, 3)`)."""
    if isinstance(index, ast.Slice):
        parts = [index.lower, index.upper, index.step]
        if parts[2] is None:  # slice(a, b); slice(a) alone would mean slice(None, a)
            parts.pop()
        args = [clone(p) if p is not None else ast.Constant(None) for p in parts]
        return ast.Call(func=ast.Name("slice", ast.Load()), args=args, keywords=[])
    if isinstance(index, ast.Tuple):
        return ast.Tuple(elts=[index_value(e) for e in index.elts], ctx=ast.Load())
    return clone(index)


def _item(name: str, index: ast.expr, store: bool = False) -> ast.Subscript:
    """`name[index]`, read or (`store`) written (a copy of the index)."""
    ctx = ast.Store() if store else ast.Load()
    return ast.Subscript(value=ast.Name(name, ast.Load()), slice=clone(index), ctx=ctx)


class InPlaceAdjoints:
    """The adjoints of list and array changes, and of unpacking (see the module doc)."""

    def __init__(self, ctx: DerivativeContext, grads: Gradients) -> None:
        self.ctx = ctx
        self.grads = grads

    def opening(self, stmt: ast.stmt, note: str) -> tuple[str, list[ast.stmt]]:
        """The user's line behind an in-place change, and the comments that open its
        adjoint: that line, then the rule."""
        origin = facts_of(stmt).origin
        text = self.ctx.line_of(stmt, origin)
        self.ctx.last_origin = origin
        return text, [comment(text), comment(note)]

    def hand_to(self, value: ast.Name, gradient: ast.expr) -> list[ast.stmt]:
        """Add `gradient` (the gradient of the place a value went to) to the value's."""
        total = self.ctx.helper_call(unbroadcast, "unbroadcast", [gradient, clone(value)])
        code = self.grads.add_to(value.id, total)
        self.grads.simplify(code)
        return code

    def list_append(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`hs.append(v)`: undo it (hs.pop()), and v takes the last element of dhs."""
        ctx, grads = self.ctx, self.grads
        hs, value = facts_of(stmt).args
        note = "append: the appended value takes the last gradient of the list"
        _, out = self.opening(stmt, note)
        out.append(ast.Expr(value=_method(clone(hs), "pop", [])))  # the list before the append
        g = ctx.dname(name_of(hs))
        if g not in grads.defined:
            outer = grads.outer_loop(name_of(hs))
            if outer is None:  # nothing after the append read the list: no gradient
                return out
            grads.init_before(outer, name_of(hs), g)  # read by a later iteration
            grads.defined.add(g)
        taken = _method(ast.Name(g, ast.Load()), "pop", [])
        if isinstance(value, ast.Name) and ctx.active(value.id):
            out.extend(grads.add_to(value.id, taken))
        elif isinstance(value, ast.Tuple) and any(ctx.active(n) for n in names_in(value)):
            # a record: unpack its gradients (a slot nobody differentiated holds one zero)
            slots = ctx.helper_call(
                record_grad, "record_grad", [taken, ast.Constant(len(value.elts))]
            )
            out.extend(grads.accumulate(value, slots))
        else:
            out.append(ast.Expr(value=taken))
        return out

    def list_pop(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`t = hs.pop()`: put the item back (hs.append(t)), and its gradient on dhs.

        The mirror image of an append's adjoint; gradient code, differentiated
        again, pops the records its forward loop pushed.
        """
        ctx, grads = self.ctx, self.grads
        assert isinstance(stmt, ast.Assign)
        record = facts_of(stmt)
        hs = name_of(record.args[0])
        t = name_of(stmt.targets[0])
        ctx.last_origin = record.origin
        out: list[ast.stmt] = [
            comment(ctx.p.line_text(getattr(record.origin, "lineno", 0))),
            comment("pop: the item goes back on the list, its gradient on the list's gradient"),
        ]
        out.append(
            ast.Expr(value=_method(ast.Name(hs, ast.Load()), "append", [ast.Name(t, ast.Load())]))
        )
        if not ctx.active(hs):  # a restored list nobody differentiates: only put it back
            return out
        g = ctx.dname(hs)
        if g not in grads.defined:
            grads.defined.add(g)
            outer = grads.outer_loop(hs)
            if outer is None:  # (the pop shows the list exists here)
                out.insert(2, grads.zeros_for(g, hs, bound=True))
            else:  # the list's gradient starts before the reversed loop
                grads.init_before(outer, hs, g)
        dt = ctx.dnames.get(t)
        item: ast.expr = (
            ast.Name(dt, ast.Load())
            if dt in grads.defined
            else ctx.helper_call(zeros_like_item, "zeros_like_item", [ast.Name(t, ast.Load())])
        )
        out.append(ast.Expr(value=_method(ast.Name(g, ast.Load()), "append", [item])))
        return out

    def list_get(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`x = hs[i]`: dhs[i] collects dx (dhs starts as zeros the length of hs)."""
        ctx, grads = self.ctx, self.grads
        assert isinstance(stmt, ast.Assign)
        hs_atom, index = facts_of(stmt).args
        hs, x = name_of(hs_atom), name_of(stmt.targets[0])
        if ctx.dname(x) not in grads.defined:
            return []  # the item's gradient is zero on this path
        g = ctx.dname(hs)
        out: list[ast.stmt] = []
        if g not in grads.defined:
            out.append(grads.zeros_for(g, hs, bound=True))  # (the read shows the list exists)
            grads.defined.add(g)
            outer = grads.outer_loop(hs)
            if outer is not None:  # started before the loop instead
                out.pop()
                grads.init_before(outer, hs, g)
        total = ast.BinOp(
            left=_item(g, index), op=ast.Add(), right=ast.Name(ctx.dname(x), ast.Load())
        )
        out.append(ast.Assign(targets=[_item(g, index, store=True)], value=total))
        return out

    def list_set(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`hs[i] = v`: v takes the gradient of slot i, which then starts again from zero
        for the element that was there before."""
        ctx, grads = self.ctx, self.grads
        hs, index, value, old = facts_of(stmt).args
        g = ctx.dname(name_of(hs))
        if g not in grads.defined:
            outer = grads.outer_loop(name_of(hs))
            if outer is None:
                return []  # nothing read the list after this write
            # in a loop, a later iteration may read the slot: its gradient starts at zero
            # before the reversed loop and collects what those reads hand back
            grads.init_before(outer, name_of(hs), g)
            grads.defined.add(g)
        note = "list item assignment: the value takes the slot's gradient, the slot starts over"
        out = ctx.header(stmt, None, note)
        if isinstance(value, ast.Name) and ctx.active(value.id):
            out.extend(grads.add_to(value.id, _item(g, index)))
        cleared = ast.Subscript(value=ast.Name(g, ast.Store()), slice=clone(index), ctx=ast.Store())
        zero = ctx.helper_call(zeros_like_item, "zeros_like_item", [clone(old)])
        out.append(ast.Assign(targets=[cleared], value=zero))
        return out

    def setitem(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`out[i] = v`: v takes dout[i], which is then cleared; out[i] gets its old value."""
        ctx, grads = self.ctx, self.grads
        record = facts_of(stmt)
        array, index, value, old = record.args
        note = (
            "write into an array: the written value takes the gradient at that place (the last "
            "write, where an index repeats), "
            "and the overwritten element none"
        )
        text, out = self.opening(stmt, note)
        g = ctx.dname(name_of(array))
        self.init_in_loop(array, g)
        if g not in grads.defined:  # nothing after the write reads the array: no gradient
            if record.restore:
                out.extend(self.put_back(array, index, old))
            return out
        if isinstance(index, ast.Tuple) and not index.elts and g not in grads.owned:
            # a 0-d array: its gradient may be a Python float, which has no .copy()
            out.append(assign(g, ctx.numpy_call("copy", [ast.Name(g, ast.Load())])))
            grads.owned.add(g)
        out.extend(grads.own(g))
        handed: list[ast.stmt] = []
        if isinstance(value, ast.Name) and ctx.active(value.id):
            # a copy of the place's gradient, taken before the place is cleared; where a
            # repeated index wrote twice only the last write counts, and an integer array
            # keeps no gradient (kept_writes)
            kept: ast.expr = ctx.helper_call(
                kept_writes, "kept_writes", [_item(g, index), index_value(index), clone(array)]
            )
            if value.id == name_of(array):  # `out[i] = out`: the old array is the value
                place = ctx.names.fresh("dplace")
                out.append(assign(place, kept))
                handed = self.hand_to(value, ast.Name(place, ast.Load()))
            else:
                out.extend(self.hand_to(value, kept))
        # The overwritten element no longer reaches the output: its gradient is zero.
        # (A plain write, so that this gradient code can itself be differentiated.)
        out.append(ast.Assign(targets=[_item(g, index, store=True)], value=ast.Constant(0.0)))
        out.extend(handed)  # (after the clearing, which is of the new array's place)
        if record.restore:
            out.extend(self.put_back(array, index, old))
        out.append(comment(text))
        return out

    def restore_only(self, stmt: ast.stmt) -> list[ast.stmt]:
        """The adjoint of a write no gradient passes through: only the put-back."""
        array, index, _, old = facts_of(stmt).args[:4]
        _, out = self.opening(stmt, "a write of values no gradient reaches")
        what = "np.add.at changed" if facts_of(stmt).prim is ADD_AT else "the write overwrote"
        return [*out, *self.put_back(array, index, old, what)]

    def init_in_loop(self, array: ast.expr, g: str) -> None:
        """Inside a loop, the gradient of an array from outside it: zeros before the
        loop's backward pass, to which later iterations' reads of it add up (with no
        gradient yet here, the last iteration's write seemed to reach nothing)."""
        grads = self.grads
        outer = grads.outer_loop(name_of(array))
        if g not in grads.defined and outer is not None:
            grads.init_before(outer, name_of(array), g)
            grads.defined.add(g)
            grads.owned.add(g)

    def put_back(
        self, array: ast.expr, index: ast.expr, old: ast.expr, what: str = "the write overwrote"
    ) -> list[ast.stmt]:
        """Restore what a write overwrote, for the adjoints of the statements before it."""
        restore = ast.Subscript(value=clone(array), slice=clone(index), ctx=ast.Store())
        return [
            comment(f"put back what {what}, for the statements before it"),
            ast.Assign(targets=[restore], value=clone(old)),
        ]

    def add_at(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`np.add.at(out, i, v)`: each added value takes the gradient at its place (a
        repeated index reads it again); `out`'s gradient passes through unchanged."""
        ctx, grads = self.ctx, self.grads
        record = facts_of(stmt)
        array, index, value, old = record.args
        note = "np.add.at: each added value receives the gradient at its place"
        _, out = self.opening(stmt, note)
        g = ctx.dname(name_of(array))
        self.init_in_loop(array, g)
        if isinstance(value, ast.Name) and ctx.active(value.id) and g in grads.defined:
            out.extend(self.hand_to(value, _item(g, index)))
        if record.restore:
            out.extend(self.put_back(array, index, old, "np.add.at changed"))
        return out

    def unpack(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`a, b = x`: dx is the stack of da, db (zeros for unused rows)."""
        ctx, grads = self.ctx, self.grads
        source = facts_of(stmt).args[0]
        if not isinstance(source, ast.Name) or not ctx.active(source.id):
            return []
        assert isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Tuple)
        rows: list[ast.expr] = []
        for i, t in enumerate(stmt.targets[0].elts):
            g = ctx.dnames.get(name_of(t))
            if g is not None and g in grads.defined:
                rows.append(ast.Name(g, ast.Load()))
            else:
                row = ast.Subscript(
                    value=ast.Name(source.id, ast.Load()), slice=ast.Constant(i), ctx=ast.Load()
                )
                if name_of(t) in ctx.list_names:  # a list's zero is a list of zeros
                    rows.append(ctx.helper_call(zeros_like_list, "zeros_like_list", [row]))
                else:
                    rows.append(ctx.numpy_call("zeros_like", [row]))
        stacked = ctx.helper_call(
            unpack_grad,
            "unpack_grad",
            [ast.List(elts=rows, ctx=ast.Load()), ast.Name(source.id, ast.Load())],
        )
        return grads.add_to(source.id, stacked)
