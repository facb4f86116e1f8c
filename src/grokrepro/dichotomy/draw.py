"""Drawing helpers shared by Study B's figures (:mod:`.plots`), sized for slides: mathtext labels,
legends outside the curves, one look for every panel of a kind (accuracy, loss, norm)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter

from .. import style

TITLE_SIZE, LEGEND_SIZE = 11, 9
LOSS_DECADES = 10  # a loss axis spans at most this many decades below the largest value drawn
C_TRAIN, C_TEST, C_NORM, C_L2, C_L1, C_NUCLEAR = style.PALETTE[:6]
PREDICTED = r"predicted $\ln\alpha/(\eta\lambda)$"
NORM = r"$\|\theta\|$"


def tex(v: float) -> str:
    """``v`` for mathtext: 0.01, 128, 10^{-4}, 3\\times10^{-4} (no $ signs)."""
    v = float(v)
    if v == 0 or not math.isfinite(v) or 1e-3 <= abs(v) < 1e5:
        return f"{v:g}"
    e = math.floor(math.log10(abs(v)))
    m = f"{v / 10**e:.3g}"
    return f"10^{{{e}}}" if m == "1" else rf"{m}\times10^{{{e}}}"


def column(heights, width: float = 7.2):
    """A figure of ``len(heights)`` panels stacked on a shared step axis (constrained layout, which
    makes room for the legends beside the panels)."""
    style.apply()
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, 0.7 + 1.8 * sum(heights)), sharex=True,
                             layout="constrained", gridspec_kw={"height_ratios": list(heights)})
    return fig, list(np.atleast_1d(axes))


def symlog(ax, steps):
    """The step axis: linear up to 1 (so step 0 shows), logarithmic beyond."""
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, max(float(np.nanmax(steps)), 1.0))


def legend(ax, handles=None, **kw):
    """A legend to the right of ``ax``, outside its curves (nothing if there is nothing to list)."""
    kw = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "fontsize": LEGEND_SIZE, **kw}
    if handles is None and not ax.get_legend_handles_labels()[0]:
        return None
    return ax.legend(handles=handles, **kw) if handles is not None else ax.legend(**kw)


def positive(y) -> np.ndarray:
    """``y`` with its non-positive entries NaN (for a log axis: not drawn instead of dropping off it)."""
    y = np.array(y, float)
    y[~(y > 0)] = np.nan
    return y


def losses(ax, steps, runs, decades: float = LOSS_DECADES):
    """Train and test losses of ``runs`` [(train, test, color, label)] (:func:`train_test`) on a log
    axis spanning at most ``decades`` decades below the largest value: a training loss keeps
    falling for decades after the accuracies and the test loss stopped changing, and those decades
    say nothing a reader can use. Below the cut a curve leaves the axis through its bottom (a loss
    rounded to 0 too), and a legend entry says where the axis was cut and how low the loss went.
    Returns the cut, or None if nothing lies below it."""
    ax.set_yscale("log")
    plain_log_ticks(ax, major=False)
    v = np.concatenate([np.ravel(np.asarray(y, float)) for run in runs for y in run[:2]] + [np.empty(0)])
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    if not pos.size:  # nothing to scale the axis by (a diverged run: all NaN)
        for train, test, color, label in runs:
            train_test(ax, steps, train, test, color, label)
        return None
    top, low = float(pos.max()), float(pos.min())
    cut = max(low, top * 10.0**-decades)
    for train, test, color, label in runs:  # a 0 is drawn far below the axis, not left out
        train_test(ax, steps, *(np.where(np.asarray(y, float) > 0, y, cut * 1e-6) for y in (train, test)),
                   color, label)
    ax.set_ylim(cut / 2, top * 2)
    if low >= cut and v.min() > 0:
        return None
    went = f"{low:.0e}" + (", then 0" if v.min() <= 0 else "")
    ax.plot([], [], ls="none", label=f"axis cut at {cut:.0e}\n(loss goes down to {went})")
    return cut


def plain_log_ticks(ax, major: bool = True):
    """Tick labels of a log y axis as plain numbers (40, not 4×10¹), minor ones where it spans
    little; ``major=False``: the decades stay 10ⁿ (a loss axis)."""
    if major:
        ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def marks(ax, measured=None, predicted=None, label: bool = True):
    """Vertical lines at the predicted (black dashed) and measured (grey dash-dot) transition; one
    beyond the step axis (set before) is left out, and so out of the legend."""
    if predicted is not None and math.isfinite(predicted) and predicted <= ax.get_xlim()[1]:
        ax.axvline(predicted, color="k", ls="--", lw=1, label=PREDICTED if label else None)
    if measured is not None and math.isfinite(measured):
        ax.axvline(measured, color="0.45", ls="-.", lw=1, label="transition (measured)" if label else None)


def train_test(ax, steps, train, test, color=None, label: str = ""):
    """Train and test curves of one run: colours C_TRAIN / C_TEST, or ``color`` with test solid and
    train dotted (several runs in one panel)."""
    if color is None:
        ax.plot(steps, train, color=C_TRAIN, label="train")
        ax.plot(steps, test, color=C_TEST, label="test")
    else:
        ax.plot(steps, test, color=color, label=label or None)
        ax.plot(steps, train, color=color, ls=":", lw=1.2)


def style_keys(color="0.3") -> list:
    """Legend proxies for the solid-test / dotted-train convention of multi-run panels."""
    return [Line2D([], [], color=color, label="test"), Line2D([], [], color=color, ls=":", lw=1.2, label="train")]
