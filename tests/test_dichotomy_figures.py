"""Study B's figure functions on small real runs: the claims join their numbers rows, and a diverged
replica of every model family and training rule is flagged, left out of the figure and counted."""
import math
import re

import matplotlib
import numpy as np
import pytest

from grokrepro import claims, engine
from grokrepro.dichotomy import analysis as A
from grokrepro.dichotomy import data as D
from grokrepro.dichotomy import divergence, plots, runs

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIG = {"fit_tolerance": 1e-2, "tail": 3, "min_jump": 0.05, "ratio_tolerance": 2.0, "slope_tolerance": 0.1}
DIAG = {"family": "diagonal", "depth": 2, "loss": "logistic", "alphas": [4.0], "weight_decays": [0.05], "lr": 0.5,
        "steps": 300, "points": 25, "horizon": None, "record_w": True}
MATRIX = {"family": "matrix", "alphas": [2.0], "weight_decays": [0.05], "lr": 0.05, "steps": 400, "points": 25,
          "horizon": None}
FLOW = {"family": "matrix", "alphas": [2.0, 6.0], "weight_decays": [0.05, 0.1], "lr": 0.2, "steps": 20000,
        "points": 25, "horizon": 2.0, "adaptive_step": 1.0}
RELU = {"family": "relu", "width": 16, "zero_second_layer": False, "normalized": False, "alphas": [1.0],
        "weight_decays": [1e-3], "lr": 0.5, "steps": 150, "points": 20, "horizon": None}


def _linear(arrays):
    """A linear data set with its max-margin classifiers, as rule dichotomy_data writes it."""
    for name, solver in (("l2", A.max_l2_margin), ("l1", A.max_l1_margin)):
        w = solver(arrays["x_train"], arrays["y_train"])
        arrays[f"w_{name}"] = w
        arrays[f"acc_{name}"] = np.array(A.test_accuracy(w, arrays["x_test"], arrays["y_test"]))
    return arrays


@pytest.fixture(scope="module")
def datasets():
    return {"sparse": _linear(D.sparse_linear(40, 24, 60, 3, 0)),
            "misgrok": _linear(D.large_margin(60, 8, 60, 25.0, 0)),
            "matrix": D.matrix_completion(6, 0.5, 0), "modadd": D.modular_addition(5, 0.6, 0)}


def _configs():
    """The run configs of every figure, at a sane step size."""
    return {"fig1a": (DIAG, "sparse"), "fig1b": (DIAG, "misgrok"),
            "fig2a": (RELU, "modadd"),
            "fig2b": ({**RELU, "zero_second_layer": True, "alphas": [1.0, 2.0, 4.0]}, "modadd"),
            "fig2c": ({**RELU, "weight_decays": [1e-3, 1e-2, 1e-1]}, "modadd"), "fig3": (MATRIX, "matrix"),
            "fig4": ({**RELU, "normalized": True, "weight_decays": [0.0], "lr": 0.05}, "modadd"),
            "scaling_diag": ({**DIAG, "alphas": [4.0, 40.0], "weight_decays": [0.05, 0.1], "horizon": 3.0,
                              "record_w": False, "steps": 2000}, "sparse"),
            "scaling_matrix": (FLOW, "matrix")}


def _figure(fig, runs_, cfgs, data):
    """One figure of the study, (fig, rows), from the runs and configs by run name."""
    if fig in ("1a", "1b"):
        name = f"fig{fig}"
        return plots.fig_margin(runs_[name], data[_configs()[name][1]], cfgs[name], FIG, misgrok=fig == "1b")
    if fig == "2":
        return plots.fig_modadd({k[3:]: runs_[k] for k in ("fig2a", "fig2b", "fig2c")}, cfgs, FIG)
    if fig == "3":
        return plots.fig_matrix(runs_["fig3"], data["matrix"], cfgs["fig3"], FIG)
    if fig == "4":
        return plots.fig_nowd(runs_["fig4"], cfgs["fig4"], FIG)
    return plots.fig_scaling(runs_["scaling_diag"], cfgs["scaling_diag"], runs_["scaling_matrix"],
                             cfgs["scaling_matrix"], FIG)


