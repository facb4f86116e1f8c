# Cross-study stage: the scorecard and the artifact archive.


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
    script:
        "../scripts/scorecard.py"


rule archive:
    input:
        figures=all_figures(),
        scorecard=rules.scorecard.output.table,
        summary=rules.scorecard.output.summary,
        scorecard_meta=rules.scorecard.output.meta,
        **script_inputs("archive"),
    output:
        f"{RES}/archive/grokrepro-{CFG['preset']}.tar.gz",
    params:
        config=CFG,
    log:
        f"{RES}/logs/archive.log",
    script:
        "../scripts/archive.py"
