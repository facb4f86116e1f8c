"""Noise scale, escape direction, Kramers–Langer Hessians and the escape-time fit of a temperature sweep
against theory and synthetic data (Study A)."""
import math

import numpy as np
import pytest
import torch

from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import arrhenius, theory, trap
from test_metastable_trap import exact_moment_data


@pytest.fixture(scope="module")
def setup():
    x, y = exact_moment_data((0.9, 0.8), n=128)
    data = Data.from_numpy({"x_train": x, "y_train": y}, "cpu", torch.float64)
    return x, y, data, DeepLinear((2, 4, 4, 2))


def test_kramers_saddle_and_barrier_match_theory(setup):
    x, y, data, model = setup
    out = arrhenius.kramers_langer(model, data, 0.25, (True, False))
    assert out["exists"]
    assert out["barrier_network"] == pytest.approx(theory.barrier(0.8, 0.25, 3), rel=1e-6)
    assert out["n_negative_saddle"] == 1 and out["n_negative_min"] == 0
    assert out["grad_norm_min"] < 1e-10 and out["grad_norm_saddle"] < 1e-10
    assert out["lambda_saddle"] == pytest.approx(theory.stationary_points(0.8, 0.25, 3).saddle)
    assert arrhenius.kramers_langer(model, data, 0.36, (True, False)) == {"exists": False}  # beyond beta_c(0.8)


def test_noise_vanishes_along_the_escape_direction_only(setup):
    x, y, data, model = setup
    params, _ = trap.constructed(model, x, y, (True, False), 0.25, [3, 4])
    d = arrhenius.escape_direction(model, data, (True, False), 0.25, [3, 4])
    assert torch.allclose(d.norm(dim=1), torch.ones(2, dtype=d.dtype))
    noise = arrhenius.noise_scale(model, params, data, d)
    assert (noise["C"] > 1e-3).all()
    assert (noise["C_escape"] < 1e-20).all()
    # a random direction does carry noise
    rand = torch.randn_like(d)
    rand /= rand.norm(dim=1, keepdim=True)
    assert (arrhenius.noise_scale(model, params, data, rand)["C_escape"] > 1e-6).all()


def test_per_sample_grads_average_to_the_full_batch_gradient(setup):
    x, y, data, model = setup
    params = model.init([1], 0.3)
    g = arrhenius.per_sample_grads(model, params, data).mean(0)
    full = torch.cat([t.flatten(1) for t in model.grads(params, model.batches(data, None)[0])], dim=1)
    torch.testing.assert_close(g, full)


def test_temperature_sweep_tiles_learning_rates():
    from grokrepro.metastable.data import DataSpec, generate

    d = generate(DataSpec((0.9, 0.8), 2, 2, 128, 128, seed=2))
    data = Data.from_numpy(d, "cpu", torch.float64)
    model = DeepLinear((2, 4, 4, 2))
    params = model.init([1, 2], 0.5)
    out = arrhenius.temperature_sweep(model, params, data, "random", [1, 2], 0.1, [0.01, 0.05], 32, 5, 1, 1e-3,
                                      100, 0.05, 5)
    assert out["lr"].tolist() == [0.01, 0.01, 0.05, 0.05]
    assert out["escape_mse"].shape == (4,)


def test_newton_refine_reaches_a_minimum_with_a_symmetry_zero_mode():
    # a ring of minima (|theta_01| = 1, theta_2 = 3): the Hessian has a zero mode along the ring
    def fn(t):
        return (t[0] ** 2 + t[1] ** 2 - 1) ** 2 + (t[2] - 3) ** 2

    theta, grad = arrhenius.newton_refine(fn, torch.tensor([0.9, 0.3, 2.5], dtype=torch.float64))
    assert grad < 1e-12
    assert float(theta[:2].norm()) == pytest.approx(1.0, abs=1e-10) and float(theta[2]) == pytest.approx(3.0)
    assert float(torch.atan2(theta[1], theta[0])) == pytest.approx(math.atan2(0.3, 0.9), abs=1e-6)  # no drift along it


def test_newton_refine_finds_a_saddle_too():
    def fn(t):
        return t[0] ** 2 - t[1] ** 2 + 0.25 * t[1] ** 4  # saddle at 0, minima at t1 = ±sqrt(2)

    theta, grad = arrhenius.newton_refine(fn, torch.tensor([0.2, 0.1], dtype=torch.float64))
    assert grad < 1e-12 and float(theta.abs().max()) < 1e-10
    assert (torch.linalg.eigvalsh(torch.func.hessian(fn)(theta)) < 0).sum() == 1


def synthetic_sweep(setup, rates, n=40, budget=400.0, seed=0):
    """Escape times drawn from known exponential rates per learning rate, and a rank-1 trap."""
    x, y, data, model = setup
    rng = np.random.default_rng(seed)
    lrs = np.array([0.01, 0.02])
    times, cens = [], []
    for rate in rates:
        t = rng.exponential(1 / rate, n)
        cens.append(t > budget)
        times.append(np.where(t > budget, np.nan, t))
    params, _ = trap.constructed(model, x, y, (True, False), 0.25, range(4))
    params = trap.perturb(params, 1e-4, range(4))
    start = {f"W{i}": p.numpy() for i, p in enumerate(params)}
    start["phase"] = np.array([[True, False]] * 3 + [[True, True]])
    runs = {"lrs": lrs, "lr": np.repeat(lrs, n), "batch_size": np.array(16), "budget": np.array(budget),
            "escape_mse": np.concatenate(times), "censored_mse": np.concatenate(cens), "status": np.full(2 * n, 3)}
    return runs, start, {"x": x, "y": y}


def test_fit_sweep_on_synthetic_escape_times(setup):
    runs, start, train = synthetic_sweep(setup, rates=(0.002, 0.01))
    out = arrhenius.fit_sweep(runs, start, train, "rank1", 0.25, 3, n_gof=20, n_fit=50)
    times, cens = runs["escape_mse"], runs["censored_mse"]
    for i, lr in enumerate(runs["lrs"]):
        sel = runs["lr"] == lr
        exposure = np.where(cens[sel], 400.0, times[sel]).sum()
        assert out["events"][i] == (~cens[sel]).sum() and out["exposure"][i] == pytest.approx(exposure)
        assert out["rate"][i] == pytest.approx(out["events"][i] / exposure)
        assert out["rate_low"][i] < out["rate"][i] < out["rate_high"][i]
    assert out["rate_low"][0] < 0.002 < out["rate_high"][0] and out["rate_low"][1] < 0.01 < out["rate_high"][1]
    # T_eff = lr / (B C) with C the median trace of the single-sample gradient covariance at the trap
    assert float(out["C"]) == pytest.approx(float(np.median(out["C_trap"])))
    np.testing.assert_allclose(out["T_eff"], runs["lrs"] / (16 * float(out["C"])))
    # two temperatures: the weighted line passes through both points
    slope = np.diff(np.log(out["tau"]))[0] / np.diff(out["inv_T"])[0]
    assert float(out["arrhenius_delta_e"]) == pytest.approx(slope)
    assert int(out["arrhenius_points"]) == 2
    assert float(out["trap_phase_fraction"]) == 0.75  # one seed of four is not in the rank-1 phase
    assert float(out["C_escape"]) < 1e-20  # SGD noise does not reach the escape direction
    assert bool(out["kramers_exists"])
    assert float(out["kramers_barrier_network"]) == pytest.approx(theory.barrier(0.8, 0.25, 3), rel=1e-6)
