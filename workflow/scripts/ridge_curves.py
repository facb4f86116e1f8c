"""Rules ridge_curves_*: train/test loss curves (and surrogate accuracy) at one setting."""
import sys

from grokrepro.io import provenance, save_npz
from grokrepro.ridge.train import curves_linear

sys.stderr = open(snakemake.log[0], "w")
prm = snakemake.params
p = dict(prm.p, kind=prm.kind, teacher=prm.teacher)
if "defaults" not in p:  # fig 1 block: flat hyper-parameters
    p["defaults"] = {k: p[k] for k in ("n", "m", "lam", "nu2")}
out = curves_linear(p, list(prm.seeds), accuracy=bool(prm.get("accuracy", False)))
save_npz(snakemake.output[0], out, provenance(p, seeds=list(prm.seeds)))
