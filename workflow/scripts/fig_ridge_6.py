"""Rule fig_ridge_6: Fig. 6, loss curves with and without label noise (random ReLU features)."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_6(load(inp.curves), p)
style.save_figure(fig, rows, snakemake.output)
