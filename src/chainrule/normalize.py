"""Stage 2, normalize: one operation per statement, one assignment per name.

Reverse mode needs every intermediate value that a derivative rule reads to
have a name, and needs every name to keep its value until the backward pass
reads it.  This stage rewrites the function body so that:

* every statement that can carry a gradient performs exactly one operation on
  *atoms* (names or constants): `t1 = yhat - y`, `t2 = t1 ** 2`, `L = t2 / 2`
  (A-normal form).  Subexpressions that cannot carry a gradient (shapes,
  comparisons, masks, data that does not depend on the differentiated
  arguments) are left intact, so the primal part stays close to what the
  user wrote;
* every name is assigned once (SSA).  Reassigning `x` creates `x_1`, `x_2`,
  ... so the adjoint still sees each earlier value;
* `a if c else b` becomes an `if` statement assigning one name in both
  branches, so only the chosen side is evaluated, as in Python.

Each emitted statement is annotated (`annotate`) with the primitive it
applies (looked up by identity in the rule registry), its bound arguments,
and the user's statement it came from, for comments and error positions.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calls import CallsAndContainers, Tree, _TreeValue, display
from .flow import integer_names, live_after, read_before_assigned
from .jumps import hoist_assignment_expressions, lower_jumps
from .parse import MISSING, Parsed, _lambda_to_def
from .rules import is_nondifferentiable
from .rules.arithmetic import IDENTITY
from .runtime import zeros_like_list

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
# attributes of arrays that describe them rather than hold their values
DESCRIPTIVE_ATTRS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags"})
# functions whose result shares memory with an argument (matters for `+=`)
VIEW_ATTRS = frozenset({"T", "reshape", "transpose", "ravel", "swapaxes", "squeeze", "view"})


def _mark_restores(body: list[ast.stmt], root: dict[str, str]) -> None:
    """Decide, for each write `out[i] = v`, whether its adjoint must put the old value back.

    Only statements that can run before the write (earlier in the function, or
    anywhere in a loop that contains it) can need the array as it was.  If
    none of them reads the array or a view of it, the save and the restore are
    skipped: a convolution that fills `out` and only then pools it needs neither.
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
        if getattr(stmt, "prim", None) not in (SETITEM, ADD_AT):
            continue
        array = root.get(stmt.args[0].id, stmt.args[0].id)  # type: ignore[attr-defined]
        needed = False
        for other_position, (other, other_loops) in enumerate(order):
            if other is stmt or getattr(other, "saves_old", False):
                continue  # (the copy of the overwritten element is not a use)
            if getattr(other, "prim", None) is SETITEM and other_position > position:
                continue
            shares_loop = bool(set(loops) & set(other_loops))
            if (other_position < position or shares_loop) and array in reads(other):
                if getattr(other, "prim", None) is SETITEM and not shares_loop:
                    continue  # an earlier write only stores into the array
                needed = True
                break
        stmt.restore = needed  # type: ignore[attr-defined]


def _constructors() -> tuple:
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


class ListAppend:
    """Primitive of `hs.append(v)` on a list created in the function."""

    __name__ = "list append"


class ListGet:
    """Primitive of `hs[i]` on a list created in the function."""

    __name__ = "list item"


class ListSet:
    """Primitive of `hs[i] = v` on a list created in the function."""

    __name__ = "list item assignment"


LIST_APPEND = ListAppend()
LIST_GET = ListGet()
LIST_SET = ListSet()


class SetItem:
    """Primitive of `out[i] = v`, an in-place write into a local array."""

    __name__ = "subscript assignment"


SETITEM = SetItem()


class AddAt:
    """Primitive of `np.add.at(out, i, v)`, an in-place accumulation into a local array."""

    __name__ = "np.add.at"


ADD_AT = AddAt()


class Unpack:
    """Primitive of `a, b = x` for an array x: reads x[0], x[1], ..."""

    __name__ = "tuple unpacking"


UNPACK = Unpack()


@dataclass
class Method:
    """A method called on a local value that is not an ndarray method."""

    name: str


@dataclass
class Names:
    """Allocates collision-free names: user names are never reused."""

    taken: set[str]
    counters: dict[str, int] = field(default_factory=dict)

    def fresh(self, base: str) -> str:
        if base not in self.taken:
            self.taken.add(base)
            return base
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self.taken:
                self.counters[base] = n
                self.taken.add(candidate)
                return candidate

    def temp(self) -> str:
        n = self.counters.get("#t", 0)
        while True:
            n += 1
            candidate = f"t{n}"
            if candidate not in self.taken:
                self.counters["#t"] = n
                self.taken.add(candidate)
                return candidate


@dataclass
class Function:
    """A normalized function: ANF + SSA body and the atom it returns."""

    parsed: Parsed
    params: list[str]
    body: list[ast.stmt]
    result: ast.expr
    names: Names
    return_node: ast.AST


def annotate(
    stmt: ast.stmt,
    origin: ast.AST,
    site: ast.AST | None = None,
    prim: Any = None,
    args: list[ast.expr] | None = None,
    kwargs: dict[str, ast.expr] | None = None,
) -> ast.stmt:
    """Attach what later stages need to a normalized statement.

    prim is None for statements that can carry no gradient ("inert").
    """
    stmt.origin = origin  # type: ignore[attr-defined]
    stmt.site = site if site is not None else origin  # type: ignore[attr-defined]
    stmt.prim = prim  # type: ignore[attr-defined]
    stmt.args = args or []  # type: ignore[attr-defined]
    stmt.kwargs = kwargs or {}  # type: ignore[attr-defined]
    ast.copy_location(stmt, origin)
    return stmt


def names_in_target(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def is_atom(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.Name, ast.Constant))


def _all_identifiers(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.arg):
            out.add(sub.arg)
    return out


