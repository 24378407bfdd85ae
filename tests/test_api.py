"""The public API's contract: forms of grad, argnums, argument types, vjp, caching."""

import math
import warnings

import numpy as np
import pytest

import chainrule
from chainrule import check_grad, grad, value_and_grad, vjp
from chainrule.testing import numerical_vjp


def poly(x, y):
    return x * x * y + 3.0 * y


def two_arrays(a, b):
    return np.tanh(a * b + a) @ b


def test_grad_forms_agree_with_finite_differences():
    assert grad(poly)(2.0, 5.0) == pytest.approx(numerical_vjp(poly, (2.0, 5.0), 1.0, 0), rel=1e-6)
    assert grad(poly, argnums=1)(2.0, 5.0) == pytest.approx(7.0)
    dx, dy = grad(poly, argnums=(0, 1))(2.0, 5.0)
    assert (dx, dy) == pytest.approx((20.0, 7.0))

    @grad
    def decorated(x):
        return x * x * x

    assert decorated(2.0) == pytest.approx(12.0)

    @grad(argnums=(0, 1))
    def decorated_tuple(x, y):
        return x * y

    assert decorated_tuple(2.0, 3.0) == pytest.approx((3.0, 2.0))


def test_int_argnums_gives_one_gradient_tuple_gives_tuple():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3), rng.normal(size=3)
    one = grad(two_arrays)(a, b)
    assert isinstance(one, np.ndarray) and one.shape == (3,)
    both = grad(two_arrays, argnums=(0, 1))(a, b)
    assert isinstance(both, tuple) and len(both) == 2
    np.testing.assert_allclose(both[0], one)
    np.testing.assert_allclose(
        both[0], numerical_vjp(two_arrays, (a, b), 1.0, 0), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        both[1], numerical_vjp(two_arrays, (a, b), 1.0, 1), rtol=1e-6, atol=1e-8
    )


def test_value_and_grad_returns_value_and_gradients():
    value, g = value_and_grad(poly)(2.0, 5.0)
    assert value == pytest.approx(poly(2.0, 5.0))
    assert g == pytest.approx(20.0)
    value, gs = value_and_grad(poly, argnums=(0, 1))(2.0, 5.0)
    assert gs == pytest.approx((20.0, 7.0))


def float_power(x):
    return x**3


def test_python_float_argument_gives_python_float_gradient():
    g = grad(float_power)(2.0)
    assert type(g) is float and g == pytest.approx(12.0)


def test_int_argument_is_promoted_to_float():
    assert grad(float_power)(3) == pytest.approx(27.0)
    g = grad(vector_sq)(np.array([1, 2, 3]))
    assert g.dtype.kind == "f"
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0])


def vector_sq(x):
    return x @ x


def vector_out(x):
    return x * 2.0


@pytest.mark.parametrize(
    "bad, word",
    [("abc", "str"), (True, "bool"), (None, "None"), (object(), "object"), (1 + 2j, "complex")],
)
def test_differentiating_a_non_float_names_its_type(bad, word):
    with pytest.raises(TypeError, match=word):
        grad(float_power)(bad)


def test_bool_array_is_refused():
    with pytest.raises(TypeError, match="bool"):
        grad(vector_sq)(np.array([True, False]))


def test_non_scalar_output_points_to_vjp():
    with pytest.raises(ValueError, match="vjp"):
        grad(vector_out)(np.ones(3))


def test_size_one_array_output_is_accepted():
    def size_one(x):
        return x * 3.0

    assert grad(size_one)(np.array([2.0])) == pytest.approx([3.0])


@pytest.mark.parametrize("argnums", [5, (0, 7)])
def test_argnums_out_of_range(argnums):
    with pytest.raises(ValueError, match="argnums"):
        grad(poly, argnums=argnums)(1.0, 2.0)


@pytest.mark.parametrize("argnums", ["0", 1.5, None, True])
def test_argnums_of_the_wrong_type(argnums):
    with pytest.raises(TypeError, match="argnums"):
        grad(poly, argnums=argnums)


def test_argnums_negative_or_repeated():
    with pytest.raises(ValueError, match="argnums"):
        grad(poly, argnums=-1)
    with pytest.raises(ValueError, match="argnums"):
        grad(poly, argnums=(0, 0))


@pytest.mark.parametrize("thing", [3, "f", None, np.ones(2)])
def test_non_callable_is_refused(thing):
    with pytest.raises(TypeError, match="callable"):
        grad(thing)


