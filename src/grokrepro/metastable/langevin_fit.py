"""Fits of a Langevin temperature sweep (Fig 2b): τ per temperature, Arrhenius, Kramers–Langer.

* τ per temperature and threshold: censored exponential MLE with the exact Poisson interval
  (:func:`fitting.rate_mle`), times in steps; the exponential check is :func:`fitting.exp_gof`.
* Plain Arrhenius ``ln τ = a + ΔE/T`` (apparent barrier, R²); Kramers–Langer ``ln τ = a + k ln T + ΔE/T``
  free (ΔE, k with CIs) and with ΔE fixed at the theory barrier (fitted k, χ², p); k predicted from
  the Hessians' zero-mode counts, (n₀(saddle) − n₀(trap)) / 2.
* Discretisation: τ·lr at lr·factor over τ·lr at lr, at one temperature (1 within CI: no step-size bias).
"""
from __future__ import annotations

import math

import numpy as np

from ..numbers import Row
from .fitting import exp_gof, rate_mle
from .kramers import arrhenius_fit, kramers_fit, zero_mode_exponent


def fit_sweep(out: dict, n_boot: int = 200) -> dict:
    """Per-temperature rates (every threshold) and the fits on the headline threshold's τ."""
    temps, budget = np.asarray(out["temps"], float), float(out["budget"])
    n_thr = out["escape"].shape[1]
    tau = np.full((len(temps), n_thr, 3), math.nan)
    events = np.zeros((len(temps), n_thr), int)
    gof = np.full(len(temps), math.nan)
    weib = np.full((len(temps), 3), math.nan)
    for i, t in enumerate(temps):
        at = np.isclose(out["T"], t)
        for k in range(n_thr):
            times, cens = np.nan_to_num(out["escape"][at, k], nan=budget), out["censored"][at, k]
            r = rate_mle(times, cens, budget)
            tau[i, k] = (r.tau, 1 / r.rate_high, math.inf if r.rate_low == 0 else 1 / r.rate_low)
            events[i, k] = r.events
        weib[i] = weibull_shape(np.nan_to_num(out["escape"][at, 0], nan=budget), out["censored"][at, 0], budget)
        if events[i, 0] >= 2:
            gof[i] = exp_gof(np.nan_to_num(out["escape"][at, 0], nan=budget), out["censored"][at, 0], budget,
                             n_boot=n_boot)[1]
    has = events[:, 0] > 0
    ln_tau, ev, th = np.log(tau[has, 0, 0]), events[has, 0], temps[has]
    barrier = float(out["theory_barrier"])
    k_pred = zero_mode_exponent(int(out["zero_modes_trap"]), int(out["zero_modes_saddle"]))
    fits = {"arrhenius": arrhenius_fit(th, ln_tau, ev) if has.sum() >= 2 else None,
            "free": kramers_fit(th, ln_tau, ev) if has.sum() >= 4 else None,
            "fixed": kramers_fit(th, ln_tau, ev, delta_e=barrier) if has.sum() >= 3 else None}
    return {"temps": temps, "ratios": np.asarray(out["ratios"], float), "tau": tau, "events": events,
            "n": np.array([int(np.isclose(out["T"], t).sum()) for t in temps]), "gof_p": gof, "weibull_k": weib,
            "fits": fits,
            "barrier": barrier, "k_predicted": k_pred, "budget": budget, "lr": float(out["lr"]),
            "beta": float(out["beta"]), "relaxation_steps": float(out["relaxation_steps"]),
            "fractions": np.asarray(out["fractions"], float), "zero_modes": (int(out["zero_modes_trap"]),
                                                                            int(out["zero_modes_saddle"])),
            "discretisation": discretisation(out), "back": back_rates(out, tau[:, 0])}


def back_rates(out: dict, tau_escape: np.ndarray) -> dict | None:
    """Where the escaped state lies above the trap (the sweep timed the way back): per temperature
    the return time (censored-exponential MLE, exact Poisson interval) and the fraction of time spent
    escaped, τ_back / (τ_escape + τ_back) (an alternating renewal process), with bounds from the two
    intervals' extremes."""
    if "back_escape" not in out:
        return None
    temps, budget = np.asarray(out["temps"], float), float(out["back_budget"])
    back = np.full((len(temps), 3), math.nan)
    frac = np.full((len(temps), 3), math.nan)
    events = np.zeros(len(temps), int)
    for i, t in enumerate(temps):
        at = np.isclose(out["T"], t)
        r = rate_mle(np.nan_to_num(out["back_escape"][at], nan=budget), out["back_censored"][at], budget)
        back[i] = (r.tau, 1 / r.rate_high, math.inf if r.rate_low == 0 else 1 / r.rate_low)
        events[i] = r.events
        (f, f_lo, f_hi), (b, b_lo, b_hi) = tau_escape[i], back[i]
        frac[i] = (1 / (1 + f / b), 1 / (1 + f_hi / b_lo), 1 / (1 + f_lo / b_hi))  # 1 where no replica returned
    return {"tau": back, "events": events, "fraction": frac, "budget": budget}


