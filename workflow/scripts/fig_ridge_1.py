"""Rule fig_ridge_1: Fig. 1, loss curves of ridge regression and of the two-layer ReLU network (zero teacher)."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_1(load(inp.ridge), load(inp.relu), p)
style.save_figure(fig, rows, snakemake.output)
