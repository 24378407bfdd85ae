"""Rules for SciPy's distributions other than the normal one and the incomplete gamma and
beta functions (rules/scipy_stats.py, rules/scipy_multivariate.py), over hypothesis-drawn
sizes: both modes against finite differences, the Hessian of a scalar reduction, and
autograd's gradient of the very same code where autograd differentiates those arguments
(rules_cases.check_case); then the refusal of every argument declared `no_derivative`,
and the run-time checks of what the rules do not cover.

Shapes broadcast against each other as in autograd's tests (x (n, 3), loc (1, 3),
scale (n, 1)); the arguments that have no gradient (degrees of freedom of a
distribution function, counts) are module constants.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import FEWER, write_module
from hypothesis import given
from hypothesis import strategies as st
from rules_cases import Case, check_case

pytest.importorskip("scipy.stats")
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import chainrule  # noqa: E402
from chainrule import CompileError  # noqa: E402
from chainrule.testing import check_grads  # noqa: E402

DF = np.array([2.5, 3.5, 6.0])  # degrees of freedom, shapes: no gradient in the cdfs
A = np.array([1.5, 2.5, 4.0])
B = np.array([2.0, 1.5, 3.0])
K = np.array([0.0, 2.0, 5.0])  # Poisson counts
CHI_DF = np.array([1.0, 3.0, 6.0])  # integers: autograd's chi2 logpdf gives 0 for others
SINGULAR = np.diag([1.0, 2.0, 0.0, 0.0])


def between(r, lo, hi, shape):
    return r.uniform(lo, hi, size=shape)


# -- univariate families -----------------------------------------------------------------


def t_densities(x, df, loc, scale):
    return scipy.stats.t.pdf(x, df, loc, scale) + scipy.stats.t.logpdf(x, df, loc, scale)


def t_distribution(x, loc):
    return scipy.stats.t.cdf(x, DF, loc, 1.5) + scipy.stats.t.logcdf(x, DF, loc, 1.5)


def t_distribution_scale(x, loc, scale):
    return scipy.stats.t.cdf(x, DF, loc, scale) + scipy.stats.t.logcdf(x, DF, loc, scale)


def t_standard(x, df):
    return scipy.stats.t.logpdf(x, df) + scipy.stats.t.cdf(x, 4.0)


def chi2_all(x):
    return (
        scipy.stats.chi2.pdf(x, CHI_DF) + scipy.stats.chi2.logpdf(x, CHI_DF)
        + scipy.stats.chi2.cdf(x, CHI_DF)
    )  # fmt: skip


def chi2_located(x, df, loc, scale):
    return (
        scipy.stats.chi2.pdf(x, df, loc, scale) + scipy.stats.chi2.logpdf(x, df, loc, scale)
        + scipy.stats.chi2.cdf(x, DF, loc=loc, scale=scale)
    )  # fmt: skip


def gamma_densities(x, a):
    return scipy.stats.gamma.pdf(x, a) + scipy.stats.gamma.logpdf(x, a)


def gamma_cdf(x):
    return scipy.stats.gamma.cdf(x, A)


def gamma_located(x, a, loc, scale):
    return (
        scipy.stats.gamma.pdf(x, a, loc, scale) + scipy.stats.gamma.logpdf(x, a, loc, scale)
        + scipy.stats.gamma.cdf(x, A, loc, scale)
    )  # fmt: skip


def beta_densities(x, a, b):
    return scipy.stats.beta.pdf(x, a, b) + scipy.stats.beta.logpdf(x, a, b)


def beta_cdf(x):
    return scipy.stats.beta.cdf(x, A, B)


def beta_located(x, a, b, loc, scale):
    return (
        scipy.stats.beta.pdf(x, a, b, loc, scale) + scipy.stats.beta.logpdf(x, a, b, loc, scale)
        + scipy.stats.beta.cdf(x, A, B, loc, scale)
    )  # fmt: skip


def poisson_all(mu):
    return (
        scipy.stats.poisson.pmf(K, mu) + scipy.stats.poisson.logpmf(K, mu)
        + scipy.stats.poisson.cdf(K, mu)
    )  # fmt: skip


def poisson_shifted(mu):
    return scipy.stats.poisson.logpmf(K + 1.0, mu, 1) + scipy.stats.poisson.cdf(K + 2.5, mu, 1)


def incomplete(x, y):
    return (
        scipy.special.gammainc(A, x) + scipy.special.gammaincc(A, x)
        + scipy.special.betainc(A, B, y)
    )  # fmt: skip


# -- multivariate ------------------------------------------------------------------------


def symmetric(c):
    return 0.5 * (c + np.swapaxes(c, -1, -2))


def mvn_batch(x, mean, cov):
    c = symmetric(cov)
    return scipy.stats.multivariate_normal.logpdf(x, mean, c) + scipy.stats.multivariate_normal.pdf(
        x, mean, c
    )


def mvn_point(x, mean, cov):
    return scipy.stats.multivariate_normal.logpdf(x, mean, symmetric(cov))


def mvn_lower_triangle(cov):
    """No symmetrising: SciPy reads cov's lower triangle, and so does the rule."""
    x = np.array([0.3, -0.2, 0.5])
    return scipy.stats.multivariate_normal.logpdf(x, np.zeros(3), cov)


