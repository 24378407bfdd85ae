"""Rules for SciPy's special functions and the normal distribution, registered only when
SciPy imports (it is an optional extra: `pip install chainrule[scipy]`).

Each derivative is a short closed form in functions that have rules themselves
(exp, polygamma, the functions here), so second derivatives need nothing more.
`scipy.stats.norm.cdf(x, loc, scale)` is a method of the `norm` object: its
rule is registered for that bound method, with `loc` and `scale` as they are
usually passed (positionally or by name; other keywords are not supported).
"""

import numpy as np

from ..runtime import convolve2d_checked, restore_axes, signal_conv_grad, unbroadcast
from .registry import adjoint, literal, no_derivative, nondifferentiable, tangent

try:
    import scipy.special as sc
    import scipy.stats as st
except ImportError:  # pragma: no cover - SciPy is optional
    sc = st = None


if sc is not None:

    @adjoint(sc.erf)
    def erf(y, x):
        "erf: the Gaussian bump 2/sqrt(pi) exp(-x**2)"
        dx = dy * (2 / np.sqrt(np.pi)) * np.exp(-x * x)

    @tangent(sc.erf)
    def erf_tangent(y, x):
        "erf: the Gaussian bump 2/sqrt(pi) exp(-x**2)"
        dy = dx * (2 / np.sqrt(np.pi)) * np.exp(-x * x)

    @adjoint(sc.erfc)
    def erfc(y, x):
        "erfc = 1 - erf: minus the Gaussian bump"
        dx = -dy * (2 / np.sqrt(np.pi)) * np.exp(-x * x)

    @tangent(sc.erfc)
    def erfc_tangent(y, x):
        "erfc = 1 - erf: minus the Gaussian bump"
        dy = -dx * (2 / np.sqrt(np.pi)) * np.exp(-x * x)

    @adjoint(sc.erfinv)
    def erfinv(y, x):
        "erfinv: the inverse's derivative, sqrt(pi)/2 exp(y**2)"
        dx = dy * (np.sqrt(np.pi) / 2) * np.exp(y * y)

    @tangent(sc.erfinv)
    def erfinv_tangent(y, x):
        "erfinv: the inverse's derivative, sqrt(pi)/2 exp(y**2)"
        dy = dx * (np.sqrt(np.pi) / 2) * np.exp(y * y)

    @adjoint(sc.erfcinv)
    def erfcinv(y, x):
        "erfcinv: the inverse's derivative, -sqrt(pi)/2 exp(y**2)"
        dx = -dy * (np.sqrt(np.pi) / 2) * np.exp(y * y)

    @tangent(sc.erfcinv)
    def erfcinv_tangent(y, x):
        "erfcinv: the inverse's derivative, -sqrt(pi)/2 exp(y**2)"
        dy = -dx * (np.sqrt(np.pi) / 2) * np.exp(y * y)

    @adjoint(sc.gammaln)
    def gammaln(y, x):
        "log-gamma: its derivative is the digamma function"
        dx = dy * sc.digamma(x)

    @tangent(sc.gammaln)
    def gammaln_tangent(y, x):
        "log-gamma: its derivative is the digamma function"
        dy = dx * sc.digamma(x)

    @adjoint(sc.gamma)
    def gamma(y, x):
        "gamma: d gamma(x) = gamma(x) digamma(x)"
        dx = dy * y * sc.digamma(x)

    @tangent(sc.gamma)
    def gamma_tangent(y, x):
        "gamma: d gamma(x) = gamma(x) digamma(x)"
        dy = dx * y * sc.digamma(x)

    @adjoint(sc.digamma)
    def digamma(y, x):
        "digamma: its derivative is the trigamma function, polygamma(1, x)"
        dx = dy * sc.polygamma(1, x)

    @tangent(sc.digamma)
    def digamma_tangent(y, x):
        "digamma: its derivative is the trigamma function, polygamma(1, x)"
        dy = dx * sc.polygamma(1, x)

    @adjoint(sc.polygamma)
    def polygamma(y, n, x):
        "polygamma: the next one, polygamma(n + 1, x) (n, an order, has no gradient)"
        dx = dy * sc.polygamma(n + 1, x)

    @tangent(sc.polygamma)
    def polygamma_tangent(y, n, x):
        "polygamma: the next one, polygamma(n + 1, x)"
        dy = dx * sc.polygamma(n + 1, x)

    @adjoint(sc.expit)
    def expit(y, x):
        "logistic sigmoid: y (1 - y), reusing the output"
        dx = dy * y * (1 - y)

    @tangent(sc.expit)
    def expit_tangent(y, x):
        "logistic sigmoid: y (1 - y), reusing the output"
        dy = dx * y * (1 - y)

    @adjoint(sc.logit)
    def logit(y, x):
        "logit: 1 / (x (1 - x))"
        dx = dy / (x * (1 - x))

    @tangent(sc.logit)
    def logit_tangent(y, x):
        "logit: 1 / (x (1 - x))"
        dy = dx / (x * (1 - x))

    @adjoint(sc.xlogy)
    def xlogy(z, x, y):
        "x log y: log y for x, x / y for y"
        dx = unbroadcast(dz * np.log(y), x)
        dy = unbroadcast(dz * x / y, y)

    @tangent(sc.xlogy)
    def xlogy_tangent(z, x, y):
        "x log y: log y dx + x / y dy"
        dz = dx * np.log(y) + dy * x / y

    @adjoint(sc.xlog1py)
    def xlog1py(z, x, y):
        "x log(1 + y): log1p(y) for x, x / (1 + y) for y"
        dx = unbroadcast(dz * np.log1p(y), x)
        dy = unbroadcast(dz * x / (1 + y), y)

    @tangent(sc.xlog1py)
    def xlog1py_tangent(z, x, y):
        "x log(1 + y): log1p(y) dx + x / (1 + y) dy"
        dz = dx * np.log1p(y) + dy * x / (1 + y)

    @adjoint(sc.logsumexp)
    def logsumexp(r, a, axis=None, b=None, keepdims=False, return_sign=False):
        "logsumexp: each term's weight b exp(a - r), the softmax (return_sign is not supported)"
        if literal(b) and b is None:
            da = restore_axes(dr, a, axis, keepdims) * np.exp(
                a - restore_axes(r, a, axis, keepdims)
            )
        else:
            da = unbroadcast(
                restore_axes(dr, a, axis, keepdims)
                * b
                * np.exp(a - restore_axes(r, a, axis, keepdims)),
                a,
            )
            db = unbroadcast(
                restore_axes(dr, a, axis, keepdims)
                * np.exp(a - restore_axes(r, a, axis, keepdims)),
                b,
            )

    @tangent(sc.logsumexp)
    def logsumexp_tangent(r, a, axis=None, b=None, keepdims=False, return_sign=False):
        "logsumexp: the tangents averaged with the softmax weights"
        if literal(b) and b is None:
            dr = np.sum(
                np.exp(a - restore_axes(r, a, axis, keepdims)) * da, axis, keepdims=keepdims
            )
        else:
            dr = np.sum(
                b * np.exp(a - restore_axes(r, a, axis, keepdims)) * da, axis, keepdims=keepdims
            ) + np.sum(np.exp(a - restore_axes(r, a, axis, keepdims)) * db, axis, keepdims=keepdims)

    @adjoint(sc.softmax)
    def softmax(y, x, axis=None):
        "softmax: dx = y (dy - sum(dy y))"
        dx = y * (dy - np.sum(dy * y, axis, keepdims=True))

    @tangent(sc.softmax)
    def softmax_tangent(y, x, axis=None):
        "softmax: dy = y (dx - sum(dx y))"
        dy = y * (dx - np.sum(dx * y, axis, keepdims=True))

    @adjoint(sc.log_softmax)
    def log_softmax(y, x, axis=None):
        "log_softmax: dx = dy - exp(y) sum(dy)"
        dx = dy - np.exp(y) * np.sum(dy, axis, keepdims=True)

    @tangent(sc.log_softmax)
    def log_softmax_tangent(y, x, axis=None):
        "log_softmax: dy = dx - sum(exp(y) dx)"
        dy = dx - np.sum(np.exp(y) * dx, axis, keepdims=True)


