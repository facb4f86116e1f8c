"""Figures of Study B in the paper's layout (symlog step axis; accuracy above, loss and parameter
norm below) and the numbers each figure stands for."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from .. import claims, style
from ..numbers import Row, judge
from . import analysis, divergence, draw
from .draw import C_L1, C_L2, C_NORM, C_NUCLEAR, C_TEST, NORM, TITLE_SIZE, tex


def _paper(claim_id: str):
    """The paper's value of one of Study B's claims (grokrepro/claims/dichotomy.yaml)."""
    return claims.paper("dichotomy", claim_id)


def _rec(run, key, r):
    return run[f"rec_{key}"][:, r]


def _history(axes, run: dict, r: int, transition=None, predicted=None, loss_name: str = "loss"):
    """The accuracy, loss and ‖θ‖ panels of one replica (train blue, test orange), with the
    transition marks; the caller adds the legends (:func:`draw.legend`) when its panels are done."""
    ax_acc, ax_loss, ax_norm = axes
    s = run["steps"]
    draw.train_test(ax_acc, s, _rec(run, "train_acc", r), _rec(run, "test_acc", r))
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(-0.02, 1.02)
    draw.losses(ax_loss, s, [(_rec(run, "train_loss", r), _rec(run, "test_loss", r), None, "")])
    ax_loss.set_ylabel(loss_name)
    ax_norm.plot(s, _rec(run, "param_norm", r), color=C_NORM)
    ax_norm.set_ylabel(NORM)
    for ax in axes:
        draw.symlog(ax, s)
        draw.marks(ax, transition, predicted, label=ax is ax_acc)


def measure(run: dict, r: int, classification: bool, fig_cfg: dict) -> dict:
    s = run["steps"]
    train = _rec(run, "train_acc" if classification else "train_loss", r)
    test = _rec(run, "test_acc" if classification else "test_loss", r)
    fit = analysis.fit_step(s, train, classification, fig_cfg["fit_tolerance"])
    return analysis.transition(s, test, fit, fig_cfg["tail"], fig_cfg["min_jump"] if classification else 0.0)


def _verdict(measured, reference, **rule) -> str:
    """:func:`numbers.judge`'s verdict under one tolerance rule, where a missing or non-finite
    measurement (no transition, no fit) counts as ``deviates``: the claimed effect was not shown."""
    verdict, _ = judge(measured, reference, **rule)
    return "deviates" if verdict == "n/a" else verdict


def ratio_row(name: str, measured: float, predicted: float, tol: float, note: str = "",
              what: str = "step, predicted = ln(alpha)/(lr*lambda)") -> Row:
    """measured/predicted; agrees if within a factor ``tol`` of 1."""
    ratio = measured / predicted if math.isfinite(measured) and predicted > 0 else math.nan
    if math.isfinite(ratio):
        verdict = _verdict(ratio, 1.0, factor=tol)
    else:
        verdict = "deviates"
        note = (note + "; " if note else "") + "no transition detected within the run"
    return Row(f"transition_ratio[{name}]", ratio, theory=1.0, verdict=verdict,
               note=f"measured/predicted {what} = {predicted:.4g}; "
                    f"agrees if within x{tol:g}" + (f"; {note}" if note else ""))


def _guarded(name: str, run: dict, rows: list[Row], ax) -> list[Row]:
    """The rows of a one-replica run ``name``: all marked (and a note drawn on ``ax``) if the
    replica diverged, then the ``diverged`` count row (:mod:`.divergence`)."""
    if divergence.mask(run).any():
        rows = [divergence.mark(row) for row in rows]
        divergence.note(ax, run)
    return rows + divergence.count_rows(name, run)


def _one_replica(name: str, run: dict, draw, *args):
    """``draw(run, *args)`` -> (fig, rows) for the one-replica run ``name``, drawn and measured
    without a diverged replica's records; its rows say so (:func:`_guarded`)."""
    fig, rows = draw(divergence.drop(run), *args)
    return fig, _guarded(name, run, rows, fig.axes[0])


# --------------------------------------------------------------------------- Fig 1a / 1b
def fig_margin(run: dict, data: dict, cfg: dict, fig_cfg: dict, misgrok: bool):
    """Fig 1a (sparse linear classification) or 1b (misgrokking): accuracy, loss and norm, and the
    cosines of w(t) with the max-L2- and max-L1-margin directions."""
    return _one_replica("fig1b" if misgrok else "fig1a", run, _fig_margin, data, cfg, fig_cfg, misgrok)


