"""Stage 1, parse: from a live function object to its AST and its environment.

We parse the *whole* file the function lives in and pick the function's node
out of it, rather than parsing `inspect.getsource(f)` alone.  That keeps every
node's line and column equal to the user's file (so errors need no offset
arithmetic), and it finds lambdas, whose "source" is otherwise a fragment of a
line that does not parse on its own.

The result, `Parsed` (ir.py), also knows the function's environment: globals (the live
module dict), closure cells and builtins.  Later stages ask it to resolve a
name or a dotted attribute chain (`np.linalg.norm`) to the object it denotes,
because derivative rules are looked up by the identity of that object, never
by the text the user happened to write.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import linecache
import math
import os
import types
from typing import Any

import numpy

from .errors import CompileError
from .ir import Parsed
from .rules import display_name, is_nondifferentiable, lookup

_tree_cache: dict[tuple[str, int], ast.Module] = {}


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


# -- a function's own lines ---------------------------------------------------------------
#
# Parsing and walking a whole module per function made a cache hit of a small function
# cost 30 times more at the end of an 8,000-line file than alone in a small one.  So a
# function whose `def` starts a line is first read from its own lines only: from its
# first decorator to the last line its code (and nested code) spans, and the deeper
# indented lines after it, with the module's unindented imports, the other lines left
# blank so that lines and columns stay the file's (an indented method's lines go
# under an `if 1:`).  That text is trusted
# only if it compiles to a code object equal to the function's (as `source_matches`
# checks for the whole file); else (a closure's free names, a method's `__class__` or
# mangled names, a lambda) the whole module is read as before.

_own_trees: dict[tuple[int, int], tuple[types.CodeType, ast.Module | None]] = {}


def _last_line(code: types.CodeType) -> int:
    """The last line `code`, or code nested in it, has an instruction on (or reaches to)."""
    last = code.co_firstlineno
    positions = getattr(code, "co_positions", None)
    if positions is not None:  # 3.11+: where each instruction's expression ends
        last = max([last, *(p[1] for p in positions() if p[1] is not None)])
    else:
        last = max([last, *(line for _, _, line in code.co_lines() if line is not None)])
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


def _own_text(code: types.CodeType, lines: list[str]) -> str | None:
    """The file's text with every line blank but those of the def of `code` (None for a
    lambda, or a def not where its code says)."""
    first = code.co_firstlineno
    if code.co_name == "<lambda>" or not 0 < first <= len(lines):
        return None
    head = lines[first - 1]
    depth = len(head) - len(head.lstrip())
    if not head.lstrip().startswith(("def ", "async def ", "@")) or (depth and first < 2):
        return None
    end = min(max(_last_line(code), first), len(lines))
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > depth
    ):
        end += 1
    text = ["\n"] * len(lines)
    for i in _imports(lines):  # (3.11 compiles a method call on an imported module apart)
        text[i] = lines[i]
    if depth:
        text[first - 2] = "if 1:\n"
    text[first - 1 : end] = lines[first - 1 : end]
    return "".join(text)


_import_lines: dict[int, tuple[list[str], list[int]]] = {}


def _imports(lines: list[str]) -> list[int]:
    """The indices of the lines of the module's unindented import statements."""
    known = _import_lines.get(id(lines))
    if known is not None and known[0] is lines:
        return known[1]
    if len(_import_lines) > 64:
        _import_lines.clear()
    out: list[int] = []
    _import_lines[id(lines)] = (lines, out)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("import ", "from ")):
            out.append(i)
            open_paren = "(" in line and ")" not in line
            while i + 1 < len(lines) and (open_paren or line.rstrip().endswith("\\")):
                i += 1
                line = lines[i]
                out.append(i)
                open_paren = open_paren and ")" not in line
        i += 1
    return out


