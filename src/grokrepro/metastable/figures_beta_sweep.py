"""Figures 3 (phase diagram) and 4 (bifurcation diagram) of Study A, from the β sweeps, and the numbers
they stand for."""
from __future__ import annotations

import math
import re

import matplotlib.pyplot as plt
import numpy as np

from .. import style
from ..engine import BUDGET, DIVERGED
from ..io import load_npz
from ..numbers import Row, bootstrap_median_ci, judge
from . import theory
from .beta_sweep import DOWN, UP, hysteresis_gap, max_jump, transition_points
from .divergence import diverged_row, drop_sweep_replicas, mark_diverged, note_on, sweep_diverged
from .rows import paper as claimed

# the paper's measured transitions (claims), by feature index: (measured beta_c, its offset from theory)
BETA_C_CLAIMS = (("beta_c_strong", "beta_c_offset_strong"), ("beta_c_weak", "beta_c_offset_weak"))


def load_companions(paths) -> dict[int, dict]:
    """The companion sweeps (files ``.../L<depth>.npz``), by depth."""
    return {int(re.search(r"L(\d+)\.npz$", str(f)).group(1)): load_npz(f)[0] for f in paths}


def without_diverged(sweep: dict) -> tuple[dict, int, int]:
    """The sweep with its diverged (direction, seed) replicas set to NaN, their number and the total."""
    bad = sweep_diverged(sweep)
    return (drop_sweep_replicas(sweep, bad) if bad.any() else sweep), int(bad.sum()), bad.size


# Fig 3's theory lines: (style, label); each feature's lines are drawn in that feature's colour
FIG3_LINES = {"emp": ("-", r"$\beta_c$ from the train-set $\hat\eta_k$ (spinodal)"),
              "pop": (":", r"$\beta_c$ from the population $\eta_k$"),
              "star": ("-.", r"$\beta^*_k$ (equal loss; L $\geq$ 3)")}


def _fig3_lines(axes, eta_pop, eta_hat, L, beta_max) -> None:
    """The theory lines of each feature on both panels of one depth, in the feature's colour."""
    for k, eta in enumerate(eta_pop):
        at = {"emp": theory.spinodal(float(eta_hat[k]), L)[0], "pop": theory.spinodal(eta, L)[0]}
        if L >= 3:
            at["star"] = theory.equal_loss_beta(float(eta_hat[k]), L)
        for kind, beta in at.items():
            if beta <= beta_max:
                for a in axes:
                    a.axvline(beta, color=style.PALETTE[k], lw=1.1, ls=FIG3_LINES[kind][0])


