"""Rules for SciPy distributions other than the normal one, and the incomplete gamma and
beta functions; registered only when SciPy imports (`pip install chainrule[scipy]`).

Each density is differentiated through its log: d pdf = pdf * d logpdf, and
a distribution function's derivative in x is the density.  Shape parameters
that count something (chi2's df, a Poisson count k, gammainc's a) get no
gradient: differentiating with respect to them is refused, naming the
argument.  The rules are written in functions that have rules themselves
(np.log, scipy.special.digamma, the densities here), so second derivatives
need nothing more.  The methods take their arguments as the distributions'
own methods do; loc and scale are supported where listed in docs/subset.md.
"""

import numpy as np

from ..runtime import unbroadcast
from .registry import adjoint, no_derivative, tangent

try:
    import scipy.special as sc
    import scipy.stats as st
except ImportError:  # pragma: no cover - SciPy is optional
    sc = st = None


if st is not None:
    # -- chi-squared, in x ---------------------------------------------------------------

    @adjoint(st.chi2.logpdf, check_signature=False)
    def chi2_logpdf(r, x, df):
        "chi-squared log-density: (df - 2 - x) / (2 x) in x"
        dx = unbroadcast(dr * (df - 2 - x) / (2 * x), x)

    @tangent(st.chi2.logpdf, check_signature=False)
    def chi2_logpdf_tangent(r, x, df):
        "chi-squared log-density: (df - 2 - x) / (2 x) dx"
        dr = (df - 2 - x) / (2 * x) * dx

    @adjoint(st.chi2.pdf, check_signature=False)
    def chi2_pdf(r, x, df):
        "chi-squared density: the density times (df - 2 - x) / (2 x) in x"
        dx = unbroadcast(dr * r * (df - 2 - x) / (2 * x), x)

    @tangent(st.chi2.pdf, check_signature=False)
    def chi2_pdf_tangent(r, x, df):
        "chi-squared density: the density times (df - 2 - x) / (2 x) dx"
        dr = r * (df - 2 - x) / (2 * x) * dx

    @adjoint(st.chi2.cdf, check_signature=False)
    def chi2_cdf(r, x, df):
        "chi-squared distribution function: its derivative is the density"
        dx = unbroadcast(dr * st.chi2.pdf(x, df), x)

    @tangent(st.chi2.cdf, check_signature=False)
    def chi2_cdf_tangent(r, x, df):
        "chi-squared distribution function: the density times dx"
        dr = st.chi2.pdf(x, df) * dx

    # -- Student's t, z = (x - loc) / scale -----------------------------------------------

    @adjoint(st.t.logpdf, check_signature=False)
    def t_logpdf(r, x, df, loc=0.0, scale=1.0):
        "t log-density: -(df + 1) z / (scale (df + z**2)) in x, minus that in loc"
        z = (x - loc) / scale
        share = dr * -(df + 1) * z / (scale * (df + z * z))
        dx = unbroadcast(share, x)
        dloc = unbroadcast(-share, loc)
        dscale = unbroadcast(dr * ((df + 1) * z * z / (df + z * z) - 1) / scale, scale)
        ddf = unbroadcast(
            dr
            * 0.5
            * (
                sc.digamma((df + 1) / 2)
                - sc.digamma(df / 2)
                - 1 / df
                - np.log1p(z * z / df)
                + (df + 1) * z * z / (df * (df + z * z))
            ),
            df,
        )

    @tangent(st.t.logpdf, check_signature=False)
    def t_logpdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t log-density: the product of each argument's partial derivative and tangent"
        z = (x - loc) / scale
        dr = (
            -(df + 1) * z / (scale * (df + z * z)) * (dx - dloc)
            + ((df + 1) * z * z / (df + z * z) - 1) / scale * dscale
            + 0.5
            * (
                sc.digamma((df + 1) / 2)
                - sc.digamma(df / 2)
                - 1 / df
                - np.log1p(z * z / df)
                + (df + 1) * z * z / (df * (df + z * z))
            )
            * ddf
        )

    @adjoint(st.t.pdf, check_signature=False)
    def t_pdf(r, x, df, loc=0.0, scale=1.0):
        "t density: the density times the log-density's derivatives"
        z = (x - loc) / scale
        share = dr * r * -(df + 1) * z / (scale * (df + z * z))
        dx = unbroadcast(share, x)
        dloc = unbroadcast(-share, loc)
        dscale = unbroadcast(dr * r * ((df + 1) * z * z / (df + z * z) - 1) / scale, scale)
        ddf = unbroadcast(
            dr
            * r
            * 0.5
            * (
                sc.digamma((df + 1) / 2)
                - sc.digamma(df / 2)
                - 1 / df
                - np.log1p(z * z / df)
                + (df + 1) * z * z / (df * (df + z * z))
            ),
            df,
        )

    @tangent(st.t.pdf, check_signature=False)
    def t_pdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t density: the density times the log-density's tangent"
        z = (x - loc) / scale
        dr = r * (
            -(df + 1) * z / (scale * (df + z * z)) * (dx - dloc)
            + ((df + 1) * z * z / (df + z * z) - 1) / scale * dscale
            + 0.5
            * (
                sc.digamma((df + 1) / 2)
                - sc.digamma(df / 2)
                - 1 / df
                - np.log1p(z * z / df)
                + (df + 1) * z * z / (df * (df + z * z))
            )
            * ddf
        )

    @adjoint(st.t.cdf, check_signature=False)
    def t_cdf(r, x, df, loc=0.0, scale=1.0):
        "t distribution function: the density in x, minus it in loc"
        dx = unbroadcast(dr * st.t.pdf(x, df, loc, scale), x)
        dloc = unbroadcast(-dr * st.t.pdf(x, df, loc, scale), loc)

    @tangent(st.t.cdf, check_signature=False)
    def t_cdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t distribution function: the density times d(x - loc)"
        dr = st.t.pdf(x, df, loc, scale) * (dx - dloc)

    @adjoint(st.t.logcdf, check_signature=False)
    def t_logcdf(r, x, df, loc=0.0, scale=1.0):
        "t log distribution function: pdf / cdf in x, minus it in loc"
        dx = unbroadcast(dr * np.exp(st.t.logpdf(x, df, loc, scale) - r), x)
        dloc = unbroadcast(-dr * np.exp(st.t.logpdf(x, df, loc, scale) - r), loc)

    @tangent(st.t.logcdf, check_signature=False)
    def t_logcdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t log distribution function: pdf / cdf times d(x - loc)"
        dr = np.exp(st.t.logpdf(x, df, loc, scale) - r) * (dx - dloc)

    # -- gamma (shape a), in x and a ------------------------------------------------------

    @adjoint(st.gamma.logpdf, check_signature=False)
    def gamma_logpdf(r, x, a):
        "gamma log-density: (a - 1) / x - 1 in x, log x - digamma(a) in a"
        dx = unbroadcast(dr * ((a - 1) / x - 1), x)
        da = unbroadcast(dr * (np.log(x) - sc.digamma(a)), a)

    @tangent(st.gamma.logpdf, check_signature=False)
    def gamma_logpdf_tangent(r, x, a):
        "gamma log-density: ((a - 1) / x - 1) dx + (log x - digamma(a)) da"
        dr = ((a - 1) / x - 1) * dx + (np.log(x) - sc.digamma(a)) * da

    @adjoint(st.gamma.pdf, check_signature=False)
    def gamma_pdf(r, x, a):
        "gamma density: the density times the log-density's derivatives"
        dx = unbroadcast(dr * r * ((a - 1) / x - 1), x)
        da = unbroadcast(dr * r * (np.log(x) - sc.digamma(a)), a)

    @tangent(st.gamma.pdf, check_signature=False)
    def gamma_pdf_tangent(r, x, a):
        "gamma density: the density times the log-density's tangent"
        dr = r * (((a - 1) / x - 1) * dx + (np.log(x) - sc.digamma(a)) * da)

    @adjoint(st.gamma.cdf, check_signature=False)
    def gamma_cdf(r, x, a):
        "gamma distribution function: its derivative in x is the density"
        dx = unbroadcast(dr * st.gamma.pdf(x, a), x)

    @tangent(st.gamma.cdf, check_signature=False)
    def gamma_cdf_tangent(r, x, a):
        "gamma distribution function: the density times dx"
        dr = st.gamma.pdf(x, a) * dx

    # -- beta (shapes a, b), in x, a and b ------------------------------------------------

    @adjoint(st.beta.logpdf, check_signature=False)
    def beta_logpdf(r, x, a, b):
        "beta log-density: (a-1)/x - (b-1)/(1-x) in x; log x (a), log(1-x) (b), digammas"
        dx = unbroadcast(dr * ((a - 1) / x - (b - 1) / (1 - x)), x)
        da = unbroadcast(dr * (np.log(x) - sc.digamma(a) + sc.digamma(a + b)), a)
        db = unbroadcast(dr * (np.log1p(-x) - sc.digamma(b) + sc.digamma(a + b)), b)

    @tangent(st.beta.logpdf, check_signature=False)
    def beta_logpdf_tangent(r, x, a, b):
        "beta log-density: the partial derivatives times the tangents"
        dr = (
            ((a - 1) / x - (b - 1) / (1 - x)) * dx
            + (np.log(x) - sc.digamma(a) + sc.digamma(a + b)) * da
            + (np.log1p(-x) - sc.digamma(b) + sc.digamma(a + b)) * db
        )

    @adjoint(st.beta.pdf, check_signature=False)
    def beta_pdf(r, x, a, b):
        "beta density: the density times the log-density's derivatives"
        dx = unbroadcast(dr * r * ((a - 1) / x - (b - 1) / (1 - x)), x)
        da = unbroadcast(dr * r * (np.log(x) - sc.digamma(a) + sc.digamma(a + b)), a)
        db = unbroadcast(dr * r * (np.log1p(-x) - sc.digamma(b) + sc.digamma(a + b)), b)

    @tangent(st.beta.pdf, check_signature=False)
    def beta_pdf_tangent(r, x, a, b):
        "beta density: the density times the log-density's tangent"
        dr = r * (
            ((a - 1) / x - (b - 1) / (1 - x)) * dx
            + (np.log(x) - sc.digamma(a) + sc.digamma(a + b)) * da
            + (np.log1p(-x) - sc.digamma(b) + sc.digamma(a + b)) * db
        )

    @adjoint(st.beta.cdf, check_signature=False)
    def beta_cdf(r, x, a, b):
        "beta distribution function: its derivative in x is the density"
        dx = unbroadcast(dr * st.beta.pdf(x, a, b), x)

    @tangent(st.beta.cdf, check_signature=False)
    def beta_cdf_tangent(r, x, a, b):
        "beta distribution function: the density times dx"
        dr = st.beta.pdf(x, a, b) * dx

    # -- Poisson, in the rate mu (the count k has no gradient) ----------------------------

    @adjoint(st.poisson.logpmf, check_signature=False)
    def poisson_logpmf(r, k, mu):
        "Poisson log-probability: k / mu - 1 in mu"
        dmu = unbroadcast(dr * (k / mu - 1), mu)

    @tangent(st.poisson.logpmf, check_signature=False)
    def poisson_logpmf_tangent(r, k, mu):
        "Poisson log-probability: (k / mu - 1) dmu"
        dr = (k / mu - 1) * dmu

    @adjoint(st.poisson.pmf, check_signature=False)
    def poisson_pmf(r, k, mu):
        "Poisson probability: the probability times k / mu - 1 in mu"
        dmu = unbroadcast(dr * r * (k / mu - 1), mu)

    @tangent(st.poisson.pmf, check_signature=False)
    def poisson_pmf_tangent(r, k, mu):
        "Poisson probability: the probability times (k / mu - 1) dmu"
        dr = r * (k / mu - 1) * dmu

    @adjoint(st.poisson.cdf, check_signature=False)
    def poisson_cdf(r, k, mu):
        "Poisson distribution function: minus the probability of floor(k), in mu"
        dmu = unbroadcast(-dr * st.poisson.pmf(np.floor(k), mu), mu)

    @tangent(st.poisson.cdf, check_signature=False)
    def poisson_cdf_tangent(r, k, mu):
        "Poisson distribution function: minus the probability of floor(k) times dmu"
        dr = -st.poisson.pmf(np.floor(k), mu) * dmu

    # -- Dirichlet, in x (a point of the simplex) and alpha -------------------------------

    @adjoint(st.dirichlet.logpdf, check_signature=False)
    def dirichlet_logpdf(r, x, alpha):
        "Dirichlet log-density: (alpha - 1) / x in x; log x + digamma(sum) - digamma in alpha"
        dx = dr * (alpha - 1) / x
        dalpha = dr * (np.log(x) + sc.digamma(np.sum(alpha)) - sc.digamma(alpha))

    @tangent(st.dirichlet.logpdf, check_signature=False)
    def dirichlet_logpdf_tangent(r, x, alpha):
        "Dirichlet log-density: the partial derivatives times the tangents, summed"
        dr = np.sum((alpha - 1) / x * dx) + np.sum(
            (np.log(x) + sc.digamma(np.sum(alpha)) - sc.digamma(alpha)) * dalpha
        )

    @adjoint(st.dirichlet.pdf, check_signature=False)
    def dirichlet_pdf(r, x, alpha):
        "Dirichlet density: the density times the log-density's derivatives"
        dx = dr * r * (alpha - 1) / x
        dalpha = dr * r * (np.log(x) + sc.digamma(np.sum(alpha)) - sc.digamma(alpha))

    @tangent(st.dirichlet.pdf, check_signature=False)
    def dirichlet_pdf_tangent(r, x, alpha):
        "Dirichlet density: the density times the log-density's tangent"
        dr = r * (
            np.sum((alpha - 1) / x * dx)
            + np.sum((np.log(x) + sc.digamma(np.sum(alpha)) - sc.digamma(alpha)) * dalpha)
        )


