"""Feature maps, teachers and data sets of Study C.

A *problem* is everything a linear-in-θ run needs: the training feature matrix Φ (n × m),
the training labels y, the initial parameters θ⁰ ~ N(0, ν² I_m) (or, for random ReLU features,
the output layer a ~ N(0, 1) with ν² entering through the hidden weights), and a description of
the test distribution (:class:`TestSet`).

Feature maps (``kind``):

``identity``  φ(x) = x ∈ R^m, x ~ N(0, I_m/m). Teacher θ* uniform on the unit sphere (‖θ*‖ = 1)
              or zero. The population test loss is exact: L(θ) = ‖θ − θ*‖²/m (Σ = I_m/m).
``relu``      random ReLU features φ_j(x) = σ(⟨w_j, x⟩), w_j ~ N(0, ν²/(d m) I_d) fixed; only the
              output layer a = θ is trained, a⁰ ~ N(0, 1). Teacher a single ReLU neuron:
              ``feature`` (default): one of the model's own neurons, N* = σ(⟨w_1, x⟩), i.e.
              θ* = e_1 with ‖θ*‖ = 1 (realizable, as the theory assumes);
              ``unit``: σ(⟨w*, x⟩) with a fresh ‖w*‖ = 1 (not in the feature span), or zero.
``fourier``   random Fourier features φ(x) = √(2/m) cos(Wx + b), W rows ~ N(0, σ² I_d),
              b ~ U[0, 2π]; θ⁰ ~ N(0, ν² I). Teacher one such feature: θ* = e_1 (‖θ*‖ = 1), or zero.

For ``relu`` and ``fourier`` the inputs are x ~ N(0, I_d) (the paper does not state it; with
this scale ⟨w_j, x⟩ ~ N(0, ν²/m), the analogue of the identity case) and the test loss is measured on a held-out
test set of ``n_test`` fresh inputs against the clean teacher.

Optional Gaussian label noise (std ``noise``) is added to the training labels only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("identity", "relu", "fourier")


def rng_for(seed: int, *tags: int) -> np.random.Generator:
    """Independent generator for (seed, tags...) -- a pure function of its arguments."""
    return np.random.default_rng([int(seed), *[int(t) for t in tags]])


@dataclass
class TestSet:
    """The test distribution. Either exact (``sigma_scale``: Σ = sigma_scale · I, teacher θ*)
    or empirical (``phi``: n_test × m features, ``y``: clean teacher values)."""

    phi: np.ndarray | None = None
    y: np.ndarray | None = None
    sigma_scale: float | None = None
    theta_star: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        return self.sigma_scale is not None

    def loss(self, theta: np.ndarray) -> np.ndarray:
        """Test loss E_x[(N − N*)²] (no ½) of parameters ``theta`` (..., m)."""
        if self.exact:
            return self.sigma_scale * np.sum((theta - self.theta_star) ** 2, axis=-1)
        err = theta @ self.phi.T - self.y
        return np.mean(err**2, axis=-1)


@dataclass
class Problem:
    """One linear-in-θ run: training data, initial parameters, test distribution."""

    phi: np.ndarray  # (n, m) training features
    y: np.ndarray  # (n,) training labels (teacher + noise)
    theta0: np.ndarray  # (m,) initial parameters
    test: TestSet
    info: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.phi.shape[0]

    @property
    def m(self) -> int:
        return self.phi.shape[1]


def relu(z):
    return np.maximum(z, 0.0)


def make_problem(
    kind: str,
    n: int,
    m: int,
    nu2: float,
    seed: int,
    *,
    d: int | None = None,
    teacher: str = "default",
    noise: float = 0.0,
    n_test: int = 2000,
    sigma2: float = 1.0,
    tag: int = 0,
) -> Problem:
    """Draw one problem. ``teacher`` is ``default`` (the kind's teacher), ``zero`` or, for
    ``relu``, ``feature`` (= default) / ``unit``.

    All randomness comes from ``rng_for(seed, tag, k)`` streams, so a run is reproducible from
    (seed, tag) alone. ``tag`` separates the data of different sweep points sharing a seed.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown feature kind {kind!r} (known: {KINDS})")
    g_data, g_init, g_teacher, g_feat, g_test, g_noise = (rng_for(seed, tag, k) for k in range(6))
    zero = teacher == "zero"
    if kind == "identity":
        x = g_data.standard_normal((n, m)) / np.sqrt(m)
        theta_star = np.zeros(m)
        if not zero:
            v = g_teacher.standard_normal(m)
            theta_star = v / np.linalg.norm(v)
        phi = x
        y_clean = phi @ theta_star
        test = TestSet(sigma_scale=1.0 / m, theta_star=theta_star)
        theta0 = np.sqrt(nu2) * g_init.standard_normal(m)
    elif kind == "relu":
        if d is None:
            raise ValueError("relu features need d")
        w = g_feat.standard_normal((m, d)) * np.sqrt(nu2 / (d * m))
        if teacher in ("default", "feature"):
            w_star = w[0]
        elif teacher in ("unit", "zero"):
            w_star = g_teacher.standard_normal(d)
            w_star /= np.linalg.norm(w_star)
        else:
            raise ValueError(f"unknown relu teacher {teacher!r}")

        def feats(xx):
            return relu(xx @ w.T)

        def target(xx):
            return np.zeros(len(xx)) if zero else relu(xx @ w_star)

        x = g_data.standard_normal((n, d))
        xt = g_test.standard_normal((n_test, d))
        phi, y_clean = feats(x), target(x)
        test = TestSet(phi=feats(xt), y=target(xt))
        theta0 = g_init.standard_normal(m)  # a_j ~ N(0, 1); nu2 enters through w
    else:  # fourier
        if d is None:
            raise ValueError("fourier features need d")
        w = g_feat.standard_normal((m, d)) * np.sqrt(sigma2)
        b = g_feat.uniform(0.0, 2 * np.pi, m)

        def feats(xx):
            return np.sqrt(2.0 / m) * np.cos(xx @ w.T + b)

        theta_star = np.zeros(m)
        if not zero:
            theta_star[0] = 1.0
        x = g_data.standard_normal((n, d))
        xt = g_test.standard_normal((n_test, d))
        phi = feats(x)
        y_clean = phi @ theta_star
        pt = feats(xt)
        test = TestSet(phi=pt, y=pt @ theta_star)
        theta0 = np.sqrt(nu2) * g_init.standard_normal(m)
    y = y_clean + (noise * g_noise.standard_normal(n) if noise > 0 else 0.0)
    info = dict(kind=kind, n=n, m=m, nu2=nu2, seed=seed, d=d, teacher=teacher, noise=noise, tag=tag)
    return Problem(phi=phi, y=np.asarray(y, float), theta0=theta0, test=test, info=info)
