"""Regression tests for control-flow defects found by independent testing (issue 10).

Each function here once gave a wrong gradient, crashed, or was refused although
the subset documents it.  Every case is checked in every mode (grad, vjp,
jacrev, jacfwd, and second order) against central finite differences and,
where autograd supports the program, against autograd run on the very same
code object (its globals swapped so that `np` is autograd.numpy).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numerical_jacobian, numerical_vjp

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

X = np.array([0.3, -1.2, 0.7, 0.9, 0.1, -0.4])


def with_autograd_numpy(f):
    """The same code object with `np` meaning autograd.numpy."""
    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp}, f.__name__, f.__defaults__)


def check_all_modes(f, x=X, second_order=True, use_autograd=True):
    expected = numerical_vjp(f, (x,), 1.0, 0, eps=1e-6)
    if use_autograd:
        np.testing.assert_allclose(
            autograd.grad(with_autograd_numpy(f))(x), expected, atol=1e-6, err_msg="autograd"
        )
    got = {
        "grad": cr.grad(f)(x),
        "vjp": cr.vjp(f, x)[1](1.0)[0],
        "jacrev": cr.jacrev(f)(x),
        "jacfwd": cr.jacfwd(f)(x),
        "value_and_grad": cr.value_and_grad(f)(x)[1],
    }
    for mode, g in got.items():
        np.testing.assert_allclose(g, expected, atol=1e-6, err_msg=mode)
    assert cr.value_and_grad(f)(x)[0] == pytest.approx(f(x))
    if second_order:
        hessian_fd = numerical_jacobian(cr.grad(f), (x,), 0)
        np.testing.assert_allclose(cr.hessian(f)(x), hessian_fd, atol=1e-5, err_msg="hessian")
        np.testing.assert_allclose(
            cr.jacrev(cr.grad(f))(x), hessian_fd, atol=1e-5, err_msg="jacrev(grad)"
        )
        v = np.linspace(-1.0, 1.0, x.size)
        np.testing.assert_allclose(cr.hvp(f, (x,), (v,)), hessian_fd @ v, atol=1e-5, err_msg="hvp")


# -- 1. a value overwritten in a loop takes the gradient of the last iteration only ----------


def last_square(x):
    for i in range(3):
        y = x[i] ** 2
    return y


def last_hidden_state(x):
    W = np.array([[0.5, -0.3], [0.2, 0.1]])
    xs = np.reshape(x, (3, 2))
    for t in range(3):
        h = np.tanh(W @ xs[t])
    return np.sum(h)


def last_row(x):
    X = np.reshape(x, (3, 2))
    for row in X:
        z = np.sum(row**2)
    return z


def last_enumerate(x):
    for i, v in enumerate(x):
        z = v * (i + 1.0)
    return z


def last_zip(x):
    for a, b in zip(x, x[1:]):
        z = a * b
    return z


def last_while(x):
    i = 0
    while i < 3:
        y = x[i] * x[i]
        i = i + 1
    return y


def kept_at_break(x):
    for i in range(5):
        y = np.sin(x[i])
        if i == 2:
            break
    return y


def swap_temporaries(x):
    a = x[0]
    b = x[1]
    for _ in range(3):
        tmp = a
        a = b
        b = tmp * 1.5
    return a * b


def loop_variable_after_the_loop(x):
    for v in x:  # noqa: B007 (the loop variable is the point)
        pass
    return v * 2.0


def overwritten_in_nested_loops(x):
    s = 0.0
    for j in range(2):
        for i in range(3):
            y = np.sin(x[i + j]) * (j + 1.0)
        s = s + y
    return s


@pytest.mark.parametrize(
    "f",
    [
        last_square,
        last_hidden_state,
        last_row,
        last_enumerate,
        last_zip,
        last_while,
        kept_at_break,
        swap_temporaries,
        loop_variable_after_the_loop,
        overwritten_in_nested_loops,
    ],
)
def test_a_value_overwritten_in_a_loop_gets_the_last_iterations_gradient(f):
    check_all_modes(f)


def test_the_loop_overwrite_example_of_the_issue():
    np.testing.assert_allclose(cr.grad(last_square)(np.array([0.3, -1.2, 0.7])), [0, 0, 1.4])


# -- 2. early returns -----------------------------------------------------------------------


def early(x, flag=True):
    if flag:
        return x * 2.0
    return x * 3.0


def return_chain(x):
    if x[0] > 1.0:
        return np.sum(x * 2.0)
    elif x[0] > 0.0:
        y = x * x
        return np.sum(y)
    z = np.sin(x)
    if z[1] > 0.3:
        return np.sum(z)
    return -np.sum(x)


def test_the_simplest_early_return_compiles_and_is_right():
    assert cr.grad(early)(1.5) == pytest.approx(2.0)
    assert cr.grad(early)(1.5, False) == pytest.approx(3.0)


@pytest.mark.parametrize("x0", [2.0, 0.5, -0.3, -2.0])
def test_return_chains_are_right_on_every_branch(x0):
    x = X.copy()
    x[0] = x0
    x[1] = x0 * 1.1
    check_all_modes(return_chain, x)


def test_a_return_chain_keeps_its_shape_without_flags():
    source = cr.grad(return_chain).source
    assert "returned" not in source
    assert "elif" in source
    source = cr.grad(early).source
    assert "returned" not in source and "result_1" not in source


def early_return_in_loop(x):
    for i in range(3):
        if x[i] > 0.5:
            return x[i] ** 2
    return np.sum(x)


def test_an_early_return_inside_a_loop():
    check_all_modes(early_return_in_loop)
    y = X.copy()
    y[:3] = 0.1
    check_all_modes(early_return_in_loop, y)


# -- 3. assignment expressions ----------------------------------------------------------------


def walrus_in_test(x):
    if (y := x[0] * 2.0) > 0:
        return y
    return x[1]


def walrus_in_value(x):
    z = np.sum((w := np.sin(x)) * w)
    return z + w[0]


def walrus_in_while_test(x):
    s = 0.0
    while (y := x[0]) > 5:
        s = s + y
    return s + x[0]


def walrus_in_a_branch(x):
    return x[0] if x[1] > 0 else (y := x[0] * 2.0) * y


@pytest.mark.parametrize("f", [walrus_in_test, walrus_in_value])
def test_assignment_expressions_are_hoisted_into_statements(f):
    check_all_modes(f)
    x = X.copy()
    x[0] = -0.5
    check_all_modes(f, x)


@pytest.mark.parametrize(
    "f, where", [(walrus_in_while_test, "while"), (walrus_in_a_branch, "only sometimes")]
)
def test_assignment_expressions_evaluated_sometimes_are_refused_with_a_location(f, where):
    with pytest.raises(cr.CompileError) as info:
        cr.grad(f)(X)
    assert where in info.value.message
    assert info.value.lineno == f.__code__.co_firstlineno + (2 if where == "while" else 1)
    assert ":=" in info.value.source_line


# -- 4. second order through loops with break, return, while and index arrays ----------------


def while_with_counter(x):
    i = 0
    s = 0.0
    while i < 4:
        s = s + x[i] ** 3
        i = i + 1
    return s


def break_in_loop(x):
    s = 0.0
    for i in range(6):
        if x[i] > 0.8:
            break
        s = s + np.sin(x[i]) * x[i]
    return s


def over_index_array(x):
    idx = np.array([0, 2, 2, 5])
    s = 0.0
    for i in idx:
        s = s + x[i] ** 3
    return s


def integer_results_carry_no_gradient(x):
    k = int(np.argmax(x))
    n = len(x) - 1
    j = np.searchsorted(np.array([-1.0, 0.0, 1.0]), x[0])
    return x[k] ** 2 * n + x[j] ** 3


@pytest.mark.parametrize(
    "f", [while_with_counter, break_in_loop, over_index_array, integer_results_carry_no_gradient]
)
def test_second_order_through_integer_loop_state(f):
    check_all_modes(f)


# -- 5. loops over arrays, lambdas ------------------------------------------------------------


def sum_sin(v):
    s = 0.0
    for y in v:
        s = s + np.sin(y)
    return s


def calls_a_helper_looping_over_an_array(x):
    return sum_sin(x) * 2.0


def loop_over_a_conditional_expression(x, c=True):
    A = np.reshape(x, (3, 2))
    s = 0.0
    for r in A * 2.0 if c else A * 3.0:
        s = s + np.sum(r**2)
    return s


def break_nested_in_array_loop(x):
    X = np.reshape(x, (3, 2))
    s = 0.0
    for row in X:
        for j in range(2):
            if row[j] > 0.8:
                break
            s = s + row[j] ** 2
    return s


def continue_nested_in_array_loop(x):
    s = 0.0
    for v in x:
        for j in range(2):
            if j == 1:
                continue
            s = s + v**2 * (j + 1)
    return s


def enumerate_index_in_arithmetic(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + v * (i + 1) + x[i] * 0.5
    return s


def lambda_with_a_constant(x):
    f = lambda t: t**2 + 1.0  # noqa: E731
    c = f(2.0)
    return np.sum(f(x)) * c


def lambda_in_a_test(x):
    f = lambda t: t * 3.0  # noqa: E731
    if f(1.0) > 2.0:
        return np.sum(f(x))
    return np.sum(x)


def lambda_after_an_early_return(x, flag=False):
    if flag:
        return np.sum(x)
    g = lambda t: t**3  # noqa: E731
    return np.sum(g(x))


@pytest.mark.parametrize(
    "f",
    [
        calls_a_helper_looping_over_an_array,
        loop_over_a_conditional_expression,
        break_nested_in_array_loop,
        continue_nested_in_array_loop,
        enumerate_index_in_arithmetic,
        lambda_with_a_constant,
        lambda_in_a_test,
        lambda_after_an_early_return,
    ],
)
def test_loops_over_arrays_and_local_lambdas(f):
    check_all_modes(f)


make_cube = lambda k: lambda x: k * x**3  # noqa: E731


def test_a_lambda_made_by_a_lambda_is_found_by_its_own_code():
    assert cr.grad(make_cube(2.0))(1.5) == pytest.approx(2.0 * 3 * 1.5**2)


def test_local_calls_that_run_only_sometimes_are_inlined_in_their_branch():
    def f(x):
        g = lambda t: np.tanh(t * 3.0)  # noqa: E731
        a = x[0] > 0 and g(x[1]) > 0.1
        b = g(x[2]) if x[0] < 0 else g(x[3]) * 2.0
        c = x[4] < 0 or g(x[5]) > 0.0
        return b * (2.0 if a else 1.0) * (3.0 if c else 1.0)

    check_all_modes(f)
    check_all_modes(f, -X)


def test_a_local_call_in_a_comprehension_is_refused_with_a_location():
    def f(x):
        g = lambda t: t * 2.0  # noqa: E731
        n = len([g(1.0) for _ in range(2)])
        return np.sum(x) * n

    with pytest.raises(cr.CompileError) as info:
        cr.grad(f)(X)
    assert "only sometimes" in info.value.message
    assert "g(1.0)" in info.value.source_line


# -- 6. a generator is refused at its yield ---------------------------------------------------


def generator(x):
    y = x * 2
    yield y


def test_a_generator_is_refused_at_its_yield():
    with pytest.raises(cr.CompileError) as info:
        cr.grad(generator)(1.0)
    assert info.value.lineno == generator.__code__.co_firstlineno + 2
    assert "yield" in info.value.source_line


# -- integer powers at zero (found by the differential tester) --------------------------------


def polynomial(x):
    c = np.array([1.0, -2.0, 0.5, 3.0])
    s = 0.0
    for k in range(4):
        s = s + np.sum(c[k] * x**k)
    return s


def power_zero(x):
    return np.mean(x**0) + np.sum(np.power(x, 0)) + np.sum(x**1)


@pytest.mark.parametrize("f", [polynomial, power_zero])
def test_integer_powers_at_zero_are_finite(f):
    x = np.array([0.0, 0.5, -1.0, 2.0, 0.0, 1.5])
    check_all_modes(f, x)


def test_a_python_float_zero_to_the_power_zero():
    assert cr.grad(lambda s: s**0)(0.0) == 0.0
    assert cr.grad(lambda s: 3.0 * s**2 + s**0)(0.0) == 0.0


def test_the_exponent_derivative_of_a_negative_base_is_nan():
    with np.errstate(invalid="ignore"):
        g = cr.grad(lambda y, x: x**y, argnums=0)(2.0, -1.5)
        h = autograd.grad(lambda y, x: x**y)(2.0, -1.5)
    assert np.isnan(g) and np.isnan(h)


# -- augmented writes into arrays, differentiated twice ----------------------------------------


def augmented_writes(x):
    out2 = np.zeros_like(x)
    out2[0] += x[0]
    out2[1:] *= x[1:] + 1.0
    out2 += 1.0
    return np.sum(out2 * x)


def augmented_writes_in_a_loop(x):
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] += x[2 * i : 2 * i + 2] ** 2
        out[i] *= x[2 * i]
    return np.sum(out)


@pytest.mark.parametrize("f", [augmented_writes, augmented_writes_in_a_loop])
def test_augmented_writes_into_arrays_in_every_mode(f):
    check_all_modes(f, use_autograd=False)  # (autograd refuses in-place writes)


def iterates_the_array_it_rebinds(x):
    W = np.reshape(x, (3, 2))
    hs = []
    for i, row in enumerate(W):
        W = 0.5 * W  # the loop still walks the original W, as in Python
        hs.append(np.exp(row[[1, 1]]) * (i + 1.0))
    return np.mean(np.stack(hs)) + np.sum(W)


def test_a_loop_walks_the_array_it_started_with():
    check_all_modes(iterates_the_array_it_rebinds)


def unpacks_rows(x):
    a, b, c = x[:3]
    return a * b**2 + np.sin(c)


def concatenates(x):
    v = x[2:]
    y = np.concatenate((v[[1, 0, 1]] ** 2, np.sin(v[1:])))
    z = np.hstack((x[:2] ** 2, np.sin(x[2:])))
    return np.sum(y * y) + np.sum(z * z)


@pytest.mark.parametrize("f", [unpacks_rows, concatenates])
def test_second_order_through_unpacking_and_joining(f):
    check_all_modes(f)


def rnn_spelled_with_einsum(x):
    Wh = x.reshape(2, 3)[:, :2]
    h = np.array([0.1, -0.2])
    for _ in range(3):
        h = np.tanh(np.einsum("ij,j->i", Wh, h))
    return np.sum(h)


def test_a_rule_with_several_gradients_accumulates_inside_a_loop():
    # einsum's adjoint returns a tuple of gradients; inside a loop the weight's
    # part must add up over the iterations (it was overwritten, then zeroed)
    check_all_modes(rnn_spelled_with_einsum, second_order=False)


def stacks_an_argument_in_a_loop(x):
    y = np.array([1.0, 2.0])
    for _ in y:
        W = np.stack([x, x])
    return np.mean(W)


def carried_value_changes_shape(x):
    W = x
    for _ in range(2):
        W = np.stack([x, x])  # overwritten, not read: its value after the loop has a new shape
    return np.mean(W)


@pytest.mark.parametrize("f", [stacks_an_argument_in_a_loop, carried_value_changes_shape])
def test_a_value_overwritten_in_a_loop_by_a_display_of_arguments(f):
    check_all_modes(f)


# -- lists read before a later append, items read on one path, names shared with helpers ---


def list_read_before_append(x, y):
    hs = []
    hs.append(y)
    v = np.mean(hs)
    hs.append(np.log(2.0))
    return v * np.sum(x)


def list_item_in_one_branch(x, s):
    v1 = x * x
    hs = []
    hs.append(x)
    if s < 0.2:
        y8 = v1
    else:
        y8 = hs[0]
        v1, y8 = y8, v1
    return np.sum(y8)


def list_read_by_later_iterations(x):
    hs = []
    hs.append(x)
    total = 0.0
    for _ in range(3):
        total = total + np.sum(hs[-1] ** 2)
        hs.append(hs[-1] * 0.5)
    return total


def helper_with_a_compiler_name(t1, scale=0.5):
    out = t1.copy()
    out[0] += np.log(1.5)
    return t1 * scale


def calls_helper_with_a_compiler_name(x, W):
    v = helper_with_a_compiler_name(W)
    return np.sum(v * x[0])


@pytest.mark.parametrize(
    "f, args",
    [
        (list_read_before_append, (np.array([0.5, 1.0]), np.array([1.5, -0.5]))),
        (list_item_in_one_branch, (np.array([0.5, 1.0, 2.0]), 0.1)),
        (list_item_in_one_branch, (np.array([0.5, 1.0, 2.0]), 0.5)),
        (list_read_by_later_iterations, (np.array([0.5, 1.0, 2.0]),)),
        (calls_helper_with_a_compiler_name, (np.array([0.5, 1.0]), np.ones((3, 2)))),
    ],
)
def test_list_and_name_crashes_give_the_right_gradient(f, args):
    arrays = tuple(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
    ours = cr.grad(f, argnums=arrays)(*args)
    for k, i in enumerate(arrays):
        expected = numerical_jacobian(f, list(args), i)
        np.testing.assert_allclose(ours[k], expected, rtol=1e-5, atol=1e-6)


def list_summed_twice(y, x):
    hs = []
    hs.append(y)
    v = np.tanh(np.sum(hs))
    return np.sum(hs) + v + np.sum(x)


def lists_of_lists_items(W, y):
    y2 = y.dot(np.log(y * y))
    hs5 = []
    hs5.append(np.tanh(W[1][1]))
    hs7 = []
    hs7.append(np.tanh(hs5[0]))
    return y2 + np.mean(hs5) + np.mean(hs7)


@pytest.mark.parametrize("f", [list_summed_twice, lists_of_lists_items])
def test_second_order_through_lists(f):
    a = np.array([[0.5, 1.0, 2.0], [0.3, -0.7, 1.1], [0.2, 0.4, -0.9]])
    b = np.array([0.5, 1.0, 2.0])
    first = a[0] if f is list_summed_twice else a
    H = cr.hessian(f)(first, b)
    expected = numerical_jacobian(lambda z: cr.grad(f)(z, b), [first], 0)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-5)


def list_item_replaced_after_an_early_return(x):
    hs = []
    hs.append(x[[1, 1]])
    if x[1] < 0.5:
        return np.mean(hs)
    hs[0] = np.concatenate((x[:1], np.minimum(x[:1], x[1:])))
    return np.sum(hs[0])


@pytest.mark.parametrize("x", [np.array([0.3, 0.2]), np.array([0.3, 0.9])])
def test_a_list_item_replaced_on_the_other_path_keeps_the_lists_gradient(x):
    ours = cr.grad(list_item_replaced_after_an_early_return)(x)
    expected = numerical_jacobian(list_item_replaced_after_an_early_return, [x], 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def inner_loop_over_a_growing_list(x):
    v = x[0] * 1.0
    hs = []
    for e in x:
        for _ in hs:
            v = np.tanh(v * 2.0 + e)
        hs.append(v**3)  # not differentiated: the backward pass does not undo it
    return v


def test_a_loop_over_a_list_that_later_grows_runs_backwards_as_often():
    x = np.array([0.3, -0.5, 0.8])
    ours = cr.grad(inner_loop_over_a_growing_list)(x)
    expected = numerical_jacobian(inner_loop_over_a_growing_list, [x], 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


# -- higher order through lists the gradient code restores from its record stacks ----------


def list_rebuilt_in_a_loop_with_an_early_return(x):
    v = np.sin(x)
    for _e in x:
        hs = []
        hs.append(v**2)
        for k in range(3):
            if k == 1:
                return np.sum(np.stack(hs))
            v = v * 0.5
            hs.append(v * 2)
    return np.sum(x)


def test_reverse_over_reverse_through_a_list_the_gradient_code_pops():
    # grad's own backward pass pops the list it got back from a record; differentiated
    # again, those pops must be undone too (the list is the same object), else the
    # outer backward pass finds it empty (was: IndexError, or a zip length mismatch)
    f = list_rebuilt_in_a_loop_with_an_early_return
    x = np.array([0.3, -0.4, 0.5])
    hessian_fd = numerical_jacobian(cr.grad(f), (x,), 0)
    np.testing.assert_allclose(cr.jacrev(cr.grad(f))(x), hessian_fd, atol=1e-5)
    np.testing.assert_allclose(cr.hessian(f)(x), hessian_fd, atol=1e-5)
    np.testing.assert_allclose(
        autograd.hessian(with_autograd_numpy(f))(x), hessian_fd, atol=1e-5, err_msg="autograd"
    )


# -- a refusal at second order names the user's line -----------------------------------------


def row_read_then_array_written(x):
    out = np.zeros((3, 2))
    out[1] = np.tanh(x[[0, 0]])
    total = np.zeros((3,))
    total[0] += out[1][0]
    out[2, 1] = 0.5
    return np.sum(total)


@pytest.mark.parametrize("transform", [cr.hessian, lambda f: cr.jacfwd(cr.grad(f))])
def test_a_second_order_refusal_is_located_at_the_users_line(transform):
    f = row_read_then_array_written
    x = np.array([0.3, -0.4, 0.5])
    np.testing.assert_allclose(cr.grad(f)(x), numerical_vjp(f, (x,), 1.0, 0), atol=1e-6)
    with pytest.raises(cr.CompileError) as info:
        transform(f)(x)
    error = info.value
    lines, start = __import__("inspect").getsourcelines(f)
    assert error.filename == __file__
    assert error.lineno == start + lines.index("    out[2, 1] = 0.5\n")
    assert error.source_line.strip() == "out[2, 1] = 0.5"
    assert "higher order" in error.message and "generated line" in error.message


# -- a number bound to a second name, then updated in place --------------------------------


def number_kept_by_a_walrus_then_updated(x):
    s = np.sum(x)
    if (kept := s) > 0:
        s += 1.0
    return kept * s


def number_copied_then_updated(x):
    s = x.mean() * 2.0
    kept = s
    s *= 3.0
    return kept * s + np.sum(x**2)


@pytest.mark.parametrize("f", [number_kept_by_a_walrus_then_updated, number_copied_then_updated])
def test_an_in_place_operator_on_a_number_rebinds_it(f):
    # np.sum(x) is a NumPy scalar: `s += 1.0` makes a new object, so `kept` keeps the old
    # value (was refused as an array shared with `kept`)
    check_all_modes(f)


def test_an_in_place_operator_on_what_may_be_an_array_is_still_refused():
    def f(x):
        s = x[0] * 2.0  # an array when x is 2-D: `s += 1.0` would change `kept` too
        kept = s
        s += 1.0
        return np.sum(kept * s)

    with pytest.raises(cr.CompileError, match="also refers to"):
        cr.grad(f)(X)


# -- found by the 10,000-program differential run (seed 0) ----------------------------------


def helper_with_a_parameter_named_like_a_flag(returned, scale=0.5):
    if scale > 0.0:
        if np.sum(returned) > -10.0:
            return np.tanh(0.3 * np.sum(returned**2))
    return np.sum(returned)


def calls_the_helper(x):
    return helper_with_a_parameter_named_like_a_flag(np.tanh(x)) * 2.0


def test_an_inlined_helpers_early_returns_do_not_take_its_parameters_names():
    # the flags lowering `return` introduces (`returned`, `result`) took the name of the
    # helper's parameter: its value was lost and the gradient silently 0
    check_all_modes(calls_the_helper)


def list_read_in_one_branch(x):
    if x[1] < -0.3:
        y = x * 2.0
    else:
        hs = []
        hs.append(x)
        y = np.maximum(hs[0], 0.0)
    return np.sum(y**2)


def test_a_list_made_and_read_in_one_branch():
    check_all_modes(list_read_in_one_branch, x=np.array([0.5, 0.2, 0.1, 0.3]))


def assigned_in_one_branch_of_an_unrolled_loop(x, y):
    y3 = x * 2.0
    for i in range(3):
        if np.maximum(x[0], x[1]) > 0.0:
            pass
        else:
            for _e in y3:
                kept = y3
            both = np.stack([kept, y3 * float(i)])
            y = y + np.sum(both)
    return np.sum(y3) + np.sum(y)


@pytest.mark.parametrize("x0", [0.3, -0.7])
def test_a_name_assigned_in_one_branch_of_a_loop_that_is_unrolled(x0):
    # the merge after the second iteration's `if` copied a name the first never bound
    # (UnboundLocalError in vjp)
    x, y = np.array([x0, -0.9]), np.array([1.0, 2.0])
    expected = numerical_vjp(assigned_in_one_branch_of_an_unrolled_loop, (x, y), 1.0, 0)
    out, backward = cr.vjp(assigned_in_one_branch_of_an_unrolled_loop, x, y)
    np.testing.assert_allclose(backward(1.0)[0], expected, atol=1e-6)
    grads = cr.grad(assigned_in_one_branch_of_an_unrolled_loop, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(grads[0], expected, atol=1e-6)


def mean_of_a_list_used_twice(x):
    hs = []
    hs.append(x[[2, 1, 3, 2]])
    value = np.sin(np.mean(hs))
    return np.mean(hs) * value


def test_second_order_through_a_list_summed_as_an_array():
    # grad's code adds a list gradient to an array of rows (add_lists); differentiated
    # again, the array's side got a list (TypeError in jacrev(grad))
    x = np.array([0.3, -0.4, 0.5, 0.8])
    f = mean_of_a_list_used_twice
    hessian_fd = numerical_jacobian(cr.grad(f), (x,), 0)
    np.testing.assert_allclose(cr.jacrev(cr.grad(f))(x), hessian_fd, atol=1e-5)
    np.testing.assert_allclose(cr.hessian(f)(x), hessian_fd, atol=1e-5)


def annotated_then_rebound_to_itself(x):
    v: np.ndarray = np.outer(x, x)
    v = v
    return v[0, 0] + np.sum(v[1])


def test_an_annotated_assignment_then_a_self_assignment():
    # the name looked like an integer (its annotated definition was not seen): gradient 0
    check_all_modes(annotated_then_rebound_to_itself)


def empty_loop_after_a_local_function_with_the_same_loop_name(x):
    for _ in range(2):
        y = x[[1, 1, 1]]
        x, y = y, x

    def unused(u):
        out = u
        for i in range(3):
            out[i] = u

    if np.abs(x[2]) > 0.2:
        pass
    else:
        for i in range(0):  # noqa: B007 (the same name as the local function's loop)
            pass
    return np.mean(np.sin(x))


@pytest.mark.parametrize("x0", [0.5, 0.1])
def test_a_loop_name_bound_only_inside_a_local_function_is_not_live_after_an_if(x0):
    # the local function's own loop variable `i` counted as read after the `if`, so
    # the merge copied `i` from an empty loop that never bound it (UnboundLocalError
    # in vjp)
    x = np.array([0.3, x0, -0.4])
    check_all_modes(empty_loop_after_a_local_function_with_the_same_loop_name, x=x)


def local_function_named_result_and_an_early_return(x):
    def result(u):  # never called (left over from editing)
        return np.tanh(u) * 2.0

    for e in x[:3] * 2.0:
        for k in range(2):
            if e < -5.0:
                return 0.3 * float(k)
            x = x + 0.1 * np.tanh(x) * e
    return np.sum(x * x)


def test_a_local_function_named_like_the_return_flag():
    # lowering the early return named its value `result`, the name of a local function
    # never read, which then looked like a function assigned in a loop (refused)
    check_all_modes(local_function_named_result_and_an_early_return)


def lambda_after_an_early_return_read_by_a_local_function(x):
    if x[0] > 5.0:
        return np.sum(x)
    shift = lambda t, c=0.5: np.tanh(t - c)  # noqa: E731

    def inner(u):
        return np.sum(shift(u * x[1]))

    return inner(x) + np.sum(np.sin(x))


def test_a_lambda_defined_after_an_early_return():
    # the code after the `return` moves into an `else`; the lambda then counted as
    # read after that `if` (by the later local function, everywhere), so it looked
    # like a function assigned in one branch (refused)
    check_all_modes(lambda_after_an_early_return_read_by_a_local_function)
