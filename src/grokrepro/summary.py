"""``results/SUMMARY.md``: what reproduces, in plain words, one row per claim of each paper.

The claims files (:mod:`grokrepro.claims`) say what each paper states; the numbers tables say what
we measured. This module joins the two: every claim with the rows that measure it (ours with its
interval, our theory, the verdict and its reason), and the claims that no table measured.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from . import claims as claims_mod
from .io import atomic_target

TITLES = {
    "metastable": "Study A — Ersoy & Wiesner 2026, metastable phases of deep linear networks",
    "dichotomy": "Study B — Lyu et al. 2024, dichotomy of early and late phase implicit biases",
    "ridge": "Study C — Xu, Vardi & Safran 2026, provable grokking in ridge regression",
}


def _num(text: str) -> str:
    """A table cell as a person reads it: numbers to 4 significant digits, text as is."""
    if text in ("", None):
        return ""
    try:
        v = float(text)
    except ValueError:
        return str(text).replace("|", "\\|")
    return f"{v:.4g}" if math.isfinite(v) else str(text)


def _ours(row: dict) -> str:
    m = _num(row.get("measured", ""))
    lo, hi = _num(row.get("ci_low", "")), _num(row.get("ci_high", ""))
    return f"{m} [{lo}, {hi}]" if m and lo and hi else m


def _reason(note: str, limit: int = 140) -> str:
    first = (note or "").split("; ")[0].strip().replace("|", "\\|")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def join(rows: list[dict], studies=claims_mod.STUDIES) -> dict[str, list[tuple]]:
    """Per study, ``(claim, [matching scorecard rows])`` for every claim, in the claims file's order."""
    out = {}
    for study in studies:
        study_rows = [r for r in rows if r["study"] == study]
        out[study] = [(c, [r for r in study_rows if c.matches(r["figure"], r["quantity"])])
                      for c in claims_mod.load(study).values()]
    return out


def counts(rows: list[dict], joined: dict) -> dict[str, dict]:
    """Per study: numbers rows by verdict, and claims tested / never tested."""
    out = {}
    for study, pairs in joined.items():
        verdicts = Counter(r["verdict"] for r in rows if r["study"] == study)
        claim_verdicts = Counter(r["verdict"] for _, hits in pairs for r in hits)
        out[study] = {"rows": sum(verdicts.values()), **{v: verdicts[v] for v in ("agrees", "deviates", "n/a")},
                      "claims": len(pairs), "claims_tested": sum(1 for _, h in pairs if h),
                      "claim_rows": {v: claim_verdicts[v] for v in ("agrees", "deviates", "n/a")}}
    return out


def markdown(rows: list[dict], preset: str) -> str:
    """The text of SUMMARY.md for the scorecard ``rows`` of one run."""
    joined = join(rows)
    count = counts(rows, joined)
    lines = [f"# What reproduces — preset `{preset}`", "",
             "Every claim of the three papers that this pipeline tests (from `src/grokrepro/claims/*.yaml`), "
             "with what we measured, our theory's value and the verdict. `n/a` means not judged: the note says why "
             "(a value that is only a lower bound set by the budget, a diverged run, a comparison that cannot be "
             "made). All rows, including checks against our theory alone, are in `scorecard.csv`.", "",
             "| study | claims | tested | claim rows: agrees / deviates / n/a "
             "| all numbers rows: agrees / deviates / n/a |",
             "|---|---|---|---|---|"]
    for study, c in count.items():
        cr = c["claim_rows"]
        lines.append(f"| {study} | {c['claims']} | {c['claims_tested']} | {cr['agrees']} / {cr['deviates']} / "
                     f"{cr['n/a']} | {c['agrees']} / {c['deviates']} / {c['n/a']} |")
    for study, pairs in joined.items():
        lines += ["", f"## {TITLES.get(study, study)}", "",
                  "| figure | claim | where | paper | ours [95% CI] | theory | verdict | reason |",
                  "|---|---|---|---|---|---|---|---|"]
        untested = []
        for claim, hits in pairs:
            if not hits:
                untested.append(claim)
                continue
            for r in hits:
                words = claim.words if r is hits[0] else f"↳ `{r['quantity']}`"
                lines.append(f"| {r['figure']} | {words} | {claim.where} | {_num(r['paper'])} | {_ours(r)} | "
                             f"{_num(r['theory'])} | **{r['verdict']}** | {_reason(r['note'])} |")
        if untested:
            lines += ["", "Claims not tested in this run:", ""]
            lines += [f"- Fig {c.figure}: {c.words} ({c.where}; `{c.quantity}`)" for c in untested]
    return "\n".join(lines) + "\n"


def write(path: str | Path, rows: list[dict], preset: str) -> None:
    path = Path(path)
    tmp = atomic_target(path)
    tmp.write_text(markdown(rows, preset))
    tmp.replace(path)





def closing_lines(results: str | Path) -> list[str]:
    """What a finished `snakemake` prints last: verdict counts per study and where to look."""
    import csv

    results = Path(results)
    table = results / "scorecard_summary.csv"
    figures = sorted(results.glob("*/figures/*.png"))
    lines = [f"grokrepro: {len(figures)} figures in {results}/<study>/figures/"]
    if not table.exists():  # a partial target (one study, one figure): no scorecard yet
        return lines + ["  verdicts per figure: <study>/numbers/<figure>.csv; counts and SUMMARY.md: "
                        "snakemake scorecard"] if figures else []
    with table.open(newline="") as fh:
        for s in csv.DictReader(fh):
            lines.append(f"  {s['study']:<11} {s['rows']:>4} numbers rows: {s['agrees']} agree, "
                         f"{s['deviates']} deviate, {s['n/a']} n/a")
    lines.append(f"  what reproduces, in words: {results / 'SUMMARY.md'}")
    report = results / "report.html"
    lines.append(f"  report: {report}" if report.exists()
                 else f"  browsable report: snakemake --report {report}")
    return lines


__all__ = ["join", "counts", "markdown", "write", "closing_lines"]
