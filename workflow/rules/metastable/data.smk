# Study A, stage 1: data generation (joint-Gaussian train/test sets with prescribed features).


rule metastable_data:
    input:
        **script_inputs("metastable_data"),
    output:
        train=f"{RES}/metastable/data/{{dataset}}/train.npz",
        test=f"{RES}/metastable/data/{{dataset}}/test.npz",
    params:
        spec=lookup(dpath="datasets/{dataset}", within=MS),
    log:
        f"{RES}/logs/metastable/data/{{dataset}}.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_data.py"
