"""Rule metastable_nonlinear_run: one activation at every depth - up and down beta sweeps, then from an
annealed rank-1 trap plain SGD and SGD with Langevin noise."""
import torch

from grokrepro import provenance
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import load_npz, result_meta, save_npz
from grokrepro.metastable.nonlinear import run_nonlinear_escape, run_nonlinear_sweep

provenance.start(snakemake)
torch.set_num_threads(snakemake.threads)
p, act = snakemake.params, snakemake.wildcards.act
device, dtype = resolve_device(p.device), resolve_dtype(p.dtype)
train, _ = load_npz(snakemake.input.train)
test, _ = load_npz(snakemake.input.test)
arrays = {"x_train": train["x"], "y_train": train["y"], "x_test": test["x"], "y_test": test["y"]}
width, init_std = p.model["width"], p.model["init_std"]
for depth, sweep_path, escape_path in zip(p.depths, snakemake.output.sweeps, snakemake.output.escapes):
    meta = {"model": p.model, "activation": act, "depth": depth, "seeds": p.seeds, "dtype": p.dtype, "sweep": p.sweep}
    sweep = run_nonlinear_sweep(arrays, act, depth, width, init_std, p.seeds, p.sweep, device, dtype)
    save_npz(sweep_path, sweep, result_meta(meta, seeds=list(p.seeds)))
    esc = run_nonlinear_escape(arrays, act, depth, width, init_std, p.seeds, sweep, p.sweep, p.anneal, p.escape,
                               p.features, device, dtype)
    save_npz(escape_path, esc, result_meta({**meta, "anneal": p.anneal, "escape": p.escape}, seeds=list(p.seeds)))
