"""The patterns of Tangent's test-function corpus (google/tangent, tests/functions.py),
each in a function of our own (issue 15).

Tangent's corpus exercises a source-to-source differentiator with small functions:
operators against constants and themselves, branches that overwrite their argument,
loops over `range(n)`, calls to helpers, list displays, writes into an argument, tuple
outputs, container arguments, a run-time index into a tuple, NumPy functions, and a few
models (an RNN, a bilinear layer, logistic regression).  The same patterns are written
here afresh; each is checked in forward and reverse mode against central finite
differences (chainrule.testing) and against autograd running the same code with
autograd.numpy, and against second derivatives where Tangent takes them.  The patterns
that use TensorFlow or Tangent's own API (`tfe_*`, `tangent.push`, `insert_grad_of`) are
out of scope; the two that chainrule refuses (a comprehension over differentiated
values, and `np.arctan(b, a)`, whose second argument is NumPy's `out`) are refused with
a located CompileError, as docs/subset.md says.  /work/notes/issue-15-tangent.md maps
each Tangent function to its test here.
"""

import types

import autograd
import autograd.numpy as anp
import numpy
import pytest
from autograd.misc.flatten import flatten

from chainrule import (
    CompileError,
    check_grad,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from chainrule.testing import check_grads, numerical_jacobian

SCALE = 1.5  # a module-level constant the functions read


def model(np):
    """The functions, written once; `np` is NumPy for chainrule, autograd.numpy for the
    oracle."""

    # -- straight-line code ---------------------------------------------------------------

    def renamed(a):  # plain copies, and names like the ones generated code uses
        b = a
        da = b * b
        t1 = da
        stack = t1 + a
        return stack

    def negated(a):
        return -a * 2.0 + -(a * a)

    def times(a):
        return a * 2.5 + 2.5 * a + a * a

    def over(a):
        return a / 4.0 + 4.0 / a + a / a

    def minus(a):
        return (a - 1.5) * (1.5 - a) + (a - a)

    def plus(a):
        return (a + 0.5) * (0.5 + a) * (a + a)

    def mul(a, b):
        return a * b

    def add(a, b):
        return a + b

    def fused(a, b, c):  # calls nested in calls
        return add(mul(a, np.sin(b)), c)

    def through_helpers(a, b, c):  # a helper that calls a helper
        return fused(a, b, c) * mul(c, a)

    def steps(a, b, c):  # one operation per line, a name rebound
        u = a * c
        u = u - b
        v = u * u
        return v + 1.0

    def reshaped(x):  # an argument rebound to a value of another shape
        x = np.sum(x * x)
        x = x * np.sqrt(x)
        return x

    # -- branches ---------------------------------------------------------------------------

    def overwritten_in_branches(a):
        if a > 0.3:
            a = a * 1.5
        else:
            a = a * a - 1.0
        return a

    def nested_branches(a):
        if a > 0:
            if a < 1.0:
                a = a * a * a
            else:
                a = 2.0 * a
        else:
            a = -a * 0.5
        return a

    def elif_chain(a):
        if a * a / 2.0 > 1.0:
            k = 1.5
        else:
            k = -0.5
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

    def serial_branches(a):
        if a < 0:
            a = a * a
        a = a * 3.0
        if a > 1.0:
            a = a - 0.5 * a * a
        return a

    def compared(a, b):  # a test on two differentiated values
        if a < b:
            out = np.sin(a) * b
        else:
            out = a * b * b
        return out

    # -- loops ------------------------------------------------------------------------------

    def two_loops(a, n):
        for _ in range(n):
            a = a * np.cos(a)
        a = a * 0.5
        for _ in range(n + 1):
            a = a + a * 0.25
        return a

    def loop_then_branch(a, n):
        for _ in range(n):
            a = a * 0.9 + np.sin(a)
        if a < 0.5:
            a = a * a
        return a

    def branch_then_loop(a, n):
        if a < 0:
            a = -a * 1.5
        for _ in range(n):
            a = a * a * 0.5
        return a

    def counted_power(a):  # an accumulator started as an int
        acc = 1
        for _ in range(4):
            acc = acc * a
        return acc

    def shifted_range(a):  # a loop bound that is an expression of constants
        acc = a
        for _ in range(5 - 2):
            acc = acc * a
        return acc

    def branch_in_loop(a):
        for _ in range(3):
            if a < 2.0:
                a = a * a + 0.5
        return a

    def loop_in_branch(a):
        if a > -1.0:
            for _ in range(3):
                a = a * 0.5 + a * a
        return a

    def nested_loops(a):
        for _ in range(2):
            for _ in range(3):
                a = a * 0.5 + np.sin(a)
        return a

    def cubed_in_loop(a):
        for _ in range(2):
            a = a * a * a * 0.5
        return a

    def helper_in_loop(a, n):
        for _ in range(n):
            a = mul(a, np.cos(a))
        return a

    def local_def_in_loop(a, n):
        def scaled(a, n):  # its parameters shadow the caller's
            return a * n + 0.25

        for _ in range(n):
            a = scaled(a, np.tanh(a))
        return a

    def halved_while(a):
        while np.abs(a) > 0.27:
            a = a * 0.5
        return a * a

    def counted_while(a):
        k = 0
        while k < 3:
            a = np.sin(a) + a * 0.5
            k = k + 1
        return a

    # -- powers -----------------------------------------------------------------------------

    def powers(a, b):
        if a >= 0:
            p = a**b
        else:
            p = (-a) ** b
        return p + a**3 + a * a * a

    def squared_twice(a):
        a = a * a
        return a * a

    def chain_of_products(a):
        b = a
        b = a * a
        c = b * b
        return c * c

    def chain_of_calls(a):
        b = mul(a, a)
        c = mul(b, b)
        return mul(c, b)

    # -- NumPy functions --------------------------------------------------------------------

    def trig(a):
        return np.sin(a) * np.cos(a) + np.tan(a) + np.arcsin(a) * np.arccos(a) + np.arctan(a)

    def hyperbolic(a):
        return np.sinh(a) + np.cosh(a) * np.tanh(a) + np.exp(np.exp(a) * 0.5)

    def root_by_sign(a):
        if a >= 0:
            r = np.sqrt(a)
        else:
            r = np.sqrt(-a)
        return np.multiply(r, 3.0)

    def reductions(x):
        return np.sum(x) * np.mean(x) + np.sum(np.array(x) ** 2)

    def promoted(x):
        return np.sum(np.atleast_1d(x)) + np.sum(np.atleast_2d(x) ** 2) + np.sum(np.atleast_3d(x))

    # -- lists, subscripts, writes ------------------------------------------------------------

    def display_sum(a):
        b = [2.0, a * np.sin(a), 0.5]
        return np.sum(b)

    def display_of_items(x):
        b = [1.0, x[0] * x[2] * x[1], x[1] * 2.0]
        return np.sum(b)

    def display_indexed(a):
        v = [2.0, a, a * a]
        return v[0] * v[1] + v[2]

    def items_read(x):
        first = x[0]
        last = x[-1]
        return first * last + x[1]

    def iterated(x):
        total = 0.0
        for v in x:
            total += v * v
        return total

    def sliced(x):
        return np.sum(x[1:] * x[:-1]) + np.sum(x[::2, np.newaxis] * x[1::2])

    if np is numpy:

        def filled(x):
            y = np.zeros_like(x)
            for i in range(len(x)):
                y[i] = x[i] * x[i]
            return np.sum(y * x)

        def filled_rows(x):  # a scalar written into a whole row
            h = np.zeros((len(x), 2))
            for t in range(len(h)):
                h[t] = x[t] * 2.0
            return np.sum(h * h)

        def recurrence(xs, W):  # each row of h is made from the one before
            h = np.zeros((4, 2))
            for t in range(3):
                h[t + 1] = np.tanh(np.dot(xs[t], W) + h[t])
            return np.sum(h[1:] ** 2)

        def written_argument(x):  # x[0] = ... writes into a private copy
            a = x[0]
            b = x[2]
            x[0] = a * b
            return np.sum(x * x)

        def written_after_use(x):
            y = x**2.0
            x[1] = y[0] * y[2]
            return np.sum(x * y)

    else:  # autograd cannot assign into arrays: the same functions, written out

        def filled(x):
            return np.sum(x * x * x)

        def filled_rows(x):
            h = np.stack([x * 2.0, x * 2.0], axis=1)
            return np.sum(h * h)

        def recurrence(xs, W):
            rows = [np.zeros(2)]
            for t in range(3):
                rows.append(np.tanh(np.dot(xs[t], W) + rows[t]))
            return np.sum(np.stack(rows[1:]) ** 2)

        def written_argument(x):
            x = np.concatenate([np.reshape(x[0] * x[2], (1,)), x[1:]])
            return np.sum(x * x)

        def written_after_use(x):
            y = x**2.0
            x = np.concatenate([x[:1], np.reshape(y[0] * y[2], (1,)), x[2:]])
            return np.sum(x * y)

    def augmented(a):
        y = a * 2.0
        y *= y
        y += a
        y -= 0.5
        y /= a * a + 1.0
        return y

    # -- models ---------------------------------------------------------------------------------

    def logistic(inputs, labels, W, b):
        z = np.dot(inputs, W) + b
        p = 0.5 * (np.tanh(z) + 1)
        likely = p * labels + (1 - p) * (1 - labels)
        return -np.sum(np.log(likely))

    def bilinear_layer(x, h, U, W, b):
        y = np.dot(x, W)
        y = y + np.dot(h, U)
        y = np.tanh(y + b)
        return np.sum(y)

    def determinant(m):
        return np.linalg.det(m)

    # -- tuples and containers --------------------------------------------------------------------

    def two_outputs(a):
        return 3.0 * a, a * a

    def polar(a, b):
        r = np.sqrt(a**2 + b**2)
        return r, np.arctan2(b, a)

    def outputs_by_branch(a, b):  # tuples returned from several places
        if a > b:
            return a * b, np.sin(a)
        return b - a, a * a * b

    def unpacked(abc):
        a, b, c = abc
        return a * b + c

    def keyed(p):
        return p["a"] * p["b"] + p["c"]

    def rebuilt(abc):  # a dict built with dict(...), passed to a helper
        a, b, c = abc
        return keyed(dict(a=a, b=b, c=c))

    def first_only(abc):
        a, b, c = abc
        return a

    def deeply_keyed(p):
        return p["u"]["v"] * p["u"]["w"]

    def picked(a, b, c, i):  # a run-time index into a tuple of differentiated values
        xs = a, b, c
        return xs[i] * xs[0]

    # -- the rest of everyday Python ------------------------------------------------------------

    def everyday(a, b, scale=2.0):
        """Keyword arguments, defaults, a lambda, a conditional expression, a global,
        print and assert."""
        square = lambda v: v * v  # noqa: E731
        s = square(a) * scale + mul(b=b, a=a)
        t = s if a > 0 else -s
        assert scale > 0, "scale must be positive"
        print("", end="")
        return t * SCALE

    return types.SimpleNamespace(**locals())


M, A = model(numpy), model(anp)
RNG = numpy.random.default_rng(15)
X = RNG.normal(size=5)
POINTS = (-1.7, -0.6, 0.15, 0.45, 0.8, 1.3, 2.2)  # each branch is taken somewhere


def close(a, b):
    numpy.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def check_everything(name, args, argnums=None, order=2):
    """Forward and reverse mode against finite differences, the gradient against
    autograd's, and (order 2) the second derivatives: both checked against finite
    differences, and the Hessian against autograd's."""
    f, g = getattr(M, name), getattr(A, name)
    nums = tuple(range(len(args))) if argnums is None else argnums
    check_grads(f, args, argnums=nums)
    ours = grad(f, argnums=nums)(*args)
    for k, i in enumerate(nums):
        close(ours[k], autograd.grad(g, i)(*args))
    if order == 2:
        check_grads(f, args, order=2, argnums=nums)
        for i in nums:
            close(hessian(f, argnums=i)(*args), autograd.hessian(g, i)(*args))


def scalar_cases(names, arity=1):
    return [
        pytest.param(name, tuple(p + 0.35 * k for k in range(arity)), id=f"{name}-{p}")
        for name in names
        for p in POINTS
    ]


# -- straight-line code, branches, powers, NumPy functions ----------------------------------

STRAIGHT = ["renamed", "negated", "times", "over", "minus", "plus", "squared_twice"]
STRAIGHT += ["chain_of_products", "chain_of_calls", "hyperbolic", "root_by_sign"]
BRANCHES = ["overwritten_in_branches", "nested_branches", "elif_chain", "serial_branches"]
LOOPS = ["counted_power", "shifted_range", "branch_in_loop", "loop_in_branch", "nested_loops"]
LOOPS += ["cubed_in_loop", "halved_while", "counted_while", "augmented"]


@pytest.mark.parametrize("name, args", scalar_cases(STRAIGHT))
def test_operators_calls_and_numpy_functions_of_one_scalar(name, args):
    check_everything(name, args)


@pytest.mark.parametrize("name, args", scalar_cases(BRANCHES))
def test_branches_that_overwrite_their_argument(name, args):
    check_everything(name, args)


@pytest.mark.parametrize("name, args", scalar_cases(LOOPS))
def test_loops_with_constant_bounds_and_while_loops(name, args):
    check_everything(name, args)


@pytest.mark.parametrize("name, args", scalar_cases(["compared", "mul", "add"], 2))
def test_functions_of_two_scalars(name, args):
    check_everything(name, args)


@pytest.mark.parametrize("name, args", scalar_cases(["fused", "through_helpers", "steps"], 3))
def test_helpers_called_inside_calls(name, args):
    check_everything(name, args)


@pytest.mark.parametrize("a", [-0.8, -0.3, 0.2, 0.7])
def test_trigonometric_functions_inside_their_domain(a):
    check_everything("trig", (a,))


@pytest.mark.parametrize("a, b", [(0.7, 1.3), (-0.8, 2.5), (1.4, 0.5), (-1.2, 3.0)])
def test_powers_with_a_differentiated_exponent(a, b):
    check_everything("powers", (a, b))


@pytest.mark.parametrize(
    "name", ["two_loops", "loop_then_branch", "branch_then_loop", "helper_in_loop"]
)
@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("a", [-0.9, 0.3, 1.1])
def test_loops_over_range_of_an_int_argument(name, n, a):
    check_everything(name, (a, n), argnums=(0,))


@pytest.mark.parametrize("n", [0, 2])
def test_a_local_def_called_in_a_loop(n):
    check_everything("local_def_in_loop", (0.6, n), argnums=(0,))


# -- arrays ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["reshaped", "reductions", "promoted", "display_of_items", "items_read", "iterated"]
    + ["sliced", "filled", "filled_rows"],
)
def test_functions_of_a_vector(name):
    check_everything(name, (X,))


