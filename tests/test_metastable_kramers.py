"""Kramers–Langer fits recover a known prefactor exponent and barrier from synthetic censored
escape times; the fixed-barrier test rejects a wrong barrier; the learning-rate model comparison."""
import math

import numpy as np
import pytest

from grokrepro.metastable.fitting import rate_mle
from grokrepro.metastable.kramers import (arrhenius_fit, kramers_fit, lr_model_comparison, wls,
                                          zero_mode_exponent)

K, DELTA_E, A = 8.0, 0.0285, 62.0  # tau = exp(A) T^K exp(dE/T): the scale of the real sweeps


def synthetic(seed=0, temps=None, n=400, budget_factor=3.0):
    temps = np.geomspace(0.0012, 0.004, 7) if temps is None else temps
    rng = np.random.default_rng(seed)
    ln_tau, events = [], []
    for t in temps:
        tau = math.exp(A + K * math.log(t) + DELTA_E / t)
        times = rng.exponential(tau, n)
        budget = budget_factor * tau
        fit = rate_mle(np.minimum(times, budget), times > budget, budget)
        ln_tau.append(math.log(fit.tau))
        events.append(fit.events)
    return temps, np.array(ln_tau), np.array(events)


def test_free_fit_recovers_k_and_barrier_within_their_intervals():
    temps, ln_tau, events = synthetic()
    fit = kramers_fit(temps, ln_tau, events)
    lo, hi = fit.ci("k", level=0.99)  # one draw: 99 % so that the test fails 1 time in 100 by chance
    assert lo <= K <= hi and hi - lo < 8
    lo, hi = fit.ci("delta_e", level=0.99)
    assert lo <= DELTA_E <= hi
    assert fit.p_value > 0.01


def test_fixed_barrier_accepts_the_true_one_and_rejects_a_wrong_one():
    temps, ln_tau, events = synthetic(seed=1)
    good = kramers_fit(temps, ln_tau, events, delta_e=DELTA_E)
    assert good.p_value > 0.01 and abs(good.value("k") - K) < 1.0
    bad = kramers_fit(temps, ln_tau, events, delta_e=2 * DELTA_E)
    assert bad.p_value < 1e-6


def test_intervals_cover_at_the_nominal_rate():
    hits = 0
    for seed in range(40):
        temps, ln_tau, events = synthetic(seed=100 + seed, n=200)
        lo, hi = kramers_fit(temps, ln_tau, events).ci("k")
        hits += lo <= K <= hi
    assert 32 <= hits <= 40  # 95 % nominal: 38 expected, binomial spread


def test_apparent_arrhenius_barrier_is_below_the_true_one_by_k_times_mean_t():
    temps, ln_tau, events = synthetic(seed=2)
    fit = arrhenius_fit(temps, ln_tau, events)
    # d ln tau / d(1/T) = dE - K*T: over the window the apparent barrier is dE - K*T_mean
    expected = DELTA_E - K * 1 / np.mean(1 / temps)
    assert fit.value("delta_e") == pytest.approx(expected, abs=0.003)
    assert fit.value("delta_e") < DELTA_E


def test_wls_is_exact_on_a_noiseless_line():
    x = np.array([1.0, 2, 3, 4])
    fit = wls({"a": np.ones(4), "b": x}, 2 + 3 * x, np.ones(4))
    assert fit.value("a") == pytest.approx(2) and fit.value("b") == pytest.approx(3)
    assert fit.chi2 == pytest.approx(0, abs=1e-20) and fit.r2 == pytest.approx(1)


def test_zero_mode_exponent():
    assert zero_mode_exponent(18, 34) == 8.0


def test_a_pure_power_law_looks_linear_in_the_papers_arrhenius_axes():
    paper_lrs = [5e-4, 1e-3, 2e-3, 3e-3, 5e-3]
    cmp = lr_model_comparison(paper_lrs)
    assert cmp["r2_power_law"] == pytest.approx(1.0)
    assert 0.85 < cmp["r2_arrhenius"] < 0.99  # high, though the model is wrong
    arr = lr_model_comparison(paper_lrs, ln_tau=1.0 + 0.002 / np.asarray(paper_lrs))
    assert arr["r2_arrhenius"] == pytest.approx(1.0) and arr["r2_power_law"] < 0.99
