"""Langevin temperature sweeps from a trap (Fig 2b's Arrhenius test under a noise model that can escape).

At a trapped state every single-sample gradient lies in the span of the learned modes, so SGD noise
has no component along the escape direction and the trap is absorbing. Langevin noise, isotropic
over all parameters, does: θ ← θ − lr·(∇L + βθ) + √(2·lr·T)·ξ (the engine's ``temperature``).

* Temperatures come from the theory barrier on a fixed grid of ΔE/T (a rule, not a fit to a result).
* The start is the balanced constructed trap (feature j unlearned) on exact-moment data, where the
  per-feature theory holds exactly; every (T, seed) is a replica of one full-batch run.
* Escape: σ_j(W), the unlearned feature's singular value, first crossing a threshold between the
  saddle λ_sad and the learned λ** (``fractions`` of the way; the first is the headline, the others
  show that τ does not depend on the choice). Times are in steps (= epochs, full batch).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear
from . import theory, trap


def temperatures(barrier: float, ratios) -> np.ndarray:
    """T = ΔE / r for each r of the ΔE/T grid ``ratios``."""
    return barrier / np.asarray(ratios, dtype=float)


def thresholds(saddle: float, learned: float, fractions) -> np.ndarray:
    """σ thresholds ``saddle + f·(learned − saddle)`` for each fraction f."""
    return saddle + np.asarray(fractions, dtype=float) * (learned - saddle)


def escape_landscape(eta: float, beta: float, depth: int) -> dict[str, float]:
    """Theory of the unlearned feature at β: saddle, learned value and the barrier from λ = 0."""
    st = theory.stationary_points(eta, beta, depth)
    return {"saddle": st.saddle, "learned": st.learned, "barrier": theory.barrier(eta, beta, depth),
            "barrier_back": theory.barrier_from_learned(eta, beta, depth)}


def crossing_monitor(thr: torch.Tensor, column: int, first: torch.Tensor, below: bool = False):
    """Monitor: record in ``first`` (R, n_thr) the first check epoch σ_column(W) ≥ each threshold
    (``below``: ≤); a replica is done once it is past every one."""

    def monitor(epoch, mets, idx):
        sv = mets["svals"][:, column]
        past = sv[:, None] <= thr[None, :] if below else sv[:, None] >= thr[None, :]
        hit = past & torch.isnan(first[idx])
        rows = first[idx]
        rows[hit] = float(epoch)
        first[idx] = rows
        return ~torch.isnan(first[idx]).any(dim=1)

    return monitor


def langevin_sweep(model: DeepLinear, data: Data, beta: float, learned, temps, seeds, lr: float, max_epochs: int,
                   check_every: int, fractions, back: bool = False, **settings) -> dict[str, np.ndarray]:
    """Every (temperature, seed) from the constructed trap as one full-batch Langevin run; replica
    ``i·S + s`` is seed ``s`` at ``temps[i]``. Returns first-crossing epochs (R, n_thr) (NaN: censored).
    ``back``: start instead from the escaped state (the first unlearned feature learned too) and time
    the return, σ of that feature's mode falling back to saddle + f·(learned − saddle)."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    eta, _, _, s = trap.feature_frames(x, y)
    j = list(learned).index(False)
    land = escape_landscape(eta[j] / s[j], beta / s[j], model.depth)
    thr = thresholds(land["saddle"], land["learned"], fractions)
    seeds = np.asarray(seeds, dtype=np.int64)
    temps = np.asarray(temps, dtype=float)
    mask = tuple(on or (back and i == j) for i, on in enumerate(learned))
    start, _ = trap.constructed(model, x, y, mask, beta, seeds, data.x_train.device, data.x_train.dtype)
    tiled = [p.repeat(len(temps), 1, 1) for p in start]
    rep_seeds = np.concatenate([seeds + 100_000 * (i + 1) for i in range(len(temps))])
    first = torch.full((len(rep_seeds), len(thr)), math.nan, dtype=torch.float64)
    res = engine.train(model, tiled, data, lr, beta, data.x_train.shape[0], rep_seeds, max_epochs,
                       check_every=check_every, temperature=np.repeat(temps, len(seeds)),
                       monitor=crossing_monitor(torch.as_tensor(thr, dtype=data.x_train.dtype), j, first, back),
                       monitor_state={"first": first}, label=f"langevin beta={beta}", **settings)
    return {"T": np.repeat(temps, len(seeds)), "temps": temps, "seeds": np.tile(seeds, len(temps)),
            "escape": first.numpy(), "censored": np.isnan(first.numpy()), "thresholds": thr,
            "fractions": np.asarray(fractions, dtype=float), "budget": np.array(max_epochs),
            "lr": np.array(lr), "beta": np.array(beta), "status": res.status, "steps": np.array(res.steps),
            "relaxation_steps": np.array(1.0 / (lr * beta)),
            **{f"theory_{k}": np.array(v) for k, v in land.items()}}


