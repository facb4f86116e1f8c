"""Rule fig_metastable_3: the phase diagram (test MSE vs beta, both sweep directions)."""
import re

from grokrepro.io import load_npz
from grokrepro.metastable.figures_beta_sweep import fig3
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
p = snakemake.params
sweep, _ = load_npz(snakemake.input.sweep)
companions = {int(re.search(r"L(\d+)\.npz$", f).group(1)): load_npz(f)[0] for f in snakemake.input.companion}
train, _ = load_npz(snakemake.input.train)
rows = fig3(sweep, companions, train, p.dataset, p.depth, p.rank_threshold, p.tolerance,
            snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
