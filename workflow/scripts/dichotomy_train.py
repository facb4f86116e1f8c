"""Rule dichotomy_train_<run>: one batched full-batch GD program over a run's replica grid."""

from grokrepro.dichotomy.runs import run_grid
from grokrepro.engine import resolve_device, resolve_dtype
from grokrepro.io import load_npz, log, result_meta, save_npz
from grokrepro import provenance

provenance.start(snakemake)
ckpt = provenance.checkpoint(snakemake)
p = snakemake.params
arrays, _ = load_npz(snakemake.input.data)
out = run_grid(p.run, arrays, p.seeds, resolve_device(p.device), resolve_dtype(p.dtype), label=p.name, **ckpt)
log(f"{p.name}: status {out['status'].tolist()}")
if out["diverged"].any():
    log(f"{p.name}: {int(out['diverged'].sum())} of {out['diverged'].size} replicas diverged (NaN/overflow)")
save_npz(snakemake.output[0], out, result_meta({"run": p.run, "seeds": p.seeds, "dtype": p.dtype}, seeds=list(p.seeds)))
