"""Rule ridge_sweep_identity: Fig. 2 sweeps of t1, t2 and the Eq. 8 bounds, identity features (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.sweep(**snakemake.params))
