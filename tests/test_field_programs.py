"""Programs written the way practitioners in several fields write them.

Each program below is plain NumPy/SciPy, written as one would for the
problem at hand (not adapted to chainrule): a Gaussian-process marginal
likelihood, attention, an LSTM and a GRU, Black-Scholes greeks,
robot kinematics, Lennard-Jones energies, Runge-Kutta integrators taking
the right-hand side as an argument, GLM likelihoods, total variation,
normalization layers, convolutions, mixtures, a Kalman filter, classifiers,
iterations with early exit, a VAE, epidemiology and pharmacokinetics.

Every gradient is compared with autograd's gradient of an independent copy
of the program written with autograd.numpy / autograd.scipy (the oracles
in `_autograd_oracles`), and with central finite differences
(`chainrule.testing.check_grads` in forward and reverse mode, or
`chainrule.check_grad` for parameters in containers).  A selection of
Hessians is compared with `autograd.hessian`.
"""

from __future__ import annotations

import autograd
import numpy as np
import pytest
from scipy import special, stats
from scipy.linalg import cho_solve, solve_triangular
from scipy.spatial.distance import cdist
from scipy.special import expit, gammaln, logsumexp
from scipy.stats import norm

import chainrule
from chainrule.testing import check_grads

# ---------------------------------------------------------------------------
# The programs, in plain NumPy / SciPy
# ---------------------------------------------------------------------------


# 1. Gaussian process negative log marginal likelihood (cho_solve)
def rbf_kernel(X1, X2, lengthscale, variance=1.0):
    sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * np.dot(X1, X2.T)
    return variance * np.exp(-0.5 / lengthscale**2 * sqdist)


def gp_nll(lengthscale, noise, X, y):
    n = X.shape[0]
    K = rbf_kernel(X, X, lengthscale) + noise**2 * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = cho_solve((L, True), y)
    nll = 0.5 * y.dot(alpha)
    nll += np.sum(np.log(np.diag(L)))
    nll += 0.5 * n * np.log(2 * np.pi)
    return nll


# 1b. GP with solve_triangular, log-hyperparameters packed in one vector
def gp_nll_tri(theta, X, y):
    ell, sf2, sn2 = np.exp(theta)
    d = X[:, None, :] - X[None, :, :]
    K = sf2 * np.exp(-0.5 * np.sum(d**2, axis=-1) / ell**2)
    K += sn2 * np.eye(len(y))
    L = np.linalg.cholesky(K)
    a = solve_triangular(L, y, lower=True)
    return 0.5 * a @ a + np.log(np.diag(L)).sum() + 0.5 * len(y) * np.log(2 * np.pi)


# 2. scaled dot-product attention
def softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention_loss(Q, K, V, target):
    d_k = Q.shape[-1]
    scores = Q @ K.T / np.sqrt(d_k)
    weights = softmax(scores, axis=-1)
    out = weights @ V
    return np.mean((out - target) ** 2)


