"""Rule fig_metastable_3: the phase diagram (test MSE vs beta, both sweep directions)."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_beta_sweep import fig3, load_companions

provenance.start(snakemake)
p = snakemake.params
sweep, _ = load_npz(snakemake.input.sweep)
train, _ = load_npz(snakemake.input.train)
fig, rows = fig3(sweep, load_companions(snakemake.input.companion), train, p.dataset, p.depth, p.rank_threshold,
                 p.tolerance)
style.save_figure(fig, rows, snakemake.output)
