"""Elementwise derivative rules (rules/arithmetic.py) against central finite differences.

Every tested function is a small module-level function (chainrule reads its
source).  Array outputs are reduced with `np.sum(... * w)` for a fixed random
weight array `w`, so that each output element contributes a different amount
and a wrong gradient cannot hide behind a plain sum.
"""

import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEW, weights
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule
from chainrule import check_grad
from chainrule.rules import is_nondifferentiable, lookup

SHAPES = [(), (1,), (4,), (2, 3), (1, 3), (3, 1), (2, 1, 2)]
PAIRS = [
    ((), ()),
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((2, 1), (3,)),
    ((1,), (2, 2)),
]


def arrays(lo, hi, shape=None, nonzero=False):
    """Float arrays with elements in [lo, hi] (or -[lo, hi] too, if nonzero)."""
    shapes = st.sampled_from(SHAPES) if shape is None else st.just(shape)
    elements = st.floats(lo, hi)

    def build(s):
        values = hnp.arrays(np.float64, s, elements=elements)
        if not nonzero:
            return values
        signs = hnp.arrays(np.float64, s, elements=st.sampled_from([-1.0, 1.0]))
        return st.tuples(values, signs).map(lambda vs: vs[0] * vs[1])

    return shapes.flatmap(build)


# -- unary functions ----------------------------------------------------------------------


def f_sin(x, w):
    return np.sum(np.sin(x) * w)


def f_cos(x, w):
    return np.sum(np.cos(x) * w)


def f_tan(x, w):
    return np.sum(np.tan(x) * w)


def f_arcsin(x, w):
    return np.sum(np.arcsin(x) * w)


def f_arccos(x, w):
    return np.sum(np.arccos(x) * w)


def f_arctan(x, w):
    return np.sum(np.arctan(x) * w)


def f_sinh(x, w):
    return np.sum(np.sinh(x) * w)


def f_cosh(x, w):
    return np.sum(np.cosh(x) * w)


def f_tanh(x, w):
    return np.sum(np.tanh(x) * w)


def f_arcsinh(x, w):
    return np.sum(np.arcsinh(x) * w)


def f_arccosh(x, w):
    return np.sum(np.arccosh(x) * w)


def f_arctanh(x, w):
    return np.sum(np.arctanh(x) * w)


def f_exp(x, w):
    return np.sum(np.exp(x) * w)


def f_exp2(x, w):
    return np.sum(np.exp2(x) * w)


def f_expm1(x, w):
    return np.sum(np.expm1(x) * w)


def f_log(x, w):
    return np.sum(np.log(x) * w)


def f_log2(x, w):
    return np.sum(np.log2(x) * w)


def f_log10(x, w):
    return np.sum(np.log10(x) * w)


def f_log1p(x, w):
    return np.sum(np.log1p(x) * w)


def f_sqrt(x, w):
    return np.sum(np.sqrt(x) * w)


def f_cbrt(x, w):
    return np.sum(np.cbrt(x) * w)


def f_square(x, w):
    return np.sum(np.square(x) * w)


def f_reciprocal(x, w):
    return np.sum(np.reciprocal(x) * w)


def f_abs(x, w):
    return np.sum(np.abs(x) * w)


def f_absolute(x, w):
    return np.sum(np.absolute(x) * w)


def f_fabs(x, w):
    return np.sum(np.fabs(x) * w)


def f_builtin_abs(x, w):
    return np.sum(abs(x) * w)


def f_negative(x, w):
    return np.sum(np.negative(x) * w)


def f_positive(x, w):
    return np.sum(np.positive(x) * w)


def f_neg_operator(x, w):
    return np.sum(-x * w)


def f_pos_operator(x, w):
    return np.sum(+x * w)


def f_sinc(x, w):
    return np.sum(np.sinc(x) * w)


def f_deg2rad(x, w):
    return np.sum(np.deg2rad(x) * w)


def f_radians(x, w):
    return np.sum(np.radians(x) * w)


def f_rad2deg(x, w):
    return np.sum(np.rad2deg(x) * w)


def f_degrees(x, w):
    return np.sum(np.degrees(x) * w)


def f_square_literal(x, w):
    return np.sum(x**2 * w)


def f_cube_literal(x, w):
    return np.sum(x**3 * w)


def f_sqrt_literal(x, w):
    return np.sum(x**0.5 * w)


