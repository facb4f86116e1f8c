"""Rule ridge_engine_check: iterative batched GD against the exact trajectory at the Fig. 2 defaults."""
from grokrepro import provenance
from grokrepro.io import save_npz
from grokrepro.ridge import jobs

provenance.start(snakemake)
save_npz(snakemake.output[0], *jobs.engine_check(**snakemake.params))
