"""Rule fig_dichotomy_3: matrix completion with W = UU^T - VV^T."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_matrix
from grokrepro.io import load_npz

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
data, _ = load_npz(snakemake.input.data)
fig, rows = fig_matrix(run, data, snakemake.params.run, snakemake.params.figures)
style.save_figure(fig, rows, snakemake.output)
