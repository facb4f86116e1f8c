"""Fits of a Langevin sweep: synthetic exponential escape times with a known Kramers–Langer law."""
import math

import numpy as np

from grokrepro.metastable.figures_arrhenius import langevin_and_sgd_rows
from grokrepro.metastable.langevin_fit import fit_rows, fit_sweep
from grokrepro.numbers import Row


def synthetic(barrier_theory, true_barrier=0.03, k=8.0, seeds=400, budget=1e6, seed=0):
    rng = np.random.default_rng(seed)
    ratios = np.array([8.0, 11, 14, 17, 20])
    temps = true_barrier / ratios
    tau = 1e3 * (temps / temps[0]) ** k * np.exp(true_barrier / temps - true_barrier / temps[0])
    times = rng.exponential(np.repeat(tau, seeds))
    t_rep = np.repeat(temps, seeds)
    cens = times > budget
    esc = np.where(cens, np.nan, np.ceil(times))
    fine = rng.exponential(tau[2] / 0.5, seeds)  # lr/2: twice the steps, same time
    return {"temps": temps, "T": t_rep, "escape": np.stack([esc, esc * 1.1], 1), "censored": np.stack([cens, cens], 1),
            "budget": np.array(budget), "ratios": ratios, "theory_barrier": np.array(barrier_theory),
            "zero_modes_trap": np.array(18), "zero_modes_saddle": np.array(34), "lr": np.array(0.05),
            "beta": np.array(0.32), "relaxation_steps": np.array(62.5), "fractions": np.array([0.0, 0.5]),
            "disc_lr_factor": np.array(0.5), "disc_fine_escape": np.ceil(fine)[:, None],
            "disc_ref_escape": esc[np.isclose(t_rep, temps[2])][:, None]}


def test_the_true_law_agrees_and_a_wrong_barrier_deviates():
    rows = {r.quantity: r for r in fit_rows("paper", fit_sweep(synthetic(0.03), n_boot=20))}
    assert rows["kramers_free_delta_e[sweep=paper]"].verdict == "agrees"
    assert rows["kramers_fixed_p[sweep=paper]"].verdict == "agrees"
    assert rows["kramers_k_fitted[sweep=paper]"].verdict == "agrees"  # k = 8 = (34 - 18)/2
    assert rows["discretisation_ratio[sweep=paper]"].verdict == "agrees"
    assert rows["tau_span_decades[sweep=paper]"].measured > 1
    # the apparent (plain Arrhenius) barrier is below the true one: T^8 lowers the slope
    assert rows["arrhenius_delta_e[sweep=paper]"].measured < 0.03
    wrong = {r.quantity: r for r in fit_rows("paper", fit_sweep(synthetic(0.06), n_boot=20))}
    assert wrong["kramers_free_delta_e[sweep=paper]"].verdict == "deviates"
    assert "above the 95% CI" in wrong["kramers_free_delta_e[sweep=paper]"].note
    assert wrong["kramers_fixed_p[sweep=paper]"].verdict == "deviates"


def test_langevin_rows_replace_the_sgd_rows_of_the_same_name_and_join_the_paper():
    fit = fit_sweep(synthetic(0.03), n_boot=20)
    sgd = [Row("arrhenius_delta_e[sweep=paper]", math.nan), Row("noise_scale_C[sweep=paper]", 2.0)]
    rows = {r.quantity: r for r in langevin_and_sgd_rows({"paper": fit}, sgd)}
    assert rows["noise_scale_C[sweep=paper]"].measured == 2.0
    a = rows["arrhenius_delta_e[sweep=paper]"]
    assert a.paper == 0.15 and a.verdict == "deviates" and "lower" in a.note  # 0.03-ish vs 0.15 ± 0.05
    assert rows["kramers_free_delta_e[sweep=paper]"].paper == 0.15
    assert rows["arrhenius_r2[sweep=paper]"].paper == 0.991
