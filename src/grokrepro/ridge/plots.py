"""Figures and numbers tables of Study C (one function per figure rule; its script calls it).

Every figure shows seeds as bands (10-90 % quantiles over seeds) around the median; Eq. 8 bounds
are dashed. Every ``fig_*`` function takes the loaded training results and the rule's parameters
and returns ``(fig, rows)``: the matplotlib figure and the :class:`~grokrepro.numbers.Row` list
the figure stands for. It never saves (the script does, with :func:`grokrepro.style.save_figure`).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from .. import claims, style
from ..numbers import Row, bootstrap_median_ci, judge

LABELS = {"lam": r"weight decay $\lambda$", "n": r"samples $n$", "m": r"features $m$", "nu2": r"init variance $\nu^2$"}
C1, C2 = style.PALETTE[0], style.PALETTE[3]


def paper(claim_id):
    """The paper's value of one claim in ``claims/ridge.yaml``."""
    return claims.paper("ridge", claim_id)


Q = (0.1, 0.9)  # the seed band of every figure


def median_row(name, values, paper=None, note=""):
    med, lo, hi = bootstrap_median_ci(values)
    frac = float(np.mean(np.isfinite(np.asarray(values, float))))
    extra = "" if frac == 1 else f"; {1 - frac:.0%} of runs never crossed"
    return Row(name, med, lo, hi, paper=paper, note=f"median over {len(values)} seeds, 95% bootstrap CI{extra}{note}")


def loglog_slope(x, Y, n_boot=2000, seed=0):
    """Least-squares slope of log Y against log x over all (value, seed) points, with a
    bootstrap CI that resamples seeds (columns of Y). Points with Y ≤ 0 or NaN are dropped."""
    x = np.asarray(x, float)
    Y = np.asarray(Y, float)

    def fit(Yb):
        xx = np.repeat(np.log(x), Yb.shape[1])
        yy = Yb.reshape(-1)
        ok = np.isfinite(yy) & (yy > 0)
        if ok.sum() < 3:
            return math.nan
        return float(np.polyfit(xx[ok], np.log(yy[ok]), 1)[0])

    s = fit(Y)
    rng = np.random.default_rng(seed)
    boots = [fit(Y[:, rng.integers(0, Y.shape[1], Y.shape[1])]) for _ in range(n_boot)]
    boots = np.array([b for b in boots if np.isfinite(b)])
    if boots.size == 0:
        return s, math.nan, math.nan
    return s, float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def slope_row(name, x, Y, ref, tol, paper=None, what=""):
    s, lo, hi = loglog_slope(x, Y)
    verdict, note = judge(s, ref, abs_tol=tol)
    return Row(name, s, lo, hi, paper=paper, theory=ref, verdict=verdict,
               note=f"least-squares slope over all seeds, seed-bootstrap 95% CI; {note}{what}")


# ------------------------------------------------------------------------------------------
def _curves_ax(ax, steps, train, test, t1, t2, eps, c, title):
    x = np.maximum(steps, 1)
    style.band(ax, x, np.asarray(train).T, C1, "train loss", q=Q)
    style.band(ax, x, np.asarray(test).T, C2, "test loss", q=Q)
    ax.axhline(eps, color="0.4", lw=0.8, ls=":")
    for t, col in ((t1, C1), (t2, C2)):
        med = np.nanmedian(t)
        if np.isfinite(med):
            ax.axvline(max(med, 1), color=col, lw=0.8, ls="--")
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="loss", title=title)
    lo = min(np.nanmin(train), np.nanmin(test))
    if lo < 1e-12:  # exact zero teacher: losses decay to 0; show 12 decades below the threshold
        ax.set_ylim(1e-12 * eps, 10 * max(np.nanmax(train), np.nanmax(test)))
    ax.legend(loc="lower left", fontsize=8)


