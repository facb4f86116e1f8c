"""Study C divergence (issue 17): every model family completes when GD diverges (lr = 1000 forces
it), marks the diverged replicas and leaves them out; the rows that depend on them say so, the
tables carry diverged[<run>] counts and the figures say "k of R replicas diverged, not drawn".
Families: the exact linear-in-θ trajectory (identity, random ReLU and Fourier features), the
iterative batched linear GD (engine check) and the fully trained two-layer ReLU network."""
import io

import numpy as np
import pytest

import ridge_synthetic as syn
from grokrepro.ridge import jobs, plots
from grokrepro.ridge.rows import fig2_rows, median_row, sweep_rows
from grokrepro.ridge.train import (
    curves_linear, engine_check, gd_two_layer, run_linear, sweep_linear,
)

DEF = {"n": 30, "m": 120, "lam": 1e-4, "nu2": 1.0}
BASE = {"eps": 0.01, "c": 0.01, "t_max": 20000, "seeds": 2, "slope_tolerance": 0.05, "defaults": DEF,
        "noise_rel_tolerance": 0.1}
KINDS = {"identity": {}, "relu": {"d": 5, "n_test": 50}, "fourier": {"d": 3, "n_test": 50}}
NOTE = "replicas diverged, not drawn"


def by_name(rows):
    return {r.quantity: r for r in rows}


def texts(fig):
    """The figure's text notes, after drawing it (as style.save does: a figure that cannot be
    drawn fails here)."""
    fig.savefig(io.BytesIO(), format="png", dpi=30)
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def assert_all_diverged_rows(rows, runs, total):
    """Every row that measures something is n/a and says 'diverged'; one count row per run."""
    r = by_name(rows)
    for run, n in runs.items():
        assert r[f"diverged[{run}]"].measured == n
        assert r[f"diverged[{run}]"].note == f"replicas that diverged (NaN/overflow) and are left out (of {n})"
    for row in rows:
        if not row.quantity.startswith("diverged[") and row.quantity not in total:
            assert row.verdict == "n/a", row
            assert "diverged" in row.note, row


# ------------------------------------------------------------------------------ exact linear trajectory
@pytest.mark.parametrize("kind", list(KINDS))
def test_exact_trajectory_jobs_and_figures_complete_when_every_run_diverges(kind):
    p = dict(BASE, **KINDS[kind], kind=kind, teacher="default", eta=1000.0, grids={"lam": [1e-4, 3e-4], "n": [20, 30]})
    S = sweep_linear(p, [0, 1])
    assert S["lam__diverged"].all() and S["n__diverged"].all()
    assert np.isnan(S["lam__t1"]).all() and np.isnan(S["n__t2"]).all()
    assert np.isfinite(S["lam__t1_bound"]).all()  # bounds are data/hyper-parameter only
    C = curves_linear(dict(p, noise=[0.0, 0.1]), [0, 1], n_points=20, accuracy=kind != "identity")
    assert C["diverged"].shape == (2, 2) and C["diverged"].all()
    assert np.isnan(C["train"]).all() and np.isnan(C["t2"]).all()
    if kind == "identity":
        fig, rows = plots.fig_2(S, None, p)
        bounds = ("t1_bound_median[defaults]", "t2_bound[defaults]")
        assert_all_diverged_rows(rows, {"sweep": 8}, bounds)
    else:
        fig, rows = plots.fig_3(S, p)
        assert_all_diverged_rows(rows, {"sweep": 8}, ())
    assert texts(fig).count(f"4 of 4 {NOTE}") == 2  # one note per panel
    fig, rows = plots.fig_7(C, S, p) if kind == "fourier" else plots.fig_6(C, p)
    assert f"2 of 2 {NOTE}" in texts(fig)
    assert by_name(rows)["diverged[curves]"].measured == 4
    if kind == "relu":
        fig, rows = plots.fig_5(C, p)
        assert f"2 of 2 {NOTE}" in texts(fig)
        assert_all_diverged_rows(rows, {"curves": 4}, ())


def test_exact_trajectory_partial_divergence_leaves_the_other_runs_alone():
    # eta = 20 with m = 120: GD contracts for n = 30 (eta s²_max/n ≈ 1.5 < 2) but not for n = 10 (≈ 3)
    p = dict(BASE, kind="identity", teacher="default", eta=20.0, grids={"lam": [1e-4, 2e-4], "n": [10, 30]})
    S = sweep_linear(p, [0, 1, 2])
    assert S["n__diverged"].tolist() == [[True] * 3, [False] * 3]
    assert not S["lam__diverged"].any()
    t1, t2, _, traj = run_linear("identity", 30, 120, 1.0, 1e-4, 2, 20.0, 0.01, 0.01, 20000)
    assert not traj.diverges and (S["n__t1"][1, 2], S["n__t2"][1, 2]) == (t1, t2)
    rows = by_name(fig2_rows(S, syn.engine(t1=(1.0,) * 3, t2=(2.0,) * 3), p))
    assert rows["diverged[sweep]"].measured == 3
    assert "diverged" not in rows["t1_median[defaults]"].note  # the λ panel did not diverge
    assert rows["slope_log_t2_vs_log_lambda"].verdict != "n/a"
    assert rows["frac_t1_within_bound"].verdict == "n/a"
    assert rows["frac_t1_within_bound"].note.startswith("9/9 runs")  # the 3 diverged runs left out
    assert rows["frac_t1_within_bound"].note.endswith("; diverged: 3 of 12 replicas left out")
    assert "diverged[engine_check]" not in rows