def _fig_margin(run: dict, data: dict, cfg: dict, fig_cfg: dict, misgrok: bool):
    r = 0
    alpha, wd, lr = run["grid_alpha"][r], run["grid_weight_decay"][r], cfg["lr"]
    tr = measure(run, r, True, fig_cfg)
    pred = analysis.predicted_step(alpha, lr, wd)
    w_t = _rec(run, "w", r)
    c2 = analysis.cosines(w_t, data["w_l2"])
    c1 = analysis.cosines(w_t, data["w_l1"])
    s = run["steps"]
    fig, axes = draw.column([1, 1, 0.7, 0.8])
    kind = "misgrokking" if misgrok else "sparse linear classification"
    axes[0].set_title(f"{kind}: diagonal net $L={cfg['depth']}$, $\\alpha={tex(alpha)}$, $\\lambda={tex(wd)}$, "
                      f"$\\eta={tex(lr)}$", fontsize=TITLE_SIZE)
    _history(axes[:3], run, r, tr["step"], pred, f"{cfg.get('loss', 'logistic')} loss")
    axes[3].plot(s, c2, color=C_L2, label=r"max-$L_2$-margin $w$")
    axes[3].plot(s, c1, color=C_L1, label=r"max-$L_1$-margin $w$")
    axes[3].set_ylabel(r"cosine with $w(t)$")
    axes[3].set_xlabel("GD step")
    axes[3].set_ylim(-0.05, 1.05)
    draw.symlog(axes[3], s)
    draw.marks(axes[3], tr["step"], pred, label=False)
    for ax in axes:
        draw.legend(ax)

    tol = fig_cfg["ratio_tolerance"]
    fit = tr["fit"]
    i_mid = int(np.searchsorted(s, 0.5 * pred))  # well inside the kernel phase
    rows = [ratio_row(f"alpha={alpha:g},lambda={wd:g}", tr["step"], pred, tol)]
    rows.append(Row("transition_step", tr["step"], theory=pred,
                    note="test accuracy crosses the midpoint of plateau and final value"))
    rows.append(Row("train_fit_step", fit, note="first recorded step with train accuracy 1"))
    rows += _accuracy_rows(tr, float(data["acc_l2"]), float(data["acc_l1"]), fig_cfg["min_jump"], misgrok)
    for name, c, idx in (("cos_l2_kernel_phase", c2, i_mid), ("cos_l1_kernel_phase", c1, i_mid),
                         ("cos_l2_final", c2, -1), ("cos_l1_final", c1, -1)):
        rows.append(Row(name, float(c[idx]),
                        note=f"cosine of w(t) with the max-margin direction at step {int(s[idx])}"))
    v = "agrees" if c2[i_mid] > c1[i_mid] and c1[-1] > c2[-1] else "deviates"
    rows.append(Row("dichotomy_l2_then_l1", f"{c2[i_mid]:.3f}->{c2[-1]:.3f} | {c1[i_mid]:.3f}->{c1[-1]:.3f}", verdict=v,
                    note="cos(w,L2) then cos(w,L1) kernel phase -> end; agrees if L2-like before and L1-like after"))
    return fig, rows


def _accuracy_rows(tr: dict, acc_l2: float, acc_l1: float, min_jump: float, misgrok: bool) -> list[Row]:
    """Fig 1a/1b: test accuracy in the kernel phase and at the end against the max-L2 / max-L1
    margin classifiers, and the jump between them (a rise for grokking, a drop for misgrokking)."""
    fig = "1b" if misgrok else "1a"
    if misgrok:
        notes = ("theory: test accuracy of the max-L2-margin classifier (solved directly); "
                 "paper read off Fig 1b at d=1e5",
                 "theory: max-L1-margin classifier; paper read off Fig 1b at d=1e5")
    else:
        notes = ("theory: max-L2-margin classifier (solved directly); paper read off Fig 1a at d=1e5, n=256",
                 "theory: max-L1-margin classifier (LP)")
    rows = [Row("test_acc_kernel_phase", tr["plateau"], paper=_paper(f"kernel_phase_test_acc_{fig}"), theory=acc_l2,
                note=notes[0]),
            Row("test_acc_final", tr["final"], paper=_paper(f"final_test_acc_{fig}"), theory=acc_l1, note=notes[1])]
    jump = tr["plateau"] - tr["final"] if misgrok else tr["final"] - tr["plateau"]
    v = "agrees" if jump > min_jump else "deviates"
    if misgrok:
        rows.append(Row("test_acc_drop", jump, theory=acc_l2 - acc_l1, verdict=v,
                        note=f"misgrokking: test accuracy falls after the transition (agrees if drop > {min_jump:g})"))
    else:
        rows.append(Row("test_acc_rise", jump, verdict=v,
                        note=f"grokking: test accuracy rises after the transition (agrees if > {min_jump:g})"))
    return rows


