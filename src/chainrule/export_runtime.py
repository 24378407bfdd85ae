"""The helpers of chainrule.runtime that an exported module copies.

Generated code calls helpers such as `unbroadcast` and `dot_grad_left`.  An
exported module must run where chainrule is not installed, so `exporting.py`
copies into it the text of each helper the code names, with the helpers and
imports those use in turn (`runtime_closure`), in the order of the runtime's
own files.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from . import runtime


def runtime_definitions() -> tuple[dict[str, ast.stmt], dict[int, str], list[ast.stmt]]:
    """Top-level definitions of chainrule.runtime's modules by name (in `runtime.MODULES`'
    order), the text of the file each one is in, and the modules' imports."""
    defs: dict[str, ast.stmt] = {}
    texts: dict[int, str] = {}  # id of a definition -> the text of its file
    imports: list[ast.stmt] = []
    for module in runtime.MODULES:
        text = Path(module.__file__ or "").read_text(encoding="utf-8")
        for stmt in ast.parse(text).body:
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                defs[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name) and target.id != "__all__":
                        defs[target.id] = stmt
            elif isinstance(stmt, ast.Import) or (
                isinstance(stmt, ast.ImportFrom)
                and stmt.module != "__future__"
                and stmt.level == 0  # (the modules import each other's helpers)
            ):
                imports.append(stmt)
                continue
            else:
                continue
            texts[id(stmt)] = text
    return defs, texts, imports


def bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.ImportFrom):
        return [a.asname or a.name for a in stmt.names]
    return []


def runtime_closure(wanted: Iterable[str]) -> tuple[list[str], list[ast.stmt], set[str]]:
    """The runtime definitions needed for `wanted` (texts, in the runtime's order), the
    imports they use, and the names they define."""
    defs, texts, runtime_imports = runtime_definitions()
    import_of = {name: stmt for stmt in runtime_imports for name in bound_names(stmt)}
    needed: set[str] = set()
    imports: dict[str, ast.stmt] = {}
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        if name not in defs:
            raise LookupError(f"chainrule.runtime has no helper named {name!r}")
        needed.add(name)
        for node in ast.walk(defs[name]):
            if isinstance(node, ast.Name):
                if node.id in defs and node.id not in needed:
                    todo.append(node.id)
                elif node.id in import_of:
                    imports[node.id] = import_of[node.id]
    order = {id(stmt): i for i, stmt in enumerate(defs.values())}
    chosen = sorted({id(defs[n]): defs[n] for n in needed}.values(), key=lambda s: order[id(s)])
    segments = [
        ast.get_source_segment(texts[id(stmt)], stmt) or ast.unparse(stmt) for stmt in chosen
    ]
    return segments, list(imports.values()), needed
