"""Rule dichotomy_train_<run>: one batched full-batch GD program over a run's replica grid."""
import sys

from grokrepro.dichotomy.runs import run_grid
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import load_npz, log, provenance, save_npz

sys.stderr = open(snakemake.log[0], "w")
p = snakemake.params
arrays, _ = load_npz(snakemake.input.data)
out = run_grid(p.run, arrays, p.seeds, resolve_device(p.device), resolve_dtype(p.dtype), label=p.name)
log(f"{p.name}: status {out['status'].tolist()}")
save_npz(snakemake.output[0], out, provenance({"run": p.run, "seeds": p.seeds, "dtype": p.dtype}, seeds=list(p.seeds)))
