"""Rule fig_dichotomy_1b: misgrokking (large-L2-margin data), diagonal net."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_margin
from grokrepro.io import load_npz

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
data, _ = load_npz(snakemake.input.data)
fig, rows = fig_margin(run, data, snakemake.params.run, snakemake.params.figures, misgrok=True)
style.save_figure(fig, rows, snakemake.output)
