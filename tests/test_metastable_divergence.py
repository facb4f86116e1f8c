"""Divergence in Study A (deep linear networks): every training rule forced to diverge (lr = 1000)
completes, marks the diverged replicas, and the numbers rows and figures built on them say so."""
import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from test_metastable_rows import TRAIN_EXACT, by_name, escape_run, sweep_with_transitions

from grokrepro.engine import DIVERGED, Data, DeepLinear
from grokrepro.metastable import arrhenius, trap
from grokrepro.metastable.beta_sweep import UP, SweepSpec, run_sweep
from grokrepro.metastable.data import DataSpec, generate
from grokrepro.metastable.divergence import escape_diverged, sweep_diverged
from grokrepro.metastable.escape import run_escape
from grokrepro.metastable.figures_arrhenius import fig2b, numbers_fig2b
from grokrepro.metastable.figures_beta_sweep import fig3, fig4, numbers_fig3
from grokrepro.metastable.figures_escape import fig1a, fig1b, numbers_fig1a, numbers_fig1b

DATASET = {"features": [0.9, 0.8]}


@pytest.fixture(scope="module")
def small():
    d = generate(DataSpec((0.9, 0.8), 2, 2, 64, 64, seed=1))
    return d, Data.from_numpy(d, "cpu", torch.float64), DeepLinear((2, 4, 4, 2))


def render(fig):
    """Draw and close a figure (what style.save_figure does, without files): log axes with no data fail here."""
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def diverged_rows(rows):
    return {r.quantity: r for r in rows if r.quantity.startswith("diverged[")}


def test_beta_sweep_that_diverges_completes_and_figs_3_4_say_so(small):
    d, _, _ = small
    spec = SweepSpec(depth=3, width=4, init_std=None, seeds=(1, 2), beta_max=0.1, beta_step=0.05, lr=1000.0,
                     batch_size=16, min_epochs=5, max_epochs=20, check_every=5, rel_tolerance=1e-3,
                     trivial_init_std=1e-3, rank_threshold=1e-3)
    sweep = run_sweep(d, spec)
    assert (sweep["status"] == DIVERGED).all() and sweep_diverged(sweep).all()
    train = {"sv": np.array([0.85, 0.74]), "s": np.array([0.9, 0.84])}
    fig, rows = fig3(sweep, {}, train, DATASET, 3, 1e-3, 0.03)
    render(fig)
    assert diverged_rows(rows)["diverged[L=3]"].measured == 4
    named = by_name(rows)
    for q in ("beta_c_up[eta=0.9]", "beta_c_up_vs_paper[eta=0.9]", "beta_c_down[eta=0.8]", "max_test_mse_jump[L=3]"):
        assert named[q].verdict == "n/a" and "diverged: 4 of 4" in named[q].note, q
    assert named["beta_c_theory_population[eta=0.9]"].note.find("diverged") < 0  # theory rows unaffected
    fig, rows = fig4(sweep, train, DATASET, 3)
    render(fig)
    assert diverged_rows(rows)["diverged[L=3]"].measured == 4


def test_a_diverged_seed_is_left_out_not_read_as_a_transition():
    """A replica that diverges at beta = 0.2 has NaN singular values from there: read naively, that is
    a loss of every feature at 0.175. Left out, the remaining seeds give the transition."""
    sweep = sweep_with_transitions((0.45, 0.40), seeds=3)
    sweep["status"][UP, 4:, 0] = DIVERGED
    sweep["svals"][UP, 4:, 0] = np.nan
    sweep["test_loss"][UP, 4:, 0] = np.nan
    rows = by_name(numbers_fig3(sweep, {}, TRAIN_EXACT, DATASET, 3, 1e-3, 0.03))
    up = rows["beta_c_up[eta=0.9]"]
    assert up.measured == pytest.approx(0.425) and up.verdict == "n/a" and "diverged: 1 of 6" in up.note
    assert rows["diverged[L=3]"].measured == 1
    assert "diverged[L=3]" not in by_name(numbers_fig3(sweep_with_transitions(), {}, TRAIN_EXACT, DATASET, 3,
                                                       1e-3, 0.03))


def test_escape_run_that_diverges_completes_and_fig_1a_says_so(small):
    d, data, model = small
    seeds = [1, 2, 3]
    params, _ = trap.constructed(model, d["x_train"], d["y_train"], (True, False), 0.2, seeds)
    out = run_escape(model, trap.perturb(params, 1e-3, seeds), data, "rank1", seeds, 0.2, 1000.0, 16, 20, 2, 1e-3,
                     False, 100, 5)
    out.update(start_phase=np.tile([True, False], (3, 1)), start_diverged=np.zeros(3, bool))
    assert (out["status"] == DIVERGED).all() and escape_diverged(out).all()
    random = escape_run([1.0, 2.0, 3.0])
    random.update(epochs=out["epochs"], test_loss=np.full((len(out["epochs"]), 3), 0.5))
    runs = {"paper": {"random": random, "rank1": out}}
    fig, rows = fig1a(runs, {"paper": {"beta": 0.2, "lr": 1000.0}}, TRAIN_EXACT, 3, 30.0)
    render(fig)
    named = by_name(rows)
    assert named["diverged[point=paper,start=rank1]"].measured == 3
    assert named["escape_epochs_median[point=paper,start=rank1]"].verdict == "n/a"
    assert "delay_factor[point=paper,start=rank1]" not in named  # nothing left to compare
    assert named["escape_epochs_median[point=paper,start=random]"].verdict != "n/a"  # the random start is intact


