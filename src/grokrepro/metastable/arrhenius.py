"""Temperature sweeps from a trap, the SGD noise scale at the trap, and the Kramers–Langer check.

* Temperature sweep: the trap's replicas are tiled over learning rates (one batched run, every
  (lr, seed) a replica) and trained at the operating β until they escape or the budget ends.
* Noise scale: C = tr Cov(g_i), the trace of the covariance of single-sample gradients at the
  trapped state (the minibatch-gradient covariance is C/B for B samples drawn without
  replacement from a large set); T_eff = lr / (B·C) as the paper defines it. C_escape is the
  variance of g_i along the escape direction (the balanced mode of the unlearned feature).
* Kramers–Langer: the Hessian of the full training objective (all D parameters) at the trapped
  minimum and at the saddle toward the escaped state (refined by Newton steps), giving the
  prefactor 2π/|ω_u| · sqrt(|Π ω_sad| / Π ω_min) over non-zero modes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..engine import Data, DeepLinear
from . import theory, trap
from .divergence import escape_diverged
from .escape import run_escape
from .fitting import exp_gof, fit_arrhenius, rate_mle


def temperature_sweep(model: DeepLinear, params, data: Data, start: str, seeds, beta: float, lrs, batch_size: int,
                      max_epochs: int, check_every: int, sv_threshold: float, polish_steps: int, polish_lr: float,
                      record_points: int, checkpoint=None, checkpoint_every: float = 600.0,
                      start_diverged=None) -> dict[str, np.ndarray]:
    """Every (learning rate, seed) from the trap as one batched escape run; replica ``j*S + i`` is
    seed ``i`` at ``lrs[j]``. ``start_diverged`` (S,) marks the trap seeds whose training diverged."""
    seeds = np.asarray(seeds, dtype=np.int64)
    lrs = np.asarray(lrs, dtype=float)
    s = len(seeds)
    tiled = [p.repeat(len(lrs), *([1] * (p.dim() - 1))) for p in params]
    rep_seeds = np.concatenate([seeds + 100_000 * j for j in range(len(lrs))])
    out = run_escape(model, tiled, data, start, rep_seeds, beta, np.repeat(lrs, s), batch_size, max_epochs,
                     check_every, sv_threshold, True, polish_steps, record_points, label=f"arrhenius {start}",
                     polish_lr=polish_lr, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    out["lr"] = np.repeat(lrs, s)
    out["lrs"] = lrs
    out["start_diverged"] = np.tile(np.zeros(s, bool) if start_diverged is None else start_diverged, len(lrs))
    return out


def per_sample_grads(model: DeepLinear, params, data: Data) -> torch.Tensor:
    """(N, R, D): gradient of each training sample's loss, for every replica."""
    x, y = data.x_train, data.y_train
    out = []
    for i in range(x.shape[0]):
        batch = ((x[i : i + 1].T @ x[i : i + 1])[None], (y[i : i + 1].T @ x[i : i + 1])[None])
        out.append(torch.cat([g.flatten(1) for g in model.grads(params, batch)], dim=1))
    return torch.stack(out)


def escape_direction(model: DeepLinear, data: Data, learned, beta: float, seeds, eps: float = 1e-6):
    """(R, D) unit vectors: the balanced mode of the first unlearned feature (same hidden frames
    as the constructed trap of each seed)."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    base, lam = trap.constructed(model, x, y, learned, beta, seeds, data.x_train.device, data.x_train.dtype)
    j = list(learned).index(False)
    lam2 = lam.copy()
    lam2[j] = eps
    moved, _ = trap.constructed(model, x, y, learned, beta, seeds, data.x_train.device, data.x_train.dtype,
                                lambdas=lam2)
    d = torch.cat([(a - b).flatten(1) for a, b in zip(moved, base)], dim=1)
    return d / d.norm(dim=1, keepdim=True)


def noise_scale(model: DeepLinear, params, data: Data, direction=None) -> dict[str, np.ndarray]:
    g = per_sample_grads(model, params, data)  # (N, R, D)
    centred = g - g.mean(0)
    out = {"C": centred.pow(2).sum(2).mean(0).cpu().numpy()}
    if direction is not None:
        out["C_escape"] = (centred * direction[None]).sum(2).pow(2).mean(0).cpu().numpy()
    return out


# ----------------------------------------------------------------------------- Kramers–Langer
def flat_objective(model: DeepLinear, data: Data, beta: float):
    x, y = data.x_train, data.y_train
    n = x.shape[0]
    sxx, syx, syy = x.T @ x / n, y.T @ x / n, (y * y).sum() / n
    shapes = [(b, a) for a, b in zip(model.dims[:-1], model.dims[1:])]
    sizes = [a * b for a, b in shapes]

    def fn(theta):
        ws = [t.view(sh) for t, sh in zip(torch.split(theta, sizes), shapes)]
        w = ws[0]
        for layer in ws[1:]:
            w = layer @ w
        data_loss = 0.5 * torch.trace(w @ sxx @ w.T) - torch.trace(w @ syx.T) + 0.5 * syy
        return data_loss + 0.5 * beta * theta.pow(2).sum()

    return fn


def newton_refine(fn, theta, steps: int = 30, rel_cut: float = 1e-9):
    """Newton steps on ∇f = 0 with the Hessian's near-zero (symmetry) modes projected out."""
    for _ in range(steps):
        g = torch.func.grad(fn)(theta)
        h = torch.func.hessian(fn)(theta)
        w, v = torch.linalg.eigh(h)
        keep = w.abs() > rel_cut * w.abs().max()
        step = v[:, keep] @ ((v[:, keep].T @ g) / w[keep])
        theta = theta - step
        if g.norm() < 1e-13:
            break
    return theta, torch.func.grad(fn)(theta).norm().item()


