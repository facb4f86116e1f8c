"""Rule scorecard: every numbers-table row of every figure, and a summary line per study."""
import sys

from grokrepro.report import SCORE_COLUMNS, scorecard, write_csv
from grokrepro import provenance

provenance.start(snakemake)
rows, summary = scorecard(snakemake.input.tables)
write_csv(snakemake.output.table, rows, SCORE_COLUMNS)
write_csv(snakemake.output.summary, summary, ["study", "rows", "agrees", "deviates", "n/a"])
for s in summary:
    print(f"{s['study']}: {s['rows']} rows, {s['agrees']} agree, {s['deviates']} deviate, {s['n/a']} n/a",
          file=sys.stderr)
