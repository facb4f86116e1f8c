# Cross-study stage: the scorecard and the artifact archives (results only, or with the training results).


rule scorecard:
    input:
        tables=all_numbers(),
        **script_inputs("scorecard"),
    output:
        table=report(f"{RES}/scorecard.csv", caption="../report/scorecard.rst", category="scorecard"),
        summary=f"{RES}/scorecard_summary.csv",
        summary_md=f"{RES}/SUMMARY.md",
        meta=f"{RES}/scorecard.meta.json",
    params:
        preset=CFG["preset"],
    log:
        f"{RES}/logs/scorecard.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/scorecard.py"


rule archive:
    input:
        figures=all_figures(),
        scorecard=rules.scorecard.output.table,
        summary=rules.scorecard.output.summary,
        summary_md=rules.scorecard.output.summary_md,
        scorecard_meta=rules.scorecard.output.meta,
        **script_inputs("archive"),
    output:
        f"{RES}/archive/grokrepro-{CFG['preset']}.tar.gz",
    params:
        config=CFG,
    log:
        f"{RES}/logs/archive.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/archive.py"


# The same archive plus every result file the figures are made from (training and data .npz):
# `python -m grokrepro restore` lays them into a fresh clone, whose `snakemake` then trains nothing.
use rule archive as archive_results with:
    input:
        **rules.archive.input,
        results=upstream_results,
    output:
        f"{RES}/archive/grokrepro-{CFG['preset']}-results.tar.gz",
    log:
        f"{RES}/logs/archive_results.log",
