"""Child process: time the first call of `grad(f)` in a process where nothing is cached.

A first call (transformation plus one run) can only be measured once per
process and function: afterwards chainrule's in-memory caches (per function,
per parsed file, per file hash) answer.  Clearing those caches from outside
would tie the benchmarks to chainrule's internals, which change; a new process
does not.  The parent (bench_spellings.py, bench_compile.py) starts this
script with a JSON spec as its only argument:

    {"path": [folders to put on sys.path],
     "cases": [{"module": "spellings",        # a module name, or a path to a .py file
                "case": "first_call_case",    # module.case(**kwargs) -> (f, argnums, args)
                "kwargs": {...}}, ...],
     "repeat": 3}

and sets CHAINRULE_CACHE / CHAINRULE_CACHE_DIR in the environment to choose a
disk cache that is off, empty or filled.  Cases run in order, in one process;
give several only if their functions live in different files (a file parsed
for one would be cached for the next).  Before them the child differentiates
`_warmup` below, a small function in this file, so that the costs every
process pays once (lazy imports, hashing chainrule's own sources for the
cache key) land there and not on the functions measured.  Prints one JSON line:

    warmup_ms  the first call of _warmup (includes the one-time costs)
    cache      chainrule's cache statistics for the process, if available
    results    per case:
      first_ms   grad(f) built and called once (transform or cache load, plus the run)
      again_ms   the fastest of `repeat` later calls (the run alone)
      import_ms  importing the case's module and building the arguments
      transforms times the pipeline ran in the first call (chainrule.pipeline.stats)

Parents call `run(spec, cache=...)`, which starts the child and returns that
dictionary.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import chainrule


def _warmup(x, s):
    for _ in range(2):
        x = np.tanh(x) * s
    return np.sum(x @ x)


def _load(module: str):
    if module.endswith(".py"):
        name = f"first_call_{Path(module).stem}"  # stable: part of chainrule's cache key
        spec = importlib.util.spec_from_file_location(name, module)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod
    return importlib.import_module(module)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    spec = json.loads(sys.argv[1])
    sys.path[:0] = spec.get("path", [])
    prepared = []
    for case in spec["cases"]:
        start = time.perf_counter()
        mod = _load(case["module"])
        f, argnums, args = getattr(mod, case["case"])(**case.get("kwargs", {}))
        prepared.append((f, tuple(argnums), args, _ms_since(start)))

    start = time.perf_counter()
    chainrule.grad(_warmup)(np.ones((3, 3)), 0.5)
    warmup_ms = _ms_since(start)

    results = []
    counts = getattr(sys.modules.get("chainrule.pipeline"), "stats", {})
    for f, argnums, args, import_ms in prepared:
        before = counts.get("compiles", 0)
        start = time.perf_counter()
        g = chainrule.grad(f, argnums=argnums)
        g(*args)
        first_ms = _ms_since(start)
        transforms = counts.get("compiles", 0) - before
        again = []
        for _ in range(spec.get("repeat", 3)):
            start = time.perf_counter()
            g(*args)
            again.append(_ms_since(start))
        results.append(
            {
                "first_ms": first_ms,
                "again_ms": min(again),
                "import_ms": import_ms,
                "transforms": transforms,
            }
        )
    stats = getattr(getattr(chainrule, "cache", None), "stats", None)
    out = {
        "warmup_ms": warmup_ms,
        "cache": dict(stats) if isinstance(stats, dict) else None,
        "results": results,
    }
    print(json.dumps(out))


def run(spec: dict, cache: str | Path | None = None, timeout: float = 900) -> dict:
    """Measure in a new Python process; `cache` None turns the disk cache off (CHAINRULE_CACHE=0),
    a directory uses that one (empty: transform and store; filled: load)."""
    env = dict(os.environ)
    if cache is None:
        env["CHAINRULE_CACHE"] = "0"
        env.pop("CHAINRULE_CACHE_DIR", None)
    else:
        env["CHAINRULE_CACHE"] = "1"
        env["CHAINRULE_CACHE_DIR"] = str(cache)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"first-call child failed for {spec}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
