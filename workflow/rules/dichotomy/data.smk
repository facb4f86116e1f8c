# Study B, stage: data (the four problems; max-margin classifiers for the linear ones).

DB = CFG["dichotomy"]


rule dichotomy_data:
    input:
        **script_inputs("dichotomy_data"),
    output:
        f"{RES}/dichotomy/data/{{dataset}}.npz",
    params:
        spec=lookup(dpath="datasets/{dataset}", within=DB),
    wildcard_constraints:
        dataset="|".join(DB["datasets"]),
    log:
        f"{RES}/logs/dichotomy/data/{{dataset}}.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/dichotomy_data.py"
