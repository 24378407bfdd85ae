"""Guards (issue 13): compiled code is never stale.

Every name chainrule resolved when compiling (a global, an attribute chain such as
`cfg.act`, a closure cell, a helper it inlined and that helper's own globals and
defaults, the code object) is checked at each call; a changed binding compiles
(and caches) another variant.  A file whose text no longer matches the code that
runs is noticed when compiling and when loading from the disk cache.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import write_module

import chainrule
from chainrule import CompileError, pipeline
from chainrule.guards import resolutions

X = np.array([0.3, -0.7, 1.1])


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """tmp_path on sys.path, with modules imported from it forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_module_attribute_rebound(on_path):
    write(on_path, "g_cfg", "import numpy as np\nact = np.tanh\n")
    write(
        on_path,
        "g_model",
        """
        import numpy as np
        import g_cfg as cfg

        def f(x):
            return np.sum(cfg.act(x))
        """,
    )
    import g_cfg
    import g_model

    g = chainrule.grad(g_model.f)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2)
    g_cfg.act = np.sin
    np.testing.assert_allclose(g(X), np.cos(X))
    # the other public entry points see the new binding too
    np.testing.assert_allclose(chainrule.value_and_grad(g_model.f)(X)[1], np.cos(X))
    _, back = chainrule.vjp(g_model.f, X)
    np.testing.assert_allclose(back(1.0)[0], np.cos(X))
    np.testing.assert_allclose(chainrule.jvp(g_model.f, (X,), (np.ones(3),))[1], np.sum(np.cos(X)))
    np.testing.assert_allclose(chainrule.hessian(g_model.f)(X), np.diag(-np.sin(X)))
    # back to tanh: the first variant is still cached, nothing is compiled
    g_cfg.act = np.tanh
    compiles = pipeline.stats["compiles"]
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2)
    assert pipeline.stats["compiles"] == compiles


def test_global_alias_rebound(tmp_path):
    f = write_module(
        tmp_path,
        """
        import numpy as np
        act = np.tanh

        def f(x):
            return np.sum(act(x) * 2.0)
        """,
        "f",
    )
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), 2 * (1 - np.tanh(X) ** 2))
    f.__globals__["act"] = np.sin
    np.testing.assert_allclose(g(X), 2 * np.cos(X))


def test_helper_replaced(tmp_path):
    f = write_module(
        tmp_path,
        """
        import numpy as np

        def helper(v):
            return np.sin(v)

        def other(v):
            return v ** 3

        def f(x):
            return np.sum(helper(x))
        """,
        "f",
    )
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), np.cos(X))
    f.__globals__["helper"] = f.__globals__["other"]
    np.testing.assert_allclose(g(X), 3 * X**2)


def test_helper_module_reloaded(on_path):
    lib = write(on_path, "g_lib", "import numpy as np\n\ndef helper(v):\n    return np.sin(v)\n")
    write(
        on_path,
        "g_user",
        """
        import numpy as np
        import g_lib

        def f(x):
            return np.sum(g_lib.helper(x) * x)
        """,
    )
    import g_lib
    import g_user

    g = chainrule.grad(g_user.f)
    np.testing.assert_allclose(g(X), np.cos(X) * X + np.sin(X))
    lib.write_text("import numpy as np\n\ndef helper(v):\n    return np.exp(v) + 1.0\n")
    importlib.reload(g_lib)
    np.testing.assert_allclose(g(X), np.exp(X) * X + np.exp(X) + 1.0)


def test_nonlocal_cell_rebound(tmp_path):
    make = write_module(
        tmp_path,
        """
        import numpy as np

        def make():
            act = np.tanh

            def f(x):
                return np.sum(act(x))

            def switch():
                nonlocal act
                act = np.sin

            return f, switch
        """,
        "make",
    )
    f, switch = make()
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2)
    switch()
    np.testing.assert_allclose(g(X), np.cos(X))


def test_defaults_changed(tmp_path):
    f = write_module(
        tmp_path,
        """
        import numpy as np

        def f(x, a=2.0):
            return np.sum(a * x ** 2)
        """,
        "f",
    )
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), 4 * X)
    f.__defaults__ = (3.0,)
    np.testing.assert_allclose(g(X), 6 * X)
    _, back = chainrule.vjp(f, X)
    np.testing.assert_allclose(back(1.0)[0], 6 * X)