@pytest.mark.parametrize("name", ["display_sum", "display_indexed"])
@pytest.mark.parametrize("a", [-1.1, 0.4, 1.6])
def test_list_displays_of_a_differentiated_scalar(name, a):
    check_everything(name, (a,))


def test_a_recurrence_written_row_by_row():
    xs, W = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))
    check_everything("recurrence", (xs, W), order=1)


def test_models_with_dot_and_broadcast_bias():
    inputs, W, b = RNG.normal(size=3), RNG.normal(size=(3, 4)), RNG.normal(size=4)
    labels = numpy.eye(4)[2]
    check_everything("logistic", (inputs, labels, W, b), argnums=(2, 3))
    x, h, b2 = RNG.normal(size=(3, 1, 3))
    U, W2 = RNG.normal(size=(2, 3, 3))
    check_everything("bilinear_layer", (x, h, U, W2, b2), argnums=(0, 1, 2, 3, 4), order=1)
    check_grads(M.bilinear_layer, (x, h, U, W2, b2), order=2, argnums=(0, 3))


@pytest.mark.parametrize("size", [1, 3])
def test_determinant(size):
    check_everything("determinant", (RNG.normal(size=(size, size)),))


# -- writes into an argument ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["written_argument", "written_after_use"])
def test_writes_into_a_differentiated_argument(name):
    x = X.copy()
    check_grads(getattr(M, name), (x,))
    close(grad(getattr(M, name))(x), autograd.grad(getattr(A, name))(x))
    jvp(getattr(M, name), (x,), (numpy.ones(5),))
    vjp(getattr(M, name), x)[1](1.0)
    numpy.testing.assert_array_equal(x, X)  # the generated code wrote into its own copy


