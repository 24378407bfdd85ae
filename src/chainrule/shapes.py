"""Shape facts about normalized code: which names are scalars, which share a shape.

Two analyses that let the transformations write less code:

* `scalar_names`: the names that are scalars whatever the argument shapes
  (full reductions, `math.*`, sizes).  `grad` seeds such an output with the
  constant 1.0, with no run-time check, and their zero gradients are `0.0`;
* `ShapeClasses`: which names provably share a shape, from elementwise
  operations alone.  `unbroadcast(g, x)` is the identity when g has x's
  shape, so the reverse transformation drops it (`simplify`), and forward
  mode leaves out `broadcast_like` where a tangent keeps its result's shape.
"""

from __future__ import annotations

import ast
import inspect
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import runtime
from .dims import (
    ELEMENTWISE_OPS,
    TOP,
    Dims,
    DimsRules,
    elementwise_ufunc,
    literal_int,
    literal_is,
    product_dims,
)
from .flow import integer_names, shrink_to_fixpoint
from .ir import IDENTITY, Function, facts_of, name_of, names_in, targets_of, walk_statements

# -- outputs that are scalars by construction ----------------------------------------


def _full_reductions() -> set[int]:
    funcs = [
        np.sum,
        np.mean,
        np.max,
        np.min,
        np.amax,
        np.amin,
        np.prod,
        np.var,
        np.std,
        np.nansum,
        np.vdot,
        np.linalg.norm,
    ]
    methods = ["sum", "mean", "max", "min", "prod", "var", "std"]
    return {id(f) for f in funcs} | {id(getattr(np.ndarray, m)) for m in methods}


_FULL_REDUCTIONS: set[int] = set()


def scalar_names(
    fn: Function, scalar_params: frozenset[str] = frozenset(), ranks: dict | None = None
) -> set[str]:
    """All names that are scalars whatever the argument shapes (full reductions, math.*,
    sizes): grad seeds such an output with the constant 1.0, with no run-time check.

    `scalar_params` are parameters known to be scalars (the first call's
    floats, for a variant specialised on them); `ranks` gives the ndim of
    array parameters, so that `x_obs[i]` of a 1-D `x_obs` is a scalar.  This is a greatest fixpoint,
    so values carried around a loop stay scalars when everything feeding them is.
    """
    if not _FULL_REDUCTIONS:
        _FULL_REDUCTIONS.update(_full_reductions())
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in walk_statements(fn.body):
        for t in targets_of(stmt):
            defs.setdefault(t, []).append(stmt)
    scalars = set(defs) | set(scalar_params)
    for stmt in walk_statements(fn.body):  # range() loop variables are ints
        if isinstance(stmt, ast.For) and facts_of(stmt).range_loop:
            scalars.update(names_in(stmt.target))

    def element_of_ranked(base: ast.expr, index: ast.expr) -> bool:
        """x[i, j] with as many int indices as x (a parameter of known ndim) has axes."""
        if not (ranks and isinstance(base, ast.Name) and base.id in ranks):
            return False
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return len(parts) == ranks[base.id] and all(
            (isinstance(p, ast.Constant) and type(p.value) is int)
            or (isinstance(p, ast.Name) and p.id in scalars)
            for p in parts
        )

    def inert_scalar(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Subscript) and element_of_ranked(expr.value, expr.slice):
            return True
        if isinstance(expr, ast.BinOp) and not isinstance(expr.op, ast.MatMult):
            return inert_scalar(expr.left) and inert_scalar(expr.right)
        if isinstance(expr, ast.UnaryOp):
            return inert_scalar(expr.operand)
        return scalar_atom(expr) or _is_size(expr)

    def scalar_atom(expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) in (int, float)
        return isinstance(expr, ast.Name) and expr.id in scalars

    def scalar_stmt(stmt: ast.stmt) -> bool:
        if (
            not isinstance(stmt, ast.Assign)
            or len(stmt.targets) != 1
            or not isinstance(stmt.targets[0], ast.Name)
        ):
            return False
        record = facts_of(stmt)
        prim = record.prim
        value = stmt.value
        if record.unbound_init:  # `y_1 = None`: no value is read from it
            return True
        if prim is None:  # inert: sizes (X.shape[0], len(xs)) and arithmetic on scalars
            return inert_scalar(value)
        args = record.args
        if isinstance(value, (ast.BinOp, ast.UnaryOp)) or prim is IDENTITY:
            return bool(args) and all(scalar_atom(a) for a in args)
        if prim is operator.getitem:
            return element_of_ranked(args[0], args[1])
        if isinstance(prim, np.ufunc) and prim.nout == 1 and not record.kwargs:
            return len(args) == prim.nin and all(scalar_atom(a) for a in args)
        if id(prim) in _FULL_REDUCTIONS:
            if prim is _numpy_vdot():
                return True
            bound = _bound_reduction(prim, args, record.kwargs)
            if bound is None:
                return False
            axis = bound.get("axis")
            if axis is not None and not literal_is(axis, None):
                return False
            keepdims = bound.get("keepdims")
            return keepdims is None or literal_is(keepdims, False)
        module = getattr(prim, "__module__", None)
        return module == "math" or prim is float

    shrink_to_fixpoint(scalars, defs, scalar_stmt)
    return scalars


