"""What the Jacobians and vjp of api.py need beyond one array output: tuple outputs,
and a Jacobian of a Jacobian.

*Tuple outputs.*  A function may return several arrays: `np.split`'s pieces or
`np.linalg.svd`'s factors (a primitive's result, which the generated code passes
through as it is), or `return a, b` written out, which a derivative function cannot
return as its value.  The second kind is differentiated through `packed(f)`, a
wrapper `return tuple(f(x, y))` that chainrule writes as Python text: the `tuple`
rule hands each item its own tangent or cotangent.  `pieces` and `repacked` take an
output apart and rebuild a result with the same container type (a named tuple stays
one, so svd's Jacobians are `.U`, `.S`, `.Vh`).

*A Jacobian of a Jacobian.*  `jacfwd(f)` pushes basis tangents through f's
forward-mode code and `jacrev(f)` pulls basis cotangents through its backward pass;
neither is one generated function chainrule could read again.  But each column (or
row) is: column j of jacfwd(f) is `jvp(f, (x,), (e_j,))[1]` (`column`), row i of
jacrev(f) is the gradient of `sum(e_i * f(x))` (`contraction`).  `SecondJacobian`
differentiates those functions of (x, seed) with the outer Jacobian, one seed at a
time, and arranges the blocks as JAX does: output shape, then the inner argument's
shape, then the outer argument's.  The inner Jacobian's own mode is kept (forward
over forward is jacfwd(jacfwd(f))), so the four spellings are four computations.

The wrappers are Python functions with their text registered in linecache (so
parse.py reads them like the user's code) and a module name that is not a library's,
so the function they call is inlined as user code.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .errors import CompileError
from .parse import parse_function

WRAPPER_MODULE = "__chainrule_wrappers__"


# -- the Jacobian's layout ----------------------------------------------------------


def basis(x: Any) -> Iterator[Any]:
    """Unit tangents for every element of x, one at a time, shaped (and typed) like x."""
    size = int(np.size(x))
    for j in range(size):
        e = np.zeros(size)
        e[j] = 1.0
        yield float(e[0]) if type(x) is float else e.reshape(np.shape(x))


def jacobian(columns: list, out_shape: tuple, in_shape: tuple, last: bool) -> Any:
    """Stack per-element derivatives into JAX's layout: output shape, then input shape."""
    if not columns:
        return np.zeros(out_shape + in_shape)
    # columns (forward mode) end in the input index; rows (reverse mode) start with the output's
    stacked = np.stack([np.asarray(c, dtype=float) for c in columns], axis=-1 if last else 0)
    if not out_shape + in_shape:
        return float(stacked.reshape(()))  # a scalar function of a scalar: a number
    return stacked.reshape(out_shape + in_shape)


# -- tuple outputs ------------------------------------------------------------------


def pieces(out: Any, who: str) -> list | None:
    """The items of a tuple or list output, or None for one array or number."""
    if not isinstance(out, (tuple, list)):
        return None
    for item in out:
        if isinstance(item, (tuple, list, dict)):
            raise TypeError(
                f"{who}: the function returns a {type(out).__name__} holding a "
                f"{type(item).__name__}; chainrule differentiates outputs that are one array "
                "or a flat tuple of arrays, so return the arrays side by side"
            )
    return list(out)


def repacked(out: Any, items: list) -> Any:
    """`items` in the container `out` came in: a list, a named tuple (svd's U, S, Vh) or
    a tuple."""
    if isinstance(out, list):
        return items
    if hasattr(type(out), "_fields"):
        return type(out)(*items)
    return tuple(items)


def zero_like(item: Any) -> Any:
    """A zero tangent or cotangent for one output item."""
    return 0.0 if type(item) is float else np.zeros(np.shape(item))


def seeds_for(items: list) -> Iterator[tuple[int, list]]:
    """(item index, one basis cotangent per item): every element of every item in turn,
    the other items' cotangents zero."""
    zeros = [zero_like(item) for item in items]
    for p, item in enumerate(items):
        for e in basis(item if type(item) is float else np.empty(np.shape(item))):
            seeds = list(zeros)
            seeds[p] = e
            yield p, seeds


