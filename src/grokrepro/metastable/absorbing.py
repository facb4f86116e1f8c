"""Why plain SGD cannot leave an annealed trap, measured (Fig 1a's first two layers of evidence).

* **Residual per layer**: σ_{j+1}(W_l), layer l's singular value in the first unlearned mode (j =
  the start phase's learned features). An exact trap has it 0 in every layer; annealing leaves a
  residual that weight decay keeps shrinking.
* **Escape-direction noise fraction** C_weak / C_total: the trace of the single-sample gradient
  covariance restricted to the directions outside the learned hidden modes, over its full trace.
  With Q_l the top-j left singular vectors of the prefix W_l ⋯ W_1 (the learned hidden modes of
  layer l's output; Q_0 = Q_L = I), the learned part of a gradient G_l is Q_l Q_lᵀ G_l Q_{l−1}
  Q_{l−1}ᵀ and the rest is the escape part. At an exact trap every per-sample gradient is learned
  part only (the noise cannot reach the escape direction); off it by ε, the fraction grows ∝ ε².
* **Separatrix**: anneal at β_init for a budget of epochs, switch to the operating β, and see
  whether the unlearned mode's residual σ at the switch grows back (escape) or dies. The
  separatrix is located between the largest σ that did not escape and the smallest that did.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear
from .arrhenius import per_sample_grads
from .beta_sweep import convergence_monitor
from .langevin import escape_landscape


def layer_residuals(params, j: int) -> np.ndarray:
    """(R, L): σ_{j+1}(W_l) of every layer (NaN where a layer has no (j+1)-th singular value)."""
    out = []
    for w in params:
        sv = torch.linalg.svdvals(w).cpu().numpy()
        out.append(sv[:, j] if j < sv.shape[1] else np.full(sv.shape[0], math.nan))
    return np.stack(out, axis=1)


def learned_frames(params, j: int) -> list[torch.Tensor]:
    """Q_l (R, width, j) for l = 1 … L−1: the top-j left singular vectors of the prefix W_l ⋯ W_1."""
    frames, prefix = [], params[0]
    for w in params[1:]:
        frames.append(torch.linalg.svd(prefix, full_matrices=False)[0][:, :, :j])
        prefix = torch.bmm(w, prefix)
    return frames


def escape_noise_fraction(model: DeepLinear, params, data: Data, j: int) -> dict[str, np.ndarray]:
    """Per replica: C_total = tr Cov(g_i) over training samples, C_weak = the same trace of the
    gradients' escape part (outside the learned hidden modes, see the module docstring), and their
    ratio."""
    g = per_sample_grads(model, params, data)  # (N, R, D)
    centred = g - g.mean(0)
    frames = learned_frames(params, j)
    eye = [torch.eye(model.dims[0], dtype=g.dtype, device=g.device)]
    proj_in = eye + [q @ q.transpose(1, 2) for q in frames]  # (R, d_l, d_l) or (d, d)
    proj_out = [q @ q.transpose(1, 2) for q in frames] + [torch.eye(model.dims[-1], dtype=g.dtype, device=g.device)]
    weak = torch.zeros(centred.shape[:2], dtype=g.dtype, device=g.device)
    start = 0
    for layer, (din, dout) in enumerate(zip(model.dims[:-1], model.dims[1:])):
        block = centred[:, :, start : start + din * dout].unflatten(2, (dout, din))  # (N, R, dout, din)
        learned = proj_out[layer] @ block @ proj_in[layer]
        weak += (block - learned).pow(2).sum(dim=(2, 3))
        start += din * dout
    total = centred.pow(2).sum(2).mean(0).cpu().numpy()
    weak = weak.mean(0).cpu().numpy()
    return {"C_total": total, "C_weak": weak, "fraction": weak / total}


def budget_grid(max_budget: int, n: int) -> np.ndarray:
    """``n`` evenly spaced annealing budgets 0 … ``max_budget`` epochs (unique integers): the residual
    decays about exponentially with the budget, so these space it about evenly in log σ."""
    return np.unique(np.round(np.linspace(0, max_budget, n)).astype(int))


def budget_monitor(budgets: np.ndarray):
    """Done once the epoch has reached each replica's own budget."""
    b = torch.as_tensor(budgets)

    def monitor(epoch, mets, idx):
        return b[idx.cpu()] <= epoch

    return monitor


