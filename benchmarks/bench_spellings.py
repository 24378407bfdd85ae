"""Issue 14's seed workloads in two spellings: chainrule against hand-written code and frameworks.

    python benchmarks/bench_spellings.py                 # full run (a few minutes)
    python benchmarks/bench_spellings.py --quick         # small sizes, to check it runs
    python benchmarks/bench_spellings.py --only rnn --spellings A,B,C --json out.json

The same model spelled with NumPy functions (A: np.dot, np.sum, ...) or with
operators and methods (B: @, .sum(), x.dot(w)) should give equally fast
gradients; today it does not.  For each workload of spellings.py this script

1. checks the hand-written backward pass against a central finite difference
   of every spelling (which also shows that the spellings compute one loss),
   then every contender's gradient against the hand-written one;
2. times, in one process and interleaved rounds (_timing.py), per spelling:
   the forward function, chainrule's grad, the generated function alone,
   autograd and JAX (jit and not) on the same code, plus the hand-written
   pass and PyTorch eager (float64, CPU, one thread) once per workload;
3. measures chainrule's first call (transformation plus one run) in new
   processes (_first_call.py): with the disk cache off (cold) and filled by
   an earlier process (warm).

Nothing is asserted about speed.  The exit status is 1 if any gradient
disagrees, since the timings would then compare different results.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _first_call  # noqa: E402
import spellings  # noqa: E402
from _timing import Contender, Stats, measure  # noqa: E402
from bench_core import (  # noqa: E402
    agree,
    common_parser,
    directional_check,
    generated_function,
    load_autograd,
    load_frameworks,
    load_jax,
    max_abs_diff,
    parse_options,
    print_header,
)
from bench_loops import autograd_contender, jax_contender, load_torch, torch_contender  # noqa: E402

import chainrule  # noqa: E402

HAND = "hand-written"
TORCH = "torch eager"


def name(spelling: str, what: str) -> str:
    """Contender names: 'A chainrule', 'B forward', ..."""
    return f"{spelling} {what}"


# Ratio columns: key, numerator, denominator (None: the spelling's own contender), meaning.
RATIOS = [
    ("cr/fwd", "chainrule", "forward", "chainrule grad / forward pass of the same spelling"),
    ("cr/hand", "chainrule", HAND, "chainrule grad / hand-written fwd+bwd (target <= 1.25)"),
    ("gen/hand", "generated", HAND, "the generated function alone / hand-written"),
    ("cr/autograd", "chainrule", "autograd", "chainrule / autograd on the same code"),
    ("cr/torch", "chainrule", TORCH, "chainrule / PyTorch eager, float64, one thread"),
    ("cr/jax-jit", "chainrule", "jax-jit", "chainrule / jax.jit(jax.grad(f))"),
    ("cr/jax", "chainrule", "jax", "chainrule / jax.grad(f) without jit"),
]


@dataclass
class SpelledResult:
    workload: spellings.Spelled
    spellings: list[str]
    stats: dict[str, Stats]
    checks: dict[str, str]
    notes: list[str]
    first_call: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any("MISMATCH" in v for v in self.checks.values())

    def ratio(self, spelling: str, key: str, best: bool = False) -> float | None:
        _, num, den, _ = next(r for r in RATIOS if r[0] == key)
        a = name(spelling, num)
        b = den if den in (HAND, TORCH) else name(spelling, den)
        if a not in self.stats or b not in self.stats:
            return None
        sa, sb = self.stats[a], self.stats[b]
        return sa.best / sb.best if best else sa.median / sb.median

    def first_ms(self, spelling: str, mode: str) -> float | None:
        runs = self.first_call.get(spelling, {}).get(mode, [])
        return statistics.median(r["first_ms"] for r in runs) if runs else None


def _as_arrays(grads: Any) -> list[np.ndarray]:
    return [np.asarray(g, dtype=float) for g in grads]


def _verdict(same: bool, grads: list[np.ndarray], reference: list[np.ndarray]) -> str:
    diff = max_abs_diff(grads, reference) if len(grads) == len(reference) else float("nan")
    return f"{'ok' if same else 'MISMATCH'} (max abs diff {diff:.1e})"


@dataclass
class _AsWorkload:
    """What bench_loops' contender builders read: the name files the framework variants."""

    name: str
    fn: Any
    argnums: tuple[int, ...]


