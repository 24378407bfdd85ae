"""Stage 6, optimize (continued): textbook formulas written out, differentiated as one.

A variant's backward pass applies one rule per operation.  Where the user
wrote out a function whose derivative has a well-known short form, the
chain of rules is replaced by that form, as a person would write it:

* the logistic function `p = 1 / (1 + np.exp(-z))`: `dz = dp * (p * p * t3)`
  (fuse_logistic);
* the binary cross-entropy of a logistic, `y * np.log(p) + (1 - y) *
  np.log(1 - p)`: `dz = g * (y - p)` (fuse_cross_entropy).

Each matches its chain exactly (every intermediate assigned once and read
nowhere else) or leaves the code as it is.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from .ir import assigned_names, clone, comment, is_comment, walk_statements
from .optimize import statement_lists


def fuse_logistic(function: ast.FunctionDef, env: Mapping[str, object]) -> None:
    """The gradient through a written-out logistic function in three multiplications.

    For `p = 1 / (1 + np.exp(-z))` (normalized: `t2 = -z; t3 = np.exp(t2);
    t4 = 1 + t3; p = 1 / t4`, each name assigned once) the backward pass
    applies four rules, `dt4 = -dp * p / t4; dt2 = dt4 * t3; dz = -dt2`: five
    array operations.  dp/dz is p * (1 - p), which is p * p * t3 (because
    1 - p = t3 / t4 = t3 * p); that form is written, `dz = dp * (p * p * t3)`,
    since p * (1 - p) would lose every digit of 1 - p where p rounds to 1.
    The intermediate gradients dt4 and dt2 must be read nowhere else.
    """
    defs: dict[str, ast.expr] = {}
    counts: dict[str, int] = {}
    for stmt in walk_statements(function.body):
        for name in assigned_names(stmt):
            counts[name] = counts.get(name, 0) + 1
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                defs[target.id] = stmt.value
    once = {name: value for name, value in defs.items() if counts.get(name) == 1}
    reads: dict[str, int] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            reads[node.id] = reads.get(node.id, 0) + 1
    for body in statement_lists(function.body):
        code = [i for i, stmt in enumerate(body) if not is_comment(stmt)]
        dropped: set[int] = set()
        for a, b, c in zip(code, code[1:], code[2:]):
            fused = _logistic_chain(body[a], body[b], body[c], once, reads, env)
            if fused is not None and not {a, b} & dropped:
                body[a] = fused
                dropped |= {b, c} | set(range(a + 1, c))  # with the rules' comments
                if a and is_comment(body[a - 1]):
                    body[a - 1] = comment(
                        "logistic: dp/dz = p * (1 - p), computed as p * p * exp(-z) "
                        "(exact where p rounds to 1)"
                    )
        if dropped:
            body[:] = [s for k, s in enumerate(body) if k not in dropped]


def _logistic_chain(
    s1: ast.stmt,
    s2: ast.stmt,
    s3: ast.stmt,
    once: dict[str, ast.expr],
    reads: dict[str, int],
    env: Mapping[str, object],
) -> ast.stmt | None:
    """`dz = dp * (p * p * t3)` for `dt4 = -dp * p / t4; dt2 = dt4 * t3; dz = -dt2`
    when p, t4, t3 and t2 are the written-out logistic of z (fuse_logistic)."""
    one = _copy_of(s1)
    two, three = _copy_of(s2), _copy_of(s3)
    if one is None or two is None or three is None:
        return None
    (d4, e1), (d2, e2), (dz, e3) = one, two, three
    # e1: -dp * p / t4
    if not (
        _binop(e1, ast.Div)
        and _binop(e1.left, ast.Mult)
        and isinstance(e1.left.left, ast.UnaryOp)
        and isinstance(e1.left.left.op, ast.USub)
    ):
        return None
    dp, p, t4 = e1.left.left.operand, _name(e1.left.right), _name(e1.right)
    # p = 1 / t4, t4 = 1 + t3, t3 = np.exp(t2), t2 = -z
    pdef, t4def = once.get(p or ""), once.get(t4 or "")
    if not (_binop(pdef, ast.Div) and _is_one(pdef.left) and _name(pdef.right) == t4):
        return None
    if not _binop(t4def, ast.Add):
        return None
    t3 = _name(t4def.right) if _is_one(t4def.left) else _name(t4def.left)
    if t3 is None or not (_is_one(t4def.left) or _is_one(t4def.right)):
        return None
    t3def = once.get(t3)
    if not (
        isinstance(t3def, ast.Call)
        and len(t3def.args) == 1
        and not t3def.keywords
        and _resolve(t3def.func, env) is np.exp
        and _name(t3def.args[0]) is not None
    ):
        return None
    t2def = once.get(cast(ast.Name, t3def.args[0]).id)
    if not (isinstance(t2def, ast.UnaryOp) and isinstance(t2def.op, ast.USub)):
        return None
    # e2: dt4 * t3 (either order); e3: -dt2
    if not _binop(e2, ast.Mult) or {_name(e2.left), _name(e2.right)} != {d4, t3}:
        return None
    if not (
        isinstance(e3, ast.UnaryOp) and isinstance(e3.op, ast.USub) and _name(e3.operand) == d2
    ):
        return None
    if reads.get(d4) != 1 or reads.get(d2) != 1 or dp is None:
        return None
    assert p is not None
    slope = ast.BinOp(ast.BinOp(_load(p), ast.Mult(), _load(p)), ast.Mult(), _load(t3))
    value = ast.BinOp(dp, ast.Mult(), slope)
    return ast.copy_location(ast.Assign(targets=[ast.Name(dz, ast.Store())], value=value), s1)


def _copy_of(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    """(name, value) of an assignment to one name."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target.id, stmt.value
    return None


