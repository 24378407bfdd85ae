"""Rules for the `math` module and Python's builtins (abs, max, min, sum, float).

`math` functions work on Python floats, so their derivatives are written with
`math` functions too: the gradient of a float stays a float.
"""

import builtins
import math

import numpy as np

from ..runtime import stop_gradient, unbroadcast, unpack_grad
from .registry import adjoint, literal, nondifferentiable, tangent

# -- exponentials, logarithms, powers --------------------------------------------------


@adjoint(math.exp)
def exp(y, x):
    "exp: the derivative is the output itself"
    dx = dy * y


@tangent(math.exp)
def exp_tangent(y, x):
    "exp: the derivative is the output itself"
    dy = dx * y


@adjoint(math.expm1)
def expm1(y, x):
    "expm1: d (exp(x) - 1) = exp(x) = y + 1"
    dx = dy * (y + 1)


@tangent(math.expm1)
def expm1_tangent(y, x):
    "expm1: d (exp(x) - 1) = (y + 1) dx"
    dy = dx * (y + 1)


@adjoint(math.log)
def log(y, x, base=None):
    "log: scale by 1 / x (by 1 / (x log b) for a base b, which receives -y / (b log b))"
    if literal(base) and base is None:
        dx = dy / x
    else:
        dx = dy / (x * math.log(base))
        dbase = -dy * y / (base * math.log(base))


@tangent(math.log)
def log_tangent(y, x, base=None):
    "log: dx / x (for a base b: dx / (x log b) - y db / (b log b))"
    if literal(base) and base is None:
        dy = dx / x
    else:
        dy = dx / (x * math.log(base)) - y / (base * math.log(base)) * dbase


@adjoint(math.log2)
def log2(y, x):
    "log2: scale by 1 / (x log 2)"
    dx = dy / (x * math.log(2))


@tangent(math.log2)
def log2_tangent(y, x):
    "log2: dx / (x log 2)"
    dy = dx / (x * math.log(2))


@adjoint(math.log10)
def log10(y, x):
    "log10: scale by 1 / (x log 10)"
    dx = dy / (x * math.log(10))


@tangent(math.log10)
def log10_tangent(y, x):
    "log10: dx / (x log 10)"
    dy = dx / (x * math.log(10))


@adjoint(math.log1p)
def log1p(y, x):
    "log1p: scale by 1 / (1 + x)"
    dx = dy / (1 + x)


@tangent(math.log1p)
def log1p_tangent(y, x):
    "log1p: dx / (1 + x)"
    dy = dx / (1 + x)


@adjoint(math.sqrt)
def sqrt(y, x):
    "sqrt: scale by 1 / (2 sqrt(x)), reusing the saved output"
    dx = dy / (2 * y)


@tangent(math.sqrt)
def sqrt_tangent(y, x):
    "sqrt: dx / (2 sqrt(x)), reusing the output"
    dy = dx / (2 * y)


