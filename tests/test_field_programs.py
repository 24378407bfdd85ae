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
from field_oracles import ORACLES
from field_programs import (
    asian_mc,
    attention_loss,
    batchnorm_loss,
    bs_call,
    bs_portfolio,
    causal_attention,
    conv1d_loss,
    conv_multi,
    gmm_mvn,
    gmm_nll,
    gp_cdist,
    gp_nll,
    gp_nll_tri,
    gru_loss,
    kalman_loglik,
    kalman_solve,
    kepler_loss,
    kmeans_obj,
    layernorm_loss,
    lj_energy,
    lj_loops,
    lj_triu,
    logistic_logaddexp,
    logistic_loss,
    lstm_loss,
    lstm_seq,
    lv_loss,
    mha,
    mlp_loss_loopreg,
    neg_binomial_nll,
    newton_sqrt_loss,
    oscillator_energy,
    pendulum_loss,
    pk_one_compartment,
    poisson_nll,
    poisson_stats,
    reach_loss,
    robust_regression,
    rosenbrock,
    sir_nll,
    softmax_xent,
    spectral_radius,
    student_t_reg,
    tv_l1,
    tv_objective,
    two_link,
    vae_elbo,
    xent_onehot,
)

import chainrule
from chainrule.testing import check_grads

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
