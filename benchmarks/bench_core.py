"""Time chainrule's gradients against a hand-written NumPy backward pass, autograd and JAX.

    python benchmarks/bench_core.py            # full run (about a minute)
    python benchmarks/bench_core.py --quick    # a handful of repetitions, to check it runs
    python benchmarks/bench_core.py --json results.json

Each workload is one Python function written with `np`.  The same function
object is given to chainrule; autograd and JAX get the same code with `np`
bound to `autograd.numpy` and `jax.numpy` (JAX runs in float64, like the
others).  The hand-written contender computes the forward pass and then the
backward pass explicitly, as one would write it without any framework.

Before timing, every contender's gradient is compared with the hand-written
one (np.allclose), and the hand-written one with a central finite difference
along a random direction.  All contenders of a workload are then timed in
interleaved rounds (see _timing.py); the tables report medians over rounds.
Nothing here asserts a speed: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import platform
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import Contender, Stats, measure  # noqa: E402

import chainrule  # noqa: E402

# ---------------------------------------------------------------------------
# Workloads: the forward function (given to every framework), input data, and the
# hand-written backward pass.  Hand-written versions return the same gradients, in
# the same order, as chainrule.grad(f, argnums=...).


# 1. The seed example: a two-layer network on one sample, tiny sizes.
def mlp_tiny(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    yhat = w2 @ h + b2
    L = (yhat - y) ** 2 / 2
    return L


def mlp_tiny_hand_grad(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    r = w2 @ h + b2 - y  # dL/dyhat
    dz1 = (r * w2) * (z1 > 0)
    return np.outer(dz1, x), dz1, r * h, r


def mlp_tiny_hand_value_and_grad(W1, b1, w2, b2, x, y):
    z1 = W1 @ x + b1
    h = np.maximum(0, z1)
    r = w2 @ h + b2 - y
    dz1 = (r * w2) * (z1 > 0)
    return r * r / 2, (np.outer(dz1, x), dz1, r * h, r)


def mlp_tiny_data(rng):
    W1 = rng.normal(size=(4, 3))
    b1 = rng.normal(size=4) * 0.1
    w2 = rng.normal(size=4)
    x = rng.normal(size=3)
    return W1, b1, w2, 0.1, x, 0.5


# 2. A softmax classifier with one hidden ReLU layer, batch 256, 784-128-10.
def mlp_softmax(W1, b1, W2, b2, X, Y):
    H = np.maximum(0, X @ W1 + b1)
    logits = H @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * (shifted - lse)) / X.shape[0]


def mlp_softmax_hand_grad(W1, b1, W2, b2, X, Y):
    Z1 = X @ W1 + b1
    H = np.maximum(0, Z1)
    logits = H @ W2 + b2
    E = np.exp(logits - logits.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    dlogits = (P - Y) / X.shape[0]  # rows of Y are one-hot, so they sum to 1
    dZ1 = (dlogits @ W2.T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0), H.T @ dlogits, dlogits.sum(axis=0)


def mlp_softmax_hand_value_and_grad(W1, b1, W2, b2, X, Y):
    Z1 = X @ W1 + b1
    H = np.maximum(0, Z1)
    logits = H @ W2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    S = E.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = -np.sum(Y * (shifted - np.log(S))) / n
    dlogits = (E / S - Y) / n
    dZ1 = (dlogits @ W2.T) * (Z1 > 0)
    return loss, (X.T @ dZ1, dZ1.sum(axis=0), H.T @ dlogits, dlogits.sum(axis=0))


def mlp_softmax_data(rng, n=256, d=784, k=128, c=10):
    X = rng.random((n, d))
    Y = np.eye(c)[rng.integers(0, c, size=n)]
    W1 = rng.normal(size=(d, k)) * np.sqrt(2 / d)
    b1 = rng.normal(size=k) * 0.01
    W2 = rng.normal(size=(k, c)) * np.sqrt(1 / k)
    b2 = rng.normal(size=c) * 0.01
    return W1, b1, W2, b2, X, Y


# 3. Logistic regression, 1000 samples x 50 features, mean binary cross-entropy.
def logreg(w, b, X, y):
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def logreg_hand_grad(w, b, X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    dz = (p - y) / len(y)
    return X.T @ dz, dz.sum()


def logreg_hand_value_and_grad(w, b, X, y):
    p = 1 / (1 + np.exp(-(X @ w + b)))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    dz = (p - y) / len(y)
    return loss, (X.T @ dz, dz.sum())


def logreg_data(rng, n=1000, d=50):
    X = rng.normal(size=(n, d))
    true_w = rng.normal(size=d) * 0.3
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ true_w)))).astype(float)
    w = rng.normal(size=d) * 0.1
    return w, 0.05, X, y


# 3b. The same model with the numerically stable loss log(1 + e^z) - y z = logaddexp(0, z) - y z.
def logreg_stable(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def logreg_stable_hand_value_and_grad(w, b, X, y):
    z = X @ w + b
    loss = np.mean(np.logaddexp(0, z) - y * z)
    dz = (1 / (1 + np.exp(-z)) - y) / len(y)
    return loss, (X.T @ dz, dz.sum())


@dataclass
class Workload:
    name: str
    description: str
    fn: Callable
    argnums: tuple[int, ...]
    make_data: Callable[[np.random.Generator], tuple]
    hand_grad: Callable
    hand_value_and_grad: Callable


WORKLOADS = [
    Workload(
        "mlp_tiny",
        "2-layer net, x in R^3, 4 hidden, squared error; d/dW1,b1,w2,b2",
        mlp_tiny,
        (0, 1, 2, 3),
        mlp_tiny_data,
        mlp_tiny_hand_grad,
        mlp_tiny_hand_value_and_grad,
    ),
    Workload(
        "mlp_softmax",
        "784-128-10 ReLU MLP, batch 256, softmax cross-entropy; d/dW1,b1,W2,b2",
        mlp_softmax,
        (0, 1, 2, 3),
        mlp_softmax_data,
        mlp_softmax_hand_grad,
        mlp_softmax_hand_value_and_grad,
    ),
    Workload(
        "logreg",
        "logistic regression, 1000x50, mean BCE via 1/(1+exp(-z)); d/dw,b",
        logreg,
        (0, 1),
        logreg_data,
        logreg_hand_grad,
        logreg_hand_value_and_grad,
    ),
    Workload(
        "logreg_stable",
        "the same, loss written mean(logaddexp(0, z) - y*z); d/dw,b",
        logreg_stable,
        (0, 1),
        logreg_data,
        logreg_hand_grad,
        logreg_stable_hand_value_and_grad,
    ),
]

# ---------------------------------------------------------------------------
# Optional frameworks.


def load_autograd() -> tuple[Any, str]:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError as e:
        return None, f"autograd not installed ({e.name}); pip install autograd"
    return (autograd, anp), _version("autograd")


def load_jax() -> tuple[Any, str]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:
        return None, f"JAX not installed ({e.name}); pip install jax jaxlib"
    jax.config.update("jax_enable_x64", True)  # compare like with like: float64 everywhere
    return (jax, jnp), f"{jax.__version__} ({jax.default_backend()})"


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def rebind_numpy(f: Callable, numpy_module: Any) -> Callable:
    """The same code as `f`, with its global `np` bound to another NumPy-like module."""
    namespace = {"np": numpy_module, "__builtins__": builtins}
    return types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)


# ---------------------------------------------------------------------------
# Checking gradients.


def _as_arrays(grads: Any) -> list[np.ndarray]:
    return [np.asarray(g, dtype=float) for g in grads]


def directional_check(
    f: Callable, args: tuple, argnums: tuple[int, ...], grads: list, rng: np.random.Generator
) -> float:
    """Relative error of sum(g * v) against a central difference of f along direction v."""
    eps = 1e-6
    vs = {i: rng.normal(size=np.shape(args[i])) for i in argnums}

    def shifted(sign):
        a = list(args)
        for i in argnums:
            a[i] = args[i] + sign * eps * vs[i]
        return float(f(*a))

    fd = (shifted(1) - shifted(-1)) / (2 * eps)
    exact = sum(float(np.sum(g * vs[i])) for g, i in zip(grads, argnums, strict=True))
    return abs(fd - exact) / max(1e-12, abs(fd), abs(exact))


def max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y))) if x.size else 0.0 for x, y in zip(a, b, strict=True))


def agree(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.allclose(x, y, rtol=1e-7, atol=1e-10)
        for x, y in zip(a, b, strict=True)
    )


# ---------------------------------------------------------------------------
# Running one workload.

FORWARD = "forward f(...)"
CR_GRAD = "chainrule grad"
CR_VAG = "chainrule value_and_grad"
CR_RAW = "chainrule grad, generated fn only"
HAND = "hand-written fwd+bwd"
HAND_VAG = "hand-written value+grad"
AG_GRAD = "autograd grad"
JAX_JIT = "jax.grad (jit)"
JAX_EAGER = "jax.grad (no jit)"


@dataclass
class Result:
    workload: Workload
    stats: dict[str, Stats]
    checks: dict[str, str]
    notes: list[str]
    ok: bool


def run_workload(
    w: Workload, frameworks: dict[str, Any], rounds: int, batch_seconds: float, seed: int
) -> Result:
    rng = np.random.default_rng(seed)
    args = w.make_data(rng)
    notes: list[str] = []
    checks: dict[str, str] = {}
    ok = True

    reference = _as_arrays(w.hand_grad(*args))
    rel = directional_check(w.fn, args, w.argnums, reference, rng)
    fd_ok = rel < 1e-5
    ok &= fd_ok
    checks["hand-written vs finite differences"] = (
        f"{'ok' if fd_ok else 'MISMATCH'} (directional, rel. err {rel:.1e})"
    )
    value, hand_vag_grads = w.hand_value_and_grad(*args)
    vag_ok = agree(_as_arrays(hand_vag_grads), reference) and bool(np.isclose(value, w.fn(*args)))
    ok &= vag_ok
    checks["hand-written value+grad vs f and hand grad"] = "ok" if vag_ok else "MISMATCH"

    contenders = [Contender(FORWARD, w.fn, args)]

    # chainrule: compile (first call) before timing
    try:
        g = chainrule.grad(w.fn, argnums=w.argnums)
        vg = chainrule.value_and_grad(w.fn, argnums=w.argnums)
        cr_grads = _as_arrays(g(*args))
        cr_value, cr_vag_grads = vg(*args)
    except Exception as e:  # a missing rule or a compiler limitation: report and go on
        notes.append(f"chainrule skipped: {type(e).__name__}: {str(e).splitlines()[0]}")
    else:
        same = agree(cr_grads, reference)
        same_vag = agree(_as_arrays(cr_vag_grads), reference) and bool(np.isclose(cr_value, value))
        ok &= same and same_vag
        checks["chainrule grad vs hand-written"] = _verdict(same, cr_grads, reference)
        checks["chainrule value_and_grad vs hand-written"] = _verdict(
            same_vag, _as_arrays(cr_vag_grads), reference
        )
        contenders += [Contender(CR_GRAD, g, args), Contender(CR_VAG, vg, args)]
        raw = generated_function(g, args)
        if raw is not None:
            contenders.append(Contender(CR_RAW, raw, args))

    contenders += [
        Contender(HAND, w.hand_grad, args),
        Contender(HAND_VAG, w.hand_value_and_grad, args),
    ]

    if "autograd" in frameworks:
        autograd, anp = frameworks["autograd"]
        ag = autograd.grad(rebind_numpy(w.fn, anp), argnum=w.argnums)
        try:
            ag_grads = _as_arrays(ag(*args))
        except Exception as e:
            notes.append(f"autograd failed: {type(e).__name__}: {e}")
        else:
            same = agree(ag_grads, reference)
            ok &= same
            checks["autograd vs hand-written"] = _verdict(same, ag_grads, reference)
            contenders.append(Contender(AG_GRAD, ag, args))

    if "jax" in frameworks:
        jax, jnp = frameworks["jax"]
        jf = rebind_numpy(w.fn, jnp)
        jargs = tuple(jnp.asarray(a) for a in args)
        eager = jax.grad(jf, argnums=w.argnums)
        jitted = jax.jit(eager)

        def run_jit(*a, _f=jitted, _block=jax.block_until_ready):
            return _block(_f(*a))

        def run_eager(*a, _f=eager, _block=jax.block_until_ready):
            return _block(_f(*a))

        for name, fn in ((JAX_JIT, run_jit), (JAX_EAGER, run_eager)):
            try:
                jgrads = _as_arrays(fn(*jargs))  # for jit: the compilation happens here
            except Exception as e:
                notes.append(f"{name} failed: {type(e).__name__}: {e}")
                continue
            same = agree(jgrads, reference)
            ok &= same
            checks[f"{name} vs hand-written"] = _verdict(same, jgrads, reference)
            contenders.append(Contender(name, fn, jargs))

    stats = measure(contenders, rounds=rounds, batch_seconds=batch_seconds)
    return Result(w, stats, checks, notes, bool(ok))


def _verdict(same: bool, grads: list[np.ndarray], reference: list[np.ndarray]) -> str:
    diff = max_abs_diff(grads, reference) if len(grads) == len(reference) else float("nan")
    return f"{'ok' if same else 'MISMATCH'} (max abs diff {diff:.1e})"


def generated_function(g: Any, args: tuple) -> Callable | None:
    """The generated function that `g(*args)` runs, to call without `grad`'s wrapper.

    Timing it separates the cost of the generated code from the per-call
    overhead of the wrapper (argument checks, choosing a compiled variant,
    shaping the results).  The wrapper may run a variant specialised for the
    arguments (today: Python-float and indexed arguments; after issue 14: shapes)
    rather than the general version `g.compiled().function`, so ask it which
    one (its private `_args`) and fall back to the general version.  Returns
    None if neither works, or if the function found does not return what `g`
    returns; callers then leave the contender out.
    """
    expected = g(*args)
    for pick in (lambda: running_variant(g, args).function, lambda: g.compiled().function):
        try:
            fn = pick()
            if _same_tree(fn(*args), expected):
                return fn
        except Exception:
            continue
    return None


def running_variant(g: Any, args: tuple) -> Any:
    """The compiled object (`.function`, `.source`) that `g(*args)` runs; see generated_function."""
    try:
        return g._args(tuple(args), {})[0]
    except Exception:
        return g.compiled()


def _same_tree(a: Any, b: Any) -> bool:
    if isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_tree(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in b)
    return bool(np.allclose(a, b, rtol=1e-12, atol=0))


# ---------------------------------------------------------------------------
# Reporting.


def ratio(stats: dict[str, Stats], a: str, b: str, best: bool = False) -> float | None:
    """Median time of `a` over median time of `b` (minimum over minimum if `best`)."""
    if a in stats and b in stats:
        if best:
            return stats[a].best / stats[b].best
        return stats[a].median / stats[b].median
    return None


RATIOS = [
    ("cr/fwd", CR_GRAD, FORWARD, "chainrule grad / forward"),
    ("hand/fwd", HAND, FORWARD, "hand-written fwd+bwd / forward"),
    ("cr/hand", CR_GRAD, HAND, "chainrule grad / hand-written fwd+bwd (target <= 1.25)"),
    ("crVG/handVG", CR_VAG, HAND_VAG, "chainrule value_and_grad / hand-written value+grad"),
    ("raw/hand", CR_RAW, HAND, "chainrule's generated function alone / hand-written"),
    ("cr/autograd", CR_GRAD, AG_GRAD, "chainrule grad / autograd grad"),
    ("cr/jax-jit", CR_GRAD, JAX_JIT, "chainrule grad / jax.jit(jax.grad)"),
    ("cr/jax", CR_GRAD, JAX_EAGER, "chainrule grad / jax.grad without jit"),
]


def _fmt_us(seconds: float) -> str:
    us = seconds * 1e6
    return f"{us:.2f}" if us < 100 else f"{us:.1f}" if us < 10_000 else f"{us:.0f}"


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


def print_result(res: Result, out=sys.stdout) -> None:
    w = res.workload
    print(f"\n== {w.name}: {w.description}", file=out)
    for label, verdict in res.checks.items():
        print(f"   check {label}: {verdict}", file=out)
    print(
        f"   gradients agree: {'yes, all contenders' if res.ok else 'NO (see MISMATCH)'}", file=out
    )
    for note in res.notes:
        print(f"   note: {note}", file=out)
    noisy = [n for n, s in res.stats.items() if s.median > 1.3 * s.best]
    if noisy:
        print(f"   note: noisy (median > 1.3 x min): {', '.join(noisy)}", file=out)
    fwd = res.stats[FORWARD].median
    width = max(len(n) for n in res.stats) + 2
    print(
        f"   {'contender':<{width}}{'median µs':>12}{'min µs':>12}{'x forward':>11}"
        f"{'calls/round':>13}",
        file=out,
    )
    for name, s in res.stats.items():
        print(
            f"   {name:<{width}}{_fmt_us(s.median):>12}{_fmt_us(s.best):>12}"
            f"{s.median / fwd:>11.2f}{s.number:>13}",
            file=out,
        )


def _ratio_cell(stats: dict[str, Stats], a: str, b: str) -> str:
    if a not in stats or b not in stats:
        return "n/a"
    return f"{_fmt_ratio(ratio(stats, a, b))} ({_fmt_ratio(ratio(stats, a, b, best=True))})"


def print_summary(results: list[Result], out=sys.stdout) -> None:
    print(
        "\n== ratios of median times (in brackets: of minimum times, which a busy machine "
        "disturbs less); below 1 means the first is faster",
        file=out,
    )
    name_w = max(len(r.workload.name) for r in results) + 2
    header = f"   {'workload':<{name_w}}" + "".join(f"{k:>15}" for k, *_ in RATIOS)
    print(header, file=out)
    for r in results:
        cells = "".join(f"{_ratio_cell(r.stats, a, b):>15}" for _, a, b, _ in RATIOS)
        print(f"   {r.workload.name:<{name_w}}{cells}", file=out)
    for key, _, _, meaning in RATIOS:
        print(f"   {key}: {meaning}", file=out)


def environment(frameworks_info: dict[str, str]) -> dict[str, Any]:
    threads = {k: os.environ[k] for k in (*THREAD_VARIABLES, "XLA_FLAGS") if k in os.environ}
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "chainrule": chainrule.__version__,
        "thread_env": threads,
        **frameworks_info,
    }


def to_json(
    results: list[Result], env: dict[str, Any], settings: dict[str, Any], ratios=None
) -> dict:
    ratios = RATIOS if ratios is None else ratios
    return {
        "environment": env,
        "settings": settings,
        "workloads": {
            r.workload.name: {
                "description": r.workload.description,
                "gradients_agree": r.ok,
                "checks": r.checks,
                "notes": r.notes,
                "times": {name: s.as_dict() for name, s in r.stats.items()},
                "ratios": {key: ratio(r.stats, a, b) for key, a, b, _ in ratios},
                "ratios_of_minima": {key: ratio(r.stats, a, b, True) for key, a, b, _ in ratios},
            }
            for r in results
        },
    }


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def thread_environment(threads: int) -> dict[str, str]:
    """Environment changes that limit BLAS (and XLA, for 1) to `threads` threads."""
    if threads == 0:
        return {}
    changes = {k: str(threads) for k in THREAD_VARIABLES if os.environ.get(k) != str(threads)}
    xla = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and XLA_SINGLE_THREAD not in xla:
        changes["XLA_FLAGS"] = f"{xla} {XLA_SINGLE_THREAD}".strip()
    return changes


def common_parser(description: str, names: list[str], torch: bool = False):
    """The options every benchmark script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a handful of short rounds only (checks that everything runs)",
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds per workload")
    parser.add_argument(
        "--batch-ms", type=float, help="target duration of one batch of calls, in milliseconds"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this workload (repeatable): " + ", ".join(names),
    )
    parser.add_argument("--no-autograd", action="store_true", help="leave autograd out")
    parser.add_argument("--no-jax", action="store_true", help="leave JAX out")
    if torch:
        parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for BLAS (and XLA, when 1); the default 1 gives steadier numbers and "
        "compares per-core speed; 0 keeps the libraries' own defaults",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    return parser


