"""The state of one normalization, and the roles of the collaborators that share it.

Normalizing is one recursive walk: a statement holds expressions, an
expression may call a helper whose body is normalized in place, a loop over
a container is unrolled into statements again.  The work is split by topic
into collaborators (statements.py, loops.py, assignments.py, writes.py,
expressions.py, containers.py, inlining.py), each a small class; they reach
each other and the shared state through one `Normalizer`, which holds:

* where we are: the function being normalized (`p`; an inlined callee's
  while it is inlined), the current SSA name of each user variable
  (`current`), the statement list being written (`out`) and the user
  statement being normalized (`origin`);
* what is known about the values so far: containers (`trees`), local
  functions (`local_defs`), lists and fresh arrays (`lists`, `writable`),
  what shares memory with what (`root`), which user variables may vary
  (`varied_user`);
* the bookkeeping of inlining (which functions are being inlined, the
  bindings of their globals, the budget).

The collaborators' interfaces are the `...Role` protocols below, so that no
module of normalize/ imports another one except this.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..activity import expr_varied
from ..flow import value_loads
from ..ir import Names, Parsed, Tree, facts
from ..runtime import unbroadcast

# what `operation` returns: the flattened expression, its primitive, args and kwargs
Operation = tuple[ast.expr, Any, list[ast.expr], dict[str, ast.expr]]


def shape_only_second(parsed: Parsed) -> Callable[[ast.expr], bool]:
    """Which calls read their second argument for its shape only: chainrule's own
    `unbroadcast(g, x)`, in generated code that is transformed again (hessian)."""
    return lambda func: parsed.resolve(func) is unbroadcast


class ExpressionsRole(Protocol):
    def rename(self, expr: ast.expr) -> ast.expr: ...
    def atom(self, expr: ast.expr) -> ast.expr: ...
    def static(self, expr: ast.expr) -> ast.expr: ...
    def index(self, expr: ast.expr) -> ast.expr: ...
    def operation(self, expr: ast.expr) -> Operation: ...
    def lower_ifexp(self, expr: ast.IfExp, target: Callable[[], str]) -> None: ...


class AssignmentsRole(Protocol):
    def assign(self, target: ast.expr, value: ast.expr) -> None: ...
    def augassign(self, stmt: ast.AugAssign) -> None: ...


class WritesRole(Protocol):
    def list_append(self, stmt: ast.Expr) -> bool: ...
    def list_pop(self, stmt: ast.Expr) -> bool: ...
    def add_at(self, stmt: ast.Expr) -> bool: ...
    def fill_diagonal(self, stmt: ast.Expr) -> bool: ...
    def assign_subscript(
        self, target: ast.Subscript, value: ast.expr, augmented: bool = False
    ) -> None: ...
    def write_place(
        self,
        target: ast.Subscript,
        value: ast.expr,
        what: str,
        augmented: ast.operator | None = None,
    ) -> tuple[ast.Name, ast.expr, ast.expr, ast.Name]: ...
    def check_shared(
        self, stmt: ast.AST, name: str, ssa: str, what: str, advice: str, items: bool = False
    ) -> None: ...
    def track_fresh(self, ssa: str, value: ast.expr) -> None: ...
    def track_fresh_array(self, ssa: str, value: ast.expr) -> None: ...
    def track_view(self, ssa: str, value: ast.expr) -> None: ...
    def is_number(self, value: ast.expr, renamed: bool = False) -> bool: ...
    def track_copy(self, target: str, sources: list[str]) -> None: ...
    def track_record(self, names: list[str], source: ast.expr) -> None: ...


class StatementsRole(Protocol):
    def statement(self, stmt: ast.stmt) -> None: ...
    def refuse_container_merge(
        self, stmt: ast.AST, name: str, ssas: tuple[str | None, ...], where: str
    ) -> None: ...


class LoopsRole(Protocol):
    def for_statement(self, stmt: ast.For) -> None: ...
    def while_statement(self, stmt: ast.While) -> None: ...


class ContainersRole(Protocol):
    def static_value(self, expr: ast.expr) -> Any: ...
    def tree_of(self, expr: ast.expr) -> Tree | None: ...
    def atom_varied(self, atom: ast.expr) -> bool: ...
    def build_tree(self, expr: ast.Tuple | ast.Dict | ast.Call) -> Tree: ...
    def bind_tree(self, name: str, tree: Tree) -> None: ...
    def param_tree(self, param: str, shape: Any, origin: ast.AST) -> Tree: ...
    def const_value(self, expr: ast.expr) -> Any: ...
    def container_items(self, iterator: ast.expr) -> list[list[Any]] | None: ...
    def unrolls_range(self, stmt: ast.For) -> list[list[Any]] | None: ...
    def unrolled_loop(self, stmt: ast.For, rows: list[list[Any]]) -> None: ...


class InliningRole(Protocol):
    def static_call(self, expr: ast.Call) -> Any: ...
    def local_def(self, node: ast.FunctionDef, name: str) -> None: ...
    def bind_parameter(self, param: str, obj: Any) -> None: ...
    def alias_function(self, name: str, value: ast.expr) -> bool: ...
    def calls_with_varied(self, expr: ast.expr) -> bool: ...
    def user_call_with_varied(self, node: ast.AST) -> bool: ...


class Normalizer:
    """The state one normalization shares between its collaborators (see module doc)."""

    expressions: ExpressionsRole
    assignments: AssignmentsRole
    writes: WritesRole
    statements: StatementsRole
    loops: LoopsRole
    containers: ContainersRole
    inliner: InliningRole

    def __init__(
        self,
        parsed: Parsed,
        varied_params: set[str],
        structures: dict[str, Any] | None = None,
        has_aux: bool = False,
        compile_jvp: Callable[[Any, tuple[int, ...]], Any] | None = None,
    ) -> None:
        self.p = parsed
        self.compile_jvp = compile_jvp  # the forward-mode code of a function (pipeline.py)
        self.top = parsed  # the function being differentiated
        self.structures = dict(structures or {})  # container argument -> its nesting
        self.has_aux = has_aux
        self.names = Names(all_identifiers(parsed.node) | set(parsed.params))
        self._identifiers: dict[int, set[str]] = {}  # id(parsed node) -> its names
        self.root_identifiers = frozenset(self.names.taken)
        # user names used as SSA names, one entry per definition: the branches of an `if`
        # may each define the same one (StatementNormalizer.if_statement merges the facts)
        self.plain_definitions: list[str] = []
        self.trees: dict[str, Tree] = {}  # SSA name -> the container it denotes
        self.param_trees: dict[str, Tree] = {}  # container argument -> its leaves
        self.constants: dict[str, Any] = {}  # SSA name -> constant (container loop keys)
        self.local_defs: dict[str, Any] = {}  # SSA name -> its local function
        # SSA name -> the function a parameter holds (inlining.FunctionValue): a function
        # passed to a helper, or to the differentiated function itself (`functions`)
        self.function_values: dict[str, Any] = {}
        self.inlining: list[Any] = []  # functions being inlined, outermost first
        self.inlining_names: list[str] = []
        # per function being inlined, the in-place changes it made (statement, the roots
        # of what it changed, what it is, advice): its caller checks them too, since the
        # callee may change an array the caller gave it (Inliner.inline)
        # (with the function, an ir.Parsed, whose statement it is: refusals point there)
        self.callee_changes: list[list[tuple[ast.AST, frozenset[str], str, str, Any]]] = []
        self.extra_cells: dict[str, Any] = {}  # bindings for inlined functions' names
        self.alias_of: dict[str, str] = {}
        self.kept_globals: set[str] = set()  # inlined functions' globals read under their names
        self.dependencies: set[str] = set()  # files of inlined functions
        self.emitted = 0  # statements emitted so far (inlining has a budget)
        self.caller_values: set[str] = set()  # an inlined callee's parameters: caller names
        self.inlined_size: dict[str, int] = {}  # helper -> statements its calls produced
        self.size_estimates: dict[Any, int] = {}  # function node -> inlined size, at least
        self.current: dict[str, str] = {name: name for name in parsed.params}
        self.seeds = set(varied_params)
        self.varied_user: set[str] = set(varied_params)
        self.roots: dict[str, frozenset[str]] = {}  # SSA name -> values whose memory it may share
        self.held: dict[str, frozenset[str]] = {}  # list -> values whose memory its items share
        self.unbound: set[str] = set()  # loop-carried names that start as None (no value yet)
        self.record_lists: dict[str, frozenset[int]] = {}  # record stack -> positions of lists
        # record stack -> per position: was every array pushed there fresh, and what it
        # shares (None once a push was not a record of that length)
        self.record_arrays: dict[str, list[tuple[bool, frozenset[str]]] | None] = {}
        self.popped_from: dict[str, str] = {}  # `t = stack.pop()`: t -> stack
        self.restored_lists: set[str] = set()  # lists a record stack gave back
        self.numbers: set[str] = set()  # SSA names surely holding a number, not an array
        # SSA name -> the call that froze a SciPy distribution (N = stats.norm(0, 1)): its
        # methods are the distribution's functions given those parameters (N.cdf(x))
        self.frozen: dict[str, ast.Call] = {}
        self.loop_lines: list[int] = []  # first lines of the user's loops being normalized
        self.loop_writes: list[tuple[str, ast.AST]] = []  # arrays written in those loops
        # per loop being normalized: the in-place changes and list appends of its body
        self.loop_frames: list[LoopFrame] = []
        self.writable: set[str] = set()  # SSA names of arrays made by a constructor
        self.lists: set[str] = set()  # SSA names of lists made in the function
        self.loads = value_loads(parsed.node, shape_only_second(parsed))
        self.live: dict[int, frozenset[str]] = {}  # compound statement -> names read after it
        self.body: list[ast.stmt] = []  # the (lowered) body being normalized, for line queries
        self.out: list[ast.stmt] = []
        self.origin: ast.AST = parsed.node

    def error(self, node: ast.AST, message: str) -> Exception:
        """A CompileError at `node`, in the file of the function being normalized."""
        return self.p.error(node, message)

    def emit(self, stmt: ast.stmt) -> None:
        """Append a normalized statement to the list being written."""
        if self.p is not self.top:
            facts(stmt).scope = self.p  # (comments quote its file)
        self.out.append(stmt)
        self.emitted += 1

    def define(self, user_name: str) -> str:
        """A new SSA name for an assignment to `user_name`."""
        ssa = (
            user_name
            if user_name not in self.current
            and user_name not in self.p.params
            and self.p is self.top
            else self.names.fresh(user_name)
        )
        if ssa == user_name:
            self.names.taken.add(ssa)
            self.plain_definitions.append(ssa)
        self.current[user_name] = ssa
        return ssa

    def varied(self, expr: ast.AST) -> bool:
        """Could `expr` carry a gradient (activity.expr_varied)?"""
        return expr_varied(expr, self.varied_user, self.p)

    def roots_of(self, ssa: str) -> frozenset[str]:
        """The values whose memory `ssa` may share (itself, when nothing else)."""
        return self.roots.get(ssa) or frozenset({ssa})

    def held_of(self, ssa: str) -> frozenset[str]:
        """For a list, the values whose memory its items may share."""
        return self.held.get(ssa, frozenset())

    def own_identifiers(self) -> set[str]:
        """Every name the function being normalized uses (an inlined function's names
        are not in `names`, which the differentiated function's seeded)."""
        key = id(self.p.node)
        if key not in self._identifiers:
            self._identifiers[key] = all_identifiers(self.p.node)
        return self._identifiers[key]

    def local_name(self, base: str) -> str:
        """A fresh name for a variable the compiler introduces (flags, indices, a
        comprehension's variables), never one of the current function's own."""
        own = self.own_identifiers()
        name = self.names.fresh(base)
        while name in own:
            name = self.names.fresh(base)
        self.p.local_names.add(name)
        return name


@dataclass
class LoopFrame:
    """What a loop body being normalized changes in place and appends to lists: an array
    appended in one iteration and changed in place in the next changes the list's item
    too, which only the loop's back edge shows (loops.check_changes_across_iterations)."""

    phis: dict[str, str]  # loop-carried user name -> its SSA name at the loop's entry
    source: Any = None  # the function (ir.Parsed) whose loop this is
    loop: ast.stmt | None = None  # the loop statement (jumps lowered)
    # (statement, the roots of what it changed, what it is, advice)
    changes: list[tuple[ast.AST, frozenset[str], str, str]] = field(default_factory=list)
    appends: list[tuple[str, frozenset[str]]] = field(default_factory=list)  # (list, roots)


def names_in_target(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def is_atom(expr: ast.expr) -> bool:
    return isinstance(expr, (ast.Name, ast.Constant))


def is_cheap_name(expr: ast.expr) -> bool:
    """A name or a constant: used as it is, never given a name of its own."""
    return isinstance(expr, (ast.Name, ast.Constant))


def is_distribution(obj: Any) -> bool:
    """A SciPy distribution (scipy.stats.norm, multivariate_normal), which calling freezes;
    recognised by its base class's name, so that SciPy stays an optional import."""
    return any(
        c.__name__ in ("rv_generic", "multi_rv_generic") and c.__module__.startswith("scipy.")
        for c in type(obj).__mro__
    )


def all_identifiers(node: ast.AST) -> set[str]:
    """Every name a function's text binds or reads, local functions' names included
    (`def result(...)` inside it): the names the compiler's own must avoid."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.arg):
            out.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, ast.alias):
            out.add((sub.asname or sub.name).split(".")[0])
    return out
