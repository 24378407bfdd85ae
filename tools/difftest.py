"""Differential testing of chainrule on random programs over the documented subset.

    python tools/difftest.py --runs 10000 --seed 0 --jobs 2 --out report.md
    python tools/difftest.py --runs 500 --construct loop-overwrite --construct break
    python tools/difftest.py --show 0:57          # rebuild one program, print it and its outcome
    python tools/difftest.py --list-constructs

Prints the per-construct table and the failures, grouped, each with a
minimized program; exits with status 1 when any program failed (wrong, crash,
refused-supported, unrefused).  See tests/difftest/ for how it works.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# Thousands of one-off programs: no point in writing them to the persistent cache.
os.environ.setdefault("CHAINRULE_CACHE", "0")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from difftest.check import check_program  # noqa: E402
from difftest.constructs import CONSTRUCTS  # noqa: E402
from difftest.programs import generate  # noqa: E402
from difftest.report import render  # noqa: E402
from difftest.runner import Config, run  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=1000, help="programs to check (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--construct",
        action="append",
        default=[],
        metavar="NAME",
        help="only programs using this construct (repeatable: any of them)",
    )
    p.add_argument("--exclude", action="append", default=[], metavar="NAME")
    p.add_argument("--second-order-every", type=int, default=10, metavar="N")
    p.add_argument("--no-autograd", action="store_true")
    p.add_argument("--minimize", type=int, default=30, metavar="GROUPS")
    p.add_argument("--minimize-seconds", type=float, default=30.0)
    p.add_argument(
        "--examples", type=int, default=2, help="programs minimized per failure group (default 2)"
    )
    p.add_argument("--out", help="also write the report to this Markdown file")
    p.add_argument("--results", help="also write one JSON line per program to this file")
    p.add_argument("--show", metavar="SEED:INDEX", help="print one program and its outcome")
    p.add_argument("--list-constructs", action="store_true")
    return p


def _show(label: str) -> int:
    seed, index = (int(part) for part in label.split(":"))
    program = generate(seed, index)
    print(program.source)
    print("constructs:", ", ".join(sorted(program.constructs)))
    result = check_program(program, seed, second_order=index % 10 == 0)
    print(f"outcome: {result.signature if result.failed else result.outcome}")
    if result.detail:
        print(result.detail)
    return 1 if result.failed else 0


def _chainrule_version() -> str:
    """Where the chainrule under test comes from, and its git commit if it is a checkout."""
    import subprocess

    import chainrule

    where = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--", "."], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    if not commit:
        return f"chainrule from {where}"
    return f"chainrule from {where} at {commit}" + (" with uncommitted changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list_constructs:
        for name, construct in CONSTRUCTS.items():
            print(f"{name:24} {construct.status.value:12} {construct.doc}")
        return 0
    if args.show:
        return _show(args.show)
    unknown = sorted(set(args.construct + args.exclude) - set(CONSTRUCTS))
    if unknown:
        print(
            f"unknown construct(s): {', '.join(unknown)} (see --list-constructs)", file=sys.stderr
        )
        return 2
    config = Config(
        runs=args.runs,
        seed=args.seed,
        jobs=args.jobs,
        only=frozenset(args.construct),
        exclude=frozenset(args.exclude),
        second_order_every=args.second_order_every,
        autograd=not args.no_autograd,
    )
    start = time.monotonic()

    def progress(done: int, tally) -> None:
        if done % 500 == 0 or done == config.runs:
            elapsed = time.monotonic() - start
            print(
                f"  {done}/{config.runs} programs, {tally.failures} failures, {elapsed:.0f} s",
                file=sys.stderr,
            )

    results = open(args.results, "w") if args.results else None  # noqa: SIM115

    def on_result(r) -> None:
        """Each row as soon as its program is checked (a long run can be read while it
        goes on), and each failure on stderr."""
        if r.failed:
            print(f"  failing {r.label}: {r.signature[:160]}", file=sys.stderr)
        if results is not None:
            row = {
                "label": r.label,
                "outcome": r.outcome,
                "signature": r.signature if r.failed else r.outcome,
                "constructs": sorted(r.constructs),
                "checks": list(r.checks),
            }
            results.write(json.dumps(row) + "\n")
            results.flush()

    print(f"testing {_chainrule_version()}", file=sys.stderr)
    try:
        outcome = run(
            config, progress, args.minimize, args.minimize_seconds, args.examples, on_result
        )
    finally:
        if results is not None:
            results.close()
    text = render(outcome.tally, outcome.groups, outcome.seconds, config.seed, config.jobs)
    text = text.replace("\n\n", f"\n\nTested: {_chainrule_version()}.\n\n", 1)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    return 1 if outcome.tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
