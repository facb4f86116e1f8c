"""Throughput of the batched engine against other ways of training many small nets at once.

Workload: Study A's deep linear net 2→10→10→2, minibatch B = 64 from N = 512 samples, SGD with
weight decay, R replicas (each its own seed, so its own minibatch order), float64. Measured in one
process, each timing the best of a few repeats (the machine may be shared):

  engine          grokrepro.engine.train in its default form on a CPU, the C kernel (grokrepro.native),
                  and in its torch forms (as on a machine without a C compiler), eager
                  (``compile=False``) and compiled (``compile=True``)
  old engine      the engine of commit 964d215 (``--old``), for a before/after ratio
  previous        the engine of any commit (``--previous REV``), compiled, timed in a fresh process
                  (nothing this process set up, e.g. the allocator setting of ``train``, reaches it),
                  next to this tree's engine timed the same way
  loop            nn.Linear layers + torch.optim.SGD, one replica at a time
  vmap            torch.func.vmap(grad(functional_call)) over the replicas, eager and torch.compile'd
  bmm             a hand-written batched step on the samples (bmm forward/backward, no moments)

The comparators get their minibatch orders precomputed (outside the timed region); the engine
draws its own, and each timed engine call includes its two full-data checks (start and end, as in
a run with ``check_every`` = the epochs timed, ≥ 10). Prints replica-steps/s, the ratios, the
fraction of the measured matmul peak, and the cost against R; the last four lines are the headline
numbers. Usage:

    python benchmarks/engine.py [--replicas 256] [--threads 1] [--device cpu|cuda] [--old] [--previous REV] [--quick]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from grokrepro import engine, native
from grokrepro.engine import Data, DeepLinear, minibatch_indices, resolve_device, resolve_dtype, train
from grokrepro.metastable.data import DataSpec, generate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from reference import deep_linear_reference  # noqa: E402

DIMS, N, B, LR, WD = (2, 10, 10, 2), 512, 64, 0.08, 0.32
STEPS = N // B  # per epoch


def step_flops(dims=DIMS, batch=B) -> dict[str, int]:
    """FLOPs per replica-step of the engine's formulation (a multiply-add counts 2)."""
    p, q, L = dims[0], dims[-1], len(dims) - 1
    forward = sum(2 * dims[k] * dims[k - 1] * p for k in range(2, L + 1))  # P_k = W_k P_{k-1}
    residual = 2 * q * p * p + q * p  # D = lr·(Syx − P_L Sxx)
    backward = sum(2 * dims[k] * p * dims[k - 1] + 2 * dims[k - 1] * dims[k] * p for k in range(2, L + 1))
    update = 2 * sum(a * b for a, b in zip(dims[:-1], dims[1:]))  # W ← decay·W + D P^T
    moments = (batch + 1) * (p * p + q * p)  # the minibatch's mean moments, times lr
    return {"step": forward + residual + backward + update, "moments": moments}


CLOCK = time.perf_counter  # main() switches to the process's CPU time for one thread on a CPU


def best_time(fn, repeats: int, sync) -> float:
    fn()  # warm-up (first calls pay one-off costs; a compiled function compiles here)
    sync()
    times = []
    for _ in range(repeats):
        t = CLOCK()
        fn()
        sync()
        times.append(CLOCK() - t)
    return min(times)


def matmul_peak(dtype, device, sync, n=1024) -> float:
    """GFLOP/s of one large matmul in ``dtype`` with the threads set (the machine's reachable peak)."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    return 2 * n**3 / best_time(lambda: a @ b, 5, sync) / 1e9


def old_engine(rev: str = "964d215"):
    """The engine module of commit ``rev`` (default: before the batched rewrite), imported from ``git show``."""
    src = subprocess.run(["git", "show", f"{rev}:src/grokrepro/engine.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"engine_{rev}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"grokrepro._engine_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------- comparators
def orders(seeds, epochs: int, device) -> list[torch.Tensor]:
    """The engine's minibatch indices, (R, B) per step, for ``epochs`` epochs."""
    out = []
    for e in range(epochs):
        idx = minibatch_indices(seeds, e, N, B, device)
        out += list(idx)
    return out


def vmap_step(dims, dtype, device):
    """One SGD step of R replicas by torch.func: vmap over replicas of grad of a functional_call."""
    net = nn.Sequential(*[nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:])]).to(device, dtype)
    names = [f"{k}.weight" for k in range(len(dims) - 1)]

    def loss(ws, x, y):
        pred = functional_call(net, dict(zip(names, ws)), (x,))
        return 0.5 * (pred - y).pow(2).sum(-1).mean()

    grads = vmap(grad(loss))

    def step(ws, x, y, lr, decay):
        return tuple(w * decay - lr * g for w, g in zip(ws, grads(ws, x, y)))

    return step


