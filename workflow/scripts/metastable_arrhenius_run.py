"""Rule metastable_arrhenius_run: every (learning rate, seed) from the trap, until escape or budget."""
import sys

import torch

from grokrepro.engine import Data, DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import load_npz, provenance, save_npz
from grokrepro.metastable.arrhenius import temperature_sweep

sys.stderr = open(snakemake.log[0], "w")
p = snakemake.params
device, dtype = resolve_device(p.device), resolve_dtype(p.dtype)
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]},
                       device, dtype)
start, start_meta = load_npz(snakemake.input.start)
params = [torch.as_tensor(start[f"W{l}"], device=device, dtype=dtype) for l in range(p.depth)]
model = DeepLinear(tuple([params[0].shape[2]] + [w.shape[1] for w in params]))
sw, esc = p.sweep, p.escape
out = temperature_sweep(model, params, data, sw["start"], start["seeds"], p.beta, sw["lrs"], sw["batch_size"],
                        sw["max_epochs"], esc["check_every"], esc["sv_threshold"], p.polish["steps"], p.polish["lr"],
                        esc["record_points"])
out["start_phase"] = start["phase"]
save_npz(snakemake.output[0], out, provenance({"sweep": sw, "beta": p.beta, "escape": esc, "polish": p.polish,
                                               "start_config_hash": start_meta.get("config_hash")},
                                              seeds=start["seeds"].tolist()))