def _renamed(contenders: list[Contender], spelling: str, what: str) -> list[Contender]:
    return [Contender(name(spelling, what), c.fn, c.args) for c in contenders]


def run_workload(
    w: spellings.Spelled,
    which: list[str],
    frameworks: dict[str, Any],
    rounds: int,
    batch_seconds: float,
    seed: int,
    quick: bool,
) -> SpelledResult:
    rng = np.random.default_rng(seed)
    args = w.make_data(rng, quick)
    checks: dict[str, str] = {}
    notes: list[str] = []
    reference = _as_arrays(w.hand_grad(*args))
    contenders = [Contender(HAND, w.hand_grad, args)]

    for s in which:
        f = w.spellings[s]
        rel = directional_check(f, args, w.argnums, reference, np.random.default_rng(seed + 1))
        verdict = "ok" if rel < 1e-5 else "MISMATCH"
        checks[f"hand-written vs finite differences of {s}"] = f"{verdict} (rel. err {rel:.1e})"
        contenders.append(Contender(name(s, "forward"), f, args))
        try:
            g = chainrule.grad(f, argnums=w.argnums)
            grads = _as_arrays(g(*args))
        except chainrule.CompileError as e:
            notes.append(f"{s}: chainrule does not compile this: {str(e).splitlines()[0]}")
        else:
            checks[f"{s} chainrule vs hand-written"] = _verdict(
                agree(grads, reference), grads, reference
            )
            contenders.append(Contender(name(s, "chainrule"), g, args))
            raw = generated_function(g, args)
            if raw is not None:
                contenders.append(Contender(name(s, "generated"), raw, args))
        as_w = _AsWorkload(w.name, f, w.argnums)
        built: list[tuple[str, list[Contender]]] = []
        sub_checks: dict[str, str] = {}
        sub_notes: list[str] = []
        if "autograd" in frameworks:
            found = autograd_contender(
                as_w, args, reference, sub_checks, sub_notes, frameworks["autograd"]
            )
            built.append(("autograd", found))
        if "jax" in frameworks:
            for jit, label in ((True, "jax-jit"), (False, "jax")):
                found = jax_contender(
                    as_w, args, reference, sub_checks, sub_notes, frameworks["jax"], jit=jit
                )
                built.append((label, found))
        for label, found in built:
            contenders += _renamed(found, s, label)
        checks.update({f"{s} {k}": v for k, v in sub_checks.items()})
        notes += [f"{s}: {n}" for n in sub_notes]

    if "torch" in frameworks:
        torch = frameworks["torch"]
        tf = spellings.bind_torch(w.torch_fn, torch)
        found = torch_contender(w, args, reference, checks, notes, torch, fn=tf)
        contenders += [Contender(TORCH, c.fn, c.args) for c in found]

    stats = measure(contenders, rounds=rounds, batch_seconds=batch_seconds)
    return SpelledResult(w, which, stats, checks, notes)


def measure_first_calls(results: list[SpelledResult], rounds: int, quick: bool, seed: int) -> None:
    """First call of chainrule's grad in new processes: cache off (cold) and filled (warm).

    Rounds are the outer loop and workloads the inner one, so drift of the
    machine spreads over all of them.  The warm processes share one cache
    directory per workload and spelling, filled once by a process that starts
    from an empty directory (its time is kept as `store`: transform, store, run).
    """
    cases = [(r, s) for r in results for s in r.spellings if name(s, "chainrule") in r.stats]
    if quick:  # a smoke run: one case shows that it works
        cases = cases[:1]
    with tempfile.TemporaryDirectory(prefix="chainrule_first_call_") as tmp:
        for i, (r, s) in enumerate(cases):
            spec = _spec(r.workload.name, s, quick, seed)
            runs = r.first_call.setdefault(s, {"cold": [], "store": [], "warm": []})
            runs["store"].append(_first(spec, Path(tmp) / f"c{i}"))
        for _ in range(rounds):
            for i, (r, s) in enumerate(cases):
                spec = _spec(r.workload.name, s, quick, seed)
                r.first_call[s]["cold"].append(_first(spec, None))
                r.first_call[s]["warm"].append(_first(spec, Path(tmp) / f"c{i}"))


