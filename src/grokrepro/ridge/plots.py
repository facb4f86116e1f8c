"""Figures and numbers tables of Study C (one function per figure rule; its script calls it).

Every figure shows seeds as bands (10-90 % quantiles over seeds) around the median; Eq. 8 bounds
are dashed. Replicas that diverged (the results' ``diverged`` masks) are not drawn; a panel with
any says "k of R replicas diverged, not drawn". Every ``fig_*`` function takes the loaded training
results and the rule's parameters and returns ``(fig, rows)``: the matplotlib figure and the
:class:`~grokrepro.numbers.Row` list the figure stands for (from :mod:`grokrepro.ridge.rows`). It
never saves (the script does, with :func:`grokrepro.style.save_figure`).
"""
from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from .. import style
from .rows import control_gaps, control_rows, fig1_rows, fig2_rows, fig5_rows, fig6_rows, fig7_rows, sweep_rows

LABELS = {"lam": r"weight decay $\lambda$", "n": r"samples $n$", "m": r"features $m$", "nu2": r"init variance $\nu^2$"}
C1, C2 = style.PALETTE[0], style.PALETTE[3]
Q = (0.1, 0.9)  # the seed band of every figure


# ------------------------------------------------------------------------------------------
def _live(Y, diverged):
    """Curves ``Y`` (replicas × steps) with the diverged replicas' rows blanked (NaN)."""
    return np.where(np.asarray(diverged, bool)[:, None], np.nan, np.asarray(Y, float))


def _diverged_note(ax, diverged):
    div = np.asarray(diverged, bool)
    if div.any():
        ax.text(0.98, 0.98, f"{int(div.sum())} of {div.size} replicas diverged, not drawn", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="firebrick", bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})


def _scale(*arrays) -> str:
    """"log", unless no value is finite and positive (every replica diverged): then "linear", as
    a log axis without data cannot be drawn."""
    vals = np.concatenate([np.ravel(np.asarray(a, float)) for a in arrays])
    return "log" if np.any(np.isfinite(vals) & (vals > 0)) else "linear"


def _log_axes(ax, x, *arrays):
    """Log-log axes for the curves ``arrays`` over ``x``; if nothing can be drawn (every replica
    diverged) the x-axis still spans ``x`` and the empty y-axis has no ticks."""
    ax.set_xscale("log")
    if _scale(*arrays) == "log":
        ax.set_yscale("log")
    else:
        ax.set_xlim(np.min(x), np.max(x))
        ax.set_yticks([])


def _curves_ax(ax, steps, train, test, t1, t2, eps, c, title, diverged):
    """Train and test loss (replicas × steps) with the median t1, t2; diverged replicas left out."""
    x = np.maximum(steps, 1)
    train, test = _live(train, diverged), _live(test, diverged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every replica diverged: all-NaN medians
        style.band(ax, x, train.T, C1, "train loss", q=Q)
        style.band(ax, x, test.T, C2, "test loss", q=Q)
        ax.axhline(eps, color="0.4", lw=0.8, ls=":")
        for t, col in ((t1, C1), (t2, C2)):
            med = np.nanmedian(t)
            if np.isfinite(med):
                ax.axvline(max(med, 1), color=col, lw=0.8, ls="--")
        _log_axes(ax, x, train, test)
        ax.set(xlabel="step", ylabel="loss", title=title)
        lo = min(np.nanmin(train), np.nanmin(test))
        if lo < 1e-12:  # exact zero teacher: losses decay to 0; show 12 decades below the threshold
            ax.set_ylim(1e-12 * eps, 10 * max(np.nanmax(train), np.nanmax(test)))
    ax.legend(loc="lower left", fontsize=8)
    _diverged_note(ax, diverged)


def fig_1(ridge, relu, p):
    """Fig. 1: ridge regression (left) and the two-layer ReLU network (right) on the zero teacher."""
    style.apply()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    _curves_ax(axes[0], ridge["steps"], ridge["train"][0], ridge["test"][0], ridge["t1"][0], ridge["t2"][0],
               p["eps"], p["c"], f"ridge regression ({len(ridge['seeds'])} runs)", ridge["diverged"][0])
    _curves_ax(axes[1], relu["steps"], relu["train"].T, relu["test"].T, relu["t1"], relu["t2"],
               p["eps"], p["c"], f"two-layer ReLU ({len(relu['t1'])} runs)", relu["diverged"])
    return fig, fig1_rows(ridge, relu)


def _sweep_axes(axes, S, grids, bounds=True):
    """One panel per swept hyper-parameter: t1, t2 over seeds (diverged runs, NaN, left out)."""
    for ax, name in zip(axes, grids):
        x = S[f"{name}__values"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a point whose every run diverged
            style.band(ax, x, S[f"{name}__t1"], C1, r"$t_1$", q=Q)
            style.band(ax, x, S[f"{name}__t2"], C2, r"$t_2$", q=Q)
        _diverged_note(ax, S[f"{name}__diverged"])
        if bounds and f"{name}__t1_bound" in S:
            ax.plot(x, np.nanmedian(S[f"{name}__t1_bound"], 1), "--", color=C1, lw=1.2, label=r"$t_1$ bound")
            b2 = np.nanmedian(S[f"{name}__t2_bound"], 1)
            ax.plot(x[b2 > 0], b2[b2 > 0], "--", color=C2, lw=1.2, label=r"$t_2$ bound")
        shown = [S[f"{name}__{k}"] for k in ("t1", "t2")] + ([S[f"{name}__t1_bound"]] if bounds else [])
        _log_axes(ax, x, *shown)
        ax.set(xlabel=LABELS[name])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    axes[0].set_ylabel("steps")
    axes[0].legend(fontsize=8, loc="best")


def fig_2(S, engine, p):
    """Fig. 2: t1, t2 against λ, n, m, ν² (identity features) with the Eq. 8 bounds dashed."""
    style.apply()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids), figsize=(3.1 * len(grids), 3.2), sharey=False)
    _sweep_axes(np.atleast_1d(axes), S, grids)
    return fig, fig2_rows(S, engine, p)


