"""Rule ridge_sweep_relu: Fig. 3 sweeps of t1, t2 and the Eq. 8 bounds, random ReLU features (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.sweep(**snakemake.params))
