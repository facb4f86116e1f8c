"""Figures 2a (the barrier) and 2b (Arrhenius plot) of Study A, with their numbers."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import style
from ..io import load_npz
from ..engine import Data, DeepLinear
from ..numbers import Row, judge
from . import theory, trap
from .arrhenius import flat_objective
from .fitting import survival
from .divergence import diverged_row, mark_diverged, not_drawn
from .rows import paper as claimed, value_and_error


PAPER_BETA = 0.32  # the paper's text and appendix: Fig 2a's landscape at beta = 0.32


def network_path(model: DeepLinear, train: dict, beta: float, feature: int, lams) -> np.ndarray:
    """Training objective along the balanced path: feature ``feature`` at λ, the others at their
    learned λ** (if they have one at β) — measured on the network, relative to λ = 0."""
    data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"]}, "cpu", torch.float64)
    eta, _, _, s = trap.feature_frames(train["x"], train["y"])
    base = np.array([theory.stationary_points(e / sk, beta / sk, model.depth).learned for e, sk in zip(eta, s)])
    base = np.nan_to_num(base)
    fn = flat_objective(model, data, beta)
    vals = []
    k = len(eta)
    for lam in lams:
        lam_vec = base.copy()
        lam_vec[feature] = lam
        params, _ = trap.constructed(model, train["x"], train["y"], (True,) * k, beta, [0], lambdas=lam_vec)
        vals.append(float(fn(torch.cat([p[0].flatten() for p in params]))))
    vals = np.array(vals)
    return vals - vals[0]


def load_fits(paths) -> dict[str, dict]:
    """Fit files ``.../<sweep>.npz``, by sweep name."""
    return {Path(f).stem: load_npz(f)[0] for f in paths}


def fig2a(train: dict, betas, eta: float, depth: int, width: int):
    """The per-feature landscape at each β (theory) and the network's objective along the balanced
    path (measured on the training set): ``(fig, rows)``."""
    style.apply()
    model = DeepLinear((train["x"].shape[1], *([width] * (depth - 1)), train["y"].shape[1]))
    eta_hat, _, _, s = trap.feature_frames(train["x"], train["y"])
    k = int(np.argmin(np.abs(eta_hat - eta)))  # the training set's feature closest to eta
    lam_n = np.linspace(0, 0.6, 61)
    # the network, on the training data, along the balanced path of the closest feature
    paths = {b: network_path(model, train, b, k, lam_n) for b in betas}
    fig, (ax, axn) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    lam = np.linspace(0, 0.6, 301)
    for i, b in enumerate(betas):
        c = style.PALETTE[i]
        ls = "-" if i == len(betas) // 2 else ":"
        f = theory.f(lam, eta, b, depth) - theory.f(0.0, eta, b, depth)
        ax.plot(lam, f, ls, color=c, lw=1.6, label=rf"$\beta$={b}" + (" (the paper's)" if b == PAPER_BETA else ""))
        st = theory.stationary_points(eta, b, depth)
        for x, mk in ((st.saddle, "o"), (st.learned, "s")):
            if math.isfinite(x):
                ax.plot([x], [theory.f(x, eta, b, depth) - theory.f(0, eta, b, depth)], mk, color=c, ms=5)
        if math.isfinite(st.saddle):
            de = theory.barrier(eta, b, depth)
            ax.annotate(rf"$\Delta E$={de:.4f}", (st.saddle, de), textcoords="offset points", xytext=(4, 4),
                        fontsize=7, color=c)
        axn.plot(lam_n, paths[b], "o", ms=2.5, color=c, label=rf"network, $\beta$={b}")
        e, sk = eta_hat[k] / s[k], s[k]
        axn.plot(lam_n, sk * (theory.f(lam_n, e, b / sk, depth) - theory.f(0, e, b / sk, depth)), "-", color=c,
                 lw=1, alpha=0.8, label="train-set theory" if i == len(betas) - 1 else None)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xlabel(r"$\lambda$")
    ax.set_ylabel(r"$f(\lambda) - f(0)$")
    ax.set_title(f"theory, population $\\eta$={eta}, L={depth}", fontsize=9)
    ax.plot([], [], "o", color="0.4", ms=5, label=r"saddle (barrier $\Delta E$)")
    ax.plot([], [], "s", color="0.4", ms=5, label="learned minimum")
    ax.legend(fontsize=8)
    axn.axhline(0, color="0.5", lw=0.6)
    axn.set_xlabel(r"$\lambda$ of the train-set feature")
    axn.set_ylabel("training objective − value at λ=0")
    axn.set_title("network along the balanced path (dots) vs train-set theory (lines)", fontsize=9)
    axn.legend(fontsize=7)
    fig.suptitle("Fig 2a: the barrier along the minimal-loss path", fontsize=10)
    return fig, numbers_fig2a(train, betas, eta, depth, lam_n, paths)


def numbers_fig2a(train: dict, betas, eta: float, depth: int, lam_n, paths: dict) -> list[Row]:
    """The network's path barrier at each β (``paths[β]`` on the grid ``lam_n``) beside train-set
    theory, and the paper's quoted landscape values against population theory at the middle β."""
    eta_hat, _, _, s = trap.feature_frames(train["x"], train["y"])
    k = int(np.argmin(np.abs(eta_hat - eta)))
    rows: list[Row] = []
    for b in betas:
        e, b_k = eta_hat[k] / s[k], b / s[k]
        bar_theory = s[k] * theory.barrier(e, b_k, depth)
        st_c = theory.stationary_points(e, b_k, depth)
        if math.isfinite(st_c.saddle):
            j = (lam_n > 0) & (lam_n < st_c.learned if math.isfinite(st_c.learned) else lam_n > 0)
            measured_barrier = float(paths[b][j].max()) if j.any() else math.nan
        else:
            measured_barrier = math.nan
        rows.append(Row(f"network_path_barrier[beta={b}]", measured_barrier, None, None, None, bar_theory, "n/a",
                        f"max of the network's training objective along the balanced path (61 points on [0, 0.6]) vs "
                        f"theory s*[f(lambda_sad)-f(0)] for the train-set feature eta_hat={eta_hat[k]:.3f}; a "
                        f"consistency check of the reduction, not an independent measurement: on balanced weights "
                        f"the objective equals the train-set landscape exactly (orthonormal u_k remove cross terms); "
                        f"the Newton-refined saddle of the full network is in Fig 2b's kramers rows; NaN: no saddle"))
    mid = betas[len(betas) // 2]
    st = theory.stationary_points(eta, mid, depth)
    quantity = f"lambda_sad[beta={mid},eta={eta}]"
    lam_sad = claimed("lambda_saddle", "2a", quantity)
    v, t = judge(lam_sad, st.saddle, rel_tol=0.1)
    rows.append(Row(quantity, None, None, None, lam_sad, st.saddle, v,
                    f"paper vs our theory ({t}); the paper's {lam_sad:g} is lambda** at beta=0.29 "
                    f"({theory.stationary_points(eta, 0.29, depth).learned:.3f}) - inconsistency #2"))
    rows.append(Row(f"lambda_learned[beta={mid},eta={eta}]", None, None, None, None, st.learned, "n/a",
                    "learned minimum lambda** from theory"))
    de = theory.barrier(eta, mid, depth)
    quantity = f"delta_e_min[beta={mid},eta={eta}]"
    de_min = claimed("barrier_from_trivial", "2a", quantity)
    v, t = judge(de_min, de, rel_tol=0.1)
    rows.append(Row(quantity, None, None, None, de_min, de, v,
                    f"paper's barrier vs f(lambda_sad)-f(0) from theory ({t}) - inconsistency #2"))
    gap = theory.learned_minus_trivial(eta, mid, depth)
    quantity = f"f_learned_minus_trivial[beta={mid},eta={eta}]"
    rows.append(Row(quantity, None, None, None, claimed("rank2_is_global", "2a", quantity), gap,
                    judge(gap, 0.0, bound="upper")[0],
                    "inconsistency #3: by the paper's own formula the learned state lies above the trivial one"))
    return rows


def fig2b(fits: dict[str, dict], points: dict[str, dict], langevin: dict[str, dict] | None = None):
    """The SGD lr sweeps' Arrhenius plot and survival curves, or with Langevin sweeps given
    (:func:`fig2b_langevin`) those: ``(fig, rows)``."""
    style.apply()
    if langevin:
        return fig2b_langevin(fits, points, langevin)
    fig, axes = plt.subplots(2, len(fits), figsize=(5.4 * len(fits), 7.0), squeeze=False)
    rows: list[Row] = []
    for col, (name, f) in enumerate(fits.items()):
        ax, axs = axes[0, col], axes[1, col]
        x = f["inv_T"]
        has = f["events"] > 0
        y = np.log(np.where(has, f["tau"], np.nan))
        lo = np.log(f["tau_low"])
        hi = np.log(np.where(np.isfinite(f["tau_high"]), f["tau_high"], np.nan))
        if has.any():
            ax.errorbar(x[has], y[has], yerr=[y[has] - lo[has], np.nan_to_num(hi[has] - y[has])], fmt="o",
                        color=style.PALETTE[0], capsize=3, label="MLE τ, 95% CI")
        if (~has).any():  # no escape: τ is only bounded below by the exact Poisson interval
            ax.plot(x[~has], lo[~has], "^", ms=8, color=style.PALETTE[3],
                    label="no escape: τ above this (95% bound)")
        if np.isfinite(float(f["arrhenius_delta_e"])):
            xx = np.linspace(x.min(), x.max(), 50)
            ax.plot(xx, float(f["arrhenius_ln_tau0"]) + float(f["arrhenius_delta_e"]) * xx, "-", color="0.3",
                    label=f"fit: ΔE_eff={float(f['arrhenius_delta_e']):.3g}, R²={float(f['arrhenius_r2']):.3f}")
        else:
            ax.text(0.03, 0.05, f"no fit: {int(f['arrhenius_points'])} temperature(s) with escapes",
                    transform=ax.transAxes, fontsize=8)
        pt = points[name]
        ax.set_xlabel(r"$1/T_{eff} = B\,C/\eta_{lr}$")
        ax.set_ylabel(r"$\ln \tau$ (epochs)")
        ax.set_title(f"{name}: $\\beta$={pt['beta']}, C={float(f['C']):.3g}", fontsize=9)
        ax.legend(fontsize=7)
        _draw_survival(axs, f)
        axs.set_xscale("log")
        axs.set_yscale("log")
        axs.set_ylim(0.01, 1.5)
        axs.set_xlabel("epoch + 1")
        axs.set_ylabel("fraction not escaped")
        axs.legend(fontsize=7)
        rows += numbers_fig2b(name, f, pt)
    fig.suptitle("Fig 2b: escape time vs effective temperature (top); survival per temperature (bottom)", fontsize=10)
    return fig, rows


def fig2b_langevin(fits: dict[str, dict], points: dict[str, dict], langevin: dict[str, dict]):
    """Fig 2b with Langevin sweeps: one panel per sweep; the SGD lr sweep as one line of text each."""
    from .kramers import lr_model_comparison

    fig, axes = plt.subplots(1, len(langevin), figsize=(6.4 * len(langevin), 5.6), squeeze=False)
    rows: list[Row] = []
    for name, f in fits.items():
        rows += numbers_fig2b(name, f, points[name])
    pl = lr_model_comparison(fits["paper"]["lrs"])["r2_arrhenius"] if "paper" in fits else math.nan
    for col, (name, fit) in enumerate(langevin.items()):
        ax = axes[0, col]
        draw_langevin(ax, name, fit)
        if name in fits:
            f = fits[name]
            ax.text(0.0, -0.2, f"SGD at the paper's lr = {', '.join(f'{x:g}' for x in f['lrs'])} (B=64):\nnot "
                    f"testable - the trap is absorbing under SGD, {int(np.sum(f['events']))} of {int(np.sum(f['n']))}"
                    f" escaped in {float(f['budget']):g} epochs", transform=ax.transAxes, fontsize=7.5, va="top")
    rows = langevin_and_sgd_rows(langevin, rows)
    if "paper" in fits:
        rows.append(Row("power_law_r2_in_arrhenius_axes[sweep=paper]", pl, None, None, None, None, "n/a",
                        "R^2 of ln tau on 1/lr when tau is a pure power law 1/lr (deterministic, no barrier) over "
                        "the paper's five lrs: what an R^2 of 0.991 in the paper's axes cannot exclude"))
        axes[0, 0].text(0.0, -0.33, f"a pure power law τ ∝ 1/lr over those five lrs reaches R² = {pl:.3f}\nin "
                        "the paper's Arrhenius axes (ln τ vs 1/lr)", transform=axes[0, 0].transAxes, fontsize=7.5,
                        va="top")
    fig.suptitle("Fig 2b: escape time from the rank-1 trap under Langevin noise (isotropic; a substitute noise model),"
                 " exact-moment data, T = ΔE/ratio", fontsize=10)
    fig.subplots_adjust(bottom=0.33, top=0.88, wspace=0.25)
    return fig, rows


def _draw_survival(axs, f: dict) -> None:
    """Survival curve of each temperature of a fitted sweep, without its diverged replicas."""
    budget = float(f["budget"])
    grid = np.unique(np.concatenate([[0.0, budget], np.nan_to_num(f["escape_times"], nan=0.0)]))
    diverged = _diverged(f)
    for i, lr in enumerate(f["lrs"]):
        sel = (f["lr"] == lr) & ~diverged
        n_bad = int(((f["lr"] == lr) & diverged).sum())
        if sel.any():
            axs.step(grid + 1, survival(f["escape_times"][sel], f["censored"][sel], budget, grid), where="post",
                     color=style.PALETTE[i % len(style.PALETTE)],
                     label=f"lr={lr:g}: {int(f['events'][i])}/{int(f['n'][i])}"
                     + (f" ({not_drawn(n_bad, n_bad + int(sel.sum()))})" if n_bad else ""))
        else:
            axs.plot([], [], " ", label=f"lr={lr:g}: {not_drawn(n_bad, n_bad)}")
    if diverged.all():  # nothing drawn: fix the log axis' range instead
        axs.set_xlim(1, budget + 1)


def _diverged(f: dict) -> np.ndarray:
    """(R,) replicas of a fitted temperature sweep that diverged (none in fits made before that was recorded)."""
    return np.asarray(f.get("diverged", np.zeros(len(f["lr"]), bool)), dtype=bool)


def numbers_fig2b(name: str, f: dict, pt: dict) -> list[Row]:
    """Rates per temperature, the Arrhenius fit against the paper, the noise scale and the
    Kramers–Langer barrier of one temperature sweep."""
    tag = f"sweep={name}"
    rows = []
    budget = float(f["budget"])
    diverged = _diverged(f)
    for i, lr in enumerate(f["lrs"]):
        at = f["lr"] == lr
        n_bad, total = int((at & diverged).sum()), int(at.sum())
        rows += mark_diverged([Row(f"tau[{tag},lr={lr:g}]", float(f["tau"][i]), float(f["tau_low"][i]),
                                   float(f["tau_high"][i]), None, None, "n/a",
                                   f"MLE 1/rate (events {int(f['events'][i])}/{int(f['n'][i])}, "
                                   f"exposure {float(f['exposure'][i]):.4g} epochs, budget {budget:g}); exact "
                                   f"Poisson 95% CI; T_eff={float(f['T_eff'][i]):.3g}"),
                               Row(f"exp_gof_p[{tag},lr={lr:g}]", float(f["gof_p"][i]), None, None, None, None, "n/a",
                                   "parametric-bootstrap p-value of the KM-vs-exponential distance (small: not "
                                   "memoryless); empty when nothing escaped")], n_bad, total)
        rows += diverged_row(f"{tag},lr={lr:g}", n_bad, total)
    de, lo, hi = (float(f[k]) for k in ("arrhenius_delta_e", "arrhenius_delta_e_low", "arrhenius_delta_e_high"))
    stated = claimed("arrhenius_barrier", "2b", f"arrhenius_delta_e[{tag}]")
    paper_de, paper_err = value_and_error(stated) if stated is not None else (None, None)
    if math.isfinite(de):
        overlap = paper_de is not None and hi >= paper_de - paper_err and lo <= paper_de + paper_err
        verdict = ("agrees" if overlap else "deviates") if paper_de else "n/a"
        note = "weighted LSQ of ln tau on 1/T_eff over temperatures with escapes; 95% bootstrap over seeds"
    else:
        verdict = "deviates" if paper_de else "n/a"
        note = (f"no fit: only {int(f['arrhenius_points'])} temperature(s) had any escape within {budget:g} epochs "
                f"(a rate needs events); the trap's gradient noise along the escape direction is "
                f"C_escape={float(f['C_escape']):.2g}, i.e. SGD noise cannot push it out")
    r2 = float(f["arrhenius_r2"])
    paper_r2 = claimed("arrhenius_r2", "2b", f"arrhenius_r2[{tag}]")
    r2_verdict = judge(r2, 0.95, bound="lower")[0] if math.isfinite(r2) else "deviates"  # no fit: deviates
    rows += mark_diverged([Row(f"arrhenius_delta_e[{tag}]", de, lo, hi, paper_de, None, verdict, note),
                           Row(f"arrhenius_r2[{tag}]", r2, None, None, paper_r2, None,
                               r2_verdict if paper_r2 is not None else "n/a",
                               "weighted R^2 of the Arrhenius line (>= 0.95 agrees)")],
                          int(diverged.sum()), len(diverged))
    rows.append(Row(f"trap_phase_fraction[{tag}]", float(f["trap_phase_fraction"]), None, None, None, None, "n/a",
                    "fraction of the trap's checkpoints that are in the requested phase (annealing converged)"))
    rows.append(Row(f"noise_scale_C[{tag}]", float(f["C"]), float(np.min(f["C_trap"])), float(np.max(f["C_trap"])),
                    None, None, "n/a", "trace of the covariance of single-sample gradients at each seed's trapped "
                    "checkpoint (all D parameters), median and range over seeds; T_eff = lr/(B*C) as the paper "
                    "defines"))
    rows.append(Row(f"noise_scale_C_escape[{tag}]", float(f["C_escape"]), None, None, None, 0.0, "n/a",
                    "variance of single-sample gradients along the escape direction (the unlearned feature's balanced "
                    "mode) at the constructed trap: zero up to rounding, because every per-sample gradient at a "
                    "rank-j balanced state stays in the span of the learned hidden modes"))
    paper_kramers = None  # the paper's curvature/entropy claim joins the Langevin kramers_free_delta_e row
    if bool(f["kramers_exists"]):
        bt, bn = float(f["kramers_barrier_theory"]), float(f["kramers_barrier_network"])
        v, t = judge(bn, bt, rel_tol=0.05)
        rows.append(Row(f"barrier_theory[{tag}]", None, None, None, None, bt, "n/a",
                        f"s*[f(lambda_sad) - f(0)] of the train-set feature at beta={pt['beta']}"))
        rows.append(Row(f"kramers_delta_e_eff[{tag}]", bn, None, None, paper_kramers, bt, v,
                        f"objective(saddle) - objective(min) of the full {int(f['kramers_eig_min'].size)}-parameter "
                        f"network, both Newton-refined (|grad| {float(f['kramers_grad_norm_min']):.1g}, "
                        f"{float(f['kramers_grad_norm_saddle']):.1g}); {t} vs theory"))
        rows.append(Row(f"kramers_log_prefactor[{tag}]", float(f["kramers_log_prefactor"]), None, None, None, None,
                        "n/a", f"ln[2pi/|w_u| sqrt(prod|w_sad|/prod w_min)] over non-zero Hessian modes; "
                        f"{int(f['kramers_n_negative_saddle'])} negative mode(s) at the saddle; zero modes "
                        f"{int(f['kramers_n_zero_min'])} at the minimum vs {int(f['kramers_n_zero_saddle'])} at the "
                        f"saddle, so the Eq. 11 prefactor is not temperature-independent here"))
    else:
        rows.append(Row(f"kramers_delta_e_eff[{tag}]", None, None, None, paper_kramers, None, "n/a",
                        f"no saddle toward the next feature at beta={pt['beta']} for this training set "
                        f"(beta is above that feature's spinodal): nothing to escape to"))
    return rows


# --------------------------------------------------------------------------- Langevin sweeps (Fig 2b, top)
SGD_SUPERSEDED = ("arrhenius_delta_e", "arrhenius_r2", "barrier_theory")  # SGD rows the Langevin sweep's replace


def draw_langevin(ax, name: str, fit: dict) -> None:
    """ln τ (steps) vs ΔE/T with exact 95% CIs for every threshold, the Arrhenius and Kramers fits."""
    x = fit["ratios"]
    t = fit["temps"]
    for k, frac in enumerate(fit["fractions"]):
        v, lo, hi = (fit["tau"][:, k, j] for j in range(3))
        has = fit["events"][:, k] > 0
        off = 0.25 * k
        ax.errorbar(x[has] + off, np.log(v[has]), yerr=[np.log(v[has] / lo[has]),
                    np.log(np.where(np.isfinite(hi[has]), hi[has], v[has]) / v[has])], fmt="os"[k % 2],
                    ms=4, capsize=2, color=style.PALETTE[k], label="saddle crossing" if frac == 0 else
                    f"{frac:g} of the way saddle→learned")
        if (~has).any():
            ax.plot(x[~has] + off, np.log(lo[~has]), "^", color=style.PALETTE[3], label="none escaped: lower bound")
    xx = np.linspace(x.min(), x.max(), 60)
    tt = fit["barrier"] / xx
    ar, fixed, free = fit["fits"]["arrhenius"], fit["fits"]["fixed"], fit["fits"]["free"]
    if ar is not None:
        ax.plot(xx, ar.value("a") + ar.value("delta_e") / tt, "-", color="0.4",
                label=f"Arrhenius: ΔE_app={ar.value('delta_e'):.3g}, R²={ar.r2:.3f}")
    if fixed is not None:
        ax.plot(xx, fixed.value("a") + fixed.value("k") * np.log(tt) + fit["barrier"] / tt, "--", color="k",
                label=f"Kramers, ΔE=theory {fit['barrier']:.3g}: k={fixed.value('k'):.2g}, p={fixed.p_value:.2g}")
    if free is not None:
        lo, hi = free.ci("delta_e")
        ax.plot([], [], " ", label=f"free Kramers: ΔE={free.value('delta_e'):.3g} [{lo:.3g}, {hi:.3g}]")
    ax.plot([], [], " ", label=f"k predicted (zero modes {fit['zero_modes'][1]}−{fit['zero_modes'][0]})/2 = "
            f"{fit['k_predicted']:g}")
    ax.set_xlabel(r"$\Delta E_{theory}/T$" + f"  (T = {t[0]:.2g} … {t[-1]:.2g})")
    ax.set_ylabel(r"$\ln \tau$ (steps)")
    ax.set_title(f"{name}: β={fit['beta']:g}, lr={fit['lr']:g}, full batch, {int(fit['n'][0])} seeds/T, "
                 f"budget {fit['budget']:.0e} steps", fontsize=9)
    ax.legend(fontsize=6.5, loc="upper left")


def langevin_and_sgd_rows(langevin: dict[str, dict], sgd_rows: list[Row]) -> list[Row]:
    """The Langevin rows (with the paper's Arrhenius claims joined) and the SGD rows they do not replace."""
    from .langevin_fit import fit_rows

    rows = []
    for name, fit in langevin.items():
        for r in fit_rows(name, fit):
            if r.quantity == f"arrhenius_delta_e[sweep={name}]":
                stated = claimed("arrhenius_barrier", "2b", r.quantity)
                if stated is not None:
                    pv, pe = value_and_error(stated)
                    r.paper = pv
                    ok = r.ci_high >= pv - pe and r.ci_low <= pv + pe
                    r.verdict = "agrees" if ok else "deviates"
                    r.note += (f"; paper {stated} (lr sweep under SGD): ours is "
                               + ("consistent" if ok else ("lower" if r.ci_high < pv - pe else "higher"))
                               + " - our T is the Langevin temperature, the paper's T_eff = lr/(B C) rests on SGD "
                               "noise that is zero along the escape direction, and the T^k prefactor (k > 0) lowers "
                               "the apparent barrier below DeltaE")
            if r.quantity == f"arrhenius_r2[sweep={name}]":
                stated = claimed("arrhenius_r2", "2b", r.quantity)
                if stated is not None:
                    r.paper = float(stated)
                    r.verdict = judge(r.measured, 0.95, bound="lower")[0]
                    r.note += f"; paper {stated}; >= 0.95 agrees"
            if r.quantity == f"kramers_free_delta_e[sweep={name}]":
                stated = claimed("barrier_from_landscape_curvature", "2b", r.quantity)
                r.paper = value_and_error(stated)[0] if stated is not None else None
            rows.append(r)
    taken = {r.quantity for r in rows}
    return rows + [r for r in sgd_rows if r.quantity not in taken]
