"""Rule dichotomy_data: generate one data set (+ its max-margin classifiers if linear)."""

import numpy as np

from grokrepro.dichotomy import analysis, data
from grokrepro.io import log, result_meta, save_npz
from grokrepro import provenance

provenance.start(snakemake)
spec = dict(snakemake.params.spec)
arrays = data.make(spec.pop("kind"), **spec)
if "w_star" in arrays:  # linear classification: the kernel (L2) and late (L1) max-margin directions
    for name, solver in (("l2", analysis.max_l2_margin), ("l1", analysis.max_l1_margin)):
        w = solver(arrays["x_train"], arrays["y_train"])
        arrays[f"w_{name}"] = w
        arrays[f"acc_{name}"] = np.array(analysis.test_accuracy(w, arrays["x_test"], arrays["y_test"]))
        log(f"max-{name.upper()}-margin classifier: test accuracy {float(arrays[f'acc_{name}']):.4f}")
save_npz(snakemake.output[0], arrays, result_meta(snakemake.params.spec, seed=snakemake.params.spec["seed"]))
