"""The reverse-mode interpreter: the adjoint of each statement, last statement first.

For every active statement `z = prim(x, y)` the primitive's template is
instantiated (templates.py) with `z`, `dz`, `x`, `y` bound to the actual
names, keeping only the gradients of active inputs, and each `dx = ...` is
routed into x's gradient variable (gradients.py).  Statements that change a
list or an array in place have hand-written adjoints (writes.py).  The kind
of a statement picks its adjoint from one table, `ADJOINT_OF_KIND`.

User `if` statements become `if` statements with the same test, and a
gradient started in only one branch is set to zeros in the other.  A loop
becomes a backward loop over its iterations: `for t in reversed(range(...))`
for plain range loops without an early exit, otherwise `for _ in
range(iterations)` with a counter added to the primal loop.  The values a
statement list's adjoint reads that the loop overwrites are pushed at the end
of the list in the primal (`stack.append((a, b))`) and popped at the start of
its adjoint.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import ir
from ..activity import Activity, rule_for
from ..aliasing import IN_PLACE_METHODS
from ..derivatives import DerivativeContext
from ..flow import bound_on_entry
from ..ir import (
    assigned_by,
    clone,
    comment,
    derived_from,
    facts,
    facts_of,
    name_of,
    names_in,
    walk_statements,
)
from ..rules import Rule, display_name, rule_example
from ..shapes import ShapeClasses
from ..templates import (
    Bindings,
    name_temporaries,
    prune_outputs,
    resolve_static_ifs,
    substitute,
)
from ..transformation import StatementKind, Target, assign, statement_kind
from .gradients import Gradients, LoopInfo
from .writes import LIST_GET_NOTE, UNPACK_NOTE, InPlaceAdjoints


@dataclass
class Adjoint:
    """The primal and backward statements of a function: what `emit_function` wraps."""

    fn: ir.Function
    wrt: list[str]
    activity: Activity
    primal: list[ast.stmt]
    backward: list[ast.stmt]
    seed_name: str  # gradient variable of the result (assigned by the seed)
    grads: list[str]  # gradient variable returned for each wrt parameter
    bindings: Bindings  # the objects the generated code reaches by name
    gradname: dict[str, str]  # primal name -> gradient variable
    stacks: list[str] = field(default_factory=list)  # the lists that save loop values
    scalar_params: frozenset[str] = frozenset()  # parameters specialised as scalars
    scalars: set[str] = field(default_factory=set)  # every name that is a scalar
    shapes: ShapeClasses | None = None  # the shape facts the backward pass was written with


StatementAdjoint = Callable[["Reverser", ast.stmt], list[ast.stmt]]


class Reverser:
    """Writes the backward pass of one normalized function (see the module doc)."""

    def __init__(self, fn: ir.Function, target: Target) -> None:
        self.fn = fn
        self.ctx = DerivativeContext(fn, target)
        self.grads = Gradients(self.ctx)
        self.writes = InPlaceAdjoints(self.ctx, self.grads)
        self.stacks: list[str] = []  # one list per statement list that saves values
        self.bound_at = bound_on_entry(fn.body, fn.params)  # compound statement -> bound names
        self.assignments: dict[str, int] = {}  # name -> how many statements bind it
        for s in walk_statements(fn.body):
            for name in assigned_by(s):
                self.assignments[name] = self.assignments.get(name, 0) + 1

    def run(self) -> Adjoint:
        ctx, grads = self.ctx, self.grads
        result = self.fn.result
        seed = ctx.dname(result.id) if isinstance(result, ast.Name) else ctx.names.fresh("dout")
        if isinstance(result, ast.Name) and ctx.active(result.id):
            grads.defined.add(seed)
        backward = self.block(self.fn.body) if seed in grads.defined else []
        returned = []
        for param in ctx.wrt:
            g = ctx.dname(param)
            if g not in grads.defined:
                backward.append(comment(f"{param} does not affect the output: its gradient is 0"))
                backward.append(grads.zeros_for(g, param))
                grads.defined.add(g)
            returned.append(g)
        return Adjoint(
            self.fn,
            ctx.wrt,
            ctx.activity,
            self.fn.body,
            backward,
            seed,
            returned,
            ctx.bindings,
            ctx.dnames,
            self.stacks,
            ctx.scalar_params,
            ctx.scalars,
            ctx.shapes,
        )

    # -- statement lists -----------------------------------------------------------------
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
                if facts_of(stmt).count_init is not None:
                    counted.append(stmt)
            elif self.ctx.is_active_stmt(stmt):
                code = self.statement(stmt)
                reads |= _loads(code)
            elif _restores(stmt):
                code = derived_from(stmt, self.writes.restore_only(stmt))
                reads |= _loads(code)
            else:
                continue
            out.extend(code)
        for loop in counted:  # `n = 0` goes right before the primal loop it counts
            count_init = facts_of(loop).count_init
            assert count_init is not None
            body.insert(body.index(loop), count_init)
        if self.grads.loops:
            info = self.grads.loops[-1]
            if body is info.body:
                # the gradient of a loop-carried value is reset to zeros shaped like the
                # value at the start of the iteration, which may differ from its last
                reads |= {
                    p
                    for p in info.phis
                    if self.ctx.dname(p) not in self.grads.defined
                    and not self.ctx.shapes.is_scalar(p)
                    and p not in self.grads.unbound_phis
                }
            saved = sorted(
                n
                for n in reads
                if n in info.variant and n not in info.rebound and n not in info.invariant
            )
            if saved:
                stack = self.ctx.names.fresh("stack")
                self.stacks.append(stack)
                out = [_restore(saved, stack), *out]
                _save_at_end(body, saved, stack)
        return out

    def loop(self, stmt: ast.For | ast.While) -> tuple[list[ast.stmt], set[str]]:
        """The adjoint of a loop: its body's adjoint, run for the iterations in reverse."""
        ctx, grads = self.ctx, self.grads
        if not any(ctx.is_active_stmt(s) or _restores(s) for s in walk_statements(stmt.body)):
            return [], set()
        variant = {t for s in walk_statements([stmt]) for t in assigned_by(s)}
        info = LoopInfo(variant=variant, body=stmt.body)
        info.changed = changed_in_place(stmt)
        # what this loop or a loop around it changes (a value invariant in the inner loop
        # only would need saving by the outer one, where it may not exist yet), by
        # assignment or in place (`np.stack(hs)` in an inner loop, while the outer loop
        # appends to hs or writes hs[0], is no invariant)
        moving = variant.union(
            info.changed, *((loop.variant - loop.invariant) | loop.changed for loop in grads.loops)
        )
        info.invariant = loop_invariants(stmt, moving, self.assignments)
        reversed_range = (
            isinstance(stmt, ast.For)
            and facts_of(stmt).range_loop
            and not any(_is_exit_check(s) for s in stmt.body)
            and isinstance(stmt.target, ast.Name)
            # a header reading a list would see it as the backward pass left it, which
            # may differ (appends nobody differentiates are not undone): count instead
            and not any(n in ctx.list_names for n in names_in(stmt.iter))
        )
        if reversed_range:
            assert isinstance(stmt, ast.For)
            info.rebound.add(name_of(stmt.target))
        phis = [
            name_of(s.targets[0])
            for s in stmt.body
            if facts_of(s).phi_back
            and isinstance(s, ast.Assign)
            and ctx.active(name_of(s.targets[0]))
        ]
        info.phis = phis
        info.phi_sources = {
            name_of(s.targets[0]): s.value.id
            for s in stmt.body
            if facts_of(s).phi_back and isinstance(s, ast.Assign) and isinstance(s.value, ast.Name)
        }
        init: list[ast.stmt] = []
        for p in phis:  # the gradient of the loop's final value (zero if unused after it)
            g = ctx.dname(p)
            if g not in grads.defined:  # (a loop-carried name is bound after its loop)
                init.append(grads.zeros_for(g, p, bound=True))
                grads.defined.add(g)
        for s in walk_statements(stmt.body):  # in-place updates need unshared arrays
            if statement_kind(s, ctx.list_names) is StatementKind.SETITEM and ctx.is_active_stmt(s):
                g = ctx.dname(name_of(facts_of(s).args[0]))
                if g in grads.defined:
                    init.extend(grads.own(g))
        before = set(grads.defined)
        saved_origin = ctx.last_origin
        ctx.last_origin = None
        owned_entry = set(grads.owned)
        grads.loops.append(info)
        body = self.block(stmt.body)
        grads.loops.pop()
        ctx.last_origin = saved_origin
        for p in phis:  # each reversed iteration hands the next one a gradient
            g = ctx.dname(p)
            if g in grads.defined:
                continue
            if p in grads.unbound_phis:
                # first assigned in the loop: the value the next (earlier) iteration hands
                # on comes from the same statement, so its zero is shaped like this one's
                source = ctx.dname(info.phi_sources[p])
                zeros = ctx.numpy_call("zeros_like", [ast.Name(source, ast.Load())])
                body.append(assign(g, zeros))
                grads.owned.add(g)
            else:
                body.append(grads.zeros_for(g, p, bound=True))
        entry = self.bound_at.get(id(stmt), frozenset())
        for name in info.needs_init:
            init.append(grads.zeros_for(ctx.dname(name), name, bound=name in entry))
        grads.defined = before | {ctx.dname(n) for n in info.needs_init}
        # the loop may run no iteration: a gradient the body made private (a sum) may
        # still be the array it was on entry, which another name shares
        grads.owned &= owned_entry | {ctx.dname(n) for n in info.needs_init}
        origin_text = ctx.line_of(stmt, facts_of(stmt).origin or stmt)
        header = [comment(f"backward of the loop `{origin_text}`, last iteration first")]
        if reversed_range:
            assert isinstance(stmt, ast.For)
            backward = ast.For(
                target=ast.Name(name_of(stmt.target), ast.Store()),
                iter=ast.Call(
                    func=ast.Name("reversed", ast.Load()), args=[clone(stmt.iter)], keywords=[]
                ),
                body=body or [ast.Pass()],
                orelse=[],
            )
        else:
            count = self.count_iterations(stmt)
            backward = ast.For(
                target=ast.Name(ctx.names.fresh("_"), ast.Store()),
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
            assert isinstance(stmt, ast.For)
            reads |= set(names_in(stmt.iter))
        return code, reads - info.rebound

    def count_iterations(self, stmt: ast.For | ast.While) -> str:
        """Add `n = 0` before the primal loop and `n = n + 1` in it; return n."""
        count = self.ctx.names.fresh("iterations")
        increment = ast.BinOp(left=ast.Name(count, ast.Load()), op=ast.Add(), right=ast.Constant(1))
        stmt.body.insert(0, assign(count, increment))
        facts(stmt).count_init = assign(count, ast.Constant(0))
        for loop in self.grads.loops:  # the enclosing loops overwrite the count too
            loop.variant.add(count)
        return count

    def branch(self, stmt: ast.If) -> list[ast.stmt]:
        """The adjoint of an `if`: an `if` with the same test, each branch's adjoint."""
        grads = self.grads
        grads.branch_depth += 1
        try:
            return self._branch(stmt)
        finally:
            grads.branch_depth -= 1

    def _branch(self, stmt: ast.If) -> list[ast.stmt]:
        ctx, grads = self.ctx, self.grads
        before = set(grads.defined)
        owned_before = set(grads.owned)
        saved_origin = ctx.last_origin
        body = self.block(stmt.body)
        after_body, owned_body = grads.defined, grads.owned
        grads.defined, grads.owned = set(before), set(owned_before)
        ctx.last_origin = saved_origin
        orelse = self.block(stmt.orelse)
        # (a copy: zeros_for below marks what it makes in grads.owned)
        after_else, owned_else = grads.defined, set(grads.owned)
        ctx.last_origin = None
        # A gradient that only one branch starts must exist after both, if its
        # value was defined before the `if` (gradients of names the branches
        # define themselves are finished inside the branch).
        primal_of = ctx.primal_of
        inside = {t for s in walk_statements([stmt]) for t in assigned_by(s)}
        # accumulators zeroed before a loop around this `if` exist on both paths
        # (one zeroed before a loop inside a branch exists in that branch only)
        enclosing = {id(loop) for loop in grads.loops}
        outside = {g for g, loop in grads.loop_inited.items() if id(loop) in enclosing}
        entry = self.bound_at.get(id(stmt), frozenset())
        for g in sorted(after_body - after_else - outside):
            if primal_of[g] not in inside:
                orelse.append(grads.zeros_for(g, primal_of[g], bound=primal_of[g] in entry))
                owned_else.add(g)
        for g in sorted(after_else - after_body - outside):
            if primal_of[g] not in inside:
                body.append(grads.zeros_for(g, primal_of[g], bound=primal_of[g] in entry))
                owned_body.add(g)
        # a gradient is private after the `if` only if it is on both paths (zeros made in
        # one branch, `expand_to(...)`, a broadcast view, in the other is not)
        grads.owned = owned_body & owned_else
        after_body |= after_else & outside
        after_else |= after_body & outside
        grads.defined = (after_body | after_else) - {
            ctx.dnames[n] for n in inside if n in ctx.dnames
        }
        if not body and not orelse:
            return []
        return [ast.If(test=clone(stmt.test), body=body or [ast.Pass()], orelse=orelse)]

    # -- one statement ---------------------------------------------------------------------
    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        """The adjoint of one active statement, chosen by its kind."""
        kind = statement_kind(stmt, self.ctx.list_names)
        return derived_from(stmt, ADJOINT_OF_KIND[kind](self, stmt))

    def primitive(self, stmt: ast.stmt) -> list[ast.stmt]:
        """`z = prim(x, y)`: the primitive's adjoint template, instantiated."""
        ctx, grads = self.ctx, self.grads
        assert isinstance(stmt, ast.Assign)
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):  # pragma: no cover - normalize guarantees it
            raise ctx.p.error(stmt, "internal: unexpected assignment target")
        if statement_kind(stmt, ctx.list_names) is StatementKind.NONDIFFERENTIABLE:
            return []
        rule = rule_for(stmt)
        if rule is None:
            raise ctx.scope(stmt).error(facts_of(stmt).site, _no_rule_message(facts_of(stmt).prim))
        if ctx.dname(target.id) not in grads.defined:
            # nothing after this statement, on this path, used its value (a name
            # that another branch assigns too): it passes no gradient back
            return []
        out = ctx.header(stmt, rule)
        code = self.instantiate(rule, stmt, target.id)
        grads.simplify(code)
        out.extend(code)
        if facts_of(stmt).phi_back:
            # `h_1 = h_2` ends an iteration: dh_1 has been handed on, and the uses of
            # h_1 earlier in the iteration start its gradient afresh
            grads.defined.discard(ctx.dname(target.id))
        return out

    def instantiate(self, rule: Rule, stmt: ast.stmt, target: str) -> list[ast.stmt]:
        """The rule's template at `stmt`, its gradient outputs routed (templates.py)."""
        ctx = self.ctx
        subst = ctx.bound_arguments(rule, stmt, target, "derivative")
        subst["d" + rule.result] = ast.Name(ctx.dname(target), ast.Load())
        outputs = {"d" + p: p for p in rule.differentiable}
        needed = {
            "d" + p
            for p in rule.differentiable
            if any(ctx.active(n) for n in names_in(subst.get(p)))
        }
        varied = ctx.activity.varied
        ctx.refuse_underived(rule, stmt, subst, lambda e: any(n in varied for n in names_in(e)))
        body = resolve_static_ifs(clone(rule.body), subst)
        body = prune_outputs(body, set(outputs) - needed, set(outputs))
        bound = set(subst) | set(outputs)
        temps = name_temporaries(rule, body, bound, set(outputs), ctx.names, ctx.bindings, {})
        out: list[ast.stmt] = []
        for tstmt in body:
            out.extend(self.route(tstmt, outputs, subst, temps))
        return out

    def route(self, tstmt: ast.stmt, outputs, subst, temps) -> list[ast.stmt]:
        """Substitute names in one template statement; accumulate gradient outputs."""
        grads = self.grads
        if isinstance(tstmt, ast.If):  # a template test decided at run time
            before = set(grads.defined)
            body = [s for t in tstmt.body for s in self.route(t, outputs, subst, temps)]
            after_body, grads.defined = grads.defined, set(before)
            orelse = [s for t in tstmt.orelse for s in self.route(t, outputs, subst, temps)]
            after_else = grads.defined
            primal_of = self.ctx.primal_of
            for g in sorted(after_body - after_else):
                orelse.append(grads.zeros_for(g, primal_of[g]))
            for g in sorted(after_else - after_body):
                body.append(grads.zeros_for(g, primal_of[g]))
            grads.defined = after_body | after_else
            test = substitute(tstmt.test, subst, temps)
            return [ast.If(test=test, body=body or [ast.Pass()], orelse=orelse)]
        if (
            isinstance(tstmt, ast.Assign)
            and len(tstmt.targets) == 1
            and isinstance(tstmt.targets[0], ast.Name)
            and tstmt.targets[0].id in outputs
        ):
            param = outputs[tstmt.targets[0].id]
            value = substitute(tstmt.value, subst, temps)
            return grads.accumulate(subst[param], value)
        return [substitute(tstmt, subst, temps)]

    # -- the adjoints of the other kinds ---------------------------------------------------
    def list_get(self, stmt: ast.stmt) -> list[ast.stmt]:
        return self.ctx.header(stmt, None, LIST_GET_NOTE) + self.writes.list_get(stmt)

    def unpack(self, stmt: ast.stmt) -> list[ast.stmt]:
        return self.ctx.header(stmt, None, UNPACK_NOTE) + self.writes.unpack(stmt)

    def method(self, stmt: ast.stmt) -> list[ast.stmt]:
        prim = facts_of(stmt).prim
        assert isinstance(prim, ir.Method)
        raise self.ctx.method_error(stmt, prim)

    def inert(self, stmt: ast.stmt) -> list[ast.stmt]:  # pragma: no cover - never active
        return []


