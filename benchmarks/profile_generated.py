"""Where does a generated gradient spend its time?  Statement-by-statement costs.

    python benchmarks/profile_generated.py logreg
    python benchmarks/profile_generated.py mlp_tiny --hand   # also the hand-written pass

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
"""

from __future__ import annotations

import argparse
import ast
import inspect
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Contender, measure  # noqa: E402
from bench_core import WORKLOADS, Workload, thread_environment  # noqa: E402

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
    print(f"   {'µs':>9} {'share':>6}  statement   [rule note]")
    ranked = sorted(entries, key=lambda e: -e["seconds"])
    for e in ranked[:top] if top else ranked:
        share = e["seconds"] / whole if whole else 0.0
        note = f"   [{e['note'][:70]}]" if e["note"] else ""
        stmt = e["statement"].replace("\n", "; ")
        print(f"   {e['seconds'] * 1e6:>9.2f} {share:>6.1%}  {stmt}{note}")


def profile(
    w: Workload, rounds: int, batch_seconds: float, hand: bool, top: int | None, seed: int
) -> None:
    args = w.make_data(np.random.default_rng(seed))
    g = chainrule.grad(w.fn, argnums=w.argnums)
    g(*args)
    compiled = g.compiled()
    fn = compiled.function
    entries = statement_costs(compiled.source, namespace_of(fn), args, rounds, batch_seconds)
    report(
        f"{w.name}: chainrule's generated gradient, by statement",
        entries,
        whole_function_time(fn, args, rounds, batch_seconds),
        top,
    )
    if hand:
        src = textwrap.dedent(inspect.getsource(w.hand_grad))
        entries = statement_costs(src, w.hand_grad.__globals__, args, rounds, batch_seconds)
        report(
            f"{w.name}: hand-written fwd+bwd, by statement",
            entries,
            whole_function_time(w.hand_grad, args, rounds, batch_seconds),
            top,
        )
    forward_src = textwrap.dedent(inspect.getsource(w.fn))
    entries = statement_costs(forward_src, w.fn.__globals__, args, rounds, batch_seconds)
    report(
        f"{w.name}: forward function, by statement",
        entries,
        whole_function_time(w.fn, args, rounds, batch_seconds),
        top,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="*", help=", ".join(w.name for w in WORKLOADS))
    parser.add_argument("--hand", action="store_true", help="also profile the hand-written pass")
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
    for n in names:
        if n not in by_name:
            parser.error(f"unknown workload {n!r}; choose from {', '.join(by_name)}")
    for n in names:
        profile(by_name[n], opts.rounds, opts.batch_ms / 1000, opts.hand, opts.top, opts.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
