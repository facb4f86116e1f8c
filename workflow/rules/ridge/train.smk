# Study C, stage: training runs (exact GD trajectories for linear-in-theta models, iterative GD
# for the two-layer ReLU network and the engine check). Each rule writes one .npz.

rule ridge_curves_fig1:
    input:
        **script_inputs("ridge_curves_fig1"),
    output:
        f"{RES}/ridge/curves/fig1_ridge.npz",
    params:
        p=RG["fig1"]["ridge"],
        kind="identity",
        teacher="zero",
        seeds=ridge_seeds(RG["fig1"]["ridge"]),
    log:
        f"{RES}/logs/ridge/train/curves_fig1_ridge.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/curves_fig1_ridge.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_curves_fig1.py"


rule ridge_two_layer_fig1:
    input:
        **script_inputs("ridge_two_layer_fig1"),
    output:
        f"{RES}/ridge/two_layer/fig1.npz",
    params:
        p=RG["fig1"]["relu_net"],
        seeds=ridge_seeds(RG["fig1"]["relu_net"]),
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/ridge/train/two_layer_fig1.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/two_layer_fig1.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_two_layer_fig1.py"


rule ridge_sweep_identity:
    input:
        **script_inputs("ridge_sweep_identity"),
    output:
        f"{RES}/ridge/sweeps/identity.npz",
    params:
        p={k: v for k, v in RG["fig2"].items() if k != "engine_check"},
        kind="identity",
        teacher="default",
        seeds=ridge_seeds(RG["fig2"]),
    log:
        f"{RES}/logs/ridge/train/sweep_identity.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/sweep_identity.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_sweep_identity.py"


rule ridge_engine_check:
    input:
        **script_inputs("ridge_engine_check"),
    output:
        f"{RES}/ridge/checks/engine.npz",
    params:
        p={k: RG["fig2"][k] for k in ("eta", "eps", "c", "defaults")},
        steps=RG["fig2"]["engine_check"]["steps"],
        seeds=ridge_seeds(RG["fig2"]["engine_check"]),
    log:
        f"{RES}/logs/ridge/train/engine_check.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/engine_check.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_engine_check.py"


rule ridge_sweep_relu:
    input:
        **script_inputs("ridge_sweep_relu"),
    output:
        f"{RES}/ridge/sweeps/relu.npz",
    params:
        p=RG["fig3"],
        kind="relu",
        teacher=RG["fig3"]["teacher"],
        seeds=ridge_seeds(RG["fig3"]),
    log:
        f"{RES}/logs/ridge/train/sweep_relu.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/sweep_relu.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_sweep_relu.py"


rule ridge_two_layer_sweep:
    input:
        **script_inputs("ridge_two_layer_sweep"),
    output:
        f"{RES}/ridge/two_layer/sweep.npz",
    params:
        p=RG["fig4"],
        seeds=ridge_seeds(RG["fig4"]),
        dtype=CFG["dtype"],
    log:
        f"{RES}/logs/ridge/train/two_layer_sweep.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/two_layer_sweep.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_two_layer_sweep.py"


rule ridge_curves_accuracy:
    input:
        **script_inputs("ridge_curves_accuracy"),
    output:
        f"{RES}/ridge/curves/accuracy.npz",
    params:
        p=RG["fig5"],
        kind="relu",
        teacher=RG["fig5"]["teacher"],
        seeds=ridge_seeds(RG["fig5"]),
        accuracy=True,
    log:
        f"{RES}/logs/ridge/train/curves_accuracy.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/curves_accuracy.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_curves_accuracy.py"


rule ridge_curves_noise:
    input:
        **script_inputs("ridge_curves_noise"),
    output:
        f"{RES}/ridge/curves/noise.npz",
    params:
        p=RG["fig6"],
        kind="relu",
        teacher=RG["fig6"]["teacher"],
        seeds=ridge_seeds(RG["fig6"]),
    log:
        f"{RES}/logs/ridge/train/curves_noise.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/curves_noise.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_curves_noise.py"


rule ridge_curves_fourier:
    input:
        **script_inputs("ridge_curves_fourier"),
    output:
        f"{RES}/ridge/curves/fourier.npz",
    params:
        p={k: v for k, v in RG["fig7"].items() if k != "grids"},
        kind="fourier",
        teacher="default",
        seeds=ridge_seeds(RG["fig7"]),
    log:
        f"{RES}/logs/ridge/train/curves_fourier.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/curves_fourier.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_curves_fourier.py"


rule ridge_sweep_fourier:
    input:
        **script_inputs("ridge_sweep_fourier"),
    output:
        f"{RES}/ridge/sweeps/fourier.npz",
    params:
        p=RG["fig7"],
        kind="fourier",
        teacher="default",
        seeds=ridge_seeds(RG["fig7"]),
    log:
        f"{RES}/logs/ridge/train/sweep_fourier.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/sweep_fourier.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_sweep_fourier.py"


rule ridge_control:
    input:
        **script_inputs("ridge_control"),
    output:
        f"{RES}/ridge/control/control.npz",
    params:
        p=RG["control"],
        seeds=ridge_seeds(RG["control"]),
    log:
        f"{RES}/logs/ridge/train/control.log",
    benchmark:
        f"{RES}/benchmarks/ridge/train/control.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/ridge_control.py"
