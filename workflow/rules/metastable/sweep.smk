# Study A, stage: quasi-static beta sweeps (training runs for Figs 3 and 4).


rule metastable_sweep:
    input:
        train=f"{RES}/metastable/data/{MS['sweep']['dataset']}/train.npz",
        test=f"{RES}/metastable/data/{MS['sweep']['dataset']}/test.npz",
        **script_inputs("metastable_sweep"),
    output:
        f"{RES}/metastable/sweeps/L{{depth}}.npz",
    params:
        sweep={k: v for k, v in MS["sweep"].items() if k not in ("dataset", "depths")},
        model=MS["model"],
        seeds=seeds(MS),
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/sweep/L{{depth}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/sweep/L{{depth}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_sweep.py"
