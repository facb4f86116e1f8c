"""Rule ridge_two_layer_fig1: Fig. 1 (right) loss curves of the fully trained two-layer ReLU network (iterative GD)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.two_layer_curves(**snakemake.params, threads=snakemake.threads))