@pytest.fixture(scope="module")
def sane(datasets):
    cfgs = {k: c for k, (c, _) in _configs().items()}
    out = {k: runs.run_grid(c, datasets[d], [0]) for k, (c, d) in _configs().items()}
    tables = {}
    for name in ("1a", "1b", "2", "3", "4", "scaling"):
        fig, tables[name] = _figure(name, out, cfgs, datasets)
        plt.close(fig)
    return out, cfgs, tables


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


# --------------------------------------------------------------------------- claims
def test_every_paper_value_is_a_claim_and_every_claim_is_measured(sane):
    _, _, tables = sane
    measured = set()
    for fig, rows in tables.items():
        for row in rows:
            hit = claims.match("dichotomy", fig, row.quantity)
            if row.paper is not None:
                assert hit is not None, f"fig {fig} {row.quantity}: paper value {row.paper!r} without a claim"
                assert row.paper == hit.paper
            if hit is not None:
                measured.add(hit.id)
    assert set(claims.load("dichotomy")) == measured, "claims no row measures"


def test_claims_say_where_the_paper_says_it():
    for c in claims.load("dichotomy").values():
        assert c.where.startswith(("Fig.", "Sec.", "Eq.")) and c.words and c.verdict


# --------------------------------------------------------------------------- divergence: training side
def test_diverged_replicas_from_status_and_records():
    e, r = 4, 4
    loss = np.ones((e, r))
    loss[2:, 3] = np.nan  # replica 3 stopped (done) after record 1: NaN records say nothing
    other = np.ones((e, r, 2))
    other[1, 1, 0] = np.inf  # an overflowed derived quantity while the loss is finite
    other[3, 2, 1] = np.nan  # a NaN metric while the loss is finite
    other[2:, 3] = np.nan
    status = np.array([engine.DIVERGED, engine.BUDGET, engine.BUDGET, engine.DONE])
    got = runs.diverged_replicas(status, {"train_loss": loss, "margin": other})
    assert got.tolist() == [True, True, True, False]
    clean = runs.diverged_replicas(np.full(3, engine.BUDGET), {"train_loss": loss[:, :3], "m": np.zeros((e, 3, 2))})
    assert not clean.any()


def test_no_sane_replica_is_flagged(sane):
    out, _, tables = sane
    for name, run in out.items():
        assert not run["diverged"].any(), name
    for rows in tables.values():
        assert not any(r.quantity.startswith("diverged[") or r.note.startswith("diverged") for r in rows)


def _diverged(datasets, name, **change):
    cfg, d = _configs()[name]
    cfg = {**cfg, **change}
    return runs.run_grid(cfg, datasets[d], [0]), cfg


def _check_marked(rows, run_name, n, replica_rows=None):
    count = [r for r in rows if r.quantity == f"diverged[{run_name}]"]
    assert len(count) == 1 and count[0].measured == n and count[0].verdict == "n/a"
    assert count[0].note == "replicas that diverged (NaN/overflow) and are left out"
    for r in rows if replica_rows is None else [r for r in rows if any(k in r.quantity for k in replica_rows)]:
        if not r.quantity.startswith("diverged["):
            assert r.verdict == "n/a" and r.note.startswith("diverged"), r


