"""chainrule.graph: the picture matches the program, and its numbers are the real ones.

Every edge's gradient is checked against central finite differences of the
loss when only that one use of the value is nudged (`_trace`'s `nudge`), the
inputs' totals against finite differences and autograd, and each node's total
against the sum over its outgoing edges (the copy gate).
"""

from __future__ import annotations

import ast
import shutil
import xml.etree.ElementTree as ET

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from helpers import weights, write_module

import chainrule
from chainrule.drawing import fmt
from chainrule.graph import GraphError, _backward, _trace, graph
from chainrule.testing import check_grad

HAS_DOT = shutil.which("dot") is not None
try:
    import graphviz  # noqa: F401

    HAS_GRAPHVIZ = True
except ImportError:
    HAS_GRAPHVIZ = False
NEEDS_DOT = pytest.mark.skipif(
    not (HAS_DOT and HAS_GRAPHVIZ),
    reason="Graphviz's dot program or the graphviz package is not installed "
    "(apt-get install graphviz; pip install 'chainrule[graph]')",
)

SOURCE = """
import numpy as np

def helper(a, b):
    return a * b

def gates(x, y):
    q = x + y
    r = helper(q, x)
    m = max(r, y)
    return m * 2.0

def net(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    return 0.5 * (yhat - y) ** 2

def rnn(W, h0, xs):
    h = h0
    for t in range(4):
        h = np.tanh(W @ h + xs[t])
    return np.sum(h ** 2)

def lists(a):
    hs = []
    for i in range(3):
        hs.append(a * (i + 1.0))
    return hs[0] + hs[1] * hs[2]

def params_dict(params, x):
    z = params["w"] * x + params["b"]
    return np.sum(z ** 2)

def early_exit(x):
    s = 0.0
    for i in range(5):
        if s > 2.0:
            break
        s = s + x * x
    return s

def in_place(x):
    out = np.zeros(3)
    out[0] = x
    return np.sum(out)

def constant(x):
    return 3.0
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    directory = tmp_path_factory.mktemp("graph")
    return {
        name: write_module(directory, SOURCE, name)
        for name in (
            "gates",
            "net",
            "rnn",
            "lists",
            "params_dict",
            "early_exit",
            "in_place",
            "constant",
        )
    }


def net_args():
    return (weights((3, 2), 1), weights(3, 2), weights(3, 3), 0.1, np.array([1.0, -2.0]), 0.5)


CASES = {
    "gates": ((3.0, 2.0), (0, 1)),
    "net": (net_args(), (0, 1, 2, 3)),
    "rnn": ((0.5 * weights((2, 2), 4), weights(2, 5), weights((4, 2), 6)), (0, 1)),
    "lists": ((1.5,), (0,)),
    "params_dict": (({"w": weights(2, 7), "b": weights(2, 8)}, np.array([1.0, 2.0])), (0,)),
    "early_exit": ((0.9,), (0,)),
}


def _loss(f, args, nums, nudge=None):
    tracer, _ = _trace(f, args, nums, nudge)
    return float(tracer.env[tracer.fn.result.id])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_edge_gradient_is_the_finite_difference_of_that_use(mod, name):
    f = mod[name]
    args, nums = CASES[name]
    tracer, loss = _trace(f, args, nums)
    _backward(tracer.evals, loss)
    checked = 0
    for ev in tracer.evals:
        for (slot, j, _src), partial in zip(ev.inputs, ev.partials):
            expr = ev.subst[slot]
            arg = expr.elts[j] if j is not None else expr
            assert isinstance(arg, ast.Name)
            uses = [e for e in ast.walk(ev.stmt.value) if isinstance(e, ast.Name)]
            if sum(u.id == arg.id for u in uses) > 1:
                continue  # x * x: a nudge would move both uses
            value = np.asarray(ev.args[slot] if j is None else ev.args[slot][j], dtype=float)
            numeric = np.zeros_like(value)
            eps = 1e-6
            for i in np.ndindex(value.shape or ()):
                delta = np.zeros_like(value)
                delta[i] = eps
                delta = delta if value.shape else float(eps)
                up = _loss(f, args, nums, (ev.step, arg.id, delta))
                down = _loss(f, args, nums, (ev.step, arg.id, -delta))
                numeric[i] = (up - down) / (2 * eps)
            mine = np.zeros_like(numeric) if partial is None else partial
            np.testing.assert_allclose(mine, numeric, rtol=1e-5, atol=1e-7)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_totals_sum_the_outgoing_edges_and_inputs_match_the_gradient(mod, name):
    f = mod[name]
    args, nums = CASES[name]
    g = graph(f, *args, argnums=nums, unroll=10)
    by_id = {n.id: n for n in g.nodes}
    for node in g.nodes:
        out = [e.grad for e in g.edges if e.source == node.id and e.grad is not None]
        expected = (1.0 if node.loss else 0.0) + sum(out)
        np.testing.assert_allclose(0.0 if node.grad is None else node.grad, expected)
    for i in nums:
        if isinstance(args[i], dict):
            continue
        (node,) = [n for n in g.nodes if n.gate == "input" and n.text == f.__code__.co_varnames[i]]
        assert node.wrt and by_id[node.id] is node
        check_grad(f, *args, argnums=(i,))
        np.testing.assert_allclose(node.grad, chainrule.grad(f, argnums=i)(*args))


def test_gates_picture_has_a_node_per_operation_and_an_edge_per_use(mod):
    g = graph(mod["gates"], 3.0, 2.0, argnums=(0, 1))
    texts = [(n.name, n.text, n.rule) for n in g.nodes]
    assert texts == [
        ("x", "x", ""),
        ("y", "y", ""),
        ("q", "x + y", "add gate"),
        ("r", "helper: a * b", "mul gate"),  # inlined, named by the caller's variable
        ("m", "max(r, y)", "max gate"),
        (None, "m * 2.0", "mul gate"),
    ]
    ids = {n.text: n.id for n in g.nodes}
    wires = {(e.source, e.target, e.slot): (e.value, e.grad) for e in g.edges}
    # q = 5, r = q * x = 15, m = max(15, 2) = 15, L = 30
    assert wires == {
        (ids["x"], ids["x + y"], "x"): (3.0, 6.0),
        (ids["y"], ids["x + y"], "y"): (2.0, 6.0),
        (ids["x + y"], ids["helper: a * b"], "x"): (5.0, 6.0),  # mul swaps: 2 * x
        (ids["x"], ids["helper: a * b"], "y"): (3.0, 10.0),  # 2 * q
        (ids["helper: a * b"], ids["max(r, y)"], "a"): (15.0, 2.0),  # max routes to r
        (ids["y"], ids["max(r, y)"], "b"): (2.0, 0.0),
        (ids["max(r, y)"], ids["m * 2.0"], "x"): (15.0, 2.0),
    }
    x = g.nodes[0]
    assert x.uses == 2 and x.grad == 16.0  # copy gate: 6 + 10
    assert g.nodes[-1].loss and g.nodes[-1].value == 30.0
    assert 'label=<<B>x</B> (input)<BR/><FONT POINT-SIZE="9">copy gate: sums 2 gradients' in g.dot
    assert "<BR/>value 30<BR/>" in g.dot
    for kind in ("add gate", "mul gate", "max gate", "copy gate"):
        assert kind in g.dot  # the legend and the labels
    # autograd agrees on the inputs' totals
    ag = autograd.grad(lambda a, b: anp.maximum((a + b) * a, b) * 2.0, (0, 1))(3.0, 2.0)
    assert (x.grad, g.nodes[1].grad) == ag


def test_loops_fold_into_a_cluster_unless_unrolled(mod):
    args, nums = CASES["rnn"]
    folded = graph(mod["rnn"], *args, argnums=nums)
    assert "for t in range(4): 4 iterations folded" in folded.dot
    tanh = [n for n in folded.nodes if n.rule == "tanh gate"]
    assert len(tanh) == 1 and tanh[0].runs == 4
    some = graph(mod["rnn"], *args, argnums=nums, unroll=2)
    assert "iteration 1" in some.dot and "iteration 2" in some.dot
    assert "2 iterations folded" in some.dot
    assert len([n for n in some.nodes if n.rule == "tanh gate"]) == 3
    W = some.nodes[0]
    assert W.text == "W" and W.uses == 4  # used once per iteration: a copy gate of 4
    every = graph(mod["rnn"], *args, argnums=nums, unroll=4)
    assert "folded" not in every.dot.split("legend")[0]
    assert len([n for n in every.nodes if n.rule == "tanh gate"]) == 4


def test_arrays_print_in_full_up_to_max_elements(mod):
    args, nums = CASES["net"]
    small = graph(mod["net"], *args, argnums=nums, max_elements=6)
    W1 = args[0]
    assert fmt(W1, 6) in small.dot and fmt(W1, 6).startswith("[[")
    big = graph(mod["net"], *args, argnums=nums, max_elements=2)
    assert f"3×2 values in [{fmt(W1.min(), 1)}, {fmt(W1.max(), 1)}]" in big.dot
    assert fmt(np.array([-0.0, 1.23456]), 4) == "[0, 1.23]"


def test_what_cannot_be_drawn_is_said_clearly(mod):
    with pytest.raises(chainrule.CompileError, match="cannot draw subscript assignment"):
        graph(mod["in_place"], 1.0)
    with pytest.raises(GraphError, match="does not depend on its arguments"):
        graph(mod["constant"], 1.0)


def test_dot_saves_without_graphviz_and_other_formats_need_it(mod, tmp_path, monkeypatch):
    g = graph(mod["gates"], 3.0, 2.0)
    path = g.save(tmp_path / "gates.dot")
    assert open(path, encoding="utf-8").read() == g.dot
    with pytest.raises(GraphError, match=r"\.svg, \.png, \.pdf or \.dot"):
        g.save(tmp_path / "gates.txt")
    if HAS_GRAPHVIZ:  # simulate a machine without Graphviz's dot
        import graphviz

        def missing(*args, **kwargs):
            raise graphviz.ExecutableNotFound(("dot",))

        monkeypatch.setattr(graphviz.Source, "pipe", missing)
    with pytest.raises(GraphError, match="apt-get install graphviz.*dot -Tsvg"):
        g.save(tmp_path / "gates.svg")
    assert g._repr_svg_() is None  # Jupyter then shows the text repr


@NEEDS_DOT
def test_svg_and_png_are_produced(mod, tmp_path):
    args, nums = CASES["net"]
    g = graph(mod["net"], *args, argnums=nums)
    svg = g.save(tmp_path / "net.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "max gate" in text and "loss" in text
    ET.fromstring(g._repr_svg_())
    png = open(g.save(tmp_path / "net.png"), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_command_line_draws_a_file_function(tmp_path, capsys):
    from chainrule.cli import main

    model = tmp_path / "model.py"
    model.write_text(
        "import numpy as np\n\ndef loss(W, x):\n    return np.sum(np.tanh(W @ x) ** 2)\n"
    )
    out = tmp_path / "loss.dot"
    status = main(["graph", f"{model}:loss", "--shape", "W=3x4", "--shape", "x=4", "-o", str(out)])
    assert status == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph chainrule") and "W</B> (input)" in text
    assert "x</B> (input)" in text  # every argument given a shape is differentiated
    status = main(["graph", f"{model}:loss", "--shape", "W=3x4", "-o", str(out)])
    assert status == 2 and "needs a value for x" in capsys.readouterr().err
    status = main(
        [
            "graph",
            f"{model}:loss",
            "--shape",
            "W=3x4",
            "--shape",
            "x=4",
            "-o",
            str(tmp_path / "a.txt"),
        ]
    )
    assert status == 1 and ".svg, .png, .pdf or .dot" in capsys.readouterr().err


def test_sources_show_highlighted_html_in_notebooks(mod):
    text = chainrule.grad(mod["gates"]).source
    assert isinstance(text, str) and text == str(text)
    page = text._repr_html_()
    ET.fromstring(f"<div>{page}</div>")  # well-formed HTML fragment
    assert "def" in page and "grad_gates" in page
    assert "<span" in page or "<pre>" in page  # Pygments' spans, or plain text without it
    assert chainrule.source(mod["gates"])._repr_html_() == page


def test_source_html_without_pygments_is_escaped_text(monkeypatch):
    import builtins

    from chainrule.highlight import html_of

    real = builtins.__import__

    def no_pygments(name, *args, **kwargs):
        if name.startswith("pygments"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pygments)
    assert html_of("a < b") == "<pre>a &lt; b</pre>"


def test_the_tutorial_pictures_are_current_and_drawn_from_its_code():
    """docs/images/*.dot is what tools/tutorial_images.py draws now, from functions that
    docs/tutorial.md shows word for word (`python tools/tutorial_images.py` refreshes)."""
    import inspect
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tools"))
    try:
        import tutorial_images
    finally:
        sys.path.remove(str(root / "tools"))
    tutorial = (root / "docs" / "tutorial.md").read_text(encoding="utf-8")
    for f in (
        tutorial_images.gates,
        tutorial_images.two_layer,
        tutorial_images.paths,
        tutorial_images.logistic,
        tutorial_images.max_pool,
        tutorial_images.conv1d,
        tutorial_images.conv_loss,
        tutorial_images.rnn,
        tutorial_images.residual,
    ):
        assert inspect.getsource(f) in tutorial, f"{f.__name__} differs from the tutorial's"
    assert tutorial_images.stale() == [], "run python tools/tutorial_images.py"
    for name in tutorial_images.pictures():
        assert f"](images/{name}.svg)" in tutorial
        assert (root / "docs" / "images" / f"{name}.svg").exists()


def test_show_displays_html_in_a_jupyter_kernel(mod, monkeypatch, capsys):
    import sys
    import types

    shown = []
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    chainrule.show(mod["gates"])
    assert capsys.readouterr().out == ""
    (source,) = shown
    assert source == chainrule.source(mod["gates"]) and "grad_gates" in source._repr_html_()
    fake.get_ipython = lambda: None  # IPython without a kernel (a terminal): print
    chainrule.show(mod["gates"])
    assert "def grad_gates" in capsys.readouterr().out
