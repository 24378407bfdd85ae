"""Rules for SciPy's multivariate distributions, scipy.stats.multivariate_normal and
scipy.stats.dirichlet, registered only when SciPy imports (an optional extra).

As in scipy_stats.py, the rules are registered for the bound methods
(`scipy.stats.multivariate_normal.logpdf`), with the parameters as users pass them.

The multivariate normal, with P = cov^-1 and u = P (x - mean) for each point x
(x is one point, shape (d,), or a batch, (n, d), whose log-densities are summed
by the gradient of `mean` and `cov`; SciPy returns a scalar for a batch of one):

    d logpdf = -u . dx + u . dmean + (u^T dcov u - trace(P dcov)) / 2.

SciPy reads `cov` from its lower triangle (it factors it with `eigh`), and so do
these rules (`symmetric_as_read`): the gradient in `cov` is that of the function
SciPy computes, also at a non-symmetric `cov`, with zeros in the upper triangle
and each off-diagonal pair summed into the lower one (`symmetric_part_read`).  The
gradient of a symmetrised argument, `(c + c.T) / 2`, is the usual symmetric one.
With `allow_singular=True` SciPy uses the pseudo-inverse; the rules do too, for
`x` and `mean`, and refuse a gradient in `cov` at run time (the pseudo-determinant
has none where the rank changes; `allow_singular` must be written as a literal
`False`, or left out, for one).  `cov` must be a (d, d) matrix (or a literal number),
the last axis of `x` the dimension (SciPy also reads a 1-D `x` as points of
dimension 1; the rules check the layout at run time); `mean` may be left out.

The Dirichlet log-density sum((alpha - 1) log x) - log B(alpha) is differentiated
as a function of all of x's components, as autograd does (on the simplex only
the directions along it matter); x is one point with all of alpha's components.
"""

import numpy as np

from ..runtime import (
    covariance_checked,
    points_checked,
    simplex_point_checked,
    symmetric_as_read,
    symmetric_part_read,
    unbroadcast,
    unsupported_singular_cov,
)
from .registry import adjoint, literal, nondifferentiable, tangent

try:
    import scipy.special as sc
    import scipy.stats as st
except ImportError:  # pragma: no cover - SciPy is optional
    sc = st = None

nondifferentiable(
    simplex_point_checked,
    covariance_checked,
    points_checked,
    why="it is the constant 1.0 (or raises an error)",
)
nondifferentiable(unsupported_singular_cov, why="it only raises an error")


