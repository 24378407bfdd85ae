"""Stage 2b, part of normalize: calls to Python functions, and containers.

Both are resolved at compile time, while normalizing, so that the later
stages only ever see one operation on arrays and floats per statement.

Calls.  A call to a Python function the user wrote (in the same module, in
another module, or defined inside the function being differentiated) is
*inlined*: the callee's body is normalized in place, in a scope of its own,
with its parameters bound to the caller's values (keywords and defaults
included).  Names the callee reads from its own module reach the generated
code as bindings, so a helper imported from `mylib` keeps meaning what it
meant there.  A helper called inside a loop appears once, in the loop body;
recursion cannot be inlined and is refused.  A derivative rule registered
for a function wins over inlining: that is how users make a helper a
primitive.

Containers.  Tuples and dicts of differentiated values, and the container
arguments we differentiate (their nesting is learnt from the first call),
are *static trees*: a `Tree` maps each key to an atom (a name or a
constant) or to another tree.  `p[0]`, `params['W1']`, `W, b = p`,
`len(p)` and `for k in params` are resolved at compile time to what they
denote, so every leaf is an ordinary variable (`params_W1`) with an
ordinary gradient (`dparams_W1`), and the gradient of a container argument
is assembled from its leaves at the end, in the same structure.
"""

from __future__ import annotations

import ast
import dataclasses
import sysconfig
import types
from dataclasses import dataclass
from typing import Any

from .parse import MISSING, Parsed


@dataclass
class Tree:
    """A container known at compile time: kind and (key, value) items.

    Values are atoms (ast.Name / ast.Constant) or nested Trees; keys are
    indices for tuples and lists, and the dict's keys for dicts.
    """

    kind: str  # "tuple", "list" or "dict"
    items: list[tuple[Any, Any]]

    def get(self, key: Any) -> Any:
        if self.kind != "dict" and isinstance(key, int) and -len(self.items) <= key < 0:
            key += len(self.items)
        for k, v in self.items:
            if k == key and type(k) is type(key):
                return v
        return MISSING

    def values(self) -> list[Any]:
        return [v for _, v in self.items]

    def leaves(self) -> list[Any]:
        out: list[Any] = []
        for v in self.values():
            out.extend(v.leaves() if isinstance(v, Tree) else [v])
        return out


def display(value: Any) -> ast.expr:
    """The Python expression that builds `value` (a Tree or an atom) at run time."""
    if not isinstance(value, Tree):
        return _copy_atom(value)
    if value.kind == "dict":
        return ast.Dict(
            keys=[ast.Constant(k) for k, _ in value.items],
            values=[display(v) for _, v in value.items],
        )
    elts = [display(v) for v in value.values()]
    if value.kind == "list":
        return ast.List(elts=elts, ctx=ast.Load())
    return ast.Tuple(elts=elts, ctx=ast.Load())


def _copy_atom(atom: ast.expr) -> ast.expr:
    if isinstance(atom, ast.Name):
        return ast.Name(id=atom.id, ctx=ast.Load())
    if isinstance(atom, ast.Constant):
        return ast.Constant(atom.value)
    return atom


def structure(value: Any) -> Any:
    """A hashable description of how `value` nests tuples, lists and dicts (None: a leaf)."""
    t = type(value)
    if t is tuple or t is list:
        return (t.__name__, tuple(structure(v) for v in value))
    if t is dict:
        return ("dict", tuple((k, structure(v)) for k, v in value.items()))
    return None


class _TreeValue(ast.expr):
    """A Tree passed back through `assign` (unpacking, loop targets)."""

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.tree = tree


@dataclass
class Callee:
    """A function about to be inlined: its parsed form and how to name it."""

    parsed: Parsed
    key: Any  # identity for the recursion check
    name: str
    defaults: dict[str, Any]  # parameter -> default (an object, or an AST for local defs)
    kwonly: list[str]
    bound_self: Any = MISSING  # the receiver of a bound method


# Inlining copies a helper's body to each call site; nested helpers each called
# several times multiply.  Past this many statements we stop with advice.
INLINE_BUDGET = 4_000

