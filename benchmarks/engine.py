"""Throughput of the batched engine against a loop over a plain single-network reference.

Workload: Study A's deep linear net 2→10→10→2, minibatch B = 64 from N = 512 samples, SGD with
weight decay, R replicas. Prints replica-steps per second of both and their ratio. Usage:

    python benchmarks/engine.py [--replicas 256] [--epochs 20] [--device cpu|cuda] [--dtype float32]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from grokrepro.engine import Data, DeepLinear, minibatch_indices, resolve_device, resolve_dtype, train
from grokrepro.metastable.data import DataSpec, generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import deep_linear_reference  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=20, help="epochs for the engine (8 steps each)")
    ap.add_argument("--ref-replicas", type=int, default=8, help="replicas timed with the reference loop")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    print(f"torch {torch.__version__}, device {device}, dtype {args.dtype}, threads {torch.get_num_threads()}")

    arrays = generate(DataSpec((0.9, 0.8), 2, 2, 512, 512, seed=0))
    data = Data.from_numpy(arrays, device, dtype)
    model = DeepLinear((2, 10, 10, 2))
    seeds = np.arange(args.replicas) + 42
    params = model.init(seeds, 10 ** -0.5, device=device, dtype=dtype)
    steps_per_epoch = 512 // 64

    train(model, params, data, 0.08, 0.32, 64, seeds, max_epochs=2, check_every=2)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    res = train(model, params, data, 0.08, 0.32, 64, seeds, max_epochs=args.epochs, check_every=args.epochs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    engine_rate = res.steps / (time.perf_counter() - t)

    seeds_t = torch.as_tensor(seeds, device=device)
    minibatch_indices(seeds_t, 0, 512, 64)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for e in range(args.epochs):
        minibatch_indices(seeds_t, e, 512, 64)
    if device.type == "cuda":
        torch.cuda.synchronize()
    order_s = (time.perf_counter() - t) / args.epochs  # per epoch, all replicas
    epoch_s = args.replicas * steps_per_epoch / engine_rate

    cpu_data = Data.from_numpy(arrays, "cpu", dtype)
    ref_epochs = max(1, args.epochs // 4)
    batches = {}
    for r in range(args.ref_replicas):  # minibatch orders prepared outside the timed region
        batches[r] = []
        for e in range(ref_epochs):
            mb = minibatch_indices(torch.tensor([int(seeds[r])]), e, 512, 64)
            batches[r] += [mb[s, 0] for s in range(mb.shape[0])]
    ref = lambda r: deep_linear_reference(  # noqa: E731
        [p[r].cpu() for p in params], cpu_data.x_train, cpu_data.y_train, 0.08, 0.32, batches[r], dtype=dtype)
    ref(0)  # warm-up (first autograd/optimizer call pays one-off costs)
    t = time.perf_counter()
    for r in range(args.ref_replicas):
        ref(r)
    ref_rate = args.ref_replicas * ref_epochs * steps_per_epoch / (time.perf_counter() - t)

    print(f"engine    R={args.replicas:5d}: {engine_rate:12.4g} replica-steps/s")
    print(f"minibatch orders     : {order_s * 1e3:12.3g} ms per epoch of all replicas "
          f"({order_s / epoch_s:.0%} of the engine's epoch)")
    print(f"reference loop       : {ref_rate:12.4g} replica-steps/s (nn.Linear + torch.optim.SGD, one replica at a time)")
    print(f"ratio engine/loop    : {engine_rate / ref_rate:12.1f}x")


if __name__ == "__main__":
    main()
