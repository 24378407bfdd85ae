"""Where does a generated gradient spend its time?  Statement-by-statement costs.

    python benchmarks/profile_generated.py logreg
    python benchmarks/profile_generated.py mlp_tiny --hand   # also the hand-written pass
    python benchmarks/profile_generated.py rnn:A --top 12    # loops are timed in place

cProfile cannot see inside the generated function (NumPy operators and
ufuncs do not show up as calls), so this tool times each top-level statement
on its own: the statement becomes the body of a small function taking the
names it reads, is run once in order to produce the values later statements
need, and is then timed in interleaved rounds like the main benchmark.  The
cost of calling the small function itself (measured with an empty function
of the same arity) is subtracted.  The comment chainrule printed above each
statement (the rule's note) is shown next to it.

Statements measured in isolation run with warm caches; the sum over
statements is compared with the time of the whole function, and the
difference ("not attributed") is the call overhead of the function itself
plus cache effects.

A function with loops cannot be split into top-level statements usefully (the
backward loop would be one line), so for those (or with --instrument) every
simple statement at every depth is timed in place instead: the source is
recompiled with a perf_counter reading before and after each statement, the
function is run for --rounds batches, and each statement's time per call is
the median over batches of its summed readings, minus the cost of the timer
itself (calibrated on empty statements) times the number of times it ran.
The table then also shows how often each statement runs per call.

Workloads: bench_core.py's (mlp_tiny, mlp_softmax, logreg, logreg_stable) and
every workload of spellings.py in a spelling, as name:spelling (rnn:A,
residual:B, mlp_tiny:A, ...).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import statistics
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spellings  # noqa: E402
from _timing import Contender, calibrate, measure  # noqa: E402
from bench_core import WORKLOADS, Workload, running_variant, thread_environment  # noqa: E402

import chainrule  # noqa: E402


def _comments_before(lines: list[str], stmt: ast.stmt, previous_end: int) -> list[str]:
    """The comment lines between the previous statement and this one."""
    out = []
    for line in lines[previous_end : stmt.lineno - 1]:
        text = line.strip()
        if text.startswith("#"):
            out.append(text[1:].strip())
    return out


def _assigned(stmt: ast.stmt) -> list[str]:
    names = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names:
            names.append(node.id)
    return names


def _loaded(stmt: ast.stmt, env: dict[str, Any]) -> list[str]:
    names = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in env:
            if node.id not in names:
                names.append(node.id)
    return names


def _make(source: str, name: str, glob: dict[str, Any]) -> Callable:
    namespace = dict(glob)
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


def statement_costs(
    source: str, glob: dict[str, Any], args: tuple, rounds: int, batch_seconds: float
) -> list[dict[str, Any]]:
    """Time each top-level statement of the (single) function defined in `source`."""
    lines = source.splitlines()
    tree = ast.parse(source)
    funcdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    env = dict(zip([a.arg for a in funcdef.args.args], args, strict=True))
    body = funcdef.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        previous_end, body = body[0].end_lineno, body[1:]
    else:
        previous_end = funcdef.body[0].lineno - 1
    entries: list[dict[str, Any]] = []
    contenders: list[Contender] = []
    baselines: dict[int, Contender] = {}
    for i, stmt in enumerate(body):
        comments = _comments_before(lines, stmt, previous_end)
        previous_end = stmt.end_lineno
        reads = _loaded(stmt, env)
        writes = _assigned(stmt)
        text = ast.unparse(stmt)
        if isinstance(stmt, ast.Return):
            tail = ""
        else:
            tail = f"\n    return ({', '.join(writes)}{',' if writes else ''})"
        fsrc = f"def _stmt({', '.join(reads)}):\n{textwrap.indent(text, '    ')}{tail}\n"
        fn = _make(fsrc, "_stmt", glob)
        values = tuple(env[n] for n in reads)
        out = fn(*values)
        if not isinstance(stmt, ast.Return):
            env.update(zip(writes, out, strict=True))
        name = f"s{i}"
        contenders.append(Contender(name, fn, values))
        if len(reads) not in baselines:
            params = ", ".join(f"a{j}" for j in range(len(reads)))
            empty = _make(
                f"def _empty({params}):\n    return (a0,)\n"
                if reads
                else "def _empty():\n    return ()\n",
                "_empty",
                {},
            )
            baselines[len(reads)] = Contender(f"empty{len(reads)}", empty, values)
        note = next((c for c in reversed(comments) if ":" in c), comments[-1] if comments else "")
        entries.append({"name": name, "statement": text, "note": note, "arity": len(reads)})
    stats = measure(
        contenders + list(baselines.values()), rounds=rounds, batch_seconds=batch_seconds
    )
    for e in entries:
        gross = stats[e["name"]].median
        base = stats[f"empty{e['arity']}"].median
        e["seconds"] = max(0.0, gross - base)
    return entries


# -- timers compiled into the code, for functions with loops ---------------------------

_COMPOUND = (ast.For, ast.While, ast.If, ast.With, ast.Try)


def has_loops(source: str) -> bool:
    return any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(ast.parse(source)))


class _Instrumenter:
    """Rewrites a function so that every simple statement adds its duration to _prof_acc[i]."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.entries: list[dict[str, Any]] = []

    def body(self, stmts: list[ast.stmt], previous_end: int, depth: int) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            comments = _comments_before(self.lines, stmt, previous_end)
            previous_end = stmt.end_lineno
            if isinstance(stmt, _COMPOUND):
                header_end = stmt.body[0].lineno - 1 if stmt.body else stmt.lineno
                stmt.body = self.body(stmt.body, min(stmt.lineno, header_end), depth + 1)
                if getattr(stmt, "orelse", None):
                    stmt.orelse = self.body(stmt.orelse, stmt.body[-1].end_lineno, depth + 1)
                out.append(stmt)
                continue
            if isinstance(stmt, (ast.Break, ast.Continue, ast.Pass)):
                out.append(stmt)
                continue
            i = len(self.entries)
            note = next(
                (c for c in reversed(comments) if ":" in c), comments[-1] if comments else ""
            )
            self.entries.append(
                {"name": f"s{i}", "statement": ast.unparse(stmt), "note": note, "depth": depth}
            )
            start = ast.parse("_prof_t = _prof_pc()").body
            stop = ast.parse(f"_prof_acc[{i}] += _prof_pc() - _prof_t\n_prof_n[{i}] += 1").body
            if isinstance(stmt, ast.Return):
                value = stmt.value or ast.Constant(None)
                keep = ast.Assign([ast.Name("_prof_ret", ast.Store())], value, lineno=0)
                out += [*start, keep, *stop, ast.Return(ast.Name("_prof_ret", ast.Load()))]
            else:
                out += [*start, stmt, *stop]
        return out


