# Study A, stage: escape-time fitting (rates, goodness of fit, noise scale, Arrhenius, Kramers-Langer).


rule metastable_fit:
    input:
        unpack(sweep_trap),
        runs=f"{RES}/metastable/arrhenius/{{sweep}}.npz",
        **script_inputs("metastable_fit"),
    output:
        f"{RES}/metastable/fits/{{sweep}}.npz",
    params:
        sweep=lookup(dpath="arrhenius/sweeps/{sweep}", within=MS),
        beta=sweep_beta,
        gof_bootstrap=MS["arrhenius"]["gof_bootstrap"],
        fit_bootstrap=MS["arrhenius"]["fit_bootstrap"],
        depth=MS["model"]["depth"],
    log:
        f"{RES}/logs/metastable/fit/{{sweep}}.log",
    benchmark:
        f"{RES}/benchmarks/metastable/fit/{{sweep}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../../scripts/metastable_fit.py"
