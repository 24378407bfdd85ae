"""Rules for SciPy's special functions, scipy.stats.norm and scipy.signal.convolve
(rules/scipy_special.py), over hypothesis-drawn sizes, against finite differences,
second derivatives and autograd where it has the function (rules_cases.check_case)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FEWER
from hypothesis import assume, given
from hypothesis import strategies as st
from rules_cases import Case, check_case

pytest.importorskip("scipy.special")
import scipy.signal  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import chainrule  # noqa: E402
from chainrule import CompileError  # noqa: E402


def errors(x):
    return scipy.special.erf(x) + scipy.special.erfc(x) * 2.0 + scipy.special.erfinv(x * 0.5)


def erfcinv(x):
    return scipy.special.erfcinv(x * 0.5 + 1.0)


def gammas(x):
    return (
        scipy.special.gammaln(x)
        + scipy.special.digamma(x)
        + scipy.special.polygamma(2, x)
        + scipy.special.psi(x)
        + scipy.special.gamma(x)
        + scipy.special.rgamma(x)
    )


def betas(a, b):
    return scipy.special.beta(a, b) + scipy.special.betaln(a, b)


def multigammaln(a):
    return scipy.special.multigammaln(a + 3.0, 3)


def sigmoids(x):
    return scipy.special.expit(x) + scipy.special.logit(scipy.special.expit(x) * 0.5 + 0.25)


def xlogys(x, y):
    return scipy.special.xlogy(x, y) + scipy.special.xlog1py(x, y)


def logsumexp_all(a):
    return scipy.special.logsumexp(a)


def logsumexp_axis(a):
    return scipy.special.logsumexp(a, axis=1)


def logsumexp_weights(a, b):
    return scipy.special.logsumexp(a, axis=0, b=b, keepdims=True)


def softmaxes(x):
    return scipy.special.softmax(x, axis=1) + scipy.special.log_softmax(x, axis=1)


def softmax_all(x):
    return scipy.special.softmax(x)


def bessels(x):
    return (
        scipy.special.jv(1.5, x) + scipy.special.yv(0.5, x) + scipy.special.yn(2, x)
        + scipy.special.iv(1.0, x) + scipy.special.ive(2.0, x) + scipy.special.j0(x)
        + scipy.special.j1(x) + scipy.special.y0(x) + scipy.special.y1(x)
        + scipy.special.i0(x) + scipy.special.i1(x)
    )  # fmt: skip


def normal(x, loc, scale):
    return (
        scipy.stats.norm.pdf(x, loc, scale) + scipy.stats.norm.logpdf(x, loc, scale)
        + scipy.stats.norm.cdf(x, loc, scale) + scipy.stats.norm.logcdf(x, loc, scale)
        + scipy.stats.norm.sf(x, loc, scale) + scipy.stats.norm.logsf(x, loc, scale)
    )  # fmt: skip


def normal_keywords(x):
    return scipy.stats.norm.cdf(x) + scipy.stats.norm.logpdf(x, scale=2.0)


def convolve_full(a, b):
    return scipy.signal.convolve(a, b)


def convolve_same(a, b):
    return scipy.signal.convolve(a, b, mode="same")


def convolve_valid(a, b):
    return scipy.signal.convolve(a, b, mode="valid")


def positive(r, shape):
    return r.uniform(0.5, 2.0, size=shape)


CASES = [
    Case(errors, lambda r, n: (r.uniform(-1, 1, size=n),)),
    Case(erfcinv, lambda r, n: (r.uniform(-1, 1, size=n),), autograd=False),
    Case(gammas, lambda r, n: (positive(r, n),), autograd=False),
    Case(betas, lambda r, n: (positive(r, n), positive(r, n)), autograd=False),
    Case(multigammaln, lambda r, n: (positive(r, n),)),
    Case(sigmoids, lambda r, n: (r.normal(size=n),)),
    Case(xlogys, lambda r, n: (r.normal(size=n), positive(r, n)), autograd=False),
    Case(logsumexp_all, lambda r, n: (r.normal(size=(n, 3)),)),
    Case(logsumexp_axis, lambda r, n: (r.normal(size=(n, 3)),)),
    Case(logsumexp_weights, lambda r, n: (r.normal(size=(n, 3)), positive(r, 3)), False),
    Case(softmaxes, lambda r, n: (r.normal(size=(n, 3)),), autograd=False),
    Case(softmax_all, lambda r, n: (r.normal(size=(n, 3)),), autograd=False),
    Case(bessels, lambda r, n: (positive(r, n),), autograd=False),
    Case(normal, lambda r, n: (r.normal(size=n), r.normal(size=n), positive(r, n)), False),
    Case(normal_keywords, lambda r, n: (r.normal(size=n),)),
    Case(convolve_full, lambda r, n: (r.normal(size=(n, 3)), r.normal(size=(2, 2))), False),
    Case(convolve_same, lambda r, n: (r.normal(size=(n, 4)), r.normal(size=(3, 2))), False),
    Case(convolve_valid, lambda r, n: (r.normal(size=(n + 2, 4)), r.normal(size=(2, 3))), False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 4))
def test_rule(case, seed, size, tmp_path_factory):
    check_case(case, np.random.default_rng(seed), size, tmp_path_factory.mktemp("scalar"))


def ndtr_sum(x):
    return np.sum(scipy.special.ndtr(x))


def laplace_sum(x):
    return np.sum(scipy.stats.laplace.pdf(x))


def mvt_sum(x):  # (multivariate_normal has rules: rules/scipy_multivariate.py)
    return np.sum(scipy.stats.multivariate_t.logpdf(x, np.zeros(2)))


@pytest.mark.parametrize(
    "f, name",
    [
        (ndtr_sum, "scipy.special.ndtr"),
        (laplace_sum, "scipy.stats.laplace.pdf"),
        (mvt_sum, "scipy.stats.multivariate_t.logpdf"),
    ],
)
def test_a_missing_rule_names_the_function_and_shows_a_template(f, name):
    for call in (
        lambda: chainrule.grad(f)(np.ones(2)),
        lambda: chainrule.jvp(f, (np.ones(2),), (np.ones(2),)),
    ):
        with pytest.raises(CompileError) as info:
            call()
        message = str(info.value)
        assert f"{name} has no derivative rule" in message
        assert "docs/extending.md" in message
        assert "@chainrule." in message and f"({name})" in message


# -- scipy.signal.convolve2d (zero fill: scipy.signal.convolve's rules) --------------------


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve2d(mode):
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    aconvolve = pytest.importorskip("autograd.scipy.signal").convolve
    from chainrule.testing import check_grads

    def loss(kernel, image):
        return np.sum(np.sin(scipy.signal.convolve2d(image, kernel * kernel, mode)) ** 2)

    def oracle(kernel, image):
        return anp.sum(anp.sin(aconvolve(image, kernel * kernel, mode=mode)) ** 2)

    rng = np.random.default_rng(7)
    kernel, image = rng.normal(size=(3, 2)), rng.normal(size=(6, 5))
    for k in (0, 1):
        np.testing.assert_allclose(
            chainrule.grad(loss, argnums=k)(kernel, image),
            autograd.grad(oracle, k)(kernel, image),
            atol=1e-12,
        )
    check_grads(loss, (kernel, image), order=2)

    def wrapped(kernel, image):
        return np.sum(scipy.signal.convolve2d(image, kernel, boundary="wrap"))

    with pytest.raises(ValueError, match="boundary='fill' and fillvalue=0"):
        chainrule.grad(wrapped)(kernel, image)


@FEWER
@given(
    image=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    mode=st.sampled_from(["full", "same", "valid"]),
    seed=st.integers(0, 2**16),
)
def test_convolve2d_over_drawn_shapes(image, kernel, mode, seed):
    from chainrule.testing import check_grads

    if mode == "valid":  # one input must cover the other along both axes
        assume(
            all(a >= b for a, b in zip(image, kernel)) or all(a <= b for a, b in zip(image, kernel))
        )
    rng = np.random.default_rng(seed)
    a, k = rng.normal(size=image), rng.normal(size=kernel)
    w = rng.normal(size=scipy.signal.convolve2d(a, k, mode).shape)

    def loss(a, k):
        return np.sum(np.tanh(scipy.signal.convolve2d(a, k, mode)) * w)

    check_grads(loss, (a, k))
