"""Transition detection, max-margin solvers and margin cosines (Study B).

Transition step (defined up front, used for every run): let ``fit`` be the first recorded step at
which the training set is fitted (train accuracy = 1 for classifiers; train loss <= ``fit_tolerance``
× its initial value for regression). The *plateau* value P is the test metric at ``fit``; the
*final* value F is the median of the test metric over the last ``tail`` recorded points. The
transition step is the first recorded step after ``fit`` at which the test metric has crossed
the midpoint (P + F)/2 (moving from P towards F), interpolated linearly in log(step) between
the two grid points that bracket the crossing. No transition (NaN) if |F − P| < ``min_jump``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog, minimize

from . import data


def fit_step(steps, train_metric, classification: bool, fit_tolerance: float = 1e-2) -> float:
    steps, m = np.asarray(steps, float), np.asarray(train_metric, float)
    ok = m >= 1.0 - 1e-12 if classification else m <= fit_tolerance * m[0]
    hit = np.flatnonzero(ok & np.isfinite(m))
    return float(steps[hit[0]]) if hit.size else math.nan


def transition(steps, test_metric, fit: float, tail: int = 3, min_jump: float = 0.0) -> dict:
    """The operational transition step (see the module docstring) plus P and F."""
    steps, m = np.asarray(steps, float), np.asarray(test_metric, float)
    good = np.isfinite(m)
    steps, m = steps[good], m[good]
    out = {"step": math.nan, "plateau": math.nan, "final": math.nan, "fit": fit}
    if not math.isfinite(fit) or steps.size < tail + 2:
        return out
    i0 = int(np.searchsorted(steps, fit))
    if i0 >= steps.size:
        return out
    p, f = float(m[i0]), float(np.median(m[-tail:]))
    out.update(plateau=p, final=f)
    if abs(f - p) <= min_jump:
        return out
    mid, sgn = 0.5 * (p + f), math.copysign(1.0, f - p)
    for i in range(i0 + 1, steps.size):
        if sgn * (m[i] - mid) >= 0:
            a, b = sgn * (mid - m[i - 1]), sgn * (m[i] - m[i - 1])
            frac = a / b if b > 0 else 1.0
            la, lb = math.log(max(steps[i - 1], 1.0)), math.log(steps[i])
            out["step"] = float(math.exp(la + frac * (lb - la)))
            break
    return out


def predicted_step(alpha: float, lr: float, weight_decay: float) -> float:
    """ln(α)/(η_lr·λ): continuous time ln(α)/λ divided by the learning rate."""
    return math.log(alpha) / (lr * weight_decay)


def fit_log_law(log_alpha, t_lambda, level: float = 0.95) -> dict:
    """Least-squares fit of t·λ = a·ln α + c over a grid (beyond the paper: the law is asymptotic
    in α and leaves an O(1) offset c). Non-finite points are dropped. Returns ``slope``,
    ``offset``, their standard errors and Student-t ``level`` confidence intervals, ``n`` and the
    residual standard deviation ``rms``."""
    from scipy import stats

    x, y = np.asarray(log_alpha, float), np.asarray(t_lambda, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {k: math.nan for k in ("slope", "offset", "slope_se", "offset_se", "slope_lo", "slope_hi",
                                 "offset_lo", "offset_hi", "rms")}
    out["n"] = int(x.size)
    if x.size < 3 or np.ptp(x) == 0:
        return out
    a = np.stack([x, np.ones_like(x)], 1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    resid = y - a @ coef
    dof = x.size - 2
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(a.T @ a)
    se = np.sqrt(np.diag(cov))
    q = float(stats.t.ppf(0.5 + level / 2, dof))
    out.update(slope=float(coef[0]), offset=float(coef[1]), slope_se=float(se[0]), offset_se=float(se[1]),
               slope_lo=float(coef[0] - q * se[0]), slope_hi=float(coef[0] + q * se[0]),
               offset_lo=float(coef[1] - q * se[1]), offset_hi=float(coef[1] + q * se[1]), rms=math.sqrt(s2))
    return out


# --------------------------------------------------------------------------- max-margin solvers
def max_l2_margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ‖w‖₂ s.t. y_i <w, x_i> >= 1 (hard-margin SVM without bias), via its dual QP
    max Σα − ½αᵀQα, α >= 0, Q = (y yᵀ)∘(X Xᵀ); w = Xᵀ(α∘y). Returned as a unit vector."""
    a = y[:, None] * x
    q = a @ a.T
    res = minimize(lambda al: 0.5 * al @ q @ al - al.sum(), np.zeros(len(y)), jac=lambda al: q @ al - 1.0,
                   bounds=[(0, None)] * len(y), method="L-BFGS-B",
                   options={"maxiter": 50000, "ftol": 1e-15, "gtol": 1e-12})
    w = a.T @ res.x
    return w / np.linalg.norm(w)


