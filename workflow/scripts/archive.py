"""Rules archive and archive_results: figures, numbers, scorecard, report (if built), config,
environment, git, manifest; archive_results also the results the figures are made from."""
import sys
from pathlib import Path

from grokrepro.archive import archive_extras, build_archive
from grokrepro import provenance

provenance.start(snakemake)
results = Path(snakemake.output[0]).parents[1]  # <results>/archive/grokrepro-<preset>[-results].tar.gz


def member(path) -> str:
    """Archive name results/<path inside the results folder>, whichever folder the run used."""
    return str(Path("results") / Path(path).relative_to(results))


inputs = snakemake.input
files = {member(f): f for f in list(inputs.figures) + [inputs.scorecard, inputs.summary, inputs.summary_md,
                                                                   inputs.scorecard_meta]
         + list(getattr(inputs, "results", []))}
for report in (results / "report.html", results / "report.zip"):
    if report.exists():  # built by `snakemake --report <results>/report.html` beforehand
        files[member(report)] = report
build_archive(snakemake.output[0], files, archive_extras(snakemake.params.config, Path.cwd()))
print(f"archived {len(files)} files to {snakemake.output[0]}", file=sys.stderr)
