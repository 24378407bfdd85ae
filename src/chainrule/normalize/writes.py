"""Normalizing in-place changes of lists and arrays the function made.

`hs.append(v)`, `hs[i] = v` and `t = hs.pop()` on a list made in the
function, `out[i] = v`, `out[i] += v` and `np.add.at(out, i, v)` on an array
made in the function, become statements annotated with their in-place
primitive (LIST_APPEND, LIST_SET, SETITEM, ADD_AT), and a write first keeps
a copy of the elements it overwrites, which the adjoint puts back.  Writes
into arguments, into arrays of unknown origin and into arrays another live
name shares are refused (`check_shared`); aliasing.py says which values are
fresh and which share memory.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

import numpy as np

from ..aliasing import immutable_scalar, new_container, passed_through, view_bases
from ..flow import binds_after, branches_apart, loop_covers, rebound_between
from ..ir import (
    ADD_AT,
    LIST_APPEND,
    LIST_SET,
    SETITEM,
    annotate,
    clone,
    facts,
)
from ..runtime import add_lists
from .advice import base_text
from .core import Normalizer


class InPlaceNormalizer:
    """Normalizes in-place changes of lists and arrays (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def list_append(self, stmt: ast.Expr) -> bool:
        """`hs.append(v)` on a list made in the function: recorded so the adjoint can undo it."""
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append"
            and isinstance(call.func.value, ast.Name)
            and self.n.current.get(call.func.value.id) in self.n.lists
            and len(call.args) == 1
            and not call.keywords
        ):
            return False
        hs = ast.Name(id=self.n.current[call.func.value.id], ctx=ast.Load())
        item = call.args[0]
        if isinstance(item, ast.Tuple) and self.n.varied(item):  # a record: one atom per value
            elts = [
                self.n.expressions.atom(e) if self.n.varied(e) else self.n.expressions.static(e)
                for e in item.elts
            ]
            value: ast.expr = ast.Tuple(elts=elts, ctx=ast.Load())
        else:
            value = (
                self.n.expressions.atom(item)
                if self.n.varied(item)
                else self.n.expressions.static(item)
            )
        if isinstance(value, ast.Name):
            for frame in self.n.loop_frames:
                frame.appends.append((call.func.value.id, self.n.roots_of(value.id)))
        op = ast.Call(
            func=ast.Attribute(value=hs, attr="append", ctx=ast.Load()), args=[value], keywords=[]
        )
        self.n.emit(annotate(ast.Expr(value=op), stmt, stmt.value, LIST_APPEND, [clone(hs), value]))
        if isinstance(value, ast.Tuple):  # a record: which of its positions hold lists
            positions = frozenset(
                k
                for k, e in enumerate(value.elts)
                if isinstance(e, ast.Name) and e.id in self.n.lists
            )
            known = self.n.record_lists.get(hs.id)
            self.n.record_lists[hs.id] = positions if known is None else known & positions
        self._track_record_arrays(hs.id, value)
        # the list holds a reference: changing the item in place changes the list's item
        held = [n.id for n in ast.walk(value) if isinstance(n, ast.Name)]
        self.n.held[hs.id] = self.n.held_of(hs.id).union(*(self.n.roots_of(n) for n in held))
        return True

    def _track_record_arrays(self, stack: str, value: ast.expr) -> None:
        """Per position of the records pushed on `stack`: whether each array pushed there
        was fresh (made in the function), and what it may share.  Popped back, an array
        is then as writable as every array pushed at its place (second-order code writes
        into the arrays its records give back: restores, gradient buffers)."""
        if not isinstance(value, ast.Tuple):
            self.n.record_arrays[stack] = None
            return
        items = [
            (
                isinstance(e, ast.Name) and e.id in self.n.writable,
                self.n.roots_of(e.id) if isinstance(e, ast.Name) else frozenset(),
            )
            for e in value.elts
        ]
        if stack not in self.n.record_arrays:
            self.n.record_arrays[stack] = items
            return
        known = self.n.record_arrays[stack]
        if known is None or len(known) != len(items):
            self.n.record_arrays[stack] = None
            return
        self.n.record_arrays[stack] = [
            (fresh and was_fresh, roots | had)
            for (fresh, roots), (was_fresh, had) in zip(items, known)
        ]

    def list_pop(self, stmt: ast.Expr) -> bool:
        """`hs.pop()` whose value is dropped, on a list made in the function (gradient code
        undoes an append this way): kept as `_ = hs.pop()`, so it is an ordinary read."""
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "pop"
            and isinstance(call.func.value, ast.Name)
            and self.n.current.get(call.func.value.id) in self.n.lists
            and not call.args
            and not call.keywords
        ):
            return False
        self.n.assignments.assign(ast.Name(id=self.n.local_name("_"), ctx=ast.Store()), call)
        return True

    def add_at(self, stmt: ast.Expr) -> bool:
        """`np.add.at(out, i, v)` on an array made in the function: in-place accumulation.

        Unlike `out[i] += v`, repeated indices all add.  Like a write, the
        statement keeps a copy of what it changes, which the adjoint puts back.
        """
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "at"
            and self.n.p.resolve(call.func) == np.add.at
        ):
            return False
        if len(call.args) != 3 or call.keywords:
            raise self.n.error(call, "write np.add.at(array, indices, values)")
        base, index_expr, value = call.args
        target = ast.copy_location(
            ast.Subscript(value=base, slice=index_expr, ctx=ast.Store()), base
        )
        array, index, value_atom, old_name = self.write_place(target, value, "np.add.at(...)")
        func = self.n.expressions.rename(call.func)
        op = ast.Call(func=func, args=[array, index, value_atom], keywords=[])
        self.n.emit(
            annotate(
                ast.Expr(value=op),
                self.n.origin,
                call,
                ADD_AT,
                [clone(array), clone(index), value_atom, old_name],
            )
        )
        return True

    def fill_diagonal(self, stmt: ast.Expr) -> bool:
        """`np.fill_diagonal(a, v)` on an array made in the function: the write
        `a[np.diag_indices(min(np.shape(a)), np.ndim(a))] = v` it performs (without
        wrap=True, which continues the diagonal of a tall matrix)."""
        call = stmt.value
        if not (isinstance(call, ast.Call) and self.n.p.resolve(call.func) is np.fill_diagonal):
            return False
        wrap = [k for k in call.keywords if k.arg == "wrap"]
        plain = len(call.args) == 2 and len(call.keywords) == len(wrap)
        if not plain or any(
            not (isinstance(k.value, ast.Constant) and k.value.value is False) for k in wrap
        ):
            raise self.n.error(
                call,
                "write np.fill_diagonal(array, value) (wrap=True is not supported: write "
                "the diagonal's elements with an index instead)",
            )
        base, value = call.args
        array = self.n.expressions.rename(base)

        module = call.func.value if isinstance(call.func, ast.Attribute) else None

        def numpy_call(name: str, *args: ast.expr) -> ast.Call:
            if module is not None and self.n.p.resolve(module) is np:  # np.shape(a): its
                func: ast.expr = ast.Attribute(value=clone(module), attr=name, ctx=ast.Load())
            else:  # (a read of the shape only, which the write analysis recognises)
                bound = self.n.names.fresh(name)  # fill_diagonal imported from numpy
                self.n.extra_cells[bound] = getattr(np, name)
                func = ast.Name(id=bound, ctx=ast.Load())
            return ast.Call(func=func, args=list(args), keywords=[])

        shape = numpy_call("shape", array)
        size = ast.Call(func=ast.Name(id="min", ctx=ast.Load()), args=[shape], keywords=[])
        indices = numpy_call("diag_indices", size, numpy_call("ndim", clone(array)))
        name = self.n.names.temp()  # the indices: data, computed before the write
        self.n.emit(
            annotate(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=indices), call)
        )
        index = ast.Name(id=name, ctx=ast.Load())
        target = ast.Subscript(value=base, slice=index, ctx=ast.Store())
        self.assign_subscript(ast.copy_location(target, call), value)
        return True

    def assign_subscript(
        self, target: ast.Subscript, value: ast.expr, augmented: bool = False
    ) -> None:
        """`out[i, j] = v` on an array created in the function: an in-place write.

        The array keeps its name (it is the same object).  Just before the write
        we keep a copy of what it overwrites, which the adjoint puts back.
        """
        base = target.value
        if isinstance(base, ast.Name) and self.n.p.is_local(base.id):
            ssa = self.n.current.get(base.id)
            if ssa is not None and ssa in self.n.lists:
                self.list_set(target, ssa, value, augmented)
                return
        written = self.write_place(target, value, f"`{base_text(target)}[...] = ...`")
        array, index, value_atom, old_name = written
        store = ast.Subscript(value=clone(array), slice=index, ctx=ast.Store())
        write = ast.Assign(targets=[store], value=value_atom)
        self.n.emit(
            annotate(write, self.n.origin, target, SETITEM, [array, index, value_atom, old_name])
        )

    def write_place(
        self,
        target: ast.Subscript,
        value: ast.expr,
        what: str,
        augmented: ast.operator | None = None,
    ) -> tuple[ast.Name, ast.expr, ast.expr, ast.Name]:
        """Checks and prepares an in-place change of `target` (a subscript of a local array):
        the array, the index, the value's atom, and a saved copy of the old elements.

        With `augmented` (`out[i] += v`), the value is `old <op> v`, computed from
        that copy, which is then a differentiable read of the place."""
        base = target.value
        if not isinstance(base, ast.Name) or not self.n.p.is_local(base.id):
            raise self.n.error(
                target,
                "only writes into a local array variable (out[i] = ...) are supported",
            )
        name = base.id
        ssa = self.n.current.get(name)
        if ssa is None:
            raise self.n.error(base, f"{name!r} is written before it is assigned")
        if ssa in self.n.trees:
            raise self.n.error(
                target,
                f"{name!r} is a container chainrule resolves when it compiles, so its items "
                f"cannot be assigned; build a new one instead, e.g. {name} = {{..., key: value}}",
            )
        if ssa not in self.n.writable:
            what_it_is = (
                "an argument not differentiated (chainrule copies only the arguments it "
                "differentiates, whose type it knows, before writing into them)"
                if ssa in self.n.p.params and self.n.p is self.n.top and ssa not in self.n.seeds
                else "an argument"
                if ssa in self.n.p.params
                else "not known to be a fresh array"
            )
            raise self.n.error(
                target,
                f"writing into {name!r}, which is {what_it_is}, could change an array the caller "
                f"or another name still sees; write into a copy, e.g. `{name} = "
                f"{name}.copy()`, or into a new array from np.zeros / np.empty",
            )
        self.check_shared(
            target,
            name,
            ssa,
            what,
            f"write `{name} = {name}.copy()` first so that they are separate arrays",
        )
        if self.n.loop_lines:
            self.n.loop_writes.append((ssa, target))
        value_atom: ast.expr | None = None
        if augmented is None:  # Python evaluates the value first, then the place
            value_atom = self._written_value(value, name)
        index = self.n.expressions.index(target.slice)
        array = ast.Name(id=ssa, ctx=ast.Load())
        old = self.n.names.temp()
        read = ast.Subscript(value=clone(array), slice=clone(index), ctx=ast.Load())
        copy_call = ast.Call(
            func=ast.Attribute(value=read, attr="copy", ctx=ast.Load()), args=[], keywords=[]
        )
        assign = ast.Assign(targets=[ast.Name(id=old, ctx=ast.Store())], value=copy_call)
        if augmented is not None and self.n.varied(ast.Name(id=name, ctx=ast.Load())):
            # out[i] += v reads the old elements: a differentiable read (indexing)
            save = annotate(assign, self.n.origin, target, operator.getitem, [clone(array), index])
            self.n.p.local_names.add(old)
            self.n.varied_user.add(old)
        else:
            save = annotate(assign, self.n.origin, target)
            facts(save).pure = not augmented  # (dead unless restored)
        facts(save).saves_old = True
        self.n.emit(save)
        old_name = ast.Name(id=old, ctx=ast.Load())
        facts(old_name).already_renamed = True  # (a compiler name: never a user's)
        if augmented is not None:
            combined = ast.copy_location(
                ast.BinOp(left=clone(old_name), op=augmented, right=value), value
            )
            value_atom = self._written_value(combined, name)
        assert value_atom is not None
        return array, index, value_atom, old_name

    def _written_value(self, value: ast.expr, array: str) -> ast.expr:
        """The atom of a value written into `array` (which then varies if the value does)."""
        if self.n.varied(value):
            self.n.varied_user.add(array)
            return self.n.expressions.atom(value)
        return self.n.expressions.static(value)

    def list_set(
        self, target: ast.Subscript, ssa: str, value: ast.expr, augmented: bool = False
    ) -> None:
        """`hs[i] = v` on a list made in the function: the slot now holds v.

        Lists hold references, so nothing is copied; the adjoint hands the
        slot's gradient to v and clears it for the element it replaced.
        """
        self.check_shared(
            target,
            target.value.id,  # type: ignore[attr-defined]
            ssa,
            f"`{target.value.id}[...] = ...`",  # type: ignore[attr-defined]
            "build a new list instead",
            items=augmented,  # `hs[0] += v` changes the item itself, in place
        )
        if isinstance(target.slice, ast.Slice):
            raise self.n.error(target, "assigning to a slice of a list is not supported")
        if self.n.varied(value):
            value_atom = self.n.expressions.atom(value)
            self.n.varied_user.add(target.value.id)  # type: ignore[attr-defined]
        else:
            value_atom = self.n.expressions.static(value)
        index = self.n.expressions.index(target.slice)
        hs = ast.Name(id=ssa, ctx=ast.Load())
        # the item being replaced (a reference): its slot's gradient restarts at its zero
        old = self.n.names.temp()
        read = ast.Subscript(value=clone(hs), slice=clone(index), ctx=ast.Load())
        save = annotate(
            ast.Assign(targets=[ast.Name(id=old, ctx=ast.Store())], value=read),
            self.n.origin,
            target,
        )
        facts(save).pure = True  # (dead unless the adjoint reads it)
        self.n.emit(save)
        store = ast.Subscript(value=clone(hs), slice=index, ctx=ast.Store())
        write = ast.Assign(targets=[store], value=value_atom)
        old_name = ast.Name(id=old, ctx=ast.Load())
        self.n.emit(
            annotate(
                write, self.n.origin, target, LIST_SET, [hs, clone(index), value_atom, old_name]
            )
        )
        # the list holds a reference to v now, as after an append: changing v in place
        # changes the list's item
        held = [n.id for n in ast.walk(value_atom) if isinstance(n, ast.Name)]
        roots = frozenset().union(*(self.n.roots_of(n) for n in held))
        self.n.held[ssa] = self.n.held_of(ssa) | roots
        for frame in self.n.loop_frames:
            frame.appends.append((target.value.id, roots))  # type: ignore[attr-defined]

    def check_shared(
        self, stmt: ast.AST, name: str, ssa: str, what: str, advice: str, items: bool = False
    ) -> None:
        """An in-place change to `name` (with `items`, to the items of list `name`) also
        changes every name sharing its memory, and every list holding it; refuse it if
        such a name is read afterwards (its value would differ).

        Inside a loop, every read in the loop's body counts as afterwards: the
        next iteration runs it again."""
        roots = self.n.held_of(ssa) if items else self.n.roots_of(ssa)
        for frame in self.n.loop_frames:  # checked again at the loop's back edge
            frame.changes.append((stmt, roots, what, advice))
        if self.n.callee_changes:  # and by the callers of the function being inlined
            self.n.callee_changes[-1].append((stmt, roots, what, advice, self.n.p))
        self.refuse_if_read_later(stmt, roots, name, what, advice)

    def check_callee_changes(
        self,
        call: ast.AST,
        callee: str,
        changes: list[tuple[ast.AST, frozenset[str], str, str, Any]],
    ) -> None:
        """After inlining `callee` at `call`: its in-place changes of arrays the caller can
        see (a parameter, a closure variable, a view of one) change the caller's names
        too, which the caller may read after the call.  A refusal points at the change,
        in the callee, and names the call."""
        for stmt, roots, what, advice, where in changes:
            if self.n.callee_changes:  # the caller is inlined too: its callers check
                self.n.callee_changes[-1].append((stmt, roots, what, advice, where))
            line = getattr(call, "lineno", "?")
            caller = self.n.p.node.name
            self.refuse_if_read_later(
                call,
                roots,
                None,
                what,
                advice,
                call_in=self.n.origin,
                after_call=f" in {caller!r}, after its call of {callee!r} at line {line}",
                locate=(where, stmt),
            )

    def refuse_if_read_later(
        self,
        stmt: ast.AST,
        roots: frozenset[str],
        name: str | None,
        what: str,
        advice: str,
        call_in: ast.AST | None = None,
        locate: tuple[Any, ast.AST] | None = None,
        after_call: str = "",
    ) -> None:
        """Refuse a change at `stmt` of the memory of `roots` if a name other than `name`
        that may share it is read afterwards.  With `call_in` (the statement holding the
        call `stmt` that made the change), a read after the call on its line counts too
        (`g(w) + np.sum(w)`)."""
        sharing = {
            user
            for user, s in self.n.current.items()
            if user != name and (self.n.roots_of(s) | self.n.held_of(s)) & roots
        }
        if not sharing:
            return
        after = getattr(stmt, "lineno", 0)
        loop_start = self.n.loop_lines[0] if self.n.loop_lines else None
        later = set()
        if call_in is not None:
            end = (getattr(stmt, "end_lineno", after), getattr(stmt, "end_col_offset", 0))
            later = {
                n.id
                for n in ast.walk(call_in)
                if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)
                and n.id in sharing
                and (n.lineno, n.col_offset) >= end
            }
        for line, n in self.n.loads:
            if n not in sharing or n in later:
                continue
            if line > after:
                if rebound_between(self.n.body, n, after, line):
                    continue
                if branches_apart(self.n.body, after, line):
                    # reached, if at all, by the next iteration of a loop around both
                    if self._rebound_in_loop(n, line, after) is not False:
                        continue
                later.add(n)
            elif loop_start is not None and loop_start <= line:
                if not self._rebound_in_loop(n, line, after):
                    later.add(n)
        clash = sorted(sharing & later)
        if clash:
            parsed, node = locate if locate is not None else (self.n.p, stmt)
            raise parsed.error(
                node,
                f"{what} changes an array that {clash[0]!r} also refers to (they may share "
                f"memory), and {clash[0]!r} is used later{after_call}; {advice}",
            )

    def _rebound_in_loop(self, name: str, line: int, write: int) -> bool | None:
        """Whether a read of `name` at `line` that a later iteration of the loops around
        a write (at line `write`) reaches always reads a binding made after the write:
        every path from the write to the end of the iteration binds the name
        (`g = np.zeros_like(d)` last), or every path from the top of the body to the read
        does (`d = g`, then `d` read).  None when no loop around the write holds the read."""
        for frame in reversed(self.n.loop_frames):  # the innermost loop holding the read
            loop = frame.loop
            if loop is None or not loop_covers(loop, line):
                continue
            if frame.source is not self.n.p:
                return False
            body = loop.body  # type: ignore[attr-defined]
            return binds_after(body, name, write) or rebound_between(body, name, 0, line)
        return None

    def track_fresh_array(self, ssa: str, value: ast.expr) -> None:
        """A temporary that surely holds a new array (`dt * t` handed to unbroadcast) may
        be passed on to a name that is written into."""
        if new_container(value, self.n.p.resolve) == "array":
            self.n.writable.add(ssa)

    def track_fresh(self, ssa: str, value: ast.expr) -> None:
        """Remember arrays made in the function (only those may be written into) and lists."""
        kind = new_container(value, self.n.p.resolve)
        if kind == "list":
            self.n.lists.add(ssa)
        elif kind == "array":
            self.n.writable.add(ssa)
            self.n.roots[ssa] = frozenset({ssa})

    def is_number(self, value: ast.expr, renamed: bool = False) -> bool:
        """Whether `value` surely is a number (an in-place operator on a name holding one
        rebinds it, so nothing that shares it sees the change).  `renamed`: the names in
        `value` are SSA names already.  Ask before the assigned name is redefined."""
        numbers, current = self.n.numbers, self.n.current

        def known(name: str) -> bool:
            return (name if renamed else current.get(name)) in numbers

        return immutable_scalar(value, self.n.p.resolve, known)

    def track_view(self, ssa: str, value: ast.expr) -> None:
        """Remember which values the new name may share memory with (an item of a list
        shares what the list's items share).  `value` is in SSA names."""
        if isinstance(value, ast.Constant) and value.value is None:
            self.n.unbound.add(ssa)  # `x = None`: no memory (a placeholder, as for phis)
        same = value if isinstance(value, ast.Name) else passed_through(value, self.n.p.resolve)
        if isinstance(same, ast.Name) and same.id in self.n.writable:
            # `a = b`, `unbroadcast(g, x)`: the same array (or a new one): as fresh as it,
            # sharing what it shares (check_shared still guards every later read)
            self.n.writable.add(ssa)
        if isinstance(value, ast.Name) and value.id in self.n.lists:
            self.n.lists.add(ssa)  # another name for the same list
            if value.id in self.n.restored_lists:
                self.n.restored_lists.add(ssa)
            self.n.held[ssa] = self.n.held_of(value.id)
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id in self.n.lists
        ):  # `t = hs.pop()`: an item of the list
            bases = {value.func.value.id}
            if value.func.attr == "pop":
                self.n.popped_from[ssa] = value.func.value.id
        else:
            bases = view_bases(value, self.n.lists, self.n.p.resolve)
        shared = frozenset().union(
            *(self.n.held_of(b) if b in self.n.lists else self.n.roots_of(b) for b in bases)
        )
        if shared:
            self.n.roots[ssa] = shared
        else:
            self.n.roots.pop(ssa, None)
        if isinstance(value, ast.Call) and self.n.p.resolve(value.func) in (list, add_lists):
            # list(x) holds x's rows; add_lists(a, b) new sums
            names = [n.id for a in value.args for n in ast.walk(a) if isinstance(n, ast.Name)]
            if self.n.p.resolve(value.func) is list:
                self.n.held[ssa] = frozenset().union(*(self.n.roots_of(n) for n in names))
            else:
                self.n.held.pop(ssa, None)

    def track_record(self, names: list[str], source: ast.expr) -> None:
        """`a, hs, b = stack.pop()`: the names at positions where every record held a list
        are lists again (second-order code restores its lists from record stacks)."""
        stack = None
        if isinstance(source, ast.Name):
            stack = self.n.popped_from.get(source.id)
        elif (
            isinstance(source, ast.Call)
            and isinstance(source.func, ast.Attribute)
            and source.func.attr == "pop"
            and isinstance(source.func.value, ast.Name)
        ):
            stack = source.func.value.id
        for k in self.n.record_lists.get(stack, frozenset()) if stack else ():
            if k < len(names):
                self.n.lists.add(names[k])
                self.n.restored_lists.add(names[k])
        items = self.n.record_arrays.get(stack) if stack else None
        if items is not None and len(items) == len(names):
            for name, (fresh, roots) in zip(names, items):
                if name in self.n.lists:
                    continue
                if roots:
                    self.n.roots[name] = roots
                if fresh:
                    self.n.writable.add(name)

    def track_copy(self, target: str, sources: list[str]) -> None:
        """A merge of values (the copies of a phi): it shares what any of them shares, and
        is fresh only when each is.  (A name with no value yet, None before the loop
        that first assigns it, has no memory and does not count.)"""
        sources = [s for s in sources if s not in self.n.unbound] or sources
        self.n.roots[target] = frozenset().union(*(self.n.roots_of(s) for s in sources))
        if sources and all(s in self.n.writable for s in sources):
            self.n.writable.add(target)
        else:
            self.n.writable.discard(target)
        if sources and all(s in self.n.lists for s in sources):
            self.n.lists.add(target)
        if any(s in self.n.restored_lists for s in sources):
            self.n.restored_lists.add(target)
        if sources and all(s in self.n.numbers for s in sources):
            self.n.numbers.add(target)
        self.n.held[target] = frozenset().union(*(self.n.held_of(s) for s in sources))
