"""Stage 6, optimize: remove what the generated function does not need.

Activity analysis already keeps gradients to the values that need them; this
stage removes primal statements whose values nobody reads (for example an
intermediate only the user's own dead code used).  It only removes
statements known to be free of side effects: single operations with a
derivative rule, and expressions that call nothing.  Calls to unknown
functions (print, random number generators) always stay.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

import numpy as np

from .analyze import names_in


def _removable(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.Assign) or not all(isinstance(t, ast.Name) for t in stmt.targets):
        return False  # (writes into arrays are effects, not definitions)
    if getattr(stmt, "pure", False):
        return True
    prim = getattr(stmt, "prim", None)
    if type(prim).__name__ == "Method":  # a method without a rule may change its object
        return False  # (hs.pop() takes an item off the list even when nobody reads it)
    if prim is not None:
        return True
    return not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value))


def _stored(stmt: ast.stmt) -> set[str]:
    return {n for t in stmt.targets for n in names_in(t)} if isinstance(stmt, ast.Assign) else set()


def remove_dead_primal(primal: list[ast.stmt], live_roots: list[ast.AST]) -> list[ast.stmt]:
    """Drop removable primal assignments whose targets are never read.

    A worklist over use counts: removing a statement may make the statements
    that fed it dead in turn, in time linear in the size of the code.
    """
    statements = list(_walk(primal))
    uses: dict[str, int] = {}
    own_reads: dict[int, list[str]] = {}
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in statements:
        reads = _own_loads(stmt)
        own_reads[id(stmt)] = reads
        for name in reads:
            uses[name] = uses.get(name, 0) + 1
        for name in _stored(stmt):
            defs.setdefault(name, []).append(stmt)
    for root in live_roots:
        for sub in ast.walk(root):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                uses[sub.id] = uses.get(sub.id, 0) + 1
    dead: set[int] = set()
    work = [s for s in statements if _removable(s)]
    while work:
        stmt = work.pop()
        if id(stmt) in dead or not _stored(stmt):
            continue
        if any(uses.get(name, 0) for name in _stored(stmt)):
            continue
        dead.add(id(stmt))
        for name in own_reads[id(stmt)]:
            uses[name] -= 1
            if uses[name] == 0:
                work.extend(d for d in defs.get(name, []) if _removable(d) and id(d) not in dead)
    return _filter(primal, dead) if dead else primal


def _own_loads(stmt: ast.stmt) -> list[str]:
    """Names a statement reads itself (a compound statement: its test or iterable)."""
    if isinstance(stmt, (ast.If, ast.While)):
        parts: list[ast.AST] = [stmt.test]
    elif isinstance(stmt, ast.For):
        parts = [stmt.iter]
    else:
        parts = [stmt]
    return [
        n.id
        for part in parts
        for n in ast.walk(part)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    ]


def _walk(body):
    for s in body:
        yield s
        if isinstance(s, ast.If):
            yield from _walk(s.body)
            yield from _walk(s.orelse)
        elif isinstance(s, (ast.For, ast.While)):
            yield from _walk(s.body)


def _filter(body: list[ast.stmt], ids: set[int]) -> list[ast.stmt]:
    out = []
    for s in body:
        if id(s) in ids:
            continue
        if isinstance(s, ast.If):
            s.body = _filter(s.body, ids) or [ast.Pass()]
            s.orelse = _filter(s.orelse, ids)
        elif isinstance(s, (ast.For, ast.While)):
            s.body = _filter(s.body, ids) or [ast.Pass()]
        out.append(s)
    return out


# -- shape classes: drop `unbroadcast` where shapes provably agree ---------------------

_SCALAR = "scalar"
_ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)


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
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, _ELEMENTWISE_OPS):
            return self.combine(self.of(expr.left), self.of(expr.right))
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
            return self.of(expr.operand)
        if isinstance(expr, ast.Compare) and len(expr.comparators) == 1:
            return self.combine(self.of(expr.left), self.of(expr.comparators[0]))
        if isinstance(expr, ast.Call) and not expr.keywords:
            func = self.resolve(expr.func)
            if isinstance(func, np.ufunc) and func.nout == 1 and func.nin == len(expr.args):
                if func.nin == 1:
                    return self.of(expr.args[0])
                if func.nin == 2:
                    return self.combine(self.of(expr.args[0]), self.of(expr.args[1]))
            if getattr(func, "__name__", None) == "unbroadcast" and len(expr.args) == 2:
                return self.of(expr.args[1])
        return None

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
                    if getattr(sub, "phi_back", False):
                        name = sub.targets[0].id  # type: ignore[attr-defined]
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
    from . import runtime

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
) -> ShapeClasses:
    """Shape classes of a primal body; `simplify` then rewrites backward code with them."""
    classes = ShapeClasses(env, grad_of)
    for p in params:
        classes.cls[p] = object()
        classes.rep[classes.cls[p]] = p
    for name in scalars:  # shape () by construction (full reductions, sizes, math.*)
        classes.cls[name] = _SCALAR
        classes.fixed.add(name)
    classes.visit(primal, rewrite=False)
    return classes


# -- constant folding: `x ** (3 - 1)` reads better as `x ** 2` --------------------------

_FOLDABLE = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


class _ConstantFolder(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        left, right = node.left, node.right
        fold = _FOLDABLE.get(type(node.op))
        if fold and _is_number(left) and _is_number(right):
            value = fold(left.value, right.value)  # type: ignore[attr-defined]
            return ast.copy_location(ast.Constant(value), node)
        if isinstance(node.op, ast.Pow) and _is_number(right) and right.value == 1:  # type: ignore
            return left
        return node


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def fold_constants(body: list[ast.stmt]) -> None:
    """Fold arithmetic on numeric literals in generated statements (in place)."""
    folder = _ConstantFolder()
    for stmt in body:
        folder.visit(stmt)
