"""Scaling-law machinery of Study B: the adaptive-step gradient-flow integrator and the
offset-corrected fit t·λ = a·ln α + c."""
import math

import numpy as np
import pytest
import torch

from grokrepro import engine
from grokrepro.dichotomy import analysis as A
from grokrepro.dichotomy import data as D
from grokrepro.dichotomy import flow, models, runs


@pytest.fixture(scope="module")
def small():
    return D.matrix_completion(6, 0.5, 0)  # n = 18 observed entries


def test_sharpness_bound_bounds_the_hessian(small):
    model = models.MatrixFactor(6)
    batch = model.batches(models.to_data(small, "matrix", "cpu", torch.float64), None)[0]
    for alpha in (0.5, 3.0):
        params = model.init([alpha])

        def loss(flat):
            u, v = flat[:36].view(1, 6, 6), flat[36:].view(1, 6, 6)
            return model.loss_and_grads([u, v], batch)[0].sum()

        flat = torch.cat([p.flatten() for p in params])
        top = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat)).max().item()
        bound = flow.matrix_sharpness_bound(params, batch).item()
        assert top <= bound * 1.02
        if alpha > 1:  # at large alpha the Gauss-Newton part dominates and the bound is tight
            assert top >= 0.5 * bound


def test_chunked_constant_lr_equals_one_engine_call(small):
    """Segmenting a constant-lr run into engine calls at the record times is exact (full batch: no RNG)."""
    model = models.MatrixFactor(6)
    data = models.to_data(small, "matrix", "cpu", torch.float64)
    alphas, wd, lr, steps = np.array([2.0, 4.0]), np.array([0.05, 0.02]), 0.01, 3000
    params = model.init(alphas)
    rec = engine.log_grid(steps, 25)
    ref = engine.train(model, params, data, lr, wd, data.x_train.shape[0], [0, 0], steps, check_every=steps,
                       record_epochs=rec, check_at_records=True, progress_every=0)
    out = flow.flow_train(model, params, data, wd, rec * lr, lr, None, segment=0)
    assert np.array_equal(np.nanmax(out["gd_steps"], axis=0), [steps, steps])
    np.testing.assert_allclose(out["records"]["train_loss"], ref.records["train_loss"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(out["records"]["test_loss"], ref.records["test_loss"], rtol=1e-9, atol=1e-14)
    for p, q in zip(out["params"], ref.params):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def _transitions(out):
    t = []
    for r in range(out["records"]["train_loss"].shape[1]):
        fit = A.fit_step(out["time"], out["records"]["train_loss"][:, r], False, 0.01)
        t.append(A.transition(out["time"], out["records"]["test_loss"][:, r], fit, 3)["step"])
    return np.array(t)


def test_adaptive_step_matches_small_constant_lr(small):
    """The adaptive step (c = 1: half the bound's edge of stability) gives the transition time of
    plain GD at a small constant step within a few per cent, with far fewer steps."""
    model = models.MatrixFactor(6)
    data = models.to_data(small, "matrix", "cpu", torch.float64)
    alphas, wd = np.array([3.0, 5.0]), 0.03
    params = model.init(alphas)
    times = flow.time_grid(1e-3, 3.0 * math.log(5.0) / wd, 60)
    ada = flow.flow_train(model, params, data, wd, times, 0.2, 1.0)
    n = len(small["y_train"])
    const = flow.flow_train(model, params, data, wd, times, 0.25 * n / (16 * 5.0**2), None)
    ta, tc = _transitions(ada), _transitions(const)
    assert np.all(np.isfinite(ta)) and np.all(np.isfinite(tc))
    np.testing.assert_allclose(ta, tc, rtol=0.02)
    assert np.nanmax(ada["gd_steps"]) < 0.2 * np.nanmax(const["gd_steps"])
    # the transition is where the law puts it, up to the O(1) offset
    ratio = ta * wd / np.log(alphas)
    assert np.all((ratio > 0.5) & (ratio < 3.0))


def test_run_grid_dispatches_to_flow_time(small):
    run = dict(family="matrix", dataset="matrix_small", alphas=[3.0], weight_decays=[0.05], lr=0.2, steps=10**6,
               points=20, horizon=1.0, adaptive_step=1.0)
    out = runs.run_grid(run, small, [0])
    assert "time" in out and "steps" not in out and out["status"].tolist() == [engine.DONE]
    assert out["time"][-1] == pytest.approx(math.log(3.0) / 0.05)
    assert np.isfinite(out["rec_test_loss"][-1, 0]) and out["rec_gd_steps"][-1, 0] > 0


def test_log_law_fit_recovers_slope_and_offset():
    rng = np.random.default_rng(0)
    x = np.repeat(np.log([2.0, 6.0, 20.0, 60.0, 200.0]), 3)
    exact = A.fit_log_law(x, 0.9 * x - 1.7)
    assert exact["slope"] == pytest.approx(0.9) and exact["offset"] == pytest.approx(-1.7)
    assert exact["slope_hi"] - exact["slope_lo"] < 1e-9
    covered = []
    for _ in range(400):  # the 95% intervals cover the true values ~95% of the time
        y = 0.9 * x - 1.7 + rng.normal(0, 0.05, x.size)
        y[4] = math.nan  # dropped
        fit = A.fit_log_law(x, y)
        covered.append((fit["slope_lo"] < 0.9 < fit["slope_hi"], fit["offset_lo"] < -1.7 < fit["offset_hi"]))
    assert fit["n"] == x.size - 1 and abs(fit["slope"] - 0.9) < 0.05 and fit["rms"] == pytest.approx(0.05, rel=0.5)
    assert np.all(np.abs(np.mean(covered, axis=0) - 0.95) < 0.035)
    assert math.isnan(A.fit_log_law([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["slope"])  # one alpha: no slope
