"""Rule ridge_curves_accuracy: Fig. 5 loss curves and surrogate accuracy, random ReLU features (exact GD)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.curves(**snakemake.params))
