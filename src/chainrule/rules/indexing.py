"""Rules for reading parts of arrays: subscripts x[...] and np.take.

An indexing result is a copy of some of x's elements, so the gradient is dy
written back to the positions it was read from, zero elsewhere.  Integer-array
indices may read one position several times; its gradients then add up
(np.add.at, never a plain assignment, which would keep only the last one).
Indices themselves carry no gradient: the compiler refuses an index computed
from a differentiated value.
"""

import operator

import numpy as np

from ..runtime import index_grad, take_grad
from .registry import adjoint, tangent


@adjoint(operator.getitem)
def getitem(y, x, index):
    "indexing: dy goes back to the positions it was read from, zeros elsewhere"
    dx = index_grad(dy, x, np.s_[index])


@tangent(operator.getitem)
def getitem_tangent(y, x, index):
    "indexing: the tangent is read at the same positions"
    dy = dx[index]


@adjoint(np.take, np.ndarray.take)
def take(y, a, indices, axis=None, out=None, mode="raise"):
    "take: dy goes back to the positions it was taken from (repeats add up)"
    da = take_grad(dy, a, indices, axis, mode)


@tangent(np.take, np.ndarray.take)
def take_tangent(y, a, indices, axis=None, out=None, mode="raise"):
    "take: the tangent is taken at the same positions"
    dy = np.take(da, indices, axis, mode=mode)
