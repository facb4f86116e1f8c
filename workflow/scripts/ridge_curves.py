"""Rules ridge_curves_*: train/test loss curves (and surrogate accuracy) at one setting."""

from grokrepro.io import result_meta, save_npz
from grokrepro.ridge.train import curves_linear
from grokrepro import provenance

provenance.start(snakemake)
prm = snakemake.params
p = dict(prm.p, kind=prm.kind, teacher=prm.teacher)
if "defaults" not in p:  # fig 1 block: flat hyper-parameters
    p["defaults"] = {k: p[k] for k in ("n", "m", "lam", "nu2")}
out = curves_linear(p, list(prm.seeds), accuracy=bool(prm.get("accuracy", False)))
save_npz(snakemake.output[0], out, result_meta(p, seeds=list(prm.seeds)))
