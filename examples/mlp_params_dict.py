"""An MLP whose parameters live in a dict, split into helper functions, trained by SGD.

Model code rarely fits in one function with one argument per array: the
parameters sit in a (nested) dict, and the forward pass calls small helpers.
chainrule differentiates that code as written:

    params = {"hidden": {"W": ..., "b": ...}, "output": {"W": ..., "b": ...}}

    def dense(layer, x):                  # one affine layer
    def forward(params, x):               # dense -> tanh -> dense
    def log_softmax(z):                   # stable, with the row maximum subtracted
    def loss(params, x, labels):          # mean cross-entropy

`grad(loss)(params, x, labels)` returns the gradient as a dict of the same
shape, so an SGD step is one line per leaf.  The calls are inlined into the
generated code (each inlined line is introduced by a comment naming the
helper, e.g. `# dense: return x @ layer["W"] + layer["b"]`), and the dict's
leaves become plain variables such as `params_hidden_W`.

The data set: three interleaved spiral arms in the plane, 300 points, which
a linear classifier cannot separate.

    python examples/mlp_params_dict.py              # prints the training
    python examples/mlp_params_dict.py --out DIR    # also DIR/mlp_params_dict.png (matplotlib)
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule


def dense(layer, x):
    return x @ layer["W"] + layer["b"]


def forward(params, x):
    h = np.tanh(dense(params["hidden"], x))
    return dense(params["output"], h)


def log_softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def loss(params, x, onehot):
    """Mean cross-entropy of the labels (one-hot rows) under the network's softmax."""
    return -np.mean(np.sum(onehot * log_softmax(forward(params, x)), axis=1))


def loss_of_arrays(W1, b1, W2, b2, x, onehot):
    """The same loss with one argument per array, building the dict inside."""
    params = {"hidden": {"W": W1, "b": b1}, "output": {"W": W2, "b": b2}}
    return loss(params, x, onehot)


def spirals(rng, n_per_class=100, classes=3):
    """Points on `classes` spiral arms with a little noise; the arm is the label."""
    radius = np.tile(np.linspace(0.1, 1.0, n_per_class), classes)
    labels = np.repeat(np.arange(classes), n_per_class)
    angle = labels * 2 * np.pi / classes + 3.0 * radius + rng.normal(scale=0.15, size=radius.size)
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return x, labels


def init(rng, inputs=2, hidden=32, classes=3):
    return {
        "hidden": {"W": rng.normal(size=(inputs, hidden)), "b": np.zeros(hidden)},
        "output": {
            "W": rng.normal(size=(hidden, classes)) / np.sqrt(hidden),
            "b": np.zeros(classes),
        },
    }


def accuracy(params, x, labels):
    return np.mean(np.argmax(forward(params, x), axis=1) == labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write mlp_params_dict.png into this directory")
    opts = parser.parse_args()

    rng = np.random.default_rng(0)
    x, labels = spirals(rng)
    onehot = np.eye(3)[labels]
    params = init(rng)

    step = chainrule.value_and_grad(loss)
    _, grads = step(params, x, onehot)
    print("the gradient has the structure of the parameters:")
    for name, layer in grads.items():
        print(f"  grads[{name!r}]: " + ", ".join(f"{k} {v.shape}" for k, v in layer.items()))

    # The same gradient through the one-array-per-argument version, checked
    # against finite differences, agrees with the dict version leaf by leaf.
    leaves = [params["hidden"]["W"], params["hidden"]["b"], params["output"]["W"]]
    leaves.append(params["output"]["b"])
    worst = chainrule.check_grad(loss_of_arrays, *leaves, x, onehot, argnums=(0, 1, 2, 3))
    flat = chainrule.grad(loss_of_arrays, argnums=(0, 1, 2, 3))(*leaves, x, onehot)
    nested = [grads["hidden"]["W"], grads["hidden"]["b"], grads["output"]["W"]]
    nested.append(grads["output"]["b"])
    same = max(float(np.max(np.abs(a - b))) for a, b in zip(flat, nested))
    print(f"finite differences: largest difference {worst:.1e}; dict vs arrays: {same:.1e}\n")
    assert worst < 1e-6 and same < 1e-12, "the gradient disagrees with finite differences"

    source = step.source  # compiled for the structure of `params` seen at the call above
    start = source.index("    # dense:")
    print("the end of the generated backward pass, through the two dense layers:\n")
    print(source[start:])

    lr, batch = 0.5, 30
    print(f"SGD, step size {lr}, minibatches of {batch}")
    print(f"{'epoch':>6}{'loss':>10}{'accuracy':>10}")
    history = []
    for epoch in range(61):
        if epoch:
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                rows = order[start : start + batch]
                _, grads = step(params, x[rows], onehot[rows])
                params = {
                    name: {k: v - lr * grads[name][k] for k, v in layer.items()}
                    for name, layer in params.items()
                }
        L = loss(params, x, onehot)
        history.append(L)
        if epoch % 10 == 0:
            print(f"{epoch:>6}{L:>10.4f}{accuracy(params, x, labels):>10.0%}")

    assert history[-1] < history[0] / 10, "training should reduce the loss tenfold"

    if opts.out:
        plot(history, params, x, labels, opts.out)


def plot(history, params, x, labels, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].plot(history)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("mean cross-entropy")
    grid = np.linspace(-1.2, 1.2, 200)
    gx, gy = np.meshgrid(grid, grid)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    region = np.argmax(forward(params, points), axis=1).reshape(gx.shape)
    axes[1].contourf(gx, gy, region, levels=[-0.5, 0.5, 1.5, 2.5], alpha=0.3, cmap="brg")
    axes[1].scatter(x[:, 0], x[:, 1], c=labels, s=8, cmap="brg")
    axes[1].set_title("decision regions after training")
    axes[1].set_aspect("equal")
    fig.tight_layout()
    path = out_dir / "mlp_params_dict.png"
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