# --------------------------------------------------------------------------- Fig 2 / 4
def fig_modadd(runs: dict, cfgs: dict, fig_cfg: dict):
    """runs: {'2a': run, '2b': run, '2c': run}. Three columns of the same three panels (accuracy,
    loss, ‖θ‖); colour: the run, solid: test, dotted: train."""
    style.apply()
    fig, axes = plt.subplots(3, 3, figsize=(13, 8.6), sharex="col", layout="constrained")
    fig.suptitle("modular addition, two-layer ReLU net, full-batch GD (solid: test, dotted: train)",
                 fontsize=TITLE_SIZE + 1)
    # 2a: single run
    run = divergence.drop(runs["2a"])
    tr = measure(run, 0, True, fig_cfg)
    _modadd_column(axes[:, 0], run, {0: ""}, f"(a) He init, $\\lambda={tex(run['grid_weight_decay'][0])}$", tr["step"])
    rows = _modadd_rows("2a", run, 0, tr)
    rows.append(Row("rise_decades[2a]", rise_decades(run, 0, tr),
                    note="log10 of the steps from 10 % to 90 % of the test-accuracy rise (compare Fig 4)"))
    delay = tr["step"] / tr["fit"] if tr["fit"] > 0 else math.nan
    rows.append(Row("grokking_delay[2a]", delay, verdict=_verdict(delay, 10.0, bound="lower"),
                    note=f"transition step / train-fit step; paper: {_paper('grokking_delay_2a')} "
                         "(agrees if >= 10, i.e. a decade apart)"))
    rows = _guarded("fig2a", runs["2a"], rows, axes[0, 0])
    # 2b / 2c: one colour per replica
    for col, key, label, var, sym in ((1, "2b", r"(b) init scale $\alpha$ ($W_2 = 0$)", "grid_alpha", r"\alpha"),
                                      (2, "2c", r"(c) weight decay $\lambda$", "grid_weight_decay", r"\lambda")):
        run, bad = divergence.drop(runs[key]), divergence.mask(runs[key])
        trs, fits = [], []
        for r in range(len(run[var])):
            tr = measure(run, r, True, fig_cfg)
            trs.append(tr["step"])
            fits.append(tr["fit"])
            val = run[var][r]
            replica = _modadd_rows(f"{key},{var[5:]}={val:g}", run, r, tr)
            rows += [divergence.mark(row) for row in replica] if bad[r] else replica
        drawn = {r: f"${sym}={tex(v)}$" for r, v in enumerate(run[var]) if not bad[r]}
        _modadd_column(axes[:, col], run, drawn, label)
        rows += _modadd_order_rows(key, run, var, np.asarray(trs, float), np.asarray(fits, float), cfgs, fig_cfg, bad)
        rows += divergence.count_rows(f"fig{key}", runs[key])
        divergence.note(axes[0, col], runs[key])
    return fig, rows


def _modadd_column(axes, run: dict, labels: dict, title: str, transition=None):
    """One column of Fig 2: accuracy, loss and ‖θ‖ of the replicas ``labels`` (index -> legend
    label), each in its colour, test solid and train dotted; the legend, titled, above the column."""
    ax_acc, ax_loss, ax_norm = axes
    s = run["steps"]
    losses = []
    for r, label in labels.items():
        color = style.PALETTE[r % len(style.PALETTE)]
        draw.train_test(ax_acc, s, _rec(run, "train_acc", r), _rec(run, "test_acc", r), color, label)
        losses.append((_rec(run, "train_loss", r), _rec(run, "test_loss", r), color, ""))
        ax_norm.plot(s, draw.positive(_rec(run, "param_norm", r)), color=color)
    draw.losses(ax_loss, s, losses)
    ax_acc.set_ylim(-0.02, 1.02)
    ax_norm.set_yscale("log")
    draw.plain_log_ticks(ax_norm)
    for ax, name in zip(axes, ("accuracy", "cross-entropy loss", NORM)):
        ax.set_ylabel(name)
        draw.symlog(ax, s)
        draw.marks(ax, transition, label=ax is ax_acc)
    ax_norm.set_xlabel("GD step")
    handles = ax_acc.get_legend_handles_labels()[0]
    if len(labels) == 1:  # one run: its two line styles are the key
        handles = draw.style_keys(style.PALETTE[next(iter(labels)) % len(style.PALETTE)]) + handles
    ax_acc.legend(handles=handles, title=title, ncol=2,
                  loc="lower left", bbox_to_anchor=(0.0, 1.02), borderaxespad=0.0, fontsize=draw.LEGEND_SIZE,
                  title_fontsize=TITLE_SIZE, alignment="left")
    draw.legend(ax_loss)  # only if the axis was cut (its note)


