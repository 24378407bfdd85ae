"""Rules for Python's arithmetic operators and NumPy's elementwise functions.

Binary operators broadcast, so every gradient of a binary rule is summed back
to its input's shape with `unbroadcast` (a no-op when the shapes agree).
Where the textbook derivative is written with the function's own value
(exp, tanh, sqrt, ...) the rule reads the saved output instead of computing
it again.
"""

import operator

import numpy as np

from ..runtime import matmul_grad_left, matmul_grad_right, power_term, unbroadcast
from . import adjoint, literal, nondifferentiable, tangent

IDENTITY = object()  # the "primitive" of a plain copy `y = x`


def numpy_attrs(*names: str) -> list:
    """The NumPy objects with these names that this NumPy version has (asin: 2.0+)."""
    return [getattr(np, n) for n in names if hasattr(np, n)]


@adjoint(IDENTITY, check_signature=False)
def copy(y, x):
    "copy: the gradient passes through unchanged"
    dx = dy


@tangent(IDENTITY, check_signature=False)
def copy_tangent(y, x):
    "copy: the tangent passes through unchanged"
    dy = dx


# -- arithmetic operators ---------------------------------------------------------


@adjoint(operator.add, np.add)
def add(z, x, y):
    "add gate: both inputs receive the output's gradient unchanged"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(dz, y)


@tangent(operator.add, np.add)
def add_tangent(z, x, y):
    "add: the tangents add"
    dz = dx + dy


@adjoint(operator.sub, np.subtract)
def subtract(z, x, y):
    "sub gate: the first input receives the gradient, the second its negation"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz, y)


@tangent(operator.sub, np.subtract)
def subtract_tangent(z, x, y):
    "sub: the tangents subtract"
    dz = dx - dy


@adjoint(operator.mul, np.multiply)
def multiply(z, x, y):
    "mul gate: each input receives the gradient times the other input"
    dx = unbroadcast(dz * y, x)
    dy = unbroadcast(dz * x, y)


@tangent(operator.mul, np.multiply)
def multiply_tangent(z, x, y):
    "product rule: d(x y) = dx y + x dy"
    dz = dx * y + x * dy


@adjoint(operator.truediv, np.divide, np.true_divide)
def divide(z, x, y):
    "div gate: d(x/y) = dx/y - x dy/y**2"
    dx = unbroadcast(dz / y, x)
    dy = unbroadcast(-dz * z / y, y)


@tangent(operator.truediv, np.divide, np.true_divide)
def divide_tangent(z, x, y):
    "quotient rule: d(x/y) = dx/y - (x/y) dy/y"
    dz = dx / y - z * dy / y


@adjoint(operator.neg, np.negative)
def negative(y, x):
    "negation: the gradient flips sign"
    dx = -dy


@tangent(operator.neg, np.negative)
def negative_tangent(y, x):
    "negation: the tangent flips sign"
    dy = -dx


@adjoint(operator.pos, np.positive)
def positive(y, x):
    "unary plus: the gradient passes through"
    dx = dy


@tangent(operator.pos, np.positive)
def positive_tangent(y, x):
    "unary plus: the tangent passes through"
    dy = dx


