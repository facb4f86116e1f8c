"""Escape times over temperature: plain Arrhenius, Kramers–Langer with zero modes, and what the
paper's learning-rate sweep can distinguish.

Kramers–Langer with zero modes (see the study notes): the symmetry orbits of the trap and of the
saddle are integrated as volumes, not Gaussians, so

    τ(T) = A · T^k · exp(ΔE / T),   k = (n₀(saddle) − n₀(trap)) / 2,

with n₀ the number of zero modes of the Hessian at each point. In ``ln τ = a + k ln T + ΔE/T``
the model is linear in (a, k, ΔE). Each temperature's ln τ̂ comes from a censored exponential MLE
with d escapes, whose variance is ≈ 1/d; the fits are weighted least squares with those known
variances, so χ² (and its p-value) is a goodness-of-fit test and the parameter covariance is
(XᵀWX)⁻¹, not rescaled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class LineFit:
    """Weighted least-squares fit of ln τ on a design matrix; ``params``/``cov`` in column order."""

    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    chi2: float
    dof: int
    r2: float

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.chi2, self.dof)) if self.dof > 0 else math.nan

    def value(self, name: str) -> float:
        return float(self.params[self.names.index(name)])

    def ci(self, name: str, level: float = 0.95) -> tuple[float, float]:
        i = self.names.index(name)
        half = stats.norm.ppf(0.5 + level / 2) * math.sqrt(self.cov[i, i])
        return float(self.params[i] - half), float(self.params[i] + half)


def wls(columns: dict[str, np.ndarray], y, weights, offset=None) -> LineFit:
    """Weighted least squares ``y - offset ≈ Σ_j p_j · column_j`` with known variances 1/weights."""
    names = tuple(columns)
    x = np.column_stack([np.asarray(columns[n], float) for n in names])
    y = np.asarray(y, float) - (0.0 if offset is None else np.asarray(offset, float))
    w = np.asarray(weights, float)
    xtw = x.T * w
    cov = np.linalg.inv(xtw @ x)
    params = cov @ (xtw @ y)
    resid = y - x @ params
    chi2 = float((w * resid**2).sum())
    ym = (w * y).sum() / w.sum()
    ss_tot = float((w * (y - ym) ** 2).sum())
    r2 = 1 - chi2 / ss_tot if ss_tot > 0 else math.nan
    return LineFit(names, params, cov, chi2, len(y) - len(names), float(r2))


def arrhenius_fit(temps, ln_tau, events) -> LineFit:
    """Plain Arrhenius ``ln τ = a + ΔE/T``: the apparent barrier and its R²."""
    temps = np.asarray(temps, float)
    return wls({"a": np.ones_like(temps), "delta_e": 1 / temps}, ln_tau, events)


def kramers_fit(temps, ln_tau, events, delta_e: float | None = None) -> LineFit:
    """Kramers–Langer ``ln τ = a + k ln T + ΔE/T``: free (a, k, ΔE), or with ΔE fixed at a given
    barrier (then only a and k are fitted and χ² tests the barrier)."""
    temps = np.asarray(temps, float)
    cols = {"a": np.ones_like(temps), "k": np.log(temps)}
    if delta_e is None:
        return wls({**cols, "delta_e": 1 / temps}, ln_tau, events)
    return wls(cols, ln_tau, events, offset=delta_e / temps)


def zero_mode_exponent(n_zero_trap: int, n_zero_saddle: int) -> float:
    """The prefactor's power of T: k = (n₀(saddle) − n₀(trap)) / 2."""
    return (n_zero_saddle - n_zero_trap) / 2


def lr_model_comparison(lrs, ln_tau=None, events=None) -> dict[str, float]:
    """What ln τ over a learning-rate sweep can tell (T_eff ∝ lr): R² of ln τ linear in 1/lr
    (Arrhenius), linear in ln lr (a power law, e.g. a deterministic time ∝ 1/lr), and both.

    Without data (``ln_tau=None``) it fits a pure power law τ ∝ 1/lr, giving the R² that such
    deterministic times reach in the paper's Arrhenius axes.
    """
    lrs = np.asarray(lrs, float)
    if ln_tau is None:
        ln_tau = -np.log(lrs)
    w = np.ones_like(lrs) if events is None else np.asarray(events, float)
    one = np.ones_like(lrs)
    out = {
        "r2_arrhenius": wls({"a": one, "inv_lr": 1 / lrs}, ln_tau, w).r2,
        "r2_power_law": wls({"a": one, "ln_lr": np.log(lrs)}, ln_tau, w).r2,
    }
    if len(lrs) > 3:
        out["r2_both"] = wls({"a": one, "inv_lr": 1 / lrs, "ln_lr": np.log(lrs)}, ln_tau, w).r2
    return out


__all__ = ["LineFit", "wls", "arrhenius_fit", "kramers_fit", "zero_mode_exponent", "lr_model_comparison"]
