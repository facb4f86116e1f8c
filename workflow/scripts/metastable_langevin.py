"""Rule metastable_langevin: one Langevin temperature sweep from the rank-1 trap (+ lr-halving run, zero modes)."""
import torch
from grokrepro import provenance
from grokrepro.engine import DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.beta_sweep import dims
from grokrepro.metastable.langevin import langevin_experiment
from grokrepro.metastable.trap import load_data

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
p = snakemake.params
data = load_data(snakemake.input.train, None, resolve_device(p.device), resolve_dtype(p.dtype))
model = DeepLinear(dims(p.model["depth"], p.model["width"], data.x_train.shape[1], data.y_train.shape[1]))
lv = p.langevin
out = langevin_experiment(model, data, p.sweep, lv["fractions"], lv["check_every"], lv["discretisation"],
                          lv["back_epochs"], progress_every=lv["progress_every"])
save_npz(snakemake.output[0], out, result_meta({"sweep": p.sweep, "langevin": lv, "model": p.model}))
