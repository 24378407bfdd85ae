"""Three pieces of the subset (issue 15): a run-time index into a tuple or list of
same-shaped differentiated values, list displays of differentiated values stored in a
variable, and writes into an argument, performed on a private copy.

Each derivative is checked against central finite differences (chainrule.testing) and
against autograd running the same code written with autograd.numpy.
"""

import inspect
import types

import autograd
import autograd.numpy as anp
import numpy
import numpy as np
import pytest

from chainrule import CompileError, grad, hessian, jvp, value_and_grad, vjp
from chainrule.testing import check_grads, numerical_jacobian


def model(np):
    def picked(a, b, c, i):  # an int argument picks the item
        xs = (a, b, c)
        return np.sum(xs[i] ** 2 * a)

    def walked(a, b, c):  # the loop variable of a while loop
        xs = (a, b, c)
        i = 0
        s = 0.0
        while i < 3:
            s = s + np.sum(xs[i] * xs[2 - i] * np.sin(a))
            i = i + 1
        return s

    def chosen(a, b, c):  # an index computed at run time from data
        ws = [a * a, b, np.cos(c)]
        i = int(np.argmax(np.array([0.1, 0.7, 0.2])))
        return np.sum(ws[i] * ws[0])

    def display(a):
        v = [1.0, a * a, 2.0]
        return np.sum(np.array(v) ** 2) + v[1] * v[2]

    def display_of_arrays(x, y):
        parts = [x, 2.0 * y, x * y]
        total = 0.0
        for p in parts:
            total = total + np.sum(np.tanh(p))
        parts.append(x - y)
        return total + np.sum(np.stack(parts) ** 2) * len(parts)

    def display_in_loop(a):
        s = 0.0
        for k in range(3):
            v = [a * k, a, 1.0]
            s = s + v[0] * v[1] + v[k]
        return s

    if np is numpy:

        def write_first(x, a, b):
            x[0] = a * b
            return np.sum(x**2)

        def write_aug(x, a):
            x[1:] += a
            x[0] *= a
            return np.sum(x * x) + x[0]

        def write_matrix(m, a):
            m[0, 1] = np.sin(a)
            m[1, 2] = 3.0 * np.cos(a)
            return np.sum(m @ m)

        def write_after_reads(x, a):  # values made from x before the write keep the old x
            y = x + 1.0
            z = x**1
            t = np.reshape(x, (4,)) * 1.0
            x[0] = np.sin(a) * a
            return np.sum(y * y) + np.sum(z * x) + np.sum(t * t)

        def write_after_rows(m, a):
            r0, r1, r2 = m
            y = r0 + a
            m[0, 1] = np.cos(a) * a
            return np.sum(y * y) + np.sum(m * m)

    else:  # autograd cannot assign into arrays: the same functions, written out

        def write_first(x, a, b):
            x = np.concatenate([np.reshape(a * b, (1,)), x[1:]])
            return np.sum(x**2)

        def write_aug(x, a):
            x = np.concatenate([x[:1] * a, x[1:] + a])
            return np.sum(x * x) + x[0]

        def write_matrix(m, a):
            rows = [
                np.concatenate([m[0, :1], np.reshape(np.sin(a), (1,)), m[0, 2:]]),
                np.concatenate([m[1, :2], np.reshape(3.0 * np.cos(a), (1,))]),
                m[2],
            ]
            m = np.stack(rows)
            return np.sum(np.dot(m, m))

        def write_after_reads(x, a):
            y = x + 1.0
            z = x**1
            t = np.reshape(x, (4,)) * 1.0
            x = np.concatenate([np.reshape(np.sin(a) * a, (1,)), x[1:]])
            return np.sum(y * y) + np.sum(z * x) + np.sum(t * t)

        def write_after_rows(m, a):
            r0, r1, r2 = m
            y = r0 + a
            row = np.concatenate([m[0, :1], np.reshape(np.cos(a) * a, (1,)), m[0, 2:]])
            m = np.stack([row, m[1], m[2]])
            return np.sum(y * y) + np.sum(m * m)

    return types.SimpleNamespace(**locals())


