"""The persistent cache (cache.py): hits, misses, invalidation, damaged files, concurrency.

Most tests run small programs in subprocesses, because the cache is about what
a *new* process finds.  Each test has its own cache directory (tmp_path); the
rest of the suite uses a session directory set up in conftest.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule import cache, pipeline
from chainrule.pipeline import CompileRequest

MODEL = """\
import numpy as np

def loss(W, x):
    return np.sum(np.tanh(W @ x) ** 2)

def other(v):
    return np.sum(np.sin(v) * v)
"""

# Compile the gradients of the model, check them against finite differences,
# and print what the cache did in this process.
DRIVER = """\
import json, sys
import numpy as np
import chainrule
from chainrule import cache
sys.path.insert(0, sys.argv[1])
import model

rng = np.random.default_rng(0)
W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
chainrule.check_grad(model.loss, W, x, argnums=(0, 1))
chainrule.check_grad(model.other, rng.normal(size=5))
value, dW = chainrule.value_and_grad(model.loss)(W, x)
assert np.isclose(value, model.loss(W, x))
print(json.dumps(cache.stats))
"""


def run_driver(folder: Path, cache_dir: Path, **env: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(folder / "driver.py"), str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "CHAINRULE_CACHE_DIR": str(cache_dir), **env},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "model.py").write_text(MODEL)
    (folder / "driver.py").write_text(DRIVER)
    return folder


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.json"))


def test_second_process_uses_the_cache(project, tmp_path):
    cache_dir = tmp_path / "cache"
    first = run_driver(project, cache_dir)
    assert first["hits"] == 0 and first["misses"] > 0
    assert first["stores"] == first["misses"]
    stored = entries(cache_dir)
    assert len(stored) == first["stores"]
    second = run_driver(project, cache_dir)
    assert second == {"hits": first["misses"], "misses": 0, "stores": 0, "rejected": 0}
    assert entries(cache_dir) == stored
    assert not list(cache_dir.glob(".tmp-*")), "temporary files are renamed or removed"


def test_editing_the_source_invalidates(project, tmp_path):
    cache_dir = tmp_path / "cache"
    run_driver(project, cache_dir)
    (project / "model.py").write_text(MODEL.replace("np.tanh(W @ x) ** 2", "np.cos(W @ x) ** 3"))
    after = run_driver(project, cache_dir)  # check_grad inside: the new gradient is right
    assert after["hits"] == 0 and after["misses"] > 0


def test_a_global_changing_meaning_invalidates(tmp_path):
    """`act = np.tanh` or `np.sin` by configuration: same file, different gradient code."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "model.py").write_text(
        textwrap.dedent("""\
        import os
        import numpy as np

        act = np.sin if os.environ.get("ACT") == "sin" else np.tanh

        def loss(W, x):
            return np.sum(act(W @ x) ** 2)

        def other(v):
            return np.sum(v * v)
        """)
    )
    (folder / "driver.py").write_text(DRIVER)
    cache_dir = tmp_path / "cache"
    run_driver(folder, cache_dir)
    switched = run_driver(folder, cache_dir, ACT="sin")  # check_grad would fail on a stale hit
    assert switched["misses"] > 0
    again = run_driver(folder, cache_dir, ACT="sin")
    assert again["misses"] == 0 and again["hits"] > 0


def test_off_switch(project, tmp_path):
    cache_dir = tmp_path / "cache"
    stats = run_driver(project, cache_dir, CHAINRULE_CACHE="0")
    assert stats == {"hits": 0, "misses": 0, "stores": 0, "rejected": 0}
    assert not cache_dir.exists()


