"""Rule fig_metastable_1a: escape from trapped starts at each dense-data operating point."""
from pathlib import Path

from grokrepro.io import load_npz
from grokrepro.metastable.figures_escape import fig1a
from grokrepro.numbers import write_numbers
from grokrepro import provenance

provenance.start(snakemake)
p = snakemake.params
runs = {}
for f in snakemake.input.runs:
    path = Path(f)
    runs.setdefault(path.parent.name, {})[path.stem] = load_npz(f)[0]
train, _ = load_npz(snakemake.input.train)
rows = fig1a(runs, p.points, train, p.depth, p.delay_factor_min, snakemake.output.pdf, snakemake.output.png)
write_numbers(snakemake.output.numbers, rows)
