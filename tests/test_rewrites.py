"""Rewrites of a variant's code (optimize.py, shapes.py): what they write, and that the
gradients stay right, against finite differences (chainrule.testing.check_grad,
which runs the variant) and autograd.

* `t * t`: one product `g * 2 * t` (optimize.fold_repeated_terms);
* a written-out logistic `1 / (1 + np.exp(-z))`: `dz = dp * (p * p * t3)`, where
  t3 = exp(-z) (optimize.fuse_logistic);
* the mean of loss terms divides by the size of an argument of the same shape,
  so terms used only for the loss's value are not computed (shapes.ShapeClasses.pair);
* the copies a loop's backward pass is written with (`dx_2 = dx_1`) are gone
  (optimize.propagate_copies);
* a running loss the gradient does not return (`loss = loss + t` in every step)
  is not computed (optimize.remove_dead_primal), and a value a loop computes the
  same in every iteration (`t1 = -k`) is not saved per iteration
  (reverse.reverser.loop_invariants).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import weights

import chainrule
from chainrule.testing import check_grad, numerical_jacobian

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import loop_workloads as lw  # noqa: E402


def code_lines(g) -> list[str]:
    """The variant's statements, comments and the docstring left out."""
    body = g.source.split('"""', 2)[2]
    return [s.strip() for s in body.splitlines() if s.strip() and not s.strip().startswith("#")]


def agree(f, af, args, argnums):
    """chainrule's variant against autograd and finite differences."""
    g = chainrule.grad(f, argnums=argnums)
    got = g(*args)
    want = autograd.grad(af, argnums)(*args)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12)
    check_grad(f, *args, argnums=argnums)
    return g


def squared_terms(x, y):
    t = np.tanh(x)
    return np.sum(t * t * y)


def squared_terms_ag(x, y):
    t = anp.tanh(x)
    return anp.sum(t * t * y)


def test_t_times_t_is_differentiated_as_one_product():
    g = agree(squared_terms, squared_terms_ag, (weights((5,)), weights((5,), 1)), (0, 1))
    lines = code_lines(g)
    assert "dt = dt1 * 2 * t" in lines, lines
    assert not any(line.startswith("dt = dt +") for line in lines), lines


def logreg(w, b, X, y):
    z = np.dot(X, w) + b
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_ag(w, b, X, y):
    p = 1 / (1 + anp.exp(-(anp.dot(X, w) + b)))
    return -anp.mean(y * anp.log(p) + (1 - y) * anp.log(1 - p))


def logreg_data(scale=1.0):
    X = weights((40, 5), 1)
    y = (weights((40,), 2) > 0).astype(float)
    return weights((5,)) * scale, 0.25, X, y


def test_logistic_regression_computes_no_loss_terms_and_fuses_the_cross_entropy():
    g = agree(logreg, logreg_ag, logreg_data(), (0, 1))
    lines = code_lines(g)
    assert not any("np.log" in line for line in lines), lines  # the loss is not returned
    assert any(line.endswith("/ np.size(y)") for line in lines), lines
    assert "dz = dt11 * (y - p)" in lines, lines  # the textbook form, not five rules
    assert not any(line.startswith("dp =") for line in lines), lines
    assert "db = dz.sum()" in lines and "dw = X.T @ dz" in lines, lines
    assert "cancellation of the log's 1/p" in g.source


