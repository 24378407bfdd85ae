"""Aliasing: which values share memory, which arrays are fresh, which writes must restore.

In-place changes are differentiable only on arrays and lists the function
made itself, and only while no other live name sees the change.  Normalize
asks, for each assignment:

* `new_container(value, resolve)`: does the value build a new list (a
  display, `list(...)`, `[0.0] * n`) or a new array (arithmetic, which never
  returns an operand, or a constructor such as `np.zeros` or `x.copy()`)?
* `view_base(value, lists)`: which name's memory may the value share (a
  copy `y = x`, an element or a slice `x[i]`, a view `x.T`, `x.reshape(...)`)?

and after normalizing, `mark_restores` decides for each write `out[i] = v`
whether its adjoint must put the overwritten elements back.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import ADD_AT, MISSING, SETITEM, facts, facts_of, name_of
from .runtime import zeros_like_list

# attributes and methods whose result shares memory with the array (matters for `+=`)
VIEW_ATTRS = frozenset({"T", "reshape", "transpose", "ravel", "swapaxes", "squeeze", "view"})


def constructors() -> tuple:
    """Functions that return a new array, which the function may then write into."""
    return (
        np.zeros,
        np.ones,
        np.empty,
        np.full,
        np.zeros_like,
        np.ones_like,
        np.empty_like,
        np.full_like,
        np.copy,
        np.array,
        np.arange,
        np.linspace,
        np.eye,
        np.identity,
        np.ndarray.copy,
    )


def new_container(value: ast.expr, resolve: Callable[[ast.expr], Any]) -> str | None:
    """ "list" or "array" when `value` surely makes a new one, else None.

    `resolve` maps a name or a dotted chain to the object it denotes
    (ir.Parsed.resolve).
    """
    if (
        isinstance(value, ast.List)
        or (isinstance(value, ast.Call) and resolve(value.func) in (list, zeros_like_list))
        or (  # [0.0] * n
            isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Mult)
            and isinstance(value.left, ast.List)
        )
    ):
        return "list"
    if isinstance(value, ast.BinOp) or (
        isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd))
    ):
        return "array"  # arithmetic on arrays always makes a new array
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    callee = resolve(func)
    if callee is MISSING and isinstance(func, ast.Attribute) and func.attr == "copy":
        callee = np.ndarray.copy
    if callee is not MISSING and any(callee is c for c in constructors()):
        return "array"
    return None


def view_base(value: ast.expr, lists: set[str]) -> str | None:
    """The name whose memory `value` may share, or None (`lists`: the lists made in the
    function, whose items are not views of them)."""
    if isinstance(value, ast.Name):
        return value.id
    if (
        isinstance(value, ast.Subscript)
        and isinstance(value.value, ast.Name)
        and value.value.id not in lists  # (an item of a list is not a view of it)
    ):
        return value.value.id
    if (
        isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.attr in VIEW_ATTRS
    ):
        return value.value.id
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and isinstance(value.func.value, ast.Name)
        and value.func.attr in VIEW_ATTRS
    ):
        return value.func.value.id
    return None


def mark_restores(body: list[ast.stmt], root: dict[str, str]) -> None:
    """Decide, for each write `out[i] = v`, whether its adjoint must put the old value back.

    Only statements that can run before the write (earlier in the function, or
    anywhere in a loop that contains it) can need the array as it was.  If
    none of them reads the array or a view of it (`root` maps a name to the
    value whose memory it shares), the save and the restore are skipped: a
    convolution that fills `out` and only then pools it needs neither.
    """
    order: list[tuple[ast.stmt, tuple[int, ...]]] = []

    def walk(stmts: list[ast.stmt], loops: tuple[int, ...]) -> None:
        for stmt in stmts:
            order.append((stmt, loops))
            if isinstance(stmt, ast.If):
                walk(stmt.body, loops)
                walk(stmt.orelse, loops)
            elif isinstance(stmt, (ast.For, ast.While)):
                walk(stmt.body, (*loops, id(stmt)))

    walk(body, ())

    def reads(stmt: ast.stmt) -> set[str]:
        parts = (
            [stmt.test]
            if isinstance(stmt, (ast.If, ast.While))
            else ([stmt.iter] if isinstance(stmt, ast.For) else [stmt])
        )
        names = set()
        for part in parts:
            for n in ast.walk(part):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    names.add(root.get(n.id, n.id))
        return names

    for position, (stmt, loops) in enumerate(order):
        record = facts_of(stmt)
        if record.prim not in (SETITEM, ADD_AT):
            continue
        array = root.get(name_of(record.args[0]), name_of(record.args[0]))
        needed = False
        for other_position, (other, other_loops) in enumerate(order):
            other_facts = facts_of(other)
            if other is stmt or other_facts.saves_old:
                continue  # (the copy of the overwritten element is not a use)
            if other_facts.prim is SETITEM and other_position > position:
                continue
            shares_loop = bool(set(loops) & set(other_loops))
            if (other_position < position or shares_loop) and array in reads(other):
                if other_facts.prim is SETITEM and not shares_loop:
                    continue  # an earlier write only stores into the array
                needed = True
                break
        facts(stmt).restore = needed
