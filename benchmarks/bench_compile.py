"""How long the transformation takes, by function size, and what a cache hit costs by file size.

    python benchmarks/bench_compile.py              # a few minutes (the 5,000-line cases)
    python benchmarks/bench_compile.py --quick      # small sizes, seconds
    python benchmarks/bench_compile.py --sizes 30,1000 --compile-rounds 5 --json out.json

Functions are generated into files in a temporary folder (straight-line
numeric code cycling through ten kinds of statement, two or three operations
each: matrix-vector products, sums and means, tanh/exp/sin/abs, np.where,
np.maximum, broadcasting with a scalar), then
each is differentiated in new Python processes (_first_call.py) that first
pay the per-process costs on a small warm-up function.  The time reported is
the first call minus a later call: the transformation (or the cache load)
without the gradient's own run.  Per function and round:

* cold: CHAINRULE_CACHE=0, nothing cached on disk or in memory;
* warm: the disk cache filled by an earlier process (which also gives the
  single `cold+store` figure: transform and write the entry).

Cases:

* N-line functions f(W, x, s) for N in --sizes (default 30, 1,000, 5,000),
  with every argument an array (s a 0-d array);
* the longest of them with s a Python float (if >= 1,000 lines; --quick: the
  100-line one): chainrule used to transform the function twice, the general
  version and one specialised on the float (issue 14 item 7: 12.7 s instead
  of 6.3 s at 5,000 lines); now the first call transforms only the variant
  it runs (the `transforms` column counts the pipeline's runs in that call);
* a 200 x 3 nested loop (the shape of the loop workloads);
* one small function (the seed network, all-array arguments) alone in a
  9-line file and at the end of an 8,000-line file of other generated
  functions: per-function cost should not depend on the rest of the file.
  The whole module used to be parsed and walked for each function (a cache
  hit cost 30 times more in the big file); parse.py now reads a function from
  its own lines (the `cache hit` line prints the ratio, target about 1).

With --quick every mode runs all cases in one process, smaller: indicative
only, for the smoke test.  This script reports, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _first_call  # noqa: E402

# The 30-line function of earlier versions of this script; bench_cache.py still uses it.
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

# One statement each; {t} is assigned, {a} and {b} are the two previous values.  About
# two and a half operations a line, a mix of the common primitives; every few lines a
# tanh keeps the values bounded, so long chains stay finite.
TEMPLATES = [
    "{t} = np.tanh(W @ {a})",
    "{t} = {a} * s + {b}",
    "{t} = np.exp(-{a} ** 2)",
    "{t} = np.maximum({a}, 0.0)",
    "{t} = {a} / (1.0 + np.abs({b}))",
    "{t} = np.tanh({a} + {b})",
    "{t} = {a} * np.sum({b} * x)",
    "{t} = np.where({a} > 0, {a}, 0.1 * {a})",
    "{t} = np.sin({a}) - {b}",
    "{t} = np.tanh({a} - np.mean({b}))",
]


def chain_function(name: str, lines: int) -> str:
    """Source of `def name(W, x, s)`, `lines` lines long (def, docstring, body, return)."""
    body = ["h0 = np.tanh(W @ x)", "h1 = h0 * s"][: max(1, lines - 3)]
    for i in range(len(body), lines - 3):
        names = {"t": f"h{i}", "a": f"h{i - 1}", "b": f"h{i - 2}"}
        body.append(TEMPLATES[i % len(TEMPLATES)].format(**names))
    last = f"h{len(body) - 1}"
    text = [f"def {name}(W, x, s):", f'    """A generated {lines}-line function."""']
    text += [f"    {line}" for line in body] + [f"    return np.sum({last})"]
    return "\n".join(text) + "\n"


SMALL = """def small(W1, b1, W2, b2, x):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = W2 @ h + b2
    return np.sum((yhat - 0.5) ** 2) / 2
"""

NESTED = """def nested(x):
    s = 0.0
    for i in range(200):
        for j in range(3):
            s = s + np.sin(x * (i + j) * 1e-3)
    return np.sum(s)
