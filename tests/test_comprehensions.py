"""List comprehensions and generator expressions over differentiated values.

chainrule writes them out as the loops they stand for (normalize/comprehensions.py);
each case is checked against autograd running the same code, against finite
differences in both modes, and to second order.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import CompileError, grad, hessian
from chainrule.testing import check_grads

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

X = np.array([0.3, -0.7, 1.1, 0.4])


def filtered(xs):
    ys = [np.sin(x) * 2.0 for x in xs if x > 0]
    return np.sum(np.stack(ys)) + sum(x * x for x in xs)


def nested(xs):
    pairs = [a * np.cos(b) for a in xs for b in xs[:2] if a > b]
    return np.sum(np.array(pairs)) + sum([a for a in xs], 1.0)


def indexed(xs):
    n = len(xs)
    return sum(np.tanh(xs[i]) * np.tanh(xs[n - 1 - i]) for i in range(n))


def regularized(params, x):
    h = np.tanh(x @ params["W1"])
    penalty = sum(np.sum(params[k] ** 2) for k in ("W1", "W2"))
    return np.sum(h @ params["W2"]) + 0.1 * penalty


def own_scope(xs):
    x = 2.0
    total = sum(x * x for x in xs)  # the comprehension's x is its own
    return total * x + np.sum(np.array(list(np.exp(v) for v in xs)))


def _oracle(f):
    """f's own code, with np bound to autograd.numpy."""
    import types

    return types.FunctionType(f.__code__, {**f.__globals__, "np": anp}, f.__name__)


@pytest.mark.parametrize("f", [filtered, nested, indexed, own_scope], ids=lambda f: f.__name__)
def test_comprehensions_over_differentiated_values(f):
    np.testing.assert_allclose(grad(f)(X), autograd.grad(_oracle(f))(X), rtol=1e-12)
    np.testing.assert_allclose(hessian(f)(X), autograd.hessian(_oracle(f))(X), atol=1e-12)
    check_grads(f, (X,), order=2)


def test_a_generator_over_the_keys_of_a_dict_argument():
    params = {"W1": np.array([[0.5, -0.2], [0.1, 0.4]]), "W2": np.array([0.3, -0.6])}
    x = np.array([0.7, -1.2])
    got = grad(regularized)(params, x)
    expected = autograd.grad(_oracle(regularized))(params, x)
    for k in params:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-12)


def test_the_variables_of_a_comprehension_do_not_leak():
    def f(xs):
        i = 10
        s = sum(xs[i] for i in range(len(xs)))
        return s * i  # i is still 10, as in Python

    np.testing.assert_allclose(grad(f)(X), np.full(4, 10.0))


@pytest.mark.parametrize(
    "body, message",
    [
        ("np.sum(np.array(max(x * x for x in xs)))", "argument of sum"),
        ("np.sum({i: x for i, x in enumerate(xs)}[0])", "dict comprehension"),
        ("sum([[x * y for y in xs] for x in xs][0])", "list comprehension"),
    ],
)
def test_what_stays_refused(body, message, tmp_path):
    from helpers import write_module

    f = write_module(tmp_path, f"import numpy as np\n\ndef f(xs):\n    return {body}\n", "f")
    with pytest.raises(CompileError, match=message) as info:
        grad(f)(X)
    assert info.value.lineno == 4


def _helper_with_its_own_x(xs):
    x = xs[0] * 3.0
    s = sum(x * x for x in xs)  # the comprehension's x is not the helper's
    return s + x * 10.0


def calls_the_helper(xs):
    return _helper_with_its_own_x(xs) * 2.0


def test_a_comprehension_in_an_inlined_helper_keeps_its_own_scope():
    expected = 2.0 * (2.0 * X + np.array([30.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(grad(calls_the_helper)(X), expected)
    check_grads(calls_the_helper, (X,), order=2)