def test_control_job_completes_when_every_run_diverges():
    out, meta = jobs.control(dict(BASE, eta=1000.0), [0, 1])
    assert out["diverged"].all() and meta["seeds"] == [0, 1]
    fig, rows = plots.fig_control(out, dict(BASE, eta=1000.0))
    r = by_name(rows)
    assert r["diverged[control]"].measured == 10
    assert r["gap_factor[amplify_lambda]"].verdict == "n/a" and "diverged" in r["gap_factor[amplify_lambda]"].note
    assert f"10 of 10 {NOTE}" in texts(fig) and texts(fig).count("diverged") == 5  # one mark per bar


def test_control_rows_leave_diverged_runs_out_of_the_medians():
    R = syn.diverge(syn.control((0.05, 0.0, 10.0, 2.0)), np.array([[False] * 3] * 4 + [[True, False, False]]))
    fig, rows = plots.fig_control(R, syn.CONTROL_P)
    assert texts(fig) == [f"1 of 15 {NOTE}", "0"]  # "0": the eliminate_nu2 bar
    rows = by_name(rows)
    assert rows["gap_median[amplify_nu2]"].measured == pytest.approx(2 * 20000 * 1.0015)  # median of seeds 1, 2
    assert rows["gap_factor[amplify_nu2]"].verdict == "n/a"
    assert rows["gap_factor[amplify_lambda]"].verdict == "agrees"  # its runs and the default's are whole


# ------------------------------------------------------------------------------ iterative linear GD
def test_engine_check_completes_when_iterative_gd_diverges():
    out = engine_check(dict(BASE, eta=1000.0), [0, 1], steps=200)
    assert out["diverged"].tolist() == [True, True]
    assert np.isnan(out["max_rel_err"]) and np.isnan(out["t1_iter"]).all()
    rows = by_name(fig2_rows(syn.sweep(), out, dict(syn.CONTROL_P, slope_tolerance=0.05, grids=syn.GRIDS)))
    assert rows["diverged[engine_check]"].measured == 2
    for q in ("engine_vs_closed_form_max_rel_err", "engine_t1_equals_closed_form", "engine_t2_equals_closed_form"):
        assert rows[q].verdict == "n/a" and "diverged: 2 of 2" in rows[q].note
    assert rows["slope_log_t2_vs_log_lambda"].verdict == "agrees"  # the sweep itself is fine


# ------------------------------------------------------------------------------ two-layer ReLU network
def test_two_layer_retires_a_diverging_replica_and_the_others_run_on():
    # one replica with a 100x larger init variance blows up at eta = 1; the other must not notice
    both = gd_two_layer([0, 1], 10, 20, 5, [1.0, 100.0], 0.05, 1.0, 0.01, 0.01, 300, n_test=20,
                        record=np.arange(0, 301, 50))
    alone = gd_two_layer([0], 10, 20, 5, [1.0], 0.05, 1.0, 0.01, 0.01, 300, n_test=20, record=np.arange(0, 301, 50))
    assert both["diverged"].tolist() == [False, True]
    assert np.isnan(both["t1"][1]) and np.isnan(both["t2"][1]) and np.isnan(both["train"][1:, 1]).all()
    assert (both["t1"][0], both["t2"][0]) == (alone["t1"][0], alone["t2"][0])
    np.testing.assert_array_equal(both["train"][:, 0], alone["train"][:, 0])


def test_two_layer_jobs_and_figures_complete_at_lr_1000():
    p = {"d": 5, "n": 10, "m": 20, "nu2": 1.0, "lam": 0.05, "eta": 1000.0, "eps": 0.01, "c": 0.01, "t_max": 200,
         "n_test": 20, "seeds": 2}
    out, _ = jobs.two_layer_curves(p, [0, 1], "float64")
    assert out["diverged"].all() and np.isnan(out["t1"]).all()
    ridge = syn.diverge(syn.curves([[100.0, 200.0]], [[2000.0, 3000.0]]), np.array([[False, True]]))
    fig, rows = plots.fig_1(ridge, out, p)
    r = by_name(rows)
    assert (r["diverged[relu_net]"].measured, r["diverged[ridge]"].measured) == (2, 1)
    assert r["ridge_t1_median"].measured == 100.0 and r["ridge_t1_median"].note.endswith("1 of 2 replicas left out")
    assert texts(fig) == [f"1 of 2 {NOTE}", f"2 of 2 {NOTE}"]
    grids = {"lam": [0.05, 0.2], "n": [10, 20]}
    S, _ = jobs.two_layer_sweep(dict(p, grids=grids, defaults={k: p[k] for k in ("n", "m", "lam", "nu2")},
                                     slope_tolerance=0.15), [0, 1], "float64")
    assert S["lam__diverged"].all() and S["n__diverged"].all()
    fig, rows = plots.fig_4(S, dict(p, grids=grids, defaults={"n": 10, "m": 20, "lam": 0.05, "nu2": 1.0},
                                    slope_tolerance=0.15))
    assert texts(fig).count(f"4 of 4 {NOTE}") == 2
    assert_all_diverged_rows(rows, {"sweep": 8}, ())


# ------------------------------------------------------------------------------ nothing diverged
def test_tables_without_divergence_say_nothing_about_it():
    rows = fig2_rows(syn.sweep(), syn.engine(), dict(syn.CONTROL_P, slope_tolerance=0.05, grids=syn.GRIDS))
    rows += sweep_rows(syn.sweep(), dict(syn.CONTROL_P, grids=syn.GRIDS), -1.0, 0.05, "")
    assert not [r for r in rows if "diverged" in r.quantity + r.note]
    assert median_row("m", [1.0, np.nan], diverged=[False, False]).note.endswith("50% of runs never crossed")
    assert median_row("m", [1.0, np.nan], diverged=[False, True]).note == \
        "median over 2 seeds, 95% bootstrap CI; diverged: 1 of 2 replicas left out"
