"""Rule fig_metastable_2b: Arrhenius plot and survival curves of each temperature sweep."""
from grokrepro import provenance, style
from grokrepro.metastable.figures_arrhenius import fig2b, load_fits

provenance.start(snakemake)
fig, rows = fig2b(load_fits(snakemake.input.fits), snakemake.params.points)
style.save_figure(fig, rows, snakemake.output)