def mvn_defaults(x, cov):
    """cov left out (the identity) or a number; mean left out."""
    return (
        scipy.stats.multivariate_normal.logpdf(x, np.zeros(2))
        + scipy.stats.multivariate_normal.pdf(x, np.ones(2), 2.0)
        + scipy.stats.multivariate_normal.logpdf(x, cov=symmetric(cov))
    )


def mvn_entropy(cov):
    return scipy.stats.multivariate_normal.entropy(np.zeros(3), symmetric(cov))


def mvn_singular(x, mean):
    x = np.concatenate([x[:2], mean[2:]])
    return scipy.stats.multivariate_normal.logpdf(
        x, mean, SINGULAR, allow_singular=True
    ) + scipy.stats.multivariate_normal.pdf(x, mean, SINGULAR, allow_singular=True)


def dirichlet(x, alpha):
    point = x / np.sum(x)  # on the simplex, also when finite differences move x
    return scipy.stats.dirichlet.pdf(point, alpha) + scipy.stats.dirichlet.logpdf(point, alpha)


def psd(r, n):
    m = r.normal(size=(n, n))
    return m @ m.T + n * np.eye(n)


CASES = [
    Case(
        t_densities,
        lambda r, n: (
            r.normal(size=(n, 3)),
            between(r, 2.1, 5, (1, 3)),
            r.normal(size=(1, 3)),
            between(r, 0.5, 2, (n, 1)),
        ),  # fmt: skip
    ),
    Case(t_distribution, lambda r, n: (r.normal(size=(n, 3)), r.normal(size=(1, 3)))),
    Case(
        t_distribution_scale,
        lambda r, n: (r.normal(size=(n, 3)), r.normal(size=(1, 3)), between(r, 0.5, 2, (n, 1))),
        autograd=False,  # autograd has no derivative of the t cdf in scale
    ),
    Case(t_standard, lambda r, n: (r.normal(size=n), between(r, 2.1, 5, n))),
    Case(chi2_all, lambda r, n: (between(r, 0.5, 4, (n, 3)),)),
    Case(
        chi2_located,
        lambda r, n: (
            between(r, 2, 4, (n, 3)),
            between(r, 2.5, 5, (1, 3)),
            between(r, -0.5, 0.5, (1, 3)),
            between(r, 0.5, 2, (n, 1)),
        ),  # fmt: skip
        autograd=False,  # autograd differentiates chi2 in x only, without loc and scale
    ),
    Case(gamma_densities, lambda r, n: (between(r, 0.5, 4, (n, 3)), between(r, 1.1, 4, (1, 3)))),
    Case(gamma_cdf, lambda r, n: (between(r, 0.5, 4, (n, 3)),)),
    Case(
        gamma_located,
        lambda r, n: (
            between(r, 2, 4, (n, 3)),
            between(r, 1.1, 4, (1, 3)),
            between(r, -0.5, 0.5, (1, 3)),
            between(r, 0.5, 2, (n, 1)),
        ),  # fmt: skip
        autograd=False,  # autograd's gamma has no loc and scale
    ),
    Case(
        beta_densities,
        lambda r, n: (
            between(r, 0.2, 0.8, (n, 3)),
            between(r, 1.1, 4, (1, 3)),
            between(r, 1.1, 4, (n, 1)),
        ),  # fmt: skip
    ),
    Case(beta_cdf, lambda r, n: (between(r, 0.2, 0.8, (n, 3)),)),
    Case(
        beta_located,
        lambda r, n: (
            between(r, 0.3, 0.7, (n, 3)),
            between(r, 1.1, 4, (1, 3)),
            between(r, 1.1, 4, (n, 1)),
            between(r, -0.1, 0.1, (1, 3)),
            between(r, 1.0, 1.3, (n, 1)),
        ),  # fmt: skip
        autograd=False,  # autograd's beta has no loc and scale
    ),
    Case(poisson_all, lambda r, n: (between(r, 1.1, 5, (n, 1)),)),
    Case(poisson_shifted, lambda r, n: (between(r, 1.1, 5, (n, 3)),), autograd=False),
    Case(incomplete, lambda r, n: (between(r, 0.5, 4, (n, 3)), between(r, 0.2, 0.8, (n, 3)))),
    Case(mvn_batch, lambda r, n: (r.normal(size=(n + 1, 3)), r.normal(size=3), psd(r, 3))),
    Case(mvn_point, lambda r, n: (r.normal(size=n + 1), r.normal(size=n + 1), psd(r, n + 1))),
    Case(mvn_lower_triangle, lambda r, n: (psd(r, 3) + np.triu(r.normal(size=(3, 3)), 1),), False),
    Case(mvn_defaults, lambda r, n: (r.normal(size=(n, 2)), psd(r, 2)), autograd=False),
    Case(mvn_entropy, lambda r, n: (psd(r, 3),)),
    Case(mvn_singular, lambda r, n: (r.normal(size=4), r.normal(size=4))),
    Case(dirichlet, lambda r, n: (between(r, 0.5, 1.5, n + 1), between(r, 1.2, 3, n + 1))),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@FEWER
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 4))
def test_rule(case, seed, size, tmp_path_factory):
    check_case(case, np.random.default_rng(seed), size, tmp_path_factory.mktemp("scalar"))


