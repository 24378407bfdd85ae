"""Regenerate the pictures and tables of docs/tutorial.md.

    python tools/tutorial_images.py           # docs/images/*.dot, *.svg, the plots, the tables
    python tools/tutorial_images.py --check   # only compare the DOT text with the committed one

The circuit pictures are drawn by `chainrule.graph` from the functions below,
which docs/tutorial.md shows word for word (tests/test_graph.py checks both:
that each function's text is in the tutorial, and that `pictures()` gives the
committed .dot files).  The .svg files need Graphviz's `dot`.  The plots and
tables of the last sections come from the examples that measure them
(examples/forward_vs_reverse.py, rnn_gradients.py, residual_highway.py); the
plots need matplotlib, and the timings in the forward-versus-reverse table
change from run to run, so they are committed, never compared.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

import chainrule
from chainrule.graph import Graph

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"


def gates(x, y, z):
    p = x * y
    m = max(y, z)
    return p + m


def two_layer(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    return 0.5 * (yhat - y) ** 2


def paths(x):
    a = 2.0 * x
    b = x**2
    c = a * b
    return c + b


def logistic(w, b, x, y):
    p = 1 / (1 + np.exp(-(w @ x + b)))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def max_pool(x, v):
    pooled = np.max(x.reshape(3, 2), axis=1)
    return pooled @ v


def conv1d(x, k):
    ys = []
    for i in range(len(x) - len(k) + 1):
        ys.append(np.sum(x[i : i + len(k)] * k))
    return np.stack(ys)


def conv_loss(x, k, g):
    return np.sum(conv1d(x, k) * g)


def rnn(W, h, xs):
    for t in range(3):
        h = np.tanh(W @ h + xs[t])
    return 0.5 * np.sum(h**2)


def residual(w1, w2, h):
    h = h + np.tanh(w1 * h)
    h = h + np.tanh(w2 * h)
    return h


TWO_LAYER_ARGS = (
    np.array([[0.5, -0.4], [0.8, 0.2], [-0.6, 0.4]]),  # W1
    np.array([0.1, -0.2, 0.05]),  # b1
    np.array([1.0, -0.5, 0.7]),  # w2
    0.2,  # b2
    np.array([1.0, 2.0]),  # x
    1.5,  # y
)


def pictures() -> dict[str, Graph]:
    """name -> the chainrule.graph picture of docs/images/name.svg."""
    return {
        "gates": chainrule.graph(gates, 3.0, -2.0, -4.0, argnums=(0, 1, 2)),
        "two_layer": chainrule.graph(
            two_layer, *TWO_LAYER_ARGS, argnums=(0, 1, 2, 3), max_elements=6
        ),
        "paths": chainrule.graph(paths, 1.5),
        "logistic": chainrule.graph(
            logistic,
            np.array([0.5, -1.0, 0.25]),
            0.1,
            np.array([1.0, 0.5, 2.0]),
            1.0,
            argnums=(0, 1),
        ),
        "max_pool": chainrule.graph(
            max_pool,
            np.array([1.0, 3.0, -2.0, -5.0, 0.5, 0.4]),
            np.array([1.0, -2.0, 0.5]),
            max_elements=6,
        ),
        "conv": chainrule.graph(
            conv_loss,
            np.array([1.0, 2.0, -1.0, 0.5, 3.0]),
            np.array([0.5, -1.0, 2.0]),
            np.array([1.0, -1.0, 0.5]),
            argnums=(0, 1),
        ),
        "rnn": chainrule.graph(
            rnn,
            np.array([[0.9, -0.3], [0.4, 0.6]]),
            np.array([0.5, -0.5]),
            np.array([[0.1, 0.2], [-0.3, 0.1], [0.2, -0.1]]),
            argnums=(0, 1),
            unroll=2,
        ),
        "residual": chainrule.graph(residual, 0.1, 0.1, 2.0, argnums=2),
    }


def stale() -> list[str]:
    """The pictures whose committed .dot text differs from what `pictures()` draws now."""
    out = []
    for name, picture in pictures().items():
        path = IMAGES / f"{name}.dot"
        if not path.exists() or path.read_text(encoding="utf-8") != picture.dot:
            out.append(name)
    return out


def write_all() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, picture in pictures().items():
        picture.save(IMAGES / f"{name}.dot")
        picture.save(IMAGES / f"{name}.svg")
        print(f"wrote docs/images/{name}.dot and .svg")
    for script in ("forward_vs_reverse", "rnn_gradients", "residual_highway"):
        command = [sys.executable, str(ROOT / "examples" / f"{script}.py"), "--out", str(IMAGES)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        lines = [line for line in result.stdout.splitlines() if not line.startswith("wrote ")]
        text = "\n".join(lines).strip("\n") + "\n"
        (IMAGES / f"{script}.txt").write_text(text, encoding="utf-8")
        put_table(script, text)
        print(f"wrote docs/images/{script}.txt, its table in docs/tutorial.md, and the .png")


def put_table(name: str, text: str) -> None:
    """Replace the text block after `<!-- table: name -->` in docs/tutorial.md."""
    path = ROOT / "docs" / "tutorial.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index(f"<!-- table: {name} -->") + 1
    end = lines.index("```", start + 1)
    lines[start : end + 1] = ["```text", *text.rstrip("\n").split("\n"), "```"]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the DOT text")
    opts = parser.parse_args()
    if opts.check:
        names = stale()
        for name in names:
            print(f"docs/images/{name}.dot is stale: run python tools/tutorial_images.py")
        return 1 if names else 0
    write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