def _spec(workload: str, spelling: str, quick: bool, seed: int) -> dict:
    kwargs = {"name": workload, "spelling": spelling, "quick": quick, "seed": seed}
    case = {"module": "spellings", "case": "first_call_case", "kwargs": kwargs}
    return {"path": [str(HERE)], "cases": [case]}


def _first(spec: dict, cache: Path | None) -> dict:
    """One new process, one case: its result, with the process's warm-up time."""
    out = _first_call.run(spec, cache=cache)
    return {**out["results"][0], "warmup_ms": out["warmup_ms"]}


# ---------------------------------------------------------------------------
# Reporting.


def _fmt_us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.2f}" if us < 100 else f"{us:.1f}" if us < 10_000 else f"{us:.0f}"


def _cell(r: SpelledResult, s: str, key: str) -> str:
    med, best = r.ratio(s, key), r.ratio(s, key, best=True)
    return "n/a" if med is None else f"{med:.2f} ({best:.2f})"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def print_result(r: SpelledResult, out=sys.stdout) -> None:
    w = r.workload
    print(f"\n== {w.name}: {w.description}", file=out)
    for label, verdict in r.checks.items():
        print(f"   check {label}: {verdict}", file=out)
    print(f"   gradients agree: {'yes' if r.ok else 'NO (see MISMATCH)'}", file=out)
    for note in r.notes:
        print(f"   note: {note}", file=out)
    noisy = [n for n, st in r.stats.items() if st.median > 1.3 * st.best]
    if noisy:
        print(f"   note: noisy (median > 1.3 x min): {', '.join(noisy)}", file=out)
    width = max(len(n) for n in r.stats) + 2
    print(f"   {'contender':<{width}}{'median µs':>12}{'min µs':>12}{'calls/round':>13}", file=out)
    for n, st in r.stats.items():
        print(
            f"   {n:<{width}}{_fmt_us(st.median):>12}{_fmt_us(st.best):>12}{st.number:>13}",
            file=out,
        )


def print_summary(results: list[SpelledResult], out=sys.stdout) -> None:
    print(
        "\n== chainrule per workload and spelling: ratios of median times (in brackets: of "
        "minima); below 1 means chainrule is faster.  First call in ms, median over new "
        "processes: cold = disk cache off, warm = loaded from the disk cache",
        file=out,
    )
    head = f"   {'workload':<13}{'sp':<4}{'cr µs':>10}"
    head += "".join(f"{k:>14}" for k, *_ in RATIOS) + f"{'1st cold':>10}{'1st warm':>10}"
    print(head, file=out)
    for r in results:
        for s in r.spellings:
            cr = r.stats.get(name(s, "chainrule"))
            line = f"   {r.workload.name:<13}{s:<4}{_fmt_us(cr.median) if cr else 'n/a':>10}"
            line += "".join(f"{_cell(r, s, k):>14}" for k, *_ in RATIOS)
            line += f"{_ms(r.first_ms(s, 'cold')):>10}{_ms(r.first_ms(s, 'warm')):>10}"
            print(line, file=out)
    for key, *_, meaning in RATIOS:
        print(f"   {key}: {meaning}", file=out)
    print_spelling_table(results, out)


def print_spelling_table(results: list[SpelledResult], out=sys.stdout) -> None:
    """Issue 14's table: chainrule / hand-written per workload, one column per spelling."""
    which = list(dict.fromkeys(s for r in results for s in r.spellings))
    print("\n== chainrule grad / hand-written fwd+bwd, median (min); target <= 1.25", file=out)
    print(f"   {'workload':<13}" + "".join(f"{s:>16}" for s in which), file=out)
    worst = None
    for r in results:
        cells = []
        for s in which:
            cells.append(_cell(r, s, "cr/hand") if s in r.spellings else "-")
            value = r.ratio(s, "cr/hand") if s in r.spellings else None
            if value is not None and (worst is None or value > worst[0]):
                worst = (value, r.workload.name, s)
        print(f"   {r.workload.name:<13}" + "".join(f"{c:>16}" for c in cells), file=out)
    for s in which:
        print(f"   {s}: {spellings.SPELLINGS[s]}", file=out)
    if worst:
        print(f"   worst: {worst[1]}, spelling {worst[2]}: {worst[0]:.2f} x hand-written", file=out)