# 3. LSTM unrolled over time
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_loss(W, U, b, xs, y):
    H = U.shape[1]
    h = np.zeros(H)
    c = np.zeros(H)
    for t in range(xs.shape[0]):
        gates = W @ xs[t] + U @ h + b
        i = sigmoid(gates[:H])
        f = sigmoid(gates[H : 2 * H])
        o = sigmoid(gates[2 * H : 3 * H])
        g = np.tanh(gates[3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
    return np.sum((h - y) ** 2)


# 4. Black-Scholes call
def bs_call(S, sigma, K, T, r):
    d1 = (np.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2)


# 5. planar 3-link robot arm forward kinematics, reach loss
def fk(q, lengths):
    phi = np.cumsum(q)
    x = np.sum(lengths * np.cos(phi))
    y = np.sum(lengths * np.sin(phi))
    return np.array([x, y])


def reach_loss(q, lengths, target):
    p = fk(q, lengths)
    return 0.5 * np.sum((p - target) ** 2)


# 6. Lennard-Jones energy
def lj_energy(x, eps=1.0, sigma=1.0):
    n = x.shape[0]
    diff = x[:, None, :] - x[None, :, :]
    r2 = np.sum(diff**2, axis=-1)
    mask = ~np.eye(n, dtype=bool)
    r2 = r2[mask]
    sr6 = (sigma**2 / r2) ** 3
    return 0.5 * np.sum(4 * eps * (sr6**2 - sr6))


# 7. RK4 integrator of Lotka-Volterra with f passed in
def rk4(f, y0, dt, n):
    y = y0
    t = 0.0
    for _ in range(n):
        k1 = f(y, t)
        k2 = f(y + 0.5 * dt * k1, t + 0.5 * dt)
        k3 = f(y + 0.5 * dt * k2, t + 0.5 * dt)
        k4 = f(y + dt * k3, t + dt)
        y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += dt
    return y


def lv_loss(params, y0, target):
    a, b, c, d = params

    def lotka_volterra(z, t):
        prey, pred = z[0], z[1]
        return np.array([a * prey - b * prey * pred, d * prey * pred - c * pred])

    yT = rk4(lotka_volterra, y0, 0.05, 20)
    return np.sum((yT - target) ** 2)


def damped_rhs(z, t):
    return np.array([z[1], -0.3 * z[1] - 4.0 * z[0]])


def oscillator_energy(y0):
    y = rk4(damped_rhs, y0, 0.1, 15)
    return 0.5 * y[1] ** 2 + 2.0 * y[0] ** 2


# 8. Poisson regression negative log-likelihood
def poisson_nll(beta, X, counts):
    eta = X @ beta
    mu = np.exp(eta)
    ll = counts * eta - mu - gammaln(counts + 1)
    return -ll.sum()


# 8b. Poisson with gammaln of the rate (Gamma-prior style term on differentiated input)
def neg_binomial_nll(log_r, mu, y):
    r = np.exp(log_r)
    ll = (
        gammaln(y + r)
        - gammaln(r)
        - gammaln(y + 1)
        + r * np.log(r / (r + mu))
        + y * np.log(mu / (r + mu))
    )
    return -np.sum(ll)


# 9. total-variation denoising objective
def tv_objective(u, f, lam=0.5, eps=1e-3):
    fidelity = 0.5 * np.sum((u - f) ** 2)
    dx = np.diff(u, axis=1)
    dy = np.diff(u, axis=0)
    tv = np.sum(np.sqrt(dx[:-1, :] ** 2 + dy[:, :-1] ** 2 + eps**2))
    return fidelity + lam * tv


# 10. batch normalization forward pass
def batchnorm_loss(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return np.sum(out**3) / x.shape[0]


# 11. 1-D convolution
def conv1d_loss(w, signal, target):
    y = np.convolve(signal, w, mode="valid")
    y = np.maximum(y, 0.1 * y)
    return np.mean((y - target) ** 2)


# 12. mixture of Gaussians log-likelihood
def gmm_nll(means, log_sigmas, logits, x):
    log_w = logits - logsumexp(logits)
    sig = np.exp(log_sigmas)
    z = (x[:, None] - means[None, :]) / sig
    log_comp = -0.5 * z**2 - log_sigmas - 0.5 * np.log(2 * np.pi)
    return -np.sum(logsumexp(log_comp + log_w, axis=1))


# 13. small MLP with a dict of parameters
def relu(x):
    return np.maximum(x, 0)


def mlp_loss_loopreg(params, X, y):
    h = X
    for k in range(1, 3):
        h = relu(h @ params[f"W{k}"] + params[f"b{k}"])
    out = h @ params["W3"] + params["b3"]
    reg = 0.0
    for name, p in params.items():
        if name.startswith("W"):
            reg += np.sum(p**2)
    return np.mean((out.ravel() - y) ** 2) + 1e-3 * reg


# 14. Kalman filter log-likelihood
def kalman_loglik(q, r, F, H, ys):
    n = F.shape[0]
    x = np.zeros(n)
    P = np.eye(n)
    Q = q * np.eye(n)
    R = r * np.eye(H.shape[0])
    ll = 0.0
    for y in ys:
        x = F @ x
        P = F @ P @ F.T + Q
        v = y - H @ x
        S = H @ P @ H.T + R
        Sinv = np.linalg.inv(S)
        K = P @ H.T @ Sinv
        x = x + K @ v
        P = (np.eye(n) - K @ H) @ P
        sign, logdet = np.linalg.slogdet(S)
        ll -= 0.5 * (logdet + v @ Sinv @ v + len(v) * np.log(2 * np.pi))
    return ll


# 15. softmax cross-entropy with mixed dot spellings
def softmax_xent(W, b, X, labels):
    logits = np.dot(X, W) + b
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = X.shape[0]
    nll = -log_probs[np.arange(n), labels].mean()
    return nll + 0.5 * 1e-2 * (W * W).sum() + 1e-3 * b.dot(b) + 1e-3 * np.sum(W.T @ W)


# 16. logistic regression, log1p(exp(-z))
def logistic_loss(w, X, y):
    z = y * X.dot(w)
    return np.mean(np.log1p(np.exp(-z))) + 0.01 * np.sum(w**2)


# 17. fixed-point / Newton iteration with early exit
def newton_sqrt_loss(a, tol=1e-12, maxiter=50):
    x = np.ones_like(a)
    for _ in range(maxiter):
        x_new = 0.5 * (x + a / x)
        if np.max(np.abs(x_new - x)) < tol:
            break
        x = x_new
    return np.sum(x_new**2 * np.sin(x_new))


# 18. power iteration with while loop and early return
def spectral_radius(A, iters=200):
    v = np.ones(A.shape[0]) / np.sqrt(A.shape[0])
    lam = 0.0
    k = 0
    while k < iters:
        w = A @ v
        lam_new = v @ w
        v = w / np.linalg.norm(w)
        if abs(lam_new - lam) < 1e-13:
            return lam_new
        lam = lam_new
        k += 1
    return lam


# LJ with triu_indices and sqrt distances
def lj_triu(pos, epsilon=1.0, sigma=1.0):
    n = len(pos)
    i, j = np.triu_indices(n, k=1)
    rij = pos[i] - pos[j]
    r = np.linalg.norm(rij, axis=1)
    sr = sigma / r
    return np.sum(4 * epsilon * (sr**12 - sr**6))


# LJ double loop with early continue
def lj_loops(pos):
    n = pos.shape[0]
    E = 0.0
    for i in range(n):
        for j in range(n):
            if j <= i:
                continue
            r2 = np.sum((pos[i] - pos[j]) ** 2)
            E += 4.0 * (r2**-6 - r2**-3)
    return E


# causal attention, batched with einsum and masking by np.where
def causal_attention(q, k, v):
    B, T, D = q.shape
    s = np.einsum("btd,bsd->bts", q, k) / np.sqrt(D)
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    return (out**2).sum()


# multi-head attention with reshape/transpose
def mha(x, Wq, Wk, Wv, Wo, n_heads=2):
    T, D = x.shape
    hd = D // n_heads
    q = (x @ Wq).reshape(T, n_heads, hd).transpose(1, 0, 2)
    k = (x @ Wk).reshape(T, n_heads, hd).transpose(1, 0, 2)
    v = (x @ Wv).reshape(T, n_heads, hd).transpose(1, 0, 2)
    att = q @ k.swapaxes(-1, -2) / np.sqrt(hd)
    att = special.softmax(att, axis=-1)
    y = (att @ v).transpose(1, 0, 2).reshape(T, D)
    return np.sum(np.tanh(y @ Wo))


# Black-Scholes, vectorized over strikes, keyword loc/scale, frozen dist
def bs_portfolio(S, sigma, strikes, T=1.0, r=0.01):
    sqT = np.sqrt(T)
    d1 = (np.log(S / strikes) + (r + sigma**2 / 2) * T) / (sigma * sqT)
    d2 = d1 - sigma * sqT
    calls = S * stats.norm.cdf(d1, loc=0.0, scale=1.0) - strikes * np.exp(-r * T) * stats.norm.cdf(
        d2
    )
    return calls.sum()


# 2-link arm, written out
def two_link(theta, l1=1.0, l2=0.7):
    t1, t2 = theta
    x = l1 * np.cos(t1) + l2 * np.cos(t1 + t2)
    y = l1 * np.sin(t1) + l2 * np.sin(t1 + t2)
    return (x - 0.5) ** 2 + (y - 1.2) ** 2


# Kalman with solve, in-place updates
def kalman_solve(q, r, F, H, ys):
    n = F.shape[0]
    x = np.zeros(n)
    P = np.eye(n)
    ll = 0.0
    for t in range(len(ys)):
        x = F @ x
        P = F @ P @ F.T
        P += q * np.eye(n)
        S = H @ P @ H.T + r * np.eye(len(ys[t]))
        v = ys[t] - H @ x
        K = np.linalg.solve(S, H @ P).T
        x = x + K @ v
        P -= K @ S @ K.T
        _, logdet = np.linalg.slogdet(S)
        ll += -0.5 * (logdet + v @ np.linalg.solve(S, v))
    return -ll


# RK4 with while loop to final time, method-style rhs via lambda
def rk4_until(f, y0, t_end, dt):
    t, y = 0.0, y0.copy()
    while t < t_end - 1e-12:
        h = min(dt, t_end - t)
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y += h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        t += h
    return y


def pendulum_loss(theta0, damping):
    rhs = lambda t, s: np.array([s[1], -9.81 * np.sin(s[0]) - damping * s[1]])  # noqa: E731
    sT = rk4_until(rhs, np.array([theta0, 0.0]), 1.0, 0.15)
    return sT[0] ** 2 + 0.1 * sT[1] ** 2


# Poisson via scipy.stats.poisson.logpmf
def poisson_stats(beta, X, k):
    mu = np.exp(X @ beta)
    return -np.sum(stats.poisson.logpmf(k, mu))


# anisotropic TV with abs
def tv_l1(u, f, lam=0.2):
    return 0.5 * np.sum((u - f) ** 2) + lam * (
        np.abs(np.diff(u, axis=0)).sum() + np.abs(np.diff(u, axis=1)).sum()
    )


# layer norm + std
def layernorm_loss(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    sd = x.std(axis=-1, keepdims=True)
    y = g * (x - mu) / (sd + 1e-5) + b
    return np.sum(y * np.arange(y.shape[-1]))


# multichannel conv via np.correlate "same" mode in loop
def conv_multi(w, x):
    C = w.shape[0]
    out = np.zeros(x.shape[1])
    for c in range(C):
        out += np.correlate(x[c], w[c], mode="same")
    return np.sum(np.tanh(out) ** 2)


# softmax xent with one-hot via np.eye
def xent_onehot(W, X, labels, k=3):
    Y = np.eye(k)[labels]
    logits = X.dot(W)
    logp = logits - special.logsumexp(logits, axis=1, keepdims=True)
    return -(Y * logp).sum() / len(labels)


# logistic regression with logaddexp and expit-based penalty
def logistic_logaddexp(w, b, X, y01):
    z = X @ w + b
    nll = np.sum(np.logaddexp(0, z) - y01 * z)
    p = expit(z)
    return nll + 0.1 * np.sum(p * (1 - p))


# LSTM storing all states, array writes, loss over sequence
def lstm_seq(params, xs, targets):
    Wx, Wh, b, Wy = params["Wx"], params["Wh"], params["b"], params["Wy"]
    T = xs.shape[0]
    H = Wh.shape[1]
    h, c = np.zeros(H), np.zeros(H)
    hs = np.zeros((T, H))
    for t in range(T):
        z = Wx @ xs[t] + Wh @ h + b
        i, f, o, g = np.split(z, 4)
        i, f, o = expit(i), expit(f), expit(o)
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
        hs[t] = h
    preds = hs @ Wy
    return np.mean((preds - targets) ** 2)


# Gumbel / mixture with np.max reductions, argmax-based hard assignment (k-means-like)
def kmeans_obj(centers, X):
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    return d2.min(axis=1).sum()


# GMM with multivariate_normal logpdf in a loop over components
def gmm_mvn(means, weights_logit, X):
    K = means.shape[0]
    w = special.softmax(weights_logit)
    lik = np.zeros(X.shape[0])
    for k in range(K):
        lik += w[k] * stats.multivariate_normal.pdf(X, mean=means[k], cov=np.eye(X.shape[1]))
    return -np.log(lik).sum()


def dense(x, W, b, activation=np.tanh):
    return activation(x @ W + b)


def encoder(x, p):
    h = dense(x, p["We"], p["be"], activation=relu)
    return h @ p["Wmu"], h @ p["Wlv"]


def vae_elbo(p, x, eps):
    mu, logvar = encoder(x, p)
    z = mu + np.exp(0.5 * logvar) * eps
    xhat = dense(z, p["Wd"], p["bd"], activation=expit)
    xhat = np.clip(xhat, 1e-7, 1 - 1e-7)
    rec = -np.sum(x * np.log(xhat) + (1 - x) * np.log(1 - xhat), axis=1)
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
    return np.mean(rec + kl)


def kepler_loss(e, M):
    E = M.copy()
    for _ in range(100):
        dE = (E - e * np.sin(E) - M) / (1 - e * np.cos(E))
        E = E - dE
        if np.all(np.abs(dE) < 1e-14):
            break
    nu = 2 * np.arctan2(np.sqrt(1 + e) * np.sin(E / 2), np.sqrt(1 - e) * np.cos(E / 2))
    return np.sum(np.cos(nu))


def huber(r, delta=1.0):
    out = np.zeros_like(r)
    for i in range(len(r)):
        a = abs(r[i])
        if a <= delta:
            out[i] = 0.5 * r[i] ** 2
        else:
            out[i] = delta * (a - 0.5 * delta)
    return out.sum()


def robust_regression(w, X, y):
    return huber(X @ w - y) / len(y)


def asian_mc(S0, sigma, Z, K=100.0, r=0.01, T=1.0):
    n_steps = Z.shape[1]
    dt = T / n_steps
    inc = (r - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * Z
    S = S0 * np.exp(np.cumsum(inc, axis=1))
    payoff = np.maximum(S.mean(axis=1) - K, 0.0)
    return np.exp(-r * T) * payoff.mean()


def sir_nll(beta, gamma, cases, N=1000.0, dt=0.5):
    S, I, R = N - 1.0, 1.0, 0.0
    incid = []
    for _day in range(len(cases)):
        new = 0.0
        for _ in range(int(1 / dt)):
            inf = beta * S * I / N * dt
            rec = gamma * I * dt
            S, I, R = S - inf, I + inf - rec, R + rec
            new += inf
        incid.append(new)
    lam = np.array(incid)
    return -np.sum(stats.poisson.logpmf(cases, lam))


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)


def student_t_reg(w, log_scale, df, X, y):
    resid = y - X @ w
    return -stats.t.logpdf(resid, df, scale=np.exp(log_scale)).sum()


def gru_loss(Wz, Wr, Wh, xs):
    H = Wz.shape[0]
    h = np.zeros(H)
    for x in xs:
        xh = np.concatenate([x, h])
        z = 1 / (1 + np.exp(-(Wz @ xh)))
        r = 1 / (1 + np.exp(-(Wr @ xh)))
        hc = np.tanh(Wh @ np.concatenate([x, r * h]))
        h = (1 - z) * h + z * hc
    return np.sum(h**2)


def pk_one_compartment(log_ka, log_ke, log_V, t, conc, dose=100.0):
    ka, ke, V = np.exp(log_ka), np.exp(log_ke), np.exp(log_V)
    pred = dose * ka / (V * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))
    return np.sum((np.log(pred) - np.log(conc)) ** 2)


# GP with the squared distances from scipy's cdist (data only), solves with np.linalg.solve
def gp_cdist(log_ell, X, y):
    K = np.exp(-0.5 * cdist(X, X, "sqeuclidean") / np.exp(2 * log_ell)) + 0.1 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.log(np.diag(L)).sum()


# ---------------------------------------------------------------------------
# Independent copies written with autograd (the oracle)
# ---------------------------------------------------------------------------


def _autograd_oracles():
    """The same programs with autograd.numpy / autograd.scipy, by name."""
    import autograd.numpy as np
    from autograd.scipy.linalg import solve_triangular
    from autograd.scipy.signal import convolve
    from autograd.scipy.special import expit, gammaln, logsumexp
    from autograd.scipy.stats import multivariate_normal, norm, poisson
    from autograd.scipy.stats import t as t_dist

    def rbf_kernel(X1, X2, lengthscale, variance=1.0):
        sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * np.dot(X1, X2.T)
        return variance * np.exp(-0.5 / lengthscale**2 * sqdist)

    def gp_nll(lengthscale, noise, X, y):
        n = X.shape[0]
        K = rbf_kernel(X, X, lengthscale) + noise**2 * np.eye(n)
        L = np.linalg.cholesky(K)
        a = solve_triangular(L, y, lower=True)
        alpha = solve_triangular(L.T, a, lower=False)
        nll = 0.5 * np.dot(y, alpha)
        nll = nll + np.sum(np.log(np.diag(L)))
        nll = nll + 0.5 * n * np.log(2 * np.pi)
        return nll

    def gp_nll_tri(theta, X, y):
        ell, sf2, sn2 = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2])
        d = X[:, None, :] - X[None, :, :]
        K = sf2 * np.exp(-0.5 * np.sum(d**2, axis=-1) / ell**2)
        K = K + sn2 * np.eye(len(y))
        L = np.linalg.cholesky(K)
        a = solve_triangular(L, y, lower=True)
        return 0.5 * np.dot(a, a) + np.sum(np.log(np.diag(L))) + 0.5 * len(y) * np.log(2 * np.pi)

    def softmax(z, axis=-1):
        z = z - np.max(z, axis=axis, keepdims=True)
        e = np.exp(z)
        return e / np.sum(e, axis=axis, keepdims=True)

    def attention_loss(Q, K, V, target):
        d_k = Q.shape[-1]
        scores = np.dot(Q, K.T) / np.sqrt(d_k)
        weights = softmax(scores, axis=-1)
        out = np.dot(weights, V)
        return np.mean((out - target) ** 2)

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    def lstm_loss(W, U, b, xs, y):
        H = U.shape[1]
        h = np.zeros(H)
        c = np.zeros(H)
        for t in range(xs.shape[0]):
            gates = np.dot(W, xs[t]) + np.dot(U, h) + b
            i = sigmoid(gates[:H])
            f = sigmoid(gates[H : 2 * H])
            o = sigmoid(gates[2 * H : 3 * H])
            g = np.tanh(gates[3 * H :])
            c = f * c + i * g
            h = o * np.tanh(c)
        return np.sum((h - y) ** 2)

    def bs_call(S, sigma, K, T, r):
        d1 = (np.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
        d2 = d1 - sigma * np.sqrt(T)
        return S * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2)

    def reach_loss(q, lengths, target):
        phi = np.cumsum(q)
        x = np.sum(lengths * np.cos(phi))
        y = np.sum(lengths * np.sin(phi))
        p = np.array([x, y])
        return 0.5 * np.sum((p - target) ** 2)

    def lj_energy(x, eps=1.0, sigma=1.0):
        n = x.shape[0]
        diff = x[:, None, :] - x[None, :, :]
        r2 = np.sum(diff**2, axis=-1)
        iu = np.triu_indices(n, 1)
        r2 = r2[iu]
        sr6 = (sigma**2 / r2) ** 3
        return np.sum(4 * eps * (sr6**2 - sr6))

    def rk4(f, y0, dt, n):
        y = y0
        t = 0.0
        for _ in range(n):
            k1 = f(y, t)
            k2 = f(y + 0.5 * dt * k1, t + 0.5 * dt)
            k3 = f(y + 0.5 * dt * k2, t + 0.5 * dt)
            k4 = f(y + dt * k3, t + dt)
            y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += dt
        return y

    def lv_loss(params, y0, target):
        a, b, c, d = params[0], params[1], params[2], params[3]

        def lotka_volterra(z, t):
            prey, pred = z[0], z[1]
            return np.array([a * prey - b * prey * pred, d * prey * pred - c * pred])

        yT = rk4(lotka_volterra, y0, 0.05, 20)
        return np.sum((yT - target) ** 2)

    def damped_rhs(z, t):
        return np.array([z[1], -0.3 * z[1] - 4.0 * z[0]])

    def oscillator_energy(y0):
        y = rk4(damped_rhs, y0, 0.1, 15)
        return 0.5 * y[1] ** 2 + 2.0 * y[0] ** 2

    def poisson_nll(beta, X, counts):
        eta = np.dot(X, beta)
        mu = np.exp(eta)
        ll = counts * eta - mu - gammaln(counts + 1)
        return -np.sum(ll)

    def neg_binomial_nll(log_r, mu, y):
        r = np.exp(log_r)
        ll = (
            gammaln(y + r)
            - gammaln(r)
            - gammaln(y + 1)
            + r * np.log(r / (r + mu))
            + y * np.log(mu / (r + mu))
        )
        return -np.sum(ll)

    def tv_objective(u, f, lam=0.5, eps=1e-3):
        fidelity = 0.5 * np.sum((u - f) ** 2)
        dx = np.diff(u, axis=1)
        dy = np.diff(u, axis=0)
        tv = np.sum(np.sqrt(dx[:-1, :] ** 2 + dy[:, :-1] ** 2 + eps**2))
        return fidelity + lam * tv

    def batchnorm_loss(x, gamma, beta, eps=1e-5):
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        xhat = (x - mu) / np.sqrt(var + eps)
        out = gamma * xhat + beta
        return np.sum(out**3) / x.shape[0]

    def conv1d_loss(w, signal, target):
        y = convolve(signal, w, mode="valid")
        y = np.maximum(y, 0.1 * y)
        return np.mean((y - target) ** 2)

    def gmm_nll(means, log_sigmas, logits, x):
        log_w = logits - logsumexp(logits)
        sig = np.exp(log_sigmas)
        z = (x[:, None] - means[None, :]) / sig
        log_comp = -0.5 * z**2 - log_sigmas - 0.5 * np.log(2 * np.pi)
        return -np.sum(logsumexp(log_comp + log_w, axis=1))

    def mlp_loss(params, X, y):
        h = X
        for k in range(1, 3):
            h = np.maximum(np.dot(h, params[f"W{k}"]) + params[f"b{k}"], 0)
        out = np.dot(h, params["W3"]) + params["b3"]
        reg = 0.0
        for k in range(1, 4):
            reg = reg + np.sum(params[f"W{k}"] ** 2)
        return np.mean((np.ravel(out) - y) ** 2) + 1e-3 * reg

    def kalman_loglik(q, r, F, H, ys):
        n = F.shape[0]
        x = np.zeros(n)
        P = np.eye(n)
        Q = q * np.eye(n)
        R = r * np.eye(H.shape[0])
        ll = 0.0
        for y in ys:
            x = np.dot(F, x)
            P = np.dot(np.dot(F, P), F.T) + Q
            v = y - np.dot(H, x)
            S = np.dot(np.dot(H, P), H.T) + R
            Sinv = np.linalg.inv(S)
            K = np.dot(np.dot(P, H.T), Sinv)
            x = x + np.dot(K, v)
            P = np.dot(np.eye(n) - np.dot(K, H), P)
            sign, logdet = np.linalg.slogdet(S)
            ll = ll - 0.5 * (logdet + np.dot(np.dot(v, Sinv), v) + len(v) * np.log(2 * np.pi))
        return ll

    def softmax_xent(W, b, X, labels):
        logits = np.dot(X, W) + b
        logits = logits - np.max(logits, axis=1, keepdims=True)
        log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
        n = X.shape[0]
        nll = -np.mean(log_probs[np.arange(n), labels])
        return (
            nll + 0.5 * 1e-2 * np.sum(W * W) + 1e-3 * np.dot(b, b) + 1e-3 * np.sum(np.dot(W.T, W))
        )

    def logistic_loss(w, X, y):
        z = y * np.dot(X, w)
        return np.mean(np.log1p(np.exp(-z))) + 0.01 * np.sum(w**2)

    def newton_sqrt_loss(a, tol=1e-12, maxiter=50):
        x = np.ones_like(a)
        for _ in range(maxiter):
            x_new = 0.5 * (x + a / x)
            if np.max(np.abs(x_new - x)) < tol:
                break
            x = x_new
        return np.sum(x_new**2 * np.sin(x_new))

    def spectral_radius(A, iters=200):
        v = np.ones(A.shape[0]) / np.sqrt(A.shape[0])
        lam = 0.0
        k = 0
        while k < iters:
            w = np.dot(A, v)
            lam_new = np.dot(v, w)
            v = w / np.linalg.norm(w)
            if abs(lam_new - lam) < 1e-13:
                return lam_new
            lam = lam_new
            k += 1
        return lam

    def _lj_pairs(r2):
        inv6 = 1.0 / r2**3
        return 4.0 * np.sum(inv6**2 - inv6)

    def lj_pair_energy(pos):
        n = pos.shape[0]
        i, j = np.triu_indices(n, 1)
        r2 = np.sum((pos[i] - pos[j]) ** 2, axis=1)
        return _lj_pairs(r2)

    def _softmax(a, axis=-1):
        a = a - np.max(a, axis=axis, keepdims=True)
        e = np.exp(a)
        return e / np.sum(e, axis=axis, keepdims=True)

    def causal_attention(q, k, v):
        B, T, D = q.shape
        s = np.einsum("btd,bsd->bts", q, k) / np.sqrt(D)
        mask = np.tril(np.ones((T, T)))
        s = s * mask - 1e30 * (1 - mask)
        p = _softmax(s)
        out = np.einsum("bts,bsd->btd", p, v)
        return np.sum(out**2)

    def mha(x, Wq, Wk, Wv, Wo, n_heads=2):
        T, D = x.shape
        hd = D // n_heads
        q = np.transpose(np.reshape(np.dot(x, Wq), (T, n_heads, hd)), (1, 0, 2))
        k = np.transpose(np.reshape(np.dot(x, Wk), (T, n_heads, hd)), (1, 0, 2))
        v = np.transpose(np.reshape(np.dot(x, Wv), (T, n_heads, hd)), (1, 0, 2))
        att = np.einsum("htd,hsd->hts", q, k) / np.sqrt(hd)
        att = _softmax(att)
        y = np.reshape(np.transpose(np.einsum("hts,hsd->htd", att, v), (1, 0, 2)), (T, D))
        return np.sum(np.tanh(np.dot(y, Wo)))

    def bs_portfolio(S, sigma, strikes, T=1.0, r=0.01):
        sqT = np.sqrt(T)
        d1 = (np.log(S / strikes) + (r + sigma**2 / 2) * T) / (sigma * sqT)
        d2 = d1 - sigma * sqT
        calls = S * norm.cdf(d1) - strikes * np.exp(-r * T) * norm.cdf(d2)
        return np.sum(calls)

    def bs_frozen(S, sigma, K=100.0, T=1.0, r=0.01):
        d1 = (np.log(S / K) + (r + sigma**2 / 2) * T) / (sigma * np.sqrt(T))
        d2 = d1 - sigma * np.sqrt(T)
        return S * norm.cdf(d1) - K * np.exp(-r * T) * norm.cdf(d2)

    def two_link(theta, l1=1.0, l2=0.7):
        t1, t2 = theta[0], theta[1]
        x = l1 * np.cos(t1) + l2 * np.cos(t1 + t2)
        y = l1 * np.sin(t1) + l2 * np.sin(t1 + t2)
        return (x - 0.5) ** 2 + (y - 1.2) ** 2

    def kalman_solve(q, r, F, H, ys):
        n = F.shape[0]
        x = np.zeros(n)
        P = np.eye(n)
        ll = 0.0
        for t in range(len(ys)):
            x = np.dot(F, x)
            P = np.dot(np.dot(F, P), F.T) + q * np.eye(n)
            S = np.dot(np.dot(H, P), H.T) + r * np.eye(len(ys[t]))
            v = ys[t] - np.dot(H, x)
            K = np.linalg.solve(S, np.dot(H, P)).T
            x = x + np.dot(K, v)
            P = P - np.dot(np.dot(K, S), K.T)
            _, logdet = np.linalg.slogdet(S)
            ll = ll - 0.5 * (logdet + np.dot(v, np.linalg.solve(S, v)))
        return -ll

    def pendulum_loss(theta0, damping):
        def f(t, s):
            return np.array([s[1], -9.81 * np.sin(s[0]) - damping * s[1]])

        t, y = 0.0, np.array([theta0, 0.0])
        t_end, dt = 1.0, 0.15
        while t < t_end - 1e-12:
            h = min(dt, t_end - t)
            k1 = f(t, y)
            k2 = f(t + h / 2, y + h / 2 * k1)
            k3 = f(t + h / 2, y + h / 2 * k2)
            k4 = f(t + h, y + h * k3)
            y = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
            t += h
        return y[0] ** 2 + 0.1 * y[1] ** 2

    def poisson_stats(beta, X, k):
        eta = np.dot(X, beta)
        return -np.sum(k * eta - np.exp(eta) - gammaln(k + 1))

    def tv_l1(u, f, lam=0.2):
        return 0.5 * np.sum((u - f) ** 2) + lam * (
            np.sum(np.abs(np.diff(u, axis=0))) + np.sum(np.abs(np.diff(u, axis=1)))
        )

    def layernorm_loss(x, g, b):
        mu = np.mean(x, axis=-1, keepdims=True)
        sd = np.std(x, axis=-1, keepdims=True)
        y = g * (x - mu) / (sd + 1e-5) + b
        return np.sum(y * np.arange(y.shape[-1]))

    def conv_multi(w, x):
        C = w.shape[0]
        out = 0.0
        for c in range(C):
            out = out + convolve(x[c], w[c][::-1], mode="full")[1:-1]
        return np.sum(np.tanh(out) ** 2)

    def mlp_layers(layers, X, y):
        h = X
        for W, b in layers[:-1]:
            h = np.logaddexp(0.0, np.dot(h, W) + b)
        W, b = layers[-1]
        logits = np.dot(h, W) + b
        lp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -np.mean(lp[np.arange(len(y)), y])

    def xent_onehot(W, X, labels, k=3):
        Y = np.eye(k)[labels]
        logits = np.dot(X, W)
        logp = logits - logsumexp(logits, axis=1, keepdims=True)
        return -np.sum(Y * logp) / len(labels)

    def logistic_logaddexp(w, b, X, y01):
        z = np.dot(X, w) + b
        nll = np.sum(np.logaddexp(0, z) - y01 * z)
        p = expit(z)
        return nll + 0.1 * np.sum(p * (1 - p))

    def lstm_seq(params, xs, targets):
        Wx, Wh, b, Wy = params["Wx"], params["Wh"], params["b"], params["Wy"]
        T = xs.shape[0]
        H = Wh.shape[1]
        h, c = np.zeros(H), np.zeros(H)
        hs = []
        for t in range(T):
            z = np.dot(Wx, xs[t]) + np.dot(Wh, h) + b
            i, f, o, g = z[:H], z[H : 2 * H], z[2 * H : 3 * H], z[3 * H :]
            i, f, o = expit(i), expit(f), expit(o)
            c = f * c + i * np.tanh(g)
            h = o * np.tanh(c)
            hs.append(h)
        preds = np.dot(np.stack(hs), Wy)
        return np.mean((preds - targets) ** 2)

    def gp_cdist(log_ell, X, y):
        d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, -1)
        K = np.exp(-0.5 * d2 / np.exp(2 * log_ell)) + 0.1 * np.eye(len(X))
        L = np.linalg.cholesky(K)
        alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
        return 0.5 * np.dot(y, alpha) + np.sum(np.log(np.diag(L)))

    def kmeans_obj(centers, X):
        d2 = np.sum((X[:, None, :] - centers[None]) ** 2, axis=2)
        return np.sum(np.min(d2, axis=1))

    def gmm_mvn(means, weights_logit, X):
        K = means.shape[0]
        w = _softmax(weights_logit)
        lik = 0.0
        for k in range(K):
            lik = lik + w[k] * multivariate_normal.pdf(X, means[k], np.eye(X.shape[1]))
        return -np.sum(np.log(lik))

    def vae_elbo(p, x, eps):
        h = np.maximum(np.dot(x, p["We"]) + p["be"], 0.0)
        mu, logvar = np.dot(h, p["Wmu"]), np.dot(h, p["Wlv"])
        z = mu + np.exp(0.5 * logvar) * eps
        xhat = expit(np.dot(z, p["Wd"]) + p["bd"])
        xhat = np.clip(xhat, 1e-7, 1 - 1e-7)
        rec = -np.sum(x * np.log(xhat) + (1 - x) * np.log(1 - xhat), axis=1)
        kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
        return np.mean(rec + kl)

    def kepler_loss(e, M):
        E = M
        for _ in range(100):
            dE = (E - e * np.sin(E) - M) / (1 - e * np.cos(E))
            E = E - dE
            if np.all(np.abs(dE) < 1e-14):
                break
        nu = 2 * np.arctan2(np.sqrt(1 + e) * np.sin(E / 2), np.sqrt(1 - e) * np.cos(E / 2))
        return np.sum(np.cos(nu))

    def robust_regression(w, X, y, delta=1.0):
        r = np.dot(X, w) - y
        a = np.abs(r)
        h = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))
        return np.sum(h) / len(y)

    def asian_mc(S0, sigma, Z, K=100.0, r=0.01, T=1.0):
        n_steps = Z.shape[1]
        dt = T / n_steps
        inc = (r - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * Z
        S = S0 * np.exp(np.cumsum(inc, axis=1))
        payoff = np.maximum(np.mean(S, axis=1) - K, 0.0)
        return np.exp(-r * T) * np.mean(payoff)

    def sir_nll(beta, gamma, cases, N=1000.0, dt=0.5):
        S, I, R = N - 1.0, 1.0, 0.0
        incid = []
        for _day in range(len(cases)):
            new = 0.0
            for _ in range(int(1 / dt)):
                inf = beta * S * I / N * dt
                rec = gamma * I * dt
                S, I, R = S - inf, I + inf - rec, R + rec
                new = new + inf
            incid.append(new)
        lam = np.array(incid)
        return -np.sum(poisson.logpmf(cases, lam))

    def rosenbrock(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)

    def student_t_reg(w, log_scale, df, X, y):
        resid = y - np.dot(X, w)
        return -np.sum(t_dist.logpdf(resid, df, 0.0, np.exp(log_scale)))

    def gru_loss(Wz, Wr, Wh, xs):
        H = Wz.shape[0]
        h = np.zeros(H)
        for x in xs:
            xh = np.concatenate([x, h])
            z = 1 / (1 + np.exp(-np.dot(Wz, xh)))
            r = 1 / (1 + np.exp(-np.dot(Wr, xh)))
            hc = np.tanh(np.dot(Wh, np.concatenate([x, r * h])))
            h = (1 - z) * h + z * hc
        return np.sum(h**2)

    def pk_one_compartment(log_ka, log_ke, log_V, t, conc, dose=100.0):
        ka, ke, V = np.exp(log_ka), np.exp(log_ke), np.exp(log_V)
        pred = dose * ka / (V * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))
        return np.sum((np.log(pred) - np.log(conc)) ** 2)

    return dict(locals())


