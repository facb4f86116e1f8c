"""Rule fig_dichotomy_scaling: measured transition vs ln(alpha)/(lr*lambda) (or ln(alpha)/lambda in flow
time), the collapse, and the offset-corrected fit t*lambda = a*ln(alpha) + c."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_scaling
from grokrepro.io import load_npz

provenance.start(snakemake)
diag, _ = load_npz(snakemake.input.diag)
matrix, _ = load_npz(snakemake.input.matrix)
p = snakemake.params
fig, rows = fig_scaling(diag, p.diag, matrix, p.matrix, p.figures)
style.save_figure(fig, rows, snakemake.output)
