"""Rules for the math module and Python builtins (rules/builtin_math.py).

These functions work on Python floats: the gradient must match central finite
differences and come back as a Python float, not a NumPy scalar or array.
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEW
from hypothesis import assume, given
from hypothesis import strategies as st

import chainrule
from chainrule import check_grad


def floats(lo, hi):
    return st.floats(lo, hi)


# -- math functions of one float -----------------------------------------------------------


def m_sin(x):
    return math.sin(x)


def m_cos(x):
    return math.cos(x)


def m_tan(x):
    return math.tan(x)


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan(x):
    return math.atan(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_tanh(x):
    return math.tanh(x)


def m_asinh(x):
    return math.asinh(x)


def m_acosh(x):
    return math.acosh(x)


def m_atanh(x):
    return math.atanh(x)


def m_exp(x):
    return math.exp(x)


def m_expm1(x):
    return math.expm1(x)


def m_log(x):
    return math.log(x)


def m_log_base_literal(x):
    return math.log(x, 10.0)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_log1p(x):
    return math.log1p(x)


def m_sqrt(x):
    return math.sqrt(x)


def m_fabs(x):
    return math.fabs(x)


def m_erf(x):
    return math.erf(x)


def m_erfc(x):
    return math.erfc(x)


def m_degrees(x):
    return math.degrees(x)


def m_radians(x):
    return math.radians(x)


def m_abs(x):
    return abs(x)


def m_float(x):
    return float(x) * 3.0


def m_power_literal(x):
    return x**3 - 2.0 * x**2


def m_operators(x):
    return -x / (1.0 + x * x) + (+x) ** 0.5


MATH_UNARY = [
    (m_sin, floats(-3, 3)),
    (m_cos, floats(-3, 3)),
    (m_tan, floats(-1.2, 1.2)),
    (m_asin, floats(-0.9, 0.9)),
    (m_acos, floats(-0.9, 0.9)),
    (m_atan, floats(-3, 3)),
    (m_sinh, floats(-2, 2)),
    (m_cosh, floats(-2, 2)),
    (m_tanh, floats(-2, 2)),
    (m_asinh, floats(-3, 3)),
    (m_acosh, floats(1.1, 3)),
    (m_atanh, floats(-0.9, 0.9)),
    (m_exp, floats(-2, 2)),
    (m_expm1, floats(-2, 2)),
    (m_log, floats(0.1, 5)),
    (m_log_base_literal, floats(0.1, 5)),
    (m_log2, floats(0.1, 5)),
    (m_log10, floats(0.1, 5)),
    (m_log1p, floats(-0.9, 3)),
    (m_sqrt, floats(0.1, 5)),
    (m_fabs, floats(0.1, 3) | floats(-3, -0.1)),
    (m_erf, floats(-2, 2)),
    (m_erfc, floats(-2, 2)),
    (m_degrees, floats(-3, 3)),
    (m_radians, floats(-200, 200)),
    (m_abs, floats(0.1, 3) | floats(-3, -0.1)),
    (m_float, floats(-3, 3)),
    (m_power_literal, floats(-3, 3)),
    (m_operators, floats(0.1, 3)),
]


@pytest.mark.parametrize("f, values", MATH_UNARY, ids=[f.__name__[2:] for f, _ in MATH_UNARY])
@FEW
@given(data=st.data())
def test_math_functions_of_floats(f, values, data):
    x = data.draw(values)
    check_grad(f, x)
    g = chainrule.grad(f)(x)
    assert type(g) is float


def test_math_templates_stay_in_math():
    # the float path reads like the original: math functions, no NumPy
    src = chainrule.grad(m_sin).source
    assert "math.cos(x)" in src
    src = chainrule.grad(m_log_base_literal).source
    assert "math.log(10.0)" in src


# -- math functions of two floats ----------------------------------------------------------


def m_log_base(x, b):
    return math.log(x, b)


def m_pow(x, y):
    return math.pow(x, y)


def m_atan2(y, x):
    return math.atan2(y, x)


def m_hypot(x, y):
    return math.hypot(x, y)


def m_mod(x, y):
    return x % y


def m_float_mix(x, y):
    # several rules on floats, with x and y used more than once
    return math.exp(-x * y) * math.sin(x) + math.sqrt(x * x + y * y) / (1.0 + math.cosh(y))


MATH_BINARY = [
    (m_log_base, floats(0.1, 5), floats(1.5, 10)),
    (m_pow, floats(0.1, 3), floats(-2, 2)),
    (m_atan2, floats(-3, 3), floats(0.2, 3)),
    (m_hypot, floats(0.2, 3), floats(-3, 3)),
    (m_float_mix, floats(0.1, 2), floats(-2, 2)),
]


@pytest.mark.parametrize("f, xs, ys", MATH_BINARY, ids=[f.__name__[2:] for f, _, _ in MATH_BINARY])
@FEW
@given(data=st.data())
def test_math_functions_of_two_floats(f, xs, ys, data):
    x, y = data.draw(xs), data.draw(ys)
    check_grad(f, x, y, argnums=(0, 1))
    gx, gy = chainrule.grad(f, argnums=(0, 1))(x, y)
    assert type(gx) is float and type(gy) is float


@FEW
@given(y=floats(0.5, 2.0), k=st.integers(-3, 3), frac=floats(0.1, 0.9))
def test_float_mod(y, k, frac):
    x = (k + frac) * y  # away from the jumps of x % y
    check_grad(m_mod, x, y, argnums=(0, 1))


def test_pow_exponent_gradient_at_zero_base():
    # d(0**y)/dy = 0 for y > 0 (x**y log x -> 0), not NaN
    gx, gy = chainrule.grad(m_pow, argnums=(0, 1))(0.0, 2.0)
    assert gx == 0.0 and gy == 0.0


# -- builtins: abs, max, min, sum, float ---------------------------------------------------


def b_max(x, y):
    return max(x, y) * 2.0 + x


def b_min(x, y):
    return min(x, y) * 3.0 - y


@pytest.mark.parametrize("f", [b_max, b_min], ids=lambda f: f.__name__)
@FEW
@given(x=floats(-3, 3), y=floats(-3, 3))
def test_max_min_of_two_floats(f, x, y):
    assume(abs(x - y) > 1e-3)
    check_grad(f, x, y, argnums=(0, 1))


def b_max_only(x, y):
    return max(x, y)


def b_min_only(x, y):
    return min(x, y)


def test_max_min_ties_go_to_the_first_argument():
    # like Python, which returns the first of equal arguments
    assert chainrule.grad(b_max_only, argnums=(0, 1))(1.5, 1.5) == (1.0, 0.0)
    assert chainrule.grad(b_min_only, argnums=(0, 1))(1.5, 1.5) == (1.0, 0.0)
    assert chainrule.grad(b_max_only, argnums=(0, 1))(1.0, 2.0) == (0.0, 1.0)
    assert chainrule.grad(b_min_only, argnums=(0, 1))(1.0, 2.0) == (1.0, 0.0)


def b_sum_array(x, w):
    return np.sum(sum(x) * w)


@FEW
@given(
    x=hnp.arrays(
        np.float64, st.sampled_from([(4,), (3, 2), (1, 3), (2, 1, 2)]), elements=floats(-2, 2)
    )
)
def test_builtin_sum_adds_along_the_first_axis(x):
    w = np.random.default_rng(3).normal(size=x.shape[1:])
    check_grad(b_sum_array, x, w)


def b_sum_floats(a, b, c):
    return sum([a * b, b * c, c]) + sum((a, b), 1.0)


def test_builtin_sum_of_a_list_of_floats():
    check_grad(b_sum_floats, 0.5, -1.5, 2.0, argnums=(0, 1, 2))


def b_abs_array(x):
    return np.sum(abs(x) * x)


def test_builtin_abs_of_an_array():
    check_grad(b_abs_array, np.array([-1.5, 0.3, 2.0]))


def b_float_of_array(x):
    return float(np.sum(x * x))


def test_float_is_the_identity():
    x = np.array([1.0, -2.0])
    check_grad(b_float_of_array, x)
    assert isinstance(chainrule.grad(m_float)(2.0), float)


# -- functions without a derivative ---------------------------------------------------------


def n_floor_ceil_trunc(x):
    return (math.floor(x) + math.ceil(x) + math.trunc(x)) * x


def n_round_int_bool(x):
    return (round(x) + int(x) + bool(x > 0.0)) * x


@FEW
@given(k=st.integers(-3, 3), frac=floats(0.1, 0.4))
def test_integer_valued_functions_have_zero_gradient(k, frac):
    x = k + frac  # away from the jumps
    expected = math.floor(x) + math.ceil(x) + math.trunc(x)  # d/dx (c * x) with c constant
    assert chainrule.grad(n_floor_ceil_trunc)(x) == expected
    check_grad(n_floor_ceil_trunc, x)
    assert chainrule.grad(n_round_int_bool)(x) == round(x) + int(x) + bool(x > 0.0)
    check_grad(n_round_int_bool, x)


def n_isnan(x):
    if math.isnan(x) or math.isinf(x):
        y = 0.0
    else:
        y = x * x
    return y


def test_float_predicates_do_not_break_gradients():
    assert chainrule.grad(n_isnan)(1.5) == 3.0