ADJOINT_OF_KIND: dict[StatementKind, StatementAdjoint] = {
    StatementKind.PRIMITIVE: Reverser.primitive,
    StatementKind.NONDIFFERENTIABLE: Reverser.primitive,
    StatementKind.METHOD: Reverser.method,
    StatementKind.INERT: Reverser.inert,
    StatementKind.LIST_APPEND: lambda r, s: r.writes.list_append(s),
    StatementKind.LIST_POP: lambda r, s: r.writes.list_pop(s),
    StatementKind.LIST_GET: Reverser.list_get,
    StatementKind.LIST_SET: lambda r, s: r.writes.list_set(s),
    StatementKind.SETITEM: lambda r, s: r.writes.setitem(s),
    StatementKind.ADD_AT: lambda r, s: r.writes.add_at(s),
    StatementKind.UNPACK: Reverser.unpack,
}


# list methods, np.add.at (`.at`), and the array methods aliasing knows to change in place
_LIST_METHODS = {"append", "pop", "insert", "extend", "remove", "clear"}
_IN_PLACE_METHODS = IN_PLACE_METHODS | _LIST_METHODS | {"at"}


def changed_in_place(loop: ast.For | ast.While) -> set[str]:
    """Names whose array or list a loop changes without rebinding them: item writes
    (`out[i] = v`, `hs[0] = h`), `hs.append(h)`, `hs.pop()`, `np.add.at(out, ...)`,
    `a.sort()`."""
    names: set[str] = set()
    for node in ast.walk(loop):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name):
                names.add(base.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _IN_PLACE_METHODS
        ):
            owner = node.args[0] if node.func.attr == "at" and node.args else node.func.value
            if isinstance(owner, ast.Name):
                names.add(owner.id)
    return names


