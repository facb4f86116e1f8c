"""Rule ridge_control: elimination / amplification runs at bound-derived hyper-parameters."""

from grokrepro.io import result_meta, save_npz
from grokrepro.ridge.train import control_runs
from grokrepro import provenance

provenance.start(snakemake)
prm = snakemake.params
out = control_runs(dict(prm.p), list(prm.seeds))
save_npz(snakemake.output[0], out, result_meta(dict(prm.p), seeds=list(prm.seeds)))