def test_inlined_helpers_defaults_and_globals(on_path):
    write(
        on_path,
        "g_helpers",
        """
        import numpy as np
        scale = 2.0
        act = np.tanh

        def helper(v, p=2.0):
            return scale * act(v) ** p
        """,
    )
    write(
        on_path,
        "g_caller",
        """
        import numpy as np
        from g_helpers import helper

        def f(x):
            return np.sum(helper(x))
        """,
    )
    import g_caller
    import g_helpers

    def expected(scale, act, dact, p):
        return scale * p * act(X) ** (p - 1) * dact(X)

    g = chainrule.grad(g_caller.f)
    sech2 = lambda v: 1 - np.tanh(v) ** 2  # noqa: E731
    np.testing.assert_allclose(g(X), expected(2.0, np.tanh, sech2, 2.0))
    g_helpers.scale = 3.0
    np.testing.assert_allclose(g(X), expected(3.0, np.tanh, sech2, 2.0))
    g_helpers.act = np.sin
    np.testing.assert_allclose(g(X), expected(3.0, np.sin, np.cos, 2.0))
    g_helpers.helper.__defaults__ = (3.0,)
    np.testing.assert_allclose(g(X), expected(3.0, np.sin, np.cos, 3.0))


def test_code_replaced(tmp_path):
    f = write_module(
        tmp_path,
        """
        import numpy as np

        def f(x):
            return np.sum(np.sin(x))

        def other(x):
            return np.sum(np.exp(x))
        """,
        "f",
    )
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), np.cos(X))
    f.__code__ = f.__globals__["other"].__code__
    np.testing.assert_allclose(g(X), np.exp(X))


def test_data_rebound_is_read_live_without_recompiling(tmp_path):
    """An array global the generated code reads at run time is guarded by its type
    only: rebinding it (a training loop) compiles nothing."""
    f = write_module(
        tmp_path,
        """
        import numpy as np
        W = np.ones(3)

        def f(x):
            return np.sum(W * np.sin(x))
        """,
        "f",
    )
    g = chainrule.grad(f)
    np.testing.assert_allclose(g(X), np.cos(X))
    compiles = pipeline.stats["compiles"]
    for k in range(3):
        f.__globals__["W"] = np.full(3, float(k))
        np.testing.assert_allclose(g(X), k * np.cos(X))
    assert pipeline.stats["compiles"] == compiles


TANH = "import numpy as np\n\ndef f(x):\n    return np.sum(np.tanh(x))\n"


def test_bound_method_attributes(tmp_path):
    """grad(model.loss): `self.act` is a resolution, `self.W` data read live."""
    Model = write_module(
        tmp_path,
        """
        import numpy as np

        class Model:
            def __init__(self):
                self.act = np.tanh
                self.W = np.ones(3)

            def loss(self, x):
                return np.sum(self.act(self.W * x))
        """,
        "Model",
    )
    model = Model()
    g = chainrule.grad(model.loss)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2)
    compiles = pipeline.stats["compiles"]
    model.W = np.full(3, 2.0)
    np.testing.assert_allclose(g(X), 2 * (1 - np.tanh(2 * X) ** 2))
    assert pipeline.stats["compiles"] == compiles
    model.act = np.sin
    np.testing.assert_allclose(g(X), 2 * np.cos(2 * X))


