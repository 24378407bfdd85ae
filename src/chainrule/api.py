"""Stage 8, api: `grad`, `value_and_grad`, `vjp`, `show`, `check_grad`.

The transformation runs at the first call of the returned function (so
helpers defined further down a module have been defined by then) and is
cached per function and options.  Each returned callable carries `.source`,
the generated Python text.

Arguments being differentiated must be real floating-point numbers or
arrays.  Python ints and integer arrays are promoted to float (the gradient
of x**2 at 3 is 6.0); bools, complex numbers, strings, None and other
objects are refused with a TypeError naming the type.
"""

from __future__ import annotations

import ast
import inspect
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__, cache, rules
from .analyze import walk_statements
from .calls import structure
from .codegen import build_function, from_import_lines, renderer
from .errors import CompileError
from .normalize import normalize
from .optimize import fold_constants, remove_dead_primal
from .parse import parse_function
from .reverse import emit_function, function_name, reverse

Argnums = int | Sequence[int]


@dataclass
class Compiled:
    function: Callable
    source: str
    params: list[str]
    argnums: tuple[int, ...]
    indexed: frozenset[int] = frozenset()  # parameters the function indexes (x[i])
    dependencies: tuple[str, ...] = ()  # files of inlined functions besides f's own


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _imports(
    cells: dict[str, Any], free_globals: dict[str, Any], user_module: str | None
) -> list[str]:
    """Import lines that make the displayed source a standalone module."""
    plain: list[str] = []
    grouped: dict[str, list[str]] = {}
    notes: list[str] = []
    for name, obj in list(cells.items()) + list(free_globals.items()):
        if isinstance(obj, type(np)):
            module = obj.__name__
            plain.append(f"import {module}" if module == name else f"import {module} as {name}")
            continue
        module = getattr(obj, "__module__", None)
        qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if name in free_globals and user_module and user_module != "__main__":
            module, qual = user_module, name
        if (
            module
            and qual
            and "<" not in qual
            and "." not in qual
            and (module == "chainrule.runtime" or not module.startswith("chainrule"))
        ):
            grouped.setdefault(module, []).append(name if qual == name else f"{qual} as {name}")
            continue
        notes.append(f"# {name}: a global of the differentiated function's module")
    return sorted(plain) + from_import_lines(grouped) + notes


def _free_globals(node: ast.AST, cells: dict[str, Any], parsed) -> dict[str, Any]:
    local: set[str] = set()
    loaded: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            (loaded if isinstance(sub.ctx, ast.Load) else local).add(sub.id)
        elif isinstance(sub, ast.arg):
            local.add(sub.arg)
        elif isinstance(sub, ast.FunctionDef):
            local.add(sub.name)
    out = {}
    for name in sorted(loaded - local - set(cells) - set(parsed.cells)):
        if name in parsed.globals:
            out[name] = parsed.globals[name]
    return out


def compile_key(
    argnums: tuple[int, ...],
    mode: str,
    as_tuple: bool,
    scalar_params: tuple[tuple[int, int], ...] = (),
    structures: tuple[tuple[int, Any], ...] = (),
    has_aux: bool = False,
) -> tuple:
    """What a compiled function depends on besides the function itself."""
    return (
        argnums,
        mode,
        as_tuple,
        renderer(),
        scalar_params,
        structures,
        has_aux,
        rules.generation(),  # a rule registered since makes earlier code stale
    )


def compile_function(
    f: Callable,
    argnums: tuple[int, ...],
    mode: str,
    as_tuple: bool,
    scalar_params: tuple[tuple[int, int], ...] = (),
    structures: tuple[tuple[int, Any], ...] = (),
    has_aux: bool = False,
) -> Compiled:
    """Run the pipeline for `f` (cached): parse, normalize, analyze, reverse, codegen.

    `scalar_params` asks for a variant specialised on argument kinds: pairs
    (position, -1) for Python scalars, whose shape is () so that broadcasting
    checks on them can go, and (position, ndim) for indexed arrays.
    `structures` gives (position, calls.structure(arg)) for container
    arguments; `has_aux` says f returns (value, aux).
    """
    key = compile_key(argnums, mode, as_tuple, scalar_params, structures, has_aux)
    try:
        per_function = _cache.setdefault(f, {})
    except TypeError:
        per_function = {}
    hit = per_function.get(key)
    if hit is not None:
        return hit
    disk_key = cache.key_for(f, key)  # the persistent cache (cache.py)
    stored = cache.load(f, disk_key)
    if stored is not None:
        per_function[key] = stored
        return stored
    parsed = parse_function(f)
    params = parsed.params
    for i in argnums:
        if i >= len(params):
            raise ValueError(
                f"argnums={i} is out of range: {parsed.func.__name__} has {len(params)} "
                f"parameter(s) {params}"
            )
    wrt = [params[i] for i in argnums]  # (vjp passes every argument)
    try:
        # scalar_params: (position, -1) for a Python scalar, (position, ndim) for an array
        scalars = frozenset(params[i] for i, kind in scalar_params if kind < 0)
        ranks = {params[i]: kind for i, kind in scalar_params if kind >= 0}
        shapes = {params[i]: shape for i, shape in structures}
        compiled = _transform(
            parsed,
            params,
            wrt,
            argnums,
            mode,
            as_tuple,
            per_function,
            key,
            scalars,
            ranks,
            shapes,
            has_aux,
        )
    except CompileError:
        raise
    except RecursionError:
        raise parsed.error(
            parsed.node,
            "the function is too deeply nested to differentiate; "
            "split long expressions into several statements",
        ) from None
    except Exception as exc:  # a bug in chainrule: still a CompileError, never a KeyError
        raise parsed.error(
            parsed.node,
            f"chainrule failed on this function with an internal {type(exc).__name__} "
            f"({exc}); this is a chainrule bug, please report it with the function's source",
        ) from exc
    cache.store(f, disk_key, compiled)
    return compiled