@pytest.mark.parametrize("name, fig, lr", [
    ("fig1a", "1a", 1000.0), ("fig1b", "1b", 1000.0),  # diagonal net, constant-lr GD
    ("fig3", "3", 1000.0),  # factorised matrix: W = UU^T - VV^T overflows, its SVD must not stop the run
    ("fig4", "4", 1e160),  # ReLU net, normalised GD: the norm grows ~lr per step, the loss overflows only here
], ids=["diagonal-1a", "diagonal-1b", "matrix", "relu-normalised"])
def test_one_replica_figure_of_a_diverged_run(datasets, sane, name, fig, lr):
    runs_, cfgs, tables = sane
    run, cfg = _diverged(datasets, name, lr=lr)
    assert run["diverged"].all() and (run["status"] == engine.DIVERGED).all()
    f, rows = _figure(fig, {**runs_, name: run}, {**cfgs, name: cfg}, datasets)
    _check_marked(rows, name, 1)
    paper = {r.quantity: r.paper for r in tables[fig]}
    assert all(r.paper == paper[r.quantity] for r in rows if r.quantity in paper)  # the claims stay joined
    assert "1 of 1 replicas diverged, not drawn" in _texts(f)
    assert not any(np.isfinite(line.get_ydata()).any() for line in f.axes[0].lines if len(line.get_ydata()) > 2)
    plt.close("all")


def test_relu_net_divergence(datasets, sane):
    runs_, cfgs, _ = sane
    run, cfg = _diverged(datasets, "fig2b", lr=1000.0)
    assert run["diverged"].all()
    f, rows = _figure("2", {**runs_, "fig2b": run}, {**cfgs, "fig2b": cfg}, datasets)
    _check_marked(rows, "fig2b", 3, replica_rows=["2b"])
    assert not any(r.note.startswith("diverged") for r in rows if "2a" in r.quantity or "2c" in r.quantity)
    order = next(r for r in rows if r.quantity == "transition_order[2b]")
    assert order.note.startswith("diverged: 3 of 3 replicas diverged, left out; ")
    assert "3 of 3 replicas diverged, not drawn" in _texts(f)
    plt.close("all")


def test_flow_time_and_horizon_grids_divergence(datasets, sane):
    """The adaptive-step (flow-time) matrix grid and the constant-lr diagonal grid with some replicas
    diverged: their ratio rows are marked, the pooled law rows say how many were left out."""
    runs_, cfgs, _ = sane
    flow_run, flow_cfg = _diverged(datasets, "scaling_matrix", adaptive_step=1000.0, lr=1000.0)
    diag_run, diag_cfg = _diverged(datasets, "scaling_diag", lr=1000.0, horizon=None, steps=300)
    assert flow_run["diverged"].any() and diag_run["diverged"].all()
    f, rows = plots.fig_scaling(diag_run, diag_cfg, flow_run, flow_cfg, FIG)
    n_flow = int(flow_run["diverged"].sum())
    _check_marked(rows, "scaling_diag", 4, replica_rows=["[diag"])
    _check_marked(rows, "scaling_matrix", n_flow, replica_rows=["scaling_"])
    ratio = [r for r in rows if r.quantity.startswith("transition_ratio[matrix")]
    assert [r.note.startswith("diverged") for r in ratio] == flow_run["diverged"].tolist()
    law = next(r for r in rows if r.quantity == "scaling_slope[matrix]")
    assert law.note.startswith(f"diverged: {n_flow} of 4 replicas diverged, left out; ")
    assert {"4 of 4 replicas diverged, not drawn", f"{n_flow} of 4 replicas diverged, not drawn"} <= set(_texts(f))
    plt.close("all")


def test_one_diverged_replica_of_a_sweep_marks_only_what_depends_on_it(datasets, sane):
    """2c with its middle lambda flagged: that replica's rows and the pooled order/collapse rows are
    marked, the other replicas' rows keep their verdicts, and the replica is not called a collapse."""
    runs_, cfgs, tables = sane
    run = dict(runs_["fig2c"], diverged=np.array([False, True, False]))
    f, rows = _figure("2", {**runs_, "fig2c": run}, cfgs, datasets)
    by = {r.quantity: r for r in rows}
    before = {r.quantity: r for r in tables["2"]}
    assert by["test_acc_final[2c,weight_decay=0.01]"].note.startswith("diverged; ")
    for q in ("test_acc_final[2c,weight_decay=0.001]", "test_acc_final[2c,weight_decay=0.1]"):
        assert by[q] == before[q]
    order = by["transition_order[2c]"]
    collapsed = order.note.split("collapse) at lambda = ")[1].split(", ") if "collapse)" in order.note else []
    assert order.verdict == "n/a" and "0.01" not in collapsed
    assert by["train_collapse[2c,lambda=0.1]"].note.startswith("diverged: 1 of 3 replicas diverged, left out")
    assert by["diverged[fig2c]"].measured == 1
    assert "1 of 3 replicas diverged, not drawn" in _texts(f)
    plt.close("all")


