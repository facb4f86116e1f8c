"""Rule ridge_curves_fig1: Fig. 1 (left) ridge-regression loss curves on the zero teacher (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.curves(**snakemake.params))
