"""The per-call fast path and what `.source` shows.

A `grad(f)` call runs one generated function per variant
(`arguments.make_runner`): it checks the arguments' kinds and dtypes and the
variant's guard, runs the variant and shapes the gradients.  These tests
check that it returns what the slow path returns (keyword calls always take
the slow path), that every check sends a call of another kind to the slow
path, and that `.source` shows the code the latest call ran.
"""

from __future__ import annotations

import io

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import weights

import chainrule
from chainrule.arguments import MISS
from chainrule.rules import registry


def dense(W, b, x):
    return np.sum(np.tanh(W @ x + b) ** 2)


def dense_autograd(W, b, x):
    return anp.sum(anp.tanh(anp.dot(W, x) + b) ** 2)


def act(z):
    return np.tanh(z)


def other_act(z):
    return np.sin(z)


def layer(W, x):
    return np.sum(act(W @ x))


def added(a, b):
    return np.sum(a + b)


def with_aux(W, x):
    z = W @ x
    return np.sum(z**2), z


def scaled(x, s):
    return np.sum(np.sin(x) * s)


def slow(g, *args):
    """The same call through the slow path (keywords are never the fast path's)."""
    names = {dense: ["W", "b", "x"], added: ["a", "b"], with_aux: ["W", "x"], scaled: ["x", "s"]}
    params = names[g.fun]
    return g(**dict(zip(params, args)))


def same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for a, b in zip(got, want):
            same(a, b)
    else:
        assert type(got) is type(want)
        np.testing.assert_allclose(got, want, rtol=1e-12)


ARGS = (weights((3, 4)), weights((3,), 1), weights((4,), 2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: chainrule.grad(dense),
        lambda: chainrule.grad(dense, argnums=(0, 1, 2)),
        lambda: chainrule.grad(dense, argnums=(1,)),
        lambda: chainrule.value_and_grad(dense, argnums=(0, 2)),
        lambda: chainrule.value_and_grad(dense, argnums=2),
    ],
)
def test_the_fast_path_returns_what_the_slow_path_returns(make):
    g = make()
    first = g(*ARGS)  # compiles the variant (and its runner)
    assert g._run(ARGS) is not MISS
    same(g(*ARGS), first)
    same(slow(g, *ARGS), first)


def test_has_aux_through_the_fast_path():
    g = chainrule.grad(with_aux, has_aux=True)
    W, x = weights((3, 4)), weights((4,), 1)
    grads, aux = g(W, x)
    assert g._run((W, x)) is not MISS
    again, aux2 = g(W, x)
    np.testing.assert_allclose(again, 2 * np.outer(W @ x, x), rtol=1e-12)
    np.testing.assert_allclose(aux2, W @ x)


def test_calls_of_other_kinds_miss_and_still_get_the_right_gradient():
    g = chainrule.grad(dense, argnums=(0, 1))
    g(*ARGS)
    W, b, x = ARGS
    misses = [
        (W[:1], b[:1], x),  # an axis of length 1
        (W, b, x.astype(np.float32)),  # x is not differentiated: its dtype does not matter
        (W.astype(int), b, x),  # an int array, promoted to float by the slow path
        (W, 0.5, x),  # a Python float where an array was
        (W[None], b, x),  # another ndim
        (W, b),  # too few arguments: the slow path raises the usual TypeError
    ]
    for args in misses[:1] + misses[2:5]:
        assert g._run(args) is MISS
        got = g(*args)
        want = autograd.grad(dense_autograd, (0, 1))(*(np.asarray(a, dtype=float) for a in args))
        for a, e, arg in zip(got, want, args):
            assert np.shape(a) == np.shape(arg)
            assert type(a) is (float if type(arg) is float else np.ndarray)
            np.testing.assert_allclose(a, e, rtol=1e-10)
    assert g._run(misses[1]) is not MISS
    with pytest.raises(TypeError):
        g(*misses[5])


def test_float32_runs_the_variant_and_gives_float32():
    g = chainrule.grad(dense, argnums=(0, 1))
    W, b, x = (a.astype(np.float32) for a in ARGS)
    g(W, b, x)
    assert g._run((W, b, x)) is not MISS
    gW, gb = g(W, b, x)
    assert gW.dtype == np.float32 and gb.dtype == np.float32


def test_python_float_arguments_give_floats_on_the_fast_path():
    g = chainrule.grad(scaled, argnums=(0, 1))
    x = weights((5,))
    g(x, 2.0)
    assert g._run((x, 2.0)) is not MISS
    dx, ds = g(x, 3.0)
    assert type(ds) is float and ds == pytest.approx(float(np.sum(np.sin(x))))
    np.testing.assert_allclose(dx, 3.0 * np.cos(x))
    assert g._run((x, 3)) is MISS  # an int is promoted by the slow path
    assert type(g(x, 3)[1]) is float


def test_two_arguments_never_share_one_gradient_array_and_none_is_read_only():
    g = chainrule.grad(added, argnums=(0, 1))
    a, b = weights((4,)), weights((4,), 1)
    g(a, b)
    da, db = g(a, b)
    assert da is not db
    da[0] = 5.0  # writeable, and writing one leaves the other alone
    assert db[0] == 1.0


def test_a_rebound_helper_or_a_new_rule_sends_the_call_to_the_slow_path(monkeypatch):
    g = chainrule.grad(layer)
    W, x = weights((3, 4)), weights((4,), 1)
    g(W, x)
    assert g._run((W, x)) is not MISS
    monkeypatch.setitem(globals(), "act", other_act)  # the guard fails: compiled again
    assert g._run((W, x)) is MISS
    np.testing.assert_allclose(g(W, x), np.outer(np.cos(W @ x), x), rtol=1e-12)
    assert g._run((W, x)) is not MISS
    saved = registry.GENERATION[0]
    try:
        registry.GENERATION[0] += 1  # as when a rule is registered
        assert g._run((W, x)) is MISS
        np.testing.assert_allclose(g(W, x), np.outer(np.cos(W @ x), x), rtol=1e-12)
        assert g._run((W, x)) is not MISS
    finally:
        registry.GENERATION[0] = saved


def test_source_shows_the_code_the_latest_call_ran():
    g = chainrule.grad(dense, argnums=(0, 1))
    general = g.source
    assert "Specialised" not in general  # before any call: the general code
    g(*ARGS)
    variant = g.source
    assert variant.splitlines()[1].startswith("# Specialised variant, run when W is a 2-d array")
    assert "b and x are 1-d arrays (none with an axis" in variant
    assert "unbroadcast" not in variant.split("def ")[1] and "unbroadcast" in general
    assert g.general_source == general
    W, b, x = ARGS
    g(W[:1], b[:1], x)  # a batch of one runs the general code, and .source says so
    assert g.source == general
    g(*ARGS)
    assert g.source == variant
    assert chainrule.source(dense, argnums=(0, 1), example=ARGS) == variant
    assert chainrule.source(dense, argnums=(0, 1)) == general
    out = io.StringIO()
    chainrule.show(g, file=out)
    assert out.getvalue() == variant
    with pytest.raises(ValueError, match="example arguments"):
        chainrule.source(dense, mode="vjp", example=ARGS)


def test_the_variant_header_names_python_numbers():
    g = chainrule.grad(scaled)
    g(weights((5,)), 2.0)
    header = " ".join(line[2:] for line in g.source.splitlines()[1:4])
    assert header.startswith(
        "Specialised variant, run when x is a 1-d array (none with an axis of length 1); s is a "
        "Python number. Calls with arguments of other shapes or types run the general code"
    )
