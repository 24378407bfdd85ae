"""The patterns of Tangent's test-function corpus, as chainrule test cases (a measurement).

google/tangent's ``tests/functions.py`` is a corpus of small functions that
its tests differentiate (grad, forward mode, reverse over reverse).  Each case
below is my own function with the same *pattern* (no code is copied); the
name of the Tangent function it stands for is given with it.  Functions that
use TensorFlow or Tangent's own API (``tfe_*``, ``tangent.trace``,
``insert_grad_of``, ``tangent.Stack``/``push``/``pop``) are out of scope.
Cases for issue 15's own subset items (function arguments, ``hs = [x]``)
follow at the end.

For every case and every input point it records, with finite differences as
the reference (autograd breaks ties where the function is not smooth):

- ``grad``: ``grad(f, argnums=<differentiable args>)``;
- ``jvp``: ``jvp`` along random tangents (arrays and floats only);
- ``grad∘grad``: ``grad(grad(f))`` for functions of a scalar (Tangent's
  reverse-over-reverse tests), and ``hessian`` for functions of a vector;
- ``vjp`` for functions with a tuple output.

Each cell is ``ok``, ``refused: <message>``, ``wrong`` or ``crash``.

    python tools/tangent_patterns.py > tangent.md
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import traceback
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr

warnings.simplefilter("ignore")
np.seterr(all="ignore")


@dataclass
class Case:
    fn: Callable
    pattern: str
    tangent: str  # the Tangent function this case stands for
    points: list  # argument tuples
    wrt: tuple  # differentiated argument positions
    modes: tuple
    note: str = ""
    results: dict = field(default_factory=dict)


CASES: list[Case] = []
SCALARS = [(-1.5,), (-0.4,), (0.3,), (2.0,)]
PAIRS = [(-1.5, 0.7), (0.4, -0.8), (2.0, 1.3)]
TRIPLES = [(-1.2, 0.6, 0.9), (0.5, 2.0, -0.3)]
RNG = np.random.default_rng(3)
VECTORS = [(RNG.normal(size=3),), (RNG.normal(size=5),)]


def case(
    pattern: str, tangent: str, points: list, wrt: tuple = (0,), modes: tuple = (), note: str = ""
) -> Callable:
    """Register a case; modes default to grad, jvp and a second-order check."""

    def register(fn: Callable) -> Callable:
        CASES.append(
            Case(fn, pattern, tangent, points, wrt, modes or ("grad", "jvp", "second"), note)
        )
        return fn

    return register


# -- straight-line scalar code -------------------------------------------------------


@case("straight-line", "id_", SCALARS)
def same(a):
    return a


@case("straight-line", "unary_sub", SCALARS)
def negated(a):
    return -a


@case("straight-line", "increment", SCALARS)
def plus_one(a):
    return a + 1


@case("straight-line", "identity_assign", SCALARS)
def alias(a):
    alias_of_a = a
    return alias_of_a


@case("straight-line", "saxpy", TRIPLES, (0, 1, 2))
def fma(a, b, c):
    return a * b + c


@case("straight-line", "mul", PAIRS, (0, 1))
def times(a, b):
    return a * b


@case("straight-line", "add", PAIRS, (0, 1))
def plus(a, b):
    return a + b


@case("straight-line", "saxpy_anf", TRIPLES, (0, 1, 2))
def fma_steps(a, b, c):
    product = a * b
    total = product + c
    return total


@case("straight-line", "saxpy_overwrite", TRIPLES, (0, 1, 2))
def fma_reuse(a, b, c):
    t = a * b
    t = t + c
    return t


@case("straight-line", "gradname_aliasing", SCALARS)
def named_like_gradient(a):
    da = a * a  # a local named like chainrule's gradient of a
    return da


@case("straight-line", "overwrite_arg", SCALARS)
def rebind_arg(a):
    a = a * 2.5
    return a


@case("straight-line", "overwrite_non_arg", SCALARS)
def rebind_local(a):
    k = a
    k = k * 2.5
    return k


@case("straight-line", "augassign", SCALARS)
def aug_square(a):
    s = a * a
    s *= s
    return s


@case("straight-line", "third_pow", SCALARS)
def cube_by_products(a):
    return a * a * a


@case("straight-line", "direct_third_pow", SCALARS)
def cube_by_power(a):
    return a**3


@case("straight-line", "gradgrad_pow_twice", SCALARS)
def fourth_power_steps(a):
    a = a * a
    y = a * a
    return y


@case("straight-line", "gradgrad_chain_of_mults", SCALARS)
def eighth_power_chain(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


# binary operators with constants and with the same operand twice (test_binop_*)
@case("operators", "test_binop_mul1", SCALARS)
def mul_const_right(a):
    return a * 2.5


@case("operators", "test_binop_mul2", SCALARS)
def mul_const_left(a):
    return 2.5 * a


@case("operators", "test_binop_mul3", SCALARS)
def mul_self(a):
    return a * a


@case("operators", "test_binop_div1", SCALARS)
def div_const_right(a):
    return a / 2.5


@case("operators", "test_binop_div2", SCALARS)
def div_const_left(a):
    return 2.5 / a


@case("operators", "test_binop_div3", SCALARS)
def div_self(a):
    return a / a


@case("operators", "test_binop_sub1", SCALARS)
def sub_const_right(a):
    return a - 2.5


@case("operators", "test_binop_sub2", SCALARS)
def sub_const_left(a):
    return 2.5 - a


@case("operators", "test_binop_sub3", SCALARS)
def sub_self(a):
    return a - a


@case("operators", "test_binop_add1", SCALARS)
def add_const_right(a):
    return a + 2.5


@case("operators", "test_binop_add2", SCALARS)
def add_const_left(a):
    return 2.5 + a


@case("operators", "test_binop_add3", SCALARS)
def add_self(a):
    return a + a


@case("operators", "fn_multiply", SCALARS)
def np_times_const(a):
    return np.multiply(a, 2.5)


# -- branches --------------------------------------------------------------------------


@case("if", "overwrite_if", SCALARS)
def branch_scale(a):
    if a > 0:
        a = a * 2.5
    else:
        a = a * 1.5
    return a


@case("if", "nested_if", SCALARS + [(12.0,)])
def branch_nested(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 2.5 * a
    return a


@case("if", "multiarg_if", SCALARS + [(5.0,)])
def branch_tangle(a):
    if a * a / 2.0 > 0:
        k = 2.0
    else:
        k = 5.0
    a = a * k
    if a < k - a * k:
        a = a * a
    elif a > k + 2.0 * a:
        if a / 3.0 < 0:
            a = a / k
        else:
            a = a * k
    else:
        a = -a
    return a


@case("if", "serial_if", SCALARS)
def branch_serial(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 2.5 * a
    return a


@case("if", "multivar_if", PAIRS, (0, 1))
def branch_two_args(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


@case("if", "devilish_nested_if", SCALARS + [(4.0,)])
def branch_nested_else(a):
    if a > 0:
        a = a * 2.5
        if a < 8:
            a = a * a
        else:
            a = a * 1.5
    return a


@case("if", "overwrite_ifelse", SCALARS)
def branch_elif(a):
    if a > 0:
        a = a * 2.5
    elif 0 > a:
        a = a * 1.5
    else:
        a = 1.0 * a
    return a


@case("if", "numpy_sqrt", SCALARS)
def branch_sqrt(a):
    if a >= 0:
        r = np.sqrt(a)
    else:
        r = np.sqrt(-a)
    return r


@case("if", "gradgrad_pow", [(1.5, 2.5), (-0.8, 1.7), (0.6, 3.0)], (0, 1))
def branch_power(a, b):
    if a >= 0:
        a = a**b
    else:
        a = (-a) ** b
    return a


@case("if", "if_mul_with_call", PAIRS, (0, 1))
def branch_calls(a, b):
    if a > b:
        out = product_of(a, b)
    else:
        out = product_of(b, a)
    return out


# -- for loops ------------------------------------------------------------------------


@case("for", "serial_for", [(0.9, 1), (1.1, 2), (-0.7, 3)])
def loops_in_a_row(a, n):
    for _ in range(n):
        a = a * a
    a = 1.5 * a
    for _ in range(n + 1):
        a = a * 2.0
    return a


@case("for", "serial_ifthenfor", [(0.9, 1), (-0.7, 2), (1.1, 3)])
def branch_then_loop(a, n):
    if a > 0:
        a = a * a
    a = 1.5 * a
    for _ in range(n):
        a = a * a
    return a


@case("for", "serial_forthenif", [(0.9, 1), (-0.7, 2), (1.1, 3)])
def loop_then_branch(a, n):
    for _ in range(n):
        a = a * a
    a = 1.5 * a
    if a > 0:
        a = a * a
    return a


@case("for", "iter_third_pow1", SCALARS)
def cube_loop_from_one(a):
    acc = 1
    for _ in range(3):
        acc = acc * a
    return acc


@case("for", "iter_third_pow2", SCALARS)
def cube_loop_from_a(a):
    acc = a
    for _ in range(3 - 1):
        acc = acc * a
    return acc


@case("for", "iterpower_static", [(0.9,), (-1.1,), (0.5,)])
def square_three_times(a):
    for _ in range(3):
        a = a * a
    return a


@case("for", "iterpower", [(0.9, 1), (-1.1, 2), (0.95, 3)])
def square_n_times(a, n):
    for _ in range(n):
        a = a * a
    return a


@case("for", "cond_iterpower1", [(0.9,), (3.0,), (25.0,)])
def square_while_small(a):
    for _ in range(3):
        if a < 20:
            a = a * a
    return a


@case("for", "cond_iterpower2", [(0.9,), (25.0,)])
def square_if_small(a):
    if a < 20:
        for _ in range(3):
            a = a * a
    return a


@case("for", "superfor_iterpower", [(0.99,), (-1.01,)])
def nested_loops(a):
    for _ in range(2):
        for _ in range(3):
            a = a * a
    return a


@case("for", "super_iterpower", [(0.9,), (-1.05,)])
def loop_of_triple_products(a):
    for _ in range(3):
        a = a * a * a
    return a


@case("for", "iterpower_with_call", [(0.9, 1), (-1.1, 3)])
def loop_calling(a, n):
    for _ in range(n):
        a = product_of(a, a)
    return a


@case("for", "test_implicit_indexing", VECTORS)
def loop_over_elements(x):
    total = 0.0
    for v in x:
        total += v
    return total


@case("while", "while_big", [(3.0,), (-7.0,), (0.05,)])
def halve_until_small(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


# -- calls --------------------------------------------------------------------------


def product_of(a, b):
    return a * b


def sum_of(a, b):
    return a + b


@case("calls", "saxpy_call", TRIPLES, (0, 1, 2))
def fma_by_calls(a, b, c):
    return sum_of(product_of(a, b), c)


@case("calls", "mul_with_call", PAIRS, (0, 1))
def one_call(a, b):
    return product_of(a, b)


@case("calls", "nested_call", PAIRS, (0, 1))
def call_of_call(a, b):
    return one_call(a, b)


@case("calls", "gradgrad_chain_of_multcalls", SCALARS)
def eighth_power_calls(a):
    b = product_of(a, a)
    c = product_of(b, b)
    d = product_of(c, c)
    return d


@case("nested def", "iterpower_with_nested_def", [(0.9, 1), (-1.1, 2)])
def loop_calling_local_def(a, n):
    def scale(u, v):
        return u * v

    for _ in range(n):
        a = scale(a, a)
    return a


# -- NumPy ----------------------------------------------------------------------------


@case("numpy", "sum_ / numpy_sum", VECTORS)
def total(x):
    return np.sum(x)


@case("numpy", "numpy_mean", VECTORS)
def average(x):
    return np.mean(x)


@case("numpy", "cast_sum_", VECTORS)
def total_of_array_copy(x):
    return np.sum(np.array(x))


@case("numpy", "overwrite_call", VECTORS)
def rebind_to_sum(x):
    x = np.sum(x)
    x = x * x
    return x


@case("numpy", "slicing", VECTORS)
def total_of_tail(x):
    return np.sum(x[1:])


@case("numpy", "extended_slice", VECTORS)
def every_other_as_column(x):
    return np.sum(x[::2, np.newaxis] * np.ones(2))


@case("numpy", "test_subscript1", VECTORS)
def first_times_second(x):
    u = x[0]
    v = x[1]
    return u * v


@case("numpy", "numpy_atleast_1d", SCALARS)
def at_least_1d(a):
    return np.sum(np.atleast_1d(a))


@case("numpy", "numpy_atleast_2d", VECTORS)
def at_least_2d(x):
    return np.sum(np.atleast_2d(x) * 2.0)


@case("numpy", "numpy_atleast_3d", VECTORS)
def at_least_3d(x):
    return np.sum(np.atleast_3d(x) * 2.0)


@case("numpy", "numpy_exp", SCALARS)
def np_exp(a):
    return np.exp(a)


@case("numpy", "numpy_exp2", [(-1.0,), (0.3,), (1.2,)])
def np_exp_exp(a):
    return np.exp(np.exp(a))


@case("numpy", "numpy_cos", SCALARS)
def np_cos(a):
    return np.cos(a)


@case("numpy", "numpy_sin", SCALARS)
def np_sin(a):
    return np.sin(a)


@case("numpy", "numpy_tan", [(-1.2,), (0.3,), (1.0,)])
def np_tan(a):
    return np.tan(a)


@case("numpy", "numpy_cosh", SCALARS)
def np_cosh(a):
    return np.cosh(a)


@case("numpy", "numpy_sinh", SCALARS)
def np_sinh(a):
    return np.sinh(a)


@case("numpy", "numpy_tanh / tanh", SCALARS)
def np_tanh(a):
    return np.tanh(a)


@case("numpy", "numpy_arccos", [(-0.7,), (0.2,), (0.9,)])
def np_arccos(a):
    return np.arccos(a)


@case("numpy", "numpy_arcsin", [(-0.7,), (0.2,), (0.9,)])
def np_arcsin(a):
    return np.arcsin(a)


@case("numpy", "numpy_arctan", SCALARS)
def np_arctan(a):
    return np.arctan(a)


@case("numpy", "det", [(RNG.normal(size=(1, 1)),), (RNG.normal(size=(4, 4)),)])
def determinant(m):
    return np.linalg.det(m)


@case(
    "numpy",
    "logistic_regression",
    [(RNG.random(3), np.eye(4)[1], RNG.normal(size=(3, 4)), RNG.normal(size=4))],
    (2, 3),
)
def logistic_loss(features, onehot, W, b):
    logits = np.dot(features, W) + b
    p = 0.5 * (np.tanh(logits) + 1)
    likelihood = p * onehot + (1 - p) * (1 - onehot)
    return -np.sum(np.log(likelihood))


@case(
    "numpy",
    "bilinear",
    [
        (
            RNG.normal(size=(1, 3)),
            RNG.normal(size=(1, 3)),
            RNG.normal(size=(3, 3)),
            RNG.normal(size=(3, 3)),
            RNG.normal(size=(1, 3)),
        )
    ],
    (0,),
)
def two_input_layer(x, h, U, W, b):
    z = np.dot(x, W)
    z = z + np.dot(h, U)
    z = z + b
    z = np.tanh(z)
    return np.sum(z)


# -- writes into arrays ---------------------------------------------------------------


@case("writes into an argument", "test_subscript2", VECTORS)
def write_product_into_arg(x):
    u = x[0]
    v = x[1]
    x[0] = u * v
    return np.sum(x)


@case("writes into an argument", "test_subscript3", VECTORS)
def write_from_squares_into_arg(x):
    sq = x**2.0
    x[0] = sq[1] * sq[2]
    return np.sum(x * sq)


@case("writes into a local array", "active_subscript", VECTORS)
def copy_elementwise(x):
    out = np.zeros_like(x)
    for i in range(len(x)):
        out[i] = x[i]
    return np.sum(out)


@case("writes into a local array", "init_array_grad_maybe_active", VECTORS)
def broadcast_rows(x):
    table = np.zeros((len(x), 2))
    for t in range(len(table)):
        table[t] = x[t]
    return np.sum(table)


@case(
    "writes into a local array", "rnn", [(RNG.normal(size=(3, 2)), RNG.normal(size=(2, 3)))], (0, 1)
)
def linear_recurrence(inputs, W):
    states = np.zeros((4, 3))
    for t in range(3):
        states[t + 1] = np.dot(inputs[t], W) + states[t]
    return np.sum(states[1:])


# -- lists and tuples of differentiated values -------------------------------------------


@case("list display", "test_anf_list", SCALARS)
def list_with_square(a):
    items = [1, a * a, 2]
    return np.sum(items)


@case("list display", "test_deep_anf_list", VECTORS)
def list_with_triple_product(x):
    items = [1, x[0] * x[1] * x[2], 3]
    return np.sum(items)


@case("list display", "test_list_and_subscript", SCALARS)
def list_then_index(a):
    items = [2.0, a, 3.0]
    return items[0] * items[1]


@case("list display", "listcomp", VECTORS)
def comprehension_sum(x):
    return np.sum([3 * v for v in x])


@case("tuple output", "fn_multiple_return", SCALARS, modes=("vjp", "jacrev", "jacfwd"))
def pair_out(a):
    return 3 * a, a


@case("tuple output", "cart2polar", PAIRS, (0, 1), modes=("vjp", "jacrev", "jacfwd"))
def to_polar(a, b):
    r = np.sqrt(a**2.0 + b**2.0)
    theta = np.arctan2(b, a)
    return r, theta


@case(
    "run-time index into a tuple",
    "passthru_pack",
    [(0.5, -1.2, 2.0, 0), (0.5, -1.2, 2.0, 1), (0.5, -1.2, 2.0, 2)],
    (0, 1, 2),
)
def pick_from_tuple(a, b, c, i):
    packed = a, b, c
    return packed[i]


@case("containers", "unpacking_args_saxpy", [((0.5, -1.2, 2.0),)], modes=("grad",))
def fma_from_tuple(abc):
    a, b, c = abc
    return a * b + c


@case("containers", "passthru_unpack", [((0.5, -1.2, 2.0),)], modes=("grad",))
def first_of_tuple(abc):
    a, b, c = abc
    return a


@case("containers", "dict_saxpy", [({"a": 0.5, "b": -1.2, "c": 2.0},)], modes=("grad",))
def fma_from_dict(d):
    return d["a"] * d["b"] + d["c"]


@case("containers", "dict_wrapper", [((0.5, -1.2, 2.0),)], modes=("grad",))
def fma_via_dict_call(abc):
    a, b, c = abc
    return fma_from_dict(dict(a=a, b=b, c=c))


@case("containers", "nested_dict", [({"i": {"j": 0.5, "k": -1.2}},)], modes=("grad",))
def product_from_nested_dict(p):
    return p["i"]["j"] * p["i"]["k"]


# -- issue 15's own subset items ---------------------------------------------------------


def decay(y):
    return -0.5 * y


def rk4(rhs, y0, dt, n):
    y = y0
    for _ in range(n):
        k1 = rhs(y)
        k2 = rhs(y + 0.5 * dt * k1)
        k3 = rhs(y + 0.5 * dt * k2)
        k4 = rhs(y + dt * k3)
        y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


@case("function argument (issue 15)", "(issue 15: rk4(f, y0, dt, n))", [(1.3,), (-0.4,)])
def integrate_decay(y0):
    return rk4(decay, y0, 0.1, 5)


@case("function argument (issue 15)", "(issue 15: a lambda argument)", [(1.3,), (-0.4,)])
def integrate_lambda(y0):
    return rk4(lambda y: np.sin(y), y0, 0.1, 3)


@case("list display (issue 15)", "(issue 15: hs = [x] then append)", VECTORS)
def history_from_list(x):
    hs = [x]
    for _ in range(2):
        hs.append(np.tanh(hs[-1]))
    return np.sum(hs[-1])


@case(
    "run-time index into a list (issue 15)",
    "(issue 15: list of same-shaped arrays)",
    [(RNG.normal(size=3), 1)],
    (0,),
)
def pick_from_list(x, i):
    options = [x, 2.0 * x, x * x]
    return np.sum(options[i])


# -- checking ---------------------------------------------------------------------------

EPS = 1e-6


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout("took longer than 60 s")


def _run(thunk: Callable) -> tuple[Any, str | None]:
    signal.alarm(60)
    try:
        return thunk(), None
    except cr.CompileError as exc:
        first = (exc.message or str(exc)).splitlines()[0]
        where = f" [{os.path.basename(exc.filename)}:{exc.lineno}]" if exc.lineno else ""
        if "chainrule bug" in first:
            return None, "crash: " + first[:200] + where
        return None, "refused: " + first[:200] + where
    except Exception as exc:  # noqa: BLE001
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return None, (
            f"crash: {type(exc).__name__}: {str(exc).splitlines()[0][:160]} "
            f"[{os.path.basename(tb.filename)}:{tb.lineno}]"
        )
    finally:
        signal.alarm(0)


def _leaves(t: Any) -> list:
    if isinstance(t, dict):
        return [v for k in sorted(t) for v in _leaves(t[k])]
    if isinstance(t, (tuple, list)):
        return [v for u in t for v in _leaves(u)]
    return [t]


def _rebuild(t: Any, it: Any) -> Any:
    if isinstance(t, dict):
        return {k: _rebuild(t[k], it) for k in sorted(t)}
    if isinstance(t, (tuple, list)):
        return type(t)(_rebuild(u, it) for u in t)
    return next(it)


def fd_grad(f: Callable, args: tuple, i: int, eps: float = EPS) -> Any:
    """Central differences of f with respect to argument i (any tree of floats)."""
    leaves = [np.asarray(v, dtype=float) for v in _leaves(args[i])]
    grads = []
    for k, leaf in enumerate(leaves):
        g = np.zeros_like(leaf)
        for j in np.ndindex(leaf.shape):
            vals = []
            for sign in (1, -1):
                moved = [v.copy() for v in leaves]
                moved[k][j] += sign * eps
                new = [
                    float(m) if np.ndim(v) == 0 and not isinstance(v, np.ndarray) else m
                    for m, v in zip(moved, _leaves(args[i]))
                ]
                a = list(args)
                a[i] = _rebuild(args[i], iter(new))
                vals.append(float(np.sum(f(*_copy(a)))))
            g[j] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


def _copy(args: list) -> list:
    """Fresh copies: a function that writes into its argument must not change ours."""
    return [
        _rebuild(
            a,
            iter([np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in _leaves(a)]),
        )
        for a in args
    ]


def _same(got: Any, want: list, rtol: float = 1e-4) -> bool:
    got_leaves = _leaves(got)
    if len(got_leaves) != len(want):
        return False
    for g, w in zip(got_leaves, want):
        g, w = np.asarray(g, dtype=float), np.asarray(w, dtype=float)
        if g.shape != w.shape and g.size != w.size:
            return False
        scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
        if not np.allclose(g.reshape(w.shape), w, rtol=rtol, atol=rtol * scale, equal_nan=True):
            return False
    return True


def _autograd(case: Case, args: tuple, i: int) -> list | None:
    """autograd's gradient, for ties at kinks; None when autograd cannot run the function."""
    try:
        import autograd
        import autograd.numpy as anp

        fn = types.FunctionType(
            case.fn.__code__,
            {**case.fn.__globals__, "np": anp},
            case.fn.__name__,
            case.fn.__defaults__,
            case.fn.__closure__,
        )
        return [
            np.asarray(v, dtype=float) for v in _leaves(autograd.grad(fn, i)(*_copy(list(args))))
        ]
    except Exception:  # noqa: BLE001
        return None


