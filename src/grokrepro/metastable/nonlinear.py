"""Nonlinear deep networks for Study A's question beyond the paper: do sigmoid and tanh networks
show the deep linear network's first-order L2 transitions (the paper asserts they do)?

:class:`NonlinearNet` is x ↦ W_L φ(W_{L−1} ⋯ φ(W_1 x)), no biases, loss ½‖y − ŷ‖² averaged over
samples (the linear network's convention), for the batched engine (sample-based: the linear
network's second-moment shortcut does not apply). Activations:

* ``tanh``: odd, φ(0) = 0, slope 1 at 0, so the small-weight expansion is the linear network;
* ``sigmoid``: centred, φ(z) = σ(z) − ½ = ½ tanh(z/2). Centring makes φ(0) = 0, so W = 0 is a
  stationary point (the trivial phase) as in the linear network and there is no constant hidden
  signal acting as a bias; the plain σ(z) would feed ½ to every unit of the next layer. Slope ¼;
* ``relu``: the non-smooth contrast, φ(0) = 0 but not odd; for a symmetric input its linear part
  is z/2, so slope ½ is used as its gain (a convention only: relu has no linear expansion at 0).

With gain g = φ'(0), balanced small weights give the linear landscape with β replaced by
β·g^{−2(L−1)/L} (the end-to-end map is g^{L−1} W_L ⋯ W_1), so the sweeps run on the grid
β = β_lin · g^{2(L−1)/L} (:func:`beta_scale`) and every figure compares at the same β_lin.

What a network has learned is read from its **linear response** on the training set,
Ŵ = Σ̂_{ŷx} Σ̂_xx^{-1} (for the linear network Ŵ = W): its singular values are the learned
features (``svals``), counted above ``rank_threshold``.

The Langevin runs are the engine's (``engine.train(..., temperature=T)``): θ ← θ − lr(∇L_B + βθ) +
sqrt(2·lr·T)·ξ, ξ ~ N(0, I) from each replica's own noise stream, on the engine's minibatch order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import engine
from ..engine import Data, DeepLinear, gather_batches
from . import theory, trap
from .beta_sweep import UP, SweepSpec, dims, run_sweep, transition_points


def _tanh(z):
    return torch.tanh(z)


def _sigmoid(z):
    return torch.sigmoid(z) - 0.5


ACTIVATIONS = {
    # name: (φ, φ' from (z, φ(z)), gain φ'(0))
    "tanh": (_tanh, lambda z, a: 1 - a * a, 1.0),
    "sigmoid": (_sigmoid, lambda z, a: 0.25 - a * a, 0.25),
    "relu": (torch.relu, lambda z, a: (z > 0).to(z.dtype), 0.5),
    "linear": (lambda z: z, lambda z, a: torch.ones_like(z), 1.0),
}


def beta_scale(activation: str, depth: int) -> float:
    """g^{2(L−1)/L}: the β at which a network with this activation matches the linear network's
    landscape at β_lin = 1 for small weights (β = β_lin · beta_scale)."""
    gain = ACTIVATIONS[activation][2]
    return gain ** (2.0 * (depth - 1) / depth)


@dataclass(frozen=True)
class NonlinearNet:
    dims: tuple[int, ...]  # (p, w, ..., w, q): depth = len(dims) - 1
    activation: str
    rank_threshold: float = 0.1

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r} (known: {', '.join(ACTIVATIONS)})")

    @property
    def depth(self) -> int:
        return len(self.dims) - 1

    def init(self, seeds: Sequence[int], std: float, device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
        """The linear network's init (entries N(0, std²), a generator per replica)."""
        return DeepLinear(self.dims).init(seeds, std, device, dtype)

    def batches(self, data: Data, idx):
        return gather_batches(data, idx)

    def forward(self, params, x):
        """(pre-activations, layer inputs, output); x is (n, p) shared or (R, n, p)."""
        phi = ACTIVATIONS[self.activation][0]
        zs, hs = [], [x]
        for w in params[:-1]:
            zs.append(torch.matmul(hs[-1], w.transpose(1, 2)))
            hs.append(phi(zs[-1]))
        return zs, hs, torch.matmul(hs[-1], params[-1].transpose(1, 2))

    def grads(self, params, batch):
        """Backpropagation of ½ mean_i ‖y_i − f(x_i)‖² (no weight decay)."""
        x, y = batch
        dphi = ACTIVATIONS[self.activation][1]
        zs, hs, f = self.forward(params, x)
        delta = (f - y) / f.shape[-2]
        grads = [None] * len(params)
        for l in range(len(params) - 1, -1, -1):
            grads[l] = torch.matmul(delta.transpose(-1, -2), hs[l])
            if l:
                delta = torch.matmul(delta, params[l]) * dphi(zs[l - 1], hs[l])
        return grads

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        f = self.forward(params, data.x_train)[2]
        out = {"train_loss": 0.5 * (f - data.y_train).pow(2).sum(-1).mean(-1)}
        if data.x_test is not None:
            out["test_loss"] = 0.5 * (self.forward(params, data.x_test)[2] - data.y_test).pow(2).sum(-1).mean(-1)
        sv = torch.linalg.svdvals(linear_response(f, data.x_train))
        out["svals"] = sv
        out["eff_rank"] = (sv > self.rank_threshold).sum(dim=1).to(sv.dtype)
        out["param_norm"] = torch.sqrt(sum(p.pow(2).sum(dim=(1, 2)) for p in params))
        return out


