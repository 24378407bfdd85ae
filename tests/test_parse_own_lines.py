"""A function is read from its own lines, not by parsing and walking its whole module
(parse._own_tree; issue 14 item 7: per-function cost must not grow with the file).

Its own lines are trusted only when they compile to the function's code; otherwise
(closures, methods using super(), lambdas) the whole module is read, as before.
Positions stay the file's, so errors point where they did.
"""

from __future__ import annotations

import ast

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import import_file, weights

import chainrule
from chainrule import CompileError, parse

SOURCE = '''\
from __future__ import annotations

import numpy as np
from numpy import (
    tanh,
)


def filler(x):
    return np.sin(x)


@staticmethod
def decorated(x):
    return np.sum(tanh(x) ** 2)


def top(x, W):
    """A docstring."""
    h = np.tanh(W @ x)
    return np.sum(
        h * h
    )


class Model:
    def __init__(self, W):
        self.W = W

    def loss(self, x):
        h = np.tanh(self.W @ x)
        return np.sum(h * h)

    def loss_super(self, x):
        super().__init__(self.W)
        return np.sum(self.W @ x)


def outer(k):
    def inner(x):
        return np.sum(np.sin(k * x))

    return inner


lam = lambda x: np.sum(x * x)  # noqa: E731


def refused(x):
    y = {i: v for i, v in enumerate(x)}
    return np.sum(y[0])
'''


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "own_lines_module.py"
    path.write_text(SOURCE)
    return import_file(path, "own_lines_module")


def _no_module_walk(monkeypatch):
    def whole_module(*args):
        raise AssertionError("the whole module was parsed")

    monkeypatch.setattr(parse, "_module_tree", whole_module)


def test_top_level_functions_and_methods_are_read_from_their_own_lines(module, monkeypatch):
    W, x = weights((3, 3)), weights((3,), 1)
    funcs = [module.top, module.Model(W).loss, module.decorated.__func__]
    full = {f.__name__: parse.parse_function(f).node for f in funcs}  # (may use either)
    _no_module_walk(monkeypatch)
    for f in funcs:
        node = parse.parse_function(f).node
        assert ast.dump(node, include_attributes=True) == ast.dump(
            full[f.__name__], include_attributes=True
        )
    got = chainrule.grad(module.top, argnums=(0, 1))(x, W)

    def top_ag(x, W):
        h = anp.tanh(W @ x)
        return anp.sum(h * h)

    for a, e in zip(got, autograd.grad(top_ag, (0, 1))(x, W)):
        np.testing.assert_allclose(a, e, rtol=1e-12)
    np.testing.assert_allclose(
        chainrule.grad(module.Model(W).loss)(x), autograd.grad(top_ag)(x, W), rtol=1e-12
    )


def test_closures_lambdas_and_super_read_the_whole_module(module):
    inner = module.outer(2.0)
    for f in (inner, module.lam, module.Model.loss_super):
        code = f.__code__
        lines = parse.inspect.findsource(f)[0]
        assert parse._own_tree(code, lines) is None, f
        assert parse.parse_function(f).node is not None
    x = weights((3,))
    np.testing.assert_allclose(chainrule.grad(inner)(x), 2.0 * np.cos(2.0 * x), rtol=1e-12)


def test_errors_point_at_the_users_line(module, monkeypatch):
    _no_module_walk(monkeypatch)
    with pytest.raises(CompileError) as info:
        chainrule.grad(module.refused)(weights((3,)))
    line = "    y = {i: v for i, v in enumerate(x)}"
    assert info.value.lineno == SOURCE.splitlines().index(line) + 1
    assert info.value.source_line.strip() == line.strip()


def test_a_file_changed_since_import_is_still_noticed(module, tmp_path):
    path = tmp_path / "own_lines_module.py"
    path.write_text(SOURCE.replace("np.sin(x)", "np.cos(x)"))
    parse.linecache.checkcache(str(path))
    with pytest.raises(CompileError, match="has changed since it was defined"):
        chainrule.grad(module.filler)(weights((3,)))