def max_l1_margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ‖w‖₁ s.t. y_i <w, x_i> >= 1, as an LP in (w⁺, w⁻) >= 0. Returned as a unit (L2) vector."""
    n, d = x.shape
    a = y[:, None] * x
    res = linprog(np.ones(2 * d), A_ub=-np.hstack([a, -a]), b_ub=-np.ones(n), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"max-L1-margin LP failed: {res.message}")
    w = res.x[:d] - res.x[d:]
    return w / np.linalg.norm(w)


def test_accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of sign(<w, x>) (ties count ½); x may be int8, cast a tile at a time (``data.cast_matmul``)."""
    buf = np.empty(min(data.TILE_ELEMENTS, x.size), dtype=w.dtype)
    m = data.cast_matmul(w[None], x, buf, np.empty((1, x.shape[0]), dtype=w.dtype))[0] * y
    return float(np.mean((m > 0) + 0.5 * (m == 0)))


def min_nuclear_norm_completion(shape, idx, values, tol: float = 1e-6, max_iter: int = 100_000) -> dict:
    """argmin ‖X‖* s.t. X[i, j] = v at the observed entries ((i, j) = rows of ``idx``), by
    Douglas–Rachford splitting of ‖X‖* (prox: singular values soft-thresholded by t) and the
    constraint (projection: observed entries reset), t = 0.1·max|v|.

    Certified: ``norm`` = ‖X‖* of the feasible iterate X bounds the minimum from above; the
    subgradient G of the prox step, restricted to the observed entries, gives the lower bound
    ``lower`` = ⟨G, M⟩/‖G‖₂ (for every feasible X, ⟨G, X⟩ = ⟨G, M⟩ <= ‖G‖₂‖X‖*). Iterates until
    norm − lower <= tol·norm (``converged``) or ``max_iter``. Returns X, norm, lower, converged, iterations.
    """
    r, c = np.asarray(idx)[:, 0], np.asarray(idx)[:, 1]
    values = np.asarray(values, float)
    observed = np.zeros(shape, bool)
    observed[r, c] = True
    t = 0.1 * float(np.abs(values).max())
    z = np.zeros(shape)
    for k in range(max_iter):
        x = z.copy()
        x[r, c] = values
        u, sv, vt = np.linalg.svd(2 * x - z, full_matrices=False)
        y = (u * np.maximum(sv - t, 0.0)) @ vt
        if k % 20 == 0 or k == max_iter - 1:
            g = np.where(observed, 2 * x - z - y, 0.0)
            norm = float(np.linalg.svd(x, compute_uv=False).sum())
            lower = float(np.sum(g * x)) / float(np.linalg.norm(g, 2)) if g.any() else 0.0
            if norm - lower <= tol * norm:
                break
        z += y - x
    return {"X": x, "norm": norm, "lower": lower, "converged": norm - lower <= tol * norm, "iterations": k + 1}


def symmetric_min_nuclear_completion(data: dict, tol: float = 1e-6) -> dict:
    """The min-nuclear-norm completion of a matrix-completion data set among symmetric matrices
    (those W = UUᵀ − VVᵀ can reach): X = M on the observed entries and on their transposes (a
    symmetric problem has a symmetric minimiser). :func:`min_nuclear_norm_completion`'s result
    plus ``test_mse``, the mean squared error of X on the test entries."""
    idx, y = np.asarray(data["x_train"]), np.asarray(data["y_train"], float)
    res = min_nuclear_norm_completion(np.shape(data["target"]), np.concatenate([idx, idx[:, ::-1]]),
                                      np.concatenate([y, y]), tol)
    xt = np.asarray(data["x_test"])
    res["test_mse"] = float(np.mean((res["X"][xt[:, 0], xt[:, 1]] - np.asarray(data["y_test"])) ** 2))
    return res


def cosines(w_t: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """cos(w(t), ref) for w_t (T, d)."""
    nrm = np.linalg.norm(w_t, axis=-1) * np.linalg.norm(ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w_t @ ref) / nrm