def fig_1(ridge, relu, p):
    """Fig. 1: ridge regression (left) and the two-layer ReLU network (right) on the zero teacher."""
    style.apply()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    _curves_ax(axes[0], ridge["steps"], ridge["train"][0], ridge["test"][0], ridge["t1"][0], ridge["t2"][0],
               p["eps"], p["c"], f"ridge regression ({len(ridge['seeds'])} runs)")
    _curves_ax(axes[1], relu["steps"], relu["train"].T, relu["test"].T, relu["t1"], relu["t2"],
               p["eps"], p["c"], f"two-layer ReLU ({len(relu['t1'])} runs)")
    rows = [median_row("ridge_t1_median", ridge["t1"][0]), median_row("ridge_t2_median", ridge["t2"][0]),
            median_row("relu_net_t1_median", relu["t1"]), median_row("relu_net_t2_median", relu["t2"])]
    gap = ridge["t2"][0] / np.maximum(ridge["t1"][0], 1)
    rows.append(Row("ridge_fraction_grokking", float(np.mean(gap > 10)), note="fraction of runs with t2 > 10 t1"))
    return fig, rows


def _sweep_axes(axes, S, grids, bounds=True):
    for ax, name in zip(axes, grids):
        x = S[f"{name}__values"]
        style.band(ax, x, S[f"{name}__t1"], C1, r"$t_1$", q=Q)
        style.band(ax, x, S[f"{name}__t2"], C2, r"$t_2$", q=Q)
        if bounds and f"{name}__t1_bound" in S:
            ax.plot(x, np.nanmedian(S[f"{name}__t1_bound"], 1), "--", color=C1, lw=1.2, label=r"$t_1$ bound")
            b2 = np.nanmedian(S[f"{name}__t2_bound"], 1)
            ax.plot(x[b2 > 0], b2[b2 > 0], "--", color=C2, lw=1.2, label=r"$t_2$ bound")
        ax.set(xscale="log", yscale="log", xlabel=LABELS[name])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylabel("steps")
    axes[0].legend(fontsize=8, loc="best")


def _bound_rows(S, grids, eta):
    rows = []
    for which, op in (("t1", np.less_equal), ("t2", np.greater_equal)):
        ok, tot = 0, 0
        for name in grids:
            vals = S[f"{name}__values"]
            lam = vals if name == "lam" else np.full(len(vals), np.nan)
            for i in range(len(vals)):
                if name == "lam" and eta * lam[i] > 0.01:
                    continue  # Eq. 8 holds for ηλ ≤ 0.01 only
                m, b = S[f"{name}__{which}"][i], S[f"{name}__{which}_bound"][i]
                good = op(np.nan_to_num(m, nan=np.inf), b)
                ok += int(good.sum())
                tot += good.size
        frac = ok / max(tot, 1)
        verdict = "agrees" if frac == 1 else "deviates"
        side = "upper" if which == "t1" else "lower"
        rows.append(Row(f"frac_{which}_within_bound", frac, paper=paper(f"eq8_{which}_{side}_bound_over_sweeps"),
                        theory=1.0, verdict=verdict,
                        note=f"{ok}/{tot} runs over all sweep points with ηλ ≤ 0.01 satisfy the Eq. 8 {side} bound"))
    return rows


