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
from .registry import adjoint, literal, tangent


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


@tangent(np.reshape)
def reshape_tangent(y, a, shape=None, order="C"):
    "reshape: the tangent is reshaped the same way"
    if literal(order) and order == "C":
        dy = np.reshape(da, np.shape(y))
    else:
        dy = np.reshape(da, np.shape(y), order=order)


@adjoint(np.ndarray.reshape)
def ndarray_reshape(y, a, *shape, order="C"):
    "reshape: the gradient is reshaped back to the input's shape"
    if literal(order) and order == "C":
        da = np.reshape(dy, np.shape(a))
    else:
        da = np.reshape(dy, np.shape(a), order=order)


@tangent(np.ndarray.reshape)
def ndarray_reshape_tangent(y, a, *shape, order="C"):
    "reshape: the tangent is reshaped the same way"
    if literal(order) and order == "C":
        dy = np.reshape(da, np.shape(y))
    else:
        dy = np.reshape(da, np.shape(y), order=order)


@adjoint(np.ravel, np.ndarray.ravel, np.ndarray.flatten)
def ravel(y, a, order="C"):
    "flatten: the gradient is reshaped back to the input's shape"
    if literal(order) and order == "C":
        da = np.reshape(dy, np.shape(a))
    else:
        da = np.reshape(dy, np.shape(a), order=order)


@tangent(np.ravel, np.ndarray.ravel, np.ndarray.flatten)
def ravel_tangent(y, a, order="C"):
    "flatten: the tangent is flattened the same way"
    if literal(order) and order == "C":
        dy = np.ravel(da)
    else:
        dy = np.ravel(da, order=order)


@adjoint(np.squeeze, np.ndarray.squeeze)
def squeeze(y, a, axis=None):
    "squeeze: the gradient gets the removed length-1 axes back"
    da = np.reshape(dy, np.shape(a))


@tangent(np.squeeze, np.ndarray.squeeze)
def squeeze_tangent(y, a, axis=None):
    "squeeze: the tangent loses the same length-1 axes"
    dy = np.reshape(da, np.shape(y))


@adjoint(np.expand_dims)
def expand_dims(y, a, axis):
    "expand_dims: the gradient drops the added axes again"
    da = np.reshape(dy, np.shape(a))


@tangent(np.expand_dims)
def expand_dims_tangent(y, a, axis):
    "expand_dims: the tangent gets the same new axes"
    dy = np.reshape(da, np.shape(y))


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd(y, a):
    "atleast_nd: the gradient drops the added axes again"
    da = np.reshape(dy, np.shape(a))


