"""Beyond the paper, d features: the hysteresis loop of a β sweep and the metastable states at a few β.

* :func:`loop_area` — ∫ |MSE_down − MSE_up| dβ of a quasi-static sweep (per seed, trapezoid on the
  β grid); :func:`theory_loop_area` — the same integral of the per-feature theory on the same grid,
  for exact-moment data (test set too), where the test MSE of an aligned state is
  ½(q − 2Σ η_k λ_k + Σ λ_k²): the upward sweep follows each feature's learned branch up to its
  spinodal, the downward one stays trivial (for L ≥ 3 the trivial state is a minimum at every β > 0).
* :func:`run_states` — the Hessian classification of every subset's balanced state
  (:mod:`.states`) at each β, as arrays for a result file.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..engine import Data, DeepLinear
from . import states, theory
from .beta_sweep import DOWN, UP


def loop_area(sweep: dict) -> np.ndarray:
    """(seed,) ∫ |test MSE down − test MSE up| dβ over the sweep's β grid (NaN where a seed has a NaN)."""
    gap = np.abs(np.asarray(sweep["test_loss"][DOWN]) - np.asarray(sweep["test_loss"][UP]))  # (β, seed)
    beta = np.asarray(sweep["beta"], dtype=float)
    return np.trapezoid(gap, beta, axis=0)


def theory_loop_gap(features, beta: float, depth: int) -> float:
    """Test MSE (exact moments) of the trivial state minus that of the upward sweep's state at β:
    Σ_k over the features still learned at β of η_k λ_k** − ½ λ_k**²."""
    total = 0.0
    for eta in features:
        lam = theory.stationary_points(float(eta), float(beta), depth).learned
        if not math.isnan(lam):
            total += eta * lam - 0.5 * lam ** 2
    return total


def theory_loop_area(features, betas, depth: int) -> float:
    """:func:`loop_area` of the per-feature theory on the grid ``betas`` (trapezoid)."""
    betas = np.asarray(betas, dtype=float)
    return float(np.trapezoid([theory_loop_gap(features, b, depth) for b in betas], betas))


STATE_KEYS = ("exists", "minimum", "stayed", "n_negative", "n_zero", "lowest", "grad_norm", "objective")
COUNT_KEYS = ("minima", "metastable", "saddles", "unresolved", "existing", "left")


def run_states(arrays: dict, depth: int, width: int, betas, polish_lr: float, polish_steps: int,
               stay_tolerance: float) -> dict[str, np.ndarray]:
    """Every subset's state at every β of ``betas``, classified (see :func:`states.classify_states`):
    per-state arrays (β, 2^d), the counts per β and m, the features with a learned state at β in the
    training set's per-feature landscape."""
    data = Data.from_numpy({"x_train": arrays["x_train"], "y_train": arrays["y_train"]}, "cpu", torch.float64)
    p, q = data.x_train.shape[1], data.y_train.shape[1]
    model = DeepLinear((p, *([width] * (depth - 1)), q))
    k = min(p, q)
    masks = np.array(states.subsets(k))
    out = {"beta": np.asarray(betas, dtype=float), "masks": masks}
    per = {key: np.full((len(betas), len(masks)), np.nan) for key in STATE_KEYS}
    counts = {key: np.zeros(len(betas), dtype=np.int64) for key in COUNT_KEYS}
    learnable = np.zeros(len(betas), dtype=np.int64)
    eta_hat, s = arrays["sv_train"], arrays["s_train"]
    for i, beta in enumerate(betas):
        found = states.classify_states(model, data, float(beta), polish_lr, polish_steps, stay_tolerance)
        for j, st in enumerate(found):
            per["exists"][i, j] = st["exists"]
            if st["exists"]:
                for key in STATE_KEYS[1:]:
                    per[key][i, j] = st[key]
        for key, value in states.count_table(found).items():
            counts[key][i] = value
        learnable[i] = states.learnable(eta_hat[:k], s[:k], float(beta), depth)
    out.update(per)
    out.update(counts)
    out["learnable"] = learnable
    return out
