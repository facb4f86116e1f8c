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
``grads`` (per-replica gradients on one minibatch) and ``metrics`` (full-dataset diagnostics).
The deep linear network lives here; other families live beside their study.
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np
import torch

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


def _stream_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for (replica seed, epoch): SplitMix64 of the pair."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(epoch) * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    return (z ^ (z >> 31)) >> 1


_GEN = torch.Generator()


def epoch_permutations(seeds: torch.Tensor, epoch: int, n: int) -> torch.Tensor:
    """(R, n) sample order of each replica in one epoch, a pure function of (seed, epoch).

    A replica's minibatch order therefore does not depend on which other replicas share its
    batch (a replica trained alone or inside any batch sees the same data), nor on how a run
    is split into calls (``epoch_offset``).
    """
    perms = []
    for s in seeds.tolist():
        _GEN.manual_seed(_stream_seed(s, epoch))
        perms.append(torch.randperm(n, generator=_GEN))
    return torch.stack(perms).to(seeds.device)


def minibatch_indices(seeds: torch.Tensor, epoch: int, n: int, batch_size: int) -> torch.Tensor:
    """(steps, R, B) indices of every minibatch of one epoch; an epoch is ⌊n/B⌋ steps."""
    steps = n // batch_size
    if batch_size >= n:
        return torch.arange(n, device=seeds.device).expand(1, seeds.numel(), n)
    perm = epoch_permutations(seeds, epoch, n)[:, : steps * batch_size]
    return perm.reshape(-1, steps, batch_size).transpose(0, 1)


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


def gather_batches(data: Data, idx: torch.Tensor | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Default minibatches: (x, y) gathered per replica, (R, B, ...); shared tensors if full batch."""
    if idx is None:
        return [(data.x_train, data.y_train)]
    return [(data.x_train[b], data.y_train[b]) for b in idx]


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
        """∇_{W_l} of ½ tr(W Sxx Wᵀ) − tr(W Sxy): S_lᵀ (W Sxx − Syx) P_{l−1}ᵀ."""
        sxx, syx = batch
        prefix = [params[0]]
        for w in params[1:]:
            prefix.append(torch.bmm(w, prefix[-1]))
        w_e2e = prefix[-1]
        if sxx.shape[0] != w_e2e.shape[0]:
            sxx, syx = sxx.expand(w_e2e.shape[0], -1, -1), syx.expand(w_e2e.shape[0], -1, -1)
        g = torch.baddbmm(syx, w_e2e, sxx, beta=-1)
        grads = [None] * len(params)
        suffix = None  # W_L ⋯ W_{l+1}
        for k in range(len(params) - 1, -1, -1):
            left = g if suffix is None else torch.bmm(suffix.transpose(1, 2), g)
            grads[k] = left if k == 0 else torch.bmm(left, prefix[k - 1].transpose(1, 2))
            suffix = params[k] if suffix is None else torch.bmm(suffix, params[k])
        return grads

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
    pred = torch.matmul(x, w.transpose(1, 2))  # (R, n, q)
    return 0.5 * (pred - y).pow(2).sum(dim=(-1, -2)) / x.shape[0]


# --------------------------------------------------------------------------- the training loop
def log_grid(max_epochs: int, points: int) -> np.ndarray:
    """0 plus ``points`` log-spaced epochs up to ``max_epochs`` (unique integers)."""
    grid = np.unique(np.round(np.logspace(0, math.log10(max(max_epochs, 1)), points)).astype(int))
    return np.concatenate([[0], grid[grid <= max_epochs]])


Monitor = Callable[[int, dict, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RunSettings:
    """How one :func:`train` call runs. Every field after ``batch_size`` is a keyword of :func:`train`.

    ``check_every``: epochs between checks (metrics, monitor, divergence). ``record_epochs``: the
    epochs whose metrics are kept (default 0 and ``max_epochs``); only those that fall on a check
    are recorded, unless ``check_at_records`` adds a check at each of them. ``epoch_offset`` shifts
    the minibatch-order stream (a run that continues an earlier one). ``progress_every``: seconds
    between progress lines in the log (0: none), tagged ``label``. ``checkpoint``: a file the whole
    loop state is written to after a check once ``checkpoint_every`` seconds have passed.
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

    def grid(self) -> np.ndarray:
        grid = self.record_epochs if self.record_epochs is not None else [0, self.max_epochs]
        return np.asarray(grid, dtype=int)

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
        self.seeds = torch.as_tensor(np.asarray(seeds, dtype=np.int64), device=params[0].device)
        self.lr, self.wd = _per_replica(lr, r, params[0]), _per_replica(weight_decay, r, params[0])
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
                                        cfg.check_at_records) if cfg.checkpoint else ""
        self.started = self.last_log = self.last_checkpoint = time.time()

    @property
    def running(self) -> bool:
        return self.epoch < self.cfg.max_epochs and self.active.numel() > 0

    # ---- draw minibatches, step
    def draw_batches(self, epoch: int) -> Sequence:
        """The minibatches of one epoch of the active replicas."""
        n = self.data.x_train.shape[0]
        idx = None if self.cfg.batch_size == n else minibatch_indices(
            self.seeds[self.active], self.cfg.epoch_offset + epoch, n, self.cfg.batch_size)
        return self.model.batches(self.data, idx)

    def train_until(self, end: int) -> None:
        """SGD with coupled weight decay, ``p ← p·(1 − lr·wd) − lr·∇L``, up to epoch ``end``."""
        column = (-1, *([1] * (self.live[0].dim() - 1)))
        lr = self.lr[self.active].view(column)
        decay = 1 - lr * self.wd[self.active].view(column)
        with torch.no_grad():
            for epoch in range(self.epoch, end):
                batches = self.draw_batches(epoch)
                for batch in batches:
                    for p, g in zip(self.live, self.model.grads(self.live, batch)):
                        p.mul_(decay).sub_(lr * g)
                self.steps += len(batches) * self.active.numel()
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
