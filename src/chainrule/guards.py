"""Guards: what compiled code assumed about the world, checked at every call.

Compiling `f` resolves names to objects: which function `act` is, that
`cfg.act` is `np.tanh`, which helper `layer` is (and, since helpers are
inlined, that helper's code, its defaults and its own globals), what a closure
cell holds, `f`'s defaults and `f.__code__` itself.  `resolutions(f)` lists
every such resolution, found the same way compiling finds them: the names and
attribute chains each function's `def` reads, starting from `f` and following
the user's functions it reaches.  It is computed before compiling (the disk
cache's key describes the same list, cache.py) and again after a guard fails.

`make_guard(found, frozen)` turns the list into one generated function of no
arguments that answers "does everything still resolve as when compiling?", by
identity: `G['cfg'].act is V3 and V3.__code__ is V4 ...`.  Two kinds of
resolution are checked more loosely, because checking them by identity would
recompile on every change of data the generated code reads anyway:

* a value that is data (an array, a number, a container, an object that is
  not callable) which the generated code reads live, through the user's
  module or cell, is checked by its type only; data frozen into the
  generated code (`frozen`: what its closure cells hold, e.g. an inlined
  helper's global) is checked by identity;
* an attribute that gives a new object at each access (a bound method) is
  checked by its type, its `__self__` and its `__func__`.

A module or class on a chain is checked once by identity and the rest of the
chain is read from the expected object, so `np.sum` and `np.exp` share the
check of `np`.  A failed guard makes the pipeline compile (and cache) another
variant (pipeline.py); later specialisations add checks to the same guard.
"""

from __future__ import annotations

import ast
import builtins
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .normalize.inlining import is_user_function
from .parse import function_node, stored_names


@dataclass(frozen=True, eq=False)
class Resolution:
    """One thing compiling assumed: `path` read from `root` gave `value`.

    `kind` says what the root is: "global" (a module dict, read at `name`),
    "builtin" (a builtin, assumed not shadowed by a global `name` of the module
    dict `root`), "cell" (a closure cell), "object" (a fixed object: the
    receiver of a bound method) or "function" (the function itself, for
    `f.__code__`, `f.__defaults__` and `f.__kwdefaults__`, always checked by
    identity).
    """

    label: str  # where, for people and for the disk key: "pkg.mod.f: cfg.act"
    kind: str
    root: Any
    name: str
    path: tuple[str, ...]
    value: Any


def always() -> bool:
    """The guard of a function that assumed nothing."""
    return True


# -- finding the resolutions ----------------------------------------------------------


def resolutions(func: Any) -> list[Resolution]:
    """Everything compiling `func` resolves (see the module doc)."""
    out: list[Resolution] = []
    finder = _Finder(out)
    if isinstance(func, types.FunctionType):  # whatever its module: it is what is compiled
        finder.seen.add(id(func))
        finder.function(func)
    else:
        finder.callable(func)
    return out


def _namespace(value: Any) -> bool:
    return isinstance(value, (types.ModuleType, type))


_VALUES = (int, float, complex, str, bytes, tuple, list, dict, set, frozenset, type(None))


def _is_data(value: Any) -> bool:
    """Not a function, class or module: what the generated code reads as a value."""
    return not callable(value) and not isinstance(value, types.ModuleType)


def _opaque(value: Any) -> bool:
    """A value whose attributes are computed when the code runs (`W.T`, `x.shape`):
    a chain stops there.  Other objects (a config namespace) are walked through."""
    return isinstance(value, _VALUES) or type(value).__module__ == "numpy"


