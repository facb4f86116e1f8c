"""Scorecard: every numbers-table row of every figure, summarised per study (archives: test_archive.py)."""
from grokrepro.numbers import Row, write_numbers
from grokrepro.report import scorecard


def test_scorecard_collects_every_row_and_summarises(tmp_path):
    a = tmp_path / "results" / "metastable" / "numbers" / "3.csv"
    b = tmp_path / "results" / "ridge" / "numbers" / "2.csv"
    write_numbers(a, [Row("x", 1.0, verdict="agrees"), Row("y", 2.0, verdict="deviates", note="paper says 3")])
    write_numbers(b, [Row("z", None, theory=0.5)])
    rows, summary = scorecard([a, b])
    assert [(r["study"], r["figure"], r["quantity"]) for r in rows] == [
        ("metastable", "3", "x"), ("metastable", "3", "y"), ("ridge", "2", "z")]
    assert summary == [{"study": "metastable", "rows": 2, "agrees": 1, "deviates": 1, "n/a": 0},
                       {"study": "ridge", "rows": 1, "agrees": 0, "deviates": 0, "n/a": 1}]