def _modadd_order_rows(key, run, var, trs, fits, cfgs, fig_cfg, bad):
    """2b: transitions later and train fits earlier with α; the delay t(α) − t(1) against the
    theory ln(α)/(η_lr·λ). 2c: transitions earlier with λ, among the λ that fit the training set
    (the paper's largest λ collapses training). ``bad``: the diverged replicas (NaN in ``trs`` and
    ``fits``); the rows that pool them, or compare with one, are marked."""
    vals = np.asarray(run[var], float)
    if key == "2b":
        rows, delays = _order_rows_2b(vals, trs, fits, cfgs["fig2b"]["lr"], float(run["grid_weight_decay"][0]), fig_cfg)
        rows = [divergence.mark(row, divergence.left_out(bad)) for row in rows] if bad.any() else rows
        i1 = int(np.argmin(vals))
        return rows + [divergence.mark(row) if bad[j] or bad[i1] else row for j, row in delays]
    rows = _order_rows_2c(vals, trs, fits, bad)
    return [divergence.mark(row, divergence.left_out(bad)) for row in rows] if bad.any() else rows


def _order_rows_2b(vals, trs, fits, lr, wd, fig_cfg):
    """The order rows of 2b and, per α above the smallest, (replica index, transition_delay row)."""
    listing = ", ".join(f"{v:g}: {t:.0f}" for v, t in zip(vals, trs))
    rows = []
    ok = bool(np.all(np.isfinite(trs)) and np.all(np.diff(trs) > 0))
    rows.append(Row("transition_order[2b]", listing, verdict="agrees" if ok else "deviates",
                    note="transition step per init scale alpha; paper: larger init scale -> later transition "
                         f"(read: {_paper('transition_order_2b')})"))
    ok = bool(np.all(np.isfinite(fits)) and np.all(np.diff(fits) <= 0))
    rows.append(Row("train_fit_order[2b]", ", ".join(f"{v:g}: {t:.0f}" for v, t in zip(vals, fits)),
                    verdict="agrees" if ok else "deviates",
                    note=f"first step with train accuracy 1 per alpha; paper: {_paper('train_fit_order_2b')}"))
    i1 = int(np.argmin(vals))
    delays = []
    for j, (v, t) in enumerate(zip(vals, trs)):
        if v == vals[i1]:
            continue
        delay, pred = t - trs[i1], math.log(v / vals[i1]) / (lr * wd)
        tol = fig_cfg["ratio_tolerance"]
        delays.append((j, Row(f"transition_delay[2b,alpha={v:g}]", delay, theory=pred,
                              verdict=_verdict(delay, pred, factor=tol),
                              note=f"t(alpha) - t(alpha={vals[i1]:g}) in steps; theory: ln(alpha ratio)/(lr*lambda) "
                                   "(large-init kernel phase lasts ln(alpha)/lambda longer); "
                                   f"agrees if within x{tol:g}; "
                                   f"paper (read): {_paper('transition_delay_2b')}, here "
                                   f"{math.log10(t / trs[i1]) if t > 0 and trs[i1] > 0 else math.nan:.2f}")))
    return rows, delays


def _order_rows_2c(vals, trs, fits, bad):
    """The order and collapse rows of 2c (a diverged replica is not counted as a collapse)."""
    listing = ", ".join(f"{v:g}: {t:.0f}" for v, t in zip(vals, trs))
    fitted = np.isfinite(fits)
    t = trs[fitted]
    ok = bool(t.size >= 2 and np.all(np.isfinite(t)) and np.all(np.diff(t) < 0))
    collapsed = ", ".join(f"{v:g}" for v in vals[~fitted & ~bad])
    rows = [Row("transition_order[2c]", listing, verdict="agrees" if ok else "deviates",
                note="transition step per lambda, among the lambda whose training set is fitted; "
                     f"paper: {_paper('transition_order_2c')}"
                     + (f"; train never fitted (collapse) at lambda = {collapsed}" if collapsed else ""))]
    top = int(np.argmax(vals))
    state = "diverged" if bad[top] else "collapses" if not fitted[top] else f"fits at step {fits[top]:.0f}"
    rows.append(Row(f"train_collapse[2c,lambda={vals[top]:g}]", state,
                    paper=_paper("train_collapse_2c"),
                    verdict="agrees" if not fitted[top] and fitted.any() else "deviates",
                    note="largest lambda of the sweep: does weight decay stop the training set from being fitted? "
                         "(the lambda at which it does depends on the margin the net can reach, "
                         "hence on p, h and the data); "
                         "agrees if it collapses while a smaller lambda fits"))
    return rows


