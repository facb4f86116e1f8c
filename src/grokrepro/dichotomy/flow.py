"""Gradient-flow time with an adaptive, norm-scaled GD step (matrix-completion scaling grid).

The law under test is a statement about gradient-flow time t: the kernel phase ends near
t ≈ ln(α)/λ. Plain GD from U = V = αI is stable only for lr < 2/S with S the sharpness, and at
U = V = αI the Gauss–Newton sharpness of the mean-squared loss over n observed entries is
16α²/n, so a constant lr costs ~α²·ln(α)/λ steps. Before the transition the norm decays like
α·e^{−λt}, so the step allowed by stability grows like e^{2λt}.

:func:`flow_train` integrates the same GD update with a per-replica step
lr_k = min(lr_max, c/S_k), where S_k = (8(‖U‖₂² + ‖V‖₂²) + 4‖R‖₂)/n bounds the sharpness
(Gauss–Newton part: ‖J·δ‖_F ≤ 2‖U‖₂‖δU‖ + 2‖V‖₂‖δV‖ for W = UUᵀ − VVᵀ; R the masked residual)
and c is the fraction of that bound's edge of stability 2/S (c < 2: stable). The step is recomputed at
the start of every segment of flow time (segments end at the record times and are at most
``segment`` / max λ long, so the norm changes by at most ~``segment`` within one). Each segment is
one :func:`engine.train` call (full-batch GD has no randomness, so chunking is exact), and every
replica covers the segment exactly: K_r = ⌈Δt / lr_r⌉ steps of Δt / K_r. Total steps then grow like
8α²/(n·c·λ) instead of 16α²·ln(α)/(n·λ); the records are on a common flow-time grid. A constant
step (``c=None``) reproduces plain GD at lr_max step for step when the record times are multiples
of lr_max.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .. import engine
from ..io import log
from . import models


def matrix_sharpness_bound(params, batch) -> torch.Tensor:
    """(R,) upper bound (8(‖U‖₂² + ‖V‖₂²) + 4‖R‖₂)/n on the sharpness of the MSE loss over the
    n observed entries (``batch`` = :meth:`MatrixFactor.batches`' (mask, target, n)); R is the
    masked residual. The first term bounds the Gauss–Newton part, the second the residual part
    (the second derivative of W along δ is 2(δ_U δ_Uᵀ − δ_V δ_Vᵀ))."""
    mask, target, n = batch
    u, v = params
    su = torch.linalg.matrix_norm(u, ord=2)
    sv = torch.linalg.matrix_norm(v, ord=2)
    w = torch.bmm(u, u.transpose(1, 2)) - torch.bmm(v, v.transpose(1, 2))
    sr = torch.linalg.matrix_norm((w - target) * mask, ord=2)
    return (8.0 * (su**2 + sv**2) + 4.0 * sr) / n


def time_grid(t_first: float, t_last: float, points: int) -> np.ndarray:
    """0 plus ``points`` log-spaced flow times from ``t_first`` to ``t_last``."""
    grid = np.logspace(math.log10(t_first), math.log10(t_last), points)
    grid[-1] = t_last  # exact, so a replica stopping at t_last is done there
    return np.concatenate([[0.0], grid])


def flow_train(model, params, data, weight_decay, times, lr_max: float, c: float | None, stop_time=None,
               max_steps: int | None = None, segment: float = 0.05, label: str = "flow",
               progress_every: float = 30.0) -> dict:
    """Integrate GD over the flow-time grid ``times`` (starting at 0) for every replica.

    ``weight_decay`` and ``stop_time`` are (R,) (a replica stops after the first record time
    >= its stop time); ``max_steps`` caps each replica's GD steps. Returns ``time`` (E,),
    ``records`` (each (E, R, ...), NaN where a replica was not running), ``gd_steps`` (E, R) the
    steps each replica had taken at each record, ``status`` (R,) and the final ``params``.
    """
    device = params[0].device
    r = params[0].shape[0]
    times = np.asarray(times, float)
    wd = np.broadcast_to(np.asarray(weight_decay, float), (r,)).copy()
    stop = np.full(r, np.inf) if stop_time is None else np.broadcast_to(np.asarray(stop_time, float), (r,)).copy()
    batch = model.batches(data, None)[0] if c is not None else None
    params = [p.clone() for p in params]
    status = np.full(r, engine.RUNNING)
    steps_taken = np.zeros(r, dtype=np.int64)
    gd_steps = np.full((len(times), r), np.nan)
    records: dict[str, np.ndarray] = {}
    max_dt = segment / max(float(wd.max()), 1e-300) if segment else np.inf

    def record(i, idx):
        with torch.no_grad():
            mets = model.metrics([p[idx] for p in params], data)
        for k, v in mets.items():
            if k not in records:
                records[k] = np.full((len(times), r, *v.shape[1:]), np.nan)
            records[k][i, idx.cpu().numpy()] = v.detach().cpu().numpy().astype(float)
        gd_steps[i, idx.cpu().numpy()] = steps_taken[idx.cpu().numpy()]

    record(0, torch.arange(r, device=device))
    t = 0.0
    t0 = last_log = time.time()
    for i in range(1, len(times)):
        act = np.flatnonzero(status == engine.RUNNING)
        if not act.size:
            break
        while t < times[i] and act.size:
            dt = min(times[i] - t, max_dt)
            t_next = times[i] if times[i] - t <= max_dt * (1 + 1e-12) else t + dt
            dt = t_next - t
            k, bad = _segment(model, params, data, act, dt, wd[act], lr_max, c, batch, label)
            steps_taken[act] += k
            status[act[bad]] = engine.DIVERGED
            if bad.any():
                log(f"[{label}] {int(bad.sum())} replica(s) diverged at flow time {t:.4g}")
            t = t_next
            act = np.flatnonzero(status == engine.RUNNING)
        if act.size:
            record(i, torch.as_tensor(act, device=device))
        now = time.time()
        if progress_every and now - last_log > progress_every:
            log(f"[{label}] flow time {t:.4g}/{times[-1]:.4g}, {act.size}/{r} replicas running, "
                f"{int(steps_taken.max())} GD steps (max over replicas), {now - t0:.0f}s")
            last_log = now
        done = (status == engine.RUNNING) & (times[i] >= stop)
        status[done] = engine.DONE
        if max_steps is not None:
            over = (status == engine.RUNNING) & (steps_taken >= max_steps)
            status[over] = engine.BUDGET
    status[status == engine.RUNNING] = engine.BUDGET
    return {"time": times, "records": records, "gd_steps": gd_steps, "status": status, "params": params}


def _segment(model, params, data, act, dt: float, wd, lr_max: float, c: float | None, batch, label: str):
    """Advance the replicas ``act`` of ``params`` (updated in place) by flow time ``dt``: each takes
    K_r = ⌈dt / lr_r⌉ GD steps of dt / K_r, lr_r = min(lr_max, c/S_r) (lr_max if ``c`` is None).
    Returns K (per replica) and the mask of the replicas that diverged."""
    idx = torch.as_tensor(act, device=params[0].device)
    ap = [p[idx] for p in params]
    if c is None:
        lr_ok = np.full(act.size, lr_max)
    else:
        with torch.no_grad():
            s = matrix_sharpness_bound(ap, batch).cpu().numpy()
        lr_ok = np.minimum(lr_max, c / s)
    k = np.maximum(np.ceil(dt / lr_ok - 1e-9), 1).astype(np.int64)
    kmax = int(k.max())
    k_t = torch.as_tensor(k, device=idx.device)
    res = engine.train(model, ap, data, dt / k, wd, data.x_train.shape[0], np.zeros(act.size, dtype=np.int64), kmax,
                       check_every=kmax, record_epochs=np.unique(np.concatenate([[0], k])),
                       monitor=lambda epoch, mets, j: epoch >= k_t[j], check_at_records=True,
                       progress_every=0, label=label)
    for p, q in zip(params, res.params):
        p[idx] = q
    return k, res.status == engine.DIVERGED


def run_grid_flow(run: dict, arrays: dict, g: dict, device="cpu", dtype=torch.float64, label="train") -> dict:
    """A matrix-family run config with ``adaptive_step`` set: records on a flow-time grid.

    The grid spans from one adaptive step of the largest α to horizon × max ln(α)/λ (or
    ``steps`` × lr without a horizon); each replica stops at horizon × its own ln(α)/λ and
    after at most ``steps`` GD steps.
    """
    if run["family"] != "matrix":
        raise ValueError("adaptive_step is implemented for the matrix family only")
    model = models.MatrixFactor(int(np.asarray(arrays["target"]).shape[0]))
    data = models.to_data(arrays, "matrix", device, dtype)
    params = model.init(g["alpha"], device=device, dtype=dtype)
    c, lr_max = run["adaptive_step"], run["lr"]
    if run.get("horizon"):
        stop = run["horizon"] * np.log(g["alpha"]) / g["weight_decay"]
    else:
        stop = np.full(len(g["alpha"]), run["steps"] * lr_max)
    if c is None:  # plain GD at lr on the flow-time grid (a reference for tests)
        t_first = lr_max
    else:
        s0 = matrix_sharpness_bound(params, model.batches(data, None)[0]).cpu().numpy()
        t_first = float(np.min(np.minimum(lr_max, c / s0)))
    times = time_grid(t_first, float(stop.max()), run["points"])
    res = flow_train(model, params, data, g["weight_decay"], times, lr_max, c, stop, int(run["steps"]), label=label)
    log(f"[{label}] GD steps per replica: {np.nanmax(res['gd_steps'], axis=0).astype(int).tolist()}")
    out = {f"grid_{k}": v for k, v in g.items()}
    out["time"] = res["time"]
    out["status"] = res["status"]
    out["rec_gd_steps"] = res["gd_steps"]
    out.update({f"rec_{k}": v for k, v in res["records"].items()})
    return out
