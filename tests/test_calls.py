"""Calls to Python functions: inlined into the gradient, checked against finite differences."""

import re

import numpy as np
import pytest
from calls_helpers import as_dict, dense, polynomial, split
from helpers import MORE
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule
from chainrule import CompileError, RuleError, check_grad, grad, value_and_grad, vjp

scale = -1.0  # not the helper module's `scale`
squash = None  # not the helper module's `squash`

RNG = np.random.default_rng(7)
X = RNG.normal(size=4)


# -- same module, nesting, keywords and defaults ---------------------------------------


def square(t):
    return t * t


def cube_plus(t, c=1.0):
    return square(t) * t + c * t


def outer(x):
    return cube_plus(x, c=2.0) + square(np.sin(x))


def nested_calls(x):
    return np.sum(outer(x) * outer(2.0 * x))


def uses_defaults(x):
    a = cube_plus(x)
    b = cube_plus(c=0.5, t=x)
    return np.sum(a * b)


def test_nested_helpers_and_keywords():
    check_grad(nested_calls, X)
    check_grad(uses_defaults, X)


def test_keyword_only_parameters_of_a_helper():
    def f(x):
        return np.sum(polynomial(x, shift=0.1) + polynomial(x, degree=1))

    check_grad(f, X)


def test_array_default_is_bound_not_copied():
    weights = np.array([1.0, -2.0, 3.0, 0.5])

    def weighted(x, w=weights):
        return x * w

    def f(x):
        return np.sum(weighted(x) ** 2)

    g = grad(f)(X)
    np.testing.assert_allclose(g, 2 * X * weights**2)
    check_grad(f, X)


# -- other modules: names keep their own module's meaning ----------------------------------


def uses_other_module(W, b, x):
    h = dense(W, b, x)
    h = dense(W.T, b[:3], h, gain=0.5)
    u, v = split(h)
    d = as_dict(u)
    return np.sum(d["double"] * v + d["cube"]) + scale


def test_helpers_from_another_module_keep_their_globals():
    W = RNG.normal(size=(3, 3))
    b = RNG.normal(size=3)
    x = RNG.normal(size=(2, 3))
    for argnum in range(3):
        check_grad(uses_other_module, W, b, x, argnums=argnum)
    source = grad(uses_other_module).source
    assert "from numpy import tanh as squash" in source or "squash" in source


# -- code size: a helper in a loop appears once ------------------------------------------------


def step(h, w):
    z = np.tanh(h * w + 0.1)
    return z * 0.5 + h * 0.5


def loop_of_calls(h, w):
    for _ in range(100):
        h = step(h, w)
    return np.sum(h)


def three_calls(h, w):
    h = step(h, w)
    h = step(h, w)
    h = step(h, w)
    return np.sum(h)


def test_a_helper_called_100_times_in_a_loop_is_generated_once():
    source = grad(loop_of_calls).source
    assert source.count("z = np.tanh(h * w + 0.1)") == 1  # the comment in the reversed loop
    assert len(source.splitlines()) < 120
    h, w = RNG.normal(size=3), RNG.normal(size=3)
    check_grad(loop_of_calls, h, w, argnums=0)
    check_grad(loop_of_calls, h, w, argnums=1)


def test_inlined_lines_name_their_function():
    source = grad(three_calls).source
    assert "# step: z = np.tanh(h * w + 0.1)" in source
    check_grad(three_calls, X, X[::-1].copy())


# -- a helper with its own control flow, called in a loop ---------------------------------------


def clipped_update(h, w, t):
    if t % 2 == 0:
        h = h + w * np.sin(h)
    else:
        h = h * np.cos(w)
    for _ in range(2):
        h = np.tanh(h)
    return h


def loop_with_controlled_helper(h, w):
    for t in range(5):
        h = clipped_update(h, w, t)
    return np.sum(h * h)


def test_helper_with_branches_and_loops_inside_a_loop():
    h, w = RNG.normal(size=3), RNG.normal(size=3)
    check_grad(loop_with_controlled_helper, h, w, argnums=(0, 1))


# -- local functions, lambdas, closures -----------------------------------------------------------


