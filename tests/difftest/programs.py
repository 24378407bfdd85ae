"""Whole programs: a signature, module-level helpers, the differentiated function, its inputs.

A program is a module's source text plus what the checker needs to call it:
the name of the function to differentiate, the structure of each parameter
(a float, an array of a shape, or a dict / tuple of them), the constructs it
uses, and which arguments should be drawn with exact zeros.  `generate(seed,
index)` is a pure function of its arguments, so any program of a run can be
rebuilt from its label alone.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .control import Blocks
from .expressions import Expressions
from .scope import ARG_BOUND, Context, Scope, Shape, Value
from .statements import Frame, indent

# A parameter's structure: ("leaf", shape) | ("dict", ((key, spec), ...)) | ("tuple", (spec, ...))
Spec = tuple

REFUSAL_KINDS = ["write-arg", "list-display", "comprehension", "for-else", "walrus-conditional"]


@dataclass(frozen=True)
class Program:
    source: str
    entry: str
    params: tuple[tuple[str, Spec], ...]
    constructs: frozenset[str]
    zero_args: frozenset[str] = frozenset()
    label: str = ""
    excusable: frozenset[str] = frozenset()  # lines a refusal may point at (see check.py)

    @property
    def has_containers(self) -> bool:
        return any(spec[0] != "leaf" for _, spec in self.params)

    def with_source(self, source: str) -> Program:
        """The same signature around another body (used by the minimizer)."""
        return replace(self, source=source)


def line_key(line: str) -> str:
    """A source line in a canonical spelling, so that a line still matches after ast.unparse."""
    text = line.strip()
    try:
        return ast.unparse(ast.parse(text))
    except SyntaxError:  # a compound statement's header, `for i in range(2):`
        return text


def leaf(shape: Shape) -> Spec:
    return ("leaf", shape)


def draw_inputs(program: Program, rng: np.random.Generator, zeros: bool) -> list[Any]:
    """Arguments for the program: uniform in [-ARG_BOUND, ARG_BOUND], some exact zeros if asked."""

    def draw(spec: Spec, zero: bool) -> Any:
        kind = spec[0]
        if kind == "dict":
            return {k: draw(s, False) for k, s in spec[1]}
        if kind == "tuple":
            return tuple(draw(s, False) for s in spec[1])
        shape = spec[1]
        value = rng.uniform(-ARG_BOUND, ARG_BOUND, size=shape)
        if zero:
            value = np.where(rng.random(size=shape) < 0.5, 0.0, value)
        return float(value) if shape == () else value

    return [draw(spec, zeros and name in program.zero_args) for name, spec in program.params]


def _signature(ctx: Context) -> list[tuple[str, Spec]]:
    n, m = ctx.n, ctx.m
    params: list[tuple[str, Spec]] = [("x", leaf((n,)))]
    extra = [("W", leaf((m, n))), ("s", leaf(())), ("y", leaf((m,)))]
    ctx.rng.shuffle(extra)
    params += extra[: ctx.rng.randint(0, 3)]
    r = ctx.rng.random()
    if r < 0.06:
        ctx.tags.add("dict-param")
        params.append(("p", ("dict", (("w", leaf((n,))), ("b", leaf(()))))))
    elif r < 0.11:
        ctx.tags.add("tuple-param")
        params.append(("q", ("tuple", (leaf((m, n)), leaf(())))))
    elif r < 0.14:
        ctx.tags.update({"dict-param", "nested-param"})
        inner = ("dict", (("W", leaf((m, n))), ("b", leaf((m,)))))
        params.append(("p", ("dict", (("layer", inner),))))
    if len(params) > 1 and ctx.chance(0.5):
        ctx.rng.shuffle(params)
    return params


def _leaves(text: str, spec: Spec) -> list[tuple[str, Shape]]:
    if spec[0] == "leaf":
        return [(text, spec[1])]
    if spec[0] == "dict":
        return [leaf for k, s in spec[1] for leaf in _leaves(f'{text}["{k}"]', s)]
    return [leaf for k, s in enumerate(spec[1]) for leaf in _leaves(f"{text}[{k}]", s)]


def _bind_params(ctx: Context, params: list[tuple[str, Spec]], scope: Scope) -> list[str]:
    """Put the parameters' leaves in scope; sometimes unpack a container first."""
    lines = []
    for position, (name, spec) in enumerate(params):
        leaves = _leaves(name, spec)
        if position == 0:
            ctx.first_arg.update(text for text, _ in leaves)
        if spec[0] != "leaf" and ctx.chance(0.4):
            names = [ctx.fresh_name("a") for _ in leaves]
            if spec[0] == "tuple":
                lines.append(f"{', '.join(names)} = {name}")
            else:
                lines.append(f"{', '.join(names)} = {', '.join(t for t, _ in leaves)}")
            if position == 0:
                ctx.first_arg.update(names)
            for new, (_, shape) in zip(names, leaves):
                # the caller's container still holds the array: a write into it is
                # refused (chainrule copies only arguments that are arrays themselves)
                scope.set(Value(new, shape, ARG_BOUND, arg=True, held=True))
            continue
        for text, shape in leaves:
            scope.set(Value(text, shape, ARG_BOUND, arg=True, fixed=spec[0] != "leaf"))
    return lines


