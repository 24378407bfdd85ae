"""Simple statements: assignments, writes into arrays, lists, tuples and dicts, refusals.

Each method returns the lines of one statement (or a short group that belongs
together, such as `out = np.zeros(3)` and its writes), unindented, and updates
the scope so that later statements only use what exists.  Aliasing is tracked
on purpose: an in-place update (`v += e`, `out[i] = e`) is only generated for a
name that no other name shares, because NumPy would then change both, and the
docs say chainrule refuses that; it is generated deliberately, and tagged, in
`view_inplace` only.  Control flow is in control.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .expressions import Expr, Expressions, owned, scalar_of, squash
from .scope import ARG_BOUND, Context, ListValue, Scope, Shape, Value


@dataclass(frozen=True)
class Frame:
    """Where a statement is: how deep, in a loop or not, what a `return` here must give."""

    depth: int = 0  # enclosing if / for / while statements
    trips: int = 1  # upper bound on how often this block runs (product of loop trips)
    loop: bool = False
    loop_depth: int = 0
    returns: Shape | None = ()  # shape of a returned value; None: no return here
    top: bool = True  # directly in the function body: containers may be built here
    carried: frozenset[str] = frozenset()  # names that existed when the innermost loop began
    iterating: frozenset[str] = frozenset()  # lists a loop runs over: never appended to
    helper: bool = False  # inside a helper's body

    def inner(self, **changes) -> Frame:
        return replace(self, depth=self.depth + 1, top=False, **changes)


LOOP_NAMES = "ijklm"  # the index of a loop nested d deep is LOOP_NAMES[d]


def indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


class Statements:
    def __init__(self, ctx: Context, ex: Expressions) -> None:
        self.ctx = ctx
        self.ex = ex
        self.pending: list[str] = []  # names the final return should read

    # -- small utilities --------------------------------------------------------------

    def depth(self) -> int:
        return self.ctx.pick([1, 2, 2, 3])

    def shape(self) -> Shape:
        ctx = self.ctx
        return ctx.pick([(), (), (ctx.n,), (ctx.n,), (ctx.m,), (ctx.m, ctx.n)])

    def share(self, scope: Scope, e: Expr) -> None:
        """`e` is now also held elsewhere (a new name, a list, a tuple): no in-place updates.

        Scalars too: NumPy scalars are immutable, but chainrule cannot always tell
        a scalar from an array, and documents `z = y; z += 1` as refused."""
        if e.base and e.base in scope.values:
            scope.values[e.base] = replace(scope.values[e.base], fresh=False, made=False, held=True)

    def bind(self, scope: Scope, name: str, e: Expr, **flags) -> None:
        self.share(scope, e)
        fresh = e.fresh and e.base is None
        source = scope.values.get(e.copied) if e.copied else None
        if source is not None and source.text != name:
            scope.values[source.text] = replace(source, copied=True)
            flags["copied_from"] = source.text
        scope.set(Value(name, e.shape, e.bound, fresh=fresh, **flags))

    def element_read_alias(self, v: Value, line: str) -> None:
        """Updating in place a name that holds (or gave) a copied element: a gray area."""
        if v.copied or v.copied_from:
            self.ctx.tags.add("element-read-alias")
            self.ctx.excusable.add(line)

    def rebindable(self, scope: Scope, frame: Frame) -> list[Value]:
        """Names that may be bound to a new value here.

        Not, inside a loop, an array made before it: the next iteration would
        write into whatever the name holds then (chainrule rightly refuses that)."""
        return [
            v for v in scope.assignable() if not (frame.loop and v.made and v.text in frame.carried)
        ]

    def carried(self, frame: Frame, v: Value) -> bool:
        if frame.loop and v.text in frame.carried:
            self.ctx.tags.add("loop-carried")
            return True
        return False

    # -- assignments ------------------------------------------------------------------

    def assign(self, scope: Scope, frame: Frame) -> list[str]:
        e = self.ex.expr(scope, self.shape(), self.depth())
        name = self.ctx.fresh_name("v")
        self.bind(scope, name, e)
        if self.ctx.chance(0.3):
            self.pending.append(name)
        return [f"{name} = {e.text}"]

    def reassign(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        targets = self.rebindable(scope, frame)
        if not targets:
            return self.assign(scope, frame)
        v = ctx.pick(targets)
        e = self.ex.expr(scope, ctx.pick([v.shape, v.shape, ()]), self.depth())
        if self.carried(frame, v):
            form = ctx.rng.randrange(3)
            if form == 0:
                text, bound = f"np.tanh({v.text} * {ctx.const()} + {e.text})", 1.0
            elif form == 1:
                text, bound = f"{v.text} + 0.3 * np.sin({e.text})", v.bound + 0.3 * frame.trips
            else:
                text, bound = f"0.5 * {v.text} + 0.5 * np.tanh({e.text})", max(v.bound, 1.0)
            ctx.tags.add("elementwise")
            scope.set(Value(v.text, v.shape, bound, fresh=True))
            self.pending.append(v.text)
            return [f"{v.text} = {text}"]
        ctx.tags.add("reassign-arg" if v.arg else "reassign")
        if e.shape != v.shape:
            e = Expr(f"({e.text} + {v.text})", v.shape, e.bound + v.bound)
        self.bind(scope, v.text, e)
        return [f"{v.text} = {e.text}"]

    def augassign(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        targets = [v for v in scope.assignable() if not v.arg and v.fresh]
        if not targets:
            return self.assign(scope, frame)
        v = ctx.pick(targets)
        e = self.ex.expr(scope, ctx.pick([v.shape, ()]), self.depth())
        ctx.tags.add("augassign")
        alias = scope.values.get(v.text, v)
        in_loop = self.carried(frame, v)
        op = ctx.pick(["+=", "-=", "*="])
        if op == "*=":
            text, bound = f"np.tanh({e.text})", v.bound
            ctx.tags.add("elementwise")
        elif in_loop:
            text, bound = f"0.3 * np.tanh({e.text})", v.bound + 0.3 * frame.trips
            ctx.tags.add("elementwise")
        else:
            text, bound = e.text, v.bound + e.bound
        scope.set(replace(v, bound=bound))
        self.element_read_alias(alias, f"{v.text} {op} {text}")
        return [f"{v.text} {op} {text}"]

    def chained(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        e = self.ex.expr(scope, self.shape(), self.depth())
        a = ctx.fresh_name("v")
        if ctx.chance(0.5):
            b = ctx.fresh_name("v")
            ctx.tags.add("chain-assign")
            self.share(scope, e)
            scope.set(Value(a, e.shape, e.bound))
            scope.set(Value(b, e.shape, e.bound))
            return [f"{a} = {b} = {e.text}"]
        ctx.tags.add("annotated")
        self.bind(scope, a, e)
        return [f"{a}: {'float' if e.shape == () else 'np.ndarray'} = {e.text}"]

    def walrus(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        e = owned(self.ex.expr(scope, self.shape(), self.depth()))
        w, z = ctx.fresh_name("w"), ctx.fresh_name("v")
        ctx.tags.update({"walrus", "arith"})
        scope.set(Value(w, e.shape, e.bound))
        scope.set(Value(z, e.shape, 1.5 * e.bound))
        self.pending.append(z)
        return [f"{z} = ({w} := {e.text}) * 0.5 + {w}"]

    def assert_or_pass(self, scope: Scope, frame: Frame) -> list[str]:
        self.ctx.tags.add("assert-pass")
        arrays = [v for v in scope.values.values() if v.shape]
        if arrays and self.ctx.chance(0.7):
            v = self.ctx.pick(arrays)
            return [f"assert {v.text}.shape == {v.shape}"]
        return ["pass"]

    # -- arrays the function makes and writes into ----------------------------------------

    def new_array(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        shape = ctx.pick([(ctx.n,), (ctx.m,), (ctx.m, ctx.n)])
        same = [v for v in scope.of_shape(shape) if not v.integer]
        name = ctx.fresh_name("out")
        r = ctx.rng.randrange(6)
        bound = 0.1
        if r == 0 and same:
            v = ctx.pick(same)
            ctx.tags.add("array-write-copy")
            creator, bound = ctx.pick([f"{v.text}.copy()", f"np.copy({v.text})"]), v.bound
        elif r == 1:
            e = self.ex.expr(scope, shape, 2)
            ctx.tags.update({"array-write-arith", "arith"})
            creator, bound = f"{e.text} * 2.0", 2.0 * e.bound
        elif r == 2 and same:
            creator = f"np.zeros_like({ctx.pick(same).text})"
        elif r == 3:
            creator = f"np.full({shape}, 0.1)"
        else:
            creator = f"np.zeros({shape})"
        lines = [f"{name} = {creator}"]
        out = Value(name, shape, bound, fresh=True, made=True)
        for _ in range(ctx.rng.randint(1, 3)):
            more, out = self.write(scope, frame, out)
            lines += more
        scope.set(out)
        self.pending.append(name)
        return lines

    def write_existing(self, scope: Scope, frame: Frame) -> list[str]:
        made = [v for v in scope.values.values() if v.made and v.fresh]
        if not made:
            return self.new_array(scope, frame)
        lines, out = self.write(scope, frame, self.ctx.pick(made))
        scope.set(out)
        return lines

    def write(self, scope: Scope, frame: Frame, out: Value) -> tuple[list[str], Value]:
        """One write into `out` (an array this function made); returns the lines and new `out`."""
        ctx = self.ctx
        length, rest = out.shape[0], out.shape[1:]
        kinds = ["int", "slice", "fancy", "aug", "loop", "add-at"] + (
            ["2d", "fill-diagonal"] if rest else []
        )
        kind = ctx.pick(kinds)
        if kind == "loop":
            i = LOOP_NAMES[frame.loop_depth]
            body = scope.child()
            body.ints[i] = list(range(length))
            e = self.ex.expr(body, rest, self.depth())
            scope.merge_branch(body)
            ctx.tags.update({"array-write-loop", "for-range"})
            target, lines = f"{out.text}[{i}]", [f"for {i} in range({length}):"]
            lines.append(f"    {target} = {e.text}")
        elif kind == "2d":
            e = self.ex.expr(scope, (), self.depth())
            i, j = ctx.rng.randrange(length), ctx.rng.randrange(rest[0])
            ctx.tags.add("array-write-2d")
            lines = [f"{out.text}[{i}, {j}] = {e.text}"]
        elif kind == "fill-diagonal":  # out[i, i] = e for i < min(out.shape)
            e = self.ex.expr(scope, (), self.depth())
            ctx.tags.add("array-write-fill-diagonal")
            lines = [f"np.fill_diagonal({out.text}, {e.text})"]
        elif kind == "slice":
            a = ctx.rng.randrange(length)
            b = ctx.rng.randrange(a + 1, length + 1)
            e = self.ex.expr(scope, ctx.pick([(b - a, *rest), ()]), self.depth())
            key = f"{a}:" if b == length else f"{a}:{b}"
            ctx.tags.add("array-write-slice")
            lines = [f"{out.text}[{key}] = {e.text}"]
        elif kind == "fancy":
            idx = [ctx.rng.randrange(length) for _ in range(ctx.rng.randint(2, 3))]
            idx[1] = idx[0]  # repeated: the last write to a position wins
            e = self.ex.expr(scope, (len(idx), *rest), self.depth())
            op = "+=" if ctx.chance(0.3) else "="
            ctx.tags.add("array-write-fancy")
            if op == "+=":
                ctx.tags.add("array-write-aug")
            lines = [f"{out.text}[{idx}] {op} {e.text}"]
        elif kind == "add-at":
            idx = [ctx.rng.randrange(length) for _ in range(ctx.rng.randint(2, 3))]
            idx[1] = idx[0]  # repeated: np.add.at adds every value (unlike out[idx] += v)
            e = self.ex.expr(scope, ctx.pick([(len(idx), *rest), ()]), self.depth())
            ctx.tags.update({"array-write-add-at", "array-write-aug"})
            lines = [f"np.add.at({out.text}, {idx}, {e.text})"]
        else:
            k = ctx.pick([*range(length), -1])
            e = self.ex.expr(scope, rest, self.depth())
            op = "+=" if kind == "aug" else "="
            ctx.tags.add("array-write-aug" if kind == "aug" else "array-write-int")
            lines = [f"{out.text}[{k}] {op} {e.text}"]
        if out.read:
            ctx.tags.add("array-write-after-read")
        self.element_read_alias(out, lines[-1].strip())
        adds = "+=" in lines[-1] or kind == "add-at"
        if adds:
            bound = out.bound + e.bound * frame.trips * (3 if kind == "add-at" else 1)
        else:
            bound = max(out.bound, e.bound)
        return lines, replace(out, bound=bound, read=out.read or adds)

    def write_arg(self, scope: Scope, frame: Frame) -> list[str]:
        """A write into an argument (chainrule writes into a private copy of a
        differentiated one), sometimes after keeping a new array made from it whose
        tangent rule passes the argument's tangent through (`k = x ** 1`: the 6:5168
        wrong jvp, where dk was dx itself and the write changed it)."""
        ctx = self.ctx
        args = [
            v
            for v in scope.values.values()
            if v.arg
            and not v.fixed
            and v.shape
            and not v.integer
            and (not v.held or ctx.may_refuse)
        ]
        if not args or frame.helper:
            return self.assign(scope, frame)
        v = ctx.pick(args)
        if v.held:
            # another name holds (a view of) it, perhaps on one path only (the view in
            # one branch, a copy in the other: the seed-8 wrong gradient 8:2): the
            # write changes that name too, which chainrule must follow or refuse
            ctx.tags.add("view-inplace")
        lines = []
        if ctx.chance(0.6):
            kept = ctx.fresh_name("k")
            spelling = ctx.pick([f"{v.text} ** 1", f"{v.text} + 0.0", f"{v.text} * 1.0"])
            if ctx.chance(0.3):
                spelling = f"np.reshape({v.text}, {v.shape}) + 0.0"
            scope.set(Value(kept, v.shape, v.bound, fresh=True, made=True))
            self.pending.append(kept)
            lines.append(f"{kept} = {spelling}")
        ctx.tags.update({"write-arg", "array-write-after-read"})
        if v.text not in ctx.first_arg:
            ctx.tags.add("write-other-arg")
        written, out = self.write(scope, frame, replace(v, read=False))
        if v.held:
            ctx.excusable.update(line.strip() for line in written)
        scope.set(replace(out, arg=True, made=False, fresh=False, read=False))
        return lines + written

    def view_inplace(self, scope: Scope, frame: Frame) -> list[str]:
        """A view of a fresh array updated in place: NumPy changes both names (MAY refuse)."""
        ctx = self.ctx
        n, m = ctx.n, ctx.m
        base = self.ex.expr(scope, (m, n), 2)
        y, r = ctx.fresh_name("y"), ctx.fresh_name("r")
        views = view_spellings(y, m, n)
        view, rshape = ctx.pick(views)
        lines = [f"{y} = np.tanh({base.text})", f"{r} = {view}"]
        choice = ctx.rng.randrange(3)
        if choice == 0:
            lines.append(f"{r} *= 3.0")
        elif choice == 1:
            e = squash(self.ex.expr(scope, (), 2), 1.0)
            lines.append(f"{r} += {e.text}")
        else:
            e = squash(self.ex.expr(scope, rshape[1:], 2), 1.0)
            lines.append(f"{r}[0] = {e.text}")
        ctx.tags.update({"view-inplace", "elementwise"})
        ctx.excusable.update(lines[1:])
        scope.set(Value(y, (m, n), 4.0))
        scope.set(Value(r, rshape, 4.0))
        self.pending += [y, r]
        return lines

    def alias_update(self, scope: Scope, frame: Frame) -> list[str]:
        """`v = a` (or `v = a if c else a`), then `v += e` while `a` is used later (MAY refuse).

        NumPy changes `a` too; the docs refuse this (`z = y; z += 1`), so a refusal
        is right, and so is a gradient that follows NumPy; a wrong one is not."""
        ctx = self.ctx
        arrays = [v for v in scope.values.values() if v.shape and not v.fixed and not v.integer]
        if not arrays:
            return self.assign(scope, frame)
        a = ctx.pick(arrays)
        name = ctx.fresh_name("v")
        source = ctx.pick([a.text, f"({a.text} if {self.ex.cond(scope)} else {a.text})"])
        e = squash(self.ex.expr(scope, ctx.pick([a.shape, ()]), 2), 1.0)
        update = f"{name} += {e.text}"
        ctx.tags.add("alias-update")
        ctx.excusable.add(update)
        self.share(scope, Expr(a.text, a.shape, a.bound, base=a.text))
        scope.set(Value(name, a.shape, a.bound + 1.0))
        self.pending += [a.text, name]
        return [f"{name} = {source}", update]

    def list_reference(self, scope: Scope, frame: Frame) -> list[str]:
        """A list holds a reference to an array that is then changed in place (MAY refuse):
        NumPy changes the list's item too."""
        ctx = self.ctx
        n = ctx.n
        base = self.ex.expr(scope, (n,), 2)
        h, hs = ctx.fresh_name("h"), ctx.fresh_name("hs")
        lines = [f"{h} = np.tanh({base.text})", f"{hs} = []", f"{hs}.append({h})"]
        e = squash(self.ex.expr(scope, ctx.pick([(), (n,)]), 2), 1.0)
        if ctx.chance(0.3):
            # in a loop: the change in the next iteration reaches the item appended in
            # this one (was silently wrong: normalize met the change before the append)
            # an item write, too (`h[0] = s` rebinds nothing, so no loop-carried name
            # shows the change: was silently wrong, 15:4015)
            k = ctx.fresh_name("k")
            s = squash(self.ex.expr(scope, (), 2), 1.0).text
            change = ctx.pick(
                [
                    f"{h} += {e.text}",
                    f"{h} *= 0.5",
                    f"{h}[0] = {s}",
                    f"{h}[1] += {s}",
                    f"np.add.at({h}, [0, 0], {s})",
                ]
            )
            lines[2:] = [f"for {k} in range(3):", f"    {change}", f"    {hs}.append({h})"]
            ctx.tags.update({"list-reference", "list-append", "for-range"})
            ctx.excusable.update(lines[2:4] + [change])
        else:
            lines.append(ctx.pick([f"{h} += {e.text}", f"{h} *= 2.0", f"{hs}[-1] += {e.text}"]))
            ctx.tags.update({"list-reference", "list-append"})
            ctx.excusable.update(lines[3:])
        scope.set(Value(h, (n,), 4.0))
        scope.lists[hs] = ListValue(hs, (n,), 1, 4.0)
        self.pending += [h, hs]
        return lines

    def int_array(self, scope: Scope, frame: Frame) -> list[str]:
        """Floats written into an integer array: NumPy truncates them (MAY refuse)."""
        ctx = self.ctx
        c = ctx.fresh_name("c")
        creator = ctx.pick([f"np.arange({ctx.n})", f"np.zeros({ctx.n}, dtype=int)"])
        e = self.ex.expr(scope, (), 2)
        k = ctx.rng.randrange(ctx.n)
        ctx.tags.add("int-array-write")
        scope.set(Value(c, (ctx.n,), ctx.n + 3 * e.bound, integer=True))
        self.pending.append(c)
        lines = [f"{c} = {creator}", f"{c}[{k}] = {e.text} * 3.0"]
        ctx.excusable.update(lines)
        return lines

    # -- lists ------------------------------------------------------------------------

    def new_list(self, scope: Scope, frame: Frame) -> tuple[list[str], ListValue]:
        ctx = self.ctx
        elem = ctx.pick([(), (ctx.n,), (ctx.m,)])
        name = ctx.fresh_name("hs")
        lines = [f"{name} = []"]
        lst = ListValue(name, elem, 0, 0.0)
        if ctx.chance(0.8):
            e = self.ex.expr(scope, elem, 2)
            self.share(scope, e)
            lines.append(f"{name}.append({e.text})")
            lst = ListValue(name, elem, 1, e.bound)
        ctx.tags.add("list-append")
        scope.lists[name] = lst
        self.pending.append(name)
        return lines, lst

    def append(self, scope: Scope, frame: Frame, name: str | None = None) -> list[str]:
        ctx = self.ctx
        lists = [lst for lst in scope.lists.values() if lst.name not in frame.iterating]
        if name is None and not lists:
            return self.assign(scope, frame)
        lst = scope.lists[name] if name else ctx.pick(lists)
        e = self.ex.expr(scope, lst.elem, self.depth())
        self.share(scope, e)
        scope.lists[lst.name] = replace(lst, bound=max(lst.bound, e.bound))
        ctx.tags.add("list-append")
        return [f"{lst.name}.append({e.text})"]

    def list_slot_carry(self, scope: Scope, frame: Frame) -> list[str]:
        """A list slot written in a loop and read by the next iteration.

        `hs[0] = hs[1] * s` read as `hs[0]` by the next iteration, the list not read after
        the loop (its adjoint was lost: a wrong gradient); or a recurrence appending
        `f(hs[t])` after a display (wrong second derivatives through the gradient code's
        own list).  Found by Tangent's corpus, not by this generator, until this case.
        """
        ctx = self.ctx
        elem = ctx.pick([(), (ctx.n,)])
        hs, acc, k = ctx.fresh_name("hs"), ctx.fresh_name("acc"), ctx.fresh_name("k")
        first = squash(self.ex.expr(scope, elem, 2), 1.0)
        second = squash(self.ex.expr(scope, elem, 2), 1.0)
        s = squash(self.ex.expr(scope, elem, 2), 1.0)
        for e in (first, second, s):
            self.share(scope, e)
        size = max(1, len(elem) and ctx.n)
        ctx.tags.update({"list-slot-carry", "list-setitem", "for-range"})
        if ctx.chance(0.3):
            # an inner loop reads the list the outer loop changes in place: what the inner
            # loop computes from it is no invariant of the outer one (saved per iteration;
            # it was not: a stale np.stack(hs) gave wrong gradients)
            ctx.tags.update({"list-display", "nested-loop", "list-stack"})
            k2 = ctx.fresh_name("k")
            change = ctx.pick(
                [f"{hs}[0] = {hs}[1] * {s.text}", f"{hs}.append({hs}[-1] * {s.text})"]
            )
            lines = [
                f"{hs} = [{first.text}, {second.text}]",
                f"{acc} = 0.0",
                f"for {k} in range(2):",
                f"    for {k2} in range(2):",
                f"        {acc} = {acc} + 0.5 * np.sum(np.sin(np.stack({hs})))",
                f"    {change}",
            ]
            scope.set(Value(acc, (), 4.0 * 4 * size))
            self.pending.append(acc)
            return lines
        if ctx.chance(0.5):
            ctx.tags.add("list-display")
            slot = ctx.pick(["0", "-2"])
            lines = [
                f"{hs} = [{first.text}, {second.text}]",
                f"{acc} = 0.0",
                f"for {k} in range(3):",
                f"    {acc} = {acc} + 0.5 * np.sum({hs}[{slot}])",
                f"    {hs}[{slot}] = {hs}[1] * {s.text}",
            ]
            scope.set(Value(acc, (), 1.5 * size))
            if ctx.chance(0.3):  # u, w = hs: a list unpacked (read by index, length checked)
                ctx.tags.add("list-unpack")
                u, w = ctx.fresh_name("u"), ctx.fresh_name("w")
                lines.append(f"{u}, {w} = {hs}")
                scope.set(Value(u, elem, 1.0))
                scope.set(Value(w, elem, 1.0))
                self.pending.append(u)
        else:
            ctx.tags.add("list-append")
            lines = [
                f"{hs} = [{first.text}]",
                f"for {k} in range(3):",
                f"    {hs}.append(np.sin({s.text} * {hs}[{k}]))",
                f"{acc} = np.sum(np.stack({hs}) ** 2)",
            ]
            scope.set(Value(acc, (), 4.0 * size))
        self.pending.append(acc)
        return lines

    def list_setitem(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        lists = [lst for lst in scope.lists.values() if lst.min_len >= 1]
        if not lists:
            return self.assign(scope, frame)
        lst = ctx.pick(lists)
        e = self.ex.expr(scope, lst.elem, self.depth())
        self.share(scope, e)
        scope.lists[lst.name] = replace(lst, bound=max(lst.bound, e.bound))
        ctx.tags.add("list-setitem")
        return [f"{lst.name}[{ctx.pick([-1, *range(lst.min_len)])}] = {e.text}"]

    # -- tuples, dicts, unpacking ---------------------------------------------------------

    def container(self, scope: Scope, frame: Frame) -> list[str]:
        """A tuple or dict built once, in the function body, then indexed or unpacked."""
        ctx = self.ctx
        a, b = self.ex.expr(scope, self.shape(), 2), self.ex.expr(scope, self.shape(), 2)
        self.share(scope, a)
        self.share(scope, b)
        name = ctx.fresh_name("pr")
        if ctx.chance(0.5):
            ctx.tags.add("tuple-build")
            lines = [f"{name} = ({a.text}, {b.text})"]
            if ctx.chance(0.2):  # (u, w), z = ((a, b), b): unpacking nested tuples
                ctx.tags.add("nested-unpack")
                u, w, z = (ctx.fresh_name("v") for _ in range(3))
                for v, e in ((u, a), (w, b), (z, b)):
                    scope.set(Value(v, e.shape, e.bound))
                return [f"{name} = (({a.text}, {b.text}), {b.text})", f"({u}, {w}), {z} = {name}"]
            if ctx.chance(0.5):
                u, w = ctx.fresh_name("v"), ctx.fresh_name("v")
                scope.set(Value(u, a.shape, a.bound))
                scope.set(Value(w, b.shape, b.bound))
                return [*lines, f"{u}, {w} = {name}"]
            scope.set(Value(f"{name}[0]", a.shape, a.bound, fixed=True))
            scope.set(Value(f"{name}[1]", b.shape, b.bound, fixed=True))
            return lines
        ctx.tags.add("dict-build")
        display = ctx.pick([f"{{'a': {a.text}, 'b': {b.text}}}", f"dict(a={a.text}, b={b.text})"])
        scope.set(Value(f"{name}['a']", a.shape, a.bound, fixed=True))
        scope.set(Value(f"{name}['b']", b.shape, b.bound, fixed=True))
        return [f"{name} = {display}"]

    def swap(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        names = self.rebindable(scope, frame)
        pairs = [(v, w) for v in names for w in names if v.text < w.text and v.shape == w.shape]
        if not pairs:
            return self.assign(scope, frame)
        v, w = ctx.pick(pairs)
        ctx.tags.add("swap")
        self.carried(frame, v)
        scope.set(Value(v.text, v.shape, max(v.bound, w.bound)))
        scope.set(Value(w.text, w.shape, max(v.bound, w.bound)))
        if ctx.chance(0.5):
            ctx.tags.add("arith")
            return [f"{v.text}, {w.text} = {w.text}, {v.text} * 0.5"]
        return [f"{v.text}, {w.text} = {w.text}, {v.text}"]

    def unpack_array(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        arrays = [v for v in scope.values.values() if v.shape and v.shape[0] in (2, 3)]
        if not arrays:
            return self.assign(scope, frame)
        v = ctx.pick(arrays)
        self.share(scope, Expr(v.text, v.shape, v.bound, base=v.text))
        if len(v.shape) >= 2 and v.shape[1] in (2, 3) and ctx.chance(0.3):
            # (a, b), r = m: some rows unpacked again (the compiler holds them in
            # temporaries of its own, which must vary when m does)
            ctx.tags.add("nested-unpack-array")
            nested = ctx.rng.randrange(v.shape[0])
            parts = []
            for row in range(v.shape[0]):
                if row == nested or ctx.chance(0.3):
                    items = [ctx.fresh_name("a") for _ in range(v.shape[1])]
                    for name in items:
                        scope.set(Value(name, v.shape[2:], v.bound))
                    parts.append(f"({', '.join(items)})")
                else:
                    name = ctx.fresh_name("a")
                    scope.set(Value(name, v.shape[1:], v.bound))
                    parts.append(name)
            return [f"{', '.join(parts)} = {v.text}"]
        names = [ctx.fresh_name("a") for _ in range(v.shape[0])]
        for name in names:
            scope.set(Value(name, v.shape[1:], v.bound))
        ctx.tags.add("unpack-array")
        return [f"{', '.join(names)} = {v.text}"]

    def helper_pair(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        pairs = [f for f in scope.funcs.values() if f.tuple_result is not None]
        if not pairs:
            return self.assign(scope, frame)
        fn = ctx.pick(pairs)
        ctx.tags.update({fn.kind, "helper-tuple", *fn.tags})
        call = self.ex.call_text(scope, fn, (), self.depth())
        a, b = ctx.fresh_name("v"), ctx.fresh_name("v")
        assert fn.tuple_result is not None
        scope.set(Value(a, fn.tuple_result[0], fn.bound))
        scope.set(Value(b, fn.tuple_result[1], fn.bound))
        self.pending.append(b)
        return [f"{a}, {b} = {call}"]

    def comprehension_statement(self, scope: Scope, frame: Frame) -> list[str]:
        vectors = [v for v in scope.values.values() if len(v.shape) == 1 and not v.integer]
        if not vectors:
            return self.assign(scope, frame)
        return self.comprehension(scope, self.ctx.pick(vectors), self.ctx.fresh_name("z"))

    def comprehension(self, scope: Scope, v: Value, z: str) -> list[str]:
        """A list comprehension or sum(generator) over the vector v (written out as the
        loop it stands for)."""
        ctx = self.ctx
        n = v.shape[0]
        scope.set(Value(z, (), 2.0 * n * n))
        self.pending.append(z)
        form = ctx.pick(["list", "filtered-sum", "nested", "indexed-sum"])
        ctx.tags.add("list-comprehension")
        if form in ("filtered-sum", "indexed-sum"):
            ctx.tags.add("sum-generator")
        if form == "list":
            return [f"{z} = np.sum(np.stack([np.sin(e) * 2.0 for e in {v.text}]))"]
        if form == "filtered-sum":
            return [f"{z} = sum(np.tanh(e) * 1.5 for e in {v.text} if e > 0.1)"]
        if form == "nested":
            return [
                f"{z} = np.sum(np.array([np.sin(a) * np.cos(b) for a in {v.text} "
                f"for b in {v.text}[:2]]))"
            ]
        return [
            f"{z} = sum(np.tanh({v.text}[i]) * np.tanh({v.text}[-1 - i]) "
            f"for i in range(len({v.text})))"
        ]

    # -- documented refusals, generated on purpose -------------------------------------------

    def refusal(self, scope: Scope, kind: str) -> list[str]:
        lines = self._refusal(scope, kind)
        self.ctx.excusable.update(line.strip() for line in lines)
        return lines

    def _refusal(self, scope: Scope, kind: str) -> list[str]:
        """One construct the docs say is refused (a located CompileError is expected).

        Each reads an argument directly, so that the construct surely touches a
        differentiated value (code that does not is exempt from the subset).
        """
        ctx = self.ctx
        z = ctx.fresh_name("z")
        args = [v for v in scope.values.values() if v.arg and len(v.shape) == 1]
        if not args:
            kind = "none"
        v = ctx.pick(args) if args else None
        if kind == "write-arg" and v is not None and not v.fixed and not v.held:
            # (the argument may be read before: no hessian then, docs/forward-mode.md,
            # as write_arg says; this path said only write-arg, 19:1150)
            ctx.tags.update({"write-arg", "array-write-after-read"})
            if v.text not in ctx.first_arg:
                ctx.tags.add("write-other-arg")
            return [f"{v.text}[0] = {self.ex.expr(scope, (), 2).text}"]
        if kind == "comprehension" and v is not None:
            if ctx.chance(0.6):
                return self.comprehension(scope, v, z)
            ctx.tags.add("dict-comprehension")  # refused
            scope.set(Value(z, (), 2.0))
            parts = ctx.fresh_name("parts")
            return [
                f"{parts} = {{i: np.sin(e) * 2.0 for i, e in enumerate({v.text})}}",
                f"{z} = np.sum({parts}[0])",
            ]
        if kind == "list-display" and v is not None:
            ctx.tags.add("list-display")
            scope.set(Value(z, (), 2.0 * v.shape[0]))
            parts = ctx.fresh_name("parts")
            return [
                f"{parts} = [{v.text}[0], np.sum({v.text})]",
                f"{z} = np.sum(np.stack({parts}))",
            ]
        if kind == "walrus-conditional" and v is not None:
            ctx.tags.add("walrus-conditional")
            w = ctx.fresh_name("w")
            scope.set(Value(z, (), 2.0 * ARG_BOUND))
            return [f"{z} = ({v.text}[0] if {v.text}[-1] > 0.0 else ({w} := {v.text}[-1] * 2.0))"]
        ctx.tags.add("for-else")
        s = squash(self.ex.expr(scope, (), 2), 1.0)
        read = f" + {v.text}[0]" if v is not None else ""
        scope.set(Value(z, (), 8.0))
        return [
            f"{z} = 0.0",
            "for i in range(2):",
            f"    {z} = {z} + {s.text}{read}",
            "else:",
            f"    {z} = {z} * 2.0",
        ]

    # -- what a return gives back --------------------------------------------------------

    def result(self, scope: Scope, shape: Shape) -> Expr:
        """A value of `shape` that reads the pending names and a few recent ones."""
        ctx = self.ctx
        seen: set[str] = set()
        pending = [p for p in self.pending if not (p in seen or seen.add(p))]
        names = [p for p in pending if p in scope.values or p in scope.lists][-4:]
        recent = [v.text for v in list(scope.values.values())[-4:]]
        names += [ctx.pick(recent)] if recent and ctx.chance(0.7) else []
        if shape != ():
            e = self.ex.expr(scope, shape, 2)
            for name in names:
                v = scope.values.get(name)
                if v is not None and v.shape in (shape, ()):
                    e = Expr(f"({e.text} + 0.5 * {v.text})", shape, e.bound + 0.5 * v.bound)
            return squash(owned(e), 3.0)
        terms: list[Expr] = []
        for name in dict.fromkeys(names):
            if name in scope.lists:
                lst = scope.lists[name]
                if lst.min_len >= 1:
                    terms.append(self.ex.list_total(lst, max(1, len(lst.elem))))
                continue
            v = scope.values[name]
            terms.append(scalar_of(self.ex.use(v), ctx))
        if not terms:
            terms.append(self.ex.scalar(scope, 2))
        text = " + ".join(f"{ctx.pick(['0.5', '1.0', '0.3'])} * {t.text}" for t in terms)
        return Expr(text, (), sum(t.bound for t in terms))


# Views NumPy makes read-only refuse every write themselves, so the generator
# leaves them out (and .flat, which has no in-place operators).
READ_ONLY_VIEWS = frozenset({"broadcast_to", "diagonal", "diag", "imag", "flat"})


def view_spellings(y: str, m: int, n: int) -> list[tuple[str, Shape]]:
    """Every function, method and attribute of chainrule's table that may return a
    view (chainrule.aliasing), applied to the (m, n) array `y`, with the view's shape.
    tests/test_difftest_instrument.py checks that the table is covered."""
    return [
        (f"np.reshape({y}, ({n}, {m}))", (n, m)),
        (f"{y}.T", (n, m)),
        (f"{y}[1:]", (m - 1, n)),
        (f"{y}.reshape(-1)", (m * n,)),
        (f"{y}[0]", (n,)),
        (f"np.ravel({y})", (m * n,)),
        (f"{y}.ravel()", (m * n,)),
        (f"np.transpose({y})", (n, m)),
        (f"np.swapaxes({y}, 0, 1)", (n, m)),
        (f"np.moveaxis({y}, 0, 1)", (n, m)),
        (f"np.squeeze(np.expand_dims({y}, 0))", (m, n)),
        (f"np.expand_dims({y}, 0)", (1, m, n)),
        (f"np.flip({y}, 0)", (m, n)),
        (f"np.atleast_2d({y})", (m, n)),
        (f"np.atleast_3d({y})", (m, n, 1)),
        (f"np.asarray({y})", (m, n)),
        (f"np.asanyarray({y})", (m, n)),
        (f"np.ascontiguousarray({y})", (m, n)),
        (f"np.split({y}, {m})[0]", (1, n)),
        (f"{y}.astype(float, copy=False)", (m, n)),
        (f"np.array({y}, copy=None)", (m, n)),
        (f"np.rollaxis({y}, 1)", (n, m)),
        (f"np.fliplr({y})", (m, n)),
        (f"np.flipud({y})", (m, n)),
        (f"np.rot90({y})", (n, m)),
        (f"np.atleast_1d({y})", (m, n)),
        (f"np.asfortranarray({y})", (m, n)),
        (f"np.require({y})", (m, n)),
        (f"np.array_split({y}, {m})[0]", (1, n)),
        (f"np.vsplit({y}, {m})[0]", (1, n)),
        (f"np.hsplit({y}, {n})[0]", (m, 1)),
        (f"np.dsplit(np.atleast_3d({y}), 1)[0]", (m, n, 1)),
        (f"np.real({y})", (m, n)),
        (f"np.einsum('ij->ji', {y})", (n, m)),
        (f"{y}.mT", (n, m)),
        (f"{y}.real", (m, n)),
        (f"{y}.transpose()", (n, m)),
        (f"{y}.swapaxes(0, 1)", (n, m)),
        (f"np.expand_dims({y}, 0).squeeze()", (m, n)),
        (f"{y}.view()", (m, n)),
        (f"np.broadcast_arrays({y}, {y})[0]", (m, n)),
        (f"np.matrix_transpose({y})", (n, m)),
        (f"np.unstack({y})[0]", (n,)),
        (f"{y}.__array__()", (m, n)),
        # not here: views NumPy makes read-only (np.broadcast_to, np.diagonal, np.diag
        # of a matrix, .diagonal(), np.imag and .imag of a real array) refuse every
        # write themselves, and .flat has no in-place operators
    ]