def check_cotangent(cotangent: Any, out: Any) -> None:
    """A cotangent must have the output's structure: one array per item of a tuple output."""
    items = pieces(out, "vjp")
    if items is None:
        if np.shape(cotangent) != np.shape(out):
            raise ValueError(
                f"the cotangent has shape {np.shape(cotangent)} but the output has shape "
                f"{np.shape(out)}; pass an array shaped like the output"
            )
        return
    if not isinstance(cotangent, (tuple, list)) or len(cotangent) != len(items):
        raise ValueError(
            f"the output is a {type(out).__name__} of {len(items)} arrays; pass a tuple of "
            f"{len(items)} cotangents, one shaped like each (zeros for the ones you do not need)"
        )
    for k, (c, item) in enumerate(zip(cotangent, items)):
        if isinstance(c, (tuple, list, dict)) or np.shape(c) != np.shape(item):
            raise ValueError(
                f"cotangent {k} has shape {np.shape(c)} but output item {k} has shape "
                f"{np.shape(item)}; pass an array shaped like it"
            )


def returned_container(error: CompileError) -> str | None:
    """ "tuple" or "list" when `error` is the refusal of a function whose `return` gives a
    tuple or list display (normalize/statements.py), else None."""
    for kind in ("tuple", "list"):
        if error.message.startswith(f"the function returns a {kind};"):
            return kind
    return None


def forward_jacobians(jvp_code: Callable, args: list, argnums: tuple, who: str) -> tuple:
    """(output, Jacobians per output item and argnum) by forward mode: `jvp_code` (the
    generated forward-mode code) run once per element of each differentiated argument."""
    zeros = [zero_like(args[i]) for i in argnums]
    columns: list[list[list]] = []  # [argnum][input element][output item]
    out: Any = columns  # a placeholder until the first pass
    for k, i in enumerate(argnums):
        columns.append([])
        for e in basis(args[i]):
            tangents = list(zeros)
            tangents[k] = e
            out, t = jvp_code(*args, *tangents)
            items = pieces(out, who)
            ts, items = ([t], [out]) if items is None else (list(t), items)
            columns[k].append([np.broadcast_to(d, np.shape(y)) for d, y in zip(ts, items)])
    if out is columns:  # no input elements: the output from one pass with zero tangents
        out = jvp_code(*args, *zeros)[0]
    items = pieces(out, who) or [out]
    return out, [
        [
            jacobian([c[p] for c in columns[k]], np.shape(item), np.shape(args[i]), True)
            for k, i in enumerate(argnums)
        ]
        for p, item in enumerate(items)
    ]


def reverse_jacobians(vjp_code: Callable, args: list, argnums: tuple, who: str) -> tuple:
    """(output, Jacobians per output item and argnum) by reverse mode: one forward pass of
    `vjp_code` (the generated vjp code), one backward pass per output element."""
    out, backward = vjp_code(*args)
    items = pieces(out, who)
    single = items is None
    items = [out] if items is None else items
    rows: list[list[list]] = [[[] for _ in argnums] for _ in items]
    for p, seeds in seeds_for(items):
        grads = backward(seeds[0] if single else tuple(seeds))
        for k, i in enumerate(argnums):
            rows[p][k].append(np.broadcast_to(grads[k], np.shape(args[i])))
    return out, [
        [
            jacobian(rows[p][k], np.shape(item), np.shape(args[i]), last=False)
            for k, i in enumerate(argnums)
        ]
        for p, item in enumerate(items)
    ]


# -- wrapper functions chainrule writes and reads back --------------------------------


def _fresh(params: list[str], stem: str) -> str:
    name = stem
    while name in params:
        name += "_"
    return name


