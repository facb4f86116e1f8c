"""Study C numbers rows on synthetic results with known answers: the generic producers
(bootstrap_median_ci, loglog_slope, slope_row, median_row, indicator_row), each figure's row
producer (verdicts flip when the input crosses its tolerance), the claims join, and the figure
contract (figure functions return (fig, rows) and save nothing)."""
import io
import math

import matplotlib.figure
import numpy as np
import pytest

import ridge_synthetic as syn
from grokrepro import claims
from grokrepro.numbers import bootstrap_median_ci
from grokrepro.ridge import plots
from grokrepro.ridge.rows import (
    bound_rows, control_rows, engine_rows, fig1_rows, fig2_rows, fig5_rows, fig6_rows, fig7_rows, indicator_row,
    loglog_slope, median_row, slope_row, sweep_rows,
)

P2 = {"eta": 1.0, "eps": 0.01, "c": 0.01, "slope_tolerance": 0.05, "defaults": syn.DEFAULTS, "grids": syn.GRIDS}


def by_name(rows):
    return {r.quantity: r for r in rows}


# ------------------------------------------------------------------------------ generic producers
def test_bootstrap_median_ci_median_and_interval():
    v = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan, np.inf])
    med, lo, hi = bootstrap_median_ci(v)
    assert med == 3.0  # non-finite values dropped
    assert 1.0 <= lo <= med <= hi <= 100.0
    assert bootstrap_median_ci(v) == (med, lo, hi)  # deterministic seed
    assert bootstrap_median_ci([5.0, 5.0, 5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(x) for x in bootstrap_median_ci([np.nan, np.nan]))


def test_loglog_slope_recovers_power_law_and_drops_bad_points():
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    Y = np.outer(x ** -0.7, [1.0, 1.1, 0.9])
    s, lo, hi = loglog_slope(x, Y)
    assert s == pytest.approx(-0.7, abs=1e-12)
    assert lo == pytest.approx(-0.7, abs=1e-9) and hi == pytest.approx(-0.7, abs=1e-9)
    Y = np.outer(x ** -0.7, [1.0, 1.0, 1.0])
    Y[0, 0], Y[1, 1] = np.nan, -1.0  # dropped (one pooled fit: a common intercept keeps the slope exact)
    assert loglog_slope(x, Y)[0] == pytest.approx(-0.7, abs=1e-12)
    noisy = Y * np.exp(np.random.default_rng(0).normal(0, 0.2, Y.shape))
    s, lo, hi = loglog_slope(x, noisy)
    assert lo < s < hi and hi - lo > 1e-3
    assert math.isnan(loglog_slope(x[:2], Y[:2, :1])[0])  # fewer than 3 points


@pytest.mark.parametrize("slope,verdict", [(-1.04, "agrees"), (-0.96, "agrees"), (-1.06, "deviates"),
                                           (-0.94, "deviates")])
def test_slope_row_verdict_flips_at_the_tolerance(slope, verdict):
    x = np.array([1e-5, 1e-4, 1e-3])
    row = slope_row("s", x, np.outer(x ** slope, [1.0, 1.01]), -1.0, 0.05, paper=-1.0, what="; extra")
    assert row.verdict == verdict
    assert row.measured == pytest.approx(slope)
    assert row.theory == -1.0 and row.paper == -1.0
    assert row.note == "least-squares slope over all seeds, seed-bootstrap 95% CI; |measured-ref| <= 0.05; extra"


def test_slope_row_without_finite_slope_is_na():
    row = slope_row("s", [1.0, 2.0, 3.0], np.full((3, 2), np.nan), -1.0, 0.05)
    assert row.verdict == "n/a" and "non-finite" in row.note


def test_median_row_says_how_many_never_crossed():
    row = median_row("t", [10.0, 20.0, 30.0, np.nan])
    assert row.measured == 20.0 and row.verdict == "n/a"
    assert row.note == "median over 4 seeds, 95% bootstrap CI; 25% of runs never crossed"
    assert median_row("t", [1.0, 2.0], note="; x").note == "median over 2 seeds, 95% bootstrap CI; x"


def test_indicator_row_agrees_only_when_the_statement_holds():
    assert indicator_row("ok", True, 1.0).verdict == "agrees"
    no = indicator_row("ok", False, 1.0, note="n")
    assert (no.measured, no.verdict, no.note) == (0.0, "deviates", "n")


# ------------------------------------------------------------------------------ Fig. 1 and Fig. 2
def test_fig1_rows_medians_and_grokking_fraction():
    ridge = syn.curves([[100.0, 200.0, 300.0]], [[2000.0, 1000.0, 3500.0]])
    rows = by_name(fig1_rows(ridge, syn.two_layer([50.0, 60.0], [np.nan, np.nan])))
    assert rows["ridge_t1_median"].measured == 200.0
    assert rows["ridge_fraction_grokking"].measured == pytest.approx(2 / 3)  # 1000 < 10 * 200
    assert "100% of runs never crossed" in rows["relu_net_t2_median"].note


def test_fig2_rows_on_a_sweep_that_obeys_the_paper():
    rows = by_name(fig2_rows(syn.sweep(), syn.engine(), P2))
    agree = [q for q, r in rows.items() if r.verdict == "agrees"]
    assert sorted(agree) == sorted([
        "all_t1_le_bound[defaults]", "all_t2_ge_bound[defaults]", "frac_t1_within_bound", "frac_t2_within_bound",
        "slope_log_t2_vs_log_lambda", "slope_log_t1_vs_log_lambda", "t2_grows_faster_than_t1_in_ln_nu2",
        "engine_vs_closed_form_max_rel_err", "engine_t1_equals_closed_form", "engine_t2_equals_closed_form"])
    assert not [q for q, r in rows.items() if r.verdict == "deviates"]
    assert rows["t1_median[defaults]"].measured == pytest.approx(200 * 1.001)
    assert rows["dt2_dln_nu2"].measured == pytest.approx(5000 * 1.001)
    assert rows["dt2_dln_nu2"].theory == pytest.approx(5000.0)
    assert rows["frac_t1_within_bound"].note.startswith("36/36 runs")  # 12 points x 3 seeds, all eta lambda <= 0.01


@pytest.mark.parametrize("change,quantity", [
    (dict(bound_factor=(0.99, 0.5)), "all_t1_le_bound[defaults]"),
    (dict(bound_factor=(5.0, 1.01)), "all_t2_ge_bound[defaults]"),
    (dict(lam_slope=-0.9), "slope_log_t2_vs_log_lambda"),
    (dict(nu2_t1=6000.0), "t2_grows_faster_than_t1_in_ln_nu2"),
])
def test_fig2_rows_deviate_when_the_sweep_breaks_a_claim(change, quantity):
    rows = by_name(fig2_rows(syn.sweep(**change), syn.engine(), P2))
    assert rows[quantity].verdict == "deviates"


def test_bound_rows_count_violations_inside_eq8_only():
    S = syn.sweep()
    S["n__t1"][0, 1] = 1e9  # one run above its t1 bound
    S["lam__t2"][2, :] = 0.0  # below the t2 bound, but at eta lambda = 1e-3 > 0.01: outside Eq. 8
    rows = by_name(bound_rows(S, list(syn.GRIDS), eta=100.0))
    assert rows["frac_t1_within_bound"].verdict == "deviates"
    assert rows["frac_t1_within_bound"].note.startswith("32/33 runs")  # lambda = 1e-3 (eta lambda = 0.1) skipped
    assert rows["frac_t2_within_bound"].verdict == "agrees"


@pytest.mark.parametrize("kw,quantity,verdict", [
    (dict(max_rel_err=0.9e-8), "engine_vs_closed_form_max_rel_err", "agrees"),
    (dict(max_rel_err=1.1e-8), "engine_vs_closed_form_max_rel_err", "deviates"),
    (dict(t1=(210.0, 300.0), t2=(1.0, 2.0), t1_exact=(210.0, 301.0)), "engine_t1_equals_closed_form", "deviates"),
    (dict(t2=(np.nan,), t2_exact=(np.nan,)), "engine_t2_equals_closed_form", "agrees"),
])
def test_engine_rows(kw, quantity, verdict):
    assert by_name(engine_rows(syn.engine(**kw)))[quantity].verdict == verdict


# ------------------------------------------------------------------------------ Figs. 3-7, control
@pytest.mark.parametrize("lam_slope,verdict", [(-1.0, "agrees"), (-1.1, "deviates")])
def test_sweep_rows_judge_the_lambda_slope_only(lam_slope, verdict):
    rows = sweep_rows(syn.sweep(lam_slope=lam_slope), P2, slope_ref=-1.0, tol=0.05, kind="k")
    r = by_name(rows)
    assert r["slope_log_t2_vs_log_lambda"].verdict == verdict
    assert r["slope_log_t2_vs_log_lambda"].note.endswith("; k")
    assert r["frac_runs_t2_gt_10_t1[defaults]"].measured == 1.0
    assert r["slope_log_t1_vs_log_n"].measured == pytest.approx(1.0)
    assert [x.verdict for x in rows if x.quantity.startswith("slope_log_t") and "lambda" not in x.quantity] == \
        ["n/a"] * 6


def test_fig5_rows_accuracy_steps():
    C = syn.curves([[100.0, 200.0]], [[1000.0, 3000.0]], accuracy=True)
    rows = by_name(fig5_rows(C))
    first = syn.STEPS[np.argmax(syn.STEPS >= 400)], syn.STEPS[np.argmax(syn.STEPS >= 200)]
    assert rows["train_acc_first_ge_0.99_step"].measured == pytest.approx(np.median(first))
    assert rows["test_acc_at_t1"].measured == pytest.approx(0.3)


@pytest.mark.parametrize("noisy_gap,verdict", [(1.09, "agrees"), (0.91, "agrees"), (1.11, "deviates")])
def test_fig6_ratio_verdict_flips_at_the_noise_tolerance(noisy_gap, verdict):
    t1 = [[100.0, 100.0], [100.0, 100.0]]
    t2 = [[1100.0, 1100.0], [100.0 + 1000.0 * noisy_gap] * 2]
    rows = by_name(fig6_rows(syn.curves(t1, t2, noise=(0.0, 0.1)), {"noise_rel_tolerance": 0.1}))
    r = rows["grokking_time_ratio_noisy_over_clean"]
    assert r.measured == pytest.approx(noisy_gap) and r.verdict == verdict
    assert "t2_median[noise=0.1]" in rows


def test_fig7_rows():
    rows = by_name(fig7_rows(syn.curves([[255.0, 255.0]], [[2e4, 2.2e4]]), syn.sweep(lam_slope=-1.2),
                             dict(P2, grids={"lam": [1e-5, 1e-4, 1e-3], "nu2": [1.0, 10.0]})))
    assert rows["t2_median[defaults]"].measured == pytest.approx(2.1e4)
    assert rows["slope_log_t2_vs_log_lambda"].verdict == "deviates"


@pytest.mark.parametrize("factors,verdicts", [
    ((0.09, 0.0, 10.5, 2.1), ("agrees", "agrees", "agrees", "agrees")),
    ((0.11, 0.2, 9.5, 2.5), ("deviates", "deviates", "deviates", "deviates")),
])
def test_control_rows_verdicts_flip_at_each_target(factors, verdicts):
    rows = by_name(control_rows(syn.control(factors), syn.CONTROL_P))
    got = tuple(rows[f"gap_factor[{nm}]"].verdict for nm in syn.SETTINGS[1:])
    assert got == verdicts
    assert rows["gap_factor[eliminate_lambda]"].measured == pytest.approx(factors[0])
    assert rows["gap_factor[amplify_nu2]"].theory == pytest.approx(math.log(9000) / math.log(90))
    assert rows["gap_median[default]"].measured == pytest.approx(20020.0)


# ------------------------------------------------------------------------------ claims and contract
def _all_rows():
    """Every figure's rows on synthetic inputs: {figure id: rows}."""
    C = syn.curves([[100.0, 200.0]], [[1000.0, 3000.0]], accuracy=True)
    C6 = syn.curves([[100.0] * 2] * 2, [[1100.0] * 2, [1150.0] * 2], noise=(0.0, 0.1))
    return {
        "1": fig1_rows(syn.curves([[100.0, 200.0]], [[2000.0, 3000.0]]), syn.two_layer([50.0], [500.0])),
        "2": fig2_rows(syn.sweep(), syn.engine(), P2),
        "3": sweep_rows(syn.sweep(), P2, -1.0, 0.05, ""),
        "5": fig5_rows(C),
        "6": fig6_rows(C6, {"noise_rel_tolerance": 0.1}),
        "7": fig7_rows(C, syn.sweep(), dict(P2, grids={"lam": [1e-5, 1e-4, 1e-3]})),
        "control": control_rows(syn.control((0.05, 0.0, 10.0, 2.0)), syn.CONTROL_P),
    }


def test_every_paper_value_is_a_claim_and_every_claim_is_measured():
    measured = set()
    for figure, rows in _all_rows().items():
        for r in rows:
            claim = claims.match("ridge", figure, r.quantity)
            if r.paper not in (None, ""):
                assert claim is not None, f"fig {figure} {r.quantity}: paper value without a claim"
                assert r.paper == claim.paper
                measured.add(claim.id)
            else:
                assert claim is None, f"fig {figure} {r.quantity} matches claim {claim.id} but has no paper value"
    assert measured == set(claims.load("ridge"))


def test_figure_functions_return_figure_and_rows_and_save_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    C = syn.curves([[100.0, 200.0]], [[1000.0, 3000.0]], accuracy=True)
    p = dict(P2, noise_rel_tolerance=0.1, grids={"lam": [1e-5, 1e-4, 1e-3], "nu2": [1.0, 10.0, 100.0]})
    S = syn.sweep(grids=p["grids"])
    for fig, rows in (plots.fig_1(syn.curves([[100.0]], [[2000.0]]), syn.two_layer([50.0], [500.0]), p),
                      plots.fig_2(S, syn.engine(), p), plots.fig_3(S, p), plots.fig_4(S, p), plots.fig_5(C, p),
                      plots.fig_6(syn.curves([[100.0] * 2] * 2, [[1e3] * 2] * 2, noise=(0.0, 0.1)), p),
                      plots.fig_7(C, S, p), plots.fig_control(syn.control((0.05, 0.0, 10.0, 2.0)), syn.CONTROL_P)):
        assert isinstance(fig, matplotlib.figure.Figure) and rows
        assert not list(tmp_path.iterdir())
        fig.savefig(io.BytesIO(), format="png", dpi=30)  # it can be drawn
