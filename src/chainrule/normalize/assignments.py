"""Normalizing assignments: one SSA name per assignment.

`x = e` gives x a new SSA name (`x_1`, `x_2`, ... after the first) bound to
the single operation e flattens to; `a, b = e` unpacks a container known at
compile time item by item, a display right-hand side atom by atom (so
`a, b = b, a` swaps), and an array with the UNPACK primitive; `x += e` is
`x = x + e`, unless x is an array element, which is an in-place write
(writes.py).
"""

from __future__ import annotations

import ast

from ..ir import (
    IDENTITY,
    SETITEM,
    UNPACK,
    Evaluated,
    Tree,
    TreeValue,
    annotate,
    clone,
    facts,
)
from ..parse import lambda_to_def
from .advice import base_text, op_text
from .core import Normalizer, is_atom, is_distribution


class AssignmentNormalizer:
    """Normalizes assignments to names, tuples and subscripts (see the module doc)."""

    def __init__(self, n: Normalizer) -> None:
        self.n = n

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(value, TreeValue) and isinstance(target, ast.Name):
            self.n.containers.bind_tree(target.id, value.tree)
            return
        if isinstance(target, ast.Name):
            self.assign_name(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.assign_tuple(target, value)
        elif isinstance(target, ast.Subscript):
            self.n.writes.assign_subscript(target, value)
        elif isinstance(target, ast.Attribute):
            raise self.n.error(
                target, "assigning to an attribute is not supported; use a local variable"
            )
        else:
            raise self.n.error(target, "this assignment target is not supported; assign to a name")

    def assign_name(self, name: str, value: ast.expr) -> None:
        if isinstance(value, Evaluated):  # an atom computed earlier (unpacking, a = b = ...)
            atom, prim = value.inner, (IDENTITY if value.varied else None)
            number = self.n.writes.is_number(atom, renamed=True)
            ssa = self.n.define(name)
            stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=atom)
            self.n.emit(annotate(stmt, self.n.origin, value.inner, prim, [atom]))
            self.n.writes.track_view(ssa, atom)
            if number:
                self.n.numbers.add(ssa)
            return
        if isinstance(value, ast.Lambda):
            self.n.inliner.local_def(lambda_to_def(value), name)
            return
        if isinstance(value, (ast.Name, ast.Attribute)) and self.n.inliner.alias_function(
            name, value
        ):
            return
        if isinstance(value, ast.Name) and not isinstance(value.ctx, ast.Load):
            value = ast.Name(id=value.id, ctx=ast.Load())
        if (
            isinstance(value, ast.List)
            and value.elts
            and not any(isinstance(e, ast.Starred) for e in value.elts)
            and self.n.varied(value)
        ):
            self.list_display(name, value)
            return
        static = self.n.containers.static_value(value)
        if isinstance(static, Tree):
            self.n.containers.bind_tree(name, static)
            return
        if static is not None:
            self.assign_name(name, static)
            return
        frozen = isinstance(value, ast.Call) and is_distribution(self.n.p.resolve(value.func))
        if frozen and self.n.varied(value):
            dist = ast.unparse(value.func)
            raise self.n.error(
                value,
                f"freezing the SciPy distribution {dist} with differentiated parameters is not "
                f"supported; call its function with them instead, e.g. {dist}.logpdf(x, loc, "
                "scale)",
            )
        if not self.n.varied(value):
            renamed = self.n.expressions.rename(value)
            number = self.n.writes.is_number(value)
            frozen = self.frozen_parameters(value) if frozen else None
            ssa = self.n.define(name)
            if frozen is not None:
                self.n.frozen[ssa] = frozen
            stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=renamed)
            self.n.emit(annotate(stmt, self.n.origin, value))
            # freezing costs ~0.2 ms and changes nothing: dropped when its methods were all
            # rewritten into the distribution's functions (expressions.call)
            facts(stmt).pure = frozen is not None
            self.n.writes.track_view(ssa, renamed)
            self.n.writes.track_fresh(ssa, value)
            if number:
                self.n.numbers.add(ssa)
            return
        if isinstance(value, ast.IfExp):
            self.n.expressions.lower_ifexp(value, lambda: self.n.define(name))
            return
        if is_atom(value):
            op = self.n.expressions.rename(value)
            prim, args, kwargs = IDENTITY, [op], {}
        else:
            op, prim, args, kwargs = self.n.expressions.operation(value)
        number = self.n.writes.is_number(value)
        ssa = self.n.define(name)
        stmt = ast.Assign(targets=[ast.Name(id=ssa, ctx=ast.Store())], value=op)
        self.n.emit(annotate(stmt, self.n.origin, value, prim, args, kwargs))
        self.n.writes.track_view(ssa, op)
        self.n.writes.track_fresh(ssa, value)
        if number:
            self.n.numbers.add(ssa)

    def frozen_parameters(self, call: ast.Call) -> ast.Call:
        """`N = stats.norm(loc, scale)`: the parameters, evaluated now, that N's methods
        pass on (N.cdf(x) is stats.norm.cdf(x, loc, scale); expressions.call)."""

        def now(e: ast.expr) -> Evaluated:
            return Evaluated(self.n.expressions.atom(e), False)

        return ast.Call(
            func=clone(call.func),
            args=[now(a) for a in call.args],
            keywords=[ast.keyword(arg=k.arg, value=now(k.value)) for k in call.keywords],
        )

    def list_display(self, name: str, value: ast.List) -> None:
        """`v = [1.0, a * a, 2.0]`: a list made in the function, as if written
        `v = []` and one `v.append(...)` per item (so `v[i]`, `np.array(v)` and later
        appends work as for any list); the items are evaluated first, as Python does."""
        items = [
            e
            if isinstance(e, ast.Constant)
            else Evaluated(self.n.expressions.atom(e), self.n.varied(e))
            for e in value.elts
        ]
        self.assign_name(name, ast.copy_location(ast.List(elts=[], ctx=ast.Load()), value))
        for item in items:
            call = ast.Call(
                func=ast.Attribute(
                    value=ast.Name(id=name, ctx=ast.Load()), attr="append", ctx=ast.Load()
                ),
                args=[item],
                keywords=[],
            )
            stmt = ast.copy_location(ast.Expr(value=ast.copy_location(call, value)), value)
            ast.fix_missing_locations(stmt)
            appended = self.n.writes.list_append(stmt)
            assert appended, "a list display is a list made in the function"

    def assign_tuple(self, target: ast.Tuple | ast.List, value: ast.expr) -> None:
        for elt in target.elts:
            if isinstance(elt, ast.Starred):
                raise self.n.error(elt, "starred assignment (a, *b = ...) is not supported")
        static = (
            None
            if isinstance(value, (ast.Tuple, ast.List))
            else self.n.containers.static_value(value)
        )
        if isinstance(static, Tree):
            if static.kind == "dict":
                raise self.n.error(value, "unpacking a dict gives its keys; index it instead")
            if len(static.items) != len(target.elts):
                raise self.n.error(
                    target,
                    f"cannot unpack {len(static.items)} values into {len(target.elts)} names",
                )
            for sub, item in zip(target.elts, static.values()):
                self.n.origin = self.n.origin
                if isinstance(item, Tree):
                    self.assign(sub, TreeValue(item))
                else:
                    self.assign(sub, Evaluated(item, self.n.containers.atom_varied(item)))
            return
        if static is not None:
            value = static
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in value.elts)
        ):
            # evaluate every right-hand side first: `a, b = b, a` swaps
            atoms = [
                e
                if isinstance(e, ast.Lambda)
                else Evaluated(self.n.expressions.atom(e), True)
                if self.n.varied(e)
                else Evaluated(self.n.expressions.rename(e), False)
                for e in value.elts
            ]
            for sub, atom in zip(target.elts, atoms):
                self.assign(sub, atom)
            return
        if not all(isinstance(e, ast.Name) for e in target.elts):
            self.assign_nested(target, value)
            return
        if not self.n.varied(value):
            renamed = self.n.expressions.rename(value)
            names = [self.n.define(e.id) for e in target.elts]  # type: ignore[attr-defined]
            tgt = ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())
            self.n.emit(annotate(ast.Assign(targets=[tgt], value=renamed), self.n.origin, value))
            for name in names:  # each row may be a view of the source
                self.n.writes.track_view(name, renamed)
            self.n.writes.track_record(names, renamed)
            return
        if isinstance(value, ast.Name) and self.n.current.get(value.id) in self.n.lists:
            self.unpack_list(target, value)
            return
        source = self.n.expressions.atom(value)
        names = [self.n.define(e.id) for e in target.elts]  # type: ignore[attr-defined]
        tgt = ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Store()) for n in names], ctx=ast.Store())
        stmt = ast.Assign(targets=[tgt], value=source)
        self.n.emit(annotate(stmt, self.n.origin, value, UNPACK, [source]))
        for name in names:  # each row may be a view of the source
            self.n.writes.track_view(name, source)
        self.n.writes.track_record(names, source)

    def unpack_list(self, target: ast.Tuple | ast.List, value: ast.Name) -> None:
        """`a, b = hs` for a list of differentiated values: Python's own length check
        (`_, __1 = range(len(hs))` raises the ValueError the unpacking would), then each
        item read by its index (what the gradient code of a list display writes)."""
        read = ast.Name(id=self.n.current[value.id], ctx=ast.Load())
        length = ast.Call(func=ast.Name(id="len", ctx=ast.Load()), args=[read], keywords=[])
        count = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[length], keywords=[])
        checks = [ast.Name(id=self.n.local_name("_"), ctx=ast.Store()) for _ in target.elts]
        check = ast.Assign(targets=[ast.Tuple(elts=checks, ctx=ast.Store())], value=count)
        self.n.emit(annotate(ast.copy_location(check, value), self.n.origin, value))
        items = [
            Evaluated(
                self.n.expressions.atom(
                    ast.copy_location(
                        ast.Subscript(value=value, slice=ast.Constant(i), ctx=ast.Load()), value
                    )
                ),
                True,
            )
            for i in range(len(target.elts))
        ]
        for elt, item in zip(target.elts, items):
            self.assign(elt, item)

    def assign_nested(self, target: ast.Tuple | ast.List, value: ast.expr) -> None:
        """`(a, b), c = v` as `t1, c = v` and then `a, b = t1` (what generated gradient
        code writes for the gradient of a display, so hessian reads it again)."""
        flat: list[ast.expr] = []
        nested: list[tuple[ast.expr, str]] = []
        # the temporaries are user-level names here (the unpacking below defines them), so
        # none may be a name of the function being normalized: in an inlined gradient,
        # `(dx, t6, t7), (t8, _, _) = dy` would otherwise overwrite the temporary `t7`
        # before the second row reads it
        own = self.n.own_identifiers()
        varied = self.n.varied(value)
        for elt in target.elts:
            if isinstance(elt, (ast.Tuple, ast.List)):
                name = self.n.names.temp()
                while name in own or name in self.n.current:
                    name = self.n.names.temp()
                self.n.p.local_names.add(name)
                if varied:  # activity analysis ran before this name existed
                    self.n.varied_user.add(name)
                flat.append(ast.Name(id=name, ctx=ast.Store()))
                nested.append((elt, name))
            elif isinstance(elt, ast.Name):
                flat.append(elt)
            else:
                raise self.n.error(
                    elt,
                    "unpacking a computed value into this target is not supported; unpack "
                    "into names, then assign from them",
                )
        self.assign_tuple(ast.Tuple(elts=flat, ctx=ast.Store()), value)
        for elt, name in nested:
            self.assign(elt, ast.Name(id=name, ctx=ast.Load()))

    def augassign(self, stmt: ast.AugAssign) -> None:
        target = stmt.target
        if isinstance(target, ast.Subscript):  # out[i] += v  ->  out[i] = out[i] + v
            base = target.value
            ssa = self.n.current.get(base.id) if isinstance(base, ast.Name) else None
            if ssa is None or ssa in self.n.lists or ssa in self.n.trees:
                read = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
                value = ast.BinOp(
                    left=ast.copy_location(read, target), op=stmt.op, right=stmt.value
                )
                self.n.writes.assign_subscript(target, ast.copy_location(value, stmt), True)
                return
            # an array: the old elements are read once, as a copy (which the adjoint
            # also puts back), so no name keeps a view of the place being written
            what = f"`{base_text(target)}[...] {op_text(stmt.op)}= ...`"
            written = self.n.writes.write_place(target, stmt.value, what, augmented=stmt.op)
            array, index, value_atom, old_name = written
            store = ast.Subscript(value=clone(array), slice=index, ctx=ast.Store())
            write = ast.Assign(targets=[store], value=value_atom)
            self.n.emit(
                annotate(
                    write, self.n.origin, target, SETITEM, [array, index, value_atom, old_name]
                )
            )
            return
        if not isinstance(target, ast.Name):
            raise self.n.error(
                target,
                "augmented assignment to an attribute is not supported; use a local variable",
            )
        current = self.n.current.get(target.id)
        if current is not None and current in self.n.caller_values:
            op = op_text(stmt.op)
            raise self.n.error(
                stmt,
                f"`{target.id} {op}= ...` on a parameter would change the caller's array in "
                f"place (chainrule inlines this function); write `{target.id} = {target.id} "
                f"{op} ...` to make a new array instead",
            )
        if current is not None and current not in self.n.numbers:  # (a number rebinds)
            op = op_text(stmt.op)
            self.n.writes.check_shared(
                stmt,
                target.id,
                current,
                f"`{target.id} {op}= ...`",
                f"write `{target.id} = {target.id} {op} ...` to make a new array instead",
            )
        value = ast.BinOp(left=ast.Name(id=target.id, ctx=ast.Load()), op=stmt.op, right=stmt.value)
        ast.copy_location(value, stmt)
        self.assign_name(target.id, value)
