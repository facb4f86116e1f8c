"""Figures 1a and 1b of Study A (delayed escape from traps; sparse-sampling grokking curve)."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .. import style
from ..io import load_npz
from ..numbers import Row, bootstrap_median_ci, judge
from . import figures_trap_evidence as ev
from . import theory
from .divergence import diverged_row, escape_diverged, keep_replicas, mark_diverged, not_drawn, note_on
from .fitting import km_median, survival
from .rows import paper as claimed

# the paper's Fig 1a escape epochs at beta = 0.32 (claims), by start
ESCAPE_CLAIMS = {"random": "escape_random_start", "rank1": "escape_rank1_trap", "trivial": "escape_trivial_trap"}


def _x(epochs):
    return np.asarray(epochs) + 1  # log axis: epoch 0 is drawn at 1


def load_escape_runs(paths) -> dict[str, dict[str, dict]]:
    """Escape-run files ``.../<point>/<start>.npz`` as ``runs[point][start]``."""
    runs: dict[str, dict[str, dict]] = {}
    for f in paths:
        path = Path(f)
        runs.setdefault(path.parent.name, {})[path.stem] = load_npz(f)[0]
    return runs


def _escape_summary(run: dict, key: str = "mse"):
    t, c = run[f"escape_{key}"], run[f"censored_{key}"]
    med = km_median(t, c)
    if math.isnan(med):
        return med, math.nan, math.nan
    boot = bootstrap_median_ci(np.where(c, np.inf, t))
    return med, boot[1], boot[2] if np.isfinite(boot[2]) else math.nan


def fig1a(runs: dict[str, dict[str, dict]], points: dict[str, dict], train: dict, depth: int,
          delay_factor_min: float, traps: dict | None = None, separatrix: dict | None = None,
          langevin: dict | None = None):
    """Fig 1a's three layers of evidence at each operating point: ``(fig, rows)``.
    ``runs[point][start]`` = plain-SGD escape-run arrays; ``traps[point][start]`` the annealed trap
    checkpoints (residuals, escape-direction noise); ``separatrix[point]`` the annealing-budget sweep;
    ``langevin[point]`` the Langevin runs from the constructed traps (absent layers are left out)."""
    style.apply()
    layers = [True, True, bool(separatrix), bool(langevin), bool(langevin)]
    n_rows = sum(layers)
    fig, axes = plt.subplots(n_rows, len(runs), figsize=(6.0 * len(runs), 2.9 * n_rows), squeeze=False,
                             layout="constrained",
                             gridspec_kw={"height_ratios": [h for h, on in zip((1.4, 1, 1.2, 1.3, 1), layers) if on]})
    rows: list[Row] = []
    for col, (point, starts) in enumerate(runs.items()):
        pt = points[point]
        rows += numbers_fig1a(point, pt, starts, train, depth, delay_factor_min)
        rows += _sgd_panels(axes[0, col], axes[1, col], point, pt, starts, (traps or {}).get(point, {}), train)
        r = 2
        if separatrix:
            ev.draw_separatrix(axes[r, col], separatrix[point])
            b_init = float(separatrix[point]["beta_init"])
            axes[r, col].set_title(f"2. plain SGD at $\\beta$={pt['beta']} after annealing at $\\beta_{{init}}$="
                                   f"{b_init:g} cut short\n(rank-1 start, exact-moment data): separatrix", fontsize=8)
            rows += ev.separatrix_rows(point, separatrix[point])
            r += 1
        if langevin:
            ev.draw_langevin(axes[r, col], axes[r + 1, col], langevin[point])
            axes[r, col].set_title(f"3. SUBSTITUTE NOISE MODEL (Langevin, not SGD) at $\\beta$={pt['beta']}: "
                                   f"constructed traps,\nT = barrier/{float(langevin[point]['ratio']):g}, "
                                   f"lr={float(langevin[point]['lr']):g}, full batch (exact-moment data)", fontsize=8)
            rows += ev.langevin_rows(point, langevin[point])
    fig.suptitle("Fig 1a: can a trapped deep linear net escape? 1. plain SGD (the paper's protocol) - "
                 "2. SGD from traps annealed too briefly - 3. Langevin noise (not SGD)\n"
                 "curves: median and IQR over seeds; dotted: each trap's plateau; escape: test-MSE criterion (1), "
                 "the unlearned mode's sigma half-way from the theory saddle to the learned state (2), past the "
                 "saddle (3)", fontsize=9)
    return fig, rows


def _sgd_panels(ax, axs, point: str, pt: dict, starts: dict, traps: dict, train: dict) -> list[Row]:
    """Layer 1: plain-SGD curves and survival from each start, with the traps' residuals and
    escape-direction noise fraction written in the survival panel; their rows."""
    drawn = [_draw_start(ax, axs, start, run) for start, run in starts.items()]
    any_run = next(iter(starts.values()))
    ax.axhline(float(any_run["global_test_mse"]), color="0.2", lw=1.0, ls="--", label="global-minimum state")
    ax.set_xscale("log")
    if not any(drawn):  # every replica of every start diverged: nothing sets the epoch axes
        ax.set_xlim(1, float(any_run["budget"]) + 1)
        axs.set_xlim(1, float(any_run["budget"]) + 1)
    ax.set_ylabel("test MSE")
    ax.set_title(f"1. plain SGD (the paper's protocol), point '{point}': $\\beta$={pt['beta']}, lr={pt['lr']}, "
                 f"B={int(any_run['batch_size'])},\nfrom random init and annealed traps (sampled data)", fontsize=8)
    ax.legend(fontsize=7)
    axs.set_xscale("log")
    axs.set_ylim(-0.03, 1.03)
    axs.set_xlabel("epoch + 1")
    axs.set_ylabel("fraction not escaped")
    axs.axvline(float(any_run["budget"]) + 1, color="0.5", lw=0.8, ls=":")
    stated = claimed("escape_rank1_trap", "1a", f"escape_epochs_median[point={point},start=rank1]")
    if "rank1" in starts and isinstance(stated, (int, float)):
        axs.axvline(float(stated) + 1, color=ev.color("rank1"), lw=1.0, ls="-.",
                    label=f"paper: rank-1 trap escapes at ~{float(stated):g} epochs")
    axs.legend(fontsize=7, loc="lower left")
    rows, diags = [], {}
    for start, trap_arrays in traps.items():
        diags[start] = ev.trap_diagnostics(trap_arrays, train, start)
        rows += ev.trap_rows(f"point={point},start={start}", diags[start])
    if diags:
        axs.text(0.98, 0.5, "at the start (median over seeds):\n" + ev.diagnostics_text(diags), fontsize=6,
                 ha="right", va="center", transform=axs.transAxes, bbox={"fc": "white", "ec": "0.7", "alpha": 0.9})
    return rows


def _draw_start(ax, axs, start: str, run: dict) -> bool:
    """Test-MSE band (``ax``) and survival curve (``axs``) of one start, without its diverged
    replicas; False if every replica diverged (then only the legend says so)."""
    c = ev.color(start)
    bad = escape_diverged(run)
    run = keep_replicas(run, ~bad)
    dropped = f" ({not_drawn(int(bad.sum()), len(bad))})" if bad.any() else ""
    if not len(run["censored_mse"]):
        ax.plot([], [], color=c, label=f"{start} start{dropped}")
        return False
    style.band(ax, _x(run["epochs"]), run["test_loss"], c, f"{start} start{dropped}", ls=ev.LINES.get(start, "-"))
    if start != "random":
        ax.axhline(float(run["plateau_test_mse"][0]), color=c, lw=0.8, ls=":")
    grid = np.unique(np.concatenate([run["epochs"], np.nan_to_num(run["escape_mse"], nan=0)]))
    surv = survival(run["escape_mse"], run["censored_mse"], float(run["budget"]), grid)
    axs.step(_x(grid), surv, where="post", color=c, lw=ev.WIDTHS.get(start, 1.6), ls=ev.LINES.get(start, "-"),
             label=f"{start}: {int((~run['censored_mse']).sum())}/{len(run['censored_mse'])} escaped")
    return True


def escape_verdict(med: float, paper, budget: float) -> tuple[str, str]:
    """Verdict and note of a median escape epoch against the paper's value: a number (within a
    factor 2) or a lower bound in words (``">7000 ..."``)."""
    if isinstance(paper, (int, float)) and math.isfinite(med):
        return judge(med, paper, factor=2)[0], "within a factor 2 of the paper"
    if isinstance(paper, str):  # the paper gives only a lower bound, e.g. ">7000"
        bound = float(paper.split()[0].lstrip(">"))
        if math.isfinite(med):
            return judge(med, bound, bound="lower")[0], f"paper: more than {bound:g} epochs"
        if budget >= bound:
            return "agrees", f"fewer than half escaped within {budget:g} >= {bound:g} epochs"
        return "n/a", (f"fewer than half escaped within {budget:g} epochs, a budget shorter than "
                       f"the paper's bound {bound:g}: cannot compare")
    if paper is not None:
        return "deviates", f"fewer than half the seeds escaped within {budget:g} epochs"
    return "n/a", "no reference"


def numbers_fig1a(point, pt, starts, train, depth, delay_factor_min) -> list[Row]:
    """Rows of one operating point: the global minimum, each start's escape statistics, the delay
    of each trap against random starts and the train-set theory gap of each feature."""
    tag = f"point={point}"
    any_run = next(iter(starts.values()))
    budget = float(any_run["budget"])
    glob = tuple(bool(v) for v in np.atleast_1d(any_run["global_phase"]))
    rows = [Row(f"global_min_test_mse[{tag}]", float(any_run["global_test_mse"]), None, None, None, None, "n/a",
                f"test MSE of the stationary state with the lowest training objective at beta={pt['beta']}: "
                f"learned features {list(map(int, glob))}")]
    medians, counts = {}, {}
    for start, run in starts.items():
        bad = escape_diverged(run)
        counts[start] = (int(bad.sum()), len(bad))
        start_rows, medians[start] = _start_rows(f"{tag},start={start}", start, keep_replicas(run, ~bad), budget)
        rows += mark_diverged(start_rows, *counts[start]) + diverged_row(f"{tag},start={start}", *counts[start])
    if "random" in medians and math.isfinite(medians["random"]):
        for row, start in _delay_rows(tag, starts, medians, budget, delay_factor_min):
            if counts[start][0] < counts[start][1]:  # no delay of a start whose replicas all diverged
                n_bad, total = (a + b for a, b in zip(counts[start], counts["random"]))
                rows += mark_diverged([row], n_bad, total)
    gaps = theory.f_gap_per_feature(train["sv"], train["s"], pt["beta"], depth)
    for k, gap in enumerate(gaps):
        rows.append(Row(f"f_learned_minus_trivial[{tag},feature={k + 1}]", None, None, None, None, gap, "n/a",
                        "theory f(lambda**) - f(0) in the train set's landscape s*f(lambda; eta_hat/s, beta/s): "
                        "negative = learned state is the global one; NaN = no learned state at this beta"))
    return rows


def _start_rows(st: str, start: str, run: dict, budget: float) -> tuple[list[Row], float]:
    """Escape rows of one start (``st`` = its tag) and its median escape epoch."""
    n = len(run["censored_mse"])
    quantity = f"escape_epochs_median[{st}]"
    paper = claimed(ESCAPE_CLAIMS[start], "1a", quantity) if start in ESCAPE_CLAIMS else None
    if not n:
        return [Row(quantity, None, None, None, paper, None, "n/a", "every replica diverged"),
                Row(f"escaped_fraction[{st}]", None, None, None, None, None, "n/a", "every replica diverged")], math.nan
    escaped = int((~run["censored_mse"]).sum())
    med, lo, hi = _escape_summary(run)
    verdict, tol = escape_verdict(med, paper, budget)
    note = (f"Kaplan-Meier median over {n} seeds of the first epoch with test MSE below the midpoint of "
            f"plateau {float(run['plateau_test_mse'][0]):.4g} and global minimum "
            f"{float(run['global_test_mse']):.4g}; 95% bootstrap CI; censored at {budget:g} epochs; {tol}")
    if bool(run["no_lower_state"]):
        note += "; this start is already in the lowest-objective phase, so there is nothing to escape to"
    rows = [Row(quantity, med, lo, hi, paper, None, verdict, note),
            Row(f"escaped_fraction[{st}]", escaped / n, None, None, None, None, "n/a",
                f"{escaped}/{n} seeds escaped within {budget:g} epochs (others right-censored, kept)")]
    if start != "random":
        sv_med, sv_lo, sv_hi = _escape_summary(run, "sv")
        rows.append(Row(f"escape_epochs_sv_median[{st}]", sv_med, sv_lo, sv_hi, None, None, "n/a",
                        "singular-value criterion: first epoch with the next singular value above threshold"))
        ph = run["start_phase"]
        rows.append(Row(f"start_residual_sigma[{st}]", float(np.median(run["start_svals"][:, ph.shape[1] - 1])),
                        None, None, None, None, "n/a",
                        "median over seeds of the smallest singular value of W at the start (how far the "
                        "unlearned feature's mode had decayed when the trap was checkpointed)"))
    return rows, med


def _delay_rows(tag: str, starts: dict, medians: dict, budget: float, delay_factor_min: float):
    """Median escape epoch of each trap over that of the random starts (floored at 1 epoch):
    (row, start) pairs."""
    rows = []
    base = medians["random"]
    for start, med in medians.items():
        if start == "random":
            continue
        lower = not math.isfinite(med)
        factor = (budget if lower else med) / max(base, 1.0)
        verdict = judge(factor, delay_factor_min, bound="lower")[0]
        if bool(starts[start]["no_lower_state"]) or lower:
            verdict = "n/a"  # global minimum: no delayed escape; or only a bound set by the budget: never agrees
        rows.append((Row(f"delay_factor[{tag},start={start}]", factor, None, None, None, None, verdict,
                         ("lower bound (budget): most trapped seeds never escaped, so the delay is not measured; "
                          if lower else "")
                         + f"median escape epoch of the trap / of random starts (random floored at 1 epoch); "
                         f"requirement >= {delay_factor_min:g}"), start))
    return rows


def fig1b(run: dict, pt: dict):
    """The sparse-sampling grokking curve (train/test MSE and the next singular value over
    epochs): ``(fig, rows)``."""
    style.apply()
    fig, (ax, axs) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    bad = escape_diverged(run)
    note_on(ax, int(bad.sum()), len(bad))
    k = run["start_phase"].shape[1]
    j = int(run["start_phase"][0].sum())
    rows = numbers_fig1b(run)
    run = keep_replicas(run, ~bad)
    x = _x(run["epochs"])
    if bad.all():  # nothing to draw: fix the log axes' ranges instead
        ax.set_xlim(1, float(run["budget"]) + 1)
        axs.set_xlim(1, float(run["budget"]) + 1)
        axs.set_ylim(1e-6, 1.0)
    style.band(ax, x, run["train_loss"], style.PALETTE[0], "train MSE")
    style.band(ax, x, run["test_loss"], style.PALETTE[3], "test MSE")
    ax.set_xscale("log")
    ax.set_xlabel("epoch + 1")
    ax.set_ylabel("MSE")
    ax.legend()
    ax.set_title(f"sparse sub-sampling: n_train={int(pt['n_train'])}, $\\beta$={pt['beta']}, lr={pt['lr']}, "
                 f"B={int(run['batch_size'])}", fontsize=9)
    sv = run["svals"][:, :, min(j, k - 1)]
    style.band(axs, x, sv, style.PALETTE[2], f"$\\sigma_{j + 1}(W)$")
    axs.axhline(1e-3, color="0.4", ls=":", lw=1, label="rank threshold")
    axs.set_xscale("log")
    axs.set_yscale("log")
    axs.set_xlabel("epoch + 1")
    axs.set_ylabel("singular value of W")
    axs.legend()
    fig.suptitle("Fig 1b: grokking by sparse sub-sampling, from the rank-1 trap (median, IQR over seeds)", fontsize=10)
    return fig, rows


def numbers_fig1b(run: dict) -> list[Row]:
    """The sparse run's escape against the paper, its train plateau and the grokking signature,
    over the replicas that did not diverge."""
    bad = escape_diverged(run)
    n_bad, total = int(bad.sum()), len(bad)
    if n_bad == total:
        paper = claimed("sparse_escape", "1b", "sparse_escape_epochs_median")
        rows = [Row("sparse_escape_epochs_median", None, None, None, paper, None, "n/a", "every replica diverged")]
    else:
        rows = _sparse_rows(keep_replicas(run, ~bad))
    return mark_diverged(rows, n_bad, total) + diverged_row("point=sparse,start=rank1", n_bad, total)


def _sparse_rows(run: dict) -> list[Row]:
    rows = []
    n = len(run["censored_sv"])
    med, lo, hi = _escape_summary(run, "sv")
    paper = claimed("sparse_escape", "1b", "sparse_escape_epochs_median")
    verdict, tol = judge(med, paper, rel_tol=0.5)
    rows.append(Row("sparse_escape_epochs_median", med, lo, hi, paper, None, verdict,
                    f"singular-value criterion (sigma_2 > threshold), median over {n} seeds; {tol}; batch "
                    f"{int(run['batch_size'])} = the whole training set, so there is no SGD noise: the escape is "
                    f"deterministic growth of the residual mode"))
    rows.append(Row("sparse_start_residual_sigma", float(np.median(run["start_svals"][:, -1])), None, None, None,
                    None, "n/a", "median smallest singular value of W at the start: the escape time of this "
                    "noise-free run is set by how far the trap's unlearned mode had decayed"))
    med_t, lo_t, hi_t = _escape_summary(run, "mse")
    rows.append(Row("sparse_test_drop_epochs_median", med_t, lo_t, hi_t, None, None, "n/a",
                    "test-MSE criterion (midpoint between the trapped and global-minimum test MSE)"))
    # train plateau: first epoch at which train MSE is within 5% of the trapped phase's train MSE
    masks = [tuple(bool(v) for v in m) for m in run["phase_masks"]]
    start_mask = tuple(bool(v) for v in run["start_phase"][0])
    if start_mask in masks:
        level = float(run["phase_train_mse"][masks.index(start_mask)])
        reached = run["train_loss"] <= 1.05 * level
        t_plateau = np.array([run["epochs"][np.argmax(c)] if c.any() else np.nan for c in reached.T])
        tp = float(np.nanmedian(t_plateau))
        ratio = med_t / max(tp, 1.0) if math.isfinite(med_t) else math.nan
        rows.append(Row("sparse_train_plateau_epoch_median", tp, None, None, None, None, "n/a",
                        f"first recorded epoch with train MSE within 5% of the trapped state's {level:.4g}"))
        rows.append(Row("sparse_test_drop_over_train_plateau", ratio, None, None, None, None,
                        judge(ratio, 10.0, bound="lower")[0],
                        "grokking signature: test MSE drops >= 10x later than train MSE reaches its plateau"))
    final_train, final_test = run["train_loss"][-1], run["test_loss"][-1]
    if start_mask in masks:
        plateau_train = float(run["phase_train_mse"][masks.index(start_mask)])
        plateau_test = float(run["phase_test_mse"][masks.index(start_mask)])
        rows.append(Row("sparse_train_mse_drop_at_escape", plateau_train - float(np.nanmedian(final_train)), None,
                        None, None, None, "n/a", f"trapped-state train MSE {plateau_train:.4g} minus the final "
                        "median: a linear net's training loss also falls when it learns the second feature"))
        rows.append(Row("sparse_test_mse_drop_at_escape", plateau_test - float(np.nanmedian(final_test)), None, None,
                        None, None, "n/a", f"trapped-state test MSE {plateau_test:.4g} minus the final median"))
    gap = float(np.nanmedian(final_test - final_train))
    drop = float(np.nanmedian(run["test_loss"][0] - final_test))
    rows.append(Row("sparse_final_train_test_gap", gap, None, None, None, None,
                    judge(gap, 0.0, abs_tol=0.25 * abs(drop))[0],
                    f"median final test - train MSE; small means <= 25% of the test-MSE drop ({drop:.4g})"))
    rows.append(Row("sparse_final_test_mse", float(np.nanmedian(final_test)), None, None, None,
                    float(run["global_test_mse"]), "n/a", "theory column: test MSE of the global-minimum state"))
    return rows
