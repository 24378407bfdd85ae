"""Pictures of a gradient: the computation as a circuit of gates (`chainrule.graph`).

`graph(f, *args)` normalizes f the way the compiler does (one operation per
statement, helpers inlined) and runs that program with a small interpreter
that keeps every operation it evaluates, with the values it read.  The
backward pass then visits the evaluations last first and applies each one's
derivative rule (the same template the compiler inlines, rules/) to the
total gradient of its output, which gives the partial gradient it sends
back along each of its input wires; a value's total gradient is the sum of
the partials on its outgoing wires (the copy gate).  The totals of the
differentiated arguments are compared with `value_and_grad`'s result, so a
picture never shows a gradient the compiled code would not compute.

SSA copies, control flags and loop bookkeeping are not drawn: a copy makes
its target an alias of its source.  Each evaluation of an operation in a
loop is one node when its iteration is among the first `unroll`; the rest
are folded into one node per operation in a cluster labelled with the
iteration count.  The picture is Graphviz DOT text (`Graph.dot`), rendered
by the optional `graphviz` package and Graphviz's `dot` program.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rules
from .api import value_and_grad
from .arguments import normalize_argnums
from .drawing import Edge, Graph, GraphError, Node, fmt, to_dot
from .errors import CompileError
from .ir import (
    ADD_AT,
    IDENTITY,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    SETITEM,
    UNPACK,
    Function,
    Method,
    Tree,
    clone,
    facts_of,
    structure,
)
from .normalize import normalize
from .parse import parse_function
from .templates import bound_arguments, cell_value, prune_outputs, resolve_static_ifs

_KIND_OF_RULE = {
    "add": "add subtract negative positive sum_ nansum cumsum cumulative_sum",
    "mul": "multiply divide matmul dot inner outer einsum tensordot",
    "max": "max_ maximum min_ minimum fmax fmin extreme abs_ absolute fabs clip clip_method "
    "where getitem take",
    "shape": "T transpose ndarray_transpose matrix_transpose reshape ndarray_reshape ravel "
    "concatenate stack hstack vstack dstack squeeze expand_dims flip fliplr flipud swapaxes "
    "moveaxis tile repeat roll split hsplit vsplit diag diagonal atleast_nd array asarray",
}


# -- what the picture shows -----------------------------------------------------------------


@dataclass
class _Eval:
    """One evaluation of an operation: what the backward pass needs."""

    stmt: ast.stmt | None  # None for an input
    path: tuple  # ((loop id, iteration), ...) of the enclosing loops
    value: Any
    rule: rules.Rule | None = None
    subst: dict[str, ast.expr] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)  # rule parameter -> value read
    inputs: list[tuple[str, int | None, int]] = field(default_factory=list)  # slot, elt, src
    partials: list[Any] = field(default_factory=list)  # per input, filled backwards
    name: str | None = None
    param: str | None = None
    grad: Any = None
    step: int = 0  # which statement execution made it


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# -- running the normalized program ---------------------------------------------------------


class _Tracer:
    """Runs a normalized function, keeping each operation it evaluates (`evals`)."""

    def __init__(self, fn: Function, args: tuple, nudge: tuple | None = None) -> None:
        parsed = fn.parsed
        self.nudge = nudge  # (step, name, delta): add delta to name where step reads it
        self.step = 0
        self.fn = fn
        self.env: dict[str, Any] = dict(parsed.globals)
        code = parsed.func.__code__
        for name, cell in zip(code.co_freevars, parsed.func.__closure__ or ()):
            self.env[name] = cell_value(cell)
        for name, value in fn.extra_cells.items():
            self.env[name] = cell_value(value) if _is_cell(value) else value
        self.evals: list[_Eval] = []
        self.ref: dict[str, int] = {}  # name -> the evaluation whose value it holds
        self.lists: dict[int, list[int | None]] = {}  # id(list) -> refs of its items
        self.loops: dict[int, ast.AST] = {}
        self.path: tuple = ()
        self.leaves: set[str] = set()  # the names of container arguments' leaves
        self._code: dict[int, Any] = {}
        for name, value in zip(fn.params, args):
            self.env[name] = value
            if name not in fn.param_trees:
                self.ref[name] = self._add(_Eval(None, (), value, param=name, name=name))

    def _add(self, ev: _Eval) -> int:
        self.evals.append(ev)
        return len(self.evals) - 1

    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def _compiled(self, node: ast.AST, mode: str) -> Any:
        key = id(node)
        if key not in self._code:
            tree: ast.AST
            if mode == "eval":
                tree = ast.Expression(clone(node))
            else:
                tree = ast.Module([clone(node)], [])
            tree = ast.fix_missing_locations(tree)
            self._code[key] = compile(tree, self.fn.parsed.filename, mode)
        return self._code[key]

    def eval(self, expr: ast.expr) -> Any:
        return eval(self._compiled(expr, "eval"), self.env)

    def exec(self, stmt: ast.stmt) -> None:
        exec(self._compiled(stmt, "exec"), self.env)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.If):
            self.run(stmt.body if self.eval(stmt.test) else stmt.orelse)
        elif isinstance(stmt, (ast.For, ast.While)):
            self.loop(stmt)
        elif isinstance(stmt, ast.Break):
            raise _Break
        elif isinstance(stmt, ast.Continue):
            raise _Continue
        else:
            self.simple(stmt)

    def loop(self, stmt: ast.For | ast.While) -> None:
        self.loops[id(stmt)] = stmt
        outer = self.path
        items = iter(self.eval(stmt.iter)) if isinstance(stmt, ast.For) else None
        i = 0
        broke = False
        while True:
            if items is not None:
                try:
                    item = next(items)
                except StopIteration:
                    break
                self.bind(stmt.target, item)  # type: ignore[union-attr]
            elif not self.eval(stmt.test):  # type: ignore[union-attr]
                break
            self.path = (*outer, (id(stmt), i))
            try:
                self.run(stmt.body)
            except _Break:
                broke = True
            except _Continue:
                pass
            self.path = outer
            i += 1
            if broke:
                break
        if not broke:
            self.run(stmt.orelse)

    def bind(self, target: ast.expr, value: Any) -> None:
        self.env["__chainrule_item"] = value
        assign = ast.Assign([target], ast.Name("__chainrule_item", ast.Load()))
        exec(
            compile(ast.fix_missing_locations(ast.Module([assign], [])), "<loop>", "exec"), self.env
        )
        for name in _stored_names(target):
            self.ref.pop(name, None)

    def simple(self, stmt: ast.stmt) -> None:
        record = facts_of(stmt)
        prim = record.prim
        targets = _stored_names(stmt)
        if prim is LIST_APPEND:
            self.exec(stmt)
            lst = self.eval(record.args[0])
            item = record.args[1]
            ref = self.ref.get(item.id) if isinstance(item, ast.Name) else None
            self.lists.setdefault(id(lst), []).append(ref)
            return
        if prim in (SETITEM, ADD_AT, LIST_SET, UNPACK) or isinstance(prim, Method):
            raise self.refuse(stmt, record, _prim_name(prim))
        self.step += 1
        if self.nudge is not None and self.nudge[0] == self.step and prim is not None:
            name, delta = self.nudge[1], self.nudge[2]  # the tests' finite differences
            old = self.env[name]
            self.env[name] = old + delta
            try:
                self.exec(stmt)
            finally:
                self.env[name] = old
        else:
            self.exec(stmt)
        for name in targets:
            if name not in self.leaves:
                self.ref.pop(name, None)
        if prim is None:
            return
        if len(targets) != 1:
            raise self.refuse(stmt, record, f"{_prim_name(prim)} with several results")
        target = targets[0]
        if prim is LIST_GET:
            refs = self.lists.get(id(self.eval(record.args[0])), [])
            index = self.eval(record.args[1])
            try:
                ref = refs[index]
            except (IndexError, TypeError):
                ref = None
            if ref is not None:
                self.ref[target] = ref
            return
        if prim is IDENTITY:
            source = record.args[0] if record.args else None
            if isinstance(source, ast.Name) and source.id in self.ref:
                self.ref[target] = self.ref[source.id]
                origin = record.origin
                name = None
                if isinstance(origin, ast.Assign) and len(origin.targets) == 1:
                    name = getattr(origin.targets[0], "id", None)
                source_eval = self.evals[self.ref[target]]
                if name and source_eval.name is None and not record.phi_back:
                    source_eval.name = name  # `r = helper(q, x)` names the helper's result
            return
        self.operation(stmt, record, target)

    def refuse(self, stmt: ast.stmt, record: Any, what: str) -> CompileError:
        scope = record.scope or self.fn.parsed
        return scope.error(
            record.site or record.origin or stmt,
            f"chainrule.graph cannot draw {what} yet (in-place changes of arrays and "
            "lists, unpacking an array, methods of other objects): compute new values "
            "instead (np.where, np.concatenate, x[0] and x[1])",
        )

    def operation(self, stmt: ast.stmt, record: Any, target: str) -> None:
        rule = rules.lookup(record.prim)
        ev = _Eval(stmt, self.path, self.env[target], rule, name=_user_name(stmt, record))
        ev.step = self.step
        if rule is not None:
            scope = record.scope or self.fn.parsed
            ev.subst = bound_arguments(rule, stmt, target, "derivative", scope, self.fn.parsed)
            for param, expr in ev.subst.items():
                if param != rule.result:
                    ev.args[param] = self.eval(expr)
            for param in rule.params:
                expr = ev.subst.get(param)
                elts = expr.elts if isinstance(expr, (ast.List, ast.Tuple)) else [expr]
                sequence = isinstance(expr, (ast.List, ast.Tuple))
                for j, elt in enumerate(elts):
                    if isinstance(elt, ast.Name) and elt.id in self.ref:
                        ev.inputs.append((param, j if sequence else None, self.ref[elt.id]))
                    elif isinstance(elt, ast.Name) and id(ev.args.get(param)) in self.lists:
                        for j, ref in enumerate(self.lists[id(ev.args[param])]):
                            if ref is not None:  # a list the function made: one wire per item
                                ev.inputs.append((param, j, ref))
        else:  # no rule (a nondifferentiable function): wires, but no gradient
            for j, arg in enumerate(record.args):
                if isinstance(arg, ast.Name) and arg.id in self.ref:
                    ev.inputs.append((f"arg{j}", None, self.ref[arg.id]))
        if ev.inputs:
            self.ref[target] = self._add(ev)


def _is_cell(value: Any) -> bool:
    return type(value).__name__ == "cell"


def _stored_names(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n for t in targets for n in _stored_names(t)]
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for e in node.elts for n in _stored_names(e)]
    return []


def _user_name(stmt: ast.stmt, record: Any) -> str | None:
    """The user's variable a statement assigns, when it computes the user's whole
    right-hand side (`z1 = W1 @ x + b1` names the add, not the matmul)."""
    origin = record.origin
    if isinstance(origin, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = origin.targets if isinstance(origin, ast.Assign) else [origin.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            if (
                record.site is None
                or record.site is origin.value
                or isinstance(origin, ast.AugAssign)
            ):
                return targets[0].id
    return None


def _prim_name(prim: Any) -> str:
    return getattr(prim, "__name__", None) or type(prim).__name__


# -- the backward pass ------------------------------------------------------------------------


def _plus(total: Any, g: Any) -> Any:
    if g is None:
        return total
    return g if total is None else total + g


def _apply_rule(ev: _Eval, g: Any) -> dict[str, Any]:
    """The gradient the rule sends to each parameter, given its output's gradient g."""
    rule = ev.rule
    assert rule is not None and ev.stmt is not None
    body = resolve_static_ifs([clone(s) for s in rule.body], ev.subst)
    outputs = {"d" + p for p in rule.differentiable}
    needed = {"d" + slot for slot, _, _ in ev.inputs}
    body = prune_outputs(body, outputs - needed, outputs)
    ns = dict(rule.globals)
    for p in rule.differentiable:
        ns.pop("d" + p, None)
    ns.update(ev.args)
    ns[rule.result] = ev.value
    ns["d" + rule.result] = g
    try:
        code = compile(ast.fix_missing_locations(ast.Module(body, [])), "<rule>", "exec")
        exec(code, ns)
    except Exception as exc:
        raise GraphError(
            f"chainrule.graph could not apply the rule of {rule.name} (line "
            f"{getattr(facts_of(ev.stmt).origin, 'lineno', '?')}): {type(exc).__name__}: {exc}"
        ) from exc
    return {p: ns["d" + p] for p in rule.differentiable if "d" + p in ns}