def check_point(case: Case, args: tuple) -> dict[str, str]:
    f = case.fn
    out: dict[str, str] = {}
    wrt = case.wrt
    if "grad" in case.modes:
        got, err = _run(lambda: cr.grad(f, argnums=wrt)(*_copy(list(args))))
        if err:
            out["grad"] = err
        else:
            ok = True
            for k, i in enumerate(wrt):
                want = fd_grad(f, args, i)
                if not _same(got[k], want):
                    ag = _autograd(case, args, i)
                    if ag is None or not _same(got[k], ag):
                        ok = False
            out["grad"] = "ok" if ok else f"wrong (got {got}, finite differences disagree)"
    arrays_only = all(not isinstance(args[i], (tuple, list, dict)) for i in wrt)
    if "jvp" in case.modes and arrays_only:
        tangents = [None] * len(args)
        for i in wrt:
            v = RNG.normal(size=np.shape(args[i]))
            tangents[i] = float(v) if np.ndim(args[i]) == 0 else v
        got, err = _run(lambda: cr.jvp(f, tuple(_copy(list(args))), tuple(tangents))[1])
        if err:
            out["jvp"] = err
        else:
            want = sum(float(np.sum(np.asarray(fd_grad(f, args, i)[0]) * tangents[i])) for i in wrt)
            out["jvp"] = "ok" if _same(got, [want]) else f"wrong (got {got}, want {want:.6g})"
    if "second" in case.modes and arrays_only:
        i = wrt[0]
        if np.ndim(args[i]) == 0:
            label = "grad∘grad"
            got, err = _run(lambda: cr.grad(cr.grad(f, argnums=i), argnums=i)(*_copy(list(args))))
        else:
            label = "hessian"
            got, err = _run(lambda: cr.hessian(f, argnums=i)(*_copy(list(args))))
        if err:
            out[label] = err
        else:
            gf = cr.grad(f, argnums=i)

            def first(*a: Any) -> Any:
                return gf(*a)

            x = np.asarray(args[i], dtype=float)
            cols = []
            for j in np.ndindex(x.shape if x.shape else (1,)):
                e = np.zeros(x.shape if x.shape else (1,))
                e[j] = 1e-5
                step = e.reshape(x.shape) if x.shape else float(e[0])
                plus, minus = list(args), list(args)
                plus[i] = args[i] + step
                minus[i] = args[i] - step
                cols.append(
                    (np.asarray(first(*_copy(plus))) - np.asarray(first(*_copy(minus)))) / 2e-5
                )
            want = np.stack(cols, axis=-1).reshape(x.shape + x.shape) if x.shape else cols[0]
            out[label] = "ok" if _same(got, [want], rtol=1e-3) else "wrong"
    if "vjp" in case.modes:

        def run_vjp() -> Any:
            y, back = cr.vjp(f, *_copy(list(args)))
            return back(tuple(np.ones_like(np.asarray(v, dtype=float)) for v in y))

        got, err = _run(run_vjp)
        if err:
            out["vjp"] = err
        else:
            want = [fd_grad(f, args, i)[0] for i in range(len(args))]
            out["vjp"] = "ok" if _same(got, want) else f"wrong (got {got})"
    for label, transform in (("jacrev", cr.jacrev), ("jacfwd", cr.jacfwd)):
        if label in case.modes:
            got, err = _run(lambda t=transform: t(f, argnums=wrt)(*_copy(list(args))))
            out[label] = err or "ran (not checked: tuple output)"
    return out


