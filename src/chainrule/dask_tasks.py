"""The worker side of chainrule.dask: generated code as text, partitions, partial results.

Everything here runs on, or travels to, Dask's workers: the generated
gradient as module text compiled once per worker process (`_Program`,
`_Call`), the evaluation of one partition (`_evaluate`), and the tree
reduction of partial values and gradients (`_combine`, `_finish`).  The
public entry points and the argument checks are in `chainrule.dask`.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import linecache
import symtable
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np


def _name(f: Any) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _leaves(value: Any) -> list:
    t = type(value)
    if t is dict:
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if t is tuple or t is list:
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _rebuild(tree: Any, leaves: Any) -> Any:
    """The inverse of `_leaves` for the nesting `tree` (`leaves` is an iterator)."""
    if tree in ("scalar", "array"):
        return next(leaves)
    if tree[0] == "dict":
        return {k: _rebuild(sub, leaves) for k, sub in tree[1]}
    if tree[0] in ("tuple", "list"):
        items = [_rebuild(sub, leaves) for sub in tree[1]]
        return tuple(items) if tree[0] == "tuple" else items
    raise AssertionError(f"internal error: unknown structure {tree!r}")  # pragma: no cover


def _as_numpy(block: Any) -> Any:
    """A dataframe partition as the NumPy array the loss is written for."""
    return block.to_numpy() if hasattr(block, "to_numpy") and hasattr(block, "index") else block


# -- the code, as text ----------------------------------------------------------------------


class _Program:
    """Generated code as module text, with the SHA-256 that names it on the workers."""

    def __init__(self, text: str, entry: str) -> None:
        self.text = text
        self.entry = entry  # the generated function's name
        self.digest = hashlib.sha256(text.encode()).hexdigest()
        self.bindings: dict[str, Any] = {}  # names read from the loss's module or closure

    @classmethod
    def from_source(cls, text: str, loss: Callable, slug: str) -> _Program:
        """Make `chainrule.value_and_grad(loss).source` runnable in another process.

        The text imports NumPy, chainrule.runtime and library modules itself.
        What it reads from the loss's own module (a script's `__main__` cannot
        be imported elsewhere) or closure is looked up here and sent by value.
        """
        module = getattr(loss, "__module__", None) or "__main__"
        lines = text.splitlines()
        local_imports: list[str] = []
        entry = ""
        for stmt in ast.parse(text).body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module in (module, "__main__"):
                names = [a.asname or a.name for a in stmt.names]
                local_imports.extend(names)
                first, last = stmt.lineno - 1, stmt.end_lineno or stmt.lineno
                for k in range(first, last):  # keep the line numbers of tracebacks
                    lines[k] = f"# {', '.join(names)}: sent by value" if k == first else "#"
            elif isinstance(stmt, ast.FunctionDef):
                entry = stmt.name
        bindings: dict[str, Any] = {}
        for name in sorted(_free_names("\n".join(lines)) | set(local_imports)):
            found, value = _lookup(loss, name)
            if found:
                bindings[name] = value
            elif not hasattr(builtins, name):
                raise NameError(
                    f"the gradient of {_name(loss)} reads {name!r}, which chainrule.dask cannot "
                    f"find in the closure or globals of {_name(loss)} or of the functions it "
                    "calls; define it at module level, or pass it as an argument"
                )
        if bindings:
            lines.insert(
                1, f"# chainrule.dask sends the values of {', '.join(bindings)} with the task"
            )
        program = cls("\n".join(lines) + "\n", entry)
        program.bindings = bindings
        return program


def _free_names(text: str) -> set[str]:
    """Global names the module's functions read that the module itself does not bind."""
    table = symtable.symtable(text, "<generated>", "exec")
    top = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    found: set[str] = set()

    def visit(t: symtable.SymbolTable) -> None:
        for child in t.get_children():
            for s in child.get_symbols():
                if s.is_referenced() and s.is_global() and s.get_name() not in top:
                    found.add(s.get_name())
            visit(child)

    visit(table)
    return found


def _lookup(loss: Callable, name: str) -> tuple[bool, Any]:
    """`name` in the closure or globals of `loss`, then of the Python functions it reaches
    (helpers inlined into the generated code read their own modules' globals)."""
    seen: set[int] = set()
    todo = [inspect.unwrap(loss)]
    while todo:
        f = todo.pop(0)
        code = getattr(f, "__code__", None)
        if id(f) in seen or code is None:
            continue
        seen.add(id(f))
        cells = dict(zip(code.co_freevars, getattr(f, "__closure__", None) or ()))
        if name in cells:
            try:
                return True, cells[name].cell_contents
            except ValueError:  # an empty cell
                pass
        space = getattr(f, "__globals__", {})
        if name in space:
            return True, space[name]
        for ref in (*code.co_names, *code.co_freevars):
            candidate = space.get(ref)
            if ref in cells:
                try:
                    candidate = cells[ref].cell_contents
                except ValueError:
                    candidate = None
            if isinstance(candidate, types.FunctionType):
                todo.append(candidate)
    return False, None


