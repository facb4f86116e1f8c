"""Rule fig_metastable_1a: escape from trapped starts at each dense-data operating point (plain SGD, the
separatrix of the annealing budget, and Langevin from constructed traps)."""
from pathlib import Path

from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_escape import fig1a, load_escape_runs

provenance.start(snakemake)
p, inp = snakemake.params, snakemake.input
train, _ = load_npz(inp.train)
traps = {}
for f in inp.traps:
    traps.setdefault(Path(f).parent.name, {})[Path(f).stem] = load_npz(f)[0]
separatrix = {Path(f).stem: load_npz(f)[0] for f in inp.separatrix}
langevin = {Path(f).stem: load_npz(f)[0] for f in inp.langevin}
fig, rows = fig1a(load_escape_runs(inp.runs), p.points, train, p.depth, p.delay_factor_min, traps, separatrix,
                  langevin)
style.save_figure(fig, rows, snakemake.output)
