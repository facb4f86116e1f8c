"""Rule metastable_sweep: upward and downward quasi-static beta sweeps at one depth."""

import torch
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import load_npz, result_meta, save_npz
from grokrepro.metastable.beta_sweep import SweepSpec, run_sweep
from grokrepro import provenance

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)  # the rule's threads (profiles: 1 per Study A job)
p = snakemake.params
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
arrays = {"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]}
spec = SweepSpec(depth=int(snakemake.wildcards.depth), width=p.model["width"], init_std=p.model["init_std"],
                 seeds=tuple(p.seeds), **p.sweep)
out = run_sweep(arrays, spec, resolve_device(p.device), resolve_dtype(p.dtype))
meta = result_meta({"sweep": p.sweep, "model": p.model, "depth": spec.depth, "seeds": p.seeds, "dtype": p.dtype},
                  seeds=list(p.seeds))
save_npz(snakemake.output[0], out, meta)
