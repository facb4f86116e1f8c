"""Rule metastable_escape: train from a start at an operating point, detect escapes online."""

import torch
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.escape import run_escape
from grokrepro.metastable.trap import load_data, load_start
from grokrepro import provenance

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
ckpt = provenance.checkpoint(snakemake)
p, wc = snakemake.params, snakemake.wildcards
device, dtype = resolve_device(p.device), resolve_dtype(p.dtype)
data = load_data(snakemake.input.train, snakemake.input.test, device, dtype)
model, params, start, start_meta = load_start(snakemake.input.start, device, dtype)
pt, esc = p.point, p.escape
out = run_escape(model, params, data, wc.start, start["seeds"], pt["beta"], pt["lr"], pt["batch_size"],
                 pt["max_epochs"], esc["check_every"], esc["sv_threshold"], esc["stop_on_escape"], p.polish_steps,
                 esc["record_points"], label=f"escape {wc.point}/{wc.start}", **ckpt)
out["start_phase"] = start["phase"]
out["start_diverged"] = start["diverged"]  # seeds whose trap training diverged
save_npz(snakemake.output[0], out, result_meta({"point": pt, "escape": esc, "start": wc.start,
                                               "start_config_hash": start_meta.get("config_hash")},
                                              seeds=start["seeds"].tolist()))
