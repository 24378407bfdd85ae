"""Exported modules with specialised variants and a dispatch on their kinds
(export_variants.py): the variant runs for arguments of its kinds, the general code
for the others, both give the gradients autograd and finite differences give, and
the module still runs without chainrule."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from test_cli import run as run_cli
from test_export import run_without_chainrule

import chainrule
from chainrule import ExportError, export

MODEL = """\
import numpy as np


def loss(W, b, x, c):
    h = np.tanh(np.dot(W, x) + b)
    return np.sum(h * h) * c


def batch(X, w, b):
    z = X.dot(w) + b
    return np.mean(np.log(1.0 + np.exp(-z)))
"""


def loss_oracle(W, b, x, c):
    h = anp.tanh(anp.dot(W, x) + b)
    return anp.sum(h * h) * c


@pytest.fixture
def model(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "varmodel.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(folder))
    for name in ("varmodel", "vg"):
        sys.modules.pop(name, None)
    yield importlib.import_module("varmodel")
    for name in ("varmodel", "vg"):
        sys.modules.pop(name, None)


def counting(module, names):
    """Wrap module-level functions to count their calls."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        inner = getattr(module, name)

        def wrapper(*args, _inner=inner, _name=name):
            calls[_name] += 1
            return _inner(*args)

        setattr(module, name, wrapper)
    return calls


def central_differences(f, args, i, eps=1e-6):
    x = np.array(args[i], dtype=float)
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[k] += eps
        down[k] -= eps
        hi = f(*args[:i], up, *args[i + 1 :])
        lo = f(*args[:i], down, *args[i + 1 :])
        out[k] = (hi - lo) / (2 * eps)
    return out


def test_the_variant_runs_for_its_kinds_and_the_general_code_for_others(model, tmp_path):
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    folder = Path(model.__file__).parent
    result = export([(model.loss, (0, 1))], folder / "vg.py", examples={model.loss: (W, b, x, 2.0)})
    assert result.names == ["grad_loss", "value_and_grad_loss", "vjp_loss"]  # public only
    text = result.text
    assert "def _grad_loss_1(W, b, x, c):" in text and "def _grad_loss_general(" in text
    assert "def _value_and_grad_loss_1(" in text and "_vjp_loss_1" not in text
    vg = importlib.import_module("vg")
    calls = counting(vg, ["_grad_loss_1", "_grad_loss_general"])
    oracle = autograd.grad(loss_oracle, (0, 1))
    cases = [
        ((W, b, x, 2.0), "_grad_loss_1"),  # the example's kinds
        ((rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=2), 3), "_grad_loss_1"),
        ((rng.normal(size=(1, 4)), rng.normal(size=1), x, 2.0), "_grad_loss_general"),  # a 1
        ((W, b, x, np.float64(2.0)), "_grad_loss_general"),  # not a Python number
        ((W, b[None, :], x, 2.0), "_grad_loss_general"),  # another rank
    ]
    for args, ran in cases:
        before = dict(calls)
        got = vg.grad_loss(*args)
        assert {k: calls[k] - before[k] for k in calls} == {k: int(k == ran) for k in calls}, args
        expected = oracle(*args)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert np.shape(g) == np.shape(args[i])
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
            fd = central_differences(model.loss, args, i)
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    value, grads = vg.value_and_grad_loss(W, b, x, 2.0)
    assert value == pytest.approx(model.loss(W, b, x, 2.0))
    for g, e in zip(grads, chainrule.grad(model.loss, (0, 1))(W, b, x, 2.0)):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def test_the_variant_is_the_code_source_shows_for_the_example(model, tmp_path):
    rng = np.random.default_rng(1)
    example = (rng.normal(size=(6, 3)), rng.normal(size=3), 0.5)
    result = export(
        [model.batch], tmp_path / "project" / "vg.py", mode="grad", examples={"batch": example}
    )
    shown = chainrule.source(model.batch, example=example)
    definition = shown[shown.index("def grad_batch(") :].rstrip("\n")
    assert definition.replace("def grad_batch(", "def _grad_batch_1(", 1) in result.text
    assert "(_grad_batch_general)" in result.text  # the header names the general code
    general = chainrule.source(model.batch)
    definition = general[general.index("def grad_batch(") :].rstrip("\n")
    assert definition.replace("def grad_batch(", "def _grad_batch_general(", 1) in result.text