def _backward(evals: list[_Eval], loss: int) -> None:
    """Fill each evaluation's total gradient and the partials on its input wires."""
    out: list[list[tuple[int, int]]] = [[] for _ in evals]
    for k, ev in enumerate(evals):
        ev.partials = [None] * len(ev.inputs)
        for pos, (_, _, src) in enumerate(ev.inputs):
            out[src].append((k, pos))
    for k in reversed(range(len(evals))):
        ev = evals[k]
        total = None
        if k == loss:
            total = np.ones_like(ev.value, dtype=float) if np.ndim(ev.value) else 1.0
        for consumer, pos in out[k]:
            total = _plus(total, evals[consumer].partials[pos])
        ev.grad = total
        if total is None or ev.rule is None:
            continue
        grads = _apply_rule(ev, total)
        for pos, (slot, j, _) in enumerate(ev.inputs):
            g = grads.get(slot)
            ev.partials[pos] = g[j] if g is not None and j is not None else g


# -- from evaluations to the picture ----------------------------------------------------------


def _gate(rule: rules.Rule | None) -> str:
    if rule is None:
        return "shape"
    name = rule.template.__name__
    for kind, names in _KIND_OF_RULE.items():
        if name in names.split():
            return kind
    return "function"


def _rule_name(rule: rules.Rule | None) -> str:
    if rule is None:
        return "no gradient"
    return rule.note.split(":")[0].strip() or rule.template.__name__


