# Study A, stage: trapped-state initialisation (checkpoints of every seed in a chosen phase).


rule metastable_trap:
    input:
        unpack(point_data),
        **script_inputs("metastable_trap"),
    output:
        f"{RES}/metastable/traps/{{point}}/{{start}}.npz",
    params:
        trap=trap_params,
        model=MS["model"],
        seeds=seeds(MS),
        threshold=MS["escape"]["sv_threshold"],
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/trap/{{point}}_{{start}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/trap/{{point}}_{{start}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_trap.py"
