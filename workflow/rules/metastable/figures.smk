# Study A, stage: figures (one rule per paper figure; each also writes its numbers table).

SWEEP_L3 = f"{RES}/metastable/sweeps/L{MS['model']['depth']}.npz"
SWEEP_COMPANION = [f"{RES}/metastable/sweeps/L{d}.npz" for d in MS["sweep"]["depths"] if d != MS["model"]["depth"]]


rule fig_metastable_3:
    input:
        sweep=SWEEP_L3,
        companion=SWEEP_COMPANION,
        train=f"{RES}/metastable/data/{MS['sweep']['dataset']}/train.npz",
        **script_inputs("fig_metastable_3"),
    output:
        **figure_outputs("metastable", "3"),
    params:
        dataset=MS["datasets"][MS["sweep"]["dataset"]],
        depth=MS["model"]["depth"],
        rank_threshold=MS["sweep"]["rank_threshold"],
        tolerance=MS["figures"]["beta_c_tolerance"],
    log:
        f"{RES}/logs/metastable/figures/3.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_3.py"


rule fig_metastable_4:
    input:
        sweep=SWEEP_L3,
        companion=SWEEP_COMPANION,
        train=f"{RES}/metastable/data/{MS['sweep']['dataset']}/train.npz",
        **script_inputs("fig_metastable_4"),
    output:
        **figure_outputs("metastable", "4"),
    params:
        dataset=MS["datasets"][MS["sweep"]["dataset"]],
        depth=MS["model"]["depth"],
    log:
        f"{RES}/logs/metastable/figures/4.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_4.py"


FIG1A_POINTS = [p for p, pt in MS["escape"]["points"].items() if pt["dataset"] == "dense"]


rule fig_metastable_1a:
    input:
        runs=[f"{RES}/metastable/escape/{p}/{s}.npz" for p in FIG1A_POINTS for s in MS["escape"]["points"][p]["starts"]],
        traps=[f"{RES}/metastable/traps/{p}/{s}.npz" for p in FIG1A_POINTS for s in MS["escape"]["points"][p]["starts"]
               if s != "random"],
        separatrix=[f"{RES}/metastable/separatrix/{p}.npz" for p in FIG1A_POINTS],
        langevin=[f"{RES}/metastable/trap_langevin/{p}.npz" for p in FIG1A_POINTS],
        train=f"{RES}/metastable/data/dense/train.npz",
        **script_inputs("fig_metastable_1a"),
    output:
        **figure_outputs("metastable", "1a"),
    params:
        points={p: MS["escape"]["points"][p] for p in FIG1A_POINTS},
        depth=MS["model"]["depth"],
        delay_factor_min=MS["figures"]["delay_factor_min"],
    log:
        f"{RES}/logs/metastable/figures/1a.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_1a.py"


rule fig_metastable_1b:
    input:
        run=f"{RES}/metastable/escape/sparse/rank1.npz",
        **script_inputs("fig_metastable_1b"),
    output:
        **figure_outputs("metastable", "1b"),
    params:
        point=MS["escape"]["points"]["sparse"],
        n_train=MS["datasets"][MS["escape"]["points"]["sparse"]["dataset"]]["n_train"],
    log:
        f"{RES}/logs/metastable/figures/1b.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_1b.py"


rule fig_metastable_2a:
    input:
        train=f"{RES}/metastable/data/dense/train.npz",
        **script_inputs("fig_metastable_2a"),
    output:
        **figure_outputs("metastable", "2a"),
    params:
        betas=MS["arrhenius"]["fig2a_betas"],
        eta=MS["arrhenius"]["fig2a_feature"],
        model=MS["model"],
    log:
        f"{RES}/logs/metastable/figures/2a.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_2a.py"


rule fig_metastable_2b:
    input:
        fits=expand(f"{RES}/metastable/fits/{{sweep}}.npz", sweep=MS["arrhenius"]["sweeps"]),
        langevin=expand(f"{RES}/metastable/langevin/{{sweep}}.npz", sweep=MS["langevin"]["sweeps"]),
        **script_inputs("fig_metastable_2b"),
    output:
        **figure_outputs("metastable", "2b"),
    params:
        points={name: MS["escape"]["points"][sw["point"]] for name, sw in MS["arrhenius"]["sweeps"].items()},
        langevin=list(MS["langevin"]["sweeps"]),
        gof_bootstrap=MS["arrhenius"]["gof_bootstrap"],
    log:
        f"{RES}/logs/metastable/figures/2b.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_metastable_2b.py"


rule metastable:
    input:
        rules.fig_metastable_1a.output,
        rules.fig_metastable_1b.output,
        rules.fig_metastable_2a.output,
        rules.fig_metastable_2b.output,
        rules.fig_metastable_3.output,
        rules.fig_metastable_4.output,
        # beyond the paper (rules in beyond.smk, included after this file, hence paths not rules.<name>)
        [f"{RES}/metastable/{kind}/{fig}.{ext}" for fig in ("features", "nonlinear")
         for kind, ext in (("figures", "pdf"), ("figures", "png"), ("numbers", "csv"), ("numbers", "meta.json"))],
