"""What the persistent cache saves: the transformation in a new process, cold and warm.

Starts fresh Python processes that import a few functions (the seed network,
the 30-line function of bench_compile.py, and the RNN, oscillator and
residual loop workloads of examples/loop_workloads.py) and call `grad` of
each once.  The transformation time of a function is its first call minus a
later call (the gradient's own run time).  Three kinds of process:

* cold: an empty cache directory, so every function is transformed and stored;
* warm: the directory the cold process filled, so every function is loaded;
* off: CHAINRULE_CACHE=0, the transformation without reading or writing.

Prints the median over rounds per function and the total, in milliseconds.
This script reports, it does not assert.

    python benchmarks/bench_cache.py [--quick] [--rounds N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_compile import LINES  # noqa: E402

CHILD = """\
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import chainrule
from chainrule import cache
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import loop_workloads as lw
import cached_functions as cf
from chainrule import demo
import_ms = (time.perf_counter() - t0) * 1e3

rng = np.random.default_rng(0)
seed_args = (*demo.init_params(rng, hidden=8), rng.normal(size=3), 0.3)
cases = {
    "seed network (demo.loss)": (demo.loss, (0, 1, 2, 3), seed_args),
    "30-line function": (
        cf.loss, (0, 1, 2, 3),
        (rng.normal(size=(8, 4)), rng.normal(size=8), rng.normal(size=(6, 8)),
         rng.normal(size=6), rng.normal(size=4)),
    ),
    "RNN loop": (lw.rnn_loss, (0, 1, 2), lw.make_rnn_data(rng, T=5, hidden=4, inputs=3)),
    "oscillator loop": (lw.oscillator_loss, (0, 1), lw.make_oscillator_data(rng, n=20)),
    "residual loop": (lw.residual_loss, (0, 1), lw.make_residual_data(rng, L=3, width=4)),
}
out = {}
for label, (f, argnums, args) in cases.items():
    g = chainrule.grad(f, argnums=argnums)
    t = time.perf_counter(); g(*args); first = time.perf_counter() - t
    t = time.perf_counter(); g(*args); again = time.perf_counter() - t
    out[label] = max(first - again, 0.0) * 1e3
print(json.dumps({"functions": out, "import_ms": import_ms, "stats": cache.stats}))
"""


def module_text() -> str:
    body = "\n".join("    " + line for line in LINES)
    return f"import numpy as np\n\n\ndef loss(W1, b1, W2, b2, x):\n{body}\n    return p7\n"


def run_child(folder: Path, cache_dir: Path, off: bool = False) -> dict:
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(cache_dir))
    env["CHAINRULE_CACHE"] = "0" if off else "1"
    proc = subprocess.run(
        [sys.executable, str(folder / "child.py"), str(ROOT / "examples"), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the child process failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two rounds only")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 10)
    runs: dict[str, list[dict]] = {"cold": [], "warm": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="chainrule_bench_cache_") as tmp:
        folder = Path(tmp)
        (folder / "child.py").write_text(CHILD)
        (folder / "cached_functions.py").write_text(module_text())
        for r in range(rounds):
            cache_dir = folder / f"cache{r}"
            runs["cold"].append(run_child(folder, cache_dir))
            runs["warm"].append(run_child(folder, cache_dir))
            runs["off"].append(run_child(folder, cache_dir, off=True))
    labels = list(runs["cold"][0]["functions"])
    table = {
        kind: {label: statistics.median(r["functions"][label] for r in rs) for label in labels}
        for kind, rs in runs.items()
    }
    for kind in table:
        table[kind]["total"] = statistics.median(sum(r["functions"].values()) for r in runs[kind])
    print(f"transformation time per function in a new process, median of {rounds} rounds (ms):")
    print(f"  {'function':<26} {'cold':>8} {'warm':>8} {'off':>8} {'cold/warm':>10}")
    for label in [*labels, "total"]:
        cold, warm, off = (table[k][label] for k in ("cold", "warm", "off"))
        ratio = f"{cold / warm:.1f}x" if warm > 0 else "n/a"
        print(f"  {label:<26} {cold:8.2f} {warm:8.2f} {off:8.2f} {ratio:>10}")
    warm_stats = runs["warm"][-1]["stats"]
    print(
        f"warm processes used {warm_stats['hits']} cache entries "
        f"({warm_stats['misses']} misses, {warm_stats['rejected']} rejected)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds, "median_ms": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
