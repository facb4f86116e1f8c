"""The Fig 3 machinery of Study A on synthetic inputs with known answers: the quasi-static β sweep
(warm starts in both directions), its convergence test, transition points, jump and hysteresis,
and the Σ̂_xx-corrected spinodal."""
import math

import numpy as np
import pytest
import torch
from test_metastable_trap import exact_moment_data

from grokrepro.metastable import beta_sweep, theory
from grokrepro.metastable.beta_sweep import DOWN, UP, SweepSpec, convergence_monitor, run_sweep, transition_points


def metrics(loss, norm):
    return {"train_loss": torch.tensor(loss, dtype=torch.float64),
            "param_norm": torch.tensor(norm, dtype=torch.float64)}


def test_convergence_monitor_needs_flat_loss_bounded_norm_and_min_epochs():
    mon = convergence_monitor(3, min_epochs=10, rel_tolerance=1e-3)
    idx = torch.arange(3)
    # first check: nothing to compare with yet
    assert not mon(10, metrics([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), idx).any()
    # replica 0 flat, replica 1 loss moved by 1%, replica 2 flat loss but growing weights
    done = mon(20, metrics([1.0005, 1.01, 1.0], [1.0, 1.0, 1.01]), idx)
    assert done.tolist() == [True, False, False]
    # a shrinking norm is fine (decay onto a stable trivial minimum)
    assert mon(30, metrics([1.0005, 1.01, 1.0], [0.9, 0.9, 0.9]), idx).tolist() == [True, True, True]
    # before min_epochs nothing is done, however flat
    early = convergence_monitor(1, min_epochs=50, rel_tolerance=1e-3)
    early(10, metrics([1.0], [1.0]), torch.arange(1))
    assert not early(20, metrics([1.0], [1.0]), torch.arange(1)).any()


def test_convergence_monitor_keeps_state_per_replica_when_a_subset_is_active():
    mon = convergence_monitor(3, min_epochs=0, rel_tolerance=1e-3)
    mon(10, metrics([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]), torch.arange(3))
    # only replica 2 still active: compared with its own previous loss (3.0), not replica 0's
    assert mon(20, metrics([3.0], [1.0]), torch.tensor([2])).tolist() == [True]
    assert mon(30, metrics([2.0], [1.0]), torch.tensor([1])).tolist() == [True]
    assert mon(40, metrics([1.5], [1.0]), torch.tensor([0])).tolist() == [False]


def test_transition_points_known_answers():
    beta = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    # (β, seed, feature); seed 0 loses feature 0 between 0.2 and 0.3, feature 1 between 0.1 and 0.2
    up = np.zeros((5, 2, 2))
    up[:3, 0, 0] = 1.0
    up[:2, 0, 1] = 1.0
    up[:, 1, 0] = 1.0  # seed 1 never loses feature 0 ...
    up[:, 1, 1] = 0.0  # ... and never had feature 1: no upward transition
    out = transition_points(beta, up, 1e-3, UP)
    np.testing.assert_allclose(out[0], [0.25, 0.15])
    assert np.isnan(out[1]).all()
    # downward: visited from β = 0.4 down; seed 0 gains feature 0 between 0.2 and 0.1
    down = np.zeros((5, 2, 2))
    down[:2, 0, 0] = 1.0
    down[:, 1, 1] = 1.0  # learned already at β_max: not a gain
    out = transition_points(beta, down, 1e-3, DOWN)
    assert out[0, 0] == pytest.approx(0.15)
    assert np.isnan(out[0, 1]) and np.isnan(out[1]).all()


def test_max_jump_and_hysteresis_gap_known_answers():
    test_loss = np.zeros((2, 4, 3))
    test_loss[UP] = np.array([0.2, 0.25, 0.9, 0.9])[:, None]
    test_loss[UP, :, 2] = np.nan  # a missing seed does not count
    test_loss[DOWN] = 0.9
    sweep = {"test_loss": test_loss}
    assert beta_sweep.max_jump(sweep) == pytest.approx(0.65)
    assert beta_sweep.max_jump(sweep, DOWN) == 0.0
    assert beta_sweep.hysteresis_gap(sweep) == pytest.approx(0.7)


@pytest.mark.parametrize("eta_hat,s", [(0.85, 0.9), (0.74, 0.84), (0.8, 1.0)])
def test_corrected_beta_c_is_where_the_train_set_landscape_loses_its_learned_state(eta_hat, s):
    depth = 3
    # s·f'(λ; η̂/s, β/s) = sλ − η̂ + β λ^{2/L−1} = 0 has a root λ > 0 iff β <= max_λ (η̂ − sλ) λ^{1−2/L}
    lam = np.linspace(1e-6, eta_hat / s, 2_000_001)
    brute = float(np.max((eta_hat - s * lam) * lam ** (1 - 2 / depth)))
    assert theory.corrected_beta_c(eta_hat, s, depth) == pytest.approx(brute, rel=1e-6)
    assert theory.corrected_beta_c(eta_hat, 1.0, depth) == pytest.approx(theory.spinodal(eta_hat, depth)[0])


def spec(**kw):
    base = dict(depth=3, width=4, init_std=None, seeds=(1, 2), beta_max=0.48, beta_step=0.03, lr=0.1,
                batch_size=64, min_epochs=20, max_epochs=3000, check_every=10, rel_tolerance=1e-7,
                trivial_init_std=1e-3, rank_threshold=1e-3)
    return SweepSpec(**{**base, **kw})


def sweep_arrays():
    x, y = exact_moment_data((0.9, 0.8), n=64)
    return {"x_train": x, "y_train": y, "x_test": x, "y_test": y}


def test_run_sweep_warm_starts_each_beta_from_the_previous_one(monkeypatch):
    calls = []
    train = beta_sweep.engine.train

    def recording(model, params, data, lr, wd, *args, **kw):
        res = train(model, params, data, lr, wd, *args, **kw)
        calls.append(([p.clone() for p in params], np.asarray(wd).copy(), [p.clone() for p in res.params]))
        return res

    monkeypatch.setattr(beta_sweep.engine, "train", recording)
    out = run_sweep(sweep_arrays(), spec(beta_max=0.09, max_epochs=50))
    betas = out["beta"]
    assert len(calls) == len(betas)
    for j, (params_in, wd, _) in enumerate(calls):
        # replicas 0, 1: upward (β ascending); 2, 3: downward (β descending)
        np.testing.assert_allclose(wd, [betas[j]] * 2 + [betas[-1 - j]] * 2)
        if j:
            for p_in, p_prev in zip(params_in, calls[j - 1][2]):
                torch.testing.assert_close(p_in, p_prev)  # the previous β's end point, not a new init
    # the downward sweep starts from the small trivial init, the upward from the 1/sqrt(width) one
    first = calls[0][0][0]
    assert first[2:].abs().max() < 1e-2 < first[:2].abs().max()


def test_run_sweep_shows_the_hysteresis_loop_of_a_depth_3_network():
    """Exact-moment data (Σ̂_xx = I, Σ̂_yx = diag(0.9, 0.8)): the upward sweep follows the learned branch
    λ** up to each feature's spinodal (0.4105, 0.3509); the downward sweep stays trivial at every β > 0."""
    out = run_sweep(sweep_arrays(), spec())
    beta, sv = out["beta"], out["svals"]
    assert (out["status"] == 1).all()  # every (direction, β, seed) converged
    up = transition_points(beta, sv[UP], 1e-3, UP)
    np.testing.assert_allclose(up[:, 0], 0.405)  # between 0.39 and 0.42
    np.testing.assert_allclose(up[:, 1], 0.345)  # between 0.33 and 0.36
    for j in np.flatnonzero(beta <= 0.39):
        for k, eta in enumerate((0.9, 0.8)):
            lam = theory.stationary_points(eta, beta[j], 3).learned
            if math.isfinite(lam):
                np.testing.assert_allclose(sv[UP, j, :, k], lam, rtol=1e-3)
    down = transition_points(beta, sv[DOWN], 1e-3, DOWN)
    assert (np.isnan(down) | (down < 0.03)).all()  # regained (if at all) only at beta = 0
    assert (sv[DOWN][beta > 0] < 1e-3).all()
    # at beta = 0.39, between beta* (0.345) and beta_c (0.4105) of eta = 0.9: learned up, trivial down
    j = int(np.argmin(np.abs(beta - 0.39)))
    assert (sv[UP, j, :, 0] > 0.1).all() and (sv[DOWN, j, :, 0] < 1e-3).all()
