"""Diverged replicas in Study B's figures: left out of the curves and the verdicts, and counted.

A training result flags its diverged replicas in ``diverged`` (R,) (:func:`runs.diverged_replicas`:
NaN/inf loss or parameters, or an overflowed record). A figure draws and measures a run through
:func:`drop` (the records of those replicas set to NaN, so nothing is drawn or measured from
them), writes each row that depends on one through :func:`mark` (verdict ``n/a``, note
``diverged``), adds :func:`count_rows` and writes :func:`note` on the panels concerned. A run
without a diverged replica passes through all four unchanged.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..numbers import Row

COUNT_NOTE = "replicas that diverged (NaN/overflow) and are left out"


def mask(run: dict) -> np.ndarray:
    """(R,) bool: the replicas of ``run`` that diverged."""
    return np.asarray(run["diverged"], bool).reshape(-1)


def drop(run: dict) -> dict:
    """``run`` with the records of its diverged replicas set to NaN (the same dict if none)."""
    bad = mask(run)
    if not bad.any():
        return run
    out = dict(run)
    for k, v in run.items():
        if k.startswith("rec_"):
            v = np.array(v, float)
            v[:, bad] = np.nan
            out[k] = v
    return out


def mark(row: Row, detail: str = "") -> Row:
    """``row`` with verdict ``n/a`` and a note that starts with ``diverged``."""
    head = "diverged" + (f": {detail}" if detail else "")
    return replace(row, verdict="n/a", note=head + (f"; {row.note}" if row.note else ""))


def left_out(bad: np.ndarray) -> str:
    """'k of R replicas diverged, left out' for the (R,) mask ``bad`` (rows that pool replicas)."""
    bad = np.asarray(bad, bool)
    return f"{int(bad.sum())} of {bad.size} replicas diverged, left out"


def count_rows(name: str, run: dict) -> list[Row]:
    """The ``diverged[<name>]`` count row, only if a replica of ``run`` diverged."""
    n = int(mask(run).sum())
    return [Row(f"diverged[{name}]", n, verdict="n/a", note=COUNT_NOTE)] if n else []


def note(ax, run: dict) -> None:
    """A visible 'k of R replicas diverged, not drawn' on ``ax`` if a replica of ``run`` diverged."""
    bad = mask(run)
    if bad.any():
        ax.text(0.5, 0.5, f"{int(bad.sum())} of {bad.size} replicas diverged, not drawn", transform=ax.transAxes,
                ha="center", va="center", color="firebrick", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "firebrick", "alpha": 0.85})
