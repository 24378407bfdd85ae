"""Rules for functions that move elements around without changing their values:
reshaping, transposing, joining, tiling, flipping, building arrays.

Each output element is a copy of one input element, so the gradient is dy
moved back by the inverse rearrangement; where one input element was copied
several times (tile, repeat, broadcast_to), the copies' gradients are summed.
"""

import numpy as np

from ..runtime import (
    cast_grad,
    diag_grad,
    split_like,
    unbroadcast,
    unrepeat,
    untile,
    untranspose,
)
from . import adjoint, literal


def _register_if_present(template, owner, name):
    """Register `template` for owner.name too, if this NumPy version has it."""
    if hasattr(owner, name):
        adjoint(getattr(owner, name))(template)


# -- same elements, new shape: the gradient is reshaped back ----------------------


@adjoint(np.reshape)
def reshape(y, a, shape=None, order="C"):
    "reshape: the gradient is reshaped back to the input's shape"
    if literal(order) and order == "C":
        da = np.reshape(dy, np.shape(a))
    else:
        da = np.reshape(dy, np.shape(a), order=order)


@adjoint(np.ndarray.reshape)
def ndarray_reshape(y, a, *shape, order="C"):
    "reshape: the gradient is reshaped back to the input's shape"
    if literal(order) and order == "C":
        da = np.reshape(dy, np.shape(a))
    else:
        da = np.reshape(dy, np.shape(a), order=order)


@adjoint(np.ravel, np.ndarray.ravel, np.ndarray.flatten)
def ravel(y, a, order="C"):
    "flatten: the gradient is reshaped back to the input's shape"
    if literal(order) and order == "C":
        da = np.reshape(dy, np.shape(a))
    else:
        da = np.reshape(dy, np.shape(a), order=order)


@adjoint(np.squeeze, np.ndarray.squeeze)
def squeeze(y, a, axis=None):
    "squeeze: the gradient gets the removed length-1 axes back"
    da = np.reshape(dy, np.shape(a))


@adjoint(np.expand_dims)
def expand_dims(y, a, axis):
    "expand_dims: the gradient drops the added axes again"
    da = np.reshape(dy, np.shape(a))


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(y, a):
    "atleast_nd: the gradient drops the added axes again"
    da = np.reshape(dy, np.shape(a))


# -- permuted axes: the gradient is permuted back ----------------------------------


@adjoint(np.transpose)
def transpose(y, a, axes=None):
    "transpose: the gradient is transposed back (by the inverse permutation)"
    if literal(axes) and axes is None:
        da = np.transpose(dy)
    else:
        da = untranspose(dy, axes)


_register_if_present(transpose, np, "permute_dims")  # NumPy 2.0+


@adjoint(np.ndarray.transpose)
def ndarray_transpose(y, a, *axes):
    "transpose: the gradient is transposed back (by the inverse permutation)"
    if literal(axes) and axes == ():
        da = np.transpose(dy)
    else:
        da = untranspose(dy, axes)


@adjoint(np.ndarray.T)
def T(y, a):
    "transpose: the gradient is transposed back"
    da = np.transpose(dy)


def matrix_transpose(y, x):
    "matrix transpose: the gradient swaps its last two axes back"
    dx = np.swapaxes(dy, -1, -2)


_register_if_present(matrix_transpose, np, "matrix_transpose")  # NumPy 2.0+
_register_if_present(matrix_transpose, np.ndarray, "mT")