class Normalizer(CallsAndContainers):
    def __init__(
        self,
        parsed: Parsed,
        varied_params: set[str],
        structures: dict[str, Any] | None = None,
        has_aux: bool = False,
    ) -> None:
        self.p = parsed
        self.top = parsed  # the function being differentiated
        self.structures = dict(structures or {})  # container argument -> its nesting
        self.has_aux = has_aux
        self.names = Names(_all_identifiers(parsed.node) | set(parsed.params))
        self.root_identifiers = frozenset(self.names.taken)
        self.trees: dict[str, Tree] = {}  # SSA name -> the container it denotes
        self.constants: dict[str, Any] = {}  # SSA name -> constant (container loop keys)
        self.local_defs: dict[str, Any] = {}  # SSA name -> its local function
        self.inlining: list[Any] = []  # functions being inlined, outermost first
        self.inlining_names: list[str] = []
        self.extra_cells: dict[str, Any] = {}  # bindings for inlined functions' names
        self.alias_of: dict[str, str] = {}
        self.kept_globals: set[str] = set()  # inlined functions' globals read under their names
        self.dependencies: set[str] = set()  # files of inlined functions
        self.emitted = 0  # statements emitted so far (inlining has a budget)
        self.caller_values: set[str] = set()  # an inlined callee's parameters: caller names
        self.inlined_size: dict[str, int] = {}  # helper -> statements its calls produced
        self.size_estimates: dict[Any, int] = {}  # function node -> inlined size, at least
        self.current: dict[str, str] = {name: name for name in parsed.params}
        self.seeds = set(varied_params)
        self.varied_user: set[str] = set(varied_params)
        self.root: dict[str, str] = {}  # SSA name -> the value it may share memory with
        self.writable: set[str] = set()  # SSA names of arrays made by a constructor
        self.lists: set[str] = set()  # SSA names of lists made in the function
        self.loads = [
            (n.lineno, n.id)
            for n in ast.walk(parsed.node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        ]
        self.live: dict[int, frozenset[str]] = {}  # compound statement -> names read after it
        self.out: list[ast.stmt] = []
        self.origin: ast.AST = parsed.node

    # -- helpers -------------------------------------------------------------
    def error(self, node: ast.AST, message: str) -> Exception:
        return self.p.error(node, message)

    def emit(self, stmt: ast.stmt) -> None:
        if self.p is not self.top:
            stmt.scope = self.p  # type: ignore[attr-defined]  (comments quote its file)
        self.out.append(stmt)
        self.emitted += 1

    def define(self, user_name: str) -> str:
        """A new SSA name for an assignment to `user_name`."""
        ssa = (
            user_name
            if user_name not in self.current
            and user_name not in self.p.params
            and self.p is self.top
            else self.names.fresh(user_name)
        )
        if ssa == user_name:
            self.names.taken.add(ssa)
        self.current[user_name] = ssa
        return ssa

    def rename(self, expr: ast.expr) -> ast.expr:
        """Copy `expr`, replacing reads of local names by their current SSA names."""
        if isinstance(expr, _Frozen):  # an atom computed already: it is an SSA name
            return clone(expr.inner)
        copy = clone(expr)
        if self.local_defs:  # local functions exist only when compiling: inline their calls
            copy = self._inline_local_calls(copy)
        renamed = _Renamer(self.current).visit(copy)
        if self.trees or self.local_defs:
            renamed = self._materialize(renamed, expr)
        return renamed

    def _inline_local_calls(self, expr: ast.expr) -> ast.expr:
        """Replace each call of a local function (def or lambda) in a non-differentiated
        expression by the atom its inlined body computes, where Python would surely
        evaluate the call; a call evaluated only sometimes is refused."""
        normalizer = self

        def is_local_call(node: ast.AST) -> bool:
            return (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and normalizer.p.is_local(node.func.id)
                and normalizer.current.get(node.func.id, "") in normalizer.local_defs
            )

        if not any(is_local_call(n) for n in ast.walk(expr)):
            return expr

        class Inline(ast.NodeTransformer):
            def visit_Call(self, node: ast.Call) -> ast.expr:
                if not is_local_call(node):
                    return self.generic_visit(node)
                atom = clone(normalizer.atom(node))
                atom.already_renamed = True  # type: ignore[attr-defined]
                return ast.copy_location(atom, node)

            def lazy(self, node: ast.AST, parts: list[ast.AST]) -> ast.AST:
                for part in parts:
                    for sub in ast.walk(part):
                        if is_local_call(sub):
                            raise normalizer.error(
                                sub,
                                "a call of a local function that runs only sometimes (inside "
                                "and/or, a conditional expression, a comprehension or a lambda) "
                                "cannot be inlined here; assign its result to a name first",
                            )
                return node

            def computed(self, node: ast.expr) -> ast.expr:
                """Evaluate a conditional expression into a name, lazily, as Python does
                (each branch's calls inlined in its own branch)."""
                holder: list[str] = []
                normalizer.lower_ifexp(
                    node, lambda: holder.append(normalizer.names.temp()) or holder[0]
                )
                atom = ast.Name(id=holder[0], ctx=ast.Load())
                atom.already_renamed = True  # type: ignore[attr-defined]
                return ast.copy_location(atom, node)

            def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
                if not any(is_local_call(n) for v in node.values[1:] for n in ast.walk(v)):
                    node.values[0] = self.visit(node.values[0])
                    return node
                # `a and b` is `b if a else a`, `a or b` is `a if a else b`, a evaluated once
                value = node.values[0]
                for right in node.values[1:]:
                    left = _Frozen(normalizer.atom(value), False)
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
            if isinstance(node, ast.Name) and node.id in self.local_defs:
                raise self.error(
                    original,
                    f"the local function {node.id!r} can only be called; chainrule inlines "
                    "it at each call",
                )
        if not any(isinstance(n, ast.Name) and n.id in self.trees for n in ast.walk(renamed)):
            return renamed

        class Build(ast.NodeTransformer):
            def visit_Name(inner, node: ast.Name) -> ast.expr:  # noqa: N805
                tree = self.trees.get(node.id)
                if tree is not None and isinstance(node.ctx, ast.Load):
                    return display(tree)
                return node

        return Build().visit(renamed)

    def varied(self, expr: ast.AST) -> bool:
        return expr_varied(expr, self.varied_user, self.p)

    # -- statements ----------------------------------------------------------
    def run(self) -> Function:
        node = self.p.node
        # the parsed tree is shared: never mutate it
        body = [clone(stmt) for stmt in body_statements(node)]
        code = getattr(getattr(self.p.func, "__func__", self.p.func), "__code__", None)
        if code is not None:  # a helper calling back into this function is recursion
            self.inlining.append(code)
            self.inlining_names.append(self.p.func.__qualname__)
        body = hoist_assignment_expressions(body, self.error)
        body = lower_jumps(body, self.local_name)
        ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
        self.live = live_after(body)
        self.varied_user = possibly_varied(self.p, self.seeds, body)
        self.param_trees: dict[str, Tree] = {}
        for param, shape in self.structures.items():
            if shape is not None and param in self.seeds:
                tree = self.param_tree(param, shape, node)
                self.trees[param] = self.param_trees[param] = tree
        if not body or not isinstance(body[-1], ast.Return):
            last = body[-1] if body else node
            raise self.error(
                last,
                f"{self.p.func.__name__!r} must end with a `return` statement giving the "
                "value to differentiate",
            )
        for stmt in body[:-1]:
            self.statement(stmt)
        ret = body[-1]
        self.origin = ret
        if ret.value is None:
            raise self.error(ret, "`return` needs a value to differentiate")
        returned = self.static_value(ret.value)
        aux: ast.expr | None = None
        if self.has_aux:
            if not (
                isinstance(returned, Tree) and returned.kind != "dict" and len(returned.items) == 2
            ):
                raise self.error(
                    ret.value,
                    "with has_aux=True the function must return a pair (value, aux): the "
                    "value to differentiate and anything else to hand back untouched",
                )
            value, aux_value = returned.values()
            aux = display(aux_value) if isinstance(aux_value, Tree) else aux_value
            returned = value
        if isinstance(returned, Tree):
            raise self.error(
                ret.value,
                f"the function returns a {returned.kind}; a gradient needs one scalar output: "
                "return (value, aux) with has_aux=True to hand back extra values, or stack "
                "several outputs into one array (np.stack) for vjp",
            )
        result = self.atom(returned if returned is not None else ret.value)
        _mark_restores(self.out, self.root)
        function = Function(self.p, list(self.p.params), self.out, result, self.names, ret)
        function.lists = set(self.lists)  # type: ignore[attr-defined]
        function.aux = aux  # type: ignore[attr-defined]
        function.param_trees = self.param_trees  # type: ignore[attr-defined]
        function.extra_cells = self.extra_cells  # type: ignore[attr-defined]
        function.dependencies = self.dependencies  # type: ignore[attr-defined]
        return function

    def local_name(self, base: str) -> str:
        """A fresh name for a variable the compiler introduces (flags, indices)."""
        name = self.names.fresh(base)
        self.p.local_names.add(name)
        return name

    def statement(self, stmt: ast.stmt) -> None:
        self.origin = stmt
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) == 1:
                self.assign(stmt.targets[0], stmt.value)
            else:  # a = b = expr: evaluate once, bind every target
                varied = self.varied(stmt.value)
                value = _Frozen(self.atom(stmt.value), varied) if varied else stmt.value
                for target in stmt.targets:
                    self.assign(target, value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.assign(stmt.target, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            self.augassign(stmt)
        elif isinstance(stmt, ast.Expr):
            if self.list_append(stmt):
                return
            if self.list_pop(stmt):
                return
            if self.add_at(stmt):
                return
            if self.varied(stmt.value):
                raise self.error(stmt.value, _side_effect_advice(stmt.value))
            self.emit(annotate(ast.Expr(value=self.rename(stmt.value)), stmt))
        elif isinstance(stmt, (ast.Assert, ast.Raise)):
            self.emit(annotate(self.rename(stmt), stmt))  # type: ignore[arg-type]
        elif isinstance(stmt, ast.Pass):
            return
        elif isinstance(stmt, ast.FunctionDef):
            self.local_def(stmt, stmt.name)
        elif isinstance(stmt, ast.If):
            self.if_statement(stmt)
        elif isinstance(stmt, ast.For):
            self.for_statement(stmt)
        elif isinstance(stmt, ast.While):
            self.while_statement(stmt)
        elif isinstance(stmt, ast.Return):
            raise self.error(
                stmt, "`return` must be the last statement; statements after it never run"
            )
        else:
            raise self.error(stmt, unsupported_statement(stmt))

    def if_statement(self, stmt: ast.If) -> None:
        """Both branches in SSA form, then one merged name per variable they change.

        The merge (a phi node) is a copy at the end of each branch: `x_3 = x_1`
        in one, `x_3 = x` in the other, so after the `if` there is one name
        whose adjoint routes the gradient into whichever branch ran.
        """
        test = self.rename(stmt.test) if _is_cheap_name(stmt.test) else self.atom(stmt.test)
        before = dict(self.current)
        outer = self.out
        results = []
        for branch in (stmt.body, stmt.orelse):
            self.current = dict(before)
            self.out = []
            for sub in branch:
                self.statement(sub)
            self.origin = stmt
            results.append((self.out, self.current))
        (body, body_names), (orelse, else_names) = results
        merged: dict[str, str] = {}
        read_after = self.live.get(id(stmt))
        for name in sorted(set(body_names) | set(else_names)):
            b, e = body_names.get(name), else_names.get(name)
            live = read_after is None or name in read_after
            if (b != before.get(name) or e != before.get(name)) and live:
                # containers and local functions exist only at compile time: which
                # branch ran is known only at run time
                self._refuse_container_merge(stmt, name, (b, e), "in one branch of an `if`")
            if b == e:
                merged[name] = b  # type: ignore[assignment]
                continue
            if not live:  # nobody reads it after the `if`: no merged name
                merged[name] = f"<{name} after an if>"
                continue
            if b is None or e is None:
                # unbound on the other path, as in Python: after the `if` the name is
                # the one branch's value or unbound, which needs no copy (a copy would
                # read an unbound name)
                merged[name] = b if e is None else e  # type: ignore[assignment]
                continue
            phi = self.names.fresh(name)
            for stmts, value in ((body, b), (orelse, e)):
                atom = ast.Name(id=value, ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                stmts.append(annotate(copy_stmt, stmt, stmt, IDENTITY, [atom]))
            merged[name] = phi
        self.current = merged
        self.out = outer
        self.emit(annotate(ast.If(test=test, body=body or [ast.Pass()], orelse=orelse), stmt))

    def _refuse_container_merge(self, stmt: ast.AST, name: str, ssas, where: str) -> None:
        if any(s in self.trees or s in self.local_defs for s in ssas if s is not None):
            what = "function" if any(s in self.local_defs for s in ssas) else "container"
            raise self.error(
                stmt,
                f"{name!r} holds a {what} that is assigned {where}; chainrule resolves "
                f"{what}s when it compiles, so assign it once, outside (or assign its "
                "arrays to separate names)",
            )

    # -- loops -------------------------------------------------------------------
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
        read_after = self.live.get(id(loop))
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
            self._refuse_container_merge(loop, name, (self.current.get(name),), "in a loop")
            phi = self.names.fresh(name)
            if name in self.current:
                atom = ast.Name(id=self.current[name], ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                self.emit(annotate(copy_stmt, loop, loop, IDENTITY, [atom]))
            else:
                # first assigned in the loop: no value yet, as in Python.  The copies
                # chainrule adds (the merge after an `if`, a nested loop's entry copy,
                # the gradient's zeros) read it eagerly, so it starts as None; the
                # user's code cannot read it before assigning it (UnboundLocalError)
                init = ast.Assign(
                    targets=[ast.Name(id=phi, ctx=ast.Store())], value=ast.Constant(None)
                )
                stmt = annotate(init, loop)
                stmt.unbound_init = True  # type: ignore[attr-defined]
                self.emit(stmt)
            self.current[name] = phi
            phis[name] = phi
        return phis

    def close_loop(self, loop: ast.stmt, phis: dict[str, str]) -> None:
        """Copies at the end of the body, `x_1 = x_2`: the next iteration reads them."""
        for name, phi in phis.items():
            value = self.current.get(name)
            if value is not None and value != phi:
                atom = ast.Name(id=value, ctx=ast.Load())
                copy_stmt = ast.Assign(targets=[ast.Name(id=phi, ctx=ast.Store())], value=atom)
                stmt = annotate(copy_stmt, loop, loop, IDENTITY, [atom])
                stmt.phi_back = True  # type: ignore[attr-defined]
                self.emit(stmt)
            self.current[name] = phi

    def loop_body(
        self, loop: ast.For | ast.While, prologue, phis: dict[str, str], epilogue=None
    ) -> list[ast.stmt]:
        outer = self.out
        self.out = []
        if prologue is not None:
            prologue()
        for sub in loop.body:
            self.statement(sub)
        self.origin = loop
        self.close_loop(loop, phis)
        if epilogue is not None:
            epilogue()
        check = getattr(loop, "exit_check", None)
        if check is not None:
            test = self.rename(check.test)
            self.emit(annotate(ast.If(test=test, body=[ast.Break()], orelse=[]), loop))
        body, self.out = self.out, outer
        return body or [ast.Pass()]

    def for_statement(self, stmt: ast.For) -> None:
        if stmt.orelse:
            raise self.error(stmt.orelse[0], "`for ... else` is not supported; use a flag")
        iterator = stmt.iter
        rows = self.container_items(iterator)
        if rows is None:
            rows = self.unrolls_range(stmt)
        if rows is not None:
            self.unrolled_loop(stmt, rows)
            return
        callee = self.p.resolve(iterator.func) if isinstance(iterator, ast.Call) else MISSING
        prologue = None
        if callee is range:
            if iterator.keywords or not 1 <= len(iterator.args) <= 3:  # type: ignore[union-attr]
                raise self.error(iterator, "range() takes one to three positional arguments")
            args = [self.static(a) for a in iterator.args]  # type: ignore[union-attr]
            header = ast.Call(func=self.rename(iterator.func), args=args, keywords=[])  # type: ignore
            target = stmt.target
        elif not self.varied(iterator) and not (
            callee in (zip, enumerate) and any(self.varied(a) for a in iterator.args)  # type: ignore
        ):
            header = self.rename(iterator)  # data the loop walks through: no gradient
            target = stmt.target
        else:
            header, target, prologue = self.index_loop(stmt, callee)
        self.origin = stmt
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
        node.range_loop = callee is range or prologue is not None  # type: ignore[attr-defined]
        self.emit(annotate(node, stmt))
        for name, phi in phis.items():
            self.current[name] = phi

    def bind_loop_target(self, target: ast.expr) -> ast.expr:
        if isinstance(target, ast.Name):
            return ast.Name(id=self.define(target.id), ctx=ast.Store())
        if isinstance(target, (ast.Tuple, ast.List)):
            return ast.Tuple(elts=[self.bind_loop_target(e) for e in target.elts], ctx=ast.Store())
        raise self.error(target, "a loop variable must be a name or a tuple of names")

    def index_loop(self, stmt: ast.For, callee):
        """`for row in X` over a differentiated X: loop over indices, read X[i]."""
        iterator = stmt.iter
        index = self.local_name("i")
        if callee is enumerate:
            if len(iterator.args) != 1 or iterator.keywords:  # type: ignore[union-attr]
                raise self.error(iterator, "enumerate() with a start is not supported")
            sources = [self.atom(iterator.args[0])]  # type: ignore[union-attr]
            if not (isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == 2):
                raise self.error(stmt.target, "write `for i, value in enumerate(...)`")
            counter, element = stmt.target.elts
            parts = [(counter, None), (element, sources[0])]
        elif callee is zip:
            sources = [self.atom(a) for a in iterator.args]  # type: ignore[union-attr]
            if not (isinstance(stmt.target, ast.Tuple) and len(stmt.target.elts) == len(sources)):
                raise self.error(stmt.target, "unpack one loop variable per zipped sequence")
            parts = list(zip(stmt.target.elts, sources))
        else:
            sources = [self.atom(iterator)]
            parts = [(stmt.target, sources[0])]
        for source in sources:  # (a temporary holding a computed sequence is varied too)
            if isinstance(source, ast.Name):
                self.p.local_names.add(source.id)
                self.varied_user.add(source.id)
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
                i = ast.Name(id=self.current.get(index, index), ctx=ast.Load())
                i.already_renamed = True  # type: ignore[attr-defined]
                if source is not None:
                    # the sequence as it was when the loop started (Python iterates over
                    # that object, even if the body rebinds its name)
                    source = clone(source)
                    source.already_renamed = True
                value = (
                    i if source is None else ast.Subscript(value=source, slice=i, ctx=ast.Load())
                )
                self.assign(part_target, _Frozen(value, False) if source is None else value)

        self.varied_user.update(  # the elements (not an enumerate counter) vary
            n.id
            for part_target, source in parts
            if source is not None
            for n in ast.walk(part_target)
            if isinstance(n, ast.Name)
        )
        return header, ast.Name(id=index, ctx=ast.Store()), prologue

    def while_statement(self, stmt: ast.While) -> None:
        if stmt.orelse:
            raise self.error(stmt.orelse[0], "`while ... else` is not supported; use a flag")
        self.origin = stmt
        carried = self.loop_carried(stmt)
        phis = self.open_loop(stmt, carried)
        cond = self.local_name("keep_going")
        self.names.taken.add(cond)

        def evaluate_test():
            test = self.rename(stmt.test) if _is_cheap_name(stmt.test) else self.atom(stmt.test)
            copy_stmt = ast.Assign(targets=[ast.Name(id=cond, ctx=ast.Store())], value=test)
            self.emit(annotate(copy_stmt, stmt, stmt.test))

        evaluate_test()  # before the first iteration
        body = self.loop_body(stmt, None, phis, epilogue=evaluate_test)
        node = ast.While(test=ast.Name(id=cond, ctx=ast.Load()), body=body, orelse=[])
        self.emit(annotate(node, stmt))
        for name, phi in phis.items():
            self.current[name] = phi

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(value, _TreeValue) and isinstance(target, ast.Name):
            self.bind_tree(target.id, value.tree)
            return
        if isinstance(target, ast.Name):
            self.assign_name(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.assign_tuple(target, value)
        elif isinstance(target, ast.Subscript):
            self.assign_subscript(target, value)
        elif isinstance(target, ast.Attribute):
            raise self.error(
                target, "assigning to an attribute is not supported; use a local variable"
            )
        else:
            raise self.error(target, "this assignment target is not supported; assign to a name")

    def assign_name(self, name: str, value: ast.expr) -> None:
        if isinstance(value, _Frozen):  # an atom computed earlier (unpacking, a = b = ...)
            atom, prim = value.inner, (IDENTITY if value.varied else None)
            ssa = self.define(name)
            stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=atom)
            self.emit(annotate(stmt, self.origin, value.inner, prim, [atom]))
            self._track_view(ssa, atom)
            return
        if isinstance(value, ast.Lambda):
            self.local_def(_lambda_to_def(value), name)
            return
        if isinstance(value, ast.Name) and not isinstance(value.ctx, ast.Load):
            value = ast.Name(id=value.id, ctx=ast.Load())
        static = self.static_value(value)
        if isinstance(static, Tree):
            self.bind_tree(name, static)
            return
        if static is not None:
            self.assign_name(name, static)
            return
        if not self.varied(value):
            renamed = self.rename(value)
            ssa = self.define(name)
            stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=renamed)
            self.emit(annotate(stmt, self.origin, value))
            self._track_view(ssa, renamed)
            self._track_fresh(ssa, value)
            return
        if isinstance(value, ast.IfExp):
            self.lower_ifexp(value, lambda: self.define(name))
            return
        if is_atom(value):
            op = self.rename(value)
            prim, args, kwargs = IDENTITY, [op], {}
        else:
            op, prim, args, kwargs = self.operation(value)
        ssa = self.define(name)
        stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=op)
        self.emit(annotate(stmt, self.origin, value, prim, args, kwargs))
        self._track_view(ssa, op)
        self._track_fresh(ssa, value)

    def assign_tuple(self, target: ast.Tuple | ast.List, value: ast.expr) -> None:
        for elt in target.elts:
            if isinstance(elt, ast.Starred):
                raise self.error(elt, "starred assignment (a, *b = ...) is not supported")
        static = None if isinstance(value, (ast.Tuple, ast.List)) else self.static_value(value)
        if isinstance(static, Tree):
            if static.kind == "dict":
                raise self.error(value, "unpacking a dict gives its keys; index it instead")
            if len(static.items) != len(target.elts):
                raise self.error(
                    target,
                    f"cannot unpack {len(static.items)} values into {len(target.elts)} names",
                )
            for sub, item in zip(target.elts, static.values()):
                self.origin = self.origin
                if isinstance(item, Tree):
                    self.assign(sub, _TreeValue(item))
                else:
                    self.assign(sub, _Frozen(item, self.atom_varied(item)))
            return
        if static is not None:
            value = static
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in value.elts)
        ):
            # evaluate every right-hand side first: `a, b = b, a` swaps
            atoms = [
                e
                if isinstance(e, ast.Lambda)
                else _Frozen(self.atom(e), True)
                if self.varied(e)
                else _Frozen(self.rename(e), False)
                for e in value.elts
            ]
            for sub, atom in zip(target.elts, atoms):
                self.assign(sub, atom)
            return
        if not all(isinstance(e, ast.Name) for e in target.elts):
            raise self.error(target, "nested unpacking of a computed value is not supported")
        if not self.varied(value):
            renamed = self.rename(value)
            names = [self.define(e.id) for e in target.elts]  # type: ignore[attr-defined]
            tgt = ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())
            self.emit(annotate(ast.Assign(targets=[tgt], value=renamed), self.origin, value))
            return
        source = self.atom(value)
        names = [self.define(e.id) for e in target.elts]  # type: ignore[attr-defined]
        tgt = ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())
        stmt = ast.Assign(targets=[tgt], value=source)
        self.emit(annotate(stmt, self.origin, value, UNPACK, [source]))

    def augassign(self, stmt: ast.AugAssign) -> None:
        target = stmt.target
        if isinstance(target, ast.Subscript):  # out[i] += v  ->  out[i] = out[i] + v
            base = target.value
            ssa = self.current.get(base.id) if isinstance(base, ast.Name) else None
            if ssa is None or ssa in self.lists or ssa in self.trees:
                read = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
                value = ast.BinOp(
                    left=ast.copy_location(read, target), op=stmt.op, right=stmt.value
                )
                self.assign_subscript(target, ast.copy_location(value, stmt))
                return
            # an array: the old elements are read once, as a copy (which the adjoint
            # also puts back), so no name keeps a view of the place being written
            what = f"`{_base_text(target)}[...] {_op_text(stmt.op)}= ...`"
            written = self._write_place(target, stmt.value, what, augmented=stmt.op)
            array, index, value_atom, old_name = written
            store = ast.Subscript(value=clone(array), slice=index, ctx=ast.Store())
            write = ast.Assign(targets=[store], value=value_atom)
            self.emit(
                annotate(write, self.origin, target, SETITEM, [array, index, value_atom, old_name])
            )
            return
        if not isinstance(target, ast.Name):
            raise self.error(
                target,
                "augmented assignment to an attribute is not supported; use a local variable",
            )
        current = self.current.get(target.id)
        if current is not None and current in self.caller_values:
            op = _op_text(stmt.op)
            raise self.error(
                stmt,
                f"`{target.id} {op}= ...` on a parameter would change the caller's array in "
                f"place (chainrule inlines this function); write `{target.id} = {target.id} "
                f"{op} ...` to make a new array instead",
            )
        if current is not None:
            op = _op_text(stmt.op)
            self._check_shared(
                stmt,
                target.id,
                current,
                f"`{target.id} {op}= ...`",
                f"write `{target.id} = {target.id} {op} ...` to make a new array instead",
            )
        value = ast.BinOp(left=ast.Name(id=target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value)
        ast.copy_location(value, stmt)
        self.assign_name(target.id, value)

    def list_append(self, stmt: ast.Expr) -> bool:
        """`hs.append(v)` on a list made in the function: recorded so the adjoint can undo it."""
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append"
            and isinstance(call.func.value, ast.Name)
            and self.current.get(call.func.value.id) in self.lists
            and len(call.args) == 1
            and not call.keywords
        ):
            return False
        hs = ast.Name(id=self.current[call.func.value.id], ctx=ast.Load())
        item = call.args[0]
        if isinstance(item, ast.Tuple) and self.varied(item):  # a record: one atom per value
            elts = [self.atom(e) if self.varied(e) else self.static(e) for e in item.elts]
            value: ast.expr = ast.Tuple(elts=elts, ctx=ast.Load())
        else:
            value = self.atom(item) if self.varied(item) else self.static(item)
        op = ast.Call(
            func=ast.Attribute(value=hs, attr="append", ctx=ast.Load()), args=[value], keywords=[]
        )
        self.emit(annotate(ast.Expr(value=op), stmt, stmt.value, LIST_APPEND, [clone(hs), value]))
        return True

    def list_pop(self, stmt: ast.Expr) -> bool:
        """`hs.pop()` whose value is dropped, on a list made in the function (gradient code
        undoes an append this way): kept as `_ = hs.pop()`, so it is an ordinary read."""
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "pop"
            and isinstance(call.func.value, ast.Name)
            and self.current.get(call.func.value.id) in self.lists
            and not call.args
            and not call.keywords
        ):
            return False
        self.assign(ast.Name(id=self.local_name("_"), ctx=ast.Store()), call)
        return True

    def add_at(self, stmt: ast.Expr) -> bool:
        """`np.add.at(out, i, v)` on an array made in the function: in-place accumulation.

        Unlike `out[i] += v`, repeated indices all add.  Like a write, the
        statement keeps a copy of what it changes, which the adjoint puts back.
        """
        call = stmt.value
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "at"
            and self.p.resolve(call.func) == np.add.at
        ):
            return False
        if len(call.args) != 3 or call.keywords:
            raise self.error(call, "write np.add.at(array, indices, values)")
        base, index_expr, value = call.args
        target = ast.copy_location(
            ast.Subscript(value=base, slice=index_expr, ctx=ast.Store()), base
        )
        array, index, value_atom, old_name = self._write_place(target, value, "np.add.at(...)")
        func = self.rename(call.func)
        op = ast.Call(func=func, args=[array, index, value_atom], keywords=[])
        self.emit(
            annotate(
                ast.Expr(value=op),
                self.origin,
                call,
                ADD_AT,
                [clone(array), clone(index), value_atom, old_name],
            )
        )
        return True

    def assign_subscript(self, target: ast.Subscript, value: ast.expr) -> None:
        """`out[i, j] = v` on an array created in the function: an in-place write.

        The array keeps its name (it is the same object).  Just before the write
        we keep a copy of what it overwrites, which the adjoint puts back.
        """
        base = target.value
        if isinstance(base, ast.Name) and self.p.is_local(base.id):
            ssa = self.current.get(base.id)
            if ssa is not None and ssa in self.lists:
                self.list_set(target, ssa, value)
                return
        written = self._write_place(target, value, f"`{_base_text(target)}[...] = ...`")
        array, index, value_atom, old_name = written
        store = ast.Subscript(value=clone(array), slice=index, ctx=ast.Store())
        write = ast.Assign(targets=[store], value=value_atom)
        self.emit(
            annotate(write, self.origin, target, SETITEM, [array, index, value_atom, old_name])
        )

    def _write_place(
        self,
        target: ast.Subscript,
        value: ast.expr,
        what: str,
        augmented: ast.operator | None = None,
    ) -> tuple[ast.Name, ast.expr, ast.expr, ast.Name]:
        """Checks and prepares an in-place change of `target` (a subscript of a local array):
        the array, the index, the value's atom, and a saved copy of the old elements.

        With `augmented` (`out[i] += v`), the value is `old <op> v`, computed from
        that copy, which is then a differentiable read of the place."""
        base = target.value
        if not isinstance(base, ast.Name) or not self.p.is_local(base.id):
            raise self.error(
                target,
                "only writes into a local array variable (out[i] = ...) are supported",
            )
        name = base.id
        ssa = self.current.get(name)
        if ssa is None:
            raise self.error(base, f"{name!r} is written before it is assigned")
        if ssa in self.trees:
            raise self.error(
                target,
                f"{name!r} is a container chainrule resolves when it compiles, so its items "
                f"cannot be assigned; build a new one instead, e.g. {name} = {{..., key: value}}",
            )
        if ssa not in self.writable:
            what_it_is = "an argument" if ssa in self.p.params else "not known to be a fresh array"
            raise self.error(
                target,
                f"writing into {name!r}, which is {what_it_is}, could change an array the caller "
                f"or another name still sees; write into a copy, e.g. `{name} = "
                f"{name}.copy()`, or into a new array from np.zeros / np.empty",
            )
        self._check_shared(
            target,
            name,
            ssa,
            what,
            f"write `{name} = {name}.copy()` first so that they are separate arrays",
        )
        value_atom: ast.expr | None = None
        if augmented is None:  # Python evaluates the value first, then the place
            value_atom = self._written_value(value, name)
        index = self.index(target.slice)
        array = ast.Name(id=ssa, ctx=ast.Load())
        old = self.names.temp()
        read = ast.Subscript(value=clone(array), slice=clone(index), ctx=ast.Load())
        copy_call = ast.Call(
            func=ast.Attribute(value=read, attr="copy", ctx=ast.Load()), args=[], keywords=[]
        )
        assign = ast.Assign(targets=[ast.Name(id=old, ctx=ast.Store())], value=copy_call)
        if augmented is not None and self.varied(ast.Name(id=name, ctx=ast.Load())):
            # out[i] += v reads the old elements: a differentiable read (indexing)
            save = annotate(assign, self.origin, target, operator.getitem, [clone(array), index])
            self.p.local_names.add(old)
            self.varied_user.add(old)
        else:
            save = annotate(assign, self.origin, target)
            save.pure = not augmented  # type: ignore[attr-defined]  (dead unless restored)
        save.saves_old = True  # type: ignore[attr-defined]
        self.emit(save)
        old_name = ast.Name(id=old, ctx=ast.Load())
        if augmented is not None:
            combined = ast.copy_location(
                ast.BinOp(left=clone(old_name), op=augmented, right=value), value
            )
            value_atom = self._written_value(combined, name)
        assert value_atom is not None
        return array, index, value_atom, old_name

    def _written_value(self, value: ast.expr, array: str) -> ast.expr:
        """The atom of a value written into `array` (which then varies if the value does)."""
        if self.varied(value):
            self.varied_user.add(array)
            return self.atom(value)
        return self.static(value)

    def list_set(self, target: ast.Subscript, ssa: str, value: ast.expr) -> None:
        """`hs[i] = v` on a list made in the function: the slot now holds v.

        Lists hold references, so nothing is copied; the adjoint hands the
        slot's gradient to v and clears it for the element it replaced.
        """
        self._check_shared(
            target,
            target.value.id,  # type: ignore[attr-defined]
            ssa,
            f"`{target.value.id}[...] = ...`",  # type: ignore[attr-defined]
            "build a new list instead",
        )
        if isinstance(target.slice, ast.Slice):
            raise self.error(target, "assigning to a slice of a list is not supported")
        if self.varied(value):
            value_atom = self.atom(value)
            self.varied_user.add(target.value.id)  # type: ignore[attr-defined]
        else:
            value_atom = self.static(value)
        index = self.index(target.slice)
        hs = ast.Name(id=ssa, ctx=ast.Load())
        # the item being replaced (a reference): its slot's gradient restarts at its zero
        old = self.names.temp()
        read = ast.Subscript(value=clone(hs), slice=clone(index), ctx=ast.Load())
        save = annotate(
            ast.Assign(targets=[ast.Name(id=old, ctx=ast.Store())], value=read), self.origin, target
        )
        save.pure = True  # type: ignore[attr-defined]  (dead unless the adjoint reads it)
        self.emit(save)
        store = ast.Subscript(value=clone(hs), slice=index, ctx=ast.Store())
        write = ast.Assign(targets=[store], value=value_atom)
        old_name = ast.Name(id=old, ctx=ast.Load())
        self.emit(
            annotate(write, self.origin, target, LIST_SET, [hs, clone(index), value_atom, old_name])
        )

    def _check_shared(self, stmt: ast.AST, name: str, ssa: str, what: str, advice: str) -> None:
        """An in-place change to `name` also changes every name sharing its memory;
        refuse it if such a name is read afterwards (its value would differ)."""
        root = self.root.get(ssa, ssa)
        sharing = {
            user for user, s in self.current.items() if user != name and self.root.get(s, s) == root
        }
        later = {n for line, n in self.loads if line > getattr(stmt, "lineno", 0)}
        clash = sorted(sharing & later)
        if clash:
            raise self.error(
                stmt,
                f"{what} changes an array that {clash[0]!r} also refers to, and {clash[0]!r} "
                f"is used later; {advice}",
            )

    def _track_fresh(self, ssa: str, value: ast.expr) -> None:
        """Remember arrays made in the function (only those may be written into) and lists.

        Made in the function: by a constructor (np.zeros, x.copy(), ...) or by
        arithmetic, which never returns one of its operands.
        """
        if (
            isinstance(value, ast.List)
            or (
                isinstance(value, ast.Call)
                and self.p.resolve(value.func) in (list, zeros_like_list)
            )
            or (  # [0.0] * n
                isinstance(value, ast.BinOp)
                and isinstance(value.op, ast.Mult)
                and isinstance(value.left, ast.List)
            )
        ):
            self.lists.add(ssa)
            return
        if isinstance(value, ast.BinOp) or (
            isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd))
        ):
            self.writable.add(ssa)  # arithmetic on arrays always makes a new array
            return
        if not isinstance(value, ast.Call):
            return
        func = value.func
        callee = self.p.resolve(func)
        if callee is MISSING and isinstance(func, ast.Attribute) and func.attr == "copy":
            callee = np.ndarray.copy
        if callee is not MISSING and any(callee is c for c in _constructors()):
            self.writable.add(ssa)

    def _track_view(self, ssa: str, value: ast.expr) -> None:
        base = None
        if isinstance(value, ast.Name):
            base = value.id
        elif (
            isinstance(value, ast.Subscript)
            and isinstance(value.value, ast.Name)
            and value.value.id not in self.lists  # (an item of a list is not a view of it)
        ):
            base = value.value.id
        elif (
            isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.attr in VIEW_ATTRS
        ):
            base = value.value.id
        elif (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name)
            and value.func.attr in VIEW_ATTRS
        ):
            base = value.func.value.id
        if base is not None:
            self.root[ssa] = self.root.get(base, base)

    # -- expressions -----------------------------------------------------------
    def atom(self, expr: ast.expr) -> ast.expr:
        """Emit statements computing `expr` and return a name or constant for it."""
        if isinstance(expr, _Frozen):
            return expr.inner
        if isinstance(expr, ast.Constant):
            return expr
        if isinstance(expr, (ast.Name, ast.Subscript, ast.Call, _TreeValue, ast.Tuple, ast.Dict)):
            static = self.static_value(expr)
            if isinstance(static, Tree):
                raise self.error(
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
        if not self.varied(expr):
            name = self.names.temp()
            stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=self.rename(expr))
            self.emit(annotate(stmt, self.origin, expr))
            return ast.Name(id=name, ctx=ast.Load())
        if isinstance(expr, ast.IfExp):
            holder: list[str] = []
            self.lower_ifexp(expr, lambda: holder.append(self.names.temp()) or holder[0])
            return ast.Name(id=holder[0], ctx=ast.Load())
        op, prim, args, kwargs = self.operation(expr)
        name = self.names.temp()
        stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=op)
        self.emit(annotate(stmt, self.origin, expr, prim, args, kwargs))
        self._track_view(name, op)
        return ast.Name(id=name, ctx=ast.Load())

    def static(self, expr: ast.expr) -> ast.expr:
        """An argument in a position that carries no gradient (axis=, shapes, indices).

        Cheap, pure expressions stay inline; anything else gets a name.
        """
        if _is_cheap(expr) and not self.varied(expr):
            return self.rename(expr)
        return self.atom(expr)

    def argument(self, expr: ast.expr) -> ast.expr:
        """A call argument: lists and tuples of values stay displays of atoms."""
        if isinstance(expr, _Frozen):
            return expr.inner
        static = (
            self.static_value(expr)
            if isinstance(expr, (ast.Name, ast.Subscript, ast.Call, ast.Dict))
            else None
        )
        if isinstance(static, Tree):
            return display(static)
        if isinstance(static, _Frozen):
            return static.inner
        if static is not None:
            expr = static
        if isinstance(expr, (ast.List, ast.Tuple)) and self.varied(expr):
            elts = []
            for e in expr.elts:
                if isinstance(e, ast.Starred):
                    raise self.error(e, "starred arguments (*xs) are not supported here")
                elts.append(self.argument(e))
            return type(expr)(elts=elts, ctx=ast.Load())
        if not self.varied(expr):
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
        if self.varied(expr):
            raise self.error(
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
        if isinstance(expr, ast.Attribute):
            obj = self.p.resolve(expr)
            if obj is not MISSING:  # a module attribute holding a constant array
                return self.rename(expr), None, [], {}
            base = self.atom(expr.value)
            prim = getattr(np.ndarray, expr.attr, None) or Method(expr.attr)
            return ast.Attribute(value=base, attr=expr.attr, ctx=ast.Load()), prim, [base], {}
        if isinstance(expr, ast.Subscript):
            if isinstance(self.const_value(expr.slice), str):
                raise self.error(
                    expr,
                    "a string key means a dict, but chainrule does not know its structure "
                    "here: differentiate with respect to the dict itself (its structure is "
                    "learnt at the first call, then .source shows the code for it)",
                )
            base = self.atom(expr.value)
            index = self.index(expr.slice)
            op = ast.Subscript(value=base, slice=index, ctx=ast.Load())
            if isinstance(base, ast.Name) and base.id in self.lists:
                if isinstance(index, ast.Slice):
                    raise self.error(
                        expr,
                        "slicing a list of differentiated values is not "
                        "supported; index one element, or np.stack the list",
                    )
                return op, LIST_GET, [base, index], {}
            return op, operator.getitem, [base, index], {}
        raise self.error(expr, unsupported_expression(expr))

    def call(self, expr: ast.Call):
        func = expr.func
        for kw in expr.keywords:
            if kw.arg is None:
                raise self.error(
                    kw.value,
                    "`**kwargs` in a call is not supported; pass each keyword argument by name",
                )
        callee = self.p.resolve(func)
        if callee is MISSING and isinstance(func, ast.Name) and not self.p.is_local(func.id):
            raise self.error(
                func,
                f"name {func.id!r} is not defined when the function is "
                "first differentiated; define it before calling the gradient",
            )
        if callee is MISSING and isinstance(func, ast.Name):
            raise self.error(
                func,
                f"calling the local variable {func.id!r} is not supported; call the "
                "function by the name it was defined or imported under",
            )
        if (
            callee is MISSING
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and not self.varied(func.value)
            and getattr(np.ndarray, func.attr, None) is None
        ):
            who = func.value.id
            raise self.error(
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
            raise self.error(func, "this kind of call is not supported; call a function by name")
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
                raise self.error(
                    a, "starred arguments (*xs) are not supported; pass each argument separately"
                )
        return list(expr.args)

    def lower_ifexp(self, expr: ast.IfExp, target) -> None:
        """`z = a if c else b` -> `if c: ... z = a` / `else: ... z = b` (lazy, like Python)."""
        test = self.atom(expr.test) if not _is_cheap_name(expr.test) else self.rename(expr.test)
        branches = []
        outer = self.out
        for side in (expr.body, expr.orelse):
            self.out = []
            value = self.atom(side)
            branches.append((self.out, value, side))
        self.out = outer
        name = target()
        for stmts, value, side in branches:
            copy_stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=value)
            prim = IDENTITY if isinstance(value, ast.Name) else None
            stmts.append(annotate(copy_stmt, self.origin, side, prim, [value]))
        node = ast.If(test=test, body=branches[0][0], orelse=branches[1][0])
        self.emit(annotate(node, self.origin, expr))


def body_statements(node: ast.FunctionDef) -> list[ast.stmt]:
    """A function's statements, without its docstring."""
    body = list(node.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    return body


def clone(node: Any) -> Any:
    """A deep copy of an AST (several times faster than copy.deepcopy)."""
    if isinstance(node, ast.AST):
        cls = node.__class__
        new = cls.__new__(cls)  # fields are set below (avoids 3.13's missing-field warnings)
        for field, value in ast.iter_fields(node):
            setattr(new, field, clone(value))
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset", "already_renamed"):
            if hasattr(node, attr):
                setattr(new, attr, getattr(node, attr))
        return new
    if isinstance(node, list):
        return [clone(v) for v in node]
    return node


class _Frozen(ast.expr):
    """An already-normalized atom passed back through `assign` (tuple unpacking)."""

    def __init__(self, inner: ast.expr, varied: bool) -> None:
        super().__init__()
        self.inner = inner
        self.varied = varied


class _Renamer(ast.NodeTransformer):
    def __init__(self, current: dict[str, str]) -> None:
        self.current = current
        self.bound: list[set[str]] = []

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if getattr(node, "already_renamed", False):  # an atom computed for this expression
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


def _base_text(target: ast.Subscript) -> str:
    return target.value.id if isinstance(target.value, ast.Name) else "array"


def _op_text(op: ast.operator) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.Pow: "**",
        ast.MatMult: "@",
        ast.FloorDiv: "//",
        ast.Mod: "%",
    }.get(type(op), "op")


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


def _is_cheap_name(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.Name, ast.Constant))


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