def f_rpow_literal(x, w):
    return np.sum(2.0**x * w)


def f_np_power_literal(x, w):
    return np.sum(np.power(x, 3) * w)


def f_float_power_literal(x, w):
    return np.sum(np.float_power(x, 1.5) * w)


def f_div_literal(x, w):
    return np.sum(1.0 / x * w)


def f_where_self(x, w):
    return np.sum(np.where(x > 0.0, np.sin(x), x * x) * w)


UNARY = [
    (f_sin, arrays(-3, 3)),
    (f_cos, arrays(-3, 3)),
    (f_tan, arrays(-1.2, 1.2)),
    (f_arcsin, arrays(-0.9, 0.9)),
    (f_arccos, arrays(-0.9, 0.9)),
    (f_arctan, arrays(-3, 3)),
    (f_sinh, arrays(-2, 2)),
    (f_cosh, arrays(-2, 2)),
    (f_tanh, arrays(-2, 2)),
    (f_arcsinh, arrays(-3, 3)),
    (f_arccosh, arrays(1.1, 3)),
    (f_arctanh, arrays(-0.9, 0.9)),
    (f_exp, arrays(-2, 2)),
    (f_exp2, arrays(-2, 2)),
    (f_expm1, arrays(-2, 2)),
    (f_log, arrays(0.1, 5)),
    (f_log2, arrays(0.1, 5)),
    (f_log10, arrays(0.1, 5)),
    (f_log1p, arrays(-0.9, 3)),
    (f_sqrt, arrays(0.1, 5)),
    (f_cbrt, arrays(0.1, 5, nonzero=True)),
    (f_square, arrays(-3, 3)),
    (f_reciprocal, arrays(0.2, 3, nonzero=True)),
    (f_abs, arrays(0.1, 3, nonzero=True)),
    (f_absolute, arrays(0.1, 3, nonzero=True)),
    (f_fabs, arrays(0.1, 3, nonzero=True)),
    (f_builtin_abs, arrays(0.1, 3, nonzero=True)),
    (f_negative, arrays(-3, 3)),
    (f_positive, arrays(-3, 3)),
    (f_neg_operator, arrays(-3, 3)),
    (f_pos_operator, arrays(-3, 3)),
    (f_sinc, arrays(-2, 2)),
    (f_deg2rad, arrays(-200, 200)),
    (f_radians, arrays(-200, 200)),
    (f_rad2deg, arrays(-3, 3)),
    (f_degrees, arrays(-3, 3)),
    (f_square_literal, arrays(-3, 3)),
    (f_cube_literal, arrays(-3, 3)),
    (f_sqrt_literal, arrays(0.1, 5)),
    (f_rpow_literal, arrays(-2, 2)),
    (f_np_power_literal, arrays(-3, 3)),
    (f_float_power_literal, arrays(0.1, 5)),
    (f_div_literal, arrays(0.2, 3, nonzero=True)),
    (f_where_self, arrays(0.1, 2, nonzero=True)),
]


@pytest.mark.parametrize("f, values", UNARY, ids=[f.__name__[2:] for f, _ in UNARY])
@FEW
@given(data=st.data())
def test_unary(f, values, data):
    x = data.draw(values)
    check_grad(f, x, weights(x.shape))


def test_sinc_at_zero_is_flat():
    # sinc has a maximum at 0: the derivative there is exactly 0, not NaN
    g = chainrule.grad(f_sinc)(np.array([0.0, 0.5]), np.ones(2))
    assert g[0] == 0.0
    check_grad(f_sinc, np.array([0.0, 0.5]), np.ones(2))


def test_aliases_share_the_rule():
    pairs = [
        ("abs", "absolute"),
        ("arcsin", "asin"),
        ("arccos", "acos"),
        ("arctan", "atan"),
        ("arcsinh", "asinh"),
        ("arccosh", "acosh"),
        ("arctanh", "atanh"),
        ("arctan2", "atan2"),
        ("power", "pow"),
        ("divide", "true_divide"),
        ("mod", "remainder"),
        ("deg2rad", "radians"),
        ("rad2deg", "degrees"),
    ]
    for a, b in pairs:
        if hasattr(np, b):
            assert lookup(getattr(np, a)).template is lookup(getattr(np, b)).template, (a, b)
    assert lookup(operator.add).template is lookup(np.add).template
    assert lookup(operator.pow).template is lookup(np.power).template
    for name in ["round", "around", "fix", "rint", "trunc", "floor", "ceil", "sign"]:
        assert is_nondifferentiable(getattr(np, name)), name


