"""Rule fig_metastable_2b: Arrhenius plot and survival curves of each temperature sweep."""
from pathlib import Path

from grokrepro.io import load_npz
from grokrepro.metastable.figures_arrhenius import fig2b
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
fits = {Path(f).stem: load_npz(f)[0] for f in snakemake.input.fits}
rows = fig2b(fits, snakemake.params.points, snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