def test_partly_diverged_escape_runs_leave_the_rest_and_fig_1b_completes():
    run = escape_run([1400.0, 1500.0, 1600.0, np.nan])
    run["status"][3] = DIVERGED
    run["escape_mse"][3], run["censored_mse"][3] = np.nan, True  # looks censored, but it diverged
    rows = by_name(numbers_fig1a("paper", {"beta": 0.32}, {"rank1": run}, TRAIN_EXACT, 3, 30.0))
    assert rows["escaped_fraction[point=paper,start=rank1]"].measured == 1.0  # 3 of the 3 kept, not 3 of 4
    assert rows["escape_epochs_median[point=paper,start=rank1]"].verdict == "n/a"
    assert rows["diverged[point=paper,start=rank1]"].measured == 1
    # the trap a replica started from had diverged: that replica is left out too
    run = escape_run([1400.0, 1500.0, 1600.0])
    run["start_diverged"] = np.array([False, True, False])
    assert escape_diverged(run).tolist() == [False, True, False]
    from test_metastable_rows import sparse_run

    sparse = sparse_run(1400.0)
    sparse["status"][:] = DIVERGED
    fig, rows = fig1b(sparse, {"n_train": 25, "beta": 0.0025, "lr": 0.1})
    render(fig)
    assert [r.quantity for r in rows] == ["sparse_escape_epochs_median", "diverged[point=sparse,start=rank1]"]
    assert rows[0].verdict == "n/a" and rows[1].measured == 3
    assert not diverged_rows(numbers_fig1b(sparse_run(1400.0)))


def test_trap_whose_annealing_diverges_is_marked(small):
    _, data, model = small
    cfg = {"method": "annealed", "beta_init": {"rank1": 0.36},
           "anneal": {"lr": 1000.0, "batch_size": 16, "max_epochs": 20, "min_epochs": 5, "check_every": 5,
                      "rel_tolerance": 1e-3}}
    _, info = trap.make_start(model, data, "rank1", [1, 2], cfg, 0.5)
    assert info["diverged"].all()
    _, info = trap.make_start(model, data, "rank1", [1, 2], {**cfg, "anneal": {**cfg["anneal"], "lr": 0.05}}, 0.5)
    assert not info["diverged"].any()


def test_polish_that_diverges_keeps_the_unpolished_state(small):
    d, data, model = small
    params, _ = trap.constructed(model, d["x_train"], d["y_train"], (True, False), 0.2, [1])
    out = trap.polish(model, params, data, 0.2, 1000.0, 50)
    for a, b in zip(out, params):
        torch.testing.assert_close(a, b)


def test_temperature_sweep_with_a_diverging_learning_rate_fits_the_rest(small):
    d, data, model = small
    seeds = [1, 2]
    params, _ = trap.constructed(model, d["x_train"], d["y_train"], (True, False), 0.2, seeds)
    runs = arrhenius.temperature_sweep(model, trap.perturb(params, 1e-3, seeds), data, "rank1", seeds, 0.2,
                                       [0.01, 1000.0], 16, 20, 2, 1e-3, 100, 0.05, 5,
                                       start_diverged=np.array([False, False]))
    assert runs["start_diverged"].shape == (4,)
    start = {f"W{i}": p.numpy() for i, p in enumerate(params)}
    start.update(phase=np.tile([True, False], (2, 1)), diverged=np.zeros(2, bool))
    f = arrhenius.fit_sweep(runs, start, {"x": d["x_train"], "y": d["y_train"]}, "rank1", 0.2, 3, 10, 10)
    assert f["diverged"].tolist() == [False, False, True, True]
    assert f["n_diverged"].tolist() == [0, 2] and f["n"].tolist() == [2, 0] and np.isnan(f["tau"][1])
    fig, rows = fig2b({"paper": f}, {"paper": {"beta": 0.2}})
    render(fig)
    named = by_name(rows)
    assert named["diverged[sweep=paper,lr=1000]"].measured == 2
    assert "diverged[sweep=paper,lr=0.01]" not in named
    assert named["tau[sweep=paper,lr=1000]"].verdict == "n/a" and "diverged" in named["tau[sweep=paper,lr=1000]"].note
    assert "diverged" not in named["tau[sweep=paper,lr=0.01]"].note
    assert named["arrhenius_delta_e[sweep=paper]"].verdict == "n/a"
    assert "diverged" in named["arrhenius_delta_e[sweep=paper]"].note
    assert not diverged_rows(numbers_fig2b("paper", {**f, "diverged": np.zeros(4, bool)}, {"beta": 0.2}))


def test_figures_complete_when_every_replica_diverged():
    bad = escape_run([np.nan] * 3)
    bad["status"][:] = DIVERGED
    bad.update(epochs=np.array([0, 10, 20]), test_loss=np.full((3, 3), np.nan), train_loss=np.full((3, 3), np.nan))
    fig, rows = fig1a({"paper": {"random": bad, "rank1": dict(bad)}}, {"paper": {"beta": 0.32, "lr": 1000.0}},
                      TRAIN_EXACT, 3, 30.0)
    render(fig)
    assert by_name(rows)["diverged[point=paper,start=random]"].measured == 3
    from test_metastable_rows import fit_result

    f = fit_result((np.nan,) * 3, np.nan, None)
    f.update(diverged=np.ones(16, bool), escape_times=np.full(16, np.nan), censored=np.ones(16, bool),
             inv_T=1 / f["T_eff"], events=np.zeros(2), n=np.zeros(2), arrhenius_points=np.array(0))
    fig, rows = fig2b({"paper": f}, {"paper": {"beta": 0.32}})
    render(fig)
    assert by_name(rows)["diverged[sweep=paper,lr=0.001]"].measured == 8
