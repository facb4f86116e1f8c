"""Trapped-state construction, phases and escape bookkeeping (Study A)."""
import math

import numpy as np
import pytest
import torch

from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import theory, trap
from grokrepro.metastable.escape import run_escape
from grokrepro.metastable.fitting import km_median, survival
from grokrepro.metastable.trap import phase_mask
from grokrepro.metastable.data import DataSpec, generate


def exact_moment_data(eta, n=64, p=2, seed=0):
    """x, y with Σ̂_xx = I and Σ̂_yx = diag(η) exactly (so the per-feature theory is exact)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, 2 * p)))
    x = math.sqrt(n) * q[:, :p]
    z = math.sqrt(n) * q[:, p:]
    y = x * np.asarray(eta) + z * np.sqrt(1 - np.asarray(eta) ** 2)
    return x, y


@pytest.mark.parametrize("mask", [(True, False), (True, True), (False, False), (False, True)])
def test_constructed_trap_is_a_stationary_point(mask):
    eta, beta = (0.9, 0.8), 0.2
    x, y = exact_moment_data(eta)
    np.testing.assert_allclose(x.T @ x / len(x), np.eye(2), atol=1e-12)
    model = DeepLinear((2, 10, 10, 2))
    params, lam = trap.constructed(model, x, y, mask, beta, seeds=[1, 2])
    for k, on in enumerate(mask):
        expected = theory.stationary_points(eta[k], beta, 3).learned if on else 0.0
        assert lam[k] == pytest.approx(expected, rel=1e-10)
    data = Data.from_numpy({"x_train": x, "y_train": y}, "cpu", torch.float64)
    batch = model.batches(data, None)[0]
    grads = model.grads(params, batch)
    total = sum((g + beta * w).pow(2).sum() for g, w in zip(grads, params)).sqrt()
    scale = sum(w.pow(2).sum() for w in params).sqrt() + 1
    assert total / scale < 1e-10
    _, u, v, _ = trap.feature_frames(x, y)
    np.testing.assert_array_equal(trap.phase_of(params, 1e-3, 2, (u, v)), np.array([mask, mask]))
    # the perturbed trap is no longer stationary but stays in its phase
    pert = trap.perturb(params, 1e-3, [1, 2])
    g2 = model.grads(pert, batch)
    assert sum((g + beta * w).pow(2).sum() for g, w in zip(g2, pert)).sqrt() > 1e-6


def test_constructed_trap_refuses_a_missing_learned_state():
    x, y = exact_moment_data((0.9, 0.8))
    with pytest.raises(ValueError, match="no learned state"):
        trap.constructed(DeepLinear((2, 4, 4, 2)), x, y, (True, True), 0.38, seeds=[0])  # beta > beta_c(0.8)


def test_phase_mask():
    assert phase_mask("random", 2) is None
    assert phase_mask("trivial", 3) == (False, False, False)
    assert phase_mask("rank1", 2) == (True, False)
    with pytest.raises(ValueError):
        phase_mask("rank3", 2)
    with pytest.raises(ValueError):
        phase_mask("banana", 2)


def test_km_median_and_survival_known_answers():
    t = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    c = np.isnan(t)
    assert km_median(t, c) == 3.0
    assert math.isnan(km_median(np.array([5.0, np.nan, np.nan]), np.array([False, True, True])))
    s = survival(t, c, 10, np.array([0, 1, 2.5, 4, 10]))
    np.testing.assert_allclose(s, [1.0, 0.8, 0.6, 0.2, 0.2])


def test_random_start_escapes_and_trap_is_censored_not_dropped():
    d = generate(DataSpec((0.9, 0.8), 2, 2, 256, 256, seed=1))
    data = Data.from_numpy(d, "cpu", torch.float64)
    model = DeepLinear((2, 6, 6, 2))
    seeds = [1, 2, 3]
    rand = model.init(seeds, 6 ** -0.5)
    out = run_escape(model, rand, data, "random", seeds, 0.1, 0.08, 64, 30, 1, 1e-3, False, 300, 10)
    assert (~out["censored_mse"]).all() and np.nanmax(out["escape_mse"]) <= 10
    params, _ = trap.constructed(model, d["x_train"], d["y_train"], (True, False), 0.1, seeds)
    out = run_escape(model, trap.perturb(params, 1e-6, seeds), data, "rank1", seeds, 0.1, 0.08, 64, 30, 1,
                     1e-3, False, 300, 10)
    assert out["censored_mse"].all() and out["censored_sv"].all() and len(out["escape_mse"]) == 3
    assert out["global_phase"].tolist() == [True, True]
    assert float(out["plateau_test_mse"][0]) > float(out["global_test_mse"])


def test_escape_monitor_records_first_crossings_of_both_criteria():
    from grokrepro.metastable.escape import escape_monitor

    # plateau 1.0, global minimum 0.0: the test-MSE criterion fires below 0.5; replica 1 has no
    # singular-value criterion (index 2 of 2 singular values), replica 0 watches sigma_2
    monitor, state = escape_monitor(np.array([1.0, 1.0]), 0.0, np.array([1, 2]), 1e-3, stop_on_escape=False)

    def mets(test, sv2):
        return {"test_loss": torch.tensor(test, dtype=torch.float64),
                "svals": torch.tensor([[1.0, s] for s in sv2], dtype=torch.float64)}

    idx = torch.arange(2)
    assert not monitor(0, mets([0.9, 0.9], [0.0, 0.0]), idx).any()
    monitor(2, mets([0.4, 0.6], [0.01, 0.01]), idx)
    monitor(4, mets([0.3, 0.2], [0.02, 0.02]), idx)
    assert state["mse"].tolist() == [2.0, 4.0]  # the first crossing is kept
    assert state["sv"][0] == 2.0 and math.isnan(state["sv"][1])
    # with stop_on_escape the escaped replicas are done; a subset of active replicas maps by index
    monitor, state = escape_monitor(np.array([1.0, 1.0]), 0.0, np.array([1, 1]), 1e-3, stop_on_escape=True)
    assert monitor(2, mets([0.9, 0.4], [0.0, 0.0]), idx).tolist() == [False, True]
    assert monitor(4, mets([0.3], [0.0]), torch.tensor([0])).tolist() == [True]
    assert state["mse"].tolist() == [4.0, 2.0]
    # a plateau of -inf (nothing lower to escape to) never fires
    monitor, state = escape_monitor(np.array([-np.inf]), 0.0, np.array([1]), 1e-3, stop_on_escape=True)
    assert not monitor(2, mets([-1.0], [0.0]), torch.arange(1)).any() and math.isnan(state["mse"][0])