def bmm_step(ws, x, y, lr, decay):
    """One SGD step of R replicas written by hand on the samples: bmm forward and backward."""
    acts = [x]
    for w in ws:
        acts.append(torch.bmm(acts[-1], w.transpose(1, 2)))
    d = (acts[-1] - y) / x.shape[1]
    new = [None] * len(ws)
    for k in range(len(ws) - 1, -1, -1):
        g = torch.bmm(d.transpose(1, 2), acts[k])
        if k:
            d = torch.bmm(d, ws[k])
        new[k] = ws[k] * decay - lr * g
    return tuple(new)


def run_steps(step, params, data: Data, batches, lr, decay):
    ws = tuple(params)
    for idx in batches:
        ws = step(ws, data.x_train[idx], data.y_train[idx], lr, decay)
    return ws


def loop_rate(params, data: Data, seeds, epochs: int, replicas: int, dtype) -> float:
    """nn.Linear + torch.optim.SGD, one replica after the other (CPU)."""
    cpu = Data(data.x_train.cpu(), data.y_train.cpu())
    batches = {r: [b[0].cpu() for b in orders(seeds[r:r + 1], epochs, "cpu")] for r in range(replicas)}
    ref = lambda r: deep_linear_reference([p[r].cpu() for p in params], cpu.x_train, cpu.y_train, LR, WD,  # noqa: E731
                                          batches[r], dtype=dtype)
    ref(0)
    t = CLOCK()
    for r in range(replicas):
        ref(r)
    return replicas * epochs * STEPS / (CLOCK() - t)


# ------------------------------------------------------------------------------- measurements
class Bench:
    """Replica-steps/s of every method on R replicas of the workload."""

    def __init__(self, data: Data, device, dtype, repeats: int):
        self.data, self.device, self.dtype, self.repeats = data, device, dtype, repeats
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def setup(self, r: int):
        seeds = np.arange(r) + 42
        return seeds, DeepLinear(DIMS).init(seeds, 10 ** -0.5, self.device, self.dtype)

    def engine(self, r: int, epochs: int, compile: bool, module=engine, kernel: bool = True) -> float:
        """The engine's replica-steps/s; ``kernel=False``: its torch forms (as without a C compiler)."""
        seeds, params = self.setup(r)
        model = module.DeepLinear(DIMS)
        compiles = hasattr(module, "RunSettings") and "compile" in module.RunSettings.__dataclass_fields__
        extra = {"compile": compile} if compiles else {}
        run = lambda: module.train(model, params, self.data, LR, WD, B, seeds, epochs, check_every=epochs,  # noqa: E731
                                   progress_every=0, **extra)
        with contextlib.nullcontext() if kernel else native.disabled():
            return r * epochs * STEPS / best_time(run, self.repeats, self.sync)

    def engine_marginal(self, r: int, epochs: int, compile: bool, kernel: bool = True) -> float:
        """Replica-steps/s of the epochs alone: (time of 2·epochs − time of epochs), so without the
        fixed cost of a call (its two full-data checks) that the comparators do not pay."""
        seeds, params = self.setup(r)
        model = DeepLinear(DIMS)
        with contextlib.nullcontext() if kernel else native.disabled():
            t = [best_time(lambda: train(model, params, self.data, LR, WD, B, seeds, e, check_every=e,  # noqa: B023
                                         progress_every=0, compile=compile), self.repeats, self.sync)
                 for e in (epochs, 2 * epochs)]
        return r * epochs * STEPS / max(t[1] - t[0], 1e-9)

    def stepper(self, r: int, epochs: int, step) -> float:
        seeds, params = self.setup(r)
        batches = orders(seeds, epochs, self.device)
        lr = torch.full((r, 1, 1), LR, dtype=self.dtype, device=self.device)
        decay = 1 - lr * WD
        run = lambda: run_steps(step, params, self.data, batches, lr, decay)  # noqa: E731
        return r * len(batches) / best_time(run, self.repeats, self.sync)

    def agreement(self, r: int, epochs: int, steps: dict) -> float:
        """Largest relative difference of the final layers of each step function from the engine's."""
        seeds, params = self.setup(r)
        ref = train(DeepLinear(DIMS), params, self.data, LR, WD, B, seeds, epochs, check_every=epochs,
                    progress_every=0, compile=False).params
        batches = orders(seeds, epochs, self.device)
        lr = torch.full((r, 1, 1), LR, dtype=self.dtype, device=self.device)
        worst = 0.0
        for step in steps.values():
            out = run_steps(step, params, self.data, batches, lr, 1 - lr * WD)
            worst = max(worst, *(((a - b).norm() / a.norm()).item() for a, b in zip(ref, out)))
        return worst


