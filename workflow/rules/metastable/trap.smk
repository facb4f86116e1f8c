# Study A, stage: trapped-state initialisation (checkpoints of every seed in a chosen phase).
from types import SimpleNamespace as Namespace


def point_data(wildcards):
    """Train/test files of the data set an operating point uses."""
    dataset = MS["escape"]["points"][wildcards.point]["dataset"]
    return {split: f"{RES}/metastable/data/{dataset}/{split}.npz" for split in ("train", "test")}


def trap_params(wildcards):
    """What a start depends on: nothing of the trap block for a random start; the operating beta
    only for a constructed trap (an annealed trap is the same at every operating point)."""
    if wildcards.start == "random":
        return None
    cfg = dict(MS["trap"])
    if cfg["method"] == "annealed":
        cfg.pop("perturbation"), cfg.pop("polish_steps")
        cfg["beta_init"] = cfg["beta_init"][wildcards.start]
    else:
        cfg.pop("beta_init")
        cfg["op_beta"] = MS["escape"]["points"][wildcards.point]["beta"]
    return cfg


rule metastable_trap:
    input:
        unpack(point_data),
        code=code("engine.py", "metastable/trap.py"),
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
    script:
        "../../scripts/metastable_trap.py"
