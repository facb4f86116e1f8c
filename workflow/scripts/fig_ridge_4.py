"""Rule fig_ridge_4: Fig. 4, t1 and t2 sweeps of the fully trained two-layer ReLU network."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_4(load(inp.sweep), p)
style.save_figure(fig, rows, snakemake.output)
