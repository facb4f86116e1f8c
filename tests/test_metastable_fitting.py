"""Escape-time fitting checked on synthetic data with known answers."""
import math

import numpy as np
import pytest

from grokrepro.metastable.fitting import exp_gof, fit_arrhenius, km_curve, noise_trace, rate_mle


def censored_sample(rng, rate, n, budget):
    t = rng.exponential(1 / rate, n)
    c = t > budget
    return np.where(c, np.nan, t), c


def test_rate_mle_by_hand():
    fit = rate_mle([1.0, 3.0, np.nan], [False, False, True], budget=10.0)
    assert fit.events == 2 and fit.exposure == 14.0 and fit.rate == pytest.approx(2 / 14)
    assert fit.rate_low < fit.rate < fit.rate_high
    none = rate_mle([np.nan, np.nan], [True, True], budget=100.0)
    assert none.rate == 0 and none.rate_low == 0 and none.tau == math.inf
    assert none.rate_high == pytest.approx(-math.log(0.025) / 200, rel=1e-6)  # chi2(2) quantile / 2E


@pytest.mark.parametrize("rate,budget", [(0.01, 300.0), (0.002, 300.0)])
def test_rate_ci_coverage(rate, budget):
    """The 95% interval covers the true rate in about 95% of repeated experiments (heavy censoring too)."""
    rng = np.random.default_rng(1)
    hits = 0
    reps = 600
    for _ in range(reps):
        t, c = censored_sample(rng, rate, 50, budget)
        f = rate_mle(t, c, budget)
        hits += f.rate_low <= rate <= f.rate_high
    assert 0.92 <= hits / reps <= 0.99


def test_km_curve_without_censoring_is_the_empirical_survival():
    t = np.array([1.0, 2.0, 2.0, 5.0])
    te, s = km_curve(t, np.zeros(4, bool))
    np.testing.assert_allclose(te, [1, 2, 5])
    np.testing.assert_allclose(s, [0.75, 0.25, 0.0])


def test_gof_accepts_exponential_and_rejects_a_point_mass():
    rng = np.random.default_rng(2)
    t, c = censored_sample(rng, 0.01, 60, 400.0)
    _, p_exp = exp_gof(t, c, 400.0, n_boot=300)
    assert p_exp > 0.05
    t_det = np.full(60, 50.0) + rng.normal(0, 0.5, 60)  # everybody escapes at ~50: not memoryless
    _, p_det = exp_gof(t_det, np.zeros(60, bool), 400.0, n_boot=300)
    assert p_det < 0.01


def test_fit_arrhenius_recovers_the_slope():
    rng = np.random.default_rng(3)
    delta_e, tau0 = 0.05, 2.0
    inv_t = np.linspace(60, 120, 5)
    budget = 2e5
    runs = [censored_sample(rng, 1 / (tau0 * math.exp(delta_e * x)), 50, budget) for x in inv_t]
    fit = fit_arrhenius(inv_t, runs, budget, n_boot=300)
    assert fit.n_points == 5
    assert fit.delta_e_low <= delta_e <= fit.delta_e_high
    assert fit.delta_e == pytest.approx(delta_e, rel=0.15)
    assert fit.r2 > 0.95
    assert fit.ln_tau0 == pytest.approx(math.log(tau0), abs=1.0)


def test_fit_arrhenius_needs_two_temperatures_with_escapes():
    runs = [(np.array([np.nan] * 3), np.ones(3, bool)), (np.array([5.0, 7.0, np.nan]), np.array([False, False, True]))]
    fit = fit_arrhenius([10.0, 20.0], runs, 100.0, n_boot=10)
    assert fit.n_points == 1 and math.isnan(fit.delta_e)


def test_noise_trace():
    g = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    assert noise_trace(g) == pytest.approx((1 + 1 + 4 + 4) / 4)
    assert noise_trace(np.ones((5, 3))) == 0.0