def to_json(results: list[SpelledResult]) -> dict:
    return {
        r.workload.name: {
            "description": r.workload.description,
            "gradients_agree": r.ok,
            "checks": r.checks,
            "notes": r.notes,
            "times": {n: st.as_dict() for n, st in r.stats.items()},
            "spellings": {
                s: {
                    "ratios": {k: r.ratio(s, k) for k, *_ in RATIOS},
                    "ratios_of_minima": {k: r.ratio(s, k, best=True) for k, *_ in RATIOS},
                    "first_call_ms": {
                        mode: [run["first_ms"] for run in runs]
                        for mode, runs in r.first_call.get(s, {}).items()
                    },
                    "first_call_median_ms": {
                        "cold": r.first_ms(s, "cold"),
                        "warm": r.first_ms(s, "warm"),
                    },
                }
                for s in r.spellings
            },
        }
        for r in results
    }


# ---------------------------------------------------------------------------


def add_options(parser) -> None:
    """Options of this script that bench_issue14.py passes through."""
    parser.add_argument(
        "--spellings",
        default="A,B",
        help="comma-separated spellings to run: A (np functions), B (operators, methods), "
        "C (einsum, tensordot); default A,B",
    )
    parser.add_argument(
        "--first-call-rounds",
        type=int,
        help="new processes per workload, spelling and cache state for the first-call "
        "columns (default 3; 0 leaves them out; --quick: 1, first workload and spelling only)",
    )


def frameworks_for(opts) -> tuple[dict[str, Any], dict[str, str]]:
    frameworks, info = load_frameworks(
        [
            ("autograd", load_autograd, opts.no_autograd),
            ("jax", load_jax, opts.no_jax),
            ("torch", load_torch, opts.no_torch),
        ]
    )
    if "torch" in frameworks and opts.threads:
        frameworks["torch"].set_num_threads(opts.threads)
    return frameworks, info


def timing_settings(opts) -> tuple[int, float]:
    """Interleaved rounds and seconds per batch, from the options."""
    rounds = opts.rounds or (3 if opts.quick else 15)
    return rounds, (opts.batch_ms or (2.0 if opts.quick else 40.0)) / 1000


def run(opts, frameworks: dict[str, Any]) -> list[SpelledResult]:
    """Every selected workload timed, then the first calls (--quick: only the first case)."""
    which = [s.strip() for s in opts.spellings.split(",") if s.strip()]
    rounds, batch_seconds = timing_settings(opts)
    names = opts.only or list(spellings.WORKLOADS)
    results = []
    for n in names:
        w = spellings.WORKLOADS[n]
        present = [s for s in which if s in w.spellings]
        res = run_workload(w, present, frameworks, rounds, batch_seconds, opts.seed, opts.quick)
        print_result(res)
        results.append(res)
    first_rounds = opts.first_call_rounds
    if first_rounds is None:
        first_rounds = 1 if opts.quick else 3
    if first_rounds > 0:
        measure_first_calls(results, first_rounds, opts.quick, opts.seed)
    return results


def main(argv: list[str] | None = None) -> int:
    names = list(spellings.WORKLOADS)
    parser = common_parser(__doc__.splitlines()[0], names, torch=True)
    add_options(parser)
    opts = parse_options(parser, argv, names, __file__)
    unknown = set(opts.spellings.split(",")) - set(spellings.SPELLINGS)
    if unknown:
        parser.error(f"unknown spelling(s): {', '.join(sorted(unknown))}")
    frameworks, info = frameworks_for(opts)
    env = print_header(info, *timing_settings(opts))
    results = run(opts, frameworks)
    print_summary(results)
    if opts.json:
        data = {"environment": env, "settings": vars(opts), "workloads": to_json(results)}
        Path(opts.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"\nwrote {opts.json}")
    if not all(r.ok for r in results):
        print("\nERROR: some gradients disagree (see MISMATCH above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
