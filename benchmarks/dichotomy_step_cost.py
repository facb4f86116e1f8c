"""Cost of one full-batch GD step and of one metrics check of Study B's diagonal net, measured.

For jobs whose progress lines are dominated by their early record checks (the paper preset's
Fig 1a and diagonal scaling grid, where one check over the 10⁴ × 10⁵ test set takes seconds),
this measures the two costs separately, so a job's time can be estimated as
steps × step cost + record checks × check cost. Usage (a data set built by the pipeline):

    python benchmarks/dichotomy_step_cost.py results/paper/dichotomy/data/sparse.npz [--replicas 1 15]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from grokrepro.dichotomy import models
from grokrepro.io import load_npz


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="a Study B linear data set (.npz)")
    ap.add_argument("--replicas", type=int, nargs="+", default=[1, 15])
    ap.add_argument("--steps", type=int, default=30, help="GD steps timed per replica count")
    ap.add_argument("--alpha", type=float, default=128.0)
    args = ap.parse_args(argv)
    arrays, _ = load_npz(args.data)
    data = models.to_data(arrays, "diagonal", "cpu", torch.float64)
    d = arrays["x_train"].shape[1]
    print(f"d = {d}, n_train = {arrays['x_train'].shape[0]}, n_test = {arrays['x_test'].shape[0]}, "
          f"torch threads {torch.get_num_threads()}")
    batch = (data.x_train, data.y_train)
    for r in args.replicas:
        model = models.DiagonalNet(d, 2, "logistic", record_w=True)
        params = model.init(np.full(r, args.alpha))
        with torch.no_grad():
            model.grads(params, batch)  # warm-up
            t = time.perf_counter()
            for _ in range(args.steps):
                for p, g in zip(params, model.grads(params, batch)):
                    p.mul_(1 - 0.01 * 0.001).sub_(0.01 * g)
            step = (time.perf_counter() - t) / args.steps
            t = time.perf_counter()
            model.metrics(params, data)
            check = time.perf_counter() - t
        print(f"R = {r:3d}: {step * 1e3:8.1f} ms per GD step ({r / step:8.1f} replica-steps/s), "
              f"one metrics check {check:6.2f} s")


if __name__ == "__main__":
    main()
