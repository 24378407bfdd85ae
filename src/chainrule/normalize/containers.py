"""Containers known at compile time: tuples, lists and dicts of differentiated values.

Containers are *static trees* (ir.Tree: a kind and its key/value items, the
values being atoms or other trees).  A container argument's nesting
(`ir.structure(value)`, learnt by the API at the first call) becomes one
variable per leaf, read at entry (`params_W1 = params['W1']`); tuple and
dict displays, unpacking, literal subscripts, `len`, and loops over
containers (unrolled, `unrolled_loop`) are all resolved to the leaf they
denote, so later stages never see a container.  A subscript whose key is
not known when compiling, and a container reassigned in a loop, are
refused.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from ..errors import CompileError
from ..ir import (
    MISSING,
    Evaluated,
    Tree,
    TreeValue,
    annotate,
    copy_atom,
    facts_of,
)
from .core import Normalizer


class ContainerResolver:
    """Resolves containers to their leaves at compile time (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def tree_of(self, expr: ast.expr) -> Tree | None:
        """The Tree a plain name or subscript chain denotes, without emitting anything."""
        if isinstance(expr, TreeValue):
            return expr.tree
        if isinstance(expr, ast.Name) and self.n.p.is_local(expr.id):
            return self.n.trees.get(self.n.current.get(expr.id, ""))
        if isinstance(expr, ast.Subscript):
            base = self.tree_of(expr.value)
            if base is not None:
                value = self.tree_item(base, expr)
                return value if isinstance(value, Tree) else None
        return None

    def tree_item(self, tree: Tree, expr: ast.Subscript) -> Any:
        if isinstance(expr.slice, ast.Slice) and tree.kind != "dict":
            return self.tree_slice(tree, expr.slice)
        key = self.literal_key(expr.slice)
        if key is MISSING:
            raise self.n.error(
                expr.slice,
                "indexing a container of differentiated values needs a key known when the "
                "code is compiled (a literal like params['W'] or p[0], or the variable of a "
                "loop over the container); store arrays you index by a computed value in "
                "one array and index that",
            )
        value = tree.get(key)
        if value is MISSING:
            what = "key" if tree.kind == "dict" else "index"
            raise self.n.error(
                expr,
                f"the {tree.kind} has no {what} {key!r} (it has "
                f"{[k for k, _ in tree.items] if tree.kind == 'dict' else len(tree.items)}"
                f"{'' if tree.kind == 'dict' else ' items'})",
            )
        return value

    def tree_slice(self, tree: Tree, index: ast.Slice) -> Tree:
        """`layers[:-1]`, `ws[1:]`: the items a slice with bounds known when compiling
        picks, as a container of the same kind."""
        bounds = [
            None if b is None else self.literal_key(b)
            for b in (index.lower, index.upper, index.step)
        ]
        if any(b is MISSING or isinstance(b, str) for b in bounds) or bounds[2] == 0:
            raise self.n.error(
                index,
                "slicing a container of differentiated values needs bounds known when the "
                "code is compiled (a literal like layers[:-1] or ws[1:]); slice an array "
                "instead (np.stack the items first)",
            )
        picked = [value for _, value in tree.items][slice(*bounds)]
        return Tree(tree.kind, list(enumerate(picked)))

    def stacked_item(self, tree: Tree, expr: ast.Subscript) -> ast.expr | None:
        """`xs[i]` with `i` an int known only at run time, `xs` a tuple or list of arrays
        (or numbers) of one shape: `np.stack([a, b, c])[i]`, whose gradient puts the
        item's gradient in place i.  None when the key is known when compiling, or for
        dicts, nested containers and slices (tree_item refuses those)."""
        leaves = tree.values()
        if (
            tree.kind == "dict"
            or not leaves
            or isinstance(expr.slice, (ast.Slice, ast.Tuple))
            or self.literal_key(expr.slice) is not MISSING
            or isinstance(self.const_value(expr.slice), str)
            or any(isinstance(v, Tree) for v in leaves)
        ):
            return None
        stack = self.n.names.fresh("stack")
        self.n.extra_cells[stack] = np.stack
        items = ast.List(elts=[copy_atom(v) for v in leaves], ctx=ast.Load())
        call = ast.Call(func=ast.Name(id=stack, ctx=ast.Load()), args=[items], keywords=[])
        name = self.n.names.temp()
        stmt = ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=call)
        self.n.emit(annotate(stmt, self.n.origin, expr, np.stack, [items], {}))
        stacked = Evaluated(ast.Name(id=name, ctx=ast.Load()), True)
        return ast.copy_location(
            ast.Subscript(value=stacked, slice=expr.slice, ctx=ast.Load()), expr
        )

    def literal_key(self, expr: ast.expr) -> Any:
        value = self.const_value(expr)
        return value if isinstance(value, (int, str)) and not isinstance(value, bool) else MISSING

    def static_value(self, expr: ast.expr) -> Any:
        """What a container expression or an inlined call evaluates to, or None.

        Returns a Tree, or an expression to use instead of `expr` (the atom
        an inlined call returned, wrapped so it is not evaluated twice), or
        None when `expr` is neither.
        """
        if isinstance(expr, TreeValue):
            return expr.tree
        if isinstance(expr, ast.Name):
            if self.n.p.is_local(expr.id):
                ssa = self.n.current.get(expr.id, "")
                if ssa in self.n.trees:
                    return self.n.trees[ssa]
                if ssa in self.n.local_defs:
                    raise self.n.error(
                        expr,
                        f"the local function {expr.id!r} can only be called here; "
                        "chainrule inlines it at each call",
                    )
            return None
        if isinstance(expr, (ast.Tuple, ast.Dict)) and self.n.varied(expr):
            return self.build_tree(expr)
        if isinstance(expr, ast.Subscript):
            base = self.static_value(expr.value) if _is_chain(expr.value) else None
            if isinstance(base, Tree):
                stacked = self.stacked_item(base, expr)
                if stacked is not None:
                    return stacked
                value = self.tree_item(base, expr)
                if isinstance(value, Tree):
                    return value
                return Evaluated(copy_atom(value), self.atom_varied(value))
            if base is not None:  # an inlined call returned an array: index it
                return ast.copy_location(
                    ast.Subscript(value=base, slice=expr.slice, ctx=ast.Load()), expr
                )
            return None
        if isinstance(expr, ast.Call):
            got = self.dict_get(expr)
            return got if got is not None else self.n.inliner.static_call(expr)
        return None

    def dict_get(self, expr: ast.Call) -> Any:
        """`d.get("k", default)` of a dict known when compiling: its item, or the default
        (None without one) where the dict has no such key; None for any other call."""
        func = expr.func
        if not (isinstance(func, ast.Attribute) and func.attr == "get" and _is_chain(func.value)):
            return None
        tree = self.static_value(func.value)
        if not isinstance(tree, Tree) or tree.kind != "dict":
            return None
        if expr.keywords or not 1 <= len(expr.args) <= 2:
            raise self.n.error(expr, "call a dict's get with a key and, optionally, a default")
        key = self.literal_key(expr.args[0])
        if key is MISSING:
            raise self.n.error(
                expr.args[0],
                "get on a dict of differentiated values needs a key known when the code is "
                "compiled (a literal like params.get('W', w0))",
            )
        value = tree.get(key)
        if value is MISSING:
            return expr.args[1] if len(expr.args) == 2 else ast.Constant(None)
        if isinstance(value, Tree):
            return value
        return Evaluated(copy_atom(value), self.atom_varied(value))

    def atom_varied(self, atom: ast.expr) -> bool:
        # A copy of a name is marked differentiable; activity analysis on the SSA
        # code then decides whether it really carries a gradient.
        return isinstance(atom, ast.Name)

    def build_tree(self, expr: ast.Tuple | ast.Dict | ast.Call) -> Tree:
        """A tuple or dict display of differentiated values (or dict(k=v, ...))."""
        if isinstance(expr, ast.Tuple):
            items = []
            for i, e in enumerate(expr.elts):
                if isinstance(e, ast.Starred):
                    raise self.n.error(e, "starred items (*xs) in a tuple are not supported here")
                items.append((i, self.element(e)))
            return Tree("tuple", items)
        if isinstance(expr, ast.Dict):
            items = []
            for k, v in zip(expr.keys, expr.values):
                if k is None:
                    raise self.n.error(
                        v,
                        "`**` unpacking in a dict of differentiated values is not supported; "
                        "write each key out",
                    )
                key = self.literal_key(k)
                if key is MISSING:
                    raise self.n.error(
                        k or v,
                        "a dict of differentiated values needs literal keys (strings or ints)",
                    )
                items.append((key, self.element(v)))
            return Tree("dict", items)
        return Tree("dict", [(kw.arg, self.element(kw.value)) for kw in expr.keywords])

    def element(self, expr: ast.expr) -> Any:
        """One item of a container display: a Tree, or an atom."""
        value = self.static_value(expr)
        if isinstance(value, Tree):
            return value
        return self.n.expressions.atom(value if value is not None else expr)

    def bind_tree(self, name: str, tree: Tree) -> None:
        ssa = self.n.define(name)
        self.n.trees[ssa] = tree

    def param_tree(self, param: str, shape: Any, origin: ast.AST) -> Tree:
        """Leaves of a container argument, each read into its own variable at entry."""
        kind, children = shape
        keyed = list(children) if kind == "dict" else list(enumerate(children))
        items = []
        for key, sub in keyed:
            label = f"{param}_{key}" if str(key).isidentifier() or isinstance(key, int) else param
            access = ast.Subscript(
                value=ast.Name(id=param, ctx=ast.Load()), slice=ast.Constant(key), ctx=ast.Load()
            )
            if sub is not None:
                inner = self.n.names.fresh(label)
                stmt = ast.Assign(targets=[ast.Name(id=inner, ctx=ast.Store())], value=access)
                self.n.emit(annotate(stmt, origin))
                self.n.roots[inner] = self.n.roots_of(param)  # the caller's memory
                items.append((key, self.param_tree(inner, sub, origin)))
                continue
            leaf = self.n.names.fresh(label)
            stmt = ast.Assign(targets=[ast.Name(id=leaf, ctx=ast.Store())], value=access)
            self.n.emit(annotate(stmt, origin))
            self.n.roots[leaf] = self.n.roots_of(param)  # the caller's memory
            items.append((key, ast.Name(id=leaf, ctx=ast.Load())))
        return Tree(kind, items)

    def container_items(self, iterator: ast.expr) -> list[list[Any]] | None:
        """For `for ... in <container>`: per iteration, the values of the loop target."""
        values = self.iterated_values(iterator)
        return None if values is None else [[v] for v in values]

    def iterated_values(self, iterator: ast.expr, length: int | None = None) -> list | None:
        """What iterating over a container expression yields, item by item, or None.

        Handles a container, its .items()/.values()/.keys(), and enumerate and
        zip over those.  Given `length` (zip with a container), any other
        sequence yields `seq[0]`, `seq[1]`, ... read at run time.
        """
        func = iterator.func if isinstance(iterator, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr in ("items", "values", "keys"):
            tree = self.tree_of(func.value)
            if tree is None or tree.kind != "dict" or iterator.args:  # type: ignore[union-attr]
                return None
            if func.attr == "items":
                return [_pair(ast.Constant(k), v) for k, v in tree.items]
            if func.attr == "values":
                return tree.values()
            return [ast.Constant(k) for k, _ in tree.items]
        callee = self.n.p.resolve(func) if func is not None else MISSING
        args = iterator.args if isinstance(iterator, ast.Call) else []
        if callee is enumerate and len(args) == 1 and not iterator.keywords:  # type: ignore
            inner = self.iterated_values(args[0])
            if inner is None:
                return None
            return [_pair(ast.Constant(i), v) for i, v in enumerate(inner)]
        if callee is zip and args and not iterator.keywords:  # type: ignore[union-attr]
            columns = [self.iterated_values(a) for a in args]
            known = [len(c) for c in columns if c is not None]
            if not known:
                return None
            n = min(known)
            columns = [
                c if c is not None else self.iterated_values(a, n) for c, a in zip(columns, args)
            ]
            if any(c is None for c in columns):
                return None
            return [Tree("tuple", list(enumerate(row))) for row in zip(*columns)]  # type: ignore
        tree = self.tree_of(iterator)
        if tree is not None:
            return self._iterated(tree)
        if length is not None and not self.n.varied(iterator):
            base = self.n.expressions.atom(iterator)
            return [
                self.n.expressions.atom(
                    ast.Subscript(value=base, slice=ast.Constant(i), ctx=ast.Load())
                )
                for i in range(length)
            ]
        return None

    def _iterated(self, tree: Tree) -> list[Any]:
        return [ast.Constant(k) for k, _ in tree.items] if tree.kind == "dict" else tree.values()

    def unrolls_range(self, stmt: ast.For) -> list[list[Any]] | None:
        """`for i in range(<constants>)` (or over a literal list of keys) whose body picks
        container items by i: unroll it.

        Model code often reads `params[f"W{i}"]` in such a loop; unrolled, each
        key is a constant.  Only short loops that need it are unrolled.
        """
        iterator = stmt.iter
        if not isinstance(stmt.target, ast.Name):
            return None
        if isinstance(iterator, (ast.List, ast.Tuple)):  # for name in ["l1", "l2"]
            values = [self.const_value(e) for e in iterator.elts]
            if any(not isinstance(v, (int, str)) for v in values):
                return None
        elif (
            isinstance(iterator, ast.Call)
            and self.n.p.resolve(iterator.func) is range
            and not iterator.keywords
        ):
            bounds = [self.const_value(a) for a in iterator.args]
            if not bounds or any(not isinstance(b, int) or isinstance(b, bool) for b in bounds):
                return None
            values = list(range(*bounds))
        else:
            return None
        if not values or len(values) > 64:
            return None
        target = stmt.target.id
        tree_names = {n for n, s in self.n.current.items() if s in self.n.trees}
        for node in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
            parts: list[ast.AST] = []
            if isinstance(node, ast.Subscript) and _root_name(node.value) in tree_names:
                if self._indexes_a_leaf(node.value, target):
                    continue  # `p["w"][i]`: an element of an array, not a container item
                parts = [node.slice]
            elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Name) and a.id in tree_names
                for a in [*node.args, *(k.value for k in node.keywords)]
            ):
                parts = [*node.args, *(k.value for k in node.keywords)]
            if any(isinstance(n, ast.Name) and n.id == target for p in parts for n in ast.walk(p)):
                return [[ast.Constant(v)] for v in values]
        return None

    def _indexes_a_leaf(self, base: ast.expr, target: str) -> bool:
        """Whether `base` (not depending on the loop variable) is an array leaf of a
        container, so that indexing it by the loop variable needs no unrolling."""
        root = base
        while isinstance(root, ast.Subscript):
            root = root.value
        if not isinstance(root, ast.Name) or any(  # (a call would be inlined: not here)
            isinstance(n, ast.Name) and n.id == target for n in ast.walk(base)
        ):
            return False
        try:
            value = self.static_value(base)
        except CompileError:
            return False
        return value is not None and not isinstance(value, Tree)

    def const_value(self, expr: ast.expr) -> Any:
        """The value of an expression made of constants known at compile time, or MISSING."""
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            if not self.n.p.is_local(expr.id):
                return MISSING
            return self.n.constants.get(self.n.current.get(expr.id, ""), MISSING)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            v = self.const_value(expr.operand)
            return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else MISSING
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub, ast.Mult)):
            left, right = self.const_value(expr.left), self.const_value(expr.right)
            if left is MISSING or right is MISSING:
                return MISSING
            if isinstance(expr.op, ast.Mult) and (str in (type(left), type(right))):
                return MISSING  # "W" * n is not a key anyone writes; never build huge strings
            try:
                op = {
                    ast.Add: lambda a, b: a + b,
                    ast.Sub: lambda a, b: a - b,
                    ast.Mult: lambda a, b: a * b,
                }[type(expr.op)]
                value = op(left, right)
            except Exception:
                return MISSING
            return value if isinstance(value, (int, str)) else MISSING
        if isinstance(expr, ast.JoinedStr):
            out = []
            for part in expr.values:
                if isinstance(part, ast.Constant):
                    out.append(str(part.value))
                elif isinstance(part, ast.FormattedValue) and part.format_spec is None:
                    v = self.const_value(part.value)
                    if v is MISSING or not isinstance(v, (int, str)):
                        return MISSING
                    out.append({-1: str, 115: str, 114: repr, 97: ascii}[part.conversion](v))
                else:
                    return MISSING
            return "".join(out)
        if (
            isinstance(expr, ast.Call)
            and self.n.p.resolve(expr.func) is str
            and len(expr.args) == 1
            and not expr.keywords
        ):
            v = self.const_value(expr.args[0])
            return str(v) if isinstance(v, (int, str)) else MISSING
        return MISSING

    def unrolled_loop(self, stmt: ast.For, rows: list[list[Any]]) -> None:
        """A loop over a container: the body once per item, with the target bound to it."""
        if facts_of(stmt).exit_check is not None:
            raise self.n.error(
                stmt,
                "`break` or `return` inside a loop over a container is not supported; "
                "use a flag, or loop over range(len(...)) of an array",
            )
        if stmt.orelse:
            raise self.n.error(stmt.orelse[0], "`for ... else` is not supported; use a flag")
        for (value,) in rows:
            self.n.origin = stmt
            if isinstance(value, Tree):
                self.n.assignments.assign(stmt.target, TreeValue(value))
            else:
                self.n.assignments.assign(
                    stmt.target, Evaluated(copy_atom(value), self.atom_varied(value))
                )
                if isinstance(value, ast.Constant) and isinstance(stmt.target, ast.Name):
                    self.n.constants[self.n.current[stmt.target.id]] = value.value
            for sub in stmt.body:
                self.n.statements.statement(sub)


def _pair(first: ast.expr, second: Any) -> Tree:
    return Tree("tuple", [(0, first), (1, second)])


def _root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, ast.Subscript):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _is_chain(expr: ast.expr) -> bool:
    """A name, subscripts of one, or a call: cheap to resolve without evaluating twice."""
    while isinstance(expr, ast.Subscript):
        expr = expr.value
    return isinstance(expr, (ast.Name, ast.Call, TreeValue))
