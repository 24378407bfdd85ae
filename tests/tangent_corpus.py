"""Functions in the patterns of Tangent's test-function corpus (google/tangent,
tests/functions.py), written afresh for tests/test_tangent_patterns.py (issue 15).

`model(np)` defines them once: with NumPy for chainrule, with autograd.numpy for the
oracle (the functions that write into arrays have a written-out twin for autograd, which
cannot assign into arrays).
"""

import types

import numpy

SCALE = 1.5  # a module-level constant the functions read


def model(np):
    """The functions, written once; `np` is NumPy for chainrule, autograd.numpy for the
    oracle."""

    # -- straight-line code ---------------------------------------------------------------

    def renamed(a):  # plain copies, and names like the ones generated code uses
        b = a
        da = b * b
        t1 = da
        stack = t1 + a
        return stack

    def negated(a):
        return -a * 2.0 + -(a * a)

    def times(a):
        return a * 2.5 + 2.5 * a + a * a

    def over(a):
        return a / 4.0 + 4.0 / a + a / a

    def minus(a):
        return (a - 1.5) * (1.5 - a) + (a - a)

    def plus(a):
        return (a + 0.5) * (0.5 + a) * (a + a)

    def mul(a, b):
        return a * b

    def add(a, b):
        return a + b

    def fused(a, b, c):  # calls nested in calls
        return add(mul(a, np.sin(b)), c)

    def through_helpers(a, b, c):  # a helper that calls a helper
        return fused(a, b, c) * mul(c, a)

    def steps(a, b, c):  # one operation per line, a name rebound
        u = a * c
        u = u - b
        v = u * u
        return v + 1.0

    def reshaped(x):  # an argument rebound to a value of another shape
        x = np.sum(x * x)
        x = x * np.sqrt(x)
        return x

    # -- branches ---------------------------------------------------------------------------

    def overwritten_in_branches(a):
        if a > 0.3:
            a = a * 1.5
        else:
            a = a * a - 1.0
        return a

    def nested_branches(a):
        if a > 0:
            if a < 1.0:
                a = a * a * a
            else:
                a = 2.0 * a
        else:
            a = -a * 0.5
        return a

    def elif_chain(a):  # an if/else, then an elif chain with an if inside
        if a > 1.0:
            w = a - 1.0
        else:
            w = 0.5 * a
        if w * a > 1.5:
            a = a * w
        elif w < -0.2:
            if a < -1.0:
                a = w / a
            else:
                a = w * w * a
        else:
            a = np.sin(a) - w
        return a

    def serial_branches(a):
        if a < 0:
            a = a * a
        a = a * 3.0
        if a > 1.0:
            a = a - 0.5 * a * a
        return a

    def compared(a, b):  # a test on two differentiated values
        if a < b:
            out = np.sin(a) * b
        else:
            out = a * b * b
        return out

    # -- loops ------------------------------------------------------------------------------

    def two_loops(a, n):
        for _ in range(n):
            a = a * np.cos(a)
        a = a * 0.5
        for _ in range(n + 1):
            a = a + a * 0.25
        return a

    def loop_then_branch(a, n):
        for _ in range(n):
            a = a * 0.9 + np.sin(a)
        if a < 0.5:
            a = a * a
        return a

    def branch_then_loop(a, n):
        if a < 0:
            a = -a * 1.5
        for _ in range(n):
            a = a * a * 0.5
        return a

    def counted_power(a):  # an accumulator started as an int
        acc = 1
        for _ in range(4):
            acc = acc * a
        return acc

    def shifted_range(a):  # a loop bound that is an expression of constants
        acc = a
        for _ in range(5 - 2):
            acc = acc * a
        return acc

    def branch_in_loop(a):
        for _ in range(3):
            if a < 2.0:
                a = a * a + 0.5
        return a

    def loop_in_branch(a):
        if a > -1.0:
            for _ in range(3):
                a = a * 0.5 + a * a
        return a

    def nested_loops(a):
        for _ in range(2):
            for _ in range(3):
                a = a * 0.5 + np.sin(a)
        return a

    def cubed_in_loop(a):
        for _ in range(2):
            a = a * a * a * 0.5
        return a

    def helper_in_loop(a, n):
        for _ in range(n):
            a = mul(a, np.cos(a))
        return a

    def local_def_in_loop(a, n):
        def scaled(a, n):  # its parameters shadow the caller's
            return a * n + 0.25

        for _ in range(n):
            a = scaled(a, np.tanh(a))
        return a

    def halved_while(a):
        while np.abs(a) > 0.27:
            a = a * 0.5
        return a * a

    def counted_while(a):
        k = 0
        while k < 3:
            a = np.sin(a) + a * 0.5
            k = k + 1
        return a

    # -- powers -----------------------------------------------------------------------------

    def powers(a, b):
        if a >= 0:
            p = a**b
        else:
            p = (-a) ** b
        return p + a**3 + a * a * a

    def squared_twice(a):
        a = a * a
        return a * a

    def chain_of_products(a):
        b = a
        b = a * a
        c = b * b
        return c * c

    def chain_of_calls(a):
        b = mul(a, a)
        c = mul(b, b)
        return mul(c, b)

    # -- NumPy functions --------------------------------------------------------------------

    def trig(a):
        return np.sin(a) * np.cos(a) + np.tan(a) + np.arcsin(a) * np.arccos(a) + np.arctan(a)

    def hyperbolic(a):
        return np.sinh(a) + np.cosh(a) * np.tanh(a) + np.exp(np.exp(a) * 0.5)

    def root_by_sign(a):
        if a >= 0:
            r = np.sqrt(a)
        else:
            r = np.sqrt(-a)
        return np.multiply(r, 3.0)

    def reductions(x):
        return np.sum(x) * np.mean(x) + np.sum(np.array(x) ** 2)

    def promoted(x):
        return np.sum(np.atleast_1d(x)) + np.sum(np.atleast_2d(x) ** 2) + np.sum(np.atleast_3d(x))

    # -- lists, subscripts, writes ------------------------------------------------------------

    def display_sum(a):
        b = [2.0, a * np.sin(a), 0.5]
        return np.sum(b)

    def display_of_items(x):
        b = [1.0, x[0] * x[2] * x[1], x[1] * 2.0]
        return np.sum(b)

    def display_indexed(a):
        v = [2.0, a, a * a]
        return v[0] * v[1] + v[2]

    def items_read(x):
        first = x[0]
        last = x[-1]
        return first * last + x[1]

    def iterated(x):
        total = 0.0
        for v in x:
            total += v * v
        return total

    def sliced(x):
        return np.sum(x[1:] * x[:-1]) + np.sum(x[::2, np.newaxis] * x[1::2])

    if np is numpy:

        def filled(x):
            y = np.zeros_like(x)
            for i in range(len(x)):
                y[i] = x[i] * x[i]
            return np.sum(y * x)

        def filled_rows(x):  # a scalar written into a whole row
            h = np.zeros((len(x), 2))
            for t in range(len(h)):
                h[t] = x[t] * 2.0
            return np.sum(h * h)

        def recurrence(xs, W):  # each row of h is made from the one before
            h = np.zeros((4, 2))
            for t in range(3):
                h[t + 1] = np.tanh(np.dot(xs[t], W) + h[t])
            return np.sum(h[1:] ** 2)

        def written_argument(x):  # x[0] = ... writes into a private copy
            a = x[0]
            b = x[2]
            x[0] = a * b
            return np.sum(x * x)

        def written_after_use(x):
            y = x**2.0
            x[1] = y[0] * y[2]
            return np.sum(x * y)

    else:  # autograd cannot assign into arrays: the same functions, written out

        def filled(x):
            return np.sum(x * x * x)

        def filled_rows(x):
            h = np.stack([x * 2.0, x * 2.0], axis=1)
            return np.sum(h * h)

        def recurrence(xs, W):
            rows = [np.zeros(2)]
            for t in range(3):
                rows.append(np.tanh(np.dot(xs[t], W) + rows[t]))
            return np.sum(np.stack(rows[1:]) ** 2)

        def written_argument(x):
            x = np.concatenate([np.reshape(x[0] * x[2], (1,)), x[1:]])
            return np.sum(x * x)

        def written_after_use(x):
            y = x**2.0
            x = np.concatenate([x[:1], np.reshape(y[0] * y[2], (1,)), x[2:]])
            return np.sum(x * y)

    def recurrence_in_list(xs, W):  # the same, with the rows in a list (Hessians work)
        hs = [np.zeros(2)]
        for t in range(3):
            hs.append(np.tanh(np.dot(xs[t], W) + hs[t]))
        return np.sum(np.stack(hs) ** 2)

    def augmented(a):
        y = a * 2.0
        y *= y
        y += a
        y -= 0.5
        y /= a * a + 1.0
        return y

    # -- models ---------------------------------------------------------------------------------

    def logistic(inputs, labels, W, b):  # cross-entropy of a sigmoid written with tanh
        logits = np.dot(inputs, W) + b
        p = 0.5 + 0.5 * np.tanh(0.5 * logits)
        loss = labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)
        return -np.mean(loss)

    def bilinear_layer(x, h, U, W, b):  # two products and a bias, summed into one layer
        pre = np.dot(h, U) + b
        pre = pre + np.dot(x, W)
        act = np.tanh(pre)
        return np.sum(act * act)

    def determinant(m):
        return np.linalg.det(m)

    # -- tuples and containers --------------------------------------------------------------------

    def two_outputs(a):
        return 3.0 * a, a * a

    def polar(a, b):
        radius = np.sqrt(a * a + b * b)
        return radius, np.arctan2(b, a)

    def outputs_by_branch(a, b):  # tuples returned from several places
        if a > b:
            return a * b, np.sin(a)
        return b - a, a * a * b

    def unpacked(abc):
        a, b, c = abc
        return a * b + c

    def keyed(p):
        return p["a"] * p["b"] + p["c"]

    def rebuilt(abc):  # a dict built with dict(...), passed to a helper
        a, b, c = abc
        return keyed(dict(a=a, b=b, c=c))

    def first_only(abc):
        a, b, c = abc
        return a

    def deeply_keyed(p):
        return p["u"]["v"] * p["u"]["w"]

    def picked(a, b, c, i):  # a run-time index into a tuple of differentiated values
        xs = a, b, c
        return xs[i] * xs[0]

    # -- the rest of everyday Python ------------------------------------------------------------

    def everyday(a, b, scale=2.0):
        """Keyword arguments, defaults, a lambda, a conditional expression, a global,
        print and assert."""
        square = lambda v: v * v  # noqa: E731
        s = square(a) * scale + mul(b=b, a=a)
        t = s if a > 0 else -s
        assert scale > 0, "scale must be positive"
        print("", end="")
        return t * SCALE

    return types.SimpleNamespace(**locals())
