"""The data the stages of the pipeline hand each other.

Every stage reads and writes Python syntax trees (`ast`), so the generated
code is always printable Python.  What the stages know about a statement
beyond its syntax (the primitive it applies, the user's line it came from,
whether it ends a loop iteration...) is one typed record per node, `Facts`,
reached with `facts_of(node)` (to read) and `facts(node)` (to write).

The records defined here:

* `Parsed`: a function's syntax tree and the environment its names live in
  (made by parse.py);
* `Function`: a normalized function, one operation per statement in SSA form
  (made by normalize/), with `Names`, the allocator of collision-free names;
* the primitive markers for operations that are not calls of a Python
  object (`LIST_APPEND`, `SETITEM`, `UNPACK`, `IDENTITY`...) and `Method`;
* `Tree`, a container (tuple, list, dict) resolved at compile time;
* comment markers, statements that codegen renders as `# text`.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from .errors import CompileError

MISSING: Any = object()  # what `Parsed.resolve` returns for a name it cannot resolve


# -- primitive markers -------------------------------------------------------------------


class ListAppend:
    """Primitive of `hs.append(v)` on a list created in the function."""

    __name__ = "list append"


class ListGet:
    """Primitive of `hs[i]` on a list created in the function."""

    __name__ = "list item"


class ListSet:
    """Primitive of `hs[i] = v` on a list created in the function."""

    __name__ = "list item assignment"


class SetItem:
    """Primitive of `out[i] = v`, an in-place write into a local array."""

    __name__ = "subscript assignment"


class AddAt:
    """Primitive of `np.add.at(out, i, v)`, an in-place accumulation into a local array."""

    __name__ = "np.add.at"


class Unpack:
    """Primitive of `a, b = x` for an array x: reads x[0], x[1], ..."""

    __name__ = "tuple unpacking"


LIST_APPEND = ListAppend()
LIST_GET = ListGet()
LIST_SET = ListSet()
SETITEM = SetItem()
ADD_AT = AddAt()
UNPACK = Unpack()
IDENTITY = object()  # the "primitive" of a plain copy `y = x` (rules/arithmetic.py: copy)


@dataclass
class Method:
    """A method called on a local value that is not an ndarray method (or, with
    `attribute`, an attribute read from one)."""

    name: str
    attribute: bool = False


# -- what the stages know about a node ----------------------------------------------------


@dataclass(slots=True)
class Facts:
    """What the pipeline knows about one syntax-tree node, beyond its syntax.

    Normalize fills most fields for the statements it emits (`annotate`);
    a statement without a record has the defaults: it applies no primitive
    ("inert"), restores what it overwrites, and so on.
    """

    # what a normalized statement computes (normalize)
    origin: ast.AST | None = None  # the user's statement it came from (comments, errors)
    site: ast.AST | None = None  # the user's expression it computes (error positions)
    prim: Any = None  # the primitive it applies (None: it carries no gradient)
    args: list[ast.expr] = field(default_factory=list)  # the primitive's arguments
    kwargs: dict[str, ast.expr] = field(default_factory=dict)
    scope: Parsed | None = None  # the inlined function it came from (None: the root)
    # in-place changes (normalize)
    saves_old: bool = False  # the copy of the elements an array write overwrites
    pure: bool = False  # removable when nobody reads its value (optimize)
    restore: bool = True  # a write whose adjoint must put the old elements back
    # loops (jumps, normalize)
    phi_back: bool = False  # `h_1 = h_2` at the end of a loop body: the next iteration's value
    unbound_init: bool = False  # `y_1 = None` before a loop that first assigns y
    range_loop: bool = False  # a `for` over indices (range, or a loop over an array)
    exit_check: ast.If | None = None  # `if broke: break`, kept on the loop (jumps.py)
    count_init: ast.stmt | None = None  # `n = 0`, to go before a loop the adjoint counts
    # expressions
    already_renamed: bool = False  # a name that is an SSA name already
    comment_text: str | None = None  # a comment marker: the text of the comment
    derived_from: ast.stmt | None = None  # the statement whose derivative this one computes


_FACTS = "chainrule_facts"
_NO_FACTS = Facts()  # what `facts_of` returns for a node without a record: never written


def facts_of(node: ast.AST) -> Facts:
    """The facts recorded for `node`, for reading (defaults when there are none)."""
    return node.__dict__.get(_FACTS, _NO_FACTS)


def facts(node: ast.AST) -> Facts:
    """The facts recorded for `node`, for writing (an empty record is attached first)."""
    found = node.__dict__.get(_FACTS)
    if found is None:
        found = Facts()
        setattr(node, _FACTS, found)
    return found


def has_facts(node: ast.AST) -> bool:
    return _FACTS in node.__dict__


def annotate(
    stmt: ast.stmt,
    origin: ast.AST,
    site: ast.AST | None = None,
    prim: Any = None,
    args: list[ast.expr] | None = None,
    kwargs: dict[str, ast.expr] | None = None,
) -> ast.stmt:
    """Record what a normalized statement computes, and give it the origin's position.

    prim is None for statements that can carry no gradient ("inert").
    """
    record = facts(stmt)
    record.origin = origin
    record.site = site if site is not None else origin
    record.prim = prim
    record.args = args or []
    record.kwargs = kwargs or {}
    ast.copy_location(stmt, origin)
    return stmt


# -- comments ------------------------------------------------------------------------------

COMMENT_MARK = "__chainrule_comment__"


def comment(text: str) -> ast.stmt:
    """A statement that codegen renders as `# text`."""
    node = ast.Expr(value=ast.Name(id=COMMENT_MARK, ctx=ast.Load()))
    facts(node).comment_text = text
    return node


def is_comment(node: ast.AST) -> bool:
    return facts_of(node).comment_text is not None


# -- where generated lines came from ------------------------------------------------------

# For each generated function's file name (`<chainrule grad_f ...>`): generated line ->
# (user's file, line, column, text).  When generated code is differentiated again (second
# order), an error in it is reported at the user's line it came from.
GENERATED_ORIGINS: dict[str, dict[int, tuple[str, int, int, str]]] = {}


def user_location(filename: str, lineno: int) -> tuple[str, int, int, str] | None:
    """The user's place behind line `lineno` of generated file `filename`, if known."""
    return GENERATED_ORIGINS.get(filename, {}).get(lineno)


