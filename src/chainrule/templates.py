"""Instantiating derivative templates: from a rule's body to statements about real names.

A rule (rules/) is a small Python function whose parameters stand for a
primitive's result and arguments.  Instantiating it at one statement
`h = np.tanh(a)` takes five steps, the same for every transformation:

1. `bound_arguments`: bind the statement's arguments to the rule's
   parameters (defaults filled in), giving the substitution `x -> a`,
   `y -> h`;
2. `resolve_static_ifs`: decide the template's `if`s whose tests involve
   only literals (`axis is None`, `literal(keepdims)`), keeping one branch;
3. prune what is not needed (`prune_outputs`: gradients of inactive
   inputs, then the temporaries nobody reads);
4. `name_temporaries`: give the template's own temporaries fresh names,
   and the objects it uses (`np`, `unbroadcast`) names in the generated
   code (`Bindings`);
5. `substitute` the names into each statement.

Reverse mode then routes each `dx = ...` into x's gradient variable, and
forward mode assigns the result's tangent; `fold_constants` tidies the
arithmetic on literals that substitution leaves (`x ** (2 - 1)`).
"""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass, field
from typing import Any

from .ir import MISSING, Names, Parsed, assigned_names, clone, facts_of, names_in, walk_statements
from .rules import Rule


@dataclass
class Bindings:
    """Names under which generated code reaches objects that templates use."""

    names: Names
    parsed_globals: Any  # the user's globals (a dict, or a ChainMap with closure values)
    user_names: set[str]
    by_id: dict[int, str] = field(default_factory=dict)
    cells: dict[str, Any] = field(default_factory=dict)  # generated name -> object

    def name_for(self, obj: Any, preferred: str) -> str:
        key = id(obj)
        if key in self.by_id:
            return self.by_id[key]
        # reuse the user's own global name for this object (np, math, ...)
        for candidate in [preferred, *sorted(self.user_names)]:
            if candidate in self.user_names and self.parsed_globals.get(candidate, MISSING) is obj:
                self.by_id[key] = candidate
                return candidate
        name = self.names.fresh(preferred)
        self.by_id[key] = name
        self.cells[name] = obj
        return name


def cell_value(cell: Any) -> Any:
    """What a closure cell holds (MISSING for an empty cell)."""
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return MISSING


# -- 1. binding ----------------------------------------------------------------------------


def bound_arguments(
    rule: Rule, stmt: ast.stmt, target: str, kind: str, scope: Parsed, root: Parsed
) -> dict[str, ast.expr]:
    """Template parameter -> the expression it stands for at this statement.

    `kind` names the rule in the error for arguments it does not accept
    ("derivative", "tangent"); `scope` is the function the statement came
    from (an inlined helper's, for the error's position), `root` the one
    being transformed.
    """
    record = facts_of(stmt)
    try:
        bound = rule.bind(record.args, record.kwargs)
    except TypeError as exc:
        raise scope.error(
            record.site,
            f"{rule.name} is called with arguments its {kind} rule does not accept "
            f"({exc}); pass only {', '.join(rule.params)}",
        ) from None
    subst: dict[str, ast.expr] = {}
    for param, value in bound.items():
        if isinstance(value, tuple) and any(isinstance(v, ast.AST) for v in value):
            value = ast.Tuple(elts=list(value), ctx=ast.Load())  # a *args parameter
        subst[param] = value if isinstance(value, ast.AST) else _default(value, rule, stmt, root)
    subst[rule.result] = ast.Name(target, ast.Load())
    return subst


