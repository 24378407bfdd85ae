"""The functions grad, value_and_grad, jacfwd, jacrev, hessian (and jvp, vjp, hvp
themselves) make pickle by reference to the differentiated function (issue 18, item 1),
so multiprocessing and Dask can ship them; the other side compiles, or loads from the
disk cache, its own generated code.  What cannot pickle says so."""

from __future__ import annotations

import multiprocessing
import pickle
import sys

import numpy as np
import pytest

import chainrule

MODEL = """\
import numpy as np
import chainrule

def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)

def vector(w):
    return np.sin(w) * w

@chainrule.grad
def decorated(w):
    return np.sum(np.exp(w))
"""

W = np.array([0.2, -0.4, 0.7])
XS = [np.arange(6.0).reshape(2, 3) / 5.0, np.ones((4, 3)) / 3.0]


@pytest.fixture
def model(tmp_path, monkeypatch):
    name = f"pickled_model_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    yield module
    sys.modules.pop(name, None)


def made(model) -> dict:
    return {
        "grad": chainrule.grad(model.loss),
        "grad_both": chainrule.grad(model.loss, argnums=(0, 1)),
        "value_and_grad": chainrule.value_and_grad(model.loss),
        "jacfwd": chainrule.jacfwd(model.vector),
        "jacrev": chainrule.jacrev(model.vector),
        "hessian": chainrule.hessian(model.loss),
        "decorated": model.decorated,
    }


def args_for(name: str) -> tuple:
    return (W,) if name in ("jacfwd", "jacrev", "decorated") else (W, XS[0])


def same(a, b) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_pickle_before_and_after_the_first_call(model):
    for name, fn in made(model).items():
        fresh = pickle.loads(pickle.dumps(fn))
        assert type(fresh) is type(fn)
        expected = fn(*args_for(name))  # compiles
        same(fresh(*args_for(name)), expected)
        again = pickle.loads(pickle.dumps(fn))  # after the first call: no closure inside
        same(again(*args_for(name)), expected)
        assert len(pickle.dumps(fn)) < 400, name  # a reference, not the generated code


def test_jvp_vjp_and_hvp_pickle_as_functions(model):
    for fn in (chainrule.jvp, chainrule.vjp, chainrule.hvp, chainrule.grad):
        assert pickle.loads(pickle.dumps(fn)) is fn


def test_a_lambda_or_local_function_is_refused_clearly():
    def local(w):
        return np.sum(w**2)

    for fn in (lambda w: np.sum(w**2), local):
        g = chainrule.grad(fn)
        g(W)
        with pytest.raises(pickle.PicklingError, match="top level of an importable module"):
            pickle.dumps(g)


def test_the_vjp_pullback_is_refused_clearly(model):
    _, pullback = chainrule.vjp(model.vector, W)
    with pytest.raises(pickle.PicklingError, match="pullback returned by chainrule.vjp"):
        pickle.dumps(pullback)


def _call(job):
    fn, args = job
    return fn(*args)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+: threads exist
@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_multiprocessing_start_methods(model, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    fns = made(model)
    fns["grad"](W, XS[0])  # one of them after its first call
    jobs = [(fn, args_for(name)) for name, fn in fns.items()]
    jobs += [(fns["grad"], (W, x)) for x in XS]
    expected = [fn(*args) for fn, args in jobs]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map_async(_call, jobs).get(timeout=300)  # a hang fails, not stalls
    for got, want in zip(results, expected):
        same(got, want)


def test_scale_out_doc_names_what_does_not_pickle():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "scale-out.md").read_text()
    for phrase in ("pickle", "lambda", "vjp", "PicklingError"):
        assert phrase in text, phrase