def loop_invariants(
    loop: ast.For | ast.While, moving: set[str], assignments: dict[str, int]
) -> set[str]:
    """Names a loop gives the same value in every iteration (`t1 = -k` in a loop that
    never changes k).  The value left after the loop is the one every iteration
    had, so the backward pass reads it there instead of saving it per iteration.

    Only operations with a derivative rule, at the top of the body (run in
    every iteration), on names neither the loop nor a loop around it changes
    (`moving`), into a name bound nowhere else in the function; and only in
    loops that neither jump nor change anything in place (an array a name holds
    may change under it).
    """
    inner = list(walk_statements(loop.body))
    for s in inner:
        if isinstance(s, (ast.Break, ast.Continue, ast.Return)) or _is_exit_check(s):
            return set()
        kind = statement_kind(s)
        if kind is StatementKind.INERT:
            if isinstance(s, (ast.If, ast.For, ast.While)) or ir.is_comment(s):
                continue
            if isinstance(s, ast.Assign) and not any(
                isinstance(n, ast.Call) for n in ast.walk(s.value)
            ):
                continue
            return set()
        if kind not in (StatementKind.PRIMITIVE, StatementKind.NONDIFFERENTIABLE):
            return set()
    invariant: set[str] = set()
    for s in loop.body:
        if not (
            isinstance(s, ast.Assign)
            and len(s.targets) == 1
            and isinstance(s.targets[0], ast.Name)
            and statement_kind(s) is StatementKind.PRIMITIVE
            and not facts_of(s).phi_back
        ):
            continue
        name = s.targets[0].id
        if assignments.get(name) == 1 and not (set(names_in(s.value)) & (moving - invariant)):
            invariant.add(name)  # (on values the loop does not change, or invariant before it)
    return invariant


