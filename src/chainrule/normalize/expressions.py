"""Normalizing expressions: one operation on atoms per statement.

`atom(expr)` emits the statements that compute `expr` and returns a name or
a constant for it; `operation` flattens one operator, call, attribute or
subscript into a single operation on atoms, naming its primitive (the
object a rule is registered for: `operator.mul`, `np.tanh`, a method) and
its arguments.  Subexpressions that cannot carry a gradient (shapes,
comparisons, data) are left as written (`static`), after `rename` has
replaced each local name by its current SSA name.  A conditional
expression becomes an `if` statement assigning one name in both branches,
so that only the chosen side runs, as in Python (`lower_ifexp`).
"""

from __future__ import annotations

import ast
import copy
import operator
from typing import Any

import numpy as np

from ..ir import (
    IDENTITY,
    LIST_GET,
    MISSING,
    Evaluated,
    Method,
    Tree,
    TreeValue,
    annotate,
    clone,
    display,
    facts,
    facts_of,
)
from .advice import unsupported_expression
from .comprehensions import ComprehensionLowering
from .core import Normalizer, is_cheap_name, is_distribution

# The fields of NumPy 2's named results (np.linalg.slogdet(a).logabsdet, svd's .S, qr's
# .R, eigh's .eigenvectors): a differentiated value with one is such a result, so the
# field is read as the item it names.
RESULT_FIELDS = {
    "sign": 0,
    "logabsdet": 1,
    "Q": 0,
    "R": 1,
    "U": 0,
    "S": 1,
    "Vh": 2,
    "eigenvalues": 0,
    "eigenvectors": 1,
}