def expr_varied(expr: ast.AST, varied: set[str], parsed: Parsed) -> bool:
    """Could `expr` depend differentiably on a varied name?  (Conservative.)"""
    if isinstance(expr, _Frozen):
        return expr.varied
    if isinstance(expr, ast.Name):
        return expr.id in varied and parsed.is_local(expr.id)
    if isinstance(expr, (ast.Constant, ast.Compare)):
        return False
    if isinstance(expr, ast.UnaryOp):
        return not isinstance(expr.op, (ast.Not, ast.Invert)) and expr_varied(
            expr.operand, varied, parsed
        )
    if isinstance(expr, ast.BinOp) and isinstance(
        expr.op, (ast.BitAnd, ast.BitOr, ast.BitXor, ast.FloorDiv, ast.LShift, ast.RShift)
    ):
        return False
    if isinstance(expr, ast.Attribute):
        if expr.attr in DESCRIPTIVE_ATTRS:
            return False
        return expr_varied(expr.value, varied, parsed)
    if isinstance(expr, ast.Subscript):
        return expr_varied(expr.value, varied, parsed)
    if isinstance(expr, ast.Call):
        callee = parsed.resolve(expr.func)
        if callee is not MISSING and is_nondifferentiable(callee):
            return False
        if isinstance(expr.func, ast.Attribute) and callee is MISSING:
            method = getattr(np.ndarray, expr.func.attr, None)
            if method is not None and is_nondifferentiable(method):
                return False
            if expr_varied(expr.func.value, varied, parsed):
                return True
        parts = list(expr.args) + [k.value for k in expr.keywords]
        return any(expr_varied(a, varied, parsed) for a in parts)
    if isinstance(expr, ast.IfExp):
        return expr_varied(expr.body, varied, parsed) or expr_varied(expr.orelse, varied, parsed)
    return any(expr_varied(child, varied, parsed) for child in ast.iter_child_nodes(expr))