def kramers_langer(model: DeepLinear, data: Data, beta: float, learned, seed: int = 0, rel_zero: float = 1e-7) -> dict:
    """Hessian spectra at the trapped minimum and at the saddle toward learning the next feature."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    eta, _, _, s = trap.feature_frames(x, y)
    j = list(learned).index(False)
    st = theory.stationary_points(eta[j] / s[j], beta / s[j], model.depth)
    if math.isnan(st.saddle):
        return {"exists": False}
    fn = flat_objective(model, data, beta)
    mins, lam = trap.constructed(model, x, y, learned, beta, [seed], data.x_train.device, torch.float64)
    lam_sad = lam.copy()
    lam_sad[j] = st.saddle
    sads, _ = trap.constructed(model, x, y, learned, beta, [seed], data.x_train.device, torch.float64, lambdas=lam_sad)
    theta_min, gmin = newton_refine(fn, torch.cat([p[0].flatten() for p in mins]))
    theta_sad, gsad = newton_refine(fn, torch.cat([p[0].flatten() for p in sads]))
    ev_min = torch.linalg.eigvalsh(torch.func.hessian(fn)(theta_min)).cpu().numpy()
    ev_sad = torch.linalg.eigvalsh(torch.func.hessian(fn)(theta_sad)).cpu().numpy()
    scale = max(np.abs(ev_min).max(), np.abs(ev_sad).max())
    nz_min = np.abs(ev_min) > rel_zero * scale
    nz_sad = np.abs(ev_sad) > rel_zero * scale
    neg_sad = ev_sad[ev_sad < -rel_zero * scale]
    barrier = float(fn(theta_sad) - fn(theta_min))
    log_pref = (math.log(2 * math.pi) - math.log(abs(neg_sad[0])) if neg_sad.size else math.nan) + 0.5 * (
        np.log(np.abs(ev_sad[nz_sad])).sum() - np.log(np.abs(ev_min[nz_min])).sum())
    return {
        "exists": True,
        "barrier_network": barrier,
        "barrier_theory": float(s[j] * (theory.f(st.saddle, eta[j] / s[j], beta / s[j], model.depth)
                                         - theory.f(0.0, eta[j] / s[j], beta / s[j], model.depth))),
        "grad_norm_min": gmin,
        "grad_norm_saddle": gsad,
        "eig_min": ev_min,
        "eig_saddle": ev_sad,
        "n_negative_saddle": int(neg_sad.size),
        "n_negative_min": int((ev_min < -rel_zero * scale).sum()),
        "n_zero_min": int((~nz_min).sum()),
        "n_zero_saddle": int((~nz_sad).sum()),
        "log_prefactor": float(log_pref),
        "lambda_saddle": float(st.saddle),
    }


RATE_KEYS = ("rate", "rate_low", "rate_high", "tau", "tau_low", "tau_high", "events", "n", "exposure")


def rates_per_temperature(times, censored, lr, lrs, budget: float, n_gof: int, diverged) -> tuple[dict, list, list]:
    """Censored-exponential rate, its interval and the exponential goodness of fit at each learning
    rate in ``lrs``, over the replicas that did not diverge (NaN where all of them did): (columns,
    (times, censored) per fitted temperature, whether each temperature was fitted)."""
    per = {key: [] for key in (*RATE_KEYS, "gof_distance", "gof_p", "n_diverged")}
    groups, fitted = [], []
    for value in lrs:
        at = lr == value
        sel = at & ~diverged
        per["n_diverged"].append(int((at & diverged).sum()))
        fitted.append(bool(sel.any()))
        if not sel.any():  # every replica at this temperature diverged: no rate
            for key in (*RATE_KEYS, "gof_distance", "gof_p"):
                per[key].append(0 if key in ("events", "n") else math.nan)
            continue
        f = rate_mle(times[sel], censored[sel], budget)
        dist, pval = exp_gof(times[sel], censored[sel], budget, n_boot=n_gof)
        for key in RATE_KEYS:
            per[key].append(getattr(f, key))
        per["gof_distance"].append(dist)
        per["gof_p"].append(pval)
        groups.append((times[sel], censored[sel]))
    return per, groups, fitted


def fit_sweep(runs: dict, start: dict, train: dict, start_name: str, beta: float, depth: int, n_gof: int,
              n_fit: int) -> dict:
    """Everything Fig 2b stands for, from one temperature sweep (escape = the test-MSE criterion).

    The escape direction and the Kramers–Langer saddle belong to the *requested* phase
    ``start_name``; how many checkpoints actually reached it is reported as ``trap_phase_fraction``.
    Replicas that diverged (and trap seeds whose training diverged) are left out of the rates and
    of the noise scale; ``diverged`` marks them, ``n_diverged`` counts them per learning rate.
    """
    lrs, lr = np.asarray(runs["lrs"]), np.asarray(runs["lr"])
    batch, budget = int(runs["batch_size"]), float(runs["budget"])
    times, cens = np.asarray(runs["escape_mse"]), np.asarray(runs["censored_mse"], bool)
    diverged = escape_diverged(runs)
    data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"]}, "cpu", torch.float64)
    params = [torch.as_tensor(start[f"W{i}"], dtype=torch.float64) for i in range(depth)]
    model = DeepLinear(tuple([params[0].shape[2]] + [w.shape[1] for w in params]))
    k = min(train["x"].shape[1], train["y"].shape[1])
    learned = trap.phase_mask(start_name, k)
    in_phase = float((np.asarray(start["phase"]) == np.asarray(learned)).all(axis=1).mean())
    c_trap = noise_scale(model, params, data)["C"]
    # the escape direction is defined on the constructed trap (same phase, hidden frames rotated)
    built, _ = trap.constructed(model, train["x"], train["y"], learned, beta, [0])
    built = trap.polish(model, built, data, beta, 0.05, 2000)
    c_escape = noise_scale(model, built, data, escape_direction(model, data, learned, beta, [0]))["C_escape"]
    ok = np.isfinite(c_trap) & ~np.asarray(start.get("diverged", np.zeros(len(c_trap), bool)), bool)
    c = float(np.median(c_trap[ok])) if ok.any() else math.nan
    t_eff = lrs / (batch * c)
    per, groups, fitted = rates_per_temperature(times, cens, lr, lrs, budget, n_gof, diverged)
    fit = fit_arrhenius((1 / t_eff)[fitted], groups, budget, n_boot=n_fit)
    kl = kramers_langer(model, data, beta, learned) if False in learned else {"exists": False}
    out = {
        "lrs": lrs, "T_eff": t_eff, "inv_T": 1 / t_eff, "batch_size": np.array(batch), "budget": np.array(budget),
        "C_trap": c_trap, "C": np.array(c), "C_escape": np.array(float(c_escape[0])),
        "escape_times": times, "censored": cens, "lr": lr, "diverged": diverged,
        "arrhenius_delta_e": np.array(fit.delta_e), "arrhenius_delta_e_low": np.array(fit.delta_e_low),
        "arrhenius_delta_e_high": np.array(fit.delta_e_high), "arrhenius_ln_tau0": np.array(fit.ln_tau0),
        "arrhenius_r2": np.array(fit.r2), "arrhenius_points": np.array(fit.n_points),
        "kramers_exists": np.array(kl["exists"]), "learned": np.array(learned), "k": np.array(k),
        "trap_phase_fraction": np.array(in_phase),
    }
    out.update({key: np.asarray(v, dtype=float) for key, v in per.items()})
    if kl["exists"]:
        out.update({f"kramers_{key}": np.asarray(v) for key, v in kl.items() if key != "exists"})
    return out
