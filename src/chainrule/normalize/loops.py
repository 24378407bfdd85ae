"""Normalizing loops: `for` and `while` keep their shape.

A loop-carried variable gets one name for "the value at the start of an
iteration", set before the loop (`h_1 = h`) and at the end of the body
(`h_1 = h_2`, a phi_back copy).  A `for` over a differentiated array,
`zip` or `enumerate` becomes a loop over indices that reads the elements
(`v = x[i]`); a `while` test is evaluated into a flag before the loop and
at the end of each iteration.  Loops over containers known at compile
time are unrolled (containers.py).
"""

from __future__ import annotations

import ast

from ..flow import read_before_assigned
from ..ir import (
    IDENTITY,
    MISSING,
    Evaluated,
    annotate,
    assigned_by,
    clone,
    facts,
    facts_of,
    walk_statements,
)
from .core import LoopFrame, Normalizer, is_cheap_name, names_in_target


class LoopNormalizer:
    """Normalizes `for` and `while` loops (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def loop_carried(
        self, loop: ast.For | ast.While, header_binds_target: bool = True
    ) -> list[str]:
        """User variables whose value flows from one iteration to the next, or out.

        Those assigned in the loop that it reads before assigning them in the
        same iteration, and those read after the loop, which must hold the
        value of the last iteration that assigned them.  (The loop variable is
        carried too when the header does not bind it: `for x in xs` over a
        differentiated array reads `x = xs[i]` in the body.)
        """
        targets = (
            set(names_in_target(loop.target))
            if isinstance(loop, ast.For) and header_binds_target
            else set()
        )
        read_after = self.n.live.get(id(loop))
        early_reads = read_before_assigned(loop)
        stored = {
            n.id
            for part in loop.body
            for n in ast.walk(part)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        if isinstance(loop, ast.For) and not header_binds_target:
            stored |= set(names_in_target(loop.target))  # assigned by the body: x = xs[i]
        carried = []
        for name in stored:
            if name in targets:
                continue  # the loop header assigns it afresh every iteration
            if name in early_reads:
                carried.append(name)  # read before it is assigned: last iteration's value
            elif read_after is None or name in read_after:
                # read after the loop: it holds the value of the last iteration that
                # assigned it, or its value from before the loop
                carried.append(name)
        return sorted(carried)

    def open_loop(self, loop: ast.stmt, carried: list[str]) -> dict[str, str]:
        """Entry copies `x_1 = x` for loop-carried variables; the body reads x_1."""
        phis: dict[str, str] = {}
        for name in carried:
            self.n.statements.refuse_container_merge(
                loop, name, (self.n.current.get(name),), "in a loop"
            )
            phi = self.n.names.fresh(name)
            if name in self.n.current:
                atom = ast.Name(id=self.n.current[name], ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                self.n.emit(annotate(copy_stmt, loop, loop, IDENTITY, [atom]))
                self.n.writes.track_copy(phi, [self.n.current[name]])
            else:
                # first assigned in the loop: no value yet, as in Python.  The copies
                # chainrule adds (the merge after an `if`, a nested loop's entry copy,
                # the gradient's zeros) read it eagerly, so it starts as None; the
                # user's code cannot read it before assigning it (UnboundLocalError)
                init = ast.Assign(
                    targets=[ast.Name(id=phi, ctx=ast.Store())], value=ast.Constant(None)
                )
                stmt = annotate(init, loop)
                facts(stmt).unbound_init = True
                self.n.emit(stmt)
                self.n.unbound.add(phi)
            self.n.current[name] = phi
            phis[name] = phi
        return phis

    def check_rebound_writes(self, phis: dict[str, str], writes: list) -> None:
        """A loop that writes into an array and then rebinds its name writes, in the next
        iteration, into whatever the name holds then: that must be a fresh array too."""
        for name, phi in phis.items():
            back = self.n.current.get(name)
            if back is None or back == phi or back in self.n.writable:
                continue
            for written, node in writes:
                if self.n.roots_of(written) & self.n.roots_of(phi):
                    raise self.n.error(
                        node,
                        f"this loop writes into {name!r}, and later in the same iteration "
                        f"{name!r} is bound to an array that is not known to be fresh (the "
                        "next iteration would write into it); bind it to a copy instead, "
                        f"e.g. `{name} = ....copy()`",
                    )

    def check_changes_across_iterations(self, frame: LoopFrame, bound_here: set[str]) -> None:
        """An in-place change, in one iteration, of an array an earlier iteration appended
        to a list changes the list's item too: refuse it (as check_shared does within
        one iteration) if the list is read.  The array is the same one in every
        iteration when it was made before the loop (`out[2] += v` then `hs.append(out)`
        on an `out` from outside), or when a loop-carried name brings it back."""
        if not frame.changes or not frame.appends:
            return
        loop_start = self.n.loop_lines[-1] if self.n.loop_lines else 0
        for stmt, roots, what, advice in frame.changes:
            kept = set(roots - bound_here)  # the same array in every iteration
            for user, phi in frame.phis.items():
                if self.n.roots_of(phi) & roots:  # what the name brings to the next one
                    kept |= self.n.roots_of(self.n.current.get(user, phi))
            for hs, appended in frame.appends:
                read = any(n == hs and line >= loop_start for line, n in self.n.loads)
                if kept & appended and read:
                    raise self.n.error(
                        stmt,
                        f"{what} changes an array that {hs!r} also refers to (an earlier "
                        f"iteration appended it), and {hs!r} is used later; {advice}",
                    )

    def check_carried_changes(self, frame: LoopFrame, made_here: set[str]) -> None:
        """An in-place change of a loop-carried name that the back edge binds to an array
        this iteration did not make (`a, b = b, a`; `v = row` of an array from before the
        loop) changes, on the next iteration, that older array, which other names
        (another SSA version, a loop's iterable) may still read.  The checks made while
        the body was normalized knew only the name's value at the loop's entry: refuse."""
        for user, phi in frame.phis.items():
            back = self.n.current.get(user, phi)
            if back == phi:
                continue
            carried = self.n.roots_of(phi)
            older = self.n.roots_of(back) - carried - made_here
            if not older:
                continue
            for stmt, roots, what, advice in frame.changes:
                if roots & carried:
                    raise self.n.error(
                        stmt,
                        f"{what} changes {user!r}, which the next iteration of this loop "
                        "binds to an array made before that iteration (a swap, or a value "
                        "carried in from outside the loop) that other names may still "
                        f"read; {advice}",
                    )

    def close_loop(self, loop: ast.stmt, phis: dict[str, str]) -> None:
        """Copies at the end of the body, `x_1 = x_2`: the next iteration reads them."""
        for name, phi in phis.items():
            value = self.n.current.get(name)
            if value is not None and value != phi:
                atom = ast.Name(id=value, ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                stmt = annotate(copy_stmt, loop, loop, IDENTITY, [atom])
                facts(stmt).phi_back = True
                self.n.emit(stmt)
            self.n.current[name] = phi

    def loop_body(
        self, loop: ast.For | ast.While, prologue, phis: dict[str, str], epilogue=None
    ) -> list[ast.stmt]:
        outer = self.n.out
        self.n.out = []
        self.n.loop_lines.append(getattr(loop, "lineno", 0))
        frame = LoopFrame(dict(phis), self.n.p, loop)
        self.n.loop_frames.append(frame)
        writes_before = len(self.n.loop_writes)
        names_before = set(self.n.names.taken)
        if prologue is not None:
            prologue()
        for sub in loop.body:
            self.n.statements.statement(sub)
        self.n.loop_frames.pop()
        made_here = self.n.names.taken - names_before
        # (`out[i] = v` binds nothing: it writes into out)
        bound_here = made_here | {n for s in walk_statements(self.n.out) for n in assigned_by(s)}
        self.check_changes_across_iterations(frame, bound_here)
        self.check_carried_changes(frame, made_here)
        self.n.origin = loop
        self.check_rebound_writes(phis, self.n.loop_writes[writes_before:])
        self.n.loop_lines.pop()
        if not self.n.loop_lines:
            del self.n.loop_writes[:]
        self.close_loop(loop, phis)
        if epilogue is not None:
            epilogue()
        check = facts_of(loop).exit_check
        if check is not None:
            test = self.n.expressions.rename(check.test)
            self.n.emit(annotate(ast.If(test=test, body=[ast.Break()], orelse=[]), loop))
        body, self.n.out = self.n.out, outer
        return body or [ast.Pass()]

    def for_statement(self, stmt: ast.For) -> None:
        if stmt.orelse:
            raise self.n.error(stmt.orelse[0], "`for ... else` is not supported; use a flag")
        iterator = stmt.iter
        if (
            isinstance(iterator, ast.Call)
            and self.n.p.resolve(iterator.func) is reversed
            and len(iterator.args) == 1
            and not iterator.keywords
            and self.n.varied(iterator.args[0])
            and not (
                isinstance(iterator.args[0], ast.Name)
                and self.n.current.get(iterator.args[0].id) in self.n.lists
            )
        ):
            # reversed(x) over an array walks the view x[::-1]
            backwards = ast.Slice(lower=None, upper=None, step=ast.Constant(-1))
            iterator = ast.copy_location(
                ast.Subscript(value=iterator.args[0], slice=backwards, ctx=ast.Load()), iterator
            )
            stmt.iter = iterator  # (a copy of the user's tree: normalize clones it first)
        rows = self.n.containers.container_items(iterator)
        if rows is None:
            rows = self.n.containers.unrolls_range(stmt)
        if rows is not None:
            self.n.containers.unrolled_loop(stmt, rows)
            return
        callee = self.n.p.resolve(iterator.func) if isinstance(iterator, ast.Call) else MISSING
        prologue = None
        if callee is range:
            if iterator.keywords or not 1 <= len(iterator.args) <= 3:  # type: ignore[union-attr]
                raise self.n.error(iterator, "range() takes one to three positional arguments")
            args = [self.n.expressions.static(a) for a in iterator.args]  # type: ignore[union-attr]
            header = ast.Call(func=self.n.expressions.rename(iterator.func), args=args, keywords=[])  # type: ignore
            target = stmt.target
        elif not self.n.varied(iterator) and not (
            callee in (zip, enumerate) and any(self.n.varied(a) for a in iterator.args)  # type: ignore
        ):
            header = self.n.expressions.rename(iterator)  # data the loop walks through: no gradient
            target = stmt.target
        else:
            header, target, prologue = self.index_loop(stmt, callee)
        self.n.origin = stmt
        carried = self.loop_carried(stmt, header_binds_target=prologue is None)
        phis = self.open_loop(stmt, carried)
        loop_target: ast.expr

        def bind_target():
            nonlocal loop_target
            loop_target = self.bind_loop_target(target)
            if prologue is not None:
                prologue()

        loop_target = target
        body = self.loop_body(stmt, bind_target, phis)
        node = ast.For(target=loop_target, iter=header, body=body, orelse=[])
        facts(node).range_loop = callee is range or prologue is not None
        self.n.emit(annotate(node, stmt))
        for name, phi in phis.items():
            self.n.current[name] = phi

    def bind_loop_target(self, target: ast.expr) -> ast.expr:
        if isinstance(target, ast.Name):
            return ast.Name(id=self.n.define(target.id), ctx=ast.Store())
        if isinstance(target, (ast.Tuple, ast.List)):
            return ast.Tuple(elts=[self.bind_loop_target(e) for e in target.elts], ctx=ast.Store())
        raise self.n.error(target, "a loop variable must be a name or a tuple of names")

    def index_loop(self, stmt: ast.For, callee):
        """`for row in X` over a differentiated X: loop over indices, read X[i]."""
        iterator = stmt.iter
        index = self.n.local_name("i")
        if callee is enumerate:
            if len(iterator.args) != 1 or iterator.keywords:  # type: ignore[union-attr]
                raise self.n.error(iterator, "enumerate() with a start is not supported")
            sources = [self.n.expressions.atom(iterator.args[0])]  # type: ignore[union-attr]
            if not (isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == 2):
                raise self.n.error(stmt.target, "write `for i, value in enumerate(...)`")
            counter, element = stmt.target.elts
            parts = [(counter, None), (element, sources[0])]
        elif callee is zip:
            sources = [self.n.expressions.atom(a) for a in iterator.args]  # type: ignore[union-attr]
            if not (isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == len(sources)):
                raise self.n.error(stmt.target, "unpack one loop variable per zipped sequence")
            parts = list(zip(stmt.target.elts, sources))
        else:
            sources = [self.n.expressions.atom(iterator)]
            parts = [(stmt.target, sources[0])]
        for source in sources:  # (a temporary holding a computed sequence is varied too)
            if isinstance(source, ast.Name):
                self.n.p.local_names.add(source.id)
                self.n.varied_user.add(source.id)
        lengths = [
            ast.Call(func=ast.Name(id="len", ctx=ast.Load()), args=[s], keywords=[])
            for s in sources
        ]
        count = (
            lengths[0]
            if len(lengths) == 1
            else ast.Call(func=ast.Name(id="min", ctx=ast.Load()), args=lengths, keywords=[])
        )
        header = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[count], keywords=[])

        def prologue():
            for part_target, source in parts:
                i = ast.Name(id=self.n.current.get(index, index), ctx=ast.Load())
                facts(i).already_renamed = True
                if source is not None:
                    # the sequence as it was when the loop started (Python iterates over
                    # that object, even if the body rebinds its name)
                    source = clone(source)
                    facts(source).already_renamed = True
                value = (
                    i if source is None else ast.Subscript(value=source, slice=i, ctx=ast.Load())
                )
                self.n.assignments.assign(
                    part_target, Evaluated(value, False) if source is None else value
                )

        self.n.varied_user.update(  # the elements (not an enumerate counter) vary
            n.id
            for part_target, source in parts
            if source is not None
            for n in ast.walk(part_target)
            if isinstance(n, ast.Name)
        )
        return header, ast.Name(id=index, ctx=ast.Store()), prologue

    def while_statement(self, stmt: ast.While) -> None:
        if stmt.orelse:
            raise self.n.error(stmt.orelse[0], "`while ... else` is not supported; use a flag")
        self.n.origin = stmt
        carried = self.loop_carried(stmt)
        phis = self.open_loop(stmt, carried)
        cond = self.n.local_name("keep_going")
        self.n.names.taken.add(cond)

        def evaluate_test():
            test = (
                self.n.expressions.rename(stmt.test)
                if is_cheap_name(stmt.test)
                else self.n.expressions.atom(stmt.test)
            )
            copy_stmt = ast.Assign(targets=[ast.Name(id=cond, ctx=ast.Store())], value=test)
            self.n.emit(annotate(copy_stmt, stmt, stmt.test))

        evaluate_test()  # before the first iteration
        body = self.loop_body(stmt, None, phis, epilogue=evaluate_test)
        node = ast.While(test=ast.Name(id=cond, ctx=ast.Load()), body=body, orelse=[])
        self.n.emit(annotate(node, stmt))
        for name, phi in phis.items():
            self.n.current[name] = phi
