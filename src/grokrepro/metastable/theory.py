"""Per-feature loss landscape of a balanced deep linear network under L2 regularisation.

For one singular value η of Σ_yx and depth L, on balanced weights the loss reduces to

    f(λ) = ½ (λ − η)² + (L β / 2) λ^{2/L},   λ ≥ 0,

whose stationary points solve λ − η + β λ^{2/L − 1} = 0. For L ≥ 3 the trivial point λ = 0 is
always a local minimum; below the spinodal β_c a saddle λ_sad and a learned minimum λ** > λ_sad
exist as well (first-order transition). For L ≤ 2 there is a single minimum (continuous).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq


def f(lam, eta: float, beta: float, depth: int):
    """Per-feature loss f(λ) (vectorised over λ ≥ 0)."""
    lam = np.asarray(lam, dtype=float)
    return 0.5 * (lam - eta) ** 2 + 0.5 * depth * beta * np.abs(lam) ** (2.0 / depth)


def df(lam, eta: float, beta: float, depth: int):
    """f'(λ) for λ > 0."""
    lam = np.asarray(lam, dtype=float)
    return lam - eta + beta * lam ** (2.0 / depth - 1.0)


def spinodal(eta: float, depth: int) -> tuple[float, float]:
    """(β_c, λ_c): the saddle-node point where the learned minimum and the saddle annihilate.

    For L ≤ 2 the transition is continuous: β_c = η (L = 2), with λ_c = 0.
    """
    k = 2.0 / depth
    if k >= 1.0:
        if depth == 2:
            return float(eta), 0.0
        return math.inf, 0.0  # L = 1: λ = η/(1+β) never vanishes
    lam_c = eta * (1 - k) / (2 - k)
    beta_c = (1.0 / (1 - k)) * lam_c ** (2 - k)
    return beta_c, lam_c


@dataclass(frozen=True)
class Stationary:
    """Stationary points at one β. NaN where a point does not exist."""

    trivial: float  # 0.0 if λ = 0 is a local minimum, else NaN
    saddle: float
    learned: float


def stationary_points(eta: float, beta: float, depth: int) -> Stationary:
    if beta < 0:
        raise ValueError("beta must be >= 0")
    if depth <= 2:
        # convex per feature: a single minimum
        if depth == 2:
            lam = max(eta - beta, 0.0)
        else:
            lam = eta / (1.0 + beta)
        return Stationary(trivial=0.0 if lam == 0.0 else math.nan, saddle=math.nan,
                          learned=lam if lam > 0 else math.nan)
    if beta == 0:
        return Stationary(trivial=0.0, saddle=0.0, learned=float(eta))
    beta_c, lam_c = spinodal(eta, depth)
    if beta > beta_c:
        return Stationary(trivial=0.0, saddle=math.nan, learned=math.nan)
    if beta == beta_c:
        return Stationary(trivial=0.0, saddle=lam_c, learned=lam_c)
    g = lambda x: df(x, eta, beta, depth)  # noqa: E731
    # g → +∞ at 0+, g(λ_c) < 0 below β_c, g(η) = β η^{k-1} > 0
    lo = 1e-300
    saddle = brentq(g, lo, lam_c, xtol=1e-15, rtol=1e-14, maxiter=500)
    learned = brentq(g, lam_c, eta, xtol=1e-15, rtol=1e-14, maxiter=500)
    return Stationary(trivial=0.0, saddle=float(saddle), learned=float(learned))


def barrier(eta: float, beta: float, depth: int) -> float:
    """ΔE = f(λ_sad) − f(0): the barrier out of the trivial state (paper's Eq. 10)."""
    s = stationary_points(eta, beta, depth)
    if math.isnan(s.saddle):
        return math.nan
    return float(f(s.saddle, eta, beta, depth) - f(0.0, eta, beta, depth))


def barrier_from_learned(eta: float, beta: float, depth: int) -> float:
    """f(λ_sad) − f(λ**): the barrier out of the learned state back to trivial."""
    s = stationary_points(eta, beta, depth)
    if math.isnan(s.saddle):
        return math.nan
    return float(f(s.saddle, eta, beta, depth) - f(s.learned, eta, beta, depth))


def learned_minus_trivial(eta: float, beta: float, depth: int) -> float:
    """f(λ**) − f(0): negative where the learned state is the global minimum."""
    s = stationary_points(eta, beta, depth)
    if math.isnan(s.learned):
        return math.nan
    return float(f(s.learned, eta, beta, depth) - f(0.0, eta, beta, depth))


def equal_loss_beta(eta: float, depth: int) -> float:
    """β*: f(λ**) = f(0). For L ≥ 3, β* < β_c; for L ≤ 2 it coincides with β_c."""
    beta_c, _ = spinodal(eta, depth)
    if depth <= 2:
        return beta_c
    h = lambda b: learned_minus_trivial(eta, b, depth)  # noqa: E731
    return float(brentq(h, 1e-12, beta_c * (1 - 1e-12), xtol=1e-14, rtol=1e-13))


def branches(eta: float, depth: int, betas) -> dict[str, np.ndarray]:
    """λ of every stationary branch on a β grid (NaN where a branch does not exist)."""
    pts = [stationary_points(eta, float(b), depth) for b in betas]
    return {
        "beta": np.asarray(betas, dtype=float),
        "trivial": np.array([p.trivial for p in pts]),
        "saddle": np.array([p.saddle for p in pts]),
        "learned": np.array([p.learned for p in pts]),
    }


def empirical_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Singular values of the empirical cross-covariance Σ̂_yx = Yᵀ X / N (descending)."""
    n = x.shape[0]
    return np.linalg.svd(y.T @ x / n, compute_uv=False)


def corrected_beta_c(eta_hat: float, s: float, depth: int) -> float:
    """β_c of s·f(λ; η̂/s, β/s): the empirical landscape including Σ̂_xx ≠ I along the feature."""
    return s * spinodal(eta_hat / s, depth)[0]


def f_gap_per_feature(eta_hat, s, beta: float, depth: int) -> list[float]:
    """f(λ**) − f(0) per feature in the train set's landscape s·f(λ; η̂/s, β/s) (NaN if no λ**)."""
    return [float(sk * learned_minus_trivial(e / sk, beta / sk, depth)) for e, sk in zip(eta_hat, s)]
