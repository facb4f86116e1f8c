"""Trapped-state initialisation: checkpoints of R replicas in a chosen phase.

A *phase* is the set of features the network has learned (e.g. ``(True, False)``: rank 1,
``(False, False)``: trivial). Two ways to get there:

* **annealed** (the paper's protocol): converge at β = 0 from a random init (full rank), then
  converge at β_init, where the unwanted features have lost their learned state;
* **constructed**: balanced weights built from theory — W_1 = R_1 Λ^{1/L} Vᵀ,
  W_l = R_l Λ^{1/L} R_{l−1}ᵀ, W_L = U Λ^{1/L} R_{L−1}ᵀ with (U, V) the singular vectors of
  Σ̂_yx, random orthonormal hidden frames R_l per seed and Λ the learned-minimum λ** (or 0) of
  each feature — optionally polished by deterministic full-batch GD to the exact stationary
  point of the training loss in that phase, then perturbed by N(0, perturbation²) per entry.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear
from ..io import load_npz, log
from . import theory
from .beta_sweep import convergence_monitor


def phase_mask(start: str, k: int) -> tuple[bool, ...] | None:
    """'rank1' → (True, False, ...), 'trivial' → all False, 'random' → None."""
    if start == "random":
        return None
    if start == "trivial":
        return (False,) * k
    if start.startswith("rank"):
        j = int(start[4:])
        if not 0 <= j <= k:
            raise ValueError(f"{start}: rank must be between 0 and {k}")
        return tuple(i < j for i in range(k))
    raise ValueError(f"unknown start {start!r} (random, trivial or rank<j>)")


def phase_of(params, threshold: float, k: int, frames=None) -> np.ndarray:
    """(R, k) bool: which features the network has learned.

    With ``frames = (U, V)`` (singular vectors of Σ̂_yx) feature j counts as learned when
    |u_jᵀ W v_j| > threshold; without, the k leading singular values of W are used (which
    cannot tell *which* feature a lone learned mode belongs to).
    """
    w = DeepLinear.end_to_end(params).cpu().numpy()
    if frames is None:
        return np.linalg.svd(w, compute_uv=False)[:, :k] > threshold
    u, v = frames
    return np.abs(np.einsum("qj,rqp,pj->rj", u[:, :k], w, v[:, :k])) > threshold


def feature_frames(x: np.ndarray, y: np.ndarray):
    """Singular values, left/right singular vectors of Σ̂_yx and s_k = v_kᵀ Σ̂_xx v_k."""
    n = x.shape[0]
    u, eta, vt = np.linalg.svd(y.T @ x / n)
    s = np.einsum("ki,ij,kj->k", vt, x.T @ x / n, vt)
    return eta, u, vt.T, s


def constructed(model: DeepLinear, x, y, learned, beta: float, seeds, device="cpu", dtype=torch.float64,
                lambdas=None):
    """Balanced weights with feature k at λ** (of s·f(λ; η̂/s, β/s)) if learned[k], else 0.

    ``lambdas`` overrides the per-feature λ (e.g. to build points along the escape path).
    """
    depth, dims = model.depth, model.dims
    eta, u, v, s = feature_frames(np.asarray(x), np.asarray(y))
    k = len(learned)
    lam = np.zeros(k)
    for i, on in enumerate(learned):
        if lambdas is not None:
            lam[i] = lambdas[i]
        elif on:
            st = theory.stationary_points(eta[i] / s[i], beta / s[i], depth)
            if math.isnan(st.learned):
                raise ValueError(f"feature {i} has no learned state at beta={beta} (beyond its spinodal)")
            lam[i] = st.learned
    root = np.diag(lam ** (1.0 / depth))
    layers = [[] for _ in range(depth)]
    for seed in seeds:
        rng = np.random.default_rng(int(seed) + 7919)
        frames = [np.linalg.qr(rng.standard_normal((dims[i + 1], k)))[0] for i in range(depth - 1)]
        for i in range(depth):
            left = u[:, :k] if i == depth - 1 else frames[i]
            right = v[:, :k] if i == 0 else frames[i - 1]
            layers[i].append(left @ root @ right.T)
    return [torch.as_tensor(np.stack(w), device=device, dtype=dtype) for w in layers], lam


def polish(model: DeepLinear, params, data: Data, beta: float, lr: float, steps: int):
    """Deterministic full-batch GD at β: relaxes onto the exact stationary point of the phase. A
    replica whose polish diverges (``lr`` too large for GD) keeps its unpolished state."""
    n = data.x_train.shape[0]
    seeds = np.zeros(params[0].shape[0], dtype=np.int64)
    res = engine.train(model, params, data, lr, beta, n, seeds, max_epochs=steps, check_every=steps,
                       progress_every=0)
    bad = torch.as_tensor(res.status == engine.DIVERGED, device=params[0].device)
    if not bad.any():
        return res.params
    log(f"polish at beta={beta}, lr={lr} diverged for {int(bad.sum())} of {len(bad)} replicas: "
        f"kept their unpolished states")
    return [torch.where(bad.view(-1, 1, 1), p0, p1) for p0, p1 in zip(params, res.params)]


def perturb(params, std: float, seeds):
    out = []
    for i, p in enumerate(params):
        noise = torch.stack([torch.randn(p.shape[1:], generator=torch.Generator().manual_seed(int(s) * 31 + i),
                                         dtype=torch.float64) for s in seeds]).to(p)
        out.append(p + std * noise)
    return out


def annealed(model: DeepLinear, data: Data, betas, seeds, init_std: float, lr: float, batch_size: int,
             max_epochs: int, min_epochs: int, check_every: int, rel_tolerance: float):
    """Random init, then train to convergence at each β in ``betas`` in turn (the paper: 0, β_init).

    Returns the parameters and, per stage, the epochs used and whether each replica converged.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    params = model.init(seeds, init_std, data.x_train.device, data.x_train.dtype)
    stages = []
    for j, beta in enumerate(betas):
        res = engine.train(model, params, data, lr, beta, batch_size, seeds + 50_000, max_epochs,
                           check_every=check_every, epoch_offset=j * max_epochs,
                           monitor=convergence_monitor(len(seeds), min_epochs, rel_tolerance), progress_every=0)
        params = res.params
        stages.append({"beta": beta, "epochs": res.stop_epoch, "converged": res.status == engine.DONE,
                       "diverged": res.status == engine.DIVERGED})
    return params, stages