# -- binary functions ----------------------------------------------------------------------


def b_add(x, y, w):
    return np.sum((x + y) * w)


def b_np_add(x, y, w):
    return np.sum(np.add(x, y) * w)


def b_sub(x, y, w):
    return np.sum((x - y) * w)


def b_np_subtract(x, y, w):
    return np.sum(np.subtract(x, y) * w)


def b_mul(x, y, w):
    return np.sum(x * y * w)


def b_np_multiply(x, y, w):
    return np.sum(np.multiply(x, y) * w)


def b_div(x, y, w):
    return np.sum(x / y * w)


def b_np_divide(x, y, w):
    return np.sum(np.divide(x, y) * w)


def b_pow(x, y, w):
    return np.sum(x**y * w)


def b_np_power(x, y, w):
    return np.sum(np.power(x, y) * w)


def b_float_power(x, y, w):
    return np.sum(np.float_power(x, y) * w)


def b_maximum(x, y, w):
    return np.sum(np.maximum(x, y) * w)


def b_minimum(x, y, w):
    return np.sum(np.minimum(x, y) * w)


def b_fmax(x, y, w):
    return np.sum(np.fmax(x, y) * w)


def b_fmin(x, y, w):
    return np.sum(np.fmin(x, y) * w)


def b_hypot(x, y, w):
    return np.sum(np.hypot(x, y) * w)


def b_arctan2(x, y, w):
    return np.sum(np.arctan2(x, y) * w)


def b_logaddexp(x, y, w):
    return np.sum(np.logaddexp(x, y) * w)


def b_logaddexp2(x, y, w):
    return np.sum(np.logaddexp2(x, y) * w)


def b_mixed(x, y, w):
    # several rules in a row, with x and y both used more than once
    z = np.tanh(x * y) + np.exp(-y) / (1.0 + x * x)
    return np.sum(z * w) - np.sum(np.sin(y) * x * w)


BINARY = [
    (b_add, (-3, 3), (-3, 3)),
    (b_np_add, (-3, 3), (-3, 3)),
    (b_sub, (-3, 3), (-3, 3)),
    (b_np_subtract, (-3, 3), (-3, 3)),
    (b_mul, (-3, 3), (-3, 3)),
    (b_np_multiply, (-3, 3), (-3, 3)),
    (b_div, (-3, 3), (0.3, 3)),
    (b_np_divide, (-3, 3), (0.3, 3)),
    (b_pow, (0.2, 3), (-2, 2)),
    (b_np_power, (0.2, 3), (-2, 2)),
    (b_float_power, (0.2, 3), (-2, 2)),
    (b_hypot, (0.2, 3), (-3, 3)),
    (b_arctan2, (-3, 3), (0.2, 3)),
    (b_logaddexp, (-3, 3), (-3, 3)),
    (b_logaddexp2, (-3, 3), (-3, 3)),
    (b_mixed, (-2, 2), (-2, 2)),
]


@pytest.mark.parametrize("f, xr, yr", BINARY, ids=[f.__name__[2:] for f, _, _ in BINARY])
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_binary_broadcasting(f, xr, yr, shapes, data):
    sx, sy = shapes
    x = data.draw(arrays(*xr, shape=sx))
    y = data.draw(arrays(*yr, shape=sy))
    w = weights(np.broadcast_shapes(sx, sy))
    check_grad(f, x, y, w, argnums=(0, 1))


