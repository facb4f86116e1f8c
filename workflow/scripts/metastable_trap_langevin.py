"""Rule metastable_trap_langevin: full-batch Langevin from the constructed rank-1 / trivial traps at one point."""
import torch
from grokrepro import provenance
from grokrepro.engine import DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.beta_sweep import dims
from grokrepro.metastable.langevin import trap_langevin
from grokrepro.metastable.trap import load_data

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
p = snakemake.params
data = load_data(snakemake.input.train, snakemake.input.test, resolve_device(p.device), resolve_dtype(p.dtype))
model = DeepLinear(dims(p.model["depth"], p.model["width"], data.x_train.shape[1], data.y_train.shape[1]))
c = p.cfg
out = trap_langevin(model, data, p.beta, c["starts"], c["ratio"], range(c["seeds"]), c["lr"], c["max_epochs"],
                    c["check_every"], c["record_points"], p.fraction, progress_every=30)
save_npz(snakemake.output[0], out, result_meta({"trap_langevin": c, "beta": p.beta, "fraction": p.fraction,
                                                "model": p.model}))
