"""Rules for Python's arithmetic operators and NumPy's elementwise functions.

Binary operators broadcast, so every gradient of a binary rule is summed back
to its input's shape with `unbroadcast` (a no-op when the shapes agree).
Where the textbook derivative is written with the function's own value
(exp, tanh, sqrt, ...) the rule reads the saved output instead of computing
it again.
"""

import operator

import numpy as np

from ..runtime import matmul_grad_left, matmul_grad_right, unbroadcast
from . import adjoint, literal, nondifferentiable

IDENTITY = object()  # the "primitive" of a plain copy `y = x`


def numpy_attrs(*names: str) -> list:
    """The NumPy objects with these names that this NumPy version has (asin: 2.0+)."""
    return [getattr(np, n) for n in names if hasattr(np, n)]


@adjoint(IDENTITY, check_signature=False)
def copy(y, x):
    "copy: the gradient passes through unchanged"
    dx = dy


# -- arithmetic operators ---------------------------------------------------------


@adjoint(operator.add, np.add)
def add(z, x, y):
    "add gate: both inputs receive the output's gradient unchanged"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(dz, y)


@adjoint(operator.sub, np.subtract)
def subtract(z, x, y):
    "sub gate: the first input receives the gradient, the second its negation"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz, y)


@adjoint(operator.mul, np.multiply)
def multiply(z, x, y):
    "mul gate: each input receives the gradient times the other input"
    dx = unbroadcast(dz * y, x)
    dy = unbroadcast(dz * x, y)


@adjoint(operator.truediv, np.divide, np.true_divide)
def divide(z, x, y):
    "div gate: d(x/y) = dx/y - x dy/y**2"
    dx = unbroadcast(dz / y, x)
    dy = unbroadcast(-dz * z / y, y)


@adjoint(operator.neg, np.negative)
def negative(y, x):
    "negation: the gradient flips sign"
    dx = -dy


@adjoint(operator.pos, np.positive)
def positive(y, x):
    "unary plus: the gradient passes through"
    dx = dy


