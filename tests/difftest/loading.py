"""Programs as real modules: chainrule reads source from files, so each program gets one.

Two copies of the program are imported: the text as generated (NumPy) and the
same text with `import autograd.numpy as np`, which is the autograd oracle.
Both live in a temporary directory that is removed, with the modules and the
line cache entries, when the `loaded` block ends.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import linecache
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from .programs import Program

_counter = itertools.count()


@dataclass
class Loaded:
    f: Callable  # the function to differentiate, from the NumPy module
    f_autograd: Callable | None  # the same, with autograd.numpy as np (None if it won't import)
    path: str  # the NumPy module's file: a CompileError must point into it
    f_probed: Callable | None = None  # the same, recording how close each comparison came
    probe_gaps: list[float] = field(default_factory=list)  # (filled by calls of f_probed)


PROBE = "__difftest_probe__"


class _ProbeComparisons(ast.NodeTransformer):
    """`a < b` -> `probe(a, b) < b`: the probe records |a - b|, the distance from the
    branch boundary (finite differences cannot see a point that sits exactly on one,
    where only the point itself takes the other branch)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        """`abs(u)` -> `abs(probe(u, 0.0))`, `np.maximum(a, b)` -> `np.maximum(probe(a, b), b)`:
        a kink exactly at the point (|x * x| at x = 0) is a boundary too."""
        self.generic_visit(node)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        name = node.func.id if isinstance(node.func, ast.Name) else name
        probe = ast.Name(PROBE, ast.Load())
        if name in ("abs", "absolute", "fabs") and len(node.args) == 1:
            node.args[0] = ast.Call(func=probe, args=[node.args[0], ast.Constant(0.0)], keywords=[])
        elif name in ("maximum", "minimum", "fmax", "fmin") and len(node.args) == 2:
            node.args[0] = ast.Call(func=probe, args=node.args[:2], keywords=[])
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Lt, ast.Gt, ast.LtE, ast.GtE)):
            probe = ast.Name(PROBE, ast.Load())
            node.left = ast.Call(func=probe, args=[node.left, node.comparators[0]], keywords=[])
        return node


def probed_source(source: str) -> str:
    tree = _ProbeComparisons().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def _probe(gaps: list[float]) -> Callable:
    def probe(left: Any, right: Any) -> Any:
        a, b = np.asarray(left), np.asarray(right)
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":  # (integer counters are exact)
            with np.errstate(all="ignore"):
                gap = np.abs(a - b) / (1.0 + np.abs(b))
            if gap.size:
                gaps.append(float(np.nanmin(gap)))
        return left

    return probe


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
    names = [stem, stem + "_ag", stem + "_probed"]
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
        gaps: list[float] = []
        f_probed = None
        try:
            probed, probed_path = _import(directory, names[2], probed_source(program.source))
            paths.append(probed_path)
            setattr(probed, PROBE, _probe(gaps))
            f_probed = getattr(probed, program.entry)
        except Exception:
            f_probed = None
        yield Loaded(getattr(module, program.entry), f_autograd, path, f_probed, gaps)
    finally:
        for name in names:
            sys.modules.pop(name, None)
        shutil.rmtree(directory, ignore_errors=True)
        for path in paths:
            linecache.checkcache(path)
