"""Stage 5, reverse: emit the adjoint of a normalized function.

The adjoint is the primal statements followed by the derivative of each
active statement in reverse order.  For every statement `z = prim(x, y)` we
instantiate the primitive's template (rules/) with `z`, `dz`, `x`, `y` bound
to the actual names, keep only the gradients of active inputs, and route each
one into its input's gradient variable:

* the first contribution to `dx` is a plain assignment `dx = ...`;
* later ones are sums `dx = dx + ...` (the copy gate: a value used several
  times receives the sum of its uses' gradients).  We never write `dx += ...`
  because `dx` may be the very array another gradient name refers to (the add
  gate hands out the same `dz` to both inputs).

Gradient variables are named `d` + the primal name (`dW1`, `dh`), or the
first free variant of that (`d_W1`, `d_W1_1`...) when the user already uses
the name.  The result is an `Adjoint`: statement lists that codegen wraps
into the `grad`, `value_and_grad` or `vjp` function.
"""

from __future__ import annotations

import ast
import types
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analyze import (
    Activity,
    analyze,
    bind,
    integer_names,
    names_in,
    rule_for,
    scalar_names,
    walk_statements,
)
from .codegen import comment
from .flow import bound_on_entry
from .normalize import (
    ADD_AT,
    LIST_APPEND,
    LIST_GET,
    LIST_SET,
    SETITEM,
    UNPACK,
    Function,
    Method,
    Names,
    clone,
)
from .optimize import shape_classes
from .parse import MISSING
from .rules import Rule, display_name, is_nondifferentiable
from .runtime import zeros_like_item, zeros_like_list


@dataclass
class Bindings:
    """Names under which generated code reaches objects that templates use."""

    names: Names
    parsed_globals: dict
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


@dataclass
class Adjoint:
    fn: Function
    wrt: list[str]
    activity: Activity
    primal: list[ast.stmt]
    backward: list[ast.stmt]
    seed_name: str  # gradient variable of the result (assigned by the seed)
    grads: list[str]  # gradient variable returned for each wrt parameter
    bindings: Bindings
    gradname: dict[str, str]  # primal name -> gradient variable
    stacks: list[str] = field(default_factory=list)  # the lists that save loop values
    scalar_params: frozenset[str] = frozenset()  # parameters specialised as scalars
    scalars: set[str] = field(default_factory=set)  # every name that is a scalar


