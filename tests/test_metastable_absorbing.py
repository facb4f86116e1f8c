"""Fig 1a's layers of evidence: trap residuals, escape-direction noise, the separatrix and Langevin
from traps, on synthetic inputs with known answers."""
import math

import numpy as np
import pytest
import torch

from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import trap
from grokrepro.metastable.absorbing import (budget_grid, escape_noise_fraction, layer_residuals,
                                            locate_separatrix, separatrix_run)
from grokrepro.metastable.data import DataSpec, generate
from grokrepro.metastable.figures_trap_evidence import (langevin_rows, separatrix_rows, separatrix_verdict,
                                                        trap_diagnostics, trap_rows)
from grokrepro.metastable.langevin import escape_landscape_of, trap_langevin


def exact_data(n=128, n_test=16):
    return Data.from_numpy(generate(DataSpec((0.9, 0.8), 2, 2, n, n_test, seed=0, exact_moments=True)), "cpu",
                           torch.float64)


def rank1_trap(model, data, beta=0.32, seeds=(0, 1)):
    x, y = data.x_train.numpy(), data.y_train.numpy()
    params, _ = trap.constructed(model, x, y, (True, False), beta, list(seeds))
    return params


def test_locate_separatrix_on_synthetic_outcomes():
    sigma = np.array([1e-6, 1e-3, 0.05, 0.08, 0.12, 0.3, 0.8])
    loc = locate_separatrix(sigma, sigma > 0.1)
    assert loc["sharp"] and loc["low"] == 0.08 and loc["high"] == 0.12
    assert loc["estimate"] == pytest.approx(math.sqrt(0.08 * 0.12))
    assert (loc["n_escaped"], loc["n"]) == (3, 7)
    mixed = locate_separatrix(sigma, np.array([0, 0, 1, 0, 1, 1, 1], bool))  # 0.05 escaped, 0.08 did not
    assert not mixed["sharp"] and math.isnan(mixed["estimate"])
    none = locate_separatrix(sigma, np.zeros(7, bool))
    assert math.isnan(none["high"]) and not none["sharp"]


@pytest.mark.parametrize("saddle,verdict,word", [(0.1, "agrees", "exactly"), (0.05, "deviates", "above"),
                                                 (0.2, "deviates", "below"), (math.nan, "n/a", "no saddle")])
def test_separatrix_verdict_brackets_the_saddle(saddle, verdict, word):
    loc = locate_separatrix([0.01, 0.08, 0.12, 0.5], [False, False, True, True])
    v, note = separatrix_verdict(loc, saddle)
    assert v == verdict and word in note


def test_separatrix_verdict_not_sharp_deviates():
    loc = locate_separatrix([0.01, 0.08, 0.12, 0.5], [False, True, False, True])
    assert separatrix_verdict(loc, 0.1)[0] == "deviates"


def test_budget_grid_is_even_and_starts_at_zero():
    np.testing.assert_array_equal(budget_grid(48, 25), np.arange(0, 49, 2))
    assert budget_grid(3, 10).tolist() == [0, 1, 2, 3]


def test_exact_trap_has_no_residual_and_no_escape_noise_and_it_grows_as_eps_squared():
    data = exact_data()
    model = DeepLinear((2, 6, 6, 2))
    params = rank1_trap(model, data)
    assert np.all(layer_residuals(params, 1) < 1e-12)
    exact = escape_noise_fraction(model, params, data, 1)
    assert np.all(exact["C_total"] > 1e-3) and np.all(exact["fraction"] < 1e-20)
    fracs = []
    for eps in (1e-3, 2e-3):
        moved = trap.perturb(params, eps, [0, 1])
        assert np.all(layer_residuals(moved, 1) > 0.1 * eps)
        fracs.append(escape_noise_fraction(model, moved, data, 1)["fraction"])
    np.testing.assert_allclose(fracs[1] / fracs[0], 4.0, rtol=0.05)  # multiplicative noise ∝ ε²


