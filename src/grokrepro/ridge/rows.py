"""The numbers rows of Study C's figures: the generic producers (medians over seeds, log-log
slopes, indicators) and one ``fig*_rows`` function per figure, taking the same loaded results
and parameters as the figure function in :mod:`grokrepro.ridge.plots`.

Every verdict goes through :func:`grokrepro.numbers.judge`; paper values come from
``claims/ridge.yaml`` (:func:`paper`). Replicas that diverged (the training results' ``diverged``
masks; their times are NaN) are left out: a row that depends on one says so (verdict ``n/a``, note
"diverged: k of R replicas left out") and a table with any carries one ``diverged[<run>]`` count
row per training result; tables without diverged replicas are unchanged.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import claims
from ..numbers import Row, bootstrap_median_ci, judge

ETA_LAM_MAX = 0.01  # Eq. 8 holds for ηλ ≤ 0.01 only
ELIMINATE_FACTOR = 0.1  # our reading of "grokking eliminated": the median gap shrinks >= 10x


def paper(claim_id):
    """The paper's value of one claim in ``claims/ridge.yaml``."""
    return claims.paper("ridge", claim_id)


# ------------------------------------------------------------------------------------------
# generic producers
# ------------------------------------------------------------------------------------------
def mark_diverged(row, diverged):
    """``row`` as a row that depends on the replicas of mask ``diverged``: if any of them diverged,
    verdict ``n/a`` and the note says how many were left out."""
    div = np.asarray(diverged, bool)
    if div.any():
        row.verdict = "n/a"
        row.note = (f"{row.note}; " if row.note else "") + f"diverged: {int(div.sum())} of {div.size} replicas left out"
    return row


def diverged_rows(**runs):
    """One ``diverged[<run>]`` count row per training result (name=mask) with a diverged replica."""
    return [Row(f"diverged[{run}]", int(np.sum(div)), verdict="n/a",
                note=f"replicas that diverged (NaN/overflow) and are left out (of {np.size(div)})")
            for run, div in runs.items() if np.any(div)]


def median_row(name, values, paper=None, note="", diverged=None):
    """Median over seeds with its 95 % bootstrap CI; runs that never crossed (NaN) are said, and
    diverged runs (mask ``diverged``) are left out (:func:`mark_diverged`)."""
    v = np.asarray(values, float)
    div = np.zeros(v.shape, bool) if diverged is None else np.asarray(diverged, bool)
    live = v[~div]
    med, lo, hi = bootstrap_median_ci(live)
    frac = float(np.mean(np.isfinite(live))) if live.size else 1.0
    extra = "" if frac == 1 else f"; {1 - frac:.0%} of runs never crossed"
    row = Row(name, med, lo, hi, paper=paper, note=f"median over {len(v)} seeds, 95% bootstrap CI{extra}{note}")
    return mark_diverged(row, div)


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


def slope_row(name, x, Y, ref, tol, paper=None, what="", diverged=None):
    """Log-log slope of Y (values × seeds) against x, judged against ``ref`` within ``tol``
    (diverged runs, NaN in Y, drop out of the fit; the row says so)."""
    s, lo, hi = loglog_slope(x, Y)
    verdict, note = judge(s, ref, abs_tol=tol)
    row = Row(name, s, lo, hi, paper=paper, theory=ref, verdict=verdict,
              note=f"least-squares slope over all seeds, seed-bootstrap 95% CI; {note}{what}")
    return mark_diverged(row, np.zeros(0, bool) if diverged is None else diverged)


def indicator_row(name, ok, reference, paper=None, theory=None, note=""):
    """A yes/no statement as a row: measured 1 or 0, agreeing when it equals ``reference``."""
    measured = float(bool(ok))
    verdict, _ = judge(measured, reference, abs_tol=0.0)
    return Row(name, measured, paper=paper, theory=theory, verdict=verdict, note=note)


def _frac(flags) -> float:
    return float(np.mean(flags)) if np.size(flags) else math.nan


def _lin_slope(x, y) -> float:
    """Least-squares slope of y against x over the finite points (NaN with fewer than two)."""
    ok = np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else math.nan


def _sweep_diverged(S, grids):
    return {name: S[f"{name}__diverged"] for name in grids}


