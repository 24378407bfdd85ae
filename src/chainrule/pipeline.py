"""The compile driver: one request, through every stage, to a `Compiled` function.

    parse -> normalize -> transformation -> optimize -> codegen

`compile_function` runs the pipeline for a `CompileRequest`: a function,
the arguments to differentiate, and the name of a registered transformation
(transformation.py; reverse/ registers "grad", "value_and_grad" and "vjp",
forward.py "jvp").  Results are cached per function object and `compile_key`
(in memory, and on disk through cache.py), and recorded when
`CHAINRULE_RECORD` asks for it (recording.py).

Each result carries a guard (guards.py): what compiling resolved (globals,
attribute chains, helpers, cells, defaults, the code object) must still
resolve to the same objects.  A cached result is used only while its guard
holds; when none of the variants cached for a request holds, another is
compiled and cached beside them (at most `VARIANTS` per request, the most
recently used first).  Every error in the user's
code is a CompileError; any other exception raised by a stage is a bug in
chainrule, reported as a CompileError that says so.

A differentiated function may itself call `jvp(f, ...)`: normalize inlines
f's forward-mode code, which it obtains through the `compile_jvp` callback
this module hands it, so that no stage imports the pipeline or the API.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import textwrap
import weakref
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import cache, guards, recording, rules
from .codegen import generate, renderer
from .compiled import Compiled
from .errors import CompileError
from .forward import JVP
from .fusions import fuse_cross_entropy, fuse_logistic
from .ir import Parsed
from .normalize import normalize
from .optimize import (
    accumulate_in_place,
    fold_repeated_terms,
    propagate_copies,
    remove_copies,
    remove_dead_statements,
)
from .parse import check_source, parse_function
from .reverse import GRAD  # noqa: F401  (registers the reverse-mode transformations)
from .saved_values import prune_saved_values
from .transformation import Target, Transformation, transformation_named


@dataclass(frozen=True)
class CompileRequest:
    """What to compile: a function, the arguments to differentiate, and how."""

    function: Callable
    argnums: tuple[int, ...]
    mode: str  # the name of a registered transformation: "grad", "vjp", "jvp", ...
    as_tuple: bool  # derivatives as a tuple even for one argument
    # a variant specialised on argument kinds: (position, -1) for a Python scalar
    # (shape (), so broadcasting checks on it can go), (position, ndim) for an
    # array of that ndim with no axis of length 1 (shapes.array_dims)
    scalar_params: tuple[tuple[int, int], ...] = ()
    # (position, ir.structure(argument)) for container arguments
    structures: tuple[tuple[int, Any], ...] = ()
    has_aux: bool = False  # the function returns (value, aux)
    # (position, function object) for functions passed as arguments (arguments.py's
    # passed_functions): the code inlines their calls, so it holds for those objects only
    functions: tuple[tuple[int, Any], ...] = ()

    def options(self) -> dict[str, Any]:
        """The request without its function (what recordings name)."""
        options = {
            "mode": self.mode,
            "argnums": self.argnums,
            "as_tuple": self.as_tuple,
            "scalar_params": self.scalar_params,
            "structures": self.structures,
            "has_aux": self.has_aux,
        }
        if self.functions:  # named by qualname (the recording is text)
            options["functions"] = tuple(
                (i, getattr(f, "__qualname__", type(f).__name__)) for i, f in self.functions
            )
        return options


def compile_key(request: CompileRequest) -> tuple:
    """What a compiled function depends on besides the function itself."""
    return (
        request.argnums,
        request.mode,
        request.as_tuple,
        renderer(),
        request.scalar_params,
        request.structures,
        request.has_aux,
        rules.generation(),  # a rule registered since makes earlier code stale
        request.functions,  # objects: a key the disk cache cannot store (cache._encode)
    )


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

VARIANTS = 8  # compiled variants kept per function and request (one per set of bindings)

# What happened in this process: pipelines run, and cached results whose guard failed.
stats = {"compiles": 0, "guard_failures": 0}


def compile_function(request: CompileRequest) -> Compiled:
    """Run the pipeline for `request` (cached): parse, normalize, transform, optimize,
    codegen."""
    f = request.function
    key = compile_key(request)
    try:
        per_function = _cache.setdefault(f, {})
    except TypeError:
        per_function = {}
    variants = per_function.get(key)
    if variants:
        for i, hit in enumerate(variants):
            if hit.guard():
                if i:  # the most recently used first
                    variants.insert(0, variants.pop(i))
                return hit
        stats["guard_failures"] += 1
    try:
        compiled = _compile_uncached(request, key)
    except CompileError as error:
        recording.record(f, request.options(), None, str(error))
        raise
    variants = per_function.setdefault(key, [])
    variants.insert(0, compiled)
    del variants[VARIANTS:]
    recording.record(f, request.options(), compiled.source, None)
    return compiled


def _compile_uncached(request: CompileRequest, key: tuple) -> Compiled:
    f = request.function
    found = guards.resolutions(f)
    disk_key = cache.key_for(f, key, found)  # the persistent cache (cache.py)
    if disk_key is not None:
        check_source(f)  # the file must still hold f's code, as when compiling
    stored = cache.load(f, disk_key)
    if stored is not None:
        return _guarded(stored, f, found)
    transformation = transformation_named(request.mode)
    parsed = parse_function(f)
    params = parsed.params
    for i in request.argnums:
        if i >= len(params):
            raise ValueError(
                f"argnums={i} is out of range: {parsed.func.__name__} has {len(params)} "
                f"parameter(s) {params}"
            )
    stats["compiles"] += 1
    try:
        with _collector_paused():
            compiled = _transform(parsed, request, transformation)
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
    return _guarded(compiled, f, found)


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cycle collector while a function is transformed.

    A transformation allocates hundreds of thousands of short-lived AST nodes;
    each collection of the oldest generation walks all of them, so with the
    collector on, a long function's compile time grew faster than its length
    (a 2,000-line function: 5.9 s with it, 3.5 s without). The garbage is
    collected as usual afterwards. A caller that paused the collector itself
    keeps it paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _guarded(compiled: Compiled, f: Callable, found: list) -> Compiled:
    """`compiled` with the guard of the resolutions `found`: the objects its closure
    holds (frozen when it was built) are checked by identity, data the user's module
    or cells hold by type (the generated code reads them when it runs)."""
    function = compiled.function
    own = getattr(getattr(f, "__func__", f), "__closure__", None) or ()
    frozen = {
        id(cell.cell_contents)
        for cell in function.__closure__ or ()
        if all(cell is not mine for mine in own) and _filled(cell)
    }
    compiled.guard = guards.make_guard(found, frozen)  # type: ignore[misc]
    return compiled


def _filled(cell: Any) -> bool:
    try:
        return cell.cell_contents is not _EMPTY
    except ValueError:  # an empty cell
        return False


_EMPTY = object()


def _transform(parsed: Parsed, request: CompileRequest, transformation: Transformation) -> Compiled:
    """The stages themselves, from a parsed function to a compiled one."""
    params = parsed.params
    wrt = [params[i] for i in request.argnums]  # (vjp passes every argument)
    target = Target(
        wrt,
        request.as_tuple,
        frozenset(params[i] for i, kind in request.scalar_params if kind < 0),
        {params[i]: kind for i, kind in request.scalar_params if kind >= 0},
    )
    shapes = {params[i]: shape for i, shape in request.structures}
    functions = {params[i]: obj for i, obj in request.functions if i < len(params)}
    fn = normalize(
        parsed, set(wrt), shapes, request.has_aux, compile_jvp=_compile_jvp, functions=functions
    )
    emitted = transformation.emit(fn, target)
    remove_dead_statements(emitted.function, emitted.removable)
    if target.ranks or target.scalars:  # a variant: called only through the API (floats)
        remove_copies(emitted.function)
        propagate_copies(emitted.function)
        fold_repeated_terms(emitted.function)
        env = ChainMap(emitted.cells, fn.extra_cells, parsed.globals)
        fuse_logistic(emitted.function, env)
        fuse_cross_entropy(emitted.function)
        accumulate_in_place(emitted.function, env)
        prune_saved_values(emitted.function, emitted.removable)
        remove_dead_statements(emitted.function, emitted.removable)
    built = generate(
        parsed,
        emitted.function,
        {**fn.extra_cells, **emitted.cells},  # inlined helpers' names, then the templates'
        transformation.label,
        parsed.func.__defaults__ if emitted.keeps_defaults else None,
        specialisation_note(params, request.scalar_params),
    )
    return Compiled(
        built.function,
        built.source,
        params,
        request.argnums,
        _indexed_params(parsed),
        tuple(sorted(fn.dependencies)),
        tuple((line, *place) for line, place in sorted(built.line_map.items())),
    )


def specialisation_note(params: list[str], kinds: tuple[tuple[int, int], ...]) -> str:
    """The comment lines heading a variant's source: what it is specialised on, and
    that arguments of other kinds run the general code ("" for the general code)."""
    if not kinds:
        return ""
    by_rank: dict[int, list[str]] = {}
    for i, kind in kinds:
        by_rank.setdefault(kind, []).append(params[i])
    arrays, numbers = [], []
    for kind, names in sorted(by_rank.items(), key=lambda item: -item[0]):
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        plural = len(names) > 1
        if kind >= 0:
            arrays.append(f"{listed} {'are' if plural else 'is a'} {kind}-d array{'s' * plural}")
        else:
            numbers.append(f"{listed} {'are Python numbers' if plural else 'is a Python number'}")
    if arrays:
        arrays[-1] += " (none with an axis of length 1)"
    text = (
        f"Specialised variant, run when {'; '.join(arrays + numbers)}. Calls with arguments "
        "of other shapes or types run the general code (.general_source)."
    )
    return "\n".join(textwrap.wrap(text, 90))


def _indexed_params(parsed: Parsed) -> frozenset[int]:
    """Positions of the parameters the function indexes (`x[i]`): a variant specialised
    on their ndim can tell that `x[i]` of a 1-D `x` is a scalar."""
    return frozenset(
        i
        for i, name in enumerate(parsed.params)
        if any(
            isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == name
            for n in ast.walk(parsed.node)
        )
    )


def _compile_jvp(f: Callable, argnums: tuple[int, ...]) -> Callable:
    """The forward-mode code of `f`, for a `jvp(f, ...)` call in a differentiated function."""
    return compile_function(CompileRequest(f, argnums, JVP.name, True)).function
