"""Dims: the rank of every value of a variant, and which axes are provably not 1.

A variant compiled for the first call's arguments knows each array
parameter's ndim, and that none of its axes has length 1
(arguments.matches_kinds checks this at every call, so a new batch size does
not compile again).  From there a rule per primitive gives every
intermediate value its `Dims`: one flag per axis, True where the axis is
provably not of length 1.  A value no rule covers has unknown dims (None),
and the general code stays for the statements that read it.  shapes.py uses
these facts to write the backward pass as a person would.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from .ir import ADD_AT, IDENTITY, SETITEM, Function, facts_of, names_in, targets_of, walk_statements

ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)


def literal_is(expr: Any, value: Any) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is value


Dims = tuple[bool, ...]
TOP: Any = object()  # not known yet (the fixpoint starts optimistic)


def broadcast_dims(a: Dims | None, b: Dims | None) -> Dims | None:
    """The dims of a broadcast of two values: an axis is not 1 if either side's is not."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    a = (False,) * (n - len(a)) + a
    b = (False,) * (n - len(b)) + b
    return tuple(x or y for x, y in zip(a, b))


def product_dims(a: Dims | None, b: Dims | None, kind: str) -> Dims | None:
    """The dims of a product of 1-D and 2-D operands (`dot`, `matmul`, `inner`, `outer`)."""
    if a is None or b is None:
        return None
    ranks = (len(a), len(b))
    if kind == "outer":
        return (a[0], b[0]) if ranks == (1, 1) else None
    if kind == "dot" and 0 in ranks:  # np.dot with a scalar multiplies
        return broadcast_dims(a, b)
    if ranks == (1, 1):
        return ()
    if ranks == (2, 1):
        return (a[0],)
    if kind == "inner":  # contracts the last axes
        return None
    if ranks == (1, 2):
        return (b[1],)
    return (a[0], b[1]) if ranks == (2, 2) else None


def _meet(old: Any, new: Any) -> Any:
    if old is TOP:
        return new
    if new is TOP or old == new:
        return old
    if old is None or new is None or len(old) != len(new):
        return None
    return tuple(x and y for x, y in zip(old, new))


def _products() -> dict[int, str]:
    return {
        id(operator.matmul): "matmul",
        id(np.matmul): "matmul",
        id(np.dot): "dot",
        id(np.ndarray.dot): "dot",
        id(np.inner): "inner",
        id(np.outer): "outer",
    }


_REDUCTIONS = ("sum", "mean", "max", "min", "amax", "amin", "prod", "median")


def _reduction(prim: Any) -> bool:
    name = getattr(prim, "__name__", None)
    return name in _REDUCTIONS and (
        getattr(np, name, None) is prim or getattr(np.ndarray, name, None) is prim
    )


def _same_dims() -> dict[int, str | None]:
    """Functions whose result has their first argument's dims, by id, with the keyword
    whose literal None would flatten it instead (np.sort(x, axis=None))."""
    table: dict[Any, str | None] = {
        np.sort: "axis",
        np.cumsum: "axis",
        np.cumprod: "axis",
        np.roll: None,
        np.nan_to_num: None,
        np.real: None,
        np.imag: None,
        np.conjugate: None,
        np.fliplr: None,
        np.flipud: None,
        np.linalg.cholesky: None,
    }
    try:
        import scipy.linalg
    except ImportError:  # pragma: no cover - SciPy is optional
        pass
    else:
        table[scipy.linalg.cholesky] = None
    return {id(f): axis for f, axis in table.items()}


_SAME_DIMS = _same_dims()
_ABSENT = object()


def literal_int(expr: Any) -> int | None:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    if (
        isinstance(expr, ast.UnaryOp)
        and isinstance(expr.op, ast.USub)
        and isinstance(expr.operand, ast.Constant)
        and type(expr.operand.value) is int
    ):
        return -expr.operand.value
    return None