def _modadd_rows(name, run, r, tr):
    paper = _paper("final_test_acc_2")
    return [
        Row(f"train_fit_step[{name}]", tr["fit"], note="first recorded step with train accuracy 1"),
        Row(f"transition_step[{name}]", tr["step"],
            note="test accuracy crosses the midpoint of plateau and final value"),
        Row(f"test_acc_final[{name}]", tr["final"], paper=paper,
            verdict=judge(tr["final"], paper, abs_tol=0.05)[0] if math.isfinite(tr["final"]) else "deviates",
            note=f"paper: {100 * paper:g} % test accuracy after grokking at p=97; agrees if within 0.05"),
    ]


def fig_nowd(run: dict, cfg: dict, fig_cfg: dict):
    """Fig 4: modular addition without weight decay, normalised GD."""
    return _one_replica("fig4", run, _fig_nowd, cfg, fig_cfg)


def _fig_nowd(run: dict, cfg: dict, fig_cfg: dict):
    fig, axes = draw.column([1, 1, 0.8])
    tr = measure(run, 0, True, fig_cfg)
    axes[0].set_title(rf"no weight decay, normalised GD: step $\eta/L(\theta)$, $\eta={tex(cfg['lr'])}$",
                      fontsize=TITLE_SIZE)
    _history(axes, run, 0, tr["step"], loss_name="cross-entropy loss")
    axes[2].set_yscale("log")  # the norm grows without bound
    draw.plain_log_ticks(axes[2])
    axes[2].set_xlabel("GD step")
    for a in axes:
        a.set_xscale("log")  # log-log, as the paper's Fig 4
        a.set_xlim(1, run["steps"][-1])
        draw.legend(a)
    rise = rise_decades(run, 0, tr)
    rows = [
        Row("train_fit_step", tr["fit"]),
        Row("transition_step", tr["step"], note="test-accuracy midpoint crossing (NaN: no rise of more than min_jump)"),
        Row("test_acc_kernel_phase", tr["plateau"]),
        Row("test_acc_final", tr["final"],
            verdict="agrees" if tr["final"] - tr["plateau"] > fig_cfg["min_jump"] else "deviates",
            note=f"paper: {_paper('slow_climb_4')}; agrees if it rises by > {fig_cfg['min_jump']:g}"),
        Row("rise_decades", rise, paper=_paper("slow_rise_4"),
            verdict=_verdict(rise, 1.0, bound="lower"),
            note="log10 of (first step at plateau + 90 % of the rise) / (first step at + 10 %); "
                 "agrees if the climb spans >= 1 decade (our reading of 'slowly over log time')"),
    ]
    return fig, rows


def rise_decades(run: dict, r: int, tr: dict) -> float:
    """Decades of steps the test accuracy takes to go from 10 % to 90 % of its rise P → F."""
    s, m = run["steps"], _rec(run, "test_acc", r)
    p, f = tr["plateau"], tr["final"]
    if not all(math.isfinite(v) for v in (p, f, tr["fit"])) or f - p <= 0:
        return math.nan
    after = s >= tr["fit"]
    hit = [np.flatnonzero(after & (m >= p + q * (f - p))) for q in (0.1, 0.9)]
    if not all(h.size for h in hit):
        return math.nan
    return float(math.log10(max(s[hit[1][0]], 1) / max(s[hit[0][0]], 1)))


# --------------------------------------------------------------------------- Fig 3
def fig_matrix(run: dict, data: dict, cfg: dict, fig_cfg: dict):
    """Fig 3: matrix completion with W = UUᵀ − VVᵀ."""
    return _one_replica("fig3", run, _fig_matrix, data, cfg, fig_cfg)