def _binop(expr: object, op: type) -> bool:
    return isinstance(expr, ast.BinOp) and isinstance(expr.op, op)


def _name(expr: object) -> str | None:
    return expr.id if isinstance(expr, ast.Name) else None


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _is_one(expr: object) -> bool:
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float) and expr.value == 1


def _resolve(expr: ast.expr, env: Mapping[str, object]) -> object:
    if isinstance(expr, ast.Name):
        return env.get(expr.id)
    if isinstance(expr, ast.Attribute):
        base = _resolve(expr.value, env)
        return getattr(base, expr.attr, None) if base is not None else None
    return None


@dataclass
class _Defs:
    """Where each name of a function is assigned and how often it is read."""

    every: dict[str, list[ast.Assign]]
    counts: dict[str, int]
    reads: dict[str, int]

    @staticmethod
    def of(function: ast.FunctionDef) -> _Defs:
        every: dict[str, list[ast.Assign]] = {}
        counts: dict[str, int] = {}
        for stmt in walk_statements(function.body):
            for name in assigned_names(stmt):
                counts[name] = counts.get(name, 0) + 1
            if _copy_of(stmt) is not None:
                every.setdefault(cast(ast.Name, cast(ast.Assign, stmt).targets[0]).id, []).append(
                    cast(ast.Assign, stmt)
                )
        reads: dict[str, int] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                reads[node.id] = reads.get(node.id, 0) + 1
        return _Defs(every, counts, reads)

    def once(self, name: str | None) -> ast.Assign | None:
        """The assignment of a name assigned once."""
        if name is None or self.counts.get(name) != 1 or len(self.every.get(name, [])) != 1:
            return None
        return self.every[name][0]

    def single(self, name: str | None) -> ast.Assign | None:
        """The assignment of a name assigned once and read once (by the chain)."""
        stmt = self.once(name)
        return stmt if stmt is not None and self.reads.get(cast(str, name)) == 1 else None

    def summed(self, name: str | None) -> tuple[ast.expr, list[ast.stmt]] | None:
        """The value of a gradient read only by the chain, from one assignment or from
        two, `dp = a` then `dp = dp + b` (a copy gate): `a + b`; and the statements."""
        stmt = self.single(name)
        if stmt is not None:
            return stmt.value, [stmt]
        if name is None or self.counts.get(name) != 2 or self.reads.get(name) != 2:
            return None
        if len(self.every.get(name, [])) != 2:
            return None
        first, second = self.every[name]
        if not (_binop(second.value, ast.Add) and _name(second.value.left) == name):
            return None
        if any(_name(n) == name for n in ast.walk(first.value)):
            return None
        return ast.BinOp(first.value, ast.Add(), second.value.right), [first, second]


