"""Control flow and functions: if/elif/else, for and while loops, jumps, returns, helpers.

This is where nesting comes from: a block is a list of statements, and some
statements (if, for, while) contain blocks, up to three deep.  Loops keep their
iteration counts known to the generator (ranges with literal bounds, arrays of
known length, while loops with a counter that is incremented first), so that
every program terminates and every index stays in range.  A name first
assigned in a loop body is exported after the loop only when the loop surely
runs at least once and the assignment comes before any jump: that is the
"overwritten in a loop, read after it" pattern of issue 10's first defect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .expressions import Expr, squash
from .scope import PARAM_BOUND, Func, Scope, Shape, Value
from .statements import LOOP_NAMES, Frame, Statements, indent


@dataclass
class LoopHead:
    header: str
    trips: int  # an upper bound (an estimate for lists)
    guaranteed: bool  # surely runs at least once
    ints: dict[str, list[int]] = field(default_factory=dict)
    elems: list[tuple[str, Shape, float]] = field(default_factory=list)
    iterating: frozenset[str] = frozenset()


class Blocks(Statements):
    """Statements of every kind, chosen at random with weights that depend on where they go."""

    def __init__(self, ctx, ex, budget: int = 20) -> None:
        super().__init__(ctx, ex)
        self.budget = budget  # statements left: keeps programs small and fast to check

    def block(self, scope: Scope, frame: Frame, count: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            lines += self.statement(scope, frame)
        return lines or ["pass"]

    def statement(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        self.budget -= 1
        compound = frame.depth < 3 and self.budget > 0
        may = ctx.may_refuse
        funcs = scope.funcs.values()
        options = [
            (6.0, self.assign),
            (3.0 if scope.assignable() else 0, self.reassign),
            (1.2, self.augassign),
            (0.4, self.chained),
            (1.0, self.new_array),
            (0.8, self.write_existing),
            (0.3, self.write_arg),
            (1.5 if may else 0, self.view_inplace),
            (0.6 if may else 0, self.int_array),
            (0.6 if may else 0, self.list_reference),
            (0.6 if may else 0, self.alias_update),
            (0.3, self.walrus),
            (0.7 if compound else 0, self.list_loop),
            (0.6 if scope.lists else 0, self.append),
            (0.3 if scope.lists else 0, self.list_setitem),
            (0.3 if compound else 0, self.list_slot_carry),
            (0.6 if frame.top else 0, self.container),
            (0.4, self.swap),
            (0.4, self.unpack_array),
            (0.3, self.comprehension_statement),
            (0.8 if any(f.tuple_result for f in funcs) else 0, self.helper_pair),
            (0.2, self.assert_or_pass),
            (2.0 if compound else 0, self.if_stmt),
            (2.5 if compound else 0, self.for_stmt),
            (0.8 if compound else 0, self.while_stmt),
            (0.5 if frame.returns is not None and not frame.loop else 0, self.early_return),
            (1.2 if frame.loop else 0, self.jump),
            (0.8 if frame.top and not frame.helper else 0, self.local_function),
        ]
        return self.ex.weighted(options)(scope, frame)

    # -- returns ----------------------------------------------------------------------

    def returned(self, scope: Scope, frame: Frame) -> Expr:
        assert frame.returns is not None
        r = self.result(scope, frame.returns)
        return squash(r, 3.0) if frame.helper else r

    def early_return(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        child = scope.child()
        body = self.block(child, frame.inner(), 1) if ctx.chance(0.3) else []
        body.append(f"return {self.returned(child, frame).text}")
        ctx.tags.update({"early-return", "if"})
        if frame.helper:
            ctx.tags.add("helper-return")
        return [f"if {self.ex.cond(scope)}:", *indent(body)]

    def tail(self, scope: Scope, frame: Frame) -> list[str]:
        """The last statement: one return, or an if/elif/else whose branches all return."""
        ctx = self.ctx
        if not ctx.chance(0.2):
            return [f"return {self.returned(scope, frame).text}"]
        ctx.tags.update({"if-return-chain", "if", "elif-else"})
        lines: list[str] = []
        count = ctx.rng.randint(2, 3)
        has_else = ctx.chance(0.7)
        for k in range(count):
            child = scope.child()
            body = self.block(child, frame.inner(), 1) if ctx.chance(0.4) else []
            body.append(f"return {self.returned(child, frame).text}")
            if k == 0:
                header = f"if {self.ex.cond(scope)}:"
            elif k == count - 1 and has_else:
                header = "else:"
            else:
                header = f"elif {self.ex.cond(scope)}:"
            lines += [header, *indent(body)]
        if not has_else:
            lines.append(f"return {self.returned(scope, frame).text}")
        return lines

    # -- if ---------------------------------------------------------------------------

    def if_stmt(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        ctx.tags.add("if")
        branches = ctx.pick([1, 2, 2, 3])
        defines = ctx.chance(0.3)
        has_else = defines or (branches > 1 and ctx.chance(0.7))
        if has_else:
            branches = max(branches, 2)
        if branches > 1:
            ctx.tags.add("elif-else")
        name, shape = ctx.fresh_name("y"), self.shape()
        test = self.ex.cond(scope)
        if ctx.chance(0.06):
            w = ctx.fresh_name("w")
            ctx.tags.add("walrus")
            s = self.ex.scalar(scope, 2)
            test = f"({w} := {s.text}) > {ctx.pick(['0.0', '0.3'])}"
            scope.set(Value(w, (), s.bound))
        lines: list[str] = []
        bounds: list[float] = []
        for k in range(branches):
            child = scope.child()
            body: list[str] = []
            if defines:
                e = self.ex.expr(child, shape, self.depth())
                body.append(f"{name} = {e.text}")
                self.bind(child, name, e)
                bounds.append(e.bound)
            body += self.block(child, frame.inner(), ctx.rng.randint(1, 2))
            if frame.loop and ctx.chance(0.15):
                jump = ctx.pick(["break", "continue"])
                ctx.tags.add(jump)
                body.append(jump)
            if k == 0:
                header = f"if {test}:"
            elif k == branches - 1 and has_else:
                header = "else:"
            else:
                header = f"elif {self.ex.cond(scope)}:"
            lines += [header, *indent(body)]
            # merged before the next branch: chainrule's alias analysis does not follow
            # paths, so a name shared in one branch counts as shared in the others too
            scope.merge_branch(child)
        if defines:
            ctx.tags.add("if-defines")
            scope.set(Value(name, shape, max(bounds)))
            self.pending.append(name)
        return lines

    # -- loops ------------------------------------------------------------------------

    def loop_head(self, scope: Scope, frame: Frame, appending: str | None) -> LoopHead:
        ctx = self.ctx
        i = LOOP_NAMES[frame.loop_depth]
        arrays = [v for v in scope.values.values() if v.shape]
        lists = [lst for lst in scope.lists.values() if lst.name != appending]
        kinds = ["range", "range", "range-step", "iter-expr"]
        kinds += ["iter", "iter", "enumerate", "zip"] if arrays else []
        kinds += ["list"] if lists else []
        kind = ctx.pick(kinds)
        if kind == "range":
            k = ctx.pick([0, 1, 2, 2, 3, 3])
            ctx.tags.add("for-range")
            if k == 0:
                ctx.tags.add("range-empty")
            return LoopHead(f"for {i} in range({k}):", k, k >= 1, {i: list(range(k))})
        if kind == "range-step":
            ctx.tags.update({"for-range", "range-step"})
            sized = [v for v in arrays if not v.fixed]
            if sized and ctx.chance(0.4):
                v = ctx.pick(sized)
                text = ctx.pick([f"len({v.text})", f"{v.text}.shape[0]"])
                values = list(range(v.shape[0]))
            else:
                length = ctx.pick([ctx.n, ctx.m])
                text, values = ctx.pick(
                    [
                        (f"1, {length}", list(range(1, length))),
                        (f"{length} - 1, -1, -1", list(range(length - 1, -1, -1))),
                        (f"0, {length}, 2", list(range(0, length, 2))),
                        (f"{length - 1}, 0, -1", list(range(length - 1, 0, -1))),
                    ]
                )
            return LoopHead(f"for {i} in range({text}):", len(values), bool(values), {i: values})
        if kind == "list":
            lst = ctx.pick(lists)
            e = ctx.fresh_name("h")
            ctx.tags.add("list-iter")
            return LoopHead(
                f"for {e} in {lst.name}:",
                8,
                lst.min_len >= 1,
                elems=[(e, lst.elem, lst.bound)],
                iterating=frozenset({lst.name}),
            )
        if kind == "iter-expr":
            shape = ctx.pick([(ctx.n,), (ctx.m,), (ctx.m, ctx.n)])
            src = self.ex.expr(scope, shape, 2)
            self.share(scope, src)
            e = ctx.fresh_name("e")
            ctx.tags.add("iter-expr")
            return LoopHead(
                f"for {e} in {src.text}:", shape[0], True, elems=[(e, shape[1:], src.bound)]
            )
        v = ctx.pick(arrays)
        self.share(scope, self.ex.use(v))  # its elements or rows are now held by another name
        ctx.tags.add("iter-rows" if len(v.shape) == 2 else "iter-array")
        e = ctx.fresh_name("e")
        if kind == "iter":
            return LoopHead(
                f"for {e} in {v.text}:", v.shape[0], True, elems=[(e, v.shape[1:], v.bound)]
            )
        if kind == "enumerate":
            ctx.tags.add("enumerate")
            return LoopHead(
                f"for {i}, {e} in enumerate({v.text}):",
                v.shape[0],
                True,
                {i: list(range(v.shape[0]))},
                [(e, v.shape[1:], v.bound)],
            )
        w = self.ex.use(ctx.pick(arrays))
        self.share(scope, w)
        ctx.tags.add("zip")
        e2 = ctx.fresh_name("e")
        trips = min(v.shape[0], w.shape[0])
        elems = [(e, v.shape[1:], v.bound), (e2, w.shape[1:], w.bound)]
        return LoopHead(f"for {e}, {e2} in zip({v.text}, {w.text}):", trips, True, elems=elems)

    def for_stmt(self, scope: Scope, frame: Frame, append_to: str | None = None) -> list[str]:
        head = self.loop_head(scope, frame, append_to)
        return [head.header, *self.loop_body(scope, frame, head, [], append_to)]

    def while_stmt(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        k = ctx.pick([1, 2, 3, 3, 4])
        c = ctx.fresh_name("c")
        ctx.tags.add("while")
        step = ctx.pick([f"{c} = {c} + 1", f"{c} += 1"])
        variant = ctx.pick(["plain", "plain", "true", "data"])
        if variant == "plain":
            header, preamble, sure = f"while {c} < {k}:", [step], True
        else:
            ctx.tags.add("break")
            preamble, sure = [step, f"if {c} > {k}:", "    break"], variant == "true"
            if variant == "true":
                ctx.tags.add("while-true")
                header = "while True:"
            else:
                header = f"while {self.ex.cond(scope)}:"
        head = LoopHead(header, k, sure, {c: list(range(1, k + 1))})
        return [f"{c} = 0", header, *self.loop_body(scope, frame, head, preamble, None)]

    def loop_body(
        self,
        scope: Scope,
        frame: Frame,
        head: LoopHead,
        preamble: list[str],
        append_to: str | None,
    ) -> list[str]:
        ctx = self.ctx
        if frame.loop_depth >= 1:
            ctx.tags.add("nested-loop")
        if frame.loop_depth >= 2:
            ctx.tags.add("loop-depth-3")
        if frame.helper:
            ctx.tags.add("helper-loop")
        child = scope.child()
        child.ints.update(head.ints)
        for name, shape, bound in head.elems:
            child.set(
                Value(name, shape, bound)
            )  # an element of another array: never updated in place
        inner = frame.inner(
            trips=frame.trips * max(head.trips, 1),
            loop=True,
            loop_depth=frame.loop_depth + 1,
            carried=frozenset(scope.values),
            iterating=frame.iterating | head.iterating,
        )
        body = list(preamble)
        overwritten = None
        if ctx.chance(0.35):
            overwritten = ctx.fresh_name("y")
            e = self.ex.expr(child, self.shape(), self.depth())
            body.append(f"{overwritten} = {e.text}")
            self.bind(child, overwritten, e)
        body += self.block(child, inner, ctx.rng.randint(1, 3))
        if append_to is not None:
            body += self.append(child, inner, append_to)
        scope.merge_branch(child)
        if overwritten is not None and head.guaranteed and overwritten in child.values:
            ctx.tags.add("loop-overwrite")
            scope.set(replace(child.values[overwritten], fresh=False, made=False))
            self.pending.append(overwritten)
        return indent(body)

    def list_loop(self, scope: Scope, frame: Frame) -> list[str]:
        lines, lst = self.new_list(scope, frame)
        return lines + self.for_stmt(scope, frame, append_to=lst.name)

    def jump(self, scope: Scope, frame: Frame) -> list[str]:
        ctx = self.ctx
        kind = ctx.pick(["break", "continue"] + (["return"] if frame.returns is not None else []))
        test = self.ex.cond(scope)
        if kind == "return":
            ctx.tags.add("return-in-loop")
            if frame.helper:
                ctx.tags.add("helper-return")
            return [f"if {test}:", f"    return {self.returned(scope, frame).text}"]
        ctx.tags.add(kind)
        return [f"if {test}:", f"    {kind}"]

    # -- functions --------------------------------------------------------------------

    def local_function(self, scope: Scope, frame: Frame) -> list[str]:
        name = self.ctx.fresh_name("fn")
        if self.ctx.chance(0.55):
            line, fn = self.make_lambda(name, "lambda")
            lines = [line]
        else:
            closure = {v.text: v for v in scope.values.values() if v.arg and not v.fixed}
            lines, fn = self.make_helper(name, "local-def", dict(scope.funcs), closure)
        scope.funcs[name] = fn
        return lines

    def make_lambda(self, name: str, kind: str) -> tuple[str, Func]:
        """`name = lambda t: <elementwise>`: applies to a value of any shape."""
        ctx, ex = self.ctx, self.ex
        saved, ctx.tags = ctx.tags, set()
        scope = Scope()
        scope.set(Value("t", (), PARAM_BOUND, arg=True))
        default = ("c", 0.5) if ctx.chance(0.3) else None
        if default:
            scope.set(Value("c", (), 1.5, arg=True))
            ctx.tags.add("lambda-default")
        ex.elementwise_only = True
        e = ex.expr(scope, (), 2)
        ex.elementwise_only = False
        if e.text in ("t", "c") or not re.search(r"\bt\b", e.text):
            e = Expr(f"np.tanh(t + {e.text})", (), 1.0)
            ctx.tags.add("elementwise")
        e = squash(e, 3.0)
        params = "t, c=0.5" if default else "t"
        fn = Func(name, [("t", None)], default, None, e.bound, kind, tags=ctx.tags)
        ctx.tags = saved
        return f"{name} = lambda {params}: {e.text}", fn

    def make_helper(
        self, name: str, kind: str, funcs: dict[str, Func], closure: dict[str, Value]
    ) -> tuple[list[str], Func]:
        """A def with typed parameters, an optional scalar default, a body and a return."""
        ctx = self.ctx
        saved = (ctx.tags, self.pending, self.budget)
        ctx.tags, self.pending, self.budget = set(), [], 4
        scope = Scope(funcs=funcs)
        if closure and ctx.chance(0.4):
            ctx.tags.add("closure")
            for v in closure.values():
                scope.set(replace(v, arg=True, fixed=True))  # assigning it would make it local
        params = []
        for _ in range(ctx.rng.randint(1, 2)):
            pname, shape = ctx.fresh_name("u"), self.shape()
            params.append((pname, shape))
            scope.set(Value(pname, shape, PARAM_BOUND, arg=True))
        default = (ctx.fresh_name("scale"), 0.5) if ctx.chance(0.5) else None
        if default:
            scope.set(Value(default[0], (), 1.5, arg=True))
        pair = (self.shape(), self.shape()) if ctx.chance(0.2) else None
        result = None if pair else self.shape()
        frame = Frame(helper=True, returns=result)
        body = self.block(scope, frame, ctx.rng.randint(1, 3))
        if pair:
            a = squash(self.result(scope, pair[0]), 3.0)
            b = squash(self.result(scope, pair[1]), 3.0)
            body.append(f"return {a.text}, {b.text}")
        else:
            body += self.tail(scope, frame)
        if ctx.tags & {"module-def", "local-def", "lambda", "module-lambda"}:
            ctx.tags.add("helper-chain")
        signature = ", ".join([p for p, _ in params] + ([f"{default[0]}=0.5"] if default else []))
        fn = Func(name, params, default, result, 3.0, kind, pair, tags=ctx.tags)
        ctx.tags, self.pending, self.budget = saved
        return [f"def {name}({signature}):", *indent(body)], fn
