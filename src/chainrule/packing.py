"""Compiling a function that returns a tuple (or a list) of arrays, for vjp, jvp and
the Jacobians: the compile request as it is, or, when normalize refuses the
`return a, b` as a derivative's value, the wrapper `return tuple(f(...))` that
jacobians.packed writes, compiled in its place (and kept per function, so that
each later request compiles the same wrapper).  Also `request_for`: what
`chainrule.source` compiles for a mode, vjp and forward mode among them."""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable

from .arguments import Argnums, normalize_argnums
from .compiled import Compiled
from .errors import CompileError
from .jacobians import packed, returned_container
from .parse import parse_function
from .pipeline import CompileRequest, compile_function
from .transformation import transformation_names

_packed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # f -> `tuple(f(...))`


def compile_packing_tuples(request: CompileRequest) -> Compiled:
    """compile_function(request), where a function whose `return` gives a tuple (or a
    list) of arrays is compiled as `return tuple(f(...))` (jacobians.packed)."""
    f = request.function
    try:
        wrapped = _packed.get(f)
    except TypeError:
        wrapped = None
    if wrapped is None:
        try:
            return compile_function(request)
        except CompileError as error:
            kind = returned_container(error)
            if kind is None:
                raise
        wrapped = packed(f, parse_function(f).params, kind)
        try:
            _packed[f] = wrapped
        except TypeError:
            pass
    return compile_function(dataclasses.replace(request, function=wrapped))


def request_for(f: Callable, argnums: Argnums, mode: str) -> CompileRequest:
    """What `source(f, argnums, mode)` compiles.  "forward" selects forward mode (the
    "jvp" transformation), and any other registered transformation is selected by
    its name; vjp differentiates every argument, forward mode returns a tuple of
    tangents."""
    if mode == "forward":
        nums, _ = normalize_argnums(argnums, "source")
        return CompileRequest(f, nums, "jvp", True)
    if mode == "jvp" or mode not in transformation_names():
        raise ValueError(f"mode must be 'grad', 'value_and_grad' or 'vjp', got {mode!r}")
    if mode == "vjp":
        parsed_params = parse_function(f).params
        return CompileRequest(f, tuple(range(len(parsed_params))), "vjp", True)
    nums, as_tuple = normalize_argnums(argnums, mode)
    return CompileRequest(f, nums, mode, as_tuple)