def test_several_examples_make_one_variant_per_kinds(model, tmp_path):
    rng = np.random.default_rng(2)
    matrix = (rng.normal(size=(6, 3)), rng.normal(size=3), 0.5)
    same_kinds = (rng.normal(size=(4, 2)), rng.normal(size=2), 1.5)
    vector = (rng.normal(size=3), rng.normal(size=3), 0.5)
    folder = Path(model.__file__).parent
    result = export(
        [model.batch],
        folder / "vg.py",
        mode="grad",
        examples={model.batch: [matrix, same_kinds, vector]},
    )
    assert "def _grad_batch_2(" in result.text and "_grad_batch_3" not in result.text
    vg = importlib.import_module("vg")
    calls = counting(vg, ["_grad_batch_1", "_grad_batch_2", "_grad_batch_general"])
    for args, ran in ((same_kinds, "_grad_batch_1"), (vector, "_grad_batch_2")):
        got = vg.grad_batch(*args)
        assert calls[ran] == 1
        np.testing.assert_allclose(got, chainrule.grad(model.batch)(*args), rtol=1e-12)
        np.testing.assert_allclose(got, central_differences(model.batch, args, 0), rtol=1e-5)
    assert calls["_grad_batch_general"] == 0


def test_the_module_with_variants_runs_without_chainrule(model):
    rng = np.random.default_rng(3)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    folder = Path(model.__file__).parent
    export([(model.loss, (0, 1))], folder / "vg.py", examples={"loss": (W, b, x, 2.0)})
    W1, b1 = rng.normal(size=(1, 4)), rng.normal(size=1)
    calls = {
        "variant": ("grad_loss", (W, b, x, 2.0), None),
        "general": ("grad_loss", (W1, b1, x, 2.0), None),
    }
    got = run_without_chainrule(folder, "vg", calls)
    for key, args in (("variant", (W, b, x, 2.0)), ("general", (W1, b1, x, 2.0))):
        for g, e in zip(got[key], autograd.grad(loss_oracle, (0, 1))(*args)):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_examples_that_cannot_make_a_variant_are_refused(model, tmp_path):
    out = tmp_path / "project" / "vg.py"
    x = np.ones(3)
    with pytest.raises(ExportError, match="arrays and Python numbers only"):
        export([model.batch], out, examples={model.batch: ({"X": x}, x, 1.0)})
    with pytest.raises(ExportError, match="not one of the functions exported"):
        export([model.batch], out, examples={"los": (x, x, 1.0)})
    with pytest.raises(ExportError, match="a tuple of arguments, or a list"):
        export([model.batch], out, examples={"batch": x})
    with pytest.raises(ExportError, match="must be a dict"):
        export([model.batch], out, examples=[(x, x, 1.0)])
    with pytest.raises(ExportError, match="grad and value_and_grad only"):
        export([model.batch], out, mode="vjp", examples={"batch": (x, x, 1.0)})
    assert not out.exists()


def test_compile_with_an_example_call(model):
    folder = Path(model.__file__).parent
    shapes = ["--shape", "X=6x3", "--shape", "w=3", "--value", "b=0.5"]
    proc = run_cli("compile", "varmodel.py", "-o", "vg.py", "-f", "batch", *shapes, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    text = (folder / "vg.py").read_text()
    assert "def _grad_batch_1(X, w, b):" in text
    assert "# command: chainrule compile varmodel.py -o vg.py -f batch --shape X=6x3" in text
    proc = run_cli("verify", "vg.py", cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_cli("compile", "varmodel.py", "-o", "vg2.py", *shapes, cwd=folder)
    assert proc.returncode == 2 and "name it with -f NAME" in proc.stderr
    assert "Traceback" not in proc.stderr and not (folder / "vg2.py").exists()
