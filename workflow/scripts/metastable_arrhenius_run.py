"""Rule metastable_arrhenius_run: every (learning rate, seed) from the trap, until escape or budget."""

import torch
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.arrhenius import temperature_sweep
from grokrepro.metastable.trap import load_data, load_start
from grokrepro import provenance

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
ckpt = provenance.checkpoint(snakemake)
p = snakemake.params
device, dtype = resolve_device(p.device), resolve_dtype(p.dtype)
data = load_data(snakemake.input.train, snakemake.input.test, device, dtype)
model, params, start, start_meta = load_start(snakemake.input.start, device, dtype)
sw, esc = p.sweep, p.escape
out = temperature_sweep(model, params, data, sw["start"], start["seeds"], p.beta, sw["lrs"], sw["batch_size"],
                        sw["max_epochs"], esc["check_every"], esc["sv_threshold"], p.polish["steps"], p.polish["lr"],
                        esc["record_points"], **ckpt, start_diverged=start["diverged"])
out["start_phase"] = start["phase"]
save_npz(snakemake.output[0], out, result_meta({"sweep": sw, "beta": p.beta, "escape": esc, "polish": p.polish,
                                               "start_config_hash": start_meta.get("config_hash")},
                                              seeds=start["seeds"].tolist()))