def _bound_reduction(prim: Any, args: list, kwargs: dict) -> dict | None:
    """A reduction's arguments by parameter name, bound through the real signature of the
    NumPy function (an ndarray method's receiver takes the array's place); None when
    they do not bind."""
    func = prim
    if getattr(prim, "__objclass__", None) is np.ndarray:
        func = getattr(np, prim.__name__, None)
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return None
    return dict(bound.arguments)


def _numpy_vdot() -> Any:
    return np.vdot


def _is_size(expr: ast.expr) -> bool:
    if isinstance(expr, ast.Attribute):
        return expr.attr in ("size", "ndim")
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Attribute):
        return (
            expr.value.attr == "shape"
            and isinstance(expr.slice, ast.Constant)
            and type(expr.slice.value) is int
        )
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id == "len" and len(expr.args) == 1
    return isinstance(expr, ast.Constant) and type(expr.value) in (int, float)


# -- shape classes: drop `unbroadcast` where shapes provably agree ---------------------

_SCALAR = "scalar"


class ShapeClasses:
    """Which names provably share a shape, from elementwise operations alone.

    `z = x * 2.0`, `z = np.tanh(x)` and `z = x + y` with x, y already known
    to share a shape all give z the shape of x; anything else (matmul,
    reductions, broadcasting between unrelated names) gives a fresh, unknown
    class.  A gradient has its primal's shape.  `unbroadcast(g, x)` is the
    identity when g's class equals x's, and is then removed: the textbook
    `dz1 = dh * (0 < z1)` instead of a helper call on every line.
    """

    def __init__(self, env: Mapping[str, object], grad_of: dict[str, str]) -> None:
        self.env = env  # names -> objects, to recognise NumPy ufuncs
        self.grad_of = grad_of  # gradient name -> primal name
        self.cls: dict[str, object] = {}
        self.fixed: set[str] = set()  # names whose class is known in advance
        self.rep: dict[object, str] = {}  # class -> its first name outside any branch
        self.depth = 0
        self.dims: dict[str, Dims] = {}  # a variant's dims (array_dims), else empty
        self.scalars: set[str] | frozenset[str] = frozenset()
        self.ints: set[str] = set()  # names that always hold Python ints (a variant's)
        # arrays made by np.zeros/ones/empty(shape) with no dtype, assigned nowhere else:
        # name -> rank (their dtype is float64 whatever is written into them)
        self.float_buffers: dict[str, int] = {}
        self.numpy_name: Callable[[], str] | None = None  # numpy's name in generated code

    def resolve(self, expr: ast.expr) -> object:
        if isinstance(expr, ast.Name):
            return self.env.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value)
            return getattr(base, expr.attr, None) if base is not None else None
        return None

    def of(self, expr: ast.expr) -> object:
        if isinstance(expr, ast.Name):
            known = self.cls.get(expr.id)
            if known is None and expr.id in self.grad_of:  # e.g. the seed dL: shaped like L
                known = self.cls.get(self.grad_of[expr.id])
            return known
        if isinstance(expr, ast.Constant):
            v = expr.value
            return _SCALAR if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ELEMENTWISE_OPS):
            return self.pair(expr.left, expr.right)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            return self.of(expr.operand)
        if isinstance(expr, ast.Compare) and len(expr.comparators) == 1:
            return self.pair(expr.left, expr.comparators[0])
        if isinstance(expr, ast.Call) and not expr.keywords:
            func = self.resolve(expr.func)
            if (
                isinstance(func, np.ufunc)
                and func.signature is None  # (not np.matmul & co.: core dims change shape)
                and func.nout == 1
                and func.nin == len(expr.args)
            ):
                if func.nin == 1:
                    return self.of(expr.args[0])
                if func.nin == 2:
                    return self.pair(expr.args[0], expr.args[1])
            if getattr(func, "__name__", None) == "unbroadcast" and len(expr.args) == 2:
                return self.of(expr.args[1])
        return None

    def pair(self, x: ast.expr, y: ast.expr) -> object:
        """The class of an elementwise operation of x and y.  In a variant, two operands
        of one rank with no axis of length 1 (dims) can only broadcast if their
        shapes are equal: the result then has x's class (so `np.size(loss_terms)`
        can name an argument of the same shape, and the terms may die)."""
        a, b = self.of(x), self.of(y)
        joined = self.combine(a, b)
        if joined is None and a is not None and b is not None and self.dims:
            da, db = self.full_dims(x), self.full_dims(y)
            if da is not None and da == db:
                return a
        return joined

    def full_dims(self, expr: ast.expr) -> Dims | None:
        """The dims of a name whose every axis is provably not of length 1, else None."""
        if not isinstance(expr, ast.Name):
            return None
        found = self.dims.get(self.grad_of.get(expr.id, expr.id))
        return found if found and all(found) else None

    @staticmethod
    def combine(a: object, b: object) -> object:
        if a is None or b is None:
            return None
        if a is _SCALAR:
            return b
        if b is _SCALAR or a is b:
            return a
        return None

    def assign(self, name: str, value: ast.expr) -> None:
        if name in self.fixed:
            return
        primal = self.grad_of.get(name)
        known = self.cls.get(primal) if primal is not None else self.of(value)
        previous = self.cls.get(name)
        if previous is not None and known is not previous:
            known = None  # assigned in two branches with different shapes
        self.cls[name] = known if known is not None else object()
        if self.depth == 0 and primal is None:
            self.rep.setdefault(self.cls[name], name)

    def is_scalar(self, name: str) -> bool:
        return self.cls.get(name) is _SCALAR

    def simplify(self, code: list[ast.stmt], depth: int) -> None:
        """Drop no-op unbroadcasts from freshly emitted backward code (in place)."""
        saved, self.depth = self.depth, depth
        self.visit(code, rewrite=True)
        self.depth = saved

    def visit(self, body: list[ast.stmt], rewrite: bool) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If):
                self.depth += 1
                self.visit(stmt.body, rewrite)
                self.visit(stmt.orelse, rewrite)
                self.depth -= 1
                continue
            if isinstance(stmt, (ast.For, ast.While)):
                # a loop-carried value may change shape from one iteration to the
                # next: its class is unknown, and its end-of-body copy keeps it so
                for sub in stmt.body:
                    if facts_of(sub).phi_back and isinstance(sub, ast.Assign):
                        name = name_of(sub.targets[0])
                        if name not in self.fixed:  # (scalars stay scalars)
                            self.cls[name] = object()
                            self.fixed.add(name)
                for name in names_in(stmt.target) if isinstance(stmt, ast.For) else ():
                    if name not in self.fixed:
                        self.cls[name] = object()
                self.depth += 1
                self.visit(stmt.body, rewrite)
                self.depth -= 1
                continue
            if rewrite:
                _UnbroadcastRemover(self).visit(stmt)
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                self.assign(stmt.targets[0].id, stmt.value)
            elif isinstance(stmt, ast.Assign) and not isinstance(stmt.targets[0], ast.Subscript):
                for name in names_in(stmt.targets[0]):  # (a write keeps the array's shape)
                    self.cls[name] = object()


