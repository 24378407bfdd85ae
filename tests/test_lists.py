"""Lists made in the function: item assignment, and second derivatives through item reads."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule import check_grad, grad, hessian, jvp
from chainrule.testing import check_grads, numerical_jacobian, numerical_jvp, numerical_vjp


def overwrite_slots(x, w):
    hs = []
    hs.append(x)
    hs.append(x * 2.0)
    hs.append(np.sin(x))
    hs[1] = hs[0] * w  # the old item is replaced: it gets no gradient from later reads
    hs[2] = hs[2] + hs[1]
    total = 0.0
    for i in range(3):
        total = total + np.sum(hs[i] * hs[2 - i])
    return total


def running_slots(x, n):
    hs = [0.0] * n
    h = x
    for t in range(n):
        h = np.tanh(h * 1.3 + 0.1)
        hs[t] = h
    for t in range(1, n):
        hs[t] = hs[t] + 0.5 * hs[t - 1]
    return np.sum(hs[n - 1] ** 2) + np.sum(hs[0])


def reads_by_index(x):
    hs = []
    h = x
    for _ in range(3):
        h = np.sin(h) * 1.1
        hs.append(h)
    total = 0.0
    for i in range(3):
        total = total + np.sum(hs[i] * hs[2 - i])
    return total


ARRAYS = hnp.arrays(np.float64, st.integers(1, 3), elements=st.floats(-1.5, 1.5))


@settings(max_examples=20, deadline=None)
@given(ARRAYS, st.floats(-2, 2))
def test_list_item_assignment(x, w):
    check_grad(overwrite_slots, x, w, argnums=(0, 1), rtol=1e-4, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(ARRAYS, st.integers(1, 5))
def test_list_item_assignment_in_loops(x, n):
    check_grad(running_slots, x, n, rtol=1e-4, atol=1e-5)


def test_forward_mode_through_item_assignment():
    x, w = np.array([0.3, -0.4]), 0.7
    v = np.array([1.0, -0.5])
    out, t = jvp(overwrite_slots, (x, w), (v, None))
    fd = numerical_jvp(overwrite_slots, (x, w), (v, None))
    np.testing.assert_allclose(out, overwrite_slots(x, w))
    np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)


def test_second_derivatives_through_list_reads():
    x = np.array([0.3, 0.4, -0.2])
    check_grads(reads_by_index, (x,), order=2)  # forward over reverse, reverse over reverse
    H = hessian(reads_by_index)(x)
    np.testing.assert_allclose(
        H, numerical_jacobian(grad(reads_by_index), (x,), 0), rtol=1e-5, atol=1e-6
    )
    gg = grad(lambda v: np.sum(grad(reads_by_index)(v) ** 2))(x)

    def norm2(v):
        return np.sum(grad(reads_by_index)(v) ** 2)

    fd = numerical_vjp(norm2, (x,), 1.0, 0, eps=1e-6)
    np.testing.assert_allclose(gg, fd, rtol=1e-5, atol=1e-6)


def slot_read_next_time(x, w):
    hs = [1.0, np.cos(w)]
    total = 0.0
    for _ in range(3):
        total = total + np.sum(hs[0] * x)
        hs[0] = hs[1] * x  # read by the next iteration only, never after the loop
    return total


def display_then_recurrence(x):
    hs = [np.ones_like(x)]  # a display of a constant, then reads and appends in a loop
    for t in range(3):
        hs.append(np.sin(x * hs[t]))
    return np.sum(np.stack(hs) ** 2)


def test_a_slot_written_in_a_loop_and_read_by_the_next_iteration():
    # the write's adjoint was skipped when nothing after the loop read the list: a wrong
    # first derivative, and (through the gradient code's own list of gradients,
    # `dhs[t] = dhs[t] + dt1`, read by the next iteration's pop) a wrong grad(grad(f))
    x, w = np.array([0.6, -0.3]), 0.4
    check_grads(slot_read_next_time, (x, w), order=2)
    check_grads(display_then_recurrence, (x,), order=2)
    gg = grad(lambda v: np.sum(grad(display_then_recurrence)(v)))(x)
    fd = numerical_vjp(lambda v: np.sum(grad(display_then_recurrence)(v)), (x,), 1.0, 0)
    np.testing.assert_allclose(gg, fd, rtol=1e-5, atol=1e-6)


def stacked_in_an_inner_loop(x, s):
    hs = [x * 1.0, x * 2.0]
    for _ in range(2):
        for _ in range(3):  # reads the list the outer loop changes in place
            s = s - np.sum(np.sin(np.stack(hs)) ** 2)
        hs[0] = hs[0] * 1.5
    return s


def grown_in_the_outer_loop(x, s):
    hs = [x * 1.0]
    for _ in range(2):
        for _ in range(3):
            s = s - np.sum(np.sin(np.stack(hs)) ** 2)
        hs.append(hs[-1] * 1.5)
    return s


def test_an_inner_loop_reading_a_list_the_outer_loop_changes():
    # np.stack(hs) in the inner loop was taken for an invariant of both loops and read
    # back stale by the backward pass: a wrong gradient (hs[0] = ...), a crash (append)
    x = np.array([0.3, -0.2, 0.5])
    for f in (stacked_in_an_inner_loop, grown_in_the_outer_loop):
        check_grads(f, (x, 0.5), order=2)