@tangent(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_nd_tangent(y, a):
    "atleast_nd: the tangent gets the same new axes"
    dy = np.reshape(da, np.shape(y))


# -- permuted axes: the gradient is permuted back ----------------------------------


@adjoint(np.transpose)
def transpose(y, a, axes=None):
    "transpose: the gradient is transposed back (by the inverse permutation)"
    if literal(axes) and axes is None:
        da = np.transpose(dy)
    else:
        da = untranspose(dy, axes)


@tangent(np.transpose)
def transpose_tangent(y, a, axes=None):
    "transpose: the tangent is transposed the same way"
    dy = np.transpose(da, axes)


if hasattr(np, "permute_dims"):  # NumPy 2.0+
    tangent(np.permute_dims)(transpose_tangent)


_register_if_present(transpose, np, "permute_dims")  # NumPy 2.0+


@adjoint(np.ndarray.transpose)
def ndarray_transpose(y, a, *axes):
    "transpose: the gradient is transposed back (by the inverse permutation)"
    if literal(axes) and axes == ():
        da = np.transpose(dy)
    else:
        da = untranspose(dy, axes)


@tangent(np.ndarray.transpose)
def ndarray_transpose_tangent(y, a, *axes):
    "transpose: the tangent is transposed the same way"
    if literal(axes) and axes == ():
        dy = np.transpose(da)
    else:
        dy = np.asarray(da).transpose(*axes)


@adjoint(np.ndarray.T)
def T(y, a):
    "transpose: the gradient is transposed back"
    da = np.transpose(dy)


@tangent(np.ndarray.T)
def T_tangent(y, a):
    "transpose: the tangent is transposed too"
    dy = np.transpose(da)


def matrix_transpose(y, x):
    "matrix transpose: the gradient swaps its last two axes back"
    dx = np.swapaxes(dy, -1, -2)


def matrix_transpose_tangent(y, x):
    "matrix transpose: the tangent swaps its last two axes too"
    dy = np.swapaxes(dx, -1, -2)


for _name in ("matrix_transpose", "mT"):  # NumPy 2.0+
    for _owner in (np, np.ndarray):
        if hasattr(_owner, _name):
            tangent(getattr(_owner, _name))(matrix_transpose_tangent)


_register_if_present(matrix_transpose, np, "matrix_transpose")  # NumPy 2.0+
_register_if_present(matrix_transpose, np.ndarray, "mT")


@adjoint(np.swapaxes, np.ndarray.swapaxes)
def swapaxes(y, a, axis1, axis2):
    "swapaxes: the gradient swaps the same two axes back"
    da = np.swapaxes(dy, axis1, axis2)


@tangent(np.swapaxes, np.ndarray.swapaxes)
def swapaxes_tangent(y, a, axis1, axis2):
    "swapaxes: the tangent swaps the same two axes"
    dy = np.swapaxes(da, axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(y, a, source, destination):
    "moveaxis: the gradient moves the axes back"
    da = np.moveaxis(dy, destination, source)


@tangent(np.moveaxis)
def moveaxis_tangent(y, a, source, destination):
    "moveaxis: the tangent moves the same axes"
    dy = np.moveaxis(da, source, destination)


# -- reordered elements: the gradient is reordered back ----------------------------


@adjoint(np.flip)
def flip(y, m, axis=None):
    "flip: the gradient is flipped back"
    dm = np.flip(dy, axis)


@tangent(np.flip)
def flip_tangent(y, m, axis=None):
    "flip: the tangent is flipped the same way"
    dy = np.flip(dm, axis)


@adjoint(np.fliplr)
def fliplr(y, m):
    "fliplr: the gradient is flipped back"
    dm = np.fliplr(dy)


@tangent(np.fliplr)
def fliplr_tangent(y, m):
    "fliplr: the tangent is flipped the same way"
    dy = np.fliplr(dm)


@adjoint(np.flipud)
def flipud(y, m):
    "flipud: the gradient is flipped back"
    dm = np.flipud(dy)


@tangent(np.flipud)
def flipud_tangent(y, m):
    "flipud: the tangent is flipped the same way"
    dy = np.flipud(dm)


@adjoint(np.roll)
def roll(y, a, shift, axis=None):
    "roll: the gradient is rolled back by -shift"
    da = np.roll(dy, np.negative(shift), axis)


@tangent(np.roll)
def roll_tangent(y, a, shift, axis=None):
    "roll: the tangent is rolled the same way"
    dy = np.roll(da, shift, axis)


# -- joining and splitting: each input gets its own part of the gradient -----------


@adjoint(np.concatenate)
def concatenate(y, arrays, axis=0):
    "concatenate: each input gets back its own slice of dy"
    darrays = split_like(dy, arrays, axis)


@tangent(np.concatenate)
def concatenate_tangent(y, arrays, axis=0):
    "concatenate: the tangents are joined the same way"
    dy = np.concatenate(darrays, axis)


if hasattr(np, "concat"):  # NumPy 2.0+
    tangent(np.concat)(concatenate_tangent)


_register_if_present(concatenate, np, "concat")  # NumPy 2.0+


@adjoint(np.stack)
def stack(y, arrays, axis=0):
    "stack: each input gets back its own slice of dy along the new axis"
    darrays = np.moveaxis(dy, axis, 0)


@tangent(np.stack)
def stack_tangent(y, arrays, axis=0):
    "stack: the tangents are stacked the same way"
    dy = np.stack(darrays, axis)


@adjoint(np.vstack)
def vstack(y, tup):
    "vstack: each input gets back its own rows of dy"
    dtup = split_like(dy, tup, 0, np.atleast_2d)


@tangent(np.vstack)
def vstack_tangent(y, tup):
    "vstack: the tangents are stacked the same way"
    dy = np.vstack(dtup)


if hasattr(np, "row_stack"):  # vstack under its old name (deprecated in NumPy 2)
    adjoint(np.row_stack)(vstack)
    tangent(np.row_stack)(vstack_tangent)


@adjoint(np.hstack)
def hstack(y, tup):
    "hstack: each input gets back its own columns of dy (elements, for 1-D inputs)"
    dtup = split_like(dy, tup, 0 if np.ndim(y) == 1 else 1, np.atleast_1d)


@tangent(np.hstack)
def hstack_tangent(y, tup):
    "hstack: the tangents are stacked the same way"
    dy = np.hstack(dtup)


@adjoint(np.dstack)
def dstack(y, tup):
    "dstack: each input gets back its own slice of dy along the third axis"
    dtup = split_like(dy, tup, 2, np.atleast_3d)


@tangent(np.dstack)
def dstack_tangent(y, tup):
    "dstack: the tangents are stacked the same way"
    dy = np.dstack(dtup)


@adjoint(np.split, np.array_split)
def split(y, ary, indices_or_sections, axis=0):
    "split: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, axis)


@tangent(np.split)
def split_tangent(y, ary, indices_or_sections, axis=0):
    "split: the tangent is split the same way"
    dy = np.split(dary, indices_or_sections, axis)


@tangent(np.array_split)
def array_split_tangent(y, ary, indices_or_sections, axis=0):
    "split: the tangent is split the same way"
    dy = np.array_split(dary, indices_or_sections, axis)


@adjoint(np.hsplit)
def hsplit(y, ary, indices_or_sections):
    "hsplit: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, 1 if np.ndim(ary) > 1 else 0)


@tangent(np.hsplit)
def hsplit_tangent(y, ary, indices_or_sections):
    "hsplit: the tangent is split the same way"
    dy = np.hsplit(dary, indices_or_sections)


@adjoint(np.vsplit)
def vsplit(y, ary, indices_or_sections):
    "vsplit: the pieces' gradients are joined back together"
    dary = np.concatenate(dy, 0)


@tangent(np.vsplit)
def vsplit_tangent(y, ary, indices_or_sections):
    "vsplit: the tangent is split the same way"
    dy = np.vsplit(dary, indices_or_sections)


# -- copied elements: the copies' gradients add up ---------------------------------


@adjoint(np.broadcast_to)
def broadcast_to(y, array, shape, subok=False):
    "broadcast_to: the copies' gradients are summed back to the input's shape"
    darray = unbroadcast(dy, array)


@tangent(np.broadcast_to)
def broadcast_to_tangent(y, array, shape, subok=False):
    "broadcast_to: the tangent is broadcast the same way"
    dy = np.broadcast_to(darray, shape)


@adjoint(np.tile)
def tile(y, A, reps):
    "tile: each element's gradient is the sum over its copies"
    dA = untile(dy, A, reps)


@tangent(np.tile)
def tile_tangent(y, A, reps):
    "tile: the tangent is tiled the same way"
    dy = np.tile(dA, reps)


@adjoint(np.repeat, np.ndarray.repeat)
def repeat(y, a, repeats, axis=None):
    "repeat: each element's gradient is the sum over its repeats"
    da = unrepeat(dy, a, repeats, axis)


@tangent(np.repeat, np.ndarray.repeat)
def repeat_tangent(y, a, repeats, axis=None):
    "repeat: the tangent is repeated the same way"
    dy = np.repeat(da, repeats, axis)


# -- diagonals and triangles -------------------------------------------------------


@adjoint(np.diag)
def diag(y, v, k=0):
    "diag: the gradient moves between the diagonal and the vector as the values did"
    dv = diag_grad(dy, v, k)


@tangent(np.diag)
def diag_tangent(y, v, k=0):
    "diag: the tangent moves to or from the diagonal the same way"
    dy = np.diag(dv, k)


@adjoint(np.triu)
def triu(y, m, k=0):
    "triu: the gradient keeps the same upper triangle (the rest was replaced by 0)"
    dm = np.triu(dy, k)


@tangent(np.triu)
def triu_tangent(y, m, k=0):
    "triu: the tangent keeps the same upper triangle"
    dy = np.triu(dm, k)


@adjoint(np.tril)
def tril(y, m, k=0):
    "tril: the gradient keeps the same lower triangle (the rest was replaced by 0)"
    dm = np.tril(dy, k)


@tangent(np.tril)
def tril_tangent(y, m, k=0):
    "tril: the tangent keeps the same lower triangle"
    dy = np.tril(dm, k)


# -- building and copying arrays ----------------------------------------------------


@adjoint(np.array)
def array(y, object, dtype=None, *, copy=True):
    "array: each element or row of the input gets the matching part of dy"
    if literal(dtype) and dtype is None:
        dobject = dy
    else:
        dobject = cast_grad(dy, dtype)


@tangent(np.array)
def array_tangent(y, object, dtype=None, *, copy=True):
    "array: the tangents are assembled the same way (an integer cast has none)"
    if literal(dtype) and dtype is None:
        dy = np.array(dobject, dtype=float)
    else:
        dy = cast_grad(np.array(dobject, dtype=float), dtype)


@adjoint(np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)
def asarray(y, a, dtype=None):
    "asarray: each element or row of the input gets the matching part of dy"
    if literal(dtype) and dtype is None:
        da = dy
    else:
        da = cast_grad(dy, dtype)


@tangent(np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)
def asarray_tangent(y, a, dtype=None):
    "asarray: the tangents are assembled the same way (an integer cast has none)"
    if literal(dtype) and dtype is None:
        dy = np.array(da, dtype=float)
    else:
        dy = cast_grad(np.array(da, dtype=float), dtype)


@adjoint(np.require)
def require(y, a, dtype=None, requirements=None):
    "require: the same elements, perhaps another layout: the gradient passes through"
    if literal(dtype) and dtype is None:
        da = dy
    else:
        da = cast_grad(dy, dtype)


@tangent(np.require)
def require_tangent(y, a, dtype=None, requirements=None):
    "require: the tangent passes through (an integer cast has none)"
    if literal(dtype) and dtype is None:
        dy = np.array(da, dtype=float)
    else:
        dy = cast_grad(np.array(da, dtype=float), dtype)


@adjoint(np.copy, np.ndarray.copy)
def copy(y, a, order="K"):
    "copy: the gradient passes through unchanged"
    da = dy


@tangent(np.copy, np.ndarray.copy)
def copy_tangent(y, a, order="K"):
    "copy: the tangent is copied too"
    dy = np.copy(da)


@adjoint(np.ndarray.astype)
def astype(y, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    "astype: the gradient passes through a float cast; an integer cast has none"
    da = cast_grad(dy, dtype)


@tangent(np.ndarray.astype)
def astype_tangent(y, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    "astype: the tangent passes through a float cast; an integer cast has none"
    dy = cast_grad(da, dtype)


@adjoint(np.fft.fftshift)
def fftshift(y, x, axes=None):
    "fftshift: a roll, undone on the gradient by ifftshift"
    dx = np.fft.ifftshift(dy, axes)


@tangent(np.fft.fftshift)
def fftshift_tangent(y, x, axes=None):
    "fftshift: the tangent is rolled the same way"
    dy = np.fft.fftshift(dx, axes)


@adjoint(np.fft.ifftshift)
def ifftshift(y, x, axes=None):
    "ifftshift: a roll, undone on the gradient by fftshift"
    dx = np.fft.fftshift(dy, axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(y, x, axes=None):
    "ifftshift: the tangent is rolled the same way"
    dy = np.fft.ifftshift(dx, axes)