def test_vjp_matches_the_jacobian_for_array_outputs():
    def f(x, w):
        return np.tanh(x * w) + x

    rng = np.random.default_rng(2)
    x, w = rng.normal(size=4), rng.normal(size=4)
    out, pullback = vjp(f, x, w)
    np.testing.assert_allclose(out, f(x, w))
    ct = rng.normal(size=4)
    dx, dw = pullback(ct)

    def weighted(x, w):
        return f(x, w) @ ct

    np.testing.assert_allclose(dx, numerical_vjp(weighted, (x, w), 1.0, 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, numerical_vjp(weighted, (x, w), 1.0, 1), rtol=1e-6, atol=1e-8)
    assert "def backward" in pullback.source


def test_vjp_rejects_a_cotangent_of_the_wrong_shape():
    _, pullback = vjp(vector_out, np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        pullback(np.ones(4))


def my_square(x):
    return x * x


@chainrule.adjoint(my_square)
def _deliberately_wrong(y, x):
    "a wrong rule (missing the factor 2), so that check_grad must fail"
    dx = dy * x  # noqa: F841, F821  (template notation: dy is bound by the compiler)


WEIGHTS = np.array([1.0, -2.0])


def uses_my_square(x):
    return my_square(x) @ WEIGHTS


def test_check_grad_passes_on_a_right_gradient():
    assert check_grad(poly, 1.5, 2.5, argnums=(0, 1)) < 1e-6


def test_check_grad_reports_the_argument_and_worst_element():
    with pytest.raises(AssertionError, match=r"argument 0 \('x'\).*x\[1\]"):
        check_grad(uses_my_square, np.array([0.5, 3.0]))


def test_transformation_is_cached_per_function_and_options():
    g1 = grad(poly)
    g1(1.0, 2.0)
    g2 = grad(poly)
    g2(1.0, 2.0)
    assert g1.compiled() is g2.compiled()
    assert grad(poly, argnums=1).compiled() is not g1.compiled()


def test_keyword_arguments_and_defaults_at_the_call():
    def f(x, scale=2.0):
        return scale * x * x

    assert grad(f)(3.0) == pytest.approx(12.0)
    assert grad(f)(3.0, scale=1.0) == pytest.approx(6.0)
    assert grad(f)(x=3.0) == pytest.approx(12.0)
    with pytest.raises(TypeError, match="argnums=1"):
        grad(f, argnums=1)(3.0)


def test_vjp_of_a_gradient_leaves_out_the_arguments_with_defaults():
    # the gradient keeps f's defaults; vjp read them from the wrapper, which has none,
    # and refused two primals for "3 argument(s)" (check_grads(order=2) does this call)
    def f(a, b, scale=2.0):
        return a * a * b * scale

    assert vjp(grad(f), 0.5, 1.5)[1](1.0) == pytest.approx((6.0, 2.0))
    assert vjp(grad(f), 0.5, 1.5, 3.0)[1](1.0) == pytest.approx((9.0, 3.0, 1.5))
    with pytest.raises(TypeError, match="takes 2 to 3 argument"):
        vjp(grad(f), 0.5)


def test_lambdas():
    assert grad(lambda x: x**2)(3.0) == pytest.approx(6.0)
    f, g = (lambda x: x * 3.0), (lambda x: x * x * 5.0)  # two on one line
    assert grad(f)(2.0) == pytest.approx(3.0)
    assert grad(g)(2.0) == pytest.approx(20.0)


SCALE = np.array([1.0, 2.0, 3.0])


def uses_global(x):
    return np.sin(x) @ SCALE


def test_module_globals_stay_live_after_compilation():
    global SCALE
    x = np.array([0.1, 0.2, 0.3])
    first = grad(uses_global)(x)
    np.testing.assert_allclose(first, np.cos(x) * [1.0, 2.0, 3.0])
    old = SCALE
    try:
        SCALE = np.array([-1.0, 0.0, 5.0])
        np.testing.assert_allclose(grad(uses_global)(x), np.cos(x) * SCALE)
    finally:
        SCALE = old


def test_closure_values_are_read():
    k = 4.0

    def f(x):
        return k * x * x

    assert grad(f)(1.5) == pytest.approx(12.0)


def test_math_functions_on_floats():
    def f(x):
        return math.sin(x) * x

    assert check_grad(f, 0.7) < 1e-6


def test_show_prints_the_source(capsys):
    chainrule.show(poly, argnums=(0, 1))
    out = capsys.readouterr().out
    assert "def grad_poly(x, y):" in out
    assert out == chainrule.source(poly, argnums=(0, 1))


# -- library functions passed to a transformation directly --------------------------------


def test_library_functions_passed_directly():
    """A NumPy function with a rule (even one written in Python, np.row_stack) is
    differentiated through its rule; one without derivative (np.floor) has gradient 0."""
    x = np.array([0.3, -1.2, 2.5])
    for f in (np.floor, np.sign, np.ceil):
        out, back = chainrule.vjp(f, x)
        np.testing.assert_array_equal(out, f(x))
        np.testing.assert_array_equal(back(np.ones(3))[0], np.zeros(3))
        np.testing.assert_array_equal(chainrule.jvp(f, (x,), (np.ones(3),))[1], np.zeros(3))
    a, b = np.ones((2, 3)), np.arange(3.0)
    stacks = [np.vstack] + ([np.row_stack] if hasattr(np, "row_stack") else [])
    for f in stacks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # row_stack, NumPy 2
            out, back = chainrule.vjp(f, (a, b))
        g = np.arange(9.0).reshape(3, 3)
        da, db = back(g)[0]
        np.testing.assert_array_equal(da, g[:2])
        np.testing.assert_array_equal(db, g[2])
    np.testing.assert_array_equal(chainrule.grad(np.sum)(a), np.ones((2, 3)))
    np.testing.assert_array_equal(chainrule.jacfwd(np.cumsum)(b), np.tril(np.ones((3, 3))))


def test_a_variadic_library_function_passed_to_vjp_says_how_to_wrap_it():
    a, b = np.ones((2, 3)), np.ones((3, 2))
    with pytest.raises(TypeError, match=r"vjp\(lambda a, b: np.einsum\('ij,jk->ik', a, b\)"):
        chainrule.vjp(np.einsum, "ij,jk->ik", a, b)
    out, back = chainrule.vjp(lambda a, b: np.einsum("ij,jk->ik", a, b), a, b)
    np.testing.assert_allclose(back(np.ones((2, 2)))[0], np.ones((2, 2)) @ b.T)


def test_a_partial_object_says_to_write_a_lambda():
    import functools

    def ridge(w, lam=0.1):
        return np.sum(w**2) * lam

    with pytest.raises(chainrule.CompileError, match=r"functools.partial\(ridge, ...\).*lambda"):
        grad(functools.partial(ridge, lam=1.0))(np.ones(2))
    np.testing.assert_allclose(grad(lambda w: ridge(w, lam=1.0))(np.ones(2)), [2.0, 2.0])