def _reduced_dims(a: Any, axis: Any, keepdims: Any) -> Any:
    """The dims of a reduction of `a` over one literal axis (or all of them)."""
    if a is TOP or a is None:
        return a
    keep = keepdims is not None and not literal_is(keepdims, False)
    if keep and not literal_is(keepdims, True):
        return None
    if axis is None or literal_is(axis, None):
        return tuple(False for _ in a) if keep else ()
    k = literal_int(axis)
    if k is None or not -len(a) <= k < len(a):
        return None
    k %= len(a)
    return a[:k] + ((False,) if keep else ()) + a[k + 1 :]


def elementwise_ufunc(func: Any, args: list, keywords: bool) -> bool:
    """A ufunc of one or two arguments that works element by element (not matmul)."""
    return (
        isinstance(func, np.ufunc)
        and func.nout == 1
        and func.signature is None
        and not keywords
        and len(args) == func.nin <= 2
    )


class DimsRules:
    """The dims of one statement's value, given the dims found so far."""

    def __init__(
        self,
        dims: dict[str, Any],
        scalars: set[str] | frozenset[str],
        env: Mapping[str, object] | None = None,
        ints: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.dims = dims
        self.scalars = scalars
        self.ints = ints  # names of Python ints besides `scalars` (they index too)
        self.products = _products()
        self.env = env or {}  # names -> objects, to recognise calls no rule records

    def of(self, expr: ast.expr) -> Any:
        if isinstance(expr, ast.Name):
            return self.dims.get(expr.id, TOP)
        if isinstance(expr, ast.Constant):
            v = expr.value
            return () if type(v) in (int, float) else None
        if isinstance(expr, ast.BinOp):
            if isinstance(expr.op, ast.MatMult):
                return self.join(self.of(expr.left), self.of(expr.right), "matmul")
            if isinstance(expr.op, (*ELEMENTWISE_OPS, ast.FloorDiv)):
                return self.join(self.of(expr.left), self.of(expr.right), None)
            return None
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            return self.of(expr.operand)
        if isinstance(expr, ast.Subscript):
            return self.element(self.of(expr.value), expr.slice)
        if isinstance(expr, ast.Attribute) and expr.attr == "T":
            base = self.of(expr.value)
            return base if base is TOP or base is None or len(base) > 2 else base[::-1]
        return None

    def creation(self, call: ast.Call) -> Any:
        """`np.zeros(shape)`, `np.ones(shape)`, `np.empty(shape)`: the rank of shape (a
        tuple literal, or one int), with sizes that may be 1; other calls: unknown."""
        func: Any = None
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            func = getattr(self.env.get(call.func.value.id), call.func.attr, None)
        if func not in (np.zeros, np.ones, np.empty) or len(call.args) != 1 or call.keywords:
            return None
        shape = call.args[0]
        if isinstance(shape, ast.Tuple):
            return (False,) * len(shape.elts)
        return (False,) if literal_int(shape) is not None else None

    def elementwise(self, args: list[ast.expr]) -> Any:
        """The dims of a ufunc applied elementwise to one or two arguments."""
        found = [self.of(a) for a in args]
        if any(d is TOP for d in found):
            return TOP
        return found[0] if len(found) == 1 else broadcast_dims(found[0], found[1])

    def join(self, a: Any, b: Any, kind: str | None) -> Any:
        if a is TOP or b is TOP:
            return TOP
        return broadcast_dims(a, b) if kind is None else product_dims(a, b, kind)

    def element(self, base: Any, index: ast.expr) -> Any:
        """`x[i]`, `x[i, j]` with int indices: x's dims without the axes indexed; a
        slice `x[a:b]` keeps its axis, of a length that may be 1."""
        if base is TOP or base is None:
            return base
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if len(parts) > len(base):
            return None
        out: list[bool] = []
        for p, axis in zip(parts, base):
            if isinstance(p, ast.Slice):
                out.append(
                    axis and p.lower is None and p.upper is None and p.step is None
                )  # (`x[:]` keeps the length)
            elif not (
                literal_int(p) is not None
                or (isinstance(p, ast.Name) and (p.id in self.scalars or p.id in self.ints))
            ):
                return None
        return tuple(out) + base[len(parts) :]

    def statement(self, stmt: ast.Assign) -> Any:
        record = facts_of(stmt)
        prim, value = record.prim, stmt.value
        if record.unbound_init:
            return TOP
        if prim is None and isinstance(value, ast.Call):
            return self.creation(value)
        if prim is None or prim is IDENTITY or isinstance(value, (ast.BinOp, ast.UnaryOp)):
            if prim is not None and not isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Name)):
                return None
            return self.of(value)
        args = record.args or []
        if prim is operator.getitem and len(args) == 2:
            return self.element(self.of(args[0]), args[1])
        if prim is np.tensordot and len(args) >= 2:  # tensordot(a, b, 1) is a @ b
            axes = (record.kwargs or {}).get("axes", args[2] if len(args) > 2 else None)
            if set(record.kwargs or {}) <= {"axes"} and len(args) <= 3 and literal_int(axes) == 1:
                return self.join(self.of(args[0]), self.of(args[1]), "matmul")
            return None
        kind = self.products.get(id(prim))
        if kind is not None:
            if record.kwargs or len(args) != 2:
                return None
            return self.join(self.of(args[0]), self.of(args[1]), kind)
        if elementwise_ufunc(prim, args, bool(record.kwargs)):
            return self.elementwise(args)
        if id(prim) in _SAME_DIMS and args:  # np.sort(x), np.linalg.cholesky(a): x's dims
            flattening = _SAME_DIMS[id(prim)]
            axis = (record.kwargs or {}).get(flattening, args[1] if len(args) > 1 else _ABSENT)
            if flattening is None or (axis is not _ABSENT and literal_int(axis) is not None):
                return self.of(args[0])
            if axis is _ABSENT and prim is np.sort:  # (sort's default axis is -1)
                return self.of(args[0])
            return None
        if _reduction(prim) and args and set(record.kwargs or {}) <= {"axis", "keepdims"}:
            kwargs = record.kwargs or {}
            axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
            if len(args) > 2:
                return None
            return _reduced_dims(self.of(args[0]), axis, kwargs.get("keepdims"))
        return None