def _fig3_legend(fig, eta_pop, eta_hat) -> None:
    """One legend under the panels: the sweeps, the kinds of theory line, the features' colours."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.1", lw=1.6, label="upward sweep (from full rank)"),
               Line2D([], [], color="0.5", lw=1.6, ls="--", label="downward sweep (from trivial)")]
    handles += [Line2D([], [], color="0.35", lw=1.1, ls=ls, label=label) for ls, label in FIG3_LINES.values()]
    handles += [Line2D([], [], color=style.PALETTE[k], lw=3,
                       label=rf"feature {k + 1}: $\eta_{k + 1}$ = {eta:g}, $\hat\eta_{k + 1}$ = {eta_hat[k]:.3f}")
                for k, eta in enumerate(eta_pop)]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8, frameon=False)


def fig3(sweep: dict, companions: dict[int, dict], train: dict, dataset: dict, depth: int,
         rank_threshold: float, tolerance: float):
    """The phase diagram (test MSE and effective rank vs β, both sweep directions, every depth):
    ``(fig, rows)``."""
    style.apply()
    panels = {depth: sweep, **companions}
    fig, axes = plt.subplots(2, len(panels), figsize=(max(5.2 * len(panels), 7.5), 6.2), sharex="col",
                             gridspec_kw={"height_ratios": [2.2, 1]}, squeeze=False)
    eta_pop, eta_hat = dataset["features"], train["sv"]
    for col, (L, sw) in enumerate(panels.items()):
        ax, axr = axes[0, col], axes[1, col]
        sw, n_bad, total = without_diverged(sw)
        note_on(ax, n_bad, total)
        style.band(ax, sw["beta"], sw["test_loss"][UP], "0.1")
        style.band(ax, sw["beta"], sw["test_loss"][DOWN], "0.5", ls="--")
        style.band(axr, sw["beta"], sw["eff_rank"][UP], "0.1")
        style.band(axr, sw["beta"], sw["eff_rank"][DOWN], "0.5", ls="--")
        _fig3_lines((ax, axr), eta_pop, eta_hat, L, sw["beta"][-1])
        ax.set_title(f"depth L = {L}" + (" (paper)" if L == depth else " (contrast)"))
        ax.set_ylabel("test MSE")
        axr.set_ylabel("effective rank of W")
        axr.set_xlabel(r"L2 strength $\beta$")
        axr.set_yticks(range(len(eta_pop) + 1))
    _fig3_legend(fig, eta_pop, eta_hat)
    fig.suptitle(f"Fig 3: phase diagram, median and IQR over {sweep['test_loss'].shape[2]} seeds", fontsize=10)
    return fig, numbers_fig3(sweep, companions, train, dataset, depth, rank_threshold, tolerance)


def numbers_fig3(sweep, companions, train, dataset, depth, rank_threshold, tolerance) -> list[Row]:
    """Transition points of each feature against theory and the paper, then the size of the jump
    and the hysteresis at each depth and the convergence of every sweep."""
    beta = sweep["beta"]
    clean, n_bad, total = without_diverged(sweep)
    up = transition_points(beta, clean["svals"][UP], rank_threshold, UP)
    down = transition_points(beta, clean["svals"][DOWN], rank_threshold, DOWN)
    rows: list[Row] = []
    for k, eta in enumerate(dataset["features"]):
        measured, from_theory = _feature_rows(k, eta, beta, up[:, k], down[:, k], train, depth, tolerance)
        rows += mark_diverged(measured, n_bad, total) + from_theory
    return rows + _depth_rows(sweep, companions, depth)


def _feature_rows(k, eta, beta, up, down, train, depth, tolerance) -> tuple[list[Row], list[Row]]:
    """Rows of feature ``k`` measured on the sweep and from theory: ``up``/``down`` are its per-seed
    transition points of each direction."""
    step = float(beta[1] - beta[0]) if len(beta) > 1 else math.nan
    n_seeds = len(up)
    grid_note = f"median over {n_seeds} seeds, 95% bootstrap CI; beta grid step {step:g} (transition at midpoint)"
    eta_hat, s_k = float(train["sv"][k]), float(train["s"][k])
    tag = f"[eta={eta:g}]"
    bc_pop = theory.spinodal(eta, depth)[0]
    bc_emp = theory.spinodal(eta_hat, depth)[0]
    bc_corr = theory.corrected_beta_c(eta_hat, s_k, depth)
    measured_id, offset_id = BETA_C_CLAIMS[k] if k < len(BETA_C_CLAIMS) else (None, None)
    paper = claimed(measured_id, "3", f"beta_c_up{tag}") if measured_id else None
    med, lo, hi = bootstrap_median_ci(up)
    verdict, tol = judge(med, bc_emp, abs_tol=tolerance)
    v2, tol2 = judge(med, paper, abs_tol=tolerance)
    v3, tol3 = judge(med, bc_corr, abs_tol=tolerance)
    rows = [Row(f"beta_c_up{tag}", med, lo, hi, paper, bc_emp, verdict,
                f"vs theory beta_c from train-set eta_hat={eta_hat:.4f}; {tol}; {grid_note}; "
                f"{int(np.isfinite(up).sum())}/{n_seeds} seeds lost the feature"),
            Row(f"beta_c_up_vs_paper{tag}", med, lo, hi, paper, None, v2 if paper is not None else "n/a",
                f"measured upward transition vs the paper's measured value; {tol2}"),
            Row(f"beta_c_up_vs_sxx_corrected{tag}", med, lo, hi, None, bc_corr, v3,
                f"theory with the train-set input variance s={s_k:.4f} along the feature: "
                f"beta_c = s*beta_c(eta_hat/s); {tol3}")]
    n_regained = int(np.isfinite(down).sum())
    if n_regained == 0:
        rows.append(Row(f"beta_c_down{tag}", None, None, None, None, 0.0, "agrees",
                        "no seed regained the feature on the downward sweep down to beta=0: for L>=3 the "
                        "trivial state is a local minimum at every beta>0 (theory: none above 0)"))
    else:
        med_d, lo_d, hi_d = bootstrap_median_ci(down)
        v, t = judge(med_d, 0.0, abs_tol=step)
        rows.append(Row(f"beta_c_down{tag}", med_d, lo_d, hi_d, None, 0.0, v,
                        f"{n_regained}/{n_seeds} seeds regained the feature; theory: trivial state is "
                        f"stable for all beta>0 at L>=3, so regaining needs noise; {t}"))
    paper = claimed(offset_id, "3", f"beta_c_theory_population{tag}") if offset_id else None
    return rows, [
        Row(f"beta_c_theory_population{tag}", None, None, None, paper, bc_pop, "n/a",
            "spinodal from the population eta; the paper attributes its offset to finite-sample bias"),
        Row(f"beta_c_theory_train_set{tag}", None, None, None, paper, bc_emp, "n/a",
            f"spinodal from the training set's empirical singular value eta_hat={eta_hat:.4f}"),
        Row(f"beta_star_theory{tag}", None, None, None, None, theory.equal_loss_beta(eta_hat, depth), "n/a",
            "equal-loss point f(lambda**)=f(0) from eta_hat; below it the learned state is global")]


def _depth_rows(sweep, companions, depth) -> list[Row]:
    """Jump and hysteresis of the paper's depth, the L <= 2 contrast judged against them, and the
    convergence of every sweep."""
    main, n_main, total_main = without_diverged(sweep)
    jump_ref, gap_ref = max_jump(main), hysteresis_gap(main)
    rows = mark_diverged([Row(f"max_test_mse_jump[L={depth}]", jump_ref, None, None, None, None, "n/a",
                              "largest change of the median test MSE between neighbouring beta on the upward sweep"),
                          Row(f"hysteresis_gap[L={depth}]", gap_ref, None, None, None, None, "n/a",
                              "max over beta of |median test MSE up - down|")], n_main, total_main)
    counts = {depth: (n_main, total_main)}
    for L, sw in companions.items():
        sw, n_bad, total = without_diverged(sw)
        counts[L] = (n_bad, total)
        jump, gap = max_jump(sw), hysteresis_gap(sw)
        pair = [Row(f"max_test_mse_jump[L={L}]", jump, None, None, None, None,
                    judge(jump, 0.1 * jump_ref, bound="upper")[0],
                    f"upward sweep: no first-order jump expected at L<=2 (continuous transition at "
                    f"beta=eta); tolerance 10% of the L={depth} jump ({0.1 * jump_ref:.3g})"),
                Row(f"hysteresis_gap[L={L}]", gap, None, None, None, 0.0,
                    judge(gap, 0.1 * gap_ref, bound="upper")[0],
                    f"L<=2 has no metastable state, so quasi-static up and down sweeps coincide in theory; "
                    f"a gap here is the downward sweep lagging: while beta > eta_k the trivial mode decays "
                    f"exponentially, and below eta_k it regrows only at rate lr*(eta_k-beta) from there "
                    f"(an unstable point, not a barrier); tolerance 10% of the L={depth} gap")]
        rows += mark_diverged(pair, n_main + n_bad, total_main + total)
    for L, sw in {depth: sweep, **companions}.items():
        n_pts = sw["status"].size
        unconv = int((sw["status"] == BUDGET).sum())
        diverged = int((sw["status"] == DIVERGED).sum())
        rows.append(Row(f"unconverged_fraction[L={L}]", unconv / n_pts, None, None, None, None, "n/a",
                        f"(direction, beta, seed) points that hit max_epochs before the convergence test; "
                        f"{diverged} diverged"))
    for L, (n_bad, total) in counts.items():
        rows += diverged_row(f"L={L}", n_bad, total)
    return rows


def fig4(sweep: dict, train: dict, dataset: dict, depth: int):
    """The bifurcation diagram (train-set theory branches, the sweeps' singular values on top):
    ``(fig, rows)``."""
    style.apply()
    eta_hat, s_hat = train["sv"], train["s"]
    beta = sweep["beta"]
    k_feat = len(dataset["features"])
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    raw = sweep
    sweep, n_bad, total = without_diverged(raw)
    note_on(ax, n_bad, total)
    bmax = min(float(beta[-1]), 1.25 * max(theory.corrected_beta_c(float(eta_hat[k]), float(s_hat[k]), depth)
                                           for k in range(k_feat)))
    fine = np.linspace(0, bmax, 801)
    for k in range(k_feat):
        c = style.PALETTE[k]
        eh, sk = float(eta_hat[k]), float(s_hat[k])
        # the train set's landscape along feature k is s·f(λ; η̂/s, β/s)
        br = theory.branches(eh / sk, depth, fine / sk)
        bstar = sk * theory.equal_loss_beta(eh / sk, depth)
        pop = theory.branches(dataset["features"][k], depth, fine)
        ax.plot(fine, pop["learned"], "-", color="0.7", lw=0.8)
        glob = fine <= bstar
        ax.plot(fine[glob], br["learned"][glob], "-", color=c, lw=1.8)
        ax.plot(fine[~glob], br["learned"][~glob], ":", color=c, lw=1.8)
        ax.plot(fine, br["saddle"], "--", color=c, lw=1.2)
        triv = np.where(np.isfinite(br["trivial"]), 0.0, np.nan)
        if depth >= 3:
            ax.plot(fine[fine >= bstar], triv[fine >= bstar], "-", color="0.3", lw=1.8)
            ax.plot(fine[fine < bstar], triv[fine < bstar], ":", color="0.3", lw=1.8)
        for d, marker in ((UP, "^"), (DOWN, "v")):
            sv = sweep["svals"][d][:, :, k][beta <= bmax]
            with np.errstate(all="ignore"):
                med = np.nanmedian(sv, axis=1)
                lo, hi = np.nanpercentile(sv, 25, axis=1), np.nanpercentile(sv, 75, axis=1)
            ax.errorbar(beta[beta <= bmax], med, yerr=[med - lo, hi - med], fmt=marker, ms=3.5, color=c,
                        mfc="white" if d else c, alpha=0.8, lw=0.8)
    ax.legend(handles=_fig4_legend(eta_hat, s_hat, k_feat, depth), fontsize=7, ncol=2, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), frameon=False)  # under the axes: it covers no data
    ax.set_xlabel(r"L2 strength $\beta$")
    ax.set_ylabel(r"$\lambda$ (singular value of $W$)")
    ax.set_title(f"Fig 4: bifurcation diagram, depth L = {depth}; theory from the training set's\n"
                 r"$\hat\eta$ and input variance $s$ along each feature: $s\,f(\lambda;\hat\eta/s,\beta/s)$",
                 fontsize=9)
    ax.set_ylim(bottom=-0.03)
    return fig, numbers_fig4(raw, train, dataset, depth)


def _fig4_legend(eta_hat, s_hat, k_feat, depth) -> list:
    """Fig 4's legend: one colour entry per feature, then each line and marker style once."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=style.PALETTE[k], lw=3,
                      label=rf"feature {k + 1}: $\hat\eta_{k + 1}$={float(eta_hat[k]):.3f}, s={float(s_hat[k]):.3f}")
               for k in range(k_feat)]
    gray = "0.35"
    handles += [Line2D([], [], color=gray, lw=1.8, label=r"learned state, global minimum ($\beta < \beta^*$)"),
                Line2D([], [], color=gray, lw=1.8, ls=":", label=r"learned state, metastable ($\beta > \beta^*$)"),
                Line2D([], [], color=gray, lw=1.2, ls="--", label="saddle (the barrier top)"),
                Line2D([], [], color="0.7", lw=0.8, label="learned state, population theory")]
    if depth >= 3:
        handles.append(Line2D([], [], color="0.3", lw=1.8, label=r"trivial $\lambda$=0 (dotted: metastable)"))
    handles += [Line2D([], [], color=gray, ls="none", marker="^", ms=4, label=r"measured $\sigma_k$, upward sweep"),
                Line2D([], [], color=gray, ls="none", marker="v", ms=4, mfc="white",
                       label=r"measured $\sigma_k$, downward sweep")]
    return handles