if sc is not None:
    # -- the regularized incomplete gamma and beta functions, in x ------------------------

    @adjoint(sc.gammainc)
    def gammainc(r, a, x):
        "lower regularized incomplete gamma: the gamma density x**(a-1) exp(-x) / gamma(a)"
        dx = unbroadcast(dr * np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)), x)

    @tangent(sc.gammainc)
    def gammainc_tangent(r, a, x):
        "lower regularized incomplete gamma: the gamma density times dx"
        dr = np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)) * dx

    @adjoint(sc.gammaincc)
    def gammaincc(r, a, x):
        "upper regularized incomplete gamma: minus the gamma density"
        dx = unbroadcast(-dr * np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)), x)

    @tangent(sc.gammaincc)
    def gammaincc_tangent(r, a, x):
        "upper regularized incomplete gamma: minus the gamma density times dx"
        dr = -np.exp((a - 1) * np.log(x) - x - sc.gammaln(a)) * dx

    @adjoint(sc.betainc)
    def betainc(r, a, b, x):
        "regularized incomplete beta: the beta density x**(a-1) (1-x)**(b-1) / B(a, b)"
        dx = unbroadcast(
            dr
            * np.exp(
                (a - 1) * np.log(x)
                + (b - 1) * np.log1p(-x)
                - sc.gammaln(a)
                - sc.gammaln(b)
                + sc.gammaln(a + b)
            ),
            x,
        )

    @tangent(sc.betainc)
    def betainc_tangent(r, a, b, x):
        "regularized incomplete beta: the beta density times dx"
        dr = (
            np.exp(
                (a - 1) * np.log(x)
                + (b - 1) * np.log1p(-x)
                - sc.gammaln(a)
                - sc.gammaln(b)
                + sc.gammaln(a + b)
            )
            * dx
        )


if st is not None:
    no_derivative(st.chi2.pdf, st.chi2.logpdf, st.chi2.cdf, params=("df",))
    no_derivative(st.t.cdf, st.t.logcdf, params=("df", "scale"))
    no_derivative(st.gamma.cdf, params=("a",))
    no_derivative(st.beta.cdf, params=("a", "b"))
    no_derivative(st.poisson.pmf, st.poisson.logpmf, st.poisson.cdf, params=("k",))
if sc is not None:
    no_derivative(sc.gammainc, sc.gammaincc, params=("a",))
    no_derivative(sc.betainc, params=("a", "b"))