def _transform(
    parsed,
    params,
    wrt,
    argnums,
    mode,
    as_tuple,
    per_function,
    key,
    scalars,
    ranks,
    shapes,
    has_aux,
) -> Compiled:
    if mode == "jvp":  # forward mode: see the end of this file
        return _transform_forward(parsed, params, wrt, argnums, per_function, key, scalars, ranks)
    fn = normalize(parsed, set(wrt), shapes, has_aux)
    leaves: list[str] = []
    for name in wrt:  # a container argument is differentiated through its leaves
        tree = fn.param_trees.get(name)
        leaves.extend(leaf.id for leaf in tree.leaves()) if tree is not None else leaves.append(
            name
        )
    adj = reverse(fn, leaves, scalars, ranks)
    funcdef = emit_function(adj, mode, as_tuple, wrt)
    primal_ids = {id(s) for s in adj.primal}
    roots = [s for s in funcdef.body if id(s) not in primal_ids]
    primal = remove_dead_primal(adj.primal, roots)
    kept = {id(s) for s in primal}
    funcdef.body = [s for s in funcdef.body if id(s) not in primal_ids or id(s) in kept]
    fold_constants(adj.backward)
    indexed = frozenset(
        i
        for i, name in enumerate(params)
        if any(
            isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == name
            for n in ast.walk(parsed.node)
        )
    )
    compiled = _build(
        parsed, fn, funcdef, adj.bindings.cells, mode, parsed.func.__defaults__, params, argnums
    )
    compiled.indexed = indexed
    per_function[key] = compiled
    return compiled


def _build(parsed, fn, funcdef, cells, mode, defaults, params, argnums) -> Compiled:
    """Codegen for either mode: bindings, import lines, the label, the function."""
    module = ast.Module(body=[funcdef], type_ignores=[])
    ast.fix_missing_locations(module)
    used = {n.id for n in ast.walk(funcdef) if isinstance(n, ast.Name)}
    bound = {**fn.extra_cells, **cells}  # inlined helpers' names, then the templates'
    cells = {name: obj for name, obj in bound.items() if name in used}
    globals_used = _free_globals(funcdef, cells, parsed)
    what = "forward mode (jvp)" if mode == "jvp" else mode
    label = (
        f"Generated by chainrule {__version__}: {what} of {parsed.func.__name__} "
        f"({parsed.filename}:{parsed.node.lineno}). Edit the original, not this."
    )
    imports = _imports(
        {**cells, **_shown_cells(parsed, used)}, globals_used, parsed.globals.get("__name__")
    )
    built = build_function(
        module,
        function_name(mode, parsed.func.__name__),
        imports,
        cells,
        parsed.cells,
        parsed.globals,
        defaults,
        label,
    )
    dependencies = tuple(sorted(fn.dependencies))
    return Compiled(built.function, built.source, params, argnums, frozenset(), dependencies)


# -- argument checks ----------------------------------------------------------------


def _check_callable(f: Any, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} expects a callable (a Python function), got {type(f).__name__}")


def _normalize_argnums(argnums: Any, who: str) -> tuple[tuple[int, ...], bool]:
    if isinstance(argnums, bool) or not isinstance(argnums, (int, tuple, list)):
        raise TypeError(
            f"{who}: argnums must be an int or a tuple of ints, got {type(argnums).__name__}"
        )
    if isinstance(argnums, int):
        nums, as_tuple = (argnums,), False
    else:
        nums, as_tuple = tuple(argnums), True
        if not nums:
            raise ValueError(f"{who}: argnums must name at least one argument")
        for n in nums:
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"{who}: argnums must contain ints, got {type(n).__name__}")
        if len(set(nums)) != len(nums):
            raise ValueError(f"{who}: argnums {nums} repeats an argument")
    for n in nums:
        if n < 0:
            raise ValueError(f"{who}: argnums={n} is negative; count arguments from 0")
    return nums, as_tuple


def _as_differentiable(value: Any, index: int, name: str) -> Any:
    """Check (and if it is an int, promote) an argument we differentiate."""
    t = type(value)
    if t is float:
        return value
    if t is np.ndarray:
        kind = value.dtype.kind
        if kind == "f":
            return value
        if kind in "iu":
            return value.astype(float)
        what = {"b": "bool", "c": "complex"}.get(kind, f"dtype {value.dtype}")
        raise TypeError(
            f"argument {index} ({name!r}) is an array of {what}; chainrule differentiates "
            "real floating-point values: convert it with .astype(float)"
        )
    if t is bool or isinstance(value, np.bool_):
        raise TypeError(
            f"argument {index} ({name!r}) is a bool, which cannot be differentiated; pass a float"
        )
    if isinstance(value, (int, np.integer)):
        return float(value)
    if isinstance(value, np.floating):
        return value
    if isinstance(value, (complex, np.complexfloating)):
        raise TypeError(f"argument {index} ({name!r}) is complex; only real values are supported")
    if t is tuple or t is list or t is dict:
        return _promote_tree(value, index, name)
    what = "None" if value is None else f"a {t.__name__}"
    advice = "pass a float or a NumPy array of floats"
    if getattr(value, "__dict__", None) is not None and not callable(value):
        advice = (
            "to differentiate parameters kept on an object (self.W), pass them to the "
            "function as an argument instead, for example a dict of arrays"
        )
    raise TypeError(
        f"argument {index} ({name!r}) is {what}, which cannot be differentiated; {advice}"
    )


