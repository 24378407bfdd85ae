"""NumPy's memory semantics: views, in-place changes, repeated indices, integer arrays.

Each defect of issue 12 has a case here.  A program chainrule accepts must
give NumPy's values and derivatives (checked against finite differences, in
reverse and forward mode, and to second order where it applies); a program
whose in-place change would be seen through another name is refused with a
CompileError at the user's line.  The functions are module-level so that
chainrule reads their source.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import CompileError
from chainrule.aliasing import FRESH_FUNCTIONS, VIEW_FUNCTIONS
from chainrule.testing import check_grads, numerical_jacobian

X4 = np.array([0.3, -1.2, 0.8, 1.7])
X3 = np.array([0.5, 1.5, 2.0])


def numerical_grad(f, x):
    return numerical_jacobian(f, [x], 0)


def agree_everywhere(f, x, order=2):
    """grad, jacfwd and jacrev agree with finite differences; second order too."""
    expected = numerical_grad(f, x)
    np.testing.assert_allclose(chainrule.grad(f)(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chainrule.jacfwd(f)(x), expected, rtol=1e-5, atol=1e-6)
    check_grads(f, (x,), order=order)


def assert_refused_at(call, f, text, match):
    """`call()` raises a CompileError at the line of `f` that holds `text`."""
    import inspect

    lines, first = inspect.getsourcelines(f)
    where = [first + k for k, line in enumerate(lines) if text in line]
    assert len(where) == 1, where
    with pytest.raises(CompileError, match=match) as info:
        call()
    assert info.value.lineno == where[0], str(info.value)
    assert info.value.filename.endswith("test_aliasing.py")


# -- 1. views: an in-place change seen through another name is refused ------------------


def reshape_then_scale(x):
    y = x * 1.0
    r = np.reshape(y, (2, 2))
    r *= 3.0
    return np.sum(y * x)


def ravel_then_write(x):
    y = x * 1.0
    r = np.ravel(y)
    r[0] = 5.0
    return np.sum(y * x)


def transpose_then_scale(x):
    y = np.outer(x, x)
    r = np.transpose(y)
    r += 1.0
    return np.sum(y)


def asarray_then_scale(x):
    y = x * 2.0
    r = np.asarray(y)
    r *= 3.0
    return np.sum(y)


def array_no_copy_then_write(x):
    y = np.array(x, copy=None)
    y[0] = 0.0
    return np.sum(y * x)


def astype_no_copy_then_scale(x):
    y = x * 1.0
    r = y.astype(float, copy=False)
    r *= 2.0
    return np.sum(y)


def split_then_scale(x):
    y = x * 1.0
    a, b = np.split(y, 2)
    a *= 2.0
    return np.sum(y)


def rows_then_scale(x):
    y = np.outer(x[:2], x)
    a, b = y
    a *= 2.0
    return np.sum(y)


def unknown_function_then_scale(x):
    y = x * 1.0
    r = np.squeeze(np.expand_dims(y, 0))
    r *= 2.0
    return np.sum(y)


def list_reference_then_update(x):
    hs = []
    h = x * 1.0
    hs.append(h)
    h += x
    return np.sum(hs[0])


def list_item_updated(x):
    h = x * 1.0
    hs = []
    hs.append(h)
    hs[0] += x
    return np.sum(h)


def container_leaf_updated(p, x):
    W = p["W"]
    W *= 2.0
    return np.sum(p["W"] * x)


def update_in_loop_seen_earlier_in_body(x):
    y = x * 1.0
    v = y
    total = 0.0
    for _ in range(3):
        total = total + np.sum(y * x)
        v += x
    return total


def ifexp_alias_update(x):
    v = x if np.sum(x) > 0.0 else x
    v += np.tanh(x)
    return np.sum(x)


REFUSED = [
    (reshape_then_scale, "r *= 3.0"),
    (ravel_then_write, "r[0] = 5.0"),
    (transpose_then_scale, "r += 1.0"),
    (asarray_then_scale, "r *= 3.0"),
    (array_no_copy_then_write, "y[0] = 0.0"),
    (astype_no_copy_then_scale, "r *= 2.0"),
    (split_then_scale, "a *= 2.0"),
    (rows_then_scale, "a *= 2.0"),
    (unknown_function_then_scale, "r *= 2.0"),
    (list_reference_then_update, "h += x"),
    (list_item_updated, "hs[0] += x"),
    (update_in_loop_seen_earlier_in_body, "v += x"),
    (ifexp_alias_update, "v += np.tanh(x)"),
]


@pytest.mark.parametrize("f, line", REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_an_in_place_change_seen_through_another_name_is_refused(f, line):
    with pytest.raises(CompileError) as info:
        chainrule.grad(f)(X4)
    err = info.value
    assert line in str(err), str(err)
    assert "test_aliasing.py" in str(err)
    assert "share" in str(err) or "argument" in str(err) or "fresh" in str(err)


def test_a_container_leaf_updated_in_place_is_refused():
    p = {"W": np.ones(4)}
    with pytest.raises(CompileError, match="share memory"):
        chainrule.grad(container_leaf_updated, argnums=1)(p, X4)


def test_np_array_without_copy_never_changes_the_callers_array():
    x = X4.copy()
    with pytest.raises(CompileError):
        chainrule.grad(array_no_copy_then_write)(x)
    np.testing.assert_array_equal(x, X4)


def test_the_table_never_calls_a_view_function_fresh():
    fresh = {id(f) for f in FRESH_FUNCTIONS}
    assert not [f for f in VIEW_FUNCTIONS if id(f) in fresh]
    assert np.reshape in VIEW_FUNCTIONS and np.asarray in VIEW_FUNCTIONS
    assert np.stack in FRESH_FUNCTIONS and np.where in FRESH_FUNCTIONS


# -- views whose sharing name is not read later: exact results ----------------------------


def reshape_scaled_dead_base(x):
    y = x * 1.0
    r = np.reshape(y, (2, 2))
    r *= 3.0
    return np.sum(r * np.reshape(x, (2, 2)))


def test_an_in_place_change_nobody_else_sees_is_exact():
    agree_everywhere(reshape_scaled_dead_base, X4)


# -- 2. repeated fancy indices: NumPy keeps the last write --------------------------------

WEIGHTS = np.array([1.0, 10.0, 100.0])


def repeated_write(x):
    out = np.zeros(3)
    out[[0, 0, 2]] = x * np.array([1.0, 2.0, 3.0])
    return np.sum(out * WEIGHTS)


def repeated_augmented_write(x):
    out = np.ones(3) * x[0]
    out[[1, 1, 2]] += x * 2.0
    return np.sum(out**2)


def repeated_pairs(x):
    out = np.zeros((2, 2))
    out[[0, 0], [1, 1]] = x[:2] ** 2
    return np.sum(out * 3.0)


def repeated_scalar_write(x):
    out = x * 1.0
    out[[0, 0, 2]] = x[1] * x[2]
    return np.sum(out * WEIGHTS)


def repeated_write_in_loop(x):
    out = np.zeros(3)
    for i in range(2):
        out[[i, i, 2]] = x * (i + 1.0)
    return np.sum(np.sin(out) * WEIGHTS)


@pytest.mark.parametrize(
    "f",
    [
        repeated_write,
        repeated_augmented_write,
        repeated_pairs,
        repeated_scalar_write,
        repeated_write_in_loop,
    ],
)
def test_repeated_fancy_indices_follow_numpy(f):
    agree_everywhere(f, X3)


def test_the_last_write_takes_the_gradient():
    np.testing.assert_allclose(chainrule.grad(repeated_write)(X3), [0.0, 2.0, 300.0])


# -- 3. integer arrays truncate: no gradient passes -------------------------------------


def int_array_write(x):
    c = np.zeros(2, dtype=int)
    c[1] = x[1] * 3.0
    return np.sum(c) + x[0]


def int_array_from_floats(x):
    c = np.arange(3)
    c[[0, 2]] = c[[0, 2]] + x[:2] * 2.0
    return np.sum(c * 1.0) + np.sum(x)


@pytest.mark.parametrize("f", [int_array_write, int_array_from_floats])
def test_writes_into_integer_arrays_pass_no_gradient(f):
    x = X3 + 0.123  # away from the integers, where truncation jumps
    agree_everywhere(f, x)
    _, tangent = chainrule.jvp(f, (x,), (np.ones(3),))
    np.testing.assert_allclose(tangent, numerical_grad(f, x) @ np.ones(3), atol=1e-6)


# -- 4. patterns that crashed inside generated code ---------------------------------------


def view_taken_before_write(x):
    out = np.zeros(4)
    r = np.reshape(out, (2, 2))  # noqa: F841 (a view taken, then unused)
    out[1] = x[0] * 2.0
    return np.sum(out * x)


def appended_then_written(x):
    hs = []
    y = x * 2.0
    hs.append(y)
    y[0] = 5.0
    return np.sum(y * x)


def list_made_in_loop(x):
    total = 0.0
    for i in range(3):
        hs = []
        hs.append(x * (i + 1.0))
        total = total + np.sum(hs[0] ** 2)
    return total


def reversed_iteration(x):
    total = 0.0
    for v in reversed(x):
        total = total * 0.5 + v**2
    return total


def zero_d_write(x):
    out = np.zeros(())
    out[()] = np.sum(x**2)
    return out * 1.0


@pytest.mark.parametrize("f", [view_taken_before_write, reversed_iteration, zero_d_write])
def test_former_crashes_give_numpys_derivatives(f):
    agree_everywhere(f, X4)


@pytest.mark.parametrize("f", [list_made_in_loop, appended_then_written])
def test_former_crashes_with_lists_give_numpys_derivatives(f):
    agree_everywhere(f, X4, order=1)


def appended_then_written_then_read(x):
    hs = []
    y = x * 2.0
    hs.append(y)
    y[0] = 5.0
    return np.sum(hs[0] * x)


def test_a_write_into_an_array_a_list_still_holds_is_refused():
    with pytest.raises(CompileError, match="share memory"):
        chainrule.grad(appended_then_written_then_read)(X4)


# -- 5. fresh results may be written into -------------------------------------------------


def svm_margins(W, X, y):
    scores = X @ W
    correct = scores[np.arange(3), y][:, None]
    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[np.arange(3), y] = 0.0
    return np.sum(margins)


def writes_into_fresh_results(x):
    a = np.exp(x)
    a[0] = 1.0
    b = np.where(x > 0, x, 0.1 * x)
    b[1] = x[2] ** 2
    c = np.stack([x, x * 2.0])
    c[0, 1] = 0.0
    d = np.maximum(np.outer(x, x), 0.0)
    d[0] = x
    return np.sum(a * b) + np.sum(c**2) + np.sum(d)


def test_results_of_fresh_functions_can_be_written_into():
    agree_everywhere(writes_into_fresh_results, X4)


def test_the_multiclass_svm_loss_is_accepted():
    rng = np.random.default_rng(0)
    W, X, y = rng.normal(size=(4, 5)), rng.normal(size=(3, 4)), np.array([0, 4, 2])
    ours = chainrule.grad(svm_margins)(W, X, y)
    expected = numerical_jacobian(lambda w: svm_margins(w, X, y), [W], 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


ADD_AT_INDEX = np.array([0, 2, 0])


def accumulated_with_add_at(x):
    acc = np.zeros(3)
    np.add.at(acc, ADD_AT_INDEX, x**2)
    return np.sum(acc**2)


def test_second_derivatives_through_add_at():
    """np.add.at makes its array depend on the added values, also in gradient code."""
    agree_everywhere(accumulated_with_add_at, X3)
    H = chainrule.hessian(accumulated_with_add_at)(X3)
    expected = numerical_jacobian(lambda z: chainrule.grad(accumulated_with_add_at)(z), [X3], 0)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-5)


def loop_rebinds_an_array_it_writes(x):
    out = np.zeros(4)
    for i in range(3):
        out[i] = x[i] * 2.0
        out = x
    return np.sum(out)


def test_a_loop_that_rebinds_an_array_it_writes_to_a_shared_one_is_refused():
    with pytest.raises(CompileError) as info:
        chainrule.grad(loop_rebinds_an_array_it_writes)(X4)
    message = str(info.value)
    assert "out[i] = x[i] * 2.0" in message and "next iteration" in message, message
    line = loop_rebinds_an_array_it_writes.__code__.co_firstlineno + 3
    assert f"test_aliasing.py:{line}:" in message, message


# -- found by the 10,000-program differential run ----------------------------------------


def changed_in_a_loop_after_being_appended(W):
    out = W * 1.0
    hs = []
    for _ in range(3):
        out -= np.tanh(W[0, 0])  # changes the array the previous iteration appended
        hs.append(out)
    return np.mean(np.stack(hs))


def test_a_loop_that_changes_in_place_an_array_a_list_got_in_an_earlier_iteration_is_refused():
    # NumPy: hs holds the same array three times; the gradient was that of three copies
    with pytest.raises(CompileError, match="'hs' also refers to") as info:
        chainrule.grad(changed_in_a_loop_after_being_appended)(np.eye(2))
    assert info.value.source_line.strip().startswith("out -= np.tanh(W[0, 0])")


def item_written_in_a_loop_after_being_appended(w):
    out = np.tanh(w)  # made before the loop: the same array in every iteration
    hs = []
    for _ in range(2):
        out[2] += w[1]  # changes the item the previous iteration appended
        hs.append(out)
    return np.sum(hs)


def added_at_in_a_loop_after_being_appended(w):
    out = np.tanh(w)
    hs = []
    for _ in range(2):
        np.add.at(out, [2, 2], w[1])
        hs.append(out)
    return np.sum(hs)


@pytest.mark.parametrize(
    "f, text",
    [
        (item_written_in_a_loop_after_being_appended, "out[2] += w[1]"),
        (added_at_in_a_loop_after_being_appended, "np.add.at(out, [2, 2], w[1])"),
    ],
)
def test_an_item_write_into_an_array_an_earlier_iteration_appended_is_refused(f, text):
    # was a wrong gradient (15:4015 of the seed-15 run): a write into an array rebinds
    # no name, so the check at the loop's back edge, which followed names, missed it
    w = np.array([0.3, 0.5, 0.7])
    assert_refused_at(lambda: chainrule.grad(f)(w), f, text, "'hs' also refers to")


def written_afresh_each_iteration_then_appended(w):
    hs = []
    for t in range(3):
        out = np.zeros(3)
        out[0] = w[0] * t
        out[1] += w[1]
        np.add.at(out, [2, 2], w[2])
        hs.append(out)
    return np.sum(np.stack(hs) ** 2)


def test_items_written_into_an_array_made_in_each_iteration_then_appended():
    agree_everywhere(written_afresh_each_iteration_then_appended, np.array([0.3, -0.4, 0.5]))


def fresh_each_iteration_then_appended(x):
    hs = []
    out = np.ones(2)
    for i in range(3):
        out = np.zeros(2)
        out += x[:2] * i
        hs.append(out)
    h = x * 1.0
    for _ in range(2):
        h = np.tanh(h)
        hs.append(h[:2] ** 2)  # a new array, not h
        h *= 2.0
    return np.sum(np.stack(hs) ** 2) + np.sum(out) + np.sum(h)


def test_arrays_made_afresh_in_each_iteration_may_be_appended_and_changed():
    x = np.array([0.3, -0.4, 0.5])
    agree_everywhere(fresh_each_iteration_then_appended, x)


def view_of_a_split_piece(s):
    y = np.full((3, 4), 0.2)
    piece = np.split(y, 3)[0]  # a view of y's first row, through the list split returns
    piece += s
    return np.sum(y)


def test_a_view_taken_through_a_call_result_is_a_view():
    # was a zero gradient: `np.split(y, 3)[0]` was not seen to share y's memory
    with pytest.raises(CompileError, match="'y' also refers to") as info:
        chainrule.grad(view_of_a_split_piece)(0.7)
    assert info.value.source_line.strip() == "piece += s"
    assert info.value.lineno == view_of_a_split_piece.__code__.co_firstlineno + 3


def appended_then_rebound_to_a_new_array(x):
    h = x * 1.0
    hs = []
    for _ in range(3):
        h *= 2.0  # changes the array the name brought in: never one a list holds
        hs.append(h)
        h = np.tanh(h)
    return np.sum(np.stack(hs) ** 2) + np.sum(h)


def test_a_change_of_an_array_made_afresh_at_the_end_of_each_iteration_is_accepted():
    agree_everywhere(appended_then_rebound_to_a_new_array, X3)


def written_after_arithmetic_with_a_constant(x):
    a = x * 2.0
    b = a + 1.0  # b's tangent is a's tangent, as an expression
    b[0] = 5.0  # the tangent write must not reach a's tangent
    return np.sum(a * a) + np.sum(b * b)


def test_forward_mode_writes_into_a_tangent_of_its_own():
    # jacfwd was [0, -2.4, 12] at X3[:3] where the gradient is [2.4, -2.4, 12]: the write
    # into b's tangent changed a's (and a read-only broadcast tangent crashed in hessian)
    x = np.array([0.3, -0.4, 0.5])
    agree_everywhere(written_after_arithmetic_with_a_constant, x)


def add_at_after_a_write(x):
    out = np.zeros((3, 4))
    out[1] += x[0]
    acc = np.zeros((4,))
    np.add.at(acc, [2, 2, 2], np.mean(out, axis=0).dot(np.log(2.0 + x)))
    return np.sum(out) + np.mean(acc)


def test_second_order_through_np_add_at_after_a_write():
    agree_everywhere(add_at_after_a_write, np.array([0.3, -0.4, 0.5, 0.8]))


def written_into_itself(x):
    out = np.zeros((3, 2))
    out[1] = x
    out[[0, 0, 1]] = out  # NumPy reads the whole old array first (it overlaps the write)
    return np.sum(out * np.array([[1.0], [2.0], [3.0]]))


def test_an_array_written_into_itself():
    # the written value's gradient went into the places the write then cleared: 0
    agree_everywhere(written_into_itself, np.array([0.3, -0.4]))


# -- second order through writes: what the gradient code writes into is fresh too ---------


def hessian_matches(f, x):
    """hessian and jacrev(grad) agree with finite differences of grad (and grad with
    finite differences of f), in every mode chainrule has for them."""
    agree_everywhere(f, x, order=1)
    expected = numerical_jacobian(chainrule.grad(f), [x], 0)
    np.testing.assert_allclose(chainrule.hessian(f)(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        chainrule.jacfwd(chainrule.grad(f))(x), expected, rtol=1e-5, atol=1e-5
    )


def new_array_each_iteration_then_written(x):
    w = x[1]
    hs = []
    for _ in range(len(x)):
        out = np.zeros((3,))
        out[0:1] = w
        hs.append(np.maximum(out[[0, 0, 1]], w) * x[0])
    return np.mean(np.stack(hs)) + np.sum(np.sin(x))


def buffer_through_a_branch_and_a_loop(x):
    out = np.copy(x)
    out[1] = x[1] * x[2]
    if x[0] > 5.0:
        out = out - np.cos(x[0])
    else:
        v = x[[0, 0]] * x[1]
        for e in v:
            x = x + 0.3 * np.sin(np.tanh(e * out[1]))
    return np.mean(np.sin(out)) + np.sum(x**2)


def rebinds_at_the_top_of_each_iteration(x):
    out = np.zeros(3)
    s = 0.0
    for i in range(3):
        a = out
        s = s + np.sin(a[0] + a[1]) * x[i]
        out[i] = x[i] * x[(i + 1) % 3]
    return s + np.sum(out**2)


def another_name_for_a_new_array(x):
    out = x * 2.0
    a = out
    a[1] = x[0] * x[2]
    return np.sum(a * x)


@pytest.mark.parametrize(
    "f",
    [
        # the restore of `out[0:1]` in the backward pass wrote into an array a record
        # stack gave back, "not known to be fresh" (and needed no restore at all)
        new_array_each_iteration_then_written,
        # the gradient buffer `dout` went through unbroadcast, a copy and a loop's merge
        buffer_through_a_branch_and_a_loop,
    ],
)
def test_second_order_through_writes_the_gradient_code_makes(f):
    hessian_matches(f, X3.copy())


@pytest.mark.parametrize("f", [rebinds_at_the_top_of_each_iteration, another_name_for_a_new_array])
def test_writes_accepted_because_no_name_sees_an_old_value(f):
    # `a = out` at the top of the loop reads out as it is now (refused before as "used
    # later"); `a = out` names the same new array (refused before as "not known to be
    # fresh")
    agree_everywhere(f, X3.copy(), order=1)


def a_copy_whose_original_is_read_later(x):
    out = np.zeros(3)
    a = out
    a[0] = x[0] * x[1]
    return np.sum(out * x)


def test_a_write_through_another_name_is_refused_when_the_original_is_read():
    f = a_copy_whose_original_is_read_later
    assert_refused_at(lambda: chainrule.grad(f)(X3.copy()), f, "a[0] =", "'out' also refers to")


def read_in_the_other_branch(x):
    buf = np.zeros(3)
    s = 0.0
    for i in range(3):
        view = buf
        if x[i] > 0.0:
            buf[i] = x[i] ** 2
        else:
            s = s + np.sum(view * x) * x[i]
    return s + np.sum(buf * x)


def rebound_after_the_write(x):
    buf = np.zeros(3)
    s = 0.0
    for i in range(3):
        view = buf
        buf[i] = x[i] * x[(i + 1) % 3]
        view = np.sin(buf)
        s = s + np.sum(view) * x[i]
    return s


def read_after_a_loop_that_rebinds_it(x):
    buf = np.zeros(3)
    for i in range(3):
        view = buf
        buf[i] = x[i] * x[(i + 2) % 3]
        view = buf * x
    return np.sum(view) + np.sum(buf)


@pytest.mark.parametrize(
    "f", [read_in_the_other_branch, rebound_after_the_write, read_after_a_loop_that_rebinds_it]
)
@pytest.mark.parametrize("x", [X3, -X3, np.array([0.4, -0.8, 1.3])])
def test_a_name_bound_afresh_on_every_path_to_its_read_does_not_block_a_write(f, x):
    # `view` shares `buf` when the write happens, but every path from the write to a
    # read of `view` binds it again (in the other branch: around the loop, past the
    # top of the body): refused before as "'view' is used later"
    if f is read_in_the_other_branch:
        # second order stays refused, soundly: the gradient code's records hold `view`,
        # the very array whose writes its backward pass undoes
        agree_everywhere(f, x.copy(), order=1)
        with pytest.raises(CompileError, match="higher order"):
            chainrule.hessian(f)(x.copy())
    else:
        hessian_matches(f, x.copy())


def read_later_in_the_same_iteration(x):
    buf = np.zeros(3)
    s = 0.0
    for i in range(3):
        view = buf
        buf[i] = x[i] ** 2
        if x[0] > 0.0:
            view = buf * 1.0
        s = s + np.sum(view * x)
    return s


def test_a_name_bound_again_on_one_path_only_still_blocks_the_write():
    f = read_later_in_the_same_iteration
    assert_refused_at(lambda: chainrule.grad(f)(X3.copy()), f, "buf[i] =", "'view' also refers to")


def shape_read_after_the_write(x):
    buf = np.zeros(3)
    view = buf
    buf[1] = x[0] * x[2]
    zero = np.zeros_like(view)
    return np.sum(buf * x) + np.sum(zero) + len(view)


def test_a_read_of_a_shape_only_does_not_block_a_write():
    # np.zeros_like(view) and len(view) read no element of the changed array
    hessian_matches(shape_read_after_the_write, X3.copy())


def _mean_sin(u2):
    return 0.3 * np.mean(np.sin(u2))


def rows_swapped_into_the_loop_variable(x, y):
    v5 = np.outer(y, x) if y[1] > 0.0 else np.outer(y, x)
    if np.dot(x, v5[1]) < -0.3:
        return 1.0 * np.mean(np.sin(v5))
    y6 = np.dot(v5, np.tanh(np.outer(x, x) * np.outer(x, x))) / (
        1.5 + (np.stack([v5[1], x]) * x[0] ** 2) ** 2
    )
    for _e7, e8 in zip(x, y6):
        e8, x = (x, e8)
    for _j, e12 in enumerate(y6):
        y = np.tanh(y * 0.3 + np.sum(e12))
    v18 = np.outer(y, np.tanh(x))
    if _mean_sin(v18[0]) > -0.3:
        return (
            0.3 * np.sum(v5**2)
            + 0.3 * np.mean(np.sin(y))
            + 0.5 * np.sum(y6 * np.linspace(0.5, 1.5, 6).reshape((2, 3)))
            + 1.0 * np.mean(np.sin(v18))
        )
    else:
        return (
            0.5 * np.sum(v5)
            + 1.0 * np.sum(y * np.linspace(0.5, 1.5, 2).reshape((2,)))
            + 0.3 * np.sum(y6 * np.linspace(0.5, 1.5, 6).reshape((2, 3)))
            + 1.0 * np.sum(v18)
        )


def test_second_order_through_a_gradient_buffer_made_by_arithmetic():
    # the gradient code writes `dy6[i] += de8` into `dy6 = unbroadcast(dt * t, y6)`: the
    # product is a temporary the second pass did not know to be a new array (refused)
    y = np.array([0.4, 0.1])
    f = rows_swapped_into_the_loop_variable
    x = np.array([0.3, -0.2, 0.5])
    expected = numerical_jacobian(chainrule.grad(f), [x, y], 0)
    np.testing.assert_allclose(chainrule.hessian(f)(x, y), expected, rtol=1e-5, atol=1e-5)


_negate = lambda t: -t  # noqa: E731 (a module-level lambda, as users write them)


def two_constants_from_one_function(x):
    v = _negate(np.full(2, 0.3))
    y = _negate(_negate(np.full((3, 2), -0.2)))
    y *= np.tanh(x[0])
    return np.sum(y) + np.sum(v * x[:2])


def test_arrays_made_by_calls_do_not_share_the_called_functions_names():
    # `np` (and `_negate`) inside the arguments of two calls counted as memory both
    # results share: "`y *= ...` changes an array that 'v' also refers to"
    hessian_matches(two_constants_from_one_function, X3.copy())


def _squashed_join(u):
    return np.tanh(np.concatenate((u[2:] + u[:1], np.tanh(u))))


def _first_rows(u):
    return u[:2]


def helper_result_changed_in_place(s, x):
    v = _squashed_join(x[[1, 2, 1]])
    v -= x[-1]
    return s * np.sum(np.tanh(v) ** 2) + np.sum(x**2)


def helper_view_changed_in_place(s, x):
    v = _first_rows(x * 1.0)
    w = _first_rows(x)
    w -= 1.0
    return s * np.sum(v)


def test_a_helper_run_as_it_is_that_returns_a_new_array_shares_nothing():
    # x is not differentiated, so the call runs as it is; every return of the helper
    # is a new array, so changing its result in place cannot change x (refused before:
    # "`v -= ...` changes an array that 'x' also refers to")
    x = np.array([0.3, -0.2, 0.5, 0.1])
    s = 0.7
    expected = numerical_jacobian(lambda t: helper_result_changed_in_place(t, x), [s], 0)
    np.testing.assert_allclose(
        chainrule.grad(helper_result_changed_in_place)(s, x), expected, rtol=1e-6
    )
    # a helper that may return a view of its argument still counts as sharing it
    g = helper_view_changed_in_place
    assert_refused_at(lambda: chainrule.grad(g)(s, x), g, "w -= 1.0", "also refers to")


def made_each_iteration_filled_in_an_inner_loop(x):
    total = 0.0
    for k in range(2):
        buf = np.zeros_like(x)
        for j in range(2):
            buf[j] = np.mean(x - np.dot(np.outer(x, x), x)) * (k + 1.0)
        buf[-1] = x[-1] + x[1]
        total = total + np.mean(np.sin(buf))
    return total


def test_second_order_through_an_array_made_each_iteration_and_filled_by_an_inner_loop():
    # the array is new on every outer iteration, so the writes of the inner loop need
    # no restore for reads outside that loop; the restores made the second pass refuse
    # ("changes an array that 'stack' also refers to")
    hessian_matches(made_each_iteration_filled_in_an_inner_loop, X3.copy())


def list_slot_then_argument_write(x):
    hs = []
    hs.append(3.0)
    hs[-1] = x
    x[0] = 1.5
    return np.mean(hs)


def list_slot_then_write(x):
    y = x * 2.0
    hs = [0.0]
    hs[0] = y
    y[1] = 5.0
    return np.mean(hs)


@pytest.mark.parametrize("f", [list_slot_then_argument_write, list_slot_then_write])
def test_a_list_slot_holds_the_array_assigned_to_it(f):
    # `hs[-1] = x` makes the list hold x itself, as an append does: the write into x
    # changes the list's item (NumPy); chainrule took the item for the old x and gave
    # a wrong gradient (0.075 where 0.0083 is right). Refused now, at the write.
    line = "x[0] = 1.5" if f is list_slot_then_argument_write else "y[1] = 5.0"
    assert_refused_at(lambda: chainrule.grad(f)(X3.copy()), f, line, "'hs' also refers to")


def swap_then_change_in_place(x):
    a = x * 1.0
    b = x * 2.0
    total = 0.0
    for _j, e in enumerate(a):
        for _k in range(2):
            b *= np.tanh(e)
            a, b = b, a
        total = total + e
    return total + np.sum(a) + np.sum(b)


def decay_then_rebind(x):
    h = x * 1.0
    for t in range(3):
        h *= 0.5
        h = h + np.sin(x * t)
    return np.sum(h * h)


def test_an_in_place_change_of_a_name_a_swap_carries_is_refused():
    # on the second pass `b` is the array `enumerate(a)` still reads: NumPy changes it,
    # and chainrule's gradient was wrong (the check knew only b's value at the entry)
    f = swap_then_change_in_place
    assert_refused_at(
        lambda: chainrule.grad(f)(X3.copy()), f, "b *= np.tanh(e)", "next iteration of this loop"
    )


def test_an_in_place_change_of_what_the_previous_iteration_made_is_exact():
    # the back edge brings an array the iteration made itself: no other name has it
    hessian_matches(decay_then_rebind, X3.copy())


def view_in_one_branch(x, c):
    w = x * 2.0
    if c > 0.0:
        y = w[:3]  # a view of w
    else:
        y = w[[0, 1, 2]]  # a copy
    w[0] = 0.5
    return np.sum(np.sin(y))


def view_in_a_middle_branch(x, c):
    w = x * 2.0
    if c < -0.3:
        y = w[1:] * 1.0
    elif c > 0.2:
        y = w[:3]  # a view of w
    else:
        y = w[[3, 3, 3]]
        y = y + 1.0
    w[0] = -c
    return np.mean(np.sin(y))


def copies_in_both_branches(x, c):
    w = x * 2.0
    if c > 0.0:
        y = w[[0, 1, 2]]
    else:
        y = w[1:] + 0.0
    w[0] = 0.5
    return np.sum(np.sin(y)) + np.sum(w * w)


@pytest.mark.parametrize("f", [view_in_one_branch, view_in_a_middle_branch])
def test_a_view_made_in_one_branch_only_is_seen_after_the_if(f):
    # each branch that first defines a name gives it the user's name; what the other
    # branch's value shares was forgotten, and the write's change of y went unseen: a
    # wrong gradient (the seed-8 run, 8:2, with a write into an argument)
    x = np.array([0.7, -0.3, 0.2, 0.1])
    assert_refused_at(lambda: chainrule.grad(f)(x, 0.5), f, "w[0] =", "'y' also refers to")


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_copies_in_both_branches_may_be_written_after(c):
    x = np.array([0.7, -0.3, 0.2, 0.1])
    expected = numerical_jacobian(copies_in_both_branches, [x, c], 0)
    np.testing.assert_allclose(
        chainrule.grad(copies_in_both_branches)(x, c), expected, rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        chainrule.jacfwd(copies_in_both_branches)(x, c), expected, rtol=1e-6, atol=1e-8
    )


def change_a_row(W, x):
    row = W[0]  # a view of the caller's array
    row += np.cos(x)
    return x[1]


def through_two_helpers(W, x):
    return change_a_row(W, x) * 2.0


def helper_changes_a_parameter(W, x):
    W = W * 1.0
    t = change_a_row(W, x)
    return np.mean(np.sin(W[0])) + t


def nested_helpers_change_a_parameter(W, x):
    W = W * 1.0
    t = through_two_helpers(W, x)
    return np.mean(np.sin(W[0])) + t


def closure_changes_a_captured_array(W, x):
    def bump(u):
        row = W[0]
        row += np.cos(x)
        return u

    t = bump(x[1])
    t = bump(t)
    return np.mean(np.sin(W[0])) + t


def read_on_the_line_of_the_call(W, x):
    W = W * 1.0
    return change_a_row(W, x) + np.mean(np.sin(W[0]))


def changed_but_not_read_after(W, x):
    W = W * 1.0
    t = change_a_row(W, x)
    return t * np.sum(x)


@pytest.mark.parametrize(
    "f",
    [
        helper_changes_a_parameter,
        nested_helpers_change_a_parameter,
        closure_changes_a_captured_array,
        read_on_the_line_of_the_call,
    ],
)
def test_a_helper_changing_what_its_caller_reads_later_is_refused(f):
    # the helper's own reads were checked, not its caller's: W's change went unseen and
    # the gradient was wrong (the seed-9 run, 9:4551: a closure called in a loop)
    W, x = np.ones((3, 4)) * 0.3, np.array([0.1, -0.4, 0.7, 0.2])
    where = closure_changes_a_captured_array if f is closure_changes_a_captured_array else None
    assert_refused_at(  # the change, in the helper (or the closure)
        lambda: chainrule.grad(f, argnums=(0, 1))(W, x),
        where or change_a_row,
        "row += np.cos(x)",
        "'W' is used later in",
    )


def test_a_helper_may_change_what_its_caller_does_not_read_again():
    W, x = np.ones((3, 4)) * 0.3, np.array([0.1, -0.4, 0.7, 0.2])
    f = changed_but_not_read_after
    for k in (0, 1):
        expected = numerical_jacobian(lambda a, b: f(a.copy(), b.copy()), [W, x], k)
        got = chainrule.grad(f, argnums=k)(W.copy(), x.copy())
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def bumps_its_argument(u):
    v = u if u.dot(u) < 0.2 else u  # the same array either way
    v += np.tanh(u[0])
    return np.tanh(u[[0, 0, 0]])


def helper_in_a_test(x, y):
    out = np.where(bumps_its_argument(x) > -0.2, np.maximum(y, 0.25), y) * 2.0
    return np.sum(out) + np.sum(x)


def is_big(v):
    return sum([float(e) for e in v]) > 1.0  # a comprehension: not something to inline


def helper_without_changes_in_a_test(x):
    if is_big(x):
        return np.sum(x * x)
    return np.sum(np.sin(x))


def test_a_helper_whose_result_is_only_compared_is_still_checked():
    # `bumps_its_argument(x) > -0.2` carries no gradient, so the call ran as it is,
    # unseen: it changed the caller's x in place, also the array given to grad (the
    # seed-13 run, 13:8356).  A function that may change arrays in place is inlined
    # there too, and its change is refused at its line.
    x, y = np.array([0.3, -0.2]), np.array([1.0, 2.0, 3.0])
    before = x.copy()
    f = bumps_its_argument
    assert_refused_at(
        lambda: chainrule.grad(helper_in_a_test, argnums=(0, 1))(x, y),
        f,
        "v += np.tanh",
        "'u' also refers to",
    )
    np.testing.assert_array_equal(x, before)


def test_a_helper_that_changes_nothing_in_place_still_runs_as_it_is_in_a_test():
    for x in (np.array([0.9, 0.8, 0.3]), np.array([0.1, -0.2, 0.3])):
        expected = numerical_grad(helper_without_changes_in_a_test, x)
        got = chainrule.grad(helper_without_changes_in_a_test)(x)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def scaled_score(u):
    v = np.tanh(u[:2]) * 2.0  # its own array, changed in place: nothing the caller sees
    v *= 0.5
    return np.sum(v)


def compared_in_tests(x):
    total = 0.0
    for k in range(2):
        if scaled_score(x * (k + 1.0)) > 0.0:
            total = total + np.sum(x * x)
        else:
            total = total + np.sum(np.sin(x))
    return total + np.sum(np.where(scaled_score(x) > 0.1, x, 2.0 * x))


def test_a_helper_changing_only_its_own_arrays_in_a_test_is_inlined_and_exact():
    # inlined inside the comparison of an `if` and of np.where (its call is rendered
    # as the atom its body computes; a first version left an empty expression there:
    # a SyntaxError in generated code, 14:288)
    for x in (np.array([0.4, 0.3, -0.2]), np.array([-0.4, -0.3, 0.2])):
        expected = numerical_grad(compared_in_tests, x)
        got = chainrule.grad(compared_in_tests)(x)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(chainrule.jacfwd(compared_in_tests)(x), expected, rtol=1e-6)
