"""Stage 1, parse: from a live function object to its AST and its environment.

We parse the *whole* file the function lives in and pick the function's node
out of it, rather than parsing `inspect.getsource(f)` alone.  That keeps every
node's line and column equal to the user's file (so errors need no offset
arithmetic), and it finds lambdas, whose "source" is otherwise a fragment of a
line that does not parse on its own.

The result, `Parsed`, also knows the function's environment: globals (the live
module dict), closure cells and builtins.  Later stages ask it to resolve a
name or a dotted attribute chain (`np.linalg.norm`) to the object it denotes,
because derivative rules are looked up by the identity of that object, never
by the text the user happened to write.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
from dataclasses import dataclass, field
from typing import Any

from .errors import CompileError

_MISSING = object()
_tree_cache: dict[tuple[str, int], ast.Module] = {}


@dataclass
class Parsed:
    """A function's AST (always a FunctionDef) plus what its names refer to."""

    func: Any
    node: ast.FunctionDef
    filename: str
    lines: list[str]
    globals: dict
    cells: dict[str, Any]  # free variable name -> cell object
    params: list[str]
    local_names: set[str] = field(default_factory=set)
    # for a function defined inside the differentiated one: the enclosing
    # variables (name -> SSA name) it can read, as they were at its `def`
    enclosing_scope: dict[str, str] | None = None

    # -- errors ------------------------------------------------------------
    def error(self, node: ast.AST | None, message: str) -> CompileError:
        """A CompileError positioned at `node` in the user's file."""
        lineno = getattr(node, "lineno", None) or self.node.lineno
        col = getattr(node, "col_offset", 0) if node is not None else 0
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        return CompileError(message, self.filename, lineno, col, line)

    def line_text(self, lineno: int) -> str:
        if 0 < lineno <= len(self.lines):
            return self.lines[lineno - 1].strip()
        return ""

    # -- names ---------------------------------------------------------------
    def is_local(self, name: str) -> bool:
        return name in self.local_names

    def lookup(self, name: str) -> Any:
        """The object a free (non-local) name denotes, or _MISSING."""
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:  # cell not yet filled
                return _MISSING
        if name in self.globals:
            return self.globals[name]
        builtins_ns = self.globals.get("__builtins__", builtins)
        if isinstance(builtins_ns, dict):
            return builtins_ns.get(name, _MISSING)
        return getattr(builtins_ns, name, _MISSING)

    def resolve(self, expr: ast.expr) -> Any:
        """Resolve `name` or `name.attr.attr` rooted at a non-local name.

        Returns _MISSING when the expression is not such a chain, is rooted
        at a local variable, or names something that does not exist.
        """
        if isinstance(expr, ast.Name):
            if self.is_local(expr.id):
                return _MISSING
            return self.lookup(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value)
            if base is _MISSING:
                return _MISSING
            return getattr(base, expr.attr, _MISSING)
        return _MISSING


MISSING = _MISSING


def _module_tree(filename: str, lines: list[str]) -> ast.Module | None:
    text = "".join(lines)
    key = (filename, hash(text))
    tree = _tree_cache.get(key)
    if tree is None:
        try:
            tree = ast.parse(text, filename=filename)
        except SyntaxError:
            return None
        _tree_cache[key] = tree
    return tree


def _unavailable(func: Any, why: str) -> CompileError:
    name = getattr(func, "__qualname__", None) or repr(func)
    return CompileError(
        f"the source of {name!r} is unavailable ({why}); chainrule differentiates "
        "functions defined in a .py file or a notebook cell, so define it there, "
        "or register a derivative rule for it"
    )


