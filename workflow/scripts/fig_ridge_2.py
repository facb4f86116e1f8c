"""Rule fig_ridge_2: Fig. 2, t1 and t2 against λ, n, m, ν² (identity features) with the Eq. 8 bounds."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_2(load(inp.sweep), load(inp.engine), p)
style.save_figure(fig, rows, snakemake.output)
