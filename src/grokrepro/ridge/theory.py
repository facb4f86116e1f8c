"""Eq. 8 bounds and the exact GD trajectory of ridge regression.

GD on L_n(θ; λ) = (1/2n)‖Φθ − y‖² + (λ/2)‖θ‖² is the linear recursion

    θ ← θ − η(Φᵀ(Φθ − y)/n + λθ).

With the thin SVD Φ = U diag(s) Vᵀ (rank r) and the ridge solution
θ_λ = V diag(s/(s² + nλ)) Uᵀy, the trajectory is exactly

    θ(t) = θ_λ + V diag(r^t) g + q^t p,   r_k = 1 − η(s_k²/n + λ),  q = 1 − ηλ,

with g = Vᵀθ⁰ − Vᵀθ_λ and p = (I − VVᵀ)θ⁰ the null-space part of the initialisation (which
only weight decay shrinks). :class:`Trajectory` evaluates the training loss (with its ½, no
penalty) and the test loss (no ½) at any set of integer steps in O(r²) per step, and finds
t1(ε) = last step with training loss ≥ ε and t2(c) = first step with test loss ≤ c exactly
(grid bracketing, then every integer step inside the bracket).

GD diverges when a mode does not contract, |r_k| ≥ 1 or |q| ≥ 1 (η too large): the trajectory
then says so (:attr:`Trajectory.diverges`), has neither t1 nor t2, and its losses grow without
bound (callers do not evaluate them).
"""
from __future__ import annotations

import math

import numpy as np

from .features import Problem


def thin_svd(phi: np.ndarray, rtol: float = 1e-10):
    """Thin SVD (U, s, Vᵀ) of Φ restricted to non-zero singular values. For n ≤ m it goes
    through the n × n Gram matrix ΦΦᵀ (much cheaper than a full SVD when m ≫ n)."""
    n, m = phi.shape
    if n <= m:
        s2, u = np.linalg.eigh(phi @ phi.T)
        keep = s2 > rtol**2 * s2.max() * 1e4
        u, s2 = u[:, keep][:, ::-1], s2[keep][::-1]
        s = np.sqrt(s2)
        vt = (u.T @ phi) / s[:, None]
        return u, s, vt
    u, s, vt = np.linalg.svd(phi, full_matrices=False)
    keep = s > rtol * s.max()
    return u[:, keep], s[keep], vt[keep]


def lambda_min_plus(phi: np.ndarray, rtol: float = 1e-10) -> float:
    """Smallest non-zero eigenvalue of ΦᵀΦ (= smallest non-zero squared singular value of Φ)."""
    _, s, _ = thin_svd(phi, rtol)
    return float((s**2).min())


def t1_bound(n: int, m: int, nu2: float, eps: float, eta: float, lam_min_plus: float) -> float:
    """Eq. 8 upper bound: t1 ≤ n ln(14 m ν²/ε) / (2 η λ⁺_min(ΦᵀΦ))."""
    return n * math.log(14 * m * nu2 / eps) / (2 * eta * lam_min_plus)


def t2_bound(n: int, m: int, nu2: float, c: float, eta: float, lam: float) -> float:
    """Eq. 8 lower bound: t2 ≥ ln((m − n)ν²/(8 m c)) / (2.02 η λ) (clipped at 0 when vacuous)."""
    arg = (m - n) * nu2 / (8 * m * c)
    if arg <= 1:
        return 0.0
    return math.log(arg) / (2.02 * eta * lam)


def step_grid(t_max: int, dense: int = 2000, ratio: float = 1.002) -> np.ndarray:
    """Integer steps 0..dense-1 followed by a geometric grid (ratio ``ratio``) up to t_max."""
    dense = min(dense, t_max + 1)
    head = np.arange(dense, dtype=np.int64)
    if t_max < dense:
        return head
    k = int(math.ceil(math.log(t_max / dense) / math.log(ratio))) + 1
    tail = np.unique(np.round(dense * ratio ** np.arange(k)).astype(np.int64))
    return np.unique(np.concatenate([head, tail[tail <= t_max], [t_max]]))