def _merge(values: list[str]) -> str:
    """The worst result over the input points (refused/crash/wrong beat ok)."""
    for prefix in ("crash", "wrong", "refused"):
        for v in values:
            if v.startswith(prefix):
                return v
    return values[0] if values else ""


def main() -> int:
    signal.signal(signal.SIGALRM, _alarm)
    columns = ("grad", "jvp", "grad∘grad", "hessian", "vjp", "jacrev", "jacfwd")
    rows = []
    for c in CASES:
        per_point: dict[str, list[str]] = collections.defaultdict(list)
        for args in c.points:
            for k, v in check_point(c, args).items():
                per_point[k].append(v)
        c.results = {k: _merge(v) for k, v in per_point.items()}
        rows.append(c)
    print("## Part 2: Tangent's test-function corpus (tools/tangent_patterns.py)\n")
    groups: dict[str, list[Case]] = collections.defaultdict(list)
    for c in rows:
        groups[c.pattern].append(c)
    summary = collections.Counter()
    for pattern, cs in groups.items():
        print(f"\n### {pattern}\n")
        used = [col for col in columns if any(col in c.results for c in cs)]
        print("| Tangent function | case | " + " | ".join(used) + " |")
        print("|---|---|" + "---|" * len(used))
        for c in cs:
            cells = [c.results.get(col, "").replace("|", "\\|") for col in used]
            print(f"| {c.tangent} | `{c.fn.__name__}` | " + " | ".join(cells) + " |")
            verdict = _merge(list(c.results.values()))
            summary[(pattern, verdict.split(":")[0].split(" (")[0])] += 1
    print("\n### Summary (worst result per case)\n")
    print("| pattern | ok | refused | wrong | crash |\n|---|---|---|---|---|")
    for pattern in groups:
        print(
            f"| {pattern} | {summary[(pattern, 'ok')]} | {summary[(pattern, 'refused')]} | "
            f"{summary[(pattern, 'wrong')]} | {summary[(pattern, 'crash')]} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