def epochs_for(r: int, target: int, lo=2, hi=200) -> int:
    """Epochs so that one timed run is about ``target`` replica-steps."""
    return int(min(max(math.ceil(target / (r * STEPS)), lo), hi))


def scaling(bench: Bench, rs, vmap_eager, target: int) -> list[dict]:
    rows = []
    for r in rs:
        e = epochs_for(r, target)
        ee = max(e, 10)  # the engine's run includes two full-data checks: spread them over ≥ 10 epochs
        row = {"R": r, **({"engine (C kernel)": bench.engine(r, ee, False)} if native.library() else {}),
               "engine (torch, eager)": bench.engine(r, ee, False, kernel=False),
               "engine (torch, compiled)": bench.engine(r, ee, True, kernel=False),
               "bmm on samples": bench.stepper(r, e, bmm_step), "vmap (eager)": bench.stepper(r, e, vmap_eager)}
        rows.append(row)
        print(f"  R={r:5d}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items() if k != "R"), flush=True)
    return rows


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.6))
    rs = [row["R"] for row in rows]
    for k in rows[0]:
        if k == "R":
            continue
        rate = np.array([row[k] for row in rows])
        ax.plot(rs, rate, "o-", label=k)
        bx.plot(rs, np.array(rs) / rate * 1e6, "o-", label=k)
    ax.set(xscale="log", yscale="log", xlabel="replicas R", ylabel="replica-steps / s", title=title)
    bx.set(xscale="log", yscale="log", xlabel="replicas R", ylabel="µs per SGD step of all R")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def previous_rate(rev: str, r: int, epochs: int, args) -> float:
    """Replica-steps/s of the engine of commit ``rev`` (compiled), timed by this script in a fresh process."""
    cmd = [sys.executable, __file__, "--engine-of", rev, "--replicas", str(r), "--epochs", str(epochs), "--repeats",
           str(args.repeats), "--threads", str(args.threads), "--dtype", args.dtype, "--clock", args.clock]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20, help="epochs per timed run at --replicas (8 steps each)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per measurement (the best counts)")
    ap.add_argument("--old", action="store_true", help="also time the engine of commit 964d215")
    ap.add_argument("--previous", metavar="REV", help="also time the engine of commit REV (compiled, fresh process)")
    ap.add_argument("--engine-of", metavar="REV", help=argparse.SUPPRESS)  # the child of --previous: print its rate
    ap.add_argument("--quick", action="store_true", help="smoke test: few replicas and epochs, no plot")
    ap.add_argument("--clock", choices=("auto", "cpu", "wall"), default="auto",
                    help="auto: the process's CPU time with one thread on a CPU (robust to other jobs on a "
                         "shared machine), else wall time")
    ap.add_argument("--plot", default=str(ROOT / "docs" / "engine_scaling.png"))
    args = ap.parse_args(argv)
    global CLOCK
    torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    cpu_clock = args.clock == "cpu" or (args.clock == "auto" and device.type == "cpu" and args.threads == 1)
    CLOCK = time.process_time if cpu_clock else time.perf_counter
    r, epochs, rs, target = args.replicas, args.epochs, (1, 16, 256, 4096), 40_000
    if args.quick:
        r, epochs, rs, target, args.repeats = min(r, 16), 2, (1, 16), 500, 1
    print(f"torch {torch.__version__}, device {device}, dtype {args.dtype}, threads {torch.get_num_threads()}, "
          f"workload {'→'.join(map(str, DIMS))}, B={B}, N={N}; timed by {'CPU' if cpu_clock else 'wall'} time")
    data = Data.from_numpy(generate(DataSpec((0.9, 0.8), 2, 2, N, N, seed=0)), device, dtype)
    bench = Bench(data, device, dtype, args.repeats)
    if args.engine_of:
        module = engine if args.engine_of == "." else old_engine(args.engine_of)
        print(bench.engine(args.replicas, args.epochs, True, module=module))
        return
    fl = step_flops()
    peak = matmul_peak(dtype, device, bench.sync)
    print(f"matmul peak ({args.dtype}, {torch.get_num_threads()} thread(s)): {peak:.3g} GFLOP/s; engine formulation: "
          f"{fl['step']} FLOP per replica-step in the step + {fl['moments']} for the minibatch moments")

    vmap_eager = vmap_step(DIMS, dtype, device)
    vmap_compiled = torch.compile(vmap_step(DIMS, dtype, device), dynamic=False)
    kernel_ok = native.library() is not None
    rate = {"engine (C kernel)": bench.engine(r, epochs, False)} if kernel_ok else {}
    rate["engine (torch, eager)"] = bench.engine(r, epochs, False, kernel=False)
    rate["engine (torch, compiled)"] = bench.engine(r, epochs, True, kernel=False)
    compiled_ok = engine._COMPILED.get(engine.deep_linear_epoch_replicas_last) is not False
    if args.old:
        rate["old engine (964d215)"] = bench.engine(r, epochs, False, module=old_engine())
    if args.previous:
        fresh = {"engine (this tree), fresh process": previous_rate(".", r, epochs, args),
                 f"previous ({args.previous})": previous_rate(args.previous, r, epochs, args)}
        rate.update(fresh)
    rate["bmm on samples"] = bench.stepper(r, epochs, bmm_step)
    rate["vmap (eager)"] = bench.stepper(r, epochs, vmap_eager)
    try:
        rate["vmap (compiled)"] = bench.stepper(r, epochs, vmap_compiled)
    except Exception as err:  # noqa: BLE001 -- no compiler here: report it, keep the rest
        print(f"vmap (compiled): torch.compile failed ({type(err).__name__}); ratio against eager vmap instead")
        rate["vmap (compiled)"] = rate["vmap (eager)"]
    rate["loop"] = loop_rate(bench.setup(r)[1], data, bench.setup(r)[0], max(1, epochs // 10), min(r, 8), dtype)
    torch_forms = ("engine (torch, eager)", "engine (torch, compiled)")
    torch_head = max(torch_forms, key=rate.get) if compiled_ok else "engine (torch, eager)"
    head = "engine (C kernel)" if kernel_ok else torch_head
    marginal = bench.engine_marginal(r, epochs, head == "engine (torch, compiled)", kernel=kernel_ok)
    print(f"R = {r}, {epochs} epochs per timed run, best of {args.repeats}:")
    for k, v in rate.items():
        print(f"  {k:22s} {v:12.4g} replica-steps/s")
    diff = bench.agreement(min(r, 64), 2, {"bmm": bmm_step, "vmap": vmap_eager})
    print(f"bmm and vmap end where the engine ends: largest relative difference of the layers {diff:.1e}")
    print(f"  {head}, epochs alone (without the two checks of a call): {marginal:.4g} replica-steps/s; "
          f"ratio to vmap (compiled) {marginal / rate['vmap (compiled)']:.1f}")
    if not kernel_ok:
        print("the C kernel cannot be built here (no C compiler): the engine figures are its torch forms'")
    if not compiled_ok:
        print("torch.compile does not work here: the torch-form figures are the eager engine's")
    if args.old:
        print(f"engine/old-engine ratio: {rate['engine (torch, eager)'] / rate['old engine (964d215)']:.2f} (eager), "
              f"{rate[head] / rate['old engine (964d215)']:.2f} ({head})")

    if args.previous:
        new, old = fresh.values()
        print(f"engine/previous ratio: {new / old:.2f} (the compiled engine of this tree against that of "
              f"{args.previous}, each in a fresh process)")
    print("cost against R (replica-steps/s):")
    rows = scaling(bench, rs, vmap_eager, target)
    print("| R | " + " | ".join(k for k in rows[0] if k != "R") + " |")
    print("|---" * len(rows[0]) + "|")
    for row in rows:
        print(f"| {row['R']} | " + " | ".join(f"{v:.3g}" for k, v in row.items() if k != "R") + " |")
    if not args.quick:
        plot(rows, Path(args.plot), f"{'→'.join(map(str, DIMS))}, B={B}, {args.dtype}, {torch.get_num_threads()} thr")
    print(f"headline: {head} (the engine's default form here; best torch form {torch_head}: "
          f"{rate[torch_head]:.4g}, {rate[head] / rate[torch_head]:.1f}x slower)")
    print(f"engine replica-steps/s: {rate[head]:.4g}")
    print(f"engine/loop ratio: {rate[head] / rate['loop']:.1f}")
    print(f"engine/vmap-compiled ratio: {rate[head] / rate['vmap (compiled)']:.1f}")
    print(f"fraction of peak: {rate[head] * (fl['step'] + fl['moments']) / (peak * 1e9):.3f}")


if __name__ == "__main__":
    main()