def wrapper(name: str, params: list[str], body: list[str], names: dict[str, Any]) -> Any:
    """A Python function `def name(params): body`, readable by parse.py."""
    source = f"def {name}({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body)
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]  # the same text, the same name
    filename = f"<chainrule wrapper {name} {digest}>"
    namespace: dict[str, Any] = {"__name__": WRAPPER_MODULE, **names}
    if "np" not in params:
        namespace.setdefault("np", np)  # the name generated code shares with the user's
    exec(compile(source, filename, "exec"), namespace)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return namespace[name]


def _name_of(f: Any) -> str:
    name = getattr(f, "__name__", "f")
    return name if name.isidentifier() and not name.startswith("<") else "f"


def packed(f: Callable, params: list[str], kind: str) -> Any:
    """`def f_packed(x, y): return tuple(f(x, y))` (or `list`): f's tuple output as one
    primitive's result, which every transformation passes through."""
    fn = _fresh(params, "_chainrule_f")
    call = f"{fn}({', '.join(params)})"
    return wrapper(f"{_name_of(f)}_{kind}", params, [f"return {kind}({call})"], {fn: f})


def contraction(f: Callable, params: list[str], count: int | None) -> Any:
    """`def f_contracted(x, y, ct): return np.sum(ct * f(x, y))` (one cotangent per item
    of a tuple output): its gradient is the vector-Jacobian product with `ct`."""
    fn, np_name, out = (_fresh(params, s) for s in ("_chainrule_f", "_chainrule_np", "_out"))
    call = f"{fn}({', '.join(params)})"
    if count is None:
        seeds = [_fresh(params, "_chainrule_seed")]
        body = [f"return {np_name}.sum({seeds[0]} * {call})"]
    else:
        seeds = [_fresh(params, f"_chainrule_seed{k}") for k in range(count)]
        terms = " + ".join(f"{np_name}.sum({s} * {out}[{k}])" for k, s in enumerate(seeds))
        body = [f"{out} = {call}", f"return {terms or '0.0'}"]
    return wrapper(f"{_name_of(f)}_contracted", params + seeds, body, {fn: f, np_name: np})


def column(f: Callable, params: list[str], argnum: int, jvp: Callable) -> Any:
    """`def f_column(x, y, seed): return jvp(f, (x, y), (seed, None))[1]`: the inner
    jacfwd's column along `seed`, for argument `argnum`."""
    fn, jvp_name, seed = (_fresh(params, s) for s in ("_chainrule_f", "_chainrule_jvp", "_seed"))
    tangents = ["None"] * len(params)
    tangents[argnum] = seed
    primals = "".join(f"{p}, " for p in params)
    body = [f"return {jvp_name}({fn}, ({primals}), ({', '.join(tangents)},))[1]"]
    return wrapper(f"{_name_of(f)}_column", params + [seed], body, {fn: f, jvp_name: jvp})


# -- a Jacobian of a Jacobian ------------------------------------------------------------


def inner_jacobian(f: Callable, who: str, jacobian_type: type, hessian_type: type) -> Any:
    """The jacfwd or jacrev (a `jacobian_type`) an outer Jacobian `who` differentiates
    (hessian(f), a `hessian_type`, is jacfwd(grad(f))), or None when f is not one."""
    inner: Any = f
    if isinstance(f, hessian_type):
        if f.as_tuple:  # type: ignore[attr-defined]
            raise CompileError(
                f"{who} of {f!r} with a tuple of argnums: differentiate one block at a time, "
                "jacfwd(jacrev(grad(f, argnums=i), argnums=j), argnums=k)"
            )
        inner = f.rows[f.argnums[0]]  # type: ignore[attr-defined]
    if not isinstance(inner, jacobian_type):
        return None
    if isinstance(inner.fun, (jacobian_type, hessian_type)):
        raise CompileError(
            f"{who} of {f!r}: chainrule composes two Jacobians (second derivatives) but "
            "not three; for a third derivative of a scalar function start from its "
            "gradient, e.g. jacfwd(jacrev(grad(f)))"
        )
    return inner


