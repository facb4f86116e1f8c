"""Rule ridge_engine_check: iterative batched GD against the exact trajectory."""
import sys

from grokrepro.io import provenance, save_npz
from grokrepro.ridge.train import engine_check

sys.stderr = open(snakemake.log[0], "w")
prm = snakemake.params
out = engine_check(dict(prm.p), list(prm.seeds), int(prm.steps))
save_npz(snakemake.output[0], out, provenance(dict(prm.p, steps=prm.steps), seeds=list(prm.seeds)))