# ------------------------------------------------------------------------------------------
# one producer per figure
# ------------------------------------------------------------------------------------------
def fig1_rows(ridge, relu):
    """Fig. 1: t1, t2 medians of both panels and the fraction of ridge runs that grok."""
    dr, dn = ridge["diverged"][0], relu["diverged"]
    rows = [median_row("ridge_t1_median", ridge["t1"][0], diverged=dr),
            median_row("ridge_t2_median", ridge["t2"][0], diverged=dr),
            median_row("relu_net_t1_median", relu["t1"], diverged=dn),
            median_row("relu_net_t2_median", relu["t2"], diverged=dn)]
    gap = ridge["t2"][0] / np.maximum(ridge["t1"][0], 1)
    rows.append(mark_diverged(Row("ridge_fraction_grokking", _frac(gap[~dr] > 10),
                                  note="fraction of runs with t2 > 10 t1"), dr))
    return rows + diverged_rows(ridge=dr, relu_net=dn)


def defaults_index(S, d):
    """Index of the λ-panel point nearest the defaults' λ (the default run of every panel)."""
    return int(np.argmin(np.abs(np.log(S["lam__values"] / d["lam"]))))


def bound_rows(S, grids, eta):
    """Fraction of runs over every sweep point with ηλ ≤ 0.01 that satisfy each Eq. 8 bound."""
    rows = []
    for which, op in (("t1", np.less_equal), ("t2", np.greater_equal)):
        ok, tot, div = 0, 0, []
        for name in grids:
            vals = S[f"{name}__values"]
            for i in range(len(vals)):
                if name == "lam" and eta * vals[i] > ETA_LAM_MAX:
                    continue
                m, b, dv = S[f"{name}__{which}"][i], S[f"{name}__{which}_bound"][i], S[f"{name}__diverged"][i]
                good = op(np.nan_to_num(m, nan=np.inf), b)[~dv]
                ok += int(good.sum())
                tot += good.size
                div.append(dv)
        frac = ok / max(tot, 1)
        side = "upper" if which == "t1" else "lower"
        ref = paper(f"eq8_{which}_{side}_bound_over_sweeps")
        verdict, _ = judge(frac, ref, abs_tol=0.0)
        rows.append(mark_diverged(Row(
            f"frac_{which}_within_bound", frac, paper=ref, theory=1.0, verdict=verdict,
            note=f"{ok}/{tot} runs over all sweep points with ηλ ≤ 0.01 satisfy the Eq. 8 {side} bound"),
            np.concatenate(div)))
    return rows


def _defaults_bound_rows(S, i):
    t1d, t2d, dv = S["lam__t1"][i], S["lam__t2"][i], S["lam__diverged"][i]
    b1, b2 = S["lam__t1_bound"][i], S["lam__t2_bound"][i]
    r1, r2 = paper("eq8_t1_upper_bound_at_defaults"), paper("eq8_t2_lower_bound_at_defaults")
    return [
        Row("t1_bound_median[defaults]", float(np.median(b1)), float(b1.min()), float(b1.max()),
            note="Eq. 8 upper bound from each run's λ⁺_min(ΦᵀΦ); ci = min/max over seeds"),
        Row("t2_bound[defaults]", float(np.median(b2)), note="Eq. 8 lower bound (data independent)"),
        mark_diverged(indicator_row("all_t1_le_bound[defaults]", np.all((t1d <= b1)[~dv]), r1, paper=r1, theory=1.0,
                                    note=f"every one of {len(t1d)} runs"), dv),
        mark_diverged(indicator_row("all_t2_ge_bound[defaults]", np.all((t2d >= b2)[~dv]), r2, paper=r2, theory=1.0,
                                    note=f"every one of {len(t2d)} runs"), dv),
    ]


def _nu2_rows(S, p):
    """Slopes of median t1, t2 against ln ν² (ν² ≥ 1) and whether t2 grows faster."""
    x = S["nu2__values"]
    ok = x >= 1
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point whose every run diverged: NaN median
        g_t2 = _lin_slope(np.log(x[ok]), np.nanmedian(S["nu2__t2"][ok], 1))
        g_t1 = _lin_slope(np.log(x[ok]), np.nanmedian(S["nu2__t1"][ok], 1))
    ref, dv = paper("nu2_amplifies_t2_more_than_t1"), S["nu2__diverged"][ok]
    rows = [
        Row("dt2_dln_nu2", g_t2, theory=1 / (2 * p["eta"] * p["defaults"]["lam"]),
            note="slope of median t2 against ln ν² (ν² ≥ 1); theory 1/(2ηλ) from the null-space decay"),
        Row("dt1_dln_nu2", g_t1, note="slope of median t1 against ln ν² (ν² ≥ 1); paper: smaller than for t2"),
        indicator_row("t2_grows_faster_than_t1_in_ln_nu2", g_t2 > g_t1, ref, paper=ref),
    ]
    return [mark_diverged(r, dv) for r in rows]


