"""Exported modules (chainrule.export): importable and correct where chainrule is not.

The exported module is imported in a subprocess in which a meta path finder
makes `import chainrule` fail, and its gradients are compared with the ones
chainrule computes in this process (which the rest of the suite checks
against finite differences; here they are checked too).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import NO_CHAINRULE

import chainrule
from chainrule import ExportError, export

MODEL = """\
import math

import numpy as np
import numpy.linalg as la

SCALE = 2.0
OFFSET = np.array([0.5, -0.25, 1.0])


def loss(W, b, x):
    z = W @ x + b + OFFSET
    return SCALE * np.sum(np.tanh(z) ** 2)


def rnn(Wh, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + xs[t])
    return np.sum(h ** 2)


def contract(A, B):
    return np.einsum("ij,jk->", A, B) + math.exp(1.0) * la.norm(A)


def pick(x, i):
    return x[i] * 3.0


def _private(x):
    return x


def unsupported(x):
    with open(__file__):
        pass
    return x
"""

# Make `import chainrule` fail, import the exported module, run its functions
# on pickled inputs and pickle the results.
RUNNER = (
    NO_CHAINRULE
    + """\
import pickle

try:
    import chainrule  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("chainrule should not be importable here")

sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
with open(sys.argv[3], "rb") as handle:
    calls = pickle.load(handle)
results = {}
for key, (name, args, cotangent) in calls.items():
    out = getattr(module, name)(*args)
    if name.startswith("vjp_"):
        value, backward = out
        out = (value, backward(cotangent))
    results[key] = out
assert not any(m == "chainrule" or m.startswith("chainrule.") for m in sys.modules)
with open(sys.argv[3] + ".out", "wb") as handle:
    pickle.dump(results, handle)
