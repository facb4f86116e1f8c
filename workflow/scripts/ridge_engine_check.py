"""Rule ridge_engine_check: iterative batched GD against the exact trajectory."""

from grokrepro.io import result_meta, save_npz
from grokrepro.ridge.train import engine_check
from grokrepro import provenance

provenance.start(snakemake)
prm = snakemake.params
out = engine_check(dict(prm.p), list(prm.seeds), int(prm.steps))
save_npz(snakemake.output[0], out, result_meta(dict(prm.p, steps=prm.steps), seeds=list(prm.seeds)))