_LIBRARY_ROOTS = ("numpy", "scipy", "chainrule", "math", "builtins", "jax", "torch", "autograd")
_STDLIB = sysconfig.get_paths().get("stdlib", "<no stdlib>")


def is_user_function(obj: Any) -> bool:
    """Python functions chainrule inlines: the user's, not a library's internals."""
    func = obj.__func__ if isinstance(obj, types.MethodType) else obj
    if not isinstance(func, types.FunctionType):
        return False
    module = (getattr(func, "__module__", None) or "").split(".")[0]
    if module in _LIBRARY_ROOTS:
        return False
    filename = func.__code__.co_filename
    return not (filename.startswith(_STDLIB) and "site-packages" not in filename)


def stored_names(fn: ast.FunctionDef) -> set[str]:
    from .parse import _stored_names

    return _stored_names(fn)


def free_loads(fn: ast.FunctionDef, local: set[str]) -> list[str]:
    seen: dict[str, None] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            seen.setdefault(node.id, None)
    return list(seen)


class CallsAndContainers:
    """Methods of the Normalizer that inline calls and resolve containers.

    Kept apart from normalize.py because they are about *scopes* (whose
    names, which module), while the rest of normalize is about statements.
    """

    # -- containers ------------------------------------------------------------------
    def tree_of(self, expr: ast.expr) -> Tree | None:
        """The Tree a plain name or subscript chain denotes, without emitting anything."""
        if isinstance(expr, _TreeValue):
            return expr.tree
        if isinstance(expr, ast.Name) and self.p.is_local(expr.id):
            return self.trees.get(self.current.get(expr.id, ""))
        if isinstance(expr, ast.Subscript):
            base = self.tree_of(expr.value)
            if base is not None:
                value = self.tree_item(base, expr)
                return value if isinstance(value, Tree) else None
        return None

    def tree_item(self, tree: Tree, expr: ast.Subscript) -> Any:
        key = self.literal_key(expr.slice)
        if key is MISSING:
            raise self.error(
                expr.slice,
                "indexing a container of differentiated values needs a key known when the "
                "code is compiled (a literal like params['W'] or p[0], or the variable of a "
                "loop over the container); store arrays you index by a computed value in "
                "one array and index that",
            )
        value = tree.get(key)
        if value is MISSING:
            what = "key" if tree.kind == "dict" else "index"
            raise self.error(
                expr,
                f"the {tree.kind} has no {what} {key!r} (it has "
                f"{[k for k, _ in tree.items] if tree.kind == 'dict' else len(tree.items)}"
                f"{'' if tree.kind == 'dict' else ' items'})",
            )
        return value

    def literal_key(self, expr: ast.expr) -> Any:
        value = self.const_value(expr)
        return value if isinstance(value, (int, str)) and not isinstance(value, bool) else MISSING

    def static_value(self, expr: ast.expr) -> Any:
        """What a container expression or an inlined call evaluates to, or None.

        Returns a Tree, or an expression to use instead of `expr` (the atom
        an inlined call returned, wrapped so it is not evaluated twice), or
        None when `expr` is neither.
        """
        from .normalize import _Frozen

        if isinstance(expr, _TreeValue):
            return expr.tree
        if isinstance(expr, ast.Name):
            if self.p.is_local(expr.id):
                ssa = self.current.get(expr.id, "")
                if ssa in self.trees:
                    return self.trees[ssa]
                if ssa in self.local_defs:
                    raise self.error(
                        expr,
                        f"the local function {expr.id!r} can only be called here; "
                        "chainrule inlines it at each call",
                    )
            return None
        if isinstance(expr, (ast.Tuple, ast.Dict)) and self.varied(expr):
            return self.build_tree(expr)
        if isinstance(expr, ast.Subscript):
            base = self.static_value(expr.value) if _is_chain(expr.value) else None
            if isinstance(base, Tree):
                value = self.tree_item(base, expr)
                if isinstance(value, Tree):
                    return value
                return _Frozen(_copy_atom(value), self.atom_varied(value))
            if base is not None:  # an inlined call returned an array: index it
                return ast.copy_location(
                    ast.Subscript(value=base, slice=expr.slice, ctx=ast.Load()), expr
                )
            return None
        if isinstance(expr, ast.Call):
            return self.static_call(expr)
        return None

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
                    raise self.error(e, "starred items (*xs) in a tuple are not supported here")
                items.append((i, self.element(e)))
            return Tree("tuple", items)
        if isinstance(expr, ast.Dict):
            items = []
            for k, v in zip(expr.keys, expr.values):
                if k is None:
                    raise self.error(
                        v,
                        "`**` unpacking in a dict of differentiated values is not supported; "
                        "write each key out",
                    )
                key = self.literal_key(k)
                if key is MISSING:
                    raise self.error(
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
        return self.atom(value if value is not None else expr)

    def bind_tree(self, name: str, tree: Tree) -> None:
        ssa = self.define(name)
        self.trees[ssa] = tree

    def param_tree(self, param: str, shape: Any, origin: ast.AST) -> Tree:
        """Leaves of a container argument, each read into its own variable at entry."""
        from .normalize import annotate

        kind, children = shape
        keyed = list(children) if kind == "dict" else list(enumerate(children))
        items = []
        for key, sub in keyed:
            label = f"{param}_{key}" if str(key).isidentifier() or isinstance(key, int) else param
            access = ast.Subscript(
                value=ast.Name(id=param, ctx=ast.Load()), slice=ast.Constant(key), ctx=ast.Load()
            )
            if sub is not None:
                inner = self.names.fresh(label)
                stmt = ast.Assign(targets=[ast.Name(id=inner, ctx=ast.Store())], value=access)
                self.emit(annotate(stmt, origin))
                items.append((key, self.param_tree(inner, sub, origin)))
                continue
            leaf = self.names.fresh(label)
            stmt = ast.Assign(targets=[ast.Name(id=leaf, ctx=ast.Store())], value=access)
            self.emit(annotate(stmt, origin))
            items.append((key, ast.Name(id=leaf, ctx=ast.Load())))
        return Tree(kind, items)

    # -- loops over containers ------------------------------------------------------------
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
        callee = self.p.resolve(func) if func is not None else MISSING
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
        if length is not None and not self.varied(iterator):
            base = self.atom(iterator)
            return [
                self.atom(ast.Subscript(value=base, slice=ast.Constant(i), ctx=ast.Load()))
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
            and self.p.resolve(iterator.func) is range
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
        tree_names = {n for n, s in self.current.items() if s in self.trees}
        for node in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
            parts: list[ast.AST] = []
            if isinstance(node, ast.Subscript) and _root_name(node.value) in tree_names:
                parts = [node.slice]
            elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Name) and a.id in tree_names
                for a in [*node.args, *(k.value for k in node.keywords)]
            ):
                parts = [*node.args, *(k.value for k in node.keywords)]
            if any(isinstance(n, ast.Name) and n.id == target for p in parts for n in ast.walk(p)):
                return [[ast.Constant(v)] for v in values]
        return None

    def const_value(self, expr: ast.expr) -> Any:
        """The value of an expression made of constants known at compile time, or MISSING."""
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.Name):
            if not self.p.is_local(expr.id):
                return MISSING
            return self.constants.get(self.current.get(expr.id, ""), MISSING)
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
            and self.p.resolve(expr.func) is str
            and len(expr.args) == 1
            and not expr.keywords
        ):
            v = self.const_value(expr.args[0])
            return str(v) if isinstance(v, (int, str)) else MISSING
        return MISSING

    def unrolled_loop(self, stmt: ast.For, rows: list[list[Any]]) -> None:
        """A loop over a container: the body once per item, with the target bound to it."""
        from .normalize import _Frozen

        if getattr(stmt, "exit_check", None) is not None:
            raise self.error(
                stmt,
                "`break` or `return` inside a loop over a container is not supported; "
                "use a flag, or loop over range(len(...)) of an array",
            )
        if stmt.orelse:
            raise self.error(stmt.orelse[0], "`for ... else` is not supported; use a flag")
        for (value,) in rows:
            self.origin = stmt
            if isinstance(value, Tree):
                self.assign(stmt.target, _TreeValue(value))
            else:
                self.assign(stmt.target, _Frozen(_copy_atom(value), self.atom_varied(value)))
                if isinstance(value, ast.Constant) and isinstance(stmt.target, ast.Name):
                    self.constants[self.current[stmt.target.id]] = value.value
            for sub in stmt.body:
                self.statement(sub)

    # -- calls -------------------------------------------------------------------------------
    def static_call(self, expr: ast.Call) -> Any:
        """Inline a call to a Python function; `len` of a container; `dict(k=v)`."""
        from .normalize import _Frozen

        func = expr.func
        if isinstance(func, ast.Name) and self.p.is_local(func.id):
            local = self.local_defs.get(self.current.get(func.id, ""))
            if local is None:
                return None
            return self.inline(local(), expr)
        if isinstance(func, ast.Call):  # grad(f)(x): build the transformation now
            made = self.transformation(func)
            if made is None:
                return None
            return self.inline(self.callee_for(made.__chainrule_generated__(), expr), expr)
        callee = self.p.resolve(func)
        if callee is MISSING:
            return None
        generated = getattr(callee, "__chainrule_generated__", None)
        if generated is not None and self.varied(expr):  # df = grad(f) ... df(x)
            return self.inline(self.callee_for(generated(), expr), expr)
        from . import api

        if callee is api.jvp and self.varied(expr):
            return self.inline_jvp(expr)
        if callee is len and len(expr.args) == 1 and not expr.keywords:
            tree = self.tree_of(expr.args[0])
            if tree is not None:
                return _Frozen(ast.Constant(len(tree.items)), False)
            return None
        if callee is dict and not expr.args and expr.keywords and self.varied(expr):
            return self.build_tree(expr)
        if not self.varied(expr) or not is_user_function(callee):
            return None
        from .rules import is_nondifferentiable, lookup, lookup_tangent

        if (
            lookup(callee) is not None
            or lookup_tangent(callee) is not None
            or is_nondifferentiable(callee)
        ):
            return None  # a registered rule (in either mode) makes it a primitive
        return self.inline(self.callee_for(callee, expr), expr)

    def transformation(self, call: ast.Call) -> Any:
        """`grad(f, argnums=...)` with everything known at compile time: the object it makes."""
        from . import api

        maker = self.p.resolve(call.func)
        if maker not in (api.grad, api.value_and_grad) or not call.args:
            return None
        values = [
            self.p.resolve(a) if not isinstance(a, ast.Constant) else a.value for a in call.args
        ]
        keywords = {}
        for kw in call.keywords:
            value = self.const_value(kw.value)
            if value is MISSING and isinstance(kw.value, ast.Tuple):
                value = tuple(self.const_value(e) for e in kw.value.elts)
            keywords[kw.arg] = value
        if any(v is MISSING for v in values) or any(
            v is MISSING or (isinstance(v, tuple) and MISSING in v) for v in keywords.values()
        ):
            raise self.error(
                call,
                f"{api.__name__.split('.')[0]}.{maker.__name__}(...) inside a differentiated "
                "function needs its arguments known when the code is compiled (a function "
                "by name, literal argnums); create it at module level instead",
            )
        return maker(*values, **keywords)

    def inline_jvp(self, call: ast.Call) -> Any:
        """`jvp(f, (x, y), (dx, None))` inside the function: inline f's forward-mode code."""
        from . import api

        if len(call.args) != 3 or call.keywords:
            raise self.error(call, "write jvp(f, (primals...), (tangents...))")
        f = self.p.resolve(call.args[0])
        primals, tangents = call.args[1], call.args[2]
        if (
            f is MISSING
            or not isinstance(primals, (ast.Tuple, ast.List))
            or not isinstance(tangents, (ast.Tuple, ast.List))
            or len(primals.elts) != len(tangents.elts)
        ):
            raise self.error(
                call,
                "jvp inside a differentiated function needs the function by name and the "
                "primals and tangents written out as tuples of equal length, e.g. "
                "jvp(f, (x, y), (v, None))",
            )
        nums = tuple(
            i
            for i, t in enumerate(tangents.elts)
            if not (isinstance(t, ast.Constant) and t.value is None)
        )
        compiled = api.compile_function(f, nums, "jvp", True)
        args = [*primals.elts, *(tangents.elts[i] for i in nums)]
        synthetic = ast.copy_location(ast.Call(func=call.func, args=args, keywords=[]), call)
        return self.inline(self.callee_for(compiled.function, call), synthetic)

    def callee_for(self, obj: Any, site: ast.AST) -> Callee:
        from .parse import parse_function

        bound_self = MISSING
        func = obj
        if isinstance(obj, types.MethodType):
            bound_self, func = obj.__self__, obj.__func__
        parsed = parse_function(func, inlined=True)
        params = list(parsed.params)
        if bound_self is not MISSING:
            if not params:
                raise self.error(site, f"the method {func.__qualname__!r} takes no `self`")
            params = params[1:]
        args = parsed.node.args
        positional = [a.arg for a in args.posonlyargs + args.args]
        defaults = dict(
            zip(
                positional[len(positional) - len(func.__defaults__ or ()) :],
                func.__defaults__ or (),
            )
        )
        defaults.update(func.__kwdefaults__ or {})
        if parsed.filename != self.top.filename:
            self.dependencies.add(parsed.filename)
        return Callee(
            parsed=parsed,
            key=func.__code__,
            name=func.__qualname__,
            defaults=defaults,
            kwonly=[a.arg for a in args.kwonlyargs],
            bound_self=bound_self,
        )

    def local_def(self, node: ast.FunctionDef, name: str) -> None:
        """`def g(...)` or `g = lambda ...` inside the function: inlined where it is called."""
        args = node.args
        for bad, what in ((args.vararg, "*args"), (args.kwarg, "**kwargs")):
            if bad is not None:
                raise self.error(bad, f"a {what} parameter is not supported in a local function")
        if getattr(node, "decorator_list", None):
            raise self.error(node, "decorators on a local function are not supported")
        positional = [a.arg for a in args.posonlyargs + args.args]
        enclosing = self.p
        enclosing_scope = dict(self.current)
        defaults = {
            p: d for p, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults)
        }
        defaults.update(
            {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
        )
        inner_locals = set(positional) | {a.arg for a in args.kwonlyargs} | stored_names(node)

        def make() -> Callee:
            stub = types.SimpleNamespace(
                __name__=name, __qualname__=name, __defaults__=None, __code__=None
            )
            parsed = dataclasses.replace(
                enclosing,
                func=stub,
                node=node,
                params=positional,
                local_names=set(enclosing.local_names) | inner_locals,
                enclosing_scope=enclosing_scope,
            )
            return Callee(
                parsed=parsed,
                key=node,
                name=name,
                defaults=defaults,
                kwonly=[a.arg for a in args.kwonlyargs],
            )

        ssa = self.define(name)
        self.local_defs[ssa] = make

    def bind_arguments(self, callee: Callee, call: ast.Call) -> dict[str, Any]:
        """Caller-side values of the callee's parameters, as Python would bind them."""
        from .normalize import _Frozen

        parsed = callee.parsed
        params = list(parsed.params)
        if callee.bound_self is not MISSING:
            params = params[1:]
        posonly = {a.arg for a in parsed.node.args.posonlyargs}
        name = callee.name
        values: dict[str, Any] = {}
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments (*xs) are not supported in a call")
            if i >= len(params):
                raise self.error(
                    arg, f"{name}() takes {len(params)} positional argument(s), given more"
                )
            values[params[i]] = self.call_argument(arg)
        for kw in call.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "`**kwargs` in a call is not supported")
            if kw.arg in values:
                raise self.error(kw.value, f"{name}() got multiple values for {kw.arg!r}")
            if kw.arg in posonly or (kw.arg not in params and kw.arg not in callee.kwonly):
                raise self.error(
                    kw.value, f"{name}() got an unexpected keyword argument {kw.arg!r}"
                )
            values[kw.arg] = self.call_argument(kw.value)
        for p in params + callee.kwonly:
            if p in values:
                continue
            if p not in callee.defaults:
                raise self.error(call, f"{name}() is missing the argument {p!r}")
            default = callee.defaults[p]
            if isinstance(default, ast.AST):  # a local def: its default expression
                values[p] = self.call_argument(default)
            elif default is None or isinstance(default, (bool, int, float, str)):
                values[p] = _Frozen(ast.Constant(default), False)
            else:
                alias = self.names.fresh(f"{p}_default")
                self.extra_cells[alias] = default
                values[p] = _Frozen(ast.Name(id=alias, ctx=ast.Load()), False)
        return values

    def call_argument(self, expr: ast.expr) -> Any:
        from .normalize import _Frozen

        value = self.static_value(expr)
        if isinstance(value, Tree):
            return value
        source = value if value is not None else expr
        varied = self.varied(source)
        return _Frozen(self.atom(source), varied)

    def inline(self, callee: Callee, call: ast.Call) -> Any:
        """Normalize the callee's body here; return the Tree or atom it returns."""
        from .jumps import hoist_assignment_expressions, lower_jumps
        from .normalize import (
            _Frozen,
            annotate,
            body_statements,
            clone,
            live_after,
            possibly_varied,
        )

        if any(key is callee.key for key in self.inlining):
            chain = " -> ".join([*self.inlining_names, callee.name])
            raise self.error(
                call,
                f"recursion: {callee.name!r} calls itself ({chain}); chainrule inlines "
                "calls, which never ends for a recursive function: rewrite it as a loop, "
                f"or register a derivative rule for {callee.name} with chainrule.adjoint",
            )
        expected = inlined_statements(callee.parsed, self.size_estimates)
        if self.emitted + expected > INLINE_BUDGET:
            sizes = dict(self.inlined_size)
            sizes[callee.name] = max(sizes.get(callee.name, 0), expected)
            biggest = max(sizes, key=sizes.get)
            raise self.error(
                call,
                f"inlining the functions called here would make over {INLINE_BUDGET} "
                f"statements ({biggest!r} alone at least {sizes[biggest]}): call "
                "helpers inside a loop rather than many times in a row, or make the "
                f"largest one a primitive by registering a derivative rule for {biggest}",
            )
        values = self.bind_arguments(callee, call)
        start = self.emitted
        parsed = dataclasses.replace(callee.parsed, local_names=set(callee.parsed.local_names))
        saved = (
            self.p,
            self.current,
            self.varied_user,
            self.loads,
            self.origin,
            self.caller_values,
            self.live,
        )
        caller_values: set[str] = set()
        scope: dict[str, str] = {}
        enclosing = parsed.enclosing_scope
        inner_locals = set(parsed.params) | set(callee.kwonly) | stored_names(parsed.node)
        if enclosing is not None:  # a local def reads the enclosing variables as they are now
            scope.update(
                {
                    n: s
                    for n, s in self.current.items()
                    if n not in inner_locals and n in parsed.local_names
                }
            )
        seeds: set[str] = set()
        prologue: list[ast.stmt] = []
        for param, value in values.items():
            if isinstance(value, Tree):
                ssa = self.names.fresh(param)
                self.trees[ssa] = value
                scope[param] = ssa
                seeds.add(param)
                continue
            atom, varied = value.inner, value.varied
            if isinstance(atom, ast.Name):
                scope[param] = atom.id  # no copy: the callee reads the caller's value
                caller_values.add(atom.id)
            else:
                ssa = self.names.fresh(param)
                scope[param] = ssa
                stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=atom)
                prologue.append(annotate(stmt, call))
                if isinstance(atom, ast.Constant):
                    self.constants[ssa] = atom.value
            if varied:
                seeds.add(param)
        if callee.bound_self is not MISSING:
            first = callee.parsed.params[0]
            alias = self.names.fresh(first)
            self.extra_cells[alias] = callee.bound_self
            scope[first] = alias
        if enclosing is not None:
            seeds |= {n for n in scope if n not in values and n in self.varied_user}
        self.alias_free_names(parsed, inner_locals, scope)
        body = body_statements(parsed.node)
        self.inlining.append(callee.key)
        self.inlining_names.append(callee.name)
        try:
            self.p = parsed
            self.current = scope
            self.caller_values = caller_values
            self.loads = [
                (n.lineno, n.id)
                for n in ast.walk(parsed.node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            ]
            body = hoist_assignment_expressions([clone(s) for s in body], self.error)
            body = lower_jumps(body, self.local_name)
            ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
            self.live = live_after(body)
            self.varied_user = possibly_varied(parsed, seeds, body)
            for stmt in prologue:
                self.emit(stmt)
            if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
                raise self.error(
                    body[-1] if body else parsed.node,
                    f"{callee.name!r} must end with `return <value>`: chainrule inlines it "
                    "where it is called and needs the value it returns",
                )
            for stmt in body[:-1]:
                self.statement(stmt)
            ret = body[-1]
            self.origin = ret
            result = self.static_value(ret.value)
            if not isinstance(result, Tree):
                source = result if result is not None else ret.value
                varied = self.varied(source)
                result = _Frozen(self.atom(source), varied)
        finally:
            self.inlining.pop()
            self.inlining_names.pop()
            self.inlined_size[callee.name] = (
                self.inlined_size.get(callee.name, 0) + self.emitted - start
            )
            self.p, self.current, self.varied_user, self.loads, self.origin = saved[:5]
            self.caller_values, self.live = saved[5], saved[6]
        return result

    def alias_free_names(self, parsed: Parsed, local: set[str], scope: dict[str, str]) -> None:
        """Give the callee's global names a binding in the generated function.

        A name keeps its text when the caller's module means the same object
        by it; otherwise (another module, or the name is taken) it becomes a
        binding of its own, e.g. `act` from mylib reached as `act_1`.
        """
        enclosing = parsed.enclosing_scope
        for name in free_loads(parsed.node, local | set(scope)):
            if enclosing is not None and name in parsed.local_names:
                continue  # an enclosing variable not assigned yet: Python's NameError
            obj = parsed.lookup(name)
            if obj is MISSING:
                continue
            root = self.top
            if (
                not root.is_local(name)
                and (
                    name not in self.names.taken
                    or name in self.root_identifiers
                    or name in self.kept_globals
                )
                and root.lookup(name) is obj
            ):
                self.names.taken.add(name)
                self.kept_globals.add(name)
                continue
            if name in self.alias_of and self.extra_cells.get(self.alias_of[name]) is obj:
                scope[name] = self.alias_of[name]
                continue
            alias = self.names.fresh(name)
            self.extra_cells[alias] = obj
            self.alias_of[name] = alias
            scope[name] = alias


def inlined_statements(parsed: Parsed, seen: dict[Any, int]) -> int:
    """A lower bound on the statements inlining `parsed` produces: its own, plus
    those of the user functions it calls, once per call site (loop bodies once).

    Lets the budget refuse an exponential nest of helpers before doing the work.
    """
    key = parsed.node
    if key in seen:
        return seen[key]
    seen[key] = 0  # recursion is refused elsewhere; count it once
    total = 0
    for node in ast.walk(parsed.node):
        if isinstance(node, ast.stmt) and node is not parsed.node:
            total += 1
        elif isinstance(node, ast.Call):
            callee = parsed.resolve(node.func)
            if callee is not MISSING and is_user_function(callee):
                from .parse import parse_function

                func = callee.__func__ if isinstance(callee, types.MethodType) else callee
                try:
                    inner = parse_function(func, inlined=True)
                except Exception:  # the inliner itself reports what is wrong with it
                    continue
                total += inlined_statements(inner, seen)
    seen[key] = total
    return total


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
    return isinstance(expr, (ast.Name, ast.Call, _TreeValue))
