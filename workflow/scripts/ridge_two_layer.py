"""Rules ridge_two_layer_*: fully trained two-layer ReLU network (iterative batched GD)."""

import numpy as np

from grokrepro.engine import resolve_dtype
from grokrepro.io import result_meta, save_npz
from grokrepro.ridge.train import gd_two_layer, sweep_two_layer
from grokrepro import provenance

provenance.start(snakemake)
prm = snakemake.params
p, seeds, dtype = dict(prm.p), list(prm.seeds), resolve_dtype(prm.dtype)
if "grids" in p:
    out = sweep_two_layer(p, seeds, threads=snakemake.threads)
else:
    record = np.unique(np.round(np.geomspace(1, p["t_max"], 200)).astype(int))
    out = gd_two_layer(seeds, p["n"], p["m"], p["d"], p["nu2"], p["lam"], p["eta"], p["eps"], p["c"], p["t_max"],
                       n_test=p["n_test"], record=np.concatenate([[0], record]), threads=snakemake.threads, dtype=dtype)
save_npz(snakemake.output[0], out, result_meta(p, seeds=seeds))