if st is not None:
    # z = (x - loc) / scale throughout; the densities' derivatives in x, loc and scale

    @adjoint(st.norm.pdf, check_signature=False)
    def norm_pdf(r, x, loc=0.0, scale=1.0):
        "normal density: pdf times -z / scale (x), z / scale (loc), (z**2 - 1) / scale (scale)"
        dx = unbroadcast(-dr * r * (x - loc) / (scale * scale), x)
        dloc = unbroadcast(dr * r * (x - loc) / (scale * scale), loc)
        dscale = unbroadcast(dr * r * (((x - loc) / scale) ** 2 - 1) / scale, scale)

    @tangent(st.norm.pdf, check_signature=False)
    def norm_pdf_tangent(r, x, loc=0.0, scale=1.0):
        "normal density: -z / scale pdf (dx - dloc) + (z**2 - 1) / scale pdf dscale"
        dr = (
            -r * (x - loc) / (scale * scale) * dx
            + r * (x - loc) / (scale * scale) * dloc
            + r * (((x - loc) / scale) ** 2 - 1) / scale * dscale
        )

    @adjoint(st.norm.logpdf, check_signature=False)
    def norm_logpdf(r, x, loc=0.0, scale=1.0):
        "normal log-density: d/dx = -z / scale, d/dloc = z / scale, d/dscale = (z**2 - 1) / scale"
        dx = unbroadcast(-dr * (x - loc) / (scale * scale), x)
        dloc = unbroadcast(dr * (x - loc) / (scale * scale), loc)
        dscale = unbroadcast(dr * (((x - loc) / scale) ** 2 - 1) / scale, scale)

    @tangent(st.norm.logpdf, check_signature=False)
    def norm_logpdf_tangent(r, x, loc=0.0, scale=1.0):
        "normal log-density: -z / scale (dx - dloc) + (z**2 - 1) / scale dscale"
        dr = (
            -(x - loc) / (scale * scale) * dx
            + (x - loc) / (scale * scale) * dloc
            + (((x - loc) / scale) ** 2 - 1) / scale * dscale
        )

    @adjoint(st.norm.cdf, check_signature=False)
    def norm_cdf(r, x, loc=0.0, scale=1.0):
        "normal distribution function: the density of z over scale, for x; minus it for loc"
        dx = unbroadcast(
            dr * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale), x
        )
        dloc = unbroadcast(
            -dr * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale), loc
        )
        dscale = unbroadcast(
            -dr
            * np.exp(-0.5 * ((x - loc) / scale) ** 2)
            * (x - loc)
            / (np.sqrt(2 * np.pi) * scale * scale),
            scale,
        )

    @tangent(st.norm.cdf, check_signature=False)
    def norm_cdf_tangent(r, x, loc=0.0, scale=1.0):
        "normal distribution function: the density of z over scale times d(x - loc) - z dscale"
        dr = (
            np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale) * dx
            - np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale) * dloc
            - np.exp(-0.5 * ((x - loc) / scale) ** 2)
            * (x - loc)
            / (np.sqrt(2 * np.pi) * scale * scale)
            * dscale
        )

    @adjoint(st.norm.sf, check_signature=False)
    def norm_sf(r, x, loc=0.0, scale=1.0):
        "normal survival function 1 - cdf: minus cdf's derivatives"
        dx = unbroadcast(
            -dr * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale), x
        )
        dloc = unbroadcast(
            dr * np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale), loc
        )
        dscale = unbroadcast(
            dr
            * np.exp(-0.5 * ((x - loc) / scale) ** 2)
            * (x - loc)
            / (np.sqrt(2 * np.pi) * scale * scale),
            scale,
        )

    @tangent(st.norm.sf, check_signature=False)
    def norm_sf_tangent(r, x, loc=0.0, scale=1.0):
        "normal survival function 1 - cdf: minus cdf's tangent"
        dr = (
            -np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale) * dx
            + np.exp(-0.5 * ((x - loc) / scale) ** 2) / (np.sqrt(2 * np.pi) * scale) * dloc
            + np.exp(-0.5 * ((x - loc) / scale) ** 2)
            * (x - loc)
            / (np.sqrt(2 * np.pi) * scale * scale)
            * dscale
        )

    @adjoint(st.norm.logcdf, check_signature=False)
    def norm_logcdf(r, x, loc=0.0, scale=1.0):
        "normal log distribution function: pdf / cdf = exp(log pdf(z) - r), over scale"
        dx = unbroadcast(
            dr * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale, x
        )
        dloc = unbroadcast(
            -dr * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale, loc
        )
        dscale = unbroadcast(
            -dr
            * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r)
            * (x - loc)
            / (scale * scale),
            scale,
        )

    @tangent(st.norm.logcdf, check_signature=False)
    def norm_logcdf_tangent(r, x, loc=0.0, scale=1.0):
        "normal log distribution function: pdf / cdf over scale times d(x - loc) - z dscale"
        dr = (
            np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale * dx
            - np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale * dloc
            - np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r)
            * (x - loc)
            / (scale * scale)
            * dscale
        )

    @adjoint(st.norm.logsf, check_signature=False)
    def norm_logsf(r, x, loc=0.0, scale=1.0):
        "normal log survival function: -pdf / sf = -exp(log pdf(z) - r), over scale"
        dx = unbroadcast(
            -dr * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale, x
        )
        dloc = unbroadcast(
            dr * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale, loc
        )
        dscale = unbroadcast(
            dr
            * np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r)
            * (x - loc)
            / (scale * scale),
            scale,
        )

    @tangent(st.norm.logsf, check_signature=False)
    def norm_logsf_tangent(r, x, loc=0.0, scale=1.0):
        "normal log survival function: minus logcdf's form, with sf in place of cdf"
        dr = (
            -np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale * dx
            + np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r) / scale * dloc
            + np.exp(-0.5 * ((x - loc) / scale) ** 2 - 0.5 * np.log(2 * np.pi) - r)
            * (x - loc)
            / (scale * scale)
            * dscale
        )


