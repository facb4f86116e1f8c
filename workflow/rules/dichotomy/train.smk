# Study B, stage: training runs (one batched full-batch GD program per run config).

for _run, _cfg in DB["runs"].items():

    rule:
        name:
            f"dichotomy_train_{_run}"
        input:
            data=f"{RES}/dichotomy/data/{_cfg['dataset']}.npz",
            **script_inputs("dichotomy_train"),
        output:
            f"{RES}/dichotomy/train/{_run}.npz",
        params:
            run=_cfg,
            name=_run,
            seeds=seeds(DB),
            device=CFG["device"],
            dtype=CFG["dtype"],
        log:
            f"{RES}/logs/dichotomy/train/{_run}.log",
        benchmark:
            f"{RES}/benchmarks/dichotomy/train/{_run}.tsv"
        conda:
            CONDA_ENV
        script:
            "../../scripts/dichotomy_train.py"
