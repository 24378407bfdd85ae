"""Vanishing and exploding gradients in a recurrent network, measured step by step.

A tanh RNN runs T steps, h = tanh(Wh @ h + Wx @ x_t + b), and the loss looks
at the final state only.  How much does the loss depend on what happened at
step t?  The gradient with respect to each step's hidden state answers that,
and it is the product of one Jacobian per later step, diag(1 - h**2) @ Wh:
roughly a power of Wh's spectral radius.  Below 1 the early steps'
gradients vanish, above 1 they explode, at 1 they stay level.

To get dL/d(state at step t) for every t from a single gradient call, the
loss takes an extra input `eps` of shape (T, hidden), added to each step's
pre-activation.  At eps = 0 nothing changes, and the gradient with respect to
eps[t] is exactly the gradient with respect to that pre-activation.

Wh is rho times a random orthogonal matrix, so every singular value is rho.
The inputs are small, so the units stay in tanh's near-linear range; with
large inputs the units saturate, 1 - h**2 shrinks, and the gradients vanish
whatever rho is.

    python examples/rnn_gradients.py              # prints a table
    python examples/rnn_gradients.py --out DIR    # also DIR/rnn_gradients.png (matplotlib)
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule


def rnn_loss(Wh, Wx, b, h0, xs, eps):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b + eps[t])
    return np.sum(h**2)


RHOS = (0.8, 1.0, 1.2)  # spectral radius of Wh: below, at and above 1


def step_gradient_norms(rho, rng_seed=0, T=50, hidden=32, inputs=16, input_scale=1e-6):
    """||dL/d pre-activation_t|| for t = 0..T-1, with Wh = rho * (a random rotation)."""
    rng = np.random.default_rng(rng_seed)
    Q, _ = np.linalg.qr(rng.normal(size=(hidden, hidden)))
    Wh = rho * Q
    Wx = rng.normal(size=(hidden, inputs)) * input_scale
    b = np.zeros(hidden)
    h0 = np.zeros(hidden)
    xs = rng.normal(size=(T, inputs))
    dL_deps = chainrule.grad(rnn_loss, argnums=5)(Wh, Wx, b, h0, xs, np.zeros((T, hidden)))
    return np.linalg.norm(dL_deps, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write rnn_gradients.png into this directory")
    opts = parser.parse_args()

    norms = {rho: step_gradient_norms(rho) for rho in RHOS}
    T = len(norms[RHOS[0]])
    print(f"Gradient norm with respect to the state at step t, T = {T} steps,")
    print("relative to the last step's (how much step t still matters to the loss):\n")
    print(f"{'step t':>8}" + "".join(f"{f'rho = {rho}':>14}" for rho in RHOS))
    for t in [*range(0, T, 5), T - 1]:
        print(f"{t:>8}" + "".join(f"{norms[rho][t] / norms[rho][-1]:>14.2e}" for rho in RHOS))
    print()
    for rho in RHOS:
        ratio = norms[rho][0] / norms[rho][-1]
        verdict = "vanishes" if ratio < 1e-2 else "explodes" if ratio > 1e2 else "stays level"
        print(f"rho = {rho}: step 0 / step {T - 1} = {ratio:.1e}  -> the gradient {verdict}")

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
    for rho, n in norms.items():
        ax.semilogy(n / n[-1], label=f"spectral radius {rho}")
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    ax.set_title("Gradient reaching each step of a tanh RNN")
    ax.legend()
    fig.tight_layout()
    path = out_dir / "rnn_gradients.png"
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
