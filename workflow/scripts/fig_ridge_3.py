"""Rule fig_ridge_3: Fig. 3, t1 and t2 sweeps of random ReLU features with the Eq. 8 bounds."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_3(load(inp.sweep), p)
style.save_figure(fig, rows, snakemake.output)
