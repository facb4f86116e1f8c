"""SUMMARY.md joins the claims files with the numbers rows; claims files are well-formed and cited."""
import ast
from pathlib import Path

import pytest

from grokrepro import claims, summary

SRC = Path(__file__).resolve().parents[1] / "src" / "grokrepro"


@pytest.fixture
def fake_claims(tmp_path, monkeypatch):
    (tmp_path / "metastable.yaml").write_text(
        "- {id: bc, figure: '3', quantity: 'beta_c[*]', paper: 0.45, words: Drop at the spinodal., where: Fig. 3,"
        " verdict: abs 0.03}\n"
        "- {id: tau, figure: 2b, quantity: tau, paper: 5500, words: Escape after 5500 epochs., where: Sec. 4,"
        " verdict: x2}\n")
    for s in ("dichotomy", "ridge"):
        (tmp_path / f"{s}.yaml").write_text("[]\n")
    monkeypatch.setattr(claims, "CLAIMS_DIR", tmp_path)
    claims.load.cache_clear()
    yield
    claims.load.cache_clear()


def row(fig, q, measured, verdict, paper="", note="n"):
    return {"study": "metastable", "figure": fig, "quantity": q, "measured": measured, "ci_low": "", "ci_high": "",
            "paper": paper, "theory": "", "verdict": verdict, "note": note}


def test_summary_lists_every_claim_with_its_rows_and_the_untested(fake_claims):
    rows = [row("3", "beta_c[feature=1]", "0.4351", "agrees", 0.45, "|measured-ref| <= 0.03; 8 seeds"),
            row("3", "beta_c[feature=2]", "0.3", "deviates", 0.45), row("3", "other", "1", "n/a")]
    text = summary.markdown(rows, "tiny")
    assert "Drop at the spinodal." in text and "↳ `beta_c[feature=2]`" in text
    assert "| 3 | Drop at the spinodal. | Fig. 3 | 0.45 | 0.4351 |  | **agrees** | \\|measured-ref\\| <= 0.03 |" in text
    assert "Claims not tested in this run:" in text and "Escape after 5500 epochs." in text
    c = summary.counts(rows, summary.join(rows))["metastable"]
    assert (c["claims"], c["claims_tested"], c["rows"]) == (2, 1, 3)
    assert c["claim_rows"] == {"agrees": 1, "deviates": 1, "n/a": 0}


def test_claims_files_are_valid_and_ids_unique():
    for study in claims.STUDIES:
        loaded = claims.load(study)  # raises on a missing field, an unknown field or a duplicate id
        for c in loaded.values():
            assert c.words and c.where and c.figure and c.quantity and c.verdict, c


def _cited_ids():
    """(study, id) of every claims.paper/get("study", "id") call with literal arguments in src/."""
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("paper", "get") and getattr(node.func.value, "id", "") == "claims"
                    and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args)):
                yield path.name, node.args[0].value, node.args[1].value


def test_every_claim_cited_in_code_exists():
    cited = list(_cited_ids())
    for name, study, cid in cited:
        assert cid in claims.load(study), f"{name} cites claim {cid!r} missing from claims/{study}.yaml"


def test_closing_lines_count_the_verdicts_or_point_to_the_scorecard(tmp_path):
    assert summary.closing_lines(tmp_path) == []  # nothing built: nothing to say
    (tmp_path / "ridge" / "figures").mkdir(parents=True)
    (tmp_path / "ridge" / "figures" / "1.png").write_bytes(b"")
    lines = summary.closing_lines(tmp_path)
    assert lines[0] == f"grokrepro: 1 figures in {tmp_path}/<study>/figures/" and "snakemake scorecard" in lines[1]
    (tmp_path / "scorecard_summary.csv").write_text("study,rows,agrees,deviates,n/a\nridge,5,3,1,1\n")
    lines = summary.closing_lines(tmp_path)
    assert lines[1].split() == ["ridge", "5", "numbers", "rows:", "3", "agree,", "1", "deviate,", "1", "n/a"]
    assert lines[2].endswith("SUMMARY.md") and "snakemake --report" in lines[3]