def _fig_matrix(run: dict, data: dict, cfg: dict, fig_cfg: dict):
    tr = measure(run, 0, False, fig_cfg)
    alpha, wd, lr = run["grid_alpha"][0], run["grid_weight_decay"][0], cfg["lr"]
    pred = analysis.predicted_step(alpha, lr, wd)
    # kernel predictor: W stays symmetric (dW ∝ G + Gᵀ), so a test entry whose transpose is observed
    # is filled with M_ji = M_ij; every other unobserved entry stays at 0
    obs = {(int(i), int(j)) for i, j in np.asarray(data["x_train"])}
    yt = np.asarray(data["y_test"])
    mirrored = np.array([(int(j), int(i)) in obs for i, j in np.asarray(data["x_test"])])
    kernel = float(np.mean(np.where(mirrored, 0.0, yt**2)))
    late = analysis.symmetric_min_nuclear_completion(data)
    nuclear_m = float(np.linalg.svd(data["target"], compute_uv=False).sum())
    fig = _draw_matrix(run, data, cfg, tr["step"], pred, kernel, late, nuclear_m)
    v, note = judge(tr["plateau"], kernel, rel_tol=0.1)
    gap = (late["norm"] - late["lower"]) / late["norm"]
    rows = [
        ratio_row(f"alpha={alpha:g},lambda={wd:g}", tr["step"], pred, fig_cfg["ratio_tolerance"]),
        Row("transition_step", tr["step"], theory=pred,
            note="test loss crosses the midpoint of plateau and final value"),
        Row("test_loss_kernel_phase", tr["plateau"], paper=_paper("kernel_phase_test_loss_3"), theory=kernel, verdict=v,
            note="theory: kernel predictor (symmetric W: test entries with an observed transpose are filled, "
                 "the rest stay 0); " + note),
        Row("test_loss_final", tr["final"], note="late phase: low-rank (min nuclear norm) completion"),
        Row("nuclear_norm_final", float(_rec(run, "nuclear_norm", 0)[-1]), theory=nuclear_m,
            note="theory: ||M||_* (shrunk by weight decay at finite lambda)"),
        Row("nuclear_norm_min_completion", theory=late["norm"],
            note="reference: min ||X||_* over X = M on the observed entries and their transposes (W = UU^T - VV^T "
                 "is symmetric), what ||W||_* approaches as lambda -> 0; Douglas-Rachford, relative duality gap "
                 f"{gap:.1e}{'' if late['converged'] else ' (not converged)'}; <= ||M||_* = {nuclear_m:.6g}"),
        Row("test_loss_min_nuclear_completion", theory=late["test_mse"],
            note="reference: test MSE of that min-nuclear-norm completion (0 if it recovers M): "
                 "the late phase's test loss as lambda -> 0"),
    ]
    return fig, rows


def _draw_matrix(run, data, cfg, transition, pred, kernel, late, nuclear_m):
    """Fig 3's panels: train/test MSE with the kernel-predictor and min-nuclear-norm-completion test
    losses; ‖W‖* and ‖θ‖ with min ‖X‖* and ‖M‖*."""
    s = run["steps"]
    fig, (ax_mse, ax_norm) = draw.column([1.1, 1])
    alpha, wd = run["grid_alpha"][0], run["grid_weight_decay"][0]
    ax_mse.set_title(f"matrix completion $d={data['target'].shape[0]}$, $\\alpha={tex(alpha)}$, "
                     f"$\\lambda={tex(wd)}$, $\\eta={tex(cfg['lr'])}$", fontsize=TITLE_SIZE)
    draw.losses(ax_mse, s, [(_rec(run, "train_loss", 0), _rec(run, "test_loss", 0), None, "")])
    ax_mse.axhline(kernel, color=C_TEST, ls=":", lw=1.2, label="test, kernel predictor")
    below = " (below the axis)" if late["test_mse"] < ax_mse.get_ylim()[0] else ""
    ax_mse.axhline(late["test_mse"], color="k", ls=":", lw=1.2,
                   label=f"test, min-$\\|X\\|_*$ completion\n= {late['test_mse']:.1e}{below}")
    ax_mse.set_ylabel("MSE")
    ax_norm.plot(s, draw.positive(_rec(run, "nuclear_norm", 0)), color=C_NUCLEAR, label=r"$\|W\|_*$")
    ax_norm.plot(s, _rec(run, "param_norm", 0), color=C_NORM, label=NORM)
    same = abs(late["norm"] - nuclear_m) <= 1e-4 * nuclear_m  # the completion recovers M
    ax_norm.axhline(late["norm"], color="k", ls=":", lw=1.2, label=f"min-$\\|X\\|_*$ completion = {late['norm']:.4g}"
                    + (r" $= \|M\|_*$" if same else ""))
    if not same:
        ax_norm.axhline(nuclear_m, color="0.5", ls=(0, (1, 3)), lw=1.2, label=f"$\\|M\\|_*$ = {nuclear_m:.4g}")
    ax_norm.set_yscale("log")
    draw.plain_log_ticks(ax_norm)
    ax_norm.set_ylabel("norm")
    ax_norm.set_xlabel("GD step")
    for ax in (ax_mse, ax_norm):
        draw.symlog(ax, s)
        draw.marks(ax, transition, pred, label=ax is ax_mse)
        draw.legend(ax)
    return fig


# --------------------------------------------------------------------------- scaling law
def _flow_time(run: dict, cfg: dict) -> np.ndarray:
    """Gradient-flow time of each record: ``time`` (adaptive-step runs) or step × lr."""
    return np.asarray(run["time"], float) if "time" in run else np.asarray(run["steps"], float) * cfg["lr"]