# -- on the workers -------------------------------------------------------------------------

_CODE: dict[str, types.CodeType] = {}  # sha256 of a program's text -> its compiled code
_CODE_LOCK = threading.Lock()


class _Call:
    """What every partition of one evaluation shares: one key of the task graph."""

    def __init__(
        self,
        program: _Program,
        values: list,
        data: dict[int, str],
        tree: Any,
        as_tuple: bool,
    ) -> None:
        self.program = program
        self.values = values  # the loss's positional arguments; None where data goes
        self.data = tuple(sorted(data))  # the positions of the Dask arguments
        self.names = tuple(data[i] for i in self.data)  # and their names, for messages
        self.tree = tree
        self.as_tuple = as_tuple
        self._function: Callable | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_function"] = None  # built again in each worker process
        return state

    def function(self) -> Callable:
        """The generated function, compiled once per process and hash, bound once per call."""
        if self._function is None:
            program = self.program
            code = _CODE.get(program.digest)
            if code is None:
                with _CODE_LOCK:
                    code = _CODE.get(program.digest)
                    if code is None:
                        if hashlib.sha256(program.text.encode()).hexdigest() != program.digest:
                            raise RuntimeError("chainrule.dask: the generated code was altered")
                        filename = f"<chainrule.dask {program.entry} {program.digest[:12]}>"
                        code = compile(program.text, filename, "exec")
                        lines = program.text.splitlines(True)
                        linecache.cache[filename] = (len(program.text), None, lines, filename)
                        if len(_CODE) > 256:
                            _CODE.clear()
                        _CODE[program.digest] = code
            namespace = {"__name__": f"chainrule_dask_{program.digest[:12]}"}
            namespace.update(program.bindings)
            exec(code, namespace)
            self._function = namespace[program.entry]
        return self._function


def _rows(block: Any) -> int:
    return len(block) if not hasattr(block, "shape") else int(block.shape[0])


def _evaluate(call: _Call, index: int, *blocks: Any) -> tuple[int, float, list] | None:
    """One partition: (rows, value, gradient leaves), or None when it has no rows."""
    blocks = tuple(_as_numpy(b) for b in blocks)
    rows = [_rows(b) for b in blocks]
    if len(set(rows)) > 1:
        counts = ", ".join(f"{n} in {name!r}" for n, name in zip(rows, call.names))
        raise ValueError(
            f"partition {index} has rows {counts}: the Dask arguments must be partitioned "
            "alike, with the same rows in each partition"
        )
    if rows[0] == 0:
        return None
    args = list(call.values)
    for i, block in zip(call.data, blocks):
        args[i] = block
    value, grads = call.function()(*args)
    leaves = _leaves(grads if call.as_tuple else (grads,))
    return rows[0], float(value), leaves


def _combine(reduction: str, *partials: Any) -> tuple[int, float, list] | None:
    """Partial results of several partitions as one (weighted by rows for a mean)."""
    partials = tuple(p for p in partials if p is not None)
    if not partials:
        return None
    if len(partials) == 1:
        return partials[0]
    rows = sum(p[0] for p in partials)
    if reduction == "sum":
        value = sum(p[1] for p in partials)
        leaves = [sum(parts[1:], parts[0]) for parts in zip(*(p[2] for p in partials))]
    else:
        weights = [p[0] / rows for p in partials]
        value = sum(w * p[1] for w, p in zip(weights, partials))
        leaves = [
            sum((w * g for w, g in zip(weights[1:], parts[1:])), weights[0] * parts[0])
            for parts in zip(*(p[2] for p in partials))
        ]
    return rows, value, leaves


def _finish(partial: Any, tree: Any, templates: list, as_tuple: bool, with_value: bool) -> Any:
    """The combined result in the parameters' structure: floats for floats, arrays shaped
    like the arrays (a gradient that NumPy broadcast to one element is spread out)."""
    if partial is None:
        raise ValueError("the Dask data has no rows: there is nothing to differentiate")
    _, value, leaves = partial
    shaped = []
    for g, shape in zip(leaves, templates):
        if shape is None:
            shaped.append(float(g))
            continue
        g = np.asarray(g)
        if g.shape != shape:
            g = np.broadcast_to(g, shape).copy() if g.size == 1 else g
        shaped.append(g)
    grads = _rebuild(tree, iter(shaped))
    if not as_tuple:
        grads = grads[0]
    return (value, grads) if with_value else grads