class Reverser:
    def __init__(
        self,
        fn: Function,
        wrt: list[str],
        scalar_params: frozenset[str] = frozenset(),
        ranks: dict[str, int] | None = None,
    ) -> None:
        self.fn = fn
        self.wrt = wrt
        self.scalar_params = scalar_params
        self.p = fn.parsed
        self.names = fn.names
        self.activity = analyze(fn, wrt)
        self.gradname: dict[str, str] = {}
        self.defined: set[str] = set()  # gradient variables holding a value so far
        self.summed: set[str] = set()  # gradient variables already explained as copy gates
        user_names = {n for n in self.names.taken}
        # the objects the function's free names denote: its globals, and its closure cells
        # (generated code, transformed again, reaches np and the helpers through cells)
        cell_values = {n: _cell_value(c) for n, c in self.p.cells.items()}
        self.bindings = Bindings(self.names, ChainMap(cell_values, self.p.globals), user_names)
        self.ops_per_origin: dict[int, int] = {}
        for stmt in _walk(fn.body):
            if self.is_active_stmt(stmt):
                key = id(stmt.origin)  # type: ignore[attr-defined]
                self.ops_per_origin[key] = self.ops_per_origin.get(key, 0) + 1
        self.last_origin: Any = None
        self.loops: list[LoopInfo] = []  # the loops being reversed, innermost last
        self.loop_inited: dict[str, LoopInfo] = {}  # accumulator -> the loop it starts before
        self.stacks: list[str] = []  # one list per statement list that saves values
        self.primal_of: dict[str, str] = {}  # gradient variable -> primal name
        self.owned: set[str] = set()  # gradient arrays no other name shares
        self.list_names: set[str] = set(getattr(fn, "lists", ()))  # lists made in the function
        self.maybe_unbound = _maybe_unbound(fn.body)
        self.unbound_phis = {  # loop-carried names with no value before their loop
            t
            for s in walk_statements(fn.body)
            if getattr(s, "unbound_init", False)
            for t in _assigned(s)
        }
        self.bound_at = bound_on_entry(fn.body, fn.params)  # compound statement -> bound names
        self.int_names: set[str] = integer_names(fn.body, fn.params)  # indices, counters, sizes
        self.branch_depth = 0
        env = ChainMap(self.bindings.cells, self.p.globals)  # live: templates add bindings
        self.scalars = scalar_names(fn, scalar_params, ranks)
        self.shapes = shape_classes(fn.params, fn.body, env, self.primal_of, self.scalars)

    # -- names -----------------------------------------------------------
    def grad(self, name: str) -> str:
        """The gradient variable of `name`: dname, or d_name (d_name_1, ...) if taken."""
        g = self.gradname.get(name)
        if g is None:
            g = "d" + name
            if g in self.names.taken:
                g = self.names.fresh("d_" + name)
            self.names.taken.add(g)
            self.gradname[name] = g
            self.primal_of[g] = name
        return g

    def active(self, name: str) -> bool:
        return self.activity.active(name)

    def is_active_stmt(self, stmt: ast.stmt) -> bool:
        if getattr(stmt, "prim", None) in (LIST_APPEND, ADD_AT):
            return self.active(stmt.args[0].id)  # type: ignore[attr-defined]
        if is_list_pop(stmt, getattr(self.fn, "lists", set())):  # (the adjoint puts it back)
            return self.active(stmt.args[0].id)  # type: ignore[attr-defined]
        return (
            isinstance(stmt, ast.Assign)
            and getattr(stmt, "prim", None) is not None
            and any(self.active(t) for t in names_in(stmt.targets[0]))
        )

    # -- driving ---------------------------------------------------------
    def run(self) -> Adjoint:
        result = self.fn.result
        seed = self.grad(result.id) if isinstance(result, ast.Name) else self.names.fresh("dout")
        if isinstance(result, ast.Name) and self.active(result.id):
            self.defined.add(seed)
        backward = self.block(self.fn.body) if seed in self.defined else []
        grads = []
        for param in self.wrt:
            g = self.grad(param)
            if g not in self.defined:
                backward.append(comment(f"{param} does not affect the output: its gradient is 0"))
                backward.append(self.zeros_for(g, param))
                self.defined.add(g)
            grads.append(g)
        return Adjoint(
            self.fn,
            self.wrt,
            self.activity,
            self.fn.body,
            backward,
            seed,
            grads,
            self.bindings,
            self.gradname,
            self.stacks,
            self.scalar_params,
            self.scalars,
        )

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """The adjoint of a statement list, last statement first.

        Inside a loop, the values this adjoint reads that the loop overwrites
        are saved at the end of the list (`stack.append((a, b))`) and restored
        at the start of its adjoint (`a, b = stack.pop()`).  Lists run to
        completion (jumps were turned into flags), so pushes and pops pair up.
        """
        out: list[ast.stmt] = []
        reads: set[str] = set()
        counted: list[ast.stmt] = []
        for stmt in reversed(body):
            if isinstance(stmt, ast.If):
                code = self.branch(stmt)
                if code:
                    reads.update(names_in(stmt.test))
            elif isinstance(stmt, (ast.For, ast.While)):
                code, loop_reads = self.loop(stmt)
                reads |= loop_reads
                if hasattr(stmt, "count_init"):
                    counted.append(stmt)
            elif self.is_active_stmt(stmt):
                code = self.statement(stmt)
                reads |= _loads(code)
            else:
                continue
            out.extend(code)
        for loop in counted:  # `n = 0` goes right before the primal loop it counts
            body.insert(body.index(loop), loop.count_init)  # type: ignore[attr-defined]
        if self.loops:
            info = self.loops[-1]
            if body is info.body:
                # the gradient of a loop-carried value is reset to zeros shaped like the
                # value at the start of the iteration, which may differ from its last
                reads |= {
                    p
                    for p in info.phis
                    if self.grad(p) not in self.defined
                    and not self.shapes.is_scalar(p)
                    and p not in self.unbound_phis
                }
            saved = sorted(n for n in reads if n in info.variant and n not in info.rebound)
            if saved:
                stack = self.names.fresh("stack")
                self.stacks.append(stack)
                out = [self.restore(saved, stack), *out]
                self.save_at_end(body, saved, stack)
        return out

    def init_before(self, loop: LoopInfo, name: str, g: str) -> None:
        """Start gradient `g` of `name` at zero before the reversed `loop` (an accumulator)."""
        loop.needs_init.append(name)
        self.loop_inited[g] = loop

    def save_at_end(self, body: list[ast.stmt], names: list[str], stack: str) -> None:
        """Append `stack.append(...)` to a primal list, before its loop-carried copies.

        Each statement list has a list of its own, so every record in it has the
        same layout (which lets the saved values be told apart when the
        generated code is differentiated again).
        """
        value: ast.expr = (
            ast.Name(names[0], ast.Load())
            if len(names) == 1
            else ast.Tuple(elts=[ast.Name(n, ast.Load()) for n in names], ctx=ast.Load())
        )
        push = ast.Expr(
            value=ast.Call(
                func=ast.Attribute(
                    value=ast.Name(stack, ast.Load()), attr="append", ctx=ast.Load()
                ),
                args=[value],
                keywords=[],
            )
        )
        push.saves = names  # type: ignore[attr-defined]
        at = len(body)
        for i, stmt in enumerate(body):
            if getattr(stmt, "phi_back", False) or (
                isinstance(stmt, ast.If) and stmt.body and isinstance(stmt.body[0], ast.Break)
            ):
                at = i
                break
        body.insert(at, push)

    def restore(self, names: list[str], stack: str) -> ast.stmt:
        target: ast.expr = (
            ast.Name(names[0], ast.Store())
            if len(names) == 1
            else ast.Tuple(elts=[ast.Name(n, ast.Store()) for n in names], ctx=ast.Store())
        )
        pop = ast.Call(
            func=ast.Attribute(value=ast.Name(stack, ast.Load()), attr="pop", ctx=ast.Load()),
            args=[],
            keywords=[],
        )
        return ast.Assign(targets=[target], value=pop)

    def loop(self, stmt: ast.For | ast.While) -> tuple[list[ast.stmt], set[str]]:
        """The adjoint of a loop: its body's adjoint, run for the iterations in reverse."""
        if not any(self.is_active_stmt(s) for s in walk_statements(stmt.body)):
            return [], set()
        variant = {t for s in walk_statements([stmt]) for t in _assigned(s)}
        info = LoopInfo(variant=variant, body=stmt.body)
        reversed_range = (
            isinstance(stmt, ast.For)
            and getattr(stmt, "range_loop", False)
            and not any(_is_exit_check(s) for s in stmt.body)
            and isinstance(stmt.target, ast.Name)
        )
        if reversed_range:
            info.rebound.add(stmt.target.id)  # type: ignore[union-attr]
        phis = [
            s.targets[0].id  # type: ignore[attr-defined]
            for s in stmt.body
            if getattr(s, "phi_back", False) and self.active(s.targets[0].id)  # type: ignore
        ]
        info.phis = phis
        info.phi_sources = {
            s.targets[0].id: s.value.id  # type: ignore[attr-defined]
            for s in stmt.body
            if getattr(s, "phi_back", False) and isinstance(getattr(s, "value", None), ast.Name)
        }
        init: list[ast.stmt] = []
        for p in phis:  # the gradient of the loop's final value (zero if unused after it)
            g = self.grad(p)
            if g not in self.defined:  # (a loop-carried name is bound after its loop)
                init.append(self.zeros_for(g, p, bound=True))
                self.defined.add(g)
        for s in walk_statements(stmt.body):  # in-place updates need unshared arrays
            if getattr(s, "prim", None) is SETITEM and self.is_active_stmt(s):
                g = self.grad(s.args[0].id)  # type: ignore[attr-defined]
                if g in self.defined:
                    init.extend(self.own(g))
        before = set(self.defined)
        saved_origin = self.last_origin
        self.last_origin = None
        self.loops.append(info)
        body = self.block(stmt.body)
        self.loops.pop()
        self.last_origin = saved_origin
        for p in phis:  # each reversed iteration hands the next one a gradient
            g = self.grad(p)
            if g in self.defined:
                continue
            if p in self.unbound_phis:
                # first assigned in the loop: the value the next (earlier) iteration hands
                # on comes from the same statement, so its zero is shaped like this one's
                source = info.phi_sources[p]
                zeros = self.template_call(
                    "zeros_like", np.zeros_like, [ast.Name(self.grad(source), ast.Load())]
                )
                body.append(_assign(g, zeros))
                self.owned.add(g)
            else:
                body.append(self.zeros_for(g, p, bound=True))
        entry = self.bound_at.get(id(stmt), frozenset())
        for name in info.needs_init:
            init.append(self.zeros_for(self.grad(name), name, bound=name in entry))
        self.defined = before | {self.grad(n) for n in info.needs_init}
        origin_text = self.line_of(stmt, getattr(stmt, "origin", stmt))
        header = [comment(f"backward of the loop `{origin_text}`, last iteration first")]
        if reversed_range:
            backward = ast.For(
                target=ast.Name(stmt.target.id, ast.Store()),  # type: ignore[union-attr]
                iter=ast.Call(
                    func=ast.Name("reversed", ast.Load()), args=[clone(stmt.iter)], keywords=[]
                ),
                body=body or [ast.Pass()],
                orelse=[],
            )
        else:
            count = self.count_iterations(stmt)
            backward = ast.For(
                target=ast.Name(self.names.fresh("_"), ast.Store()),
                iter=ast.Call(
                    func=ast.Name("range", ast.Load()),
                    args=[ast.Name(count, ast.Load())],
                    keywords=[],
                ),
                body=body or [ast.Pass()],
                orelse=[],
            )
        code = [*init, *header, backward]
        reads = {n for n in _loads([backward, *init]) if n not in variant or n in info.rebound}
        if reversed_range:
            reads |= set(names_in(stmt.iter))
        return code, reads - info.rebound

    def count_iterations(self, stmt: ast.For | ast.While) -> str:
        """Add `n = 0` before the primal loop and `n = n + 1` in it; return n."""
        count = self.names.fresh("iterations")
        stmt.body.insert(
            0,
            _assign(
                count,
                ast.BinOp(left=ast.Name(count, ast.Load()), op=ast.Add(), right=ast.Constant(1)),
            ),
        )
        stmt.count_init = _assign(count, ast.Constant(0))  # type: ignore[attr-defined]
        for loop in self.loops:  # the enclosing loops overwrite the count too
            loop.variant.add(count)
        return count

    def branch(self, stmt: ast.If) -> list[ast.stmt]:
        self.branch_depth += 1
        try:
            return self._branch(stmt)
        finally:
            self.branch_depth -= 1

    def _branch(self, stmt: ast.If) -> list[ast.stmt]:
        before = set(self.defined)
        saved_origin = self.last_origin
        body = self.block(stmt.body)
        after_body = self.defined
        self.defined = set(before)
        self.last_origin = saved_origin
        orelse = self.block(stmt.orelse)
        after_else = self.defined
        self.last_origin = None
        # A gradient that only one branch starts must exist after both, if its
        # value was defined before the `if` (gradients of names the branches
        # define themselves are finished inside the branch).
        primal_of = {g: n for n, g in self.gradname.items()}
        inside = {t for s in walk_statements([stmt]) for t in _assigned(s)}
        # accumulators zeroed before a loop around this `if` exist on both paths
        # (one zeroed before a loop inside a branch exists in that branch only)
        enclosing = {id(loop) for loop in self.loops}
        outside = {g for g, loop in self.loop_inited.items() if id(loop) in enclosing}
        entry = self.bound_at.get(id(stmt), frozenset())
        for g in sorted(after_body - after_else - outside):
            if primal_of[g] not in inside:
                orelse.append(self.zeros_for(g, primal_of[g], bound=primal_of[g] in entry))
        for g in sorted(after_else - after_body - outside):
            if primal_of[g] not in inside:
                body.append(self.zeros_for(g, primal_of[g], bound=primal_of[g] in entry))
        after_body |= after_else & outside
        after_else |= after_body & outside
        self.defined = (after_body | after_else) - {
            self.gradname[n] for n in inside if n in self.gradname
        }
        if not body and not orelse:
            return []
        return [ast.If(test=clone(stmt.test), body=body or [ast.Pass()], orelse=orelse)]

    def zeros_for(self, g: str, primal: str, bound: bool = False) -> ast.stmt:
        """`g = zeros shaped like primal`; `bound` says primal surely exists here."""
        self.owned.add(g)
        if primal in self.maybe_unbound and not bound:
            # `primal` exists only on some paths (e.g. a value assigned by a `return`
            # inside a loop): on the others no adjoint reads this zero's shape
            return _assign(g, ast.Constant(0.0))
        if primal in self.list_names:  # one zero per element, shaped like it
            zeros = self.helper_call(
                zeros_like_list, "zeros_like_list", [ast.Name(primal, ast.Load())]
            )
            return _assign(g, zeros)
        if self.shapes.is_scalar(primal):
            return _assign(g, ast.Constant(0.0))
        zeros = self.template_call("zeros_like", np.zeros_like, [ast.Name(primal, ast.Load())])
        return _assign(g, zeros)

    # -- one statement -------------------------------------------------------
    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        prim = stmt.prim  # type: ignore[attr-defined]
        if prim is LIST_APPEND:
            return self.list_append(stmt)
        if is_list_pop(stmt, self.list_names):
            return self.list_pop(stmt)
        if prim is LIST_SET:
            return self.list_set(stmt)
        if prim is ADD_AT:
            return self.add_at(stmt)
        target = stmt.targets[0]  # type: ignore[attr-defined]
        if prim is LIST_GET:
            note = "list item: its gradient is added into the same slot of the list's gradient"
            return self.header(stmt, None, note) + self.list_get(stmt)
        out: list[ast.stmt] = []
        if prim is UNPACK:
            return self.header(stmt, None) + self.unpack(stmt)
        if prim is SETITEM:
            return self.setitem(stmt)
        if isinstance(prim, Method):
            raise self.scope(stmt).error(
                stmt.site,  # type: ignore[attr-defined]
                f"the method .{prim.name}() has no derivative rule; use the NumPy function "
                "instead (for example np.sum(x) for x.sum()), or register a rule for it",
            )
        if not isinstance(target, ast.Name):  # pragma: no cover - normalize guarantees it
            raise self.p.error(stmt, "internal: unexpected assignment target")
        if is_nondifferentiable(prim):
            return []
        rule = rule_for(stmt)
        if rule is None:
            raise self.scope(stmt).error(stmt.site, _no_rule_message(prim))  # type: ignore[attr-defined]
        if self.grad(target.id) not in self.defined:
            # nothing after this statement, on this path, used its value (a name
            # that another branch assigns too): it passes no gradient back
            return []
        out.extend(self.header(stmt, rule))
        code = self.instantiate(rule, stmt, target.id)
        self.shapes.simplify(code, len(self.loops) + self.branch_depth)
        out.extend(code)
        if getattr(stmt, "phi_back", False):
            # `h_1 = h_2` ends an iteration: dh_1 has been handed on, and the uses of
            # h_1 earlier in the iteration start its gradient afresh
            self.defined.discard(self.grad(target.id))
        return out

    def scope(self, stmt: ast.stmt) -> Any:
        """The Parsed function a statement came from (an inlined callee, or the root)."""
        return getattr(stmt, "scope", self.p)

    def line_of(self, stmt: ast.stmt, origin: ast.AST) -> str:
        """The user's line behind `stmt`, prefixed with the helper's name if inlined."""
        scope = self.scope(stmt)
        text = scope.line_text(getattr(origin, "lineno", 0))
        if text and scope is not self.p:
            return f"{getattr(scope.func, '__name__', '?')}: {text}"
        return text

    def header(self, stmt: ast.stmt, rule: Rule | None, note: str | None = None) -> list[ast.stmt]:
        """Comments quoting the user's line and naming the local rule."""
        out = []
        origin = stmt.origin  # type: ignore[attr-defined]
        if origin is not self.last_origin:
            self.last_origin = origin
            text = self.line_of(stmt, origin)
            if text:
                end = getattr(origin, "end_lineno", None)
                if end and end != origin.lineno:
                    text += " ..."
                out.append(comment(text))
        if note is None:
            note = rule.note if rule is not None else "unpacking: each name gets its row's gradient"
        if self.ops_per_origin.get(id(origin), 0) > 1:
            text = ast.unparse(stmt)
            out.append(comment(f"{text}: {note}" if note else text))
        elif note:
            out.append(comment(note))
        return out

    def substitution(
        self, rule: Rule, stmt: ast.stmt, target: str, kind: str = "derivative"
    ) -> dict[str, ast.expr]:
        """Template parameter -> the expression it stands for at this statement."""
        try:
            bound = bind(rule, stmt)
        except TypeError as exc:
            raise self.scope(stmt).error(
                stmt.site,  # type: ignore[attr-defined]
                f"{rule.name} is called with arguments its {kind} rule does not accept "
                f"({exc}); pass only {', '.join(rule.params)}",
            ) from None
        subst: dict[str, ast.expr] = {}
        for param, value in bound.items():
            if isinstance(value, tuple) and any(isinstance(v, ast.AST) for v in value):
                value = ast.Tuple(elts=list(value), ctx=ast.Load())  # a *args parameter
            subst[param] = (
                value if isinstance(value, ast.AST) else _literal(value, rule, stmt, self)
            )
        subst[rule.result] = ast.Name(target, ast.Load())
        return subst

    def instantiate(self, rule: Rule, stmt: ast.stmt, target: str) -> list[ast.stmt]:
        subst = self.substitution(rule, stmt, target)
        subst["d" + rule.result] = ast.Name(self.grad(target), ast.Load())
        outputs = {"d" + p: p for p in rule.differentiable}
        needed = {
            "d" + p
            for p in rule.differentiable
            if any(self.active(n) for n in names_in(subst.get(p)))
        }
        body = _resolve_static_ifs(clone(rule.body), subst)
        body = _prune(body, set(outputs) - needed, outputs)
        temps: dict[str, str] = {}
        free = _free_names(body, set(subst) | set(outputs))
        local = {n for s in body for n in _stored(s)} - set(outputs)
        for name in sorted(local):
            temps[name] = self.names.temp()
        for name in sorted(free - local):
            obj = _resolve_template_name(rule, name)
            temps[name] = self.bindings.name_for(obj, name)
        out: list[ast.stmt] = []
        for tstmt in body:
            out.extend(self.route(tstmt, outputs, subst, temps))
        return out

    def route(self, tstmt: ast.stmt, outputs, subst, temps) -> list[ast.stmt]:
        """Substitute names in one template statement; accumulate gradient outputs."""
        if isinstance(tstmt, ast.If):  # a template test decided at run time
            before = set(self.defined)
            body = [s for t in tstmt.body for s in self.route(t, outputs, subst, temps)]
            after_body, self.defined = self.defined, set(before)
            orelse = [s for t in tstmt.orelse for s in self.route(t, outputs, subst, temps)]
            after_else = self.defined
            primal_of = {g: n for n, g in self.gradname.items()}
            for g in sorted(after_body - after_else):
                orelse.append(self.zeros_for(g, primal_of[g]))
            for g in sorted(after_else - after_body):
                body.append(self.zeros_for(g, primal_of[g]))
            self.defined = after_body | after_else
            test = _substitute(tstmt.test, subst, temps)
            return [ast.If(test=test, body=body or [ast.Pass()], orelse=orelse)]
        if (
            isinstance(tstmt, ast.Assign)
            and len(tstmt.targets) == 1
            and isinstance(tstmt.targets[0], ast.Name)
            and tstmt.targets[0].id in outputs
        ):
            param = outputs[tstmt.targets[0].id]
            value = _substitute(tstmt.value, subst, temps)
            return self.accumulate(subst[param], value)
        return [_substitute(tstmt, subst, temps)]

    def accumulate(self, where: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Add `value` to the gradient of `where` (a name or a display of names)."""
        if isinstance(where, ast.Name):
            if not self.active(where.id):
                return []
            return self.add_to(where.id, value)
        if isinstance(where, (ast.List, ast.Tuple)):
            # the gradient of a display is a sequence shaped like it: unpack it
            pending: list[ast.stmt] = []
            seen: set[str] = set()

            def target_for(elt: ast.expr) -> ast.expr:
                if isinstance(elt, (ast.List, ast.Tuple)):
                    return ast.Tuple(elts=[target_for(e) for e in elt.elts], ctx=ast.Store())
                if isinstance(elt, ast.Name) and self.active(elt.id):
                    g = self.grad(elt.id)
                    outside = any(elt.id not in loop.variant for loop in self.loops)
                    if g not in self.defined and elt.id not in seen and not outside:
                        seen.add(elt.id)
                        self.defined.add(g)
                        self.owned.discard(g)  # (it may be an array another name holds)
                        return ast.Name(g, ast.Store())
                    # a value from outside the loop accumulates over iterations: add_to
                    tmp = self.names.temp()
                    pending.extend(self.add_to(elt.id, ast.Name(tmp, ast.Load())))
                    return ast.Name(tmp, ast.Store())
                return ast.Name(self.names.fresh("_"), ast.Store())

            tgt = target_for(where)
            return [ast.Assign(targets=[tgt], value=value), *pending]
        return []  # a constant: no gradient

    def add_to(self, name: str, value: ast.expr) -> list[ast.stmt]:
        g = self.grad(name)
        if name in self.list_names:
            return self.add_to_list(name, g, value)
        if g not in self.defined:
            outer = next((loop for loop in self.loops if name not in loop.variant), None)
            self.defined.add(g)
            if outer is None:
                self.owned.discard(g)  # it may be the very array another gradient holds
                return [_assign(g, value)]
            self.owned.add(g)
            # a value from outside the loop collects a gradient on every iteration:
            # its accumulator starts at zero before the reversed loop
            self.init_before(outer, name, g)
            in_place = self.scatter_in_place(g, value)
            if in_place is not None:
                return [in_place]
            total = ast.BinOp(left=ast.Name(g, ast.Load()), op=ast.Add(), right=value)
            return [_assign(g, total)]
        out: list[ast.stmt] = []
        if g not in self.summed:
            self.summed.add(g)
            out.append(
                comment(f"copy gate: {name} is used more than once, so its gradients add up")
            )
        in_place = self.scatter_in_place(g, value)
        if in_place is not None:
            out.append(in_place)
            return out
        total = ast.BinOp(left=ast.Name(g, ast.Load()), op=ast.Add(), right=value)
        out.append(_assign(g, total))
        self.owned.add(g)  # a sum is a new array
        return out

    def add_to_list(self, name: str, g: str, value: ast.expr) -> list[ast.stmt]:
        """The gradient of a list is a list of the same length: add element by element."""
        from .runtime import add_lists

        if g not in self.defined:
            outer = next((loop for loop in self.loops if name not in loop.variant), None)
            self.defined.add(g)
            if outer is None:
                as_list = ast.Call(func=ast.Name("list", ast.Load()), args=[value], keywords=[])
                return [_assign(g, as_list)]
            self.init_before(outer, name, g)
        helper = self.bindings.name_for(add_lists, "add_lists")
        total = ast.Call(
            func=ast.Name(helper, ast.Load()), args=[ast.Name(g, ast.Load()), value], keywords=[]
        )
        return [_assign(g, total)]

    def scatter_in_place(self, g: str, value: ast.expr) -> ast.stmt | None:
        """`dxs = dxs + index_grad(dt, xs, np.s_[t])` as `dxs[t] += dt` on an owned dxs.

        Inside a loop this turns a full-size zero array per iteration into one
        element update; it is only done when no other name can share `dxs`.
        """
        from .runtime import index_grad

        if g not in self.owned or not self.loops:
            return None
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and self.bindings.cells.get(value.func.id) is index_grad
            and len(value.args) == 3
        ):
            return None
        dy, _, index = value.args
        if (
            isinstance(index, ast.Subscript)
            and isinstance(index.value, ast.Attribute)
            and index.value.attr == "s_"
        ):
            index = index.slice  # np.s_[...] -> the index itself
        if self.basic_index(index):
            target = ast.Subscript(
                value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Store()
            )
            return ast.AugAssign(target=target, op=ast.Add(), value=dy)
        np_name = self.bindings.name_for(np, "np")
        add_at = ast.Attribute(
            value=ast.Attribute(value=ast.Name(np_name, ast.Load()), attr="add", ctx=ast.Load()),
            attr="at",
            ctx=ast.Load(),
        )
        call = ast.Call(func=add_at, args=[ast.Name(g, ast.Load()), clone(index), dy], keywords=[])
        return ast.Expr(value=call)

    def basic_index(self, index: ast.expr) -> bool:
        """Ints (range loop variables, literals, arithmetic on them) and slices only."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        return all(isinstance(part, ast.Slice) or self.int_expr(part) for part in parts)

    def int_expr(self, expr: ast.expr) -> bool:
        if isinstance(expr, ast.Constant):
            return type(expr.value) is int
        if isinstance(expr, ast.Name):
            return expr.id in self.int_names
        if isinstance(expr, ast.BinOp) and isinstance(
            expr.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
        ):
            return self.int_expr(expr.left) and self.int_expr(expr.right)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return self.int_expr(expr.operand)
        return False

    def list_append(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`hs.append(v)`: undo it (hs.pop()), and v takes the last element of dhs."""
        hs, value = stmt.args  # type: ignore[attr-defined]
        origin = stmt.origin  # type: ignore[attr-defined]
        self.last_origin = origin
        out: list[ast.stmt] = [
            comment(self.line_of(stmt, origin)),
            comment("append: the appended value takes the last gradient of the list"),
        ]
        pop = ast.Call(
            func=ast.Attribute(value=clone(hs), attr="pop", ctx=ast.Load()), args=[], keywords=[]
        )
        out.append(ast.Expr(value=pop))  # the list as it was before the append
        g = self.grad(hs.id)
        taken = ast.Call(
            func=ast.Attribute(value=ast.Name(g, ast.Load()), attr="pop", ctx=ast.Load()),
            args=[],
            keywords=[],
        )
        if isinstance(value, ast.Name) and self.active(value.id):
            out.extend(self.add_to(value.id, taken))
        elif isinstance(value, ast.Tuple) and any(self.active(n) for n in names_in(value)):
            # a record: unpack its gradients (a slot nobody differentiated holds one zero)
            from .runtime import record_grad

            helper = self.bindings.name_for(record_grad, "record_grad")
            record = ast.Call(
                func=ast.Name(helper, ast.Load()),
                args=[taken, ast.Constant(len(value.elts))],
                keywords=[],
            )
            out.extend(self.accumulate(value, record))
        else:
            out.append(ast.Expr(value=taken))
        return out

    def list_pop(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`t = hs.pop()`: put the item back (hs.append(t)), and its gradient on dhs.

        The mirror image of an append's adjoint; gradient code, differentiated
        again, pops the records its forward loop pushed.
        """
        hs = stmt.args[0]  # type: ignore[attr-defined]
        t = stmt.targets[0].id  # type: ignore[attr-defined]
        origin = stmt.origin  # type: ignore[attr-defined]
        self.last_origin = origin
        out: list[ast.stmt] = [
            comment(self.p.line_text(getattr(origin, "lineno", 0))),
            comment("pop: the item goes back on the list, its gradient on the list's gradient"),
        ]

        def append(owner: str, item: ast.expr) -> ast.stmt:
            func = ast.Attribute(value=ast.Name(owner, ast.Load()), attr="append", ctx=ast.Load())
            return ast.Expr(value=ast.Call(func=func, args=[item], keywords=[]))

        out.append(append(hs.id, ast.Name(t, ast.Load())))
        g = self.grad(hs.id)
        if g not in self.defined:
            self.defined.add(g)
            outer = next((loop for loop in self.loops if hs.id not in loop.variant), None)
            if outer is None:
                out.insert(2, self.zeros_for(g, hs.id))
            else:  # the list's gradient starts before the reversed loop
                self.init_before(outer, hs.id, g)
        dt = self.gradname.get(t)
        item: ast.expr = (
            ast.Name(dt, ast.Load())
            if dt in self.defined
            else self.helper_call(zeros_like_item, "zeros_like_item", [ast.Name(t, ast.Load())])
        )
        out.append(append(g, item))
        return out

    def list_get(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`x = hs[i]`: dhs[i] collects dx (dhs starts as zeros the length of hs)."""
        hs, index = stmt.args  # type: ignore[attr-defined]
        x = stmt.targets[0].id  # type: ignore[attr-defined]
        g = self.grad(hs.id)
        out: list[ast.stmt] = []
        if g not in self.defined:
            out.append(self.zeros_for(g, hs.id))
            self.defined.add(g)
            outer = next((loop for loop in self.loops if hs.id not in loop.variant), None)
            if outer is not None:  # started before the loop instead
                out.pop()
                self.init_before(outer, hs.id, g)
        slot = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Store())
        read = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Load())
        total = ast.BinOp(left=read, op=ast.Add(), right=ast.Name(self.grad(x), ast.Load()))
        out.append(ast.Assign(targets=[slot], value=total))
        return out

    def list_set(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`hs[i] = v`: v takes the gradient of slot i, which then starts again from zero
        for the element that was there before."""
        hs, index, value, old = stmt.args  # type: ignore[attr-defined]
        g = self.grad(hs.id)
        if g not in self.defined:
            return []  # nothing read the list after this write
        note = "list item assignment: the value takes the slot's gradient, the slot starts over"
        out = self.header(stmt, None, note)
        slot = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Load())
        if isinstance(value, ast.Name) and self.active(value.id):
            out.extend(self.add_to(value.id, slot))
        cleared = ast.Subscript(value=ast.Name(g, ast.Store()), slice=clone(index), ctx=ast.Store())
        zero = self.helper_call(zeros_like_item, "zeros_like_item", [clone(old)])
        out.append(ast.Assign(targets=[cleared], value=zero))
        return out

    def setitem(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`out[i] = v`: v takes dout[i], which is then cleared; out[i] gets its old value."""
        from .runtime import unbroadcast

        array, index, value, old = stmt.args  # type: ignore[attr-defined]
        origin = stmt.origin  # type: ignore[attr-defined]
        text = self.line_of(stmt, origin)
        self.last_origin = origin
        out: list[ast.stmt] = [
            comment(text),
            comment(
                "write into an array: the written value takes the gradient at that place, "
                "and the overwritten element none"
            ),
        ]
        g = self.grad(array.id)
        outer = next((loop for loop in self.loops if array.id not in loop.variant), None)
        if g not in self.defined and outer is not None:
            # an array from outside the loop: later iterations' reads of it add up
            self.init_before(outer, array.id, g)
            self.defined.add(g)
            self.owned.add(g)
        if g not in self.defined:  # nothing after the write reads the array: no gradient
            if getattr(stmt, "restore", True):
                out.extend(self.put_back(array, index, old))
            return out
        out.extend(self.own(g))
        if isinstance(value, ast.Name) and self.active(value.id):
            # a copy of the place's gradient, taken before the place is cleared
            read = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Load())
            taken = ast.Call(
                func=ast.Attribute(value=read, attr="copy", ctx=ast.Load()), args=[], keywords=[]
            )
            total = ast.Call(
                func=ast.Name(self.bindings.name_for(unbroadcast, "unbroadcast"), ast.Load()),
                args=[taken, clone(value)],
                keywords=[],
            )
            code = self.add_to(value.id, total)
            self.shapes.simplify(code, len(self.loops) + self.branch_depth)
            out.extend(code)
        # The overwritten element no longer reaches the output: its gradient is zero.
        # (A plain write, so that this gradient code can itself be differentiated.)
        place = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Store())
        out.append(ast.Assign(targets=[place], value=ast.Constant(0.0)))
        if getattr(stmt, "restore", True):
            out.extend(self.put_back(array, index, old))
        out.append(comment(text))
        return out

    def put_back(self, array: ast.expr, index: ast.expr, old: ast.expr) -> list[ast.stmt]:
        """Restore what a write overwrote, for the adjoints of the statements before it."""
        restore = ast.Subscript(value=clone(array), slice=clone(index), ctx=ast.Store())
        return [
            comment("put back what the write overwrote, for the statements before it"),
            ast.Assign(targets=[restore], value=clone(old)),
        ]

    def add_at(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`np.add.at(out, i, v)`: each added value takes the gradient at its place (a
        repeated index reads it again); `out`'s gradient passes through unchanged."""
        from .runtime import unbroadcast

        array, index, value, old = stmt.args  # type: ignore[attr-defined]
        origin = stmt.origin  # type: ignore[attr-defined]
        text = self.line_of(stmt, origin)
        self.last_origin = origin
        out: list[ast.stmt] = [
            comment(text),
            comment("np.add.at: each added value receives the gradient at its place"),
        ]
        g = self.grad(array.id)
        if isinstance(value, ast.Name) and self.active(value.id) and g in self.defined:
            read = ast.Subscript(value=ast.Name(g, ast.Load()), slice=clone(index), ctx=ast.Load())
            total = ast.Call(
                func=ast.Name(self.bindings.name_for(unbroadcast, "unbroadcast"), ast.Load()),
                args=[read, clone(value)],
                keywords=[],
            )
            code = self.add_to(value.id, total)
            self.shapes.simplify(code, len(self.loops) + self.branch_depth)
            out.extend(code)
        if getattr(stmt, "restore", True):
            restore = ast.Subscript(value=clone(array), slice=clone(index), ctx=ast.Store())
            out.append(comment("put back what np.add.at changed, for the statements before it"))
            out.append(ast.Assign(targets=[restore], value=clone(old)))
        return out

    def index_value(self, index: ast.expr) -> ast.expr:
        """An index as a value: slices only exist inside [...], so write np.s_[...]."""
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if not any(isinstance(p, ast.Slice) for p in parts):
            return clone(index)
        np_name = self.bindings.name_for(np, "np")
        s_ = ast.Attribute(value=ast.Name(np_name, ast.Load()), attr="s_", ctx=ast.Load())
        return ast.Subscript(value=s_, slice=clone(index), ctx=ast.Load())

    def own(self, g: str) -> list[ast.stmt]:
        """Before changing gradient array `g` in place, make sure no other name shares it."""
        if g in self.owned:
            return []
        self.owned.add(g)
        copy_call = ast.Call(
            func=ast.Attribute(value=ast.Name(g, ast.Load()), attr="copy", ctx=ast.Load()),
            args=[],
            keywords=[],
        )
        return [_assign(g, copy_call)]

    def unpack(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`a, b = x`: dx is the stack of da, db (zeros for unused rows)."""
        source = stmt.args[0]  # type: ignore[attr-defined]
        if not isinstance(source, ast.Name) or not self.active(source.id):
            return []
        rows = []
        targets = stmt.targets[0].elts  # type: ignore[attr-defined]
        for i, t in enumerate(targets):
            g = self.gradname.get(t.id)
            if g is not None and g in self.defined:
                rows.append(ast.Name(g, ast.Load()))
            else:
                row = ast.Subscript(
                    value=ast.Name(source.id, ast.Load()), slice=ast.Constant(i), ctx=ast.Load()
                )
                rows.append(self.template_call("zeros_like", np.zeros_like, [row]))
        from .runtime import unpack_grad

        helper = self.bindings.name_for(unpack_grad, "unpack_grad")
        value = ast.Call(
            func=ast.Name(helper, ast.Load()),
            args=[ast.List(elts=rows, ctx=ast.Load()), ast.Name(source.id, ast.Load())],
            keywords=[],
        )
        return self.add_to(source.id, value)

    def helper_call(self, helper: Any, name: str, args: list[ast.expr]) -> ast.expr:
        """A call of a runtime helper, under the name generated code reaches it by."""
        func = ast.Name(self.bindings.name_for(helper, name), ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    def template_call(self, name: str, obj: Any, args: list[ast.expr]) -> ast.expr:
        """`np.<name>(args)` spelled with whatever name numpy has in generated code."""
        np_name = self.bindings.name_for(np, "np")
        func = ast.Attribute(value=ast.Name(np_name, ast.Load()), attr=name, ctx=ast.Load())
        return ast.Call(func=func, args=args, keywords=[])


# -- template helpers ----------------------------------------------------------


_walk = walk_statements


@dataclass
class LoopInfo:
    variant: set[str]  # names assigned anywhere in the loop
    body: list[ast.stmt] = field(default_factory=list)  # the loop's own statement list
    phis: list[str] = field(default_factory=list)  # its active loop-carried names
    phi_sources: dict[str, str] = field(default_factory=dict)  # phi -> value copied into it
    needs_init: list[str] = field(default_factory=list)  # outside names accumulated inside
    rebound: set[str] = field(default_factory=set)  # names the reversed header assigns


def is_list_pop(stmt: ast.stmt, lists: set[str]) -> bool:
    """`t = hs.pop()` on a list made in the function."""
    prim = getattr(stmt, "prim", None)
    args = getattr(stmt, "args", None)
    return (
        isinstance(prim, Method)
        and prim.name == "pop"
        and isinstance(stmt, ast.Assign)
        and bool(args)
        and isinstance(args[0], ast.Name)
        and args[0].id in lists
    )


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return MISSING


def _assigned(stmt: ast.stmt) -> set[str]:
    """Names a statement binds (a write into an array rebinds nothing)."""
    if getattr(stmt, "prim", None) in (SETITEM, ADD_AT, LIST_APPEND):
        return set()
    if isinstance(stmt, ast.Assign):
        return {n for t in stmt.targets for n in names_in(t)}
    if isinstance(stmt, ast.For):
        return set(names_in(stmt.target))
    return set()


def _maybe_unbound(body: list[ast.stmt]) -> set[str]:
    """Names that may not exist on every path: assigned in one branch of an `if` only
    (a name that both branches assign is bound after the `if`), or only by the
    end-of-iteration copy of a loop (no value before the loop)."""
    defs: dict[str, list[bool]] = {}
    definite: set[str] = set()

    def block(stmts: list[ast.stmt], branch: bool) -> set[str]:
        """Visit a statement list; return the names it surely assigns when it runs."""
        sure: set[str] = set()
        for stmt in stmts:
            for name in _assigned(stmt):
                back = getattr(stmt, "phi_back", False)
                defs.setdefault(name, []).append(back)
                if not back:
                    sure.add(name)
            if isinstance(stmt, ast.If):
                sure |= block(stmt.body, True) & block(stmt.orelse, True)
            elif isinstance(stmt, (ast.For, ast.While)):
                block(stmt.body, False)
        if not branch:  # (a branch's own names exist only when it ran)
            definite.update(sure)
        return sure

    block(body, False)
    return {n for n, backs in defs.items() if n not in definite or all(backs)}


def _loads(code: list[ast.stmt] | list[ast.AST]) -> set[str]:
    return {
        n.id
        for stmt in code
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _is_exit_check(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and bool(stmt.body) and isinstance(stmt.body[0], ast.Break)


def _assign(name: str, value: ast.expr) -> ast.stmt:
    return ast.Assign(targets=[ast.Name(name, ast.Store())], value=value)


def _stored(stmt: ast.stmt) -> set[str]:
    """Names a (template) statement assigns, looking only where assignments can be."""
    if isinstance(stmt, ast.Assign):
        return {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.If):
        return {n for s in stmt.body + stmt.orelse for n in _stored(s)}
    return set()


def _free_names(body: list[ast.stmt], bound: set[str]) -> set[str]:
    loaded = {
        n.id
        for s in body
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loaded - bound


def _resolve_template_name(rule: Rule, name: str) -> Any:
    if name in rule.globals:
        return rule.globals[name]
    builtins_ns = rule.globals.get("__builtins__")
    if isinstance(builtins_ns, dict) and name in builtins_ns:
        return builtins_ns[name]
    if isinstance(builtins_ns, types.ModuleType) and hasattr(builtins_ns, name):
        return getattr(builtins_ns, name)
    raise NameError(f"derivative template for {rule.name} uses an unknown name {name!r}")


def _literal(value: Any, rule: Rule, stmt: ast.stmt, rev: Reverser) -> ast.expr:
    """A template parameter's default value as an AST expression."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return ast.Constant(value)
    if isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value):
        return ast.Tuple(elts=[ast.Constant(v) for v in value], ctx=ast.Load())
    raise rev.p.error(
        stmt.site,  # type: ignore[attr-defined]
        f"internal: the derivative rule of {rule.name} has a default value that cannot be "
        "written into code",
    )


def _static_value(expr: ast.expr) -> Any:
    """The value of a literal expression (constants, tuples, negation), else MISSING."""
    try:
        return ast.literal_eval(expr)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING


def _resolve_static_ifs(body: list[ast.stmt], subst: dict[str, ast.expr]) -> list[ast.stmt]:
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
                out.extend(_resolve_static_ifs(stmt.body if chosen else stmt.orelse, subst))
                continue
            stmt.body = _resolve_static_ifs(stmt.body, subst)
            stmt.orelse = _resolve_static_ifs(stmt.orelse, subst)
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


def _prune(body: list[ast.stmt], drop: set[str], outputs: dict[str, str]) -> list[ast.stmt]:
    """Remove assignments of unneeded outputs, then template temps nobody reads."""

    def strip(stmts: list[ast.stmt]) -> list[ast.stmt]:
        kept = []
        for s in stmts:
            if isinstance(s, ast.If):
                s.body, s.orelse = strip(s.body), strip(s.orelse)
                if not s.body and not s.orelse:
                    continue
                if not s.body:
                    s.body = [ast.Pass()]
            elif isinstance(s, ast.Assign) and _stored(s) and _stored(s) <= drop:
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
        dead = {
            name
            for s in _walk(body)
            if isinstance(s, ast.Assign)
            for name in _stored(s)
            if name not in used and name not in outputs
        }
        if not dead:
            return body
        body = strip_names(body, dead)


def strip_names(body: list[ast.stmt], dead: set[str]) -> list[ast.stmt]:
    kept = []
    for s in body:
        if isinstance(s, ast.If):
            s.body, s.orelse = strip_names(s.body, dead), strip_names(s.orelse, dead)
            if not s.body and not s.orelse:
                continue
            if not s.body:
                s.body = [ast.Pass()]
        elif isinstance(s, ast.Assign) and _stored(s) <= dead:
            continue
        kept.append(s)
    return kept


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


def _substitute(node: Any, subst: dict[str, ast.expr], temps: dict[str, str]) -> Any:
    return _Substituter(subst, temps).visit(clone(node))


def _no_rule_message(prim: Any) -> str:
    name = display_name(prim)
    if name.startswith("ndarray."):
        return (
            f"the array method .{name[len('ndarray.') :]}() has no derivative rule; use a "
            "NumPy function that has one, or register a rule with chainrule.adjoint"
        )
    if isinstance(prim, types.FunctionType):
        return (
            f"{name} is library code without a derivative rule (chainrule inlines only "
            "your own Python functions); register a rule for it with chainrule.adjoint, "
            "or copy it into your module"
        )
    return (
        f"{name} has no derivative rule; use a NumPy function that has one, or register a "
        "rule with chainrule.adjoint (see docs/rules.md)"
    )


def reverse(
    fn: Function,
    wrt: list[str],
    scalar_params: frozenset[str] = frozenset(),
    ranks: dict[str, int] | None = None,
) -> Adjoint:
    return Reverser(fn, wrt, scalar_params, ranks).run()


# -- assembling the generated function -------------------------------------------

MODES = ("grad", "value_and_grad", "vjp")


def function_name(mode: str, primal_name: str) -> str:
    base = primal_name if primal_name.isidentifier() else "lambda"
    return f"{mode}_{base}"


def _gradient_of(param: str, adj: Adjoint, by_leaf: dict[str, str]) -> ast.expr:
    """The gradient of one argument: a name, or a container built from its leaves'."""
    from .calls import Tree

    def build(value: Any) -> ast.expr:
        if isinstance(value, Tree):
            parts = [(k, build(v)) for k, v in value.items]
            if value.kind == "dict":
                return ast.Dict(
                    keys=[ast.Constant(k) for k, _ in parts], values=[v for _, v in parts]
                )
            elts = [v for _, v in parts]
            kind = ast.List if value.kind == "list" else ast.Tuple
            return kind(elts=elts, ctx=ast.Load())
        return ast.Name(by_leaf[value.id], ast.Load())

    tree = getattr(adj.fn, "param_trees", {}).get(param)
    return build(tree) if tree is not None else ast.Name(by_leaf[param], ast.Load())


def emit_function(
    adj: Adjoint, mode: str, argnums_is_tuple: bool, params: list[str] | None = None
) -> ast.FunctionDef:
    """Wrap primal and adjoint statements into the function for `mode`.

    `params` are the arguments we differentiate; a container argument's
    leaves are in `adj.wrt`, and its gradient is assembled from theirs.
    """
    fn = adj.fn
    parsed = fn.parsed
    result = clone(fn.result)
    name = function_name(mode, parsed.func.__name__)
    params = params if params is not None else list(adj.wrt)
    wrt_text = ", ".join(params)
    by_leaf = dict(zip(adj.wrt, adj.grads))
    returns = [_gradient_of(p, adj, by_leaf) for p in params]
    grads_value: ast.expr = (
        ast.Tuple(elts=returns, ctx=ast.Load()) if argnums_is_tuple or mode == "vjp" else returns[0]
    )
    doc = {
        "grad": f"Gradient of {parsed.func.__name__} with respect to {wrt_text}.",
        "value_and_grad": f"Value of {parsed.func.__name__} and its gradient with respect "
        f"to {wrt_text}.",
        "vjp": f"Value of {parsed.func.__name__} and its vector-Jacobian product function.",
    }[mode]
    body: list[ast.stmt] = [ast.Expr(ast.Constant(doc + "\n\n    Generated by chainrule.\n    "))]
    if adj.primal:
        body.append(comment("forward pass"))
        for stack in adj.stacks:  # values loops overwrite, saved for the backward pass
            body.append(
                ast.Assign(
                    targets=[ast.Name(stack, ast.Store())],
                    value=ast.List(elts=[], ctx=ast.Load()),
                )
            )
        body.extend(adj.primal)
    np_name = adj.bindings.name_for(np, "np")
    del np_name  # reserve the name before the seed helper is bound
    replays = bool(adj.stacks) or any(  # the backward pass changes these
        getattr(st, "prim", None) in (SETITEM, ADD_AT, LIST_APPEND, LIST_SET)
        or is_list_pop(st, getattr(fn, "lists", set()))
        for st in walk_statements(adj.primal)
    )
    if mode == "vjp":
        inner = []
        if replays:
            # The adjoint of loops and array writes restores the values it saved, so
            # each call of the backward function replays the forward pass it needs:
            # then it can be called any number of times.
            inner.append(comment("forward pass again: the backward pass uses up what it saves"))
            inner.extend(clone(body[2:]))
        inner.append(comment("backward pass: the vector-Jacobian product, last statement first"))
        inner.extend(adj.backward)
        inner.append(ast.Return(value=grads_value))
        backward_name = fn.names.fresh("backward")
        args = ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=adj.seed_name)],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        )
        inner_def = _funcdef(backward_name, args, inner)
        body.append(inner_def)
        body.append(
            ast.Return(
                value=ast.Tuple(elts=[result, ast.Name(backward_name, ast.Load())], ctx=ast.Load())
            )
        )
    else:
        from .runtime import seed_gradient

        body.append(
            comment(
                "backward pass: start from dL/dL = 1 and apply the chain rule "
                "backwards, last statement first"
            )
        )
        if isinstance(result, ast.Name) and result.id in adj.scalars:
            seed_value: ast.expr = ast.Constant(1.0)  # a scalar by construction: no check
        else:
            seed = adj.bindings.name_for(seed_gradient, "seed_gradient")
            seed_value = ast.Call(func=ast.Name(seed, ast.Load()), args=[result], keywords=[])
        value_expr: ast.expr = clone(fn.result)
        if mode == "value_and_grad" and replays and isinstance(result, ast.Name):
            # the backward pass restores loop values: keep the output before it runs
            kept = fn.names.fresh("value")
            body.append(_assign(kept, clone(result)))
            value_expr = ast.Name(kept, ast.Load())
        aux = getattr(fn, "aux", None)
        if aux is not None:  # has_aux: handed back untouched, as it was before the backward pass
            aux_name = fn.names.fresh("aux")
            body.append(_assign(aux_name, clone(aux)))
            aux = ast.Name(aux_name, ast.Load())
        body.append(_assign(adj.seed_name, seed_value))
        body.extend(adj.backward)
        value: ast.expr = grads_value
        if mode == "value_and_grad":
            if aux is not None:
                value_expr = ast.Tuple(elts=[value_expr, aux], ctx=ast.Load())
            value = ast.Tuple(elts=[value_expr, grads_value], ctx=ast.Load())
        elif aux is not None:
            value = ast.Tuple(elts=[grads_value, aux], ctx=ast.Load())
        body.append(ast.Return(value=value))
    args = clone(parsed.node.args)
    for a in args.posonlyargs + args.args:
        a.annotation = None
    return _funcdef(name, args, body)


def _funcdef(name: str, args: ast.arguments, body: list[ast.stmt]) -> ast.FunctionDef:
    node = ast.FunctionDef(
        name=name, args=args, body=body, decorator_list=[], returns=None, type_comment=None
    )
    if hasattr(ast.FunctionDef, "type_params"):
        node.type_params = []
    return node
