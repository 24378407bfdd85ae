"""Aliasing: which values share memory, which arrays are fresh, which writes must restore.

In-place changes are differentiable only on arrays and lists the function
made itself, and only while no other live name sees the change.  Normalize
asks, for each assignment:

* `new_container(value, resolve)`: does the value build a new list (a
  display, `list(...)`, `[0.0] * n`) or a new array (arithmetic, which never
  returns an operand, or a constructor such as `np.zeros` or `x.copy()`)?
* `view_base(value, lists)`: which name's memory may the value share (a
  copy `y = x`, an element or a slice `x[i]`, a view `x.T`, `x.reshape(...)`)?

and after normalizing, `mark_restores` decides for each write `out[i] = v`
whether its adjoint must put the overwritten elements back.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import runtime
from .flow import value_loads
from .ir import ADD_AT, MISSING, SETITEM, facts, facts_of, name_of
from .runtime import zeros_like_list

# -- the table: what may return a view, what always returns a new array ----------------
#
# A NumPy function either always returns a new array (a ufunc without `out=`,
# arithmetic, a reduction, a constructor, np.stack...), or may return a view
# of (or the very object of) an argument (np.reshape, np.asarray, x.T...).
# Anything this table does not know (a SciPy function, a user's rule, a
# function added later) is assumed to share memory with each of its array
# arguments: a write into its result is refused, never guessed.

# attributes whose value shares memory with the array
VIEW_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "flat"})

# methods of ndarray whose result may share memory with the array
VIEW_METHODS = frozenset(
    {"reshape", "transpose", "ravel", "swapaxes", "squeeze", "view", "diagonal", "__array__"}
)

# methods of ndarray that always return a new array (or a scalar)
FRESH_METHODS = frozenset(
    {
        "copy",
        "sum",
        "mean",
        "prod",
        "max",
        "min",
        "std",
        "var",
        "cumsum",
        "cumprod",
        "dot",
        "clip",
        "round",
        "flatten",
        "repeat",
        "take",
        "conj",
        "conjugate",
        "argmax",
        "argmin",
        "all",
        "any",
        "trace",
        "tolist",
        "item",
        "nonzero",
        "argsort",
        "ptp",
        "__add__",
        "__mul__",
        "__sub__",
        "__truediv__",
        "__neg__",
        "__pow__",
        "__matmul__",
    }
)  # (`astype` too, unless it is given copy=False: see `_conditional_view`)


def view_functions() -> tuple:
    """NumPy functions whose result may share memory with an argument."""
    names = (
        "reshape ravel transpose swapaxes moveaxis rollaxis squeeze expand_dims flip fliplr "
        "flipud rot90 atleast_1d atleast_2d atleast_3d asarray asanyarray ascontiguousarray "
        "asfortranarray require split array_split hsplit vsplit dsplit broadcast_to "
        "broadcast_arrays diagonal real imag diag matrix_transpose permute_dims unstack "
        "einsum"
    ).split()
    return tuple(getattr(np, n) for n in names if hasattr(np, n))


def fresh_functions() -> tuple:
    """Functions that always return a new array (or a scalar), which may be written into."""
    names = (
        "zeros ones empty full zeros_like ones_like empty_like full_like copy array arange "
        "linspace logspace geomspace eye identity tri dot matmul vdot inner outer tensordot "
        "kron cross sum mean prod max min amax amin nansum nanmean std var average median "
        "cumsum cumprod where stack concatenate vstack hstack dstack column_stack row_stack "
        "block append clip sort tile repeat pad diff ediff1d trace tril triu take "
        "take_along_axis nan_to_num round around convolve correlate interp trapezoid trapz "
        "gradient select piecewise polyval meshgrid sign heaviside diag_indices tril_indices "
        "triu_indices indices"
    ).split()
    found = [getattr(np, n) for n in names if hasattr(np, n)]
    found.append(np.ndarray.copy)
    # runtime helpers of generated code that always return new arrays
    helpers = (
        "kept_writes index_grad take_grad matmul_grad_left matmul_grad_right dot_grad_left "
        "dot_grad_right tensordot_grad_left tensordot_grad_right inner_grad_left "
        "inner_grad_right select_grad reduce_extreme_grad prod_grad cumprod_grad "
        "unpack_grad power_term seed_gradient zeros_like_item"
    )
    found.extend(getattr(runtime, n) for n in helpers.split() if hasattr(runtime, n))
    linalg = "inv solve det slogdet norm pinv cholesky qr svd eigh eigvalsh lstsq matrix_power"
    found.extend(getattr(np.linalg, n) for n in linalg.split() if hasattr(np.linalg, n))
    return tuple(found)


PASS_THROUGH = (runtime.unbroadcast,)  # see passed_through
VIEW_FUNCTIONS = view_functions()  # (listed for the docs and tests: unknown is a view too)
_SCALAR = (np.shape, np.size, np.ndim)
FRESH_FUNCTIONS = fresh_functions()


def _is(callee: Any, table: tuple) -> bool:
    return any(callee is c for c in table)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _conditional_view(call: ast.Call, callee: Any) -> bool | None:
    """np.array(x, copy=False/None) and x.astype(t, copy=False) may return x itself;
    with the default (copy=True) they make a new array.  None: not such a call."""
    is_astype = isinstance(call.func, ast.Attribute) and call.func.attr == "astype"
    if callee is not np.array and not is_astype:
        return None
    copy = _keyword(call, "copy")
    if copy is None and callee is np.array and len(call.args) >= 3:
        copy = call.args[2]  # np.array(object, dtype, copy)
    if copy is None:
        return False
    return not (isinstance(copy, ast.Constant) and copy.value is True)


def new_container(value: ast.expr, resolve: Callable[[ast.expr], Any]) -> str | None:
    """ "list" or "array" when `value` surely makes a new one, else None.

    `resolve` maps a name or a dotted chain to the object it denotes
    (ir.Parsed.resolve).
    """
    if (
        isinstance(value, ast.List)
        or (
            isinstance(value, ast.Call)
            and resolve(value.func) in (list, zeros_like_list, runtime.add_lists)
        )
        or (  # [0.0] * n
            isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Mult)
            and isinstance(value.left, ast.List)
        )
    ):
        return "list"
    if isinstance(value, (ast.BinOp, ast.Compare)) or (
        isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd, ast.Not))
    ):
        return "array"  # arithmetic on arrays always makes a new array
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    callee = resolve(func)
    view = _conditional_view(value, callee)
    if view is not None:
        return None if view else "array"
    if callee is MISSING:
        if isinstance(func, ast.Attribute) and func.attr in FRESH_METHODS:
            return "array"
        return None
    if isinstance(callee, np.ufunc):
        return None if _keyword(value, "out") is not None else "array"
    if _is(callee, FRESH_FUNCTIONS) and _keyword(value, "out") is None:
        return "array"
    return None


# Full reductions: with one argument and no keywords they return a NumPy scalar, which
# cannot change in place (`s += 1` makes a new object, as for a Python float).
SCALAR_REDUCTIONS = (
    np.sum,
    np.mean,
    np.prod,
    np.max,
    np.min,
    np.amax,
    np.amin,
    np.std,
    np.var,
    np.median,
    np.vdot,
    np.linalg.norm,
)
SCALAR_METHODS = frozenset({"sum", "mean", "prod", "max", "min", "std", "var"})


def immutable_scalar(
    value: ast.expr, resolve: Callable[[ast.expr], Any], known: Callable[[str], bool]
) -> bool:
    """Whether `value` is surely a number (a Python or NumPy scalar), never an array.

    `known(name)` says whether a name holds such a number.  Numbers have no memory
    to share: an in-place operator on one rebinds the name.
    """
    if isinstance(value, ast.Constant):
        return isinstance(value.value, (int, float)) and not isinstance(value.value, bool)
    if isinstance(value, ast.Name):
        return known(value.id)
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)):
        return immutable_scalar(value.operand, resolve, known)
    if isinstance(value, ast.BinOp):
        return immutable_scalar(value.left, resolve, known) and immutable_scalar(
            value.right, resolve, known
        )
    if not isinstance(value, ast.Call) or value.keywords:
        return False
    func = value.func
    callee = resolve(func)
    if _is(callee, (float, int, len)):
        return True
    if callee is MISSING:  # x.sum(), x.item()
        return (
            isinstance(func, ast.Attribute)
            and not value.args
            and (func.attr in SCALAR_METHODS or func.attr == "item")
        )
    if _is(callee, SCALAR_REDUCTIONS):
        return len(value.args) == (2 if callee is np.vdot else 1)
    if isinstance(callee, np.ufunc):
        return all(immutable_scalar(a, resolve, known) for a in value.args)
    return False


def _fancy(index: ast.expr) -> bool:
    """Is the index a literal list of positions (`x[[0, 2]]`, `x[[0, 1], [1, 1]]`)?  Such
    an index always copies (NumPy's advanced indexing)."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    return any(isinstance(p, ast.List) for p in parts)


def passed_through(value: ast.expr, resolve: Callable[[ast.expr], Any]) -> ast.expr | None:
    """The argument a call returns itself or a new array made from (gradient code's
    `unbroadcast(g, x)` is g when the shapes already agree), else None.  Such a result
    shares g's memory and nothing else's, and is as fresh as g."""
    if (
        isinstance(value, ast.Call)
        and value.args
        and not value.keywords
        and _is(resolve(value.func), PASS_THROUGH)
    ):
        return value.args[0]
    return None


_NEW_RESULTS: dict[Any, bool] = {}  # code object -> returns_new_array


def returns_new_array(func: Any) -> bool:
    """Whether every `return` of a Python function of the user's (a def or a lambda)
    gives a value the table says is new (arithmetic, a ufunc, a constructor...).  A
    call of it that chainrule runs as it is (its arguments are not differentiated)
    then shares no memory with them.  False when the source cannot be read."""
    code = getattr(func, "__code__", None)
    if not isinstance(func, types.FunctionType) or code is None:
        return False
    if code not in _NEW_RESULTS:
        _NEW_RESULTS[code] = _returns_new_array(func)
    return _NEW_RESULTS[code]


def _returns_new_array(func: types.FunctionType) -> bool:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    if func.__name__ == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        if len(lambdas) != 1:
            return False
        node: ast.AST = lambdas[0]
        returned = [lambdas[0].body]
    else:
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        if len(defs) != 1 or defs[0].name != func.__name__:
            return False
        node = defs[0]
        returned = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
    if not returned or any(r is None for r in returned):
        return False
    local = {n.arg for n in ast.walk(node) if isinstance(n, ast.arg)}
    local |= {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    namespace = func.__globals__

    def resolve(expr: ast.expr) -> Any:
        if isinstance(expr, ast.Name):
            if expr.id in local:
                return MISSING
            if expr.id in namespace:
                return namespace[expr.id]
            return getattr(builtins, expr.id, MISSING)
        if isinstance(expr, ast.Attribute):
            base = resolve(expr.value)
            return MISSING if base is MISSING else getattr(base, expr.attr, MISSING)
        return MISSING

    return all(new_container(r, resolve) == "array" for r in returned)  # type: ignore[arg-type]


def view_bases(
    value: ast.expr, lists: set[str], resolve: Callable[[ast.expr], Any] | None = None
) -> set[str]:
    """The names whose memory `value` (a normalized operation) may share.

    `lists`: the lists made in the function (a list given to a function is read, not
    returned).  A call the table does not know may share memory with each name it is given.
    """
    if isinstance(value, ast.Name):
        return {value.id}
    if isinstance(value, ast.Subscript):  # a view, or an item a list holds a reference to
        if isinstance(value.value, ast.Name) and not (
            value.value.id not in lists and _fancy(value.slice)
        ):
            return {value.value.id}
        if not isinstance(value.value, ast.Name) and not _fancy(value.slice):
            return view_bases(value.value, lists, resolve)  # np.split(y, 3)[0]: a view of y
        return set()
    if isinstance(value, ast.Attribute):
        if value.attr not in VIEW_ATTRIBUTES:
            return set()
        if isinstance(value.value, ast.Name):
            return {value.value.id}
        return view_bases(value.value, lists, resolve)  # np.reshape(y, s).T
    if isinstance(value, ast.IfExp):
        return view_bases(value.body, lists, resolve) | view_bases(value.orelse, lists, resolve)
    if not isinstance(value, ast.Call):
        return set()  # arithmetic, comparisons, constants: new values
    if resolve is not None:
        if new_container(value, resolve) is not None:
            return set()
        callee = resolve(value.func)
        if getattr(callee, "__module__", None) == "builtins" or _is(callee, _SCALAR):
            return set()  # len, int, float, abs, np.shape...: no array memory
        if passed_through(value, resolve) is not None:
            return view_bases(value.args[0], lists, resolve)
        if returns_new_array(callee):  # a helper of the user's run as it is
            return set()
    parts = [*value.args, *(k.value for k in value.keywords)]
    called = {  # a function called inside an argument holds no array: `g(h(x))`'s h,
        # `g(np.full(...))`'s np (but `g(y.reshape(3))`'s y is an array, a method's owner)
        id(f)
        for a in parts
        for n in ast.walk(a)
        if isinstance(n, ast.Call)
        and (
            isinstance(n.func, ast.Name) or (resolve is not None and resolve(n.func) is not MISSING)
        )
        for f in ast.walk(n.func)
        if isinstance(f, ast.Name)
    }
    names = {  # (a function called inside an argument holds no array)
        n.id
        for a in parts
        for n in ast.walk(a)
        if isinstance(n, ast.Name) and n.id not in lists and id(n) not in called
    }
    func = value.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        callee = resolve(func) if resolve is not None else MISSING
        if callee is MISSING:  # a method of a local array
            if func.attr in FRESH_METHODS:
                return set()
            return {func.value.id} | names
    return names


def mark_restores(
    body: list[ast.stmt],
    roots_of: Callable[[str], frozenset[str]],
    fresh: Callable[[str], bool] = lambda name: False,
) -> None:
    """Decide, for each write `out[i] = v`, whether its adjoint must put the old value back.

    Only statements that can run before the write (earlier in the function, or
    anywhere in a loop that contains it) can need the array as it was.  If
    none of them reads the array or a view of it (`roots_of` maps a name to the
    value whose memory it shares), the save and the restore are skipped: a
    convolution that fills `out` and only then pools it needs neither.
    """
    order: list[tuple[ast.stmt, tuple[int, ...]]] = []

    def walk(stmts: list[ast.stmt], loops: tuple[int, ...]) -> None:
        for stmt in stmts:
            order.append((stmt, loops))
            if isinstance(stmt, ast.If):
                walk(stmt.body, loops)
                walk(stmt.orelse, loops)
            elif isinstance(stmt, (ast.For, ast.While)):
                walk(stmt.body, (*loops, id(stmt)))

    walk(body, ())
    # `out = <computed array>` in a loop (not a copy of another name; a computation, or
    # a constructor such as `np.zeros((3,))`, `fresh`): SSA names are
    # assigned once, so a write into that name in the same loop, after it, writes into
    # each iteration's own array
    made_in_loop: dict[str, tuple[int, tuple[int, ...]]] = {}
    for k, (sub, sub_loops) in enumerate(order):
        if (
            sub_loops
            and isinstance(sub, ast.Assign)
            and isinstance(sub.targets[0], ast.Name)
            and (facts_of(sub).prim is not None or fresh(sub.targets[0].id))
            and not isinstance(sub.value, ast.Name)
        ):
            made_in_loop[sub.targets[0].id] = (k, sub_loops)

    def reads(stmt: ast.stmt) -> set[str]:
        parts = (
            [stmt.test]
            if isinstance(stmt, (ast.If, ast.While))
            else ([stmt.iter] if isinstance(stmt, ast.For) else [stmt])
        )
        names = set()
        for part in parts:  # (a read of the shape only, `range(out.shape[0])`, needs no values)
            for _, name in value_loads(part):
                names |= roots_of(name)
        return names

    for position, (stmt, loops) in enumerate(order):
        record = facts_of(stmt)
        if record.prim not in (SETITEM, ADD_AT):
            continue
        array = roots_of(name_of(record.args[0]))
        made = made_in_loop.get(name_of(record.args[0]))
        # made afresh in a loop around the write (perhaps with loops in between, which
        # run within one iteration of the loop that makes it)
        fresh_here = made is not None and made[0] < position and loops[: len(made[1])] == made[1]
        inner = set(loops[len(made[1]) :]) if fresh_here else set()  # type: ignore[index]
        needed = False
        for other_position, (other, other_loops) in enumerate(order):
            other_facts = facts_of(other)
            if other is stmt or other_facts.saves_old:
                continue  # (the copy of the overwritten element is not a use)
            if fresh_here and (
                other_position < made[0]  # type: ignore[index]
                or (other_position > position and not inner & set(other_loops))
                or other_facts.prim in (SETITEM, ADD_AT)
            ):
                # reads another iteration's array (before it is made, or after the write
                # outside the loops it shares with it: the next iteration makes a new one),
                # or only stores into it
                continue
            if other_facts.prim is SETITEM and other_position > position:
                continue
            shares_loop = bool(set(loops) & set(other_loops))
            if (other_position < position or shares_loop) and array & reads(other):
                if other_facts.prim is SETITEM and not shares_loop:
                    continue  # an earlier write only stores into the array
                needed = True
                break
        facts(stmt).restore = needed


IN_PLACE_METHODS = frozenset("sort fill put itemset resize partition setfield".split())


def changes_in_place(node: ast.AST) -> bool:
    """Whether a function's code may change an array in place: an augmented assignment,
    an assignment into an item, np.add.at (any `.at`), np.fill_diagonal, an `out=`
    argument, or an
    in-place method.  (Its calls of other functions are not followed.)"""
    for n in ast.walk(node):
        if isinstance(n, ast.AugAssign):
            return True
        if isinstance(n, (ast.Assign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(isinstance(t, ast.Subscript) for tgt in targets for t in ast.walk(tgt)):
                return True
        if isinstance(n, ast.Call):
            if any(k.arg == "out" for k in n.keywords):
                return True
            if isinstance(n.func, ast.Attribute) and (
                n.func.attr in ("at", "fill_diagonal") or n.func.attr in IN_PLACE_METHODS
            ):
                return True
            if isinstance(n.func, ast.Name) and n.func.id == "fill_diagonal":
                return True
    return False