M, A = model(numpy), model(anp)
RNG = numpy.random.default_rng(15)
X, Y, Z = RNG.normal(size=(3, 4))


def close(a, b):
    numpy.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def against_autograd(name, args, argnums):
    ours = grad(getattr(M, name), argnums=argnums)(*args)
    for k, i in enumerate(argnums):
        close(ours[k], autograd.grad(getattr(A, name), i)(*args))


# -- a run-time index into a tuple or list -------------------------------------------------


@pytest.mark.parametrize("i", [0, 1, 2, -1])
def test_an_int_argument_indexes_a_tuple(i):
    args = (X, Y, Z, i)
    check_grads(M.picked, args, argnums=(0, 1, 2))
    against_autograd("picked", args, (0, 1, 2))
    v = RNG.normal(size=4)
    tangent = jvp(M.picked, args, (v, None, None, None))[1]
    close(tangent, autograd.grad(A.picked, 0)(*args) @ v)


@pytest.mark.parametrize("name", ["walked", "chosen"])
def test_a_loop_variable_or_computed_index(name):
    f = getattr(M, name)
    check_grads(f, (X, Y, Z))
    check_grads(f, (X, Y, Z), order=2)
    against_autograd(name, (X, Y, Z), (0, 1, 2))
    close(hessian(f)(X, Y, Z), autograd.hessian(getattr(A, name))(X, Y, Z))


def test_what_stays_refused_at_a_run_time_index():
    def nested(a, i):
        xs = (a, (a, a))
        return numpy.sum(xs[i])

    def keyed(a, k):
        p = {"u": a, "v": 2 * a}
        return numpy.sum(p[k])

    def sliced(a, b, i):
        xs = (a, b)
        return numpy.sum(xs[i:][0])

    for f, args in [(nested, (X, 0)), (keyed, (X, "u")), (sliced, (X, Y, 0))]:
        with pytest.raises(CompileError, match="needs (a key|bounds) known when the code is"):
            grad(f)(*args)


# -- list displays -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [("display", (1.3,)), ("display_of_arrays", (X, Y)), ("display_in_loop", (0.7,))],
)
def test_list_displays_of_differentiated_values(name, args):
    f = getattr(M, name)
    check_grads(f, args)
    check_grads(f, args, order=2)
    against_autograd(name, args, tuple(range(len(args))))


def _unpacked(a):
    v = [a, 2 * a]
    v.append(np.sin(a))
    p, q, r = v
    return p * q * r


def _unpacked_oracle(a):
    return a * 2 * a * anp.sin(a)


def test_unpacking_a_list_of_differentiated_values():
    """`p, q, r = v` reads the items by index, after Python's own length check (the
    gradient code of `list((x, x))` unpacks a list too, so grad(grad(f)) needs it)."""
    for a in (0.7, -1.3):
        check_grads(_unpacked, (a,), order=2)
        np.testing.assert_allclose(grad(_unpacked)(a), autograd.grad(_unpacked_oracle)(a))

    def too_few(a):
        v = [a, 2 * a]
        p, q, r = v
        return p * q * r

    def too_many(a):
        v = [a, 2 * a]
        (p,) = v
        return p

    with pytest.raises(ValueError, match=r"not enough values to unpack \(expected 3, got 2\)"):
        grad(too_few)(1.0)
    with pytest.raises(ValueError, match=r"too many values to unpack \(expected 1\)"):
        grad(too_many)(1.0)


