"""Figures and numbers tables of Study C (one function per figure rule; its script calls it).

Every figure shows seeds as bands (10-90 % quantiles over seeds) around the median; Eq. 8 bounds
are dashed. Replicas that diverged (the results' ``diverged`` masks) are not drawn; a panel with
any says "k of R replicas diverged, not drawn". What a log axis cannot show (a median t = 0, a
vacuous bound ≤ 0, a t never reached) is said in a note under the panel, a zero marked ▼ on the
axis. Legends sit outside the panels, under the figure. Every ``fig_*`` function takes the loaded
training results and the rule's parameters and returns ``(fig, rows)``: the matplotlib figure and
the :class:`~grokrepro.numbers.Row` list the figure stands for (from :mod:`grokrepro.ridge.rows`).
It never saves (the script does, with :func:`grokrepro.style.save_figure`).
"""
from __future__ import annotations

import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from .. import style
from .rows import control_gaps, control_rows, fig1_rows, fig2_rows, fig5_rows, fig6_rows, fig7_rows, sweep_rows
from .train import control_settings

SYMBOLS = {"lam": r"\lambda", "n": "n", "m": "m", "nu2": r"\nu^2"}
NAMES = {"lam": "weight decay", "n": "samples", "m": "features", "nu2": "init variance"}
LABELS = {k: f"{NAMES[k]} ${s}$" for k, s in SYMBOLS.items()}
C1, C2 = style.PALETTE[0], style.PALETTE[3]
Q = (0.1, 0.9)  # the seed band of every figure
NOTE_SIZE = 10.5
PANEL = (3.0, 2.7)  # inches per panel
# Study C's text sizes (points) on top of style.apply(): at PANEL they stay legible when a figure
# fills a slide (a 4-panel figure, 12 in wide, shown 10 in wide: ticks ≈ 10 pt)
SIZES = {"font.size": 12.5, "axes.titlesize": 13, "axes.labelsize": 13, "xtick.labelsize": 12,
         "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 14, "lines.markersize": 6}


# ------------------------------------------------------------------------------------------
# style, numbers, ticks, notes, legends
# ------------------------------------------------------------------------------------------
def _apply_style():
    style.apply()
    plt.rcParams.update(SIZES)


def tex_number(v, digits=3) -> str:
    """Mathtext (without $) for a number: integers and 0.01 ≤ |v| < 10⁴ as written, else a×10^k."""
    v = float(v)
    if v == 0 or (v.is_integer() and abs(v) < 1e5):
        return f"{v:.0f}"
    e = math.floor(math.log10(abs(v)))
    if -2 <= e <= 3:
        return f"{v:.{digits}g}"
    mant = f"{v / 10**e:.{digits}g}"
    if mant == "10":
        mant, e = "1", e + 1
    return rf"10^{{{e}}}" if mant == "1" else rf"{mant}{{\times}}10^{{{e}}}"


def _tex_label(v, _pos=None) -> str:
    return f"${tex_number(v)}$"


def _grid_xticks(ax, x):
    """A tick at every swept value (log axis), no minor ticks; each labelled, unless more than
    three values, two or more of them powers of ten, need wide a×10^k labels: then the powers
    of ten alone are labelled."""
    x = np.asarray(x, float)
    power = np.isclose(10 ** np.round(np.log10(x)), x, rtol=1e-9)
    labels = [_tex_label(v) for v in x]
    if len(x) > 3 and power.sum() >= 2 and any(r"\times" in lab for lab in labels):
        labels = [lab if p else "" for lab, p in zip(labels, power)]
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(x, labels)


def _log_yticks(ax):
    """At least two labelled ticks on a log y-axis: powers of ten if two fit, else 1-2-5 steps
    (or every digit) labelled as numbers; minor ticks unlabelled."""
    if ax.get_yscale() != "log":
        return
    lo, hi = ax.get_ylim()
    ax.yaxis.set_minor_formatter(NullFormatter())
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(range(1, 10)), None):
        if subs and sum(lo <= f * 10.0**k <= hi for k in decades for f in subs) >= 2:
            break
    if subs != (1.0,):  # less than two decades: 1-2-5 steps, every digit or (narrower) 3-4 even steps
        ax.yaxis.set_major_locator(LogLocator(subs=subs) if subs else MaxNLocator(nbins=3))
        ax.yaxis.set_major_formatter(FuncFormatter(_tex_label))
        ax.yaxis.set_minor_locator(NullLocator())


