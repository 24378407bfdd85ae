"""A numerically stable softplus, made a primitive with a derivative rule of its own.

softplus(x) = log(1 + exp(x)) is a smooth ReLU, and the logistic loss is
softplus(-margin).  Written as the formula says, it overflows: exp(1000) is
inf in float64, so the value is inf and the gradient, exp(x) / (1 + exp(x)),
is inf / inf = nan.  The stable form

    softplus(x) = max(x, 0) + log1p(exp(-|x|))

never exponentiates a positive number.  chainrule could differentiate that
body operation by operation (calls are inlined), but the derivative has a
much shorter closed form, the logistic sigmoid, which is also
exp(x - softplus(x)): the saved output makes it one stable line.  Registering
that rule with `chainrule.adjoint` turns `softplus` into a primitive, and the
rule appears inlined, with its docstring as the comment, in the generated
source printed below.

    python examples/custom_rule.py
"""

import numpy as np

import chainrule


def naive_softplus(x):
    return np.log(1 + np.exp(x))


def stable_softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus(x):
    """The primitive: the stable formula, differentiated by the rule below."""
    return stable_softplus(x)


@chainrule.adjoint(softplus)
def softplus_adjoint(y, x):
    "softplus: scale by sigmoid(x) = exp(x - y), reusing the saved output"
    dx = dy * np.exp(x - y)  # noqa: F821, F841 (dy is bound when the rule is inlined)


def logistic_loss(w, X, t):
    """Mean logistic loss of labels t (+1 or -1): softplus of minus the margin."""
    return np.mean(softplus(-t * (X @ w)))


def naive_logistic_loss(w, X, t):
    return np.mean(naive_softplus(-t * (X @ w)))


def inlined_logistic_loss(w, X, t):
    return np.mean(stable_softplus(-t * (X @ w)))


def main():
    dloss = chainrule.grad(logistic_loss)
    print("The gradient of logistic_loss, with the softplus rule inlined:\n")
    chainrule.show(dloss)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    t = np.where(rng.random(20) < 0.5, -1.0, 1.0)
    w = rng.normal(size=3)
    worst = chainrule.check_grad(logistic_loss, w, X, t)
    print(f"\nagrees with finite differences: largest difference {worst:.1e}")
    assert worst < 1e-6, "the rule disagrees with finite differences"

    lines = {
        name: len(chainrule.source(f).splitlines())
        for name, f in [("rule", logistic_loss), ("inlined", inlined_logistic_loss)]
    }
    print(
        f"generated source: {lines['rule']} lines with the rule, {lines['inlined']} when "
        "the stable body is inlined and differentiated operation by operation"
    )

    print("\nsoftplus and its derivative, naive formula versus the primitive with its rule:\n")
    print(f"{'x':>8}{'naive':>12}{'d naive':>12}{'softplus':>12}{'d softplus':>12}")
    d_naive = chainrule.grad(lambda x: naive_softplus(x))
    d_stable = chainrule.grad(lambda x: softplus(x))
    with np.errstate(over="ignore", invalid="ignore"):
        for x in (-1000.0, -30.0, 0.0, 30.0, 1000.0):
            row = (naive_softplus(x), d_naive(x), softplus(x), d_stable(x))
            print(f"{x:>8g}" + "".join(f"{v:>12.6g}" for v in row))

    print("\nThe same data scaled by 1000 (margins in the thousands):")
    big = 1000 * X
    with np.errstate(over="ignore", invalid="ignore"):
        L, dw = chainrule.value_and_grad(naive_logistic_loss)(w, big, t)
        print(f"  naive formula: loss {L}, gradient {dw}")
    L, dw = chainrule.value_and_grad(logistic_loss)(w, big, t)
    print(f"  with the rule: loss {L:.6g}, gradient {np.array2string(dw, precision=6)}")
    assert np.isfinite(L) and np.all(np.isfinite(dw))


if __name__ == "__main__":
    main()