@adjoint(operator.pow, *numpy_attrs("power", "pow"))
def power(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if literal(y) and y == 2:
        dx = unbroadcast(dz * 2 * x, x)
    else:
        dx = unbroadcast(dz * y * x ** (y - 1), x)
    if literal(x) and x > 0:
        dy = unbroadcast(dz * z * np.log(x), y)
    else:  # log(x) for x > 0; x**y is not differentiable in y for x < 0, and 0 at x = 0
        dy = unbroadcast(dz * z * np.log(np.where(x > 0, x, 1)), y)


@adjoint(np.float_power)
def float_power(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    dx = unbroadcast(dz * y * np.float_power(x, y - 1), x)
    if literal(x) and x > 0:
        dy = unbroadcast(dz * z * np.log(x), y)
    else:
        dy = unbroadcast(dz * z * np.log(np.where(x > 0, x, 1)), y)


@adjoint(operator.mod, np.mod, np.remainder)
def mod(z, x, y):
    "mod: x % y = x - y * floor(x / y), and floor is flat"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz * (x // y), y)


@adjoint(np.fmod)
def fmod(z, x, y):
    "fmod: fmod(x, y) = x - y * trunc(x / y), and trunc is flat"
    dx = unbroadcast(dz, x)
    dy = unbroadcast(-dz * np.trunc(x / y), y)


@adjoint(operator.matmul, np.matmul)
def matmul(z, x, y):
    "matmul: a vector-Jacobian product, dx = dz @ y.T and dy = x.T @ dz"
    dx = matmul_grad_left(dz, x, y)
    dy = matmul_grad_right(dz, x, y)


# -- exponentials and logarithms ------------------------------------------------------


@adjoint(np.exp)
def exp(y, x):
    "exp: the derivative is the output itself"
    dx = dy * y


@adjoint(np.exp2)
def exp2(y, x):
    "exp2: d 2**x = 2**x log(2)"
    dx = dy * y * np.log(2)


@adjoint(np.expm1)
def expm1(y, x):
    "expm1: d (exp(x) - 1) = exp(x) = y + 1"
    dx = dy * (y + 1)


@adjoint(np.log)
def log(y, x):
    "log: scale by 1/x"
    dx = dy / x


@adjoint(np.log2)
def log2(y, x):
    "log2: scale by 1 / (x log 2)"
    dx = dy / (x * np.log(2))


@adjoint(np.log10)
def log10(y, x):
    "log10: scale by 1 / (x log 10)"
    dx = dy / (x * np.log(10))


@adjoint(np.log1p)
def log1p(y, x):
    "log1p: scale by 1 / (1 + x)"
    dx = dy / (1 + x)


@adjoint(np.logaddexp)
def logaddexp(z, x1, x2):
    "logaddexp: each input receives the gradient times its softmax weight"
    dx1 = unbroadcast(dz / (1 + np.exp(x2 - x1)), x1)
    dx2 = unbroadcast(dz / (1 + np.exp(x1 - x2)), x2)


@adjoint(np.logaddexp2)
def logaddexp2(z, x1, x2):
    "logaddexp2: each input receives the gradient times its weight 1 / (1 + 2**(other - x))"
    dx1 = unbroadcast(dz / (1 + np.exp2(x2 - x1)), x1)
    dx2 = unbroadcast(dz / (1 + np.exp2(x1 - x2)), x2)


# -- powers and roots -----------------------------------------------------------------


@adjoint(np.sqrt)
def sqrt(y, x):
    "sqrt: scale by 1 / (2 sqrt(x)), reusing the saved output"
    dx = dy / (2 * y)


@adjoint(np.cbrt)
def cbrt(y, x):
    "cbrt: scale by 1 / (3 cbrt(x)**2), reusing the saved output"
    dx = dy / (3 * y * y)


@adjoint(np.square)
def square(y, x):
    "square: scale by 2x"
    dx = dy * 2 * x


@adjoint(np.reciprocal)
def reciprocal(y, x):
    "reciprocal: d(1/x) = -1/x**2 = -y**2"
    dx = -dy * y * y


# -- trigonometric and hyperbolic functions ---------------------------------------------


@adjoint(np.sin)
def sin(y, x):
    "sin: scale by cos(x)"
    dx = dy * np.cos(x)


@adjoint(np.cos)
def cos(y, x):
    "cos: scale by -sin(x)"
    dx = -dy * np.sin(x)


@adjoint(np.tan)
def tan(y, x):
    "tan: scale by 1 + tan(x)**2, reusing the saved output"
    dx = dy * (1 + y * y)


@adjoint(*numpy_attrs("arcsin", "asin"))
def arcsin(y, x):
    "arcsin: scale by 1 / sqrt(1 - x**2)"
    dx = dy / np.sqrt(1 - x * x)


@adjoint(*numpy_attrs("arccos", "acos"))
def arccos(y, x):
    "arccos: scale by -1 / sqrt(1 - x**2)"
    dx = -dy / np.sqrt(1 - x * x)


@adjoint(*numpy_attrs("arctan", "atan"))
def arctan(y, x):
    "arctan: scale by 1 / (1 + x**2)"
    dx = dy / (1 + x * x)


@adjoint(*numpy_attrs("arctan2", "atan2"))
def arctan2(z, x1, x2):
    "arctan2: the angle of the point (x2, x1) moves by (x2 dx1 - x1 dx2) / r**2"
    r2 = x1 * x1 + x2 * x2
    dx1 = unbroadcast(dz * x2 / r2, x1)
    dx2 = unbroadcast(-dz * x1 / r2, x2)


@adjoint(np.hypot)
def hypot(z, x1, x2):
    "hypot: each input receives the gradient times x / hypot(x1, x2)"
    dx1 = unbroadcast(dz * x1 / z, x1)
    dx2 = unbroadcast(dz * x2 / z, x2)


@adjoint(np.sinh)
def sinh(y, x):
    "sinh: scale by cosh(x)"
    dx = dy * np.cosh(x)


@adjoint(np.cosh)
def cosh(y, x):
    "cosh: scale by sinh(x)"
    dx = dy * np.sinh(x)


@adjoint(np.tanh)
def tanh(y, x):
    "tanh gate: scale by 1 - y**2, reusing the saved output"
    dx = dy * (1 - y * y)


@adjoint(*numpy_attrs("arcsinh", "asinh"))
def arcsinh(y, x):
    "arcsinh: scale by 1 / sqrt(x**2 + 1)"
    dx = dy / np.sqrt(x * x + 1)


@adjoint(*numpy_attrs("arccosh", "acosh"))
def arccosh(y, x):
    "arccosh: scale by 1 / sqrt(x**2 - 1)"
    dx = dy / np.sqrt(x * x - 1)


@adjoint(*numpy_attrs("arctanh", "atanh"))
def arctanh(y, x):
    "arctanh: scale by 1 / (1 - x**2)"
    dx = dy / (1 - x * x)


@adjoint(np.sinc)
def sinc(y, x):
    "sinc: d sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0"
    nonzero_x = np.where(x == 0, 1.0, x)
    dx = dy * (np.cos(np.pi * x) - y) / nonzero_x


@adjoint(np.deg2rad, np.radians)
def deg2rad(y, x):
    "deg2rad: scale by pi / 180"
    dx = dy * (np.pi / 180)


@adjoint(np.rad2deg, np.degrees)
def rad2deg(y, x):
    "rad2deg: scale by 180 / pi"
    dx = dy * (180 / np.pi)


# -- piecewise functions ---------------------------------------------------------------


@adjoint(np.abs, np.absolute, np.fabs)
def absolute(y, x):
    "abs: scale by sign(x)"
    dx = dy * np.sign(x)


@adjoint(np.maximum)
def maximum(z, x, y):
    "max gate: the gradient is routed to the larger input (the first on ties)"
    dx = unbroadcast(dz * (x >= y), x)
    dy = unbroadcast(dz * (x < y), y)


@adjoint(np.minimum)
def minimum(z, x, y):
    "min gate: the gradient is routed to the smaller input (the first on ties)"
    dx = unbroadcast(dz * (x <= y), x)
    dy = unbroadcast(dz * (x > y), y)


@adjoint(np.fmax)
def fmax(z, x, y):
    "fmax gate: the gradient is routed to the larger input, ignoring NaN (the first on ties)"
    first = (x >= y) | np.isnan(y)
    dx = unbroadcast(dz * first, x)
    dy = unbroadcast(dz * ~first, y)


@adjoint(np.fmin)
def fmin(z, x, y):
    "fmin gate: the gradient is routed to the smaller input, ignoring NaN (the first on ties)"
    first = (x <= y) | np.isnan(y)
    dx = unbroadcast(dz * first, x)
    dy = unbroadcast(dz * ~first, y)


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


@adjoint(np.where)
def where(z, condition, x, y):
    "where: each element's gradient goes to the side it was taken from"
    dx = unbroadcast(np.where(condition, dz, 0.0), x)
    dy = unbroadcast(np.where(condition, 0.0, dz), y)


# -- array construction from a differentiable fill value ----------------------------------


@adjoint(np.full)
def full(y, shape, fill_value):
    "full: the fill value is copied everywhere, so it receives the sum of the gradients"
    dfill_value = unbroadcast(dy, fill_value)


@adjoint(np.full_like)
def full_like(y, a, fill_value):
    "full_like: the fill value is copied everywhere, so it receives the sum of the gradients"
    dfill_value = unbroadcast(dy, fill_value)


@adjoint(np.linspace)
def linspace(y, start, stop, num=50, endpoint=True):
    "linspace: y = start + t (stop - start), with t running from 0 to 1"
    t = np.linspace(np.zeros(np.shape(dy)[1:]), 1.0, num, endpoint)  # t[i] broadcasts like y[i]
    dstart = unbroadcast(np.sum(dy * (1 - t), axis=0), start)
    dstop = unbroadcast(np.sum(dy * t, axis=0), stop)


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