def instrumented_costs(
    source: str, glob: dict[str, Any], args: tuple, rounds: int, batch_seconds: float
) -> tuple[list[dict[str, Any]], float]:
    """Per-call time of every simple statement at every depth, timed in place.

    Returns the entries and the median time of the uninstrumented function,
    timed in batches alternating with the instrumented ones so that both see
    the same machine.
    """
    tree = ast.parse(source)
    funcdef = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    plain = _make(source, funcdef.name, glob)
    tool = _Instrumenter(source.splitlines())
    body = funcdef.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        funcdef.body = [body[0], *tool.body(body[1:], body[0].end_lineno, 0)]
    else:
        funcdef.body = tool.body(body, funcdef.lineno, 0)
    module = ast.Module([funcdef], type_ignores=[])
    ast.fix_missing_locations(module)
    k = len(tool.entries)
    acc, count = [0.0] * k, [0] * k
    namespace = {**glob, "_prof_pc": time.perf_counter, "_prof_acc": acc, "_prof_n": count}
    exec(compile(module, "<instrumented>", "exec"), namespace)
    fn = namespace[funcdef.name]
    calls = calibrate(plain, args, batch_seconds)
    fn(*args)
    samples: list[list[float]] = [[] for _ in range(k)]
    whole: list[float] = []
    for _ in range(rounds):
        acc[:] = [0.0] * k
        count[:] = [0] * k
        for _ in range(calls):
            fn(*args)
        for i in range(k):
            samples[i].append(acc[i] / calls)
        start = time.perf_counter()
        for _ in range(calls):
            plain(*args)
        whole.append((time.perf_counter() - start) / calls)
    timer = _timer_cost()
    for i, e in enumerate(tool.entries):
        e["runs"] = count[i] / calls
        e["seconds"] = max(0.0, statistics.median(samples[i]) - timer * e["runs"])
    return tool.entries, statistics.median(whole)


def _timer_cost(n: int = 20_000) -> float:
    """Seconds that one timed empty statement adds to its accumulator."""
    acc = [0.0]
    pc = time.perf_counter
    for _ in range(n):
        t = pc()
        acc[0] += pc() - t
    return acc[0] / n


def statement_profile(
    source: str, glob: dict[str, Any], args: tuple, rounds: int, batch_seconds: float, force: bool
) -> tuple[list[dict[str, Any]], float]:
    """Isolated top-level statements for straight-line code; timers in place for loops.

    Returns the entries and the time of the whole function.
    """
    if force or has_loops(source):
        return instrumented_costs(source, glob, args, rounds, batch_seconds)
    funcdef = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    whole = whole_function_time(_make(source, funcdef.name, glob), args, rounds, batch_seconds)
    return statement_costs(source, glob, args, rounds, batch_seconds), whole


