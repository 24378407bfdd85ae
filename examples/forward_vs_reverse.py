"""Forward or reverse mode for a full Jacobian: the crossover the seed describes.

For F: R^d -> R^k, the Jacobian has k rows and d columns.  Forward mode
(`chainrule.jacfwd`) gets one column per pass of the tangent code, so it
needs d passes; reverse mode (`chainrule.jacrev`) gets one row per pass of
the backward code, so it needs k passes.  Reverse mode wins for many inputs
and few outputs (a loss: k = 1), forward mode for few inputs and many outputs.

F here is a two-layer network, tanh(W2 @ tanh(W1 @ x)) with 32 hidden units.
The script times both Jacobians over a grid of d and k (best of a few runs),
checks that they agree, and prints the ratio of the two times: below 1,
forward mode is faster.  The crossover sits near the diagonal d = k.

    python examples/forward_vs_reverse.py
    python examples/forward_vs_reverse.py --out DIR    # also DIR/forward_vs_reverse.png
"""

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule

SIZES = [1, 4, 16, 64]
HIDDEN = 32


def network(x, W1, W2):
    h = np.tanh(W1 @ x)
    return np.tanh(W2 @ h)


def best_time(fn, *args, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def measure(rng):
    forward = chainrule.jacfwd(network)
    reverse = chainrule.jacrev(network)
    times = {}
    for d in SIZES:
        for k in SIZES:
            x = rng.normal(size=d)
            W1 = rng.normal(size=(HIDDEN, d)) / np.sqrt(d)
            W2 = rng.normal(size=(k, HIDDEN)) / np.sqrt(HIDDEN)
            jf, jr = forward(x, W1, W2), reverse(x, W1, W2)  # (also compiles both)
            assert jf.shape == (k, d) and np.allclose(jf, jr, atol=1e-12)
            times[d, k] = (best_time(forward, x, W1, W2), best_time(reverse, x, W1, W2))
    return times


def table(times):
    print("time of the forward-mode Jacobian / time of the reverse-mode Jacobian")
    print("(below 1: forward mode wins; d inputs across, k outputs down)\n")
    print("k \\ d " + "".join(f"{d:>8}" for d in SIZES))
    for k in SIZES:
        cells = "".join(f"{times[d, k][0] / times[d, k][1]:>8.2f}" for d in SIZES)
        print(f"{k:>5} " + cells)
    print("\nmilliseconds per Jacobian, forward / reverse:\n")
    print("k \\ d " + "".join(f"{d:>14}" for d in SIZES))
    for k in SIZES:
        cells = "".join(f"{1e3 * times[d, k][0]:>7.2f}/{1e3 * times[d, k][1]:<6.2f}" for d in SIZES)
        print(f"{k:>5} " + cells)
    wins = [(d, k) for d in SIZES for k in SIZES if times[d, k][0] < times[d, k][1]]
    above = sum(1 for d, k in wins if d < k)
    print(
        f"\nforward mode wins {len(wins)} of {len(SIZES) ** 2} cases; "
        f"{above} of them have fewer inputs than outputs (d < k)"
    )


def plot(times, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    ratio = np.array([[times[d, k][0] / times[d, k][1] for d in SIZES] for k in SIZES])
    fig, ax = plt.subplots(figsize=(5, 4))
    image = ax.imshow(np.log2(ratio), cmap="RdBu_r", vmin=-6, vmax=6, origin="lower")
    ax.set_xticks(range(len(SIZES)), SIZES)
    ax.set_yticks(range(len(SIZES)), SIZES)
    ax.set_xlabel("inputs d (forward mode: d passes)")
    ax.set_ylabel("outputs k (reverse mode: k passes)")
    for i in range(len(SIZES)):
        for j in range(len(SIZES)):
            ax.text(j, i, f"{ratio[i, j]:.2g}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, label="log2(forward time / reverse time)")
    ax.set_title("full Jacobian: forward vs reverse mode")
    fig.tight_layout()
    path = out_dir / "forward_vs_reverse.png"
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write forward_vs_reverse.png into this directory")
    opts = parser.parse_args()
    times = measure(np.random.default_rng(0))
    table(times)
    if opts.out:
        plot(times, opts.out)


if __name__ == "__main__":
    main()