@adjoint(math.pow)
def pow_(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    dx = dz * y * math.pow(x, y - 1)
    if literal(x) and x > 0:
        dy = dz * z * math.log(x)
    else:  # log(x) for x > 0; x**y is not differentiable in y for x < 0, and 0 at x = 0
        dy = dz * z * (math.log(x) if x > 0 else 0.0)


@tangent(math.pow)
def pow_tangent(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if literal(x) and x > 0:
        dz = y * math.pow(x, y - 1) * dx + z * math.log(x) * dy
    else:  # log(x) for x > 0; x**y is not differentiable in y for x < 0, and 0 at x = 0
        dz = y * math.pow(x, y - 1) * dx + z * (math.log(x) if x > 0 else 0.0) * dy


# -- trigonometric and hyperbolic functions ---------------------------------------------


@adjoint(math.sin)
def sin(y, x):
    "sin: scale by cos(x)"
    dx = dy * math.cos(x)


@tangent(math.sin)
def sin_tangent(y, x):
    "sin: cos(x) dx"
    dy = dx * math.cos(x)


@adjoint(math.cos)
def cos(y, x):
    "cos: scale by -sin(x)"
    dx = -dy * math.sin(x)


@tangent(math.cos)
def cos_tangent(y, x):
    "cos: -sin(x) dx"
    dy = -dx * math.sin(x)


@adjoint(math.tan)
def tan(y, x):
    "tan: scale by 1 + tan(x)**2, reusing the saved output"
    dx = dy * (1 + y * y)


@tangent(math.tan)
def tan_tangent(y, x):
    "tan: (1 + tan(x)**2) dx, reusing the output"
    dy = dx * (1 + y * y)


@adjoint(math.asin)
def asin(y, x):
    "asin: scale by 1 / sqrt(1 - x**2)"
    dx = dy / math.sqrt(1 - x * x)


@tangent(math.asin)
def asin_tangent(y, x):
    "asin: dx / sqrt(1 - x**2)"
    dy = dx / math.sqrt(1 - x * x)


@adjoint(math.acos)
def acos(y, x):
    "acos: scale by -1 / sqrt(1 - x**2)"
    dx = -dy / math.sqrt(1 - x * x)


@tangent(math.acos)
def acos_tangent(y, x):
    "acos: -dx / sqrt(1 - x**2)"
    dy = -dx / math.sqrt(1 - x * x)


@adjoint(math.atan)
def atan(y, x):
    "atan: scale by 1 / (1 + x**2)"
    dx = dy / (1 + x * x)


@tangent(math.atan)
def atan_tangent(y, x):
    "atan: dx / (1 + x**2)"
    dy = dx / (1 + x * x)


@adjoint(math.atan2)
def atan2(z, y, x):
    "atan2: the angle of the point (x, y) moves by (x dy - y dx) / r**2"
    r2 = x * x + y * y
    dy = dz * x / r2
    dx = -dz * y / r2


@tangent(math.atan2)
def atan2_tangent(z, y, x):
    "atan2: the angle of the point (x, y) moves by (x dy - y dx) / r**2"
    r2 = x * x + y * y
    dz = x / r2 * dy - y / r2 * dx


@adjoint(math.hypot)
def hypot(z, x, y):
    "hypot: each input receives the gradient times x / hypot(x, y)"
    dx = dz * x / z
    dy = dz * y / z


@tangent(math.hypot)
def hypot_tangent(z, x, y):
    "hypot: d r = (x dx + y dy) / r"
    dz = x / z * dx + y / z * dy


@adjoint(math.sinh)
def sinh(y, x):
    "sinh: scale by cosh(x)"
    dx = dy * math.cosh(x)


@tangent(math.sinh)
def sinh_tangent(y, x):
    "sinh: cosh(x) dx"
    dy = dx * math.cosh(x)


@adjoint(math.cosh)
def cosh(y, x):
    "cosh: scale by sinh(x)"
    dx = dy * math.sinh(x)


@tangent(math.cosh)
def cosh_tangent(y, x):
    "cosh: sinh(x) dx"
    dy = dx * math.sinh(x)


@adjoint(math.tanh)
def tanh(y, x):
    "tanh gate: scale by 1 - y**2, reusing the saved output"
    dx = dy * (1 - y * y)


@tangent(math.tanh)
def tanh_tangent(y, x):
    "tanh: (1 - y**2) dx, reusing the output"
    dy = dx * (1 - y * y)


@adjoint(math.asinh)
def asinh(y, x):
    "asinh: scale by 1 / sqrt(x**2 + 1)"
    dx = dy / math.sqrt(x * x + 1)


@tangent(math.asinh)
def asinh_tangent(y, x):
    "asinh: dx / sqrt(x**2 + 1)"
    dy = dx / math.sqrt(x * x + 1)


@adjoint(math.acosh)
def acosh(y, x):
    "acosh: scale by 1 / sqrt(x**2 - 1)"
    dx = dy / math.sqrt(x * x - 1)


@tangent(math.acosh)
def acosh_tangent(y, x):
    "acosh: dx / sqrt(x**2 - 1)"
    dy = dx / math.sqrt(x * x - 1)


@adjoint(math.atanh)
def atanh(y, x):
    "atanh: scale by 1 / (1 - x**2)"
    dx = dy / (1 - x * x)


@tangent(math.atanh)
def atanh_tangent(y, x):
    "atanh: dx / (1 - x**2)"
    dy = dx / (1 - x * x)


@adjoint(math.degrees)
def degrees(y, x):
    "degrees: scale by 180 / pi"
    dx = dy * (180 / math.pi)


@tangent(math.degrees)
def degrees_tangent(y, x):
    "degrees: scale by 180 / pi"
    dy = dx * (180 / math.pi)


@adjoint(math.radians)
def radians(y, x):
    "radians: scale by pi / 180"
    dx = dy * (math.pi / 180)


@tangent(math.radians)
def radians_tangent(y, x):
    "radians: scale by pi / 180"
    dy = dx * (math.pi / 180)


# -- error function and absolute value ---------------------------------------------------


@adjoint(math.erf)
def erf(y, x):
    "erf: scale by 2 exp(-x**2) / sqrt(pi)"
    dx = dy * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@tangent(math.erf)
def erf_tangent(y, x):
    "erf: 2 exp(-x**2) / sqrt(pi) dx"
    dy = dx * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.erfc)
def erfc(y, x):
    "erfc: scale by -2 exp(-x**2) / sqrt(pi)"
    dx = -dy * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@tangent(math.erfc)
def erfc_tangent(y, x):
    "erfc: -2 exp(-x**2) / sqrt(pi) dx"
    dy = -dx * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.fabs)
