"""Rule fig_metastable_features: d = 2, 3, 4 features - phase diagrams, metastable-state counts, loop areas."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_features import fig_features

provenance.start(snakemake)
p = snakemake.params
names = list(p.datasets)
load = lambda paths: {name: load_npz(f)[0] for name, f in zip(names, paths)}  # noqa: E731
fig, rows = fig_features(load(snakemake.input.sweeps), load(snakemake.input.states), load(snakemake.input.trains),
                         dict(p.datasets), p.depth, p.tolerance, p.rank_threshold)
style.save_figure(fig, rows, snakemake.output)
