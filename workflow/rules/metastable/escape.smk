# Study A, stage: training runs from trapped and random starts, with online escape detection.


rule metastable_escape:
    input:
        unpack(point_data),
        start=f"{RES}/metastable/traps/{{point}}/{{start}}.npz",
        **script_inputs("metastable_escape"),
    output:
        f"{RES}/metastable/escape/{{point}}/{{start}}.npz",
    params:
        point=lookup(dpath="escape/points/{point}", within=MS),
        escape={k: v for k, v in MS["escape"].items() if k != "points"},
        polish_steps=MS["trap"]["polish_steps"],
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/escape/{{point}}_{{start}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/escape/{{point}}_{{start}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_escape.py"


rule metastable_arrhenius_run:
    input:
        unpack(sweep_trap),
        **script_inputs("metastable_arrhenius_run"),
    output:
        f"{RES}/metastable/arrhenius/{{sweep}}.npz",
    params:
        sweep=lookup(dpath="arrhenius/sweeps/{sweep}", within=MS),
        beta=sweep_beta,
        escape={k: v for k, v in MS["escape"].items() if k not in ("points", "stop_on_escape")},
        polish=dict(steps=MS["trap"]["polish_steps"], lr=MS["trap"]["anneal"]["lr"]),
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/arrhenius/{{sweep}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/arrhenius/{{sweep}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_arrhenius_run.py"


# Fig 1a, layer 3: full-batch Langevin (the substitute noise model) from the constructed traps.
rule metastable_trap_langevin:
    input:
        **data_of(MS["langevin"]["dataset"]),
        **script_inputs("metastable_trap_langevin"),
    output:
        f"{RES}/metastable/trap_langevin/{{point}}.npz",
    params:
        beta=lookup(dpath="escape/points/{point}/beta", within=MS),
        cfg=MS["trap_langevin"],
        fraction=MS["langevin"]["fractions"][0],
        model=MS["model"],
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/trap_langevin/{{point}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/trap_langevin/{{point}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_trap_langevin.py"