def fuse_cross_entropy(function: ast.FunctionDef) -> None:
    """`dz = g * (y - p)` for the binary cross-entropy of a written-out logistic.

    After fuse_logistic, `y * np.log(p) + (1 - y) * np.log(1 - p)` (either
    order, either factor order) leaves `dz = dp * (p * p * t3)` with
    dp = g * y / p - g * (1 - y) / (1 - p): five array operations whose
    product with p * (1 - p) is g * (y - p).  That is the textbook form, and
    the better one where p rounds to 1 with y = 0 (dp is then infinite).  The
    gradients in between must be assigned once and read nowhere else; they
    and their comments go.
    """
    defs = _Defs.of(function)
    for body in statement_lists(function.body):
        for k, stmt in enumerate(body):
            fused = _cross_entropy_chain(stmt, defs)
            if fused is None:
                continue
            value, gone = fused
            doomed = {id(d) for d in gone}
            if not doomed <= {id(s) for s in body[:k]}:
                continue  # (the chain spans statement lists: leave it)
            first = min(i for i, s in enumerate(body) if id(s) in doomed)
            if first and is_comment(body[first - 1]):
                first -= 1  # the rule's comment of the first statement that goes
            cast(ast.Assign, stmt).value = value
            note = comment(
                "logistic and binary cross-entropy: dz = g * (y - p), the textbook "
                "cancellation of the log's 1/p with the logistic's p * (1 - p)"
            )
            kept = [s for s in body[first:k] if not is_comment(s) and id(s) not in doomed]
            body[first : k + 1] = [*kept, note, stmt]
            break  # (one chain per statement list)


def _cross_entropy_chain(stmt: ast.stmt, defs: _Defs) -> tuple[ast.expr, list[ast.stmt]] | None:
    """(g * (y - p), the statements that go) for `dz = dp * (p * p * t3)`."""
    copy = _copy_of(stmt)
    if copy is None:
        return None
    value = copy[1]
    if not (_binop(value, ast.Mult) and _binop(value.right, ast.Mult)):
        return None
    square = value.right.left
    if not (_binop(square, ast.Mult) and _name(square.left) == _name(square.right)):
        return None
    p = _name(square.left)
    dp_sum = defs.summed(_name(value.left))
    if dp_sum is None or p is None:
        return None
    dp_value, gone = dp_sum
    terms = _difference(dp_value)
    if terms is None:
        return None
    positive, negative = terms
    # positive: a / p with a = g * y; negative: c / t8 (or a name b for it), t8 = 1 - p,
    # c = g * t7, t7 = 1 - y
    if not (_binop(positive, ast.Div) and _name(positive.right) == p):
        return None
    a = defs.single(_name(positive.left))
    if isinstance(negative, ast.Name):
        b = defs.single(negative.id)
        if b is None:
            return None
        negative, gone = b.value, [*gone, b]
    if a is None or not (_binop(negative, ast.Div) and _binop(a.value, ast.Mult)):
        return None
    c = defs.single(_name(negative.left))
    t8 = defs.once(_name(negative.right))
    if not (
        c is not None
        and _binop(c.value, ast.Mult)
        and t8 is not None
        and _binop(t8.value, ast.Sub)
        and _is_one(t8.value.left)
        and _name(t8.value.right) == p
    ):
        return None
    gone += [a, c]
    for g, y in ((a.value.left, a.value.right), (a.value.right, a.value.left)):
        for g2, t7_name in ((c.value.left, c.value.right), (c.value.right, c.value.left)):
            if ast.dump(g) != ast.dump(g2) or not isinstance(g, (ast.Name, ast.Constant)):
                continue
            t7 = defs.once(_name(t7_name))
            if (
                t7 is not None
                and _binop(t7.value, ast.Sub)
                and _is_one(t7.value.left)
                and isinstance(y, ast.Name)
                and _name(t7.value.right) == y.id
            ):
                diff = ast.BinOp(_load(y.id), ast.Sub(), _load(p))
                return ast.BinOp(clone(g), ast.Mult(), diff), gone
    return None


def _difference(expr: ast.expr) -> tuple[ast.expr, ast.expr] | None:
    """(a, b) for `a - b`, `a + -b` or `-b + a`."""
    if _binop(expr, ast.Sub):
        return expr.left, expr.right
    if _binop(expr, ast.Add):
        for left, right in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub):
                return left, right.operand
    return None