if sc is not None:
    # Bessel functions: the derivative is a difference (J, Y) or mean (I) of the neighbours

    @adjoint(sc.jv)
    def jv(y, v, x):
        "Bessel J: d J_v = (J_(v-1) - J_(v+1)) / 2 (the order v has no gradient)"
        dx = dy * (sc.jv(v - 1, x) - sc.jv(v + 1, x)) / 2

    @tangent(sc.jv)
    def jv_tangent(y, v, x):
        "Bessel J: d J_v = (J_(v-1) - J_(v+1)) / 2"
        dy = dx * (sc.jv(v - 1, x) - sc.jv(v + 1, x)) / 2

    @adjoint(sc.yv)
    def yv(y, v, x):
        "Bessel Y: d Y_v = (Y_(v-1) - Y_(v+1)) / 2"
        dx = dy * (sc.yv(v - 1, x) - sc.yv(v + 1, x)) / 2

    @tangent(sc.yv)
    def yv_tangent(y, v, x):
        "Bessel Y: d Y_v = (Y_(v-1) - Y_(v+1)) / 2"
        dy = dx * (sc.yv(v - 1, x) - sc.yv(v + 1, x)) / 2

    @adjoint(sc.yn)
    def yn(y, n, x):
        "Bessel Y of integer order: d Y_n = (Y_(n-1) - Y_(n+1)) / 2"
        dx = dy * (sc.yv(n - 1, x) - sc.yv(n + 1, x)) / 2

    @tangent(sc.yn)
    def yn_tangent(y, n, x):
        "Bessel Y of integer order: d Y_n = (Y_(n-1) - Y_(n+1)) / 2"
        dy = dx * (sc.yv(n - 1, x) - sc.yv(n + 1, x)) / 2

    @adjoint(sc.iv)
    def iv(y, v, x):
        "modified Bessel I: d I_v = (I_(v-1) + I_(v+1)) / 2"
        dx = dy * (sc.iv(v - 1, x) + sc.iv(v + 1, x)) / 2

    @tangent(sc.iv)
    def iv_tangent(y, v, x):
        "modified Bessel I: d I_v = (I_(v-1) + I_(v+1)) / 2"
        dy = dx * (sc.iv(v - 1, x) + sc.iv(v + 1, x)) / 2

    @adjoint(sc.ive)
    def ive(y, v, x):
        "scaled modified Bessel I_v e^-|x|: (ive_(v-1) + ive_(v+1)) / 2 - sign(x) ive_v"
        dx = dy * ((sc.ive(v - 1, x) + sc.ive(v + 1, x)) / 2 - np.sign(x) * y)

    @tangent(sc.ive)
    def ive_tangent(y, v, x):
        "scaled modified Bessel I_v e^-|x|: (ive_(v-1) + ive_(v+1)) / 2 - sign(x) ive_v"
        dy = dx * ((sc.ive(v - 1, x) + sc.ive(v + 1, x)) / 2 - np.sign(x) * y)

    @adjoint(sc.j0)
    def j0(y, x):
        "Bessel J_0: d J_0 = -J_1"
        dx = -dy * sc.j1(x)

    @tangent(sc.j0)
    def j0_tangent(y, x):
        "Bessel J_0: d J_0 = -J_1"
        dy = -dx * sc.j1(x)

    @adjoint(sc.j1)
    def j1(y, x):
        "Bessel J_1: d J_1 = (J_0 - J_2) / 2"
        dx = dy * (sc.j0(x) - sc.jv(2, x)) / 2

    @tangent(sc.j1)
    def j1_tangent(y, x):
        "Bessel J_1: d J_1 = (J_0 - J_2) / 2"
        dy = dx * (sc.j0(x) - sc.jv(2, x)) / 2

    @adjoint(sc.y0)
    def y0(y, x):
        "Bessel Y_0: d Y_0 = -Y_1"
        dx = -dy * sc.y1(x)

    @tangent(sc.y0)
    def y0_tangent(y, x):
        "Bessel Y_0: d Y_0 = -Y_1"
        dy = -dx * sc.y1(x)

    @adjoint(sc.y1)
    def y1(y, x):
        "Bessel Y_1: d Y_1 = (Y_0 - Y_2) / 2"
        dx = dy * (sc.y0(x) - sc.yv(2, x)) / 2

    @tangent(sc.y1)
    def y1_tangent(y, x):
        "Bessel Y_1: d Y_1 = (Y_0 - Y_2) / 2"
        dy = dx * (sc.y0(x) - sc.yv(2, x)) / 2

    @adjoint(sc.i0)
    def i0(y, x):
        "modified Bessel I_0: d I_0 = I_1"
        dx = dy * sc.i1(x)

    @tangent(sc.i0)
    def i0_tangent(y, x):
        "modified Bessel I_0: d I_0 = I_1"
        dy = dx * sc.i1(x)

    @adjoint(sc.i1)
    def i1(y, x):
        "modified Bessel I_1: d I_1 = (I_0 + I_2) / 2"
        dx = dy * (sc.i0(x) + sc.iv(2, x)) / 2

    @tangent(sc.i1)
    def i1_tangent(y, x):
        "modified Bessel I_1: d I_1 = (I_0 + I_2) / 2"
        dy = dx * (sc.i0(x) + sc.iv(2, x)) / 2

    # the gamma family

    @adjoint(sc.rgamma)
    def rgamma(y, x):
        "1 / gamma: d rgamma = -rgamma(x) digamma(x)"
        dx = -dy * y * sc.digamma(x)

    @tangent(sc.rgamma)
    def rgamma_tangent(y, x):
        "1 / gamma: d rgamma = -rgamma(x) digamma(x)"
        dy = -dx * y * sc.digamma(x)

    @adjoint(sc.gammasgn)
    def gammasgn(y, x):
        "the sign of gamma is piecewise constant: no gradient"
        dx = 0.0 * dy

    @tangent(sc.gammasgn)
    def gammasgn_tangent(y, x):
        "the sign of gamma is piecewise constant: a zero tangent"
        dy = 0.0 * dx

    @adjoint(sc.beta)
    def beta(y, a, b):
        "beta function: d B = B (digamma(a) - digamma(a + b)), and the same for b"
        da = unbroadcast(dy * y * (sc.digamma(a) - sc.digamma(a + b)), a)
        db = unbroadcast(dy * y * (sc.digamma(b) - sc.digamma(a + b)), b)

    @tangent(sc.beta)
    def beta_tangent(y, a, b):
        "beta function: d B = B ((digamma(a) - digamma(a + b)) da + (... b ...) db)"
        dy = (
            y * (sc.digamma(a) - sc.digamma(a + b)) * da
            + y * (sc.digamma(b) - sc.digamma(a + b)) * db
        )

    @adjoint(sc.betaln)
    def betaln(y, a, b):
        "log beta: digamma(a) - digamma(a + b), and the same for b"
        da = unbroadcast(dy * (sc.digamma(a) - sc.digamma(a + b)), a)
        db = unbroadcast(dy * (sc.digamma(b) - sc.digamma(a + b)), b)

    @tangent(sc.betaln)
    def betaln_tangent(y, a, b):
        "log beta: (digamma(a) - digamma(a + b)) da + (digamma(b) - digamma(a + b)) db"
        dy = (sc.digamma(a) - sc.digamma(a + b)) * da + (sc.digamma(b) - sc.digamma(a + b)) * db

    @adjoint(sc.multigammaln)
    def multigammaln(y, a, d):
        "multivariate log-gamma: the sum of digamma(a - j / 2), j < d"
        da = dy * np.sum(sc.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)

    @tangent(sc.multigammaln)
    def multigammaln_tangent(y, a, d):
        "multivariate log-gamma: the sum of digamma(a - j / 2), j < d"
        dy = da * np.sum(sc.digamma(np.expand_dims(a, -1) - np.arange(d) / 2), axis=-1)


