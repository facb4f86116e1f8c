"""Rule ridge_sweep_fourier: Fig. 7 sweeps of t1 and t2, random Fourier features (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.sweep(**snakemake.params))
