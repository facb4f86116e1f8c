"""Rule fig_metastable_4: the bifurcation diagram with the sweeps' singular values overlaid."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_beta_sweep import fig4

provenance.start(snakemake)
p = snakemake.params
sweep, _ = load_npz(snakemake.input.sweep)
train, _ = load_npz(snakemake.input.train)
fig, rows = fig4(sweep, train, p.dataset, p.depth)
style.save_figure(fig, rows, snakemake.output)
