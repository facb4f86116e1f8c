"""Fig 1a's second and third layers of evidence, and the first layer's trap diagnostics.

* plain SGD from the annealed traps: each layer's residual in the unlearned mode and the
  escape-direction noise fraction C_weak / C_total (:mod:`.absorbing`);
* the separatrix: escaped or not against the residual σ at the switch, against the theory saddle;
* Langevin (the substitute noise model) from the constructed rank-1 and trivial traps.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.ticker import NullFormatter

from .. import style
from ..engine import Data, DeepLinear
from ..numbers import Row, bootstrap_median_ci
from .absorbing import escape_noise_fraction, layer_residuals, locate_separatrix
from .fitting import km_median, survival
from .trap import finite, phase_mask

COLORS = {"random": 0, "rank1": 1, "trivial": 4, "rank2": 2}
LINES = {"random": "-", "rank1": "-", "trivial": "--"}
WIDTHS = {"random": 1.6, "rank1": 2.6, "trivial": 1.6}


def color(start: str):
    return style.PALETTE[COLORS.get(start, 5)]


# ----------------------------------------------------------------------------- layer 1: the traps
def trap_diagnostics(trap: dict, train: dict, start: str) -> dict[str, np.ndarray]:
    """Per seed of one annealed trap checkpoint: each layer's σ_{j+1} (R, L) and C_weak / C_total (R,)."""
    depth = sum(1 for key in trap if key.startswith("W") and key[1:].isdigit())
    params = [torch.as_tensor(trap[f"W{i}"], dtype=torch.float64) for i in range(depth)]
    params = [p[torch.as_tensor(finite(params))] for p in params]  # a trap whose training diverged has no modes
    model = DeepLinear(tuple([params[0].shape[2]] + [w.shape[1] for w in params]))
    data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"]}, "cpu", torch.float64)
    k = min(train["x"].shape[1], train["y"].shape[1])
    j = sum(phase_mask(start, k))
    noise = escape_noise_fraction(model, params, data, j)
    return {"residual": layer_residuals(params, j), **noise}


def trap_rows(tag: str, diag: dict) -> list[Row]:
    """Median-over-seeds residual per layer and the escape-direction noise fraction of one trap."""
    rows = []
    res = diag["residual"]
    for layer in range(res.shape[1]):
        rows.append(Row(f"residual_unlearned[{tag},layer={layer + 1}]", float(np.nanmedian(res[:, layer])), None,
                        None, None, 0.0, "n/a",
                        f"median over {res.shape[0]} seeds of layer {layer + 1}'s singular value in the first "
                        "unlearned mode after annealing (theory column: an exact trap has 0)"))
    weak = diag["C_weak"]
    rows.append(Row(f"noise_weak[{tag}]", float(np.nanmedian(weak)), float(np.nanmin(weak)), float(np.nanmax(weak)),
                    None, 0.0, "n/a", f"C_weak itself (median, range over seeds; C_total median "
                    f"{float(np.nanmedian(diag['C_total'])):.3g}): at the trivial trap every gradient is tiny, so "
                    "the fraction is 1 while the noise is not"))
    frac = diag["fraction"]
    rows.append(Row(f"noise_fraction_weak[{tag}]", float(np.nanmedian(frac)), float(np.nanmin(frac)),
                    float(np.nanmax(frac)), None, 0.0, "n/a",
                    "C_weak/C_total: trace of the single-sample gradient covariance outside the learned hidden "
                    "modes over its full trace, median (range) over seeds; 0 at an exact trap, so SGD noise "
                    "cannot push the network along the escape direction"))
    return rows


def diagnostics_text(diags: dict[str, dict]) -> str:
    lines = []
    for start, d in diags.items():
        res = np.nanmedian(d["residual"], axis=0)
        lines.append(f"{start}: residual per layer " + ", ".join(f"{r:.1e}" for r in res)
                     + f"; C_weak {np.nanmedian(d['C_weak']):.1e} = {np.nanmedian(d['fraction']):.1e} of C_total")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- layer 2: separatrix
def separatrix_rows(point: str, run: dict) -> list[Row]:
    """The measured separatrix against the theory saddle: agrees if every run whose σ at the switch
    lay beyond the saddle escaped and every run below it did not."""
    saddle = float(run["theory_saddle"])
    escaped = ~np.isnan(run["escape"])
    loc = locate_separatrix(run["sigma_switch"], escaped)
    verdict, note = separatrix_verdict(loc, saddle)
    n_open = int((~escaped & ~run["absorbed"]).sum())
    rows = [Row(f"saddle_theory[point={point}]", None, None, None, None, saddle, "n/a",
                f"per-feature theory saddle lambda_sad of the weak feature at beta={float(run['beta_op']):g} on the "
                "exact-moment training set"),
            Row(f"separatrix_sigma[point={point}]", loc["estimate"], loc["low"], loc["high"], None, saddle, verdict,
                f"{note}; CI = [largest sigma_2(W) at the switch that did not escape, smallest that did]; "
                f"{loc['n_escaped']}/{loc['n']} runs escaped (budgets 0..{int(run['budgets'].max())} epochs at "
                f"beta_init={float(run['beta_init']):g}); {n_open} neither escaped nor fell below "
                f"{float(run['floor']):g} within {int(run['max_epochs'])} epochs")]
    t = run["escape"][escaped]
    if len(t):
        rows.append(Row(f"separatrix_escape_epochs_max[point={point}]", float(t.max()), None, None, None, None,
                        "n/a", "longest time to escape of the runs that escaped (SGD, deterministic growth of the "
                        "residual; the study notes bound it by a few hundred epochs)"))
    return rows


