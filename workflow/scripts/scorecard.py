"""Rule scorecard: every numbers-table row of every figure, and a summary line per study."""
import sys

from grokrepro import provenance, summary
from grokrepro.report import SCORE_COLUMNS, scorecard, write_csv

provenance.start(snakemake)
rows, counts = scorecard(snakemake.input.tables)
write_csv(snakemake.output.table, rows, SCORE_COLUMNS)
write_csv(snakemake.output.summary, counts, ["study", "rows", "agrees", "deviates", "n/a"])
summary.write(snakemake.output.summary_md, rows, snakemake.params.preset)
for s in counts:
    print(f"{s['study']}: {s['rows']} rows, {s['agrees']} agree, {s['deviates']} deviate, {s['n/a']} n/a",
          file=sys.stderr)