class _UnbroadcastRemover(ast.NodeTransformer):
    def __init__(self, classes: ShapeClasses) -> None:
        self.classes = classes

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = self.classes.resolve(node.func)
        if getattr(func, "__name__", None) == "unbroadcast" and len(node.args) == 2:
            g, x = node.args
            cg, cx = self.classes.of(g), self.classes.of(x)
            if cg is not None and cg is cx:
                return g
        rewritten = rewrite_by_dims(self.classes, node, func)
        if rewritten is not None:
            return rewritten
        # Arguments read only for their shape can name the earliest value of that
        # shape instead, so that the value itself may turn out to be dead (e.g. a
        # loss term that grad never needs).
        for position in _shape_only_positions(func):
            if position < len(node.args) and isinstance(node.args[position], ast.Name):
                rep = self.classes.rep.get(self.classes.of(node.args[position]))
                if rep is not None and rep != node.args[position].id:
                    node.args[position] = ast.Name(rep, ast.Load())
        return node


def _shape_only_positions(func: object) -> tuple[int, ...]:
    """Positions of arguments that `func` reads only for their shape."""
    if func is None:
        return ()
    table = {
        id(np.shape): (0,),
        id(np.size): (0,),
        id(np.ndim): (0,),
        id(runtime.unbroadcast): (1,),
        id(runtime.expand_to): (1,),
        id(runtime.restore_axes): (1,),
    }
    return table.get(id(func), ())