def _promote_tree(value: Any, index: int, name: str) -> Any:
    """A container argument with every leaf checked (and ints promoted)."""
    if type(value) is dict:
        for k in value:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(
                    f"argument {index} ({name!r}) is a dict with the key {k!r}; chainrule "
                    "differentiates dicts whose keys are strings or ints"
                )
        return {k: _promote_tree(v, index, f"{name}[{k!r}]") for k, v in value.items()}
    if type(value) in (tuple, list):
        items = [_promote_tree(v, index, f"{name}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if type(value) is tuple else items
    if isinstance(value, (tuple, list, dict)):
        raise TypeError(
            f"argument {index} ({name!r}) is a {type(value).__name__}; chainrule "
            "differentiates plain tuples, lists and dicts of arrays"
        )
    return _as_differentiable(value, index, name)


def _shape_gradient(g: Any, x: Any) -> Any:
    """Give a gradient the type and shape of its argument; never hand out a read-only view."""
    if type(x) is float:
        return float(g)
    if isinstance(x, np.ndarray):
        if type(g) is not np.ndarray:
            g = np.asarray(g)
        if g.shape != x.shape:
            if g.size == 1:
                return np.full(x.shape, g.item())
            raise AssertionError(  # a bug in a derivative rule, never the user's fault
                f"internal error: gradient of shape {g.shape} for an argument of shape "
                f"{x.shape}; please report this with the generated source"
            )
        if not g.flags.writeable:
            g = g.copy()
    return g


_SCALAR_TYPES = (float, int)


def _matches(kinds: tuple[tuple[int, int], ...], args: list) -> bool:
    for i, kind in kinds:
        if i >= len(args):
            return False
        a = args[i]
        if kind < 0:
            if type(a) not in _SCALAR_TYPES:
                return False
        elif type(a) is not np.ndarray or a.ndim != kind:
            return False
    return True


def _returned(g: Any, x: Any) -> Any:
    """The gradient as handed to the user: fast path of _shape_gradient."""
    tx = type(x)
    if tx is dict or tx is tuple or tx is list:
        return _returned_tree(g, x, [])
    if tx is np.ndarray:
        if type(g) is np.ndarray and g.shape == x.shape and (g.base is None or g.flags.writeable):
            return g
    elif tx is float:
        return float(g)
    return _shape_gradient(g, x)


def _returned_tree(g: Any, x: Any, seen: list) -> Any:
    """A container's gradient, leaf by leaf; no two leaves share one array."""
    tx = type(x)
    if tx is dict:
        return {k: _returned_tree(g[k], v, seen) for k, v in x.items()}
    if tx is tuple or tx is list:
        items = [_returned_tree(gi, xi, seen) for gi, xi in zip(g, x)]
        return tuple(items) if tx is tuple else items
    out = _shape_gradient(g, x)
    if isinstance(out, np.ndarray):
        if any(out is other for other in seen):
            out = out.copy()
        seen.append(out)
    return out


def _bind(f: Callable, params: list[str], args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments in their positions, and the defaults of those skipped before them,
    as Python binds them (the generated function takes positional arguments)."""
    name = getattr(f, "__name__", "function")
    kwargs = dict(kwargs)
    for key in kwargs:
        if key not in params:
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
        if params.index(key) < len(args):
            raise TypeError(f"{name}() got multiple values for argument {key!r}")
    defaults = getattr(inspect.unwrap(f), "__defaults__", None) or ()
    first_default = len(params) - len(defaults)
    last = max(params.index(key) for key in kwargs) if kwargs else len(args) - 1
    out = list(args)
    for i in range(len(args), last + 1):
        param = params[i]
        if param in kwargs:
            out.append(kwargs.pop(param))
        elif i >= first_default:
            out.append(defaults[i - first_default])
        else:
            raise TypeError(f"{name}() missing required argument {param!r}")
    return tuple(out)


class _Transformed:
    """Common machinery of the callables returned by grad and value_and_grad."""

    mode = "grad"

    def __init__(self, f: Callable, argnums: Argnums, has_aux: bool = False) -> None:
        who = self.mode
        _check_callable(f, who)
        if not isinstance(has_aux, bool):
            raise TypeError(f"{who}: has_aux must be True or False")
        self.fun = f
        self.has_aux = has_aux
        self.argnums, self.as_tuple = _normalize_argnums(argnums, who)
        self._compiled: Compiled | None = None  # the general version (shown as .source)
        self._variant: Compiled | None = None  # specialised on the first call's scalars
        self._scalars: tuple[tuple[int, int], ...] = ()
        # (position, nesting) of container arguments, learnt at the first call
        self._structures: tuple[tuple[int, Any], ...] = ()
        self._param_names: list[str] | None = None
        self._generation = rules.generation()  # rules registered when compiled
        self.__name__ = f"{self.mode}_{getattr(f, '__name__', 'function')}"
        self.__qualname__ = self.__name__
        self.__doc__ = getattr(f, "__doc__", None)
        self.__wrapped__ = f

    def __chainrule_generated__(self) -> Callable:
        """The generated function itself, which chainrule can transform again."""
        return self.compiled().function

    def compiled(self) -> Compiled:
        if self._compiled is None:
            self._compiled = self._compile(())
        return self._compiled

    def _compile(self, scalars: tuple[tuple[int, int], ...]) -> Compiled:
        return compile_function(
            self.fun,
            self.argnums,
            self.mode,
            self.as_tuple,
            scalars,
            self._structures,
            self.has_aux,
        )

    @property
    def source(self) -> str:
        """The generated Python source of this function.

        For container arguments (dicts, tuples) this is the version for the
        structure seen at the last call.
        """
        return self.compiled().source

    def _params(self) -> list[str]:
        if self._param_names is None:
            self._param_names = parse_function(self.fun).params
        return self._param_names

    def _prepare(self, args: tuple, kwargs: dict) -> tuple[Compiled, tuple]:
        """The slow path of `_args`: bind keywords, check and promote arguments, compile."""
        params = self._params()
        if kwargs:
            args = _bind(self.fun, params, args, kwargs)
        args = list(args)
        if any(i >= len(params) for i in self.argnums):
            self.compiled()  # raises the error naming the parameters
        for i in self.argnums:
            if i >= len(args):
                name = params[i] if i < len(params) else "?"
                raise TypeError(
                    f"argnums={i} refers to argument {name!r}, which was not passed; pass it "
                    "explicitly to differentiate with respect to it"
                )
            args[i] = _as_differentiable(args[i], i, params[i])
        structures = tuple(
            (i, structure(args[i])) for i in self.argnums if type(args[i]) in (tuple, list, dict)
        )
        if structures != self._structures or self._generation != rules.generation():
            # a new container structure, or a rule registered since: compile again
            self._structures = structures
            self._generation = rules.generation()
            self._compiled = self._variant = None
        compiled = self._compiled or self.compiled()
        if self._variant is None:  # first call: specialise on the kinds of the arguments
            indexed = compiled.indexed
            self._scalars = tuple(
                (i, -1) if type(a) in _SCALAR_TYPES else (i, a.ndim)
                for i, a in enumerate(args)
                if type(a) in _SCALAR_TYPES or (type(a) is np.ndarray and i in indexed)
            )
            self._variant = self._compile(self._scalars) if self._scalars else compiled
        if _matches(self._scalars, args):
            return self._variant, tuple(args)
        return compiled, tuple(args)

    def _finish(self, grads: Any, args: tuple) -> Any:
        if not self.as_tuple:
            return _returned(grads, args[self.argnums[0]])
        out: list = []
        for g, i in zip(grads, self.argnums):  # _returned, inlined: this is per call
            x = args[i]
            tx = type(x)
            if tx is np.ndarray:
                if (
                    type(g) is not np.ndarray
                    or g.shape != x.shape
                    or (g.base is not None and not g.flags.writeable)
                ):
                    g = _shape_gradient(g, x)
                for other in out:  # two arguments must not share one gradient array
                    if other is g:
                        g = g.copy()
                        break
            elif tx is float:
                g = float(g)
            elif tx is dict or tx is tuple or tx is list:
                g = _returned_tree(g, x, [])
            else:
                g = _shape_gradient(g, x)
            out.append(g)
        return tuple(out)

    def _args(self, args: tuple, kwargs: dict) -> tuple[Compiled, tuple]:
        """The compiled function and checked arguments; the common case stays cheap."""
        variant = self._variant
        if variant is not None and not kwargs and self._generation == rules._generation[0]:
            try:
                for i, kind in self._scalars:  # what the variant assumes of the arguments
                    a = args[i]
                    if (
                        (type(a) not in _SCALAR_TYPES)
                        if kind < 0
                        else (type(a) is not np.ndarray or a.ndim != kind)
                    ):
                        break
                else:
                    for i in self.argnums:
                        a = args[i]
                        if type(a) is not float and (
                            type(a) is not np.ndarray or a.dtype.kind != "f"
                        ):
                            if (i, structure(a)) not in self._structures:
                                break
                    else:
                        if self._structures and len(self._structures) != sum(
                            type(args[i]) in (tuple, list, dict) for i in self.argnums
                        ):
                            return self._prepare(args, kwargs)
                        return variant, args
            except IndexError:
                pass
        return self._prepare(args, kwargs)

    def __repr__(self) -> str:
        return f"<chainrule {self.mode} of {getattr(self.fun, '__qualname__', self.fun)!r}>"


class GradFunction(_Transformed):
    mode = "grad"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled, args = self._args(args, kwargs)
        if self.has_aux:
            grads, aux = compiled.function(*args)
            return self._finish(grads, args), aux
        return self._finish(compiled.function(*args), args)


class ValueAndGradFunction(_Transformed):
    mode = "value_and_grad"

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        compiled, args = self._args(args, kwargs)
        value, grads = compiled.function(*args)
        return value, self._finish(grads, args)  # with has_aux, value is (value, aux)


_NO_FUNCTION: Any = object()


def grad(f: Callable = _NO_FUNCTION, argnums: Argnums = 0, has_aux: bool = False) -> Any:
    """The gradient of a scalar-valued function `f` with respect to argument(s) `argnums`.

    Usable as `grad(f)`, `grad(f, argnums=1)`, `@grad` and `@grad(argnums=(0, 1))`.
    An int `argnums` gives one gradient, a tuple gives a tuple of gradients.
    An argument may be a (nested) tuple, list or dict of arrays; its gradient
    has the same structure.  With `has_aux=True`, `f` returns `(value, aux)`
    and the gradient function returns `(gradient, aux)`.
    """
    if f is _NO_FUNCTION:
        return lambda g: GradFunction(g, argnums, has_aux)
    if isinstance(f, (int, tuple, list)) and not callable(f):
        raise TypeError(
            "grad expects a callable first; to choose arguments write grad(f, argnums=...) "
            "or @grad(argnums=...)"
        )
    return GradFunction(f, argnums, has_aux)


def value_and_grad(f: Callable = _NO_FUNCTION, argnums: Argnums = 0, has_aux: bool = False) -> Any:
    """Like `grad`, but the returned function gives `(value, gradient)`.

    With `has_aux=True` it gives `((value, aux), gradient)`, as in JAX.
    """
    if f is _NO_FUNCTION:
        return lambda g: ValueAndGradFunction(g, argnums, has_aux)
    return ValueAndGradFunction(f, argnums, has_aux)


class VJPFunction:
    """The backward function returned by `vjp`: cotangent -> one gradient per primal."""

    def __init__(self, backward: Callable, out: Any, primals: list, source: str) -> None:
        self._backward = backward
        self._out_shape = np.shape(out)
        self._primals = primals
        self.source = source

    def __call__(self, cotangent: Any) -> tuple:
        if np.shape(cotangent) != self._out_shape:
            raise ValueError(
                f"the cotangent has shape {np.shape(cotangent)} but the output has shape "
                f"{self._out_shape}; pass an array shaped like the output"
            )
        grads = self._backward(cotangent)
        return tuple(_returned(g, x) for g, x in zip(grads, self._primals))


def vjp(f: Callable, *primals: Any) -> tuple[Any, VJPFunction]:
    """Evaluate `f(*primals)` and return `(out, vjp_fn)` (JAX semantics).

    `vjp_fn(cotangent)` returns a tuple with one gradient per primal: the
    vector-Jacobian product `cotangent @ J` for each argument.
    """
    _check_callable(f, "vjp")
    params = parse_function(f).params
    defaults = getattr(inspect.unwrap(f), "__defaults__", None) or ()
    required = len(params) - len(defaults)
    if not required <= len(primals) <= len(params):
        takes = f"{len(params)}" if not defaults else f"{required} to {len(params)}"
        raise TypeError(
            f"vjp: {getattr(f, '__name__', 'f')} takes {takes} argument(s) "
            f"{params}, got {len(primals)} primal(s)"
        )
    args = [_as_differentiable(a, i, params[i]) for i, a in enumerate(primals)]
    structures = tuple(
        (i, structure(a)) for i, a in enumerate(args) if type(a) in (tuple, list, dict)
    )
    compiled = compile_function(f, tuple(range(len(primals))), "vjp", True, (), structures)
    out, backward = compiled.function(*args)
    return out, VJPFunction(backward, out, args, compiled.source)


def source(f: Callable, argnums: Argnums = 0, mode: str = "grad") -> str:
    """The generated source for `f` in `mode` ("grad", "value_and_grad", "vjp" or "forward")."""
    _check_callable(f, "source")
    if mode == "forward":
        return _forward_source(f, argnums)
    if mode not in ("grad", "value_and_grad", "vjp"):
        raise ValueError(f"mode must be 'grad', 'value_and_grad' or 'vjp', got {mode!r}")
    if mode == "vjp":
        parsed_params = parse_function(f).params
        return compile_function(f, tuple(range(len(parsed_params))), "vjp", True).source
    nums, as_tuple = _normalize_argnums(argnums, mode)
    return compile_function(f, nums, mode, as_tuple).source


def show(f: Callable, argnums: Argnums = 0, mode: str = "grad", file: Any = None) -> None:
    """Print the generated source, syntax-highlighted on a color terminal."""
    carries = isinstance(f, (_Transformed, VJPFunction, *_CARRY_SOURCE)) and mode != "forward"
    text = f.source if carries else source(f, argnums, mode)
    out = file or sys.stdout
    print(highlight(text, out), end="", file=out)


def highlight(text: str, stream: Any) -> str:
    """Color `text` as Python when `stream` is a terminal and pygments is installed."""
    import os

    if os.environ.get("NO_COLOR") or not getattr(stream, "isatty", lambda: False)():
        return text
    try:
        from pygments import highlight as _hl
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text
    return _hl(text, PythonLexer(), TerminalFormatter())


def check_grad(
    f: Callable,
    *args: Any,
    argnums: Argnums = 0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    eps: float | None = None,
) -> float:
    """Compare chainrule's gradient of `f` with central finite differences.

    Returns the largest absolute difference.  Raises AssertionError naming
    the argument and its worst element when some difference exceeds
    `atol + rtol * |finite difference|`.  Container arguments (dicts,
    tuples, lists) are checked leaf by leaf, and a failure names the leaf.
    """
    nums, _ = _normalize_argnums(argnums, "check_grad")
    g = grad(f, argnums=tuple(nums))(*args)
    params = parse_function(f).params
    worst = 0.0
    for k, i in enumerate(nums):
        name = params[i] if i < len(params) else str(i)
        for path, leaf in _leaves(args[i]):
            ours_leaf = g[k]
            for key in path:
                ours_leaf = ours_leaf[key]

            def at(value: Any, i: int = i, path: tuple = path) -> Any:
                call = list(args)
                call[i] = _replace_leaf(args[i], path, value)
                return f(*call)

            label = name + "".join(f"[{key!r}]" for key in path)
            worst = max(worst, _check_leaf(at, leaf, ours_leaf, label, i, rtol, atol, eps))
    return worst


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    if type(value) is dict:
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if type(value) in (tuple, list):
        return [p for k, v in enumerate(value) for p in _leaves(v, (*path, k))]
    return [(path, value)]


def _replace_leaf(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if type(tree) is dict:
        return {k: _replace_leaf(v, rest, value) if k == head else v for k, v in tree.items()}
    items = [_replace_leaf(v, rest, value) if j == head else v for j, v in enumerate(tree)]
    return tuple(items) if type(tree) is tuple else items


def _check_leaf(
    at: Callable, leaf: Any, ours: Any, label: str, i: int, rtol: float, atol: float, eps: Any
) -> float:
    """Finite differences of `at(leaf + h e_j)` against `ours`, element by element."""
    x = np.array(leaf, dtype=float)
    scalar = not isinstance(leaf, np.ndarray)  # pass floats as floats
    fd = np.zeros(np.shape(x))
    flat = fd.reshape(-1)
    for j in range(flat.size):
        h = eps if eps is not None else 1e-6 * max(1.0, abs(float(x.reshape(-1)[j])))
        plus, minus = x.copy(), x.copy()
        plus.reshape(-1)[j] += h
        minus.reshape(-1)[j] -= h
        if scalar:
            plus, minus = float(plus), float(minus)
        flat[j] = (float(np.sum(at(plus))) - float(np.sum(at(minus)))) / (2 * h)
    ours = np.asarray(ours, dtype=float).reshape(fd.shape)
    err = np.abs(ours - fd)
    bound = atol + rtol * np.abs(fd)
    if err.size and np.any(~(err <= bound)):
        idx = np.unravel_index(
            int(np.argmax(np.where(np.isnan(err), np.inf, err - bound))), fd.shape
        )
        where = f"[{', '.join(map(str, idx))}]" if fd.ndim else ""
        raise AssertionError(
            f"gradient of argument {i} ({label!r}) disagrees with finite differences at "
            f"{label}{where}: chainrule {ours[idx]!r}, finite difference {fd[idx]!r} "
            f"(|difference| {err[idx]:.3g} > {bound[idx]:.3g})"
        )
    return float(np.max(err)) if err.size else 0.0


# -- forward mode, Jacobians and Hessians ---------------------------------------------
#
# jvp runs the forward-mode transformation (forward.py): one generated function
# `jvp_f(x, ..., dx, ...)` returning the value and its tangent.  jacfwd pushes one
# basis direction per input element through it, jacrev one basis cotangent per
# output element through vjp's backward function.  hessian and hvp are forward
# over reverse: the forward transformation of the generated gradient's source.

from .forward import emit_forward, forward  # noqa: E402


def _transform_forward(parsed, params, wrt, argnums, per_function, key, scalars, ranks):
    """The forward-mode pipeline: parse, normalize, analyze, tangents, codegen."""
    fn = normalize(parsed, set(wrt))
    tan = forward(fn, wrt, scalars, ranks)
    funcdef = emit_forward(tan)
    for stmt in walk_statements(funcdef.body):
        if getattr(stmt, "tangent", False):
            stmt.pure = True  # a tangent nobody reads may go, like a dead primal statement
    doc, *body, ret = funcdef.body
    funcdef.body = [doc, *remove_dead_primal(body, [ret]), ret]
    compiled = _build(parsed, fn, funcdef, tan.bindings.cells, "jvp", None, params, argnums)
    per_function[key] = compiled
    return compiled


def _shown_cells(parsed, used: set[str]) -> dict[str, Any]:
    """Closure cells holding modules or chainrule's helpers (code chainrule generated,
    transformed again): they get import lines like the bindings of templates."""
    out = {}
    for name, cell in parsed.cells.items():
        try:
            obj = cell.cell_contents
        except ValueError:
            continue
        module = getattr(obj, "__module__", None) or ""
        if name in used and (isinstance(obj, type(np)) or module == "chainrule.runtime"):
            out[name] = obj
    return out


def _forward_source(f: Callable, argnums: Argnums) -> str:
    nums, _ = _normalize_argnums(argnums, "source")
    return compile_function(f, nums, "jvp", True).source


def _defaults(f: Callable, params: list[str], args: list, who: str) -> list:
    """Fill in the arguments not passed from the function's defaults."""
    if len(args) > len(params):
        raise TypeError(
            f"{who}: {getattr(f, '__name__', 'f')} takes {len(params)} argument(s) {params}, "
            f"got {len(args)}"
        )
    if len(args) == len(params):
        return args
    target = getattr(f, "__chainrule_generated__", None)
    func = inspect.unwrap(target() if target is not None else f)
    defaults = getattr(func, "__defaults__", None) or ()
    missing = params[len(args) :]
    if len(missing) > len(defaults):
        needed = missing[: len(missing) - len(defaults)]
        raise TypeError(f"{who}: {getattr(f, '__name__', 'f')} needs argument(s) {needed}")
    return args + list(defaults[len(defaults) - len(missing) :])


def _as_tangent(t: Any, x: Any, index: int, name: str) -> Any:
    """Check a tangent: real numbers shaped like its primal."""
    t = _as_differentiable(t, index, name)
    if np.shape(t) != np.shape(x):
        raise ValueError(
            f"the tangent of argument {index} ({name!r}) has shape {np.shape(t)}, but the "
            f"argument has shape {np.shape(x)}; pass a tangent shaped like its primal"
        )
    return t


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """Evaluate `f(*primals)` and its Jacobian-vector product along `tangents` (JAX semantics).

    Returns `(out, tangent_out)`, computed in one pass of the forward-mode
    code (`source(f, mode="forward")`).  `tangents` has one entry per primal,
    shaped like it; `None` marks an argument that is not differentiated (data,
    flags, loop counts).
    """
    _check_callable(f, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples (or lists), one entry per argument"
        )
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: got {len(primals)} primal(s) but {len(tangents)} tangent(s); pass one "
            "tangent per primal (None for an argument that is not differentiated)"
        )
    nums = tuple(i for i, t in enumerate(tangents) if t is not None)
    _reject_containers(primals, "jvp")
    compiled = compile_function(f, nums, "jvp", True)
    params = compiled.params
    args = _defaults(f, params, list(primals), "jvp")
    for i in nums:
        args[i] = _as_array_or_float(args[i], i, params[i], "jvp")
    tans = [_as_tangent(tangents[i], args[i], i, params[i]) for i in nums]
    out, tangent_out = compiled.function(*args, *tans)
    return out, _shape_gradient(tangent_out, out)


def _reject_containers(args: Sequence, who: str) -> None:
    for i, a in enumerate(args):
        if type(a) in (tuple, list, dict):
            _as_array_or_float(a, i, "", who)


def _as_array_or_float(value: Any, index: int, name: str, who: str) -> Any:
    """Forward mode and Jacobians take arrays and floats, not containers (yet)."""
    if type(value) in (tuple, list, dict):
        raise TypeError(
            f"{who}: argument {index}{f' ({name!r})' if name else ''} is a "
            f"{type(value).__name__}; forward mode and "
            "Jacobians take floats and arrays: pass the arrays as separate arguments "
            "(containers work with grad, value_and_grad and vjp)"
        )
    return _as_differentiable(value, index, name)


def _basis(x: Any) -> Any:
    """Unit tangents for every element of x, one at a time, shaped (and typed) like x."""
    size = int(np.size(x))
    for j in range(size):
        e = np.zeros(size)
        e[j] = 1.0
        yield float(e[0]) if type(x) is float else e.reshape(np.shape(x))


def _jacobian(columns: list, out_shape: tuple, in_shape: tuple, last: bool) -> np.ndarray:
    """Stack per-element derivatives into JAX's layout: output shape, then input shape."""
    if not columns:
        return np.zeros(out_shape + in_shape)
    # columns (forward mode) end in the input index; rows (reverse mode) start with the output's
    stacked = np.stack([np.asarray(c, dtype=float) for c in columns], axis=-1 if last else 0)
    if not out_shape + in_shape:
        return float(stacked.reshape(()))  # a scalar function of a scalar: a number
    return stacked.reshape(out_shape + in_shape)


class _Jacobian:
    """Common machinery of jacfwd and jacrev: argument checks and the tuple convention."""

    mode = "jacfwd"

    def __init__(self, f: Callable, argnums: Argnums) -> None:
        _check_callable(f, self.mode)
        self.fun = f
        self.argnums, self.as_tuple = _normalize_argnums(argnums, self.mode)
        self.__name__ = f"{self.mode}_{getattr(f, '__name__', 'function')}"
        self.__qualname__ = self.__name__
        self.__wrapped__ = f

    def _args(self, compiled: Compiled, args: tuple, kwargs: dict) -> list:
        if kwargs:
            args = _bind(self.fun, compiled.params, args, kwargs)
        args = _defaults(self.fun, compiled.params, list(args), self.mode)
        for i in self.argnums:
            if i >= len(args):
                raise TypeError(f"{self.mode}: argnums={i} refers to an argument not passed")
            args[i] = _as_array_or_float(args[i], i, compiled.params[i], self.mode)
        return args

    def _result(self, jacobians: list) -> Any:
        return tuple(jacobians) if self.as_tuple else jacobians[0]

    def __repr__(self) -> str:
        return f"<chainrule {self.mode} of {getattr(self.fun, '__qualname__', self.fun)!r}>"

    generated_mode = "jvp"  # the generated code a Jacobian runs: forward (jvp) or vjp

    def compiled(self) -> Compiled:
        return compile_function(self.fun, self.argnums, self.generated_mode, True)

    @property
    def source(self) -> str:
        """The generated source this Jacobian runs (jvp code for jacfwd, vjp for jacrev)."""
        return self.compiled().source


class JacfwdFunction(_Jacobian):
    """The Jacobian by forward mode: one jvp pass per element of each input."""

    mode = "jacfwd"
    generated_mode = "jvp"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _reject_containers(args, self.mode)
        compiled = self.compiled()
        args = self._args(compiled, args, kwargs)
        zeros = [np.zeros(np.shape(args[i])) for i in self.argnums]
        zeros = [float(z) if type(args[i]) is float else z for z, i in zip(zeros, self.argnums)]
        jacobians = []
        for k, i in enumerate(self.argnums):
            columns = []
            out_shape: tuple = ()
            for e in _basis(args[i]):
                tans = list(zeros)
                tans[k] = e
                out, t = compiled.function(*args, *tans)
                out_shape = np.shape(out)
                columns.append(np.broadcast_to(t, out_shape))
            if not columns:
                out_shape = np.shape(self.fun(*args))
            jacobians.append(_jacobian(columns, out_shape, np.shape(args[i]), last=True))
        return self._result(jacobians)


class JacrevFunction(_Jacobian):
    """The Jacobian by reverse mode: one backward pass per element of the output."""

    mode = "jacrev"
    generated_mode = "vjp"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _reject_containers(args, self.mode)
        compiled = self.compiled()
        args = self._args(compiled, args, kwargs)
        out, backward = compiled.function(*args)
        rows: list[list] = [[] for _ in self.argnums]
        for e in _basis(out if type(out) is float else np.asarray(out, dtype=float)):
            grads = backward(e)
            for k, i in enumerate(self.argnums):
                rows[k].append(np.broadcast_to(grads[k], np.shape(args[i])))
        out_shape = np.shape(out)
        return self._result(
            [
                _jacobian(rows[k], out_shape, np.shape(args[i]), last=False)
                for k, i in enumerate(self.argnums)
            ]
        )


def jacfwd(f: Callable, argnums: Argnums = 0) -> JacfwdFunction:
    """The Jacobian of `f` with respect to argument(s) `argnums`, by forward mode.

    The result has the output's shape followed by the input's shape (JAX's
    convention); a tuple `argnums` gives a tuple of Jacobians.  Cost: one pass
    of the forward-mode code per element of the inputs.
    """
    return JacfwdFunction(f, argnums)


def jacrev(f: Callable, argnums: Argnums = 0) -> JacrevFunction:
    """The Jacobian of `f` with respect to argument(s) `argnums`, by reverse mode.

    Same layout as `jacfwd`.  Cost: one forward pass and one backward pass per
    element of the output.
    """
    return JacrevFunction(f, argnums)


class HessianFunction:
    """Forward over reverse: jacfwd of the generated gradient."""

    def __init__(self, f: Callable, argnums: Argnums) -> None:
        _check_callable(f, "hessian")
        self.fun = f
        self.argnums, self.as_tuple = _normalize_argnums(argnums, "hessian")
        self.grads = {i: grad(f, argnums=i) for i in self.argnums}
        self.rows = {i: jacfwd(self.grads[i], argnums=argnums) for i in self.argnums}
        self.__name__ = f"hessian_{getattr(f, '__name__', 'function')}"
        self.__wrapped__ = f

    @property
    def source(self) -> str:
        """The forward-mode code of the generated gradient (the first argnum's)."""
        return self.rows[self.argnums[0]].source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _reject_containers(args, "hessian")
        if not self.as_tuple:
            return self.rows[self.argnums[0]](*args, **kwargs)
        return tuple(self.rows[i](*args, **kwargs) for i in self.argnums)

    def __repr__(self) -> str:
        return f"<chainrule hessian of {getattr(self.fun, '__qualname__', self.fun)!r}>"


def hessian(f: Callable, argnums: Argnums = 0) -> HessianFunction:
    """The Hessian of the scalar-valued `f`: jacfwd(grad(f)), forward over reverse.

    An int `argnums` gives an array shaped (input shape + input shape); a
    tuple gives a tuple of tuples of blocks, `H[i][j]` = d2f / dx_i dx_j.
    """
    return HessianFunction(f, argnums)


_hvp_grads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hvp(f: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """The Hessian-vector product of the scalar-valued `f` along `tangents`, without the Hessian.

    Forward over reverse: the jvp of the generated gradient, one pass per
    differentiated argument.  With one primal it returns an array shaped like
    it; with several, a tuple (one block row of H @ v per argument).
    """
    _check_callable(f, "hvp")
    primals, tangents = tuple(primals), tuple(tangents)
    _reject_containers(primals, "hvp")
    nums = [i for i, t in enumerate(tangents) if t is not None]
    try:
        per_function = _hvp_grads.setdefault(f, {})
    except TypeError:
        per_function = {}
    out = []
    for i in nums:
        g = per_function.get(i)
        if g is None:
            g = per_function[i] = grad(f, argnums=i)
        out.append(jvp(g, primals, tangents)[1])
    return out[0] if len(primals) == 1 else tuple(out)


_CARRY_SOURCE: tuple = (JacfwdFunction, JacrevFunction, HessianFunction)