ORACLES = _autograd_oracles()


# ---------------------------------------------------------------------------
# Arguments: small, seeded, away from kinks and singularities
# ---------------------------------------------------------------------------


def _args():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=6)
    H = 3
    counts = rng.poisson(2.0, size=8).astype(float)
    grid = np.array([[0.0, 0.0], [1.1, 0.1], [0.2, 1.2], [1.3, 1.05], [2.2, 0.3]])
    grid = grid + 0.01 * rng.normal(size=(5, 2))
    A = rng.normal(size=(4, 4))
    A = A @ A.T + np.diag([4.0, 1.0, 0.5, 0.1])
    F = np.array([[1.0, 0.1], [0.0, 0.95]])
    Hm = np.array([[1.0, 0.0]])
    ys = rng.normal(size=(6, 1))
    mlp = {
        "W1": rng.normal(size=(3, 5)),
        "b1": 0.1 * rng.normal(size=5),
        "W2": rng.normal(size=(5, 4)),
        "b2": 0.1 * rng.normal(size=4),
        "W3": rng.normal(size=(4, 1)),
        "b3": 0.1 * rng.normal(size=1),
    }
    lstm = {
        "Wx": 0.5 * rng.normal(size=(4 * H, 2)),
        "Wh": 0.5 * rng.normal(size=(4 * H, H)),
        "b": 0.1 * rng.normal(size=4 * H),
        "Wy": rng.normal(size=H),
    }
    vae = {
        "We": 0.5 * rng.normal(size=(6, 5)),
        "be": np.zeros(5) + 0.1,
        "Wmu": 0.5 * rng.normal(size=(5, 2)),
        "Wlv": 0.3 * rng.normal(size=(5, 2)),
        "Wd": rng.normal(size=(2, 6)),
        "bd": 0.1 * rng.normal(size=6),
    }
    normal = rng.normal
    # name: (program, oracle name, arguments, argnums)
    return {
        "gp_nll_cho_solve": (gp_nll, "gp_nll", (0.8, 0.3, X, y), (0, 1)),
        "gp_nll_solve_triangular": (
            gp_nll_tri,
            "gp_nll_tri",
            (np.array([-0.2, 0.1, -1.5]), X, y),
            0,
        ),
        "gp_nll_cdist": (gp_cdist, "gp_cdist", (0.1, X, y), 0),
        "attention": (
            attention_loss,
            "attention_loss",
            tuple(normal(size=(4, 3)) for _ in range(4)),
            (0, 1, 2),
        ),
        "causal_attention_einsum": (
            causal_attention,
            "causal_attention",
            tuple(normal(size=(2, 4, 3)) for _ in range(3)),
            (0, 1, 2),
        ),
        "multi_head_attention": (
            mha,
            "mha",
            (normal(size=(5, 4)),) + tuple(0.5 * normal(size=(4, 4)) for _ in range(4)),
            (0, 1, 2, 3, 4),
        ),
        "lstm_loop": (
            lstm_loss,
            "lstm_loss",
            (
                0.5 * normal(size=(4 * H, 2)),
                0.5 * normal(size=(4 * H, H)),
                0.1 * normal(size=4 * H),
                normal(size=(5, 2)),
                normal(size=H),
            ),
            (0, 1, 2),
        ),
        "lstm_sequence_dict": (
            lstm_seq,
            "lstm_seq",
            (lstm, normal(size=(5, 2)), normal(size=5)),
            0,
        ),
        "gru": (
            gru_loss,
            "gru_loss",
            tuple(0.5 * normal(size=(3, 5)) for _ in range(3)) + (normal(size=(4, 2)),),
            (0, 1, 2),
        ),
        "black_scholes_greeks": (bs_call, "bs_call", (100.0, 0.2, 95.0, 0.5, 0.03), (0, 1)),
        "black_scholes_portfolio": (
            bs_portfolio,
            "bs_portfolio",
            (100.0, 0.25, np.array([90.0, 100.0, 110.0])),
            (0, 1),
        ),
        "asian_option_monte_carlo": (
            asian_mc,
            "asian_mc",
            (100.0, 0.3, normal(size=(200, 12))),
            (0, 1),
        ),
        "robot_3link_cumsum": (
            reach_loss,
            "reach_loss",
            (np.array([0.3, 0.5, -0.2]), np.array([1.0, 0.8, 0.5]), np.array([1.2, 1.0])),
            (0, 1),
        ),
        "robot_2link": (two_link, "two_link", (np.array([0.4, 0.9]),), 0),
        "lennard_jones_mask": (lj_energy, "lj_energy", (grid,), 0),
        "lennard_jones_triu": (lj_triu, "lj_pair_energy", (grid,), 0),
        "lennard_jones_loops": (lj_loops, "lj_pair_energy", (grid,), 0),
        "lotka_volterra_rk4": (
            lv_loss,
            "lv_loss",
            (np.array([1.1, 0.4, 0.4, 0.1]), np.array([10.0, 5.0]), np.array([8.0, 6.0])),
            (0, 1),
        ),
        "oscillator_rk4": (oscillator_energy, "oscillator_energy", (np.array([1.0, 0.0]),), 0),
        "pendulum_rk4_while": (pendulum_loss, "pendulum_loss", (0.5, 0.3), (0, 1)),
        "poisson_regression_gammaln": (
            poisson_nll,
            "poisson_nll",
            (0.3 * normal(size=3), normal(size=(8, 3)), counts),
            0,
        ),
        "poisson_regression_stats": (
            poisson_stats,
            "poisson_stats",
            (0.3 * normal(size=3), normal(size=(8, 3)), counts),
            0,
        ),
        "negative_binomial": (
            neg_binomial_nll,
            "neg_binomial_nll",
            (0.5, np.exp(normal(size=8)), counts),
            (0, 1),
        ),
        "student_t_regression": (
            student_t_reg,
            "student_t_reg",
            (normal(size=2), 0.1, 4.0, normal(size=(8, 2)), normal(size=8)),
            (0, 1, 2),
        ),
        "total_variation_smooth": (
            tv_objective,
            "tv_objective",
            (normal(size=(5, 6)), normal(size=(5, 6))),
            0,
        ),
        "total_variation_l1": (tv_l1, "tv_l1", (normal(size=(4, 5)), normal(size=(4, 5))), 0),
        "batchnorm": (
            batchnorm_loss,
            "batchnorm_loss",
            (normal(size=(6, 3)), normal(size=3), normal(size=3)),
            (0, 1, 2),
        ),
        "layernorm_std": (
            layernorm_loss,
            "layernorm_loss",
            (normal(size=(3, 5)), normal(size=5), normal(size=5)),
            (0, 1, 2),
        ),
        "conv1d_convolve": (
            conv1d_loss,
            "conv1d_loss",
            (normal(size=3), normal(size=12), normal(size=10)),
            (0, 1),
        ),
        "conv_multichannel_correlate": (
            conv_multi,
            "conv_multi",
            (normal(size=(2, 3)), normal(size=(2, 9))),
            (0, 1),
        ),
        "gmm_logsumexp": (
            gmm_nll,
            "gmm_nll",
            (normal(size=3), 0.3 * normal(size=3), normal(size=3), normal(size=9)),
            (0, 1, 2),
        ),
        "gmm_multivariate_normal": (
            gmm_mvn,
            "gmm_mvn",
            (normal(size=(3, 2)), normal(size=3), normal(size=(8, 2))),
            (0, 1),
        ),
        "kmeans_objective": (
            kmeans_obj,
            "kmeans_obj",
            (normal(size=(3, 2)), normal(size=(10, 2))),
            0,
        ),
        "mlp_dict_params": (
            mlp_loss_loopreg,
            "mlp_loss",
            (mlp, normal(size=(6, 3)), normal(size=6)),
            0,
        ),
        "vae_elbo_helpers": (
            vae_elbo,
            "vae_elbo",
            (vae, (rng.random((4, 6)) > 0.5).astype(float), normal(size=(4, 2))),
            0,
        ),
        "kalman_inv": (kalman_loglik, "kalman_loglik", (0.1, 0.5, F, Hm, ys), (0, 1)),
        "kalman_solve_inplace": (kalman_solve, "kalman_solve", (0.1, 0.5, F, Hm, ys), (0, 1)),
        "softmax_xent_mixed_dots": (
            softmax_xent,
            "softmax_xent",
            (normal(size=(4, 3)), normal(size=3), normal(size=(7, 4)), rng.integers(0, 3, size=7)),
            (0, 1),
        ),
        "softmax_xent_onehot": (
            xent_onehot,
            "xent_onehot",
            (normal(size=(4, 3)), normal(size=(7, 4)), rng.integers(0, 3, size=7)),
            0,
        ),
        "logistic_log1p_exp": (
            logistic_loss,
            "logistic_loss",
            (normal(size=3), normal(size=(10, 3)), np.sign(normal(size=10))),
            0,
        ),
        "logistic_logaddexp_expit": (
            logistic_logaddexp,
            "logistic_logaddexp",
            (normal(size=3), 0.2, normal(size=(9, 3)), (rng.random(9) > 0.5).astype(float)),
            (0, 1),
        ),
        "huber_regression_branches": (
            robust_regression,
            "robust_regression",
            (normal(size=3), normal(size=(8, 3)), 2 * normal(size=8)),
            0,
        ),
        "newton_sqrt_break": (
            newton_sqrt_loss,
            "newton_sqrt_loss",
            (np.array([2.0, 3.0, 0.5]),),
            0,
        ),
        "kepler_newton_break": (
            kepler_loss,
            "kepler_loss",
            (0.3, np.array([0.5, 1.5, 2.5])),
            (0, 1),
        ),
        "power_iteration_while_return": (spectral_radius, "spectral_radius", (A,), 0),
        "sir_epidemic_poisson": (
            sir_nll,
            "sir_nll",
            (0.6, 0.2, np.array([1, 1, 2, 3, 5, 6])),
            (0, 1),
        ),
        "rosenbrock": (rosenbrock, "rosenbrock", (normal(size=5),), 0),
        "pharmacokinetics": (
            pk_one_compartment,
            "pk_one_compartment",
            (
                0.2,
                -1.5,
                2.0,
                np.array([0.5, 1.0, 2.0, 4.0, 8.0]),
                np.array([2.0, 3.0, 3.5, 2.5, 1.0]),
            ),
            (0, 1, 2),
        ),
    }