"""
)


@pytest.fixture
def model(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "expmodel.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop("expmodel", None)
    module = importlib.import_module("expmodel")
    yield module
    sys.modules.pop("expmodel", None)


def run_without_chainrule(folder: Path, module: str, calls: dict) -> dict:
    inputs = folder / "calls.pkl"
    inputs.write_bytes(pickle.dumps(calls))
    runner = folder / "runner.py"
    runner.write_text(RUNNER)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # not even the source tree
    proc = subprocess.run(
        [sys.executable, str(runner), str(folder), module, str(inputs)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=folder,
    )
    assert proc.returncode == 0, proc.stderr
    return pickle.loads((folder / "calls.pkl.out").read_bytes())


def assert_same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_exported_gradients_match_without_chainrule(model, tmp_path):
    folder = Path(model.__file__).parent
    result = export([(model.loss, (0, 1)), model.rnn, (model.contract, (0, 1))], folder / "g.py")
    assert result.names == [
        "grad_loss",
        "value_and_grad_loss",
        "vjp_loss",
        "grad_rnn",
        "value_and_grad_rnn",
        "vjp_rnn",
        "grad_contract",
        "value_and_grad_contract",
        "vjp_contract",
    ]
    rng = np.random.default_rng(3)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    Wh, xs = 0.5 * rng.normal(size=(3, 3)), rng.normal(size=(4, 3))
    A, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    cot = rng.normal()
    calls = {
        "grad_loss": ("grad_loss", (W, b, x), None),
        "vag_loss": ("value_and_grad_loss", (W, b, x), None),
        "vjp_loss": ("vjp_loss", (W, b, x), cot),
        "grad_rnn": ("grad_rnn", (Wh, xs), None),
        "vag_rnn": ("value_and_grad_rnn", (Wh, xs), None),
        "vjp_rnn": ("vjp_rnn", (Wh, xs), cot),
        "grad_contract": ("grad_contract", (A, B), None),
        "vjp_contract": ("vjp_contract", (A, B), cot),
    }
    got = run_without_chainrule(folder, "g", calls)
    expected = {
        "grad_loss": chainrule.grad(model.loss, argnums=(0, 1))(W, b, x),
        "vag_loss": chainrule.value_and_grad(model.loss, argnums=(0, 1))(W, b, x),
        "grad_rnn": chainrule.grad(model.rnn)(Wh, xs),
        "vag_rnn": chainrule.value_and_grad(model.rnn)(Wh, xs),
        "grad_contract": chainrule.grad(model.contract, argnums=(0, 1))(A, B),
    }
    for name, f, args in (("loss", model.loss, (W, b, x)), ("rnn", model.rnn, (Wh, xs))):
        out, backward = chainrule.vjp(f, *args)
        expected[f"vjp_{name}"] = (out, backward(cot))
    out, backward = chainrule.vjp(model.contract, A, B)
    expected["vjp_contract"] = (out, backward(cot))
    for key, value in expected.items():
        assert_same(got[key], value)
    # and the in-process gradients are right
    chainrule.check_grad(model.loss, W, b, x, argnums=(0, 1))
    chainrule.check_grad(model.rnn, Wh, xs, argnums=(0, 1))
    chainrule.check_grad(model.contract, A, B, argnums=(0, 1))


def test_the_module_is_self_contained_text(model, tmp_path):
    folder = Path(model.__file__).parent
    result = export([(model.loss, (0, 1)), model.contract], folder / "g.py")
    text = (folder / "g.py").read_text()
    assert text == result.text
    lines = text.splitlines()
    assert lines[0] == f"# Generated by chainrule {chainrule.__version__}. " + (
        "Do not edit: change the source and regenerate."
    )
    digest = hashlib.sha256(Path(model.__file__).read_bytes()).hexdigest()
    assert lines[1] == f"# source: expmodel.py (sha256 {digest})"
    assert result.sources == {model.__file__: digest}
    assert not re.search(r"^\s*(from|import) chainrule", text, re.M)
    # runtime helpers are copied, with the helpers and constants they use
    assert "def unbroadcast(" in text and "def einsum_grad(" in text
    assert "def _einsum_explicit(" in text and "_EINSUM_LETTERS = " in text
    assert "def prod_grad(" not in text  # only what is used
    # the user's globals come from the user's module, modules are imported
    assert "from expmodel import OFFSET, SCALE" in text
    assert "import math" in text and "import numpy.linalg as la" in text
    assert "grad_loss(W, b, x): grad of loss (expmodel.py:10)" in text
    compile(text, "g.py", "exec")


def test_a_module_exports_what_can_be_differentiated(model, tmp_path):
    out = tmp_path / "all_grads.py"
    result = export(model, out)
    assert "grad_pick" in result.names and "vjp_pick" not in result.names
    assert "grad_unsupported" not in result.names and "grad__private" not in result.names
    assert any(n.startswith("vjp_pick is not generated") for n in result.notes)
    assert any(n.startswith("skipped unsupported") for n in result.notes)
    assert "Note: vjp_pick is not generated" in out.read_text()


def test_named_functions_that_fail_are_errors(model, tmp_path):
    with pytest.raises(chainrule.CompileError, match="with"):
        export([model.unsupported], tmp_path / "g.py")
    with pytest.raises(chainrule.CompileError, match="index"):
        export([model.pick], tmp_path / "g.py", mode="vjp")
    assert not (tmp_path / "g.py").exists()


def test_modes(model, tmp_path):
    assert export(model.loss, tmp_path / "a.py", mode="grad").names == ["grad_loss"]
    assert export(model.loss, tmp_path / "b.py", mode="vjp").names == ["vjp_loss"]
    with pytest.raises(ValueError, match="mode"):
        export(model.loss, tmp_path / "c.py", mode="hessian")


def test_an_existing_file_is_only_replaced_if_chainrule_wrote_it(model, tmp_path):
    out = tmp_path / "g.py"
    out.write_text("# my own notes\n")
    with pytest.raises(ExportError, match="not generated by chainrule.*force"):
        export(model.loss, out)
    assert out.read_text() == "# my own notes\n"
    export(model.loss, out, force=True)
    assert out.read_text().startswith("# Generated by chainrule")
    export(model.rnn, out)  # ours: replaced without force
    assert "def grad_rnn(" in out.read_text() and "def grad_loss(" not in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["g.py"]  # no temporary files


def test_refuses_to_overwrite_or_shadow_the_source(model):
    source = Path(model.__file__)
    before = source.read_text()
    with pytest.raises(ExportError, match="shadow the module 'expmodel'"):
        export(model.loss, source, force=True)
    assert source.read_text() == before


def test_refuses_closures_and_name_clashes(tmp_path):
    scale = 3.0

    def scaled(x):
        return scale * x * x

    with pytest.raises(ExportError, match="scale"):
        export(scaled, tmp_path / "g.py")

    def loss(x):
        return x * x

    first = loss

    def loss(x):  # noqa: F811 - a second function of the same name
        return x * x * x

    with pytest.raises(ExportError, match="both be exported as 'grad_loss'"):
        export([first, loss], tmp_path / "g.py")


def test_output_must_be_a_python_file(model, tmp_path):
    with pytest.raises(ExportError, match=r"\.py"):
        export(model.loss, tmp_path / "g.txt")
    with pytest.raises(ExportError, match="no such directory"):
        export(model.loss, tmp_path / "missing" / "g.py")


def test_a_runtime_helper_under_another_name(tmp_path):
    """A user name `unbroadcast` makes the generated code call the helper `unbroadcast_1`."""
    path = tmp_path / "shadowing.py"
    path.write_text(
        textwrap.dedent("""\
        import numpy as np

        def f(x, b):
            unbroadcast = x + b
            return np.sum(unbroadcast * x)
        """)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("shadowing")
        result = export((module.f, (0, 1)), tmp_path / "shadowing_grad.py")
        rng = np.random.default_rng(0)
        x, b = rng.normal(size=(2, 3)), rng.normal(size=3)
        got = run_without_chainrule(tmp_path, "shadowing_grad", {"g": ("grad_f", (x, b), None)})[
            "g"
        ]
        assert_same(got, chainrule.grad(module.f, argnums=(0, 1))(x, b))
        chainrule.check_grad(module.f, x, b, argnums=(0, 1))
        assert "unbroadcast_1 = unbroadcast" in result.text
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("shadowing", None)