def _text(ev: _Eval) -> str:
    record = facts_of(ev.stmt)
    node = record.site or getattr(ev.stmt, "value", None) or ev.stmt
    text = ast.unparse(node)
    if len(text) > 40:
        text = text[:37] + "..."
    if record.scope is not None:
        text = f"{record.scope.func.__name__}: {text}"
    return text


def _loop_text(loop: ast.AST) -> str:
    origin = facts_of(loop).origin
    shown = origin if isinstance(origin, (ast.For, ast.While)) else loop
    if isinstance(shown, ast.For):
        return f"for {ast.unparse(shown.target)} in {ast.unparse(shown.iter)}"
    return f"while {ast.unparse(shown.test)}"  # type: ignore[attr-defined]


def _display(
    tracer: _Tracer, loss: int, wrt: set[str], unroll: int
) -> tuple[list[Node], list[Edge], dict[tuple, str]]:
    """Merge evaluations into nodes and edges (loop iterations past `unroll` folded)."""
    evals = tracer.evals
    nodes: dict[Any, Node] = {}
    node_of: list[Node] = []
    runs: dict[tuple, set] = {}
    for k, ev in enumerate(evals):
        path = tuple((loop, i if i < unroll else None) for loop, i in ev.path)
        for depth in range(1, len(path) + 1):
            runs.setdefault(path[:depth], set()).add(ev.path[:depth])
        key = (id(ev.stmt) if ev.stmt is not None else ev.param, path)
        node = nodes.get(key)
        if node is None:
            if ev.stmt is None:
                text, rule, gate = ev.param or "", "", "input"
                line = None
            else:
                text, rule, gate = _text(ev), _rule_name(ev.rule), _gate(ev.rule)
                line = getattr(facts_of(ev.stmt).origin, "lineno", None)
            node = Node(f"n{len(nodes)}", text, rule, gate, ev.name, ev.value, None, line)
            node.wrt = ev.param in wrt
            node.cluster = path
            node.runs = 0
            nodes[key] = node
        node.runs += 1
        node.value = ev.value
        node.grad = _plus(node.grad, ev.grad)
        node.loss = node.loss or k == loss
        node_of.append(node)
    edges: dict[tuple, Edge] = {}
    degree = [0] * len(evals)
    for ev in evals:
        for _, _, src in ev.inputs:
            degree[src] += 1
    for k, node in enumerate(node_of):
        node.uses = max(node.uses, degree[k])
    for k, ev in enumerate(evals):
        for (slot, j, src), g in zip(ev.inputs, ev.partials):
            a, b = node_of[src], node_of[k]
            shown = slot if j is None else f"{slot}[{j}]"
            key = (a.id, b.id, shown)
            edge = edges.get(key)
            if edge is None:
                edge = edges[key] = Edge(a.id, b.id, shown, evals[src].value, None, 0)
            edge.runs += 1
            edge.value = evals[src].value
            edge.grad = _plus(edge.grad, g)
    labels = {}
    for path, raw in runs.items():
        loop, i = path[-1]
        head = _loop_text(tracer.loops[loop])
        if i is None:
            labels[path] = (
                f"{head}: {len(raw)} iteration{'s' if len(raw) != 1 else ''} folded "
                "(values of the last, gradients summed)"
            )
        else:
            labels[path] = f"{head}: iteration {i + 1}"
    return list(nodes.values()), list(edges.values()), labels


