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


# Fig 1a, layer 2: the annealing protocol with its beta_init stage cut at a sweep of budgets, then SGD
# at the operating point (escaped or not against the unlearned mode's residual at the switch).
rule metastable_separatrix:
    input:
        **data_of(MS["separatrix"]["dataset"]),
        **script_inputs("metastable_separatrix"),
    output:
        f"{RES}/metastable/separatrix/{{point}}.npz",
    params:
        point=lookup(dpath="escape/points/{point}", within=MS),
        separatrix=MS["separatrix"],
        anneal=MS["trap"]["anneal"],
        beta_init=MS["trap"]["beta_init"]["rank1"],
        model=MS["model"],
        first_seed=MS["seeds"]["first"],
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/separatrix/{{point}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/separatrix/{{point}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_separatrix.py"