def _restores(stmt: ast.stmt) -> bool:
    """A write with no derivative (into an array no gradient reaches) that must still
    put back what it overwrote: an earlier statement's adjoint reads the array
    (`t = np.outer(out, x)`, then `out[0] = 0.5`: dx reads out as it was)."""
    record = facts_of(stmt)
    return record.prim in (ir.SETITEM, ir.ADD_AT) and bool(record.restore)


def _save_at_end(body: list[ast.stmt], names: list[str], stack: str) -> None:
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
    append = ast.Attribute(value=ast.Name(stack, ast.Load()), attr="append", ctx=ast.Load())
    push = ast.Expr(value=ast.Call(func=append, args=[value], keywords=[]))
    at = len(body)
    for i, stmt in enumerate(body):
        if facts_of(stmt).phi_back or _is_exit_check(stmt):
            at = i
            break
    body.insert(at, push)


def _restore(names: list[str], stack: str) -> ast.stmt:
    """`a, b = stack.pop()`: the values saved at the end of the list, back."""
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


def _loads(code: list[ast.stmt] | list[ast.AST]) -> set[str]:
    return {
        n.id
        for stmt in code
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _is_exit_check(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and bool(stmt.body) and isinstance(stmt.body[0], ast.Break)


def _no_rule_message(prim: object) -> str:
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
            "or copy it into your module" + rule_example(prim, "adjoint")
        )
    return (
        f"{name} has no derivative rule; use a function that has one, or register a "
        "rule with chainrule.adjoint" + rule_example(prim, "adjoint")
    )
