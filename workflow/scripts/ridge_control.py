"""Rule ridge_control: elimination / amplification runs at bound-derived hyper-parameters."""
import sys

from grokrepro.io import provenance, save_npz
from grokrepro.ridge.train import control_runs

sys.stderr = open(snakemake.log[0], "w")
prm = snakemake.params
out = control_runs(dict(prm.p), list(prm.seeds))
save_npz(snakemake.output[0], out, provenance(dict(prm.p), seeds=list(prm.seeds)))
