"""Rules for Python's arithmetic operators and NumPy's elementwise functions.

Binary operators broadcast, so every gradient of a binary rule is summed back
to its input's shape with `unbroadcast` (a no-op when the shapes agree).
"""

import operator

import numpy as np

from ..runtime import matmul_grad_left, matmul_grad_right, unbroadcast
from . import adjoint, nondifferentiable

IDENTITY = object()  # the "primitive" of a plain copy `y = x`


@adjoint(IDENTITY, check_signature=False)
def copy(y, x):
    "copy: the gradient passes through unchanged"
    dx = dy


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


@adjoint(operator.pow, np.power)
def power(z, x, y):
    "power rule: d(x**y) = y x**(y-1) dx + log(x) x**y dy"
    if y == 2:
        dx = unbroadcast(dz * 2 * x, x)
    else:
        dx = unbroadcast(dz * y * x ** (y - 1), x)
    dy = unbroadcast(dz * z * np.log(np.where(x > 0, x, 1)), y)


@adjoint(operator.matmul, np.matmul)
def matmul(z, x, y):
    "matmul: a vector-Jacobian product, dx = dz @ y.T and dy = x.T @ dz"
    dx = matmul_grad_left(dz, x, y)
    dy = matmul_grad_right(dz, x, y)


@adjoint(np.exp)
def exp(y, x):
    "exp: the derivative is the output itself"
    dx = dy * y


@adjoint(np.log)
def log(y, x):
    "log: scale by 1/x"
    dx = dy / x


@adjoint(np.sin)
def sin(y, x):
    "sin: scale by cos(x)"
    dx = dy * np.cos(x)


@adjoint(np.cos)
def cos(y, x):
    "cos: scale by -sin(x)"
    dx = -dy * np.sin(x)


@adjoint(np.tanh)
def tanh(y, x):
    "tanh gate: scale by 1 - y**2, reusing the saved output"
    dx = dy * (1 - y * y)


@adjoint(np.sqrt)
def sqrt(y, x):
    "sqrt: scale by 1 / (2 sqrt(x)), reusing the saved output"
    dx = dy / (2 * y)


@adjoint(np.maximum)
def maximum(z, x, y):
    "max gate: the gradient is routed to the larger input"
    dx = unbroadcast(dz * (x >= y), x)
    dy = unbroadcast(dz * (x < y), y)


@adjoint(np.minimum)
def minimum(z, x, y):
    "min gate: the gradient is routed to the smaller input"
    dx = unbroadcast(dz * (x <= y), x)
    dy = unbroadcast(dz * (x > y), y)


@adjoint(np.abs, np.absolute)
def absolute(y, x):
    "abs: scale by sign(x)"
    dx = dy * np.sign(x)


nondifferentiable(
    operator.floordiv, operator.mod, operator.lt, operator.le, operator.gt, operator.ge,
    operator.eq, operator.ne, operator.not_, operator.and_, operator.or_, operator.xor,
    operator.invert, np.sign, np.floor, np.ceil, np.round, np.rint, np.trunc,
    np.floor_divide, np.greater, np.less, np.equal, np.not_equal, np.greater_equal,
    np.less_equal, np.logical_and, np.logical_or, np.logical_not, np.isnan, np.isfinite,
    np.isinf,
)