def shape_classes(
    params: list[str],
    primal: list[ast.stmt],
    env: Mapping[str, object],
    grad_of: dict[str, str],
    scalars: set[str] | frozenset[str] = frozenset(),
    dims: dict[str, Dims] | None = None,
) -> ShapeClasses:
    """Shape classes of a primal body; `simplify` then rewrites backward code with them
    (and with `dims`, the dims a variant knows: array_dims)."""
    classes = ShapeClasses(env, grad_of)
    classes.dims = dims or {}
    classes.scalars = scalars
    for p in params:
        classes.cls[p] = object()
        classes.rep[classes.cls[p]] = p
    for name in scalars:  # shape () by construction (full reductions, sizes, math.*)
        classes.cls[name] = _SCALAR
        classes.fixed.add(name)
    classes.visit(primal, rewrite=False)
    if classes.dims:
        classes.ints = integer_names(primal, params)
        classes.float_buffers = _float_buffers(primal, classes)
    return classes


def _float_buffers(primal: list[ast.stmt], classes: ShapeClasses) -> dict[str, int]:
    """Names bound only to `np.zeros(shape)`, `np.ones(shape)` or `np.empty(shape)` (no
    dtype: float64), with the rank of shape (a tuple literal, or one int)."""
    found: dict[str, int] = {}
    others: set[str] = set()
    for stmt in walk_statements(primal):
        if isinstance(stmt, ast.Assign):
            value = stmt.value
            for target in stmt.targets:
                if not isinstance(target, ast.Name):
                    others.update(
                        n for n in names_in(target) if not isinstance(target, ast.Subscript)
                    )
                    continue
                rank = None
                if (
                    isinstance(value, ast.Call)
                    and len(value.args) == 1
                    and not value.keywords
                    and classes.resolve(value.func) in (np.zeros, np.ones, np.empty)
                ):
                    shape = value.args[0]
                    if isinstance(shape, ast.Tuple):
                        rank = len(shape.elts)
                    elif literal_int(shape) is not None or (
                        isinstance(shape, ast.Name) and shape.id in classes.ints
                    ):
                        rank = 1
                if rank is None or target.id in found:
                    others.add(target.id)
                else:
                    found[target.id] = rank
        elif isinstance(stmt, (ast.For, ast.AugAssign)):
            target = stmt.target
            if isinstance(target, ast.Name):
                others.add(target.id)
            elif isinstance(target, ast.Tuple):
                others.update(names_in(target))
    return {name: rank for name, rank in found.items() if name not in others}


class _BackwardDims(DimsRules):
    """Dims of expressions in backward code: a gradient has its primal's dims."""

    def __init__(self, classes: ShapeClasses) -> None:
        super().__init__(classes.dims, classes.scalars, ints=classes.ints)  # (not copied)
        self.classes = classes

    def of(self, expr: ast.expr) -> Any:
        if isinstance(expr, ast.Name):
            name = self.classes.grad_of.get(expr.id, expr.id)
            return self.dims.get(name)
        if isinstance(expr, ast.Call):
            return self.call(expr)
        found = super().of(expr)
        return None if found is TOP else found

    def call(self, node: ast.Call) -> Any:
        func = self.classes.resolve(node.func)
        args = node.args
        if func is np.outer and len(args) == 2 and not node.keywords:
            return product_dims(self.of(args[0]), self.of(args[1]), "outer")
        if func is runtime.unbroadcast and len(args) == 2:
            return self.of(args[1])
        if func in (np.size, np.ndim, len) and len(args) == 1 and not node.keywords:
            return ()
        if elementwise_ufunc(func, args, bool(node.keywords)):
            return self.elementwise(args)
        return None