def langevin_experiment(model: DeepLinear, data: Data, cfg: dict, fractions, check_every: int,
                        discretisation: dict, back_epochs: int = 0, **settings) -> dict[str, np.ndarray]:
    """One configured sweep (``cfg``: beta, lr, ratios, seeds, max_epochs; rank-1 trap, feature 2
    unlearned): the temperature sweep, the lr-halving run at ``discretisation['ratio']`` (one of the
    grid's; budget in time units lr·steps kept; its reference is the sweep's own point), and the
    zero-mode counts of the Hessians at the trap and the saddle; where the escaped state lies above the
    trap, also the return runs from it (``back_epochs`` steps, 0 = none)."""
    from .arrhenius import kramers_langer  # heavy (Hessians); only here

    learned = (True, False)
    seeds = np.arange(cfg["seeds"])
    land = escape_landscape_of(data, beta=cfg["beta"], depth=model.depth)
    temps = temperatures(land["barrier"], cfg["ratios"])
    out = langevin_sweep(model, data, cfg["beta"], learned, temps, seeds, cfg["lr"], cfg["max_epochs"], check_every,
                         fractions, **settings)
    factor = discretisation["lr_factor"]
    t_disc = temperatures(land["barrier"], [discretisation["ratio"]])
    fine = langevin_sweep(model, data, cfg["beta"], learned, t_disc, seeds, cfg["lr"] * factor,
                          int(round(cfg["max_epochs"] / factor)), check_every, fractions, **settings)
    if back_epochs and land["barrier_back"] < land["barrier"]:  # the escaped state lies above the trap: way back
        ret = langevin_sweep(model, data, cfg["beta"], learned, temps, seeds + 500_000, cfg["lr"], back_epochs,
                             check_every, [0.0], back=True, **settings)
        out.update(back_escape=ret["escape"][:, 0], back_censored=ret["censored"][:, 0], back_budget=ret["budget"])
    kl = kramers_langer(model, data, cfg["beta"], learned)
    out.update({"ratios": np.asarray(cfg["ratios"], dtype=float), "disc_T": t_disc, "disc_lr_factor": np.array(factor),
                "disc_fine_escape": fine["escape"], "disc_ref_escape": out["escape"][np.isclose(out["T"], t_disc[0])],
                "disc_fine_budget": fine["budget"], "zero_modes_trap": np.array(kl.get("n_zero_min", -1)),
                "zero_modes_saddle": np.array(kl.get("n_zero_saddle", -1)),
                "barrier_network": np.array(kl.get("barrier_network", math.nan))})
    return out