def parse_options(parser, argv, names: list[str], script: str):
    """Parse, check --only, and restart the script with its thread settings if needed."""
    opts = parser.parse_args(argv)
    if opts.threads < 0:
        parser.error("--threads must be >= 0")
    if opts.only:
        unknown = set(opts.only) - set(names)
        if unknown:
            parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    restart_with_threads(opts.threads, argv, script)
    return opts


def restart_with_threads(threads: int, argv, script: str) -> None:
    """Run `script` again with BLAS (and XLA) limited to `threads`, unless already so.

    BLAS reads its thread count when it is loaded, so the only way to change it
    is a new process: with `argv` None (run from the command line) the process
    replaces itself; called from Python (`argv` given) it only prints a note.
    """
    changes = thread_environment(threads)
    if not changes:
        return
    if argv is not None:  # called from Python: numpy is loaded, too late to change
        print("note: thread settings not applied (set them before importing numpy)")
        return
    env = {**os.environ, **changes}
    path = str(Path(script).resolve())
    os.execve(sys.executable, [sys.executable, path, *sys.argv[1:]], env)


def load_frameworks(loaders: list) -> tuple[dict[str, Any], dict[str, str]]:
    """Import the optional frameworks: (name, loader, skip) -> modules, and a line on each."""
    frameworks: dict[str, Any] = {}
    info: dict[str, str] = {}
    for name, loader, skip in loaders:
        if skip:
            info[name] = "left out (command-line option)"
            continue
        mod, text = loader()
        info[name] = text
        if mod is not None:
            frameworks[name] = mod
    return frameworks, info


