"""Training runs from trapped (or random) starts, with online escape detection (Figs 1a, 1b).

Two escape criteria, evaluated on every check:

* **test MSE** (the paper's): first epoch at which the test MSE falls below the midpoint between
  the plateau value (the test MSE of the start phase's stationary state at the operating β; for a
  random start, the test MSE at epoch 0) and the global-minimum value (the test MSE of the
  stationary state of the phase with the lowest training objective). Both levels are computed
  from theory-constructed, GD-polished states and stored with the run, never guessed.
* **singular value**: first epoch at which σ_{j+1}(W) > threshold, where j is the number of
  features learned in the start phase (the effective rank grows by one).

Runs that never escape within the budget are right-censored (kept, with NaN escape epoch and
``censored = True``), never dropped.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear
from . import trap


def objective(model: DeepLinear, params, data: Data, beta: float) -> np.ndarray:
    """Training objective: ½ mean ‖y − ŷ‖² + (β/2) Σ_l ‖W_l‖² per replica."""
    with torch.no_grad():
        m = model.metrics(params, data)
        reg = sum(p.pow(2).sum(dim=(1, 2)) for p in params)
    return (m["train_loss"] + 0.5 * beta * reg).cpu().numpy()


def phase_levels(model: DeepLinear, data: Data, beta: float, lr: float, polish_steps: int, k: int) -> dict:
    """Train/test MSE and objective of the stationary state of every phase that exists at β."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    out = {}
    for mask in itertools.product((True, False), repeat=k):
        try:
            params, _ = trap.constructed(model, x, y, mask, beta, [0], data.x_train.device, data.x_train.dtype)
        except ValueError:
            continue  # a learned state of some feature does not exist at this β
        params = trap.polish(model, params, data, beta, lr, polish_steps)
        with torch.no_grad():
            m = model.metrics(params, data)
        out[mask] = {
            "train_mse": float(m["train_loss"][0]),
            "test_mse": float(m["test_loss"][0]),
            "objective": float(objective(model, params, data, beta)[0]),
            "svals": m["svals"][0].cpu().numpy(),
        }
    return out


def escape_monitor(plateau: np.ndarray, global_min: float, sv_index: np.ndarray, sv_threshold: float,
                   stop_on_escape: bool):
    """Records first-crossing epochs of both criteria; optionally stops escaped replicas."""
    r = len(plateau)
    mid = torch.as_tensor(0.5 * (plateau + global_min), dtype=torch.float64)
    sv_index = torch.as_tensor(sv_index, dtype=torch.long)
    state = {"mse": torch.full((r,), math.nan, dtype=torch.float64),
             "sv": torch.full((r,), math.nan, dtype=torch.float64)}

    def monitor(epoch, mets, idx):
        i = idx.cpu()
        test = mets["test_loss"].detach().cpu().to(torch.float64)
        sv = mets["svals"].detach().cpu().to(torch.float64)
        hit_mse = (test < mid[i]) & torch.isnan(state["mse"][i])
        state["mse"][i[hit_mse]] = float(epoch)
        k = sv_index[i]
        has = k < sv.shape[1]
        above = torch.zeros_like(has)
        above[has] = sv[has.nonzero().squeeze(1), k[has]] > sv_threshold
        hit_sv = above & torch.isnan(state["sv"][i])
        state["sv"][i[hit_sv]] = float(epoch)
        if not stop_on_escape:
            return torch.zeros(len(i), dtype=torch.bool)
        return ~torch.isnan(state["mse"][i])

    return monitor, state


def start_metrics(model: DeepLinear, params, data: Data) -> dict[str, torch.Tensor]:
    """``model.metrics`` of the start, NaN for replicas whose weights are not finite (a trap whose
    training diverged)."""
    ok = torch.as_tensor(trap.finite(params))
    with torch.no_grad():
        mets = model.metrics([p[ok.to(p.device)] for p in params], data)
    out = {}
    for key, v in mets.items():
        out[key] = torch.full((len(ok), *v.shape[1:]), torch.nan, dtype=v.dtype)
        out[key][ok] = v.cpu()
    return out


def run_escape(model: DeepLinear, params, data: Data, start: str, seeds, beta: float, lr,
               batch_size: int, max_epochs: int, check_every: int, sv_threshold: float, stop_on_escape: bool,
               polish_steps: int, record_points: int, label: str = "escape", polish_lr: float | None = None,
               checkpoint=None, checkpoint_every: float = 600.0) -> dict[str, np.ndarray]:
    """``lr`` may be a scalar or one learning rate per replica (temperature sweeps); ``checkpoint``
    (a file) lets a killed run continue where it was (see :func:`grokrepro.engine.train`)."""
    k = min(data.x_train.shape[1], data.y_train.shape[1])
    n = data.x_train.shape[0]
    batch_size = min(batch_size, n)
    levels = phase_levels(model, data, beta, polish_lr or float(np.min(lr)), polish_steps, k)
    glob = min(levels, key=lambda m: levels[m]["objective"])
    mask = trap.phase_mask(start, k)
    r = params[0].shape[0]
    m0 = start_metrics(model, params, data)
    if mask is None:
        plateau = m0["test_loss"].cpu().numpy().astype(float)
        sv_index = np.full(r, k)  # a random start is not in a phase: no singular-value criterion
    else:
        if mask not in levels:
            raise ValueError(f"phase {start} does not exist at beta={beta}")
        plateau = np.full(r, levels[mask]["test_mse"])
        sv_index = np.full(r, sum(mask))
    no_lower_state = mask is not None and levels[glob]["objective"] >= levels[mask]["objective"]
    if no_lower_state:
        plateau = np.full(r, -np.inf)  # nothing lower to escape to: the test-MSE criterion never fires
    monitor, state = escape_monitor(plateau, levels[glob]["test_mse"], sv_index, sv_threshold,
                                    stop_on_escape and not no_lower_state)
    grid = engine.log_grid(max_epochs, record_points)
    res = engine.train(model, params, data, lr, beta, batch_size, seeds, max_epochs, check_every=check_every,
                       record_epochs=grid, monitor=monitor, check_at_records=True, label=label,
                       checkpoint=checkpoint, checkpoint_every=checkpoint_every, monitor_state=state)
    esc_mse, esc_sv = state["mse"].numpy(), state["sv"].numpy()
    return {
        "epochs": grid,
        "train_loss": res.records["train_loss"],
        "test_loss": res.records["test_loss"],
        "svals": res.records["svals"],
        "escape_mse": esc_mse,
        "escape_sv": esc_sv,
        "censored_mse": np.isnan(esc_mse),
        "censored_sv": np.isnan(esc_sv),
        "status": res.status,
        "stop_epoch": res.stop_epoch,
        "budget": np.array(max_epochs),
        "batch_size": np.array(batch_size),
        "plateau_test_mse": plateau if not no_lower_state else np.full(r, levels[mask]["test_mse"]),
        "global_test_mse": np.array(levels[glob]["test_mse"]),
        "global_phase": np.array(glob),
        "no_lower_state": np.array(no_lower_state),
        "phase_masks": np.array(list(levels.keys())),
        "phase_objective": np.array([v["objective"] for v in levels.values()]),
        "phase_test_mse": np.array([v["test_mse"] for v in levels.values()]),
        "phase_train_mse": np.array([v["train_mse"] for v in levels.values()]),
        "start_svals": m0["svals"].cpu().numpy(),
        "seeds": np.asarray(seeds),
    }