def namespace_of(fn: Callable) -> dict[str, Any]:
    """The names a function sees: its globals plus its closure cells (runtime helpers, np)."""
    names = dict(fn.__globals__)
    cells = fn.__closure__ or ()
    names.update((v, c.cell_contents) for v, c in zip(fn.__code__.co_freevars, cells, strict=True))
    return names


def whole_function_time(fn: Callable, args: tuple, rounds: int, batch_seconds: float) -> float:
    return measure([Contender("whole", fn, args)], rounds, batch_seconds)["whole"].median


def report(title: str, entries: list[dict[str, Any]], whole: float, top: int | None) -> None:
    total = sum(e["seconds"] for e in entries)
    print(f"\n== {title}")
    print(
        f"   whole function {whole * 1e6:.2f} µs; statements sum to {total * 1e6:.2f} µs; "
        f"not attributed {(whole - total) * 1e6:.2f} µs"
    )
    counted = any("runs" in e for e in entries)
    runs_head = f"{'runs':>6} " if counted else ""
    print(f"   {'µs':>9} {'share':>6} {runs_head} statement   [rule note]")
    ranked = sorted(entries, key=lambda e: -e["seconds"])
    for e in ranked[:top] if top else ranked:
        share = e["seconds"] / whole if whole else 0.0
        note = f"   [{e['note'][:70]}]" if e["note"] else ""
        stmt = e["statement"].replace("\n", "; ")
        runs = f"{e['runs']:>6.0f} " if counted else ""
        print(f"   {e['seconds'] * 1e6:>9.2f} {share:>6.1%} {runs} {stmt}{note}")


def profile(
    w: Workload,
    rounds: int,
    batch_seconds: float,
    hand: bool,
    top: int | None,
    seed: int,
    instrument: bool = False,
) -> None:
    args = w.make_data(np.random.default_rng(seed))
    g = chainrule.grad(w.fn, argnums=w.argnums)
    g(*args)
    compiled = running_variant(g, args)  # the variant this call runs (floats, later shapes)
    fn = compiled.function
    cases = [(f"{w.name}: chainrule's generated gradient", compiled.source, namespace_of(fn))]
    if hand:
        src = textwrap.dedent(inspect.getsource(w.hand_grad))
        cases.append((f"{w.name}: hand-written fwd+bwd", src, w.hand_grad.__globals__))
    forward_src = textwrap.dedent(inspect.getsource(w.fn))
    cases.append((f"{w.name}: forward function", forward_src, w.fn.__globals__))
    for title, src, glob in cases:
        entries, whole = statement_profile(src, glob, args, rounds, batch_seconds, instrument)
        how = "timed in place" if instrument or has_loops(src) else "each statement alone"
        report(f"{title}, by statement ({how})", entries, whole, top)


def spelled_workloads() -> dict[str, Workload]:
    """spellings.py's workloads as bench_core Workloads, named name:spelling."""
    out = {}
    for sw in spellings.WORKLOADS.values():
        for s, fn in sw.spellings.items():
            out[f"{sw.name}:{s}"] = Workload(
                f"{sw.name}:{s}",
                sw.description,
                fn,
                sw.argnums,
                sw.data,
                sw.hand_grad,
                sw.hand_grad,  # value_and_grad is not profiled
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workload",
        nargs="*",
        help=", ".join(w.name for w in WORKLOADS) + ", or name:spelling from spellings.py "
        "(rnn:A, residual:B, ...)",
    )
    parser.add_argument("--hand", action="store_true", help="also profile the hand-written pass")
    parser.add_argument(
        "--instrument",
        action="store_true",
        help="time statements in place even in straight-line code (the default for loops)",
    )
    parser.add_argument("--top", type=int, help="show only the N most expensive statements")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-ms", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/XLA threads, as in bench_core (0: default)"
    )
    opts = parser.parse_args(argv)
    changes = thread_environment(max(0, opts.threads))
    if changes and argv is None:  # restart with the settings in place (see bench_core.main)
        env = {**os.environ, **changes}
        script = str(Path(__file__).resolve())
        os.execve(sys.executable, [sys.executable, script, *sys.argv[1:]], env)
    by_name = {w.name: w for w in WORKLOADS}
    names = opts.workload or list(by_name)
    by_name.update(spelled_workloads())
    for n in names:
        if n not in by_name:
            parser.error(f"unknown workload {n!r}; choose from {', '.join(by_name)}")
    for n in names:
        w = by_name[n]
        profile(
            w, opts.rounds, opts.batch_ms / 1000, opts.hand, opts.top, opts.seed, opts.instrument
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
