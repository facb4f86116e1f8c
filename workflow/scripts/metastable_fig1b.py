"""Rule fig_metastable_1b: the canonical grokking curve from sparse sub-sampling."""

from grokrepro.io import load_npz
from grokrepro.metastable.figures_escape import fig1b
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
rows = fig1b(run, {**snakemake.params.point, "n_train": snakemake.params.n_train},
             snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
