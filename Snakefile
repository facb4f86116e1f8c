# Grokking paper-figure pipeline: the table of contents. Rules live in workflow/rules/, one file
# per stage; the science in src/grokrepro. `snakemake` builds every figure (default preset).
import sys

from snakemake.utils import min_version

from grokrepro.costs import preset_notice

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


for line in preset_notice(CFG["preset"], workflow.basedir) if workflow.is_main_process else []:
    print(line, file=sys.stderr)  # paper preset: each study's CPU time from measured job costs, before jobs start

# Study A -- metastable phases (Ersoy & Wiesner 2026)
include: "workflow/rules/metastable/data.smk"
include: "workflow/rules/metastable/sweep.smk"
include: "workflow/rules/metastable/trap.smk"
include: "workflow/rules/metastable/escape.smk"
include: "workflow/rules/metastable/langevin.smk"
include: "workflow/rules/metastable/fit.smk"
include: "workflow/rules/metastable/figures.smk"
include: "workflow/rules/metastable/beyond.smk"
# Study B -- implicit-bias dichotomy (Lyu et al. 2024)
include: "workflow/rules/dichotomy/data.smk"
include: "workflow/rules/dichotomy/train.smk"
include: "workflow/rules/dichotomy/figures.smk"
# Study C -- ridge regression (Xu, Vardi & Safran 2026)
include: "workflow/rules/ridge/train.smk"
include: "workflow/rules/ridge/figures.smk"

# Cross-study: scorecard and archive
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.metastable.input,
        rules.dichotomy.input,
        rules.ridge.input,
        rules.scorecard.output,


onsuccess:
    from grokrepro.summary import closing_lines

    for line in closing_lines(RES):
        print(line)
