"""numbers.judge, where every verdict of every numbers table is decided: each rule on both sides of
its tolerance, the n/a cases, and misuse."""
import math

import pytest

from grokrepro.numbers import Row, judge, read_numbers, write_numbers


@pytest.mark.parametrize("measured, reference, kw, verdict", [
    (1.04, 1.0, {"abs_tol": 0.05}, "agrees"),
    (1.06, 1.0, {"abs_tol": 0.05}, "deviates"),
    (0.94, 1.0, {"abs_tol": 0.05}, "deviates"),
    (-2.0, -2.1, {"abs_tol": 0.2}, "agrees"),
    (10.9, 10.0, {"rel_tol": 0.1}, "agrees"),
    (11.1, 10.0, {"rel_tol": 0.1}, "deviates"),
    (-9.0, -10.0, {"rel_tol": 0.05}, "deviates"),
    (1.9, 1.0, {"factor": 2.0}, "agrees"),
    (0.51, 1.0, {"factor": 2.0}, "agrees"),
    (0.49, 1.0, {"factor": 2.0}, "deviates"),
    (2.1, 1.0, {"factor": 2.0}, "deviates"),
    (5.0, 3.0, {"bound": "lower"}, "agrees"),
    (2.0, 3.0, {"bound": "lower"}, "deviates"),
    (2.0, 3.0, {"bound": "upper"}, "agrees"),
    (5.0, 3.0, {"bound": "upper"}, "deviates"),
])
def test_judge_each_rule_on_both_sides(measured, reference, kw, verdict):
    got, note = judge(measured, reference, **kw)
    assert got == verdict and note


@pytest.mark.parametrize("measured, reference, kw", [
    (None, 1.0, {"abs_tol": 1}), (1.0, None, {"rel_tol": 1}), (math.nan, 1.0, {"abs_tol": 1}),
    (1.0, math.inf, {"rel_tol": 1}), (-1.0, 1.0, {"factor": 2}), (1.0, 0.0, {"factor": 2}),
])
def test_judge_not_applicable(measured, reference, kw):
    assert judge(measured, reference, **kw)[0] == "n/a"


def test_judge_notes_state_the_tolerance():
    assert judge(1, 1, abs_tol=0.03)[1] == "|measured-ref| <= 0.03"
    assert judge(1, 1, rel_tol=0.1)[1] == "|measured-ref| <= 0.1*|ref|"
    assert judge(1, 1, factor=2)[1] == "measured/ref within x2"
    assert judge(1, 1, bound="lower")[1] == "measured >= ref"


def test_judge_takes_exactly_one_rule():
    with pytest.raises(ValueError):
        judge(1, 1)
    with pytest.raises(ValueError):
        judge(1, 1, abs_tol=1, rel_tol=1)
    with pytest.raises(ValueError):
        judge(1, 1, bound="sideways")


def test_rows_round_trip_and_reject_unknown_verdicts(tmp_path):
    path = tmp_path / "t.csv"
    write_numbers(path, [Row("x", 1.23456789, 1.0, 2.0, paper=1.2, theory="n/a", verdict="agrees", note="a; b")])
    (r,) = read_numbers(path)
    assert (r["measured"], r["ci_low"], r["paper"], r["verdict"]) == ("1.23457", "1", "1.2", "agrees")
    with pytest.raises(ValueError):
        Row("x", verdict="fine")
