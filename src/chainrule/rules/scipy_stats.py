"""Rules for SciPy's univariate distributions other than the normal one (whose rules are
in scipy_special.py) and the incomplete gamma and beta functions; registered only when
SciPy imports (it is an optional extra: `pip install chainrule[scipy]`).

A distribution's functions are methods of a distribution object: `scipy.stats.t.pdf`
is the method `pdf` of the object `scipy.stats.t`, and a rule is registered for that
bound method (`check_signature=False`: SciPy declares them `pdf(x, *args, **kwds)`).
Each rule lists the family's shape parameters, then `loc` and `scale`, as users pass
them (positionally or by name; other keywords are not supported).

The families share one pattern.  With z = (x - loc) / scale, a density is
g(z) / scale; if h = (log g)'(z), then

    d logpdf = h / scale (dx - dloc) - (h z + 1) / scale dscale,
    d cdf    = pdf (dx - dloc) - pdf z dscale,

the derivatives of pdf are logpdf's times the pdf (the saved output), and the
shape parameters' come from differentiating log g.  Every derivative is written
in functions that have rules (np, digamma, the densities), so second
derivatives need nothing more.  Arguments whose derivative has no closed form
here (the degrees of freedom of a distribution function, the shapes of the
gamma and beta distribution functions, a Poisson count) are declared with
`no_derivative`: differentiating through one is refused, naming it, never
given zero.  Derivatives are taken inside the support: outside it they may be
nan.  The multivariate distributions have their rules in scipy_multivariate.py.
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
    # Student's t: h = -(df + 1) z / (df + z**2)

    @adjoint(st.t.logpdf, check_signature=False)
    def t_logpdf(r, x, df, loc=0.0, scale=1.0):
        "t log-density: h / scale for x, -h / scale for loc, -(h z + 1) / scale, digammas for df"
        z = (x - loc) / scale
        dx = unbroadcast(-dr * (df + 1) * z / (scale * (df + z * z)), x)
        dloc = unbroadcast(dr * (df + 1) * z / (scale * (df + z * z)), loc)
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
        "t log-density: h / scale (dx - dloc) - (h z + 1) / scale dscale + digammas ddf"
        z = (x - loc) / scale
        dr = (
            -(df + 1) * z / (scale * (df + z * z)) * dx
            + (df + 1) * z / (scale * (df + z * z)) * dloc
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
        "t density: the log-density's derivatives times the density"
        z = (x - loc) / scale
        dx = unbroadcast(-dr * r * (df + 1) * z / (scale * (df + z * z)), x)
        dloc = unbroadcast(dr * r * (df + 1) * z / (scale * (df + z * z)), loc)
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
        "t density: the log-density's tangent times the density"
        z = (x - loc) / scale
        dr = (
            -r * (df + 1) * z / (scale * (df + z * z)) * dx
            + r * (df + 1) * z / (scale * (df + z * z)) * dloc
            + r * ((df + 1) * z * z / (df + z * z) - 1) / scale * dscale
            + r
            * 0.5
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
        "t distribution function: the density for x, minus it for loc, -z times it for scale"
        dx = unbroadcast(dr * st.t.pdf(x, df, loc, scale), x)
        dloc = unbroadcast(-dr * st.t.pdf(x, df, loc, scale), loc)
        dscale = unbroadcast(-dr * st.t.pdf(x, df, loc, scale) * (x - loc) / scale, scale)

    @tangent(st.t.cdf, check_signature=False)
    def t_cdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t distribution function: the density times (dx - dloc - z dscale)"
        dr = (
            st.t.pdf(x, df, loc, scale) * dx
            - st.t.pdf(x, df, loc, scale) * dloc
            - st.t.pdf(x, df, loc, scale) * (x - loc) / scale * dscale
        )

    @adjoint(st.t.logcdf, check_signature=False)
    def t_logcdf(r, x, df, loc=0.0, scale=1.0):
        "t log distribution function: pdf / cdf = exp(logpdf - r), as the cdf's"
        dx = unbroadcast(dr * np.exp(st.t.logpdf(x, df, loc, scale) - r), x)
        dloc = unbroadcast(-dr * np.exp(st.t.logpdf(x, df, loc, scale) - r), loc)
        dscale = unbroadcast(
            -dr * np.exp(st.t.logpdf(x, df, loc, scale) - r) * (x - loc) / scale, scale
        )

    @tangent(st.t.logcdf, check_signature=False)
    def t_logcdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "t log distribution function: exp(logpdf - r) (dx - dloc - z dscale)"
        dr = (
            np.exp(st.t.logpdf(x, df, loc, scale) - r) * dx
            - np.exp(st.t.logpdf(x, df, loc, scale) - r) * dloc
            - np.exp(st.t.logpdf(x, df, loc, scale) - r) * (x - loc) / scale * dscale
        )

    # chi-squared: h = (df / 2 - 1) / z - 1 / 2, so h z + 1 = (df - z) / 2

    @adjoint(st.chi2.logpdf, check_signature=False)
    def chi2_logpdf(r, x, df, loc=0.0, scale=1.0):
        "chi-squared log-density: h / scale for x, (log(z / 2) - digamma(df / 2)) / 2 for df"
        z = (x - loc) / scale
        dx = unbroadcast(dr * ((df / 2 - 1) / z - 0.5) / scale, x)
        dloc = unbroadcast(-dr * ((df / 2 - 1) / z - 0.5) / scale, loc)
        dscale = unbroadcast(dr * (z - df) / (2 * scale), scale)
        ddf = unbroadcast(dr * 0.5 * (np.log(z / 2) - sc.digamma(df / 2)), df)

    @tangent(st.chi2.logpdf, check_signature=False)
    def chi2_logpdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "chi-squared log-density: h / scale (dx - dloc) + (z - df) / (2 scale) dscale + ... ddf"
        z = (x - loc) / scale
        dr = (
            ((df / 2 - 1) / z - 0.5) / scale * dx
            - ((df / 2 - 1) / z - 0.5) / scale * dloc
            + (z - df) / (2 * scale) * dscale
            + 0.5 * (np.log(z / 2) - sc.digamma(df / 2)) * ddf
        )

    @adjoint(st.chi2.pdf, check_signature=False)
    def chi2_pdf(r, x, df, loc=0.0, scale=1.0):
        "chi-squared density: the log-density's derivatives times the density"
        z = (x - loc) / scale
        dx = unbroadcast(dr * r * ((df / 2 - 1) / z - 0.5) / scale, x)
        dloc = unbroadcast(-dr * r * ((df / 2 - 1) / z - 0.5) / scale, loc)
        dscale = unbroadcast(dr * r * (z - df) / (2 * scale), scale)
        ddf = unbroadcast(dr * r * 0.5 * (np.log(z / 2) - sc.digamma(df / 2)), df)

    @tangent(st.chi2.pdf, check_signature=False)
    def chi2_pdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "chi-squared density: the log-density's tangent times the density"
        z = (x - loc) / scale
        dr = (
            r * ((df / 2 - 1) / z - 0.5) / scale * dx
            - r * ((df / 2 - 1) / z - 0.5) / scale * dloc
            + r * (z - df) / (2 * scale) * dscale
            + r * 0.5 * (np.log(z / 2) - sc.digamma(df / 2)) * ddf
        )

    @adjoint(st.chi2.cdf, check_signature=False)
    def chi2_cdf(r, x, df, loc=0.0, scale=1.0):
        "chi-squared distribution function: the density for x, minus it for loc, -z times it"
        dx = unbroadcast(dr * st.chi2.pdf(x, df, loc, scale), x)
        dloc = unbroadcast(-dr * st.chi2.pdf(x, df, loc, scale), loc)
        dscale = unbroadcast(-dr * st.chi2.pdf(x, df, loc, scale) * (x - loc) / scale, scale)

    @tangent(st.chi2.cdf, check_signature=False)
    def chi2_cdf_tangent(r, x, df, loc=0.0, scale=1.0):
        "chi-squared distribution function: the density times (dx - dloc - z dscale)"
        dr = (
            st.chi2.pdf(x, df, loc, scale) * dx
            - st.chi2.pdf(x, df, loc, scale) * dloc
            - st.chi2.pdf(x, df, loc, scale) * (x - loc) / scale * dscale
        )

    # gamma: h = (a - 1) / z - 1, so h z + 1 = a - z

    @adjoint(st.gamma.logpdf, check_signature=False)
    def gamma_logpdf(r, x, a, loc=0.0, scale=1.0):
        "gamma log-density: ((a - 1) / z - 1) / scale for x, log(z) - digamma(a) for a"
        z = (x - loc) / scale
        dx = unbroadcast(dr * ((a - 1) / z - 1) / scale, x)
        da = unbroadcast(dr * (np.log(z) - sc.digamma(a)), a)
        dloc = unbroadcast(-dr * ((a - 1) / z - 1) / scale, loc)
        dscale = unbroadcast(dr * (z - a) / scale, scale)

    @tangent(st.gamma.logpdf, check_signature=False)
    def gamma_logpdf_tangent(r, x, a, loc=0.0, scale=1.0):
        "gamma log-density: h / scale (dx - dloc) + (log(z) - digamma(a)) da + (z - a) / scale"
        z = (x - loc) / scale
        dr = (
            ((a - 1) / z - 1) / scale * dx
            + (np.log(z) - sc.digamma(a)) * da
            - ((a - 1) / z - 1) / scale * dloc
            + (z - a) / scale * dscale
        )

    @adjoint(st.gamma.pdf, check_signature=False)
    def gamma_pdf(r, x, a, loc=0.0, scale=1.0):
        "gamma density: the log-density's derivatives times the density"
        z = (x - loc) / scale
        dx = unbroadcast(dr * r * ((a - 1) / z - 1) / scale, x)
        da = unbroadcast(dr * r * (np.log(z) - sc.digamma(a)), a)
        dloc = unbroadcast(-dr * r * ((a - 1) / z - 1) / scale, loc)
        dscale = unbroadcast(dr * r * (z - a) / scale, scale)

    @tangent(st.gamma.pdf, check_signature=False)
    def gamma_pdf_tangent(r, x, a, loc=0.0, scale=1.0):
        "gamma density: the log-density's tangent times the density"
        z = (x - loc) / scale
        dr = (
            r * ((a - 1) / z - 1) / scale * dx
            + r * (np.log(z) - sc.digamma(a)) * da
            - r * ((a - 1) / z - 1) / scale * dloc
            + r * (z - a) / scale * dscale
        )

    @adjoint(st.gamma.cdf, check_signature=False)
    def gamma_cdf(r, x, a, loc=0.0, scale=1.0):
        "gamma distribution function: the density for x, minus it for loc, -z times it"
        dx = unbroadcast(dr * st.gamma.pdf(x, a, loc, scale), x)
        dloc = unbroadcast(-dr * st.gamma.pdf(x, a, loc, scale), loc)
        dscale = unbroadcast(-dr * st.gamma.pdf(x, a, loc, scale) * (x - loc) / scale, scale)

    @tangent(st.gamma.cdf, check_signature=False)
    def gamma_cdf_tangent(r, x, a, loc=0.0, scale=1.0):
        "gamma distribution function: the density times (dx - dloc - z dscale)"
        dr = (
            st.gamma.pdf(x, a, loc, scale) * dx
            - st.gamma.pdf(x, a, loc, scale) * dloc
            - st.gamma.pdf(x, a, loc, scale) * (x - loc) / scale * dscale
        )

    # beta: h = (a - 1) / z - (b - 1) / (1 - z), so h z + 1 = a - (b - 1) z / (1 - z)

    @adjoint(st.beta.logpdf, check_signature=False)
    def beta_logpdf(r, x, a, b, loc=0.0, scale=1.0):
        "beta log-density: h / scale for x; log z (log(1 - z)) - digamma(a (b)) + digamma(a + b)"
        z = (x - loc) / scale
        dx = unbroadcast(dr * ((a - 1) / z - (b - 1) / (1 - z)) / scale, x)
        da = unbroadcast(dr * (np.log(z) - sc.digamma(a) + sc.digamma(a + b)), a)
        db = unbroadcast(dr * (np.log1p(-z) - sc.digamma(b) + sc.digamma(a + b)), b)
        dloc = unbroadcast(-dr * ((a - 1) / z - (b - 1) / (1 - z)) / scale, loc)
        dscale = unbroadcast(-dr * (a - (b - 1) * z / (1 - z)) / scale, scale)

    @tangent(st.beta.logpdf, check_signature=False)
    def beta_logpdf_tangent(r, x, a, b, loc=0.0, scale=1.0):
        "beta log-density: h / scale (dx - dloc) - (h z + 1) / scale dscale + digammas da, db"
        z = (x - loc) / scale
        dr = (
            ((a - 1) / z - (b - 1) / (1 - z)) / scale * dx
            + (np.log(z) - sc.digamma(a) + sc.digamma(a + b)) * da
            + (np.log1p(-z) - sc.digamma(b) + sc.digamma(a + b)) * db
            - ((a - 1) / z - (b - 1) / (1 - z)) / scale * dloc
            - (a - (b - 1) * z / (1 - z)) / scale * dscale
        )

    @adjoint(st.beta.pdf, check_signature=False)
    def beta_pdf(r, x, a, b, loc=0.0, scale=1.0):
        "beta density: the log-density's derivatives times the density"
        z = (x - loc) / scale
        dx = unbroadcast(dr * r * ((a - 1) / z - (b - 1) / (1 - z)) / scale, x)
        da = unbroadcast(dr * r * (np.log(z) - sc.digamma(a) + sc.digamma(a + b)), a)
        db = unbroadcast(dr * r * (np.log1p(-z) - sc.digamma(b) + sc.digamma(a + b)), b)
        dloc = unbroadcast(-dr * r * ((a - 1) / z - (b - 1) / (1 - z)) / scale, loc)
        dscale = unbroadcast(-dr * r * (a - (b - 1) * z / (1 - z)) / scale, scale)

    @tangent(st.beta.pdf, check_signature=False)
    def beta_pdf_tangent(r, x, a, b, loc=0.0, scale=1.0):
        "beta density: the log-density's tangent times the density"
        z = (x - loc) / scale
        dr = (
            r * ((a - 1) / z - (b - 1) / (1 - z)) / scale * dx
            + r * (np.log(z) - sc.digamma(a) + sc.digamma(a + b)) * da
            + r * (np.log1p(-z) - sc.digamma(b) + sc.digamma(a + b)) * db
            - r * ((a - 1) / z - (b - 1) / (1 - z)) / scale * dloc
            - r * (a - (b - 1) * z / (1 - z)) / scale * dscale
        )

    @adjoint(st.beta.cdf, check_signature=False)
    def beta_cdf(r, x, a, b, loc=0.0, scale=1.0):
        "beta distribution function: the density for x, minus it for loc, -z times it"
        dx = unbroadcast(dr * st.beta.pdf(x, a, b, loc, scale), x)
        dloc = unbroadcast(-dr * st.beta.pdf(x, a, b, loc, scale), loc)
        dscale = unbroadcast(-dr * st.beta.pdf(x, a, b, loc, scale) * (x - loc) / scale, scale)

    @tangent(st.beta.cdf, check_signature=False)
    def beta_cdf_tangent(r, x, a, b, loc=0.0, scale=1.0):
        "beta distribution function: the density times (dx - dloc - z dscale)"
        dr = (
            st.beta.pdf(x, a, b, loc, scale) * dx
            - st.beta.pdf(x, a, b, loc, scale) * dloc
            - st.beta.pdf(x, a, b, loc, scale) * (x - loc) / scale * dscale
        )

    # Poisson: log pmf = (k - loc) log(mu) - mu - gammaln(k - loc + 1), in mu only

    @adjoint(st.poisson.logpmf, check_signature=False)
    def poisson_logpmf(r, k, mu, loc=0):
        "Poisson log-probability: (k - loc) / mu - 1 for the mean (k, a count, has none)"
        dmu = unbroadcast(dr * ((k - loc) / mu - 1), mu)

    @tangent(st.poisson.logpmf, check_signature=False)
    def poisson_logpmf_tangent(r, k, mu, loc=0):
        "Poisson log-probability: ((k - loc) / mu - 1) dmu"
        dr = ((k - loc) / mu - 1) * dmu

    @adjoint(st.poisson.pmf, check_signature=False)
    def poisson_pmf(r, k, mu, loc=0):
        "Poisson probability: pmf ((k - loc) / mu - 1) for the mean"
        dmu = unbroadcast(dr * r * ((k - loc) / mu - 1), mu)

    @tangent(st.poisson.pmf, check_signature=False)
    def poisson_pmf_tangent(r, k, mu, loc=0):
        "Poisson probability: pmf ((k - loc) / mu - 1) dmu"
        dr = r * ((k - loc) / mu - 1) * dmu

    @adjoint(st.poisson.cdf, check_signature=False)
    def poisson_cdf(r, k, mu, loc=0):
        "Poisson distribution function: d/dmu P(K <= k) = -pmf(floor(k))"
        dmu = unbroadcast(-dr * st.poisson.pmf(np.floor(k), mu, loc), mu)

    @tangent(st.poisson.cdf, check_signature=False)
    def poisson_cdf_tangent(r, k, mu, loc=0):
        "Poisson distribution function: -pmf(floor(k)) dmu"
        dr = -st.poisson.pmf(np.floor(k), mu, loc) * dmu


if sc is not None:
    # the incomplete gamma and beta functions: the integrands, in x only

    @adjoint(sc.gammainc)
    def gammainc(y, a, x):
        "regularized lower incomplete gamma P(a, x): the integrand exp(-x) x**(a-1) / gamma(a)"
        dx = unbroadcast(dy * np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a)), x)

    @tangent(sc.gammainc)
    def gammainc_tangent(y, a, x):
        "regularized lower incomplete gamma P(a, x): the integrand exp(-x) x**(a-1) / gamma(a)"
        dy = np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a)) * dx

    @adjoint(sc.gammaincc)
    def gammaincc(y, a, x):
        "regularized upper incomplete gamma Q = 1 - P: minus the integrand"
        dx = unbroadcast(-dy * np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a)), x)

    @tangent(sc.gammaincc)
    def gammaincc_tangent(y, a, x):
        "regularized upper incomplete gamma Q = 1 - P: minus the integrand"
        dy = -np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a)) * dx

    @adjoint(sc.betainc)
    def betainc(y, a, b, x):
        "regularized incomplete beta: the integrand x**(a-1) (1-x)**(b-1) / B(a, b)"
        dx = unbroadcast(
            dy * np.exp(sc.xlogy(a - 1, x) + sc.xlog1py(b - 1, -x) - sc.betaln(a, b)), x
        )

    @tangent(sc.betainc)
    def betainc_tangent(y, a, b, x):
        "regularized incomplete beta: the integrand x**(a-1) (1-x)**(b-1) / B(a, b)"
        dy = np.exp(sc.xlogy(a - 1, x) + sc.xlog1py(b - 1, -x) - sc.betaln(a, b)) * dx


if st is not None:
    no_derivative(st.chi2.cdf, params=("df",))
    no_derivative(st.t.cdf, st.t.logcdf, params=("df",))
    no_derivative(st.gamma.cdf, params=("a",))
    no_derivative(st.beta.cdf, params=("a", "b"))
    no_derivative(st.poisson.pmf, st.poisson.logpmf, st.poisson.cdf, params=("k", "loc"))
if sc is not None:
    no_derivative(sc.gammainc, sc.gammaincc, params=("a",))
    no_derivative(sc.betainc, params=("a", "b"))