def engine_rows(engine):
    """Iterative batched GD against the exact trajectory: largest relative loss gap and t1, t2."""
    err, dv = float(engine["max_rel_err"]), engine["diverged"]
    v, note = judge(err, 0.0, abs_tol=1e-8)
    rows = [Row("engine_vs_closed_form_max_rel_err", err, theory=0.0, verdict=v,
                note=f"iterative batched GD vs exact trajectory, {int(engine['steps'])} steps, "
                     f"{len(engine['seeds'])} seeds at the defaults; {note}")]
    for k in ("t1", "t2"):
        same = np.array_equal(engine[f"{k}_iter"][~dv], engine[f"{k}_exact"][~dv], equal_nan=True)
        rows.append(indicator_row(f"engine_{k}_equals_closed_form", same, 1.0, theory=1.0,
                                  note="t from every-step iterative losses vs exact-trajectory search"))
    return [mark_diverged(r, dv) for r in rows]


def fig2_rows(S, engine, p):
    """Fig. 2: the default point against Eq. 8, the bounds over the sweeps, the λ slopes, the ν²
    dependence and the engine check."""
    grids = list(p["grids"])
    D = _sweep_diverged(S, grids)
    i = defaults_index(S, p["defaults"])
    rows = [median_row("t1_median[defaults]", S["lam__t1"][i], diverged=D["lam"][i]),
            median_row("t2_median[defaults]", S["lam__t2"][i], diverged=D["lam"][i])]
    rows += _defaults_bound_rows(S, i)
    rows += bound_rows(S, grids, p["eta"])
    tol = p["slope_tolerance"]
    rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], -1.0, tol,
                          paper=paper("t2_inverse_in_lambda"), diverged=D["lam"]))
    rows.append(slope_row("slope_log_t1_vs_log_lambda", S["lam__values"], S["lam__t1"], 0.0, tol,
                          paper=paper("t1_independent_of_lambda"), what="; paper: λ does not enter t1",
                          diverged=D["lam"]))
    if "nu2__values" in S:
        rows += _nu2_rows(S, p)
    if engine is not None:
        rows += engine_rows(engine)
    engine_div = np.zeros(0, bool) if engine is None else engine["diverged"]
    return rows + diverged_rows(sweep=np.concatenate([d.ravel() for d in D.values()]), engine_check=engine_div)


def sweep_rows(S, p, slope_ref, tol, kind):
    """Figs. 3, 4: the default point, the λ slope against ``slope_ref`` and descriptive slopes."""
    grids = list(p["grids"])
    D = _sweep_diverged(S, grids)
    rows = []
    if "lam" in grids:
        i = defaults_index(S, p["defaults"])
        di = D["lam"][i]
        rows += [median_row("t1_median[defaults]", S["lam__t1"][i], diverged=di),
                 median_row("t2_median[defaults]", S["lam__t2"][i], diverged=di)]
        g = S["lam__t2"][i] / np.maximum(S["lam__t1"][i], 1)
        rows.append(mark_diverged(Row("frac_runs_t2_gt_10_t1[defaults]", _frac(g[~di] > 10),
                                      note="grokking visible: t2 > 10 t1"), di))
        rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], slope_ref, tol,
                              what=f"; {kind}", diverged=D["lam"]))
    for name in grids:
        if name == "lam":
            continue
        x = S[f"{name}__values"]
        for k in ("t1", "t2"):
            s, lo, hi = loglog_slope(x, S[f"{name}__{k}"])
            rows.append(mark_diverged(Row(f"slope_log_{k}_vs_log_{name}", s, lo, hi,
                                          note="descriptive (no paper value stated)"), D[name]))
    return rows + diverged_rows(sweep=np.concatenate([d.ravel() for d in D.values()]))


def fig5_rows(C):
    """Fig. 5: t1, t2 medians, the first step each accuracy reaches 0.99 and the test plateau."""
    d = C["diverged"][0]
    rows = [median_row("t1_median", C["t1"][0], diverged=d), median_row("t2_median", C["t2"][0], diverged=d)]
    for which in ("train", "test"):
        acc = C[f"{which}_acc"][0]
        t99 = [C["steps"][np.argmax(a >= 0.99)] if (a >= 0.99).any() else np.nan for a in acc]
        rows.append(median_row(f"{which}_acc_first_ge_0.99_step", t99, note="; step on the plotting grid", diverged=d))
    acc_t1 = [float(np.interp(np.log(max(t, 1)), np.log(np.maximum(C["steps"], 1)), a)) if not dk else np.nan
              for t, a, dk in zip(C["t1"][0], C["test_acc"][0], d)]
    rows.append(median_row("test_acc_at_t1", acc_t1, note="; the accuracy plateau", diverged=d))
    return rows + diverged_rows(curves=C["diverged"])


