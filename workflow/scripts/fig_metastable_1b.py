"""Rule fig_metastable_1b: the canonical grokking curve from sparse sub-sampling."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_escape import fig1b

provenance.start(snakemake)
run, _ = load_npz(snakemake.input.run)
fig, rows = fig1b(run, {**snakemake.params.point, "n_train": snakemake.params.n_train})
style.save_figure(fig, rows, snakemake.output)
