# Study A, stage: Langevin temperature sweeps from the constructed rank-1 trap on exact-moment data
# (Fig 2b's Arrhenius / Kramers-Langer test under a noise model that can escape).


rule metastable_langevin:
    input:
        train=f"{RES}/metastable/data/{MS['langevin']['dataset']}/train.npz",
        **script_inputs("metastable_langevin"),
    output:
        f"{RES}/metastable/langevin/{{sweep}}.npz",
    params:
        sweep=lookup(dpath="langevin/sweeps/{sweep}", within=MS),
        langevin={k: v for k, v in MS["langevin"].items() if k != "sweeps"},
        model=MS["model"],
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/langevin/{{sweep}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/langevin/{{sweep}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_langevin.py"
