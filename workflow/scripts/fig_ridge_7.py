"""Rule fig_ridge_7: Fig. 7, random Fourier features: loss curves and the t1, t2 sweeps."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_7(load(inp.curves), load(inp.sweep), p)
style.save_figure(fig, rows, snakemake.output)