# -- the public object -------------------------------------------------------------------------


def graph(
    f: Callable,
    *args: Any,
    argnums: int | tuple[int, ...] = 0,
    unroll: int = 0,
    max_elements: int = 4,
    title: str | None = None,
    legend: bool = True,
) -> Graph:
    """Evaluate `f(*args)` and its gradient with respect to `argnums`, and draw the
    computation as a circuit: one node per operation (labelled with the code and the
    rule's name), one edge per use of a value (labelled with the value and the partial
    gradient sent back along it), each node's total gradient, the inputs and the loss
    marked.  Operations in loops are folded into one node per operation, except in the
    first `unroll` iterations; arrays of at most `max_elements` elements are printed in
    full.  Returns a `Graph` (`.dot`, `.save(path)`, inline in Jupyter)."""
    nums, _ = normalize_argnums(argnums, "graph")
    value, grads = value_and_grad(f, argnums)(*args)  # the compiler's errors come first
    tracer, loss = _trace(f, args, nums)
    _backward(tracer.evals, loss)
    _check(tracer, nums, grads)
    params = tracer.fn.params
    wrt = {params[i] for i in nums}
    nodes, edges, clusters = _display(tracer, loss, wrt, unroll)
    name = tracer.fn.parsed.func.__name__
    shown = title if title is not None else f"{name}: values and gradients"
    dot = to_dot(nodes, edges, clusters, shown, max_elements, legend)
    return Graph(nodes, edges, dot, value, grads)