try:
    import scipy.signal as signal
except ImportError:  # pragma: no cover - SciPy is optional
    signal = None

if signal is not None:

    @adjoint(signal.convolve)
    def signal_convolve(y, in1, in2, mode="full", method="auto"):
        "N-D convolution: each input's gradient is dy correlated with the other input"
        din1 = signal_conv_grad(dy, in1, in2, mode, 0)
        din2 = signal_conv_grad(dy, in1, in2, mode, 1)

    @tangent(signal.convolve)
    def signal_convolve_tangent(y, in1, in2, mode="full", method="auto"):
        "product rule: d(in1 * in2) = din1 * in2 + in1 * din2"
        dy = signal.convolve(din1, in2, mode) + signal.convolve(in1, din2, mode)

    @adjoint(signal.convolve2d)
    def signal_convolve2d(y, in1, in2, mode="full", boundary="fill", fillvalue=0):
        "2-D convolution with zero fill: scipy.signal.convolve's gradients"
        din1 = signal_conv_grad(dy, in1, in2, mode, 0) * convolve2d_checked(boundary, fillvalue)
        din2 = signal_conv_grad(dy, in1, in2, mode, 1) * convolve2d_checked(boundary, fillvalue)

    @tangent(signal.convolve2d)
    def signal_convolve2d_tangent(y, in1, in2, mode="full", boundary="fill", fillvalue=0):
        "2-D convolution with zero fill: the product rule, as scipy.signal.convolve's"
        dy = (
            signal.convolve(din1, in2, mode) + signal.convolve(in1, din2, mode)
        ) * convolve2d_checked(boundary, fillvalue)

    nondifferentiable(convolve2d_checked, why="it is the constant 1.0 (or raises an error)")

    @tangent(signal_conv_grad)
    def signal_conv_grad_tangent(r, g, in1, in2, mode="full", which=0):
        "dy correlated with the other input: bilinear, one term per factor"
        if literal(which) and which == 0:
            dr = signal_conv_grad(dg, in1, in2, mode, 0) + signal_conv_grad(g, in1, din2, mode, 0)
        else:
            dr = signal_conv_grad(dg, in1, in2, mode, 1) + signal_conv_grad(g, din1, in2, mode, 1)

    @adjoint(signal_conv_grad)
    def signal_conv_grad_adjoint(r, g, in1, in2, mode="full", which=0):
        "<dr, grad of <g, in1 * in2>> = <g, (dr in place of that input) * the other>"
        if literal(which) and which == 0:
            dg = signal.convolve(dr, in2, mode)
            din2 = signal_conv_grad(g, dr, in2, mode, 1)
        else:
            dg = signal.convolve(in1, dr, mode)
            din1 = signal_conv_grad(g, in1, dr, mode, 0)


if sc is not None:  # orders: their derivatives exist but have no rule
    no_derivative(sc.polygamma, params=("n",))
    no_derivative(sc.jv, sc.yv, sc.iv, sc.ive, params=("v",))
    no_derivative(sc.yn, params=("n",))
    no_derivative(sc.multigammaln, params=("d",))  # a dimension, an integer
