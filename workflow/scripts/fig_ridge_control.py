"""Rule fig_ridge_control: elimination and amplification of grokking by bound-derived hyper-parameters."""
from grokrepro import provenance, style
from grokrepro.ridge import plots
from grokrepro.ridge.results import load

provenance.start(snakemake)
inp, p = snakemake.input, dict(snakemake.params.p)
fig, rows = plots.fig_control(load(inp.control), p)
style.save_figure(fig, rows, snakemake.output)
