"""Rule fig_metastable_2a: the landscape along the minimal-loss path, theory and network."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_arrhenius import fig2a

provenance.start(snakemake)
p = snakemake.params
train, _ = load_npz(snakemake.input.train)
fig, rows = fig2a(train, p.betas, p.eta, p.model["depth"], p.model["width"])
style.save_figure(fig, rows, snakemake.output)
