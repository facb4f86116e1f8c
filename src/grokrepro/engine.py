"""The batched training engine.

R replicas of one model family are trained as a single tensor program: parameters are stacked
on a leading replica dimension, and every replica has its own seed (initialisation and
minibatch order), learning rate and weight decay. SGD with coupled weight decay on every
parameter (``p ← p − lr·(∇L + wd·p)``, exactly ``torch.optim.SGD(weight_decay=wd)``).

:func:`train` is a short loop over named steps: draw minibatches and step (``train_until``, up
to the next check), check (full-dataset metrics), record (on the epochs of ``record_epochs``),
retire (done and diverged replicas are compacted away so they stop costing compute) and
checkpoint; its settings are a :class:`RunSettings`. A monitor decides per replica when it is
done (converged, escaped, ...). A replica whose parameters or ``train_loss`` turn non-finite is
marked ``DIVERGED``; its last finite parameters are kept and its metrics after that point are NaN.

Model families implement :class:`BatchedModel`: ``batches`` (the minibatches of one epoch),
``grads`` (per-replica gradients on one minibatch) and ``metrics`` (full-dataset diagnostics);
the generic :class:`GradStepper` applies the gradients. A family may bring a fused stepper of its
own: the deep linear network (which lives here; other families live beside their study) steps a
whole epoch from minibatch second moments (:func:`deep_linear_epoch`), optionally compiled.

Minibatch orders are a pure function of (replica seed, epoch), drawn for all replicas at once
(:func:`epoch_permutations`). A per-replica temperature (``RunSettings.temperature``) turns the
steps into Langevin dynamics (:class:`LangevinStepper`), its noise likewise a pure function of
(seed, epoch, step) (:func:`langevin_normals`).
"""
from __future__ import annotations

import hashlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import torch

from . import native
from .io import log

RUNNING, DONE, DIVERGED, BUDGET = 0, 1, 2, 3
STATUS_NAMES = {RUNNING: "running", DONE: "done", DIVERGED: "diverged", BUDGET: "budget"}


def resolve_device(name: str = "cpu") -> torch.device:
    """``auto`` picks CUDA when available, ``cuda`` insists on it, ``cpu`` is the default."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
    return torch.device(name)


def resolve_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


# Minibatch orders: in each epoch every sample of a replica gets a sort key, a hash of (replica
# seed, epoch, sample) only; the epoch's order is the samples sorted by key. SplitMix64 mixes
# (seed, epoch) into a 64-bit stream key (k_lo, k_hi); a sample's key is lowbias32 of
# ((i + 1)·φ₃₂ + k_lo) ⊕ k_hi, a bijection of i, so the keys of one row are distinct 32-bit words.
# 32-bit arithmetic vectorises on CPUs (NumPy there); torch does the same in int64 elsewhere.
_PHI, _EPOCH_STRIDE, _SALT = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0x632BE59BD9B4E019
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_PHI32, _LOWBIAS1, _LOWBIAS2 = 0x9E3779B9, 0x7FEB352D, 0x846CA68B
_M32, _M64 = 2**32 - 1, 2**64 - 1


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (a bijection of 64-bit words)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    return z ^ (z >> np.uint64(31))


def stream_keys(seeds, epoch: int) -> np.ndarray:
    """(R,) uint64 key of each replica's stream in ``epoch``: mix(seed·φ + epoch·c₁ + c₂)."""
    seeds = np.asarray(seeds, dtype=np.int64).astype(np.uint64)
    return _mix64(seeds * np.uint64(_PHI) + np.uint64((int(epoch) * _EPOCH_STRIDE + _SALT) & _M64))


def _sample_keys_np(keys: np.ndarray, n: int) -> np.ndarray:
    lo, hi = (keys & np.uint64(_M32)).astype(np.uint32), (keys >> np.uint64(32)).astype(np.uint32)
    x = _index_phi(n) + lo[:, None]
    x ^= hi[:, None]
    x ^= x >> np.uint32(16)
    x *= np.uint32(_LOWBIAS1)
    x ^= x >> np.uint32(15)
    x *= np.uint32(_LOWBIAS2)
    x ^= x >> np.uint32(16)
    return x


_INDEX_PHI: dict[int, np.ndarray] = {}


def _index_phi(n: int) -> np.ndarray:
    """(i + 1)·φ₃₂ mod 2³² for i < n (uint32, cached)."""
    if n not in _INDEX_PHI:
        _INDEX_PHI[n] = np.arange(1, n + 1, dtype=np.uint32) * np.uint32(_PHI32)
    return _INDEX_PHI[n]


