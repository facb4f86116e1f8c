"""Joint-Gaussian regression data for Study A.

(x, y) is zero-mean Gaussian with Σ_xx = I_p, Σ_yy = I_q and Σ_yx = diag(η) (the first d
coordinates carry the features η_1 > η_2 > ...). Samples are drawn by a Cholesky factor of the
joint covariance; the first p coordinates are x, the rest y. A training set may be a random
sub-sample of a larger pool (the paper's sparse sub-sampling); the test set is drawn
independently.

``exact_moments``: the N samples of each set are then rescaled so that its empirical moments are
the population ones exactly — Σ̂_xx = I, Σ̂_yx = diag(η), Σ̂_yy = I (second moments about zero,
as the theory uses them) — which makes the per-feature theory exact for the linear network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .theory import empirical_features


@dataclass(frozen=True)
class DataSpec:
    features: tuple[float, ...]
    dim_x: int
    dim_y: int
    n_train: int
    n_test: int
    n_pool: int | None = None  # None: the training set is the whole pool
    seed: int = 0
    exact_moments: bool = False  # rescale each set so its second moments are exactly the population's

    def __post_init__(self):
        d = len(self.features)
        if d > min(self.dim_x, self.dim_y):
            raise ValueError(f"{d} features need dim_x, dim_y >= {d}")
        if any(not (0 <= e < 1) for e in self.features):
            raise ValueError("features (singular values of Σ_yx) must lie in [0, 1) for a valid covariance")
        if self.n_pool is not None and self.n_pool < self.n_train:
            raise ValueError("n_pool must be >= n_train")
        if self.exact_moments and min(self.n_train, self.n_test) < self.dim_x + self.dim_y:
            raise ValueError("exact moments need at least dim_x + dim_y samples per set")


def joint_covariance(spec: DataSpec) -> np.ndarray:
    p, q = spec.dim_x, spec.dim_y
    cov = np.eye(p + q)
    for i, eta in enumerate(spec.features):
        cov[p + i, i] = cov[i, p + i] = eta
    return cov


def sample(spec: DataSpec, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    chol = np.linalg.cholesky(joint_covariance(spec))
    z = rng.standard_normal((n, spec.dim_x + spec.dim_y)) @ chol.T
    return z[:, : spec.dim_x], z[:, spec.dim_x :]


def generate(spec: DataSpec) -> dict[str, np.ndarray]:
    """Train and test arrays plus the empirical singular values of Σ̂_yx on each."""
    rng = np.random.default_rng(spec.seed)
    n_pool = spec.n_pool or spec.n_train
    x_pool, y_pool = sample(spec, n_pool, rng)
    idx = np.sort(rng.choice(n_pool, size=spec.n_train, replace=False)) if n_pool > spec.n_train else np.arange(n_pool)
    x_test, y_test = sample(spec, spec.n_test, rng)
    x, y = x_pool[idx], y_pool[idx]
    if spec.exact_moments:
        x, y = exact_moments(x, y, spec.features)
        x_test, y_test = exact_moments(x_test, y_test, spec.features)
    return {
        "x_train": x,
        "y_train": y,
        "x_test": x_test,
        "y_test": y_test,
        "sv_train": empirical_features(x, y),
        "sv_test": empirical_features(x_test, y_test),
        "sv_pool": empirical_features(x_pool, y_pool),
        "cov_xx_eig_train": np.linalg.eigvalsh(x.T @ x / len(x))[::-1],
        "s_train": input_variance_along_features(x, y),
    }


def _whiten(a: np.ndarray) -> np.ndarray:
    """a · (aᵀa/N)^{-1/2}: columns with empirical second moments exactly I (symmetric root, so a
    changes as little as possible)."""
    w, v = np.linalg.eigh(a.T @ a / len(a))
    return a @ (v / np.sqrt(w)) @ v.T


def exact_moments(x: np.ndarray, y: np.ndarray, features) -> tuple[np.ndarray, np.ndarray]:
    """The samples rescaled so that Σ̂_xx = I, Σ̂_yx = diag(η) and Σ̂_yy = I hold exactly.

    x is whitened; the part of y orthogonal to x's columns is whitened into e (eᵀx = 0, Σ̂_ee = I);
    then y_k = η_k x_k + sqrt(1 − η_k²) e_k for the d features and y_k = e_k for the other outputs.
    """
    n, p = x.shape
    q = y.shape[1]
    if n < p + q:
        raise ValueError(f"exact moments need at least {p + q} samples, got {n}")
    x = _whiten(x)
    e = _whiten(y - x @ np.linalg.lstsq(x, y, rcond=None)[0])
    eta = np.zeros(q)
    eta[: len(features)] = features
    cross = np.zeros((n, q))
    k = min(p, q)
    cross[:, :k] = x[:, :k] * eta[:k]
    return x, cross + e * np.sqrt(1 - eta ** 2)


def input_variance_along_features(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """s_k = v_kᵀ Σ̂_xx v_k along each right singular vector v_k of Σ̂_yx.

    With Σ̂_xx ≠ I the per-feature landscape becomes ½ s λ² − η̂ λ + (Lβ/2) λ^{2/L}
    = s · f(λ; η̂/s, β/s): the finite-sample correction to the theory.
    """
    n = x.shape[0]
    _, _, vt = np.linalg.svd(y.T @ x / n)
    sxx = x.T @ x / n
    return np.einsum("ki,ij,kj->k", vt, sxx, vt)[: min(x.shape[1], y.shape[1])]