class _Finder:
    def __init__(self, out: list[Resolution]) -> None:
        self.out = out
        self.seen: set[int] = set()
        self.keep: list[Any] = []  # what `seen` holds ids of stays alive meanwhile

    def callable(self, obj: Any) -> None:
        """Follow a function the compiled code may inline (or a transformation of one)."""
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        self.keep.append(obj)
        if hasattr(obj, "__chainrule_generated__"):  # grad(g) & co.: g's resolutions
            inner = getattr(obj, "fun", None)
            if inner is not None:
                self.callable(inner)
        elif isinstance(obj, types.MethodType):
            if is_user_function(obj.__func__):
                self.function(obj.__func__, receiver=obj)
        elif isinstance(obj, types.FunctionType) and is_user_function(obj):
            self.function(obj)

    def add(self, label: str, kind: str, root: Any, name: str, path: tuple, value: Any) -> None:
        self.out.append(Resolution(label, kind, root, name, path, value))

    def function(self, func: types.FunctionType, receiver: Any = None) -> None:
        where = f"{func.__module__}.{func.__qualname__}"
        code = func.__code__
        self.add(f"{where}.__code__", "function", func, "", ("__code__",), code)
        defaults = func.__defaults__
        self.add(f"{where}.__defaults__", "function", func, "", ("__defaults__",), defaults)
        if code.co_kwonlyargcount:
            kwdefaults = func.__kwdefaults__
            self.add(
                f"{where}.__kwdefaults__", "function", func, "", ("__kwdefaults__",), kwdefaults
            )
        for value in func.__defaults__ or ():  # a default may be a function it calls
            self.callable(value)
        node = function_node(func)
        if node is None:
            return
        local = stored_names(node) | {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
        cells = dict(zip(code.co_freevars, func.__closure__ or ()))
        first = node.args.args[0].arg if receiver is not None and node.args.args else None
        for name, path in _chains(node):
            if name == first:
                self.chain(f"{where}: {name}", "object", receiver.__self__, "", path)
            elif name in local:
                continue
            elif name in cells:
                self.chain(f"{where}: {name}", "cell", cells[name], name, path)
            elif name in func.__globals__:
                self.chain(f"{where}: {name}", "global", func.__globals__, name, path)
            else:
                space = func.__globals__.get("__builtins__", builtins)
                space = space if isinstance(space, dict) else vars(space)
                if name in space:
                    self.add(f"{where}: {name}", "builtin", func.__globals__, name, (), space[name])

    def chain(self, label: str, kind: str, root: Any, name: str, path: tuple[str, ...]) -> None:
        """The resolutions along `name.a.b`: modules and classes on the way, and the end
        (or the first piece of data, whose attributes are computed when the code runs)."""
        try:
            if kind == "cell":
                value = root.cell_contents
            elif kind == "global":
                value = root[name]
            else:
                value = root
        except (ValueError, KeyError):
            return  # an empty cell: Python's NameError when the code runs
        done: tuple[str, ...] = ()
        for attr in path:
            if _opaque(value):
                break
            if _namespace(value) and (kind != "object" or done):
                self.add(_label(label, done), kind, root, name, done, value)
            try:
                value = getattr(value, attr)
            except Exception:
                return  # compiling refuses it, or it is only read when the code runs
            done = (*done, attr)
        if kind == "object" and not done:
            return  # the receiver itself: fixed for the method's lifetime
        self.add(_label(label, done), kind, root, name, done, value)
        self.callable(value)


def _label(label: str, path: tuple[str, ...]) -> str:
    return label + "".join("." + a for a in path)


def _chains(node: ast.AST) -> list[tuple[str, tuple[str, ...]]]:
    """The names a function reads and the attribute chains on them: `np.linalg.norm`
    gives ("np", ("linalg", "norm")); nested chains count once, at their longest."""
    found: dict[tuple[str, tuple[str, ...]], None] = {}
    inner: set[int] = set()
    for sub in ast.walk(node):
        if id(sub) in inner or not isinstance(sub, (ast.Attribute, ast.Name)):
            continue
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            continue
        path: list[str] = []
        cur: ast.AST = sub
        while isinstance(cur, ast.Attribute):
            path.append(cur.attr)
            cur = cur.value
            inner.add(id(cur))
        if isinstance(cur, ast.Name):
            found.setdefault((cur.id, tuple(reversed(path))), None)
    return list(found)


# -- the guard function -----------------------------------------------------------------


def make_guard(found: list[Resolution], frozen: set[int]) -> Callable[[], bool]:
    """One function that checks every resolution in `found` (see the module doc);
    `frozen` holds the ids of the objects the generated code holds in its cells."""
    if not found:
        return always
    values: list[Any] = []
    var_of: dict[int, str] = {}

    def bind(obj: Any) -> str:
        name = var_of.get(id(obj))
        if name is None:
            name = var_of[id(obj)] = f"V{len(values)}"
            values.append(obj)
        return name

    bases: dict[tuple, str] = {}  # (root, name, path) of a checked module or class -> its var
    conditions: dict[str, None] = {}
    for r in found:
        if r.kind == "builtin":
            conditions[f"{r.name!r} not in {bind(r.root)}"] = None
            continue
        expr, start = _root_expression(r, bind), 0
        for k in range(len(r.path) - 1, -1, -1):  # the longest checked module or class
            base = bases.get((id(r.root), r.name, r.path[:k]))
            if base is not None:
                expr, start = base, k
                break
        expr += "".join("." + a for a in r.path[start:])
        conditions[_condition(r, expr, bind, frozen)] = None
        if _namespace(r.value) and r.kind != "builtin":
            bases[(id(r.root), r.name, r.path)] = bind(r.value)
    # a check that fails already (a resolution that cannot be read twice alike) would
    # recompile at every call: it is left out
    scope = {f"V{i}": v for i, v in enumerate(values)}
    kept = [c for c in conditions if _holds(c, scope)]
    if not kept:
        return always
    params = ", ".join(f"V{i}" for i in range(len(values)))
    test = "\n            and ".join(kept)
    source = (
        f"def __chainrule_guard_factory__({params}):\n"
        "    def guard():\n"
        "        try:\n"
        f"            return ({test})\n"
        "        except Exception:\n"
        "            return False\n"
        "    return guard\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<chainrule guard>", "exec"), namespace)
    guard = namespace["__chainrule_guard_factory__"](*values)
    guard.source = source  # type: ignore[attr-defined]  # what it checks, for people
    guard.checks = len(kept)  # type: ignore[attr-defined]
    # the same test, for a caller that folds it into its own generated check
    # (arguments.make_runner): its text and the objects its names V0, V1, ... stand for
    guard.test = test  # type: ignore[attr-defined]
    guard.values = scope  # type: ignore[attr-defined]
    return guard


