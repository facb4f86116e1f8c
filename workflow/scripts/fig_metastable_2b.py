"""Rule fig_metastable_2b: Langevin temperature sweeps (fits) and the SGD lr sweeps of Fig 2b."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_arrhenius import fig2b, load_fits
from grokrepro.metastable.langevin_fit import fit_sweep

provenance.start(snakemake)
langevin = {name: fit_sweep(load_npz(path)[0], n_boot=snakemake.params.gof_bootstrap)
            for name, path in zip(snakemake.params.langevin, snakemake.input.langevin)}
fig, rows = fig2b(load_fits(snakemake.input.fits), snakemake.params.points, langevin)
style.save_figure(fig, rows, snakemake.output)