def possibly_varied(parsed: Parsed, seeds: set[str], body: list[ast.stmt]) -> set[str]:
    """User variables that may depend on the differentiated parameters.

    Flow-insensitive fixpoint over every assignment in the function: cheap,
    conservative, and good enough to decide what to leave unflattened.
    """
    varied = set(seeds)
    assigns: list[tuple[list[str], Any]] = []
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and len(node.args) == 1
        ):
            owner, item = node.func.value.id, node.args[0]
            assigns.append(([owner], item))  # hs.append(h): hs holds h
            if isinstance(item, ast.Tuple):  # a record: each position on its own
                for k, elt in enumerate(item.elts):
                    assigns.append(([f"{owner}#{k}"], elt))
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Tuple)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "pop"
            and isinstance(node.value.func.value, ast.Name)
            and not node.value.args
        ):
            # `i, t = stack.pop()` restores a record: `i` varies only if what was
            # pushed at its position does (a saved loop index never does)
            owner = node.value.func.value.id
            for k, elt in enumerate(node.targets[0].elts):
                assigns.append(
                    (
                        [n.id for n in ast.walk(elt) if isinstance(n, ast.Name)],
                        _Position(f"{owner}#{k}"),
                    )
                )
            continue
        if isinstance(node, ast.For):
            targets = [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
            assigns.append((targets, node.iter))
        elif isinstance(node, ast.Assign):
            targets = [
                n.id
                for t in node.targets
                for n in ast.walk(t.value if isinstance(t, ast.Subscript) else t)
                if isinstance(n, ast.Name)
            ]
            assigns.append((targets, node.value))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            target = node.target.value if isinstance(node.target, ast.Subscript) else node.target
            targets = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
            value = node.value
            if isinstance(node, ast.AugAssign):
                value = ast.BinOp(
                    left=ast.Name(id=targets[0], ctx=ast.Load()) if targets else node.target,
                    op=node.op,
                    right=node.value,
                )
            assigns.append((targets, value))
    changed = True
    while changed:
        changed = False
        for targets, value in assigns:
            if set(targets) <= varied:
                continue
            if (
                value.key in varied
                if isinstance(value, _Position)
                else expr_varied(value, varied, parsed)
            ):
                varied.update(targets)
                changed = True
    return varied - integer_names(body, parsed.params)


@dataclass(frozen=True)
class _Position:
    """One position of the records appended to a list (`stack#0`), for `possibly_varied`."""

    key: str


_STATEMENT_ADVICE = {
    ast.ClassDef: "defining a class inside the function being differentiated is not "
    "supported; define it at module level",
    ast.With: "`with` blocks are not supported; move them outside the differentiated function",
    ast.Try: "`try` blocks are not supported; move error handling outside the differentiated "
    "function",
    ast.Import: "importing inside the function is not supported; import at module level",
    ast.ImportFrom: "importing inside the function is not supported; import at module level",
    ast.Global: "`global` statements are not supported; pass the value as an argument",
    ast.Nonlocal: "`nonlocal` statements are not supported; pass the value as an argument",
    ast.Delete: "`del` is not supported; simply stop using the name",
}


def _side_effect_advice(expr: ast.expr) -> str:
    """A differentiated value used only for an effect: its gradient cannot be followed."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("append", "extend", "insert")
    ):
        return (
            f"`.{expr.func.attr}(...)` of a differentiated value into a list is not supported "
            "yet; preallocate an array (hs = np.zeros((T, n))) and write into it (hs[t] = h)"
        )
    return (
        "this statement uses a differentiated value only for its effect (it changes an "
        "object in place), which chainrule cannot follow; assign the result to a name instead"
    )


def unsupported_statement(stmt: ast.stmt) -> str:
    for kind, advice in _STATEMENT_ADVICE.items():
        if isinstance(stmt, kind):
            return advice
    return f"the statement `{type(stmt).__name__}` is not supported in a differentiated function"


_EXPRESSION_ADVICE = {
    ast.ListComp: "a list comprehension over differentiated values is not supported yet; "
    "write a loop that appends to a list, or use whole-array NumPy operations",
    ast.GeneratorExp: "a generator expression over differentiated values is not supported "
    "yet; write a loop, or use whole-array NumPy operations",
    ast.SetComp: "a set comprehension over differentiated values is not supported",
    ast.DictComp: "a dict comprehension over differentiated values is not supported",
    ast.Lambda: "a lambda used in place is not supported; assign it to a name first "
    "(g = lambda t: ...) and call g",
    ast.Set: "a set of differentiated values is not supported",
    ast.NamedExpr: "the walrus operator (:=) is not supported; use a separate assignment",
    ast.BoolOp: "`and`/`or` on differentiated values selects a value by its truth; write "
    "`a if cond else b` instead",
    ast.JoinedStr: "f-strings of differentiated values carry no gradient; compute them "
    "outside the function",
    ast.Await: "`await` is not supported",
    ast.Yield: "`yield` is not supported: generators cannot be differentiated",
    ast.Tuple: "a tuple of differentiated values is not supported here; use separate "
    "variables or np.stack",
    ast.List: "a list of differentiated values is not supported here; use np.array([...]) "
    "or np.stack",
    ast.Starred: "starred expressions are not supported",
}


def unsupported_expression(expr: ast.expr) -> str:
    for kind, advice in _EXPRESSION_ADVICE.items():
        if isinstance(expr, kind):
            return advice
    return f"the expression `{type(expr).__name__}` is not supported here"


def normalize(
    parsed: Parsed,
    varied_params: set[str],
    structures: dict[str, Any] | None = None,
    has_aux: bool = False,
) -> Function:
    """Rewrite `parsed` into ANF + SSA (see the module docstring).

    `structures` gives the nesting of container arguments (calls.structure),
    `has_aux` says the function returns (value, aux).
    """
    return Normalizer(parsed, varied_params, structures, has_aux).run()