def escape_landscape_of(data: Data, beta: float, depth: int, learned=(True, False)) -> dict[str, float]:
    """:func:`escape_landscape` of the first unlearned feature of ``data``'s training set."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    eta, _, _, s = trap.feature_frames(x, y)
    j = list(learned).index(False)
    land = escape_landscape(eta[j] / s[j], beta / s[j], depth)
    return {**land, "barrier": land["barrier"] * s[j], "barrier_back": land["barrier_back"] * s[j]}


def all_crossed_monitor(thr: torch.Tensor, column: torch.Tensor, first: torch.Tensor):
    """Monitor: record in ``first`` (R,) the first check epoch σ_column(W) ≥ thr (per replica); the
    run stops once every replica has crossed (so each escaped curve keeps going until then)."""

    def monitor(epoch, mets, idx):
        i = idx.cpu()
        sv = mets["svals"].detach().cpu().to(torch.float64)
        up = sv[torch.arange(len(i)), column[i]] >= thr[i]
        hit = up & torch.isnan(first[i])
        first[i[hit]] = float(epoch)
        done = bool(~torch.isnan(first).any())
        return torch.full((len(i),), done, dtype=torch.bool)

    return monitor


def trap_langevin(model: DeepLinear, data: Data, beta: float, starts, ratio: float, seeds, lr: float,
                  max_epochs: int, check_every: int, record_points: int, fraction: float,
                  **settings) -> dict[str, np.ndarray]:
    """Full-batch Langevin from the constructed trap of each start ('rank1', 'trivial') at
    T = ΔE/``ratio``, ΔE the theory barrier of that trap's first unlearned feature; escape = σ of
    that feature's mode past saddle + ``fraction``·(learned − saddle). Replica ``i·S + s`` is seed
    ``s`` of ``starts[i]``; test/train MSE and singular values are recorded on a log grid until every
    replica has escaped (or the budget ends)."""
    k = min(data.x_train.shape[1], data.y_train.shape[1])
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    seeds = np.asarray(seeds, dtype=np.int64)
    params, temps, thr, cols, land_of = [], [], [], [], {}
    for start in starts:
        learned = trap.phase_mask(start, k)
        j = list(learned).index(False)
        land = escape_landscape_of(data, beta, model.depth, learned)
        built, _ = trap.constructed(model, x, y, learned, beta, seeds, data.x_train.device, data.x_train.dtype)
        params.append(built)
        temps.append(land["barrier"] / ratio)
        thr.append(float(thresholds(land["saddle"], land["learned"], [fraction])[0]))
        cols.append(j)
        land_of[start] = land
    s = len(seeds)
    tiled = [torch.cat(layer) for layer in zip(*params)]
    first = torch.full((len(starts) * s,), math.nan, dtype=torch.float64)
    monitor = all_crossed_monitor(torch.as_tensor(np.repeat(thr, s)), torch.as_tensor(np.repeat(cols, s)), first)
    grid = engine.log_grid(max_epochs, record_points)
    rep_seeds = np.concatenate([seeds + 200_000 * (i + 1) for i in range(len(starts))])
    res = engine.train(model, tiled, data, lr, beta, data.x_train.shape[0], rep_seeds, max_epochs,
                       check_every=check_every, temperature=np.repeat(temps, s), record_epochs=grid,
                       check_at_records=True, monitor=monitor, monitor_state={"first": first},
                       label=f"trap langevin beta={beta}", **settings)
    out = {"epochs": grid, "test_loss": res.records["test_loss"], "train_loss": res.records["train_loss"],
           "svals": res.records["svals"], "escape": first.numpy(), "censored": np.isnan(first.numpy()),
           "start": np.repeat(list(starts), s), "starts": np.array(list(starts)), "T": np.repeat(temps, s),
           "temps": np.array(temps), "thresholds": np.array(thr), "columns": np.array(cols),
           "ratio": np.array(ratio), "lr": np.array(lr), "beta": np.array(beta), "budget": np.array(max_epochs),
           "stop_epoch": np.array(res.stop_epoch), "fraction": np.array(fraction), "seeds": np.tile(seeds, len(starts))}
    for key in ("saddle", "learned", "barrier", "barrier_back"):
        out[f"theory_{key}"] = np.array([land_of[st][key] for st in starts])
    return out
