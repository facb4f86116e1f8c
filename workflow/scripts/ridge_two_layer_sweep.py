"""Rule ridge_two_layer_sweep: Fig. 4 sweeps of t1 and t2, fully trained two-layer ReLU network (iterative GD)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.two_layer_sweep(**snakemake.params, threads=snakemake.threads))
