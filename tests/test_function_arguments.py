"""Functions passed as arguments: an integrator `rk4(f, y0, dt, n)` called with a
module-level function, a lambda, a local def or a NumPy function, and a differentiated
function that takes the function itself as a parameter (specialised on it and guarded).

Every derivative is checked against central finite differences (chainrule.testing) and
against autograd, which runs the same code written with autograd.numpy.
"""

import types

import autograd
import autograd.numpy as anp
import numpy
import pytest

import chainrule
from chainrule import CompileError, grad, hessian, jacfwd, jacrev, jvp, vjp
from chainrule.pipeline import stats
from chainrule.testing import check_grads


def model(np):
    """The same programs over `np` (numpy for chainrule, autograd.numpy for the oracle)."""

    def rhs(y, t):
        return -0.5 * y + np.sin(t) * y * y

    def other_rhs(y, t):
        return np.cos(y) - 0.2 * t * y

    def rk4(f, y0, dt, n):
        y, t = y0, 0.0
        for _ in range(n):
            k1 = f(y, t)
            k2 = f(y + 0.5 * dt * k1, t + 0.5 * dt)
            k3 = f(y + 0.5 * dt * k2, t + 0.5 * dt)
            k4 = f(y + dt * k3, t + dt)
            y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            t = t + dt
        return y

    def loss(y):
        return np.sum(y**2)

    def simulate(y0):  # a module-level right-hand side
        return loss(rk4(rhs, y0, 0.1, 6))

    def damped(y0, k):  # a lambda reading a differentiated value of the caller
        return loss(rk4(lambda y, t: -k * y + np.sin(t), y0, 0.1, 6))

    def local(y0, k):  # a local def, passed on
        def force(y, t):
            return -k * y * y + t

        return loss(rk4(force, y0, 0.05, 5))

    def stepper(f, y0):  # the function passed on through a second helper
        return rk4(f, rk4(f, y0, 0.1, 2), 0.05, 3)

    def twice(y0):
        return loss(stepper(other_rhs, y0))

    def integrate(f, y0, dt, n):  # the function itself is a parameter
        return loss(rk4(f, y0, dt, n))

    def euler(f, y0):  # called with a NumPy function
        y = y0
        for _ in range(3):
            y = y + 0.1 * f(y)
        return np.sum(y * y)

    def apply(f, x):
        return f(2.0) * x

    def closure(x, k):  # the helper calls the lambda with constants only
        return np.sum(apply(lambda t: k * t, x))

    def layer(x, act=np.tanh):  # a function as a default value
        return act(x) * 2.0

    def dense(x):
        g = other_rhs  # a name bound to a function, then passed on
        return np.sum(layer(x) + layer(x, act=np.sin) + rk4(g, x, 0.1, 2))

    return types.SimpleNamespace(**locals())


M, A = model(numpy), model(anp)
Y0 = numpy.array([0.3, -0.7, 0.5])
K = 0.8


def close(a, b):
    numpy.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["simulate", "twice", "dense"])
def test_a_module_level_function_passed_to_a_helper(name):
    f, oracle = getattr(M, name), getattr(A, name)
    check_grads(f, (Y0,))
    check_grads(f, (Y0,), order=2)
    close(grad(f)(Y0), autograd.grad(oracle)(Y0))
    close(hessian(f)(Y0), autograd.hessian(oracle)(Y0))
    v = numpy.array([1.0, -2.0, 0.5])
    close(jvp(f, (Y0,), (v,))[1], autograd.grad(oracle)(Y0) @ v)
    close(vjp(f, Y0)[1](1.5)[0], 1.5 * autograd.grad(oracle)(Y0))


@pytest.mark.parametrize("name", ["damped", "local", "closure"])
def test_a_lambda_or_local_def_reading_differentiated_values(name):
    f, oracle = getattr(M, name), getattr(A, name)
    check_grads(f, (Y0, K))
    check_grads(f, (Y0, K), order=2)
    ours = grad(f, argnums=(0, 1))(Y0, K)
    theirs = autograd.grad(oracle, 0)(Y0, K), autograd.grad(oracle, 1)(Y0, K)
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    close(jacrev(grad(f, argnums=1))(Y0, K), autograd.jacobian(autograd.grad(oracle, 1))(Y0, K))


def test_a_lambda_called_with_constants_still_carries_the_gradient():
    def f(k):
        g = lambda t: k * t  # noqa: E731
        y = g(2.0)
        return y * y

    assert grad(f)(3.0) == pytest.approx(24.0)  # was 0.0: the call looked constant
    check_grads(f, (3.0,))


