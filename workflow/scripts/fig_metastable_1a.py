"""Rule fig_metastable_1a: escape from trapped starts at each dense-data operating point."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_escape import fig1a, load_escape_runs

provenance.start(snakemake)
p = snakemake.params
train, _ = load_npz(snakemake.input.train)
fig, rows = fig1a(load_escape_runs(snakemake.input.runs), p.points, train, p.depth, p.delay_factor_min)
style.save_figure(fig, rows, snakemake.output)