# -- a parsed function ---------------------------------------------------------------------


@dataclass
class Parsed:
    """A function's AST (always a FunctionDef) plus what its names refer to."""

    func: Any
    node: ast.FunctionDef
    filename: str
    lines: list[str]
    globals: dict
    cells: dict[str, Any]  # free variable name -> cell object
    params: list[str]
    local_names: set[str] = field(default_factory=set)
    # for a function defined inside the differentiated one: the enclosing
    # variables (name -> SSA name) it can read, as they were at its `def`
    enclosing_scope: dict[str, str] | None = None

    # -- errors ------------------------------------------------------------
    def error(self, node: ast.AST | None, message: str) -> CompileError:
        """A CompileError positioned at `node` in the user's file."""
        lineno = getattr(node, "lineno", None) or self.node.lineno
        col = getattr(node, "col_offset", 0) if node is not None else 0
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        user = user_location(self.filename, lineno)
        if user is not None:  # generated code differentiated again: point at the user's line
            filename, user_line, user_col, text = user
            message = (
                f"differentiating the derivative code of this line again (higher order), at "
                f"generated line {lineno} `{line.strip()}`: {message}"
            )
            return CompileError(message, filename, user_line, user_col, text)
        return CompileError(message, self.filename, lineno, col, line)

    def line_text(self, lineno: int) -> str:
        if 0 < lineno <= len(self.lines):
            return self.lines[lineno - 1].strip()
        return ""

    # -- names ---------------------------------------------------------------
    def is_local(self, name: str) -> bool:
        return name in self.local_names

    def lookup(self, name: str) -> Any:
        """The object a free (non-local) name denotes, or MISSING."""
        if name in self.cells:
            try:
                return self.cells[name].cell_contents
            except ValueError:  # cell not yet filled
                return MISSING
        if name in self.globals:
            return self.globals[name]
        builtins_ns = self.globals.get("__builtins__", builtins)
        if isinstance(builtins_ns, dict):
            return builtins_ns.get(name, MISSING)
        return getattr(builtins_ns, name, MISSING)

    def resolve(self, expr: ast.expr) -> Any:
        """Resolve `name` or `name.attr.attr` rooted at a non-local name.

        Returns MISSING when the expression is not such a chain, is rooted
        at a local variable, or names something that does not exist.
        """
        if isinstance(expr, ast.Name):
            if self.is_local(expr.id):
                return MISSING
            return self.lookup(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value)
            if base is MISSING:
                return MISSING
            return getattr(base, expr.attr, MISSING)
        return MISSING


