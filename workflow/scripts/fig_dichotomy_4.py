"""Rule fig_dichotomy_4: modular addition without weight decay, normalised GD (step eta/L)."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_nowd
from grokrepro.io import load_npz

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
fig, rows = fig_nowd(run, snakemake.params.run, snakemake.params.figures)
style.save_figure(fig, rows, snakemake.output)
