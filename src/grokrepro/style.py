"""One plotting style for every figure, headless; figures saved as PDF + PNG atomically."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

import numpy as np  # noqa: E402

from .numbers import write_numbers  # noqa: E402
from .provenance import figure_metadata  # noqa: E402

PALETTE = sns.color_palette("colorblind")


def apply() -> None:
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "pdf.fonttype": 42,
            # deterministic PDFs: no creation date in the metadata
            "svg.hashsalt": "grokrepro",
        }
    )


def save(fig, pdf: str | Path, png: str | Path) -> None:
    """Save ``fig`` to both paths (atomic rename) and close it."""
    for path in (Path(pdf), Path(png)):
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"):
            stale.unlink(missing_ok=True)  # left by an earlier, killed attempt
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
        fig.savefig(tmp, metadata=figure_metadata(path.suffix))
        os.replace(tmp, path)
    plt.close(fig)


def band(ax, x, Y, color, label=None, ls="-", q=(0.25, 0.75)):
    """Median line over the last axis of ``Y`` (seeds or replicas) and its ``q`` quantile band
    (inter-quartile by default); with a single column only the line is drawn."""
    Y = np.asarray(Y, float)
    with np.errstate(all="ignore"):
        med = np.nanmedian(Y, axis=-1)
        ax.plot(x, med, ls, color=color, label=label, lw=1.6)
        if Y.shape[-1] > 1:
            lo, hi = np.nanquantile(Y, q[0], axis=-1), np.nanquantile(Y, q[1], axis=-1)
            ax.fill_between(x, lo, hi, color=color, alpha=0.25, lw=0)


def save_figure(fig, rows, output) -> None:
    """The one way a figure rule writes its outputs: ``fig`` as PDF + PNG and ``rows`` as the
    numbers table (``output`` has ``pdf``, ``png`` and ``numbers``; the provenance record
    ``meta`` was written by :func:`grokrepro.provenance.start`)."""
    save(fig, output.pdf, output.png)
    write_numbers(output.numbers, rows)
