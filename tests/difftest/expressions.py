"""Random expressions of a requested shape, with a bound on their magnitude.

Why shapes: every generated program must run, so an expression is generated
for a requested shape and only combines operands whose shapes NumPy accepts.
Why bounds: every program must return a finite float whose derivatives finite
differences can resolve, so each expression carries an upper bound on its
magnitude, and anything that could blow up (exp, powers, products) gets its
operand squashed with np.tanh first when that bound is too large.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .scope import ARG_BOUND, PARAM_BOUND, Context, Func, Scope, Shape, Value


@dataclass(frozen=True)
class Expr:
    text: str
    shape: Shape
    bound: float
    fresh: bool = True  # a new array, not a view of a name (scalars are always fresh)
    base: str | None = None  # the name this expression is (a view of), if any
    copied: str | None = None  # the name this is a copy of elements of (x[0], x[[0, 0]])


def squash(e: Expr, limit: float) -> Expr:
    """e itself when |e| <= limit for sure, else np.tanh(e)."""
    if e.bound <= limit:
        return e
    return Expr(f"np.tanh({e.text})", e.shape, 1.0)


def owned(e: Expr) -> Expr:
    """e, or e made into a new array when it is only a name or a view of one."""
    if e.fresh or e.shape == ():
        return e
    return Expr(f"({e.text} * 1.0)", e.shape, e.bound)


def size(shape: Shape) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


Builder = Callable[[Scope, Shape, int], "Expr | None"]


class Expressions:
    """Builds expression text over a scope; records the constructs it uses in ctx.tags."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.zero_args: set[str] = set()  # arguments raised to x ** 0 / 1 / 2 directly
        # Lambda bodies are applied to arrays of any shape: only elementwise operations then.
        self.elementwise_only = False

    # -- entry points -----------------------------------------------------------------

    def expr(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        if depth <= 0 or ctx.chance(0.2):
            return self.leaf(scope, shape)
        if self.elementwise_only:
            return self._elementwise(scope, shape, depth)
        builders: list[tuple[float, Builder]] = [
            (5, self._binary),
            (1.5, self._div),
            (3, self._unary),
            (1, self._log_sqrt),
            (1.5, self._power),
            (1, self._abs_max),
            (0.7, self._where),
            (0.7, self._ifexp),
            (0.6, self._reuse),
            (2.5 if scope.funcs else 0, self._call),
        ]
        if shape == ():
            builders += [(4, self._reduce), (2, self._dot)]
        elif len(shape) == 1:
            builders += [(3, self._matvec), (1, self._axis_reduce), (0.6, self._concat)]
        else:  # (outer and matmul make matrices only: 19:3077 was a (1, 2, 4) @ (4, 2))
            if len(shape) == 2:
                builders += [(1.5, self._outer), (1.5, self._matmul)]
            builders += [(0.7, self._stack), (0.7, self._transposed)]
        for _ in range(4):
            builder = self.weighted(builders)
            built = builder(scope, shape, depth)
            if built is not None:
                return built
        return self.leaf(scope, shape)

    def _elementwise(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        builders: list[tuple[float, Builder]] = [
            (4, self._binary),
            (1, self._div),
            (3, self._unary),
            (1, self._log_sqrt),
            (1, self._power),
            (1, self._abs_max),
            (0.5, self._where),
        ]
        return self.weighted(builders)(scope, shape, depth)

    def scalar(self, scope: Scope, depth: int = 2) -> Expr:
        return self.expr(scope, (), depth)

    def bounded(self, scope: Scope, shape: Shape, depth: int, limit: float) -> Expr:
        return squash(self.expr(scope, shape, depth), limit)

    def cond(self, scope: Scope) -> str:
        """A test for if / while / a conditional expression."""
        ctx = self.ctx
        if scope.ints and ctx.chance(0.3):
            i = ctx.pick(sorted(scope.ints))
            values = scope.ints[i]
            k = ctx.pick(values) if values else 0
            return ctx.pick([f"{i} == {k}", f"{i} % 2 == 0", f"{i} > {k}", f"{i} < {k}"])
        lambdas = [f for f in scope.funcs.values() if f.kind == "lambda" and f.result is None]
        if lambdas and ctx.chance(0.25):
            fn = ctx.pick(lambdas)
            ctx.tags.update({"lambda", "lambda-in-test", *fn.tags})
            arg = squash(self.scalar(scope, 1), PARAM_BOUND)
            return f"{fn.name}({arg.text}) > {ctx.pick(['0.1', '-0.2', '0.3'])}"
        s = self.scalar(scope, ctx.pick([1, 1, 2]))
        return f"{s.text} {ctx.pick(['>', '<'])} {ctx.pick(['0.0', '0.2', '-0.3', '0.5'])}"

    # -- leaves -----------------------------------------------------------------------

    def leaf(self, scope: Scope, shape: Shape) -> Expr:
        """A name, a read from a name, or a constant: no operation of its own."""
        ctx = self.ctx
        options: list[tuple[float, Callable[[], Expr]]] = []
        values = list(scope.values.values())
        for rank, v in enumerate(values):
            if v.shape == shape:
                options.append((3.0 + rank / max(len(values), 1), lambda v=v: self.use(v)))
        if shape == ():
            options += self._scalar_reads(scope)
        elif len(shape) == 1:
            options += self._vector_reads(scope, shape[0])
        else:
            for v in values:
                if v.shape == shape[::-1] and v.shape != shape:
                    options.append((1.5, lambda v=v: self._tagged("transpose", self._t(v))))
            rows = [v for v in values if v.shape == shape[:1]]
            columns = [v for v in values if v.shape == shape[1:]]
            if rows and columns:
                options.append((1.0, lambda: self._outer_of(ctx.pick(rows), ctx.pick(columns))))
        for lst in scope.lists.values():
            if lst.elem == shape and lst.min_len >= 1:
                options.append((1.5, lambda lst=lst: self._list_elem(lst)))
        if not options or ctx.chance(0.05):
            return self._constant(shape)
        return self.weighted(options)()

    def use(self, v: Value) -> Expr:
        if v.made:
            v.read = True
        return Expr(v.text, v.shape, v.bound, fresh=v.shape == (), base=v.text)

    def _outer_of(self, a: Value, b: Value) -> Expr:
        self.ctx.tags.add("dot")
        u, w = squash(self.use(a), 2.0), squash(self.use(b), 2.0)
        return Expr(f"np.outer({u.text}, {w.text})", a.shape + b.shape, u.bound * w.bound)

    def _t(self, v: Value) -> Expr:
        self.use(v)
        return Expr(f"{v.text}.T", v.shape[::-1], v.bound, fresh=False, base=v.text)

    def _tagged(self, tag: str, e: Expr) -> Expr:
        self.ctx.tags.add(tag)
        return e

    def _constant(self, shape: Shape) -> Expr:
        ctx = self.ctx
        if shape == ():
            c = ctx.const()
            return Expr(c, (), abs(float(c)))
        if len(shape) == 1:
            return Expr(f"np.linspace(-0.5, 0.5, {shape[0]})", shape, 0.5)
        return Expr(f"np.full({shape}, {ctx.pick(['0.3', '-0.2'])})", shape, 0.3)

    def _scalar_reads(self, scope: Scope) -> list[tuple[float, Callable[[], Expr]]]:
        ctx = self.ctx
        out: list[tuple[float, Callable[[], Expr]]] = []
        for v in scope.values.values():
            if len(v.shape) == 1:
                out.append((1.5, lambda v=v: self._index1(v, scope)))
            elif len(v.shape) == 2:
                out.append((1.0, lambda v=v: self._index2(v)))
        if scope.ints:
            i = ctx.pick(sorted(scope.ints))
            top = max(scope.ints[i], default=0)
            text = f"(0.5 + 0.25 * {i})"
            out.append((0.8, lambda: self._tagged("index-arith", Expr(text, (), 0.5 + 0.25 * top))))
        for lst in scope.lists.values():
            if lst.min_len >= 1:
                n = size(lst.elem)
                out.append((0.7, lambda lst=lst, n=n: self.list_total(lst, n)))
        return out

    def _index1(self, v: Value, scope: Scope) -> Expr:
        ctx = self.ctx
        self.use(v)
        length = v.shape[0]
        loopvars = [i for i, vals in scope.ints.items() if vals and max(vals) < length]
        if loopvars and ctx.chance(0.5):
            ctx.tags.add("index-loopvar")
            return Expr(f"{v.text}[{ctx.pick(loopvars)}]", (), v.bound, copied=v.text)
        ctx.tags.add("index")
        k = ctx.pick([*range(length), -1])
        return Expr(f"{v.text}[{k}]", (), v.bound, copied=v.text)

    def _index2(self, v: Value) -> Expr:
        ctx = self.ctx
        self.use(v)
        ctx.tags.add("index")
        i, j = ctx.rng.randrange(v.shape[0]), ctx.rng.randrange(v.shape[1])
        text = f"{v.text}[{i}, {j}]" if ctx.chance(0.7) else f"{v.text}[{i}][{j}]"
        return Expr(text, (), v.bound, copied=v.text)

    def _vector_reads(self, scope: Scope, k: int) -> list[tuple[float, Callable[[], Expr]]]:
        out: list[tuple[float, Callable[[], Expr]]] = []
        for v in scope.values.values():
            if len(v.shape) == 2 and v.shape[1] == k:
                out.append((1.2, lambda v=v: self._row(v, scope)))
            if len(v.shape) == 2 and v.shape[0] == k:
                out.append((0.6, lambda v=v: self._column(v)))
            if len(v.shape) == 1 and v.shape[0] > k:
                out.append((0.8, lambda v=v: self._slice(v, k)))
            if len(v.shape) == 1 and k >= 2:
                out.append((0.5, lambda v=v: self._fancy(v, k)))
        return out

    def _row(self, v: Value, scope: Scope) -> Expr:
        ctx = self.ctx
        self.use(v)
        loopvars = [i for i, vals in scope.ints.items() if vals and max(vals) < v.shape[0]]
        if loopvars and ctx.chance(0.5):
            ctx.tags.add("index-loopvar")
            text = f"{v.text}[{ctx.pick(loopvars)}]"
            return Expr(text, v.shape[1:], v.bound, fresh=False, base=v.text)
        ctx.tags.add("index")
        r = ctx.pick([*range(v.shape[0]), -1])
        return Expr(f"{v.text}[{r}]", v.shape[1:], v.bound, fresh=False, base=v.text)

    def _column(self, v: Value) -> Expr:
        self.use(v)
        self.ctx.tags.add("index")
        c = self.ctx.rng.randrange(v.shape[1])
        return Expr(f"{v.text}[:, {c}]", (v.shape[0],), v.bound, fresh=False, base=v.text)

    def _slice(self, v: Value, k: int) -> Expr:
        self.use(v)
        self.ctx.tags.add("slice")
        start = self.ctx.rng.randrange(v.shape[0] - k + 1)
        stop = start + k
        text = f"{v.text}[{start}:]" if stop == v.shape[0] else f"{v.text}[{start}:{stop}]"
        if start == 0:
            text = f"{v.text}[:{stop}]"
        return Expr(text, (k,), v.bound, fresh=False, base=v.text)

    def _fancy(self, v: Value, k: int) -> Expr:
        self.use(v)
        self.ctx.tags.add("fancy-read")
        idx = [self.ctx.rng.randrange(v.shape[0]) for _ in range(k)]
        idx[-1] = idx[0]  # a repeated index: both reads get their gradient
        return Expr(f"{v.text}[{idx}]", (k,), v.bound, copied=v.text)

    def _list_elem(self, lst) -> Expr:
        ctx = self.ctx
        ctx.tags.add("list-index")
        k = ctx.pick([-1, 0] + list(range(lst.min_len)))
        return Expr(f"{lst.name}[{k}]", lst.elem, lst.bound, fresh=lst.elem == (), base=lst.name)

    def list_total(self, lst, n: int) -> Expr:
        ctx = self.ctx
        ctx.tags.add("list-stack")
        if ctx.chance(0.3):
            ctx.tags.add("list-len")
            return Expr(f"(np.sum(np.stack({lst.name})) / len({lst.name}))", (), n * lst.bound)
        fn = ctx.pick(["np.stack", "np.array"])
        return Expr(f"np.mean({fn}({lst.name}))", (), lst.bound)

    # -- elementwise builders (any shape) -----------------------------------------------

    def _operand_shapes(self, shape: Shape) -> tuple[Shape, Shape]:
        ctx = self.ctx
        r = ctx.rng.random()
        if shape == () or r < 0.6:
            return shape, shape
        if r < 0.75:
            return shape, ()
        if r < 0.85:
            return (), shape
        return (shape, shape[1:]) if len(shape) == 2 else (shape, ())

    def _binary(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        sa, sb = self._operand_shapes(shape)
        op = ctx.pick(["+", "-", "*", "*"])
        a, b = self.expr(scope, sa, depth - 1), self.expr(scope, sb, depth - 1)
        ctx.tags.add("arith")
        if op == "*":
            a, b = squash(a, 3.0), squash(b, 3.0)
            return Expr(f"({a.text} * {b.text})", shape, a.bound * b.bound)
        return Expr(f"({a.text} {op} {b.text})", shape, a.bound + b.bound)

    def _div(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        a = self.expr(scope, shape, depth - 1)
        ctx.tags.add("arith")
        choice = ctx.rng.randrange(3)
        if choice == 0:
            b = squash(self.expr(scope, ctx.pick([shape, ()]), depth - 1), 3.0)
            ctx.tags.add("pow-int")
            return Expr(f"({a.text} / (1.5 + ({b.text} ** 2)))", shape, a.bound / 1.5)
        if choice == 1:
            b = self.expr(scope, ctx.pick([shape, ()]), depth - 1)
            ctx.tags.add("elementwise")
            return Expr(f"({a.text} / (2.0 + np.sin({b.text})))", shape, a.bound)
        return Expr(f"({a.text} / {ctx.pick(['2.5', '4.0', '-3.0'])})", shape, a.bound / 2.5)

    def _unary(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        a = self.expr(scope, shape, depth - 1)
        fn = ctx.pick(["sin", "cos", "tanh", "tanh", "exp", "square", "neg"])
        if fn == "neg":
            ctx.tags.add("neg")
            return Expr(f"(-{a.text})", shape, a.bound)
        ctx.tags.add("elementwise")
        if fn == "exp":
            a = squash(a, 2.0)
            return Expr(f"np.exp({a.text})", shape, 2.72**a.bound)
        if fn == "square":
            a = squash(a, 3.0)
            return Expr(f"np.square({a.text})", shape, a.bound**2)
        return Expr(f"np.{fn}({a.text})", shape, 1.0)

    def _log_sqrt(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        a = squash(self.expr(scope, shape, depth - 1), 4.0)
        ctx.tags.add("log-sqrt")
        choice = ctx.rng.randrange(3)
        if choice == 0:
            return Expr(f"np.log(1.5 + {a.text} * {a.text})", shape, 3.0)
        if choice == 1:
            return Expr(f"np.sqrt(1.0 + {a.text} * {a.text})", shape, 1.0 + a.bound)
        ctx.tags.add("elementwise")
        return Expr(f"np.log(2.0 + np.tanh({a.text}))", shape, 1.1)

    def _power(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        args = [v for v in scope.values.values() if v.arg and v.shape == shape and not v.fixed]
        if args and ctx.chance(0.3) and not self.elementwise_only:
            v = ctx.pick(args)
            k = ctx.pick([0, 1, 2])
            ctx.tags.add("pow-at-zero")
            self.zero_args.add(v.text)
            return Expr(f"({v.text} ** {k})", shape, v.bound**k)
        a = squash(self.expr(scope, shape, depth - 1), 2.0)
        k = ctx.pick([2, 2, 3])
        ctx.tags.add("pow-int")
        return Expr(f"({a.text} ** {k})", shape, a.bound**k)

    def _abs_max(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        ctx.tags.add("abs-max-min")
        a = self.expr(scope, shape, depth - 1)
        choice = ctx.rng.randrange(4)
        if choice == 0:
            return Expr(f"np.abs({a.text})", shape, a.bound)
        if choice == 1:
            return Expr(f"np.maximum({a.text}, 0.0)", shape, a.bound)
        b = self.expr(scope, ctx.pick([shape, ()]), depth - 1)
        fn = "maximum" if choice == 2 else "minimum"
        return Expr(f"np.{fn}({a.text}, {b.text})", shape, max(a.bound, b.bound))

    def _where(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        ctx.tags.add("where")
        c = self.expr(scope, shape, depth - 1)
        a, b = self.expr(scope, shape, depth - 1), self.expr(scope, shape, depth - 1)
        test = f"{c.text} > {ctx.pick(['0.0', '0.3', '-0.2'])}"
        return Expr(f"np.where({test}, {a.text}, {b.text})", shape, max(a.bound, b.bound))

    def _ifexp(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        self.ctx.tags.add("ifexp")
        a, b = self.expr(scope, shape, depth - 1), self.expr(scope, shape, depth - 1)
        test = self.cond(scope)
        text = f"({a.text} if {test} else {b.text})"
        # either branch may be a name or a view: the result is only as fresh as both
        fresh, base = a.fresh and b.fresh, a.base or b.base
        return Expr(text, shape, max(a.bound, b.bound), fresh=fresh, base=base)

    def _reuse(self, scope: Scope, shape: Shape, depth: int) -> Expr | None:
        values = scope.of_shape(shape)
        if not values:
            return None
        v = self.use(self.ctx.pick(values))
        v = squash(v, 3.0)
        self.ctx.tags.update({"reuse", "arith", "elementwise"})
        return Expr(f"({v.text} * np.tanh({v.text}) + {v.text})", shape, v.bound * 2)

    def _call(self, scope: Scope, shape: Shape, depth: int) -> Expr | None:
        ctx = self.ctx
        fits = [
            f for f in scope.funcs.values() if f.result in (shape, None) and f.tuple_result is None
        ]
        if not fits:
            return None
        fn = ctx.pick(fits)
        ctx.tags.add(fn.kind)
        ctx.tags.update(fn.tags)
        if fn.kind == "lambda" and fn.result is None and shape == () and ctx.chance(0.25):
            ctx.tags.add("lambda-const")
            return Expr(f"{fn.name}({ctx.pick(['0.5', '2.0', '-1.0'])})", (), fn.bound)
        return Expr(self.call_text(scope, fn, shape, depth), shape, fn.bound)

    def call_text(self, scope: Scope, fn: Func, shape: Shape, depth: int) -> str:
        """The call of `fn` with arguments drawn from scope; keyword and default use vary."""
        ctx = self.ctx
        args = []
        for k, (pname, pshape) in enumerate(fn.params):
            a = squash(
                self.expr(scope, shape if pshape is None else pshape, depth - 1), PARAM_BOUND
            )
            if k > 0 and ctx.chance(0.3) and fn.kind != "lambda":
                ctx.tags.add("call-keyword")
                args.append(f"{pname}={a.text}")
            else:
                args.append(a.text)
        if fn.default is not None:
            r = ctx.rng.random()
            if r < 0.4:
                ctx.tags.add("call-default")
            elif r < 0.7:
                ctx.tags.add("call-keyword")
                args.append(f"{fn.default[0]}={ctx.pick(['0.5', '1.5', '-0.5'])}")
            elif not any("=" in a for a in args):
                args.append(ctx.pick(["0.5", "1.5", "-0.5"]))
        return f"{fn.name}({', '.join(args)})"

    # -- reductions and products -------------------------------------------------------

    def _array_shape(self) -> Shape:
        n, m = self.ctx.n, self.ctx.m
        return self.ctx.pick([(n,), (m,), (m, n)])

    def _reduce(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        ash = self._array_shape()
        a = self.expr(scope, ash, depth - 1)
        if ctx.chance(0.1):
            ctx.tags.add("max-reduce")
            return Expr(f"np.max({a.text})", (), a.bound)
        arrays = [v for v in scope.values.values() if v.shape and not v.fixed]
        if arrays and ctx.chance(0.08):
            v = ctx.pick(arrays)
            self.use(v)
            ctx.tags.add("mask-read")
            return Expr(f"np.sum({v.text}[{v.text} > 0.1])", (), size(v.shape) * v.bound)
        ctx.tags.add("reduce")
        form = ctx.rng.randrange(4)
        if form == 0:
            return Expr(f"np.sum({a.text})", (), size(ash) * a.bound)
        if form == 1:
            return Expr(f"{a.text}.sum()", (), size(ash) * a.bound)
        if form == 2:
            return Expr(f"np.mean({a.text})", (), a.bound)
        return Expr(f"{a.text}.mean()", (), a.bound)

    def _dot(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        k = ctx.pick([ctx.n, ctx.m])
        a = squash(self.expr(scope, (k,), depth - 1), 2.0)
        b = squash(self.expr(scope, (k,), depth - 1), 2.0)
        ctx.tags.add("dot")
        text = ctx.pick(
            [f"np.dot({a.text}, {b.text})", f"({a.text} @ {b.text})", f"{a.text}.dot({b.text})"]
        )
        return Expr(text, (), k * a.bound * b.bound)

    def _matvec(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        k = shape[0]
        p = ctx.pick([ctx.n, ctx.m])
        v = squash(self.expr(scope, (p,), depth - 1), 2.0)
        ctx.tags.add("dot")
        bound = p * 2.0 * v.bound
        if ctx.chance(0.6):
            a = squash(self.expr(scope, (k, p), depth - 1), 2.0)
            form = ctx.pick(
                ["({A} @ {v})", "np.dot({A}, {v})", "np.matmul({A}, {v})", "{A}.dot({v})"]
            )
            return Expr(form.format(A=a.text, v=v.text), shape, p * a.bound * v.bound)
        a = squash(self.expr(scope, (p, k), depth - 1), 2.0)
        if ctx.chance(0.5):
            ctx.tags.add("transpose")
            return Expr(f"({a.text}.T @ {v.text})", shape, bound)
        return Expr(f"({v.text} @ {a.text})", shape, p * a.bound * v.bound)

    def _axis_reduce(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        k = shape[0]
        p = ctx.pick([ctx.n, ctx.m])
        ctx.tags.add("reduce")
        axis = ctx.rng.randrange(2)
        a = self.expr(scope, (p, k) if axis == 0 else (k, p), depth - 1)
        fn = ctx.pick(["np.sum({a}, axis={ax})", "np.mean({a}, axis={ax})", "{a}.sum(axis={ax})"])
        bound = a.bound * (p if "sum" in fn else 1)
        return Expr(fn.format(a=a.text, ax=axis), shape, bound)

    def _concat(self, scope: Scope, shape: Shape, depth: int) -> Expr | None:
        k = shape[0]
        if k < 2:
            return None
        j = self.ctx.rng.randrange(1, k)
        a, b = self.expr(scope, (j,), depth - 1), self.expr(scope, (k - j,), depth - 1)
        self.ctx.tags.add("concat-stack")
        form = self.ctx.pick(["np.concatenate(({a}, {b}))", "np.r_[{a}, {b}]"])
        return Expr(form.format(a=a.text, b=b.text), shape, max(a.bound, b.bound))

    def _outer(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        a = squash(self.expr(scope, (shape[0],), depth - 1), 2.0)
        b = squash(self.expr(scope, (shape[1],), depth - 1), 2.0)
        self.ctx.tags.add("dot")
        return Expr(f"np.outer({a.text}, {b.text})", shape, a.bound * b.bound)

    def _matmul(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        p = ctx.pick([ctx.n, ctx.m])
        a = squash(self.expr(scope, (shape[0], p), depth - 1), 2.0)
        b = squash(self.expr(scope, (p, shape[1]), depth - 1), 2.0)
        ctx.tags.add("dot")
        form = ctx.pick(["({a} @ {b})", "np.matmul({a}, {b})", "np.dot({a}, {b})"])
        return Expr(form.format(a=a.text, b=b.text), shape, p * a.bound * b.bound)

    def _stack(self, scope: Scope, shape: Shape, depth: int) -> Expr | None:
        if shape[0] > 3:
            return None
        rows = [self.expr(scope, shape[1:], depth - 1) for _ in range(shape[0])]
        self.ctx.tags.add("concat-stack")
        text = f"np.stack([{', '.join(r.text for r in rows)}])"
        return Expr(text, shape, max(r.bound for r in rows))

    def _transposed(self, scope: Scope, shape: Shape, depth: int) -> Expr:
        ctx = self.ctx
        a = self.expr(scope, shape[::-1], depth - 1)
        if ctx.chance(0.6):
            ctx.tags.add("transpose")
            return Expr(f"{a.text}.T", shape, a.bound, fresh=a.fresh, base=a.base)
        ctx.tags.add("reshape")
        text = ctx.pick([f"np.reshape({a.text}, {shape})", f"{a.text}.reshape({shape})"])
        return Expr(text, shape, a.bound, fresh=a.fresh, base=a.base)

    # -- helpers ----------------------------------------------------------------------

    def weighted(self, options: list):
        total = sum(w for w, _ in options)
        r = self.ctx.rng.random() * total
        for w, item in options:
            r -= w
            if r <= 0 and w > 0:
                return item
        return next(item for w, item in reversed(options) if w > 0)


def scalar_of(e: Expr, ctx: Context) -> Expr:
    """A scalar that depends on every element of e (to feed a return value)."""
    if e.shape == ():
        return e
    form = ctx.rng.randrange(4)
    n = size(e.shape)
    if form == 0:
        return Expr(f"np.sum({e.text})", (), n * e.bound)
    if form == 1:
        s = squash(e, 3.0)
        return Expr(f"np.sum(({s.text} ** 2))", (), n * s.bound**2)
    if form == 2:
        return Expr(f"np.mean(np.sin({e.text}))", (), 1.0)
    return Expr(
        f"np.sum({e.text} * np.linspace(0.5, 1.5, {n}).reshape({e.shape}))", (), 1.5 * n * e.bound
    )


__all__ = ["ARG_BOUND", "Expr", "Expressions", "owned", "scalar_of", "size", "squash"]