if st is not None:
    mvn = st.multivariate_normal

    @adjoint(mvn.logpdf, check_signature=False)
    def mvn_logpdf(r, x, mean=None, cov=1, allow_singular=False):
        "multivariate normal log-density: u = P (x - mean); -u for x, u for mean, (u u^T - P) / 2"
        if literal(mean) and mean is None:
            e = x
        else:
            e = x - mean
        if literal(cov):
            u = points_checked(r, e) * e / cov
        elif literal(allow_singular) and not allow_singular:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.inv(symmetric_as_read(cov, "L"))
            dcov = symmetric_part_read(
                0.5
                * (
                    np.transpose(np.reshape(np.expand_dims(dr, -1) * u, (-1, np.shape(u)[-1])))
                    @ np.reshape(u, (-1, np.shape(u)[-1]))
                    - np.sum(dr) * np.linalg.inv(symmetric_as_read(cov, "L"))
                ),
                "L",
            )
        else:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.pinv(symmetric_as_read(cov, "L"))
            dcov = unsupported_singular_cov(cov)
        dx = unbroadcast(-np.expand_dims(dr, -1) * u, x)
        dmean = unbroadcast(np.expand_dims(dr, -1) * u, mean)

    @tangent(mvn.logpdf, check_signature=False)
    def mvn_logpdf_tangent(r, x, mean=None, cov=1, allow_singular=False):
        "multivariate normal log-density: -u . dx + u . dmean + (u^T dcov u - tr(P dcov)) / 2"
        if literal(mean) and mean is None:
            e = x
        else:
            e = x - mean
        if literal(cov):
            u = points_checked(r, e) * e / cov
            dr = -np.reshape(np.sum(u * dx, axis=-1), np.shape(r)) + np.reshape(
                np.sum(u * dmean, axis=-1), np.shape(r)
            )
        elif literal(allow_singular) and not allow_singular:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.inv(symmetric_as_read(cov, "L"))
            dr = (
                -np.reshape(np.sum(u * dx, axis=-1), np.shape(r))
                + np.reshape(np.sum(u * dmean, axis=-1), np.shape(r))
                + 0.5
                * np.reshape(np.sum((u @ symmetric_as_read(dcov, "L")) * u, axis=-1), np.shape(r))
                - 0.5
                * np.sum(np.linalg.inv(symmetric_as_read(cov, "L")) * symmetric_as_read(dcov, "L"))
            )
        else:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.pinv(symmetric_as_read(cov, "L"))
            dr = (
                -np.reshape(np.sum(u * dx, axis=-1), np.shape(r))
                + np.reshape(np.sum(u * dmean, axis=-1), np.shape(r))
                + unsupported_singular_cov(cov) * dcov
            )

    @adjoint(mvn.pdf, check_signature=False)
    def mvn_pdf(r, x, mean=None, cov=1, allow_singular=False):
        "multivariate normal density: the log-density's derivatives times the density"
        if literal(mean) and mean is None:
            e = x
        else:
            e = x - mean
        if literal(cov):
            u = points_checked(r, e) * e / cov
        elif literal(allow_singular) and not allow_singular:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.inv(symmetric_as_read(cov, "L"))
            dcov = symmetric_part_read(
                0.5
                * (
                    np.transpose(np.reshape(np.expand_dims(dr * r, -1) * u, (-1, np.shape(u)[-1])))
                    @ np.reshape(u, (-1, np.shape(u)[-1]))
                    - np.sum(dr * r) * np.linalg.inv(symmetric_as_read(cov, "L"))
                ),
                "L",
            )
        else:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.pinv(symmetric_as_read(cov, "L"))
            dcov = unsupported_singular_cov(cov)
        dx = unbroadcast(-np.expand_dims(dr * r, -1) * u, x)
        dmean = unbroadcast(np.expand_dims(dr * r, -1) * u, mean)

    @tangent(mvn.pdf, check_signature=False)
    def mvn_pdf_tangent(r, x, mean=None, cov=1, allow_singular=False):
        "multivariate normal density: the log-density's tangent times the density"
        if literal(mean) and mean is None:
            e = x
        else:
            e = x - mean
        if literal(cov):
            u = points_checked(r, e) * e / cov
            dr = -r * np.reshape(np.sum(u * dx, axis=-1), np.shape(r)) + r * np.reshape(
                np.sum(u * dmean, axis=-1), np.shape(r)
            )
        elif literal(allow_singular) and not allow_singular:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.inv(symmetric_as_read(cov, "L"))
            dr = (
                -r * np.reshape(np.sum(u * dx, axis=-1), np.shape(r))
                + r * np.reshape(np.sum(u * dmean, axis=-1), np.shape(r))
                + 0.5
                * r
                * np.reshape(np.sum((u @ symmetric_as_read(dcov, "L")) * u, axis=-1), np.shape(r))
                - 0.5
                * r
                * np.sum(np.linalg.inv(symmetric_as_read(cov, "L")) * symmetric_as_read(dcov, "L"))
            )
        else:
            c = points_checked(r, e) * covariance_checked(cov)
            u = c * e @ np.linalg.pinv(symmetric_as_read(cov, "L"))
            dr = (
                -r * np.reshape(np.sum(u * dx, axis=-1), np.shape(r))
                + r * np.reshape(np.sum(u * dmean, axis=-1), np.shape(r))
                + unsupported_singular_cov(cov) * dcov
            )

    @adjoint(mvn.entropy, check_signature=False)
    def mvn_entropy(r, mean=None, cov=1):
        "multivariate normal entropy: log det(cov) / 2 + constant, so cov^-1 / 2 (mean: none)"
        dcov = symmetric_part_read(
            covariance_checked(cov) * 0.5 * dr * np.linalg.inv(symmetric_as_read(cov, "L")), "L"
        )

    @tangent(mvn.entropy, check_signature=False)
    def mvn_entropy_tangent(r, mean=None, cov=1):
        "multivariate normal entropy: trace(cov^-1 dcov) / 2"
        dr = (
            covariance_checked(cov)
            * 0.5
            * np.sum(np.linalg.inv(symmetric_as_read(cov, "L")) * symmetric_as_read(dcov, "L"))
        )

    # Dirichlet: log pdf = sum((alpha - 1) log x) + gammaln(sum(alpha)) - sum(gammaln(alpha))

    @adjoint(st.dirichlet.logpdf, check_signature=False)
    def dirichlet_logpdf(r, x, alpha):
        "Dirichlet log-density: (alpha - 1) / x for x; digamma(sum(alpha)) - digamma(alpha) + log x"
        c = simplex_point_checked(x, alpha)
        dx = c * dr * (alpha - 1) / x
        dalpha = c * dr * (sc.digamma(np.sum(alpha)) - sc.digamma(alpha) + np.log(x))

    @tangent(st.dirichlet.logpdf, check_signature=False)
    def dirichlet_logpdf_tangent(r, x, alpha):
        "Dirichlet log-density: sum((alpha - 1) / x dx) + sum((digammas + log x) dalpha)"
        c = simplex_point_checked(x, alpha)
        dr = c * np.sum((alpha - 1) / x * dx) + c * np.sum(
            (sc.digamma(np.sum(alpha)) - sc.digamma(alpha) + np.log(x)) * dalpha
        )

    @adjoint(st.dirichlet.pdf, check_signature=False)
    def dirichlet_pdf(r, x, alpha):
        "Dirichlet density: the log-density's derivatives times the density"
        c = simplex_point_checked(x, alpha)
        dx = c * dr * r * (alpha - 1) / x
        dalpha = c * dr * r * (sc.digamma(np.sum(alpha)) - sc.digamma(alpha) + np.log(x))

    @tangent(st.dirichlet.pdf, check_signature=False)
    def dirichlet_pdf_tangent(r, x, alpha):
        "Dirichlet density: the log-density's tangent times the density"
        c = simplex_point_checked(x, alpha)
        dr = c * r * np.sum((alpha - 1) / x * dx) + c * r * np.sum(
            (sc.digamma(np.sum(alpha)) - sc.digamma(alpha) + np.log(x)) * dalpha
        )