@pytest.mark.parametrize("f", [b_maximum, b_minimum, b_fmax, b_fmin], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_max_min_route_to_the_winner(f, shapes, data):
    sx, sy = shapes
    x = data.draw(arrays(-3, 3, shape=sx))
    y = data.draw(arrays(-3, 3, shape=sy))
    assume(np.all(np.abs(np.subtract(x, y)) > 1e-3))  # finite differences fail at a tie
    check_grad(f, x, y, weights(np.broadcast_shapes(sx, sy)), argnums=(0, 1))


@pytest.mark.parametrize("f", [b_maximum, b_minimum, b_fmax, b_fmin], ids=lambda f: f.__name__)
def test_max_min_ties_go_to_the_first_argument(f):
    x = np.array([1.0, -2.0, 0.5])
    w = weights(3)
    gx, gy = chainrule.grad(f, argnums=(0, 1))(x, x.copy(), w)
    np.testing.assert_array_equal(gx, w)
    np.testing.assert_array_equal(gy, np.zeros(3))


def test_fmax_fmin_ignore_nan():
    x = np.array([np.nan, 1.0, 2.0])
    y = np.array([0.5, np.nan, 3.0])
    w = weights(3)
    gx, gy = chainrule.grad(b_fmax, argnums=(0, 1))(x, y, w)
    np.testing.assert_array_equal(gx, [0.0, w[1], 0.0])
    np.testing.assert_array_equal(gy, [w[0], 0.0, w[2]])
    gx, gy = chainrule.grad(b_fmin, argnums=(0, 1))(x, y, w)
    np.testing.assert_array_equal(gx, [0.0, w[1], w[2]])
    np.testing.assert_array_equal(gy, [w[0], 0.0, 0.0])


# -- power: literal exponents, the exponent's gradient, x <= 0 -------------------------------


def test_power_literal_two_is_specialised():
    src = chainrule.grad(f_square_literal).source
    (line,) = [line.strip() for line in src.splitlines() if line.strip().startswith("dx =")]
    assert line.endswith("* 2 * x"), line


def p_pow_scalar_exponent(x, p):
    return np.sum(x**p)


def test_power_exponent_gradient_is_zero_where_base_is_not_positive():
    # d(x**p)/dp = log(x) x**p: at x = 0 (p > 0) the term is 0 * log 0 -> 0 in the limit
    x = np.array([0.0, 2.0, 3.0])
    gx, gp = chainrule.grad(p_pow_scalar_exponent, argnums=(0, 1))(x, 2.0)
    np.testing.assert_allclose(gx, 2 * x)
    np.testing.assert_allclose(gp, 2.0**2 * np.log(2.0) + 3.0**2 * np.log(3.0))
    check_grad(p_pow_scalar_exponent, np.array([0.5, 2.0, 3.0]), 2.0, argnums=(0, 1))


def p_cube_negative(x, w):
    return np.sum(x**3 * w)


def test_power_integer_literal_at_negative_base():
    check_grad(p_cube_negative, np.array([-2.0, -0.5, 0.0, 1.5]), weights(4))


# -- remainder --------------------------------------------------------------------------------


def m_mod(x, y, w):
    return np.sum((x % y) * w)


def m_np_mod(x, y, w):
    return np.sum(np.mod(x, y) * w)


def m_np_remainder(x, y, w):
    return np.sum(np.remainder(x, y) * w)


def m_fmod(x, y, w):
    return np.sum(np.fmod(x, y) * w)


MOD_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), ()), ((2, 3), (3,)), ((2, 3), (2, 1))]