def linear_response(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(R, q, p): the least-squares linear map from the inputs x (n, p) to the outputs f (R, n, q)."""
    n = x.shape[0]
    sxx = x.T @ x / n
    return torch.linalg.solve(sxx, (torch.matmul(f.transpose(1, 2), x) / n).transpose(1, 2)).transpose(1, 2)


# ----------------------------------------------------------------------------- the runs
def make_model(activation: str, dims, rank_threshold: float):
    """The family for ``activation``; the linear reference uses the deep linear network itself
    (its second-moment shortcut: the same function and gradients, much faster)."""
    if activation == "linear":
        return DeepLinear(tuple(dims), rank_threshold=rank_threshold)
    return NonlinearNet(tuple(dims), activation, rank_threshold)


def run_nonlinear_sweep(arrays: dict, activation: str, depth: int, width: int, init_std, seeds, sweep: dict,
                        device="cpu", dtype=torch.float64) -> dict[str, np.ndarray]:
    """Up and down quasi-static sweeps (:func:`beta_sweep.run_sweep`) on the grid
    β = β_lin · :func:`beta_scale`, β_lin = 0, beta_step, …, beta_max; ``beta_lin`` is stored."""
    p, q = np.asarray(arrays["x_train"]).shape[1], np.asarray(arrays["y_train"]).shape[1]
    spec = SweepSpec(depth=depth, width=width, init_std=init_std, seeds=tuple(seeds), **sweep)
    model = make_model(activation, dims(depth, width, p, q), sweep["rank_threshold"])
    scale = beta_scale(activation, depth)
    out = run_sweep(arrays, spec, device, dtype, model=model, betas=spec.betas * scale)
    return {**out, "beta_lin": spec.betas, "beta_scale": np.array(scale)}


def operating_betas(sweep: dict, threshold: float, fraction: float, depth: int, features) -> dict:
    """Where to build the rank-1 trap and where to run from it, in linear-equivalent β, from the
    sweep's measured upward drops (median over seeds) of the two strongest features: anneal at their
    midpoint (the strong feature learned, the weak one lost), operate at ``fraction`` × the weak
    feature's drop. Where a drop was not seen, the linear theory's drop stands in (and says so)."""
    up = transition_points(sweep["beta_lin"], sweep["svals"][UP], threshold, UP)
    measured = [median_finite(up[:, k]) for k in range(2)]
    drops = [m if np.isfinite(m) else linear_drop(features[k], depth, threshold) for k, m in enumerate(measured)]
    return {"beta_init_lin": 0.5 * (drops[0] + drops[1]), "beta_op_lin": fraction * drops[1],
            "from_theory": np.array([not np.isfinite(m) for m in measured])}


def median_finite(values) -> float:
    """Median of the finite values (NaN if there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def linear_drop(eta: float, depth: int, threshold: float) -> float:
    """β_lin at which the linear theory's learned λ** of feature η falls below ``threshold`` on the
    upward sweep: its spinodal where the branch ends above the threshold (L ≥ 3), else where the
    branch crosses it, β = (η − λ)·λ^{1−2/L} at λ = threshold (L = 2: η − threshold)."""
    beta_c, lam_c = theory.spinodal(eta, depth)
    if lam_c >= threshold:
        return beta_c
    return max((eta - threshold) * threshold ** (1.0 - 2.0 / depth), 0.0)


def run_nonlinear_escape(arrays: dict, activation: str, depth: int, width: int, init_std, seeds, sweep: dict,
                         sweep_cfg: dict, anneal: dict, escape: dict, features, device="cpu",
                         dtype=torch.float64) -> dict[str, np.ndarray]:
    """From a rank-1 trap built by annealing (as in Fig 1a: converge at β = 0, then at β_init), train
    at the operating β (:func:`operating_betas`) with plain SGD (the engine) and with SGD plus
    Langevin noise at ``escape['temperature']`` (the engine's), same minibatch order. A replica
    escapes when σ_2 of its linear response exceeds the sweep's rank threshold; both runs stop a
    replica once it has escaped."""
    thr = sweep_cfg["rank_threshold"]
    data = Data.from_numpy(arrays, device, dtype)
    p, q = data.x_train.shape[1], data.y_train.shape[1]
    model = make_model(activation, dims(depth, width, p, q), thr)
    scale = beta_scale(activation, depth)
    pts = operating_betas(sweep, thr, escape["beta_op_fraction"], depth, features)
    b_init, b_op = pts["beta_init_lin"] * scale, pts["beta_op_lin"] * scale
    seeds = np.asarray(seeds, dtype=np.int64)
    std = init_std if init_std is not None else 1.0 / math.sqrt(width)
    params, stages = trap.annealed(model, data, [0.0, b_init], seeds, std, anneal["lr"],
                                   min(anneal["batch_size"], len(data.x_train)), anneal["max_epochs"],
                                   anneal["min_epochs"], anneal["check_every"], anneal["rel_tolerance"])
    with torch.no_grad():
        trap_sv = model.metrics(params, data)["svals"].cpu().numpy()
    lr, batch, budget, every = sweep_cfg["lr"], min(sweep_cfg["batch_size"], len(data.x_train)), \
        escape["max_epochs"], escape["check_every"]
    run_seeds = seeds + 70_000

    def escaped(mets):
        return mets["svals"][:, 1] > thr

    data = Data(data.x_train, data.y_train)  # the escape checks need no test-set metrics
    sgd = engine.train(model, params, data, lr, b_op, batch, run_seeds, budget, check_every=every, record_epochs=[],
                       monitor=lambda epoch, mets, idx: escaped(mets), progress_every=0)
    with torch.no_grad():
        sgd_end = model.metrics(sgd.params, data)["svals"].cpu().numpy()
    lang = engine.train(model, params, data, lr, b_op, batch, run_seeds, budget, check_every=every, record_epochs=[],
                        temperature=escape["temperature"], monitor=lambda epoch, mets, idx: escaped(mets),
                        progress_every=0)
    with torch.no_grad():
        lang_end = model.metrics(lang.params, data)["svals"].cpu().numpy()
    return {
        "beta_init_lin": np.array(pts["beta_init_lin"]), "beta_op_lin": np.array(pts["beta_op_lin"]),
        "from_theory": pts["from_theory"], "beta_scale": np.array(scale), "seeds": seeds,
        "trap_svals": trap_sv, "trap_rank1": (trap_sv[:, 0] > thr) & (trap_sv[:, 1] <= thr),
        "anneal_converged": np.all([st["converged"] for st in stages], axis=0),
        "diverged": ~trap.finite(params) | (sgd.status == engine.DIVERGED),
        "escape_sgd": np.where(sgd.status == engine.DONE, sgd.stop_epoch, np.nan).astype(float),
        "sgd_end_svals": sgd_end,
        "escape_langevin": np.where(lang.status == engine.DONE, lang.stop_epoch, np.nan).astype(float),
        "langevin_end_svals": lang_end,
        "budget": np.array(budget), "temperature": np.array(escape["temperature"]), "threshold": np.array(thr),
    }
