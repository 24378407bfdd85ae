"""A tiny convolutional network written with plain loops, trained by SGD.

The network is what a textbook draws, written the way one first writes it:
two 3x3 convolution kernels filling two output maps entry by entry, a 2x2
max-pooling filling smaller maps, a dense layer, and the logistic loss:

    out[k, i, j] = np.sum(img[i:i+3, j:j+3] * K[k])         for each k, i, j
    pooled[k, i, j] = np.max(out[k, 2i:2i+2, 2j:2j+2])      for each k, i, j
    z = np.sum(pooled * V) + c
    loss = log(1 + exp(-y z))                               y = +1 or -1

chainrule differentiates the loops and the assignments into `out` and
`pooled` directly: no im2col, no vectorized rewrite.  The task is a toy:
tell 10x10 images of a vertical bar (y = +1) from images of a horizontal bar
(y = -1), in noise.  A few epochs of stochastic gradient descent on 100
images are enough, and the kernels end up tuned to horizontal and vertical
strokes.

    python examples/cnn_from_loops.py              # prints the training
    python examples/cnn_from_loops.py --out DIR    # also DIR/cnn_from_loops.png (matplotlib)
"""

import argparse
from pathlib import Path

import numpy as np

import chainrule


def loss(K, V, c, img, y):
    out = np.zeros((K.shape[0], img.shape[0] - 2, img.shape[1] - 2))
    for k in range(K.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[k, i, j] = np.sum(img[i : i + 3, j : j + 3] * K[k])
    pooled = np.zeros((K.shape[0], out.shape[1] // 2, out.shape[2] // 2))
    for k in range(K.shape[0]):
        for i in range(pooled.shape[1]):
            for j in range(pooled.shape[2]):
                pooled[k, i, j] = np.max(out[k, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    z = np.sum(pooled * V) + c
    return np.logaddexp(0, -y * z)


def bars(rng, n, size=10, noise=0.25):
    """n noisy images with one bar each: vertical (label +1) or horizontal (label -1)."""
    images = noise * rng.normal(size=(n, size, size))
    labels = rng.choice([-1.0, 1.0], size=n)
    for img, y in zip(images, labels):
        where = rng.integers(1, size - 1)
        start = rng.integers(0, 3)
        length = rng.integers(size - 4, size - start + 1)
        if y > 0:
            img[start : start + length, where] += 1.0
        else:
            img[where, start : start + length] += 1.0
    return images, labels


def evaluate(params, images, labels):
    """Mean loss and accuracy.  loss < log 2 exactly when y z > 0, a correct prediction."""
    losses = np.array([loss(*params, img, y) for img, y in zip(images, labels)])
    return losses.mean(), np.mean(losses < np.log(2))


def show_kernels(K):
    for rows in zip(*K):
        print("    " + "      ".join(" ".join(f"{v:+.2f}" for v in row) for row in rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write cnn_from_loops.png into this directory")
    opts = parser.parse_args()

    rng = np.random.default_rng(1)
    train_x, train_y = bars(rng, 100)
    test_x, test_y = bars(rng, 100)
    params = [rng.normal(size=(2, 3, 3)) * 0.5, rng.normal(size=(2, 4, 4)) * 0.1, 0.0]

    step = chainrule.value_and_grad(loss, argnums=(0, 1, 2))
    worst = chainrule.check_grad(loss, *params, train_x[0], train_y[0], argnums=(0, 1, 2))
    print(f"gradient vs finite differences on one image: largest difference {worst:.1e}\n")

    lr = 0.1
    print(f"SGD, step size {lr}, one image at a time")
    print(f"{'epoch':>6}{'train loss':>12}{'train acc':>11}{'test loss':>11}{'test acc':>10}")
    history = []
    for epoch in range(7):
        if epoch:
            for n in rng.permutation(len(train_x)):
                _, grads = step(*params, train_x[n], train_y[n])
                params = [p - lr * g for p, g in zip(params, grads)]
        tr_loss, tr_acc = evaluate(params, train_x, train_y)
        te_loss, te_acc = evaluate(params, test_x, test_y)
        history.append((tr_loss, te_loss))
        print(f"{epoch:>6}{tr_loss:>12.4f}{tr_acc:>11.0%}{te_loss:>11.4f}{te_acc:>10.0%}")

    print("\nthe two learned 3x3 kernels:")
    show_kernels(params[0])

    if opts.out:
        plot(history, params[0], opts.out)


def plot(history, K, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), width_ratios=[2, 1, 1])
    train, test = zip(*history)
    axes[0].plot(train, "o-", label="train")
    axes[0].plot(test, "o-", label="test")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("mean logistic loss")
    axes[0].legend()
    for k, ax in enumerate(axes[1:]):
        ax.imshow(K[k], cmap="RdBu_r", vmin=-np.abs(K).max(), vmax=np.abs(K).max())
        ax.set_title(f"kernel {k}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path = out_dir / "cnn_from_loops.png"
    fig.savefig(path, dpi=120)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
