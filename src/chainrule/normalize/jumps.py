"""Stage 2a, part of normalize: `break`, `continue` and early `return` become flags.

The adjoint of a loop replays its iterations backwards, and it must know,
for each iteration, exactly which statements ran.  Jumps make that hard;
structured code makes it easy.  So before anything else we rewrite

    for ...:                         broke = False
        a()                          for ...:
        if c:                            a()
            break          ->            if c:
        b()                                  broke = True
                                         if not broke:
                                             b()
                                         if broke: break     (the loop's exit check)

`continue` sets a flag that is reset at the top of each iteration, and a
`return` inside a block assigns the result and a `returned` flag, which
also ends every enclosing loop.  Statements after a possible jump are
guarded by `if not (flags):`.  The flags are ordinary boolean variables, so
the rest of the pipeline (SSA, activity, reverse) needs no special cases:
a branch test is saved like any other value.  The real `break` of the exit
check is kept in the loop's facts (`facts(loop).exit_check`) so that normalize can
place loop-carried copies before it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from ..ir import facts


def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _assign(name: str, value: bool | None, like: ast.AST) -> ast.stmt:
    node = ast.Assign(targets=[_name(name, True)], value=ast.Constant(value))
    return ast.copy_location(node, like)


def _contains(nodes: list[ast.stmt], kinds: tuple[type, ...], into_loops: bool) -> bool:
    """Does any statement contain one of `kinds` (not looking into nested scopes)?"""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if not into_loops and isinstance(node, (ast.For, ast.While)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class JumpLowering:
    def __init__(self, fresh: Callable[[str], str]) -> None:
        self.fresh = fresh
        self.returned: str | None = None
        self.result: str | None = None
        # when every `return` returns a tuple display of one length, one name per item
        # (`result`, `result_1`, ...) and `return result, result_1`: a tuple made in one
        # place, which the later stages resolve when compiling, as any tuple display
        self.items: list[str] | None = None

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """Lower a function body; returns it unchanged when there is nothing to lower."""
        body = _move_rest_into_else(body, ast.Return)
        width = _tuple_width(body)
        if _returns_only_at_tail(body) and not isinstance(body[-1], ast.Return):
            # `if c: return a` / `return b`: one `result` assigned in each branch,
            # no flags, and the code keeps the shape the user wrote
            self.start_result(width)
            body = _assign_tail_returns(body, self.store)
            ret = ast.copy_location(ast.Return(value=self.result_value()), body[-1])
            body = [*body, ret]
            self.result, self.items = None, None
        early = _contains(body[:-1], (ast.Return,), True) or (
            bool(body)
            and not isinstance(body[-1], ast.Return)
            and _contains(body[-1:], (ast.Return,), True)
        )
        needs = early or _contains(body, (ast.Break, ast.Continue), True)
        if not needs:
            return body
        if early:
            self.returned = self.fresh("returned")
            self.start_result(width)
        out = self.block(body, flags=[])
        if early:
            first = body[0]
            out.insert(0, _assign(self.returned, False, first))  # type: ignore[arg-type]
            # a path that ends without `return` returns None, as in Python (the function
            # ends with a `return`, so only a path that never reads the result does)
            for name in reversed(self.items or [self.result]):  # type: ignore[list-item]
                out.insert(0, _assign(name, None, first))
            ret = ast.Return(value=self.result_value())
            out.append(ast.copy_location(ret, body[-1]))
        return out

    def start_result(self, width: int | None) -> None:
        """The name(s) the lowered returns assign: one, or one per item of a tuple."""
        self.result = self.fresh("result")
        self.items = None
        if width is not None:
            self.items = [self.result] + [self.fresh("result") for _ in range(width - 1)]

    def store(self, ret: ast.Return) -> list[ast.stmt]:
        """`return v` as assignments to the result name(s)."""
        value = ret.value if ret.value is not None else ast.Constant(None)
        if self.items is None:
            pairs = [(self.result, value)]
        else:
            assert isinstance(value, ast.Tuple)  # _tuple_width checked every return
            pairs = list(zip(self.items, value.elts))
        return [
            ast.copy_location(ast.Assign(targets=[_name(n, True)], value=v), ret)  # type: ignore[arg-type]
            for n, v in pairs
        ]

    def result_value(self) -> ast.expr:
        if self.items is None:
            return _name(self.result)  # type: ignore[arg-type]
        return ast.Tuple(elts=[_name(n) for n in self.items], ctx=ast.Load())

    def block(self, stmts: list[ast.stmt], flags: list[str]) -> list[ast.stmt]:
        """Rewrite a statement list; `flags` are the jump flags that may be set in it."""
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            new, may_jump = self.statement(stmt, flags)
            out.extend(new)
            rest = stmts[i + 1 :]
            if may_jump and rest:
                guarded = self.block(rest, flags)
                test = _not_any(
                    [f for f in flags if f] + ([self.returned] if self.returned else [])
                )
                out.append(ast.copy_location(ast.If(test=test, body=guarded, orelse=[]), rest[0]))
                break
        return out

    def statement(self, stmt: ast.stmt, flags: list[str]) -> tuple[list[ast.stmt], bool]:
        """The rewritten statement(s) and whether a jump may happen in them."""
        if isinstance(stmt, ast.Break):
            return [_assign(flags[0], True, stmt)], True
        if isinstance(stmt, ast.Continue):
            return [_assign(flags[1], True, stmt)], True
        if isinstance(stmt, ast.Return):
            if self.result is None:  # the final return of a function without early ones
                return [stmt], False
            return [*self.store(stmt), _assign(self.returned, True, stmt)], True  # type: ignore[arg-type]
        if isinstance(stmt, ast.If):
            jumps = _contains([stmt], (ast.Break, ast.Continue, ast.Return), False) or (
                self.returned is not None and _contains([stmt], (ast.Return,), True)
            )
            if not jumps:  # (loops in its branches may still jump)
                stmt.body = self.block(stmt.body, flags) or [ast.Pass()]
                stmt.orelse = self.block(stmt.orelse, flags)
                return [stmt], False
            node = ast.If(
                test=stmt.test,
                body=self.block(stmt.body, flags) or [ast.Pass()],
                orelse=self.block(stmt.orelse, flags),
            )
            return [ast.copy_location(node, stmt)], True
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt)
        return [stmt], False

    def loop(self, stmt: ast.For | ast.While) -> tuple[list[ast.stmt], bool]:
        has_break = _contains(stmt.body, (ast.Break,), False)
        has_continue = _contains(stmt.body, (ast.Continue,), False)
        has_return = self.returned is not None and _contains(stmt.body, (ast.Return,), True)
        if not (has_break or has_continue or has_return):
            stmt.body = self.block(stmt.body, ["", ""])  # (loops nested in it may jump)
            return [stmt], False
        broke = self.fresh("broke") if has_break else ""
        skip = self.fresh("skip") if has_continue else ""
        body = self.block(stmt.body, [broke, skip])
        if skip:
            body.insert(0, _assign(skip, False, stmt.body[0]))
        stmt.body = body or [ast.Pass()]
        exits = [f for f in (broke, self.returned if has_return else "") if f]
        before: list[ast.stmt] = []
        if broke:
            before.append(_assign(broke, False, stmt))
        if exits:
            check = ast.If(test=_any(exits), body=[ast.Break()], orelse=[])
            facts(stmt).exit_check = ast.copy_location(check, stmt)
        return [*before, stmt], has_return


def _always_jumps(stmts: list[ast.stmt], kind: type) -> bool:
    """Does every path through `stmts` end in a statement of `kind` (return, continue)?"""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, kind):
        return True
    return (
        isinstance(last, ast.If)
        and _always_jumps(last.body, kind)
        and _always_jumps(last.orelse, kind)
    )


def _move_rest_into_else(stmts: list[ast.stmt], kind: type) -> list[ast.stmt]:
    """`if c: ...; return a` followed by `rest` becomes `if c: ...; return a` / `else: rest`.

    The statements after an `if` whose branch always jumps run only when the
    other branch was taken, so they can move into it: the jump then needs no
    flag, and an `if` / `elif` / `else` chain of returns stays one.  Code after
    an `if` both of whose branches jump never runs and is dropped.
    """
    out: list[ast.stmt] = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, ast.If):
            body = _move_rest_into_else(stmt.body, kind)
            orelse = _move_rest_into_else(stmt.orelse, kind)
            rest = stmts[i + 1 :]
            body_jumps, else_jumps = _always_jumps(body, kind), _always_jumps(orelse, kind)
            if rest and (body_jumps or else_jumps):
                if not body_jumps:
                    body = _move_rest_into_else(body + rest, kind)
                elif not else_jumps:
                    orelse = _move_rest_into_else(orelse + rest, kind)
                node = ast.If(test=stmt.test, body=body, orelse=orelse)
                out.append(ast.copy_location(node, stmt))
                return out
            node = ast.If(test=stmt.test, body=body, orelse=orelse)
            out.append(ast.copy_location(node, stmt))
            continue
        out.append(stmt)
    return out


def _returns_only_at_tail(stmts: list[ast.stmt]) -> bool:
    """Every path ends in a `return`, and no `return` is anywhere else."""
    if not stmts or _contains(stmts[:-1], (ast.Return,), True):
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return last.value is not None
    return (
        isinstance(last, ast.If)
        and _returns_only_at_tail(last.body)
        and _returns_only_at_tail(last.orelse)
    )


def _tuple_width(body: list[ast.stmt]) -> int | None:
    """The length of the tuple displays that every `return` in `body` returns
    (`return a, b` here and `return c, d` there), or None when some return another
    value, a starred item or a tuple of another length."""
    widths: set[int] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            value = node.value
            if not isinstance(value, ast.Tuple) or not value.elts:
                return None
            if any(isinstance(e, ast.Starred) for e in value.elts):
                return None
            widths.add(len(value.elts))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return widths.pop() if len(widths) == 1 else None


def _assign_tail_returns(
    stmts: list[ast.stmt], store: Callable[[ast.Return], list[ast.stmt]]
) -> list[ast.stmt]:
    """Replace each tail `return v` by the assignments `store` makes of it."""
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return [*stmts[:-1], *store(last)]
    assert isinstance(last, ast.If)
    node = ast.If(
        test=last.test,
        body=_assign_tail_returns(last.body, store),
        orelse=_assign_tail_returns(last.orelse, store),
    )
    return [*stmts[:-1], ast.copy_location(node, last)]


def _any(flags: list[str]) -> ast.expr:
    if len(flags) == 1:
        return _name(flags[0])
    return ast.BoolOp(op=ast.Or(), values=[_name(f) for f in flags])


def _not_any(flags: list[str]) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=_any(flags))


class _Hoister:
    """Moves assignment expressions `(y := e)` out into statements of their own."""

    def __init__(self, error: Callable[[ast.AST, str], Exception]) -> None:
        self.error = error

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.If):
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return [*self.hoist(stmt, "test"), stmt]
        if isinstance(stmt, ast.For):
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return [*self.hoist(stmt, "iter"), stmt]
        if isinstance(stmt, ast.While):
            self.refuse_in(
                stmt.test,
                "an assignment expression (:=) in a `while` test is evaluated again at "
                "every iteration; assign the value before the loop and at the end of its "
                "body instead",
            )
            stmt.body, stmt.orelse = self.block(stmt.body), self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return)):
            targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
            for target in targets:
                self.refuse_in(target, _WALRUS_ELSEWHERE)
            return [*self.hoist(stmt, "value"), stmt]
        if isinstance(stmt, ast.Assert):
            return [*self.hoist(stmt, "test"), stmt]
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.refuse_in(stmt, _WALRUS_ELSEWHERE)
        return [stmt]

    def hoist(self, stmt: ast.stmt, field: str) -> list[ast.stmt]:
        """`y = e` statements for each `(y := e)` evaluated whenever `field` is."""
        expr = getattr(stmt, field, None)
        if expr is None:
            return []
        before: list[ast.stmt] = []
        setattr(stmt, field, self.expression(expr, before))
        return before

    def expression(self, expr: ast.expr, before: list[ast.stmt]) -> ast.expr:
        if isinstance(expr, ast.NamedExpr):
            value = self.expression(expr.value, before)
            name = expr.target.id
            store = ast.Assign(targets=[_name(name, True)], value=value)
            before.append(ast.copy_location(store, expr))
            return ast.copy_location(_name(name), expr)
        if isinstance(expr, ast.BoolOp):
            expr.values[0] = self.expression(expr.values[0], before)
            for value in expr.values[1:]:
                self.refuse_in(value, _WALRUS_LAZY)
            return expr
        if isinstance(expr, ast.IfExp):
            expr.test = self.expression(expr.test, before)
            self.refuse_in(expr.body, _WALRUS_LAZY)
            self.refuse_in(expr.orelse, _WALRUS_LAZY)
            return expr
        if isinstance(expr, _SCOPES):
            self.refuse_in(expr, _WALRUS_LAZY)
            return expr
        for field, value in ast.iter_fields(expr):
            if isinstance(value, ast.expr):
                setattr(expr, field, self.expression(value, before))
            elif isinstance(value, list):
                setattr(
                    expr,
                    field,
                    [self.expression(v, before) if isinstance(v, ast.expr) else v for v in value],
                )
        return expr

    def refuse_in(self, node: ast.AST | None, message: str) -> None:
        for sub in ast.walk(node) if node is not None else ():
            if isinstance(sub, ast.NamedExpr):
                raise self.error(sub, message)


_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_WALRUS_LAZY = (
    "an assignment expression (:=) here runs only sometimes (inside and/or, a conditional "
    "expression, a comprehension or a lambda); assign the value in a statement of its own"
)
_WALRUS_ELSEWHERE = (
    "an assignment expression (:=) is supported in tests, values and call arguments; "
    "assign the value in a statement of its own here"
)


def hoist_assignment_expressions(
    body: list[ast.stmt], error: Callable[[ast.AST, str], Exception]
) -> list[ast.stmt]:
    """Rewrite `if (y := e) > 0:` as `y = e` then `if y > 0:`, and so on.

    An assignment expression binds a name in the middle of an expression; the
    later stages need every binding to be a statement, so that the name gets
    its SSA version and its gradient.  Only those evaluated every time their
    statement runs are moved out; one inside `and`/`or`, a conditional
    expression, a comprehension, a lambda or a `while` test is refused with
    its position.
    """
    if not any(isinstance(n, ast.NamedExpr) for s in body for n in ast.walk(s)):
        return body
    return _Hoister(error).block(body)


def lower_jumps(body: list[ast.stmt], fresh: Callable[[str], str]) -> list[ast.stmt]:
    """Rewrite `break`/`continue`/early `return` in `body` into flags (see module doc)."""
    return JumpLowering(fresh).function(body)