_PRODUCT_HELPERS = {
    "dot_grad_left": ("dot", 0),
    "dot_grad_right": ("dot", 1),
    "matmul_grad_left": ("matmul", 0),
    "matmul_grad_right": ("matmul", 1),
    "inner_grad_left": ("inner", 0),
    "inner_grad_right": ("inner", 1),
    "tensordot_grad_left": ("tensordot", 0),
    "tensordot_grad_right": ("tensordot", 1),
}


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _transposed(x: ast.expr) -> ast.expr:
    return ast.Attribute(value=x, attr="T", ctx=ast.Load())


def _matmul(a: ast.expr, b: ast.expr) -> ast.expr:
    return ast.BinOp(left=a, op=ast.MatMult(), right=b)


def _sum_leading(g: ast.expr, extra: int, rank: int) -> ast.expr:
    """`g.sum(axis=0)`, `g.sum(axis=(0, 1))`, or `g.sum()` when everything goes."""
    if rank == 0:
        keywords = []
    else:
        axes: ast.expr = ast.Constant(0)
        if extra > 1:
            axes = ast.Tuple([ast.Constant(i) for i in range(extra)], ast.Load())
        keywords = [ast.keyword(arg="axis", value=axes)]
    func = ast.Attribute(value=g, attr="sum", ctx=ast.Load())
    return ast.Call(func=func, args=[], keywords=keywords)


def rewrite_by_dims(classes: ShapeClasses, node: ast.Call, func: object) -> ast.expr | None:
    """What a person writes instead of a rank-generic helper call, when dims say which
    case applies (None: keep the call).

    A product's gradient depends only on its operands' ranks, so `np.dot(W, h)`,
    `W @ h`, `W.dot(h)`, `np.matmul(W, h)`, `np.inner(W, h)` and
    `np.tensordot(W, h, 1)` all get the same two statements:

        ranks  left (dz @ b.T)        right (a.T @ dz)
        1, 1   dz * b                 dz * a
        2, 1   np.outer(dz, b)        a.T @ dz
        1, 2   b @ dz                 np.outer(a, dz)
        2, 2   dz @ b.T               a.T @ dz
    """
    if not classes.dims:
        return None
    dims = _BackwardDims(classes)
    name = getattr(func, "__name__", None)
    args = node.args
    if func is runtime.unbroadcast and len(args) == 2:
        g, x = args
        dg, dx = dims.of(g), dims.of(x)
        if dg is None or dx is None or not all(dx) or len(dg) < len(dx):
            return None
        if len(dg) == len(dx):
            return g
        return _sum_leading(g, len(dg) - len(dx), len(dx))
    if func is np.full and len(args) == 2 and not node.keywords:
        shape, v = args  # np.full(np.shape(a), v) of a scalar a, v: just v
        if (
            isinstance(shape, ast.Call)
            and classes.resolve(shape.func) is np.shape
            and len(shape.args) == 1
            and dims.of(shape.args[0]) == ()
            and dims.of(v) == ()
        ):
            return v
        return None
    if func is runtime.kept_writes and len(args) == 3 and not node.keywords:
        g, index, array = args  # one element written, of a float array: all of it is kept
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if (
            isinstance(array, ast.Name)
            and classes.float_buffers.get(array.id) == len(parts)
            and all(
                literal_int(p) is not None or (isinstance(p, ast.Name) and p.id in classes.ints)
                for p in parts
            )
        ):
            return g
        return None
    if func is np.full_like and len(args) == 2 and not node.keywords:
        if dims.of(args[0]) == () and dims.of(args[1]) == ():  # of a scalar: the scalar
            return args[1]
        return None
    if name not in _PRODUCT_HELPERS or getattr(runtime, name, None) is not func:
        return None
    kind, side = _PRODUCT_HELPERS[name]
    if node.keywords or len(args) != (4 if kind == "tensordot" else 3):
        return None
    if kind == "tensordot":
        if literal_int(args[3]) != 1:
            return None
        kind = "dot"
    g, a, b = args[:3]
    da, db = dims.of(a), dims.of(b)
    if da is None or db is None or classes.numpy_name is None:
        return None
    ranks = (len(da), len(db))
    if kind == "inner" and ranks not in ((1, 1), (2, 1)):
        return None
    if ranks == (1, 1):
        return ast.BinOp(left=g, op=ast.Mult(), right=b if side == 0 else a)
    np_name = classes.numpy_name()
    outer = ast.Attribute(value=_load(np_name), attr="outer", ctx=ast.Load())
    if ranks == (2, 1):
        if side == 0:
            return ast.Call(func=outer, args=[g, b], keywords=[])
        return _matmul(_transposed(a), g)
    if ranks == (1, 2):
        if side == 0:
            return _matmul(b, g)
        return ast.Call(func=outer, args=[a, g], keywords=[])
    if ranks == (2, 2):
        return _matmul(g, _transposed(b)) if side == 0 else _matmul(_transposed(a), g)
    return None


