"""Per-call cost of the guard (issue 13): what checking "nothing compiling resolved has
changed" adds to each call of a gradient.

    python benchmarks/bench_guards.py            # a few seconds
    python benchmarks/bench_guards.py --quick
    python benchmarks/bench_guards.py --show     # also print the guard's source

The function is the issue's case: `loss` reads five globals (`np`, `W`, `b`, and the
helpers `layer` and `readout`), and the two helpers it inlines read globals of
their own (`act`, `cfg.act`, `np.sum`) and a default (`scale`).  Timed in interleaved
rounds (_timing.py), in one process:

* the guard itself, called as the gradient calls it, against an empty function
  of no arguments (what any Python call costs on this machine);
* `grad(loss)(x)` with its guard, against the same object with the guard
  replaced by one that checks nothing: the difference is what the guard adds
  to a call, the median of per-round differences (and the difference of the
  minima in brackets).
"""

from __future__ import annotations

import statistics
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import Contender, measure, round_options, rounds_of  # noqa: E402

import chainrule  # noqa: E402
from chainrule import guards  # noqa: E402

rng = np.random.default_rng(0)
W = rng.normal(size=(3, 3))
b = rng.normal(size=3)
act = np.tanh
cfg = types.SimpleNamespace(act=np.sin)


def layer(v, scale=1.0):
    return act(v) * scale


def readout(v):
    return np.sum(cfg.act(v) ** 2)


def loss(x):
    h = layer(W @ x)
    return readout(h) + np.sum(b * x)


def nothing():
    return True


def main(argv: list[str] | None = None) -> int:
    parser = round_options(__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the guard's source")
    opts = parser.parse_args(argv)
    rounds = rounds_of(opts)

    x = rng.normal(size=3)
    guarded = chainrule.grad(loss)
    unguarded = chainrule.grad(loss)
    g = guarded(x)
    assert np.allclose(g, unguarded(x))
    guard = guarded._guard  # what the call checks (the variant's guard)
    assert guard is guarded._variant.guard and guard() is True
    unguarded._guard = unguarded._variant.guard = guards.always  # same code, no checks
    checks = getattr(guard, "checks", 0)
    if opts.show:
        print(getattr(guard, "source", ""))

    stats = measure(
        [
            Contender("guard", guard),
            Contender("empty function", nothing),
            Contender("grad(loss)(x), guarded", guarded, (x,)),
            Contender("grad(loss)(x), no guard", unguarded, (x,)),
        ],
        rounds,
        0.001,
    )
    found = guards.resolutions(loss)
    functions = sorted({r.label.split(".__")[0] for r in found if r.kind == "function"})
    added = statistics.median(
        a - c
        for a, c in zip(
            stats["grad(loss)(x), guarded"].samples,
            stats["grad(loss)(x), no guard"].samples,
            strict=True,
        )
    )
    best = stats["grad(loss)(x), guarded"].best - stats["grad(loss)(x), no guard"].best
    print(
        f"\n== the guard of grad(loss): {len(found)} resolutions in {len(functions)} "
        f"functions ({', '.join(f.rsplit('.', 1)[-1] for f in functions)}), {checks} checks"
    )
    print(f"   {'':<34}{'median µs':>10}{'min µs':>10}")
    for name in ("guard", "empty function", "grad(loss)(x), guarded", "grad(loss)(x), no guard"):
        s = stats[name]
        print(f"   {name:<34}{s.median * 1e6:>10.3f}{s.best * 1e6:>10.3f}")
    print(
        f"   per call, the guard adds {added * 1e6:.3f} µs to grad(loss)(x) "
        f"({best * 1e6:.3f} by the minima)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