def array_dims(
    fn: Function,
    scalars: set[str] | frozenset[str],
    ranks: Mapping[str, int],
    env: Mapping[str, object] | None = None,
) -> dict[str, Dims]:
    """The dims of every name whose dims are known (see above).

    `ranks` are the array parameters of a variant (ndim, no axis of length 1),
    `scalars` the names that are scalars (shapes.scalar_names), `env` the
    objects names stand for (to recognise `np.zeros(shape)`).  A name assigned
    in several places (branches, loop-carried values) keeps what all its
    assignments agree on; the fixpoint starts optimistic, so a loop-carried
    value that keeps its shape keeps its dims.
    """
    dims: dict[str, Any] = {p: (True,) * r for p, r in ranks.items()}
    dims.update((s, ()) for s in scalars)
    rules = DimsRules(dims, scalars, env)
    for p in fn.params:
        if p not in ranks and p not in scalars:
            dims[p] = None
    stmts = list(walk_statements(fn.body))
    changed = True
    while changed:
        changed = False
        for stmt in stmts:
            found: list[tuple[str, Any]] = []
            if isinstance(stmt, ast.For):
                loop_var = () if facts_of(stmt).range_loop else None
                found = [(n, loop_var) for n in names_in(stmt.target)]
            elif facts_of(stmt).prim in (SETITEM, ADD_AT):
                continue  # a write keeps the array's shape
            elif (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                found = [(stmt.targets[0].id, rules.statement(stmt))]
            else:
                found = [(n, None) for n in targets_of(stmt)]
            for name, new in found:
                if name in scalars:
                    new = ()
                old = dims.get(name, TOP)
                merged = _meet(old, new)
                if merged is not old and merged != old:
                    dims[name] = merged
                    changed = True
    return {n: d for n, d in dims.items() if d is not None and d is not TOP}
