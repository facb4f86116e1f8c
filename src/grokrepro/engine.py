"""The batched training engine.

R replicas of one model family are trained as a single tensor program: parameters are stacked
on a leading replica dimension, and every replica has its own seed (initialisation and
minibatch order), learning rate and weight decay. SGD with coupled weight decay on every
parameter (``p ← p − lr·(∇L + wd·p)``, exactly ``torch.optim.SGD(weight_decay=wd)``).

Metrics are computed every ``check_every`` epochs; a monitor decides per replica when it is
done (converged, escaped, ...). Done and diverged replicas are compacted away so they stop
costing compute. A replica whose loss or parameters turn non-finite is marked ``DIVERGED``;
its last finite parameters are kept and its metrics after that point are NaN.

Model families implement :class:`BatchedModel`: ``init`` (parameters from per-replica seeds),
``loss_and_grads`` (per-replica loss and gradients on per-replica minibatches), and
``metrics`` (full-dataset diagnostics). The deep linear network lives here; other families
live beside their study.
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
        """Full-dataset diagnostics, each (R, ...); must include ``train_loss``."""


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
            for l, (din, dout) in enumerate(zip(self.dims[:-1], self.dims[1:])):
                layers[l].append(torch.randn(dout, din, generator=g, dtype=torch.float64) * std)
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
        for l in range(len(params) - 1, -1, -1):
            left = g if suffix is None else torch.bmm(suffix.transpose(1, 2), g)
            grads[l] = left if l == 0 else torch.bmm(left, prefix[l - 1].transpose(1, 2))
            suffix = params[l] if suffix is None else torch.bmm(suffix, params[l])
        return grads

    def metrics(self, params, data: Data) -> dict[str, torch.Tensor]:
        w = self.end_to_end(params)  # (R, q, p)
        out = {"train_loss": _mse(w, data.x_train, data.y_train)}
        if data.x_test is not None:
            out["test_loss"] = _mse(w, data.x_test, data.y_test)
        sv = torch.linalg.svdvals(w)
        out["svals"] = sv
        out["eff_rank"] = (sv > self.rank_threshold).sum(dim=1).to(sv.dtype)
        out["param_norm"] = torch.sqrt(sum(p.pow(2).sum(dim=(1, 2)) for p in params))
        return out


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


@dataclass
class RunResult:
    params: list[torch.Tensor]
    status: np.ndarray  # (R,) RUNNING/DONE/DIVERGED/BUDGET at the end
    stop_epoch: np.ndarray  # (R,) epoch at which the replica stopped (max_epochs if it ran out)
    record_epochs: np.ndarray  # (E,)
    records: dict[str, np.ndarray] = field(default_factory=dict)  # each (E, R, ...), NaN after stop
    steps: int = 0  # replica-steps actually computed


def train(
    model: BatchedModel,
    params: list[torch.Tensor],
    data: Data,
    lr,
    weight_decay,
    batch_size: int,
    seeds,
    max_epochs: int,
    check_every: int = 1,
    record_epochs=None,
    monitor: Monitor | None = None,
    epoch_offset: int = 0,
    progress_every: float = 30.0,
    label: str = "train",
    check_at_records: bool = False,
    checkpoint: str | Path | None = None,
    checkpoint_every: float = 600.0,
    monitor_state: dict[str, torch.Tensor] | None = None,
) -> RunResult:
    """Train all replicas with minibatch SGD for up to ``max_epochs`` epochs.

    ``lr`` and ``weight_decay`` are scalars or (R,) arrays. ``monitor(epoch, metrics, idx)``
    is called after every check with the metrics of the active replicas (``idx`` their
    indices) and returns a bool mask of the ones that are done. ``epoch_offset`` shifts the
    minibatch-order stream (used when a run continues from an earlier one).
    ``check_at_records=True`` adds a check at every epoch of ``record_epochs`` (otherwise only
    record epochs that fall on a check, i.e. multiples of ``check_every``, are recorded).

    ``checkpoint``: a file to which the whole loop state (parameters, active replicas, records,
    statuses and the tensors of ``monitor_state``, the monitor's own state) is written atomically
    after a check once ``checkpoint_every`` seconds have passed since the last one. A call that
    finds a checkpoint of the same run (same model, data, initial parameters and arguments)
    continues from it and gives exactly the result of an uninterrupted call; the file is removed
    when the call returns.
    """
    torch.set_flush_denormal(True)
    device, dtype = params[0].device, params[0].dtype
    r = params[0].shape[0]
    seeds_t = torch.as_tensor(np.asarray(seeds, dtype=np.int64), device=device)
    lr_t = torch.as_tensor(np.broadcast_to(np.asarray(lr, dtype=float), (r,)).copy(), device=device, dtype=dtype)
    wd_t = torch.as_tensor(np.broadcast_to(np.asarray(weight_decay, dtype=float), (r,)).copy(), device=device, dtype=dtype)
    n = data.x_train.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples")
    full_batch = batch_size == n
    record_epochs = np.asarray(record_epochs if record_epochs is not None else [0, max_epochs], dtype=int)
    record_set = {int(e): i for i, e in enumerate(record_epochs)}
    records: dict[str, np.ndarray] = {}

    params = [p.clone() for p in params]
    status = np.full(r, RUNNING)
    stop_epoch = np.full(r, max_epochs)
    active = torch.arange(r, device=device)
    act_params = [p[active] for p in params]
    steps_done = 0
    t0 = last_log = time.time()

    def shape(t):
        return t.view(-1, *([1] * (act_params[0].dim() - 1)))

    def check(epoch: int):
        nonlocal active, act_params
        with torch.no_grad():
            mets = model.metrics(act_params, data)
        bad = ~torch.isfinite(mets["train_loss"])
        for p in act_params:
            bad |= ~torch.isfinite(p.flatten(1)).all(dim=1)
        if epoch in record_set:
            i = record_set[epoch]
            idx_np = active.cpu().numpy()
            for k, v in mets.items():
                if k not in records:
                    records[k] = np.full((len(record_epochs), r, *v.shape[1:]), np.nan)
                vals = v.detach().cpu().numpy().astype(float)
                vals[bad.cpu().numpy()] = np.nan
                records[k][i, idx_np] = vals
        done = monitor(epoch, mets, active) if monitor is not None else torch.zeros_like(bad)
        done = done.to(device) & ~bad
        finished = bad | done
        if finished.any():
            fin_idx = active[finished].cpu().numpy()
            status[active[bad].cpu().numpy()] = DIVERGED
            status[active[done].cpu().numpy()] = DONE
            stop_epoch[fin_idx] = epoch
            keep = ~finished
            for p, ap in zip(params, act_params):
                p[active[finished]] = ap[finished]
            active = active[keep]
            act_params = [ap[keep] for ap in act_params]
        return mets

    fingerprint = _fingerprint(model, params, data, lr_t, wd_t, seeds_t, max_epochs, check_every, record_epochs,
                               batch_size, epoch_offset, check_at_records) if checkpoint else ""
    state = _load_checkpoint(checkpoint, fingerprint) if checkpoint else None
    if state is not None:
        epoch, steps_done = state["epoch"], state["steps_done"]
        for p, saved in zip(params, state["params"]):
            p.copy_(saved)
        active = state["active"].to(device)
        act_params = [p[active] for p in params]
        status[:], stop_epoch[:] = state["status"].numpy(), state["stop_epoch"].numpy()
        records = {k: v.numpy().copy() for k, v in state["records"].items()}
        for k, v in (monitor_state or {}).items():
            v.copy_(state["monitor_state"][k])
        log(f"[{label}] resumed from checkpoint {checkpoint} at epoch {epoch}")
    else:
        check(0)
        epoch = 0
    last_good = [p.clone() for p in act_params]
    last_ckpt = time.time()
    while epoch < max_epochs and active.numel():
        chunk = min(check_every, max_epochs - epoch)
        if check_at_records:
            upcoming = record_epochs[record_epochs > epoch]
            if upcoming.size:
                chunk = min(chunk, int(upcoming[0]) - epoch)
        lr_a, wd_a, seeds_a = shape(lr_t[active]), shape(wd_t[active]), seeds_t[active]
        decay = 1 - lr_a * wd_a
        with torch.no_grad():
            for e in range(epoch, epoch + chunk):
                idx = None if full_batch else minibatch_indices(seeds_a, epoch_offset + e, n, batch_size)
                batches = model.batches(data, idx)
                for batch in batches:
                    for p, g in zip(act_params, model.grads(act_params, batch)):
                        p.mul_(decay).sub_(lr_a * g)
                steps_done += len(batches) * active.numel()
        epoch += chunk
        # restore last finite params for replicas that blow up before the next check
        nonfinite = torch.zeros(active.numel(), dtype=torch.bool, device=device)
        for p in act_params:
            nonfinite |= ~torch.isfinite(p.flatten(1)).all(dim=1)
        if nonfinite.any():
            for p, lg in zip(act_params, last_good):
                p[nonfinite] = lg[nonfinite]
            status[active[nonfinite].cpu().numpy()] = DIVERGED
            stop_epoch[active[nonfinite].cpu().numpy()] = epoch
            keep = ~nonfinite
            for p, ap in zip(params, act_params):
                p[active[nonfinite]] = ap[nonfinite]
            active = active[keep]
            act_params = [ap[keep] for ap in act_params]
            if not active.numel():
                break
        check(epoch)
        last_good = [p.clone() for p in act_params]
        now = time.time()
        if checkpoint and now - last_ckpt >= checkpoint_every and active.numel():
            for p, ap in zip(params, act_params):
                p[active] = ap
            _save_checkpoint(checkpoint, {
                "fingerprint": fingerprint, "epoch": epoch, "steps_done": steps_done,
                "params": [p.cpu() for p in params], "active": active.cpu(),
                "status": torch.from_numpy(status.copy()), "stop_epoch": torch.from_numpy(stop_epoch.copy()),
                "records": {k: torch.from_numpy(v) for k, v in records.items()},
                "monitor_state": {k: v.cpu() for k, v in (monitor_state or {}).items()}})
            last_ckpt = now
        if progress_every and now - last_log > progress_every:
            rate = epoch / (now - t0)
            log(f"[{label}] epoch {epoch}/{max_epochs}, {active.numel()}/{r} replicas running, "
                f"{steps_done / (now - t0):.3g} replica-steps/s, <= {(max_epochs - epoch) / max(rate, 1e-9):.0f}s left")
            last_log = now
    for p, ap in zip(params, act_params):
        p[active] = ap
    status[active.cpu().numpy()] = np.where(epoch >= max_epochs, BUDGET, RUNNING)
    if checkpoint:
        Path(checkpoint).unlink(missing_ok=True)
    return RunResult(params=params, status=status, stop_epoch=stop_epoch, record_epochs=record_epochs,
                     records=records, steps=steps_done)
