"""Loops, early exits and their adjoints, checked against finite differences."""

import ast
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import check_grad, grad

FEW = settings(max_examples=25, deadline=None)


def range_loop(x, w, n, start, step):
    acc = x * 0.5
    for i in range(start, n, step):
        acc = np.tanh(acc * w + i * 0.1) + x
    return acc @ acc


@FEW
@given(
    st.integers(0, 6), st.integers(-3, 3), st.sampled_from([1, 2, -1, -2]), st.integers(0, 2**16)
)
def test_range_loops_any_bounds_including_zero_iterations(n, start, step, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=3), rng.normal(size=3)
    assert check_grad(range_loop, x, w, n, start, step, argnums=(0, 1)) < 1e-5


def branchy_loop(x, thresholds):
    total = 0.0
    for t in thresholds:
        if t > 0:
            total = total + np.sin(x * t)
        elif t > -0.5:
            total = total * 0.5 + x
        else:
            total = total - x * x
    return np.sum(total)


@FEW
@given(st.lists(st.floats(-1.5, 1.5), min_size=0, max_size=6), st.integers(0, 2**16))
def test_branches_inside_loops_both_ways(thresholds, seed):
    x = np.random.default_rng(seed).normal(size=3)
    assert check_grad(branchy_loop, x, np.array(thresholds)) < 1e-5


def breaks_and_continues(x, n, stop_at, skip_every):
    y = x
    for i in range(n):
        if i % skip_every == 0:
            continue
        y = y * 0.9 + np.sin(y)
        if i == stop_at:
            break
        y = y + x * 0.1
    return np.sum(y * y)


@FEW
@given(st.integers(0, 7), st.integers(0, 8), st.integers(2, 3), st.integers(0, 2**16))
def test_break_and_continue(n, stop_at, skip_every, seed):
    x = np.random.default_rng(seed).normal(size=2)
    assert check_grad(breaks_and_continues, x, n, stop_at, skip_every) < 1e-5


def while_loop(x, limit):
    y = x
    steps = 0
    while np.sum(y * y) < limit and steps < 20:
        y = y * 1.5 + 0.1
        steps = steps + 1
    return np.sum(y)


@pytest.mark.parametrize("limit", [0.0, 2.0, 50.0, 1e9])
def test_while_loops(limit):
    x = np.array([0.3, -0.2])
    assert check_grad(while_loop, x, limit) < 1e-5


def while_true_break(x):
    y = x
    while True:
        y = y * 2.0
        if np.sum(y) > 10.0:
            break
    return np.sum(y * y)


def test_while_true_with_break():
    assert check_grad(while_true_break, np.array([0.3, 0.4])) < 1e-5


def early_return(x, k):
    for i in range(5):
        x = x * 1.1
        if i == k:
            return np.sum(x * x)
    if k < 0:
        return np.sum(np.sin(x))
    return np.sum(x)


@pytest.mark.parametrize("k", [-1, 0, 2, 4, 9])
def test_return_inside_loops_and_branches(k):
    assert check_grad(early_return, np.array([0.5, -1.0]), k) < 1e-5


def nested(W, x, n, m):
    h = x
    for _i in range(n):
        for j in range(m):
            h = np.tanh(W @ h) + h * (0.1 * j)
        h = h * 0.5
    return h @ h


@FEW
@given(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2**16))
def test_nested_loops(n, m, seed):
    rng = np.random.default_rng(seed)
    W, x = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    assert check_grad(nested, W, x, n, m, argnums=(0, 1)) < 1e-5


def over_rows(X, w):
    total = 0.0
    for row in X:
        total = total + np.tanh(row @ w)
    return total


def over_zip(X, Y, w):
    total = 0.0
    for a, b in zip(X, Y):
        total = total + (a * b) @ w
    return total


def over_enumerate(X, w):
    total = 0.0
    for i, row in enumerate(X):
        total = total + (i + 1.0) * np.sin(row @ w)
    return total


@pytest.mark.parametrize("rows", [0, 1, 4])
def test_iterating_over_arrays_zip_enumerate(rows):
    rng = np.random.default_rng(rows)
    X, Y, w = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 3)), rng.normal(size=3)
    assert check_grad(over_rows, X, w, argnums=(0, 1)) < 1e-5
    assert check_grad(over_zip, X, Y, w, argnums=(0, 1, 2)) < 1e-5
    assert check_grad(over_enumerate, X, w, argnums=(0, 1)) < 1e-5


def rnn(Wh, Wx, h, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
    return h @ h


def test_rnn_reads_like_a_reversed_loop():
    rng = np.random.default_rng(0)
    args = (
        rng.normal(size=(4, 4)) * 0.5,
        rng.normal(size=(4, 2)),
        rng.normal(size=4),
        rng.normal(size=(6, 2)),
    )
    assert check_grad(rnn, *args, argnums=(0, 1, 2, 3)) < 1e-5
    source = grad(rnn, argnums=(0, 1)).source
    assert "for t in reversed(range(" in source
    assert "stack.append(" in source and "stack.pop()" in source
    assert "backward of the loop `for t in range(xs.shape[0]):`" in source
    # pushes and pops are paired: one of each per loop body
    assert source.count("stack.append(") == source.count("stack.pop()") == 1


def reads_big_array(x, big):
    total = 0.0
    for i in range(1000):
        total = total + x * big[i % 7, 0]
    return total


def test_loop_invariant_arrays_are_not_saved_per_iteration():
    big = np.ones((2000, 500))  # 8 MB
    g = grad(reads_big_array)
    g(1.0, big)  # compile first
    tracemalloc.start()
    g(1.0, big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2_000_000, peak  # far less than one copy of `big`


def test_every_iteration_records_only_what_the_backward_pass_reads():
    source = grad(rnn, argnums=(0,)).source
    tree = ast.parse(source)
    pushes = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "append"
    ]
    saved = {e.id for p in pushes for e in ast.walk(p.args[0]) if isinstance(e, ast.Name)}
    assert "Wh" not in saved and "Wx" not in saved and "xs" not in saved  # loop invariants


def test_long_functions_and_deep_loops_transform():
    lines = ["import numpy as np", "", "", "def long(x):"]
    for i in range(1000):
        lines.append(f"    x = x * 1.0001 + {i % 7} * 1e-4")
    lines.append("    return np.sum(x)")
    lines += ["", "", "def deep(x):", "    s = 0.0"]
    lines += [
        "    for i in range(200):",
        "        for j in range(3):",
        "            s = s + np.sin(x * (i + j) * 1e-3)",
        "    return np.sum(s)",
    ]
    import importlib.util
    import tempfile

    path = tempfile.mktemp(suffix="_long.py")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    spec = importlib.util.spec_from_file_location("long_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.array([0.2, 0.4])
    assert check_grad(module.long, x) < 1e-4
    assert check_grad(module.deep, x) < 1e-4