@adjoint(np.swapaxes, np.ndarray.swapaxes)
def swapaxes(y, a, axis1, axis2):
    "swapaxes: the gradient swaps the same two axes back"
    da = np.swapaxes(dy, axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(y, a, source, destination):
    "moveaxis: the gradient moves the axes back"
    da = np.moveaxis(dy, destination, source)


# -- reordered elements: the gradient is reordered back ----------------------------


@adjoint(np.flip)
def flip(y, m, axis=None):
    "flip: the gradient is flipped back"
    dm = np.flip(dy, axis)


@adjoint(np.fliplr)
def fliplr(y, m):
    "fliplr: the gradient is flipped back"
    dm = np.fliplr(dy)


@adjoint(np.flipud)
def flipud(y, m):
    "flipud: the gradient is flipped back"
    dm = np.flipud(dy)


@adjoint(np.roll)
def roll(y, a, shift, axis=None):
    "roll: the gradient is rolled back by -shift"
    da = np.roll(dy, np.negative(shift), axis)


# -- joining and splitting: each input gets its own part of the gradient -----------


@adjoint(np.concatenate)
def concatenate(y, arrays, axis=0):
    "concatenate: each input gets back its own slice of dy"
    darrays = split_like(dy, arrays, axis)


_register_if_present(concatenate, np, "concat")  # NumPy 2.0+


@adjoint(np.stack)
def stack(y, arrays, axis=0):
    "stack: each input gets back its own slice of dy along the new axis"
    darrays = np.moveaxis(dy, axis, 0)


@adjoint(np.vstack)
def vstack(y, tup):
    "vstack: each input gets back its own rows of dy"
    dtup = split_like(dy, tup, 0, np.atleast_2d)


@adjoint(np.hstack)
def hstack(y, tup):
    "hstack: each input gets back its own columns of dy (elements, for 1-D inputs)"
    dtup = split_like(dy, tup, 0 if np.ndim(y) == 1 else 1, np.atleast_1d)


@adjoint(np.dstack)
def dstack(y, tup):
    "dstack: each input gets back its own slice of dy along the third axis"
    dtup = split_like(dy, tup, 2, np.atleast_3d)


@adjoint(np.split, np.array_split)
def split(y, ary, indices_or_sections, axis=0):
    "split: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, axis)


@adjoint(np.hsplit)
def hsplit(y, ary, indices_or_sections):
    "hsplit: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, 1 if np.ndim(ary) > 1 else 0)


@adjoint(np.vsplit)
def vsplit(y, ary, indices_or_sections):
    "vsplit: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, 0)


# -- copied elements: the copies' gradients add up ---------------------------------


@adjoint(np.broadcast_to)
def broadcast_to(y, array, shape, subok=False):
    "broadcast_to: the copies' gradients are summed back to the input's shape"
    darray = unbroadcast(dy, array)


@adjoint(np.tile)
def tile(y, A, reps):
    "tile: each element's gradient is the sum over its copies"
    dA = untile(dy, A, reps)


@adjoint(np.repeat, np.ndarray.repeat)
def repeat(y, a, repeats, axis=None):
    "repeat: each element's gradient is the sum over its repeats"
    da = unrepeat(dy, a, repeats, axis)


# -- diagonals and triangles -------------------------------------------------------


@adjoint(np.diag)
def diag(y, v, k=0):
    "diag: the gradient moves between the diagonal and the vector as the values did"
    dv = diag_grad(dy, v, k)


@adjoint(np.triu)
def triu(y, m, k=0):
    "triu: the gradient keeps the same upper triangle (the rest was replaced by 0)"
    dm = np.triu(dy, k)


@adjoint(np.tril)
def tril(y, m, k=0):
    "tril: the gradient keeps the same lower triangle (the rest was replaced by 0)"
    dm = np.tril(dy, k)


# -- building and copying arrays ----------------------------------------------------


@adjoint(np.array)
def array(y, object, dtype=None, *, copy=True):
    "array: each element or row of the input gets the matching part of dy"
    if literal(dtype) and dtype is None:
        dobject = dy
    else:
        dobject = cast_grad(dy, dtype)


@adjoint(np.asarray, np.asanyarray, np.ascontiguousarray)
def asarray(y, a, dtype=None):
    "asarray: each element or row of the input gets the matching part of dy"
    if literal(dtype) and dtype is None:
        da = dy
    else:
        da = cast_grad(dy, dtype)


@adjoint(np.copy, np.ndarray.copy)
def copy(y, a, order="K"):
    "copy: the gradient passes through unchanged"
    da = dy


@adjoint(np.ndarray.astype)
def astype(y, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    "astype: the gradient passes through a float cast; an integer cast has none"
    da = cast_grad(dy, dtype)
