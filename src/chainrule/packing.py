"""Compiling a function that returns a tuple (or a list) of arrays, for vjp, jvp and
the Jacobians: the compile request as it is, or, when normalize refuses the
`return a, b` as a derivative's value, the wrapper `return tuple(f(...))` that
jacobians.packed writes, compiled in its place (and kept per function, so that
each later request compiles the same wrapper)."""

from __future__ import annotations

import dataclasses
import weakref

from .compiled import Compiled
from .errors import CompileError
from .jacobians import packed, returned_container
from .parse import parse_function
from .pipeline import CompileRequest, compile_function

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