def _lambda_to_def(lam: ast.Lambda) -> ast.FunctionDef:
    ret = ast.Return(value=lam.body)
    ast.copy_location(ret, lam.body)
    fn = ast.FunctionDef(
        name="<lambda>",
        args=lam.args,
        body=[ret],
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    if hasattr(ast.FunctionDef, "type_params"):
        fn.type_params = []
    return ast.copy_location(fn, lam)


def _find_node(func: Any, tree: ast.Module) -> ast.FunctionDef | None:
    code = func.__code__
    first = code.co_firstlineno
    name = func.__name__
    candidates: list[ast.AST] = []
    for node in ast.walk(tree):
        if name == "<lambda>" and isinstance(node, ast.Lambda):
            if node.lineno == first:
                candidates.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            starts = [node.lineno] + [d.lineno for d in node.decorator_list]
            if first in starts:
                candidates.append(node)
    if not candidates:
        return None
    if len(candidates) > 1 and name == "<lambda>":
        candidates = _lambdas_for(candidates, code)  # type: ignore[arg-type]
    node = candidates[0]
    if isinstance(node, ast.Lambda):
        return _lambda_to_def(node)
    return node  # type: ignore[return-value]


def _lambdas_for(candidates: list[ast.Lambda], code: Any) -> list[ast.AST]:
    """Of the lambdas on one line, the one `code` was compiled from, best first.

    Its parameters must match the code's; of those whose columns contain
    every instruction of the code (3.11+), or whose bytecode matches, the
    innermost wins: `lambda k: lambda x: k * x` holds two lambdas, and the
    inner one's instructions lie inside the outer one's span too.
    """
    argcount = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:argcount])
    if code.co_flags & 0x04:  # *args
        names.append(code.co_varnames[argcount])
    if code.co_flags & 0x08:  # **kwargs
        names.append(code.co_varnames[argcount + bool(code.co_flags & 0x04)])

    def params(node: ast.Lambda) -> list[str]:
        a = node.args
        out = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
        out += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        return out

    same_params = [c for c in candidates if sorted(params(c)) == sorted(names)] or candidates
    matching = [c for c in same_params if _same_lambda(c, code)] or same_params
    # innermost first: a lambda nested in another starts later or ends earlier
    return sorted(matching, key=lambda c: (-(c.col_offset or 0), c.end_col_offset or 0))


def _same_lambda(node: ast.Lambda, code: Any) -> bool:
    """Tell two lambdas on one line apart by their position, else their bytecode."""
    positions = getattr(code, "co_positions", None)
    if positions is not None:  # Python 3.11+: columns of every instruction
        spans = [
            (p[2], p[3])
            for p in positions()
            if p[0] == node.lineno and p[2] is not None and p[3] is not None and p[2] != p[3]
        ]
        if spans and node.end_col_offset is not None:
            return (
                node.col_offset <= min(s for s, _ in spans)
                and max(e for _, e in spans) <= node.end_col_offset
            )
    try:
        other = compile(ast.Expression(body=node), "<lambda>", "eval").co_consts[0]
    except Exception:  # pragma: no cover - defensive
        return False
    return getattr(other, "co_code", None) == code.co_code and other.co_consts == code.co_consts


def _stored_names(fn: ast.FunctionDef) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node is not fn:
                names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names