def scalar_fills(backward: list[ast.stmt], classes: ShapeClasses) -> None:
    """`d = np.full_like(a, v)` becomes `d = v` where broadcasting restores the shape.

    The gradient of a full sum is its scalar gradient copied into an array
    shaped like the summed value.  When every read of `d` is inside an
    arithmetic expression whose other operands already have a's shape (every
    axis known, none of length 1), NumPy's broadcasting makes that array at
    no cost, so the scalar is enough: `dt = dL * 2 * t` rather than filling an
    array first, and the summed value is no longer needed at all.  (Rewrites
    `backward` in place.)
    """
    parents: dict[int, ast.AST] = {}
    count: dict[str, int] = {}
    loads: dict[str, list[ast.Name]] = {}
    for stmt in backward:
        for node in ast.walk(stmt):
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    loads.setdefault(node.id, []).append(node)
                else:
                    count[node.id] = count.get(node.id, 0) + 1
    dims = _BackwardDims(classes)
    for stmt in walk_statements(backward):
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call)
            and classes.resolve(stmt.value.func) is np.full_like
            and len(stmt.value.args) == 2
            and not stmt.value.keywords
        ):
            continue
        name = stmt.targets[0].id
        a, v = stmt.value.args
        shape = dims.of(a)
        if count.get(name) != 1 or shape is None or not all(shape) or dims.of(v) != ():
            continue
        if _reads_restore(name, shape, loads, count, parents, dims, 0):
            stmt.value = v


def _reads_restore(
    name: str,
    shape: Dims,
    loads: dict[str, list[ast.Name]],
    count: dict[str, int],
    parents: dict[int, ast.AST],
    dims: _BackwardDims,
    depth: int,
) -> bool:
    """Whether every read of `name` (through copies `x = name` of names assigned once)
    is arithmetic that broadcasts back to `shape`."""
    uses = loads.get(name, [])
    if not uses or depth > 8:
        return False
    for use in uses:
        parent = parents.get(id(use))
        if isinstance(parent, ast.Assign) and parent.value is use:  # a copy: follow it
            target = parent.targets[0]
            if not (
                len(parent.targets) == 1
                and isinstance(target, ast.Name)
                and count.get(target.id) == 1
                and _reads_restore(target.id, shape, loads, count, parents, dims, depth + 1)
            ):
                return False
        elif not _broadcast_restores(use, name, shape, parents, dims):
            return False
    return True


def _broadcast_restores(
    use: ast.Name, name: str, shape: Dims, parents: dict[int, ast.AST], dims: _BackwardDims
) -> bool:
    """Whether the arithmetic around `use` has `shape` with `name` taken as a scalar."""
    top: ast.AST = use
    while isinstance(parents.get(id(top)), (ast.BinOp, ast.UnaryOp)):
        parent = parents[id(top)]
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.MatMult):
            return False
        top = parent
    if top is use or not isinstance(top, ast.expr):
        return False
    saved = dims.dims
    dims.dims = {**saved, name: ()}
    dims.classes.grad_of, grad_of = {**dims.classes.grad_of}, dims.classes.grad_of
    dims.classes.grad_of.pop(name, None)
    try:
        return dims.of(top) == shape
    finally:
        dims.dims = saved
        dims.classes.grad_of = grad_of