def fig_3(S, p):
    """Fig. 3: t1, t2 sweeps of random ReLU features (only the output layer trained), Eq. 8 dashed."""
    return _sweep_figure(S, p, bounds=True, kind="random ReLU features")


def fig_4(S, p):
    """Fig. 4: t1, t2 sweeps of the fully trained two-layer ReLU network (no bounds for this model)."""
    return _sweep_figure(S, p, bounds=False,
                         kind="two-layer ReLU network (qualitative: loss decays as (1-eta lam)^(4t))")


def _sweep_figure(S, p, bounds, kind):
    """Figs. 3, 4: the four (or fewer) sweeps of t1 and t2."""
    style.apply()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids), figsize=(3.1 * len(grids), 3.2))
    _sweep_axes(np.atleast_1d(axes), S, grids, bounds=bounds)
    return fig, sweep_rows(S, p, slope_ref=-1.0, tol=p["slope_tolerance"], kind=kind)


def fig_5(C, p):
    """Fig. 5: loss curves and the surrogate accuracy P[(N − N*)² ≤ ε] (train and test)."""
    style.apply()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    d = C["diverged"][0]
    _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"], "loss", d)
    x = np.maximum(C["steps"], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every replica diverged
        style.band(axes[1], x, _live(C["train_acc"][0], d).T, C1, "train accuracy", q=Q)
        style.band(axes[1], x, _live(C["test_acc"][0], d).T, C2, "test accuracy", q=Q)
    axes[1].set(xscale="log", xlabel="step", ylabel=r"P[$(N-N^*)^2\leq\varepsilon$]", title="surrogate accuracy",
                ylim=(-0.02, 1.02))
    if d.all():  # nothing drawn: keep the step range
        axes[1].set_xlim(x.min(), x.max())
    axes[1].legend(fontsize=8)
    return fig, fig5_rows(C)


def fig_6(C, p):
    """Fig. 6: loss curves with and without Gaussian label noise."""
    style.apply()
    noises = C["noise"]
    fig, axes = plt.subplots(1, len(noises) + 1, figsize=(3.3 * (len(noises) + 1), 3.3))
    for k, nz in enumerate(noises):
        _curves_ax(axes[k], C["steps"], C["train"][k], C["test"][k], C["t1"][k], C["t2"][k], p["eps"], p["c"],
                   f"label noise std {nz:g}", C["diverged"][k])
    ax = axes[-1]
    pos = np.arange(len(noises))
    for off, key, col in ((-0.15, "t1", C1), (0.15, "t2", C2)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # t never reached or every run diverged
            med = np.nanmedian(C[key], axis=1)
            lo, hi = np.nanquantile(C[key], Q[0], axis=1), np.nanquantile(C[key], Q[1], axis=1)
        ax.bar(pos + off, med, width=0.3, color=col, label=key, yerr=[med - lo, hi - med])
    ax.set(xticks=pos, xticklabels=[f"std {z:g}" for z in noises], yscale=_scale(C["t1"], C["t2"]), ylabel="steps",
           title="grokking times")
    ax.legend(fontsize=8)
    return fig, fig6_rows(C, p)


def fig_7(C, S, p):
    """Fig. 7: random Fourier features: loss curves and the t1, t2 sweeps."""
    style.apply()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids) + 1, figsize=(3.2 * (len(grids) + 1), 3.3))
    _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"],
               "random Fourier features", C["diverged"][0])
    _sweep_axes(axes[1:], S, grids, bounds=False)
    return fig, fig7_rows(C, S, p)


def fig_control(R, p):
    """Elimination and amplification: t2 − t1 under bound-derived hyper-parameter choices."""
    style.apply()
    names = [str(s) for s in R["settings"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1.3, 1]})
    x = np.maximum(R["steps"], 1)
    for k, nm in enumerate(names):
        col = style.PALETTE[k % len(style.PALETTE)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every run of a setting diverged
            style.band(axes[0], x, _live(R["test"][k], R["diverged"][k]).T, col, nm, q=Q)
            style.band(axes[0], x, _live(R["train"][k], R["diverged"][k]).T, col, None, ls=":", q=Q)
    _diverged_note(axes[0], R["diverged"])
    axes[0].axhline(p["c"], color="0.4", lw=0.8, ls="--")
    _log_axes(axes[0], x, _live(R["train"].reshape(-1, len(x)), R["diverged"].ravel()))
    axes[0].set(xlabel="step",
                ylabel="loss (solid test, dotted train)")
    axes[0].legend(fontsize=7)
    _, med, lo, hi = control_gaps(R)
    pos = np.arange(len(names))
    axes[1].bar(pos, np.maximum(med, 0.5), color=[style.PALETTE[k % 10] for k in pos],
                yerr=[med - lo, hi - med])
    axes[1].set(xticks=pos, yscale=_scale(np.maximum(med, 0.5)), ylabel=r"grokking time $\max(t_2 - t_1, 0)$")
    axes[1].set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    for k in pos:
        if med[k] == 0:
            axes[1].text(k, 0.6, "0", ha="center", va="bottom", fontsize=9)
        elif not np.isfinite(med[k]):  # every run of the setting diverged
            axes[1].text(k, 0.6, "diverged", ha="center", va="bottom", fontsize=7, rotation=90, color="firebrick")
    return fig, control_rows(R, p)
