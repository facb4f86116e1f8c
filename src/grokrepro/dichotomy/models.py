"""Model families of Study B for the batched engine (:mod:`grokrepro.engine`).

Each family stacks R replicas on dim 0 and implements the engine protocol: ``batches`` (full
batch here: the study uses full-batch GD), ``grads`` (hand-written per-replica gradients of the
mean loss, no weight decay) and ``metrics`` (each (R, ...), incl. ``train_loss``).

* :class:`DiagonalNet` -- f(x) = <u^L − v^L, x>, u = v = α/√(2d)·1 (so ‖θ‖ = α); logistic or
  squared loss.
* :class:`MatrixFactor` -- W = UUᵀ − VVᵀ, U = V = α·I; mean squared error on observed entries.
* :class:`ReLUNet` -- f(x) = W₂ ReLU(W₁x + b₁); He init × α (b₁ = 0), optionally W₂ = 0;
  cross-entropy.
* :class:`LossNormalised` -- wraps a family so the engine's step is η/L(θ)·∇L (normalised GD,
  Fig 4). Weight decay, if any, is still applied with the unscaled η.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..engine import Data, gather_batches
from . import data as _data


def to_data(arrays: dict, family: str, device, dtype) -> Data:
    """Engine data for a family: float features, except the matrix family's (row, col) indices
    and the ReLU family's integer class labels."""
    def f(a):
        return torch.as_tensor(np.asarray(a), device=device, dtype=dtype)

    def i(a):
        return torch.as_tensor(np.asarray(a), device=device).long()

    if family == "matrix":
        return Data(i(arrays["x_train"]), f(arrays["y_train"]), i(arrays["x_test"]), f(arrays["y_test"]))
    if family == "relu":
        # one-hot inputs are passed as the indices of their ones (ReLUNet gathers columns of W₁)
        def hot(a):
            a = np.asarray(a)
            k = int(a[0].sum())
            return i(np.nonzero(a)[1].reshape(a.shape[0], k))
        return Data(hot(arrays["x_train"]), i(arrays["y_train"]), hot(arrays["x_test"]), i(arrays["y_test"]))
    # an int8 test set (±1 inputs, Fig 1a) stays int8 on the device: DiagonalNet.metrics casts it in tiles
    x_test = np.asarray(arrays["x_test"])
    x_test = torch.as_tensor(x_test, device=device) if x_test.dtype == np.int8 else f(x_test)
    return Data(f(arrays["x_train"]), f(arrays["y_train"]), x_test, f(arrays["y_test"]))


def _outputs(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(R, n) outputs <w_r, x_i>; an integer x is cast to w's dtype a tile at a time (``data.cast_matmul``;
    on a GPU, whose allocator reuses memory and whose kernel launches cost more, in blocks of whole rows)."""
    if x.is_floating_point():
        return w @ x.T
    cpu = w.device.type == "cpu"
    size = _data.TILE_ELEMENTS if cpu else max(_data.BLOCK_ELEMENTS, x.shape[1])
    buf = torch.empty(min(size, x.numel()), dtype=w.dtype, device=w.device)
    return _data.cast_matmul(w, x, buf, w.new_empty(w.shape[0], x.shape[0]), None if cpu else x.shape[1])


def _acc_pm1(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary accuracy of sign(f) against y ∈ {±1}; ties f = 0 count ½."""
    m = f * y
    return ((m > 0).to(f.dtype) + 0.5 * (m == 0).to(f.dtype)).mean(-1)


