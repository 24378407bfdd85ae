"""A 1e8-element elementwise loss: chainrule against the hand-written gradient, time and memory.

    python benchmarks/bench_elementwise.py               # 1e8 elements (1-2 minutes, ~5 GB)
    python benchmarks/bench_elementwise.py --size 1e5    # the smoke test's size
    python benchmarks/bench_elementwise.py --json out.json

On big arrays the generated code's extra passes and temporaries are what
cost: every `np.full(np.shape(x), g)` seed, every value computed only for its
shape, every `dt = dt2 * 2 * t1` that allocates instead of updating in place
is a pass over (and an allocation of) the whole array.  The loss is the sum
of a smooth elementwise function, spelled two ways:

    A: np.sum(np.tanh(x) ** 2)          B: (np.tanh(x) ** 2).sum()

and the hand-written gradient is what a person writes: t = np.tanh(x);
2 * t * (1 - t * t).

Time: forward, chainrule grad and hand-written gradient in interleaved rounds
in one process (_timing.py), ratios of medians.

Peak memory, two ways:

* tracemalloc: NumPy reports every array buffer it allocates to tracemalloc,
  so the traced peak during one call minus the traced size before it is the
  most memory the call had allocated at one time (temporaries plus the
  returned gradient; the input is not counted).  Exact and repeatable, in
  this process; tracing is on only while memory is measured, never while
  timing.
* peak RSS (skipped by --no-rss and --quick): a new process per contender
  builds the input, compiles the gradient on a small array, resets its peak
  resident set size to the current one, calls the gradient once on the full
  input and reads the peak again (VmHWM and clear_refs in /proc on Linux,
  see peak_rss_kb; getrusage's ru_maxrss elsewhere); the difference is the
  peak resident memory the call added.  It sees what tracemalloc cannot
  (allocations outside NumPy) and is coarser (pages; below glibc's mmap
  threshold, 32 MB at most, freed memory is reused without showing).

Prints the ratios chainrule / hand-written for both; the issue's targets are
at most 1.5 (time) and 1.25 (memory).  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _timing import Contender, Stats, measure  # noqa: E402
from bench_core import directional_check, restart_with_threads  # noqa: E402

import chainrule  # noqa: E402


def loss_a(x):
    return np.sum(np.tanh(x) ** 2)


def loss_b(x):
    return (np.tanh(x) ** 2).sum()


def hand_grad(x):
    t = np.tanh(x)
    return 2 * t * (1 - t * t)


def make_input(size: int) -> np.ndarray:
    """A smooth spread of values over [-3, 3]: quick to build, and tanh is not saturated."""
    return np.linspace(-3.0, 3.0, size)


FORWARD = {"A": loss_a, "B": loss_b}


def contenders(size: int) -> dict[str, tuple]:
    """name -> (function, description): what is timed and measured."""
    out = {}
    for s, f in FORWARD.items():
        out[f"{s} forward"] = (f, f"forward pass, spelling {s}")
        out[f"{s} chainrule"] = (chainrule.grad(f), f"chainrule.grad, spelling {s}")
    out["hand-written"] = (hand_grad, "2 * t * (1 - t * t), t = np.tanh(x)")
    return out


def peak_traced(fn, x) -> int:
    """Bytes: the most the call had allocated at one time, by tracemalloc (NumPy buffers)."""
    fn(x)  # compile outside the measurement
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - before


RSS_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_elementwise as be
name, size = sys.argv[2], int(sys.argv[3])
fn = be.contenders(size)[name][0]
fn(be.make_input(1000))  # compile on a small input
x = be.make_input(size)
before = be.peak_rss_kb(reset=True)
fn(x)
after = be.peak_rss_kb()
print(json.dumps({"before_kb": before, "after_kb": after}))
"""


