"""Rules for SciPy's distributions other than the normal one and the incomplete gamma and
beta functions (rules/scipy_stats.py), over hypothesis-drawn sizes: against finite
differences (first and second order), autograd's scipy where it has the function and the
argument, and our modes against each other (rules_cases.check_case)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import FEWER
from hypothesis import given
from hypothesis import strategies as st
from rules_cases import Case, check_case

pytest.importorskip("scipy.stats")
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import chainrule  # noqa: E402
from chainrule import CompileError  # noqa: E402

DF = 3.0  # a degrees-of-freedom or count argument, which has no gradient


def chi2s(x):
    return (
        scipy.stats.chi2.pdf(x, DF)
        + scipy.stats.chi2.logpdf(x, DF + 1.0)
        + scipy.stats.chi2.cdf(x, DF)
    )


def t_densities(x, df, loc, scale):
    return scipy.stats.t.pdf(x, df, loc, scale) + scipy.stats.t.logpdf(x, df, loc, scale)


def t_distributions(x, loc):
    return scipy.stats.t.cdf(x, DF, loc, 2.0) + scipy.stats.t.logcdf(x, DF + 1.5, loc)


def gammas(x, a):
    return scipy.stats.gamma.pdf(x, a) + scipy.stats.gamma.logpdf(x, a)


def gamma_cdf(x):
    return scipy.stats.gamma.cdf(x, DF)


def betas(x, a, b):
    return scipy.stats.beta.pdf(x, a, b) + scipy.stats.beta.logpdf(x, a, b)


def beta_cdf(x):
    return scipy.stats.beta.cdf(x, 2.0, DF)


K = np.array([0.0, 1.0, 2.0, 5.0])


def poissons(mu):
    k = K[: np.shape(mu)[-1]] if np.ndim(mu) else 2.0
    return (
        scipy.stats.poisson.pmf(k, mu)
        + scipy.stats.poisson.logpmf(k, mu)
        + scipy.stats.poisson.cdf(k, mu)
    )


def incomplete(x):
    return (
        scipy.special.gammainc(DF, x)
        + scipy.special.gammaincc(1.5, x)
        + scipy.special.betainc(2.0, 3.0, x / (1.0 + x))
    )


SIMPLEX = np.array([0.2, 0.5, 0.3])


def dirichlets(alpha):  # (finite differences in x would leave the simplex, which SciPy refuses)
    return scipy.stats.dirichlet.logpdf(SIMPLEX, alpha) + scipy.stats.dirichlet.pdf(SIMPLEX, alpha)


def positive(r, shape):
    return r.uniform(0.5, 2.5, size=shape)


CASES = [
    Case(chi2s, lambda r, n: (positive(r, n),)),
    Case(
        t_densities,
        lambda r, n: (r.normal(size=n), positive(r, n) + 1, r.normal(size=n), positive(r, n)),
    ),
    Case(
        t_densities,
        lambda r, n: (r.normal(size=(n, 3)), positive(r, 3) + 1, 0.3, positive(r, (n, 1))),
    ),
    Case(t_distributions, lambda r, n: (r.normal(size=n), r.normal(size=n))),
    Case(gammas, lambda r, n: (positive(r, n), positive(r, n) + 0.5)),
    Case(gamma_cdf, lambda r, n: (positive(r, n),)),
    Case(betas, lambda r, n: (r.uniform(0.1, 0.9, size=n), positive(r, n), positive(r, n))),
    Case(beta_cdf, lambda r, n: (r.uniform(0.1, 0.9, size=n),)),
    Case(poissons, lambda r, n: (positive(r, min(n, 4)),)),
    Case(incomplete, lambda r, n: (positive(r, n),)),
    Case(dirichlets, lambda r, n: (positive(r, 3) + 0.5,)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 4))
def test_rule(case, seed, size, tmp_path_factory):
    check_case(case, np.random.default_rng(seed), size, tmp_path_factory.mktemp("scalar"))


def chi2_in_df(x, df):
    return np.sum(scipy.stats.chi2.pdf(x, df))


def poisson_in_k(k, mu):
    return np.sum(scipy.stats.poisson.pmf(k, mu))


@pytest.mark.parametrize("f, arg", [(chi2_in_df, "df"), (poisson_in_k, "k")])
def test_an_argument_without_a_gradient_is_refused_by_name(f, arg):
    with pytest.raises(CompileError, match=arg):
        chainrule.grad(f, argnums=(0, 1) if f is chi2_in_df else 0)(np.ones(2) + 1, np.ones(2) + 1)


def dirichlet_in_x(x, alpha):
    return scipy.stats.dirichlet.logpdf(x, alpha) + 2.0 * scipy.stats.dirichlet.pdf(x, alpha)


def test_dirichlet_in_the_point_against_autograd():
    autograd = pytest.importorskip("autograd")
    from rules_cases import with_autograd

    alpha = np.array([1.5, 2.0, 3.5])
    ours = chainrule.grad(dirichlet_in_x, argnums=(0, 1))(SIMPLEX, alpha)
    expected = autograd.grad(with_autograd(dirichlet_in_x), (0, 1))(SIMPLEX, alpha)
    for g, e in zip(ours, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10)
    _, tangent = chainrule.jvp(dirichlet_in_x, (SIMPLEX, alpha), (np.ones(3), None))
    assert tangent == pytest.approx(np.sum(ours[0]), rel=1e-10)


def test_forward_mode_refuses_a_tangent_where_the_rule_has_no_derivative():
    x = np.array([1.5, 2.5])
    with pytest.raises(CompileError, match="'df'"):
        chainrule.jvp(chi2_in_df, (x, np.array([2.0, 3.0])), (None, np.ones(2)))
    _, t = chainrule.jvp(chi2_in_df, (x, np.array([2.0, 3.0])), (np.ones(2), None))
    assert t == pytest.approx(np.sum(chainrule.grad(chi2_in_df)(x, np.array([2.0, 3.0]))))