def test_trap_rows_from_a_checkpoint():
    data = exact_data()
    model = DeepLinear((2, 6, 6, 2))
    params = trap.perturb(rank1_trap(model, data), 1e-4, [0, 1])
    ckpt = {f"W{i}": p.numpy() for i, p in enumerate(params)}
    ckpt["W0"] = np.concatenate([ckpt["W0"], np.full_like(ckpt["W0"][:1], np.nan)])  # a diverged seed is left out
    for key in ("W1", "W2"):
        ckpt[key] = np.concatenate([ckpt[key], ckpt[key][:1]])
    diag = trap_diagnostics(ckpt, {"x": data.x_train.numpy(), "y": data.y_train.numpy()}, "rank1")
    assert diag["residual"].shape == (2, 3)
    rows = {r.quantity: r for r in trap_rows("point=paper,start=rank1", diag)}
    assert set(rows) == {f"residual_unlearned[point=paper,start=rank1,layer={i}]" for i in (1, 2, 3)} | {
        "noise_fraction_weak[point=paper,start=rank1]", "noise_weak[point=paper,start=rank1]"}
    assert 0 < rows["noise_fraction_weak[point=paper,start=rank1]"].measured < 1e-6


def synthetic_separatrix(sigma, escaped, saddle=0.0925):
    sigma = np.asarray(sigma, float)
    escaped = np.asarray(escaped, bool)
    return {"sigma_switch": sigma, "escape": np.where(escaped, 40.0, np.nan), "absorbed": ~escaped,
            "theory_saddle": np.array(saddle), "beta_op": np.array(0.32), "beta_init": np.array(0.361),
            "budgets": np.array([0, 10, 20]), "floor": np.array(1e-6), "max_epochs": np.array(2000)}


def test_separatrix_rows_agree_only_when_the_saddle_separates_the_outcomes():
    rows = {r.quantity: r for r in separatrix_rows("paper", synthetic_separatrix([0.01, 0.08, 0.12, 0.5],
                                                                                  [0, 0, 1, 1]))}
    sep = rows["separatrix_sigma[point=paper]"]
    assert sep.verdict == "agrees" and (sep.ci_low, sep.ci_high) == (0.08, 0.12) and sep.theory == 0.0925
    assert rows["saddle_theory[point=paper]"].theory == 0.0925
    assert rows["separatrix_escape_epochs_max[point=paper]"].measured == 40.0
    off = {r.quantity: r for r in separatrix_rows("paper", synthetic_separatrix([0.01, 0.2, 0.3, 0.5], [0, 0, 1, 1]))}
    assert off["separatrix_sigma[point=paper]"].verdict == "deviates"


def test_separatrix_run_escapes_from_a_short_anneal_and_is_absorbed_after_a_long_one():
    data = exact_data(n=64)
    model = DeepLinear((2, 6, 6, 2))
    anneal = dict(lr=0.08, batch_size=8, min_epochs=20, max_epochs=400, check_every=10, rel_tolerance=1e-3)
    out = separatrix_run(model, data, [42, 43], 1 / math.sqrt(6), anneal, 0.361, 0.2, 0.08, 8, [0, 200], 600, 2,
                         1e-6, progress_every=0)
    assert out["budget"].tolist() == [0, 0, 200, 200]
    saddle = float(out["theory_saddle"])
    assert np.all(out["sigma_switch"][:2] > saddle) and np.all(out["sigma_switch"][2:] < saddle)
    assert np.all(~np.isnan(out["escape"][:2])) and np.all(out["absorbed"][2:])