def local_functions(x, y):
    g, h = (lambda t: t * 2.0), (lambda t: t * t)

    def k(u, v=3.0):
        return u * v + y  # reads the enclosing y

    return np.sum(g(x) + h(x) + k(h(y)))


def late_binding(x):
    def k(u):
        return u * c  # c is assigned after the def, before the call, as Python allows

    c = np.exp(x)
    return np.sum(k(x))


def test_local_functions_and_lambdas():
    check_grad(local_functions, X, X + 1.0, argnums=(0, 1))
    check_grad(late_binding, X)


def test_two_lambdas_on_one_line():
    f, g = (lambda x: np.sum(x**2)), (lambda x: np.sum(x**3))
    np.testing.assert_allclose(grad(f)(X), 2 * X)
    np.testing.assert_allclose(grad(g)(X), 3 * X**2)


def make_loss(data, target):
    def predict(w):
        return np.tanh(data @ w)

    def loss(w):
        return np.mean((predict(w) - target) ** 2)

    return loss


def test_closures_over_arrays_and_functions():
    data = RNG.normal(size=(5, 4))
    loss = make_loss(data, RNG.normal(size=5))
    check_grad(loss, X)


# -- helpers returning tuples ----------------------------------------------------------------


def polar(x, y):
    r = np.sqrt(x * x + y * y)
    return r, np.arctan2(y, x)


def uses_tuple_results(x, y):
    r, theta = polar(x, y)
    both = polar(y, x)
    return np.sum(r * np.cos(theta) + both[0] * both[1])


def test_helpers_returning_tuples():
    x, y = RNG.uniform(0.5, 2.0, size=3), RNG.uniform(0.5, 2.0, size=3)
    check_grad(uses_tuple_results, x, y, argnums=(0, 1))


# -- vjp and value_and_grad through helpers ----------------------------------------------------


def test_vjp_through_helpers():
    def f(x):
        return outer(x) * 2.0

    out, back = vjp(f, X)
    np.testing.assert_allclose(out, f(X))
    w = RNG.normal(size=4)
    (g,) = back(w)
    check_grad(lambda x: np.sum(f(x) * w), X)
    np.testing.assert_allclose(g, grad(lambda x: np.sum(f(x) * w))(X), rtol=1e-12)
    value, g2 = value_and_grad(nested_calls)(X)
    np.testing.assert_allclose(value, nested_calls(X))
    np.testing.assert_allclose(g2, grad(nested_calls)(X))


# -- methods and self.W ----------------------------------------------------------------------


class Model:
    def __init__(self, W):
        self.W = W

    def activation(self, z):
        return np.tanh(z) * self.W[0, 0]

    def loss(self, x):
        return np.sum(self.activation(x @ self.W) ** 2)


def test_bound_methods_read_self_as_a_constant():
    model = Model(RNG.normal(size=(4, 4)))
    check_grad(model.loss, X)
    assert "def grad_loss(x)" in grad(model.loss).source


def test_differentiating_an_object_explains_what_to_do():
    model = Model(np.eye(2))
    with pytest.raises(TypeError, match="pass them to the function as an argument"):
        grad(Model.loss)(model, np.ones(2))


# -- custom rules win over inlining; nondifferentiable; stop_gradient ---------------------------


def user_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def uses_user_softplus(x):
    return np.sum(user_softplus(3.0 * x))


def test_a_registered_rule_replaces_inlining():
    before = grad(uses_user_softplus).source
    assert "np.log1p" in before  # inlined
    check_grad(uses_user_softplus, X)

    @chainrule.adjoint(user_softplus)
    def _softplus_rule(y, x):
        "softplus gate: scale by the logistic sigmoid of the input"
        dx = dy / (1.0 + np.exp(-x))  # noqa: F821, F841 (template names)

    try:

        def again(x):
            return np.sum(user_softplus(3.0 * x))

        source = grad(again).source
        assert "softplus gate: scale by the logistic sigmoid of the input" in source
        assert "np.log1p" not in source.split("backward pass")[1]
        check_grad(again, X)
    finally:
        from chainrule.rules import ADJOINTS

        del ADJOINTS[user_softplus]