def _own_tree(code: types.CodeType, lines: list[str]) -> ast.Module | None:
    """The tree of the function's own lines, when they compile to `code` (see above)."""
    text = _own_text(code, lines)
    if text is None:
        return None
    key = (id(code), hash(text))
    known = _own_trees.get(key)
    if known is not None and known[0] is code:
        return known[1]
    tree: ast.Module | None = None
    try:
        candidate = ast.parse(text, filename=code.co_filename)
        module = compile(candidate, code.co_filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        module = None
    if module is not None and any(
        _same_code(c, code)
        for c in _code_objects(module)
        if c.co_name == code.co_name and c.co_firstlineno == code.co_firstlineno
    ):
        tree = candidate
    _own_trees[key] = (code, tree)
    return tree


def _unavailable(func: Any, why: str, advice: str = "") -> CompileError:
    name = getattr(func, "__qualname__", None) or repr(func)
    advice = advice or (
        "chainrule differentiates functions defined in a .py file or a notebook cell, "
        "so define it there, or register a derivative rule for it"
    )
    return CompileError(f"the source of {name!r} is unavailable ({why}); {advice}")


def lambda_to_def(lam: ast.Lambda) -> ast.FunctionDef:
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
    name = code.co_name  # not __name__, which functools.wraps copies from the inner function
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
        return lambda_to_def(node)
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


def stored_names(fn: ast.FunctionDef) -> set[str]:
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


def parse_function(func: Any, inlined: bool = False) -> Parsed:
    """Parse `func` into a `Parsed`, or raise CompileError saying why not.

    `inlined` parses a function called by the one being differentiated:
    keyword-only parameters are fine there (the call site binds them).
    A bound method (`grad(model.loss)`) is parsed as its function with the
    receiver as a fixed value: `self.W` is read, not differentiated.
    A callable chainrule returned (grad(f), jvp functions) is parsed as the
    code it generated, so transformations compose.  A decorator's wrapper
    (`functools.wraps` sets `__wrapped__`) is parsed as the wrapper, which is
    what the user calls: it is never unwrapped.
    """
    generated = getattr(func, "__chainrule_generated__", None)
    if generated is not None:  # grad(f) and friends: transform the code they generated
        func = generated()
    refused = getattr(type(func), "__chainrule_refused__", None)
    if isinstance(refused, str):  # jacfwd(f), hessian(f): no one function to read
        raise CompileError(refused.format(name=repr(func)))
    if inspect.isfunction(func) and _library_function(func):
        primitive = _primitive_wrapper(func)  # np.row_stack: its rule, not its source
        if primitive is not None:
            return primitive
    if inspect.ismethod(func) and inspect.isfunction(func.__func__) and not inlined:
        primitive = _primitive_wrapper(func)  # a method with a rule: scipy.stats.t.pdf
        return primitive if primitive is not None else _bound_method(func)
    if not (inspect.isfunction(func)):
        primitive = _primitive_wrapper(func)
        if primitive is not None:
            return primitive
        if hasattr(func, "__wrapped__"):
            raise _unavailable(func, "it is a wrapper chainrule cannot see into", _DECORATE)
        if isinstance(func, functools.partial):
            name = getattr(func.func, "__name__", "f")
            raise CompileError(
                f"functools.partial({name}, ...) is not differentiated directly (chainrule "
                f"reads a function's source, and a partial object has none); write a lambda "
                f"that fixes the arguments instead, e.g. grad(lambda w: {name}(w, X, y, "
                f"lam=1.0))"
            )
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
    lines = _lines_of_the_code(func, lines)
    tree = _own_tree(func.__code__, lines) or _module_tree(filename, lines)
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
            raise parsed.error(bad, _variadic_message(func, what))
    if args.kwonlyargs and not inlined:
        raise parsed.error(
            args.kwonlyargs[0],
            "keyword-only parameters are not supported; make them ordinary positional "
            "parameters (defaults are fine)",
        )
    parsed.params = [a.arg for a in args.posonlyargs + args.args]
    parsed.local_names = set(parsed.params) | stored_names(node)
    return parsed


_DECORATE = (
    "chainrule differentiates what you call and never unwraps a decorator: apply "
    "chainrule.grad to the undecorated function before decorating it, or write the "
    "wrapper as a Python function with named parameters"
)


def _variadic_message(func: Any, what: str) -> str:
    inner = getattr(func, "__wrapped__", None)
    if inner is None:
        return f"a {what} parameter cannot be differentiated; name each parameter instead"
    inner_name = getattr(inner, "__qualname__", None) or repr(inner)
    wrapper = func.__code__.co_name
    return (
        f"{inner_name!r} is decorated: what you call is the decorator's wrapper "
        f"{wrapper!r}, whose {what} parameter hides what it passes on, so chainrule cannot "
        "differentiate it (and never unwraps a decorator silently); apply chainrule.grad "
        "to the undecorated function before decorating it, or give the wrapper named "
        f"parameters (def {wrapper}(x, ...))"
    )


# -- does the file still hold the code that runs? ----------------------------------------
#
# The source comes from linecache, which re-reads a file only when its size or
# modification time changed; a file rewritten with the same size and time (or edited
# after the module was imported) gives text that is not the code Python runs.  So the
# text is compiled the way an import compiles it and the function's code object is
# looked for in the result: bytecode, names, constants and line table must be equal.

_module_codes: dict[tuple[str, int], types.CodeType | None] = {}
_matched: dict[tuple[int, int], tuple[types.CodeType, bool]] = {}


def _lines_of_the_code(func: Any, lines: list[str]) -> list[str]:
    """`lines` if they compile to `func`'s code, else the file read again, else an error."""
    code = func.__code__
    filename = code.co_filename
    if not os.path.isfile(filename) or source_matches(code, lines):
        return lines
    fresh = linecache.updatecache(filename, func.__globals__)  # read the file again
    if fresh and source_matches(code, fresh):
        return fresh
    raise stale_source(func, fresh or lines)


def stale_source(func: Any, lines: list[str]) -> CompileError:
    """The error for a function whose file no longer holds its code."""
    code = func.__code__
    first = code.co_firstlineno
    line = lines[first - 1] if 0 < first <= len(lines) else ""
    return CompileError(
        f"the file of {func.__qualname__!r} has changed since it was defined: its text no "
        "longer compiles to the code Python runs, so chainrule cannot read the function "
        "being called; reload its module (importlib.reload) or restart Python",
        code.co_filename,
        first,
        0,
        line,
    )


def check_source(func: Any) -> None:
    """Raise CompileError if `func` is defined in a file that no longer holds its code
    (the pipeline asks before using a compiled function from the disk cache)."""
    func = getattr(func, "__func__", func)
    if not inspect.isfunction(func) or not os.path.isfile(func.__code__.co_filename):
        return
    try:
        lines, _ = inspect.findsource(func)
    except (OSError, TypeError):
        return  # parse_function says why when it is asked
    _lines_of_the_code(func, lines)


def source_matches(code: types.CodeType, lines: list[str]) -> bool:
    """Whether `lines`, compiled as a module, contain a code object equal to `code`."""
    if _own_tree(code, lines) is not None:
        return True  # its own lines compile to it (so the file's do)
    text = "".join(lines)
    memo_key = (id(code), hash(text))
    known = _matched.get(memo_key)
    if known is not None and known[0] is code:
        return known[1]
    key = (code.co_filename, hash(text))
    if key not in _module_codes:
        try:
            _module_codes[key] = compile(text, code.co_filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            _module_codes[key] = None
    module = _module_codes[key]
    found = module is not None and any(
        _same_code(candidate, code)
        for candidate in _code_objects(module)
        if candidate.co_name == code.co_name and candidate.co_firstlineno == code.co_firstlineno
    )
    if not found and _instrumented(code):
        found = True  # rewritten by a tool (pytest's asserts): cannot be compared
    _matched[memo_key] = (code, found)
    return found


def _code_objects(code: types.CodeType) -> Any:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _code_objects(const)


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    fields = ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_argcount")
    if any(getattr(a, f) != getattr(b, f) for f in fields):
        return False
    table = "co_linetable" if hasattr(a, "co_linetable") else "co_lnotab"
    if getattr(a, table) != getattr(b, table) or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) or isinstance(y, types.CodeType):
            if not (type(x) is type(y) and _same_code(x, y)):
                return False
        elif type(x) is not type(y) or (x != y and not (x != x and y != y)):  # nan == nan
            return False
    return True


def _instrumented(code: types.CodeType) -> bool:
    return any(name.startswith("@") for name in code.co_names) or any(
        _instrumented(c) for c in code.co_consts if isinstance(c, types.CodeType)
    )


def function_node(func: Any) -> ast.FunctionDef | None:
    """The `def` (or lambda, as a def) of a Python function, or None; for the guards,
    which read the names a function mentions, and never raise."""
    if not inspect.isfunction(func):
        return None
    try:
        lines, _ = inspect.findsource(func)
        tree = _own_tree(func.__code__, lines) or _module_tree(func.__code__.co_filename, lines)
        return _find_node(func, tree) if tree is not None else None
    except Exception:
        return None


def _bound_method(method: Any) -> Parsed:
    """`grad(obj.method)`: `self` becomes a fixed value, the rest are the parameters."""
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
    if first not in stored_names(node):
        parsed.local_names.discard(first)
        parsed.cells = {**parsed.cells, first: types.CellType(method.__self__)}
    return parsed


def _literal(value: Any) -> bool:
    """A default a wrapper can write as a literal (and read back as the same value)."""
    return value is None or (
        type(value) in (bool, int, float, str) and ast.literal_eval(repr(value)) == value
    )


def _library_function(func: Any) -> bool:
    """A NumPy or SciPy function (written in Python), whose rule chainrule uses."""
    return (getattr(func, "__module__", None) or "").split(".")[0] in ("numpy", "scipy")


def variadic_rule(func: Any) -> bool:
    """Whether `func` is a primitive whose rule takes *args (np.einsum's operands)."""
    rule = lookup(func) if not inspect.isfunction(func) or _library_function(func) else None
    return rule is not None and any(
        p.kind is p.VAR_POSITIONAL for p in rule.signature.parameters.values()
    )


def wrapper_parameters(func: Any) -> tuple[list[str], dict[str, Any]]:
    """The parameters of the wrapper `grad(np.sin)` differentiates: the rule's required
    positional ones, then its optional ones up to the first whose default is not a
    literal (so `vjp(scipy.stats.t.pdf, x, df, loc)` passes loc on, differentiated like
    the others).  Empty for a function without a rule."""
    rule = lookup(func)
    if rule is None:
        if is_nondifferentiable(func) and isinstance(func, numpy.ufunc):  # np.floor
            return ["x"] if func.nin == 1 else [f"x{k + 1}" for k in range(func.nin)], {}
        return [], {}
    positional = [
        p
        for p in rule.signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p.name for p in positional if p.default is p.empty]
    defaults: dict[str, Any] = {}
    for p in positional[len(required) :]:
        if p.default is p.empty or not _literal(p.default):
            break
        defaults[p.name] = p.default
    return required, defaults


def _primitive_wrapper(func: Any) -> Parsed | None:
    """`grad(np.sin)`: a primitive with a rule becomes `def sin(x): return sin(x)`
    (`np.floor`, without derivative, too: its gradient is 0)."""
    required, defaults = wrapper_parameters(func)
    if not required and not defaults:
        return None
    params = required + list(defaults)
    optional = [f"{k}={v!r}" for k, v in defaults.items()]
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
    header = ", ".join(required + optional)
    text = f"def {name.replace('.', '_')}({header}):\n    return {name}({arglist})\n"
    node = ast.parse(text).body[0]
    assert isinstance(node, ast.FunctionDef)
    stub = types.SimpleNamespace(
        __name__=node.name, __qualname__=name, __defaults__=tuple(defaults.values()) or None
    )
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
