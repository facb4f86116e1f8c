"""Rule fig_dichotomy_2: modular addition with a two-layer ReLU net (2a He init, 2b init scale, 2c lambda)."""

from grokrepro import provenance, style
from grokrepro.dichotomy.plots import fig_modadd
from grokrepro.io import load_npz

provenance.start(snakemake)
runs = {k: load_npz(getattr(snakemake.input, k[-1]))[0] for k in ("2a", "2b", "2c")}
fig, rows = fig_modadd(runs, snakemake.params.runs, snakemake.params.figures)
style.save_figure(fig, rows, snakemake.output)