class SecondJacobian:
    """The outer Jacobian (`outer(function, argnums)`: jacfwd or jacrev) of an inner
    jacfwd or jacrev of f, with respect to `argnums` (see the module doc)."""

    def __init__(self, outer: Callable, inner: Any, argnums: tuple, makers: dict) -> None:
        self.outer = outer
        self.inner = inner
        self.argnums = argnums
        self.makers = makers  # "grad" and "jvp" of api.py
        self.f = inner.fun
        self._made: dict[Any, list] = {}  # output structure -> the outer Jacobian per inner argnum

    def first(self) -> Any:
        """The outer Jacobian of the first inner argnum, for a one-array output (what
        `.source` shows)."""
        return self._outer_for(None, "tuple")[0]

    def _outer_for(self, count: int | None, kind: str) -> list:
        """One outer Jacobian per inner argnum, for an output of `count` items (None: one
        array)."""
        made = self._made.get((count, kind))
        if made is None:
            f, params = self.f, parse_function(self.f).params
            if self.inner.mode == "jacrev":
                contracted = contraction(f, params, count)
                rows = [self.makers["grad"](contracted, argnums=a) for a in self.inner.argnums]
                made = [self.outer(row, argnums=self.argnums) for row in rows]
            else:
                g = f if count is None else packed(f, params, kind)
                jvp = self.makers["jvp"]
                made = [
                    self.outer(column(g, params, a, jvp), argnums=self.argnums)
                    for a in self.inner.argnums
                ]
            self._made[(count, kind)] = made
        return made

    def __call__(self, args: list, out: Any, outer_as_tuple: bool) -> Any:
        items = pieces(out, self.inner.mode)
        count = None if items is None else len(items)
        kind = "list" if isinstance(out, list) else "tuple"
        items = [out] if items is None else items
        made = self._outer_for(count, kind)
        # blocks[p][k][l]: output item p, inner argnum k, outer argnum l
        blocks: list[list[list]] = [[[] for _ in made] for _ in items]
        for k, (a, outer) in enumerate(zip(self.inner.argnums, made)):
            if self.inner.mode == "jacrev":
                rows: list[list[list]] = [[[] for _ in self.argnums] for _ in items]
                for p, seeds in seeds_for(items):
                    for l, block in enumerate(outer(*args, *seeds)):
                        rows[p][l].append(block)
                for p, item in enumerate(items):
                    blocks[p][k] = [
                        _shaped(r, np.shape(item), np.shape(args[a]), np.shape(args[b]), 0)
                        for r, b in zip(rows[p], self.argnums)
                    ]
            else:
                cols: list[list[list]] = [[[] for _ in self.argnums] for _ in items]
                for e in basis(args[a]):
                    result = outer(*args, e)
                    per_item = [result] if count is None else list(result)
                    for p, item_blocks in enumerate(per_item):
                        for l, block in enumerate(item_blocks):
                            cols[p][l].append(block)
                for p, item in enumerate(items):
                    blocks[p][k] = [
                        _shaped(c, np.shape(item), np.shape(args[a]), np.shape(args[b]), 1)
                        for c, b in zip(cols[p], self.argnums)
                    ]
        results = []
        for per_argnum in blocks:
            inner_level = [tuple(ls) if outer_as_tuple else ls[0] for ls in per_argnum]
            results.append(tuple(inner_level) if self.inner.as_tuple else inner_level[0])
        return results[0] if count is None else repacked(out, results)


def _shaped(blocks: list, out: tuple, inner: tuple, outer: tuple, where: int) -> Any:
    """Blocks stacked into output shape + inner argument's shape + outer argument's:
    rows (`where` 0: one per output element) or columns (1: one per inner element)."""
    shape = out + inner + outer
    if not blocks:
        return np.zeros(shape)
    arrays = [np.asarray(b, dtype=float) for b in blocks]
    if where == 0:
        stacked = np.stack([a.reshape(inner + outer) for a in arrays])
    else:
        stacked = np.stack([a.reshape(out + outer) for a in arrays], axis=len(out))
    if not shape:
        return float(stacked.reshape(()))
    return stacked.reshape(shape)