def separatrix_run(model: DeepLinear, data: Data, seeds, init_std: float, anneal: dict, beta_init: float,
                   beta_op: float, lr: float, batch_size: int, budgets, max_epochs: int, check_every: int,
                   floor: float, **settings) -> dict[str, np.ndarray]:
    """The annealing protocol with its β_init stage cut at each budget, then SGD at β_op.

    Stage 0 (β = 0, to convergence, ``anneal`` settings) runs once per seed; every (budget, seed)
    is then a replica of one β_init run that stops at its budget, and of one β_op run that stops
    once σ_2(W) is past half-way from the saddle to the learned state (escaped) or below ``floor``
    (absorbed). Replica ``i·S + s`` is seed ``s`` at ``budgets[i]``.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    budgets = np.asarray(budgets, dtype=int)
    n = data.x_train.shape[0]
    b0 = min(anneal["batch_size"], n)
    params = model.init(seeds, init_std, data.x_train.device, data.x_train.dtype)
    res = engine.train(model, params, data, anneal["lr"], 0.0, b0, seeds + 50_000, anneal["max_epochs"],
                       check_every=anneal["check_every"],
                       monitor=convergence_monitor(len(seeds), anneal["min_epochs"], anneal["rel_tolerance"]),
                       **settings)
    tiled = [p.repeat(len(budgets), 1, 1) for p in res.params]
    rep_seeds = np.tile(seeds, len(budgets))
    rep_budget = np.repeat(budgets, len(seeds))
    cut = engine.train(model, tiled, data, anneal["lr"], beta_init, b0, rep_seeds + 60_000, int(budgets.max()),
                       check_every=1, monitor=budget_monitor(rep_budget), **settings) if budgets.max() else res
    switch = cut.params if budgets.max() else tiled
    sigma = torch.linalg.svdvals(DeepLinear.end_to_end(switch))[:, 1].cpu().numpy()
    first, land = _run_from_switch(model, data, switch, rep_seeds, beta_op, lr, min(batch_size, n), max_epochs,
                                   check_every, floor, **settings)
    return {"budget": rep_budget, "budgets": budgets, "seeds": rep_seeds, "sigma_switch": sigma,
            "escape": first[:, 1], "absorbed": ~np.isnan(first[:, 0]), "stage0_epochs": res.stop_epoch,
            "stage0_converged": res.status == engine.DONE, "max_epochs": np.array(max_epochs),
            "beta_init": np.array(beta_init), "beta_op": np.array(beta_op), "floor": np.array(floor),
            **{f"theory_{k}": np.array(v) for k, v in land.items()}}


def _run_from_switch(model, data, params, seeds, beta, lr, batch_size, max_epochs, check_every, floor, **settings):
    """SGD at β from the switch: first check epochs (R, 2) of σ_2 ≤ floor (column 0) and σ_2 past
    the half-way threshold (column 1); a replica stops at either."""
    from .trap import feature_frames

    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    eta, _, _, s = feature_frames(x, y)
    land = escape_landscape(eta[1] / s[1], beta / s[1], model.depth)
    up = torch.as_tensor([land["saddle"] + 0.5 * (land["learned"] - land["saddle"])], dtype=torch.float64)
    first = torch.full((len(seeds), 2), math.nan, dtype=torch.float64)
    state = {"first": first}

    def monitor(epoch, mets, idx):
        sv = mets["svals"][:, 1].detach().cpu().to(torch.float64)
        i = idx.cpu()
        low = (sv <= floor) & torch.isnan(first[i, 0])
        first[i[low], 0] = float(epoch)
        high = (sv >= up[0]) & torch.isnan(first[i, 1])
        first[i[high], 1] = float(epoch)
        return ~torch.isnan(first[i]).all(dim=1)

    engine.train(model, params, data, lr, beta, batch_size, np.asarray(seeds) + 70_000, max_epochs,
                 check_every=check_every, monitor=monitor, monitor_state=state, **settings)
    return first.numpy(), land


def locate_separatrix(sigma, escaped) -> dict[str, float]:
    """The separatrix in σ from escaped-or-not outcomes: between ``low`` (the largest σ that did
    not escape) and ``high`` (the smallest σ that escaped); ``sharp`` when low < high (every σ
    above the boundary escaped, every one below did not), ``estimate`` their geometric midpoint.
    NaN bounds where every run (or none) escaped."""
    sigma, escaped = np.asarray(sigma, float), np.asarray(escaped, bool)
    ok = np.isfinite(sigma)
    sigma, escaped = sigma[ok], escaped[ok]
    low = float(sigma[~escaped].max()) if (~escaped).any() else math.nan
    high = float(sigma[escaped].min()) if escaped.any() else math.nan
    sharp = math.isfinite(low) and math.isfinite(high) and low < high
    est = math.sqrt(low * high) if sharp and low > 0 else math.nan
    return {"low": low, "high": high, "sharp": bool(sharp), "estimate": est,
            "n_escaped": int(escaped.sum()), "n": int(len(escaped))}
