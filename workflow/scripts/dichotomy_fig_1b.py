"""Rule fig_dichotomy_1b: misgrokking (large-L2-margin data), diagonal net."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_margin
from grokrepro.io import load_npz
from grokrepro.numbers import write_numbers

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
data, _ = load_npz(snakemake.input.data)
fig, rows = fig_margin(run, data, snakemake.params.run, snakemake.params.figures, misgrok=True)
style.save(fig, snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
