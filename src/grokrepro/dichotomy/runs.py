"""Grids of replicas for Study B: one batched engine call per run config.

A run config (a ``dichotomy.runs.<name>`` block of config.yaml) names a model ``family``
(diagonal | matrix | relu) and lists ``alphas`` × ``weight_decays`` (× ``seeds`` for the ReLU
net); every combination is one replica of a single batched full-batch GD program. With
``horizon`` set, each replica stops at horizon × ln(α)/(η_lr·λ) steps (its predicted transition
step), otherwise all run ``steps`` steps.

A replica that diverges (the engine's ``DIVERGED``: non-finite loss or parameters) or whose
records overflow (an infinite metric, or a NaN one while its train loss is finite) is flagged in
the result's ``diverged`` (R,) and given status ``DIVERGED``; the figures leave it out.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from .. import engine
from . import flow, models


def build_model(run: dict, arrays: dict):
    fam = run["family"]
    if fam == "diagonal":
        m = models.DiagonalNet(arrays["x_train"].shape[1], run["depth"], run["loss"], run.get("record_w", False))
    elif fam == "matrix":
        m = models.MatrixFactor(int(np.asarray(arrays["target"]).shape[0]))
    elif fam == "relu":
        p = int(np.max(arrays["y_train"])) + 1 if "p" not in arrays else int(arrays["p"])
        m = models.ReLUNet(arrays["x_train"].shape[1], run["width"], p, run["zero_second_layer"])
    else:
        raise ValueError(f"unknown family {fam!r}")
    return models.LossNormalised(m) if run.get("normalized", False) else m


def grid(run: dict, seeds) -> dict[str, np.ndarray]:
    combos = list(itertools.product(run["alphas"], run["weight_decays"], seeds))
    a, wd, s = (np.array(c, dtype=float) for c in zip(*combos))
    return {"alpha": a, "weight_decay": wd, "seed": s.astype(int)}


def run_grid(run: dict, arrays: dict, seeds, device="cpu", dtype=torch.float64, label="train",
             checkpoint=None, checkpoint_every: float = 600.0) -> dict:
    """Train every replica of ``run``; returns the grid, record steps and records (E, R, ...).
    ``checkpoint`` (a file) lets a killed run continue where it was (:func:`grokrepro.engine.train`).
    A matrix run with ``adaptive_step`` set is integrated in gradient-flow time instead
    (:func:`flow.run_grid_flow`: records on a flow-time grid ``time``, no checkpoint; minutes)."""
    if run.get("adaptive_step"):
        out = flow.run_grid_flow(run, arrays, grid(run, [0]), device, dtype, label)
    else:
        out = _run_grid_gd(run, arrays, seeds, device, dtype, label, checkpoint, checkpoint_every)
    out["diverged"] = diverged_replicas(out["status"], {k[4:]: v for k, v in out.items() if k.startswith("rec_")})
    out["status"] = np.where(out["diverged"], engine.DIVERGED, out["status"])
    return out


def diverged_replicas(status, records: dict[str, np.ndarray]) -> np.ndarray:
    """(R,) bool: the replicas whose status is ``DIVERGED`` or whose records (each (E, R, ...))
    hold an infinite value, or a NaN one at a record where the replica's train loss is finite
    (records are NaN once a replica has stopped, so a NaN alone says nothing)."""
    bad = np.asarray(status) == engine.DIVERGED
    alive = np.isfinite(records["train_loss"])
    for v in records.values():
        v = np.asarray(v, float).reshape(*alive.shape, -1)
        bad |= np.isinf(v).any(axis=(0, 2)) | (np.isnan(v).any(axis=2) & alive).any(axis=0)
    return bad


def _run_grid_gd(run, arrays, seeds, device, dtype, label, checkpoint, checkpoint_every) -> dict:
    """Constant-lr (or normalised) full-batch GD over the run's grid in one engine call."""
    model = build_model(run, arrays)
    base = model.base if isinstance(model, models.LossNormalised) else model
    g = grid(run, seeds if run["family"] == "relu" else [0])
    data = models.to_data(arrays, run["family"], device, dtype)
    if run["family"] == "relu":
        params = base.init(g["seed"], g["alpha"], device=device, dtype=dtype)
    else:
        params = base.init(g["alpha"], device=device, dtype=dtype)
    lr = run["lr"]
    monitor = None
    steps = int(run["steps"])
    if run.get("horizon"):
        with np.errstate(divide="ignore"):
            budget = run["horizon"] * np.log(g["alpha"]) / (lr * g["weight_decay"])
        budget = np.minimum(np.ceil(budget), steps)
        budget_t = torch.as_tensor(budget, device=device)
        steps = int(budget.max())

        def monitor(epoch, mets, idx):
            return epoch >= budget_t[idx]
    record = engine.log_grid(steps, run["points"])
    res = engine.train(model, params, data, lr, g["weight_decay"], data.x_train.shape[0], g["seed"], steps,
                       check_every=max(steps, 1), record_epochs=record, monitor=monitor, check_at_records=True,
                       label=label, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    out = {f"grid_{k}": v for k, v in g.items()}
    out["steps"] = res.record_epochs
    out["status"] = res.status
    out.update({f"rec_{k}": v for k, v in res.records.items()})
    return out