def scaling_points(run: dict, cfg: dict, classification: bool, fig_cfg: dict) -> dict:
    """Per replica: α, λ, the measured transition in flow time t (record axis step × lr, or
    the flow-time axis of an adaptive-step run), the prediction ln(α)/λ, and ``settled``: the
    test metric moved by < 10 % of |final − plateau| over the run's last third (t ≥ t_end/1.5)
    (otherwise the final value, hence the midpoint and the ratio, still depend on the horizon)."""
    axis = run["time"] if "time" in run else run["steps"]
    scale = 1.0 if "time" in run else cfg["lr"]
    out = {"alpha": np.asarray(run["grid_alpha"], float), "lambda": np.asarray(run["grid_weight_decay"], float)}
    t, settled = [], []
    for r in range(len(out["alpha"])):
        train = _rec(run, "train_acc" if classification else "train_loss", r)
        test = _rec(run, "test_acc" if classification else "test_loss", r)
        fit = analysis.fit_step(axis, train, classification, fig_cfg["fit_tolerance"])
        tr = analysis.transition(axis, test, fit, fig_cfg["tail"], fig_cfg["min_jump"] if classification else 0.0)
        t.append(tr["step"] * scale)
        ok = np.isfinite(test) & (np.asarray(axis, float) > 0)
        tt, m = np.asarray(axis, float)[ok], test[ok]
        late = m[tt >= tt[-1] / 1.5] if m.size else m
        jump = abs(tr["final"] - tr["plateau"])
        settled.append(bool(late.size and math.isfinite(jump) and np.ptp(late) < 0.1 * jump))
    out["t"] = np.array(t)
    out["settled"] = np.array(settled)
    out["pred"] = np.log(out["alpha"]) / out["lambda"]
    return out


def law_rows(name: str, pts: dict, slope_tolerance: float) -> tuple[list[Row], dict]:
    """Rows of the offset-corrected law t·λ = a·ln α + c (beyond the paper)."""
    fit = analysis.fit_log_law(np.log(pts["alpha"]), pts["t"] * pts["lambda"])
    v, note = judge(fit["slope"], 1.0, rel_tol=slope_tolerance)
    ci = "95% CI from OLS standard errors (Student t)"
    rows = [
        Row(f"scaling_slope[{name}]", fit["slope"], fit["slope_lo"], fit["slope_hi"], theory=1.0, verdict=v,
            note=f"beyond the paper: least-squares fit of t*lambda = a*ln(alpha) + c over the {fit['n']} grid points "
                 f"(t = flow time of the transition); {ci}; residual sd {fit['rms']:.3g}; {note}"),
        Row(f"scaling_offset[{name}]", fit["offset"], fit["offset_lo"], fit["offset_hi"],
            note=f"beyond the paper: the O(1) offset c of t*lambda = a*ln(alpha) + c (the paper's leading-order law "
                 f"has none; it is why ln(alpha)/lambda is only asymptotically exact in alpha); {ci}"),
    ]
    return rows, fit


def _scaling_ratio_row(name: str, pts: dict, r: int, cfg: dict, tol: float, flow: bool) -> Row:
    """transition_ratio of replica ``r`` of a scaling grid: in flow time for an adaptive-step run,
    in GD steps for a constant-lr one (the same ratio), noting a horizon-dependent (unsettled) one."""
    a, wd = pts["alpha"][r], pts["lambda"][r]
    unsettled = "" if pts["settled"][r] else ("test metric still moving at the end of the run (slow late phase): "
                                              "the final value, midpoint and ratio depend on the horizon")
    if flow:
        return ratio_row(f"{name},alpha={a:g},lambda={wd:g}", pts["t"][r], pts["pred"][r], tol,
                         note=f"adaptive step lr_k = min({cfg['lr']:g}, {cfg['adaptive_step']:g}/S_k), S_k a "
                              "sharpness bound; ratio = measured/predicted flow time (= the step ratio at constant lr)"
                              + (f"; {unsettled}" if unsettled else ""),
                         what="gradient-flow time t = sum of lr_k, predicted = ln(alpha)/lambda")
    unit = cfg["lr"]
    return ratio_row(f"{name},alpha={a:g},lambda={wd:g}", pts["t"][r] / unit, pts["pred"][r] / unit, tol,
                     note=unsettled)