def discretisation(out: dict) -> tuple[float, float, float]:
    """(ratio, low, high) of the escape time in time units (lr × steps) at lr·factor over that at lr."""
    f, budget = float(out["disc_lr_factor"]), float(out["budget"])
    fine = rate_mle(np.nan_to_num(out["disc_fine_escape"][:, 0], nan=budget / f),
                    np.isnan(out["disc_fine_escape"][:, 0]), budget / f)
    ref = rate_mle(np.nan_to_num(out["disc_ref_escape"][:, 0], nan=budget), np.isnan(out["disc_ref_escape"][:, 0]),
                   budget)
    if fine.events == 0 or ref.events == 0:
        return (math.nan, math.nan, math.nan)
    ratio = (f * fine.tau) / ref.tau
    half = 1.96 * math.sqrt(1 / fine.events + 1 / ref.events)  # ln τ̂ has variance ≈ 1/d
    return (ratio, ratio * math.exp(-half), ratio * math.exp(half))


def fit_rows(name: str, fit: dict) -> list[Row]:
    """The numbers rows of one Langevin sweep (names fixed by the issue)."""
    tag, rows = f"sweep={name}", []
    for i, t in enumerate(fit["temps"]):
        v, lo, hi = fit["tau"][i, 0]
        d, n = int(fit["events"][i, 0]), int(fit["n"][i])
        v2 = fit["tau"][i, 1:, 0]
        rows.append(Row(f"tau[{tag},T={t:.4g}]", float(v), float(lo), float(hi), None, None, "n/a",
                        (f"DeltaE/T={fit['ratios'][i]:g}; steps to cross the saddle; {d}/{n} escaped within "
                         f"{fit['budget']:g}" + ("" if d else " - lower bound (budget)")
                         + f"; other thresholds (fractions {fit['fractions'][1:].tolist()}): "
                         + ", ".join(f"{x:.4g}" for x in v2)
                         + f"; exp GOF p={fit['gof_p'][i]:.2g}; relaxation 1/(lr beta)={fit['relaxation_steps']:g}")))
        rows.append(weibull_row(f"weibull_k[{tag},T={t:.4g}]", fit["weibull_k"][i]))
    finite = fit["tau"][fit["events"][:, 0] > 0, 0, 0]
    span = float(np.log10(finite.max() / finite.min())) if finite.size >= 2 else math.nan
    rows.append(Row(f"tau_span_decades[{tag}]", span, None, None, None, None, "n/a",
                    "log10 of the largest finite tau over the smallest"))
    if fit.get("back") is not None:
        rows += back_rows(tag, fit)
    rows += _fit_rows(tag, fit)
    return rows


