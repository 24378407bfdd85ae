"""Shrink a failing program while it keeps failing the same way.

A failing random program is mostly noise: the defect usually needs two or
three of its twenty statements.  The minimizer edits the program's syntax
tree, greedily: it tries the biggest cuts first (deleting halves of a block,
then single statements), then replaces compound statements by their bodies,
then replaces expressions by one of their operands, and keeps any edit after
which the program still fails with the same signature (same outcome, same
stage, same oracle or normalized message).  It stops at a fixed point or when
its budget of checks or seconds runs out.
"""

from __future__ import annotations

import ast
import builtins
import copy
import time
from collections.abc import Callable, Iterator

from .check import SECOND_ORDER, Result, check_program
from .programs import Program

Edit = Callable[[ast.Module], ast.Module | None]


def _holders(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every statement list in the tree, as (node, field), in a fixed order."""
    out = []
    for node in ast.walk(tree):
        for name in ("body", "orelse"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                out.append((node, name))
    return out


def _delete(holder: int, name: str, start: int, stop: int) -> Edit:
    def edit(tree: ast.Module) -> ast.Module | None:
        node, _ = _holders(tree)[holder]
        body = getattr(node, name)
        protected = [s for s in body[start:stop] if _protected(s)]
        if protected:
            return None
        del body[start:stop]
        if not body and (name == "body" or not isinstance(node, (ast.If, ast.For, ast.While))):
            body.append(ast.Pass())
        return tree

    return edit


def _protected(stmt: ast.stmt) -> bool:
    """The import and the function under test stay (the signature is fixed)."""
    if isinstance(stmt, ast.Import):
        return True
    if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name in ("f", "Model"):
        return True
    targets = getattr(stmt, "targets", [])
    return any(isinstance(t, ast.Name) and t.id in ("f", "make") for t in targets)


def _inline(holder: int, name: str, index: int, part: str) -> Edit:
    """Replace a compound statement by one of its blocks (if -> body, loop -> body...)."""

    def edit(tree: ast.Module) -> ast.Module | None:
        node, _ = _holders(tree)[holder]
        body = getattr(node, name)
        stmt = body[index]
        inner = getattr(stmt, part, None)
        if not inner:
            return None
        body[index : index + 1] = inner
        return tree

    return edit


class _Replace(ast.NodeTransformer):
    """Replace the index-th expression node (in walk order) by what `make` returns."""

    def __init__(self, index: int, make: Callable[[ast.expr], ast.expr | None]) -> None:
        self.index = index
        self.make = make
        self.count = -1
        self.done = False

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr) and not self.done:
            self.count += 1
            if self.count == self.index:
                self.done = True
                replacement = self.make(node)
                if replacement is None:
                    self.done = False
                    return node
                return replacement
        return self.generic_visit(node)


def _expressions(tree: ast.AST) -> list[ast.expr]:
    """Expression nodes in the order `_Replace` counts them (depth first, fields in order)."""
    out: list[ast.expr] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.expr):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _simplifications(node: ast.expr) -> list[Callable[[ast.expr], ast.expr | None]]:
    """Smaller expressions that might stand in for `node`."""
    out: list[Callable[[ast.expr], ast.expr | None]] = []
    if isinstance(node, ast.BinOp):
        out += [lambda n: n.left, lambda n: n.right]
    elif isinstance(node, ast.UnaryOp):
        out.append(lambda n: n.operand)
    elif isinstance(node, ast.IfExp):
        out += [lambda n: n.body, lambda n: n.orelse]
    elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name | ast.Call):
        keep = ("range", "enumerate", "zip", "len")
        if not (isinstance(node.func, ast.Name) and node.func.id in keep):
            out.append(lambda n: n.args[0])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        if not (isinstance(receiver, ast.Name) and receiver.id == "np"):
            out.append(lambda n: n.func.value)  # x.sum() -> x
    elif (
        isinstance(node, ast.Constant)
        and isinstance(node.value, float)
        and node.value not in (0.0, 1.0)
    ):
        out.append(lambda n: ast.Constant(1.0))
    return out


def _expression_edit(index: int, make: Callable[[ast.expr], ast.expr | None]) -> Edit:
    def edit(tree: ast.Module) -> ast.Module | None:
        replacer = _Replace(index, make)
        tree = replacer.visit(tree)
        return tree if replacer.done else None

    return edit


def _edits(tree: ast.Module, expressions: bool) -> Iterator[Edit]:
    """Candidate edits, biggest first.  `expressions=False` (shrinking a refusal) also keeps
    every `if`: inlining one branch would put on one path what were two exclusive paths."""
    holders = _holders(tree)
    for size in (8, 4, 2, 1):
        for h, (node, name) in enumerate(holders):
            body = getattr(node, name)
            if size > 1 and len(body) <= size:
                continue
            for start in range(0, len(body), size):
                yield _delete(h, name, start, start + size)
    for h, (node, name) in enumerate(holders):
        for i, stmt in enumerate(getattr(node, name)):
            if isinstance(stmt, ast.If) and not expressions:
                continue
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                yield _inline(h, name, i, "body")
                if stmt.orelse:
                    yield _inline(h, name, i, "orelse")
    if not expressions:
        return
    for index, node in enumerate(_expressions(tree)):
        for make in _simplifications(node):
            yield _expression_edit(index, make)


def _plausible(tree: ast.Module, text: str) -> bool:
    """Compiles, has no statement after a return/break/continue, reads no name it never binds.

    A candidate that only fails because of dead code or an unbound name would be
    a confusing repro, even when it fails with the same signature.
    """
    try:
        compile(text, "<candidate>", "exec")
    except SyntaxError:
        return False
    for node, name in _holders(tree):
        body = getattr(node, name)
        if any(isinstance(s, (ast.Return, ast.Break, ast.Continue)) for s in body[:-1]):
            return False
    return _bound_before_use(tree)


def _bound_before_use(tree: ast.Module) -> bool:
    """Every name read is bound somewhere earlier in the text (or is a builtin).

    Textual order approximates "bound on every path": a loop body that reads a
    name it only assigns further down fails this check, which is what we want
    (the first iteration would raise NameError).
    """
    updated = {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}
    generated = {
        id(n)
        for c in ast.walk(tree)
        if isinstance(c, ast.comprehension)
        for n in ast.walk(c.target)
    }
    first: dict[str, tuple[int, int]] = {}
    reads: list[tuple[str, tuple[int, int]]] = []

    def bind(name: str, where: tuple[int, int]) -> None:
        first[name] = min(first.get(name, where), where)

    for node in ast.walk(tree):
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        if isinstance(node, ast.Name):
            if id(node) in generated:
                bind(node.id, (0, 0))
            elif isinstance(node.ctx, ast.Load) or id(node) in updated:  # `c += 1` reads c
                reads.append((node.id, where))
            else:
                bind(node.id, where)
        elif isinstance(node, ast.arg):
            bind(node.arg, where)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bind(node.name, where)
        elif isinstance(node, ast.alias):
            bind(node.asname or node.name, (0, 0))
    known = set(dir(builtins))
    return all(name in known or first.get(name, (1 << 30, 0)) < where for name, where in reads)


def minimize(
    program: Program,
    failure: Result,
    seed: int = 0,
    max_checks: int = 300,
    max_seconds: float = 60.0,
) -> str:
    """The smallest source found that fails with the same signature as `failure`.

    A refusal is only shrunk by deleting and inlining statements: simplifying
    expressions could turn `y = x * 2.0` into `y = x`, an alias, and so make the
    program one that the docs allow chainrule to refuse.  An `unrefused`
    program is not shrunk at all (every shrink of it is unrefused too).
    """
    if failure.outcome == "unrefused":
        return program.source
    expressions = failure.outcome != "refused-supported"
    target = failure.signature
    autograd = failure.stage == "autograd"
    second_order = failure.stage in SECOND_ORDER
    best = ast.parse(program.source)
    best_text = ast.unparse(best)
    checks = 0
    start = time.monotonic()

    def still_fails(text: str) -> bool:
        candidate = program.with_source(text)
        smooth = failure.outcome == "wrong"  # finite differences only matter to wrong values
        result = check_program(
            candidate, seed, autograd, second_order, until=failure.stage, smooth=smooth
        )
        return result.signature == target

    improved = True
    while improved:
        improved = False
        for edit in _edits(best, expressions):
            if checks >= max_checks or time.monotonic() - start > max_seconds:
                return best_text + "\n"
            candidate = edit(copy.deepcopy(best))
            if candidate is None:
                continue
            text = ast.unparse(ast.fix_missing_locations(candidate))
            if len(text) >= len(best_text) or not _plausible(candidate, text):
                continue
            checks += 1
            if still_fails(text + "\n"):
                best, best_text, improved = candidate, text, True
                break
    return best_text + "\n"