def _same_size_and_mtime(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert len(old) == len(new) and old in text
    st = os.stat(path)
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size


def test_file_edited_with_same_size_and_mtime(on_path):
    path = write(on_path, "g_edit", TANH)
    import g_edit

    np.testing.assert_allclose(chainrule.grad(g_edit.f)(X), 1 - np.tanh(X) ** 2)  # file read
    _same_size_and_mtime(path, "np.tanh", "np.sinh")
    importlib.reload(g_edit)  # no bytecode cache: the new text is compiled
    np.testing.assert_allclose(chainrule.grad(g_edit.f)(X), np.cosh(X))


def test_file_edited_without_reloading_is_refused(on_path):
    path = write(on_path, "g_stale", TANH)
    import g_stale

    _same_size_and_mtime(path, "np.tanh", "np.sinh")
    with pytest.raises(CompileError) as info:
        chainrule.grad(g_stale.f)(X)
    message = str(info.value)
    assert "g_stale.py" in message and "changed" in message and "reload" in message


def test_resolutions_name_what_they_guard(tmp_path):
    f = write_module(
        tmp_path,
        """
        import numpy as np
        act = np.tanh

        def helper(v, s=2.0):
            return s * np.exp(v)

        def f(x):
            return np.sum(act(x) + helper(x))
        """,
        "f",
    )
    shown = {r.label for r in resolutions(f)}
    for expected in ("f.__code__", "f.__defaults__", "act", "np", "np.exp", "helper.__defaults__"):
        assert any(label.endswith(expected) for label in shown), (expected, shown)


# -- decorators: differentiate what the user calls -----------------------------------


def double(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


def times_ten(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return fn(x) * 10.0

    return wrapper


@double
@times_ten
@double
def squares(x):
    return np.sum(x**2)


def test_stacked_wraps_decorators_are_differentiated():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(squares(x), 40.0 * np.sum(x**2))
    np.testing.assert_allclose(chainrule.grad(squares)(x), [80.0, 160.0])


def passthrough(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


@passthrough
def wrapped(x):
    return np.sum(x**2)


def test_an_opaque_wrapper_is_refused_where_it_is():
    with pytest.raises(CompileError) as info:
        chainrule.grad(wrapped)(np.ones(2))
    error = info.value
    assert error.filename == __file__
    assert error.source_line is not None and "*args" in error.source_line
    message = str(error)
    assert "wrapped" in message and "decorat" in message and "grad" in message


# -- valid calls (item 3) ---------------------------------------------------------------


def with_defaults(x, a=1.0, b=2.0):
    return np.sum(a * x**2 + b * x)


def test_keywords_and_defaults():
    np.testing.assert_allclose(chainrule.grad(with_defaults)(X, b=5.0), 2 * X + 5.0)
    _, back = chainrule.vjp(with_defaults, X)
    np.testing.assert_allclose(back(1.0)[0], 2 * X + 2.0)


# -- the disk cache, across processes ------------------------------------------------

MAIN = """\
import numpy as np
import g_conf
from g_lib2 import helper


def f(x):
    return np.sum(g_conf.act(x) + helper(x))


def square(v):
    return v * v


def cube(v):
    return v * v * v


use = square


def g(x):
    return np.sum(use(x))


def make(act):
    def h(x):
        return np.sum(act(x))

    return h


def d(x, a=2.0):
    return np.sum(a * x * x)
"""

# Bind everything one way or the other (VARIANT 0 or 1), then print the gradients.
DRIVER = """\
import json, os, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import chainrule
from chainrule import cache
import g_conf, g_lib2, g_main

v = int(os.environ["VARIANT"])
g_conf.act = [np.tanh, np.sin][v]
g_lib2.scale = [2.0, 3.0][v]
g_main.use = [g_main.square, g_main.cube][v]
h = g_main.make([np.tanh, np.sin][v])
g_main.d.__defaults__ = [(2.0,), (3.0,)][v]
x = np.array([0.3, -0.7, 1.1])
out = {n: chainrule.grad(fn)(x).tolist() for n, fn in
       [("f", g_main.f), ("g", g_main.g), ("h", h), ("d", g_main.d)]}
print(json.dumps({"grads": out, "stats": cache.stats}))
"""


def expected_grads(v: int) -> dict:
    act, dact = [(np.tanh, lambda t: 1 - np.tanh(t) ** 2), (np.sin, np.cos)][v]
    scale = [2.0, 3.0][v]
    return {
        "f": dact(X) + 2 * scale * X,
        "g": [2 * X, 3 * X**2][v],
        "h": dact(X),
        "d": 2 * [2.0, 3.0][v] * X,
    }


def test_disk_cache_across_processes_with_changed_bindings(tmp_path):
    """Each change of binding, in a new process reading the cache the first one filled."""
    folder = tmp_path / "project"
    folder.mkdir()
    write(folder, "g_conf", "import numpy as np\nact = np.tanh\n")
    write(folder, "g_lib2", "scale = 1.0\n\ndef helper(v):\n    return scale * v * v\n")
    (folder / "g_main.py").write_text(MAIN)
    (folder / "driver.py").write_text(DRIVER)
    cache_dir = tmp_path / "cache"

    def run(variant: int) -> dict:
        proc = subprocess.run(
            [sys.executable, str(folder / "driver.py"), str(folder)],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "CHAINRULE_CACHE_DIR": str(cache_dir),
                "VARIANT": str(variant),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def check(result: dict, variant: int) -> None:
        for name, grad in expected_grads(variant).items():
            np.testing.assert_allclose(result["grads"][name], grad, err_msg=name)

    first = run(0)
    check(first, 0)
    assert first["stats"]["stores"] == 4
    again = run(0)
    check(again, 0)
    assert again["stats"]["hits"] == 4 and again["stats"]["stores"] == 0
    changed = run(1)  # every binding differs: nothing from the first process is used
    check(changed, 1)
    assert changed["stats"]["hits"] == 0
    # the file edited between processes, keeping its size and modification time
    _same_size_and_mtime(folder / "g_main.py", "a * x * x", "a * x + x")
    edited = run(0)
    np.testing.assert_allclose(edited["grads"]["d"], np.full(3, 3.0))  # a + 1
    for name in ("f", "g", "h"):
        np.testing.assert_allclose(edited["grads"][name], expected_grads(0)[name], err_msg=name)