def test_trap_langevin_uses_each_traps_barrier_and_stops_once_all_escaped():
    data = exact_data()
    model = DeepLinear((2, 6, 6, 2))
    out = trap_langevin(model, data, 0.32, ["rank1", "trivial"], 4.0, range(3), 0.05, 3000, 5, 8, 0.0,
                        progress_every=0)
    for i, learned in enumerate([(True, False), (False, False)]):
        assert out["temps"][i] == pytest.approx(escape_landscape_of(data, 0.32, 3, learned)["barrier"] / 4.0)
    assert out["columns"].tolist() == [1, 0]
    assert not out["censored"].any() and int(out["stop_epoch"].max()) < 3000
    rows = {r.quantity: r for r in langevin_rows("paper", out)}
    med = rows["langevin_escape_epochs_median[point=paper,start=trivial]"].measured
    assert 0 < med == pytest.approx(float(np.median(out["escape"][3:])))
    cold = trap_langevin(model, data, 0.32, ["rank1"], 1e9, range(2), 0.05, 200, 5, 8, 0.0, progress_every=0)
    assert cold["censored"].all()  # T ≈ 0: the exact trap is absorbing


def test_back_rates_return_time_and_fraction_escaped():
    from grokrepro.metastable.langevin_fit import back_rates, back_rows

    out = {"temps": np.array([0.01, 0.02]), "T": np.repeat([0.01, 0.02], 4), "back_budget": np.array(100.0),
           "back_escape": np.array([10, 20, 30, np.nan, 5, 5, 5, 5], float),
           "back_censored": np.array([0, 0, 0, 1, 0, 0, 0, 0], bool)}
    tau_escape = np.array([[40.0, 30.0, 60.0], [15.0, 10.0, 20.0]])
    b = back_rates(out, tau_escape)
    assert b["events"].tolist() == [3, 4]
    assert b["tau"][0, 0] == pytest.approx((10 + 20 + 30 + 100) / 3) and b["tau"][1, 0] == pytest.approx(5.0)
    assert b["fraction"][1, 0] == pytest.approx(5 / 20) and b["fraction"][1, 1] < 0.25 < b["fraction"][1, 2]
    fit = {"temps": out["temps"], "back": b, "n": np.array([4, 4])}
    names = [r.quantity for r in back_rows("sweep=paper", fit)]
    assert names == ["return_time[sweep=paper,T=0.01]", "fraction_escaped[sweep=paper,T=0.01]",
                     "return_time[sweep=paper,T=0.02]", "fraction_escaped[sweep=paper,T=0.02]"]
    assert back_rates({k: v for k, v in out.items() if not k.startswith("back")}, tau_escape) is None


def test_langevin_back_run_starts_escaped_and_returns_when_hot():
    from grokrepro.metastable.langevin import langevin_sweep

    data = exact_data()
    model = DeepLinear((2, 6, 6, 2))
    land = escape_landscape_of(data, 0.32, 3)
    assert land["barrier_back"] < land["barrier"]  # β = 0.32: the escaped state lies above the trap
    temps = np.array([land["barrier"] / 8, 1e-12])
    out = langevin_sweep(model, data, 0.32, (True, False), temps, np.arange(4), 0.05, 3000, 5, [0.0], back=True,
                         progress_every=0)
    hot, cold = out["censored"][:4, 0], out["censored"][4:, 0]
    assert not hot.all() and cold.all()  # some return when hot; none at T ≈ 0 (the escaped state is a minimum)


def test_weibull_shape_tells_memoryless_from_ageing_escapes():
    from grokrepro.metastable.langevin_fit import weibull_row, weibull_shape

    rng = np.random.default_rng(0)
    budget = 3000.0
    for shape, verdict in ((1.0, "agrees"), (3.0, "deviates")):
        t = 1000.0 * rng.weibull(shape, 400)
        cens = t > budget
        k = weibull_shape(np.where(cens, np.nan, t), cens, budget)
        assert k[1] <= shape <= k[2] and k[0] == pytest.approx(shape, rel=0.15)
        assert weibull_row("weibull_k[sweep=x,T=1]", k).verdict == verdict
    assert math.isnan(weibull_shape(np.array([1.0, np.nan]), np.array([False, True]), 10.0)[0])
    assert weibull_row("w", (math.nan,) * 3).verdict == "n/a"
