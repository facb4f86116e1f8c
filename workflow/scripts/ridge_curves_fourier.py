"""Rule ridge_curves_fourier: Fig. 7 loss curves of random Fourier features (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.curves(**snakemake.params))
