"""Four loop workloads, each with the backward pass an expert would write by hand.

Each workload is a loss written the way one writes it in plain NumPy, with
Python loops and (for the convolution) assignments into a local array:

    rnn_loss            h = tanh(Wh @ h + Wx @ xs[t] + b) for t in range(T)
    oscillator_loss     a damped spring integrated with explicit Euler
    residual_loss       h = h + tanh(Ws[l] @ h) for l in range(L)
    conv_pool_loss      3x3 valid convolution, then 2x2 max-pooling

and some variants that isolate one piece (`conv_loss`, `maxpool_loss`,
`avgpool_loss`, `conv_avgpool_loss`).  Next to each loss is `<name>_hand_grad`:
a forward pass that keeps what the backward pass needs, then a reversed loop,
returning the gradients with respect to the arguments listed in
`WORKLOADS[name].argnums`, in that order.  `make_<name>_data(rng)` builds inputs
of the sizes the benchmarks use.

The tests (tests/test_workloads_loops.py), the benchmark
(benchmarks/bench_loops.py) and the examples import these definitions, so
there is one copy of each.  Run this file to check every hand-written
gradient against central finite differences:

    python examples/loop_workloads.py
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------
# 1. A vanilla recurrent network: T steps of tanh(Wh h + Wx x_t + b), loss on the
#    final hidden state.


def rnn_loss(Wh, Wx, b, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t] + b)
    return np.sum(h**2)


def rnn_hand_grad(Wh, Wx, b, h0, xs):
    """d/dWh, d/dWx, d/db, d/dh0: keep every hidden state, then walk back in time."""
    T = xs.shape[0]
    hs = np.empty((T + 1, h0.shape[0]))
    hs[0] = h0
    for t in range(T):
        hs[t + 1] = np.tanh(Wh @ hs[t] + Wx @ xs[t] + b)
    dWh = np.zeros_like(Wh)
    dWx = np.zeros_like(Wx)
    db = np.zeros_like(b)
    dh = 2 * hs[T]
    for t in reversed(range(T)):
        da = dh * (1 - hs[t + 1] ** 2)  # through tanh
        dWh += np.outer(da, hs[t])
        dWx += np.outer(da, xs[t])
        db += da
        dh = Wh.T @ da
    return dWh, dWx, db, dh


def make_rnn_data(rng, T=50, hidden=32, inputs=16):
    Wh = rng.normal(size=(hidden, hidden)) * (0.9 / np.sqrt(hidden))
    Wx = rng.normal(size=(hidden, inputs)) * (1 / np.sqrt(inputs))
    b = rng.normal(size=hidden) * 0.1
    h0 = rng.normal(size=hidden) * 0.5
    xs = rng.normal(size=(T, inputs))
    return Wh, Wx, b, h0, xs


# ---------------------------------------------------------------------------
# 2. A damped oscillator x'' = -k x - c x', explicit Euler with step dt; the loss
#    compares every step's position with an observed trajectory.  The gradient with
#    respect to stiffness k and damping c is the discrete adjoint method.


def oscillator_loss(k, c, x0, v0, x_obs, dt):
    x = x0
    v = v0
    loss = 0.0
    for i in range(x_obs.shape[0]):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        loss = loss + (x - x_obs[i]) ** 2
    return loss


def oscillator_hand_grad(k, c, x0, v0, x_obs, dt):
    """d/dk, d/dc: store the trajectory, then run the adjoint recursion backwards."""
    n = x_obs.shape[0]
    xs = [x0] * (n + 1)
    vs = [v0] * (n + 1)
    x, v = x0, v0
    for i in range(n):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        xs[i + 1] = x
        vs[i + 1] = v
    dk = dc = 0.0
    dx = dv = 0.0  # adjoints of x and v after step i
    for i in reversed(range(n)):
        dx += 2 * (xs[i + 1] - x_obs[i])
        da = dt * dv
        dk -= da * xs[i]
        dc -= da * vs[i]
        dx, dv = dx - k * da, dv + dt * dx - c * da
    return dk, dc


def simulate_oscillator(k, c, x0, v0, dt, n):
    """Positions after each of n Euler steps (the loss's own integrator)."""
    x, v = x0, v0
    out = np.empty(n)
    for i in range(n):
        x, v = x + dt * v, v + dt * (-k * x - c * v)
        out[i] = x
    return out


def make_oscillator_data(rng, n=1000, dt=0.01, k_true=4.0, c_true=0.3):
    """Observations of a spring with k_true, c_true plus noise; a start guess nearby."""
    x0, v0 = 1.0, 0.0
    x_obs = simulate_oscillator(k_true, c_true, x0, v0, dt, n)
    x_obs = x_obs + 0.01 * rng.normal(size=n)
    return 3.5, 0.5, x0, v0, x_obs, dt


# ---------------------------------------------------------------------------
# 3. A deep residual stack: h = h + tanh(Ws[l] @ h), with Ws of shape (L, n, n).


def residual_loss(Ws, h0):
    h = h0
    for l in range(Ws.shape[0]):
        h = h + np.tanh(Ws[l] @ h)
    return h @ h / 2


def residual_hand_grad(Ws, h0):
    """d/dWs, d/dh0: keep each layer's input and tanh output, then go back down."""
    L = Ws.shape[0]
    hs = np.empty((L + 1, h0.shape[0]))
    ts = np.empty((L, h0.shape[0]))
    hs[0] = h0
    for l in range(L):
        ts[l] = np.tanh(Ws[l] @ hs[l])
        hs[l + 1] = hs[l] + ts[l]
    dWs = np.empty_like(Ws)
    dh = hs[L].copy()
    for l in reversed(range(L)):
        dz = dh * (1 - ts[l] ** 2)
        dWs[l] = np.outer(dz, hs[l])
        dh += Ws[l].T @ dz  # the skip connection passes dh through unchanged
    return dWs, dh


def make_residual_data(rng, L=50, width=64):
    Ws = rng.normal(size=(L, width, width)) * (0.5 / np.sqrt(width))
    h0 = rng.normal(size=width)
    return Ws, h0


# ---------------------------------------------------------------------------
# 4. A 3x3 valid convolution (cross-correlation, as in deep learning) followed by
#    2x2 max-pooling, written with loops and assignments into local arrays; the
#    loss is a weighted sum of the pooled map.


def conv_pool_loss(K, img, W):
    out = np.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + 3, j : j + 3] * K)
    pooled = np.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.max(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.sum(pooled * W)


def conv_avgpool_loss(K, img, W):
    out = np.zeros((img.shape[0] - 2, img.shape[1] - 2))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + 3, j : j + 3] * K)
    pooled = np.zeros((out.shape[0] // 2, out.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.mean(out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.sum(pooled * W)


def conv_loss(K, img, G):
    """The convolution alone: sum(conv(img, K) * G), so G is the output gradient."""
    out = np.zeros((img.shape[0] - K.shape[0] + 1, img.shape[1] - K.shape[1] + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + K.shape[0], j : j + K.shape[1]] * K)
    return np.sum(out * G)


def maxpool_loss(x, W):
    """2x2 max-pooling alone: sum(maxpool(x) * W), so W is the pooled map's gradient."""
    pooled = np.zeros((x.shape[0] // 2, x.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.max(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.sum(pooled * W)


def avgpool_loss(x, W):
    """2x2 average-pooling alone: sum(avgpool(x) * W)."""
    pooled = np.zeros((x.shape[0] // 2, x.shape[1] // 2))
    for i in range(pooled.shape[0]):
        for j in range(pooled.shape[1]):
            pooled[i, j] = np.mean(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2])
    return np.sum(pooled * W)


def conv_forward(K, img):
    """The valid cross-correlation the losses compute, for the hand-written passes."""
    kh, kw = K.shape
    out = np.empty((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(img[i : i + kh, j : j + kw] * K)
    return out


def conv_backward(K, img, dout):
    """Gradients of the convolution: the window that produced out[i, j] gets dout[i, j] * K."""
    kh, kw = K.shape
    dK = np.zeros_like(K)
    dimg = np.zeros_like(img)
    for i in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            dK += dout[i, j] * img[i : i + kh, j : j + kw]
            dimg[i : i + kh, j : j + kw] += dout[i, j] * K
    return dK, dimg


def maxpool_backward(x, dpooled):
    """Each window's gradient goes, whole, to the position of its maximum."""
    dx = np.zeros_like(x)
    for i in range(dpooled.shape[0]):
        for j in range(dpooled.shape[1]):
            window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            dx[2 * i + a, 2 * j + b] = dpooled[i, j]
    return dx


def avgpool_backward(x, dpooled):
    """Each window's gradient is spread evenly over its four positions."""
    dx = np.zeros_like(x)
    for i in range(dpooled.shape[0]):
        for j in range(dpooled.shape[1]):
            dx[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = dpooled[i, j] / 4
    return dx


def conv_pool_hand_grad(K, img, W):
    """d/dK, d/dimg: forward keeping the conv output, then pool and conv backward."""
    out = conv_forward(K, img)
    dout = maxpool_backward(out, W)
    return conv_backward(K, img, dout)


def conv_avgpool_hand_grad(K, img, W):
    out = conv_forward(K, img)
    dout = avgpool_backward(out, W)
    return conv_backward(K, img, dout)


def conv_hand_grad(K, img, G):
    return conv_backward(K, img, G)


def maxpool_hand_grad(x, W):
    return (maxpool_backward(x, W),)


def avgpool_hand_grad(x, W):
    return (avgpool_backward(x, W),)


def make_conv_pool_data(rng, size=10):
    K = rng.normal(size=(3, 3))
    img = rng.normal(size=(size, size))
    W = rng.normal(size=((size - 2) // 2, (size - 2) // 2))
    return K, img, W


def make_conv_data(rng, size=10, k=3):
    K = rng.normal(size=(k, k))
    img = rng.normal(size=(size, size))
    G = rng.normal(size=(size - k + 1, size - k + 1))
    return K, img, G


def make_pool_data(rng, size=8):
    return rng.normal(size=(size, size)), rng.normal(size=(size // 2, size // 2))


# ---------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    description: str
    fn: Callable
    argnums: tuple[int, ...]
    make_data: Callable[[np.random.Generator], tuple]
    hand_grad: Callable


WORKLOADS = {
    w.name: w
    for w in [
        Workload(
            "rnn",
            "tanh RNN, T=50, hidden 32, input 16, loss sum(h_T**2); d/dWh,Wx,b,h0",
            rnn_loss,
            (0, 1, 2, 3),
            make_rnn_data,
            rnn_hand_grad,
        ),
        Workload(
            "oscillator",
            "damped spring, explicit Euler, 1000 steps, squared error; d/dk,c",
            oscillator_loss,
            (0, 1),
            make_oscillator_data,
            oscillator_hand_grad,
        ),
        Workload(
            "residual",
            "50-layer residual stack h + tanh(Ws[l] @ h), width 64; d/dWs,h0",
            residual_loss,
            (0, 1),
            make_residual_data,
            residual_hand_grad,
        ),
        Workload(
            "conv_pool",
            "3x3 valid conv + 2x2 max-pool, loops and subscript writes, 10x10; d/dK,img",
            conv_pool_loss,
            (0, 1),
            make_conv_pool_data,
            conv_pool_hand_grad,
        ),
        Workload(
            "conv_avgpool",
            "the same with 2x2 average-pooling; d/dK,img",
            conv_avgpool_loss,
            (0, 1),
            make_conv_pool_data,
            conv_avgpool_hand_grad,
        ),
        Workload(
            "conv",
            "the 3x3 valid convolution alone, sum(out * G); d/dK,img",
            conv_loss,
            (0, 1),
            make_conv_data,
            conv_hand_grad,
        ),
        Workload(
            "maxpool",
            "2x2 max-pooling alone on 8x8, sum(pooled * W); d/dx",
            maxpool_loss,
            (0,),
            make_pool_data,
            maxpool_hand_grad,
        ),
        Workload(
            "avgpool",
            "2x2 average-pooling alone on 8x8, sum(pooled * W); d/dx",
            avgpool_loss,
            (0,),
            make_pool_data,
            avgpool_hand_grad,
        ),
    ]
}

SEED_WORKLOADS = ("rnn", "oscillator", "residual", "conv_pool")


def directional_fd(f, args, argnums, rng, eps=1e-6):
    """Central difference of f along a random direction v, and the v it used."""
    vs = {i: rng.normal(size=np.shape(args[i])) for i in argnums}

    def at(sign):
        moved = list(args)
        for i in argnums:
            moved[i] = args[i] + sign * eps * vs[i]
        return float(f(*moved))

    return (at(1) - at(-1)) / (2 * eps), vs


def main():
    rng = np.random.default_rng(0)
    print("Hand-written backward passes against central finite differences")
    print("(along a random direction v: sum(grad * v) vs (f(x + e v) - f(x - e v)) / 2e)\n")
    print(f"{'workload':<14}{'loss':>14}{'grad . v':>16}{'finite diff.':>16}{'rel. err':>11}")
    for w in WORKLOADS.values():
        args = w.make_data(rng)
        grads = w.hand_grad(*args)
        fd, vs = directional_fd(w.fn, args, w.argnums, rng)
        exact = sum(float(np.sum(g * vs[i])) for g, i in zip(grads, w.argnums))
        rel = abs(exact - fd) / max(abs(fd), 1e-12)
        print(f"{w.name:<14}{float(w.fn(*args)):>14.6g}{exact:>16.8g}{fd:>16.8g}{rel:>11.1e}")
        assert rel < 1e-5, w.name


if __name__ == "__main__":
    main()