def _live(Y, diverged):
    """Curves ``Y`` (replicas × steps) with the diverged replicas' rows blanked (NaN)."""
    return np.where(np.asarray(diverged, bool)[:, None], np.nan, np.asarray(Y, float))


def _diverged_note(ax, diverged):
    div = np.asarray(diverged, bool)
    if div.any():
        ax.text(0.98, 0.98, f"{int(div.sum())} of {div.size} replicas diverged, not drawn", transform=ax.transAxes,
                ha="right", va="top", fontsize=NOTE_SIZE, color="firebrick",
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})


def _under_note(ax, notes) -> int:
    """``notes`` (what the panel's log axes cannot show) under the panel, below its x label;
    returns their number of lines."""
    if not notes:
        return 0
    text = "\n".join(notes)
    ax.annotate(text, xy=(0.0, 0.0), xycoords="axes fraction", xytext=(0, -3.6 * SIZES["xtick.labelsize"]),
                textcoords="offset points", ha="left", va="top", fontsize=NOTE_SIZE, color="0.25")
    return text.count("\n") + 1


def _finish(fig, note_lines=0, handles=None, ncol=None):
    """One legend for the whole figure, under the panels (it covers no data): entries of all
    panels, each label once, unless ``handles`` are given. The figure grows by ``note_lines``
    (the most under any panel) so that the notes do not shrink the panels."""
    if handles is None:
        seen = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        handles, labels = list(seen.values()), list(seen)
    else:
        labels = [h.get_label() for h in handles]
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol or len(handles), frameon=False)
    if note_lines:
        w, h = fig.get_size_inches()
        fig.set_size_inches(w, h + note_lines * 1.25 * NOTE_SIZE / 72)


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