def separatrix_verdict(loc: dict, saddle: float) -> tuple[str, str]:
    """agrees when the escaped and absorbed runs are separated by a σ boundary that brackets the saddle."""
    if not math.isfinite(saddle):
        return "n/a", "no saddle at this beta"
    if not (math.isfinite(loc["low"]) and math.isfinite(loc["high"])):
        return "n/a", "the budgets did not produce both outcomes: no separatrix to locate"
    if not loc["sharp"]:
        return "deviates", "not sharp: some run escaped from a smaller residual than another that did not"
    if loc["low"] < saddle < loc["high"]:
        return "agrees", "SGD escaped exactly when the residual lay beyond the theory saddle"
    side = "above" if loc["low"] >= saddle else "below"
    return "deviates", f"the measured separatrix lies {side} the theory saddle"


def draw_separatrix(ax, run: dict) -> None:
    """Time to escape (filled) or to absorption below the floor (open) against σ at the switch."""
    escaped = ~np.isnan(run["escape"])
    sig = run["sigma_switch"]
    ok = sig > 0
    absorbed = run["absorbed"] & ok
    ax.scatter(sig[escaped & ok], run["escape"][escaped & ok] + 1, color=style.PALETTE[2], s=18, zorder=3,
               label=f"escaped to rank 2 ({int(escaped.sum())})")
    n_abs = int(run["absorbed"].sum())
    ax.scatter(sig[absorbed], np.full(absorbed.sum(), 1.0), marker="x", color="0.3", s=18, zorder=3,
               label=f"absorbed: fell below {float(run['floor']):g} ({n_abs}; drawn at 1)")
    saddle = float(run["theory_saddle"])
    if math.isfinite(saddle):
        ax.axvline(saddle, color="k", ls="--", lw=1.0, label=f"theory saddle {saddle:.3g}")
    loc = locate_separatrix(sig, escaped)
    if math.isfinite(loc["low"]) and math.isfinite(loc["high"]) and loc["sharp"]:
        ax.axvspan(loc["low"], loc["high"], color=style.PALETTE[2], alpha=0.15, lw=0, label="measured separatrix")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"$\sigma_2(W)$ at the switch to the operating $\beta$")
    ax.set_ylabel("epochs to escape + 1")
    ax.legend(fontsize=7, loc="upper left")


# ----------------------------------------------------------------------------- layer 3: Langevin
def langevin_rows(point: str, run: dict) -> list[Row]:
    """Per trap: the temperature used, the escaped fraction and the median escape epoch (KM, bootstrap CI)."""
    rows = []
    budget = float(run["budget"])
    for i, start in enumerate(run["starts"]):
        sel = run["start"] == start
        t, c = run["escape"][sel], run["censored"][sel]
        tag = f"point={point},start={start}"
        rows.append(Row(f"langevin_T[{tag}]", float(run["temps"][i]), None, None, None, None, "n/a",
                        f"Langevin temperature = theory barrier {float(run['theory_barrier'][i]):.4g} / "
                        f"{float(run['ratio']):g} (a fixed rule, not tuned)"))
        med = km_median(t, c)
        lo, hi = (bootstrap_median_ci(np.where(c, np.inf, t))[1:] if math.isfinite(med) else (math.nan, math.nan))
        rows.append(Row(f"langevin_escape_epochs_median[{tag}]", med, lo, hi if math.isfinite(hi) else math.nan,
                        None, None, "n/a",
                        f"substitute noise model (full-batch Langevin, lr={float(run['lr']):g}, epochs = steps): "
                        f"median over {len(t)} seeds of the first epoch the unlearned mode's sigma passed "
                        f"{float(run['thresholds'][i]):.3g}; {int((~c).sum())}/{len(t)} escaped within {budget:g}"))
    return rows


def draw_langevin(ax, axs, run: dict) -> None:
    """Test-MSE bands and survival curves of each trap under Langevin noise."""
    x = np.asarray(run["epochs"]) + 1
    budget = float(run["budget"])
    for i, start in enumerate(run["starts"]):
        sel = run["start"] == start
        c, ls = color(start), LINES.get(start, "-")
        label = f"{start} trap, T={float(run['temps'][i]):.2g}"
        style.band(ax, x, run["test_loss"][:, sel], c, label, ls=ls)
        t, cens = run["escape"][sel], run["censored"][sel]
        grid = np.unique(np.concatenate([run["epochs"], np.nan_to_num(t, nan=0)]))
        axs.step(grid + 1, survival(t, cens, budget, grid), where="post", color=c, ls=ls,
                 lw=WIDTHS.get(start, 1.6), label=f"{start}: {int((~cens).sum())}/{len(t)} escaped")
    ax.set_xscale("log")
    ax.set_ylabel("test MSE")
    ax.legend(fontsize=7)
    axs.set_xscale("log")
    axs.set_ylim(-0.03, 1.03)
    axs.set_xlabel("epoch + 1 (= step, full batch)")
    axs.set_ylabel("fraction not escaped")
    axs.legend(fontsize=7)
