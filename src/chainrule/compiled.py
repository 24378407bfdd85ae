"""The result of compiling one function: what the pipeline returns and the cache stores.

It sits below both the pipeline (pipeline.py), which makes it, and the
persistent cache (cache.py), which writes it to disk and reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Compiled:
    """A generated function, its displayed source, and what the API needs to call it."""

    function: Callable
    source: str
    params: list[str]
    argnums: tuple[int, ...]
    indexed: frozenset[int] = frozenset()  # parameters the function indexes (x[i])
    dependencies: tuple[str, ...] = ()  # files of inlined functions besides f's own