def test_registration_rejects_a_template_that_does_not_match():
    def primitive(a, b):
        return a * b

    with pytest.raises(RuleError, match="list the primitive's parameters"):

        @chainrule.adjoint(primitive)
        def _bad(y, a):
            da = dy * 2  # noqa: F821, F841

    with pytest.raises(RuleError):

        @chainrule.adjoint(primitive)
        def _bad_kwargs(y, a, b, **options):
            da = dy  # noqa: F821, F841


def frozen_scale(x):
    return np.exp(x)


chainrule.nondifferentiable(frozen_scale)


def test_nondifferentiable_user_function_and_stop_gradient():
    def f(x):
        return np.sum(x * frozen_scale(x))

    def g(x):
        return np.sum(x * chainrule.stop_gradient(np.exp(x)))

    np.testing.assert_allclose(grad(f)(X), np.exp(X))
    np.testing.assert_allclose(grad(g)(X), np.exp(X))


# -- recursion ------------------------------------------------------------------------------------


def ping(x, n):
    return x if n == 0 else pong(x * 2.0, n - 1)


def pong(x, n):
    return ping(np.sin(x), n)


def test_mutual_recursion_is_refused_naming_the_function():
    def f(x):
        return np.sum(ping(x, 3))

    with pytest.raises(CompileError, match=re.escape("recursion: 'ping'")):
        grad(f)(X)


# -- hypothesis: values and shapes through nested helpers -------------------------------------


@MORE
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
        elements=st.floats(-2, 2),
    )
)
def test_nested_helpers_on_random_arrays(x):
    check_grad(nested_calls, x, rtol=1e-4, atol=1e-5)
    check_grad(uses_defaults, x, rtol=1e-4, atol=1e-5)


# -- code size: nested helpers called several times in a row are bounded by a budget ------------


def level0(x):
    return np.sin(x) * 0.5 + x


def level1(x):
    return level0(level0(level0(level0(x))))


def level2(x):
    return level1(level1(level1(level1(x))))


def level3(x):
    return level2(level2(level2(level2(x))))


def level4(x):
    return level3(level3(level3(level3(x))))


def level5(x):
    return level4(level4(level4(level4(x))))


def level6(x):
    return level5(level5(level5(level5(x))))


def level7(x):
    return level6(level6(level6(level6(x))))


def exponential_inlining(x):
    return np.sum(level7(x))


def moderate_inlining(x):
    return np.sum(level3(x))


def test_inlining_has_a_budget_with_advice():
    check_grad(moderate_inlining, X)  # 64 copies of level0: fine
    with pytest.raises(CompileError, match="register.*derivative rule for level"):
        grad(exponential_inlining)(X)  # 16384 copies: refused, quickly


def test_registering_a_rule_later_recompiles_existing_gradients():
    def scaled(x):
        return x * 2.0

    def f(x):
        return np.sum(scaled(x))

    df = grad(f)
    np.testing.assert_allclose(df(X), 2.0 * np.ones(4))

    @chainrule.adjoint(scaled)
    def _deliberately_different(y, x):
        "a rule that differs from the true derivative, to see it take effect"
        dx = dy * 5.0  # noqa: F821, F841

    try:
        np.testing.assert_allclose(df(X), 5.0 * np.ones(4))
        assert "deliberately" not in df.source  # the note is the docstring's first line
        assert "differs from the true derivative" in df.source
    finally:
        from chainrule.rules import ADJOINTS

        del ADJOINTS[scaled]


def test_methods_of_a_parameter_object_get_advice():
    model = Model(np.eye(4))
    with pytest.raises(
        CompileError, match=r"differentiate the bound method \(grad\(obj.method\)\)"
    ):
        grad(Model.loss, argnums=1)(model, X)


def adds_in_place(h, w):
    h += w  # would change the caller's array in Python
    return h


def caller_of_in_place(x, w):
    y = adds_in_place(x, w)
    return np.sum(y * x)


def test_augmented_assignment_to_a_parameter_of_an_inlined_helper_is_refused():
    with pytest.raises(CompileError, match="change the caller's array in place"):
        grad(caller_of_in_place)(X, X)
