"""Rule metastable_data: sample the joint-Gaussian train/test sets."""
import sys

from grokrepro.io import result_meta, save_npz
from grokrepro.metastable.data import DataSpec, generate
from grokrepro import provenance

provenance.start(snakemake)
spec = dict(snakemake.params.spec)
arrays = generate(DataSpec(**{**spec, "features": tuple(spec["features"])}))
meta = result_meta(spec, seed=spec["seed"], dataset=snakemake.wildcards.dataset)
save_npz(snakemake.output.train, {"x": arrays["x_train"], "y": arrays["y_train"], "sv": arrays["sv_train"],
                                  "sv_pool": arrays["sv_pool"], "cov_xx_eig": arrays["cov_xx_eig_train"],
                                  "s": arrays["s_train"]}, meta)
save_npz(snakemake.output.test, {"x": arrays["x_test"], "y": arrays["y_test"], "sv": arrays["sv_test"]}, meta)
print(f"empirical singular values of Sigma_yx: train {arrays['sv_train']}, test {arrays['sv_test']}", file=sys.stderr)
