"""Rule metastable_escape: train from a start at an operating point, detect escapes online."""
import sys

import torch

from grokrepro.engine import Data, DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import load_npz, provenance, save_npz
from grokrepro.metastable.escape import run_escape

sys.stderr = open(snakemake.log[0], "w")
p, wc = snakemake.params, snakemake.wildcards
device, dtype = resolve_device(p.device), resolve_dtype(p.dtype)
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
data = Data.from_numpy({"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]},
                       device, dtype)
start, start_meta = load_npz(snakemake.input.start)
params = [torch.as_tensor(start[f"W{l}"], device=device, dtype=dtype) for l in range(p.depth)]
model = DeepLinear(tuple([params[0].shape[2]] + [w.shape[1] for w in params]))
pt, esc = p.point, p.escape
out = run_escape(model, params, data, wc.start, start["seeds"], pt["beta"], pt["lr"], pt["batch_size"],
                 pt["max_epochs"], esc["check_every"], esc["sv_threshold"], esc["stop_on_escape"], p.polish_steps,
                 esc["record_points"], label=f"escape {wc.point}/{wc.start}")
out["start_phase"] = start["phase"]
save_npz(snakemake.output[0], out, provenance({"point": pt, "escape": esc, "start": wc.start,
                                               "start_config_hash": start_meta.get("config_hash")},
                                              seeds=start["seeds"].tolist()))
