"""Cost of one GD step and one test-loss check of Study C's two-layer ReLU network, former
(einsum, out-of-place, mask ``pre > 0``) against current (``bmm``, in-place ReLU, σ' by sign)
formulation, side by side in one run, on the shapes of a preset's two-layer jobs.

The shapes come from the resolved config (``--preset``, default ``paper``): the Fig 1 job
(rule ridge_two_layer_fig1: seeds × n × m × d, n_test) and the Fig 4 default shape (rule
ridge_two_layer_sweep: its unique replicas at (n, m) of the defaults). Timings alternate old and
new and keep the fastest of ``--repeats`` rounds (the machine may be shared). Also printed: the
largest relative difference of the two formulations' losses after the timed steps. Usage:

    PYTHONPATH=$PWD/src python benchmarks/ridge_step_cost.py [--preset paper] [--steps 20] [--threads 1]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from grokrepro.config import resolve
from grokrepro.ridge import train

ROOT = Path(__file__).resolve().parents[1]


def shapes(preset):
    """(label, R, n, m, d, n_test) of the preset's two-layer jobs."""
    config = dict(yaml.safe_load((ROOT / "config.yaml").read_text()), preset=preset)
    cfg = resolve(config, ROOT / "workflow" / "schemas")
    f1, f4 = cfg["ridge"]["fig1"]["relu_net"], cfg["ridge"]["fig4"]
    d4 = f4["defaults"]
    uniq = {(d4["lam"] if k != "lam" else v, d4["nu2"] if k != "nu2" else v)
            for k in ("lam", "nu2") if k in f4["grids"] for v in f4["grids"][k]} | {(d4["lam"], d4["nu2"])}
    return [("fig1 (ridge_two_layer_fig1)", f1["seeds"], f1["n"], f1["m"], f1["d"], f1["n_test"]),
            ("fig4 defaults (ridge_two_layer_sweep)", f4["seeds"] * len(uniq), d4["n"], d4["m"], f4["d"], f4["n_test"])]


def old_step(X, W, A, lam, eta, buf=None):
    """The former loop body: einsum forward, mask ``pre > 0``, out-of-place updates."""
    hidden, out = train.relu_forward_einsum(X, W, A)
    train_loss = (out**2).sum(1) / (2 * X.shape[1])
    gA, gW = train.relu_grads_einsum(X, W, A, hidden, out, lam)
    return W - eta * gW, A - eta * gA, train_loss


def new_step(X, W, A, lam, eta, buf):
    """The current loop body (as in :func:`grokrepro.ridge.train.gd_two_layer`)."""
    h, out = train.relu_forward(X, W, A, buf)
    train_loss = (out**2).sum(1) / (2 * X.shape[1])
    gA, gW = train.relu_grads(X, W, A, h, out, lam)
    A.sub_(gA.mul_(eta))
    W.sub_(gW.mul_(eta))
    return W, A, train_loss


def old_test(Xt, W, A, buf=None):
    return (train.relu_forward_einsum(Xt, W, A)[1] ** 2).mean(1)


def new_test(Xt, W, A, buf):
    return (train.relu_forward(Xt, W, A, buf)[1] ** 2).mean(1)


def _time(step, check, state, steps, checks):
    """Seconds per GD step (``steps`` of them, from a copy of the state) and per test-loss check,
    with the last losses of each."""
    X, Xt, W, A, lam, eta = state
    W, A = W.clone(), A.clone()
    buf, buf_test = torch.empty(X.shape[0], X.shape[1], A.shape[1], dtype=X.dtype), None
    t = time.perf_counter()
    for _ in range(steps):
        W, A, loss = step(X, W, A, lam, eta, buf)
    t_step = (time.perf_counter() - t) / steps
    buf_test = torch.empty(Xt.shape[0], Xt.shape[1], A.shape[1], dtype=X.dtype)
    t = time.perf_counter()
    for _ in range(checks):
        test = check(Xt, W, A, buf_test)
    return t_step, (time.perf_counter() - t) / checks, loss, test


def bench(R, n, m, d, n_test, steps, repeats, checks, dtype=torch.float64):
    """Fastest step and check times of both formulations over ``repeats`` alternating rounds and
    the largest relative difference of their train and test losses."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(R, n, d, generator=g, dtype=dtype)
    Xt = torch.randn(R, n_test, d, generator=g, dtype=dtype)
    W = torch.randn(R, m, d, generator=g, dtype=dtype) / d**0.5
    A = torch.randn(R, m, generator=g, dtype=dtype) / m**0.5
    state = (X, Xt, W, A, torch.full((R,), 0.1, dtype=dtype), 1e-3)
    best, last = {}, {}
    for _ in range(repeats):
        for name, step, check in (("old", old_step, old_test), ("new", new_step, new_test)):
            t_step, t_check, *last[name] = _time(step, check, state, steps, checks)
            best[name] = np.minimum(best.get(name, np.inf), [t_step, t_check])
    rel = max(float(torch.max(torch.abs(a - b) / torch.abs(a))) for a, b in zip(last["old"], last["new"]))
    return best, rel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--steps", type=int, default=20, help="GD steps per timing")
    ap.add_argument("--checks", type=int, default=3, help="test-loss checks per timing")
    ap.add_argument("--repeats", type=int, default=5, help="rounds (old, new alternating); the fastest is kept")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"preset {args.preset}, float64, torch {torch.__version__}, {args.threads} thread(s), "
          f"fastest of {args.repeats} rounds")
    print(f"{'job':38s} {'R':>4s} {'n':>4s} {'m':>5s} {'d':>3s} | {'step old':>9s} {'step new':>9s} {'ratio':>5s} | "
          f"{'check old':>9s} {'check new':>9s} {'ratio':>5s} | max rel diff")
    for label, R, n, m, d, n_test in shapes(args.preset):
        b, rel = bench(R, n, m, d, n_test, args.steps, args.repeats, args.checks)
        (so, co), (sn, cn) = b["old"], b["new"]
        print(f"{label:38s} {R:4d} {n:4d} {m:5d} {d:3d} | {so * 1e3:7.2f}ms {sn * 1e3:7.2f}ms {so / sn:5.2f} | "
              f"{co * 1e3:7.1f}ms {cn * 1e3:7.1f}ms {co / cn:5.2f} | {rel:.1e}")

if __name__ == "__main__":
    main()