class Trajectory:
    """Exact GD trajectory of one :class:`Problem` at step size ``eta`` and weight decay ``lam``."""

    def __init__(self, prob: Problem, eta: float, lam: float):
        phi, y, th0 = prob.phi, prob.y, prob.theta0
        n = phi.shape[0]
        u, s, vt = thin_svd(phi)
        self.n, self.eta, self.lam = n, eta, lam
        self.s2 = s**2
        self.lam_min_plus = float(self.s2.min())
        self.r = 1.0 - eta * (self.s2 / n + lam)
        self.q = 1.0 - eta * lam
        self.diverges = bool(np.any(np.abs(self.r) >= 1) or abs(self.q) >= 1)
        uy = u.T @ y
        c_lam = s * uy / (self.s2 + n * lam)  # Vᵀθ_λ
        theta_lam = vt.T @ c_lam
        c0 = vt @ th0
        self.g = c0 - c_lam
        p = th0 - vt.T @ c0
        # training residual in the U basis: s∘c_λ − Uᵀy + s∘r^t∘g, plus the part of y outside range(U)
        self.res0 = s * c_lam - uy
        self.res_g = s * self.g
        self.y_out2 = max(float(y @ y - uy @ uy), 0.0)
        # test error e(t) = z0 + B d(t) + q^t w, d = r^t∘g; store its Gram pieces
        test = prob.test
        if test.exact:
            a = test.sigma_scale
            z0 = theta_lam - test.theta_star
            self.A0 = a * float(z0 @ z0)
            self.bz = a * (vt @ z0)
            self.G_diag = a  # G = a·I
            self.G = None
            self.bw = np.zeros_like(s)  # V ⟂ p
            self.ww = a * float(p @ p)
            self.zw = a * float(z0 @ p)
        else:
            N = test.phi.shape[0]
            z0 = test.phi @ theta_lam - test.y
            B = test.phi @ vt.T
            w = test.phi @ p
            self.A0 = float(z0 @ z0) / N
            self.bz = B.T @ z0 / N
            self.G = B.T @ B / N
            self.G_diag = None
            self.bw = B.T @ w / N
            self.ww = float(w @ w) / N
            self.zw = float(z0 @ w) / N
            self._B, self._z0, self._w = B, z0, w
        self._theta_lam, self._vt, self._p = theta_lam, vt, p

    # ---- evaluation -------------------------------------------------------------------
    def _pow(self, t):
        t = np.asarray(t, dtype=float)[:, None]
        return np.exp(t * np.log(np.abs(self.r))) * np.where(self.r < 0, (-1.0) ** t, 1.0)

    def theta(self, t) -> np.ndarray:
        """Parameters θ(t) at integer steps t (T, m)."""
        t = np.atleast_1d(t)
        d = self._pow(t) * self.g
        return self._theta_lam + d @ self._vt + (self.q ** t.astype(float))[:, None] * self._p

    def train_loss(self, t) -> np.ndarray:
        """(1/2n)‖Φθ(t) − y‖² (no penalty)."""
        t = np.atleast_1d(t)
        res = self.res0 + self._pow(t) * self.res_g
        return (np.sum(res**2, axis=1) + self.y_out2) / (2 * self.n)

    def test_loss(self, t) -> np.ndarray:
        """E_x[(N(x; θ(t)) − N*(x))²] (exact population, or the held-out test set)."""
        t = np.atleast_1d(t)
        d = self._pow(t) * self.g
        qt = self.q ** t.astype(float)
        quad = self.G_diag * np.sum(d**2, axis=1) if self.G is None else np.sum((d @ self.G) * d, axis=1)
        return self.A0 + 2 * d @ self.bz + quad + qt**2 * self.ww + 2 * qt * self.zw + 2 * qt * (d @ self.bw)

    def test_errors(self, t) -> np.ndarray:
        """Per-test-point errors N − N* (T, n_test); empirical test sets only."""
        if self.G is None:
            raise ValueError("exact test distribution has no test points")
        t = np.atleast_1d(t)
        d = self._pow(t) * self.g
        qt = self.q ** t.astype(float)
        return self._z0[None, :] + d @ self._B.T + qt[:, None] * self._w[None, :]

    # ---- grokking times ---------------------------------------------------------------
    def times(self, eps: float, c: float, t_max: int) -> tuple[float, float]:
        """(t1(ε), t2(c)). t1 = last step with training loss ≥ ε (0 if none, NaN if still ≥ ε
        at t_max); t2 = first step with test loss ≤ c (NaN if not reached by t_max). A diverging
        trajectory has neither: (NaN, NaN)."""
        if self.diverges:
            return math.nan, math.nan
        grid = step_grid(t_max)
        tr = self.train_loss(grid)
        te = self.test_loss(grid)
        above = np.nonzero(tr >= eps)[0]
        if above.size == 0:
            t1 = 0.0
        elif above[-1] == grid.size - 1:
            t1 = math.nan
        else:
            i = above[-1]
            steps = np.arange(grid[i], grid[i + 1])
            t1 = float(steps[np.nonzero(self.train_loss(steps) >= eps)[0][-1]])
        below = np.nonzero(te <= c)[0]
        if below.size == 0:
            t2 = math.nan
        elif below[0] == 0:
            t2 = 0.0
        else:
            j = below[0]
            steps = np.arange(grid[j - 1] + 1, grid[j] + 1)
            t2 = float(steps[np.nonzero(self.test_loss(steps) <= c)[0][0]])
        return t1, t2