def test_the_entropy_does_not_depend_on_the_mean():
    def entropy(mean, cov):
        return scipy.stats.multivariate_normal.entropy(mean, cov)

    mean, cov = np.ones(3), psd(np.random.default_rng(0), 3)
    dmean, dcov = chainrule.grad(entropy, argnums=(0, 1))(mean, cov)
    assert np.all(dmean == 0)
    p = np.linalg.inv(cov)  # d/dcov of log det(cov) / 2, read from the lower triangle
    np.testing.assert_allclose(dcov, np.tril(p, -1) + np.diag(np.diag(p)) / 2, rtol=1e-10)


# -- refusals: an argument declared no_derivative, reached by a differentiated value ------

REFUSED = [
    ("scipy.stats.t.cdf(x, p)", "scipy.stats.t.cdf", "df"),
    ("scipy.stats.t.logcdf(x, p, 0.5)", "scipy.stats.t.logcdf", "df"),
    ("scipy.stats.chi2.cdf(x, df=p)", "scipy.stats.chi2.cdf", "df"),
    ("scipy.stats.gamma.cdf(x, p)", "scipy.stats.gamma.cdf", "a"),
    ("scipy.stats.beta.cdf(x * 0.1, 2.0, p)", "scipy.stats.beta.cdf", "b"),
    ("scipy.stats.poisson.pmf(p, x)", "scipy.stats.poisson.pmf", "k"),
    ("scipy.stats.poisson.cdf(3.0, x, p)", "scipy.stats.poisson.cdf", "loc"),
    ("scipy.special.gammainc(p, x)", "scipy.special.gammainc", "a"),
    ("scipy.special.betainc(p, 2.0, x * 0.1)", "scipy.special.betainc", "a"),
    ("scipy.special.polygamma(p, x)", "scipy.special.polygamma", "n"),
    ("scipy.special.yv(p, x)", "scipy.special.yv", "v"),
    ("scipy.special.yn(p, x)", "scipy.special.yn", "n"),
]


