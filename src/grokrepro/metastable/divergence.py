"""Replicas that diverged: which they are, how they are left out, and how the numbers rows say so.

A replica has diverged when the engine stopped it as ``DIVERGED`` (non-finite loss or weights),
when a quantity recorded for it overflowed to ±inf, or when the trap it started from had diverged
already (``start_diverged``). Diverged replicas are left out of every statistic and every curve; the
numbers table gets a ``diverged[<run>]`` count row (only when there is one) and each row measured
on the remaining replicas says so (verdict ``n/a``), so a normal table is unchanged.
"""
from __future__ import annotations

import numpy as np

from ..engine import DIVERGED
from ..numbers import Row

# per-replica arrays of an escape run (replica axis 0) and its records (epoch, replica, ...)
PER_REPLICA = ("escape_mse", "escape_sv", "censored_mse", "censored_sv", "status", "stop_epoch", "plateau_test_mse",
               "start_svals", "seeds", "start_phase", "start_diverged")
PER_RECORD = ("train_loss", "test_loss", "svals")
SWEEP_RECORDS = ("train_loss", "test_loss", "svals", "eff_rank")  # (direction, beta, seed, ...)


def _overflow(a: np.ndarray, replica_axes: tuple[int, ...]) -> np.ndarray:
    """Whether any entry of each replica (the ``replica_axes`` of ``a``) is ±inf."""
    a = np.asarray(a, dtype=float)
    other = tuple(i for i in range(a.ndim) if i not in replica_axes)
    return np.isinf(a).any(axis=other) if other else np.isinf(a)


def escape_diverged(run: dict) -> np.ndarray:
    """(R,) bool: the replicas of an escape run (or temperature sweep) that diverged."""
    bad = np.asarray(run["status"]) == DIVERGED
    for key in PER_RECORD:
        if key in run:
            bad |= _overflow(run[key], (1,))
    if "start_diverged" in run:
        bad |= np.asarray(run["start_diverged"], dtype=bool)
    return bad


def keep_replicas(run: dict, keep: np.ndarray) -> dict:
    """A copy of an escape run holding only the replicas where ``keep`` is true."""
    out = dict(run)
    for key in PER_REPLICA:
        if key in run:
            out[key] = np.asarray(run[key])[keep]
    for key in PER_RECORD:
        if key in run:
            out[key] = np.asarray(run[key])[:, keep]
    return out


def sweep_diverged(sweep: dict) -> np.ndarray:
    """(direction, seed) bool: the replicas of a β sweep that diverged at some β."""
    bad = (np.asarray(sweep["status"]) == DIVERGED).any(axis=1)
    for key in SWEEP_RECORDS:
        if key in sweep:
            bad |= _overflow(sweep[key], (0, 2))
    return bad


def drop_sweep_replicas(sweep: dict, bad: np.ndarray) -> dict:
    """A copy of a β sweep with the (direction, seed) replicas in ``bad`` set to NaN at every β."""
    out = dict(sweep)
    for key in SWEEP_RECORDS:
        if key in sweep:
            a = np.array(sweep[key], dtype=float)
            a[bad[:, None].repeat(a.shape[1], axis=1)] = np.nan
            out[key] = a
    return out


def diverged_row(run: str, n: int, total: int) -> list[Row]:
    """The count row of one run: ``[Row]`` if any of its ``total`` replicas diverged, else ``[]``."""
    if not n:
        return []
    return [Row(f"diverged[{run}]", n, None, None, None, None, "n/a",
                f"replicas that diverged (NaN/overflow) and are left out: {n} of {total}")]


def mark_diverged(rows: list[Row], n: int, total: int) -> list[Row]:
    """Rows measured on replicas of which ``n`` of ``total`` diverged and were left out: verdict
    ``n/a`` and a note that says so (unchanged when none diverged)."""
    if n:
        for row in rows:
            row.verdict = "n/a"
            row.note += f"; diverged: {n} of {total} replicas left out, no verdict"
    return rows


def not_drawn(n: int, total: int) -> str:
    """Figure text for ``n`` diverged replicas ('' when none)."""
    return f"{n} of {total} replicas diverged, not drawn" if n else ""


def note_on(ax, n: int, total: int) -> None:
    """Say on the axes that ``n`` of ``total`` replicas diverged and are not drawn (nothing if none)."""
    if n:
        ax.text(0.98, 0.02, not_drawn(n, total), transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="firebrick")