def test_second_derivatives_of_a_write_after_a_read_are_refused_with_its_line():
    # docs/forward-mode.md "What is not covered yet"; the first derivatives above work
    with pytest.raises(CompileError, match="higher order") as info:
        hessian(M.written_argument)(X.copy())
    assert "x[0] = a * b" in info.value.source_line
    with pytest.raises(CompileError, match="higher order"):
        hessian(M.recurrence, argnums=1)(*RNG.normal(size=(2, 3, 3)))
    check_grads(M.written_after_use, (X.copy(),), order=2)  # no read of x[1] before it


# -- tuple outputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("two_outputs", (0.7,)),
        ("polar", (0.6, -1.2)),
        ("outputs_by_branch", (0.9, 0.4)),
        ("outputs_by_branch", (-0.3, 0.8)),
    ],
    ids=["two_outputs", "polar", "outputs_by_branch-first", "outputs_by_branch-second"],
)
def test_tuple_outputs_in_vjp_and_jacobians(name, args):
    f, g = getattr(M, name), getattr(A, name)
    nums = tuple(range(len(args)))
    out = f(*args)
    for k in range(len(out)):  # output k against autograd and finite differences
        expected = [autograd.grad(lambda *a, k=k: g(*a)[k], i)(*args) for i in nums]
        for i in nums:
            close(expected[i], numerical_jacobian(lambda *a, k=k: f(*a)[k], args, i))
        close(jacrev(f, argnums=nums)(*args)[k], expected)
        close(jacfwd(f, argnums=nums)(*args)[k], expected)
        cotangent = tuple(float(j == k) for j in range(len(out)))
        close(vjp(f, *args)[1](cotangent), expected)
        tangents = [1.0 if i == 0 else 0.0 for i in nums]
        close(jvp(f, args, tangents)[1][k], expected[0])