def numbers_fig4(sweep: dict, train: dict, dataset: dict, depth: int) -> list[Row]:
    """The learned singular value on the upward sweep against theory at a few β."""
    eta_hat, s_hat = train["sv"], train["s"]
    beta = sweep["beta"]
    sweep, n_bad, total = without_diverged(sweep)
    rows: list[Row] = []
    for k in range(len(dataset["features"])):
        eh = float(eta_hat[k])
        bc_emp = theory.spinodal(eh, depth)[0]
        for b in (0.1, 0.2, 0.3):
            j = int(np.argmin(np.abs(beta - b)))
            if abs(beta[j] - b) > 1e-9 or b >= bc_emp:
                continue
            med, lo, hi = bootstrap_median_ci(sweep["svals"][UP][j, :, k])
            th = theory.stationary_points(eh, b, depth).learned
            th_corr = theory.stationary_points(eh / s_hat[k], b / s_hat[k], depth).learned
            v, t = judge(med, th_corr, rel_tol=0.05)
            rows.append(Row(f"sigma_learned[eta={dataset['features'][k]:g},beta={b:g}]", med, lo, hi, None, th_corr,
                            v, f"theory lambda** with train-set eta_hat and input variance s={s_hat[k]:.3f} "
                            f"(plain eta_hat theory: {th:.4f}); {t}"))
    return mark_diverged(rows, n_bad, total) + diverged_row(f"L={depth}", n_bad, total)
