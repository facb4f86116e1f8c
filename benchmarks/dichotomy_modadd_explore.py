"""Exploration for Study B Figs 2/4 (modular addition, two-layer ReLU): which laptop-scale
settings show grokking?  Not part of the pipeline; run by hand, one core:

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/dichotomy_modadd_explore.py \
        --p 23 --frac 0.7 --width 128 --lr 0.5 --wd 0.005 --alpha 1 --steps 10000

Every combination of the listed --alpha x --wd is one replica of one batched engine call
(exactly the pipeline's ``run_grid``).  Prints train/test accuracy, train loss and ||theta|| on
a log grid, then the fit step, transition step and final test accuracy per replica.
"""
import argparse
import time

import torch

from grokrepro.dichotomy import analysis, data, runs

ap = argparse.ArgumentParser()
ap.add_argument("--p", type=int, default=23)
ap.add_argument("--frac", type=float, default=0.7)
ap.add_argument("--width", type=int, default=128)
ap.add_argument("--lr", type=float, default=0.5)
ap.add_argument("--wd", type=float, nargs="+", default=[0.005])
ap.add_argument("--alpha", type=float, nargs="+", default=[1.0])
ap.add_argument("--seeds", type=int, nargs="+", default=[0])
ap.add_argument("--zero2", action="store_true")
ap.add_argument("--normalized", action="store_true")
ap.add_argument("--steps", type=int, default=10000)
ap.add_argument("--points", type=int, default=30)
ap.add_argument("--dtype", default="float64")
ap.add_argument("--quiet", action="store_true")
a = ap.parse_args()
torch.set_num_threads(1)
arr = data.modular_addition(a.p, a.frac, 0)
run = dict(family="relu", dataset="modadd", width=a.width, zero_second_layer=a.zero2, normalized=a.normalized,
           alphas=a.alpha, weight_decays=a.wd, lr=a.lr, steps=a.steps, points=a.points, horizon=None)
t = time.time()
out = runs.run_grid(run, arr, a.seeds, dtype=getattr(torch, a.dtype))
dt = time.time() - t
s = out["steps"]
R = len(out["grid_alpha"])
print(f"# p={a.p} frac={a.frac} n_train={len(arr['y_train'])} h={a.width} lr={a.lr} zero2={a.zero2} "
      f"norm={a.normalized} steps={a.steps}: {dt:.1f}s for {R} replicas")
for r in range(R):
    tr_acc, te_acc = out["rec_train_acc"][:, r], out["rec_test_acc"][:, r]
    loss, nrm = out["rec_train_loss"][:, r], out["rec_param_norm"][:, r]
    fit = analysis.fit_step(s, tr_acc, True)
    trn = analysis.transition(s, te_acc, fit, 3, 0.05)
    print(f"## alpha={out['grid_alpha'][r]:g} wd={out['grid_weight_decay'][r]:g} seed={out['grid_seed'][r]}: "
          f"fit={fit:.0f} transition={trn['step']:.0f} plateau={trn['plateau']:.3f} final={trn['final']:.3f} "
          f"status={out['status'][r]}")
    if not a.quiet:
        for i in range(0, len(s), max(1, len(s) // 15)):
            print(f"   {s[i]:>8d} train {tr_acc[i]:.3f} test {te_acc[i]:.3f} loss {loss[i]:.3g} norm {nrm[i]:.3g}")
        print(f"   {s[-1]:>8d} train {tr_acc[-1]:.3f} test {te_acc[-1]:.3f} loss {loss[-1]:.3g} norm {nrm[-1]:.3g}")
