"""Cost of helpers and parameter dicts: the same MLP written three ways.

1. flat: one function, every parameter a separate argument (bench_core's mlp_softmax);
2. structured: parameters in a dict, the model split into helpers (dense, relu,
   log_softmax, loss), called through the dict;
3. hand-written backward pass.

chainrule inlines the helpers and turns the dict into one variable per leaf,
so (2) should cost what (1) costs.  The script prints median times and the
ratios structured / flat and structured / hand-written, all measured in this
process, plus the transformation time of each version.  Run
`python benchmarks/bench_calls.py [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _timing import Contender, measure  # noqa: E402
from bench_core import mlp_softmax, mlp_softmax_data, mlp_softmax_hand_grad  # noqa: E402

import chainrule  # noqa: E402


def dense(layer, x):
    return x @ layer["W"] + layer["b"]


def relu(z):
    return np.maximum(0, z)


def log_softmax(logits):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def structured_loss(params, X, Y):
    hidden = relu(dense(params["hidden"], X))
    logp = log_softmax(dense(params["out"], hidden))
    return -np.sum(Y * logp) / X.shape[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    opts = parser.parse_args(argv)
    rounds, batch = (3, 0.02) if opts.quick else (15, 0.2)

    W1, b1, W2, b2, X, Y = mlp_softmax_data(np.random.default_rng(0))
    params = {"hidden": {"W": W1, "b": b1}, "out": {"W": W2, "b": b2}}

    start = time.perf_counter()
    flat = chainrule.grad(mlp_softmax, argnums=(0, 1, 2, 3))
    flat_grads = flat(W1, b1, W2, b2, X, Y)
    flat_compile = time.perf_counter() - start
    start = time.perf_counter()
    structured = chainrule.grad(structured_loss)
    tree = structured(params, X, Y)
    structured_compile = time.perf_counter() - start

    hand = mlp_softmax_hand_grad(W1, b1, W2, b2, X, Y)
    ours = (tree["hidden"]["W"], tree["hidden"]["b"], tree["out"]["W"], tree["out"]["b"])
    agree = all(np.allclose(a, b, rtol=1e-7, atol=1e-10) for a, b in zip(ours, hand))
    agree &= all(np.allclose(a, b, rtol=1e-7, atol=1e-10) for a, b in zip(flat_grads, hand))
    print(f"gradients agree (structured, flat, hand-written): {'yes' if agree else 'NO'}")

    contenders = [
        Contender("forward (flat)", mlp_softmax, (W1, b1, W2, b2, X, Y)),
        Contender("chainrule, flat arguments", flat, (W1, b1, W2, b2, X, Y)),
        Contender("chainrule, dict + helpers", structured, (params, X, Y)),
        Contender("hand-written fwd+bwd", mlp_softmax_hand_grad, (W1, b1, W2, b2, X, Y)),
    ]
    stats = measure(contenders, rounds, batch)
    for c in contenders:
        print(f"{c.name:28s} {stats[c.name].median * 1e6:10.1f} us")

    def r(a: str, b: str) -> float:
        return stats[a].median / stats[b].median

    print("== ratios of median times")
    print(f"dict + helpers / flat arguments: {r(contenders[2].name, contenders[1].name):.2f}")
    print(f"dict + helpers / hand-written:   {r(contenders[2].name, contenders[3].name):.2f}")
    print(f"dict + helpers / forward:        {r(contenders[2].name, contenders[0].name):.2f}")
    print(
        f"transformation time: flat {flat_compile * 1e3:.0f} ms, "
        f"dict + helpers {structured_compile * 1e3:.0f} ms (first call, both)"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
