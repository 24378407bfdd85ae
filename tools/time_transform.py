"""How long the transformation takes for a few representative functions.

Each round loads the functions from a fresh module (so nothing is cached in
memory) with the persistent cache off, and times `chainrule.source(...)`,
which runs the whole pipeline once: parse, normalize, analyze, transform,
optimize, codegen.  Prints the median and the best of the rounds, in
milliseconds, one line per case.  It uses the public API only, so the same
script measures any version of chainrule (a refactoring must not change
these numbers).

    python tools/time_transform.py [--rounds N] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time

os.environ["CHAINRULE_CACHE"] = "0"

import chainrule  # noqa: E402

MODULE = '''
import numpy as np


def dense_30(W1, b1, W2, b2, x):
    """The 30-line numeric function of benchmarks/bench_compile.py."""
    z1 = W1 @ x + b1
    h1 = np.tanh(z1)
    z2 = W2 @ h1 + b2
    h2 = np.maximum(z2, 0.0)
    s = np.sum(h2 * h2) / 2.0
    m = np.mean(h1)
    v = np.var(h2)
    r = np.exp(-s) + np.log(1.0 + m * m)
    q = np.sqrt(v + 1.0) * r
    a = h1 * m - h1 / (1.0 + q)
    b = np.sin(a) + np.cos(a) * 0.5
    c = np.sum(b ** 2)
    d = c if c > 1.0 else -c
    e = np.max(h2) + np.min(h1)
    f1 = np.sum(np.abs(a)) * e
    g1 = W1.T @ h1
    g2 = np.sum(g1 * x)
    k = np.clip(g2, -5.0, 5.0)
    u = np.sum(np.outer(h1, x) * W1)
    w = u * k + d
    p1 = np.where(h1 > 0, h1, 0.1 * h1)
    p2 = np.sum(p1) + w
    p3 = np.sum(np.reshape(W2, (-1,)) ** 2)
    p4 = p2 - 0.01 * p3
    p5 = np.log1p(np.exp(-np.abs(p4))) + np.maximum(p4, 0.0)
    p6 = p5 * f1
    p7 = p6 + np.sum(np.tanh(z2))
    return p7


def loops(x, W, xs, n):
    hs = []
    h = x
    for t in range(len(xs)):
        h = np.tanh(W @ h + xs[t])
        hs.append(h)
    out = np.zeros(len(xs))
    for t in range(len(xs)):
        out[t] = np.sum(hs[t] * x)
    k = 0
    total = 0.0
    while k < n:
        total = total + np.sum(out * out) * 0.5
        if total > 100.0:
            break
        k = k + 1
    return total + np.sum(h)


def dense(layer, x):
    return x @ layer["W"] + layer["b"]


def log_softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def mlp(params, x, onehot):
    h = np.tanh(dense(params["hidden"], x))
    return -np.mean(np.sum(onehot * log_softmax(dense(params["output"], h)), axis=1))


def scalar_chain(x, y):
    a = np.sin(x) * y
    b = np.exp(a) + x * x
    return np.sum(np.tanh(b) * a)

'''


def straight(n: int) -> str:
    body = "\n".join(f"    x = x * 1.0001 + {i % 7} * 1e-4" for i in range(n))
    return f"\n\ndef straight_{n}(x):\n{body}\n    return np.sum(x)\n"


def _mlp_call(f):
    import numpy as np

    params = {
        "hidden": {"W": np.ones((2, 3)), "b": np.zeros(3)},
        "output": {"W": np.ones((3, 2)), "b": np.zeros(2)},
    }
    chainrule.grad(f)(params, np.ones((4, 2)), np.eye(2)[[0, 1, 0, 1]])


CASES = [
    ("grad, 30 lines, 4 arguments", "dense_30", lambda f: chainrule.source(f, (0, 1, 2, 3))),
    ("jvp, 30 lines", "dense_30", lambda f: chainrule.source(f, 0, mode="forward")),
    ("vjp, loops, lists, array writes", "loops", lambda f: chainrule.source(f, mode="vjp")),
    ("grad call, inlined helpers, dict parameters", "mlp", _mlp_call),
    (
        "hessian code (jvp of the gradient)",
        "scalar_chain",
        lambda f: chainrule.source(chainrule.grad(f), mode="forward"),
    ),
    ("grad, 500-statement function", "straight_500", lambda f: chainrule.source(f)),
]


def load(directory: str, index: int):
    text = MODULE + straight(500)
    path = os.path.join(directory, f"time_transform_{index}.py")
    with open(path, "w") as handle:
        handle.write(text)
    spec = importlib.util.spec_from_file_location(f"time_transform_{index}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", help="also write the medians to this file")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
    with tempfile.TemporaryDirectory(prefix="chainrule_time_") as directory:
        for i in range(args.rounds + 1):
            module = load(directory, i)
            for label, name, how in CASES:
                f = getattr(module, name)
                start = time.perf_counter()
                how(f)
                if i:  # the first round warms up imports and the rule templates
                    times[label].append(time.perf_counter() - start)
    width = max(len(label) for label in times)
    result = {}
    for label, values in times.items():
        median, best = statistics.median(values) * 1e3, min(values) * 1e3
        result[label] = median
        print(f"{label:<{width}}  median {median:7.1f} ms   best {best:7.1f} ms")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
