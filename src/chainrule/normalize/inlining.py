"""Calls to Python functions the user wrote: inlined where they are called.

A call to a Python function the user wrote (`is_user_function`: not NumPy,
SciPy, the standard library or chainrule) is inlined: `callee_for` parses
the callee (parse.parse_function, which also finds lambdas and local
`def`s), `bind_arguments` binds its parameters to the caller's values as
Python would (keywords, defaults, keyword-only parameters), and `inline`
normalizes its body in place, in a scope of its own, so its local names get
fresh SSA names and the names it reads from its own module or closure reach
the generated code as bindings.  Each inlined statement keeps its origin,
which is how the comments say `dense: return x @ W + b`.  A stack of the
functions being inlined detects recursion, refused with a CompileError
naming the chain; a budget refuses an exponential nest of helpers.  A
callee with a registered rule, or declared nondifferentiable, is not
inlined: it stays a primitive.  `grad(f)(x)` and `jvp(f, ...)` inside a
differentiated function are inlined too: the first as the code grad
generated, the second as f's forward-mode code (`Normalizer.compile_jvp`).
"""

from __future__ import annotations

import ast
import dataclasses
import sysconfig
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..activity import possibly_varied
from ..aliasing import changes_in_place
from ..errors import CompileError
from ..flow import live_after, value_loads
from ..ir import (
    MISSING,
    Evaluated,
    Parsed,
    Tree,
    annotate,
    clone,
)
from ..parse import body_statements, lambda_to_def, parse_function, stored_names
from ..rules import is_nondifferentiable, lookup, lookup_tangent
from .core import Normalizer, shape_only_second
from .jumps import hoist_assignment_expressions, lower_jumps


@dataclass
class Callee:
    """A function about to be inlined: its parsed form and how to name it."""

    parsed: Parsed
    key: Any  # identity for the recursion check
    name: str
    defaults: dict[str, Any]  # parameter -> default (an object, or an AST for local defs)
    kwonly: list[str]
    bound_self: Any = MISSING  # the receiver of a bound method
    # a local def or lambda passed to another function and called there: the variables
    # of the function that defined it, as they were when it was passed (name -> SSA)
    outer_scope: dict[str, str] | None = None
    outer_varied: set[str] | None = None


@dataclass
class FunctionValue:
    """A function passed as an argument, known when compiling: a local def or lambda
    (`make` gives its Callee) or an object (a module-level function, a NumPy function).
    Calls of the parameter it is bound to are inlined (or stay calls of the object)."""

    make: Callable[[], Callee] | None
    obj: Any = MISSING
    varied: bool = False  # it may read differentiated values of the caller (a closure)


# How the API marks the functions that a differentiated function may call to make
# derivatives of its own (`grad(f)(x)`, `jvp(f, (x,), (v,))`): they are inlined too.
NESTED = "__chainrule_nested__"
NESTED_MAKER = "transformation"  # grad, value_and_grad: called on a function by name
NESTED_JVP = "jvp"  # jvp: its forward-mode code (compile_jvp) is inlined

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
    if getattr(func, "__chainrule_by_source__", False):
        return True  # a runtime helper written in the subset (runtime.DIFFERENTIATED_BY_SOURCE)
    module = (getattr(func, "__module__", None) or "").split(".")[0]
    if module in _LIBRARY_ROOTS:
        return False
    filename = func.__code__.co_filename
    return not (filename.startswith(_STDLIB) and "site-packages" not in filename)


def is_function_object(obj: Any) -> bool:
    """A function that can be passed to a helper and called there: a Python function
    (not a class, not a chainrule transformation) or a NumPy/builtin function with a rule."""
    if isinstance(obj, type) or hasattr(obj, "__chainrule_generated__"):
        return False
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return True
    return lookup(obj) is not None or lookup_tangent(obj) is not None or is_nondifferentiable(obj)


