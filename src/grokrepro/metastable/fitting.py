"""Escape-time statistics: survival and Kaplan–Meier medians, censored exponential MLE, goodness of
fit, Arrhenius regression.

Escape at fixed temperature is modelled as a Poisson process: each run escapes after an
exponential time with rate k, or is right-censored at its budget. The maximum-likelihood rate
is events ÷ total exposure (escape times of the escaped runs plus the budgets of the censored
ones); its 95 % interval is the exact Poisson (chi-square) interval for the event count at that
exposure. τ = 1/k. The Arrhenius fit is a weighted least-squares line ln τ = ln τ0 + ΔE_eff/T
with weights = events (Var ln τ̂ ≈ 1/events), and a bootstrap over seeds for ΔE_eff's interval.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class RateFit:
    rate: float
    rate_low: float
    rate_high: float
    events: int
    exposure: float
    n: int

    @property
    def tau(self) -> float:
        return math.inf if self.rate == 0 else 1.0 / self.rate

    @property
    def tau_low(self) -> float:
        return 1.0 / self.rate_high

    @property
    def tau_high(self) -> float:
        return math.inf if self.rate_low == 0 else 1.0 / self.rate_low


def exposure_and_events(times, censored, budget) -> tuple[float, int]:
    times, censored = np.asarray(times, float), np.asarray(censored, bool)
    budget = np.broadcast_to(np.asarray(budget, float), times.shape)
    exposure = float(np.where(censored, budget, times).sum())
    return exposure, int((~censored).sum())


def rate_mle(times, censored, budget, level: float = 0.95) -> RateFit:
    """MLE of an exponential rate from right-censored times, with the exact Poisson interval."""
    exposure, d = exposure_and_events(times, censored, budget)
    if exposure <= 0:
        raise ValueError("total exposure must be positive")
    a = 1 - level
    low = 0.0 if d == 0 else stats.chi2.ppf(a / 2, 2 * d) / (2 * exposure)
    high = stats.chi2.ppf(1 - a / 2, 2 * d + 2) / (2 * exposure)
    return RateFit(d / exposure, float(low), float(high), d, exposure, len(np.asarray(times)))


def km_curve(times, censored):
    """Kaplan–Meier survival at the distinct event times: (t, S(t))."""
    times, censored = np.asarray(times, float), np.asarray(censored, bool)
    t_ev = np.unique(times[~censored])
    s, out = 1.0, []
    for t in t_ev:
        at_risk = np.sum((times >= t) | censored)
        d = np.sum((times == t) & ~censored)
        s *= 1 - d / at_risk
        out.append(s)
    return t_ev, np.array(out)


def exp_gof(times, censored, budget, n_boot: int = 500, seed: int = 0) -> tuple[float, float]:
    """Kolmogorov-type distance between Kaplan–Meier and exp(−k t), with a parametric-bootstrap
    p-value (same n, same budget, fitted k). Small p: the escape times are not exponential."""
    times, censored = np.asarray(times, float), np.asarray(censored, bool)
    budget = float(np.max(np.broadcast_to(budget, times.shape)))
    fit = rate_mle(times, censored, budget)

    def distance(t, c, k):
        te, s = km_curve(t, c)
        if te.size == 0:
            return 0.0
        before = np.concatenate([[1.0], s[:-1]])
        model = np.exp(-k * te)
        return float(np.max(np.maximum(np.abs(s - model), np.abs(before - model))))

    d_obs = distance(times, censored, fit.rate)
    if fit.events == 0:
        return d_obs, math.nan
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_boot):
        t = rng.exponential(1 / fit.rate, size=len(times))
        c = t > budget
        t = np.minimum(t, budget)
        k = rate_mle(t, c, budget).rate
        hits += distance(t, c, k) >= d_obs
    return d_obs, (hits + 1) / (n_boot + 1)


@dataclass(frozen=True)
class ArrheniusFit:
    delta_e: float
    delta_e_low: float
    delta_e_high: float
    ln_tau0: float
    r2: float
    n_points: int


def weighted_line(x, y, w):
    x, y, w = map(lambda a: np.asarray(a, float), (x, y, w))
    W = w.sum()
    xm, ym = (w * x).sum() / W, (w * y).sum() / W
    sxx = (w * (x - xm) ** 2).sum()
    slope = (w * (x - xm) * (y - ym)).sum() / sxx
    intercept = ym - slope * xm
    resid = y - intercept - slope * x
    ss_tot = (w * (y - ym) ** 2).sum()
    r2 = 1 - (w * resid**2).sum() / ss_tot if ss_tot > 0 else math.nan
    return slope, intercept, r2


def fit_arrhenius(inv_t, runs, budget, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> ArrheniusFit:
    """Fit ln τ = ln τ0 + ΔE·(1/T) over temperatures with at least one escape.

    ``runs``: list of (times, censored) per temperature. The interval on ΔE comes from a
    bootstrap over seeds (runs resampled with replacement within each temperature).
    """
    inv_t = np.asarray(inv_t, float)
    fits = [rate_mle(t, c, budget) for t, c in runs]
    use = np.array([f.events > 0 for f in fits])
    if use.sum() < 2:
        return ArrheniusFit(math.nan, math.nan, math.nan, math.nan, math.nan, int(use.sum()))
    ln_tau = np.log([fits[i].tau for i in np.flatnonzero(use)])
    w = np.array([fits[i].events for i in np.flatnonzero(use)], float)
    slope, intercept, r2 = weighted_line(inv_t[use], ln_tau, w)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        xs, ys, ws = [], [], []
        for i in np.flatnonzero(use):
            t, c = map(np.asarray, runs[i])
            pick = rng.integers(0, len(t), len(t))
            f = rate_mle(t[pick], c[pick], budget)
            if f.events:
                xs.append(inv_t[i]), ys.append(math.log(f.tau)), ws.append(f.events)
        if len(xs) >= 2 and np.ptp(xs) > 0:
            boots.append(weighted_line(xs, ys, ws)[0])
    a = (1 - level) / 2
    lo, hi = (np.quantile(boots, a), np.quantile(boots, 1 - a)) if boots else (math.nan, math.nan)
    return ArrheniusFit(float(slope), float(lo), float(hi), float(intercept), float(r2), int(use.sum()))


def noise_trace(per_sample_grads: np.ndarray) -> float:
    """Trace of the covariance of single-sample gradients (rows: samples, columns: parameters)."""
    g = np.asarray(per_sample_grads, float)
    return float(((g - g.mean(0)) ** 2).sum(1).mean())


def survival(times: np.ndarray, censored: np.ndarray, budget: float, grid: np.ndarray) -> np.ndarray:
    """Fraction not yet escaped at each grid epoch (censored runs stay 'alive' to the budget)."""
    t = np.where(censored, np.inf, times)
    return np.array([(t > g).mean() for g in grid])


def km_median(times: np.ndarray, censored: np.ndarray) -> float:
    """Median escape epoch; NaN if fewer than half the runs escaped (all censoring at the budget)."""
    t = np.sort(np.where(censored, np.inf, times))
    if not len(t):
        return math.nan
    half = (len(t) - 1) / 2
    if not np.isfinite(t[int(math.ceil(half))]):
        return math.nan
    return float(0.5 * (t[int(math.floor(half))] + t[int(math.ceil(half))]))