# ------------------------------------------------------------------------------------------
# loss curves (Figs 1, 5, 6, 7)
# ------------------------------------------------------------------------------------------
def _time_lines(ax, t1, t2):
    """Dashed vertical lines at the median t1, t2 (legend: "median t1", "median t2")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every replica diverged: all-NaN medians
        for t, col, k in ((t1, C1, 1), (t2, C2, 2)):
            med = np.nanmedian(t)
            if np.isfinite(med):
                ax.axvline(max(med, 1), color=col, lw=1.0, ls="--", label=f"median $t_{k}$")


def _never(t, diverged, k, t_max):
    """Note lines for a t_k that some live replicas never reached."""
    live = np.asarray(t, float)[~np.asarray(diverged, bool)]
    if not (live.size and np.isnan(live).any()):
        return []
    within = f" in {_tex_label(t_max)} steps" if t_max else ""
    return [f"$t_{k}$ not reached{within}\nby {int(np.isnan(live).sum())} of {live.size} replicas"]


def _curves_ax(ax, steps, train, test, t1, t2, eps, c, title, diverged, t_max=None):
    """Train and test loss (replicas × steps) with the median t1, t2; diverged replicas left out;
    a t not reached (within ``t_max``) by some replicas is said under the panel (returns its lines)."""
    x = np.maximum(steps, 1)
    train, test = _live(train, diverged), _live(test, diverged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every replica diverged: all-NaN medians
        style.band(ax, x, train.T, C1, "train", q=Q)
        style.band(ax, x, test.T, C2, "test", q=Q)
        thr = rf"$\varepsilon = c = {tex_number(eps)}$" if eps == c else r"$\varepsilon, c$"
        ax.axhline(eps, color="0.4", lw=0.9, ls=":", label=thr)
        if c != eps:
            ax.axhline(c, color="0.4", lw=0.9, ls=":")
        _time_lines(ax, t1, t2)
        _log_axes(ax, x, train, test)
        ax.set(xlabel="step", ylabel="loss", title=title)
        lo = min(np.nanmin(train), np.nanmin(test))
        if lo < 1e-12:  # exact zero teacher: losses decay to 0; show 12 decades below the threshold
            ax.set_ylim(1e-12 * eps, 10 * max(np.nanmax(train), np.nanmax(test)))
    ax.yaxis.set_minor_formatter(NullFormatter())
    _diverged_note(ax, diverged)
    return _under_note(ax, _never(t1, diverged, 1, t_max) + _never(t2, diverged, 2, t_max))


def fig_1(ridge, relu, p):
    """Fig. 1: ridge regression (left) and the two-layer ReLU network (right) on the zero teacher."""
    _apply_style()
    fig, axes = plt.subplots(1, 2, figsize=(2.4 * PANEL[0], PANEL[1] + 0.5), layout="constrained")
    lines = _curves_ax(axes[0], ridge["steps"], ridge["train"][0], ridge["test"][0], ridge["t1"][0], ridge["t2"][0],
                       p["eps"], p["c"], f"ridge regression ({len(ridge['seeds'])} runs)", ridge["diverged"][0],
                       p.get("t_max"))
    lines = max(lines, _curves_ax(axes[1], relu["steps"], relu["train"].T, relu["test"].T, relu["t1"], relu["t2"],
                                  p["eps"], p["c"], f"two-layer ReLU network ({len(relu['t1'])} runs)",
                                  relu["diverged"], int(relu["steps_run"])))
    _finish(fig, lines)
    return fig, fig1_rows(ridge, relu)


# ------------------------------------------------------------------------------------------
# sweeps (Figs 2, 3, 4, 7)
# ------------------------------------------------------------------------------------------
def _off_axis(x, Y, diverged):
    """Medians over the last axis of ``Y`` (values × seeds) and the indices where a log axis
    cannot show them: ``zero`` (median ≤ 0) and ``never`` (NaN though not every run diverged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(Y, axis=-1)
    all_div = np.asarray(diverged, bool).all(axis=-1)
    return med, np.nonzero(med <= 0)[0], np.nonzero(np.isnan(med) & ~all_div)[0]


def _at(name, x, idx):
    sym = SYMBOLS[name]
    if len(idx) == len(x):
        return f"every ${sym}$"
    return f"${sym} = " + ", ".join(tex_number(x[i]) for i in idx) + "$"


def _sweep_series(ax, name, x, Y, diverged, col, label, why_zero, t_max):
    """Median and band of one t over the swept values; values whose median is ≤ 0 are left out
    of the line and marked ▼ on the x-axis. Returns the notes for the panel."""
    med, zero, never = _off_axis(x, Y, diverged)
    Y = np.array(Y, float)
    Y[zero] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point whose every run diverged
        style.band(ax, x, Y, col, label, ls="-o", q=Q)  # markers: the swept values, and a lone point shows
    notes = []
    if zero.size:
        ax.plot(x[zero], np.zeros(zero.size), "v", color=col, ms=8, clip_on=False,
                transform=ax.get_xaxis_transform())
        notes.append(f"▼ {label} = 0 at {_at(name, x, zero)}\n({why_zero})")
    if never.size:
        within = f" in {_tex_label(t_max)} steps" if t_max else ""
        notes.append(f"{label} not reached{within}\nat {_at(name, x, never)}")
    return notes


def _bound_series(ax, name, x, B, col, label):
    """Median Eq. 8 bound (dashed); values where it is ≤ 0 (vacuous) are not drawn, but noted."""
    b = np.nanmedian(B, 1)
    ax.plot(x[b > 0], b[b > 0], "--", color=col, lw=1.3, label=label)
    vacuous = np.nonzero(b <= 0)[0]
    return [f"{label} ≤ 0 (vacuous)\nat {_at(name, x, vacuous)}, not drawn"] if vacuous.size else []


def _sweep_axes(axes, S, grids, bounds=True, t_max=None, bound_of="Eq. 8"):
    """One panel per swept hyper-parameter: t1, t2 over seeds (diverged runs, NaN, left out).
    What the log axes cannot show is said under each panel; returns the most note lines of a panel."""
    out = 0
    for ax, name in zip(axes, grids):
        x, div = S[f"{name}__values"], S[f"{name}__diverged"]
        notes = []
        for k, col, why in ((1, C1, r"training loss $< \varepsilon$ from the start"),
                            (2, C2, r"test loss $\leq c$ from the start")):
            notes += _sweep_series(ax, name, x, S[f"{name}__t{k}"], div, col, f"$t_{k}$", why, t_max)
        _diverged_note(ax, div)
        shown = [S[f"{name}__{k}"] for k in ("t1", "t2")]
        if bounds and f"{name}__t1_bound" in S:
            notes += _bound_series(ax, name, x, S[f"{name}__t1_bound"], C1, f"$t_1$ bound ({bound_of})")
            notes += _bound_series(ax, name, x, S[f"{name}__t2_bound"], C2, f"$t_2$ bound ({bound_of})")
            shown.append(S[f"{name}__t1_bound"])
        _log_axes(ax, x, *shown)
        ax.set(xlabel=f"${SYMBOLS[name]}$", title=NAMES[name])
        _grid_xticks(ax, x)
        _log_yticks(ax)
        out = max(out, _under_note(ax, notes))
    axes[0].set_ylabel("steps")
    return out


def _defaults_title(fig, kind, d, grids):
    """Figure title: the model and the values every panel holds fixed."""
    fixed = ", ".join(f"${SYMBOLS[k]} = {tex_number(d[k])}$" for k in SYMBOLS if k in d)
    fig.suptitle(f"{kind}; defaults {fixed}" if len(grids) > 1 else kind)


def _sweep_figure(S, p, bounds, kind, bound_of="Eq. 8"):
    _apply_style()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids), figsize=(PANEL[0] * len(grids), PANEL[1] + 0.9),
                             layout="constrained")
    axes = np.atleast_1d(axes)
    lines = _sweep_axes(axes, S, grids, bounds=bounds, t_max=p.get("t_max"), bound_of=bound_of)
    _defaults_title(fig, kind, p["defaults"], grids)
    _finish(fig, lines)
    return fig


