"""The numbers table each figure rule writes beside its figure.

Columns: ``quantity,measured,ci_low,ci_high,paper,theory,verdict,note``. A verdict is
``agrees``, ``deviates`` or ``n/a`` and the note states the tolerance it was judged with.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .io import atomic_target

COLUMNS = ("quantity", "measured", "ci_low", "ci_high", "paper", "theory", "verdict", "note")
VERDICTS = ("agrees", "deviates", "n/a")


@dataclass
class Row:
    quantity: str
    measured: float | str | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    paper: float | str | None = None
    theory: float | str | None = None
    verdict: str = "n/a"
    note: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def judge(measured, reference, abs_tol=None, rel_tol=None, factor=None, bound=None) -> tuple[str, str]:
    """Verdict of ``measured`` against ``reference`` under exactly one tolerance rule:

    - ``abs_tol``: agrees if ``|measured - reference| <= abs_tol``;
    - ``rel_tol``: agrees if ``|measured - reference| <= rel_tol * |reference|``;
    - ``factor``: agrees if ``measured / reference`` lies in ``[1/factor, factor]`` (both > 0);
    - ``bound="lower"`` / ``"upper"``: the reference is a bound the measured value must respect
      (``measured >= reference`` / ``measured <= reference``).

    Returns (verdict, note-fragment). Missing or non-finite values give ``n/a``.
    """
    rules = [r for r in (abs_tol, rel_tol, factor, bound) if r is not None]
    if len(rules) != 1:
        raise ValueError("judge takes exactly one of abs_tol, rel_tol, factor, bound")
    if measured is None or reference is None:
        return "n/a", "no value to compare"
    m, r = float(measured), float(reference)
    if not (math.isfinite(m) and math.isfinite(r)):
        return "n/a", "non-finite value"
    if abs_tol is not None:
        ok = abs(m - r) <= abs_tol
        return ("agrees" if ok else "deviates"), f"|measured-ref| <= {abs_tol:g}"
    if rel_tol is not None:
        ok = abs(m - r) <= rel_tol * abs(r)
        return ("agrees" if ok else "deviates"), f"|measured-ref| <= {rel_tol:g}*|ref|"
    if factor is not None:
        if m <= 0 or r <= 0:
            return "n/a", "ratio of non-positive values"
        ok = 1 / factor <= m / r <= factor
        return ("agrees" if ok else "deviates"), f"measured/ref within x{factor:g}"
    if bound not in ("lower", "upper"):
        raise ValueError(f"bound must be 'lower' or 'upper', got {bound!r}")
    ok = m >= r if bound == "lower" else m <= r
    return ("agrees" if ok else "deviates"), ("measured >= ref" if bound == "lower" else "measured <= ref")


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else f"{float(value):.6g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def write_numbers(path: str | Path, rows: list[Row]) -> None:
    path = Path(path)
    tmp = atomic_target(path)
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for row in rows:
            d = asdict(row)
            writer.writerow([_fmt(d[c]) for c in COLUMNS])
    tmp.replace(path)


def read_numbers(path: str | Path) -> list[dict]:
    with Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def bootstrap_median_ci(values, level=0.95, n_boot=2000, seed=0) -> tuple[float, float, float]:
    """Median of finite ``values`` with a percentile-bootstrap CI (deterministic seed)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boots = np.median(rng.choice(v, size=(n_boot, v.size), replace=True), axis=1)
    a = (1 - level) / 2
    return float(np.median(v)), float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


__all__ = ["Row", "judge", "write_numbers", "read_numbers", "bootstrap_median_ci", "COLUMNS"]
