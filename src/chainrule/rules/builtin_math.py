"""Rules for the `math` module and Python's builtins (abs, max, min, sum, float).

`math` functions work on Python floats, so their derivatives are written with
`math` functions too: the gradient of a float stays a float.
"""

import builtins
import math

import numpy as np

from ..runtime import stop_gradient, unbroadcast
from . import adjoint, literal, nondifferentiable

# -- exponentials, logarithms, powers --------------------------------------------------


@adjoint(math.exp)
def exp(y, x):
    "exp: the derivative is the output itself"
    dx = dy * y


@adjoint(math.expm1)
def expm1(y, x):
    "expm1: d (exp(x) - 1) = exp(x) = y + 1"
    dx = dy * (y + 1)


@adjoint(math.log)
def log(y, x, base=None):
    "log: scale by 1 / x (by 1 / (x log b) for a base b, which receives -y / (b log b))"
    if literal(base) and base is None:
        dx = dy / x
    else:
        dx = dy / (x * math.log(base))
        dbase = -dy * y / (base * math.log(base))


@adjoint(math.log2)
def log2(y, x):
    "log2: scale by 1 / (x log 2)"
    dx = dy / (x * math.log(2))


@adjoint(math.log10)
def log10(y, x):
    "log10: scale by 1 / (x log 10)"
    dx = dy / (x * math.log(10))


@adjoint(math.log1p)
def log1p(y, x):
    "log1p: scale by 1 / (1 + x)"
    dx = dy / (1 + x)


@adjoint(math.sqrt)
def sqrt(y, x):
    "sqrt: scale by 1 / (2 sqrt(x)), reusing the saved output"
    dx = dy / (2 * y)


@adjoint(math.pow)
def pow_(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    dx = dz * y * math.pow(x, y - 1)
    if literal(x) and x > 0:
        dy = dz * z * math.log(x)
    else:  # log(x) for x > 0; x**y is not differentiable in y for x < 0, and 0 at x = 0
        dy = dz * z * (math.log(x) if x > 0 else 0.0)


# -- trigonometric and hyperbolic functions ---------------------------------------------


@adjoint(math.sin)
def sin(y, x):
    "sin: scale by cos(x)"
    dx = dy * math.cos(x)


@adjoint(math.cos)
def cos(y, x):
    "cos: scale by -sin(x)"
    dx = -dy * math.sin(x)


@adjoint(math.tan)
def tan(y, x):
    "tan: scale by 1 + tan(x)**2, reusing the saved output"
    dx = dy * (1 + y * y)


@adjoint(math.asin)
def asin(y, x):
    "asin: scale by 1 / sqrt(1 - x**2)"
    dx = dy / math.sqrt(1 - x * x)


@adjoint(math.acos)
def acos(y, x):
    "acos: scale by -1 / sqrt(1 - x**2)"
    dx = -dy / math.sqrt(1 - x * x)


@adjoint(math.atan)
def atan(y, x):
    "atan: scale by 1 / (1 + x**2)"
    dx = dy / (1 + x * x)


@adjoint(math.atan2)
def atan2(z, y, x):
    "atan2: the angle of the point (x, y) moves by (x dy - y dx) / r**2"
    r2 = x * x + y * y
    dy = dz * x / r2
    dx = -dz * y / r2


@adjoint(math.hypot)
def hypot(z, x, y):
    "hypot: each input receives the gradient times x / hypot(x, y)"
    dx = dz * x / z
    dy = dz * y / z


@adjoint(math.sinh)
def sinh(y, x):
    "sinh: scale by cosh(x)"
    dx = dy * math.cosh(x)


@adjoint(math.cosh)
def cosh(y, x):
    "cosh: scale by sinh(x)"
    dx = dy * math.sinh(x)


@adjoint(math.tanh)
def tanh(y, x):
    "tanh gate: scale by 1 - y**2, reusing the saved output"
    dx = dy * (1 - y * y)


@adjoint(math.asinh)
def asinh(y, x):
    "asinh: scale by 1 / sqrt(x**2 + 1)"
    dx = dy / math.sqrt(x * x + 1)


@adjoint(math.acosh)
def acosh(y, x):
    "acosh: scale by 1 / sqrt(x**2 - 1)"
    dx = dy / math.sqrt(x * x - 1)


@adjoint(math.atanh)
def atanh(y, x):
    "atanh: scale by 1 / (1 - x**2)"
    dx = dy / (1 - x * x)


@adjoint(math.degrees)
def degrees(y, x):
    "degrees: scale by 180 / pi"
    dx = dy * (180 / math.pi)


@adjoint(math.radians)
def radians(y, x):
    "radians: scale by pi / 180"
    dx = dy * (math.pi / 180)


# -- error function and absolute value ---------------------------------------------------


@adjoint(math.erf)
def erf(y, x):
    "erf: scale by 2 exp(-x**2) / sqrt(pi)"
    dx = dy * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.erfc)
def erfc(y, x):
    "erfc: scale by -2 exp(-x**2) / sqrt(pi)"
    dx = -dy * 2 * math.exp(-x * x) / math.sqrt(math.pi)


@adjoint(math.fabs)
def fabs(y, x):
    "fabs: scale by the sign of x (0 at 0)"
    dx = dy * ((x > 0) - (x < 0))


# -- builtins ------------------------------------------------------------------------------


@adjoint(builtins.abs)
def abs_(y, x):
    "abs: scale by sign(x)"
    dx = dy * np.sign(x)


@adjoint(builtins.max, check_signature=False)
def max_(y, a, b):
    "max gate: the gradient goes to the winner (the first argument on ties, like max)"
    da = dy if a >= b else 0.0
    db = 0.0 if a >= b else dy


@adjoint(builtins.min, check_signature=False)
def min_(y, a, b):
    "min gate: the gradient goes to the winner (the first argument on ties, like min)"
    da = dy if a <= b else 0.0
    db = 0.0 if a <= b else dy


@adjoint(builtins.sum)
def sum_(y, iterable, start=0):
    "sum: every summed item (rows of an array) receives the output's gradient"
    diterable = np.broadcast_to(dy, np.shape(iterable))
    dstart = unbroadcast(dy, start)


@adjoint(builtins.float)
def float_(y, x):
    "float: the gradient passes through"
    dx = dy


# fmt: off
nondifferentiable(
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    builtins.round, builtins.int, builtins.bool, builtins.len, builtins.range,
    builtins.isinstance, builtins.print,
    why="the result does not carry a derivative",
)
nondifferentiable(stop_gradient, why="stop_gradient: its argument is treated as a constant")
# fmt: on
