"""Rules for NumPy's elementary functions: exponentials, logarithms, powers and roots,
trigonometric and hyperbolic functions.

Where the textbook derivative is written with the function's own value
(exp, tanh, sqrt, ...) the rule reads the saved output instead of computing
it again.
"""

import numpy as np

from ..runtime import unbroadcast
from .registry import adjoint, numpy_attrs, tangent

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
