"""How long the transformation itself takes (parse -> normalize -> ... -> compiled function).

Writes a 30-line numeric function to a temporary module, then times the whole
pipeline for it (fresh function objects each round, so nothing is cached) and
prints the median and best time in milliseconds.  The issue's target is well
under 50 ms; this script reports, it does not assert.

    python benchmarks/bench_compile.py [--quick]
"""

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

# The pipeline itself, without the persistent cache (bench_cache.py measures that).
os.environ["CHAINRULE_CACHE"] = "0"

import chainrule.parse  # noqa: E402
from chainrule.pipeline import CompileRequest, compile_function  # noqa: E402

LINES = [
    "z1 = W1 @ x + b1",
    "h1 = np.tanh(z1)",
    "z2 = W2 @ h1 + b2",
    "h2 = np.maximum(z2, 0.0)",
    "s = np.sum(h2 * h2) / 2.0",
    "m = np.mean(h1)",
    "v = np.var(h2)",
    "r = np.exp(-s) + np.log(1.0 + m * m)",
    "q = np.sqrt(v + 1.0) * r",
    "a = h1 * m - h1 / (1.0 + q)",
    "b = np.sin(a) + np.cos(a) * 0.5",
    "c = np.sum(b ** 2)",
    "d = c if c > 1.0 else -c",
    "e = np.max(h2) + np.min(h1)",
    "f1 = np.sum(np.abs(a)) * e",
    "g1 = W1.T @ h1",
    "g2 = np.sum(g1 * x)",
    "k = np.clip(g2, -5.0, 5.0)",
    "u = np.sum(np.outer(h1, x) * W1)",
    "w = u * k + d",
    "p1 = np.where(h1 > 0, h1, 0.1 * h1)",
    "p2 = np.sum(p1) + w",
    "p3 = np.sum(np.reshape(W2, (-1,)) ** 2)",
    "p4 = p2 - 0.01 * p3",
    "p5 = np.log1p(np.exp(-np.abs(p4))) + np.maximum(p4, 0.0)",
    "p6 = p5 * f1",
    "p7 = p6 + np.sum(np.tanh(z2))",
]


def make_module(directory: str, index: int):
    body = "\n".join("    " + line for line in LINES)
    text = (
        "import numpy as np\n\n\n"
        "def loss(W1, b1, W2, b2, x):\n"
        '    """A 30-line numeric function."""\n'
        f"{body}\n    return p7\n"
    )
    path = os.path.join(directory, f"bench_compile_{index}.py")
    with open(path, "w") as handle:
        handle.write(text)
    spec = importlib.util.spec_from_file_location(f"bench_compile_{index}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.loss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds only")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 30
    directory = tempfile.mkdtemp(prefix="chainrule_bench_")
    times = []
    for i in range(rounds):
        f = make_module(directory, i)
        chainrule.parse._tree_cache.clear()  # parse the file again each round
        start = time.perf_counter()
        compile_function(CompileRequest(f, (0, 1, 2, 3), "grad", True))
        times.append(time.perf_counter() - start)
    n_lines = len(LINES) + 3
    print(f"transforming a {n_lines}-line function (grad w.r.t. 4 arguments), {rounds} rounds:")
    print(f"  median {statistics.median(times) * 1e3:.1f} ms, best {min(times) * 1e3:.1f} ms")
    for label, text in (
        ("a 1,000-statement straight-line function", long_function(1000)),
        ("a 500-statement function", long_function(500)),
        ("a 200-iteration nested loop", NESTED),
    ):
        f = load_text(directory, text, label)
        chainrule.parse._tree_cache.clear()
        start = time.perf_counter()
        compile_function(CompileRequest(f, (0,), "grad", False))
        print(f"transforming {label}: {(time.perf_counter() - start) * 1e3:.0f} ms")
    return 0


def long_function(n: int) -> str:
    body = "\n".join(f"    x = x * 1.0001 + {i % 7} * 1e-4" for i in range(n))
    return f"import numpy as np\n\n\ndef f(x):\n{body}\n    return np.sum(x)\n"


NESTED = """import numpy as np


def f(x):
    s = 0.0
    for i in range(200):
        for j in range(3):
            s = s + np.sin(x * (i + j) * 1e-3)
    return np.sum(s)
"""


def load_text(directory: str, text: str, label: str):
    path = os.path.join(directory, f"bench_compile_{abs(hash(label))}.py")
    with open(path, "w") as handle:
        handle.write(text)
    spec = importlib.util.spec_from_file_location(f"bench_compile_{abs(hash(label))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


if __name__ == "__main__":
    sys.exit(main())