@pytest.mark.parametrize("expr, name, param", REFUSED, ids=[r[1] + ":" + r[2] for r in REFUSED])
def test_an_argument_without_a_derivative_is_refused_at_the_call(expr, name, param, tmp_path):
    source = f"""
import numpy as np
import scipy.special
import scipy.stats

def f(x, p):
    return np.sum({expr})
"""
    f = write_module(tmp_path, source, "f")
    x, p = np.array([1.5, 2.5]), np.array([2.0, 3.0])
    for call in (
        lambda: chainrule.grad(f, argnums=1)(x, p),
        lambda: chainrule.jvp(f, (x, p), (np.ones(2), np.ones(2))),
    ):
        with pytest.raises(CompileError) as info:
            call()
        message = str(info.value)
        assert ".py:7:" in message and "^" in message  # located at the user's line
        assert f"{name} has no derivative rule with respect to its argument {param!r}" in message
        assert "stop_gradient" in message
    # the other arguments are differentiated as usual
    assert np.all(np.isfinite(chainrule.grad(f, argnums=0)(x, p)))


def test_a_refused_argument_held_constant_with_stop_gradient_is_accepted(tmp_path):
    source = """
import numpy as np
import scipy.stats
from chainrule import stop_gradient

def f(x, df):
    return np.sum(scipy.stats.t.cdf(x, stop_gradient(df)) + scipy.stats.t.logpdf(x, df))

def g(x, df):
    return np.sum(scipy.stats.t.logpdf(x, df))
"""
    f = write_module(tmp_path, source, "f")
    g = f.__globals__["g"]
    x, df = np.array([0.5, -1.0]), np.array([3.0, 5.0])
    np.testing.assert_allclose(
        chainrule.grad(f, argnums=1)(x, df), chainrule.grad(g, argnums=1)(x, df)
    )


# -- what the rules check at run time ----------------------------------------------------


def dirichlet_two_points(x, alpha):
    return np.sum(scipy.stats.dirichlet.logpdf(x, alpha))


def mvn_diagonal(x, variances):
    return scipy.stats.multivariate_normal.logpdf(x, np.zeros(3), variances)


def mvn_samples(x):
    """Three one-dimensional points (SciPy's dimension is 1 here), not one of dimension 3."""
    return np.sum(scipy.stats.multivariate_normal.logpdf(x, 0.0, 2.0))


def mvn_singular_cov(x, cov):
    return scipy.stats.multivariate_normal.logpdf(x, np.zeros(2), cov, allow_singular=True)


