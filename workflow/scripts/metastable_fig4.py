"""Rule fig_metastable_4: the bifurcation diagram with the sweeps' singular values overlaid."""

from grokrepro.io import load_npz
from grokrepro.metastable.figures_beta_sweep import fig4
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
p = snakemake.params
sweep, _ = load_npz(snakemake.input.sweep)
train, _ = load_npz(snakemake.input.train)
rows = fig4(sweep, train, p.dataset, p.depth, p.rank_threshold, snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
