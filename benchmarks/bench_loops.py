"""Time gradients of loop-written code: chainrule, by hand, autograd, JAX and PyTorch.

    python benchmarks/bench_loops.py            # full run (about a minute)
    python benchmarks/bench_loops.py --quick    # a handful of repetitions, to check it runs
    python benchmarks/bench_loops.py --json results.json --only oscillator

The workloads and their hand-written backward passes live in
examples/loop_workloads.py (one definition, shared with the tests and the
examples):

* rnn: a tanh recurrent network, T = 50 steps, hidden size 32, input size 16;
* oscillator: a damped spring integrated with explicit Euler for 1,000 steps,
  differentiated with respect to stiffness and damping (the adjoint method);
* residual: 50 layers h = h + tanh(Ws[l] @ h) of width 64;
* conv_pool: a 3x3 valid convolution and 2x2 max-pooling on a 10x10 image,
  written with loops and assignments into local arrays.

chainrule and the hand-written pass run the loss exactly as written.  The
other frameworks get the same code with `np` bound to their own module
(`autograd.numpy`, `jax.numpy`, `torch`), except where that cannot work:
autograd and JAX cannot assign into arrays, so for conv_pool they get the
same computation with the maps built from nested lists (`np.array([[...]])`),
and JAX runs the 1,000-step Euler loop as `lax.fori_loop` (`jit` of the
unrolled Python loop compiles for minutes).  JAX is timed jitted, its
compilation done before timing; every framework runs in float64.

Before timing, every contender's gradient is compared with the hand-written
one (np.allclose), and the hand-written one with a central finite difference
along a random direction.  The timing itself is bench_core.py's: interleaved
rounds, medians and minima (see _timing.py).  Nothing here asserts a speed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))
from _timing import Contender, Stats, measure  # noqa: E402
from bench_core import (  # noqa: E402
    Result,
    agree,
    common_parser,
    directional_check,
    finish,
    load_autograd,
    load_frameworks,
    load_jax,
    max_abs_diff,
    parse_options,
    print_header,
    print_result,
    ratio,
    rebind_numpy,
)
from loop_workloads import SEED_WORKLOADS, WORKLOADS, Workload  # noqa: E402

import chainrule  # noqa: E402

# ---------------------------------------------------------------------------
# Variants for frameworks that cannot run a workload as written.  Each computes
# the same loss as its workload; the gradient check below confirms it.


def conv_pool_loss_lists(K, img, W):
    """conv_pool_loss without assignments into arrays: the maps are built from lists."""
    out = np.array(
        [
            [np.sum(img[i : i + 3, j : j + 3] * K) for j in range(img.shape[1] - 2)]
            for i in range(img.shape[0] - 2)
        ]
    )
    pooled = np.array(
        [
            [np.max(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]) for j in range(out.shape[1] // 2)]
            for i in range(out.shape[0] // 2)
        ]
    )
    return np.sum(pooled * W)


def oscillator_loss_fori(jax, k, c, x0, v0, x_obs, dt):
    """oscillator_loss with the time loop as lax.fori_loop (JAX's way to write it)."""

    def step(i, carry):
        x, v, loss = carry
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        return x, v, loss + (x - x_obs[i]) ** 2

    start = (x0, v0, 0 * x0)  # every carry a float64 array, as the loop body returns
    return jax.lax.fori_loop(0, x_obs.shape[0], step, start)[2]


# Variants, by workload name: (the variant's name, a factory that takes the framework's
# modules and returns the loss to differentiate, already bound to the framework).
AUTOGRAD_VARIANTS: dict[str, tuple[str, Callable]] = {
    "conv_pool": ("conv_pool_loss_lists", lambda ag, anp: rebind_numpy(conv_pool_loss_lists, anp)),
}
JAX_VARIANTS: dict[str, tuple[str, Callable]] = {
    "conv_pool": ("conv_pool_loss_lists", lambda jax, jnp: rebind_numpy(conv_pool_loss_lists, jnp)),
    "oscillator": ("oscillator_loss_fori", lambda jax, jnp: partial(oscillator_loss_fori, jax)),
}
# Without jit, eager JAX runs Python loops as written, except for array writes (conv_pool)
# and the oscillator: its 1,000 steps of Python-float arithmetic dispatched one jnp
# operation at a time take about 6 s per gradient, so it runs the fori_loop variant.
JAX_EAGER_VARIANTS: dict[str, tuple[str, Callable]] = {
    "conv_pool": JAX_VARIANTS["conv_pool"],
    "oscillator": JAX_VARIANTS["oscillator"],
}


def load_torch() -> tuple[Any, str]:
    try:
        import torch
    except ImportError as e:
        return None, f"PyTorch not installed ({e.name}); pip install torch"
    torch.set_default_dtype(torch.float64)  # np.zeros(...) in the workloads must give float64
    return torch, torch.__version__


# ---------------------------------------------------------------------------
# Running one workload.

FORWARD = "forward f(...)"
CR_GRAD = "chainrule grad"
HAND = "hand-written fwd+bwd"
AG_GRAD = "autograd grad"
JAX_JIT = "jax.grad (jit)"
JAX_EAGER = "jax.grad (no jit)"
TORCH = "torch autograd"


def _as_arrays(grads: Any) -> list[np.ndarray]:
    return [np.asarray(g, dtype=float) for g in grads]


def _verdict(same: bool, grads: list[np.ndarray], reference: list[np.ndarray]) -> str:
    diff = max_abs_diff(grads, reference) if len(grads) == len(reference) else float("nan")
    return f"{'ok' if same else 'MISMATCH'} (max abs diff {diff:.1e})"


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"


def chainrule_contenders(w: Workload, args: tuple, reference, checks, notes) -> list[Contender]:
    try:
        g = chainrule.grad(w.fn, argnums=w.argnums)
        grads = _as_arrays(g(*args))
    except chainrule.CompileError as e:  # the compiler does not handle this code yet
        notes.append(f"chainrule skipped, it does not compile this yet: {_first_line(e)}")
        return []
    same = agree(grads, reference)
    checks["chainrule grad vs hand-written"] = _verdict(same, grads, reference)
    return [Contender(CR_GRAD, g, args)]


def autograd_contender(w, args, reference, checks, notes, modules) -> list[Contender]:
    autograd, anp = modules
    variant = AUTOGRAD_VARIANTS.get(w.name)
    if variant:
        notes.append(f"autograd runs {variant[0]}, a variant it can trace (no array writes)")
        f = variant[1](autograd, anp)
    else:
        f = rebind_numpy(w.fn, anp)
    ag = autograd.grad(f, argnum=w.argnums)
    try:
        grads = _as_arrays(ag(*args))
    except Exception as e:
        notes.append(f"autograd failed: {_first_line(e)}")
        return []
    same = agree(grads, reference)
    checks["autograd vs hand-written"] = _verdict(same, grads, reference)
    return [Contender(AG_GRAD, ag, args)] if same else []


def jax_contender(w, args, reference, checks, notes, modules, jit=True) -> list[Contender]:
    """jax.grad of the workload, jitted (compiled here, before timing) or run eagerly."""
    jax, jnp = modules
    name = JAX_JIT if jit else JAX_EAGER
    variant = (JAX_VARIANTS if jit else JAX_EAGER_VARIANTS).get(w.name)
    if variant:
        notes.append(f"{name} runs {variant[0]}, a variant it can trace")
        jf = variant[1](jax, jnp)
    else:
        jf = rebind_numpy(w.fn, jnp)
    jargs = tuple(jnp.asarray(a) for a in args)
    grad = jax.grad(jf, argnums=w.argnums)
    fn = jax.jit(grad) if jit else grad

    def run(*a, _f=fn, _block=jax.block_until_ready):
        return _block(_f(*a))

    try:
        grads = _as_arrays(run(*jargs))  # with jit: compiles
    except Exception as e:
        notes.append(f"{name} failed: {_first_line(e)}")
        return []
    same = agree(grads, reference)
    checks[f"{name} vs hand-written"] = _verdict(same, grads, reference)
    return [Contender(name, run, jargs)] if same else []


def torch_contender(w, args, reference, checks, notes, torch, fn=None) -> list[Contender]:
    """torch.autograd.grad of `fn` (default: the workload's code with `np` bound to torch)."""
    tf = fn if fn is not None else rebind_numpy(w.fn, torch)  # torch can assign into tensors
    targs = tuple(
        torch.from_numpy(a)
        if isinstance(a, np.ndarray)
        else torch.tensor(float(a))
        if i in w.argnums
        else a
        for i, a in enumerate(args)
    )

    def run_torch(*a, _f=tf, _argnums=w.argnums, _grad=torch.autograd.grad):
        leaves = list(a)
        for i in _argnums:
            leaves[i] = a[i].detach().requires_grad_()
        return _grad(_f(*leaves), [leaves[i] for i in _argnums])

    try:
        grads = _as_arrays(g.numpy() for g in run_torch(*targs))
    except Exception as e:
        notes.append(f"PyTorch failed: {_first_line(e)}")
        return []
    same = agree(grads, reference)
    checks["torch autograd vs hand-written"] = _verdict(same, grads, reference)
    return [Contender(TORCH, run_torch, targs)] if same else []


def run_workload(
    w: Workload, frameworks: dict[str, Any], rounds: int, batch_seconds: float, seed: int
) -> Result:
    rng = np.random.default_rng(seed)
    args = w.make_data(rng)
    notes: list[str] = []
    checks: dict[str, str] = {}

    reference = _as_arrays(w.hand_grad(*args))
    rel = directional_check(w.fn, args, w.argnums, reference, rng)
    checks["hand-written vs finite differences"] = (
        f"{'ok' if rel < 1e-5 else 'MISMATCH'} (directional, rel. err {rel:.1e})"
    )

    contenders = [Contender(FORWARD, w.fn, args)]
    contenders += chainrule_contenders(w, args, reference, checks, notes)
    contenders.append(Contender(HAND, w.hand_grad, args))
    if "autograd" in frameworks:
        contenders += autograd_contender(w, args, reference, checks, notes, frameworks["autograd"])
    if "jax" in frameworks:
        contenders += jax_contender(w, args, reference, checks, notes, frameworks["jax"])
    if "torch" in frameworks:
        contenders += torch_contender(w, args, reference, checks, notes, frameworks["torch"])

    ok = not any("MISMATCH" in v for v in checks.values())
    stats = measure(contenders, rounds=rounds, batch_seconds=batch_seconds)
    return Result(w, stats, checks, notes, ok)


# ---------------------------------------------------------------------------
# Reporting.

RATIOS = [
    ("cr/fwd", CR_GRAD, FORWARD, "chainrule grad / forward"),
    ("hand/fwd", HAND, FORWARD, "hand-written fwd+bwd / forward"),
    ("cr/hand", CR_GRAD, HAND, "chainrule grad / hand-written fwd+bwd (target <= 1.25)"),
    ("cr/autograd", CR_GRAD, AG_GRAD, "chainrule grad / autograd grad"),
    ("cr/jax-jit", CR_GRAD, JAX_JIT, "chainrule grad / jax.jit(jax.grad)"),
    ("cr/torch", CR_GRAD, TORCH, "chainrule grad / PyTorch autograd"),
]


def _ratio_cell(stats: dict[str, Stats], a: str, b: str) -> str:
    r, best = ratio(stats, a, b), ratio(stats, a, b, best=True)
    return "n/a" if r is None or best is None else f"{r:.2f} ({best:.2f})"


def print_summary(results: list[Result], out=sys.stdout) -> None:
    print(
        "\n== ratios of median times (in brackets: of minimum times, which a busy machine "
        "disturbs less); below 1 means the first is faster",
        file=out,
    )
    name_w = max(len(r.workload.name) for r in results) + 2
    print(f"   {'workload':<{name_w}}" + "".join(f"{k:>16}" for k, *_ in RATIOS), file=out)
    for r in results:
        cells = "".join(f"{_ratio_cell(r.stats, a, b):>16}" for _, a, b, _ in RATIOS)
        print(f"   {r.workload.name:<{name_w}}{cells}", file=out)
    for key, _, _, meaning in RATIOS:
        print(f"   {key}: {meaning}", file=out)


def main(argv: list[str] | None = None) -> int:
    names = list(WORKLOADS)
    parser = common_parser(__doc__.splitlines()[0], names, torch=True)
    opts = parse_options(parser, argv, names, __file__)
    selected = [n for n in WORKLOADS if n in opts.only] if opts.only else list(SEED_WORKLOADS)

    rounds = opts.rounds or (3 if opts.quick else 21)
    batch_seconds = (opts.batch_ms or (2.0 if opts.quick else 40.0)) / 1000

    frameworks, info = load_frameworks(
        [
            ("autograd", load_autograd, opts.no_autograd),
            ("jax", load_jax, opts.no_jax),
            ("torch", load_torch, opts.no_torch),
        ]
    )
    if "torch" in frameworks and opts.threads:
        frameworks["torch"].set_num_threads(opts.threads)
    env = print_header(info, rounds, batch_seconds)

    results = []
    for name in selected:
        res = run_workload(WORKLOADS[name], frameworks, rounds, batch_seconds, opts.seed)
        print_result(res)
        results.append(res)
    settings = {
        "rounds": rounds,
        "batch_seconds": batch_seconds,
        "quick": opts.quick,
        "seed": opts.seed,
        "threads": opts.threads,
    }
    return finish(results, opts.json, env, settings, print_summary, RATIOS)


if __name__ == "__main__":
    sys.exit(main())
