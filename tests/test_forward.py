"""Forward mode (jvp) on whole programs, against finite differences.

Branches, loops, lists, array writes, unpacking and early exits: the
tangents flow with the values.  Also the API around it: tangent checks,
`source(f, mode="forward")`, and the CompileError for a primitive that has
an adjoint rule but no tangent rule (and the other way round).
"""

import io

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import FEW, check_jvp
from hypothesis import given
from hypothesis import strategies as st

import chainrule
from chainrule import CompileError, adjoint, jvp, tangent


def mlp(x, W1, b1, W2):
    h = np.tanh(W1 @ x + b1)
    return W2 @ h


def branches(x, c):
    if np.sum(x) > c:
        y = x * x
    else:
        y = np.exp(x) - c
    z = y if np.max(y) > 1.0 else y * 3.0
    return z + c


def rnn(x, W, n):
    h = np.zeros(3)
    for t in range(n):
        h = np.tanh(W @ h + x[t])
    return h


def while_loop(x):
    y = x
    while np.sum(np.abs(y)) < 10.0:
        y = y * 1.5 + 0.1
    return y


def early_exit(xs):
    total = 0.0
    for v in xs:
        if v < -0.5:
            break
        if v > 0.8:
            continue
        total = total + np.sin(v) * v
    return total


def lists_and_writes(x):
    hs = []
    out = np.zeros(4)
    h = x[0]
    for i in range(4):
        h = np.cos(h) * x[1] + i
        hs.append(h)
        out[i] = h * h
    a, b = hs[1], hs[3]
    return np.stack(hs) * a + out * b


def with_pops(x):
    hs = []
    hs.append(x * 2.0)
    hs.append(np.sin(x))
    last = hs.pop()
    hs.append(x * x)
    hs.pop()
    return np.stack(hs) * x + last


def scalar_program(a, b):
    s = a * b
    for _ in range(3):
        s = np.sin(s) + a
    return s / b


def constant_output(x):
    return np.ones(3) * 2.0


rng = np.random.default_rng(3)
X3 = rng.normal(size=3)


def test_mlp():
    W1, b1, W2 = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4))
    check_jvp(mlp, X3, W1, b1, W2)
    check_jvp(mlp, X3, W1, b1, W2, which={1})


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_branches(sign):
    check_jvp(branches, sign * np.abs(X3) * 0.3, 0.2)
    check_jvp(branches, sign * np.abs(X3) * 0.3, 0.2, which={0})
    check_jvp(branches, sign * np.abs(X3) * 0.3, 0.2, which={1})


def test_rnn():
    x, W = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5
    check_jvp(rnn, x, W, 5, which={0, 1})
    check_jvp(rnn, x, W, 5, which={1})


def test_while_and_early_exit():
    check_jvp(while_loop, X3)
    check_jvp(early_exit, np.array([0.3, 0.9, -0.2, 0.4, -0.7, 0.5]))


def test_lists_and_writes():
    check_jvp(lists_and_writes, np.array([0.4, 1.3]))


def kept_then_written(x):
    out = x * 2.0
    acc = out**1  # a new array whose tangent rule is `dout` itself
    for i in range(2):
        u = acc + 0.0
        out[i] = x[i] ** 3  # changes dout in place: dacc must not be dout
        acc = u * out
    return np.sum(acc)


def viewed_then_written(x):
    out = np.zeros(3)
    t = np.reshape(out, (3,)) + 1.0  # dt = a view of dout, then a bare copy of it
    out[0] = np.sin(x[1])
    return np.sum(t * x) + np.sum(out * x)


@pytest.mark.parametrize("f", [kept_then_written, viewed_then_written])
def test_a_new_value_keeps_its_tangent_when_its_operand_is_written(f):
    check_jvp(f, X3)
    np.testing.assert_allclose(jvp(f, (X3,), (np.ones(3),))[1], np.sum(chainrule.grad(f)(X3)))


def test_list_pops_both_modes():
    check_jvp(with_pops, X3)

    assert chainrule.check_grad(loss_of_pops, X3) < 1e-5


def loss_of_pops(x):
    hs = []
    hs.append(x * 2.0)
    hs.append(np.sin(x))
    last = hs.pop()
    hs.append(x * x)
    hs.pop()
    return np.sum((np.stack(hs) * x + last) ** 2)


