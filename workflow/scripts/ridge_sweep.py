"""Rules ridge_sweep_*: t1, t2 and Eq. 8 bounds over the hyper-parameter grids (exact trajectory)."""
import sys

from grokrepro.io import provenance, save_npz
from grokrepro.ridge.train import sweep_linear

sys.stderr = open(snakemake.log[0], "w")
prm = snakemake.params
p = dict(prm.p, kind=prm.kind, teacher=prm.teacher)
out = sweep_linear(p, list(prm.seeds))
save_npz(snakemake.output[0], out, provenance(p, seeds=list(prm.seeds)))
