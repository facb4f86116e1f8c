"""Rule fig_ridge_5: Fig. 5, loss curves and the surrogate accuracy (random ReLU features)."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_5(load(inp.curves), p)
style.save_figure(fig, rows, snakemake.output)
