"""Probe: is escape from the rank-1 trap noise-activated (Arrhenius) or set by the start?

Builds the theory-constructed rank-1 trap of Study A's dense data set at β (default 0.2,
below both β*), perturbs every weight by N(0, δ²), trains with SGD (B = 64) at several learning
rates (temperatures) and prints, per (δ, lr), how many seeds reached the learned rank-2 state
(σ₂(W) > 0.25, i.e. well past the saddle) within the budget, and their median epoch.

    python benchmarks/escape_probe.py [--beta 0.2] [--seeds 32] [--epochs 1000]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from grokrepro.engine import Data, DeepLinear, train
from grokrepro.metastable import trap
from grokrepro.metastable.data import DataSpec, generate


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beta", type=float, default=0.2)
    ap.add_argument("--seeds", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--perturbations", type=float, nargs="+", default=[0.001, 0.03, 0.1, 0.15])
    ap.add_argument("--lrs", type=float, nargs="+", default=[0.02, 0.08, 0.3])
    args = ap.parse_args(argv)
    d = generate(DataSpec((0.9, 0.8), 2, 2, 512, 512, seed=0))
    data = Data.from_numpy(d, "cpu", torch.float64)
    model = DeepLinear((2, 10, 10, 2))
    seeds = np.arange(42, 42 + args.seeds)
    base, _ = trap.constructed(model, d["x_train"], d["y_train"], (True, False), args.beta, seeds)
    base = trap.polish(model, base, data, args.beta, 0.05, 2000)
    print(f"beta={args.beta}, {args.seeds} seeds, budget {args.epochs} epochs, escape = sigma_2 > 0.25")
    print(f"{'delta':>8} {'lr':>6} {'escaped':>9} {'median epoch':>13}")
    for delta in args.perturbations:
        for lr in args.lrs:
            start = trap.perturb(base, delta, seeds)
            esc = torch.full((len(seeds),), float("nan"))

            def monitor(epoch, mets, idx, esc=esc):
                hit = mets["svals"][:, 1] > 0.25
                esc[idx[hit]] = float(epoch)
                return hit

            train(model, start, data, lr, args.beta, 64, seeds, args.epochs, check_every=5, monitor=monitor,
                  progress_every=0)
            n_esc = int(torch.isfinite(esc).sum())
            med = float(np.nanmedian(esc.numpy())) if n_esc else float("nan")
            print(f"{delta:8.3g} {lr:6.3g} {n_esc:4d}/{len(seeds):<4d} {med:13.4g}", flush=True)


if __name__ == "__main__":
    main()