def fig6_rows(C, p):
    """Fig. 6: t1, t2 medians per noise level and the noisy / clean grokking-time ratio."""
    rows, D = [], C["diverged"]
    for k, nz in enumerate(C["noise"]):
        rows += [median_row(f"t1_median[noise={nz:g}]", C["t1"][k], diverged=D[k]),
                 median_row(f"t2_median[noise={nz:g}]", C["t2"][k], diverged=D[k])]
    if len(C["noise"]) == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every run of a level diverged: NaN
            g0 = np.nanmedian(C["t2"][0] - C["t1"][0])
            g1 = np.nanmedian(C["t2"][1] - C["t1"][1])
        v, note = judge(g1 / g0, 1.0, rel_tol=p["noise_rel_tolerance"])
        rows.append(mark_diverged(Row("grokking_time_ratio_noisy_over_clean", g1 / g0,
                                      paper=paper("label_noise_barely_changes_grokking_time"), theory=1.0,
                                      verdict=v, note=f"median(t2 - t1) ratio; {note}"), D))
    return rows + diverged_rows(curves=D)


def fig7_rows(C, S, p):
    """Fig. 7: t1, t2 medians at the defaults and the λ slope of t2."""
    d, D = C["diverged"][0], _sweep_diverged(S, p["grids"])
    rows = [median_row("t1_median[defaults]", C["t1"][0], diverged=d),
            median_row("t2_median[defaults]", C["t2"][0], diverged=d)]
    if "lam" in p["grids"]:
        rows.append(slope_row("slope_log_t2_vs_log_lambda", S["lam__values"], S["lam__t2"], -1.0, p["slope_tolerance"],
                              diverged=D["lam"]))
    return rows + diverged_rows(curves=C["diverged"], sweep=np.concatenate([v.ravel() for v in D.values()]))


def control_gaps(R):
    """Grokking times max(t2 − t1, 0) (settings × seeds) and, per setting over the runs that did not
    diverge, their median, 10 % and 90 % quantiles (NaN where every run diverged)."""
    gaps = np.maximum(R["t2"] - R["t1"], 0)
    live = [g[~d] for g, d in zip(gaps, R["diverged"])]

    def stat(f):
        return np.array([f(g) if g.size else np.nan for g in live])

    return gaps, stat(np.median), stat(lambda g: np.quantile(g, 0.1)), stat(lambda g: np.quantile(g, 0.9))


def _gap_factor_row(nm, factor, val, p):
    what = f"median gap / default median gap; {val}"
    if nm.startswith("eliminate"):
        v, _ = judge(factor, ELIMINATE_FACTOR, bound="upper")
        return Row(f"gap_factor[{nm}]", factor, paper=paper(nm), verdict=v,
                   note=f"{what}; target: shrink by >= 10x")
    if nm == "amplify_nu2":
        # t2 ≈ ln(A)/(2ηλ) with A = (m − n)ν²/(m c): ν² × 100 multiplies the gap by ln(100A)/ln(A)
        d = p["defaults"]
        A = (d["m"] - d["n"]) * d["nu2"] / (d["m"] * p["c"])
        th = math.log(100 * A) / math.log(A)
        v, note = judge(factor, th, rel_tol=0.1)
        return Row(f"gap_factor[{nm}]", factor, paper=paper(nm), theory=th, verdict=v, note=f"{what}; {note}")
    v, _ = judge(factor, 10.0, bound="lower")  # amplify_lambda: t2 ∝ 1/λ
    return Row(f"gap_factor[{nm}]", factor, paper=paper(nm), theory=10.0, verdict=v,
               note=f"{what}; t2 ∝ 1/λ predicts 10x")


def control_rows(R, p):
    """Control figure: median grokking time per setting and each setting's factor over the default."""
    names, D = [str(s) for s in R["settings"]], R["diverged"]
    gaps, med, _, _ = control_gaps(R)
    rows = [median_row(f"gap_median[{nm}]", gaps[k], diverged=D[k]) for k, nm in enumerate(names)]
    for k, nm in enumerate(names[1:], start=1):
        rows.append(mark_diverged(_gap_factor_row(nm, med[k] / med[0], str(R["values"][k]), p), D[[0, k]]))
    return rows + diverged_rows(control=D)
