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
out of scope; a comprehension over differentiated values is written out as its loop,
and `np.arctan(b, a)`, whose second argument is NumPy's `out`, is refused with a located
CompileError, as docs/subset.md says.  The functions are in
tests/tangent_corpus.py.
"""

import autograd
import autograd.numpy as anp
import numpy
import pytest
from autograd.misc.flatten import flatten
from tangent_corpus import model

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

# autograd warns when a Hessian is zero (a linear pattern); that is the expected answer
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

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


def test_a_recurrence_written_row_by_row_and_kept_in_a_list():
    xs, W = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))
    check_everything("recurrence", (xs, W), order=1)  # second order: refused, below
    check_everything("recurrence_in_list", (xs, W))


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


def test_a_comprehension_over_differentiated_values_is_the_loop_it_stands_for():
    def comprehended(x):
        return numpy.sum([v * 3.0 for v in x]) + sum(v * v for v in x if v > 0)

    def looped(x):
        out = []
        total = 0
        for v in x:
            out.append(v * 3.0)
            if v > 0:
                total = total + v * v
        return numpy.sum(numpy.array(out)) + total

    close(grad(comprehended)(X), grad(looped)(X))
    close(grad(looped)(X), 3.0 + 2 * X * (X > 0))
    check_grads(comprehended, (X,), order=2)


def test_a_ufunc_given_an_out_argument_by_position_is_refused():
    def angle(a, b):
        return numpy.arctan(b, a)  # the second argument of np.arctan is `out`

    with pytest.raises(CompileError, match="pass only x") as info:
        vjp(angle, numpy.array([0.5]), numpy.array([1.5]))
    assert "numpy.arctan(b, a)" in info.value.source_line
