"""Programs as real modules: chainrule reads source from files, so each program gets one.

Two copies of the program are imported: the text as generated (NumPy) and the
same text with `import autograd.numpy as np`, which is the autograd oracle.
Both live in a temporary directory that is removed, with the modules and the
line cache entries, when the `loaded` block ends.
"""

from __future__ import annotations

import importlib.util
import itertools
import linecache
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from .programs import Program

_counter = itertools.count()


@dataclass
class Loaded:
    f: Callable  # the function to differentiate, from the NumPy module
    f_autograd: Callable | None  # the same, with autograd.numpy as np (None if it won't import)
    path: str  # the NumPy module's file: a CompileError must point into it


def _import(directory: str, name: str, source: str) -> tuple[ModuleType, str]:
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, path


@contextmanager
def loaded(program: Program, autograd: bool = True) -> Iterator[Loaded]:
    directory = tempfile.mkdtemp(prefix="difftest_")
    stem = f"difftest_{next(_counter)}_{os.getpid()}"
    names = [stem, stem + "_ag"]
    paths: list[str] = []
    try:
        module, path = _import(directory, stem, program.source)
        paths.append(path)
        f_autograd = None
        if autograd:
            text = program.source.replace("import numpy as np", "import autograd.numpy as np", 1)
            try:
                ag_module, ag_path = _import(directory, names[1], text)
                paths.append(ag_path)
                f_autograd = getattr(ag_module, program.entry)
            except Exception:
                f_autograd = None
        yield Loaded(getattr(module, program.entry), f_autograd, path)
    finally:
        for name in names:
            sys.modules.pop(name, None)
        shutil.rmtree(directory, ignore_errors=True)
        for path in paths:
            linecache.checkcache(path)
