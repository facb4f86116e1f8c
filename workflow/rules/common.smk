# Config validation and target helpers only; the science lives in src/grokrepro.
from pathlib import Path

from grokrepro.config import ConfigError, resolve

try:
    CFG = resolve(config, Path(workflow.basedir) / "workflow" / "schemas")
except ConfigError as err:
    raise WorkflowError(str(err)) from None

MS = CFG["metastable"]
RES = "results"


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
            labels={"figure": fig},
        ),
        "numbers": f"{RES}/{study}/numbers/{fig}.csv",
        "meta": f"{RES}/{study}/numbers/{fig}.meta.json",
    }


def code(*modules):
    """Source files a rule's results depend on (inputs, so that editing them reruns the rule)."""
    return [f"src/grokrepro/{m}" for m in modules]


def seeds(study_cfg):
    return list(range(study_cfg["seeds"]["first"], study_cfg["seeds"]["first"] + study_cfg["seeds"]["count"]))