# -- containers known at compile time ------------------------------------------------------


@dataclass
class Tree:
    """A container known at compile time: kind and (key, value) items.

    Values are atoms (ast.Name / ast.Constant) or nested Trees; keys are
    indices for tuples and lists, and the dict's keys for dicts.
    """

    kind: str  # "tuple", "list" or "dict"
    items: list[tuple[Any, Any]]

    def get(self, key: Any) -> Any:
        if self.kind != "dict" and isinstance(key, int) and -len(self.items) <= key < 0:
            key += len(self.items)
        for k, v in self.items:
            if k == key and type(k) is type(key):
                return v
        return MISSING

    def values(self) -> list[Any]:
        return [v for _, v in self.items]

    def leaves(self) -> list[Any]:
        out: list[Any] = []
        for v in self.values():
            out.extend(v.leaves() if isinstance(v, Tree) else [v])
        return out


def display(value: Any) -> ast.expr:
    """The Python expression that builds `value` (a Tree or an atom) at run time."""
    if not isinstance(value, Tree):
        return copy_atom(value)
    if value.kind == "dict":
        return ast.Dict(
            keys=[ast.Constant(k) for k, _ in value.items],
            values=[display(v) for _, v in value.items],
        )
    elts = [display(v) for v in value.values()]
    if value.kind == "list":
        return ast.List(elts=elts, ctx=ast.Load())
    return ast.Tuple(elts=elts, ctx=ast.Load())


def copy_atom(atom: ast.expr) -> ast.expr:
    if isinstance(atom, ast.Name):
        return ast.Name(id=atom.id, ctx=ast.Load())
    if isinstance(atom, ast.Constant):
        return ast.Constant(atom.value)
    return atom


def structure(value: Any) -> Any:
    """A hashable description of how `value` nests tuples, lists and dicts (None: a leaf)."""
    t = type(value)
    if t is tuple or t is list:
        return (t.__name__, tuple(structure(v) for v in value))
    if t is dict:
        return ("dict", tuple((k, structure(v)) for k, v in value.items()))
    return None


class TreeValue(ast.expr):
    """A Tree passed where an expression goes (unpacking, loop targets)."""

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.tree = tree


class Evaluated(ast.expr):
    """An expression normalize has already evaluated into an atom (a name or a
    constant), passed back where an expression goes: unpacking, `a = b = ...`,
    an inlined function's result.  `varied` says whether it may carry a gradient."""

    def __init__(self, inner: ast.expr, varied: bool) -> None:
        super().__init__()
        self.inner = inner
        self.varied = varied


# -- normalized functions -------------------------------------------------------------------


@dataclass
class Names:
    """Allocates collision-free names: user names are never reused."""

    taken: set[str]
    counters: dict[str, int] = field(default_factory=dict)

    def fresh(self, base: str) -> str:
        if base not in self.taken:
            self.taken.add(base)
            return base
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self.taken:
                self.counters[base] = n
                self.taken.add(candidate)
                return candidate

    def temp(self) -> str:
        n = self.counters.get("#t", 0)
        while True:
            n += 1
            candidate = f"t{n}"
            if candidate not in self.taken:
                self.counters["#t"] = n
                self.taken.add(candidate)
                return candidate