def logreg_terms_swapped(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -((1.0 - y) * np.log(1.0 - p) + np.log(p) * y).sum() / len(y)


def logreg_terms_swapped_ag(w, b, X, y):
    p = 1.0 / (1.0 + anp.exp(-(anp.dot(X, w) + b)))
    return -((1.0 - y) * anp.log(1.0 - p) + anp.log(p) * y).sum() / len(y)


def test_the_cross_entropy_is_fused_whatever_the_order_of_its_terms():
    g = agree(logreg_terms_swapped, logreg_terms_swapped_ag, logreg_data(), (0, 1))
    assert any(line.endswith("* (y - p)") for line in code_lines(g)), code_lines(g)


@pytest.mark.parametrize("scale", [8.0, -8.0])
def test_the_cross_entropy_gradient_keeps_its_digits_where_p_is_near_0_or_1(scale):
    # |z| up to ~40.  The exact gradient is X.T @ (p - y) / n; autograd, which goes
    # through 1 / (1 - p) with 1 - p rounded, is off by 4e-5 here (checked with mpmath)
    w, b, X, y = logreg_data(scale)
    got = chainrule.grad(logreg, argnums=(0, 1))(w, b, X, y)
    p = 1 / (1 + np.exp(-(X @ w + b)))
    dz = (p - y) / len(y)
    np.testing.assert_allclose(got[0], X.T @ dz, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[1], dz.sum(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [8.0, -8.0])
def test_the_logistic_slope_keeps_its_digits_where_p_is_near_0_or_1(scale):
    # p * (1 - p) would round to 0 where p rounds to 1; p * p * exp(-z) does not
    w, X = weights((4,)) * scale, weights((40, 4), 1)
    g = agree(logistic_power, logistic_power_ag, (w, X), (0,))
    assert "p * p * t" in g.source
    got = g(w, X)[0]
    z = X @ w
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(got, X.T @ (3 * p**2 * (p * p * np.exp(-z))), rtol=1e-12)


def logistic_power(w, X):
    p = 1 / (1 + np.exp(-(X @ w)))
    return np.sum(p**3)


def logistic_power_ag(w, X):
    p = 1 / (1 + anp.exp(-anp.dot(X, w)))
    return anp.sum(p**3)


def logistic_reused(w, X):
    z = X @ w
    e = np.exp(-z)
    p = 1 / (1 + e)
    return np.sum(p * e)  # exp(-z) read again: the fused slope must still be right


def logistic_reused_ag(w, X):
    z = anp.dot(X, w)
    e = anp.exp(-z)
    p = 1 / (1 + e)
    return anp.sum(p * e)


@pytest.mark.parametrize(
    "f, af", [(logistic_power, logistic_power_ag), (logistic_reused, logistic_reused_ag)]
)
def test_logistic_variants_agree(f, af):
    agree(f, af, (weights((4,)), weights((6, 4), 1)), (0,))


def oscillator(k, c, x0, v0, dt):  # plain arithmetic: autograd runs it as it is
    x = x0
    v = v0
    for _ in range(50):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
    return (x - 1.0) ** 2 + v**2


def test_a_loops_backward_pass_has_no_copy_chains():
    g = agree(oscillator, oscillator, (1.5, 0.2, 1.0, 0.0, 0.05), (0, 1, 2, 3))
    lines = code_lines(g)
    loop = lines[lines.index("for _ in reversed(range(50)):") :]
    returned = loop[-1].removeprefix("return ").split(", ")
    copies = [
        s
        for s in loop
        if s.count("=") == 1
        and s.split("=")[1].strip().isidentifier()
        and s.split("=")[0].strip() not in returned  # `dv0 = dv_1` after the loop
    ]
    assert copies == [], loop
    again = g(1.6, 0.1, 0.5, 0.2, 0.05)  # the variant again, at another point
    want = autograd.grad(oscillator, (0, 1, 2, 3))(1.6, 0.1, 0.5, 0.2, 0.05)
    assert all(type(a) is float for a in again)
    np.testing.assert_allclose(again, [float(e) for e in want], rtol=1e-10)


def rnn(Wh, Wx, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
    return np.sum(h**2)


def rnn_ag(Wh, Wx, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = anp.tanh(anp.dot(Wh, h) + anp.dot(Wx, xs[t]))
    return anp.sum(h**2)


def aliased_copies(x, n):
    a = x * 1.0
    b = a
    for _ in range(n):
        c = b
        b = c * x
        a = a + c
    return (a * b).sum()  # (autograd runs it as it is)


def test_copies_across_loops_and_an_rnn_agree_over_several_calls():
    args = (weights((4, 4)) * 0.5, weights((4, 3), 1), weights((4,), 2), weights((6, 3), 3))
    g = agree(rnn, rnn_ag, args, (0, 1, 2))
    for seed in (4, 5):  # the variant again, with new data
        xs = weights((7, 3), seed)
        want = autograd.grad(rnn_ag, (0, 1, 2))(*args[:3], xs)
        for a, e in zip(g(*args[:3], xs), want):
            np.testing.assert_allclose(a, e, rtol=1e-9)
    agree(aliased_copies, aliased_copies, (weights((3,)), 3), (0,))


def writes_through_copies(x, n):
    out = np.zeros(3)
    acc = x * 1.0
    for i in range(n):
        prev = acc
        out[i % 3] += np.sum(prev)
        acc = prev * x
        prev = acc + 1.0
        out[(i + 1) % 3] += np.sum(prev * x)
    return np.sum(out * acc)


def writes_through_copies_ag(x, n):
    out = [0.0, 0.0, 0.0]
    acc = x * 1.0
    for i in range(n):
        prev = acc
        out[i % 3] = out[i % 3] + anp.sum(prev)
        acc = prev * x
        prev = acc + 1.0
        out[(i + 1) % 3] = out[(i + 1) % 3] + anp.sum(prev * x)
    return out[0] * acc[0] + out[1] * acc[1] + out[2] * acc[2]


def test_copies_rebound_before_any_read_go_and_writes_through_them_stay():
    x = weights((3,)) * 0.5
    g = agree(writes_through_copies, writes_through_copies_ag, (x, 4), (0,))
    assert "prev = acc" not in code_lines(g)


PROGRAMS = [
    # a write through a copy, then the copy rebound: the write must reach b's array
    "def f(b, v):\n    a = b\n    a[0] += v\n    a = v * 2.0\n    return b[0] + a",
    "def f(b, v):\n    a = b\n    a[1] = v\n    a = v\n    return b[1] * a",
    # b rebound (a float: a new object) while a still holds the old value
    "def f(b, v):\n    a = b\n    b += v\n    c = a\n    return c * 10.0 + b",
    "def f(b, v):\n    a = b\n    b = b + v\n    return a * 10.0 + b",
    # a chain through a loop, read after it
    "def f(b, v):\n    h = b\n    for _ in range(3):\n        h2 = h\n        h = h2 * v\n"
    "        h2 = h + 1.0\n        h = h2\n    return h",
    # copies on both sides of a branch
    "def f(b, v):\n    a = b\n    if v > 0:\n        a = v\n    c = a\n    return c + b",
]


@pytest.mark.parametrize("text", PROGRAMS)
def test_propagate_copies_keeps_what_a_program_computes(text):
    import ast

    from chainrule.optimize import propagate_copies

    def run(tree):
        space: dict = {}
        exec(compile(ast.fix_missing_locations(tree), "<test>", "exec"), space)
        return [space["f"](np.array([1.0, 2.0]) + 0.0 * k, 0.5 + k) for k in range(2)]

    tree = ast.parse(text)
    before = run(ast.parse(text))
    propagate_copies(tree.body[0])
    after = run(tree)
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def int_buffer(x):
    counts = np.zeros(3, dtype=int)
    out = np.zeros(3)
    for i in range(3):
        counts[i] = x[i] * 10.0  # truncated: no gradient flows through counts
        out[i] = x[i] * counts[i] + x[i] ** 2
    return np.sum(out)


def test_writes_of_one_element_into_a_new_float_array_keep_the_whole_gradient():
    K, img, W = weights((3, 3)), weights((8, 8), 1), weights((3, 3), 2)
    g = chainrule.grad(lw.conv_pool_loss, argnums=(0, 1, 2))
    got = g(K, img, W)
    general = g.compiled().function(K, img, W)
    for a, e in zip(got, general):
        np.testing.assert_allclose(a, e, rtol=1e-12)
    check_grad(lw.conv_pool_loss, K, img, W, argnums=(0, 1, 2))
    assert "kept_writes" not in g.source and "kept_writes" in g.general_source
    x = weights((3,), 3) + 2.0
    g = chainrule.grad(int_buffer)
    counts = np.trunc(x * 10.0)
    np.testing.assert_allclose(g(x), counts + 2 * x, rtol=1e-12)
    assert "kept_writes" in g.source  # an int array truncates what it stores


def negated_then_added(w, X):
    p = np.tanh(X @ w)
    return np.sum(np.log(p + 2.0) * 0.5 - np.log(3.0 - p))


def negated_then_added_ag(w, X):
    p = anp.tanh(anp.dot(X, w))
    return anp.sum(anp.log(p + 2.0) * 0.5 - anp.log(3.0 - p))


def test_a_negated_gradient_is_folded_into_the_next_sum():
    g = agree(negated_then_added, negated_then_added_ag, (weights((5,)), weights((8, 5), 1)), (0,))
    lines = code_lines(g)
    assert any(line.startswith("dp = ") and " - " in line for line in lines), lines
    assert not any(line.startswith("dp = -") for line in lines), lines


NEGATIONS = [
    "def f(b, v):\n    a = -b\n    c = v * 2.0\n    a = a + c\n    return a",
    "def f(b, v):\n    a = -b\n    b = v\n    a = a + b\n    return a",  # b rebound: kept
    "def f(b, v):\n    a = -b\n    c = a * v\n    a = a + c\n    return a",  # a read: kept
    "def f(b, v):\n    a = -b\n    b[0] = v\n    a = a + v\n    return a",  # b written: kept
]


@pytest.mark.parametrize("text", NEGATIONS)
def test_folding_a_negation_keeps_what_a_program_computes(text):
    import ast

    from chainrule.optimize import fold_repeated_terms

    def run(tree):
        space: dict = {}
        exec(compile(ast.fix_missing_locations(tree), "<test>", "exec"), space)
        return space["f"](np.array([1.0, 2.0]), 0.5)

    tree = ast.parse(text)
    before = run(ast.parse(text))
    fold_repeated_terms(tree.body[0])
    np.testing.assert_array_equal(run(tree), before)
    if text == NEGATIONS[0]:
        assert len(tree.body[0].body) == 3  # folded


def mean_of_a_matmul(y, W):
    return np.mean(np.matmul(np.outer(y, y), W))


def test_a_matmul_result_has_its_own_shape_class():
    # np.matmul is a ufunc (with core dimensions): its result was given the first
    # operand's shape class, so the mean's gradient divided by 9 elements, not 12
    y, W = np.array([0.3, -0.4, 0.5]), np.arange(12.0).reshape(3, 4) / 10
    for _ in range(2):  # the second call runs the rank-specialised variant
        got = chainrule.grad(mean_of_a_matmul)(y, W)
    np.testing.assert_allclose(got, numerical_jacobian(lambda v: mean_of_a_matmul(v, W), [y], 0))
    np.testing.assert_allclose(got, autograd.grad(mean_of_a_matmul_ag)(y, W))


def mean_of_a_matmul_ag(y, W):
    return anp.mean(anp.matmul(anp.outer(y, y), W))


def with_autograd_numpy(f):
    """The same code, with `np` meaning autograd.numpy (autograd's oracle)."""
    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp}, f.__name__ + "_ag")


euler_with_running_loss = lw.oscillator_loss  # loss = loss + (x - x_obs[i]) ** 2
euler_with_running_loss_ag = with_autograd_numpy(euler_with_running_loss)


def test_a_running_loss_is_not_computed_and_loop_invariants_are_not_saved():
    # the loss feeds only itself around the loop (removed), and `-k` is the same in
    # every step (read after the loop, not pushed 1,000 times)
    args = (0.5, 0.1, 1.0, 0.0, weights((30,), 1), 0.01)
    g = agree(euler_with_running_loss, euler_with_running_loss_ag, args, (0, 1))
    # (the general code still computes the loss: its shape-blind gradient reads its shape)
    forward = g.source.split("# backward pass")[0]
    assert "loss_1" not in forward and "** 2" not in forward, g.source
    for source in (g.source, g.general_source):
        assert "t1 = -k" in source, source
        push = next(s for s in source.splitlines() if ".append(" in s)
        assert "t1" not in push, source
    for k in (0, 1):
        h = chainrule.hessian(euler_with_running_loss, argnums=k)(*args)
        want = autograd.hessian(euler_with_running_loss_ag, k)(*args)
        np.testing.assert_allclose(h, want, rtol=1e-7, atol=1e-10)


def invariant_in_nested_loops(w, xs):
    s = 0.0
    for i in range(xs.shape[0]):
        h = xs[i] * 1.0
        for _ in range(2):
            scale = np.exp(w[0])  # the same in every inner iteration, not in every outer one
            h = np.tanh(scale * h + w[1])
        s = s + np.sum(h * w[2:])
    return s


invariant_in_nested_loops_ag = with_autograd_numpy(invariant_in_nested_loops)


def test_a_value_invariant_in_an_inner_loop_is_saved_by_the_outer_one():
    w, xs = weights((5,)) * 0.5, weights((4, 3), 1)
    agree(invariant_in_nested_loops, invariant_in_nested_loops_ag, (w, xs), (0, 1))
    h = chainrule.hessian(invariant_in_nested_loops)(w, xs)
    np.testing.assert_allclose(
        h, autograd.hessian(invariant_in_nested_loops_ag)(w, xs), rtol=1e-7, atol=1e-10
    )


def windows(K, img):
    out = np.zeros((img.shape[0] - 1, img.shape[1] - 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.max(img[i : i + 2, j : j + 2] * K) + np.sum(img[i : i + 2, j] * K[0])
    return np.sum(out**2) + np.min(out)


def windows_ag(K, img):
    rows = []
    for i in range(img.shape[0] - 1):
        rows.append(
            [
                anp.max(img[i : i + 2, j : j + 2] * K) + anp.sum(img[i : i + 2, j] * K[0])
                for j in range(img.shape[1] - 1)
            ]
        )
    out = anp.array(rows)
    return anp.sum(out**2) + anp.min(out)


def test_reductions_of_arrays_are_written_as_methods():
    # np.sum(t) of an array t is t.sum(): one reduction, without the function's dispatch
    g = agree(windows, windows_ag, (weights((2, 2)), weights((4, 5), 1)), (0,))
    forward = g.source.split("# backward pass")[0]
    assert ".max()" in forward and ".sum()" in forward, forward
    assert "np.max(" not in forward and "np.sum(t" not in forward, forward
