# Config validation, target helpers and the rules' input/param functions; the science lives in src/grokrepro.
from pathlib import Path
from types import SimpleNamespace as Namespace

from grokrepro.archive import made_upstream
from grokrepro.config import ConfigError, resolve, results_dir
from grokrepro.deps import source_files

try:
    CFG = resolve(config, Path(workflow.basedir) / "workflow" / "schemas", explicit=workflow.config_settings.config)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

MS = CFG["metastable"]
RES = results_dir(CFG)  # results/ for the default preset, results/<preset> for others
# The one software environment of every rule (used with --sdm conda; snakemake --lint asks each
# rule to name one). Absolute, because a rule file's relative paths start at its own folder.
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")


def figure_outputs(study, fig):
    """The outputs of one figure rule: PDF, PNG (in the report), its numbers table and the
    provenance record of all three (written by grokrepro.provenance.start)."""
    base = f"{RES}/{study}/figures/{fig}"
    return {
        "pdf": f"{base}.pdf",
        "png": report(
            f"{base}.png",
            caption=str(Path(workflow.basedir) / "workflow" / "report" / f"{study}_{fig}.rst"),
            category=study,
            subcategory="figures",
            labels={"figure": fig},
        ),
        "numbers": report(
            f"{RES}/{study}/numbers/{fig}.csv",
            caption=str(Path(workflow.basedir) / "workflow" / "report" / "numbers.rst"),
            category=study,
            subcategory="numbers",
            labels={"figure": fig, "table": "numbers"},
        ),
        "meta": f"{RES}/{study}/numbers/{fig}.meta.json",
    }


def script_inputs(name):
    """A rule's script ``workflow/scripts/<name>.py`` and every ``src/grokrepro`` file it reaches
    through its imports (derived by grokrepro.deps, never listed by hand): inputs, so that
    editing any of them reruns the rule and editing anything else does not."""
    base = Path(workflow.basedir)
    script = f"workflow/scripts/{name}.py"
    code = [str(Path(f).relative_to(base)) for f in source_files(base / script, base / "src")]
    return {"script": script, "code": code}


def seeds(study_cfg):
    return list(range(study_cfg["seeds"]["first"], study_cfg["seeds"]["first"] + study_cfg["seeds"]["count"]))


# --- Study A input and param functions (trap, escape and temperature-sweep rules)
def data_of(dataset):
    """Train/test files of one Study A data set."""
    return {split: f"{RES}/metastable/data/{dataset}/{split}.npz" for split in ("train", "test")}


def point_data(wildcards):
    """Train/test files of the data set an operating point uses."""
    return data_of(MS["escape"]["points"][wildcards.point]["dataset"])


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


def sweep_beta(wildcards):
    """The operating beta of a temperature sweep's point."""
    return MS["escape"]["points"][MS["arrhenius"]["sweeps"][wildcards.sweep]["point"]]["beta"]


def sweep_trap(wildcards):
    sw = MS["arrhenius"]["sweeps"][wildcards.sweep]
    return {"start": f"{RES}/metastable/traps/{sw['point']}/{sw['start']}.npz",
            **point_data(Namespace(point=sw["point"]))}


# --- Study C
RG = CFG["ridge"]


def ridge_seeds(block):
    """Seeds of one figure block: seed_first .. seed_first + block['seeds'] - 1."""
    return list(range(RG["seed_first"], RG["seed_first"] + block["seeds"]))


# --- cross-study (scorecard, archive)
def all_figures():
    """Every figure rule's outputs (each study's target rule lists them; call after those rules)."""
    return [f for target in (rules.metastable, rules.dichotomy, rules.ridge) for f in target.input]


def all_numbers():
    return [f for f in all_figures() if str(f).endswith(".csv")]


def made_from(path):
    """The job that makes ``path`` as Snakemake resolves it: (its inputs, its outputs); None if no
    rule makes it."""
    for r in workflow.rules:
        if r.output and r.is_producer(path):
            wildcards = r.get_wildcards(path)
            return [str(f) for f in r.expand_input(wildcards)[0]], [str(f) for f in r.expand_output(wildcards)[0]]
    return None


def upstream_results(wildcards):
    """Every result file the figures are made from, through every rule on the way (training runs,
    data sets, fits): what archive_results packs so that a restored clone retrains nothing."""
    return made_upstream(all_figures(), made_from)
