"""Rule fig_metastable_nonlinear: tanh / sigmoid / relu against the linear net - sweeps, jumps, escapes."""
from grokrepro import provenance, style
from grokrepro.io import load_npz
from grokrepro.metastable.figures_nonlinear import fig_nonlinear

provenance.start(snakemake)
p = snakemake.params
runs = [(act, int(depth)) for act, depth in p.runs]
sweeps = {run: load_npz(f)[0] for run, f in zip(runs, snakemake.input.sweeps)}
escapes = {run: load_npz(f)[0] for run, f in zip(runs, snakemake.input.escapes)}
fig, rows = fig_nonlinear(sweeps, escapes, list(p.features), p.rank_threshold, p.temperature, p.tolerance)
style.save_figure(fig, rows, snakemake.output)