def test_the_function_itself_as_a_parameter_is_specialised_and_guarded():
    g = grad(M.integrate, argnums=1)
    compiles = stats["compiles"]
    for rhs, oracle_rhs in [(M.rhs, A.rhs), (M.other_rhs, A.other_rhs), (M.rhs, A.rhs)]:
        expected = autograd.grad(A.integrate, 1)(oracle_rhs, Y0, 0.1, 6)
        close(g(rhs, Y0, 0.1, 6), expected)  # never the code compiled for the other one
        close(chainrule.value_and_grad(M.integrate, argnums=1)(rhs, Y0, 0.1, 6)[1], expected)
        check_grads(M.integrate, (rhs, Y0, 0.1, 6), argnums=1)
        v = numpy.array([0.5, 1.0, -1.0])
        _, tangent = jvp(M.integrate, (rhs, Y0, 0.1, 6), (None, v, None, None))
        close(tangent, expected @ v)
        close(jacfwd(M.integrate, argnums=1)(rhs, Y0, 0.1, 6), expected)
        close(jacrev(M.integrate, argnums=1)(rhs, Y0, 0.1, 6), expected)
    assert stats["compiles"] > compiles  # each function object got code of its own
    # the variant for rhs is still cached: calling with it again compiles nothing
    compiles = stats["compiles"]
    g(M.rhs, Y0, 0.1, 6)
    assert stats["compiles"] == compiles
    assert "rhs" in g.source and "other_rhs" not in g.source


@pytest.mark.parametrize(
    "passed, oracle",
    [(numpy.tanh, anp.tanh), (numpy.sin, anp.sin), (lambda y: y * y, lambda y: y * y)],
)
def test_numpy_functions_and_lambdas_as_the_function_parameter(passed, oracle):
    ours = grad(M.euler, argnums=1)(passed, Y0)
    close(ours, autograd.grad(A.euler, 1)(oracle, Y0))
    check_grads(M.euler, (passed, Y0), argnums=1)


def test_second_derivatives_with_the_function_fixed_in_a_wrapper():
    def wrapped(y):
        return M.integrate(M.rhs, y, 0.1, 6)

    close(hessian(wrapped)(Y0), autograd.hessian(lambda y: A.integrate(A.rhs, y, 0.1, 6))(Y0))


@pytest.mark.parametrize("rhs", ["rhs", "other_rhs"])
def test_second_derivatives_with_the_function_as_an_argument(rhs):
    """hessian, hvp, jacfwd and jacrev of grad, and grad of grad specialise the inner
    gradient on the function passed, as a call of it does (arguments.bind_functions)."""
    args, oracle_args = (getattr(M, rhs), Y0, 0.1, 6), (getattr(A, rhs), Y0, 0.1, 6)
    expected = autograd.hessian(A.integrate, 1)(*oracle_args)
    close(hessian(M.integrate, argnums=1)(*args), expected)
    v = numpy.array([1.0, -2.0, 0.5])
    (hv,) = chainrule.hvp(M.integrate, args, (None, v, None, None))  # a tuple: 4 primals
    close(hv, expected @ v)
    inner = grad(M.integrate, argnums=1)
    close(jacfwd(inner, argnums=1)(*args), expected)
    close(jacrev(inner, argnums=1)(*args), expected)
    check_grads(M.integrate, args, order=2, argnums=1)

    def scalar(f, y):  # a scalar start value: grad of grad is the second derivative
        return M.integrate(f, y * Y0, 0.1, 4)

    def scalar_oracle(f, y):
        return A.integrate(f, y * Y0, 0.1, 4)

    second = grad(grad(scalar, argnums=1), argnums=1)(getattr(M, rhs), 0.7)
    assert second == pytest.approx(
        autograd.grad(autograd.grad(scalar_oracle, 1), 1)(getattr(A, rhs), 0.7), rel=1e-9
    )


def test_refusals_name_the_call_and_what_to_do():
    def inside(f, y):  # a grad called inside, with the function a parameter of the caller
        return numpy.sum(grad(M.integrate, argnums=1)(f, y, 0.1, 2))

    with pytest.raises(CompileError) as info:
        grad(inside, argnums=1)(M.rhs, Y0)
    text = str(info.value)
    assert "calling the parameter 'f'" in text and "k1 = f(y, t)" in text
    assert "grad(lambda y: integrate(rhs, y))" in text

    def chosen(y0, c):
        f = M.rhs if c > 0 else M.other_rhs
        return M.loss(M.rk4(f, y0, 0.1, 2))

    with pytest.raises(CompileError) as info:
        grad(chosen)(Y0, 1.0)
    assert "calling the parameter 'f'" in str(info.value)
    assert "not a value computed at run time" in str(info.value)


def test_the_callers_arrays_and_functions_are_untouched():
    y0 = Y0.copy()
    grad(M.integrate, argnums=1)(M.rhs, y0, 0.1, 6)
    close(y0, Y0)
