# Study C, stage: figures (one rule per paper figure; each also writes its numbers table).

rule fig_ridge_1:
    input:
        ridge=f"{RES}/ridge/curves/fig1_ridge.npz",
        relu=f"{RES}/ridge/two_layer/fig1.npz",
        **script_inputs("fig_ridge_1"),
    output:
        **figure_outputs("ridge", "1"),
    params:
        p=RG["fig1"]["ridge"],
    log:
        f"{RES}/logs/ridge/figures/1.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_1.py"


rule fig_ridge_2:
    input:
        sweep=f"{RES}/ridge/sweeps/identity.npz",
        engine=f"{RES}/ridge/checks/engine.npz",
        **script_inputs("fig_ridge_2"),
    output:
        **figure_outputs("ridge", "2"),
    params:
        p={k: v for k, v in RG["fig2"].items() if k != "engine_check"},
    log:
        f"{RES}/logs/ridge/figures/2.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_2.py"


rule fig_ridge_3:
    input:
        sweep=f"{RES}/ridge/sweeps/relu.npz",
        **script_inputs("fig_ridge_3"),
    output:
        **figure_outputs("ridge", "3"),
    params:
        p=RG["fig3"],
    log:
        f"{RES}/logs/ridge/figures/3.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_3.py"


rule fig_ridge_4:
    input:
        sweep=f"{RES}/ridge/two_layer/sweep.npz",
        **script_inputs("fig_ridge_4"),
    output:
        **figure_outputs("ridge", "4"),
    params:
        p=RG["fig4"],
    log:
        f"{RES}/logs/ridge/figures/4.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_4.py"


rule fig_ridge_5:
    input:
        curves=f"{RES}/ridge/curves/accuracy.npz",
        **script_inputs("fig_ridge_5"),
    output:
        **figure_outputs("ridge", "5"),
    params:
        p=RG["fig5"],
    log:
        f"{RES}/logs/ridge/figures/5.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_5.py"


rule fig_ridge_6:
    input:
        curves=f"{RES}/ridge/curves/noise.npz",
        **script_inputs("fig_ridge_6"),
    output:
        **figure_outputs("ridge", "6"),
    params:
        p=RG["fig6"],
    log:
        f"{RES}/logs/ridge/figures/6.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_6.py"


rule fig_ridge_7:
    input:
        curves=f"{RES}/ridge/curves/fourier.npz",
        sweep=f"{RES}/ridge/sweeps/fourier.npz",
        **script_inputs("fig_ridge_7"),
    output:
        **figure_outputs("ridge", "7"),
    params:
        p=RG["fig7"],
    log:
        f"{RES}/logs/ridge/figures/7.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_7.py"


rule fig_ridge_control:
    input:
        control=f"{RES}/ridge/control/control.npz",
        **script_inputs("fig_ridge_control"),
    output:
        **figure_outputs("ridge", "control"),
    params:
        p=RG["control"],
    log:
        f"{RES}/logs/ridge/figures/control.log",
    conda:
        CONDA_ENV
    script:
        "../../scripts/fig_ridge_control.py"


RIDGE_FIGS = ["1", "2", "3", "4", "5", "6", "7", "control"]


rule ridge:
    input:
        [f"{RES}/ridge/{kind}/{fig}.{ext}" for fig in RIDGE_FIGS
         for kind, ext in (("figures", "pdf"), ("figures", "png"), ("numbers", "csv"))],
