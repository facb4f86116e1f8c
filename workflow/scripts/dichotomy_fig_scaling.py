"""Rule fig_dichotomy_scaling: measured transition step vs ln(alpha)/(lr*lambda), and the collapse."""
import sys

from grokrepro import style
from grokrepro.dichotomy.plots import fig_scaling
from grokrepro.io import load_npz
from grokrepro.numbers import write_numbers

sys.stderr = open(snakemake.log[0], "w")
diag, _ = load_npz(snakemake.input.diag)
matrix, _ = load_npz(snakemake.input.matrix)
p = snakemake.params
fig, rows = fig_scaling(diag, p.diag, matrix, p.matrix, p.figures)
style.save(fig, snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