def fig_2(S, engine, p):
    """Fig. 2: t1, t2 against λ, n, m, ν² (identity features) with the Eq. 8 bounds dashed."""
    style.apply()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids), figsize=(3.1 * len(grids), 3.2), sharey=False)
    _sweep_axes(np.atleast_1d(axes), S, grids)
    d = p["defaults"]
    i = int(np.argmin(np.abs(np.log(S["lam__values"] / d["lam"]))))
    t1d, t2d = S["lam__t1"][i], S["lam__t2"][i]
    rows = [median_row("t1_median[defaults]", t1d), median_row("t2_median[defaults]", t2d)]
    b1, b2 = S["lam__t1_bound"][i], S["lam__t2_bound"][i]
    rows.append(Row("t1_bound_median[defaults]", float(np.median(b1)), float(b1.min()), float(b1.max()),
                    note="Eq. 8 upper bound from each run's λ⁺_min(ΦᵀΦ); ci = min/max over seeds"))
    rows.append(Row("t2_bound[defaults]", float(np.median(b2)), note="Eq. 8 lower bound (data independent)"))
    ok1, ok2 = bool(np.all(t1d <= b1)), bool(np.all(t2d >= b2))
    rows.append(Row("all_t1_le_bound[defaults]", float(ok1), paper=paper("eq8_t1_upper_bound_at_defaults"),
                    theory=1.0,
                    verdict="agrees" if ok1 else "deviates", note=f"every one of {len(t1d)} runs"))
    rows.append(Row("all_t2_ge_bound[defaults]", float(ok2), paper=paper("eq8_t2_lower_bound_at_defaults"),
                    theory=1.0,
                    verdict="agrees" if ok2 else "deviates", note=f"every one of {len(t2d)} runs"))
    rows += _bound_rows(S, grids, p["eta"])
    tol = p["slope_tolerance"]
    rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], -1.0, tol,
                          paper=paper("t2_inverse_in_lambda")))
    rows.append(slope_row("slope_log_t1_vs_log_lambda", S["lam__values"], S["lam__t1"], 0.0, tol,
                          paper=paper("t1_independent_of_lambda"), what="; paper: λ does not enter t1"))
    if "nu2__values" in S:
        x = S["nu2__values"]
        ok = x >= 1
        g_t2 = np.polyfit(np.log(x[ok]), np.nanmedian(S["nu2__t2"][ok], 1), 1)[0]
        g_t1 = np.polyfit(np.log(x[ok]), np.nanmedian(S["nu2__t1"][ok], 1), 1)[0]
        rows.append(Row("dt2_dln_nu2", g_t2, theory=1 / (2 * p["eta"] * d["lam"]),
                        note="slope of median t2 against ln ν² (ν² ≥ 1); theory 1/(2ηλ) from the null-space decay"))
        rows.append(Row("dt1_dln_nu2", g_t1, note="slope of median t1 against ln ν² (ν² ≥ 1); paper: smaller than for t2"))
        rows.append(Row("t2_grows_faster_than_t1_in_ln_nu2", float(g_t2 > g_t1),
                        paper=paper("nu2_amplifies_t2_more_than_t1"),
                        verdict="agrees" if g_t2 > g_t1 else "deviates"))
    if engine is not None:
        err = float(engine["max_rel_err"])
        v, note = judge(err, 0.0, abs_tol=1e-8)
        rows.append(Row("engine_vs_closed_form_max_rel_err", err, theory=0.0, verdict=v,
                        note=f"iterative batched GD vs exact trajectory, {int(engine['steps'])} steps, "
                             f"{len(engine['seeds'])} seeds at the defaults; {note}"))
        for k in ("t1", "t2"):
            same = bool(np.array_equal(engine[f"{k}_iter"], engine[f"{k}_exact"], equal_nan=True))
            rows.append(Row(f"engine_{k}_equals_closed_form", float(same), theory=1.0,
                            verdict="agrees" if same else "deviates",
                            note="t from every-step iterative losses vs exact-trajectory search"))
    return fig, rows


def fig_3(S, p):
    """Fig. 3: t1, t2 sweeps of random ReLU features (only the output layer trained), Eq. 8 dashed."""
    return _sweep_figure(S, p, bounds=True, tol=p["slope_tolerance"], kind="random ReLU features")


def fig_4(S, p):
    """Fig. 4: t1, t2 sweeps of the fully trained two-layer ReLU network (no bounds for this model)."""
    return _sweep_figure(S, p, bounds=False, tol=p["slope_tolerance"],
                             kind="two-layer ReLU network (qualitative: loss decays as (1-eta lam)^(4t))")