def free_loads(fn: ast.FunctionDef, local: set[str]) -> list[str]:
    seen: dict[str, None] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            seen.setdefault(node.id, None)
    return list(seen)


class Inliner:
    """Inlines calls of the user's functions (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n
        self.in_place: dict[Any, bool] = {}  # function (or local def's SSA name) -> changes

    def static_call(self, expr: ast.Call) -> Any:
        """Inline a call to a Python function; `len` of a container; `dict(k=v)`."""
        func = expr.func
        if isinstance(func, ast.Name) and self.n.p.is_local(func.id):
            local = self.n.local_defs.get(self.n.current.get(func.id, ""))
            if local is None:
                return None
            return self.inline(local(), expr)
        if isinstance(func, ast.Call):  # grad(f)(x): build the transformation now
            made = self.transformation(func)
            if made is None:
                return None
            return self.inline(self.callee_for(made.__chainrule_generated__(), expr), expr)
        callee = self.n.p.resolve(func)
        if callee is MISSING:
            return None
        generated = getattr(callee, "__chainrule_generated__", None)
        if generated is not None and self.n.varied(expr):  # df = grad(f) ... df(x)
            return self.inline(self.callee_for(generated(), expr), expr)
        if getattr(callee, NESTED, None) == NESTED_JVP and self.n.varied(expr):
            return self.inline_jvp(expr)
        if callee is len and len(expr.args) == 1 and not expr.keywords:
            tree = self.n.containers.tree_of(expr.args[0])
            if tree is not None:
                return Evaluated(ast.Constant(len(tree.items)), False)
            return None
        if callee is dict and not expr.args and expr.keywords and self.n.varied(expr):
            return self.n.containers.build_tree(expr)
        if not is_user_function(callee) or not (
            self.n.varied(expr) or self.passes_local_function(expr)
        ):
            return None
        if (
            lookup(callee) is not None
            or lookup_tangent(callee) is not None
            or is_nondifferentiable(callee)
        ):
            return None  # a registered rule (in either mode) makes it a primitive
        return self.inline(self.callee_for(callee, expr), expr)

    def calls_with_varied(self, expr: ast.expr) -> bool:
        """Whether `expr` calls a function of the user's with a differentiated value.

        Such a call is inlined even where no gradient flows through its result
        (`if g(x) > 0`): run as it is, its in-place changes of the arrays it is given
        would be invisible to the checks (a function changed the caller's argument
        through a view in the seed-13 run, 13:8356)."""
        return any(self.user_call_with_varied(node) for node in ast.walk(expr))

    def user_call_with_varied(self, node: ast.AST) -> bool:
        """Whether `node` itself is a call of a user's function given a differentiated value."""
        if not isinstance(node, ast.Call) or not any(
            self.n.varied(a) for a in [*node.args, *(k.value for k in node.keywords)]
        ):
            return False
        func = node.func
        if isinstance(func, ast.Name) and self.n.p.is_local(func.id):
            ssa = self.n.current.get(func.id, "")
            local = self.n.local_defs.get(ssa)
            if local is None:
                return False
            if ssa not in self.in_place:  # (asked for every expression: parse once)
                self.in_place[ssa] = changes_in_place(local().parsed.node)
            return self.in_place[ssa]
        callee = self.n.p.resolve(func)
        if (
            callee is MISSING
            or not is_user_function(callee)
            or lookup(callee) is not None
            or lookup_tangent(callee) is not None
            or is_nondifferentiable(callee)
        ):
            return False
        if callee not in self.in_place:
            try:
                found = changes_in_place(self.callee_for(callee, node).parsed.node)
            except CompileError:
                found = False  # (no source: it runs as it is, as before)
            self.in_place[callee] = found
        return self.in_place[callee]

    def transformation(self, call: ast.Call) -> Any:
        """`grad(f, argnums=...)` with everything known at compile time: the object it makes."""
        maker = self.n.p.resolve(call.func)
        if getattr(maker, NESTED, None) != NESTED_MAKER or not call.args:
            return None
        values = [
            self.n.p.resolve(a) if not isinstance(a, ast.Constant) else a.value for a in call.args
        ]
        keywords = {}
        for kw in call.keywords:
            value = self.n.containers.const_value(kw.value)
            if value is MISSING and isinstance(kw.value, ast.Tuple):
                value = tuple(self.n.containers.const_value(e) for e in kw.value.elts)
            keywords[kw.arg] = value
        if any(v is MISSING for v in values) or any(
            v is MISSING or (isinstance(v, tuple) and MISSING in v) for v in keywords.values()
        ):
            raise self.n.error(
                call,
                f"chainrule.{maker.__name__}(...) inside a differentiated "
                "function needs its arguments known when the code is compiled (a function "
                "by name, literal argnums); create it at module level instead",
            )
        return maker(*values, **keywords)

    def inline_jvp(self, call: ast.Call) -> Any:
        """`jvp(f, (x, y), (dx, None))` inside the function: inline f's forward-mode code."""
        if len(call.args) != 3 or call.keywords:
            raise self.n.error(call, "write jvp(f, (primals...), (tangents...))")
        f = self.n.p.resolve(call.args[0])
        primals, tangents = call.args[1], call.args[2]
        if (
            f is MISSING
            or not isinstance(primals, (ast.Tuple, ast.List))
            or not isinstance(tangents, (ast.Tuple, ast.List))
            or len(primals.elts) != len(tangents.elts)
        ):
            raise self.n.error(
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
        if self.n.compile_jvp is None:
            raise self.n.error(call, "jvp inside a differentiated function needs the pipeline")
        generated = self.n.compile_jvp(f, nums)
        args = [*primals.elts, *(tangents.elts[i] for i in nums)]
        synthetic = ast.copy_location(ast.Call(func=call.func, args=args, keywords=[]), call)
        return self.inline(self.callee_for(generated, call), synthetic)

    def callee_for(self, obj: Any, site: ast.AST) -> Callee:
        bound_self = MISSING
        func = obj
        if isinstance(obj, types.MethodType):
            bound_self, func = obj.__self__, obj.__func__
        parsed = parse_function(func, inlined=True)
        params = list(parsed.params)
        if bound_self is not MISSING:
            if not params:
                raise self.n.error(site, f"the method {func.__qualname__!r} takes no `self`")
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
        if parsed.filename != self.n.top.filename:
            self.n.dependencies.add(parsed.filename)
        return Callee(
            parsed=parsed,
            key=func,  # not its code: two closures of one decorator are two functions
            name=func.__qualname__,
            defaults=defaults,
            kwonly=[a.arg for a in args.kwonlyargs],
            bound_self=bound_self,
        )

    def local_def(self, node: ast.FunctionDef, name: str) -> None:
        """`def g(...)` or `g = lambda ...` inside the function: inlined where it is called."""
        make = self.local_maker(node, name)
        ssa = self.n.define(name)
        self.n.local_defs[ssa] = make

    def local_maker(self, node: ast.FunctionDef, name: str) -> Callable[[], Callee]:
        """How to inline the local def (or lambda) `node` where it is called."""
        args = node.args
        for bad, what in ((args.vararg, "*args"), (args.kwarg, "**kwargs")):
            if bad is not None:
                raise self.n.error(bad, f"a {what} parameter is not supported in a local function")
        if getattr(node, "decorator_list", None):
            raise self.n.error(node, "decorators on a local function are not supported")
        positional = [a.arg for a in args.posonlyargs + args.args]
        enclosing = self.n.p
        enclosing_scope = dict(self.n.current)
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

        return make

    def function_value(self, expr: ast.expr) -> FunctionValue | None:
        """`expr` as a function passed to a helper (`rk4(rhs, y0)`, `rk4(lambda y: -y, y0)`,
        `rk4(f, y0)` with f a local def or a function parameter), or None."""
        if isinstance(expr, ast.Lambda):
            return self.passed(self.local_maker(lambda_to_def(expr), "<lambda>"))
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return None
        if isinstance(expr, ast.Name) and self.n.p.is_local(expr.id):
            ssa = self.n.current.get(expr.id, "")
            if ssa in self.n.function_values:
                return self.n.function_values[ssa]
            if ssa in self.n.local_defs:
                return self.passed(self.n.local_defs[ssa])
            return None
        obj = self.n.p.resolve(expr)
        if obj is MISSING or not is_function_object(obj):
            return None
        return FunctionValue(None, obj)

    def passed(self, make: Callable[[], Callee]) -> FunctionValue:
        """A local def or lambda leaving the function that defines it: it reads that
        function's variables as they are now (Python reads them when it is called, and
        nothing can change them while the callee runs)."""
        outer = self.n.p
        scope, varied = dict(self.n.current), set(self.n.varied_user)

        def make_passed() -> Callee:
            callee = make()
            if callee.outer_scope is not None or self.n.p is outer:
                return callee
            return dataclasses.replace(callee, outer_scope=scope, outer_varied=varied)

        return FunctionValue(make_passed, varied=True)

    def alias_function(self, name: str, value: ast.expr) -> bool:
        """`g = rhs` (a function) or `g = f` (a parameter holding one): g is that function
        for the rest of the compile; False when `value` is not a known function."""
        function = self.function_value(value)
        if function is None:
            return False
        self.bind_function(name, function, value, self.n.define(name))
        return True

    def bind_function(
        self, param: str, value: FunctionValue, site: ast.AST, ssa: str | None = None
    ) -> str:
        """Bind the parameter `param` of the function being inlined to a function value:
        its calls are inlined (a user's function) or stay calls of the object."""
        ssa = ssa or self.n.names.fresh(param)
        self.n.function_values[ssa] = value
        if value.make is not None:
            self.n.local_defs[ssa] = value.make
        elif self.inlinable(value.obj):
            obj = value.obj
            self.n.local_defs[ssa] = lambda: self.callee_for(obj, site)
        else:
            self.n.extra_cells[ssa] = value.obj
        return ssa

    def passes_local_function(self, call: ast.Call) -> bool:
        """A lambda or local def among the arguments: it exists only when compiling, so
        the call is inlined even where nothing in it is differentiated."""
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            if isinstance(arg, ast.Lambda):
                return True
            if isinstance(arg, ast.Name) and self.n.p.is_local(arg.id):
                if self.n.current.get(arg.id, "") in self.n.local_defs:
                    return True
        return False

    def bind_parameter(self, param: str, obj: Any) -> None:
        """A parameter of the differentiated function itself holds the function `obj`
        (the API specialises on it at the first call, and guards on it)."""
        value = FunctionValue(None, obj)
        self.n.function_values[param] = value
        if self.inlinable(obj):
            node = self.n.p.node
            self.n.local_defs[param] = lambda: self.callee_for(obj, node)

    @staticmethod
    def inlinable(obj: Any) -> bool:
        """A user's function without a rule of its own: inlined where it is called."""
        return (
            is_user_function(obj)
            and lookup(obj) is None
            and lookup_tangent(obj) is None
            and not is_nondifferentiable(obj)
        )

    def bind_arguments(self, callee: Callee, call: ast.Call) -> dict[str, Any]:
        """Caller-side values of the callee's parameters, as Python would bind them."""
        parsed = callee.parsed
        params = list(parsed.params)
        if callee.bound_self is not MISSING:
            params = params[1:]
        posonly = {a.arg for a in parsed.node.args.posonlyargs}
        name = callee.name
        values: dict[str, Any] = {}
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                raise self.n.error(arg, "starred arguments (*xs) are not supported in a call")
            if i >= len(params):
                raise self.n.error(
                    arg, f"{name}() takes {len(params)} positional argument(s), given more"
                )
            values[params[i]] = self.call_argument(arg)
        for kw in call.keywords:
            if kw.arg is None:
                raise self.n.error(kw.value, "`**kwargs` in a call is not supported")
            if kw.arg in values:
                raise self.n.error(kw.value, f"{name}() got multiple values for {kw.arg!r}")
            if kw.arg in posonly or (kw.arg not in params and kw.arg not in callee.kwonly):
                raise self.n.error(
                    kw.value, f"{name}() got an unexpected keyword argument {kw.arg!r}"
                )
            values[kw.arg] = self.call_argument(kw.value)
        for p in params + callee.kwonly:
            if p in values:
                continue
            if p not in callee.defaults:
                raise self.n.error(call, f"{name}() is missing the argument {p!r}")
            default = callee.defaults[p]
            if isinstance(default, ast.AST):  # a local def: its default expression
                values[p] = self.call_argument(default)
            elif default is None or isinstance(default, (bool, int, float, str)):
                values[p] = Evaluated(ast.Constant(default), False)
            elif is_function_object(default):  # def layer(x, act=np.tanh): act(x)
                values[p] = FunctionValue(None, default)
            else:
                alias = self.n.names.fresh(f"{p}_default")
                self.n.extra_cells[alias] = default
                values[p] = Evaluated(ast.Name(id=alias, ctx=ast.Load()), False)
        return values

    def call_argument(self, expr: ast.expr) -> Any:
        function = self.function_value(expr)
        if function is not None:
            return function
        value = self.n.containers.static_value(expr)
        if isinstance(value, Tree):
            return value
        source = value if value is not None else expr
        varied = self.n.varied(source)
        return Evaluated(self.n.expressions.atom(source), varied)

    def inline(self, callee: Callee, call: ast.Call) -> Any:
        """Normalize the callee's body here; return the Tree or atom it returns."""
        if any(key is callee.key for key in self.n.inlining):
            chain = " -> ".join([*self.n.inlining_names, callee.name])
            raise self.n.error(
                call,
                f"recursion: {callee.name!r} calls itself ({chain}); chainrule inlines "
                "calls, which never ends for a recursive function: rewrite it as a loop, "
                f"or register a derivative rule for {callee.name} with chainrule.adjoint",
            )
        expected = inlined_statements(callee.parsed, self.n.size_estimates)
        if self.n.emitted + expected > INLINE_BUDGET:
            sizes = dict(self.n.inlined_size)
            sizes[callee.name] = max(sizes.get(callee.name, 0), expected)
            biggest = max(sizes, key=sizes.get)
            raise self.n.error(
                call,
                f"inlining the functions called here would make over {INLINE_BUDGET} "
                f"statements ({biggest!r} alone at least {sizes[biggest]}): call "
                "helpers inside a loop rather than many times in a row, or make the "
                f"largest one a primitive by registering a derivative rule for {biggest}",
            )
        values = self.bind_arguments(callee, call)
        start = self.n.emitted
        parsed = dataclasses.replace(callee.parsed, local_names=set(callee.parsed.local_names))
        saved = (
            self.n.p,
            self.n.current,
            self.n.varied_user,
            self.n.loads,
            self.n.origin,
            self.n.caller_values,
            self.n.live,
            self.n.body,
        )
        caller_values: set[str] = set()
        scope: dict[str, str] = {}
        enclosing = parsed.enclosing_scope
        inner_locals = set(parsed.params) | set(callee.kwonly) | stored_names(parsed.node)
        outer = self.n.current if callee.outer_scope is None else callee.outer_scope
        outer_varied = self.n.varied_user if callee.outer_varied is None else callee.outer_varied
        if enclosing is not None:  # a local def reads the enclosing variables as they are now
            scope.update(
                {
                    n: s
                    for n, s in outer.items()
                    if n not in inner_locals and n in parsed.local_names
                }
            )
        seeds: set[str] = set()
        prologue: list[ast.stmt] = []
        for param, value in values.items():
            if isinstance(value, FunctionValue):
                scope[param] = self.bind_function(param, value, call)
                if value.varied:
                    seeds.add(param)
                continue
            if isinstance(value, Tree):
                ssa = self.n.names.fresh(param)
                self.n.trees[ssa] = value
                scope[param] = ssa
                seeds.add(param)
                continue
            atom, varied = value.inner, value.varied
            if isinstance(atom, ast.Name):
                scope[param] = atom.id  # no copy: the callee reads the caller's value
                caller_values.add(atom.id)
            else:
                ssa = self.n.names.fresh(param)
                scope[param] = ssa
                stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=atom)
                prologue.append(annotate(stmt, call))
                if isinstance(atom, ast.Constant):
                    self.n.constants[ssa] = atom.value
            if varied:
                seeds.add(param)
        if callee.bound_self is not MISSING:
            first = callee.parsed.params[0]
            alias = self.n.names.fresh(first)
            self.n.extra_cells[alias] = callee.bound_self
            scope[first] = alias
        if enclosing is not None:
            seeds |= {n for n in scope if n not in values and n in outer_varied}
        self.alias_free_names(parsed, inner_locals, scope)
        body = body_statements(parsed.node)
        self.n.inlining.append(callee.key)
        self.n.inlining_names.append(callee.name)
        self.n.callee_changes.append([])
        try:
            self.n.p = parsed
            self.n.current = scope
            self.n.caller_values = caller_values
            self.n.loads = value_loads(parsed.node, shape_only_second(parsed))
            body = hoist_assignment_expressions([clone(s) for s in body], self.n.error)
            body = lower_jumps(body, self.n.local_name)
            ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
            self.n.live = live_after(body)
            self.n.body = body
            self.n.varied_user = possibly_varied(parsed, seeds, body)
            for stmt in prologue:
                self.n.emit(stmt)
            if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
                raise self.n.error(
                    body[-1] if body else parsed.node,
                    f"{callee.name!r} must end with `return <value>`: chainrule inlines it "
                    "where it is called and needs the value it returns",
                )
            for stmt in body[:-1]:
                self.n.statements.statement(stmt)
            ret = body[-1]
            self.n.origin = ret
            result = self.n.containers.static_value(ret.value)
            if not isinstance(result, Tree):
                source = result if result is not None else ret.value
                varied = self.n.varied(source)
                result = Evaluated(self.n.expressions.atom(source), varied)
        finally:
            self.n.inlining.pop()
            self.n.inlining_names.pop()
            self.n.inlined_size[callee.name] = (
                self.n.inlined_size.get(callee.name, 0) + self.n.emitted - start
            )
            self.n.p, self.n.current, self.n.varied_user, self.n.loads, self.n.origin = saved[:5]
            self.n.caller_values, self.n.live, self.n.body = saved[5], saved[6], saved[7]
            changes = self.n.callee_changes.pop()
        self.n.writes.check_callee_changes(call, callee.name, changes)
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
            root = self.n.top
            if (
                not root.is_local(name)
                and (
                    name not in self.n.names.taken
                    or name in self.n.root_identifiers
                    or name in self.n.kept_globals
                )
                and root.lookup(name) is obj
            ):
                self.n.names.taken.add(name)
                self.n.kept_globals.add(name)
                continue
            if name in self.n.alias_of and self.n.extra_cells.get(self.n.alias_of[name]) is obj:
                scope[name] = self.n.alias_of[name]
                continue
            alias = self.n.names.fresh(name)
            self.n.extra_cells[alias] = obj
            self.n.alias_of[name] = alias
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
                func = callee.__func__ if isinstance(callee, types.MethodType) else callee
                try:
                    inner = parse_function(func, inlined=True)
                except Exception:  # the inliner itself reports what is wrong with it
                    continue
                total += inlined_statements(inner, seen)
    seen[key] = total
    return total