def _default(value: Any, rule: Rule, stmt: ast.stmt, root: Parsed) -> ast.expr:
    """A template parameter's default value as an AST expression."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return ast.Constant(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value):
        return ast.Tuple(elts=[ast.Constant(v) for v in value], ctx=ast.Load())
    raise root.error(
        facts_of(stmt).site,
        f"internal: the derivative rule of {rule.name} has a default value that cannot be "
        "written into code",
    )


# -- 2. tests decided at compile time ---------------------------------------------------------


def _static_value(expr: ast.expr) -> Any:
    """The value of a literal expression (constants, tuples, negation), else MISSING."""
    try:
        return ast.literal_eval(expr)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING


def resolve_static_ifs(body: list[ast.stmt], subst: dict[str, ast.expr]) -> list[ast.stmt]:
    """Decide template `if`s whose tests only involve literal arguments."""
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, ast.If):
            stmt.test = _LiteralMarker(subst).visit(stmt.test)
            env = {}
            for n in set(names_in(stmt.test)):
                value = _static_value(subst[n]) if n in subst else MISSING
                if value is not MISSING:
                    env[n] = value
            try:  # names that are not literals raise NameError, unless short-circuited
                test = ast.fix_missing_locations(ast.Expression(stmt.test))
                chosen = bool(eval(compile(test, "<rule>", "eval"), {"__builtins__": {}}, env))
                static = True
            except Exception:
                static = False
            if static:
                out.extend(resolve_static_ifs(stmt.body if chosen else stmt.orelse, subst))
                continue
            stmt.body = resolve_static_ifs(stmt.body, subst)
            stmt.orelse = resolve_static_ifs(stmt.orelse, subst)
        out.append(stmt)
    return out


class _LiteralMarker(ast.NodeTransformer):
    """Replace `literal(p)` in a template test by whether p is a literal at the call site."""

    def __init__(self, subst: dict[str, ast.expr]) -> None:
        self.subst = subst

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "literal"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
        ):
            name = node.args[0].id
            is_lit = name in self.subst and _static_value(self.subst[name]) is not MISSING
            return ast.copy_location(ast.Constant(is_lit), node)
        return node


# -- 3. pruning -----------------------------------------------------------------------------


def prune_outputs(body: list[ast.stmt], drop: set[str], outputs: set[str]) -> list[ast.stmt]:
    """Remove assignments of the outputs in `drop`, then template temporaries nobody reads
    (the names in `outputs` are kept even when unread)."""

    def strip(stmts: list[ast.stmt]) -> list[ast.stmt]:
        kept = []
        for s in stmts:
            if isinstance(s, ast.If):
                s.body, s.orelse = strip(s.body), strip(s.orelse)
                if not s.body and not s.orelse:
                    continue
                if not s.body:
                    s.body = [ast.Pass()]
            elif isinstance(s, ast.Assign) and assigned_names(s) and assigned_names(s) <= drop:
                continue
            kept.append(s)
        return kept

    body = strip(body)
    while True:
        used = {
            n.id
            for s in body
            for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        dead: set[str] = set()
        for s in walk_statements(body):  # statements all of whose names are unread
            names = assigned_names(s) if isinstance(s, ast.Assign) else set()
            if names and not names & used and not names & outputs:
                dead |= names
        if not dead:
            return body
        body = _strip_names(body, dead)


def _strip_names(body: list[ast.stmt], dead: set[str]) -> list[ast.stmt]:
    kept = []
    for s in body:
        if isinstance(s, ast.If):
            s.body, s.orelse = _strip_names(s.body, dead), _strip_names(s.orelse, dead)
            if not s.body and not s.orelse:
                continue
            if not s.body:
                s.body = [ast.Pass()]
        elif isinstance(s, ast.Assign) and assigned_names(s) <= dead:
            continue
        kept.append(s)
    return kept


# -- 4. names ---------------------------------------------------------------------------------


def free_names(body: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names the template body reads that are not in `bound`."""
    loaded = {
        n.id
        for s in body
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loaded - bound


def template_global(rule: Rule, name: str) -> Any:
    """The object a name in a template denotes, in the module the template was written in."""
    if name in rule.globals:
        return rule.globals[name]
    builtins_ns = rule.globals.get("__builtins__")
    if isinstance(builtins_ns, dict) and name in builtins_ns:
        return builtins_ns[name]
    if isinstance(builtins_ns, types.ModuleType) and hasattr(builtins_ns, name):
        return getattr(builtins_ns, name)
    raise NameError(f"derivative template for {rule.name} uses an unknown name {name!r}")


def name_temporaries(
    rule: Rule,
    body: list[ast.stmt],
    bound: set[str],
    outputs: set[str],
    names: Names,
    bindings: Bindings,
    temps: dict[str, str],
) -> dict[str, str]:
    """Add to `temps` a fresh name for each temporary the template assigns (other
    than `outputs`), then a binding for each other name it reads that is not
    `bound`; return `temps`."""
    local = {n for s in body for n in assigned_names(s)} - outputs
    free = free_names(body, bound)
    for name in sorted(local):
        temps[name] = names.temp()
    for name in sorted(free - local):
        temps[name] = bindings.name_for(template_global(rule, name), name)
    return temps


# -- 5. substitution ----------------------------------------------------------------------------


class _Substituter(ast.NodeTransformer):
    def __init__(self, subst: dict[str, ast.expr], temps: dict[str, str]) -> None:
        self.subst = subst
        self.temps = temps

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.temps:
            return ast.Name(self.temps[node.id], node.ctx)
        if isinstance(node.ctx, ast.Load) and node.id in self.subst:
            return clone(self.subst[node.id])
        return node


def substitute(node: Any, subst: dict[str, ast.expr], temps: dict[str, str]) -> Any:
    """A copy of `node` with parameters replaced by their expressions, temporaries renamed."""
    return _Substituter(subst, temps).visit(clone(node))


# -- tidying --------------------------------------------------------------------------------------

_FOLDABLE = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


class _ConstantFolder(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        left, right = _number(node.left), _number(node.right)
        fold = _FOLDABLE.get(type(node.op))
        if fold and left is not None and right is not None:
            return ast.copy_location(ast.Constant(fold(left, right)), node)
        if isinstance(node.op, ast.Pow) and right == 1:
            return node.left
        return node


def _number(node: ast.AST) -> int | float | None:
    """The value of a numeric literal (not a bool), else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def fold_constants(body: list[ast.stmt]) -> None:
    """Fold arithmetic on numeric literals in instantiated templates (in place):
    `x ** (3 - 1)` reads better as `x ** 2`."""
    folder = _ConstantFolder()
    for stmt in body:
        folder.visit(stmt)
