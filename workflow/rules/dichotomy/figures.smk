# Study B, stage: figures (one rule per paper figure; each also writes its numbers table).

DTRAIN = f"{RES}/dichotomy/train"
DDATA = f"{RES}/dichotomy/data"


rule fig_dichotomy_1a:
    input:
        run=f"{DTRAIN}/fig1a.npz",
        data=f"{DDATA}/{DB['runs']['fig1a']['dataset']}.npz",
        **script_inputs("fig_dichotomy_1a"),
    output:
        **figure_outputs("dichotomy", "1a"),
    params:
        run=DB["runs"]["fig1a"],
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/1a.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_1a.py"


rule fig_dichotomy_1b:
    input:
        run=f"{DTRAIN}/fig1b.npz",
        data=f"{DDATA}/{DB['runs']['fig1b']['dataset']}.npz",
        **script_inputs("fig_dichotomy_1b"),
    output:
        **figure_outputs("dichotomy", "1b"),
    params:
        run=DB["runs"]["fig1b"],
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/1b.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_1b.py"


rule fig_dichotomy_2:
    input:
        a=f"{DTRAIN}/fig2a.npz",
        b=f"{DTRAIN}/fig2b.npz",
        c=f"{DTRAIN}/fig2c.npz",
        **script_inputs("fig_dichotomy_2"),
    output:
        **figure_outputs("dichotomy", "2"),
    params:
        runs={k: DB["runs"][k] for k in ("fig2a", "fig2b", "fig2c")},
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/2.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_2.py"


rule fig_dichotomy_3:
    input:
        run=f"{DTRAIN}/fig3.npz",
        data=f"{DDATA}/{DB['runs']['fig3']['dataset']}.npz",
        **script_inputs("fig_dichotomy_3"),
    output:
        **figure_outputs("dichotomy", "3"),
    params:
        run=DB["runs"]["fig3"],
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/3.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_3.py"


rule fig_dichotomy_4:
    input:
        run=f"{DTRAIN}/fig4.npz",
        **script_inputs("fig_dichotomy_4"),
    output:
        **figure_outputs("dichotomy", "4"),
    params:
        run=DB["runs"]["fig4"],
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/4.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_4.py"


rule fig_dichotomy_scaling:
    input:
        diag=f"{DTRAIN}/scaling_diag.npz",
        matrix=f"{DTRAIN}/scaling_matrix.npz",
        **script_inputs("fig_dichotomy_scaling"),
    output:
        **figure_outputs("dichotomy", "scaling"),
    params:
        diag=DB["runs"]["scaling_diag"],
        matrix=DB["runs"]["scaling_matrix"],
        figures=DB["figures"],
    log:
        f"{RES}/logs/dichotomy/figures/scaling.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_dichotomy_scaling.py"


rule dichotomy:
    input:
        rules.fig_dichotomy_1a.output,
        rules.fig_dichotomy_1b.output,
        rules.fig_dichotomy_2.output,
        rules.fig_dichotomy_3.output,
        rules.fig_dichotomy_4.output,
        rules.fig_dichotomy_scaling.output,