def fig_2(S, engine, p):
    """Fig. 2: t1, t2 against λ, n, m, ν² (identity features) with the Eq. 8 bounds dashed."""
    return _sweep_figure(S, p, True, "identity features"), fig2_rows(S, engine, p)


def fig_3(S, p):
    """Fig. 3: t1, t2 sweeps of random ReLU features (only the output layer trained), Eq. 8 dashed."""
    fig = _sweep_figure(S, p, True, "random ReLU features, output layer trained", bound_of=r"Eq. 8 for $\phi(x) = x$")
    return fig, sweep_rows(S, p, slope_ref=-1.0, tol=p["slope_tolerance"], kind="random ReLU features")


def fig_4(S, p):
    """Fig. 4: t1, t2 sweeps of the fully trained two-layer ReLU network (no bounds for this model)."""
    fig = _sweep_figure(S, p, False, "two-layer ReLU network (both layers trained)")
    return fig, sweep_rows(S, p, slope_ref=-1.0, tol=p["slope_tolerance"],
                           kind="two-layer ReLU network (qualitative: loss decays as (1-eta lam)^(4t))")


# ------------------------------------------------------------------------------------------
# Figs 5, 6, 7
# ------------------------------------------------------------------------------------------
def fig_5(C, p):
    """Fig. 5: loss curves and the surrogate accuracy P[(N − N*)² ≤ ε] (train and test)."""
    _apply_style()
    fig, axes = plt.subplots(1, 2, figsize=(2.4 * PANEL[0], PANEL[1] + 0.5), layout="constrained")
    d = C["diverged"][0]
    lines = _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"],
                       "loss", d, p.get("t_max"))
    x = np.maximum(C["steps"], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every replica diverged
        style.band(axes[1], x, _live(C["train_acc"][0], d).T, C1, "train", q=Q)
        style.band(axes[1], x, _live(C["test_acc"][0], d).T, C2, "test", q=Q)
    _time_lines(axes[1], C["t1"][0], C["t2"][0])
    axes[1].set(xscale="log", xlabel="step", ylabel=r"$P[(N-N^*)^2 \leq \varepsilon]$", title="surrogate accuracy",
                ylim=(-0.02, 1.02))
    if d.all():  # nothing drawn: keep the step range
        axes[1].set_xlim(x.min(), x.max())
    _finish(fig, lines)
    return fig, fig5_rows(C)


def _times_ax(ax, C, labels):
    """Median t1, t2 per noise level with 10-90 % whiskers (points: a log axis has no bar base);
    a level whose t2 is never reached (or whose every run diverged) says so at its place."""
    pos = np.arange(len(labels))
    for off, key, col, mk in ((-0.12, "t1", C1, "o"), (0.12, "t2", C2, "s")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # t never reached or every run diverged
            med = np.nanmedian(C[key], axis=1)
            lo, hi = np.nanquantile(C[key], Q[0], axis=1), np.nanquantile(C[key], Q[1], axis=1)
        ax.errorbar(pos + off, med, yerr=[med - lo, hi - med], fmt=mk, color=col, ms=7, capsize=3)
        for k in np.nonzero(~np.isfinite(med))[0]:
            what = "diverged" if C["diverged"][k].all() else "not reached"
            ax.text(pos[k] + off, 0.5, f"${key[0]}_{key[1]}$ {what}", transform=ax.get_xaxis_transform(), rotation=90,
                    ha="center", va="center", fontsize=NOTE_SIZE, color=col)
    ax.set(xticks=pos, xticklabels=labels, xlim=(-0.5, len(labels) - 0.5), yscale=_scale(C["t1"], C["t2"]),
           ylabel="steps", title=r"median $t_1$ (●), $t_2$ (■)")
    _log_yticks(ax)


def fig_6(C, p):
    """Fig. 6: loss curves with and without Gaussian label noise."""
    _apply_style()
    noises = C["noise"]
    fig, axes = plt.subplots(1, len(noises) + 1, figsize=(PANEL[0] * (len(noises) + 1), PANEL[1] + 0.5),
                             layout="constrained")
    labels, lines = [f"std {tex_number(nz)}" if nz else "no noise" for nz in noises], 0
    for k, nz in enumerate(noises):
        if k:
            axes[k].sharey(axes[0])  # noise levels on one loss scale
        title = f"label noise {labels[k]}" if nz else "no label noise"
        lines = max(lines, _curves_ax(axes[k], C["steps"], C["train"][k], C["test"][k], C["t1"][k], C["t2"][k],
                                      p["eps"], p["c"], title, C["diverged"][k], p.get("t_max")))
        if k:
            axes[k].set_ylabel("")
            axes[k].tick_params(labelleft=False)
    _times_ax(axes[-1], C, labels)
    _finish(fig, lines)
    return fig, fig6_rows(C, p)


def fig_7(C, S, p):
    """Fig. 7: random Fourier features: loss curves and the t1, t2 sweeps."""
    _apply_style()
    grids = list(p["grids"])
    fig, axes = plt.subplots(1, len(grids) + 1, figsize=(PANEL[0] * (len(grids) + 1), PANEL[1] + 0.9),
                             layout="constrained")
    lines = _curves_ax(axes[0], C["steps"], C["train"][0], C["test"][0], C["t1"][0], C["t2"][0], p["eps"], p["c"],
                       "loss at the defaults", C["diverged"][0], p.get("t_max"))
    lines = max(lines, _sweep_axes(axes[1:], S, grids, bounds=False, t_max=p.get("t_max")))
    axes[0].set_ylabel("loss")
    _defaults_title(fig, "random Fourier features", p["defaults"], grids)
    _finish(fig, lines)
    return fig, fig7_rows(C, S, p)


# ------------------------------------------------------------------------------------------
# control figure
# ------------------------------------------------------------------------------------------
def control_labels(R, p):
    """Readable names of the control settings with the value each one sets."""
    settings, d, labels = {s[0]: s[1] for s in control_settings(p, float(R["lam_min_plus"]))}, p["defaults"], []
    for name in (str(s) for s in R["settings"]):
        hp = settings.get(name, d)
        changed = [k for k in ("lam", "nu2") if hp[k] != d[k]]
        vals = ", ".join(f"${SYMBOLS[k]} = {tex_number(hp[k])}$" for k in (changed or ("lam", "nu2")))
        labels.append(f"{name.split('_')[0]}: {vals}")
    return labels


def _gap_ax(ax, R, labels, colors):
    """Median grokking time max(t2 − t1, 0) per setting, horizontal bars with 10-90 % whiskers on
    a symlog axis (linear below 1 step, so a zero gap sits at 0 and is written out)."""
    _, med, lo, hi = control_gaps(R)
    pos = np.arange(len(labels))[::-1]
    ax.barh(pos, med, color=colors, xerr=[med - lo, hi - med], height=0.6)
    top = np.nanmax(np.append(hi, 1.0))
    ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
    ax.set_xlim(0, 3 * top)
    k_max = max(1, math.ceil(math.log10(3 * top)) - 1)
    ax.set_xticks([0] + [10.0**k for k in range(1, k_max + 1, 1 if k_max <= 4 else 2)])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else f"$10^{{{round(math.log10(v))}}}$"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(pos, labels)
    for tick, col in zip(ax.get_yticklabels(), colors):
        tick.set_color(col)
    for k in range(len(labels)):
        if med[k] == 0:
            ax.text(0.3, pos[k], "0", ha="left", va="center", fontsize=NOTE_SIZE + 1)
        elif not np.isfinite(med[k]):  # every run of the setting diverged
            ax.text(0.3, pos[k], "diverged", ha="left", va="center", fontsize=NOTE_SIZE, color="firebrick")
    ax.set(xlabel=r"grokking time $\max(t_2 - t_1, 0)$, steps", title="median grokking time")


def fig_control(R, p):
    """Elimination and amplification: t2 − t1 under bound-derived hyper-parameter choices."""
    _apply_style()
    labels = control_labels(R, p)
    colors = [style.PALETTE[k % len(style.PALETTE)] for k in range(len(labels))]
    fig, axes = plt.subplots(1, 2, figsize=(2.6 * PANEL[0], PANEL[1] + 0.9), layout="constrained",
                             gridspec_kw={"width_ratios": [1.2, 1]})
    x = np.maximum(R["steps"], 1)
    for k, col in enumerate(colors):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every run of a setting diverged
            style.band(axes[0], x, _live(R["test"][k], R["diverged"][k]).T, col, None, q=Q)
            style.band(axes[0], x, _live(R["train"][k], R["diverged"][k]).T, col, None, ls=":", q=Q)
    _diverged_note(axes[0], R["diverged"])
    axes[0].axhline(p["c"], color="0.4", lw=0.9, ls="--")
    _log_axes(axes[0], x, _live(R["train"].reshape(-1, len(x)), R["diverged"].ravel()))
    axes[0].yaxis.set_minor_formatter(NullFormatter())
    axes[0].set(xlabel="step", ylabel="loss", title="loss curves (colors as on the right)")
    _gap_ax(axes[1], R, labels, colors)
    styles = [Line2D([], [], color="0.2", ls="-", label="test loss"),
              Line2D([], [], color="0.2", ls=":", label="train loss"),
              Line2D([], [], color="0.4", ls="--", label=f"$c = {tex_number(p['c'])}$")]
    _finish(fig, handles=styles)
    return fig, control_rows(R, p)