def _packed_keys_torch(k: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`_packed_keys` from (K,) int64 stream keys, in int64 tensors holding 32-bit words
    (products masked to 32 bits): the same integers, on the device (GPUs)."""
    b = max(1, (n - 1).bit_length())
    drop = b + 1 if b <= 12 else 0
    i = torch.arange(n, device=k.device)
    lo, hi = k & _M32, (k >> 32) & _M32
    x = ((((i + 1) * _PHI32 + lo[:, None]) & _M32) ^ hi[:, None])
    x = x ^ (x >> 16)
    x = (x * _LOWBIAS1) & _M32
    x = x ^ (x >> 15)
    x = (x * _LOWBIAS2) & _M32
    x = x ^ (x >> 16)
    return (((x >> drop) << b) | i).to(torch.int32 if drop else torch.int64)


def _packed_keys(keys: np.ndarray, n: int, device: torch.device) -> tuple:
    """(K, n) sort keys and b (n ≤ 2ᵇ): a sample's hash, then its index i in the low b bits. In int32
    (sorts twice as fast) with the hash's top 31 − b bits while b ≤ 12, else in int64 with all 32.
    Distinct within a row, so every sort gives the same order; samples whose kept hash bits tie
    (22 bits for n = 512: a pair ties with probability 2⁻²²) stay in index order. On a CPU a NumPy
    array (by the native kernel where it is built, else NumPy), else a tensor on ``device``."""
    b = max(1, (n - 1).bit_length())
    drop = b + 1 if b <= 12 else 0
    if device.type != "cpu":
        return _packed_keys_torch(torch.as_tensor(keys.view(np.int64), device=device), n), b
    if drop and native.library() is not None:
        return native.packed_keys(keys, n), b
    h = _sample_keys_np(keys, n)
    if drop:  # (h >> (b + 1)) << b in place: below 2³¹, so the same bits read as int32
        h >>= np.uint32(1)
        h &= np.uint32(~((1 << b) - 1) & _M32)
        h |= np.arange(n, dtype=np.uint32)
        return h.view(np.int32), b
    return (h.astype(np.int64) << b) | np.arange(n), b


def _sorted_orders(seeds, first: int, count: int, n: int, device) -> torch.Tensor:
    """(count, R, n) sample order of each replica in epochs ``first`` … ``first + count − 1``, as
    int32 (n ≤ 4096) or int64."""
    if isinstance(seeds, torch.Tensor):
        device = seeds.device if device is None else device
        seeds = seeds.cpu().numpy()
    device = torch.device("cpu" if device is None else device)
    keys = np.concatenate([stream_keys(seeds, first + e) for e in range(count)])
    order, b = _packed_keys(keys, n, device)
    if device.type == "cpu":
        order.sort(axis=1)  # in place: the keys are a fresh array
        order &= (1 << b) - 1
        order = torch.from_numpy(order)
    else:
        order = torch.sort(order, dim=1).values & ((1 << b) - 1)
    return order.view(count, -1, n)


def epoch_permutations(seeds, epoch: int, n: int, device=None) -> torch.Tensor:
    """(R, n) sample order of each replica in one epoch: its samples sorted by their stream keys.

    A pure function of (seed, epoch), computed for all replicas at once: a replica's minibatch
    order does not depend on which other replicas share its batch (alone or inside any batch it
    sees the same data), on the device, nor on how a run is split into calls (``epoch_offset``).
    """
    return _sorted_orders(seeds, epoch, 1, n, device)[0].long()


def minibatch_indices(seeds, epoch: int, n: int, batch_size: int, device=None, epochs: int = 1) -> torch.Tensor:
    """(epochs·steps, R, B) indices (contiguous) of every minibatch of ``epochs`` epochs from
    ``epoch``; an epoch is steps = ⌊n/B⌋ steps of its :func:`epoch_permutations` order.

    ``seeds``: (R,) tensor (the result lands on its device) or array (on ``device``, default CPU)."""
    steps = n // batch_size
    if batch_size >= n:
        dev = seeds.device if isinstance(seeds, torch.Tensor) else device
        return torch.arange(n, device=dev).expand(epochs, len(seeds), n)
    perm = _sorted_orders(seeds, epoch, epochs, n, device)[:, :, : steps * batch_size]
    perm = perm.unflatten(2, (steps, batch_size)).transpose(1, 2)  # (epochs, steps, R, B), a view
    out = torch.empty(perm.shape, dtype=torch.long, device=perm.device)
    out.copy_(perm)  # one pass: the layout and int64
    return out.view(-1, *perm.shape[2:])


@dataclass
class Data:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    @classmethod
    def from_numpy(cls, arrays: dict, device, dtype) -> "Data":
        t = lambda a: None if a is None else torch.as_tensor(np.asarray(a), device=device, dtype=dtype)  # noqa: E731
        return cls(t(arrays["x_train"]), t(arrays["y_train"]), t(arrays.get("x_test")), t(arrays.get("y_test")))


class BatchedModel(Protocol):
    def batches(self, data: Data, idx: torch.Tensor | None) -> Sequence:
        """The minibatches of one epoch; ``idx`` is (steps, R, B) or None for full batch."""

    def grads(self, params: Sequence[torch.Tensor], batch) -> list[torch.Tensor]:
        """Per-replica gradients of the mean loss on one minibatch (no weight decay)."""

    def metrics(self, params: Sequence[torch.Tensor], data: Data) -> dict[str, torch.Tensor]:
        """Full-dataset diagnostics, each (R, ...); must include ``train_loss``, non-finite for a
        replica the family considers diverged."""


class GradStepper:
    """The generic SGD step: the family's gradients on each minibatch, applied in place.

    A family may offer a faster ``stepper(params, lr, decay, compiled)`` of its own with the same
    ``epoch``/``result`` methods (see :class:`DeepLinear`); ``lr`` and ``decay`` = 1 − lr·wd are (R,).
    """

    def __init__(self, model: BatchedModel, params: list[torch.Tensor], lr: torch.Tensor, decay: torch.Tensor):
        column = (-1, *([1] * (params[0].dim() - 1)))
        self.model, self.params, self.lr, self.decay = model, params, lr.view(column), decay.view(column)

    def epoch(self, data: Data, idx: torch.Tensor | None) -> int:
        """One epoch of SGD on the minibatches ``idx`` (steps, R, B) or full batch; returns the steps."""
        batches = self.model.batches(data, idx)
        for batch in batches:
            for p, g in zip(self.params, self.model.grads(self.params, batch)):
                p.mul_(self.decay).sub_(self.lr * g)
        return len(batches)

    @staticmethod
    def layout(noise: list[torch.Tensor]) -> list[torch.Tensor]:
        """Noise (steps, R, ...) per parameter in the layout :meth:`perturb` takes (this one's own)."""
        return noise

    def perturb(self, noise: list[torch.Tensor]) -> None:
        """Add ``noise`` (one (R, ...) tensor per parameter, :meth:`layout`) to the parameters."""
        for p, n in zip(self.params, noise):
            p.add_(n)

    def result(self) -> list[torch.Tensor]:
        return self.params


def gather_batches(data: Data, idx: torch.Tensor | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Default minibatches: (x, y) gathered per replica, (R, B, ...); shared tensors if full batch."""
    if idx is None:
        return [(data.x_train, data.y_train)]
    return [(data.x_train[b], data.y_train[b]) for b in idx]


# --------------------------------------------------------------------------- Langevin noise
# The noise of replica r at global step g (epoch·steps_per_epoch + step) is a pure function of
# (seed_r, g): steps come in chunks of NOISE_CHUNK; chunk c of a replica is NOISE_CHUNK rows of
# standard normals from a Philox generator keyed by mix(seed·φ + c·stride + salt). Drawn for all
# replicas at once (a chunk each), it is the same alone, in any batch, with any check interval, resumed.
_NOISE_SALT = 0x5851F42D4C957F2D
NOISE_CHUNK = 64


def _chunk_normals(seed: int, chunk: int, n: int) -> np.ndarray:
    """(NOISE_CHUNK, n) standard normals of ``seed``'s noise stream in ``chunk``."""
    word = np.array([seed], dtype=np.int64).astype(np.uint64) * np.uint64(_PHI)  # wraps mod 2⁶⁴ (array: silent)
    key = _mix64(word ^ np.uint64((int(chunk) * _EPOCH_STRIDE + _NOISE_SALT) & _M64))
    return np.random.Generator(np.random.Philox(key=int(key[0]))).standard_normal((NOISE_CHUNK, n))


class NoiseStream:
    """Every replica's Langevin noise, drawn a chunk at a time and kept until the run moves past it."""

    def __init__(self, seeds, n: int):
        self.seeds, self.n, self.cache = np.asarray(seeds, dtype=np.int64), n, {}

    def draw(self, rows: np.ndarray, first: int, steps: int) -> np.ndarray:
        """(steps, len(rows), n) normals of replicas ``rows`` (indices into ``seeds``) at global steps
        ``first`` … ``first + steps − 1``."""
        out = np.empty((steps, len(rows), self.n))
        c0, c1 = first // NOISE_CHUNK, (first + steps - 1) // NOISE_CHUNK
        for key in [k for k in self.cache if k[1] < c0]:
            del self.cache[key]
        for c in range(c0, c1 + 1):
            lo, hi = max(first, c * NOISE_CHUNK), min(first + steps, (c + 1) * NOISE_CHUNK)
            for i, r in enumerate(rows):
                block = self.cache.get((int(r), c))
                if block is None:
                    block = self.cache[(int(r), c)] = _chunk_normals(int(self.seeds[r]), c, self.n)
                out[lo - first : hi - first, i] = block[lo - c * NOISE_CHUNK : hi - c * NOISE_CHUNK]
        return out


def langevin_normals(seeds, epoch: int, steps: int, n: int) -> np.ndarray:
    """(steps, R, n) standard normals of every replica's noise stream in one epoch of ``steps`` steps."""
    return NoiseStream(seeds, n).draw(np.arange(len(seeds)), epoch * steps, steps)


class LangevinStepper:
    """Langevin dynamics (Euler–Maruyama) on top of a family's SGD stepper ``inner``: every step is
    θ ← θ − lr·(∇L(θ) + wd·θ) + √(2·lr·T)·ξ, ξ ~ N(0, I) over all parameters (:class:`NoiseStream`),
    the gradient that of the step's minibatch (full batch: the exact gradient). ``amplitude``: (R,)
    √(2·lr·T); ``shapes``: the per-replica parameter shapes; ``rows``: the replicas' rows in
    ``stream``. :meth:`run` steps ``epochs`` epochs with the noise of all of them drawn at once."""

    def __init__(self, inner, shapes, amplitude: torch.Tensor, stream: NoiseStream, rows: np.ndarray,
                 batch_size: int = 0):
        self.inner, self.shapes, self.amplitude, self.stream, self.rows = inner, shapes, amplitude, stream, rows
        self.sizes = [math.prod(s) for s in shapes]
        self.batch_size = batch_size  # for an ``inner`` that steps whole epochs from the sample orders

    @property
    def takes_orders(self) -> bool:
        """Whether :meth:`run` wants the epochs' sample orders rather than minibatch indices: the inner's."""
        return getattr(self.inner, "takes_orders", False)

    def run(self, data: Data, epochs: range, orders) -> int:
        """Step the epochs ``epochs`` (global numbering), minibatches ``orders(epoch)`` (None: full
        batch); the noise is drawn a piece of about NOISE_CHUNK steps at a time."""
        steps = 0
        for start in range(epochs.start, epochs.stop, NOISE_CHUNK):
            steps += self.piece(data, [(e, orders(e)) for e in range(start, min(start + NOISE_CHUNK, epochs.stop))])
        return steps

    def noise(self, first: int, steps: int) -> list[torch.Tensor]:
        """The noise of global steps ``first`` … ``first + steps − 1``, per layer in the inner stepper's layout."""
        xi = torch.as_tensor(self.stream.draw(self.rows, first, steps), device=self.amplitude.device,
                             dtype=self.amplitude.dtype) * self.amplitude[None, :, None]
        return self.inner.layout([x.unflatten(2, s) for x, s in zip(torch.split(xi, self.sizes, dim=2), self.shapes)])

    def piece(self, data: Data, epochs: list) -> int:
        """Step ``epochs``, a list of (epoch, its minibatches or None)."""
        if self.takes_orders:  # the C kernel: every epoch's order and the noise of every step at once
            per = 1 if epochs[0][1] is None else data.x_train.shape[0] // self.batch_size
            order = None if epochs[0][1] is None else torch.cat([o for _, o in epochs])
            return self.inner.epochs(data, order, self.batch_size, len(epochs),
                                     self.noise(epochs[0][0] * per, len(epochs) * per))
        per = 1 if epochs[0][1] is None else epochs[0][1].shape[0]
        noise = self.noise(epochs[0][0] * per, len(epochs) * per)
        for k, (_, batch) in enumerate(epochs):
            for s in range(per):
                self.inner.epoch(data, None if batch is None else batch[s : s + 1])
                self.inner.perturb([n[k * per + s] for n in noise])
        return len(epochs) * per

    def result(self) -> list[torch.Tensor]:
        return self.inner.result()


@dataclass(frozen=True)
class Quadratic:
    """A quadratic well L(θ) = ½ Σ_i k_i θ_i² (no data): the family the Langevin step is tested on."""

    stiffness: tuple[float, ...]

    def batches(self, data: Data, idx):
        return [None] * (1 if idx is None else idx.shape[0])

    def grads(self, params, batch):
        return [params[0] * torch.as_tensor(self.stiffness, dtype=params[0].dtype, device=params[0].device)]

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        k = torch.as_tensor(self.stiffness, dtype=params[0].dtype, device=params[0].device)
        return {"train_loss": 0.5 * (k * params[0] ** 2).sum(1)}


# --------------------------------------------------------------------------- deep linear nets
@dataclass(frozen=True)
class DeepLinear:
    """Deep linear network x ↦ W_L ⋯ W_1 x without biases; loss ½‖y − ŷ‖² averaged over samples."""

    dims: tuple[int, ...]  # (p, w, ..., w, q): depth = len(dims) - 1
    rank_threshold: float = 1e-3

    @property
    def depth(self) -> int:
        return len(self.dims) - 1

    @property
    def n_params(self) -> int:
        return sum(a * b for a, b in zip(self.dims[:-1], self.dims[1:]))

    def init(self, seeds: Sequence[int], std: float, device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
        """Entries N(0, std²), from a generator seeded per replica (independent of R)."""
        layers = [[] for _ in range(self.depth)]
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            for i, (din, dout) in enumerate(zip(self.dims[:-1], self.dims[1:])):
                layers[i].append(torch.randn(dout, din, generator=g, dtype=torch.float64) * std)
        return [torch.stack(w).to(device=device, dtype=dtype) for w in layers]

    @staticmethod
    def end_to_end(params: Sequence[torch.Tensor]) -> torch.Tensor:
        w = params[0]
        for layer in params[1:]:
            w = torch.bmm(layer, w)
        return w

    def batches(self, data: Data, idx):
        """Minibatch second moments (Sxx, Syx) per step: a linear net's gradient needs nothing else.

        Computing them for a whole epoch at once replaces per-step (R, B, width) products by
        (R, width, width) ones, which is what makes the engine fast on CPU.
        """
        z = _per_sample_moments(data)
        p, q = data.x_train.shape[1], data.y_train.shape[1]
        if idx is None:
            m = z.mean(0).expand(1, 1, -1)
        else:
            steps, r, b = idx.shape
            m = z.index_select(0, idx.reshape(-1)).view(steps, r, b, -1).mean(2)
        sxx = m[..., : p * p].unflatten(-1, (p, p))
        syx = m[..., p * p :].unflatten(-1, (q, p))
        return list(zip(sxx, syx))

    def grads(self, params, batch):
        """∇_{W_l} of ½ tr(W Sxx Wᵀ) − tr(W Sxy): backpropagation of G = W Sxx − Syx through the chain,
        ∇_{W_l} = D_l P_{l−1}ᵀ with D_L = G, D_{l−1} = W_lᵀ D_l and P_l = W_l ⋯ W_1 (P_0 = I)."""
        sxx, syx = batch
        prefix = [params[0]]
        for w in params[1:]:
            prefix.append(torch.bmm(w, prefix[-1]))
        r = prefix[-1].shape[0]
        back = torch.baddbmm(syx.expand(r, -1, -1), prefix[-1], sxx.expand(r, -1, -1), beta=-1)
        grads = [None] * len(params)
        for k in range(len(params) - 1, 0, -1):
            grads[k] = torch.bmm(back, prefix[k - 1].transpose(1, 2))
            back = torch.bmm(params[k].transpose(1, 2), back)
        grads[0] = back
        return grads

    def stepper(self, params, lr, decay, compiled: bool = False) -> "DeepLinearStepper":
        return DeepLinearStepper(params, lr, decay, compiled)

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        """Losses, singular values of the end-to-end map, effective rank, parameter norm.

        A replica with any non-finite quantity (end-to-end map, a loss, the norm) gets NaN
        singular values (the SVD is only taken of finite maps) and a NaN ``train_loss``, so the
        engine marks it diverged.
        """
        w = self.end_to_end(params)  # (R, q, p)
        out = {"train_loss": _mse(w, data.x_train, data.y_train)}
        if data.x_test is not None:
            out["test_loss"] = _mse(w, data.x_test, data.y_test)
        norm = torch.sqrt(sum(p.pow(2).sum(dim=(1, 2)) for p in params))
        finite = torch.isfinite(w.flatten(1)).all(dim=1) & torch.isfinite(norm)
        for v in out.values():
            finite &= torch.isfinite(v)
        sv = _svdvals_of_finite(w, finite)
        out["train_loss"] = torch.where(finite, out["train_loss"], torch.nan)
        out["svals"] = sv
        out["eff_rank"] = (sv > self.rank_threshold).sum(dim=1).to(sv.dtype)
        out["param_norm"] = norm
        return out


def _svdvals_of_finite(w: torch.Tensor, finite: torch.Tensor) -> torch.Tensor:
    """Singular values of the ``finite`` matrices of the batch ``w``; NaN for the others."""
    if bool(finite.all()):
        return torch.linalg.svdvals(w)
    sv = torch.full((w.shape[0], min(w.shape[1:])), torch.nan, dtype=w.dtype, device=w.device)
    if bool(finite.any()):
        sv[finite] = torch.linalg.svdvals(w[finite])
    return sv


_CSR_ROWS: dict = {}


def _csr_rows(rows: int, b: int, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Row pointers and weights 1/b of a CSR matrix with ``rows`` rows of ``b`` entries (the last kept)."""
    key = (rows, b, dtype, device)
    if key not in _CSR_ROWS:
        _CSR_ROWS.clear()
        _CSR_ROWS[key] = (torch.arange(0, rows * b + 1, b, device=device),
                          torch.full((rows * b,), 1.0 / b, dtype=dtype, device=device))
    return _CSR_ROWS[key]


def minibatch_moments(z: torch.Tensor, idx: torch.Tensor | None, lr: torch.Tensor) -> torch.Tensor:
    """(steps, R, p·p + q·p): lr times each minibatch's mean of the per-sample moments ``z`` (N, ·).

    The means are one sparse-dense product, (steps·R × N, B ones of weight 1/B per row) @ z: it
    sums the rows of ``z`` in place instead of gathering them first (~3× faster on a CPU)."""
    if idx is None:
        return z.mean(0) * lr[None, :, None]
    steps, r, b = idx.shape
    rows, weights = _csr_rows(steps * r, b, z.dtype, z.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        select = torch.sparse_csr_tensor(rows, idx.reshape(-1), weights, (steps * r, z.shape[0]),
                                         check_invariants=False)
        return (select @ z).view(steps, r, -1) * lr[:, None]


def deep_linear_epoch(ws: list[torch.Tensor], m: torch.Tensor, decay: torch.Tensor) -> list[torch.Tensor]:
    """One epoch of SGD with weight decay for deep linear nets, replicas first (few ops: small R).

    ``ws``: layers (R, out, in); ``m``: (steps, R, p·p + q·p) lr-scaled minibatch moments Sxx, Syx
    (:func:`minibatch_moments`); ``decay``: (R,) 1 − lr·wd. Per step: forward P_l = W_l P_{l−1}
    (P_0 = I), D = lr·(Syx − P_L Sxx), then backward W_l ← decay·W_l + D_l P_{l−1}ᵀ with D_L = D,
    D_{l−1} = W_lᵀ D_l (the old W_l). That is ``W_l ← W_l − lr·(∇_{W_l} L + wd·W_l)``, and no
    product is formed that the step does not use.
    """
    p, q, decay = ws[0].shape[2], ws[-1].shape[1], decay[:, None, None]
    for s in range(m.shape[0]):
        sxx, syx = m[s, :, : p * p].unflatten(1, (p, p)), m[s, :, p * p :].unflatten(1, (q, p))
        prefix = [ws[0]]
        for w in ws[1:]:
            prefix.append(torch.bmm(w, prefix[-1]))
        back = torch.baddbmm(syx, prefix[-1], sxx, alpha=-1)
        new = [None] * len(ws)
        for k in range(len(ws) - 1, 0, -1):
            new[k] = torch.baddbmm(ws[k] * decay, back, prefix[k - 1].transpose(1, 2))
            back = torch.bmm(ws[k].transpose(1, 2), back)
        new[0] = torch.addcmul(back, decay, ws[0])
        ws = new
    return ws


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(i, j, R) @ (j, k, R) → (i, k, R) as a broadcast sum: R small products, replicas innermost."""
    return (a.unsqueeze(2) * b).sum(1)


def deep_linear_epoch_replicas_last(ws: list[torch.Tensor], m: torch.Tensor, decay: torch.Tensor) -> list[torch.Tensor]:
    """:func:`deep_linear_epoch` with replicas on the last axis (``ws`` (out, in, R), ``m``
    (p·p + q·p, steps, R)) and products as broadcast sums: faster for many replicas, and the
    form ``torch.compile`` turns into a few loops over R."""
    p, q = ws[0].shape[1], ws[-1].shape[0]
    for s in range(m.shape[1]):
        sxx, syx = m[: p * p, s].unflatten(0, (p, p)), m[p * p :, s].unflatten(0, (q, p))
        prefix = [ws[0]]
        for w in ws[1:]:
            prefix.append(_mm(w, prefix[-1]))
        back = syx - _mm(prefix[-1], sxx)
        new = [None] * len(ws)
        for k in range(len(ws) - 1, 0, -1):
            new[k] = torch.addcmul(_mm(back, prefix[k - 1].transpose(0, 1)), decay, ws[k])
            back = _mm(ws[k].transpose(0, 1), back)
        new[0] = torch.addcmul(back, decay, ws[0])
        ws = new
    return ws


_COMPILED: dict = {}  # eager function -> its torch.compile'd version, or False once compiling failed


def call_compiled(fn, *args, replica_axes=()):
    """``fn(*args)`` through ``torch.compile``; the eager ``fn`` when compiling is not possible here
    (no C compiler, no backend, ...). ``replica_axes``: (tensor, axis) pairs whose size is the number
    of replicas, compiled as a symbolic size so that one compilation serves every R ≥ 2."""
    if _COMPILED.get(fn) is not False:
        try:
            if fn not in _COMPILED:
                _COMPILED[fn] = torch.compile(fn, dynamic=False)
            for t, axis in replica_axes:
                if t.shape[axis] >= 2:
                    torch._dynamo.mark_dynamic(t, axis)
            return _COMPILED[fn](*args)
        except Exception as err:  # noqa: BLE001 -- any failure to compile means: run eagerly
            first = (str(err).strip().splitlines() or [""])[0][:200]
            log(f"torch.compile of {fn.__name__} failed ({type(err).__name__}: {first}); running it eagerly")
            _COMPILED[fn] = False
    return fn(*args)


REPLICAS_LAST_MIN = 32  # from this many replicas the eager step uses the replicas-last broadcast form


class DeepLinearStepper:
    """SGD for :class:`DeepLinear`. On a CPU in float64 where the C kernel is built
    (:mod:`grokrepro.native`, the fastest form) the layers are held replicas-last and
    :meth:`epochs` steps whole epochs from the sample orders (``takes_orders``). Otherwise
    :meth:`epoch` steps minibatch indices: :func:`deep_linear_epoch` for few replicas, else (and
    whenever compiled) :func:`deep_linear_epoch_replicas_last` with the layers replicas-last."""

    def __init__(self, params, lr: torch.Tensor, decay: torch.Tensor, compiled: bool = False):
        self.compiled, self.lr, self.decay = compiled, lr, decay
        self.takes_orders = native.usable(params)
        self.last = self.takes_orders or compiled or params[0].shape[0] >= REPLICAS_LAST_MIN
        self.ws = [p.permute(1, 2, 0).contiguous() for p in params] if self.last else params
        self.full = None

    def epochs(self, data: Data, order: torch.Tensor | None, batch_size: int, epochs: int = 1,
               noise: list[torch.Tensor] | None = None) -> int:
        """Every epoch of ``order`` (epochs, R, n) int32 in minibatches of ``batch_size`` (None: ``epochs``
        full-batch steps) by the C kernel, adding ``noise`` (:meth:`layout`) after each step; returns
        the number of steps."""
        return native.deep_linear_epochs(self.ws, _per_sample_moments(data), order, batch_size, self.lr,
                                         self.decay, epochs, noise)

    def moments(self, data: Data, idx: torch.Tensor | None) -> torch.Tensor:
        """The steps' lr-scaled moments in the layers' layout: (steps, R, ·) replicas first; replicas
        last (epochs, ·, steps, R), one contiguous block per epoch of the data (a compiled epoch is
        compiled for one number of steps). Full batch: one step, computed once and kept."""
        if idx is None and self.full is not None and self.full[0] is data.x_train:
            return self.full[1]
        m = minibatch_moments(_per_sample_moments(data), idx, self.lr)
        if self.last:
            per = data.x_train.shape[0] // idx.shape[2] if idx is not None else 1
            per = per if m.shape[0] % per == 0 else m.shape[0]
            m = m.unflatten(0, (-1, per)).permute(0, 3, 1, 2).contiguous()
        if idx is None:
            self.full = (data.x_train, m)
        return m

    def epoch(self, data: Data, idx: torch.Tensor | None) -> int:
        """Step the minibatches ``idx`` (steps, R, B) of one or more epochs (None: one full-batch
        step); returns the number of steps."""
        m = self.moments(data, idx)
        if not self.last:
            self.ws = deep_linear_epoch(self.ws, m, self.decay)
            return m.shape[0]
        for block in m:
            if self.compiled:
                axes = [(w, 2) for w in self.ws] + [(block, 2), (self.decay, 0)]
                self.ws = call_compiled(deep_linear_epoch_replicas_last, self.ws, block, self.decay, replica_axes=axes)
            else:
                self.ws = deep_linear_epoch_replicas_last(self.ws, block, self.decay)
        return m.shape[0] * m.shape[2]

    def layout(self, noise: list[torch.Tensor]) -> list[torch.Tensor]:
        """Noise (steps, R, out, in) per layer in the layers' layout (replicas last: (steps, out, in, R))."""
        return [n.permute(0, 2, 3, 1).contiguous() for n in noise] if self.last else noise

    def perturb(self, noise: list[torch.Tensor]) -> None:
        """Add ``noise`` (one tensor per layer, in the layers' layout: :meth:`layout`) to the layers."""
        self.ws = [w + n for w, n in zip(self.ws, noise)]

    def result(self) -> list[torch.Tensor]:
        return [w.permute(2, 0, 1).contiguous() for w in self.ws] if self.last else self.ws


_MOMENTS_CACHE: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}


def _per_sample_moments(data: Data) -> torch.Tensor:
    """(N, p·p + q·p): x xᵀ and y xᵀ of every training sample, flattened (cached per tensor)."""
    key = id(data.x_train)
    hit = _MOMENTS_CACHE.get(key)
    if hit is not None and hit[0] is data.x_train:
        return hit[1]
    x, y = data.x_train, data.y_train
    z = torch.cat([(x[:, :, None] * x[:, None, :]).flatten(1), (y[:, :, None] * x[:, None, :]).flatten(1)], 1)
    _MOMENTS_CACHE.clear()
    _MOMENTS_CACHE[key] = (x, z)
    return z


def _mse(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(R,) ½ mean over samples of ‖y − W x‖² for the maps ``w`` (R, q, p): one (n, p) @ (p, q·R)
    product with the replicas innermost (4× faster than R small products)."""
    r, q, p = w.shape
    residual = torch.mm(x, w.permute(2, 1, 0).reshape(p, q * r)).view(x.shape[0], q, r)  # (n, q, R)
    residual -= y[:, :, None]
    return 0.5 * residual.pow_(2).sum(dim=(0, 1)) / x.shape[0]


# --------------------------------------------------------------------------- the training loop
# glibc's malloc hands freed blocks of more than its trim threshold back to the system, so each
# new temporary of a few MB (a check's (R, n, q) residual, an epoch's index arrays) is fresh pages:
# a page fault per 4 kB, which cost more than the arithmetic (a check at R = 256: 10 ms against
# 3 ms). Keeping freed memory for reuse removes that; it changes no result.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
KEEP_FREED_BYTES = 256 * 2**20  # free heap kept for reuse; blocks above MMAP_MIN_BYTES are still mapped
MMAP_MIN_BYTES = 32 * 2**20
_ALLOCATOR_SET: list[bool] = []


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep up to :data:`KEEP_FREED_BYTES` of freed memory for reuse (once per
    process); False where that is not possible (not glibc)."""
    if not _ALLOCATOR_SET:
        ok = False
        try:
            import ctypes
            libc = ctypes.CDLL(None)
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_MIN_BYTES)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
        except (OSError, AttributeError):
            pass
        _ALLOCATOR_SET.append(ok)
    return _ALLOCATOR_SET[0]


def log_grid(max_epochs: int, points: int) -> np.ndarray:
    """0 plus ``points`` log-spaced epochs up to ``max_epochs`` (unique integers)."""
    grid = np.unique(np.round(np.logspace(0, math.log10(max(max_epochs, 1)), points)).astype(int))
    return np.concatenate([[0], grid[grid <= max_epochs]])


Monitor = Callable[[int, dict, torch.Tensor], torch.Tensor]


COMPILE_MIN_STEPS = 3 * 10**7  # replica-steps budget of a call from which RunSettings(compile=None) compiles
ORDERS_BLOCK = 2**21  # replica-samples of minibatch orders drawn at once (epochs × R × n; 16 MB as int64)


@dataclass(frozen=True)
class RunSettings:
    """How one :func:`train` call runs. Every field after ``batch_size`` is a keyword of :func:`train`.

    ``check_every``: epochs between checks (metrics, monitor, divergence). ``record_epochs``: the
    epochs whose metrics are kept (default 0 and ``max_epochs``); only those that fall on a check
    are recorded, unless ``check_at_records`` adds a check at each of them. ``epoch_offset`` shifts
    the minibatch-order stream (a run that continues an earlier one). ``progress_every``: seconds
    between progress lines in the log (0: none), tagged ``label``. ``checkpoint``: a file the whole
    loop state is written to after a check once ``checkpoint_every`` seconds have passed.
    ``compile``: run a family's fused step through ``torch.compile`` (falls back to eager where
    that fails); None: only when the call may take ≥ :data:`COMPILE_MIN_STEPS` replica-steps, as
    compiling costs seconds to a minute once per process. ``temperature``: scalar or (R,) Langevin
    temperature T of each replica (:class:`LangevinStepper`); 0 everywhere is plain SGD.
    """

    max_epochs: int
    batch_size: int
    check_every: int = 1
    record_epochs: Sequence[int] | None = None
    check_at_records: bool = False
    epoch_offset: int = 0
    progress_every: float = 30.0
    label: str = "train"
    checkpoint: str | Path | None = None
    checkpoint_every: float = 600.0
    compile: bool | None = None
    temperature: float | Sequence[float] = 0.0

    def grid(self) -> np.ndarray:
        grid = self.record_epochs if self.record_epochs is not None else [0, self.max_epochs]
        return np.asarray(grid, dtype=int)

    def compiled(self, replicas: int, n_train: int) -> bool:
        """Whether a call on ``replicas`` replicas and ``n_train`` samples runs compiled."""
        if self.compile is not None:
            return bool(self.compile)
        return replicas * self.max_epochs * max(n_train // self.batch_size, 1) >= COMPILE_MIN_STEPS

    def next_check(self, epoch: int) -> int:
        """The epoch of the first check after ``epoch``."""
        end = min(epoch + self.check_every, self.max_epochs)
        if self.check_at_records:
            grid = self.grid()
            upcoming = grid[grid > epoch]
            if upcoming.size:
                end = min(end, int(upcoming[0]))
        return end


def _fingerprint(model, params, data: Data, *args) -> str:
    """Hash of everything that determines a training call's trajectory (for its checkpoint)."""
    h = hashlib.sha256(repr(model).encode())
    tensors = [*params, *(t for t in (data.x_train, data.y_train) if t is not None)]
    for a in (*tensors, *args):
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().contiguous().numpy()
        h.update(np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray) else repr(a).encode())
    return h.hexdigest()


def _save_checkpoint(path, state: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path, fingerprint: str) -> dict | None:
    """The saved state if ``path`` holds a checkpoint of this very run, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # a checkpoint is only ever replaced atomically; still, never trust it blindly
        log(f"ignoring unreadable checkpoint {path}: {err}")
        return None
    if state.get("fingerprint") != fingerprint:
        log(f"ignoring checkpoint {path}: it belongs to a different run")
        return None
    return state


def _nonfinite(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """(R,) mask of the replicas with a non-finite parameter."""
    bad = torch.zeros(params[0].shape[0], dtype=torch.bool, device=params[0].device)
    for p in params:
        bad |= ~torch.isfinite(p.flatten(1)).all(dim=1)
    return bad


def _per_replica(value, r: int, like: torch.Tensor) -> torch.Tensor:
    """A scalar or (R,) hyper-parameter as an (R,) tensor of ``like``'s device and dtype."""
    return torch.as_tensor(np.broadcast_to(np.asarray(value, dtype=float), (r,)).copy(), device=like.device,
                           dtype=like.dtype)


@dataclass
class RunResult:
    params: list[torch.Tensor]
    status: np.ndarray  # (R,) RUNNING/DONE/DIVERGED/BUDGET at the end
    stop_epoch: np.ndarray  # (R,) epoch at which the replica stopped (max_epochs if it ran out)
    record_epochs: np.ndarray  # (E,)
    records: dict[str, np.ndarray] = field(default_factory=dict)  # each (E, R, ...), NaN after stop
    steps: int = 0  # replica-steps actually computed


class _Loop:
    """The state of one :func:`train` call and the named steps that advance it.

    ``params`` holds every replica (a stopped replica's final parameters); ``active`` indexes the
    replicas still training and ``live`` holds their current parameters, compacted.
    """

    def __init__(self, model, params, data: Data, lr, weight_decay, seeds, cfg: RunSettings,
                 monitor: Monitor | None, monitor_state: dict | None):
        r, n = params[0].shape[0], data.x_train.shape[0]
        if cfg.batch_size > n:
            raise ValueError(f"batch_size {cfg.batch_size} exceeds the {n} training samples")
        self.model, self.data, self.cfg = model, data, cfg
        self.monitor, self.monitor_state = monitor, monitor_state or {}
        self.seeds = np.broadcast_to(np.asarray(seeds, dtype=np.int64), (r,)).copy()
        self.compiled = cfg.compiled(r, n)
        self.lr, self.wd = _per_replica(lr, r, params[0]), _per_replica(weight_decay, r, params[0])
        self.temperature = _per_replica(cfg.temperature, r, params[0])
        self.noise: NoiseStream | None = None
        self.grid = cfg.grid()
        self.grid_row = {int(e): i for i, e in enumerate(self.grid)}
        self.params = [p.clone() for p in params]
        self.status, self.stop_epoch = np.full(r, RUNNING), np.full(r, cfg.max_epochs)
        self.records: dict[str, np.ndarray] = {}
        self.active = torch.arange(r, device=params[0].device)
        self.live = [p[self.active] for p in self.params]
        self.epoch = self.steps = 0
        self.fingerprint = _fingerprint(model, self.params, data, self.lr, self.wd, self.seeds, cfg.max_epochs,
                                        cfg.check_every, self.grid, cfg.batch_size, cfg.epoch_offset,
                                        cfg.check_at_records, self.compiled, self.temperature,
                                        native.library() is not None) if cfg.checkpoint else ""
        self.started = self.last_log = self.last_checkpoint = time.time()

    @property
    def running(self) -> bool:
        return self.epoch < self.cfg.max_epochs and self.active.numel() > 0

    # ---- draw minibatches, step
    def draw_orders(self, seeds: np.ndarray, epoch: int, epochs: int = 1, raw: bool = False) -> torch.Tensor | None:
        """(epochs·steps, R, B) minibatch indices of the active replicas in ``epochs`` epochs from
        ``epoch``, or ``raw``: their (epochs, R, n) sample orders; None: full batch."""
        n = self.data.x_train.shape[0]
        if self.cfg.batch_size == n:
            return None
        if raw:
            return _sorted_orders(seeds, self.cfg.epoch_offset + epoch, epochs, n, self.active.device)
        return minibatch_indices(seeds, self.cfg.epoch_offset + epoch, n, self.cfg.batch_size, self.active.device,
                                 epochs=epochs)

    def stepper(self):
        """The family's own stepper if it has one, else the generic :class:`GradStepper`; wrapped in a
        :class:`LangevinStepper` when an active replica has a temperature."""
        lr = self.lr[self.active]
        decay = 1 - lr * self.wd[self.active]
        if hasattr(self.model, "stepper"):
            inner = self.model.stepper(self.live, lr, decay, compiled=self.compiled)
        else:
            inner = GradStepper(self.model, self.live, lr, decay)
        temperature = self.temperature[self.active]
        if not bool((temperature != 0).any()):
            return inner
        if self.noise is None:
            self.noise = NoiseStream(self.seeds, sum(math.prod(p.shape[1:]) for p in self.live))
        return LangevinStepper(inner, [p.shape[1:] for p in self.live], torch.sqrt(2 * lr * temperature),
                               self.noise, self.active.cpu().numpy(), self.cfg.batch_size)

    def train_until(self, end: int) -> None:
        """SGD with coupled weight decay, ``p ← p·(1 − lr·wd) − lr·∇L``, up to epoch ``end`` (Langevin:
        plus the noise, drawn for all these epochs at once). The minibatch orders of several epochs
        are drawn at a time (fewer, larger operations)."""
        seeds = self.seeds[self.active.cpu().numpy()]
        with torch.no_grad():
            stepper = self.stepper()
            raw = getattr(stepper, "takes_orders", False)
            if isinstance(stepper, LangevinStepper):
                off = self.cfg.epoch_offset
                self.steps += stepper.run(self.data, range(off + self.epoch, off + end),
                                          lambda e: self.draw_orders(seeds, e - off, raw=raw)) * len(seeds)
            else:
                n, b = self.data.x_train.shape[0], self.cfg.batch_size
                block = max(1, ORDERS_BLOCK // (len(seeds) * n)) if b < n else (end - self.epoch if raw else 1)
                for epoch in range(self.epoch, end, block):
                    count = min(block, end - epoch)
                    orders = self.draw_orders(seeds, epoch, count, raw=raw)
                    steps = stepper.epochs(self.data, orders, b, count) if raw else stepper.epoch(self.data, orders)
                    self.steps += steps * len(seeds)
            self.live = stepper.result()
        self.epoch = end

    # ---- check, record, retire
    def check(self) -> None:
        """Metrics of the active replicas; record them; retire the diverged and those the monitor calls done."""
        with torch.no_grad():
            mets = self.model.metrics(self.live, self.data)
        bad = ~torch.isfinite(mets["train_loss"]) | _nonfinite(self.live)
        self.record(mets, bad)
        done = self.monitor(self.epoch, mets, self.active) if self.monitor else torch.zeros_like(bad)
        done = done.to(bad.device) & ~bad
        self.retire(bad | done, np.where(bad.cpu().numpy(), DIVERGED, DONE))

    def record(self, mets: dict[str, torch.Tensor], bad: torch.Tensor) -> None:
        row = self.grid_row.get(self.epoch)
        if row is None:
            return
        idx, bad = self.active.cpu().numpy(), bad.cpu().numpy()
        for k, v in mets.items():
            if k not in self.records:
                self.records[k] = np.full((len(self.grid), len(self.status), *v.shape[1:]), np.nan)
            vals = v.detach().cpu().numpy().astype(float)
            vals[bad] = np.nan
            self.records[k][row, idx] = vals

    def retire(self, mask: torch.Tensor, codes) -> None:
        """Stop the masked active replicas now: keep their parameters, set their status (``codes``)."""
        if not mask.any():
            return
        m = mask.cpu().numpy()
        gone = self.active[mask]
        self.status[gone.cpu().numpy()] = np.broadcast_to(codes, m.shape)[m]
        self.stop_epoch[gone.cpu().numpy()] = self.epoch
        for p, lp in zip(self.params, self.live):
            p[gone] = lp[mask]
        self.active = self.active[~mask]
        self.live = [lp[~mask] for lp in self.live]

    def retire_nonfinite(self, last_good: list[torch.Tensor]) -> None:
        """Replicas that blew up since the last check: back to their last finite parameters, DIVERGED."""
        bad = _nonfinite(self.live)
        if bad.any():
            for lp, good in zip(self.live, last_good):
                lp[bad] = good[bad]
            self.retire(bad, DIVERGED)

    # ---- checkpoint, progress, result
    def store_live(self) -> None:
        for p, lp in zip(self.params, self.live):
            p[self.active] = lp

    def checkpoint_if_due(self) -> None:
        cfg = self.cfg
        if not cfg.checkpoint or time.time() - self.last_checkpoint < cfg.checkpoint_every or not self.active.numel():
            return
        self.store_live()
        _save_checkpoint(cfg.checkpoint, {
            "fingerprint": self.fingerprint, "epoch": self.epoch, "steps_done": self.steps,
            "params": [p.cpu() for p in self.params], "active": self.active.cpu(),
            "status": torch.from_numpy(self.status.copy()), "stop_epoch": torch.from_numpy(self.stop_epoch.copy()),
            "records": {k: torch.from_numpy(v) for k, v in self.records.items()},
            "monitor_state": {k: v.cpu() for k, v in self.monitor_state.items()}})
        self.last_checkpoint = time.time()

    def resume(self) -> bool:
        """Continue from the checkpoint of this very run, if there is one."""
        state = _load_checkpoint(self.cfg.checkpoint, self.fingerprint) if self.cfg.checkpoint else None
        if state is None:
            return False
        self.epoch, self.steps = state["epoch"], state["steps_done"]
        for p, saved in zip(self.params, state["params"]):
            p.copy_(saved)
        self.active = state["active"].to(self.active.device)
        self.live = [p[self.active] for p in self.params]
        self.status[:], self.stop_epoch[:] = state["status"].numpy(), state["stop_epoch"].numpy()
        self.records = {k: v.numpy().copy() for k, v in state["records"].items()}
        for k, v in self.monitor_state.items():
            v.copy_(state["monitor_state"][k])
        log(f"[{self.cfg.label}] resumed from checkpoint {self.cfg.checkpoint} at epoch {self.epoch}")
        return True

    def log_if_due(self) -> None:
        now, cfg = time.time(), self.cfg
        if not cfg.progress_every or now - self.last_log <= cfg.progress_every:
            return
        rate = self.epoch / (now - self.started)
        log(f"[{cfg.label}] epoch {self.epoch}/{cfg.max_epochs}, {self.active.numel()}/{len(self.status)} replicas "
            f"running, {self.steps / (now - self.started):.3g} replica-steps/s, "
            f"<= {(cfg.max_epochs - self.epoch) / max(rate, 1e-9):.0f}s left")
        self.last_log = now

    def result(self) -> RunResult:
        self.store_live()
        self.status[self.active.cpu().numpy()] = BUDGET if self.epoch >= self.cfg.max_epochs else RUNNING
        if self.cfg.checkpoint:
            Path(self.cfg.checkpoint).unlink(missing_ok=True)
        return RunResult(params=self.params, status=self.status, stop_epoch=self.stop_epoch,
                         record_epochs=self.grid, records=self.records, steps=self.steps)


def train(model: BatchedModel, params: list[torch.Tensor], data: Data, lr, weight_decay, batch_size: int, seeds,
          max_epochs: int, *, monitor: Monitor | None = None, monitor_state: dict[str, torch.Tensor] | None = None,
          **settings) -> RunResult:
    """Train all replicas with minibatch SGD for up to ``max_epochs`` epochs.

    ``lr`` and ``weight_decay`` are scalars or (R,) arrays; ``seeds`` (R,) the minibatch-order seeds.
    ``settings`` are the remaining fields of :class:`RunSettings`. ``monitor(epoch, metrics, idx)``
    is called after every check with the metrics of the active replicas (``idx`` their indices)
    and returns a bool mask of the ones that are done.

    ``checkpoint``: the whole loop state (parameters, active replicas, records, statuses and the
    tensors of ``monitor_state``, the monitor's own state) is written there atomically. A call
    that finds a checkpoint of the same run (same model, data, initial parameters and arguments)
    continues from it and gives exactly the result of an uninterrupted call; the file is removed
    when the call returns.
    """
    torch.set_flush_denormal(True)
    keep_freed_memory()
    loop = _Loop(model, params, data, lr, weight_decay, seeds, RunSettings(max_epochs, batch_size, **settings),
                 monitor, monitor_state)
    if not loop.resume():
        loop.check()
    while loop.running:
        last_good = [p.clone() for p in loop.live]
        loop.train_until(loop.cfg.next_check(loop.epoch))  # draw minibatches, step
        loop.retire_nonfinite(last_good)
        if not loop.active.numel():
            break
        loop.check()  # metrics, record, retire the done and the diverged
        loop.checkpoint_if_due()
        loop.log_if_due()
    return loop.result()