@adjoint(operator.pow, *numpy_attrs("power", "pow"))
def power(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if literal(y) and y == 0:
        dx = unbroadcast(dz * 0.0, x)  # x**0 is the constant 1, even at x = 0
    elif literal(y) and y == 1:
        dx = unbroadcast(dz, x)
    elif literal(y) and y == 2:
        dx = unbroadcast(dz * 2 * x, x)
    elif literal(y) and y > 0 and y % 1 == 0:
        dx = unbroadcast(dz * y * x ** (y - 1), x)
    else:  # y x**(y-1), exactly 0 where y is 0 (never 0 * inf at x = 0)
        dx = unbroadcast(dz * power_term(y, x, y - 1), x)
    if literal(x) and x > 0:
        dy = unbroadcast(dz * z * np.log(x), y)
    else:  # log(x); at x = 0, x**y is 0 and so is the term; for x < 0 it is undefined (nan)
        dy = unbroadcast(dz * z * np.log(np.where(x == 0, 1, x)), y)


@tangent(operator.pow, *numpy_attrs("power", "pow"))
def power_tangent(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if literal(y) and y == 0:
        dz = 0.0 * dx
    elif literal(y) and y == 1:
        dz = dx
    elif literal(y) and y == 2:
        dz = 2 * x * dx
    elif literal(y) and y > 0 and y % 1 == 0:
        dz = y * x ** (y - 1) * dx
    elif literal(x) and x > 0:
        dz = power_term(y, x, y - 1) * dx + z * np.log(x) * dy
    else:  # log(x); at x = 0, x**y is 0 and so is the term; for x < 0 it is undefined (nan)
        dz = power_term(y, x, y - 1) * dx + z * np.log(np.where(x == 0, 1, x)) * dy


@adjoint(np.float_power)
def float_power(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    dx = unbroadcast(dz * y * np.float_power(x, y - 1), x)
    if literal(x) and x > 0:
        dy = unbroadcast(dz * z * np.log(x), y)
    else:
        dy = unbroadcast(dz * z * np.log(np.where(x > 0, x, 1)), y)


@tangent(np.float_power)
def float_power_tangent(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if literal(x) and x > 0:
        dz = y * np.float_power(x, y - 1) * dx + z * np.log(x) * dy
    else:
        dz = y * np.float_power(x, y - 1) * dx + z * np.log(np.where(x > 0, x, 1)) * dy


@adjoint(operator.mod, np.mod, np.remainder)
def mod(z, x, y):
    "mod: x % y = x - y * floor(x / y), and floor is flat"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz * (x // y), y)


@tangent(operator.mod, np.mod, np.remainder)
def mod_tangent(z, x, y):
    "mod: x % y = x - y * floor(x / y), and floor is flat"
    dz = dx - (x // y) * dy


@adjoint(np.fmod)
def fmod(z, x, y):
    "fmod: fmod(x, y) = x - y * trunc(x / y), and trunc is flat"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz * np.trunc(x / y), y)


@tangent(np.fmod)
def fmod_tangent(z, x, y):
    "fmod: fmod(x, y) = x - y * trunc(x / y), and trunc is flat"
    dz = dx - np.trunc(x / y) * dy


@adjoint(operator.matmul, np.matmul)
def matmul(z, x, y):
    "matmul: a vector-Jacobian product, dx = dz @ y.T and dy = x.T @ dz"
    dx = matmul_grad_left(dz, x, y)
    dy = matmul_grad_right(dz, x, y)


@tangent(operator.matmul, np.matmul)
def matmul_tangent(z, x, y):
    "product rule for matmul: d(x @ y) = dx @ y + x @ dy"
    dz = dx @ y + x @ dy


# -- exponentials and logarithms ------------------------------------------------------


@adjoint(np.exp)
def exp(y, x):
    "exp: the derivative is the output itself"
    dx = dy * y


@tangent(np.exp)
def exp_tangent(y, x):
    "exp: the derivative is the output itself"
    dy = dx * y


@adjoint(np.exp2)
def exp2(y, x):
    "exp2: d 2**x = 2**x log(2)"
    dx = dy * y * np.log(2)


@tangent(np.exp2)
def exp2_tangent(y, x):
    "exp2: d 2**x = 2**x log(2) dx"
    dy = dx * y * np.log(2)


@adjoint(np.expm1)
def expm1(y, x):
    "expm1: d (exp(x) - 1) = exp(x) = y + 1"
    dx = dy * (y + 1)


@tangent(np.expm1)
def expm1_tangent(y, x):
    "expm1: d (exp(x) - 1) = exp(x) dx = (y + 1) dx"
    dy = dx * (y + 1)


@adjoint(np.log)
def log(y, x):
    "log: scale by 1/x"
    dx = dy / x


@tangent(np.log)
def log_tangent(y, x):
    "log: dx / x"
    dy = dx / x


@adjoint(np.log2)
def log2(y, x):
    "log2: scale by 1 / (x log 2)"
    dx = dy / (x * np.log(2))


@tangent(np.log2)
def log2_tangent(y, x):
    "log2: dx / (x log 2)"
    dy = dx / (x * np.log(2))


@adjoint(np.log10)
def log10(y, x):
    "log10: scale by 1 / (x log 10)"
    dx = dy / (x * np.log(10))


@tangent(np.log10)
def log10_tangent(y, x):
    "log10: dx / (x log 10)"
    dy = dx / (x * np.log(10))


@adjoint(np.log1p)
def log1p(y, x):
    "log1p: scale by 1 / (1 + x)"
    dx = dy / (1 + x)


@tangent(np.log1p)
def log1p_tangent(y, x):
    "log1p: dx / (1 + x)"
    dy = dx / (1 + x)


@adjoint(np.logaddexp)
def logaddexp(z, x1, x2):
    "logaddexp: each input receives the gradient times its softmax weight"
    dx1 = unbroadcast(dz / (1 + np.exp(x2 - x1)), x1)
    dx2 = unbroadcast(dz / (1 + np.exp(x1 - x2)), x2)


@tangent(np.logaddexp)
def logaddexp_tangent(z, x1, x2):
    "logaddexp: the tangents mixed by their softmax weights"
    dz = dx1 / (1 + np.exp(x2 - x1)) + dx2 / (1 + np.exp(x1 - x2))


@adjoint(np.logaddexp2)
def logaddexp2(z, x1, x2):
    "logaddexp2: each input receives the gradient times its weight 1 / (1 + 2**(other - x))"
    dx1 = unbroadcast(dz / (1 + np.exp2(x2 - x1)), x1)
    dx2 = unbroadcast(dz / (1 + np.exp2(x1 - x2)), x2)


@tangent(np.logaddexp2)
def logaddexp2_tangent(z, x1, x2):
    "logaddexp2: the tangents mixed by the weights 1 / (1 + 2**(other - x))"
    dz = dx1 / (1 + np.exp2(x2 - x1)) + dx2 / (1 + np.exp2(x1 - x2))


# -- powers and roots -----------------------------------------------------------------


@adjoint(np.sqrt)
def sqrt(y, x):
    "sqrt: scale by 1 / (2 sqrt(x)), reusing the saved output"
    dx = dy / (2 * y)


@tangent(np.sqrt)
def sqrt_tangent(y, x):
    "sqrt: dx / (2 sqrt(x)), reusing the output"
    dy = dx / (2 * y)


@adjoint(np.cbrt)
def cbrt(y, x):
    "cbrt: scale by 1 / (3 cbrt(x)**2), reusing the saved output"
    dx = dy / (3 * y * y)


@tangent(np.cbrt)
def cbrt_tangent(y, x):
    "cbrt: dx / (3 cbrt(x)**2), reusing the output"
    dy = dx / (3 * y * y)


@adjoint(np.square)
def square(y, x):
    "square: scale by 2x"
    dx = dy * 2 * x


@tangent(np.square)
def square_tangent(y, x):
    "square: 2 x dx"
    dy = 2 * x * dx


@adjoint(np.reciprocal)
def reciprocal(y, x):
    "reciprocal: d(1/x) = -1/x**2 = -y**2"
    dx = -dy * y * y


@tangent(np.reciprocal)
def reciprocal_tangent(y, x):
    "reciprocal: d(1/x) = -dx / x**2 = -y**2 dx"
    dy = -dx * y * y


# -- trigonometric and hyperbolic functions ---------------------------------------------


@adjoint(np.sin)
def sin(y, x):
    "sin: scale by cos(x)"
    dx = dy * np.cos(x)


@tangent(np.sin)
def sin_tangent(y, x):
    "sin: cos(x) dx"
    dy = dx * np.cos(x)


@adjoint(np.cos)
def cos(y, x):
    "cos: scale by -sin(x)"
    dx = -dy * np.sin(x)


@tangent(np.cos)
def cos_tangent(y, x):
    "cos: -sin(x) dx"
    dy = -dx * np.sin(x)


@adjoint(np.tan)
def tan(y, x):
    "tan: scale by 1 + tan(x)**2, reusing the saved output"
    dx = dy * (1 + y * y)


@tangent(np.tan)
def tan_tangent(y, x):
    "tan: (1 + tan(x)**2) dx, reusing the output"
    dy = dx * (1 + y * y)


@adjoint(*numpy_attrs("arcsin", "asin"))
def arcsin(y, x):
    "arcsin: scale by 1 / sqrt(1 - x**2)"
    dx = dy / np.sqrt(1 - x * x)


@tangent(*numpy_attrs("arcsin", "asin"))
def arcsin_tangent(y, x):
    "arcsin: dx / sqrt(1 - x**2)"
    dy = dx / np.sqrt(1 - x * x)


@adjoint(*numpy_attrs("arccos", "acos"))
def arccos(y, x):
    "arccos: scale by -1 / sqrt(1 - x**2)"
    dx = -dy / np.sqrt(1 - x * x)


@tangent(*numpy_attrs("arccos", "acos"))
def arccos_tangent(y, x):
    "arccos: -dx / sqrt(1 - x**2)"
    dy = -dx / np.sqrt(1 - x * x)


@adjoint(*numpy_attrs("arctan", "atan"))
def arctan(y, x):
    "arctan: scale by 1 / (1 + x**2)"
    dx = dy / (1 + x * x)


@tangent(*numpy_attrs("arctan", "atan"))
def arctan_tangent(y, x):
    "arctan: dx / (1 + x**2)"
    dy = dx / (1 + x * x)


@adjoint(*numpy_attrs("arctan2", "atan2"))
def arctan2(z, x1, x2):
    "arctan2: the angle of the point (x2, x1) moves by (x2 dx1 - x1 dx2) / r**2"
    r2 = x1 * x1 + x2 * x2
    dx1 = unbroadcast(dz * x2 / r2, x1)
    dx2 = unbroadcast(-dz * x1 / r2, x2)


@tangent(*numpy_attrs("arctan2", "atan2"))
def arctan2_tangent(z, x1, x2):
    "arctan2: the angle of the point (x2, x1) moves by (x2 dx1 - x1 dx2) / r**2"
    r2 = x1 * x1 + x2 * x2
    dz = x2 / r2 * dx1 - x1 / r2 * dx2


@adjoint(np.hypot)
def hypot(z, x1, x2):
    "hypot: each input receives the gradient times x / hypot(x1, x2)"
    dx1 = unbroadcast(dz * x1 / z, x1)
    dx2 = unbroadcast(dz * x2 / z, x2)


@tangent(np.hypot)
def hypot_tangent(z, x1, x2):
    "hypot: d r = (x1 dx1 + x2 dx2) / r"
    dz = x1 / z * dx1 + x2 / z * dx2


@adjoint(np.sinh)
def sinh(y, x):
    "sinh: scale by cosh(x)"
    dx = dy * np.cosh(x)


@tangent(np.sinh)
def sinh_tangent(y, x):
    "sinh: cosh(x) dx"
    dy = dx * np.cosh(x)


@adjoint(np.cosh)
def cosh(y, x):
    "cosh: scale by sinh(x)"
    dx = dy * np.sinh(x)


@tangent(np.cosh)
def cosh_tangent(y, x):
    "cosh: sinh(x) dx"
    dy = dx * np.sinh(x)


@adjoint(np.tanh)
def tanh(y, x):
    "tanh gate: scale by 1 - y**2, reusing the saved output"
    dx = dy * (1 - y * y)


@tangent(np.tanh)
def tanh_tangent(y, x):
    "tanh: (1 - y**2) dx, reusing the output"
    dy = dx * (1 - y * y)


@adjoint(*numpy_attrs("arcsinh", "asinh"))
def arcsinh(y, x):
    "arcsinh: scale by 1 / sqrt(x**2 + 1)"
    dx = dy / np.sqrt(x * x + 1)


@tangent(*numpy_attrs("arcsinh", "asinh"))
def arcsinh_tangent(y, x):
    "arcsinh: dx / sqrt(x**2 + 1)"
    dy = dx / np.sqrt(x * x + 1)


@adjoint(*numpy_attrs("arccosh", "acosh"))
def arccosh(y, x):
    "arccosh: scale by 1 / sqrt(x**2 - 1)"
    dx = dy / np.sqrt(x * x - 1)


@tangent(*numpy_attrs("arccosh", "acosh"))
def arccosh_tangent(y, x):
    "arccosh: dx / sqrt(x**2 - 1)"
    dy = dx / np.sqrt(x * x - 1)


@adjoint(*numpy_attrs("arctanh", "atanh"))
def arctanh(y, x):
    "arctanh: scale by 1 / (1 - x**2)"
    dx = dy / (1 - x * x)


@tangent(*numpy_attrs("arctanh", "atanh"))
def arctanh_tangent(y, x):
    "arctanh: dx / (1 - x**2)"
    dy = dx / (1 - x * x)


@adjoint(np.sinc)
def sinc(y, x):
    "sinc: d sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0"
    nonzero_x = np.where(x == 0, 1.0, x)
    dx = dy * (np.cos(np.pi * x) - y) / nonzero_x


@tangent(np.sinc)
def sinc_tangent(y, x):
    "sinc: d sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x dx, and 0 at x = 0"
    nonzero_x = np.where(x == 0, 1.0, x)
    dy = dx * (np.cos(np.pi * x) - y) / nonzero_x


@adjoint(np.deg2rad, np.radians)
def deg2rad(y, x):
    "deg2rad: scale by pi / 180"
    dx = dy * (np.pi / 180)


@tangent(np.deg2rad, np.radians)
def deg2rad_tangent(y, x):
    "deg2rad: scale by pi / 180"
    dy = dx * (np.pi / 180)


@adjoint(np.rad2deg, np.degrees)
def rad2deg(y, x):
    "rad2deg: scale by 180 / pi"
    dx = dy * (180 / np.pi)


@tangent(np.rad2deg, np.degrees)
def rad2deg_tangent(y, x):
    "rad2deg: scale by 180 / pi"
    dy = dx * (180 / np.pi)


# -- piecewise functions ---------------------------------------------------------------


@adjoint(np.abs, np.absolute, np.fabs)
def absolute(y, x):
    "abs: scale by sign(x)"
    dx = dy * np.sign(x)


@tangent(np.abs, np.absolute, np.fabs)
def absolute_tangent(y, x):
    "abs: sign(x) dx"
    dy = dx * np.sign(x)


@adjoint(np.maximum)
def maximum(z, x, y):
    "max gate: the gradient is routed to the larger input (the first on ties)"
    dx = unbroadcast(dz * (x >= y), x)
    dy = unbroadcast(dz * (x < y), y)


@tangent(np.maximum)
def maximum_tangent(z, x, y):
    "max gate: the tangent of the larger input (the first on ties)"
    dz = dx * (x >= y) + dy * (x < y)


@adjoint(np.minimum)
def minimum(z, x, y):
    "min gate: the gradient is routed to the smaller input (the first on ties)"
    dx = unbroadcast(dz * (x <= y), x)
    dy = unbroadcast(dz * (x > y), y)


@tangent(np.minimum)
def minimum_tangent(z, x, y):
    "min gate: the tangent of the smaller input (the first on ties)"
    dz = dx * (x <= y) + dy * (x > y)


@adjoint(np.fmax)
def fmax(z, x, y):
    "fmax gate: the gradient is routed to the larger input, ignoring NaN (the first on ties)"
    first = (x >= y) | np.isnan(y)
    dx = unbroadcast(dz * first, x)
    dy = unbroadcast(dz * ~first, y)


@tangent(np.fmax)
def fmax_tangent(z, x, y):
    "fmax gate: the tangent of the larger input, ignoring NaN (the first on ties)"
    first = (x >= y) | np.isnan(y)
    dz = dx * first + dy * ~first


@adjoint(np.fmin)
def fmin(z, x, y):
    "fmin gate: the gradient is routed to the smaller input, ignoring NaN (the first on ties)"
    first = (x <= y) | np.isnan(y)
    dx = unbroadcast(dz * first, x)
    dy = unbroadcast(dz * ~first, y)


@tangent(np.fmin)
def fmin_tangent(z, x, y):
    "fmin gate: the tangent of the smaller input, ignoring NaN (the first on ties)"
    first = (x <= y) | np.isnan(y)
    dz = dx * first + dy * ~first


@adjoint(np.clip)
def clip(y, a, a_min=None, a_max=None):
    "clip: the gradient passes where nothing was clipped, else to the bound that won"
    if literal(a_min) and a_min is None:
        da = unbroadcast(dy * (a <= a_max), a)
        da_max = unbroadcast(dy * (a > a_max), a_max)
    elif literal(a_max) and a_max is None:
        da = unbroadcast(dy * (a >= a_min), a)
        da_min = unbroadcast(dy * (a < a_min), a_min)
    else:
        da = unbroadcast(dy * ((a_min <= a) & (a <= a_max)), a)
        da_min = unbroadcast(dy * ((a < a_min) & (a_min <= a_max)), a_min)
        da_max = unbroadcast(dy * ((a_max < a) | (a_max < a_min)), a_max)


@tangent(np.clip)
def clip_tangent(y, a, a_min=None, a_max=None):
    "clip: the tangent of a where nothing was clipped, else of the bound that won"
    if literal(a_min) and a_min is None:
        dy = da * (a <= a_max) + da_max * (a > a_max)
    elif literal(a_max) and a_max is None:
        dy = da * (a >= a_min) + da_min * (a < a_min)
    else:
        dy = (
            da * ((a_min <= a) & (a <= a_max))
            + da_min * ((a < a_min) & (a_min <= a_max))
            + da_max * ((a_max < a) | (a_max < a_min))
        )


@adjoint(np.ndarray.clip)
def clip_method(y, a, min=None, max=None):
    "clip: the gradient passes where nothing was clipped, else to the bound that won"
    if literal(min) and min is None:
        da = unbroadcast(dy * (a <= max), a)
        dmax = unbroadcast(dy * (a > max), max)
    elif literal(max) and max is None:
        da = unbroadcast(dy * (a >= min), a)
        dmin = unbroadcast(dy * (a < min), min)
    else:
        da = unbroadcast(dy * ((min <= a) & (a <= max)), a)
        dmin = unbroadcast(dy * ((a < min) & (min <= max)), min)
        dmax = unbroadcast(dy * ((max < a) | (max < min)), max)


@tangent(np.ndarray.clip)
def clip_method_tangent(y, a, min=None, max=None):
    "clip: the tangent of a where nothing was clipped, else of the bound that won"
    if literal(min) and min is None:
        dy = da * (a <= max) + dmax * (a > max)
    elif literal(max) and max is None:
        dy = da * (a >= min) + dmin * (a < min)
    else:
        dy = (
            da * ((min <= a) & (a <= max))
            + dmin * ((a < min) & (min <= max))
            + dmax * ((max < a) | (max < min))
        )


@adjoint(np.where)
def where(z, condition, x, y):
    "where: each element's gradient goes to the side it was taken from"
    dx = unbroadcast(np.where(condition, dz, 0.0), x)
    dy = unbroadcast(np.where(condition, 0.0, dz), y)


@tangent(np.where)
def where_tangent(z, condition, x, y):
    "where: each element's tangent comes from the side its value came from"
    dz = np.where(condition, dx, dy)


# -- array construction from a differentiable fill value ----------------------------------


@adjoint(np.full)
def full(y, shape, fill_value):
    "full: the fill value is copied everywhere, so it receives the sum of the gradients"
    dfill_value = unbroadcast(dy, fill_value)


@tangent(np.full)
def full_tangent(y, shape, fill_value):
    "full: the fill value's tangent, copied everywhere"
    dy = np.full(shape, dfill_value)


@adjoint(np.full_like)
def full_like(y, a, fill_value):
    "full_like: the fill value is copied everywhere, so it receives the sum of the gradients"
    dfill_value = unbroadcast(dy, fill_value)


@tangent(np.full_like)
def full_like_tangent(y, a, fill_value):
    "full_like: the fill value's tangent, copied everywhere"
    dy = np.full(np.shape(y), dfill_value)


@adjoint(np.linspace)
def linspace(y, start, stop, num=50, endpoint=True):
    "linspace: y = start + t (stop - start), with t running from 0 to 1"
    t = np.linspace(np.zeros(np.shape(dy)[1:]), 1.0, num, endpoint)  # t[i] broadcasts like y[i]
    dstart = unbroadcast(np.sum(dy * (1 - t), axis=0), start)
    dstop = unbroadcast(np.sum(dy * t, axis=0), stop)


@tangent(np.linspace)
def linspace_tangent(y, start, stop, num=50, endpoint=True):
    "linspace: y = start + t (stop - start), with t running from 0 to 1"
    t = np.linspace(np.zeros(np.shape(y)[1:]), 1.0, num, endpoint)  # t[i] broadcasts like y[i]
    dy = (1 - t) * dstart + t * dstop


# -- functions whose derivative is zero wherever it exists --------------------------------

# fmt: off
nondifferentiable(
    operator.floordiv, np.floor_divide, np.sign, np.floor, np.ceil, np.rint, np.trunc,
    np.fix, np.round, np.around, np.ndarray.round, np.heaviside, np.signbit, *numpy_attrs("round_"),
    why="piecewise constant",
)
nondifferentiable(
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.and_, operator.or_, operator.xor, operator.invert,
    np.greater, np.less, np.equal, np.not_equal, np.greater_equal, np.less_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor, np.isnan, np.isfinite,
    np.isinf, np.isneginf, np.isposinf, np.isclose, np.allclose, np.array_equal,
    why="the result is a truth value",
)
nondifferentiable(
    np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like, np.arange,
    np.eye, np.identity, np.shape, np.ndim, np.size, np.ndarray.shape, np.ndarray.ndim,
    np.ndarray.size, np.ndarray.dtype,
    why="the result does not depend on the values of its arguments",
)
# fmt: on