"""

HEADER = "import numpy as np\n\n\n"


def small_file() -> str:
    return HEADER + SMALL


def big_file(lines: int) -> str:
    """`small` after generated functions of 40 lines each, `lines` lines in all."""
    parts, total = [], 3 + len(SMALL.splitlines())
    k = 0
    while total + 42 <= lines:
        parts.append(chain_function(f"filler_{k}", 40))
        total += 42  # the function and two blank lines
        k += 1
    return HEADER + "\n\n".join(parts + [SMALL])


@dataclass
class Case:
    """One function to differentiate: where it is, how to call it, how to label it."""

    label: str
    path: Path
    function: str
    shapes: list  # per argument: a shape list, [] for a 0-d array, None for a Python float
    file_lines: int
    runs: dict[str, list[float]] = field(default_factory=dict)
    transforms: list[int] = field(default_factory=list)  # pipeline runs, cold first calls

    def spec_case(self) -> dict:
        kwargs = {"path": str(self.path), "function": self.function, "shapes": self.shapes}
        return {"module": "bench_compile", "case": "compile_case", "kwargs": kwargs}

    def median(self, mode: str) -> float | None:
        values = self.runs.get(mode)
        return statistics.median(values) if values else None


def compile_case(path: str, function: str, shapes: list):
    """Called in the child: import the generated file, build random arguments."""
    import numpy as np

    mod = _first_call._load(path)
    rng = np.random.default_rng(0)
    args = tuple(
        0.5 if shape is None else np.asarray(rng.normal(size=tuple(shape)) * 0.3)
        for shape in shapes
    )
    return getattr(mod, function), tuple(range(len(args))), args


def make_cases(folder: Path, sizes: list[int], float_from: int, big_lines: int) -> list[Case]:
    """Write the generated files into `folder`; the cases, in the order they are reported."""
    width = 8
    chain = [[width, width], [width], []]
    cases = []
    for n in sizes:
        path = folder / f"chain_{n}.py"
        path.write_text(HEADER + chain_function("f", n))
        cases.append(Case(f"{n:,}-line function", path, "f", chain, n + 3))
    for n in sizes[-1:]:  # the longest: the one the issue quotes
        if n >= float_from:
            path = folder / f"chain_{n}_float.py"
            path.write_text(HEADER + chain_function("f", n))
            label = f"{n:,}-line, s a Python float"
            cases.append(Case(label, path, "f", [[width, width], [width], None], n + 3))
    path = folder / "nested.py"
    path.write_text(HEADER + NESTED)
    cases.append(Case("nested loop, 200 x 3", path, "nested", [[width]], 9))
    small_shapes = [[4, 3], [4], [2, 4], [2], [3]]
    for label, text, name in (
        ("small function, small file", small_file(), "small_file.py"),
        (f"small function, {big_lines:,}-line file", big_file(big_lines), "big_file.py"),
    ):
        path = folder / name
        path.write_text(text)
        cases.append(Case(label, path, "small", small_shapes, len(text.splitlines())))
    return cases


def _transform_ms(result: dict) -> float:
    return max(result["first_ms"] - result["again_ms"], 0.0)


def measure_cases(cases: list[Case], rounds: int, together: bool, folder: Path) -> None:
    """Fill a cache per group once (`store`), then `rounds` x (cold, warm) new processes."""
    groups = [cases] if together else [[c] for c in cases]
    for i, group in enumerate(groups):
        spec = {"path": [str(HERE)], "cases": [c.spec_case() for c in group]}
        out = _first_call.run(spec, cache=folder / f"cache{i}")
        for c, r in zip(group, out["results"], strict=True):
            c.runs.setdefault("store", []).append(_transform_ms(r))
    for _ in range(rounds):
        for i, group in enumerate(groups):
            spec = {"path": [str(HERE)], "cases": [c.spec_case() for c in group]}
            for mode, cache in (("cold", None), ("warm", folder / f"cache{i}")):
                out = _first_call.run(spec, cache=cache)
                for c, r in zip(group, out["results"], strict=True):
                    c.runs.setdefault(mode, []).append(_transform_ms(r))
                    if mode == "cold" and "transforms" in r:
                        c.transforms.append(r["transforms"])


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def print_result(cases: list[Case], rounds: int, out=sys.stdout) -> None:
    print(
        f"\n== transformation time (first call minus a later call), ms; median of {rounds} new "
        "process(es) per cell; cold = no cache, warm = loaded from the disk cache, "
        "cold+store = one process that transforms and writes the entry",
        file=out,
    )
    print(
        f"   {'function':<36}{'file lines':>11}{'cold':>10}{'cold+store':>12}{'warm':>10}"
        f"{'cold/warm':>11}{'transforms':>12}",
        file=out,
    )
    for c in cases:
        cold, warm = c.median("cold"), c.median("warm")
        ratio = f"{cold / warm:.1f}x" if cold and warm else "n/a"
        print(
            f"   {c.label:<36}{c.file_lines:>11,}{_ms(cold):>10}{_ms(c.median('store')):>12}"
            f"{_ms(warm):>10}{ratio:>11}{max(c.transforms, default=0):>12}",
            file=out,
        )
    small = [c for c in cases if c.function == "small"]
    if len(small) == 2 and all(c.median("warm") for c in small):
        a, b = small
        print(
            f"   cache hit, same function: {b.file_lines:,}-line file / {a.file_lines}-line file "
            f"= {b.median('warm') / a.median('warm'):.1f}x (target: about 1)",
            file=out,
        )


def to_json(cases: list[Case]) -> dict:
    return {
        c.label: {
            "file_lines": c.file_lines,
            "runs_ms": c.runs,
            "median_ms": {mode: c.median(mode) for mode in c.runs},
        }
        for c in cases
    }


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        help="comma-separated function lengths in lines (default 30,1000,5000; quick 30,100)",
    )
    parser.add_argument(
        "--compile-rounds",
        type=int,
        help="new processes per case and cache state (default 3; 1 with --quick)",
    )


def run(opts) -> list[Case]:
    if opts.sizes:
        sizes = sorted(int(s) for s in opts.sizes.split(","))
    else:
        sizes = [30, 100] if opts.quick else [30, 1000, 5000]
    rounds = opts.compile_rounds or (1 if opts.quick else 3)
    with tempfile.TemporaryDirectory(prefix="chainrule_bench_compile_") as tmp:
        folder = Path(tmp)
        cases = make_cases(folder, sizes, 100 if opts.quick else 1000, 800 if opts.quick else 8000)
        measure_cases(cases, rounds, together=opts.quick, folder=folder)
    return cases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one process per mode")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    add_options(parser)
    opts = parser.parse_args(argv)
    cases = run(opts)
    print_result(cases, opts.compile_rounds or (1 if opts.quick else 3))
    if opts.json:
        Path(opts.json).write_text(json.dumps(to_json(cases), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