def _holds(condition: str, scope: dict[str, Any]) -> bool:
    try:
        return bool(eval(condition, {"__builtins__": {"type": type}}, scope))
    except Exception:
        return False


def _root_expression(r: Resolution, bind: Callable[[Any], str]) -> str:
    if r.kind == "global":
        return f"{bind(r.root)}[{r.name!r}]"
    if r.kind == "cell":
        return f"{bind(r.root)}.cell_contents"
    return bind(r.root)


def _condition(r: Resolution, expr: str, bind: Callable[[Any], str], frozen: set[int]) -> str:
    value = r.value
    if r.path and r.kind != "function" and not _stable(r):  # a new object at each access
        parts = [f"type({expr}) is {bind(type(value))}"]
        for attr in ("__self__", "__func__"):
            if hasattr(value, attr):
                parts.append(f"{expr}.{attr} is {bind(getattr(value, attr))}")
        return " and ".join(parts)
    if _is_data(value) and id(value) not in frozen and r.kind != "function":
        return f"type({expr}) is {bind(type(value))}"  # read live by the generated code
    return f"{expr} is {bind(value)}"


def _stable(r: Resolution) -> bool:
    """Whether reading the chain again gives the same object."""
    try:
        obj = r.root.cell_contents if r.kind == "cell" else r.root  # "global", "object"
        if r.kind == "global":
            obj = obj[r.name]
        for attr in r.path:
            obj = getattr(obj, attr)
    except Exception:
        return True  # the guard itself fails if it cannot read it
    return obj is r.value