def test_grad_of_a_tuple_output_is_refused_at_the_return():
    with pytest.raises(CompileError, match="returns a tuple") as info:
        grad(M.two_outputs)(0.7)
    assert info.value.source_line.strip() == "return 3.0 * a, a * a"


def test_a_container_returned_from_two_places_is_refused_with_advice():
    def aux_by_branch(w):
        loss = numpy.sum(w**2)
        if loss > 1.0:
            return loss, {"big": loss}
        return loss, {"big": 0.0}

    with pytest.raises(CompileError, match="returns a container") as info:
        value_and_grad(aux_by_branch, has_aux=True)(X)
    assert "result" not in str(info.value).split("\n")[0]


# -- containers and a run-time index --------------------------------------------------------


@pytest.mark.parametrize(
    "name, arg",
    [
        ("unpacked", (0.7, -1.3, 0.4)),
        ("keyed", {"a": 0.7, "b": -1.3, "c": 0.4}),
        ("rebuilt", (0.7, -1.3, 0.4)),
        ("first_only", (0.7, -1.3, 0.4)),
        ("deeply_keyed", {"u": {"v": 0.7, "w": -1.2}}),
    ],
)
def test_container_arguments(name, arg):
    check_grad(getattr(M, name), arg)
    ours, theirs = grad(getattr(M, name))(arg), autograd.grad(getattr(A, name))(arg)
    assert type(ours) is type(arg)
    close(flatten(ours)[0], flatten(theirs)[0])