def _sweep_figure(S, p, bounds=False, slope_ref=-1.0, tol=0.05, kind=""):
    """Figs. 3, 4: the four (or fewer) sweeps of t1 and t2."""
    style.apply()
    grids = [g for g in p["grids"]]
    fig, axes = plt.subplots(1, len(grids), figsize=(3.1 * len(grids), 3.2))
    _sweep_axes(np.atleast_1d(axes), S, grids, bounds=bounds)
    d = p["defaults"]
    rows = []
    if "lam" in grids:
        i = int(np.argmin(np.abs(np.log(S["lam__values"] / d["lam"]))))
        rows += [median_row("t1_median[defaults]", S["lam__t1"][i]), median_row("t2_median[defaults]", S["lam__t2"][i])]
        g = S["lam__t2"][i] / np.maximum(S["lam__t1"][i], 1)
        rows.append(Row("frac_runs_t2_gt_10_t1[defaults]", float(np.mean(g > 10)), note="grokking visible: t2 > 10 t1"))
        rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], slope_ref, tol,
                              what=f"; {kind}"))
    for name in grids:
        if name == "lam":
            continue
        x = S[f"{name}__values"]
        for k in ("t1", "t2"):
            s, lo, hi = loglog_slope(x, S[f"{name}__{k}"])
            rows.append(Row(f"slope_log_{k}_vs_log_{name}", s, lo, hi, note="descriptive (no paper value stated)"))
    return fig, rows


def fig_5(C, p):
    """Fig. 5: loss curves and the surrogate accuracy P[(N − N*)² ≤ ε] (train and test)."""
    style.apply()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"], "loss")
    x = np.maximum(C["steps"], 1)
    style.band(axes[1], x, C["train_acc"][0].T, C1, "train accuracy", q=Q)
    style.band(axes[1], x, C["test_acc"][0].T, C2, "test accuracy", q=Q)
    axes[1].set(xscale="log", xlabel="step", ylabel=r"P[$(N-N^*)^2\leq\varepsilon$]", title="surrogate accuracy",
                ylim=(-0.02, 1.02))
    axes[1].legend(fontsize=8)
    rows = [median_row("t1_median", C["t1"][0]), median_row("t2_median", C["t2"][0])]
    for which in ("train", "test"):
        acc = C[f"{which}_acc"][0]
        t99 = [C["steps"][np.argmax(a >= 0.99)] if (a >= 0.99).any() else np.nan for a in acc]
        rows.append(median_row(f"{which}_acc_first_ge_0.99_step", t99, note="; step on the plotting grid"))
    acc_t1 = [float(np.interp(np.log(max(t, 1)), np.log(np.maximum(C["steps"], 1)), a))
              for t, a in zip(C["t1"][0], C["test_acc"][0])]
    rows.append(median_row("test_acc_at_t1", acc_t1, note="; the accuracy plateau"))
    return fig, rows


def fig_6(C, p):
    """Fig. 6: loss curves with and without Gaussian label noise."""
    style.apply()
    noises = C["noise"]
    fig, axes = plt.subplots(1, len(noises) + 1, figsize=(3.3 * (len(noises) + 1), 3.3))
    for k, nz in enumerate(noises):
        _curves_ax(axes[k], C["steps"], C["train"][k], C["test"][k], C["t1"][k], C["t2"][k], p["eps"], p["c"],
                   f"label noise std {nz:g}")
    ax = axes[-1]
    pos = np.arange(len(noises))
    for off, key, col in ((-0.15, "t1", C1), (0.15, "t2", C2)):
        med = np.nanmedian(C[key], axis=1)
        lo, hi = np.nanquantile(C[key], 0.1, axis=1), np.nanquantile(C[key], 0.9, axis=1)
        ax.bar(pos + off, med, width=0.3, color=col, label=key, yerr=[med - lo, hi - med])
    ax.set(xticks=pos, xticklabels=[f"std {z:g}" for z in noises], yscale="log", ylabel="steps", title="grokking times")
    ax.legend(fontsize=8)
    rows = []
    for k, nz in enumerate(noises):
        rows += [median_row(f"t1_median[noise={nz:g}]", C["t1"][k]), median_row(f"t2_median[noise={nz:g}]", C["t2"][k])]
    if len(noises) == 2:
        g0 = np.nanmedian(C["t2"][0] - C["t1"][0])
        g1 = np.nanmedian(C["t2"][1] - C["t1"][1])
        v, note = judge(g1 / g0, 1.0, rel_tol=p["noise_rel_tolerance"])
        rows.append(Row("grokking_time_ratio_noisy_over_clean", g1 / g0,
                        paper=paper("label_noise_barely_changes_grokking_time"), theory=1.0,
                        verdict=v, note=f"median(t2 - t1) ratio; {note}"))
    return fig, rows


