"""Rule metastable_separatrix: anneal with the beta_init stage cut at each budget, then SGD at the point."""
import math

import numpy as np
import torch
from grokrepro import provenance
from grokrepro.engine import DeepLinear, resolve_device, resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.absorbing import budget_grid, separatrix_run
from grokrepro.metastable.beta_sweep import dims
from grokrepro.metastable.trap import load_data

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
p = snakemake.params
data = load_data(snakemake.input.train, snakemake.input.test, resolve_device(p.device), resolve_dtype(p.dtype))
model = DeepLinear(dims(p.model["depth"], p.model["width"], data.x_train.shape[1], data.y_train.shape[1]))
sp, pt = p.separatrix, p.point
budgets = budget_grid(sp["max_budget"], sp["budgets"])
seeds = np.arange(p.first_seed, p.first_seed + sp["seeds"])
out = separatrix_run(model, data, seeds, p.model["init_std"] or 1 / math.sqrt(p.model["width"]), p.anneal,
                     p.beta_init, pt["beta"], pt["lr"], pt["batch_size"], budgets, sp["max_epochs"],
                     sp["check_every"], sp["floor"], progress_every=0)
save_npz(snakemake.output[0], out, result_meta({"separatrix": sp, "point": pt, "anneal": p.anneal,
                                                "beta_init": p.beta_init, "model": p.model}, seeds=seeds.tolist()))