@pytest.mark.parametrize("f", [m_mod, m_np_mod, m_np_remainder, m_fmod], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", MOD_SHAPES, ids=str)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_mod(f, shapes, data):
    sx, sy = shapes
    y = data.draw(arrays(0.5, 2.0, shape=sy, nonzero=True))
    # keep x / y away from integers, where x % y jumps
    k = data.draw(hnp.arrays(np.float64, sx, elements=st.integers(-3, 3).map(float)))
    frac = data.draw(arrays(0.1, 0.9, shape=sx))
    x = (k + frac) * y
    check_grad(f, x, y, weights(sx), argnums=(0, 1))


# -- clip and where ------------------------------------------------------------------------------


def c_clip(x, w):
    return np.sum(np.clip(x, -0.5, 0.7) * w)


def c_clip_method(x, w):
    return np.sum(x.clip(-0.5, 0.7) * w)


def c_clip_method_keywords(x, w):
    return np.sum(x.clip(min=-0.5) * w)


def c_clip_upper_only(x, w):
    return np.sum(np.clip(x, None, 0.7) * w)


def c_clip_lower_only(x, w):
    return np.sum(np.clip(x, -0.5, None) * w)


def c_clip_arrays(x, lo, hi, w):
    return np.sum(np.clip(x, lo, hi) * w)


def c_clip_method_arrays(x, lo, hi, w):
    return np.sum(x.clip(lo, hi) * w)


def far_from(values, *bounds):
    return all(np.all(np.abs(np.subtract(values, b)) > 1e-3) for b in bounds)


@pytest.mark.parametrize(
    "f",
    [c_clip, c_clip_method, c_clip_method_keywords, c_clip_upper_only, c_clip_lower_only],
    ids=lambda f: f.__name__,
)
@FEW
@given(x=arrays(-2, 2))
def test_clip_literal_bounds(f, x):
    assume(far_from(x, -0.5, 0.7))
    check_grad(f, x, weights(x.shape))


@pytest.mark.parametrize("f", [c_clip_arrays, c_clip_method_arrays], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "shapes", [((3,), (3,), (3,)), ((2, 3), (3,), ()), ((2, 3), (2, 1), (1, 3))], ids=str
)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_clip_array_bounds_receive_gradient(f, shapes, data):
    sx, slo, shi = shapes
    x = data.draw(arrays(-2, 2, shape=sx))
    lo = data.draw(arrays(-1.5, 0.0, shape=slo))
    hi = data.draw(arrays(0.1, 1.5, shape=shi))
    assume(far_from(x, np.broadcast_to(lo, x.shape), np.broadcast_to(hi, x.shape)))
    check_grad(f, x, lo, hi, weights(sx), argnums=(0, 1, 2))


def test_clip_with_crossed_bounds_follows_numpy():
    # NumPy applies the upper bound last: with a_min > a_max every element is a_max
    x = np.array([-1.0, 0.5, 2.0])
    lo, hi = np.full(3, 1.0), np.full(3, 0.0)
    check_grad(c_clip_arrays, x, lo, hi, weights(3), argnums=(0, 1, 2))


def w_where(c, x, y, w):
    return np.sum(np.where(c, x, y) * w)


@pytest.mark.parametrize(
    "shapes",
    [((2, 3), (2, 3), (2, 3)), ((2, 3), (), (3,)), ((3, 1), (1, 4), ()), ((), (2,), (2,))],
    ids=str,
)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_where(shapes, data):
    sc, sx, sy = shapes
    c = data.draw(hnp.arrays(np.bool_, sc))
    x = data.draw(arrays(-3, 3, shape=sx))
    y = data.draw(arrays(-3, 3, shape=sy))
    w = weights(np.broadcast_shapes(sc, sx, sy))
    check_grad(w_where, c, x, y, w, argnums=(1, 2))


# -- matmul ----------------------------------------------------------------------------------------


def mm_operator(x, y, w):
    return np.sum((x @ y) * w)


def mm_np(x, y, w):
    return np.sum(np.matmul(x, y) * w)


@pytest.mark.parametrize("f", [mm_operator, mm_np], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "shapes",
    [((3, 4), (4,)), ((4,), (4, 2)), ((2, 3), (3, 4)), ((4,), (4,)), ((2, 3, 4), (4, 5))],
    ids=str,
)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_matmul(f, shapes, data):
    sx, sy = shapes
    x = data.draw(arrays(-2, 2, shape=sx))
    y = data.draw(arrays(-2, 2, shape=sy))
    w = weights(np.shape(np.matmul(x, y)))
    check_grad(f, x, y, w, argnums=(0, 1))


# -- array construction from differentiated values ----------------------------------------


def k_full(v, w):
    return np.sum(np.full((2, 3), v) * w)


def k_full_like(x, v, w):
    return np.sum(np.full_like(x, v) * w)


def k_linspace(a, b, w):
    return np.sum(np.linspace(a, b, 5) * w)


def test_full_and_linspace_pass_gradient_to_their_values():
    check_grad(k_full, 0.5, weights((2, 3)))
    check_grad(k_full, np.array([0.5, 1.0, 2.0]), weights((2, 3)))
    check_grad(k_full_like, np.ones(4), 1.5, weights(4), argnums=(0, 1))
    check_grad(k_linspace, 0.5, 2.0, weights(5), argnums=(0, 1))
    check_grad(k_linspace, np.array([0.0, 1.0]), 2.0, weights((5, 2)), argnums=(0, 1))


# -- functions without a derivative ------------------------------------------------------------


def n_floor(x):
    return np.sum(np.floor(x) * x)


def n_ceil(x):
    return np.sum(np.ceil(x) * x)


def n_round(x):
    return np.sum(np.round(x) * x)


def n_around(x):
    return np.sum(np.around(x) * x)


def n_round_method(x):
    return np.sum(x.round() * x)


def n_rint(x):
    return np.sum(np.rint(x) * x)


def n_trunc(x):
    return np.sum(np.trunc(x) * x)


def n_fix(x):
    return np.sum(np.fix(x) * x)


def n_sign(x):
    return np.sum(np.sign(x) * x)


def n_floordiv(x):
    return np.sum((x // 1.0) * x)


def n_floor_divide(x):
    return np.sum(np.floor_divide(x, 1.0) * x)


def n_heaviside(x):
    return np.sum(np.heaviside(x, 0.5) * x)


PIECEWISE_CONSTANT = [
    (n_floor, np.floor),
    (n_ceil, np.ceil),
    (n_round, np.round),
    (n_around, np.round),
    (n_round_method, np.round),
    (n_rint, np.rint),
    (n_trunc, np.trunc),
    pytest.param(n_fix, np.fix, marks=pytest.mark.filterwarnings("ignore:numpy.fix is deprecated")),
    (n_sign, np.sign),
    (n_floordiv, np.floor),
    (n_floor_divide, np.floor),
    (n_heaviside, lambda x: np.heaviside(x, 0.5)),
]


@pytest.mark.parametrize("f, step", PIECEWISE_CONSTANT, ids=lambda v: getattr(v, "__name__", ""))
@FEW
@given(data=st.data())
def test_piecewise_constant_functions_have_zero_gradient(f, step, data):
    # f(x) = sum(step(x) * x): the gradient is step(x) (the step itself contributes 0)
    shape = data.draw(st.sampled_from(SHAPES))
    k = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(-3, 3).map(float)))
    frac = data.draw(arrays(0.1, 0.4, shape=shape))  # away from integers and halves
    x = np.asarray(k + frac)  # 0-d stays an array (k + frac would be a NumPy scalar)
    np.testing.assert_array_equal(chainrule.grad(f)(x), step(x))
    check_grad(f, x)


def n_comparisons(x, y):
    mask = (x > y) & (x >= 0.0) | (x < -1.0) | (x <= -2.0)
    same = np.logical_or(np.equal(x, y), np.not_equal(x, 0.0))
    flags = np.logical_and(np.greater(x, 0.1), np.less_equal(x, 2.0)) | ~np.isnan(x)
    ok = np.isfinite(x) & ~np.isinf(x) & (x != y) & (x == x) & np.logical_not(mask)
    return np.sum((mask + same + flags + ok) * x * y)


def test_comparisons_and_logical_functions_have_zero_gradient():
    x = np.array([-2.5, -1.5, -0.3, 0.4, 1.7])
    y = np.array([0.2, -2.0, 0.6, 0.1, 3.0])
    check_grad(n_comparisons, x, y, argnums=(0, 1))


def n_indices_and_counts(x):
    i = np.argmax(x) + np.argmin(x) + x.argmax() + x.argmin()
    order = np.argsort(x) + x.argsort()
    count = np.count_nonzero(x > 0.0) + len(np.nonzero(x > 0.5)[0])
    return np.sum(x * order) * i + count * np.sum(x * x)


def n_creation(x):
    n = np.shape(x)[0] + np.ndim(x) + np.size(x) + x.shape[0] + x.ndim + x.size
    base = np.zeros_like(x) + np.ones_like(x) + np.full_like(x, 2.0) + np.arange(x.shape[0])
    extra = np.zeros(3) + np.ones(3) + np.full(3, 0.5) + np.linspace(0.0, 1.0, 3)
    eye = np.eye(x.shape[0]) + np.identity(x.shape[0])
    return np.sum(x * base) * n + np.sum(extra) * np.sum(eye @ x)


def n_builtins(x):
    n = len(x)
    k = int(n / 2) + round(1.7) + bool(n)
    total = np.sum(x * np.array(list(range(n))))
    if isinstance(x, np.ndarray):
        total = total * 2.0
    print("value:", total)
    return total * k


@pytest.mark.parametrize(
    "f", [n_indices_and_counts, n_creation, n_builtins], ids=lambda f: f.__name__
)
def test_integer_valued_helpers_do_not_break_gradients(f, capsys):
    x = np.array([0.3, -1.2, 2.5, 0.9])
    check_grad(f, x)
