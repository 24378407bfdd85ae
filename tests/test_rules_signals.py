"""Rules for array and signal functions (rules/signals.py), over hypothesis-drawn sizes:
both modes against finite differences, second derivatives, and autograd where it has the
function (rules_cases.check_case)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FEWER
from hypothesis import given
from hypothesis import strategies as st
from rules_cases import Case, check_case

import chainrule

XP = np.array([0.0, 1.0, 2.5, 3.0])


def cross3(a, b):
    return np.cross(a, b)


def cross2(a, b):
    return np.cross(a, b)


def cross_axes(a, b):
    return np.cross(a, b, axisa=0, axisb=0)


def kron(a, b):
    return np.kron(a, b)


def diff(a):
    return np.diff(a)


def diff2(a):
    return np.diff(a, 2, 0)


def gradient(f):
    return np.gradient(f, 0.5)


def gradient_axis(f):
    return np.gradient(f, axis=1)


def gradient_both(f):
    gy, gx = np.gradient(f)
    return gy * gx


def trapezoid(y):
    return np.trapezoid(y, dx=0.3)


def trapezoid_x(y, x):
    return np.trapezoid(y, x)


def interp(x, fp):
    return np.interp(x, XP, fp)


def interp_xp(xp):
    return np.interp(np.array([0.5, 1.7, 2.9, -1.0]), xp, np.array([1.0, -2.0, 0.5, 3.0]))


def convolve(a, v):
    return np.convolve(a, v)


def convolve_same(a, v):
    return np.convolve(a, v, "same")


def convolve_valid(a, v):
    return np.convolve(a, v, "valid")


def correlate(a, v):
    return np.correlate(a, v)


def correlate_same(a, v):
    return np.correlate(a, v, "same")


def correlate_full(a, v):
    return np.correlate(a, v, "full")


def sort(a):
    return np.sort(a)


def sort_columns(a):
    return np.sort(a, 0)


def sort_flat(a):
    return np.sort(a, None)


def partition(a):
    return np.partition(a, 1)


def take_along(a):
    return np.take_along_axis(a, np.array([[0, 0], [1, 0]]), 1)


def pad_constant(a):
    return np.pad(a, ((1, 2), (0, 1)), constant_values=3.0)


def pad_edge(a):
    return np.pad(a, 2, "edge")


def pad_reflect(a):
    return np.pad(a, ((2, 1), (1, 1)), mode="reflect")


def pad_wrap(a):
    return np.pad(a, 1, "wrap")


def items(a):
    return a.item(1) * a + a[0:1].item()


def real_parts(a):
    return np.real(a) + np.imag(a) + np.conjugate(a) * np.conj(a) + np.angle(a) + a.real + a.imag


def nan_to_num(a):
    return np.nan_to_num(a * 2.0)


def rollaxis(a):
    return np.rollaxis(a, 2, 0)


def rollaxis_end(a):
    return np.rollaxis(a, 0, 3)


def rot90(a):
    return np.rot90(a, 3)


def column_stack(a, b):
    return np.column_stack([a, b])


def row_stack(a, b):
    return np.vstack([a, b])


def append(a, b):
    return np.append(a, b)


def append_rows(a, b):
    return np.append(a, b, axis=0)


def dsplit(a):
    x, y = np.dsplit(a, [1])
    return np.sum(x**2) + np.sum(np.sin(y))


def select(a, b):
    return np.select([a > 0, b > 0], [a * b, a + b], b * 3.0)


def normal(shape):
    return lambda rng, n: (rng.normal(size=shape(n)),)


CASES = [
    Case(cross3, lambda r, n: (r.normal(size=(n, 3)), r.normal(size=3))),
    Case(cross_axes, lambda r, n: (r.normal(size=(3, n)), r.normal(size=(3, n)))),
    Case(kron, lambda r, n: (r.normal(size=(2, n)), r.normal(size=(n, 2)))),
    Case(diff, normal(lambda n: (n + 2,))),
    Case(diff2, normal(lambda n: (n + 2, 3))),
    Case(gradient, normal(lambda n: (n + 2,)), autograd=False),
    Case(gradient_axis, normal(lambda n: (3, n + 2)), autograd=False),
    Case(gradient_both, normal(lambda n: (3, n + 2)), autograd=False),
    Case(trapezoid, normal(lambda n: (3, n + 1)), autograd=False),
    Case(
        trapezoid_x,
        lambda r, n: (r.normal(size=n + 2), np.sort(r.normal(size=n + 2))),
        autograd=False,
        order2=False,
    ),
    Case(interp, lambda r, n: (r.uniform(-0.5, 3.5, size=n), r.normal(size=4)), False, False),
    Case(interp_xp, lambda r, n: (XP + r.uniform(-0.1, 0.1, size=4),), False, False),
    Case(convolve, lambda r, n: (r.normal(size=n + 2), r.normal(size=3)), autograd=False),
    Case(convolve_same, lambda r, n: (r.normal(size=n + 1), r.normal(size=4)), autograd=False),
    Case(convolve_valid, lambda r, n: (r.normal(size=n + 3), r.normal(size=3)), autograd=False),
    Case(correlate, lambda r, n: (r.normal(size=n + 3), r.normal(size=3)), autograd=False),
    Case(correlate_same, lambda r, n: (r.normal(size=n), r.normal(size=4)), autograd=False),
    Case(correlate_full, lambda r, n: (r.normal(size=2), r.normal(size=n + 1)), autograd=False),
    Case(sort, normal(lambda n: (n + 2,))),
    Case(sort_columns, normal(lambda n: (n, 3)), autograd=False),
    Case(sort_flat, normal(lambda n: (2, n)), autograd=False),
    Case(partition, normal(lambda n: (n + 2,))),
    Case(take_along, normal(lambda n: (2, 3)), autograd=False),
    Case(pad_constant, normal(lambda n: (n, 3)), autograd=False),
    Case(pad_edge, normal(lambda n: (n, 3)), autograd=False),
    Case(pad_reflect, normal(lambda n: (n + 2, 3)), autograd=False),
    Case(pad_wrap, normal(lambda n: (n, 3)), autograd=False),
    Case(items, normal(lambda n: (n + 1,)), autograd=False),
    Case(real_parts, normal(lambda n: (n,)), autograd=False),
    Case(nan_to_num, normal(lambda n: (n,))),
    Case(rollaxis, normal(lambda n: (2, n, 4))),
    Case(rollaxis_end, normal(lambda n: (2, n, 4))),
    Case(rot90, normal(lambda n: (n, 3))),
    Case(column_stack, lambda r, n: (r.normal(size=n), r.normal(size=(n, 2)))),
    Case(row_stack, lambda r, n: (r.normal(size=n), r.normal(size=(2, n)))),
    Case(append, lambda r, n: (r.normal(size=(2, n)), r.normal(size=3))),
    Case(append_rows, lambda r, n: (r.normal(size=(2, n)), r.normal(size=(1, n)))),
    Case(dsplit, normal(lambda n: (2, n, 3)), autograd=False),
    Case(select, lambda r, n: (r.normal(size=n), r.normal(size=n)), autograd=False),
]


try:  # NumPy 2.5 refuses 2-vectors in np.cross
    np.cross(np.ones(2), np.ones(2))
    CASES.append(
        Case(cross2, lambda r, n: (r.normal(size=(n, 2)), r.normal(size=(n, 2))), autograd=False)
    )
except ValueError:
    pass


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 4))
def test_rule(case, seed, size, tmp_path_factory):
    check_case(case, np.random.default_rng(seed), size, tmp_path_factory.mktemp("scalar"))


def pad_linear_ramp(a):
    return np.pad(a, 1, "linear_ramp")


def test_pad_modes_that_compute_values_are_refused():
    with pytest.raises(ValueError, match="copying modes"):
        chainrule.vjp(pad_linear_ramp, np.ones(3))[1](np.ones(5))