# --------------------------------------------------------------------------- diagonal linear nets
@dataclass(frozen=True)
class DiagonalNet:
    dim: int
    depth: int = 2
    loss: str = "logistic"  # logistic | squared
    record_w: bool = False  # also report w = u^L − v^L itself (for the margin cosines)

    def init(self, alphas, device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
        a = torch.as_tensor(np.asarray(alphas, dtype=float), device=device, dtype=dtype)
        u = (a / math.sqrt(2 * self.dim))[:, None].expand(-1, self.dim).clone()
        return [u, u.clone()]

    def w(self, params) -> torch.Tensor:
        u, v = params
        return u.pow(self.depth) - v.pow(self.depth)

    def _loss_dloss(self, f, y):
        if self.loss == "logistic":
            m = y * f
            return torch.nn.functional.softplus(-m).mean(-1), -y * torch.sigmoid(-m) / f.shape[-1]
        if self.loss == "squared":
            r = f - y
            return 0.5 * r.pow(2).mean(-1), r / f.shape[-1]
        raise ValueError(f"unknown loss {self.loss!r}")

    def batches(self, data: Data, idx):
        return gather_batches(data, idx)

    def loss_and_grads(self, params, batch):
        x, y = batch
        u, v = params
        w = self.w(params)
        f = w @ x.T if x.dim() == 2 else torch.bmm(x, w[:, :, None])[..., 0]
        loss, df = self._loss_dloss(f, y)
        gw = df @ x if x.dim() == 2 else torch.bmm(df[:, None, :], x)[:, 0]
        big_l = self.depth
        return loss, [big_l * u.pow(big_l - 1) * gw, -big_l * v.pow(big_l - 1) * gw]

    def grads(self, params, batch):
        return self.loss_and_grads(params, batch)[1]

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        w = self.w(params)
        norm = torch.sqrt(sum(p.pow(2).sum(-1) for p in params))
        out = {}
        for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
            f = _outputs(w, x)
            out[f"{split}_loss"] = self._loss_dloss(f, y)[0]
            out[f"{split}_acc"] = _acc_pm1(f, y)
            if split == "train":
                out["margin"] = (y * f).min(-1).values / norm.pow(self.depth)
        out["param_norm"] = norm
        out["w_l1"] = w.abs().sum(-1)
        if self.record_w:
            out["w"] = w
        return out


# --------------------------------------------------------------------------- factorised matrices
@dataclass(frozen=True)
class MatrixFactor:
    dim: int
    _cache: dict = field(default_factory=dict, repr=False, compare=False, hash=False)

    def init(self, alphas, device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
        a = torch.as_tensor(np.asarray(alphas, dtype=float), device=device, dtype=dtype)
        u = a[:, None, None] * torch.eye(self.dim, device=device, dtype=dtype)
        return [u, u.clone()]

    @staticmethod
    def w(params) -> torch.Tensor:
        u, v = params
        return torch.bmm(u, u.transpose(1, 2)) - torch.bmm(v, v.transpose(1, 2))

    def batches(self, data: Data, idx):
        """Full batch only: the observed entries as a dense (d, d) mask and target (cached)."""
        if idx is not None:
            raise ValueError("MatrixFactor trains full batch only")
        key = id(data.x_train)
        if self._cache.get("key") != key:
            obs = data.x_train
            mask = torch.zeros(self.dim, self.dim, dtype=data.y_train.dtype, device=data.y_train.device)
            target = torch.zeros_like(mask)
            mask[obs[:, 0], obs[:, 1]] = 1.0
            target[obs[:, 0], obs[:, 1]] = data.y_train
            self._cache.update(key=key, batch=(mask, target, obs.shape[0]))
        return [self._cache["batch"]]

    def loss_and_grads(self, params, batch):
        """L = mean over observed entries of (W_ij − M_ij)²; ∇_U = (G + Gᵀ)U, ∇_V = −(G + Gᵀ)V."""
        mask, target, n = batch
        u, v = params
        r = (self.w(params) - target) * mask
        g = r * (2.0 / n)
        gs = g + g.transpose(1, 2)
        return r.pow(2).sum((1, 2)) / n, [torch.bmm(gs, u), -torch.bmm(gs, v)]

    def grads(self, params, batch):
        return self.loss_and_grads(params, batch)[1]

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        w = self.w(params)
        out = {}
        for split, idx, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
            out[f"{split}_loss"] = (w[:, idx[:, 0], idx[:, 1]] - y).pow(2).mean(-1)
        out["param_norm"] = torch.sqrt(sum(p.pow(2).sum((1, 2)) for p in params))
        out["nuclear_norm"] = _nuclear_norm(w)
        return out


def _nuclear_norm(w: torch.Tensor) -> torch.Tensor:
    """(R,) nuclear norms of w (R, d, d); NaN for a replica whose W overflowed (an SVD of a
    non-finite matrix fails), so that the engine marks it diverged instead of stopping."""
    ok = torch.isfinite(w).flatten(1).all(-1)
    out = torch.full(w.shape[:1], math.nan, dtype=w.dtype, device=w.device)
    if ok.all():
        return torch.linalg.svdvals(w).sum(-1)
    if ok.any():
        out[ok] = torch.linalg.svdvals(w[ok]).sum(-1)
    return out


# --------------------------------------------------------------------------- two-layer ReLU nets
def _labels(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return y.expand(f.shape[0], -1) if y.dim() == 1 else y


def _onehot(y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(f).scatter_(-1, _labels(y, f)[..., None], 1.0)


def _cross_entropy(f: torch.Tensor, y: torch.Tensor):
    """Per-sample cross-entropy ℓ_i = log(1 + Σ_{j≠y} exp(f_j − f_y)) of logits f (R, n, c), with
    lse_i = log Σ_{j≠y} exp(f_j − f_y) and ∂ℓ_i/∂f. Written so that ℓ stays accurate (not rounded to
    0) for margins beyond ~37, where log_softmax returns exactly 0: normalised GD divides by L."""
    yy = _labels(y, f)
    onehot = _onehot(y, f)
    s = f - f.gather(-1, yy[..., None])
    lse = torch.logsumexp(s.masked_fill(onehot.bool(), -math.inf), -1)
    ell = torch.nn.functional.softplus(lse)
    p = torch.exp(s - ell[..., None]).masked_fill(onehot.bool(), 0.0)  # off-class softmax probabilities
    return ell, lse, p - onehot * p.sum(-1, keepdim=True)


@dataclass(frozen=True)
class ReLUNet:
    dim_in: int
    width: int
    classes: int
    zero_second_layer: bool = False

    def init(self, seeds: Sequence[int], alphas, device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
        """He (Kaiming-normal, fan-in) init scaled by α; b₁ = 0; W₂ = 0 if ``zero_second_layer``.

        Parameters: W₁ (R, h, d_in), b₁ (R, h, 1) (3-d like the weights, as the engine shapes the
        per-replica step by the first parameter's rank), W₂ (R, c, h).
        """
        alphas = np.broadcast_to(np.asarray(alphas, dtype=float), (len(seeds),))
        w1, b1, w2 = [], [], []
        for s, a in zip(seeds, alphas):
            g = torch.Generator().manual_seed(int(s))
            first = torch.randn(self.width, self.dim_in, generator=g, dtype=torch.float64)
            w1.append(a * math.sqrt(2.0 / self.dim_in) * first)
            b1.append(torch.zeros(self.width, 1, dtype=torch.float64))
            second = torch.randn(self.classes, self.width, generator=g, dtype=torch.float64)
            second = a * math.sqrt(2.0 / self.width) * second
            w2.append(torch.zeros_like(second) if self.zero_second_layer else second)
        return [torch.stack(t).to(device=device, dtype=dtype) for t in (w1, b1, w2)]

    def batches(self, data: Data, idx):
        return gather_batches(data, idx)

    @staticmethod
    def forward(params, x):
        """x: (n, k) long, the positions of the ones of each one-hot input (W₁x = Σ_k W₁[:, x_k])."""
        w1, b1, w2 = params
        w1t = w1.transpose(1, 2)  # (R, d_in, h)
        z = sum(w1t[:, x[:, j]] for j in range(x.shape[1])) + b1.transpose(1, 2)  # (R, n, h); b₁ last: faster
        a = torch.relu(z)
        return z, a, torch.bmm(a, w2.transpose(1, 2))  # (R, n, c)

    def _backward(self, params, x, z, a, df):
        """Gradients of Σ_i ⟨df_i, f_i⟩ (df: (R, n, c)) w.r.t. W₁, b₁, W₂."""
        w1, _, w2 = params
        gw2 = torch.bmm(df.transpose(1, 2), a)
        dz = torch.bmm(df, w2).masked_fill_(z <= 0, 0.0)
        gw1t = torch.zeros_like(w1.transpose(1, 2))
        for j in range(x.shape[1]):
            gw1t.index_add_(1, x[:, j], dz)
        return [gw1t.transpose(1, 2), dz.sum(1)[..., None], gw2]

    def loss_and_grads(self, params, batch):
        x, y = batch
        z, a, f = self.forward(params, x)
        ell, _, df = _cross_entropy(f, y)
        return ell.mean(-1), self._backward(params, x, z, a, df / f.shape[1])

    def normalised_grads(self, params, batch):
        """∇L/L (the normalised-GD direction), computed with the common factor max_i ℓ_i divided
        out of numerator and denominator, so it stays finite when L itself underflows."""
        x, y = batch
        z, a, f = self.forward(params, x)
        ell, lse, _ = _cross_entropy(f, y)
        log_ell = torch.where(lse < -20.0, lse, torch.log(ell))  # log ℓ = log softplus(lse) ≈ lse there
        m = log_ell.max(-1, keepdim=True).values
        fy = f.gather(-1, _labels(y, f)[..., None])
        onehot = _onehot(y, f)
        p = torch.exp(f - fy - ell[..., None] - m[..., None]).masked_fill(onehot.bool(), 0.0)
        df = p - onehot * p.sum(-1, keepdim=True)
        df /= torch.exp(log_ell - m).sum(-1)[:, None, None]
        return self._backward(params, x, z, a, df)

    def grads(self, params, batch):
        return self.loss_and_grads(params, batch)[1]

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        out = {}
        norm2 = sum(p.pow(2).flatten(1).sum(-1) for p in params)
        for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
            f = self.forward(params, x)[2]
            yy = y.expand(f.shape[0], -1)
            out[f"{split}_loss"] = _cross_entropy(f, y)[0].mean(-1)
            out[f"{split}_acc"] = (f.argmax(-1) == yy).to(f.dtype).mean(-1)
            if split == "train":
                fy = f.gather(-1, yy[..., None])[..., 0]
                other = f.scatter(-1, yy[..., None], -math.inf).max(-1).values
                out["margin"] = (fy - other).min(-1).values / norm2
        out["param_norm"] = norm2.sqrt()
        return out


# --------------------------------------------------------------------------- normalised GD
@dataclass(frozen=True)
class LossNormalised:
    """The step η/L(θ)·∇L(θ) (Fig 4): gradients of the wrapped family divided by its loss."""

    base: object

    def batches(self, data, idx):
        return self.base.batches(data, idx)

    def grads(self, params, batch):
        if hasattr(self.base, "normalised_grads"):  # computed without dividing by an underflowing L
            return self.base.normalised_grads(params, batch)
        loss, grads = self.base.loss_and_grads(params, batch)
        scale = 1.0 / loss
        return [g * scale.view(-1, *([1] * (g.dim() - 1))) for g in grads]

    def metrics(self, params, data):
        return self.base.metrics(params, data)