def fabs(y, x):
    "fabs: scale by the sign of x (0 at 0)"
    dx = dy * ((x > 0) - (x < 0))


@tangent(math.fabs)
def fabs_tangent(y, x):
    "fabs: the sign of x (0 at 0) times dx"
    dy = dx * ((x > 0) - (x < 0))


# -- builtins ------------------------------------------------------------------------------


@adjoint(builtins.abs)
def abs_(y, x):
    "abs: scale by sign(x)"
    dx = dy * np.sign(x)


@tangent(builtins.abs)
def abs__tangent(y, x):
    "abs: sign(x) dx"
    dy = dx * np.sign(x)


@adjoint(builtins.max, check_signature=False)
def max_(y, a, b):
    "max gate: the gradient goes to the winner (the first argument on ties, like max)"
    da = dy if a >= b else 0.0
    db = 0.0 if a >= b else dy


@tangent(builtins.max, check_signature=False)
def max__tangent(y, a, b):
    "max gate: the tangent of the winner (the first argument on ties, like max)"
    dy = da * (a >= b) + db * (a < b)


@adjoint(builtins.min, check_signature=False)
def min_(y, a, b):
    "min gate: the gradient goes to the winner (the first argument on ties, like min)"
    da = dy if a <= b else 0.0
    db = 0.0 if a <= b else dy


@tangent(builtins.min, check_signature=False)
def min__tangent(y, a, b):
    "min gate: the tangent of the winner (the first argument on ties, like min)"
    dy = da * (a <= b) + db * (a > b)


@adjoint(builtins.sum)
def sum_(y, iterable, start=0):
    "sum: every summed item (rows of an array) receives the output's gradient"
    diterable = np.broadcast_to(dy, np.shape(iterable))
    dstart = unbroadcast(dy, start)


@tangent(builtins.sum)
def sum__tangent(y, iterable, start=0):
    "sum: the sum of the items' tangents"
    if literal(start) and start == 0:
        dy = sum(diterable)
    else:
        dy = sum(diterable) + dstart


@adjoint(builtins.float)
def float_(y, x):
    "float: the gradient passes through"
    dx = dy


@tangent(builtins.float)
def float__tangent(y, x):
    "float: the tangent passes through"
    dy = float(dx)


@adjoint(builtins.list)
def list_(y, iterable):
    "list: each item's gradient goes back to the row (or item) it came from"
    diterable = unpack_grad(dy, iterable)


@tangent(builtins.list)
def list_tangent(y, iterable):
    "list: the tangents of the rows (or items), as a list"
    dy = list(diterable)


@adjoint(builtins.tuple)
def tuple_(y, iterable=()):
    "tuple: each item's gradient goes back to the row (or item) it came from"
    diterable = unpack_grad(dy, iterable)


@tangent(builtins.tuple)
def tuple_tangent(y, iterable=()):
    "tuple: the tangents of the rows (or items), as a tuple"
    dy = tuple(diterable)


# fmt: off
nondifferentiable(
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    builtins.round, builtins.int, builtins.bool, builtins.len, builtins.range,
    builtins.isinstance, builtins.print,
    why="the result does not carry a derivative",
)
nondifferentiable(stop_gradient, why="stop_gradient: its argument is treated as a constant")
# fmt: on
