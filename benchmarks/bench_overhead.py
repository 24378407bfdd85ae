"""Per-call overhead of `grad`: a call of the returned function minus a call of the code it runs.

    python benchmarks/bench_overhead.py            # a few seconds
    python benchmarks/bench_overhead.py --quick

What `grad(f)(...)` does besides running the generated function (binding and
checking the arguments, choosing the compiled variant, shaping the results) is
paid on every call, and on small arrays it is most of the time.  Issue 14 asks
for at most 1 µs with four array arguments.  The generated function is
reached through the returned object (bench_core.generated_function: the
variant this call runs, else `g.compiled().function`) and checked to return
the same gradients.

Cases, all on arrays of 3 elements:

* grad w.r.t. four arrays    f(a, b, c, d), argnums=(0, 1, 2, 3)  (the issue's case)
* grad w.r.t. one of four    argnums=0
* value_and_grad, four       argnums=(0, 1, 2, 3)
* grad, three arrays and a float   f(a, b, c, s) with s a Python float, argnums=(0, 1, 2)
  (chainrule runs a variant specialised on the float)

The two sides of a case are timed on their own, alternating in batches of
about 1 ms (_timing.py) for 201 rounds, so that each round gives one
difference wrapper minus generated taken within a millisecond or two; the
overhead is the median of those differences (a difference of two medians
taken further apart would carry the drift of a shared machine), and in
brackets the difference of the minima.  Short batches are rarely preempted
on a busy machine, so the two estimates should agree; when they do not, the
machine was too busy for a microsecond-level measurement.
An empty Python function of four arguments is timed too, as the unit a call
costs at all on this machine.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import Contender, Stats, measure, round_options, rounds_of  # noqa: E402
from bench_core import generated_function  # noqa: E402

import chainrule  # noqa: E402


def four(a, b, c, d):
    return np.sum(a * b + c * d)


def three_and_scalar(a, b, c, s):
    return np.sum(a * b + c * s)


def empty(a, b, c, d):
    return None


EMPTY = "empty Python function, 4 args"


@dataclass
class Case:
    label: str
    make: object  # f -> the transformed callable
    f: object
    args: tuple


def cases() -> list[Case]:
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.normal(size=3) for _ in range(4))
    every = (0, 1, 2, 3)
    return [
        Case("grad, four arrays", lambda f: chainrule.grad(f, argnums=every), four, (a, b, c, d)),
        Case("grad, one of four arrays", lambda f: chainrule.grad(f), four, (a, b, c, d)),
        Case(
            "value_and_grad, four arrays",
            lambda f: chainrule.value_and_grad(f, argnums=every),
            four,
            (a, b, c, d),
        ),
        Case(
            "grad, three arrays + float",
            lambda f: chainrule.grad(f, argnums=(0, 1, 2)),
            three_and_scalar,
            (a, b, c, 0.5),
        ),
    ]


@dataclass
class OverheadResult:
    stats: dict[str, Stats]
    labels: list[str]
    missing: list[str]

    def overhead(self, label: str, best: bool = False) -> float | None:
        """Seconds per call that the wrapper adds: median of the paired differences per round."""
        w, g = self.stats.get(f"{label}: wrapper"), self.stats.get(f"{label}: generated")
        if w is None or g is None:
            return None
        if best:
            return w.best - g.best
        return statistics.median(a - b for a, b in zip(w.samples, g.samples, strict=True))


def run(rounds: int, batch_seconds: float) -> OverheadResult:
    stats = measure([Contender(EMPTY, empty, (1, 2, 3, 4))], rounds, batch_seconds)
    labels, missing = [], []
    for case in cases():
        wrapped = case.make(case.f)
        fn = generated_function(wrapped, case.args)
        labels.append(case.label)
        pair = [Contender(f"{case.label}: wrapper", wrapped, case.args)]
        if fn is None:
            missing.append(case.label)
        else:
            pair.append(Contender(f"{case.label}: generated", fn, case.args))
        stats.update(measure(pair, rounds=rounds, batch_seconds=batch_seconds))
    return OverheadResult(stats, labels, missing)


def print_result(r: OverheadResult, out=sys.stdout) -> None:
    print(
        "\n== per-call overhead: grad(f)(...) minus the generated function it runs, arrays "
        "of 3 elements, µs: median of per-round differences (difference of minima)",
        file=out,
    )
    print(f"   {'case':<30}{'wrapper':>10}{'generated':>11}{'overhead':>18}", file=out)
    for label in r.labels:
        w = r.stats[f"{label}: wrapper"]
        g = r.stats.get(f"{label}: generated")
        over = r.overhead(label)
        cell = "n/a" if over is None else f"{over * 1e6:.2f} ({r.overhead(label, True) * 1e6:.2f})"
        gen = "n/a" if g is None else f"{g.median * 1e6:.2f}"
        print(f"   {label:<30}{w.median * 1e6:>10.2f}{gen:>11}{cell:>18}", file=out)
    e = r.stats[EMPTY]
    print(
        f"   (an empty Python function of 4 arguments: {e.median * 1e6:.3f} µs per call)", file=out
    )
    for label in r.missing:
        print(f"   note: {label}: generated function not reachable; overhead n/a", file=out)
    print("   target (issue 14): at most 1 µs for four array arguments", file=out)


def to_json(r: OverheadResult) -> dict:
    return {
        "times": {n: s.as_dict() for n, s in r.stats.items()},
        "overhead_us": {label: _us(r.overhead(label)) for label in r.labels},
        "overhead_of_minima_us": {label: _us(r.overhead(label, True)) for label in r.labels},
    }


def _us(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = round_options(__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    opts = parser.parse_args(argv)
    rounds = rounds_of(opts)
    result = run(rounds, 0.001)
    print_result(result)
    if opts.json:
        Path(opts.json).write_text(json.dumps(to_json(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