def generate(seed: int, index: int) -> Program:
    """The index-th program of the run with this seed."""
    rng = random.Random(f"difftest:{seed}:{index}")
    ctx = Context(rng, n=rng.choice([2, 3, 4]), m=rng.choice([2, 3]))
    ctx.may_refuse = rng.random() < 0.12
    ex = Expressions(ctx)
    blocks = Blocks(ctx, ex)
    params = _signature(ctx)
    module: list[str] = ["import numpy as np", ""]
    scope = Scope()
    for _ in range(2):
        if ctx.chance(0.35):
            name = ctx.fresh_name("helper")
            lines, fn = blocks.make_helper(name, "module-def", dict(scope.funcs), {})
            scope.funcs[name] = fn
            module += ["", *lines, ""]
    if ctx.chance(0.12):
        name = ctx.fresh_name("lam")
        line, fn = blocks.make_lambda(name, "module-lambda")
        scope.funcs[name] = fn
        module += ["", line, ""]
    plain = all(spec[0] == "leaf" for _, spec in params)
    entry_kind = rng.random()
    names = ", ".join(name for name, _ in params)
    if plain and entry_kind < 0.08:
        for name, spec in params:
            scope.set(Value(name, spec[1], ARG_BOUND, arg=True))
        body = ex.expr(scope, (), 3).text
        if entry_kind < 0.04:
            ctx.tags.add("lambda-entry")
            module += ["", f"f = lambda {names}: {body}"]
        else:
            ctx.tags.add("nested-lambda")
            module += ["", f"make = lambda k: lambda {names}: k * ({body})", "f = make(0.7)"]
    else:
        method = entry_kind > 0.93
        if method:
            scope.set(Value("self.scale", (), 0.5, fixed=True))
        lines = _bind_params(ctx, params, scope)
        if ctx.chance(0.25):
            lines += blocks.local_function(scope, Frame())
        count = rng.randint(2, 6)
        refusal = rng.choice(REFUSAL_KINDS) if rng.random() < 0.04 else None
        where = rng.randrange(count + 1)
        for k in range(count + 1):
            if k == where and refusal is not None:
                lines += blocks.refusal(scope, refusal)
            if k < count:
                lines += blocks.statement(scope, Frame())
        lines += blocks.tail(scope, Frame())
        if method:
            ctx.tags.add("method-entry")
            module += [
                "",
                "class Model:",
                "    def __init__(self, scale):",
                "        self.scale = scale",
                "",
                f"    def loss(self, {names}):",
                *indent(indent(lines)),
                "",
                "",
                "f = Model(0.5).loss",
            ]
        else:
            module += ["", f"def f({names}):", *indent(lines)]
    _excuse_changes_of_appended_names(module, ctx)
    zero = frozenset(ex.zero_args & {name for name, _ in params})
    return Program(
        "\n".join(module) + "\n",
        "f",
        tuple(params),
        frozenset(ctx.tags),
        zero,
        f"{seed}:{index}",
        frozenset(line_key(line) for line in ctx.excusable),
    )


def _excuse_changes_of_appended_names(module: list[str], ctx: Context) -> None:
    """Names that may share memory by the documented rules, without the statements that
    made them knowing it: `v = W[1, 1]` (an integer index is a view when W has more
    dimensions), `pr = (a, W[1])`, `(w := out[-1])`, `hs.append(h)` (the list holds h
    itself).  An in-place change of either side (`v += ...`, `W[0] = ...`, `h -= ...`,
    in a loop also before the append) may be refused, as docs/subset.md says: tag and
    excuse those lines."""
    text = "\n".join(module)
    lines = text.splitlines()
    shared: set[str] = set()

    def bases(e: ast.expr) -> set[str]:
        if isinstance(e, ast.Name):
            return {e.id}
        if isinstance(e, ast.Subscript) and not isinstance(e.slice, ast.List):
            return bases(e.value)
        if isinstance(e, ast.Attribute) and e.attr in ("T", "mT"):
            return bases(e.value)
        if isinstance(e, ast.IfExp):
            return bases(e.body) | bases(e.orelse)
        if isinstance(e, (ast.Tuple, ast.List)):  # `pr = (a, y[1])`: pr's item is y[1]
            return {name for item in e.elts for name in bases(item)}
        return set()

    tree = ast.parse(text)
    lists = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    for node in ast.walk(tree):
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if (  # `hs[-1] = y`: the list holds y itself, as after an append
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id in lists
        ):
            found = bases(node.value)  # type: ignore[union-attr]
            if found:
                shared |= found | {target.value.id}
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Name, ast.Tuple)):
            found = bases(node.value)
            if found:  # `v = y[1]`, and `a, b = pr` unpacking what pr holds
                shared |= found | {
                    n.id for n in ast.walk(node.targets[0]) if isinstance(n, ast.Name)
                }
        elif isinstance(node, (ast.NamedExpr, ast.AnnAssign)) and isinstance(
            node.target, ast.Name
        ):  # `(w := y[1])`, `v: np.ndarray = y[1]`
            found = bases(node.value) if node.value is not None else set()
            if found:
                shared |= found | {node.target.id}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and node.args
        ):
            found = bases(node.args[0])
            if found:
                shared |= found | {node.func.value.id}
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.AugAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0]
        elif (  # np.add.at(out, i, v)
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "at"
            and node.value.args
        ):
            target = node.value.args[0]
        while isinstance(target, ast.Subscript):
            target = target.value
        if isinstance(target, ast.Name) and target.id in shared:
            ctx.tags.add("alias-update")
            ctx.excusable.add(lines[node.lineno - 1])