def test_a_damaged_entry_is_ignored_and_regenerated(project, tmp_path):
    cache_dir = tmp_path / "cache"
    run_driver(project, cache_dir)
    files = entries(cache_dir)
    truncated, edited, garbage = files[0], files[1], files[2]
    text = truncated.read_text()
    truncated.write_text(text[: len(text) // 2])
    # Valid JSON, wrong hash: code that would announce itself if it ever ran.
    payload = edited.read_text().replace("return ", "print('TAMPERED') or ", 1)
    edited.write_text(payload)
    garbage.write_bytes(b"\x00\xff not a cache entry")
    proc = subprocess.run(
        [sys.executable, str(project / "driver.py"), str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "CHAINRULE_CACHE_DIR": str(cache_dir)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "TAMPERED" not in proc.stdout
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["rejected"] == 3 and stats["stores"] == 3
    # rewritten whole: the next process uses all of them
    assert run_driver(project, cache_dir)["rejected"] == 0


def test_processes_filling_the_cache_at_once(project, tmp_path):
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "CHAINRULE_CACHE_DIR": str(cache_dir)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(project / "driver.py"), str(project)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    after = run_driver(project, cache_dir)
    assert after["misses"] == 0 and after["rejected"] == 0 and after["hits"] > 0
    assert not list(cache_dir.glob(".tmp-*"))


def test_the_cache_directory_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAINRULE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == tmp_path / "xdg" / "chainrule"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if os.name != "nt":
        assert cache.directory() == tmp_path / "home" / ".cache" / "chainrule"
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.directory() == tmp_path / "mine"


# -- in-process: what is stored and what makes a key ---------------------------------------


def tanh_loss(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    pipeline._cache.clear()


def test_a_stored_function_rebuilds_to_the_same_code(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)
    request = CompileRequest(tanh_loss, (0, 1), "grad", True)
    compiled = pipeline.compile_function(request)
    disk_key = cache.key_for(tanh_loss, pipeline.compile_key(request))
    loaded = cache.load(tanh_loss, disk_key)
    assert loaded is not None
    assert loaded.source == compiled.source
    assert (loaded.params, loaded.argnums, loaded.indexed) == (
        compiled.params,
        compiled.argnums,
        compiled.indexed,
    )
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    for a, b in zip(loaded.function(W, x), compiled.function(W, x)):
        np.testing.assert_allclose(a, b)


def test_a_changed_dependency_invalidates(monkeypatch, tmp_path):
    """Entries record a hash of each file in Compiled.dependencies (inlined helpers)."""
    fresh(monkeypatch, tmp_path / "cache")
    helper_file = tmp_path / "mylib.py"
    helper_file.write_text("def helper(v):\n    return v * 2.0\n")
    compiled = pipeline.compile_function(CompileRequest(tanh_loss, (0,), "grad", False))
    with_dep = dataclasses.replace(compiled, dependencies=(str(helper_file),))
    key = "0" * 64
    assert cache.store(tanh_loss, key, with_dep)
    loaded = cache.load(tanh_loss, key)
    assert loaded is not None and loaded.dependencies == (str(helper_file),)
    helper_file.write_text("def helper(v):\n    return v * 3.0\n")
    assert cache.load(tanh_loss, key) is None
    helper_file.unlink()
    assert cache.load(tanh_loss, key) is None


def test_keys_differ_by_options_and_by_function(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)

    def a(x):
        return x * 3.0

    def b(x):
        return x * 4.0

    grad = ((0,), "grad", False, "astor", ())
    vag = ((0,), "value_and_grad", False, "astor", ())
    keys = {cache.key_for(a, grad), cache.key_for(a, vag), cache.key_for(b, grad)}
    assert len(keys) == 3 and None not in keys
    assert cache.key_for(a, grad) == cache.key_for(a, grad)
    f, g = (lambda x: x * 3.0), (lambda x: x * x)  # two lambdas on one line
    assert cache.key_for(f, grad) != cache.key_for(g, grad)


def test_user_rules_are_part_of_the_key(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)
    options = ((0,), "grad", False, "astor", ())

    def scaled(v):
        return np.sum(v * 2.0)

    before = cache.key_for(scaled, options)
    from chainrule.rules import ADJOINTS

    def novel(x):
        return x

    try:

        @chainrule.adjoint(novel)
        def _novel_rule(y, x):
            """identity"""
            dx = dy  # noqa: F821, F841

        assert cache.key_for(scaled, options) != before
    finally:
        del ADJOINTS[novel]
    assert cache.key_for(scaled, options) == before


def test_functions_without_a_file_are_not_cached(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)
    namespace: dict = {}
    exec("def f(x):\n    return x * x\n", namespace)
    assert cache.key_for(namespace["f"], ((0,), "grad", False, "astor", ())) is None
    assert cache.key_for(np.sin, ((0,), "grad", False, "astor", ())) is None


def test_disabled_in_process(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)
    monkeypatch.setenv("CHAINRULE_CACHE", "off")
    assert not cache.enabled()
    assert cache.key_for(tanh_loss, ((0,), "grad", False, "astor", ())) is None
    chainrule.grad(tanh_loss)(np.ones((2, 2)), np.ones(2))
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_is_not_an_error(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    fresh(monkeypatch, blocker / "cache")
    g = chainrule.grad(tanh_loss)(np.ones((2, 2)), np.ones(2))
    assert g.shape == (2, 2)


def test_clear(monkeypatch, tmp_path):
    fresh(monkeypatch, tmp_path)
    chainrule.grad(tanh_loss)(np.ones((2, 2)), np.ones(2))
    stored = entries(tmp_path)
    assert stored
    assert cache.clear() == len(stored)
    assert entries(tmp_path) == []


def test_bench_cache_runs(tmp_path):
    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cache.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(bench), "--rounds", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cold/warm" in proc.stdout and "RNN loop" in proc.stdout
    assert "(0 misses, 0 rejected)" in proc.stdout
    data = json.loads(out.read_text())
    assert set(data["median_ms"]) == {"cold", "warm", "off"}


def test_the_module_name_is_part_of_the_key(monkeypatch, tmp_path):
    """The shown source imports globals from the module: `model` or `pkg.model`."""
    import importlib.util

    fresh(monkeypatch, tmp_path / "cache")
    path = tmp_path / "twice.py"
    path.write_text("import numpy as np\nK = 2.0\n\ndef f(x):\n    return K * np.sum(x * x)\n")
    keys = []
    for name in ("twice", "pkg_twice"):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        keys.append(cache.key_for(module.f, ((0,), "grad", False, "astor", ())))
        assert f"from {name} import K" in chainrule.source(module.f)
    assert keys[0] != keys[1]


def test_editing_an_inlined_helper_in_another_module_invalidates(tmp_path):
    """The gradient inlines mylib.layer: an edit there must not reuse the old code."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mylib.py").write_text(
        "import numpy as np\n\ndef layer(W, x):\n    return np.tanh(W @ x)\n"
    )
    (folder / "model.py").write_text(
        "import numpy as np\nfrom mylib import layer\n\n"
        "def loss(W, x):\n    return np.sum(layer(W, x) ** 2)\n\n"
        "def other(v):\n    return np.sum(v * v)\n"
    )
    (folder / "driver.py").write_text(DRIVER)
    cache_dir = tmp_path / "cache"
    first = run_driver(folder, cache_dir)
    assert first["stores"] > 0
    assert run_driver(folder, cache_dir)["hits"] > 0
    (folder / "mylib.py").write_text(
        "import numpy as np\n\ndef layer(W, x):\n    return np.sin(W @ x) * 3.0\n"
    )
    after = run_driver(folder, cache_dir)  # check_grad inside: the new gradient is right
    assert after["rejected"] > 0 or after["misses"] > 0


def test_a_transformed_function_is_not_confused_with_its_original(monkeypatch, tmp_path):
    """grad(f) wraps f (__wrapped__): jacfwd(grad(f)) must not load jacfwd(f)'s entry."""
    fresh(monkeypatch, tmp_path)

    def cubic(x):
        return np.sin(x) * x**3

    chainrule.jacfwd(cubic)(0.5)  # stores the forward-mode code of cubic itself
    h = chainrule.hessian(cubic)(0.8)
    x = 0.8
    exact = -np.sin(x) * x**3 + 6 * np.cos(x) * x**2 + 6 * np.sin(x) * x
    np.testing.assert_allclose(h, exact, rtol=1e-12)
