"""Closed-form landscape theory of Study A against independent numerics."""
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from grokrepro.metastable import theory as th


def brute_stationary(eta, beta, depth, n=400_001):
    """Stationary points of f from sign changes of f' on a fine grid (independent of brentq)."""
    lam = np.linspace(1e-7, 1.2 * eta, n)
    g = th.df(lam, eta, beta, depth)
    return lam[np.flatnonzero(np.diff(np.sign(g)))]


@pytest.mark.parametrize("eta,beta_c", [(0.9, 0.4105), (0.8, 0.3509)])
def test_spinodal_matches_paper_notes(eta, beta_c):
    assert th.spinodal(eta, 3)[0] == pytest.approx(beta_c, abs=5e-5)


@pytest.mark.parametrize("eta,beta_star", [(0.9, 0.3448), (0.8, 0.2947)])
def test_equal_loss_point_matches_paper_notes(eta, beta_star):
    bs = th.equal_loss_beta(eta, 3)
    assert bs == pytest.approx(beta_star, abs=5e-5)
    s = th.stationary_points(eta, bs, 3)
    assert th.f(s.learned, eta, bs, 3) == pytest.approx(th.f(0.0, eta, bs, 3), abs=1e-10)


def test_beta_032_values_and_inconsistency_3():
    s = th.stationary_points(0.8, 0.32, 3)
    assert s.saddle == pytest.approx(0.0925, abs=5e-4)
    assert s.learned == pytest.approx(0.343, abs=5e-4)
    assert th.barrier(0.8, 0.32, 3) == pytest.approx(0.0285, abs=5e-4)
    # the weak feature's learned state lies ABOVE the trivial one at beta = 0.32 (+0.020)
    assert th.learned_minus_trivial(0.8, 0.32, 3) == pytest.approx(0.0196, abs=5e-4)
    assert th.learned_minus_trivial(0.9, 0.32, 3) < 0
    # the paper's lambda_sad ~ 0.41 is lambda** at beta = 0.29
    assert th.stationary_points(0.8, 0.29, 3).learned == pytest.approx(0.41, abs=5e-3)


@pytest.mark.parametrize("depth", [3, 4, 6])
@pytest.mark.parametrize("eta", [0.5, 0.8, 0.9])
def test_stationary_points_against_grid(depth, eta):
    beta_c, lam_c = th.spinodal(eta, depth)
    for frac in (0.2, 0.6, 0.95):
        beta = frac * beta_c
        s = th.stationary_points(eta, beta, depth)
        roots = brute_stationary(eta, beta, depth)
        assert len(roots) == 2
        assert s.saddle == pytest.approx(roots[0], abs=1e-5)
        assert s.learned == pytest.approx(roots[1], abs=1e-5)
        assert s.saddle < lam_c < s.learned
    # just above the spinodal no non-trivial stationary point remains
    assert len(brute_stationary(eta, beta_c * 1.001, depth)) == 0
    assert len(brute_stationary(eta, beta_c * 0.999, depth)) == 2


def test_derivative_by_finite_differences():
    lam = np.linspace(0.05, 1.0, 50)
    h = 1e-6
    for depth in (2, 3, 5):
        fd = (th.f(lam + h, 0.8, 0.2, depth) - th.f(lam - h, 0.8, 0.2, depth)) / (2 * h)
        np.testing.assert_allclose(th.df(lam, 0.8, 0.2, depth), fd, rtol=1e-6, atol=1e-8)


def test_learned_is_minimum_and_saddle_is_maximum_along_lambda():
    s = th.stationary_points(0.9, 0.3, 3)
    res = minimize_scalar(lambda x: th.f(x, 0.9, 0.3, 3), bounds=(s.saddle, 1.0), method="bounded",
                          options={"xatol": 1e-10})
    assert res.x == pytest.approx(s.learned, abs=1e-5)
    res = minimize_scalar(lambda x: -th.f(x, 0.9, 0.3, 3), bounds=(1e-9, s.learned), method="bounded",
                          options={"xatol": 1e-10})
    assert res.x == pytest.approx(s.saddle, abs=1e-5)


def test_barrier_vanishes_at_zero_and_spinodal_closes():
    assert th.barrier(0.8, 1e-6, 3) < 1e-6
    bc, _ = th.spinodal(0.8, 3)
    assert th.barrier_from_learned(0.8, bc * (1 - 1e-6), 3) < 1e-6
    assert math.isnan(th.barrier(0.8, bc * 1.01, 3))


def test_depth_two_is_continuous():
    # L = 2: single minimum lambda = eta - beta, vanishing continuously at beta = eta
    for beta in (0.0, 0.3, 0.79):
        s = th.stationary_points(0.8, beta, 2)
        assert s.learned == pytest.approx(0.8 - beta)
        assert math.isnan(s.saddle)
    assert th.spinodal(0.8, 2) == (0.8, 0.0)
    assert math.isnan(th.stationary_points(0.8, 0.9, 2).learned)


def test_branches_shape_and_existence():
    betas = np.linspace(0, 0.5, 51)
    br = th.branches(0.9, 3, betas)
    exists = np.isfinite(br["learned"])
    assert exists[betas < 0.41].all() and not exists[betas > 0.411].any()
    assert np.all(np.nan_to_num(br["saddle"]) <= np.nan_to_num(br["learned"]))
