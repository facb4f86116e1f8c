"""Where Study B's verdicts are made: ratio_row, scaling_points and law_rows on synthetic inputs with
known answers (each verdict flips across its tolerance)."""
import math

import numpy as np
import pytest

from grokrepro.dichotomy import plots as P

FIG = {"fit_tolerance": 1e-2, "tail": 3, "min_jump": 0.05, "ratio_tolerance": 2.0, "slope_tolerance": 0.1}


# --------------------------------------------------------------------------- ratio_row
@pytest.mark.parametrize("measured, verdict", [(199.0, "agrees"), (201.0, "deviates"), (51.0, "agrees"),
                                               (49.0, "deviates"), (100.0, "agrees")])
def test_ratio_row_flips_at_the_factor(measured, verdict):
    row = P.ratio_row("a", measured, 100.0, 2.0)
    assert row.quantity == "transition_ratio[a]" and row.theory == 1.0
    assert row.measured == pytest.approx(measured / 100.0)
    assert row.verdict == verdict
    assert row.note == "measured/predicted step, predicted = ln(alpha)/(lr*lambda) = 100; agrees if within x2"


def test_ratio_row_without_transition_deviates_and_says_so():
    for measured, predicted in ((math.nan, 100.0), (150.0, 0.0), (150.0, -3.0)):
        row = P.ratio_row("a", measured, predicted, 2.0, note="extra")
        assert math.isnan(row.measured) and row.verdict == "deviates"
        assert row.note.endswith("; extra; no transition detected within the run")


def test_ratio_row_tolerance_is_the_callers():
    assert P.ratio_row("a", 290.0, 100.0, 3.0).verdict == "agrees"
    assert P.ratio_row("a", 290.0, 100.0, 2.5).verdict == "deviates"


# --------------------------------------------------------------------------- scaling_points
def _ramp(axis, p, f, a, b):
    """A test metric linear in log(axis) from p at ``a`` to f at ``b`` (flat outside): its midpoint
    crossing, interpolated in log(axis), is exactly sqrt(a*b)."""
    la = np.log(np.maximum(axis, 1e-300))
    frac = np.clip((la - math.log(a)) / (math.log(b) - math.log(a)), 0.0, 1.0)
    return p + (f - p) * frac


def _run(axis, ramps, alphas, wds, classification=True, flow=False):
    axis = np.asarray(axis, float)
    e, r = axis.size, len(ramps)
    train = np.ones((e, r)) if classification else np.full((e, r), 1e-4)
    train[0] = 0.5 if classification else 1.0
    test = np.stack([_ramp(axis, *rp) for rp in ramps], 1)
    run = {"grid_alpha": np.asarray(alphas, float), "grid_weight_decay": np.asarray(wds, float),
           "time" if flow else "steps": axis}
    run["rec_train_acc" if classification else "rec_train_loss"] = train
    run["rec_test_acc" if classification else "rec_test_loss"] = test
    return run


def test_scaling_points_recovers_known_transitions():
    steps = np.concatenate([[0], np.logspace(0, 5, 101)])
    ramps = [(0.5, 1.0, 100.0, 400.0),     # midpoint at 200 steps, settled long before the end
             (0.5, 1.0, 1000.0, 4000.0),   # midpoint at 2000
             (0.5, 1.0, 3e3, 3e5)]         # still rising at the end: not settled
    run = _run(steps, ramps, [10.0, 100.0, 100.0], [0.1, 0.05, 0.05])
    pts = P.scaling_points(run, {"lr": 0.5}, True, FIG)
    np.testing.assert_allclose(pts["t"][:2], [0.5 * 200.0, 0.5 * 2000.0], rtol=1e-9)  # flow time = step * lr
    assert pts["settled"].tolist() == [True, True, False]
    np.testing.assert_allclose(pts["pred"], np.log([10.0, 100.0, 100.0]) / np.array([0.1, 0.05, 0.05]))
    np.testing.assert_array_equal(pts["alpha"], [10.0, 100.0, 100.0])


def test_scaling_points_regression_on_a_flow_time_axis():
    time = np.concatenate([[0], np.logspace(-2, 3, 121)])
    run = _run(time, [(0.2, 0.01, 4.0, 16.0)], [20.0], [0.1], classification=False, flow=True)
    pts = P.scaling_points(run, {"lr": 0.2}, False, FIG)  # lr is ignored on a flow-time axis
    assert pts["t"][0] == pytest.approx(8.0, rel=1e-9) and pts["settled"].tolist() == [True]


def test_scaling_points_without_a_jump_has_no_transition():
    steps = np.concatenate([[0], np.logspace(0, 4, 60)])
    run = _run(steps, [(0.6, 0.62, 10.0, 100.0)], [10.0], [0.1])  # a rise below min_jump
    pts = P.scaling_points(run, {"lr": 1.0}, True, FIG)
    assert math.isnan(pts["t"][0])


# --------------------------------------------------------------------------- law_rows
def _law_pts(slope, offset, noise=0.0):
    alphas = np.repeat([10.0, 100.0, 1000.0, 1e4], 2)
    wds = np.tile([0.05, 0.1], 4)
    y = slope * np.log(alphas) + offset + noise * np.tile([1.0, -1.0], 4)
    return {"alpha": alphas, "lambda": wds, "t": y / wds}


@pytest.mark.parametrize("slope, verdict", [(1.05, "agrees"), (0.95, "agrees"), (1.15, "deviates"),
                                            (0.85, "deviates")])
def test_law_rows_slope_verdict_flips_at_slope_tol(slope, verdict):
    rows, fit = P.law_rows("g", _law_pts(slope, -1.5), slope_tolerance=0.1)
    s_row, c_row = rows
    assert s_row.quantity == "scaling_slope[g]" and c_row.quantity == "scaling_offset[g]"
    assert s_row.measured == pytest.approx(slope) and c_row.measured == pytest.approx(-1.5)
    assert fit["n"] == 8 and s_row.theory == 1.0
    assert s_row.verdict == verdict and c_row.verdict == "n/a"
    assert s_row.note.endswith("|measured-ref| <= 0.1*|ref|")


def test_law_rows_intervals_cover_and_drop_missing_points():
    pts = _law_pts(1.0, 0.3, noise=0.05)
    pts["t"][3] = math.nan  # a replica without a transition is left out of the fit
    rows, fit = P.law_rows("g", pts, slope_tolerance=0.1)
    assert fit["n"] == 7 and "over the 7 grid points" in rows[0].note
    assert rows[0].ci_low < 1.0 < rows[0].ci_high and rows[1].ci_low < 0.3 < rows[1].ci_high
    one_alpha = {"alpha": np.full(4, 10.0), "lambda": np.full(4, 0.1), "t": np.full(4, 20.0)}
    rows, fit = P.law_rows("g", one_alpha, slope_tolerance=0.1)
    assert math.isnan(fit["slope"]) and rows[0].verdict == "n/a"  # no slope from one alpha
