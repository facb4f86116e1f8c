"""Quasi-static β sweeps (Fig 3, Fig 4): warm-started training to convergence at each β, the
transitions they show and the size of their jumps and hysteresis.

Upward: from a random init, converge at β = 0 (full rank), then step β up. Downward: from a
small random init, converge at β_max (trivial), then step β down. Both directions, every seed,
run as replicas of one batched program; a replica that has converged at the current β stops
costing compute until the next β.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear
from ..io import log

UP, DOWN = 0, 1


@dataclass(frozen=True)
class SweepSpec:
    depth: int
    width: int
    init_std: float | None
    seeds: tuple[int, ...]
    beta_max: float
    beta_step: float
    lr: float
    batch_size: int
    min_epochs: int
    max_epochs: int
    check_every: int
    rel_tolerance: float
    trivial_init_std: float
    rank_threshold: float

    @property
    def betas(self) -> np.ndarray:
        n = int(math.floor(self.beta_max / self.beta_step + 1e-9))
        return np.round(np.arange(n + 1) * self.beta_step, 12)


def dims(depth: int, width: int, dim_x: int, dim_y: int) -> tuple[int, ...]:
    return (dim_x, *([width] * (depth - 1)), dim_y)


def convergence_monitor(n_replicas: int, min_epochs: int, rel_tolerance: float):
    """Done when, since the last check, the full-batch training loss changed by <= rel_tolerance
    (relative) and the parameter norm did not grow by more than rel_tolerance (relative).

    The second condition keeps a replica sitting near an *unstable* stationary point (e.g. the
    trivial point W = 0 of an L = 2 net below β = η, where the loss is flat but the weights
    grow exponentially) from being declared converged; near a stable trivial minimum the
    norm shrinks, near a learned minimum it stays put.
    """
    prev_loss = torch.full((n_replicas,), math.inf, dtype=torch.float64)
    prev_norm = torch.full((n_replicas,), math.inf, dtype=torch.float64)

    def monitor(epoch, metrics, idx):
        loss = metrics["train_loss"].detach().to("cpu", torch.float64)
        norm = metrics["param_norm"].detach().to("cpu", torch.float64)
        i = idx.cpu()
        flat = torch.abs(loss - prev_loss[i]) <= rel_tolerance * loss.abs()
        not_growing = norm <= prev_norm[i] * (1 + rel_tolerance)
        done = flat & not_growing & (epoch >= min_epochs)
        prev_loss[i], prev_norm[i] = loss, norm
        return done

    return monitor


def run_sweep(arrays: dict, spec: SweepSpec, device="cpu", dtype=torch.float64, model=None,
              betas=None) -> dict[str, np.ndarray]:
    """Both sweep directions for every seed. Arrays are indexed (direction, β index, seed, ...),
    with β ascending for both directions (the downward sweep visited them in reverse). A replica
    that diverges is marked ``DIVERGED`` from that β on and trained no further.

    ``model``: any engine family with ``init(seeds, std, device, dtype)`` and metrics that include
    ``svals``, ``eff_rank`` and ``param_norm`` (default: the deep linear network of ``spec``);
    ``betas``: the grid (default ``spec.betas``)."""
    data = Data.from_numpy(arrays, device, dtype)
    p, q = data.x_train.shape[1], data.y_train.shape[1]
    if model is None:
        model = DeepLinear(dims(spec.depth, spec.width, p, q), rank_threshold=spec.rank_threshold)
    seeds = np.asarray(spec.seeds, dtype=np.int64)
    s = len(seeds)
    init_std = spec.init_std if spec.init_std is not None else 1.0 / math.sqrt(spec.width)
    up = model.init(seeds, init_std, device, dtype)
    down = model.init(seeds + 10_000, spec.trivial_init_std, device, dtype)
    params = [torch.cat([a, b]) for a, b in zip(up, down)]
    rep_seeds = np.concatenate([seeds, seeds + 10_000])
    betas = spec.betas if betas is None else np.asarray(betas, dtype=float)
    nb = len(betas)
    k = min(p, q)
    out = {
        "beta": betas,
        "seeds": seeds,
        "train_loss": np.full((2, nb, s), np.nan),
        "test_loss": np.full((2, nb, s), np.nan),
        "svals": np.full((2, nb, s, k), np.nan),
        "eff_rank": np.full((2, nb, s), np.nan),
        "epochs": np.zeros((2, nb, s), dtype=np.int64),
        "status": np.zeros((2, nb, s), dtype=np.int64),
    }
    alive = np.ones(2 * s, dtype=bool)
    train_only = Data(data.x_train, data.y_train)  # the convergence checks need no test-set metrics
    started = time.monotonic()
    for j in range(nb):
        b_up, b_down = betas[j], betas[nb - 1 - j]
        wd = np.concatenate([np.full(s, b_up), np.full(s, b_down)])
        idx = np.flatnonzero(alive)
        if idx.size:
            res = engine.train(
                model, [prm[idx] for prm in params], train_only, spec.lr, wd[idx], spec.batch_size, rep_seeds[idx],
                spec.max_epochs, check_every=spec.check_every, record_epochs=[], epoch_offset=j * spec.max_epochs,
                monitor=convergence_monitor(len(idx), spec.min_epochs, spec.rel_tolerance), progress_every=0,
            )
            for prm, new in zip(params, res.params):
                prm[idx] = new
            _store_step(out, model, data, res, idx, j, s, alive)
        for g in np.flatnonzero(~alive):
            d, seed_i = divmod(int(g), s)
            out["status"][d, j if d == UP else nb - 1 - j, seed_i] = engine.DIVERGED
        epochs = f"max epochs {res.stop_epoch.max()}" if idx.size else "nothing left to train"
        unconv = int((res.status == engine.BUDGET).sum()) if idx.size else 0
        eta = (time.monotonic() - started) * (nb - j - 1) / (j + 1)
        log(f"[sweep L={spec.depth}] beta step {j + 1}/{nb}, up {b_up:.3f} / down {b_down:.3f}: "
            f"{epochs}, {int(alive.sum())}/{2 * s} replicas running, {unconv} unconverged, "
            f"{int((~alive).sum())} diverged, ETA {eta:.0f}s")
    return out


def _store_step(out: dict, model, data: Data, res, idx: np.ndarray, j: int, s: int,
                alive: np.ndarray) -> None:
    """Write one β step's results of the replicas ``idx`` into ``out``; retire the diverged ones
    (their metrics are not computed: their weights may not be finite)."""
    nb = out["status"].shape[1]
    ok = res.status != engine.DIVERGED
    with torch.no_grad():
        mets = {key: v.cpu().numpy() for key, v in model.metrics([p[ok] for p in res.params], data).items()}
    row = np.cumsum(ok) - 1  # position of each finite replica in mets
    for local, g in enumerate(idx):
        d, seed_i = divmod(int(g), s)
        col = j if d == UP else nb - 1 - j
        out["status"][d, col, seed_i] = res.status[local]
        out["epochs"][d, col, seed_i] = res.stop_epoch[local]
        if not ok[local]:
            alive[g] = False
            continue
        for key in ("train_loss", "test_loss", "eff_rank"):
            out[key][d, col, seed_i] = mets[key][row[local]]
        out["svals"][d, col, seed_i] = mets["svals"][row[local]]


def transition_points(beta: np.ndarray, svals: np.ndarray, threshold: float, direction: int) -> np.ndarray:
    """β where each seed loses (upward) or gains (downward) each feature: (seed, feature).

    svals: (β, seed, feature) for one direction, β ascending. The transition is placed at the
    midpoint between the last β on the old side and the first β on the new side; NaN if the
    feature never changes state along the sweep.
    """
    nb, s, k = svals.shape
    out = np.full((s, k), np.nan)
    learned = svals > threshold
    for i in range(s):
        for f in range(k):
            col = learned[:, i, f]
            if direction == UP:
                # first β (ascending) at which the feature is lost, after having been learned
                lost = np.flatnonzero(~col)
                if col[0] and lost.size:
                    j = lost[0]
                    out[i, f] = 0.5 * (beta[j - 1] + beta[j])
            else:
                # visiting β descending: first β at which the feature appears
                gained = np.flatnonzero(col[::-1])
                if not col[-1] and gained.size:
                    j = nb - 1 - gained[0]
                    out[i, f] = 0.5 * (beta[j] + beta[j + 1])
    return out


def max_jump(sweep: dict, direction: int = UP) -> float:
    """Largest change of the median (over seeds) test MSE between neighbouring β of one direction."""
    med = np.nanmedian(sweep["test_loss"][direction], axis=1)
    return float(np.nanmax(np.abs(np.diff(med))))


def hysteresis_gap(sweep: dict) -> float:
    """Max over β of |median test MSE of the upward sweep − that of the downward sweep|."""
    up = np.nanmedian(sweep["test_loss"][UP], axis=1)
    down = np.nanmedian(sweep["test_loss"][DOWN], axis=1)
    return float(np.nanmax(np.abs(up - down)))
