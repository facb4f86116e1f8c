"""Cost of one full-batch GD step and of one metrics check of Study B's diagonal net, measured.

For jobs whose progress lines are dominated by their early record checks (the paper preset's
Fig 1a and diagonal scaling grid, where one check over the 10⁴ × 10⁵ test set takes seconds),
this measures the two costs separately, so a job's time can be estimated as
steps × step cost + record checks × check cost. The check is timed twice: as it runs now (the
int8 test set cast a cache-sized tile at a time into one reused buffer, ``data.cast_matmul``) and
as it ran before (each block of 2²⁴ entries cast into a fresh buffer), with the ratio. Usage:

    python benchmarks/dichotomy_step_cost.py results/paper/dichotomy/data/sparse.npz [--replicas 1 15]
    python benchmarks/dichotomy_step_cost.py --synthetic 10000 100000   # the paper's shape, 1 GB int8
"""
from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import torch

from grokrepro.dichotomy import data as D
from grokrepro.dichotomy import models
from grokrepro.io import load_npz


def fresh_cast_outputs(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``models._outputs`` before the reused buffer: each block of rows cast into a fresh tensor."""
    if x.is_floating_point():
        return w @ x.T
    return torch.cat([w @ x[b].to(w.dtype).T for b in D.row_blocks(*x.shape)], -1)


def timed(f, *args):
    t = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t, out


def load(args) -> dict:
    if args.synthetic:
        n_test, d = args.synthetic
        print(f"synthetic sparse_linear data: d = {d}, n_train = {args.n_train}, n_test = {n_test} (int8)")
        return D.sparse_linear(d, args.n_train, n_test, 3, 0)
    return load_npz(args.data)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", help="a Study B linear data set (.npz)")
    ap.add_argument("--synthetic", type=int, nargs=2, metavar=("N_TEST", "D"),
                    help="draw a sparse_linear data set of this shape instead of reading one")
    ap.add_argument("--n-train", type=int, default=256, help="training set size of --synthetic (paper: 256)")
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 15])
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--steps", type=int, default=30, help="GD steps timed per replica count")
    ap.add_argument("--alpha", type=float, default=128.0)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if (args.data is None) == (args.synthetic is None):
        ap.error("give a data set or --synthetic N_TEST D")
    dtype = getattr(torch, args.dtype)
    arrays = load(args)
    data = models.to_data(arrays, "diagonal", "cpu", dtype)
    d = arrays["x_train"].shape[1]
    print(f"d = {d}, n_train = {arrays['x_train'].shape[0]}, n_test = {arrays['x_test'].shape[0]} "
          f"({data.x_test.dtype}), {args.dtype}, torch threads {torch.get_num_threads()}")
    batch = (data.x_train, data.y_train)
    for r in args.replicas:
        model = models.DiagonalNet(d, 2, "logistic", record_w=True)
        params = model.init(np.full(r, args.alpha), dtype=dtype)
        with torch.no_grad():
            model.grads(params, batch)  # warm-up
            t = time.perf_counter()
            for _ in range(args.steps):
                for p, g in zip(params, model.grads(params, batch)):
                    p.mul_(1 - 0.01 * 0.001).sub_(0.01 * g)
            step = (time.perf_counter() - t) / args.steps
            new, got = timed(model.metrics, params, data)
            with mock.patch.object(models, "_outputs", fresh_cast_outputs):
                old, want = timed(model.metrics, params, data)
        diff = max(float((got[k] - want[k]).abs().max() / want[k].abs().max().clamp_min(1e-300))
                   for k in ("test_loss", "test_acc"))
        print(f"R = {r:3d}: {step * 1e3:8.1f} ms per GD step ({r / step:8.1f} replica-steps/s); one metrics check "
              f"{new:6.2f} s (reused tile buffer) vs {old:6.2f} s (fresh block casts): x{old / new:5.1f}; "
              f"test loss/acc max rel. difference {diff:.1e}")


if __name__ == "__main__":
    main()