def _fit_rows(tag: str, fit: dict) -> list[Row]:
    ar, free, fixed = fit["fits"]["arrhenius"], fit["fits"]["free"], fit["fits"]["fixed"]
    bt, kp = fit["barrier"], fit["k_predicted"]
    rows = [Row(f"barrier_theory[{tag}]", None, None, None, None, bt, "n/a",
                f"f(lambda_sad) - f(0) of the unlearned feature at beta={fit['beta']} (exact-moment data)"),
            Row(f"zero_modes_trap[{tag}]", fit["zero_modes"][0], note="Hessian zero modes at the rank-1 trap"),
            Row(f"zero_modes_saddle[{tag}]", fit["zero_modes"][1], note="Hessian zero modes at the saddle"),
            Row(f"kramers_k_predicted[{tag}]", kp, note="(n0(saddle) - n0(trap)) / 2")]
    if ar is not None:
        rows += [Row(f"arrhenius_delta_e[{tag}]", ar.value("delta_e"), *ar.ci("delta_e"), None, bt, "n/a",
                     "apparent barrier: weighted LSQ of ln tau on 1/T (weights = events)"),
                 Row(f"arrhenius_r2[{tag}]", ar.r2, note="weighted R^2 of the plain Arrhenius line")]
    if fixed is not None:
        kf = fixed.value("k")
        rows.append(Row(f"kramers_k_fitted[{tag}]", kf, *fixed.ci("k"), None, kp,
                        "agrees" if fixed.ci("k")[0] <= kp <= fixed.ci("k")[1] else "deviates",
                        f"k of ln tau = a + k ln T + DeltaE_theory/T; predicted {kp:g} "
                        f"({'above' if kf > kp else 'below'})"))
        p = fixed.p_value
        rows.append(Row(f"kramers_fixed_p[{tag}]", p, None, None, None, 0.05, "agrees" if p > 0.05 else "deviates",
                        f"chi2={fixed.chi2:.3g} on {fixed.dof} dof of the fit with DeltaE fixed at the theory barrier"))
    if free is not None:
        de, (lo, hi) = free.value("delta_e"), free.ci("delta_e")
        inside = lo <= bt <= hi
        rows.append(Row(f"kramers_free_delta_e[{tag}]", de, lo, hi, None, bt, "agrees" if inside else "deviates",
                        f"free fit ln tau = a + k ln T + DeltaE/T (k={free.value('k'):.3g} "
                        f"[{free.ci('k')[0]:.3g}, {free.ci('k')[1]:.3g}]); theory "
                        + ("inside the 95% CI" if inside else ("below" if bt < lo else "above") + " the 95% CI")))
    r, lo, hi = fit["discretisation"]
    rows.append(Row(f"discretisation_ratio[{tag}]", r, lo, hi, None, 1.0,
                    "n/a" if not np.isfinite(r) else ("agrees" if lo <= 1 <= hi else "deviates"),
                    "escape time in time units (lr x steps) at lr/2 over that at lr, at one DeltaE/T"))
    return rows


def back_rows(tag: str, fit: dict) -> list[Row]:
    """Return time from the escaped state and the fraction of time spent there, per temperature."""
    rows, back = [], fit["back"]
    for i, t in enumerate(fit["temps"]):
        v, lo, hi = back["tau"][i]
        d, n = int(back["events"][i]), int(fit["n"][i])
        rows.append(Row(f"return_time[{tag},T={t:.4g}]", float(v), float(lo), float(hi), None, None, "n/a",
                        f"steps from the constructed escaped state (weak feature learned) until its sigma falls back "
                        f"past the saddle; {d}/{n} returned within {back['budget']:g}; the reverse barrier is "
                        "f(lambda_sad) - f(lambda**), smaller than the forward one"))
        f, f_lo, f_hi = back["fraction"][i]
        rows.append(Row(f"fraction_escaped[{tag},T={t:.4g}]", float(f), float(f_lo), float(f_hi), None, None, "n/a",
                        "long-run fraction of time in the escaped state, tau_back / (tau_escape + tau_back) (two-state "
                        "renewal estimate from the measured times; bounds from their intervals)"))
    return rows


def weibull_row(quantity: str, k) -> Row:
    """The memorylessness check of one temperature: agrees when the Weibull shape's 95% CI holds 1."""
    v, lo, hi = (float(x) for x in k)
    if not math.isfinite(v):
        return Row(quantity, None, None, None, None, 1.0, "n/a", "fewer than 3 escapes: no Weibull fit")
    inside = lo <= 1.0 <= hi
    side = "" if inside else (" (k > 1: escape waits, ageing)" if lo > 1 else " (k < 1: a mixture of rates)")
    return Row(quantity, v, lo, hi, None, 1.0, "agrees" if inside else "deviates",
               "shape k of a censored Weibull fit (lifelines), 95% CI; k = 1 is memoryless (exponential)" + side)


def weibull_shape(times: np.ndarray, censored: np.ndarray, budget: float) -> tuple[float, float, float]:
    """Shape k of a censored Weibull fit S(t) = exp(−(t/λ)^k) (lifelines' ``WeibullFitter``) with its
    95% interval: k = 1 is the exponential (memoryless) law, k > 1 an escape that waits (ageing),
    k < 1 a mixture of rates. Censored runs enter at ``budget``; NaNs where fewer than 3 escaped."""
    from lifelines import WeibullFitter  # heavy import; only here

    cens = np.asarray(censored, bool)
    if (~cens).sum() < 3:
        return (math.nan, math.nan, math.nan)
    t = np.where(cens, budget, np.asarray(times, float))
    wf = WeibullFitter().fit(np.maximum(t, 1e-9), event_observed=~cens)
    row = wf.summary.loc["rho_"]
    return (float(wf.rho_), float(row["coef lower 95%"]), float(row["coef upper 95%"]))
