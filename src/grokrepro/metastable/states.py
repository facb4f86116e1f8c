"""Counting the metastable states of a deep linear network with d features, by the Hessian.

For every subset of the d features (2^d of them) the balanced state with those features at
their learned minimum λ** and the others at 0 is constructed (:func:`trap.constructed`), relaxed
by full-batch GD, refined by Newton onto the stationary point GD ended near, and classified by
the spectrum of the full D×D Hessian of the objective (data loss + (β/2)‖θ‖²): a local minimum
has no negative mode (zero modes are the hidden-layer rotation symmetries). A subset some of
whose features have no learned state at β (beyond their spinodal) does not exist. Minima are
counted once each: two subsets that relax onto the same end-to-end W are one state (with
sampled data the construction is only approximate and GD may carry it to a neighbouring state).

Theory counts, for comparison:

* **per feature** (each feature bistable on its own below its spinodal): 2^m local minima, m the
  number of features with a learned state at β;
* **ordered** [derived]: with exact moments, a state in which an unlearned feature j is stronger
  than a learned feature i (η_j > η_i) has a negative mode of curvature a(η_i − η_j), a = λ_i^{1/3}
  at L = 3 (:func:`borrow_mode_curvature`): feature j borrows feature i's hidden path (the first
  layer maps v_j into i's hidden mode, the last maps it out to u_j), a quadratic rather than a
  cubic escape. Only the m + 1 "top-j" states survive: ranks 0 … m.

The paper's count, "one metastable state per learnable feature", is d when every feature is
learnable: with the global minimum among the minima, d metastable states need d + 1 minima.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ..engine import Data, DeepLinear
from . import theory, trap
from .arrhenius import flat_objective


def _hessian(fn, theta: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hessian(fn, theta.detach(), vectorize=True)


def _grad(fn, theta: torch.Tensor) -> torch.Tensor:
    theta = theta.detach().requires_grad_(True)
    return torch.autograd.grad(fn(theta), theta)[0].detach()


def newton(fn, theta: torch.Tensor, steps: int = 60, rel_cut: float = 1e-9, tol: float = 1e-12):
    """Newton steps onto the stationary point nearest ``theta`` (minimum or saddle alike), with the
    Hessian's near-zero (symmetry) modes projected out and each step halved until |∇f| decreases
    (so a poor start cannot throw it far away): (θ, |∇f| at θ)."""
    g = _grad(fn, theta)
    for _ in range(steps):
        if g.norm() < tol:
            break
        w, v = torch.linalg.eigh(_hessian(fn, theta))
        keep = w.abs() > rel_cut * w.abs().max()
        step = v[:, keep] @ ((v[:, keep].T @ g) / w[keep])
        for _ in range(30):
            trial = theta - step
            g_trial = _grad(fn, trial)
            if g_trial.norm() < g.norm():
                break
            step = 0.5 * step
        else:
            break  # no step along the Newton direction reduces |∇f|
        theta, g = trial, g_trial
    return theta, float(g.norm())


def hessian_spectrum(fn, theta: torch.Tensor, rel_zero: float = 1e-7) -> dict:
    """Eigenvalues of the Hessian of ``fn`` at ``theta`` and their class: negative and zero modes
    counted relative to the largest |eigenvalue|; a minimum has no negative mode."""
    eig = torch.linalg.eigvalsh(_hessian(fn, theta)).cpu().numpy()
    scale = float(np.abs(eig).max())
    n_neg = int((eig < -rel_zero * scale).sum())
    return {"eig": eig, "n_negative": n_neg, "n_zero": int((np.abs(eig) <= rel_zero * scale).sum()),
            "lowest": float(eig[0]), "minimum": n_neg == 0}


def subsets(k: int):
    """Every learned-feature mask of k features, from all learned to none."""
    return list(itertools.product((True, False), repeat=k))


def classify_states(model: DeepLinear, data: Data, beta: float, polish_lr: float, polish_steps: int,
                    stay_tolerance: float, seed: int = 0, rel_zero: float = 1e-7) -> list[dict]:
    """Every subset's state at β: constructed, relaxed by full-batch GD (``polish_steps`` at
    ``polish_lr``, all subsets as replicas of one run), refined by Newton onto the stationary point
    GD ended near, and classified by the Hessian there. One dict per subset: ``mask``, ``exists``;
    for an existing one the Hessian class, ``grad_norm`` after refinement, ``objective``, the
    end-to-end matrix ``w`` (invariant under the hidden-layer symmetries, so it names the state)
    and ``stayed``: the state relaxed within ``stay_tolerance`` (Frobenius norm of W) of its construction."""
    x, y = data.x_train.cpu().numpy(), data.y_train.cpu().numpy()
    k = min(x.shape[1], y.shape[1])
    fn = flat_objective(model, data, beta)
    out, built = [], []
    for mask in subsets(k):
        try:
            params, _ = trap.constructed(model, x, y, mask, beta, [seed], data.x_train.device, torch.float64)
        except ValueError:  # some feature of the mask has no learned state at this β
            out.append({"mask": mask, "exists": False})
            continue
        out.append({"mask": mask, "exists": True})
        built.append(params)
    params = [torch.cat(layer) for layer in zip(*built)]
    w_built = DeepLinear.end_to_end(params)
    relaxed = trap.polish(model, params, data, beta, polish_lr, polish_steps) if polish_steps else params
    for r, st in enumerate(st for st in out if st["exists"]):
        theta, gnorm = newton(fn, torch.cat([p[r].flatten() for p in relaxed]).to(torch.float64))
        st.update(hessian_spectrum(fn, theta, rel_zero), grad_norm=gnorm, objective=float(fn(theta)))
        w = DeepLinear.end_to_end([t[None] for t in _unflatten(model, theta)])[0]
        st["w"] = w.cpu().numpy()
        st["stayed"] = bool(torch.linalg.norm(w - w_built[r]) <= stay_tolerance)
    return out


def count_table(states: list[dict], grad_tol: float = 1e-8, same_tol: float = 1e-6) -> dict:
    """Distinct local minima among the relaxed states (two states are the same when their W agree
    to ``same_tol``), how many of them are metastable (not the global one), the existing subsets
    that relaxed onto a saddle, and those whose refinement did not reach a stationary point."""
    found = [st for st in states if st["exists"]]
    resolved = [st for st in found if st["grad_norm"] <= grad_tol]
    distinct: list[dict] = []
    for st in sorted((st for st in resolved if st["minimum"]), key=lambda st: st["objective"]):
        if all(np.linalg.norm(st["w"] - m["w"]) > same_tol for m in distinct):
            distinct.append(st)
    return {"minima": len(distinct), "metastable": max(len(distinct) - 1, 0),
            "saddles": sum(not st["minimum"] for st in resolved), "unresolved": len(found) - len(resolved),
            "existing": len(found), "left": sum(not st["stayed"] for st in found)}


def _unflatten(model: DeepLinear, theta: torch.Tensor) -> list[torch.Tensor]:
    shapes = [(b, a) for a, b in zip(model.dims[:-1], model.dims[1:])]
    return [t.view(sh) for t, sh in zip(torch.split(theta, [a * b for a, b in shapes]), shapes)]


def learnable(eta_hat, s, beta: float, depth: int) -> int:
    """m: the features that have a learned state at β in the train set's landscape s·f(λ; η̂/s, β/s)."""
    return int(sum(beta < theory.corrected_beta_c(float(e), float(sk), depth) for e, sk in zip(eta_hat, s)))


def theory_counts(m: int) -> dict:
    """Minima predicted by the per-feature picture (2^m) and by the ordered picture (m + 1)."""
    return {"per_feature": 2 ** m, "ordered": m + 1}


def borrow_mode_curvature(lam_learned: float, eta_learned: float, eta_unlearned: float) -> float:
    """[derived, L = 3, exact moments] Curvature of the pair mode in which the first layer maps the
    unlearned feature's input v_u into the learned feature's hidden path and the last layer maps that
    path out to u_u, at a balanced state with the learned feature at its stationary λ:
    a⁴ + β − η_u·a with a = λ^{1/3} and β = a(η_l − λ), i.e. a·(η_l − η_u): negative whenever the
    unlearned feature is the stronger one."""
    a = lam_learned ** (1.0 / 3.0)
    return a * (eta_learned - eta_unlearned)