@pytest.mark.parametrize(
    "f, args, words",
    [
        (dirichlet_two_points, (np.full((3, 2), 1 / 3), np.ones(3) * 2), "one point x"),
        (dirichlet_two_points, (np.array([0.3, 0.3]), np.ones(3) * 2), "one point x"),
        (mvn_diagonal, (np.ones(3), np.ones(3)), "(d, d) matrix"),
        (mvn_samples, (np.ones(3),), "last axis"),
        (mvn_singular_cov, (np.ones(2), np.eye(2)), "allow_singular=True"),
    ],
)
def test_shapes_the_rules_do_not_cover_raise_a_clear_error(f, args, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        chainrule.grad(f, argnums=tuple(range(len(args))))(*args)


# -- from the first version of these rules ------------------------------------------------

SIMPLEX = np.array([0.2, 0.5, 0.3])


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


def chi2_cdf_in_df(x, df):
    return np.sum(scipy.stats.chi2.cdf(x, df))


def test_forward_mode_refuses_a_tangent_where_the_rule_has_no_derivative():
    x = np.array([1.5, 2.5])
    with pytest.raises(CompileError, match="'df'"):
        chainrule.jvp(chi2_cdf_in_df, (x, np.array([2.0, 3.0])), (None, np.ones(2)))
    _, t = chainrule.jvp(chi2_cdf_in_df, (x, np.array([2.0, 3.0])), (np.ones(2), None))
    assert t == pytest.approx(np.sum(chainrule.grad(chi2_cdf_in_df)(x, np.array([2.0, 3.0]))))


# -- distribution methods passed to a transformation directly --------------------------


@pytest.mark.parametrize(
    "method, args",
    [
        ("t.pdf", (np.array([0.3, -1.2]), 3.5)),
        ("t.logpdf", (np.array([0.3, -1.2]), 3.5, 0.2, 1.7)),
        ("norm.cdf", (np.array([0.3, -1.2]), 0.2, 1.5)),
        ("norm.logpdf", (np.array([0.3, -1.2]),)),
    ],
)
def test_a_distribution_method_passed_directly(method, args):
    """`vjp(scipy.stats.t.pdf, x, df)`: the method has a rule, so chainrule differentiates
    a wrapper with the rule's parameters (optional ones passed on) instead of reading the
    method's generic `(self, x, *args, **kwds)` signature, which it cannot."""
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    astats = pytest.importorskip("autograd.scipy.stats")
    family, name = method.split(".")
    ours = getattr(getattr(scipy.stats, family), name)
    theirs = getattr(getattr(astats, family), name)
    out, back = chainrule.vjp(ours, *args)
    np.testing.assert_allclose(out, ours(*args))
    cotangent = np.array([0.7, -1.1])
    for i, got in enumerate(back(cotangent)):
        expected = autograd.grad(lambda *a: anp.sum(theirs(*a) * cotangent), i)(*args)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    check_grads(ours, args, argnums=0)


# -- frozen distributions: N = stats.norm(0, 1); N.cdf(x) ------------------------------


def _frozen(x):
    unit = scipy.stats.norm(0, 1)
    t = scipy.stats.t(3.5, loc=0.2)
    mvn = scipy.stats.multivariate_normal(np.zeros(2), np.eye(2))
    return np.sum(unit.cdf(x) * t.logpdf(x)) + mvn.logpdf(x[:2])


def _unfrozen(x):
    return np.sum(scipy.stats.norm.cdf(x, 0, 1) * scipy.stats.t.logpdf(x, 3.5, loc=0.2)) + (
        scipy.stats.multivariate_normal.logpdf(x[:2], np.zeros(2), np.eye(2))
    )


def test_a_frozen_distribution_calls_its_functions_with_its_parameters():
    x = np.array([0.3, -0.4, 1.2])
    np.testing.assert_allclose(chainrule.grad(_frozen)(x), chainrule.grad(_unfrozen)(x))
    check_grads(_frozen, (x,), order=2)

    def chained(mu, x):  # frozen and called at once: its parameters may be differentiated
        return scipy.stats.norm(mu, 1.5).logpdf(x)

    def named(mu, x):
        n = scipy.stats.norm(mu, 1.5)
        return n.logpdf(x)

    np.testing.assert_allclose(chainrule.grad(chained)(0.1, 0.5), (0.5 - 0.1) / 1.5**2)
    check_grads(chained, (0.1, 0.5), order=2)
    with pytest.raises(CompileError, match=r"call its function with them instead") as info:
        chainrule.grad(named)(0.1, 0.5)
    assert info.value.lineno == inspect.getsourcelines(named)[1] + 1