def fig_7(C, S, p):
    """Fig. 7: random Fourier features: loss curves and the t1, t2 sweeps."""
    style.apply()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids) + 1, figsize=(3.2 * (len(grids) + 1), 3.3))
    _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"],
               "random Fourier features")
    _sweep_axes(axes[1:], S, grids, bounds=False)
    rows = [median_row("t1_median[defaults]", C["t1"][0]), median_row("t2_median[defaults]", C["t2"][0])]
    if "lam" in grids:
        rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], -1.0, p["slope_tolerance"]))
    return fig, rows


def fig_control(R, p):
    """Elimination and amplification: t2 − t1 under bound-derived hyper-parameter choices."""
    style.apply()
    names = [str(s) for s in R["settings"]]
    gaps = np.maximum(R["t2"] - R["t1"], 0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.3, 1]})
    x = np.maximum(R["steps"], 1)
    for k, nm in enumerate(names):
        col = style.PALETTE[k % len(style.PALETTE)]
        style.band(axes[0], x, R["test"][k].T, col, nm, q=Q)
        style.band(axes[0], x, R["train"][k].T, col, None, ls=":", q=Q)
    axes[0].axhline(p["c"], color="0.4", lw=0.8, ls="--")
    axes[0].set(xscale="log", yscale="log", xlabel="step", ylabel="loss (solid test, dotted train)")
    axes[0].legend(fontsize=7)
    med = np.median(gaps, axis=1)
    lo, hi = np.quantile(gaps, 0.1, axis=1), np.quantile(gaps, 0.9, axis=1)
    pos = np.arange(len(names))
    axes[1].bar(pos, np.maximum(med, 0.5), color=[style.PALETTE[k % 10] for k in pos],
                yerr=[med - lo, hi - med])
    axes[1].set(xticks=pos, yscale="log", ylabel=r"grokking time $\max(t_2 - t_1, 0)$")
    axes[1].set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    for k in pos:
        if med[k] == 0:
            axes[1].text(k, 0.6, "0", ha="center", va="bottom", fontsize=9)
    base = med[0]
    rows = [median_row(f"gap_median[{nm}]", gaps[k]) for k, nm in enumerate(names)]
    for k, nm in enumerate(names[1:], start=1):
        val = str(R["values"][k])
        factor = med[k] / base
        if nm.startswith("eliminate"):
            ok = factor <= 0.1
            rows.append(Row(f"gap_factor[{nm}]", factor, paper=paper(nm), verdict="agrees" if ok else "deviates",
                            note=f"median gap / default median gap; {val}; target: shrink by >= 10x"))
        elif nm == "amplify_nu2":
            # t2 ≈ ln(A)/(2ηλ) with A = (m − n)ν²/(m c): ν² × 100 multiplies the gap by ln(100A)/ln(A)
            d = p["defaults"]
            A = (d["m"] - d["n"]) * d["nu2"] / (d["m"] * p["c"])
            th = math.log(100 * A) / math.log(A)
            v, note = judge(factor, th, rel_tol=0.1)
            rows.append(Row(f"gap_factor[{nm}]", factor, paper=paper(nm), theory=th,
                            verdict=v, note=f"median gap / default median gap; {val}; {note}"))
        else:
            ok = factor >= 10
            rows.append(Row(f"gap_factor[{nm}]", factor, paper=paper(nm), theory=10.0,
                            verdict="agrees" if ok else "deviates",
                            note=f"median gap / default median gap; {val}; t2 ∝ 1/λ predicts 10x"))
    return fig, rows
