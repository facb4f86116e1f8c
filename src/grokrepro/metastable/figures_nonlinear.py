"""Study A beyond the paper, nonlinear networks (``fig_metastable_nonlinear``): phase diagrams per
activation and depth on the linear-equivalent β axis, the size of the jumps and of the hysteresis
gap, the escape from an annealed rank-1 trap with plain SGD and with Langevin noise, and the numbers
they stand for. The linear network (``act=linear``) is the reference every verdict compares with."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import style
from ..engine import BUDGET
from ..numbers import Row, bootstrap_median_ci, judge
from .beta_sweep import DOWN, UP, hysteresis_gap, max_jump, transition_points
from .divergence import diverged_row, mark_diverged, note_on
from .figures_beta_sweep import without_diverged
from .nonlinear import ACTIVATIONS, linear_drop, median_finite
from .rows import paper as claimed

LABELS = {"linear": "linear (reference)", "tanh": "tanh", "sigmoid": r"sigmoid $\sigma(z)-\frac{1}{2}$",
          "relu": "ReLU (non-smooth)"}


def fig_nonlinear(sweeps: dict, escapes: dict, features, rank_threshold: float, temperature: float,
                  tolerance: float):
    """``(fig, rows)``; ``sweeps`` and ``escapes`` are keyed by (activation, depth)."""
    style.apply()
    acts = list(dict.fromkeys(a for a, _ in sweeps))
    depths = sorted({L for _, L in sweeps})
    n_rows = max(len(depths), 2)  # the right column holds two panels
    fig = plt.figure(figsize=(3.6 * len(acts) + 4.6, 3.3 * n_rows + 1.0))
    grid = fig.add_gridspec(n_rows, len(acts) + 1, width_ratios=[1] * len(acts) + [1.35],
                            wspace=0.28, hspace=0.32, top=0.88, bottom=0.14)
    for i, L in enumerate(depths):
        for j, act in enumerate(acts):
            if (act, L) in sweeps:
                ax = fig.add_subplot(grid[i, j])
                _phase_panel(ax, sweeps[act, L], act, L, features, rank_threshold,
                             first=(i, j) == (0, 0), bottom=i == len(depths) - 1)
                if (act, L) in escapes:
                    _trap_marks(ax, escapes[act, L], first=(i, j) == (0, 0))
    _jump_panel(fig.add_subplot(grid[0, -1]), sweeps, acts, depths)
    _escape_panel(fig.add_subplot(grid[1, -1]), escapes, acts, depths, temperature)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=(len(labels) + 1) // 2, fontsize=8)
    fig.suptitle("Beyond the paper: nonlinear hidden layers, features " + ", ".join(map(str, features))
                 + " (exact moments). Test MSE against the linear-equivalent L2 strength "
                 r"$\beta/g^{2(L-1)/L}$ ($g = \phi'(0)$); median and IQR over seeds", fontsize=10)
    return fig, numbers_nonlinear(sweeps, escapes, features, rank_threshold, temperature, tolerance)


def _phase_panel(ax, sweep, act, L, features, threshold, first, bottom):
    sw, n_bad, total = without_diverged(sweep)
    note_on(ax, n_bad, total)
    x = sw["beta_lin"]
    style.band(ax, x, sw["test_loss"][UP], "0.15", "upward sweep (from full rank)")
    style.band(ax, x, sw["test_loss"][DOWN], "0.55", "downward sweep (from trivial)", ls="--")
    up = transition_points(x, sw["svals"][UP], threshold, UP)
    for k, eta in enumerate(features[: up.shape[1]]):
        ax.axvline(linear_drop(eta, L, threshold), color=style.PALETTE[k], lw=1.1, ls=":",
                   label=f"linear theory: feature {k + 1} ($\\eta$ = {eta:g}) lost" if first else None)
        med = median_finite(up[:, k])
        if np.isfinite(med):
            ax.plot([med], [1.02], "v", color=style.PALETTE[k], ms=7, transform=ax.get_xaxis_transform(),
                    clip_on=False, label=f"measured: feature {k + 1} lost (median)" if first else None)
    ax.set_title(f"{LABELS.get(act, act)}, L = {L}", fontsize=9, pad=14)  # clear of the markers above the axes
    if bottom:
        ax.set_xlabel(r"$\beta_{lin} = \beta / g^{2(L-1)/L}$")
    ax.set_ylabel("test MSE")


def _trap_marks(ax, esc, first):
    """Where the escape test annealed its rank-1 trap and where it ran from it."""
    marks = (("beta_init_lin", "^", "rank-1 trap annealed at"), ("beta_op_lin", "o", "escape run at"))
    for key, marker, label in marks:
        ax.plot([float(esc[key])], [0.03], marker, color="0.35", mfc="white", ms=6,
                transform=ax.get_xaxis_transform(), label=label if first else None)


def _bar_labels(ax, acts):
    ax.set_xticks(np.arange(len(acts)), [a if a != "sigmoid" else "sigmoid-½" for a in acts], fontsize=8)


def _jump_panel(ax, sweeps, acts, depths):
    width = 0.8 / (2 * len(depths))
    for i, L in enumerate(depths):
        jumps = [max_jump(without_diverged(sweeps[a, L])[0]) if (a, L) in sweeps else np.nan for a in acts]
        gaps = [hysteresis_gap(without_diverged(sweeps[a, L])[0]) if (a, L) in sweeps else np.nan for a in acts]
        pos = np.arange(len(acts)) + (2 * i - len(depths) + 0.5) * width
        ax.bar(pos, jumps, width, color=style.PALETTE[i], label=f"jump, L = {L}")
        ax.bar(pos + width, gaps, width, color=style.PALETTE[i], alpha=0.45, hatch="//",
               label=f"hysteresis gap, L = {L}")
    _bar_labels(ax, acts)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test MSE")
    ax.set_title("Jump: largest step of the median test MSE up the sweep;\nhysteresis gap: max |up − down|",
                 fontsize=9)
    ax.legend(fontsize=6.5, ncol=2, loc="upper center")


def _escape_panel(ax, escapes, acts, depths, temperature):
    width = 0.8 / (2 * len(depths))
    for i, L in enumerate(depths):
        pos = np.arange(len(acts)) + (2 * i - len(depths) + 0.5) * width
        for shift, key, alpha, what in ((0, "escape_sgd", 1.0, "plain SGD"),
                                        (width, "escape_langevin", 0.45, f"+ Langevin T = {temperature:g}")):
            got = [_escaped(escapes[a, L], key) if (a, L) in escapes else (np.nan, np.nan, 0) for a in acts]
            frac = np.array([g[0] for g in got])
            ax.bar(pos + shift, frac, width, color=style.PALETTE[i], alpha=alpha, hatch="" if alpha == 1 else "..",
                   label=f"{what}, L = {L}")
            for xb, (f, _, n) in zip(pos + shift, got):
                if n:
                    ax.text(xb, (f if np.isfinite(f) else 0) + 0.02, f"{int(round(f * n))}/{n}", ha="center",
                            va="bottom", fontsize=6, rotation=90)
    _bar_labels(ax, acts)
    ax.set_ylim(0, 1.45)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("fraction of seeds escaped")
    budget = int(next(iter(escapes.values()))["budget"])
    ax.set_title(f"Escape from the annealed rank-1 trap within {budget} epochs\n"
                 "(σ₂ of the linear response above the rank threshold)", fontsize=9)
    ax.legend(fontsize=6.5, ncol=2, loc="upper center")


def _escaped(esc: dict, key: str) -> tuple[float, float, int]:
    """(fraction of the usable seeds that escaped, their median escape epoch, usable seeds)."""
    ok = ~np.asarray(esc["diverged"], bool)
    times = np.asarray(esc[key], float)[ok]
    n = int(ok.sum())
    hit = np.isfinite(times)
    return (float(hit.mean()) if n else np.nan), (float(np.median(times[hit])) if hit.any() else np.nan), n


def numbers_nonlinear(sweeps, escapes, features, threshold, temperature, tolerance) -> list[Row]:
    rows = []
    for (act, L), sweep in sweeps.items():
        sw, n_bad, total = without_diverged(sweep)
        tagged = _transition_rows(sw, act, L, features, threshold, tolerance) + _order_rows(sw, act, L, sweeps)
        rows += mark_diverged(tagged, n_bad, total)
        if (act, L) in escapes:
            rows += _escape_rows(escapes[act, L], act, L, escapes.get(("linear", L)), temperature)
        status = np.asarray(sweep["status"])
        rows.append(Row(f"unconverged_fraction[L={L},act={act}]", float((status == BUDGET).mean()), None, None, None,
                        None, "n/a", "(direction, beta, seed) points that hit max_epochs before the convergence test"))
        rows += diverged_row(f"L={L},act={act}", n_bad, total)
    return rows


def _transition_rows(sw, act, L, features, threshold, tolerance) -> list[Row]:
    up = transition_points(sw["beta_lin"], sw["svals"][UP], threshold, UP)
    gain = ACTIVATIONS[act][2]
    rows = []
    for k, eta in enumerate(features[: up.shape[1]]):
        med, lo, hi = bootstrap_median_ci(up[:, k])
        ref = linear_drop(eta, L, threshold)
        verdict, tol = judge(med, ref, abs_tol=tolerance)
        rows.append(Row(f"transition_beta[act={act},L={L},feature={k + 1}]", med, lo, hi, None, ref, verdict,
                        f"upward drop of sigma_{k + 1} of the linear response below {threshold:g}, in linear-"
                        f"equivalent beta (beta / g^(2(L-1)/L), g = {gain:g}); theory: the linear network's drop "
                        f"(spinodal for L >= 3, eta - threshold for L = 2); {tol}; "
                        f"{int(np.isfinite(up[:, k]).sum())}/{len(up)} seeds"))
    return rows


def _order_rows(sw, act, L, sweeps) -> list[Row]:
    """max_jump and hysteresis_gap, judged against the linear network at the same depth."""
    ref = sweeps.get(("linear", L))
    ref = without_diverged(ref)[0] if ref is not None else None
    rows = []
    for name, fn in (("max_jump", max_jump), ("hysteresis_gap", hysteresis_gap)):
        value = fn(sw)
        quantity = f"{name}[act={act},L={L}]"
        paper = _paper(act, L, quantity)
        what = ("largest change of the median test MSE between neighbouring beta on the upward sweep"
                if name == "max_jump" else "max over beta of |median test MSE up - down|")
        if act == "linear" or ref is None:
            rows.append(Row(quantity, value, None, None, paper, None, "n/a", f"{what}; the linear reference"))
            continue
        lin = fn(ref)
        if L >= 3:
            verdict, tol = judge(value, 0.5 * lin, bound="lower")
            rule = f"first order like the linear L={L} net: at least half its value {lin:.3g}"
        else:
            verdict, tol = judge(value, 2 * lin, bound="upper")
            rule = f"continuous like the linear L={L} net: at most twice its value {lin:.3g}"
        rows.append(Row(quantity, value, None, None, paper, lin, verdict, f"{what}; {rule}; {tol}"))
    return rows


def _escape_rows(esc, act, L, lin_esc, temperature) -> list[Row]:
    frac, med, n = _escaped(esc, "escape_sgd")
    lfrac, lmed, _ = _escaped(esc, "escape_langevin")
    ref = _escaped(lin_esc, "escape_sgd")[0] if lin_esc is not None and act != "linear" else None
    quantity = f"escape_sgd[act={act},L={L}]"
    paper = _paper(act, L, quantity)
    verdict, tol = judge(frac, 0.5, bound="lower") if paper is not None else ("n/a", "")
    budget = int(esc["budget"])
    trap = (f"trap annealed at beta_lin={float(esc['beta_init_lin']):.4g}, rank 1 in "
            f"{int(np.asarray(esc['trap_rank1']).sum())}/{len(esc['trap_rank1'])} seeds; run at "
            f"beta_lin={float(esc['beta_op_lin']):.4g}")
    if np.asarray(esc["from_theory"]).any():
        trap += " (a drop was not seen: linear theory stood in)"
    end = np.median(np.asarray(esc["sgd_end_svals"])[:, 1])
    when = f"median escape epoch {med:g}" if np.isfinite(med) else "none escaped"
    lwhen = f"median escape epoch {lmed:g}" if np.isfinite(lmed) else "none escaped"
    return [
        Row(quantity, frac, None, None, paper, ref, verdict,
            f"fraction of {n} seeds whose sigma_2 (linear response) rose above the rank threshold within {budget} "
            f"epochs of plain SGD ({when}; median sigma_2 at the end {end:.3g}); {trap}"
            + ("; theory column: the linear net's fraction" if ref is not None else "; the linear reference")
            + (f"; {tol} 0.5" if tol else "")),
        Row(f"langevin_escape[act={act},L={L},T={temperature:g}]", lfrac, None, None, None, None, "n/a",
            f"the same trap and minibatches with SGD + Langevin noise sqrt(2 lr T) N(0,1) per step; {lwhen}")]


def _paper(act: str, L: int, quantity: str):
    """The paper's claim for tanh and sigmoid at L = 3 (None for other rows)."""
    claim = {"tanh": "nonlinear_tanh", "sigmoid": "nonlinear_sigmoid"}.get(act)
    return claimed(claim, "nonlinear", quantity) if claim else None