class ExpressionNormalizer:
    """Flattens expressions into atoms and single operations (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n
        self.comprehensions = ComprehensionLowering(n)

    def rename(self, expr: ast.expr) -> ast.expr:
        """Copy `expr`, replacing reads of local names by their current SSA names."""
        if isinstance(expr, Evaluated):  # an atom computed already: it is an SSA name
            return clone(expr.inner)
        copy = clone(expr)
        # local functions exist only when compiling, and a function that may change an
        # array in place must be seen: inline their calls (Inliner.calls_with_varied)
        if self.n.local_defs or self.n.inliner.calls_with_varied(copy):
            copy = self._inline_local_calls(copy)
        renamed = _Renamer(self.n.current).visit(copy)
        if self.n.trees or self.n.local_defs:
            renamed = self._materialize(renamed, expr)
        return renamed

    def _inline_local_calls(self, expr: ast.expr) -> ast.expr:
        """Replace each call of a local function (def or lambda) in a non-differentiated
        expression by the atom its inlined body computes, where Python would surely
        evaluate the call; a call evaluated only sometimes is refused."""
        normalizer, hub = self, self.n

        def is_local_call(node: ast.AST) -> bool:
            return (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and hub.p.is_local(node.func.id)
                and hub.current.get(node.func.id, "") in hub.local_defs
            ) or hub.inliner.user_call_with_varied(node)

        if not any(is_local_call(n) for n in ast.walk(expr)):
            return expr

        class Inline(ast.NodeTransformer):
            def visit_Call(self, node: ast.Call) -> ast.expr:
                if not is_local_call(node):
                    return self.generic_visit(node)
                atom = clone(normalizer.atom(node))
                facts(atom).already_renamed = True
                return ast.copy_location(atom, node)

            def lazy(self, node: ast.AST, parts: list[ast.AST]) -> ast.AST:
                for part in parts:
                    for sub in ast.walk(part):
                        if is_local_call(sub):
                            raise hub.error(
                                sub,
                                "a call of a function chainrule inlines (a local function, or one "
                                "that changes arrays in place) that runs only sometimes (inside "
                                "and/or, a conditional expression, a comprehension or a lambda) "
                                "cannot be inlined here; assign its result to a name first",
                            )
                return node

            def computed(self, node: ast.expr) -> ast.expr:
                """Evaluate a conditional expression into a name, lazily, as Python does
                (each branch's calls inlined in its own branch)."""
                holder: list[str] = []
                normalizer.lower_ifexp(node, lambda: holder.append(hub.names.temp()) or holder[0])
                atom = ast.Name(id=holder[0], ctx=ast.Load())
                facts(atom).already_renamed = True
                return ast.copy_location(atom, node)

            def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
                if not any(is_local_call(n) for v in node.values[1:] for n in ast.walk(v)):
                    node.values[0] = self.visit(node.values[0])
                    return node
                # `a and b` is `b if a else a`, `a or b` is `a if a else b`, a evaluated once
                value = node.values[0]
                for right in node.values[1:]:
                    left = Evaluated(normalizer.atom(value), False)
                    if isinstance(node.op, ast.And):
                        value = ast.IfExp(test=left, body=right, orelse=left)
                    else:
                        value = ast.IfExp(test=left, body=left, orelse=right)
                    ast.copy_location(value, node)
                return self.computed(value)

            def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
                if any(is_local_call(n) for n in ast.walk(node)):
                    return self.computed(node)
                return node

            def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
                return self.lazy(node, [node])

            visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda

        return Inline().visit(expr)

    def _materialize(self, renamed: ast.expr, original: ast.expr) -> ast.expr:
        """Containers known only at compile time, read as a whole: build them."""
        for node in ast.walk(renamed):
            if isinstance(node, ast.Name) and node.id in self.n.local_defs:
                raise self.n.error(
                    original,
                    f"the local function {node.id!r} can only be called; chainrule inlines "
                    "it at each call",
                )
        if not any(isinstance(n, ast.Name) and n.id in self.n.trees for n in ast.walk(renamed)):
            return renamed

        class Build(ast.NodeTransformer):
            def visit_Name(inner, node: ast.Name) -> ast.expr:  # noqa: N805
                tree = self.n.trees.get(node.id)
                if tree is not None and isinstance(node.ctx, ast.Load):
                    return display(tree)
                return node

        return Build().visit(renamed)

    def atom(self, expr: ast.expr) -> ast.expr:
        """Emit statements computing `expr` and return a name or constant for it."""
        if isinstance(expr, Evaluated):
            return expr.inner
        if isinstance(expr, ast.Constant):
            return expr
        if isinstance(expr, (ast.Name, ast.Subscript, ast.Call, TreeValue, ast.Tuple, ast.Dict)):
            static = self.n.containers.static_value(expr)
            if isinstance(static, Tree):
                raise self.n.error(
                    expr,
                    f"a {static.kind} is used where an array or a number is needed; "
                    "index it, or unpack it into names",
                )
            if static is not None:
                return self.atom(static)
        if isinstance(expr, ast.Name):
            return self.rename(expr)
        folded = _fold_constant(expr)
        if folded is not None:
            return folded
        if not self.n.varied(expr):
            name = self.n.names.temp()
            stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=self.rename(expr))
            self.n.emit(annotate(stmt, self.n.origin, expr))
            return ast.Name(id=name, ctx=ast.Load())
        if isinstance(expr, ast.IfExp):
            holder: list[str] = []
            self.lower_ifexp(expr, lambda: holder.append(self.n.names.temp()) or holder[0])
            return ast.Name(id=holder[0], ctx=ast.Load())
        op, prim, args, kwargs = self.operation(expr)
        name = self.n.names.temp()
        stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=op)
        self.n.emit(annotate(stmt, self.n.origin, expr, prim, args, kwargs))
        self.n.writes.track_view(name, op)
        self.n.writes.track_fresh_array(name, expr)
        return ast.Name(id=name, ctx=ast.Load())

    def static(self, expr: ast.expr) -> ast.expr:
        """An argument in a position that carries no gradient (axis=, shapes, indices).

        Cheap, pure expressions stay inline; anything else gets a name.
        """
        if _is_cheap(expr) and not self.n.varied(expr):
            return self.rename(expr)
        return self.atom(expr)

    def argument(self, expr: ast.expr) -> ast.expr:
        """A call argument: lists and tuples of values stay displays of atoms."""
        if isinstance(expr, Evaluated):
            return expr.inner
        static = (
            self.n.containers.static_value(expr)
            if isinstance(expr, (ast.Name, ast.Subscript, ast.Call, ast.Dict))
            else None
        )
        if isinstance(static, Tree):
            return display(static)
        if isinstance(static, Evaluated):
            return static.inner
        if static is not None:
            expr = static
        if isinstance(expr, (ast.List, ast.Tuple)) and self.n.varied(expr):
            elts = []
            for e in expr.elts:
                if isinstance(e, ast.Starred):
                    raise self.n.error(e, "starred arguments (*xs) are not supported here")
                elts.append(self.argument(e))
            return type(expr)(elts=elts, ctx=ast.Load())
        if not self.n.varied(expr):
            return self.static(expr)
        return self.atom(expr)

    def index(self, expr: ast.expr) -> ast.expr:
        if isinstance(expr, ast.Slice):
            parts = [
                None if p is None else self.static(p) for p in (expr.lower, expr.upper, expr.step)
            ]
            return ast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(expr, ast.Tuple):
            return ast.Tuple(elts=[self.index(e) for e in expr.elts], ctx=ast.Load())
        if self.n.varied(expr):
            raise self.n.error(
                expr,
                "an index computed from a differentiated value is not differentiable; "
                "compute the index from data that does not depend on it",
            )
        return self.static(expr)

    def operation(self, expr: ast.expr):
        """Flatten `expr` to one operation on atoms: (op_expr, prim, args, kwargs)."""
        if isinstance(expr, ast.BinOp):
            left, right = self.atom(expr.left), self.atom(expr.right)
            op = ast.BinOp(left=left, op=expr.op, right=right)
            return op, BINOPS[type(expr.op)], [left, right], {}
        if isinstance(expr, ast.UnaryOp):
            operand = self.atom(expr.operand)
            return ast.UnaryOp(op=expr.op, operand=operand), UNARYOPS[type(expr.op)], [operand], {}
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.ListComp):  # the loop it stands for (comprehensions.py)
            renamed = self.rename(self.comprehensions.items(expr))
            return renamed, IDENTITY, [renamed], {}
        if isinstance(expr, ast.Attribute):
            obj = self.n.p.resolve(expr)
            if obj is not MISSING:  # a module attribute holding a constant array
                return self.rename(expr), None, [], {}
            if expr.attr in RESULT_FIELDS and not hasattr(np.ndarray, expr.attr):
                item = ast.Subscript(
                    value=expr.value, slice=ast.Constant(RESULT_FIELDS[expr.attr]), ctx=ast.Load()
                )
                return self.operation(ast.copy_location(item, expr))  # slogdet(a)[1]
            base = self.atom(expr.value)
            prim = getattr(np.ndarray, expr.attr, None) or Method(expr.attr, attribute=True)
            return ast.Attribute(value=base, attr=expr.attr, ctx=ast.Load()), prim, [base], {}
        if isinstance(expr, ast.Subscript):
            if isinstance(self.n.containers.const_value(expr.slice), str):
                raise self.n.error(
                    expr,
                    "a string key means a dict, but chainrule does not know its structure "
                    "here: differentiate with respect to the dict itself (its structure is "
                    "learnt at the first call, then .source shows the code for it)",
                )
            if isinstance(self.n.p.resolve(expr.value), type(np.r_).__mro__[1]) and self.n.varied(
                expr.slice
            ):
                return self.operation(ast.copy_location(self.joined(expr), expr))
            base = self.atom(expr.value)
            index = self.index(expr.slice)
            op = ast.Subscript(value=base, slice=index, ctx=ast.Load())
            if isinstance(base, ast.Name) and base.id in self.n.lists:
                if isinstance(index, ast.Slice):
                    raise self.n.error(
                        expr,
                        "slicing a list of differentiated values is not "
                        "supported; index one element, or np.stack the list",
                    )
                return op, LIST_GET, [base, index], {}
            return op, operator.getitem, [base, index], {}
        raise self.n.error(expr, unsupported_expression(expr))

    def joined(self, expr: ast.Subscript) -> ast.Call:
        """`np.r_[a, b, 1:4]` as `np.concatenate([np.atleast_1d(a), np.atleast_1d(b),
        np.arange(1, 4)])`; `np.c_[a, b]` joins columns along the last axis, a 1-D
        item made a column (`np.transpose(np.atleast_2d(np.transpose(a)))`)."""
        base = expr.value.value if isinstance(expr.value, ast.Attribute) else None
        column = self.n.p.resolve(expr.value) is np.c_
        if base is None or self.n.p.resolve(base) is not np or expr.value.attr not in ("r_", "c_"):
            raise self.n.error(
                expr,
                "np.r_[...] and np.c_[...] of differentiated values are supported when "
                "written so (as an attribute of numpy); otherwise join them with "
                "np.concatenate([...]) or np.column_stack([...])",
            )

        def numpy(name: str, *args: ast.expr) -> ast.Call:
            func = ast.Attribute(value=copy.deepcopy(base), attr=name, ctx=ast.Load())
            return ast.Call(func=func, args=list(args), keywords=[])

        items = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        parts: list[ast.expr] = []
        for item in items:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                raise self.n.error(
                    item, "a string directive in np.r_[...] is not supported; use np.concatenate"
                )
            if isinstance(item, ast.Slice):
                step = item.step
                if (
                    column
                    or item.upper is None
                    or not (step is None or type(getattr(step, "value", None)) in (int, float))
                ):
                    raise self.n.error(
                        item,
                        "this slice in np.r_[...]/np.c_[...] is not supported (only start:stop"
                        ":step with a real step in np.r_); write np.arange or np.linspace",
                    )
                bounds = [item.lower or ast.Constant(0), item.upper] + ([step] if step else [])
                parts.append(numpy("arange", *bounds))
            elif column:
                parts.append(numpy("transpose", numpy("atleast_2d", numpy("transpose", item))))
            else:
                parts.append(numpy("atleast_1d", item))
        call = numpy("concatenate", ast.List(elts=parts, ctx=ast.Load()))
        if column:
            call.keywords = [ast.keyword(arg="axis", value=ast.Constant(-1))]
        return call

    def _frozen_distribution(self, func: ast.expr) -> ast.Call | None:
        """The call that froze the SciPy distribution whose method `func` is, if any:
        `stats.norm(0, 1).cdf`, or `N.cdf` after `N = stats.norm(0, 1)` (whose parameters
        were evaluated then).  A frozen distribution's method is the distribution's
        function given those parameters after its own arguments."""
        if not isinstance(func, ast.Attribute):
            return None
        if isinstance(func.value, ast.Name):
            return self.n.frozen.get(self.n.current.get(func.value.id, ""))
        if isinstance(func.value, ast.Call) and is_distribution(self.n.p.resolve(func.value.func)):
            return func.value
        return None

    def call(self, expr: ast.Call):
        func = expr.func
        for kw in expr.keywords:
            if kw.arg is None:
                raise self.n.error(
                    kw.value,
                    "`**kwargs` in a call is not supported; pass each keyword argument by name",
                )
        callee = self.n.p.resolve(func)
        comprehension = expr.args[0] if len(expr.args) in (1, 2) else None
        if (
            callee in (sum, list, tuple)
            and isinstance(comprehension, (ast.ListComp, ast.GeneratorExp))
            and not expr.keywords
            and self.n.varied(comprehension)
        ):  # sum(e for t in xs): an accumulation; list(e for ...): the list comprehension
            if callee is sum:
                start = expr.args[1] if len(expr.args) == 2 else None
                total = self.comprehensions.total(comprehension, start)
                renamed = self.rename(total)
                return renamed, IDENTITY, [renamed], {}
            if len(expr.args) == 1:
                items = self.comprehensions.items(comprehension)
                expr = ast.copy_location(ast.Call(func=func, args=[items], keywords=[]), expr)
        if isinstance(func, ast.Name) and self.n.p.is_local(func.id):
            passed = self.n.function_values.get(self.n.current.get(func.id, ""))
            if passed is not None and passed.obj is not MISSING:  # rk4(np.sin, y0): f(y)
                callee = passed.obj
        if callee is MISSING and isinstance(func, ast.Name) and not self.n.p.is_local(func.id):
            raise self.n.error(
                func,
                f"name {func.id!r} is not defined when the function is "
                "first differentiated; define it before calling the gradient",
            )
        if callee is MISSING and isinstance(func, ast.Name):
            held = self.n.current.get(func.id, "")
            if func.id in self.n.p.params and (self.n.p is self.n.top or held in self.n.top.params):
                raise self.n.error(
                    func,
                    f"calling the parameter {func.id!r} needs the function it holds when "
                    "chainrule compiles: the transformations called with it specialise on a "
                    "function passed as an argument, but not vjp nor a grad called inside the "
                    "function differentiated; fix it in a wrapper instead, e.g. "
                    "grad(lambda y: integrate(rhs, y))",
                )
            if func.id in self.n.p.params:
                raise self.n.error(
                    func,
                    f"calling the parameter {func.id!r} needs the function it holds when "
                    "chainrule compiles; pass a function by name, a lambda or a local def "
                    "to this helper, not a value computed at run time",
                )
            raise self.n.error(
                func,
                f"calling the local variable {func.id!r} is not supported; call the "
                "function by the name it was defined or imported under",
            )
        frozen = self._frozen_distribution(func) if callee is MISSING else None
        if frozen is not None:  # stats.norm(0, 1).cdf(x), or N = stats.norm(0, 1); N.cdf(x)
            method = ast.Attribute(value=clone(frozen.func), attr=func.attr, ctx=ast.Load())
            unfrozen = ast.Call(
                func=ast.copy_location(method, func),
                args=[*expr.args, *frozen.args],
                keywords=[*expr.keywords, *frozen.keywords],
            )
            return self.call(ast.copy_location(unfrozen, expr))
        if (
            callee is MISSING
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and not self.n.varied(func.value)
            and getattr(np.ndarray, func.attr, None) is None
        ):
            who = func.value.id
            raise self.n.error(
                func,
                f"{who}.{func.attr}(...) calls a method of an object chainrule cannot see when "
                f"it compiles; differentiate the bound method (grad(obj.method)) so that "
                f"{who!r} is known and its methods are inlined, or call a module-level function",
            )
        if callee is MISSING and isinstance(func, ast.Attribute):
            # a method called on a computed value: x.sum(axis=0)
            receiver = self.atom(func.value)
            args = [self.argument(a) for a in self._positional(expr)]
            kwargs = {kw.arg: self.argument(kw.value) for kw in expr.keywords}
            prim = getattr(np.ndarray, func.attr, None) or Method(func.attr)
            op = ast.Call(
                func=ast.Attribute(value=receiver, attr=func.attr, ctx=ast.Load()),
                args=args,
                keywords=[ast.keyword(arg=k, value=v) for k, v in kwargs.items()],
            )
            return op, prim, [receiver, *args], kwargs
        if callee is MISSING:
            raise self.n.error(func, "this kind of call is not supported; call a function by name")
        args = [self.argument(a) for a in self._positional(expr)]
        kwargs = {kw.arg: self.argument(kw.value) for kw in expr.keywords}
        op = ast.Call(
            func=self.rename(func),
            args=args,
            keywords=[ast.keyword(arg=k, value=v) for k, v in kwargs.items()],
        )
        return op, callee, args, kwargs

    def _positional(self, expr: ast.Call) -> list[ast.expr]:
        for a in expr.args:
            if isinstance(a, ast.Starred):
                raise self.n.error(
                    a, "starred arguments (*xs) are not supported; pass each argument separately"
                )
        return list(expr.args)

    def lower_ifexp(self, expr: ast.IfExp, target) -> None:
        """`z = a if c else b` -> `if c: ... z = a` / `else: ... z = b` (lazy, like Python)."""
        test = self.atom(expr.test) if not is_cheap_name(expr.test) else self.rename(expr.test)
        branches = []
        outer = self.n.out
        for side in (expr.body, expr.orelse):
            self.n.out = []
            value = self.atom(side)
            branches.append((self.n.out, value, side))
        self.n.out = outer
        name = target()
        for stmts, value, side in branches:
            copy_stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
            prim = IDENTITY if isinstance(value, ast.Name) else None
            stmts.append(annotate(copy_stmt, self.n.origin, side, prim, [value]))
        # the result is either branch's value: it shares what either shares
        sources = [value.id for _, value, _ in branches if isinstance(value, ast.Name)]
        self.n.writes.track_copy(name, sources if len(sources) == 2 else [])
        node = ast.If(test=test, body=branches[0][0], orelse=branches[1][0])
        self.n.emit(annotate(node, self.n.origin, expr))


BINOPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
UNARYOPS: dict[type, Any] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: operator.not_,
}


class _Renamer(ast.NodeTransformer):
    def __init__(self, current: dict[str, str]) -> None:
        self.current = current
        self.bound: list[set[str]] = []

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if facts_of(node).already_renamed:  # an atom computed for this expression
            return node
        if isinstance(node.ctx, ast.Load) and not any(node.id in b for b in self.bound):
            new = self.current.get(node.id)
            if new is not None:
                node.id = new
        return node

    def _scoped(self, node, bound: set[str]):
        self.bound.append(bound)
        self.generic_visit(node)
        self.bound.pop()
        return node

    def visit_Lambda(self, node: ast.Lambda):
        a = node.args
        return self._scoped(node, {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs})

    def _comp(self, node):
        bound = {
            n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
        }
        return self._scoped(node, bound)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comp


def _fold_constant(expr: ast.expr) -> ast.Constant | None:
    if (
        isinstance(expr, ast.UnaryOp)
        and isinstance(expr.op, (ast.USub, ast.UAdd))
        and isinstance(expr.operand, ast.Constant)
        and isinstance(expr.operand.value, (int, float))
        and not isinstance(expr.operand.value, bool)
    ):
        value = expr.operand.value
        return ast.Constant(value=-value if isinstance(expr.op, ast.USub) else value)
    return None


def _is_cheap(expr: ast.expr) -> bool:
    """Pure and trivially cheap: fine to leave inline and to read again later."""
    if isinstance(expr, (ast.Name, ast.Constant)):
        return True
    if _fold_constant(expr) is not None:
        return True
    if isinstance(expr, (ast.Tuple, ast.List)):
        return all(_is_cheap(e) for e in expr.elts)
    if isinstance(expr, ast.Attribute):
        return isinstance(expr.value, ast.Name)
    if isinstance(expr, ast.Subscript):
        return _is_cheap(expr.value) and _is_cheap(expr.slice)
    if isinstance(expr, ast.Slice):
        return all(p is None or _is_cheap(p) for p in (expr.lower, expr.upper, expr.step))
    if isinstance(expr, ast.BinOp) and isinstance(
        expr.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
    ):
        return _is_simple(expr.left) and _is_simple(expr.right)  # index arithmetic: i + 3
    return False


def _is_simple(expr: ast.expr) -> bool:
    if isinstance(expr, ast.BinOp) and isinstance(
        expr.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
    ):
        return _is_simple(expr.left) and _is_simple(expr.right)
    return isinstance(expr, (ast.Name, ast.Constant)) or _fold_constant(expr) is not None
