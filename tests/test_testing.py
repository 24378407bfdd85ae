"""chainrule.testing: check_grads (like jax.test_util.check_grads) and the finite differences."""

import numpy as np
import pytest

import chainrule
from chainrule.testing import check_grads, numerical_jacobian, numerical_jvp, numerical_vjp


def layer(W, x):
    return np.tanh(W @ x)


def loss(W, x):
    return np.sum(layer(W, x) ** 2)


def looped(x, n):
    for _ in range(n):
        x = np.sin(x) * 1.1
    return np.sum(x * x)


def squash(v):
    return v / (1.0 + v * v)


def uses_squash(v):
    return np.sum(squash(v) * v)


W = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]])
X = np.array([0.7, -1.1, 0.2])


def test_first_order_in_both_modes_for_array_and_scalar_outputs():
    check_grads(layer, (W, X))
    check_grads(loss, (W, X), modes=("rev",))
    check_grads(loss, (W, X), modes=("fwd",), argnums=1)


def test_second_order_checks_the_derivatives_of_the_gradient():
    check_grads(loss, (W, X), order=2)
    check_grads(looped, (X, 3), order=2, argnums=0)


def test_arguments_left_out_stay_put():
    check_grads(looped, (X, 4), argnums=0)  # n stays an int: range(n) works
    check_grads(layer, (W, X), modes=("rev",), argnums=(1,))  # jacrev for the subset


def test_a_wrong_rule_is_caught_in_the_mode_that_uses_it():
    @chainrule.adjoint(squash)
    def squash_adjoint(y, v):
        "squash, wrongly: the derivative without its denominator"
        dv = dy * (1.0 - v * v)  # noqa: F821, F841  (a template: dy is bound when used)

    try:
        with pytest.raises(AssertionError, match="reverse mode .* disagrees"):
            check_grads(uses_squash, (X,), modes=("rev",))
    finally:
        del chainrule.rules.ADJOINTS[squash]
        chainrule.rules.registry.GENERATION[0] += 1
    check_grads(uses_squash, (X,))  # inlined again, the derivative is right


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="modes"):
        check_grads(loss, (W, X), modes=("sideways",))
    with pytest.raises(ValueError, match="order"):
        check_grads(loss, (W, X), order=3)
    with pytest.raises(ValueError, match="scalar"):
        check_grads(layer, (W, X), order=2)


def test_finite_differences_agree_with_the_calculus():
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(numerical_vjp(np.sin, (x,), 1.0, 0), np.cos(x), rtol=1e-8)
    np.testing.assert_allclose(numerical_jvp(np.sin, (x,), (np.ones(2),)), np.cos(x), rtol=1e-8)
    np.testing.assert_allclose(numerical_jacobian(np.sin, (x,), 0), np.diag(np.cos(x)), atol=1e-8)
    assert type(numerical_vjp(lambda t: t**3, (2.0,), 1.0, 0)) is float


def writes_into_its_argument(x):
    x[0] = x[1] * x[2]
    return np.sum(x * x)


def test_each_evaluation_gets_its_own_copy_of_the_arguments():
    # Python changes the caller's x here; finite differences used to see the change of
    # the evaluation before (and check_grads changed the caller's array)
    x = np.array([0.5, -1.0, 2.0])
    check_grads(writes_into_its_argument, (x,))
    assert chainrule.check_grad(writes_into_its_argument, x) < 1e-6
    numerical_jacobian(writes_into_its_argument, (x,), 0)
    numerical_jvp(writes_into_its_argument, (x,), (np.ones(3),))
    numerical_vjp(writes_into_its_argument, (x,), 1.0, 0)
    np.testing.assert_array_equal(x, [0.5, -1.0, 2.0])