def make_start(model: DeepLinear, data: Data, start: str, seeds, cfg: dict, init_std: float,
               op_beta: float | None = None):
    """Parameters of every seed in the requested start ('random', 'trivial', 'rank<j>').

    ``cfg`` is the ``trap`` block of the config (method, anneal settings, beta_init,
    perturbation, polish_steps). Returns (params, info) where info holds per-stage epochs,
    convergence and divergence flags (annealed) or the theory λ values (constructed), and
    ``diverged`` (R,): the seeds whose trap training diverged or whose weights are not finite.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    k = min(data.x_train.shape[1], data.y_train.shape[1])
    if start == "random":
        params = model.init(seeds, init_std, data.x_train.device, data.x_train.dtype)
        return params, {"diverged": ~finite(params)}
    mask = phase_mask(start, k)
    if cfg["method"] == "annealed":
        a = cfg["anneal"]
        betas = [0.0, cfg["beta_init"][start]]
        params, stages = annealed(model, data, betas, seeds, init_std, a["lr"], min(a["batch_size"], len(data.x_train)),
                                  a["max_epochs"], a["min_epochs"], a["check_every"], a["rel_tolerance"])
        info = {f"stage{j}_{key}": np.asarray(v) for j, st in enumerate(stages) for key, v in st.items()}
        info["diverged"] = ~finite(params) | np.any([st["diverged"] for st in stages], axis=0)
        return params, info
    if op_beta is None:
        raise ValueError("a constructed trap needs the operating beta")
    params, lam = constructed(model, data.x_train.cpu().numpy(), data.y_train.cpu().numpy(), mask, op_beta, seeds,
                              data.x_train.device, data.x_train.dtype)
    if cfg["polish_steps"]:
        params = polish(model, params, data, op_beta, cfg["anneal"]["lr"], cfg["polish_steps"])
    params = perturb(params, cfg["perturbation"], seeds)
    return params, {"lambda_theory": lam, "diverged": ~finite(params)}


def finite(params) -> np.ndarray:
    """(R,) bool: replicas whose weights and end-to-end matrix are all finite."""
    with torch.no_grad():
        mats = [*params, DeepLinear.end_to_end(params)]
        return np.all([torch.isfinite(p.flatten(1)).all(dim=1).cpu().numpy() for p in mats], axis=0)


def load_data(train_path, test_path=None, device="cpu", dtype=torch.float64) -> Data:
    """A data set written by the data rule (train.npz / test.npz with arrays x, y) as engine Data."""
    train, _ = load_npz(train_path)
    arrays = {"x_train": train["x"], "y_train": train["y"]}
    if test_path is not None:
        test, _ = load_npz(test_path)
        arrays.update(x_test=test["x"], y_test=test["y"])
    return Data.from_numpy(arrays, device, dtype)


def load_start(path, device="cpu", dtype=torch.float64):
    """A trap checkpoint: (model, params, arrays, meta)."""
    start, meta = load_npz(path)
    depth = sum(1 for key in start if key.startswith("W") and key[1:].isdigit())
    params = [torch.as_tensor(start[f"W{i}"], device=device, dtype=dtype) for i in range(depth)]
    model = DeepLinear(tuple([params[0].shape[2]] + [w.shape[1] for w in params]))
    return model, params, start, meta