def fig_scaling(diag: dict, diag_cfg: dict, matrix: dict, matrix_cfg: dict, fig_cfg: dict):
    """Measured transition against ln(α)/(η_lr·λ) (or ln(α)/λ in flow time), the collapse of the
    curves in t·λ/ln α, and the offset-corrected law t·λ = a·ln α + c, for both scaling grids."""
    style.apply()
    fig, axes = plt.subplots(3, 2, figsize=(12.5, 11), layout="constrained")
    rows, law, counts = [], [], []
    tol = fig_cfg["ratio_tolerance"]
    markers = "osD^v<>"
    grids = (("diag", diag, diag_cfg, True), ("matrix", matrix, matrix_cfg, False))
    for col, (name, raw, cfg, cls) in enumerate(grids):
        ax_s, ax_c, ax_l = axes[0, col], axes[1, col], axes[2, col]
        run, bad = divergence.drop(raw), divergence.mask(raw)
        flow = "time" in run
        pts = scaling_points(run, cfg, cls, fig_cfg)
        alphas, wds = np.unique(pts["alpha"]), np.unique(pts["lambda"])
        # measured vs predicted: in GD steps for a constant-lr run, in flow time for an adaptive one
        unit = 1.0 if flow else cfg["lr"]
        t_axis = _flow_time(run, cfg)
        for r in range(len(pts["alpha"])):
            a, wd = pts["alpha"][r], pts["lambda"][r]
            row = _scaling_ratio_row(name, pts, r, cfg, tol, flow)
            rows.append(divergence.mark(row) if bad[r] else row)
            ia, iw = int(np.searchsorted(alphas, a)), int(np.searchsorted(wds, wd))
            color = style.PALETTE[iw % 10]
            ax_s.scatter(pts["pred"][r] / unit, pts["t"][r] / unit, marker=markers[ia % len(markers)], color=color,
                         zorder=3)
            y = _rec(run, "test_acc" if cls else "test_loss", r)
            ax_c.plot(t_axis * wd / math.log(a), y, color=color, alpha=0.4 + 0.6 * ia / max(len(alphas) - 1, 1), lw=1)
            ax_l.scatter(math.log(a), pts["t"][r] * wd, marker=markers[ia % len(markers)], color=color, zorder=3)
        xs = np.array([np.nanmin(pts["pred"]) / 3, np.nanmax(pts["pred"]) * 3]) / unit
        ax_s.plot(xs, xs, "k-", lw=0.8, label="measured = predicted")
        ax_s.fill_between(xs, xs / tol, xs * tol, color="grey", alpha=0.2, label=f"within $\\times{tol:g}$")
        ax_s.set_xscale("log")
        ax_s.set_yscale("log")
        if flow:
            ax_s.set_xlabel(r"predicted flow time $\ln\alpha/\lambda$")
            ax_s.set_ylabel(r"measured transition time $t = \Sigma_k\,\eta_k$")
        else:
            ax_s.set_xlabel(r"predicted step $\ln\alpha/(\eta\lambda)$")
            ax_s.set_ylabel("measured transition step")
        ax_s.set_title(r"diagonal net (sparse classification), constant step $\eta$" if cls
                       else "matrix completion" + (r", adaptive step $\eta_k$ (flow time)" if flow else ""),
                       fontsize=TITLE_SIZE)
        for ia, a in enumerate(alphas):
            ax_s.scatter([], [], marker=markers[ia % len(markers)], color="grey", label=f"$\\alpha={tex(a)}$")
        for iw, wd in enumerate(wds):
            ax_s.scatter([], [], marker="s", color=style.PALETTE[iw % 10], label=f"$\\lambda={tex(wd)}$")
        draw.legend(ax_s, ncol=2 if len(alphas) + len(wds) > 8 else 1)
        divergence.note(ax_s, raw)
        ax_c.set_xscale("log")
        if flow:  # the flow-time grid starts at one step of the largest alpha: nothing happens before
            ax_c.set_xlim(left=1e-3)
        ax_c.axvline(1.0, color="k", ls="--", lw=0.8)
        ax_c.set_xlabel(r"rescaled time $t\lambda/\ln\alpha$"
                        + (r"  ($t = \Sigma_k\,\eta_k$)" if flow else r"  ($t = \eta\cdot$step)"))
        ax_c.set_ylabel("test accuracy" if cls else "test loss")
        if not cls:
            ax_c.set_yscale("log")
        ax_c.set_title(r"collapse (colour: $\lambda$, opacity: $\alpha$)", fontsize=TITLE_SIZE)
        lrows, fit = law_rows(name, pts, fig_cfg["slope_tolerance"])
        law += [divergence.mark(row, divergence.left_out(bad)) for row in lrows] if bad.any() else lrows
        counts += divergence.count_rows(f"scaling_{name}", raw)
        la = np.log(alphas)
        xl = np.array([0.0, la.max() * 1.05])
        ax_l.plot(xl, xl, "k-", lw=0.8, label=r"paper: $t\lambda = \ln\alpha$")
        if math.isfinite(fit["slope"]):
            ax_l.plot(xl, fit["slope"] * xl + fit["offset"], color=style.PALETTE[5], ls="--", lw=1,
                      label=f"fit: ${fit['slope']:.3f}\\,\\ln\\alpha {fit['offset']:+.2f}$")
        ax_l.set_xlabel(r"$\ln\alpha$")
        ax_l.set_ylabel(r"transition $t\lambda$")
        ax_l.set_title("offset-corrected law (beyond the paper)", fontsize=TITLE_SIZE)
        draw.legend(ax_l)
    return fig, rows + law + counts


