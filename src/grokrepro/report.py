"""Scorecard: every numbers-table row of every figure, and a summary per study (archives: grokrepro.archive)."""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

from .io import atomic_target
from .numbers import COLUMNS, read_numbers

SCORE_COLUMNS = ("study", "figure") + COLUMNS


def scorecard(tables: list[str | Path]) -> tuple[list[dict], list[dict]]:
    """Rows of results/<study>/numbers/<fig>.csv tables, and a one-line summary per study."""
    rows = []
    for path in sorted(map(Path, tables)):
        study, fig = path.parts[-3], path.stem
        for r in read_numbers(path):
            rows.append({"study": study, "figure": fig, **r})
    summary = []
    for study in sorted({r["study"] for r in rows}):
        counts = Counter(r["verdict"] for r in rows if r["study"] == study)
        summary.append({"study": study, "rows": sum(counts.values()), "agrees": counts["agrees"],
                        "deviates": counts["deviates"], "n/a": counts["n/a"]})
    return rows, summary


def write_csv(path: str | Path, rows: list[dict], columns) -> None:
    path = Path(path)
    tmp = atomic_target(path)
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
