"""Study A beyond the paper, d features (``fig_metastable_features``): phase diagrams for d = 2, 3, 4,
the metastable states counted by the Hessian against β, the hysteresis loop's area against d, and
the numbers they stand for."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
import numpy as np

from .. import claims, style
from ..engine import BUDGET
from ..numbers import Row, bootstrap_median_ci, judge
from . import theory
from .beta_sweep import DOWN, UP, transition_points
from .divergence import diverged_row, mark_diverged, note_on
from .features import loop_area, theory_loop_area
from .figures_beta_sweep import without_diverged
from .rows import paper as claimed

LOOP_REL_TOL = 0.05  # the measured loop area against the per-feature theory's


def describe(spec: dict) -> tuple[int, bool, str]:
    """(d, exact moments?, the suffix its rows' tags end with: '' or ',data=sampled') of a data set."""
    d, exact = len(spec["features"]), bool(spec.get("exact_moments", False))
    return d, exact, "" if exact else ",data=sampled"


def spinodals(spec: dict, train: dict, depth: int) -> np.ndarray:
    """Theory spinodal of each feature: of η (exact moments), else of the training set's s·f(λ; η̂/s, β/s)."""
    if describe(spec)[1]:
        return np.array([theory.spinodal(float(e), depth)[0] for e in spec["features"]])
    d = len(spec["features"])
    return np.array([theory.corrected_beta_c(float(train["sv"][k]), float(train["s"][k]), depth) for k in range(d)])


def fig_features(sweeps: dict, states: dict, trains: dict, datasets: dict, depth: int, tolerance: float,
                 rank_threshold: float):
    """``(fig, rows)``; every argument but the last three is keyed by data-set name."""
    style.apply()
    names = list(datasets)
    n = len(names)
    fig = plt.figure(figsize=(4.3 * n, 10.5))
    top = fig.add_gridspec(2, n, top=0.9, bottom=0.44, height_ratios=[2.0, 1.0], hspace=0.08, wspace=0.25)
    bottom = fig.add_gridspec(1, 2, top=0.34, bottom=0.05, wspace=0.22)
    for col, name in enumerate(names):
        ax = fig.add_subplot(top[0, col])
        axr = fig.add_subplot(top[1, col], sharex=ax)
        _phase_panel(ax, axr, sweeps[name], datasets[name], trains[name], depth)
        ax.tick_params(labelbottom=False)
        if col == 0:
            ax.set_ylabel("test MSE")
            axr.set_ylabel("effective rank of W")
    _counts_panel(fig.add_subplot(bottom[0, 0]), states, datasets)
    _loop_panel(fig.add_subplot(bottom[0, 1]), sweeps, datasets, depth)
    fig.suptitle(f"Beyond the paper: d features, deep linear network L = {depth}; quasi-static sweeps, median "
                 f"and IQR over {sweeps[names[0]]['test_loss'].shape[2]} seeds. Upward from full rank, downward from "
                 "trivial; dotted: each feature's theory spinodal", fontsize=10)
    return fig, numbers_features(sweeps, states, trains, datasets, depth, tolerance, rank_threshold)


def _phase_panel(ax, axr, sweep, spec, train, depth):
    sw, n_bad, total = without_diverged(sweep)
    d, exact, _ = describe(spec)
    note_on(ax, n_bad, total)
    with np.errstate(all="ignore"):
        up, down = np.nanmedian(sw["test_loss"][UP], axis=1), np.nanmedian(sw["test_loss"][DOWN], axis=1)
    ax.fill_between(sw["beta"], up, down, color="0.88", lw=0, label="hysteresis loop")
    style.band(ax, sw["beta"], sw["test_loss"][UP], "0.15", "upward sweep")
    style.band(ax, sw["beta"], sw["test_loss"][DOWN], "0.55", "downward sweep", ls="--")
    style.band(axr, sw["beta"], sw["eff_rank"][UP], "0.15")
    style.band(axr, sw["beta"], sw["eff_rank"][DOWN], "0.55", ls="--")
    for k, bc in enumerate(spinodals(spec, train, depth)):
        name = (rf"$\eta_{k + 1}$ = {spec['features'][k]:g}" if exact
                else rf"$\hat\eta_{k + 1}$ = {float(train['sv'][k]):.3f}")
        for a in (ax, axr):
            a.axvline(bc, color=style.PALETTE[k], lw=1.2, ls=":", label=rf"$\beta_c$, {name}" if a is ax else None)
    sampled = "sampled (" + ", ".join(map(str, spec["features"])) + r"; $\beta_c$ from $\hat\eta$, s)"
    ax.set_title(f"d = {d}, " + ("exact moments" if exact else sampled), fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    axr.set_yticks(range(d + 1))
    axr.set_xlabel(r"L2 strength $\beta$")


def _counts_panel(ax, states, datasets):
    colours, n = [], len(datasets)
    for i, (name, spec) in enumerate(datasets.items()):
        st, (d, exact, _) = states[name], describe(spec)
        c, ls = style.PALETTE[i], "-" if exact else "--"
        x = st["beta"] + 0.006 * (i - (n - 1) / 2)  # side by side where the counts coincide
        ax.plot(x, st["metastable"], "o" + ls, color=c, ms=7, zorder=3)
        ax.plot(x, 2 ** st["learnable"] - 1, "s" + ls, color=c, ms=5, mfc="white", lw=0.8)
        ax.plot([x[0] - 0.03], [d], "_", color=c, ms=14, mew=2.5)
        colours.append(Line2D([], [], color=c, ls=ls, label=f"d = {d}" + ("" if exact else " (sampled)")))
    kinds = [Line2D([], [], color="0.3", marker="o", ls="", label="measured: local minima − 1 (Hessian)"),
             Line2D([], [], color="0.3", marker="s", mfc="white", ls="", label=r"per-feature theory $2^m - 1$"),
             Line2D([], [], color="0.3", marker="_", ms=14, mew=2.5, ls="", label="the paper: d")]
    ax.set_ylim(-0.5, 21)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    first = ax.legend(handles=colours, fontsize=7, loc="upper left", ncol=2)
    ax.add_artist(first)
    ax.legend(handles=kinds, fontsize=7, loc="upper right")
    ax.set_xlabel(r"L2 strength $\beta$")
    ax.set_ylabel("metastable states")
    ax.set_title("Metastable states: the balanced state of every subset of features, relaxed (GD + Newton),\n"
                 "classified by its Hessian; m = features with a learned state at this β", fontsize=9)


def _loop_panel(ax, sweeps, datasets, depth):
    exact_d, theory_y = [], []
    for i, (name, spec) in enumerate(datasets.items()):
        d, exact, _ = describe(spec)
        sw = without_diverged(sweeps[name])[0]
        med, lo, hi = bootstrap_median_ci(loop_area(sw))
        ax.errorbar([d + (0 if exact else 0.08)], [med], yerr=[[med - lo], [hi - med]], fmt="o" if exact else "D",
                    color=style.PALETTE[i], mfc=None if exact else "white", ms=8, capsize=3,
                    label=f"d = {d}" + (" (exact moments)" if exact else " (sampled)"))
        if exact:
            exact_d.append(d)
            theory_y.append(theory_loop_area(spec["features"], sw["beta"], depth))
    if exact_d:
        order = np.argsort(exact_d)
        ax.plot(np.asarray(exact_d)[order], np.asarray(theory_y)[order], "k+--", ms=14, lw=0.8, zorder=4,
                label="per-feature theory (exact moments)")
    ax.set_xlabel("number of features d")
    ax.set_ylabel(r"loop area $\int |MSE_{down} - MSE_{up}|\, d\beta$")
    ax.set_title("Hysteresis loop (shaded above) against task complexity\n(median and 95% CI over seeds)",
                 fontsize=9)
    ax.set_xticks(sorted({describe(s)[0] for s in datasets.values()}))
    ax.legend(fontsize=7, loc="upper left")


def numbers_features(sweeps, states, trains, datasets, depth, tolerance, rank_threshold) -> list[Row]:
    rows, areas = [], {}
    for name, spec in datasets.items():
        d, exact, suffix = describe(spec)
        tag = f"d={d}{suffix}"
        sw, n_bad, total = without_diverged(sweeps[name])
        measured = _transition_rows(sw, spec, trains[name], depth, tolerance, rank_threshold)
        area_row = _loop_row(sw, spec, depth)
        if exact:
            areas[d] = area_row.measured
        rows += mark_diverged(measured + [area_row], n_bad, total)
        rows += _state_rows(states[name], spec)
        status = np.asarray(sweeps[name]["status"])
        rows.append(Row(f"unconverged_fraction[{tag}]", float((status == BUDGET).mean()), None, None, None, None,
                        "n/a", "(direction, beta, seed) points that hit max_epochs before the convergence test"))
        rows += diverged_row(tag, n_bad, total)
    return rows + _growth_row(areas)


def _transition_rows(sw, spec, train, depth, tolerance, rank_threshold) -> list[Row]:
    d, exact, suffix = describe(spec)
    beta = sw["beta"]
    up = transition_points(beta, sw["svals"][UP], rank_threshold, UP)
    down = transition_points(beta, sw["svals"][DOWN], rank_threshold, DOWN)
    step = float(beta[1] - beta[0]) if len(beta) > 1 else float("nan")
    source = "eta" if exact else "train-set eta_hat and input variance s: s*beta_c(eta_hat/s)"
    rows = []
    for k, bc in enumerate(spinodals(spec, train, depth)):
        med, lo, hi = bootstrap_median_ci(up[:, k])
        verdict, tol = judge(med, bc, abs_tol=tolerance)
        miss = f"misses by {med - bc:+.4f}" if np.isfinite(med) else "no drop seen"
        which = f"eta={spec['features'][k]:g}" if exact else f"eta_hat={float(train['sv'][k]):.4f}"
        rows.append(Row(f"transition_beta[d={d},feature={k + 1}{suffix}]", med, lo, hi, None, bc, verdict,
                        f"upward drop of feature {k + 1} ({which}) vs its theory spinodal (from {source}); "
                        f"{miss}; {tol}; {int(np.isfinite(up[:, k]).sum())}/{len(up)} seeds; beta grid step "
                        f"{step:g} (drop at the midpoint)"))
    regained = int(np.isfinite(down).sum())
    rows.append(Row(f"regained_down[d={d}{suffix}]", regained, None, None, None, 0, judge(regained, 0, abs_tol=0)[0],
                    f"(seed, feature) pairs that regained a feature on the downward sweep, of {down.size}; theory: "
                    "none, the trivial state is a local minimum at every beta > 0 for L >= 3"))
    return rows


def _loop_row(sw, spec, depth) -> Row:
    d, exact, suffix = describe(spec)
    med, lo, hi = bootstrap_median_ci(loop_area(sw))
    th = theory_loop_area(spec["features"], sw["beta"], depth) if exact else None
    verdict, tol = judge(med, th, rel_tol=LOOP_REL_TOL)
    return Row(f"loop_area[d={d}{suffix}]", med, lo, hi, None, th, verdict if exact else "n/a",
               "integral over the beta grid (trapezoid) of |test MSE down - up| per seed, median and 95% CI; "
               + (f"theory: each feature on its learned branch up to its spinodal, trivial downward; {tol}"
                  if exact else "no theory for a sampled test set"))


def _state_rows(st, spec) -> list[Row]:
    d, exact, suffix = describe(spec)
    rows = []
    for i, beta in enumerate(st["beta"]):
        m, measured = int(st["learnable"][i]), int(st["metastable"][i])
        quantity = f"metastable_states[d={d},beta={beta:g}{suffix}]"
        claim_id = f"metastable_states_d{d}"
        paper = claimed(claim_id, "features", quantity) if claim_id in claims.load("metastable") else None
        if m == d:
            verdict, tol = judge(measured, d, abs_tol=0)
            why = f"against the paper's d (every feature learnable here); {tol}"
        else:
            verdict, why = "n/a", (f"only m={m} of the {d} features have a learned state at this beta, so the paper's "
                                   f"one-per-feature count does not apply; measured equals m: {measured == m}")
        rows.append(Row(quantity, measured, None, None, paper, 2 ** m - 1, verdict,
                        f"distinct local minima minus the global one, of the 2^{d} subsets' balanced states relaxed "
                        f"by GD + Newton and checked by the Hessian: {int(st['minima'][i])} minima, "
                        f"{int(st['saddles'][i])} relaxed onto saddles, {int(st['unresolved'][i])} unresolved, "
                        f"{int(st['existing'][i])} of {2 ** d} exist, {int(st['left'][i])} relaxed away from their "
                        f"construction; {why}; theory column: per-feature picture "
                        f"2^m-1={2 ** m - 1}; ordered picture (derived: a learned weaker feature with an unlearned "
                        f"stronger one is a saddle) m={m}"))
    return rows


def _growth_row(areas: dict) -> list[Row]:
    if len(areas) < 2:
        return []
    ds = sorted(areas)
    steps = [areas[b] - areas[a] for a, b in zip(ds, ds[1:])]
    smallest = float(np.min(steps))
    verdict, tol = judge(smallest, 0.0, bound="lower")
    return [Row("loop_area_growth", smallest, None, None, claimed("hysteresis_grows", "features", "loop_area_growth"),
                None, verdict, f"smallest increase of the loop area from one d to the next (exact-moment sets, d = "
                f"{', '.join(map(str, ds))}: {', '.join(f'{areas[k]:.4f}' for k in ds)}); {tol} 0")]
