# Study A beyond the paper: d features (fig_metastable_features) and nonlinear networks (fig_metastable_nonlinear).

FEATURE_SETS = MS["features"]["datasets"]
NL = MS["nonlinear"]
NL_RUNS = [(act, depth) for act in NL["activations"] for depth in NL["depths"]]


rule metastable_features_run:
    input:
        unpack(lambda wc: data_of(wc.dataset)),
        **script_inputs("metastable_features_run"),
    output:
        sweep=f"{RES}/metastable/features/sweeps/{{dataset}}.npz",
        states=f"{RES}/metastable/features/states/{{dataset}}.npz",
    params:
        sweep={**{k: v for k, v in MS["sweep"].items() if k not in ("dataset", "depths")},
               "beta_max": MS["features"]["beta_max"]},
        states=dict(betas=MS["features"]["state_betas"], polish_lr=MS["trap"]["anneal"]["lr"],
                    polish_steps=MS["trap"]["polish_steps"], stay_tolerance=MS["features"]["stay_tolerance"]),
        model=MS["model"],
        seeds=seeds(MS),
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/features/{{dataset}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/features/{{dataset}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_features_run.py"


rule fig_metastable_features:
    input:
        sweeps=[f"{RES}/metastable/features/sweeps/{name}.npz" for name in FEATURE_SETS],
        states=[f"{RES}/metastable/features/states/{name}.npz" for name in FEATURE_SETS],
        trains=[f"{RES}/metastable/data/{name}/train.npz" for name in FEATURE_SETS],
        **script_inputs("fig_metastable_features"),
    output:
        **figure_outputs("metastable", "features"),
    params:
        datasets={name: MS["datasets"][name] for name in FEATURE_SETS},
        depth=MS["model"]["depth"],
        tolerance=MS["figures"]["beta_c_tolerance"],
        rank_threshold=MS["sweep"]["rank_threshold"],
    log:
        f"{RES}/logs/metastable/figures/features.log",
    benchmark:
        f"{RES}/benchmarks/metastable/figures/features.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_features.py"


rule metastable_nonlinear_run:
    input:
        **data_of(NL["dataset"]),
        **script_inputs("metastable_nonlinear_run"),
    output:
        sweeps=[f"{RES}/metastable/nonlinear/sweeps/{{act}}_L{d}.npz" for d in NL["depths"]],
        escapes=[f"{RES}/metastable/nonlinear/escape/{{act}}_L{d}.npz" for d in NL["depths"]],
    wildcard_constraints:
        act="[a-z]+",
    params:
        depths=NL["depths"],
        sweep=NL["sweep"],
        anneal=MS["trap"]["anneal"],
        escape=NL["escape"],
        features=MS["datasets"][NL["dataset"]]["features"],
        model=MS["model"],
        seeds=seeds(MS),
        device=CFG["device"],
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/metastable/nonlinear/{{act}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/nonlinear/{{act}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_nonlinear_run.py"


rule fig_metastable_nonlinear:
    input:
        sweeps=[f"{RES}/metastable/nonlinear/sweeps/{a}_L{d}.npz" for a, d in NL_RUNS],
        escapes=[f"{RES}/metastable/nonlinear/escape/{a}_L{d}.npz" for a, d in NL_RUNS],
        **script_inputs("fig_metastable_nonlinear"),
    output:
        **figure_outputs("metastable", "nonlinear"),
    params:
        runs=[list(r) for r in NL_RUNS],
        features=MS["datasets"][NL["dataset"]]["features"],
        rank_threshold=NL["sweep"]["rank_threshold"],
        temperature=NL["escape"]["temperature"],
        tolerance=MS["figures"]["beta_c_tolerance"],
    log:
        f"{RES}/logs/metastable/figures/nonlinear.log",
    benchmark:
        f"{RES}/benchmarks/metastable/figures/nonlinear.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_nonlinear.py"
