"""Issue 14's benchmarks in one run: the tables its closing note needs, today's baseline included.

    python benchmarks/bench_issue14.py                  # everything, full size (~10 minutes)
    python benchmarks/bench_issue14.py --quick          # small sizes, seconds (the smoke test)
    python benchmarks/bench_issue14.py --parts spellings,overhead --json out.json

Runs, in this order and in one process (the first calls and compile times in
new child processes):

1. spellings   bench_spellings.py: the seven seed workloads in spellings A
               (np.dot, np.sum, ...) and B (@, .sum(), x.dot(w)), chainrule
               against the forward pass, a hand-written backward pass, autograd,
               PyTorch eager and JAX (jit and not), and chainrule's first call;
2. elementwise bench_elementwise.py: a 1e8-element elementwise loss, gradient
               time and peak memory against the hand-written gradient;
3. overhead    bench_overhead.py: grad's per-call overhead over the generated
               function, four small array arguments;
4. compile     bench_compile.py: transformation time of 30-, 1,000- and
               5,000-line functions, cold and from the disk cache, and the
               cache-hit cost of a small function in a small and an 8,000-line file.

Each part prints its detailed tables as it goes; the end repeats the figures
the issue's targets are about, side by side with the targets.  All ratios are
measured in one process with interleaved rounds, never against stored
absolute times: run this script before and after a change, on the same
machine, and compare the ratios.  Exit status 1 if any gradient disagrees.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_compile  # noqa: E402
import bench_elementwise  # noqa: E402
import bench_overhead  # noqa: E402
import bench_spellings  # noqa: E402
import spellings  # noqa: E402
from bench_core import common_parser, parse_options, print_header  # noqa: E402

PARTS = ("spellings", "elementwise", "overhead", "compile")


def parse(argv):
    names = list(spellings.WORKLOADS)
    parser = common_parser(__doc__.splitlines()[0], names, torch=True)
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {', '.join(PARTS)} (default: all)",
    )
    bench_spellings.add_options(parser)
    bench_elementwise.add_options(parser)
    bench_compile.add_options(parser)
    opts = parse_options(parser, argv, names, __file__)
    opts.parts = [p.strip() for p in opts.parts.split(",") if p.strip()]
    unknown = set(opts.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    return opts


def print_closing_tables(found: dict, out=sys.stdout) -> None:
    """The figures issue 14's targets are about, next to the targets."""
    print("\n" + "=" * 100, file=out)
    print("== issue 14: summary against the targets", file=out)
    if "spellings" in found:
        results = found["spellings"]
        bench_spellings.print_spelling_table(results, out)
        print_frameworks_and_first_call(results, out)
    if "elementwise" in found:
        r = found["elementwise"]
        print(
            f"\n== elementwise loss, {r.size:,} elements: chainrule / hand-written "
            "(targets: time <= 1.5, memory <= 1.25)",
            file=out,
        )
        head = f"   {'spelling':<10}{'time, median (min)':>20}{'memory (traced)':>18}"
        print(head + f"{'memory (RSS)':>15}", file=out)
        for row in bench_elementwise.summary_rows(r):
            rss_cell = "n/a" if row.rss is None else f"{row.rss:.2f}"
            time_cell = f"{row.time:.2f} ({row.time_of_minima:.2f})"
            print(
                f"   {row.spelling:<10}{time_cell:>20}{row.traced_memory:>18.2f}{rss_cell:>15}",
                file=out,
            )
    if "overhead" in found:
        r = found["overhead"]
        print("\n== per-call overhead (target: <= 1 µs for four array arguments)", file=out)
        for label in r.labels:
            over = r.overhead(label)
            cell = "n/a" if over is None else f"{over * 1e6:.2f} µs"
            print(f"   {label:<30}{cell:>12}", file=out)
    if "compile" in found:
        cases = found["compile"]
        print("\n== compile time, ms (cold: no cache; warm: from the disk cache)", file=out)
        for c in cases:
            cold, warm = c.median("cold"), c.median("warm")
            print(
                f"   {c.label:<36}{bench_compile._ms(cold):>10}{bench_compile._ms(warm):>10}",
                file=out,
            )


def print_frameworks_and_first_call(results, out=sys.stdout) -> None:
    """Per workload and spelling: chainrule against each framework, and the first call."""
    keys = ["cr/autograd", "cr/torch", "cr/jax-jit", "cr/jax"]
    print(
        "\n== chainrule / other frameworks (median; below 1: chainrule faster; target: below 1 "
        "for autograd and PyTorch eager) and first call in ms (target <= 50)",
        file=out,
    )
    head = f"   {'workload':<13}{'sp':<4}" + "".join(f"{k:>13}" for k in keys)
    print(head + f"{'1st cold':>10}{'1st warm':>10}", file=out)
    for r in results:
        for s in r.spellings:
            cells = []
            for k in keys:
                value = r.ratio(s, k)
                cells.append("n/a" if value is None else f"{value:.2f}")
            line = f"   {r.workload.name:<13}{s:<4}" + "".join(f"{c:>13}" for c in cells)
            line += f"{bench_spellings._ms(r.first_ms(s, 'cold')):>10}"
            line += f"{bench_spellings._ms(r.first_ms(s, 'warm')):>10}"
            print(line, file=out)


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    if "spellings" in opts.parts:
        frameworks, info = bench_spellings.frameworks_for(opts)
    else:  # only the spellings compare with other frameworks: do not import them
        frameworks, info = {}, {}
    env = print_header(info, *bench_spellings.timing_settings(opts))
    found: dict = {}
    data: dict = {"environment": env, "settings": vars(opts)}
    ok = True
    if "spellings" in opts.parts:
        results = bench_spellings.run(opts, frameworks)
        bench_spellings.print_summary(results)
        found["spellings"] = results
        data["spellings"] = bench_spellings.to_json(results)
        ok &= all(r.ok for r in results)
    if "elementwise" in opts.parts:
        r = bench_elementwise.run_with(opts)
        bench_elementwise.print_result(r)
        found["elementwise"] = r
        data["elementwise"] = bench_elementwise.to_json(r)
        ok &= r.ok
    if "overhead" in opts.parts:
        r = bench_overhead.run(3 if opts.quick else 201, 0.001)
        bench_overhead.print_result(r)
        found["overhead"] = r
        data["overhead"] = bench_overhead.to_json(r)
    if "compile" in opts.parts:
        cases = bench_compile.run(opts)
        bench_compile.print_result(cases, opts.compile_rounds or (1 if opts.quick else 3))
        found["compile"] = cases
        data["compile"] = bench_compile.to_json(cases)
    print_closing_tables(found)
    if opts.json:
        Path(opts.json).write_text(json.dumps(data, indent=1, default=str) + "\n")
        print(f"\nwrote {opts.json}")
    if not ok:
        print("\nERROR: some gradients disagree (see MISMATCH above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