def test_divergence_helpers_pass_a_clean_run_through():
    run = {"diverged": np.zeros(2, bool), "rec_x": np.ones((3, 2))}
    assert divergence.drop(run) is run and divergence.count_rows("r", run) == []
    bad = {"diverged": np.array([True, False]), "rec_x": np.ones((3, 2)), "steps": np.arange(3)}
    dropped = divergence.drop(bad)
    assert np.isnan(dropped["rec_x"][:, 0]).all() and (dropped["rec_x"][:, 1] == 1).all()
    assert (bad["rec_x"] == 1).all() and dropped["steps"] is bad["steps"]  # the input is left alone
    assert math.isnan(plots.ratio_row("a", math.nan, 10.0, 2.0).measured)


# --------------------------------------------------------------------------- presentation
def test_loss_axis_cut_where_training_stops_mattering():
    """A loss falling 50 decades (and then to 0) is drawn on 10 decades, its curve leaving through
    the bottom, with a legend entry saying where the axis was cut; a loss within range is not cut."""
    from grokrepro.dichotomy import draw

    s = np.arange(6.0)
    fig, (a, b) = plt.subplots(2)
    cut = draw.losses(a, s, [(np.array([3.0, 1e-3, 1e-20, 1e-50, 0.0, 0.0]), np.full(6, 2.0), None, "")])
    assert cut == pytest.approx(3e-10) and a.get_ylim()[0] == pytest.approx(1.5e-10)
    assert a.get_legend_handles_labels()[1][-1] == "axis cut at 3e-10\n(loss goes down to 1e-50, then 0)"
    assert np.all(np.isfinite(a.lines[0].get_ydata()))  # a 0 is drawn (far below the axis), not left out
    assert draw.losses(b, s, [(np.geomspace(1, 1e-6, 6), np.ones(6), None, "")]) is None
    assert b.get_ylim()[0] == pytest.approx(0.5e-6) and len(b.get_legend_handles_labels()[1]) == 2
    plt.close(fig)


def test_figures_speak_math_and_keep_legends_off_the_curves(datasets, sane):
    """Every Study B figure: no code names in its text (alpha=, weight_decay=, lr_k, eta_lr), and no
    legend inside a panel (each lies beside or above its axes). Fig 3 lists the min-nuclear-norm
    completion among its rows, at most ||M||_*."""
    runs_, cfgs, tables = sane
    for name in ("1a", "1b", "2", "3", "4", "scaling"):
        fig, _ = _figure(name, runs_, cfgs, datasets)
        fig.canvas.draw()
        text = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        code = re.compile(r"(?<![\\\w])(alpha|lambda|weight_decay)=|lr_k|η_lr|[αλη]=")  # not mathtext \alpha=
        assert not [t for t in text if code.search(t)], f"fig {name}"
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is not None:
                box, panel = leg.get_window_extent(), ax.get_window_extent()
                inside = min(box.x1, panel.x1) - max(box.x0, panel.x0), min(box.y1, panel.y1) - max(box.y0, panel.y0)
                assert min(inside) <= 1.0, f"fig {name}: legend over the curves"
        plt.close(fig)
    rows = {r.quantity: r for r in tables["3"]}
    m = rows["nuclear_norm_min_completion"]
    assert m.measured is None and 0 < m.theory <= rows["nuclear_norm_final"].theory * (1 + 1e-6)
    assert rows["test_loss_min_nuclear_completion"].theory >= 0