def test_scalars_stay_floats():
    out, t = jvp(scalar_program, (0.3, 1.7), (1.0, 0.0))
    assert type(t) is float or np.ndim(t) == 0
    check_jvp(scalar_program, 0.3, 1.7)


def test_output_independent_of_inputs_has_zero_tangent():
    out, t = jvp(constant_output, (X3,), (np.ones(3),))
    np.testing.assert_array_equal(t, np.zeros(3))


@FEW
@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4), elements=st.floats(-2, 2)),
    st.integers(0, 4),
)
def test_hypothesis_shapes_and_loop_counts(x, n):
    def f(x, n):
        y = x
        for _ in range(n):
            y = np.tanh(y) * 0.9 + x * 0.1
        return np.sum(y * y, axis=0) if np.ndim(y) else y

    check_jvp(f, x, n, which={0})


@FEW
@given(st.floats(-3, 3), st.floats(0.5, 3))
def test_hypothesis_scalars(a, b):
    check_jvp(scalar_program, a, b)


# -- API ----------------------------------------------------------------------------------


def test_jvp_semantics_and_checks():
    out, t = jvp(mlp.__wrapped__ if hasattr(mlp, "__wrapped__") else np.sin, (X3,), (X3,))
    np.testing.assert_allclose(out, np.sin(X3))
    np.testing.assert_allclose(t, np.cos(X3) * X3)
    with pytest.raises(ValueError, match="shape"):
        jvp(np.sin, (X3,), (np.ones(2),))
    with pytest.raises(ValueError, match="one\ntangent per primal|tangent per primal"):
        jvp(np.sin, (X3,), ())
    with pytest.raises(TypeError, match="tuples"):
        jvp(np.sin, X3, X3)
    with pytest.raises(TypeError, match="bool"):
        jvp(np.sin, (X3,), (True,))


def square_plus(x, k=2.0):
    return x * x + k


def test_defaults_and_integer_tangents():
    out, t = jvp(square_plus, (3,), (1,))
    assert (out, t) == (11.0, 6.0)


def test_source_and_show_forward():
    text = chainrule.source(mlp, argnums=(0, 1), mode="forward")
    assert "def jvp_mlp(x, W1, b1, W2, dx, dW1):" in text
    assert "dt1 = dW1 @ x + W1 @ dx" in text
    buf = io.StringIO()
    chainrule.show(mlp, mode="forward", file=buf)
    assert "def jvp_mlp(x, W1, b1, W2, dx):" in buf.getvalue()
    assert "dt1 = W1 @ dx" in buf.getvalue()  # W1 has no tangent: its term is dropped


def only_adjoint(x):
    return x * 2.0


def only_tangent(x):
    return x * 3.0


@adjoint(only_adjoint)
def _only_adjoint_rule(y, x):
    "doubling"
    dx = dy * 2.0  # noqa: F841, F821  (template notation)


@tangent(only_tangent)
def _only_tangent_rule(y, x):
    "tripling"
    dy = dx * 3.0  # noqa: F841, F821  (template notation)


def uses_only_adjoint(x):
    return np.sum(only_adjoint(x))


def uses_only_tangent(x):
    return np.sum(only_tangent(x))


def test_custom_rules_in_one_mode_only():
    assert chainrule.grad(uses_only_adjoint)(X3).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(CompileError, match="only_adjoint has an adjoint .* no tangent"):
        jvp(uses_only_adjoint, (X3,), (X3,))
    out, t = jvp(uses_only_tangent, (X3,), (np.ones(3),))
    assert t == pytest.approx(9.0)
    with pytest.raises(CompileError, match="only_tangent"):
        chainrule.grad(uses_only_tangent)(X3)


def test_custom_rule_with_both_modes():
    def softclip(x):
        return np.tanh(x)

    @adjoint(softclip)
    def _adj(y, x):
        "softclip"
        dx = dy * (1 - y * y)  # noqa: F841, F821

    @tangent(softclip)
    def _tan(y, x):
        "softclip"
        dy = dx * (1 - y * y)  # noqa: F841, F821

    def f(x):
        return np.sum(softclip(x) * x)

    check_jvp(f, X3)
    assert chainrule.check_grad(f, X3) < 1e-6