@pytest.mark.parametrize("i", [0, 1, 2, -1])
def test_a_run_time_index_into_a_tuple_of_scalars(i):
    args = (0.7, -1.3, 0.4, i)
    check_everything("picked", args, argnums=(0, 1, 2))


# -- the rest of everyday Python ------------------------------------------------------------


@pytest.mark.parametrize("a", [-0.8, 0.9])
def test_keywords_defaults_lambdas_conditional_expressions_and_globals(a):
    check_everything("everyday", (a, 1.7))


# -- refused, as docs/subset.md says --------------------------------------------------------


def test_a_comprehension_over_differentiated_values_is_refused_and_a_loop_works():
    def comprehended(x):
        return numpy.sum([v * 3.0 for v in x])

    def looped(x):
        out = []
        for v in x:
            out.append(v * 3.0)
        return numpy.sum(numpy.array(out))

    with pytest.raises(CompileError, match="list comprehension over differentiated") as info:
        grad(comprehended)(X)
    assert "[v * 3.0 for v in x]" in info.value.source_line
    close(grad(looped)(X), numpy.full(5, 3.0))


def test_a_ufunc_given_an_out_argument_by_position_is_refused():
    def angle(a, b):
        return numpy.arctan(b, a)  # the second argument of np.arctan is `out`

    with pytest.raises(CompileError, match="pass only x") as info:
        vjp(angle, numpy.array([0.5]), numpy.array([1.5]))
    assert "numpy.arctan(b, a)" in info.value.source_line
