"""Rule metastable_trap: checkpoint every seed in the requested start phase."""
import math

import numpy as np
import torch

from grokrepro.engine import Data, DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import load_npz, log, result_meta, save_npz
from grokrepro.metastable.beta_sweep import dims
from grokrepro.metastable.trap import feature_frames, make_start, phase_of
from grokrepro import provenance

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
p, wc = snakemake.params, snakemake.wildcards
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]},
                       resolve_device(p.device), resolve_dtype(p.dtype))
model = DeepLinear(dims(p.model["depth"], p.model["width"], train["x"].shape[1], train["y"].shape[1]))
init_std = p.model["init_std"] or 1 / math.sqrt(p.model["width"])
cfg = None if p.trap is None else dict(p.trap)
if cfg is not None and cfg["method"] == "annealed":
    cfg["beta_init"] = {wc.start: cfg["beta_init"]}
params, info = make_start(model, data, wc.start, p.seeds, cfg, init_std, op_beta=(cfg or {}).get("op_beta"))
k = min(train["x"].shape[1], train["y"].shape[1])
_, u, v, _ = feature_frames(train["x"], train["y"])
phase = phase_of(params, p.threshold, k, (u, v))
log(f"start {wc.start} at point {wc.point}: learned-feature pattern per seed {phase.astype(int).tolist()}, "
    f"{int(info['diverged'].sum())} diverged")
arrays = {f"W{l}": w.cpu().numpy() for l, w in enumerate(params)}
arrays.update({"phase": phase, "seeds": np.asarray(p.seeds), **info})
meta = result_meta({"trap": p.trap, "model": p.model, "seeds": p.seeds, "start": wc.start}, seeds=list(p.seeds))
save_npz(snakemake.output[0], arrays, meta)
