"""Rule metastable_fit: escape rates per temperature, noise scale, Arrhenius fit, Kramers-Langer."""

from grokrepro.io import load_npz, result_meta, save_npz
from grokrepro.metastable.arrhenius import fit_sweep
from grokrepro import provenance

provenance.start(snakemake)
p = snakemake.params
runs, runs_meta = load_npz(snakemake.input.runs)
start, _ = load_npz(snakemake.input.start)
train, _ = load_npz(snakemake.input.train)
out = fit_sweep(runs, start, train, p.sweep["start"], p.beta, p.depth, p.gof_bootstrap, p.fit_bootstrap)
save_npz(snakemake.output[0], out, result_meta({"sweep": p.sweep, "beta": p.beta, "gof_bootstrap": p.gof_bootstrap,
                                               "fit_bootstrap": p.fit_bootstrap},
                                              seeds=runs_meta.get("seeds")))  # the fitted runs' seeds