def parse_function(func: Any, inlined: bool = False) -> Parsed:
    """Parse `func` into a `Parsed`, or raise CompileError saying why not.

    `inlined` parses a function called by the one being differentiated:
    keyword-only parameters are fine there (the call site binds them).
    A bound method (`grad(model.loss)`) is parsed as its function with the
    receiver as a fixed value: `self.W` is read, not differentiated.
    A callable chainrule returned (grad(f), jvp functions) is parsed as the
    code it generated, so transformations compose.
    """
    generated = getattr(func, "__chainrule_generated__", None)
    if generated is not None:  # grad(f) and friends: transform the code they generated
        func = generated()
    func = inspect.unwrap(func)
    if inspect.ismethod(func) and inspect.isfunction(func.__func__) and not inlined:
        return _bound_method(func)
    if not (inspect.isfunction(func)):
        primitive = _primitive_wrapper(func)
        if primitive is not None:
            return primitive
        raise _unavailable(func, "it is not a Python function")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        kind = "generator"
    elif inspect.iscoroutinefunction(func):
        kind = "coroutine"
    else:
        kind = None
    filename = func.__code__.co_filename
    try:
        lines, _ = inspect.findsource(func)
    except (OSError, TypeError) as exc:
        raise _unavailable(func, str(exc) or "no file") from None
    if not lines:
        lines = linecache.getlines(filename)
    tree = _module_tree(filename, lines)
    node = _find_node(func, tree) if tree is not None else None
    if node is None:
        raise _unavailable(func, "its definition could not be located in " + filename)
    cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
    parsed = Parsed(
        func=func,
        node=node,  # type: ignore[arg-type]
        filename=filename,
        lines=lines,
        globals=func.__globals__,
        cells=cells,
        params=[],
    )
    if kind is not None:
        where = next(
            (n for n in ast.walk(node) if isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await))),
            node,
        )
        raise parsed.error(
            where,
            f"{func.__name__!r} is a {kind} function; chainrule differentiates ordinary "
            "functions that return a value, so collect the values in a list or array "
            "and return that instead",
        )
    if isinstance(node, ast.AsyncFunctionDef):  # pragma: no cover - caught above
        raise parsed.error(node, "async functions cannot be differentiated")
    args = node.args
    for bad, what in (
        (args.vararg, "*args"),
        (args.kwarg, "**kwargs"),
    ):
        if bad is not None:
            raise parsed.error(
                bad, f"a {what} parameter cannot be differentiated; name each parameter instead"
            )
    if args.kwonlyargs and not inlined:
        raise parsed.error(
            args.kwonlyargs[0],
            "keyword-only parameters are not supported; make them ordinary positional "
            "parameters (defaults are fine)",
        )
    parsed.params = [a.arg for a in args.posonlyargs + args.args]
    parsed.local_names = set(parsed.params) | _stored_names(node)
    return parsed


def _bound_method(method: Any) -> Parsed:
    """`grad(obj.method)`: `self` becomes a fixed value, the rest are the parameters."""
    import copy
    import types

    parsed = parse_function(method.__func__)
    if not parsed.params:
        raise parsed.error(parsed.node, f"{method.__qualname__!r} takes no `self` parameter")
    first = parsed.params[0]
    node = copy.copy(parsed.node)
    node.args = copy.copy(node.args)
    if node.args.posonlyargs:
        node.args.posonlyargs = node.args.posonlyargs[1:]
    else:
        node.args.args = node.args.args[1:]
    parsed.node = node
    parsed.func = method
    parsed.params = parsed.params[1:]
    if first not in _stored_names(node):
        parsed.local_names.discard(first)
        parsed.cells = {**parsed.cells, first: types.CellType(method.__self__)}
    return parsed


def _primitive_wrapper(func: Any) -> Parsed | None:
    """`grad(np.sin)`: a primitive with a rule becomes `def sin(x): return sin(x)`."""
    from .rules import display_name, lookup

    rule = lookup(func)
    if rule is None:
        return None
    params = [
        p.name
        for p in rule.signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    import math
    import types

    import numpy

    name = display_name(func)
    env: dict[str, Any] = {"np": numpy, "math": math}
    try:
        found = eval(name, {"__builtins__": {}}, env)  # a dotted name, e.g. np.linalg.det
    except Exception:
        found = None
    if found is not func:
        name = getattr(func, "__name__", "primitive")
        env = {name: func}
    arglist = ", ".join(params)
    text = f"def {name.replace('.', '_')}({arglist}):\n    return {name}({arglist})\n"
    node = ast.parse(text).body[0]
    assert isinstance(node, ast.FunctionDef)
    stub = types.SimpleNamespace(__name__=node.name, __qualname__=name, __defaults__=None)
    filename = f"<chainrule: {name}>"
    return Parsed(
        func=stub,
        node=node,
        filename=filename,
        lines=text.splitlines(True),
        globals={**env, "__name__": "__main__"},
        cells={},
        params=params,
        local_names=set(params),
    )