def print_header(info: dict[str, str], rounds: int, batch_seconds: float) -> dict[str, Any]:
    """Print what ran where (versions, threads, timing settings); returns the environment."""
    env = environment(info)
    print(
        f"chainrule {env['chainrule']} | numpy {env['numpy']} | Python {env['python']} | "
        f"{env['machine']}, {env['cpu_count']} CPUs"
    )
    for name in info:
        print(f"{name}: {info[name]}")
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    xla_single = XLA_SINGLE_THREAD in os.environ.get("XLA_FLAGS", "")
    print(
        f"threads: BLAS {blas or 'library default'}, "
        f"XLA {'single-threaded' if xla_single else 'library default'}"
    )
    print(
        f"{rounds} interleaved rounds per workload, batches of ~{batch_seconds * 1e3:g} ms; "
        "times are per call"
    )
    return env


def main(argv: list[str] | None = None) -> int:
    names = [w.name for w in WORKLOADS]
    parser = common_parser(__doc__.splitlines()[0], names)
    opts = parse_options(parser, argv, names, __file__)
    selected = [w for w in WORKLOADS if not opts.only or w.name in opts.only]

    rounds = opts.rounds or (3 if opts.quick else 21)
    batch_seconds = (opts.batch_ms or (2.0 if opts.quick else 40.0)) / 1000

    frameworks, info = load_frameworks(
        [("autograd", load_autograd, opts.no_autograd), ("jax", load_jax, opts.no_jax)]
    )
    env = print_header(info, rounds, batch_seconds)

    results = []
    for w in selected:
        res = run_workload(w, frameworks, rounds, batch_seconds, opts.seed)
        print_result(res)
        results.append(res)
    settings = {
        "rounds": rounds,
        "batch_seconds": batch_seconds,
        "quick": opts.quick,
        "seed": opts.seed,
    }
    return finish(results, opts.json, env, settings, print_summary, RATIOS)


def finish(results, json_path, env, settings, summary, ratios) -> int:
    """Print the summary, write the JSON if asked, and exit 1 if any gradients disagreed."""
    summary(results)
    if json_path:
        data = to_json(results, env, settings, ratios)
        Path(json_path).write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nwrote {json_path}")
    if not all(r.ok for r in results):
        print(
            "\nERROR: some gradients disagree; the timings above compare different results",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