def peak_rss_kb(reset: bool = False) -> int:
    """The process's peak resident set size in KiB; `reset` first lowers it to the current size.

    On Linux this is VmHWM from /proc/self/status, reset by writing 5 to
    /proc/self/clear_refs.  getrusage's ru_maxrss would do elsewhere, but on
    Linux it survives exec: a child started by a big parent reports the
    parent's size, and a call that needs less shows no growth at all.
    """
    try:
        if reset:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss(name: str, size: int) -> int:
    """Bytes: the peak resident memory one call added, in a new process."""
    proc = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(HERE), name, str(size)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child failed for {name}:\n{proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return (data["after_kb"] - data["before_kb"]) * 1024


@dataclass
class ElementwiseResult:
    size: int
    stats: dict[str, Stats]
    traced: dict[str, int]
    rss: dict[str, int] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any("MISMATCH" in v for v in self.checks.values())

    def time_ratio(self, a: str, b: str = "hand-written", best: bool = False) -> float:
        sa, sb = self.stats[a], self.stats[b]
        return sa.best / sb.best if best else sa.median / sb.median


def run(size: int, rounds: int, batch_seconds: float, rss: bool) -> ElementwiseResult:
    checks = {}
    small = make_input(1001) + 0.01
    reference = hand_grad(small)
    for s, f in FORWARD.items():
        rel = directional_check(f, (small,), (0,), [reference], np.random.default_rng(0))
        verdict = "ok" if rel < 1e-5 else "MISMATCH"
        checks[f"hand-written vs finite differences of {s} (1001 elements)"] = (
            f"{verdict} (rel. err {rel:.1e})"
        )
    found = contenders(size)
    x = make_input(size)
    expected = hand_grad(x)
    for s in FORWARD:
        got = found[f"{s} chainrule"][0](x)
        same = got.shape == x.shape and np.allclose(got, expected, rtol=1e-12, atol=1e-15)
        checks[f"{s} chainrule vs hand-written ({size:.0e} elements)"] = (
            "ok" if same else "MISMATCH"
        )
        del got
    del expected
    traced = {n: peak_traced(fn, x) for n, (fn, _) in found.items()}
    stats = measure(
        [Contender(n, fn, (x,)) for n, (fn, _) in found.items()],
        rounds=rounds,
        batch_seconds=batch_seconds,
    )
    del x
    measured_rss = {n: peak_rss(n, size) for n in found} if rss else {}
    return ElementwiseResult(size, stats, traced, measured_rss, checks)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def print_result(r: ElementwiseResult, out=sys.stdout) -> None:
    print(
        f"\n== elementwise loss sum(tanh(x)**2), {r.size:,} float64 elements "
        f"({r.size * 8 / 1e6:,.0f} MB per array)",
        file=out,
    )
    for label, verdict in r.checks.items():
        print(f"   check {label}: {verdict}", file=out)
    rss_head = f"{'peak RSS MB':>13}" if r.rss else ""
    print(
        f"   {'contender':<14}{'median ms':>11}{'min ms':>10}{'x hand':>14}{'traced MB':>11}"
        f"{'x hand':>8}{rss_head}",
        file=out,
    )
    hand_mem = r.traced["hand-written"]
    for n, st in r.stats.items():
        ratio = f"{r.time_ratio(n):.2f} ({r.time_ratio(n, best=True):.2f})"
        line = (
            f"   {n:<14}{st.median * 1e3:>11.2f}{st.best * 1e3:>10.2f}{ratio:>14}"
            f"{_mb(r.traced[n]):>11}{r.traced[n] / hand_mem:>8.2f}"
        )
        if r.rss:
            line += f"{_mb(r.rss[n]):>13}"
        print(line, file=out)
    print(
        "   x hand: ratio to the hand-written gradient (time: medians, in brackets minima); "
        "traced: tracemalloc peak during one call; peak RSS: growth of the peak resident set "
        "over one call, in a new process",
        file=out,
    )


@dataclass
class SummaryRow:
    """chainrule over hand-written for one spelling: time (medians, minima) and memory."""

    spelling: str
    time: float
    time_of_minima: float
    traced_memory: float
    rss: float | None


def summary_rows(r: ElementwiseResult) -> list[SummaryRow]:
    rows = []
    for s in FORWARD:
        n = f"{s} chainrule"
        rss = r.rss[n] / r.rss["hand-written"] if r.rss and r.rss["hand-written"] else None
        traced = r.traced[n] / r.traced["hand-written"]
        rows.append(SummaryRow(s, r.time_ratio(n), r.time_ratio(n, best=True), traced, rss))
    return rows


def to_json(r: ElementwiseResult) -> dict:
    return {
        "size": r.size,
        "checks": r.checks,
        "times": {n: st.as_dict() for n, st in r.stats.items()},
        "peak_traced_bytes": r.traced,
        "peak_rss_bytes": r.rss,
        "chainrule_over_hand": {row.spelling: vars(row) for row in summary_rows(r)},
    }


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--size",
        type=float,
        help="elements in the input (default 1e8; 1e5 with --quick)",
    )
    parser.add_argument(
        "--no-rss", action="store_true", help="skip the max-RSS measurement in new processes"
    )


def run_with(opts) -> ElementwiseResult:
    """run() with the sizes and rounds the options ask for (--quick: 1e5 elements, no RSS).

    A call at 1e8 elements takes about a second, much of it the kernel zeroing
    freshly mapped pages, and is sensitive to what else the machine does, so
    the full run takes 11 rounds of one call each.
    """
    size = int(opts.size or (1e5 if opts.quick else 1e8))
    rounds = getattr(opts, "elementwise_rounds", None) or (3 if opts.quick else 11)
    batch = 0.002 if opts.quick else 0.2
    return run(size, rounds, batch, rss=not (opts.no_rss or opts.quick))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 elements, few rounds")
    parser.add_argument(
        "--rounds", dest="elementwise_rounds", type=int, help="interleaved rounds (default 11)"
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: default)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    add_options(parser)
    opts = parser.parse_args(argv)
    restart_with_threads(opts.threads, argv, __file__)
    result = run_with(opts)
    print_result(result)
    if opts.json:
        Path(opts.json).write_text(json.dumps(to_json(result), indent=1) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
