"""Rule fig_metastable_2a: the landscape along the minimal-loss path, theory and network."""

from grokrepro.io import load_npz
from grokrepro.metastable.figures_arrhenius import fig2a
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
p = snakemake.params
train, _ = load_npz(snakemake.input.train)
rows = fig2a(train, p.betas, p.eta, p.model["depth"], p.model["width"], snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
