"""Checking the arguments of the public API, and shaping what it returns.

The arguments being differentiated must be real floating-point numbers or
arrays, or tuples, lists and dicts of them.  Python ints and integer arrays
are promoted to float (the gradient of x**2 at 3 is 6.0); bools, complex
numbers, strings, None and other objects are refused with a TypeError naming
the type (`as_differentiable`).  Gradients are handed back with the type and
shape of their argument, never as a read-only view, and never two arguments
sharing one array (`returned_gradient`).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .parse import variadic_rule, wrapper_parameters

Argnums = int | Sequence[int]  # which arguments a transformation differentiates


def check_callable(f: Any, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} expects a callable (a Python function), got {type(f).__name__}")


def normalize_argnums(argnums: Any, who: str) -> tuple[tuple[int, ...], bool]:
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


def as_differentiable(value: Any, index: int, name: str) -> Any:
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
        return promote_tree(value, index, name)
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


def promote_tree(value: Any, index: int, name: str) -> Any:
    """A container argument with every leaf checked (and ints promoted)."""
    if type(value) is dict:
        for k in value:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(
                    f"argument {index} ({name!r}) is a dict with the key {k!r}; chainrule "
                    "differentiates dicts whose keys are strings or ints"
                )
        return {k: promote_tree(v, index, f"{name}[{k!r}]") for k, v in value.items()}
    if type(value) in (tuple, list):
        items = [promote_tree(v, index, f"{name}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if type(value) is tuple else items
    if isinstance(value, (tuple, list, dict)):
        raise TypeError(
            f"argument {index} ({name!r}) is a {type(value).__name__}; chainrule "
            "differentiates plain tuples, lists and dicts of arrays"
        )
    return as_differentiable(value, index, name)


def shaped_like(g: Any, x: Any) -> Any:
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


SCALAR_TYPES = (float, int)


def kinds_of(args: Sequence) -> tuple[tuple[int, int], ...]:
    """What a variant is specialised on: (position, -1) for a Python scalar, (position,
    ndim) for an array with no axis of length 1 (shapes.py can tell broadcasting
    apart then; see how-it-works.md, section 11); other arguments are left out."""
    return tuple(
        (i, -1) if type(a) in SCALAR_TYPES else (i, a.ndim)
        for i, a in enumerate(args)
        if type(a) in SCALAR_TYPES or (type(a) is np.ndarray and 1 not in a.shape)
    )


FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, np.ufunc)


def passed_functions(args: Sequence, argnums: Sequence[int]) -> tuple[tuple[int, Any], ...]:
    """(position, function) for the functions passed as arguments not differentiated
    (`integrate(rhs, y0)`): the generated code is specialised on them, as on the
    structure of containers, and a call with another function object compiles again."""
    return tuple(
        (i, a)
        for i, a in enumerate(args)
        if i not in argnums
        and isinstance(a, FUNCTION_TYPES)
        and not hasattr(a, "__chainrule_generated__")
    )


def bind_functions(f: Any, args: Sequence) -> None:
    """Before a transformation of `f` compiles: when `f` is a callable chainrule returned
    (grad(g)), it specialises on the functions among `args` as a call of it does, so
    the code it generated, which the transformation reads, inlines their calls."""
    bind = getattr(f, "__chainrule_bind__", None)
    if bind is not None:
        bind(args)


def same_functions(functions: tuple[tuple[int, Any], ...], args: Sequence) -> bool:
    """The functions a variant was specialised on are the ones passed now (by identity)."""
    return all(i < len(args) and args[i] is f for i, f in functions)


def matches_kinds(kinds: tuple[tuple[int, int], ...], args: list) -> bool:
    for i, kind in kinds:
        if i >= len(args):
            return False
        a = args[i]
        if kind < 0:
            if type(a) not in SCALAR_TYPES:
                return False
        elif type(a) is not np.ndarray or a.ndim != kind or 1 in a.shape:
            return False
    return True


def returned_gradient(g: Any, x: Any) -> Any:
    """The gradient as handed to the user: fast path of shaped_like."""
    tx = type(x)
    if tx is dict or tx is tuple or tx is list:
        return returned_tree(g, x, [])
    if tx is np.ndarray:
        if type(g) is np.ndarray and g.shape == x.shape and (g.base is None or g.flags.writeable):
            return g
    elif tx is float:
        return float(g)
    return shaped_like(g, x)


def returned_gradients(grads: Any, args: Sequence, argnums: Sequence[int], as_tuple: bool) -> Any:
    """The gradients of `grad(f, argnums)` as handed to the user (the slow path's;
    the fast path's are written out by `make_runner`)."""
    if not as_tuple:
        return returned_gradient(grads, args[argnums[0]])
    out: list = []
    for g, i in zip(grads, argnums):
        x = args[i]
        tx = type(x)
        if tx is np.ndarray:
            if (
                type(g) is not np.ndarray
                or g.shape != x.shape
                or (g.base is not None and not g.flags.writeable)
            ):
                g = shaped_like(g, x)
            for other in out:  # two arguments must not share one gradient array
                if other is g:
                    g = g.copy()
                    break
        elif tx is float:
            g = float(g)
        elif tx is dict or tx is tuple or tx is list:
            g = returned_tree(g, x, [])
        else:
            g = shaped_like(g, x)
        out.append(g)
    return tuple(out)


def returned_tree(g: Any, x: Any, seen: list) -> Any:
    """A container's gradient, leaf by leaf; no two leaves share one array."""
    tx = type(x)
    if tx is dict:
        return {k: returned_tree(g[k], v, seen) for k, v in x.items()}
    if tx is tuple or tx is list:
        items = [returned_tree(gi, xi, seen) for gi, xi in zip(g, x)]
        return tuple(items) if tx is tuple else items
    out = shaped_like(g, x)
    if isinstance(out, np.ndarray):
        if any(out is other for other in seen):
            out = out.copy()
        seen.append(out)
    return out


def bind_keywords(f: Callable, params: list[str], args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments in their positions, and the defaults of those skipped before them,
    as Python binds them (the generated function takes positional arguments)."""
    name = getattr(f, "__name__", "function")
    kwargs = dict(kwargs)
    for key in kwargs:
        if key not in params:
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
        if params.index(key) < len(args):
            raise TypeError(f"{name}() got multiple values for argument {key!r}")
    defaults = getattr(f, "__defaults__", None) or ()
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


def defaults_of(f: Callable) -> tuple:
    """f's defaults; for a function chainrule made (grad(f)), those of the generated
    function, which keeps f's."""
    target = getattr(f, "__chainrule_generated__", None)
    if target is None and not inspect.isfunction(f):  # grad(np.sum), vjp(t.pdf, ...)
        required, defaults = wrapper_parameters(f)
        if required or defaults:  # (a function with a rule)
            return tuple(defaults.values())
    return getattr(target() if target is not None else f, "__defaults__", None) or ()


def check_primal_count(f: Callable, params: list[str], count: int, who: str) -> None:
    """Refuse `count` positional values for `f` unless they fill its parameters
    (those with defaults may be left out)."""
    defaults = defaults_of(f)
    required = len(params) - len(defaults)
    if count > len(params) and variadic_rule(f):
        name = getattr(f, "__name__", "f")
        raise TypeError(
            f"{who}: {name} takes a variable number of arguments, which {who} cannot "
            f"differentiate one by one; wrap the call in a function of the arrays, e.g. "
            f"{who}(lambda a, b: np.{name}('ij,jk->ik', a, b), a, b)"
            if name == "einsum"
            else f"{who}: {name} takes a variable number of arguments, which {who} cannot "
            f"differentiate one by one; wrap the call in a function of the arrays, e.g. "
            f"{who}(lambda a, b: {name}(a, b), a, b)"
        )
    if not required <= count <= len(params):
        takes = f"{len(params)}" if not defaults else f"{required} to {len(params)}"
        raise TypeError(
            f"{who}: {getattr(f, '__name__', 'f')} takes {takes} argument(s) "
            f"{params}, got {count} primal(s)"
        )


def fill_defaults(f: Callable, params: list[str], args: list, who: str) -> list:
    """Fill in the arguments not passed from the function's defaults."""
    if len(args) > len(params):
        raise TypeError(
            f"{who}: {getattr(f, '__name__', 'f')} takes {len(params)} argument(s) {params}, "
            f"got {len(args)}"
        )
    if len(args) == len(params):
        return args
    defaults = defaults_of(f)
    missing = params[len(args) :]
    if len(missing) > len(defaults):
        needed = missing[: len(missing) - len(defaults)]
        raise TypeError(f"{who}: {getattr(f, '__name__', 'f')} needs argument(s) {needed}")
    return args + list(defaults[len(defaults) - len(missing) :])


def as_tangent(t: Any, x: Any, index: int, name: str) -> Any:
    """Check a tangent: real numbers shaped like its primal."""
    t = as_differentiable(t, index, name)
    if np.shape(t) != np.shape(x):
        raise ValueError(
            f"the tangent of argument {index} ({name!r}) has shape {np.shape(t)}, but the "
            f"argument has shape {np.shape(x)}; pass a tangent shaped like its primal"
        )
    return t


def reject_containers(args: Sequence, who: str) -> None:
    for i, a in enumerate(args):
        if type(a) in (tuple, list, dict):
            as_array_or_float(a, i, "", who)


def as_array_or_float(value: Any, index: int, name: str, who: str) -> Any:
    """Forward mode and Jacobians take arrays and floats, not containers (yet)."""
    if type(value) in (tuple, list, dict):
        raise TypeError(
            f"{who}: argument {index}{f' ({name!r})' if name else ''} is a "
            f"{type(value).__name__}; forward mode and "
            "Jacobians take floats and arrays: pass the arrays as separate arguments "
            "(containers work with grad, value_and_grad and vjp)"
        )
    return as_differentiable(value, index, name)


# -- the per-call fast path ------------------------------------------------------------

MISS: Any = object()  # what a runner returns for a call that is not its variant's to run

_FLOAT64 = np.dtype(np.float64)


def no_runner(args: tuple) -> Any:
    """The fast path before the first call (and for calls it cannot check): always missed."""
    return MISS


def make_runner(
    function: Callable,
    kinds: tuple[tuple[int, int], ...],
    argnums: tuple[int, ...],
    as_tuple: bool,
    returns: str,
    guard: Callable[[], bool],
    generation: tuple[list, int],
) -> Callable[[tuple], Any]:
    """One generated function that does, for a call of `grad(f)` (or value_and_grad), all
    that the API does besides running `function`: check that the positional `args` are
    of the `kinds` the variant was compiled for (`matches_kinds`), that the
    differentiated ones are floats or float arrays, that `guard` (what compiling
    resolved, guards.py) still holds and no rule was registered since
    (`generation`: the registry's cell and its value when compiling); then run
    `function` and shape the gradients as `returned_gradient` does.  It returns
    MISS, having run nothing, when a check fails: the caller takes the slow path.

    Every check is written out for the positions it concerns, with the guard's
    own test folded in, so a call costs one Python function call plus a few
    attribute reads per array.  `returns` is "grad", "grad_aux" (`(grads, aux)`)
    or "value" (value_and_grad: `(value, grads)`).  None when a differentiated
    argument is checked as the slow path does, by type only.
    """
    kind_of = dict(kinds)
    cells: dict[str, Any] = dict(getattr(guard, "values", {}))
    cells.update(
        fn=function,
        ndarray=np.ndarray,
        f64=_FLOAT64,
        miss=MISS,
        shaped_like=shaped_like,
        returned_gradient=returned_gradient,
    )
    cells["gen_cell"], generation_now = generation
    checks = [f"gen_cell[0] == {generation_now}", f"({getattr(guard, 'test', 'True')})"]
    loaded = sorted(set(kind_of) | set(argnums))
    for i in loaded:
        a, kind = f"a{i}", kind_of.get(i)
        if kind is None:  # a float or a float array of any shape
            checks.append(
                f"(type({a}) is float or type({a}) is ndarray"
                f" and ({a}.dtype is f64 or {a}.dtype.kind == 'f'))"
            )
            continue
        if kind < 0:
            if i in argnums:
                checks.append(f"type({a}) is float")
            else:
                checks.append(f"(type({a}) is float or type({a}) is int)")
            continue
        checks.append(
            f"type({a}) is ndarray and len(s{i} := {a}.shape) == {kind} and 1 not in s{i}"
        )
        if i in argnums:
            checks.append(f"({a}.dtype is f64 or {a}.dtype.kind == 'f')")
    count = loaded[-1] + 1
    body = [
        "def run(args):",
        f"    if len(args) < {count}:",
        "        return miss",
        "    try:",
        *(f"        a{i} = args[{i}]" for i in loaded),
        "        if not (",
        "            " + "\n            and ".join(checks),
        "        ):",
        "            return miss",
        "    except Exception:",
        "        return miss",
    ]
    grads = [f"g{i}" for i in argnums]
    # the gradients as the generated function returns them, and as they are handed back
    out = (", ".join(grads) + ("," if len(grads) == 1 else "")) if as_tuple else grads[0]
    call = {"value": f"value, ({out})", "grad_aux": f"({out}), aux"}.get(returns, out)
    body.append(f"    {call} = fn(*args)")
    done: list[str] = []
    for i in argnums:
        g, kind = f"g{i}", kind_of.get(i)
        if kind is None:
            body.append(f"    {g} = returned_gradient({g}, a{i})")
            if done:
                same = " or ".join(f"{g} is {other}" for other in done)
                body += [f"    if type({g}) is ndarray and ({same}):", f"        {g} = {g}.copy()"]
            done.append(g)
            continue
        if kind < 0:
            body.append(f"    {g} = float({g})")
            continue
        body += [
            f"    if type({g}) is not ndarray or {g}.shape != s{i} or (",
            f"        {g}.base is not None and not {g}.flags.writeable",
            "    ):",
            f"        {g} = shaped_like({g}, a{i})",
        ]
        if done:  # two arguments must not share one gradient array
            same = " or ".join(f"{g} is {other}" for other in done)
            body += [f"    if {same}:", f"        {g} = {g}.copy()"]
        done.append(g)
    body.append(f"    return {call}")
    names = list(cells)
    source = f"def make({', '.join(names)}):\n" + "".join(f"    {line}\n" for line in body)
    source += "    return run\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<chainrule runner>", "exec"), namespace)
    run = namespace["make"](*cells.values())
    run.source = source  # type: ignore[attr-defined]  # what it checks, for people
    return run
