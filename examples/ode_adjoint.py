"""Recover a spring's stiffness and damping by differentiating through an ODE solver.

A mass on a damped spring follows x'' = -k x - c x'.  We integrate it with
explicit Euler for 1,000 steps of dt = 0.01, and measure how far the
simulated positions are from an observed (noisy) trajectory:

    for i in range(n):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        loss = loss + (x - x_obs[i]) ** 2

chainrule differentiates this loop as written.  Its gradient code runs the
loop backwards, carrying the adjoints of x and v from the last step to the
first: that is the (discrete) adjoint method, without deriving any adjoint
equation by hand.  Plain gradient descent on (k, c) then finds the spring.

    python examples/ode_adjoint.py              # prints the descent
    python examples/ode_adjoint.py --out DIR    # also DIR/ode_adjoint.png (matplotlib)
"""

import argparse
from pathlib import Path

import numpy as np
from loop_workloads import oscillator_loss, simulate_oscillator

import chainrule

K_TRUE, C_TRUE = 4.0, 0.3
X0, V0, DT, STEPS = 1.0, 0.0, 0.01, 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write ode_adjoint.png into this directory")
    opts = parser.parse_args()

    rng = np.random.default_rng(0)
    x_obs = simulate_oscillator(K_TRUE, C_TRUE, X0, V0, DT, STEPS)
    x_obs = x_obs + 0.02 * rng.normal(size=STEPS)  # measurement noise

    k, c = 2.5, 0.8  # first guess
    data = (X0, V0, x_obs, DT)
    worst = chainrule.check_grad(oscillator_loss, k, c, *data, argnums=(0, 1))
    print(f"gradient vs finite differences at the first guess: largest difference {worst:.1e}\n")

    dloss = chainrule.grad(oscillator_loss, argnums=(0, 1))
    lr = 1e-3
    print(f"gradient descent, step size {lr}:")
    print(f"{'iter':>6}{'k':>10}{'c':>10}{'loss':>12}")
    path = [(k, c)]
    for it in range(41):
        if it % 5 == 0:
            print(f"{it:>6}{k:>10.4f}{c:>10.4f}{oscillator_loss(k, c, *data):>12.4f}")
        dk, dc = dloss(k, c, *data)
        k, c = k - lr * dk, c - lr * dc
        path.append((k, c))
    print(f"\nrecovered k = {k:.3f}, c = {c:.3f}; the spring was k = {K_TRUE}, c = {C_TRUE}")
    floor = STEPS * 0.02**2
    print(f"(with noise of standard deviation 0.02 the loss cannot go much below {floor:.2f})")

    if opts.out:
        plot(x_obs, path, opts.out)


def plot(x_obs, path, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    t = DT * np.arange(1, STEPS + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(t, x_obs, ".", ms=2, color="gray", label="observed")
    k0, c0 = path[0]
    ax1.plot(t, simulate_oscillator(k0, c0, X0, V0, DT, STEPS), label=f"first guess k={k0}, c={c0}")
    k, c = path[-1]
    ax1.plot(t, simulate_oscillator(k, c, X0, V0, DT, STEPS), label=f"fitted k={k:.2f}, c={c:.2f}")
    ax1.set_xlabel("time")
    ax1.set_ylabel("position x")
    ax1.legend(fontsize=8)
    ks, cs = zip(*path)
    ax2.plot(ks, cs, "o-", ms=3)
    ax2.plot([K_TRUE], [C_TRUE], "r*", ms=12, label="true spring")
    ax2.set_xlabel("stiffness k")
    ax2.set_ylabel("damping c")
    ax2.set_title("gradient descent path")
    ax2.legend()
    fig.tight_layout()
    out = out_dir / "ode_adjoint.png"
    fig.savefig(out, dpi=120)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