@dataclass
class Function:
    """A normalized function: ANF + SSA body and the atom it returns."""

    parsed: Parsed
    params: list[str]
    body: list[ast.stmt]
    result: ast.expr
    names: Names
    return_node: ast.AST
    lists: set[str] = field(default_factory=set)  # SSA names of the lists made in it
    # lists given back by a record stack (gradient code differentiated again): the same
    # objects as lists recorded earlier, so every pop from them is undone in reverse
    restored_lists: set[str] = field(default_factory=set)
    aux: ast.expr | None = None  # with has_aux: the value handed back untouched
    param_trees: dict[str, Tree] = field(default_factory=dict)  # container arguments' leaves
    extra_cells: dict[str, Any] = field(default_factory=dict)  # bindings of inlined helpers
    dependencies: set[str] = field(default_factory=set)  # files of inlined functions


# -- walking normalized code ----------------------------------------------------------------


def walk_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, depth first, in program order (into branches and loops)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from walk_statements(stmt.body)
            yield from walk_statements(stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.While)):
            yield from walk_statements(stmt.body)


def names_in(expr: ast.AST | None) -> Iterator[str]:
    if expr is None:
        return
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            yield node.id


def name_of(atom: ast.expr) -> str:
    """The name an atom holds where normalize guarantees a name (the list or array an
    in-place primitive changes, the target of a copy)."""
    return cast(ast.Name, atom).id


def targets_of(stmt: ast.stmt) -> list[str]:
    """The names a statement changes: those it assigns, or the array or list it writes into."""
    record = facts_of(stmt)
    if record.prim in (SETITEM, ADD_AT, LIST_APPEND, LIST_SET):
        return [name_of(record.args[0])]
    if isinstance(stmt, ast.Assign):
        return [n for t in stmt.targets for n in names_in(t)]
    return []


def assigned_by(stmt: ast.stmt) -> set[str]:
    """Names a statement binds (a write into an array rebinds nothing)."""
    if facts_of(stmt).prim in (SETITEM, ADD_AT, LIST_APPEND, LIST_SET):
        return set()
    if isinstance(stmt, ast.Assign):
        return {n for t in stmt.targets for n in names_in(t)}
    if isinstance(stmt, ast.For):
        return set(names_in(stmt.target))
    return set()


def assigned_names(stmt: ast.stmt) -> set[str]:
    """Names an assignment binds, or the assignments in both branches of an `if`
    (array writes included: `out[i] = v` names out and i)."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            return {targets[0].id}  # the common case, without walking
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.If):
        return {n for s in stmt.body + stmt.orelse for n in assigned_names(s)}
    return set()


_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def clone(node: Any) -> Any:
    """A deep copy of an AST (several times faster than copy.deepcopy).

    Positions are copied, and of the facts only `already_renamed`: a copy is
    a new statement, which the stage that made it annotates if it needs to.
    """
    if isinstance(node, ast.AST):
        cls = node.__class__
        new = cls.__new__(cls)  # fields are set below (avoids 3.13's missing-field warnings)
        for name, value in ast.iter_fields(node):
            setattr(new, name, clone(value))
        for attr in _POSITION:
            if hasattr(node, attr):
                setattr(new, attr, getattr(node, attr))
        if facts_of(node).already_renamed:
            facts(new).already_renamed = True
        return new
    if isinstance(node, list):
        return [clone(v) for v in node]
    return node


def derived_from(stmt: ast.stmt, code: list[ast.stmt]) -> list[ast.stmt]:
    """Mark the statements of `stmt`'s derivative as coming from it (see
    GENERATED_ORIGINS: errors in them, at higher order, point at stmt's user line)."""
    for node in code:
        for sub in ast.walk(node):
            if isinstance(sub, ast.stmt) and not is_comment(sub):
                record = facts(sub)
                if record.origin is None and record.derived_from is None:
                    record.derived_from = stmt
    return code
