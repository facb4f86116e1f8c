"""Rule metastable_features_run: one d-feature data set - upward and downward quasi-static beta sweeps, and
every subset's balanced state at a few beta classified by the Hessian."""
import torch

from grokrepro import provenance
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import load_npz, result_meta, save_npz
from grokrepro.metastable.beta_sweep import SweepSpec, run_sweep
from grokrepro.metastable.features import run_states

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)
p, out = snakemake.params, snakemake.output
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
arrays = {"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]}
spec = SweepSpec(depth=p.model["depth"], width=p.model["width"], init_std=p.model["init_std"], seeds=tuple(p.seeds),
                 **p.sweep)
sweep = run_sweep(arrays, spec, resolve_device(p.device), resolve_dtype(p.dtype))
meta = {"model": p.model, "seeds": p.seeds, "dtype": p.dtype, "dataset": snakemake.wildcards.dataset}
save_npz(out.sweep, sweep, result_meta({**meta, "sweep": p.sweep}, seeds=list(p.seeds)))
states = run_states({**arrays, "sv_train": train["sv"], "s_train": train["s"]}, p.model["depth"], p.model["width"],
                    p.states["betas"], p.states["polish_lr"], p.states["polish_steps"], p.states["stay_tolerance"])
save_npz(out.states, states, result_meta({**meta, "states": p.states}))
