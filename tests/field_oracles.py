"""Independent copies of tests/field_programs.py written with autograd.numpy and
autograd.scipy: the oracle of tests/test_field_programs.py."""

from __future__ import annotations

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