def _trace(
    f: Callable, args: tuple, nums: tuple[int, ...], nudge: tuple | None = None
) -> tuple[_Tracer, int]:
    """Normalize f and run it at args: the tracer, and the evaluation of the result."""
    parsed = parse_function(f)
    params = parsed.params
    if len(args) != len(params):
        raise TypeError(
            f"graph: {parsed.func.__name__} takes {len(params)} arguments, got {len(args)}"
        )
    varied = {p for i, p in enumerate(params) if i in nums or _is_float_data(args[i])}
    structures = {p: structure(a) for p, a in zip(params, args) if type(a) in (tuple, list, dict)}
    fn = normalize(parsed, varied, structures, False, compile_jvp=_compile_jvp)
    tracer = _Tracer(fn, args, nudge)
    _add_leaves(tracer, fn, args)
    tracer.run(fn.body)
    result = fn.result
    loss = tracer.ref.get(result.id) if isinstance(result, ast.Name) else None
    if loss is None:
        raise GraphError(
            f"{parsed.func.__name__}'s result does not depend on its arguments: there is "
            "nothing to draw"
        )
    return tracer, loss


def _is_float_data(value: Any) -> bool:
    if type(value) in (tuple, list, dict):
        return True
    return np.asarray(value).dtype.kind in "fc" if not isinstance(value, str) else False


def _compile_jvp(f: Callable, nums: tuple[int, ...]) -> Callable:
    from .pipeline import CompileRequest, compile_function

    return compile_function(CompileRequest(f, nums, "jvp", True)).function


def _add_leaves(tracer: _Tracer, fn: Function, args: tuple) -> None:
    """Container arguments: one input node per leaf (`params['W1']`), reached by the
    statements that read the leaves at entry."""
    for param, tree in fn.param_trees.items():
        for path, name in _tree_leaves(tree):
            value = args[fn.params.index(param)]
            for key in path:
                value = value[key]
            label = param + "".join(f"[{k!r}]" for k in path)
            ev = _Eval(None, (), value, param=label, name=label)
            tracer.ref[name] = tracer._add(ev)
            tracer.leaves.add(name)


def _tree_leaves(tree: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    if isinstance(tree, Tree):
        return [leaf for k, sub in tree.items for leaf in _tree_leaves(sub, (*path, k))]
    if isinstance(tree, ast.Name):
        return [(path, tree.id)]
    return []


def _check(tracer: _Tracer, nums: tuple[int, ...], grads: Any) -> None:
    """The inputs' totals must be the compiled gradient (a picture never shows another)."""
    params = tracer.fn.params
    single = len(nums) == 1 and not isinstance(grads, tuple)
    for i, g in zip(nums, (grads,) if single else grads):
        ref = tracer.ref.get(params[i])
        if ref is None or type(g) in (tuple, list, dict):
            continue
        mine = tracer.evals[ref].grad
        mine = np.zeros_like(np.asarray(g, dtype=float)) if mine is None else mine
        if np.shape(mine) != np.shape(g) or not np.allclose(mine, g, rtol=1e-6, atol=1e-9):
            raise GraphError(
                f"internal: the picture's gradient for {params[i]} differs from "
                f"chainrule's ({fmt(mine, 6)} against {fmt(g, 6)}); this is a chainrule "
                "bug, please report it with the function's source"
            )
