"""Rules ridge_sweep_*: t1, t2 and Eq. 8 bounds over the hyper-parameter grids (exact trajectory)."""

from grokrepro.io import result_meta, save_npz
from grokrepro.ridge.train import sweep_linear
from grokrepro import provenance

provenance.start(snakemake)
prm = snakemake.params
p = dict(prm.p, kind=prm.kind, teacher=prm.teacher)
out = sweep_linear(p, list(prm.seeds))
save_npz(snakemake.output[0], out, result_meta(p, seeds=list(prm.seeds)))