CASES = _args()

HESSIANS = [
    "gp_nll_cho_solve",
    "gp_nll_solve_triangular",
    "black_scholes_greeks",
    "robot_3link_cumsum",
    "lennard_jones_mask",
    "oscillator_rk4",
    "lotka_volterra_rk4",
    "pendulum_rk4_while",
    "kalman_solve_inplace",
    "logistic_log1p_exp",
    "causal_attention_einsum",
    "newton_sqrt_break",
]


def _assert_same(ours, theirs, what):
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), what
        for key in ours:
            _assert_same(ours[key], theirs[key], f"{what}[{key!r}]")
    elif isinstance(ours, (tuple, list)):
        assert len(ours) == len(theirs), what
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{what}[{i}]")
    else:
        assert np.shape(ours) == np.shape(theirs), what
        np.testing.assert_allclose(
            np.asarray(ours, dtype=float),
            np.asarray(theirs, dtype=float),
            rtol=1e-7,
            atol=1e-9,
            err_msg=what,
        )


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_autograd(name):
    f, oracle, args, argnums = CASES[name]
    ours = chainrule.grad(f, argnums=argnums)(*args)
    theirs = autograd.grad(ORACLES[oracle], argnums)(*args)
    _assert_same(ours, theirs, name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, _, args, argnums = CASES[name]
    if isinstance(args[0], (dict, list, tuple)):
        chainrule.check_grad(f, *args, argnums=argnums)
    else:
        nums = argnums if isinstance(argnums, tuple) else (argnums,)
        check_grads(f, args, argnums=nums)


@pytest.mark.parametrize("name", HESSIANS)
def test_hessian_matches_autograd(name):
    f, oracle, args, _ = CASES[name]
    ours = chainrule.hessian(f, argnums=0)(*args)
    theirs = autograd.hessian(ORACLES[oracle], 0)(*args)
    assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-8)


def test_value_and_grad_value_is_the_programs_value():
    for name, (f, _, args, argnums) in CASES.items():
        value, _ = chainrule.value_and_grad(f, argnums=argnums)(*args)
        np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12, err_msg=name)
