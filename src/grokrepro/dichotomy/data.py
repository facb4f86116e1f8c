"""Data generators of Study B (all deterministic given their seed)."""
from __future__ import annotations

import numpy as np

BLOCK_ELEMENTS = 2**24  # big inputs are drawn this many entries at a time
TILE_ELEMENTS = 2**20  # an integer input is cast to float this many entries at a time (8 MB in float64: in L3)
TILE_COLS = 2**13  # ... in tiles at most this wide, so that the matching columns of w stay in cache too


def row_blocks(n: int, d: int) -> list[slice]:
    """Slices of at most ``BLOCK_ELEMENTS // d`` rows (at least one) covering ``range(n)``."""
    rows = max(1, BLOCK_ELEMENTS // max(d, 1))
    return [slice(lo, min(lo + rows, n)) for lo in range(0, n, rows)]


def cast_matmul(w, x, buf, out, max_cols=None):
    """out = w @ xᵀ, (R, n), for float w (R, d) and integer x (n, d) (numpy arrays or torch tensors).

    x is cast to w's dtype one tile at a time -- at most ``max_cols`` (default ``TILE_COLS``)
    columns and as many rows as fit -- into ``buf`` (flat, of w's dtype, reused; ``TILE_ELEMENTS``
    entries keep it in cache). Casting whole row blocks into fresh buffers instead (134 MB each at
    the paper's d = 10⁵) spends most of a record check in page faults. Exact up to the order of the
    sums (a tile's products are added to those of the tiles left of it); when x fits in one tile,
    out is bit for bit ``w @ x.astype(w.dtype).T``.
    """
    n, d = x.shape
    cols = min(d, max_cols or TILE_COLS)
    rows = buf.shape[0] // cols
    if rows < 1:
        raise ValueError(f"a buffer of {buf.shape[0]} entries holds no tile row of {cols} columns")
    for lo in range(0, n, rows):
        hi = min(lo + rows, n)
        for c0 in range(0, d, cols):
            c1 = min(c0 + cols, d)
            tile = buf[: (hi - lo) * (c1 - c0)].reshape(hi - lo, c1 - c0)
            tile[...] = x[lo:hi, c0:c1]
            part = w[:, c0:c1] @ tile.T
            if c0 == 0:
                out[:, lo:hi] = part
            else:
                out[:, lo:hi] += part
    return out


def sparse_linear(d: int, n_train: int, n_test: int, k: int, seed: int) -> dict:
    """Fig 1a: x uniform on {±1}^d, y = sign(<w*, x>), w* non-zero (±1) on the first k coordinates.

    x is stored as int8 (the paper's 10⁴ × 10⁵ test set: 1 GB, against 8 GB in float64) and drawn
    in blocks of rows, which gives the same numbers as one ``rng.choice([-1., 1.], (n, d))``.
    """
    rng = np.random.default_rng(seed)
    w_star = np.zeros(d)
    w_star[:k] = rng.choice([-1.0, 1.0], size=k)
    n = n_train + n_test
    x = np.empty((n, d), dtype=np.int8)
    for b in row_blocks(n, d):
        x[b] = 2 * rng.integers(0, 2, size=(b.stop - b.start, d)) - 1
    s = x[:, :k] @ w_star[:k]  # exact: a sum of k terms ±1
    y = np.where(s > 0, 1.0, np.where(s < 0, -1.0, rng.choice([-1.0, 1.0], size=s.shape)))
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:],
            "w_star": w_star}


def large_margin(d: int, n_train: int, n_test: int, gamma: float, seed: int) -> dict:
    """Fig 1b (misgrokking): unit w* random, z ~ N(0, I), x = z + (γ/2)·sign(<z,w*>)·w*, y = sign(<z,w*>)."""
    rng = np.random.default_rng(seed)
    w_star = rng.standard_normal(d)
    w_star /= np.linalg.norm(w_star)
    z = rng.standard_normal((n_train + n_test, d))
    y = np.sign(z @ w_star)
    y[y == 0] = 1.0
    x = z + 0.5 * gamma * y[:, None] * w_star[None, :]
    return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:],
            "w_star": w_star}


def modular_addition(p: int, train_frac: float, seed: int) -> dict:
    """Fig 2/4: all p² pairs (a, b) → (a + b) mod p; input one_hot(a) ⊕ one_hot(b) (length 2p)."""
    rng = np.random.default_rng(seed)
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    x = np.zeros((p * p, 2 * p))
    x[np.arange(p * p), a] = 1.0
    x[np.arange(p * p), p + b] = 1.0
    y = ((a + b) % p).astype(float)
    perm = rng.permutation(p * p)
    n_train = int(round(train_frac * p * p))
    tr, te = perm[:n_train], perm[n_train:]
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te], "p": np.array(p)}


def rank1_matrix(d: int) -> np.ndarray:
    """The multiplication table M_ij = i·j / d² (i, j = 1..d): rank 1, entries in (0, 1]."""
    i = np.arange(1, d + 1, dtype=float)
    return np.outer(i, i) / d**2


def matrix_completion(d: int, observed_frac: float, seed: int) -> dict:
    """Fig 3: observe a random ``observed_frac`` of the d² entries of M; the rest is the test set.

    x = (row, col) index pairs, y = the entries.
    """
    rng = np.random.default_rng(seed)
    m = rank1_matrix(d)
    perm = rng.permutation(d * d)
    n_obs = int(round(observed_frac * d * d))
    rows, cols = np.divmod(perm, d)
    idx = np.stack([rows, cols], 1)
    return {"x_train": idx[:n_obs], "y_train": m[rows[:n_obs], cols[:n_obs]],
            "x_test": idx[n_obs:], "y_test": m[rows[n_obs:], cols[n_obs:]], "target": m}


GENERATORS = {
    "sparse_linear": sparse_linear,
    "large_margin": large_margin,
    "modular_addition": modular_addition,
    "matrix_completion": matrix_completion,
}


def make(kind: str, **kwargs) -> dict:
    return GENERATORS[kind](**kwargs)
