"""The result of compiling one function: what the pipeline returns and the cache stores.

It sits below both the pipeline (pipeline.py), which makes it, and the
persistent cache (cache.py), which writes it to disk and reads it back.

Its `guard` (guards.py) answers whether what compiling assumed still holds;
the pipeline sets it on each instance.  It is not a dataclass field: it is
never written to the disk cache, but rebuilt for the process that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class Compiled:
    """A generated function, its displayed source, and what the API needs to call it."""

    function: Callable
    source: str
    params: list[str]
    argnums: tuple[int, ...]
    indexed: frozenset[int] = frozenset()  # parameters the function indexes (x[i])
    dependencies: tuple[str, ...] = ()  # files of inlined functions besides f's own
    # (generated line, user's file, line, column, text): see ir.GENERATED_ORIGINS
    line_map: tuple[tuple[int, str, int, int, str], ...] = ()

    # set per instance by the pipeline: every name compiling resolved still resolves so
    guard: ClassVar[Callable[[], bool]] = staticmethod(lambda: True)