# -- writes into arguments: on a private copy ----------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [
        ("write_first", (X.copy(), 0.4, -1.2)),
        ("write_aug", (X.copy(), 0.9)),
        ("write_matrix", (RNG.normal(size=(3, 3)), 0.6)),
        # forward mode: dy = dx for y = x + 1.0 shared dx's memory, and the write's
        # tangent changed it (a wrong jvp of the seed-6 run, 6:5168)
        ("write_after_reads", (X.copy(), 0.7)),
        ("write_after_rows", (RNG.normal(size=(3, 3)), -0.8)),
    ],
)
def test_writes_into_arguments_leave_the_callers_arrays_alone(name, args):
    f, oracle = getattr(M, name), getattr(A, name)
    saved = [numpy.copy(a) for a in args]
    nums = tuple(range(len(args)))
    ours = grad(f, argnums=nums)(*args)
    value, _ = value_and_grad(f, argnums=nums)(*args)
    out, pullback = vjp(f, *args)
    pulled = pullback(1.0)
    tangents = [RNG.normal(size=numpy.shape(a)) for a in args]
    _, tangent = jvp(f, args, tangents)
    second = hessian(f)(*args)
    for a, before in zip(args, saved):
        close(a, before)  # none of them wrote into the caller's arrays
    expected = [autograd.grad(oracle, i)(*[numpy.copy(a) for a in args]) for i in nums]
    for k in nums:
        close(ours[k], expected[k])
        close(pulled[k], expected[k])
    close(value, oracle(*[numpy.copy(a) for a in args]))
    close(out, value)
    close(tangent, sum(numpy.sum(e * t) for e, t in zip(expected, tangents)))
    close(second, autograd.hessian(oracle, 0)(*[numpy.copy(a) for a in args]))
    for k in nums:  # finite differences of f, called on copies (it writes into them)
        fd = numerical_jacobian(lambda *xs: f(*[numpy.copy(x) for x in xs]), args, k)
        numpy.testing.assert_allclose(ours[k], fd, rtol=1e-5, atol=1e-6)


def test_a_write_into_an_argument_not_differentiated_is_refused():
    # its type is not known when compiling (a list, a tuple, an int array...)
    data = X.copy()
    with pytest.raises(CompileError) as info:
        grad(M.write_first, argnums=1)(data, 0.4, -1.2)
    assert "writing into 'x', which is an argument not differentiated" in str(info.value)
    assert "x = x.copy()" in str(info.value)
    close(data, X)


# -- np.fill_diagonal: the write of the diagonal -------------------------------------------


def _pair_energy(x):
    r2 = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(r2, np.inf)  # no self-interaction
    return np.sum(r2**-6 - r2**-3)


def _pair_energy_oracle(x):
    r2 = anp.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    r2 = r2 + anp.diag(anp.full(r2.shape[0], anp.inf))
    return anp.sum(r2**-6 - r2**-3)


def _diagonal_from(w, x):
    m = np.outer(x, x)
    np.fill_diagonal(w, x[0] * 2.0)  # an argument: written on a private copy
    np.fill_diagonal(m, np.sum(w))
    return np.sum(np.sin(m) * w)


def test_fill_diagonal_is_a_write():
    x = np.array([[0.0, 0.0], [1.1, 0.0], [0.0, 1.2]])
    np.testing.assert_allclose(grad(_pair_energy)(x), autograd.grad(_pair_energy_oracle)(x))
    check_grads(_pair_energy, (x,), order=2)
    w, v = np.arange(9.0).reshape(3, 3) / 9.0, np.array([0.3, -0.7, 1.1])
    kept = w.copy()
    check_grads(_diagonal_from, (w, v))
    np.testing.assert_array_equal(w, kept)  # the caller's array is unchanged

    def wrapped(x):
        m = np.outer(x, x)
        np.fill_diagonal(m, 1.0, wrap=True)
        return np.sum(m)

    with pytest.raises(CompileError, match="wrap=True is not supported") as info:
        grad(wrapped)(np.ones(3))
    assert info.value.lineno == inspect.getsourcelines(wrapped)[1] + 2
