"""Why residual connections let gradients reach the bottom of a deep stack.

Two 50-layer stacks of width 64 share the same weights:

    plain:     h = tanh(Ws[l] @ h)
    residual:  h = h + tanh(Ws[l] @ h)

and the same loss, sum(h**2) / 2 at the top.  In the plain stack the gradient
reaching layer l is a product of 50 - l Jacobians diag(1 - t**2) @ Ws[k]; with
weights of the usual small scale each factor shrinks it, and the bottom
layers get almost nothing.  In the residual stack each Jacobian is
I + diag(1 - t**2) @ Ws[k]: the identity part (the "highway") carries the
gradient down unchanged, whatever the weights do.

Per-layer gradients come from one call: each layer adds eps[l], an input of
shape (L, width) that is zero, to its output, so the gradient with respect to
eps[l] is the gradient with respect to that layer's output.

    python examples/residual_highway.py              # prints a table
    python examples/residual_highway.py --out DIR    # also DIR/residual_highway.png (matplotlib)
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule


def plain_loss(Ws, h0, eps):
    h = h0
    for l in range(Ws.shape[0]):
        h = np.tanh(Ws[l] @ h) + eps[l]
    return np.sum(h**2) / 2


def residual_loss(Ws, h0, eps):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + np.tanh(Ws[l] @ h) + eps[l]
    return np.sum(h**2) / 2


def layer_gradient_norms(loss, Ws, h0):
    """||dL/d(output of layer l)|| for every layer l, from one gradient call."""
    L, width = Ws.shape[0], Ws.shape[1]
    dL_deps = chainrule.grad(loss, argnums=2)(Ws, h0, np.zeros((L, width)))
    return np.linalg.norm(dL_deps, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write residual_highway.png into this directory")
    opts = parser.parse_args()

    rng = np.random.default_rng(0)
    L, width = 50, 64
    Ws = rng.normal(size=(L, width, width)) * (0.5 / np.sqrt(width))
    h0 = rng.normal(size=width)
    norms = {
        "plain": layer_gradient_norms(plain_loss, Ws, h0),
        "residual": layer_gradient_norms(residual_loss, Ws, h0),
    }

    print(f"{L} layers of width {width}, weights N(0, 0.5**2 / {width}), the same for both.")
    print("Gradient norm with respect to each layer's output, relative to the top layer's:\n")
    print(f"{'layer':>7}{'plain':>14}{'residual':>14}")
    for l in [*range(0, L, 5), L - 1]:
        cells = "".join(f"{n[l] / n[-1]:>14.2e}" for n in norms.values())
        print(f"{l:>7}{cells}")
    print()
    for name, n in norms.items():
        print(f"{name:>8}: layer 0 gets {n[0] / n[-1]:.1e} times the top layer's gradient")

    if opts.out:
        plot(norms, opts.out)


def plot(norms, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, n in norms.items():
        ax.semilogy(n / n[-1], label=name)
    ax.set_xlabel("layer l")
    ax.set_ylabel("||dL/dh_l|| / ||dL/dh_top||")
    ax.set_title("Gradient reaching each layer of a 50-layer tanh stack")
    ax.legend()
    fig.tight_layout()
    path = out_dir / "residual_highway.png"
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
