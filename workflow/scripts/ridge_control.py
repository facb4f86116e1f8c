"""Rule ridge_control: elimination / amplification runs at bound-derived hyper-parameters (exact GD trajectory)."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.control(**snakemake.params))
