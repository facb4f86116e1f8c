"""Study A beyond the paper: the Hessian classification of states, the d-feature loop areas, the
nonlinear family and its Langevin loop, and the row producers of fig_metastable_features and
fig_metastable_nonlinear (verdicts that flip, paper values that join the claims)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from test_metastable_rows import assert_rows_join_claims, by_name

from grokrepro import engine
from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import states, theory, trap
from grokrepro.metastable.arrhenius import flat_objective
from grokrepro.metastable.beta_sweep import DOWN, UP
from grokrepro.metastable.data import DataSpec, generate
from grokrepro.metastable.features import loop_area, run_states, theory_loop_area, theory_loop_gap
from grokrepro.metastable.figures_features import fig_features, numbers_features
from grokrepro.metastable.figures_nonlinear import fig_nonlinear, numbers_nonlinear
from grokrepro.metastable.nonlinear import (ACTIVATIONS, NonlinearNet, beta_scale,
                                            linear_drop, operating_betas, run_nonlinear_escape, run_nonlinear_sweep)

ETA = (0.9, 0.8)


def exact(features=ETA, n=256, seed=0):
    d = len(features)
    return generate(DataSpec(tuple(features), d, d, n, n, seed=seed, exact_moments=True))


def flat(params):
    return torch.cat([p[0].flatten() for p in params])


# ----------------------------------------------------------------------------- the Hessian check
def test_a_known_minimum_and_a_known_saddle_are_classified():
    """The rank-1 state of the strong feature is a local minimum; the per-feature theory's saddle
    (weak feature at λ_sad) has exactly one negative mode; Newton keeps both where they are."""
    g, beta = exact(), 0.2
    data = Data.from_numpy(g, "cpu", torch.float64)
    model = DeepLinear((2, 10, 10, 2))
    fn = flat_objective(model, data, beta)
    minimum, lam = trap.constructed(model, g["x_train"], g["y_train"], (True, False), beta, [3])
    sad = theory.stationary_points(0.8, beta, 3).saddle
    saddle, _ = trap.constructed(model, g["x_train"], g["y_train"], (True, False), beta, [3], lambdas=[lam[0], sad])
    for params, negative in ((minimum, 0), (saddle, 1)):
        theta, gnorm = states.newton(fn, flat(params))
        assert gnorm < 1e-12 and (theta - flat(params)).norm() < 1e-8
        spec = states.hessian_spectrum(fn, theta)
        assert spec["n_negative"] == negative and spec["minimum"] == (negative == 0)
        assert spec["n_zero"] > 0  # the hidden-layer rotations
    # the saddle's negative curvature is the per-feature landscape's, f''(λ_sad) < 0 along the balanced path
    assert states.hessian_spectrum(fn, flat(saddle))["lowest"] < -1e-3


def test_a_weaker_learned_feature_beside_a_stronger_unlearned_one_is_a_saddle():
    """[derived] the borrowed-path mode: curvature a(η_learned − η_unlearned), a = λ^{1/3}."""
    g, beta = exact(), 0.2
    data = Data.from_numpy(g, "cpu", torch.float64)
    model = DeepLinear((2, 10, 10, 2))
    params, lam = trap.constructed(model, g["x_train"], g["y_train"], (False, True), beta, [1])
    spec = states.hessian_spectrum(flat_objective(model, data, beta), flat(params))
    assert spec["n_negative"] == 1
    assert spec["lowest"] == pytest.approx(states.borrow_mode_curvature(lam[1], 0.8, 0.9), rel=1e-6)
    assert states.borrow_mode_curvature(0.5, 0.9, 0.8) > 0  # the stronger one learned: stable along it


def test_state_count_at_small_beta_is_d_metastable_states_not_the_per_feature_count():
    g = exact((0.9, 0.8, 0.7), n=128)
    out = run_states({**g}, 3, 6, [0.1, 0.33], 0.05, 200, 0.05)
    # β = 0.1: all three features learnable -> ranks 0..3 are minima, the other 4 subsets saddles
    assert list(out["learnable"]) == [3, 2] and list(out["minima"]) == [4, 3]
    assert list(out["metastable"]) == [3, 2] and out["saddles"][0] == 4
    assert list(2 ** out["learnable"] - 1) == [7, 3]  # what the per-feature picture predicts


def test_count_table_counts_a_state_reached_from_two_subsets_once():
    w = np.eye(2)
    found = [{"exists": True, "minimum": True, "grad_norm": 1e-14, "objective": 1.0, "w": w, "stayed": True},
             {"exists": True, "minimum": True, "grad_norm": 1e-14, "objective": 1.0, "w": w + 1e-9, "stayed": False},
             {"exists": True, "minimum": False, "grad_norm": 1e-14, "objective": 2.0, "w": 2 * w, "stayed": True},
             {"exists": True, "minimum": True, "grad_norm": 1e-3, "objective": 0.5, "w": 3 * w, "stayed": True},
             {"exists": False}]
    c = states.count_table(found)
    assert c == {"minima": 1, "metastable": 0, "saddles": 1, "unresolved": 1, "existing": 4, "left": 1}


# ----------------------------------------------------------------------------- loop areas
def theory_sweep(features, betas, depth=3, seeds=2, bump=0.0):
    """A sweep whose upward branch is the per-feature theory (test MSE of exact moments) and whose
    downward branch is trivial, with ``bump`` added to the upward MSE."""
    q = len(features)
    up = np.array([0.5 * q - theory_loop_gap(features, b, depth) for b in betas]) + bump
    loss = np.stack([np.repeat(up[:, None], seeds, 1), np.full((len(betas), seeds), 0.5 * q)])
    svals = np.zeros((2, len(betas), seeds, q))
    for j, b in enumerate(betas):
        for k, eta in enumerate(features):
            lam = theory.stationary_points(eta, b, depth).learned
            svals[UP, j, :, k] = 0.0 if math.isnan(lam) else lam
    return {"beta": np.asarray(betas), "test_loss": loss, "svals": svals,
            "status": np.ones((2, len(betas), seeds), int), "eff_rank": (svals > 1e-3).sum(-1).astype(float)}


def test_loop_area_of_the_theory_sweep_is_the_theory_loop_area():
    betas = np.round(np.arange(51) * 0.01, 12)
    sw = theory_sweep(ETA, betas)
    np.testing.assert_allclose(loop_area(sw), theory_loop_area(ETA, betas, 3), rtol=1e-12)
    assert theory_loop_area((0.9, 0.8, 0.7), betas, 3) > theory_loop_area(ETA, betas, 3)
    # at β = 0 every feature is learned, λ = η: the gap is Σ η²/2
    assert theory_loop_gap(ETA, 0.0, 3) == pytest.approx(0.5 * (0.81 + 0.64))


# ----------------------------------------------------------------------------- the nonlinear family
@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("batched", [True, False])
def test_nonlinear_grads_are_the_autograd_gradients(act, batched):
    g = exact(n=64)
    data = Data.from_numpy(g, "cpu", torch.float64)
    model = NonlinearNet((2, 5, 4, 2), act)
    params = model.init([1, 2, 3], 0.7)
    idx = engine.minibatch_indices(torch.tensor([1, 2, 3]), 0, 64, 16) if batched else None
    batch = model.batches(data, idx)[0]
    leaf = [p.clone().requires_grad_(True) for p in params]
    f = model.forward(leaf, batch[0])[2]
    (0.5 * (f - batch[1]).pow(2).sum(-1).mean(-1)).sum().backward()
    for mine, auto in zip(model.grads(params, batch), leaf):
        torch.testing.assert_close(mine, auto.grad, rtol=1e-12, atol=1e-14)


def test_linear_activation_is_the_deep_linear_network():
    g = exact(n=64)
    data = Data.from_numpy(g, "cpu", torch.float64)
    nl, dl = NonlinearNet((2, 6, 6, 2), "linear"), DeepLinear((2, 6, 6, 2))
    params = nl.init([4, 5], 0.5)
    for a, b in zip(nl.grads(params, nl.batches(data, None)[0]), dl.grads(params, dl.batches(data, None)[0])):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-13)
    m1, m2 = nl.metrics(params, data), dl.metrics(params, data)
    for key in ("train_loss", "test_loss", "svals"):
        torch.testing.assert_close(m1[key], m2[key], rtol=1e-10, atol=1e-13)


def test_centred_sigmoid_and_the_linear_equivalent_beta():
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(ACTIVATIONS["sigmoid"][0](z), 0.5 * torch.tanh(z / 2))
    assert ACTIVATIONS["sigmoid"][0](torch.zeros(1)).item() == 0.0
    assert beta_scale("tanh", 3) == 1.0 and beta_scale("sigmoid", 2) == 0.25
    assert beta_scale("sigmoid", 3) == pytest.approx(0.25 ** (4 / 3))
    assert beta_scale("relu", 3) == pytest.approx(0.5 ** (4 / 3))
    assert linear_drop(0.9, 3, 0.1) == pytest.approx(theory.spinodal(0.9, 3)[0])
    assert linear_drop(0.9, 2, 0.1) == pytest.approx(0.8)


def test_engine_langevin_on_the_nonlinear_family_is_sgd_at_zero_temperature_and_per_replica():
    """run_nonlinear_escape's Langevin is the engine's, through the generic stepper of this family."""
    data = Data.from_numpy(exact(n=128), "cpu", torch.float64)
    model = NonlinearNet((2, 6, 6, 2), "tanh")
    params = model.init([1, 2, 3], 0.4)
    run = dict(check_every=3, progress_every=0)
    sgd = engine.train(model, params, data, 0.05, 0.1, 32, [1, 2, 3], 6, **run)
    cold = engine.train(model, params, data, 0.05, 0.1, 32, [1, 2, 3], 6, temperature=0.0, **run)
    hot = engine.train(model, params, data, 0.05, 0.1, 32, [1, 2, 3], 6, temperature=1e-3, **run)
    alone = engine.train(model, [p[1:2] for p in params], data, 0.05, 0.1, 32, [2], 6, temperature=1e-3, **run)
    for a, b, c, d in zip(sgd.params, cold.params, hot.params, alone.params):
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert torch.allclose(c[1:2], d, rtol=0, atol=1e-12)


def test_operating_betas():
    sweep = {"beta_lin": np.array([0.0, 0.1, 0.2, 0.3, 0.4]), "svals": np.zeros((2, 5, 3, 2))}
    sweep["svals"][UP, :4, :, 0] = 0.5  # feature 1 lost between 0.3 and 0.4
    sweep["svals"][UP, :2, :, 1] = 0.5  # feature 2 between 0.1 and 0.2
    pts = operating_betas(sweep, 0.1, 0.5, 3, ETA)
    assert pts["beta_init_lin"] == pytest.approx(0.25) and pts["beta_op_lin"] == pytest.approx(0.075)
    sweep["svals"][UP, :, :, 1] = 0.0  # feature 2 never learned: the linear theory stands in
    pts = operating_betas(sweep, 0.1, 0.5, 3, ETA)
    assert list(pts["from_theory"]) == [False, True]
    assert pts["beta_op_lin"] == pytest.approx(0.5 * theory.spinodal(0.8, 3)[0])


# ----------------------------------------------------------------------------- row producers and figures
FEATURE_SETS = {"feat2": {"features": [0.9, 0.8], "exact_moments": True},
                "feat3": {"features": [0.9, 0.8, 0.7], "exact_moments": True}}


def states_result(metastable, learnable, d):
    n = len(metastable)
    return {"beta": np.array([0.1, 0.4])[:n], "metastable": np.array(metastable), "minima": np.array(metastable) + 1,
            "learnable": np.array(learnable), "saddles": np.zeros(n, int), "unresolved": np.zeros(n, int),
            "existing": np.full(n, 2 ** d), "left": np.zeros(n, int)}


def features_inputs(shift=0.0):
    betas = np.round(np.arange(51) * 0.01, 12)
    sweeps, sts, trains = {}, {}, {}
    for name, spec in FEATURE_SETS.items():
        f = spec["features"]
        sw = theory_sweep(f, betas)
        if shift:  # move every upward drop later by ``shift``
            k = int(round(shift / 0.01))
            sw["svals"][UP] = np.concatenate([np.repeat(sw["svals"][UP][:1], k, 0), sw["svals"][UP][:-k]])
        sweeps[name] = sw
        sts[name] = states_result([len(f), 1], [len(f), 1], len(f))
        trains[name] = {"sv": np.array(f), "s": np.ones(len(f))}
    return sweeps, sts, trains


def test_features_rows_verdicts_and_claims():
    sweeps, sts, trains = features_inputs()
    rows = by_name(numbers_features(sweeps, sts, trains, FEATURE_SETS, 3, 0.03, 1e-3))
    assert rows["transition_beta[d=3,feature=3]"].verdict == "agrees"
    assert rows["transition_beta[d=3,feature=3]"].theory == pytest.approx(theory.spinodal(0.7, 3)[0])
    assert rows["loop_area[d=3]"].verdict == "agrees" and rows["loop_area_growth"].verdict == "agrees"
    small = rows["metastable_states[d=3,beta=0.1]"]
    assert small.verdict == "agrees" and small.paper == 3 and small.theory == 7
    assert rows["metastable_states[d=3,beta=0.4]"].verdict == "n/a"  # only one feature learnable there
    assert_rows_join_claims(rows.values(), "features")
    late = by_name(numbers_features(*features_inputs(shift=0.05), FEATURE_SETS, 3, 0.03, 1e-3))
    assert late["transition_beta[d=3,feature=3]"].verdict == "deviates"
    sts = features_inputs()[1]
    sts["feat3"]["metastable"][0] = 7  # as many as the per-feature picture: the paper's d is not met
    assert by_name(numbers_features(sweeps, sts, trains, FEATURE_SETS, 3, 0.03, 1e-3))[
        "metastable_states[d=3,beta=0.1]"].verdict == "deviates"


@pytest.fixture(scope="module")
def nonlinear_runs():
    """Real, very short runs: two activations at L = 2 and 3 (seconds)."""
    g = exact(n=64)
    sweep_cfg = dict(beta_max=0.6, beta_step=0.2, lr=0.08, batch_size=32, min_epochs=2, max_epochs=6, check_every=2,
                     rel_tolerance=1e-3, trivial_init_std=1e-3, rank_threshold=0.1)
    anneal = dict(lr=0.08, batch_size=32, min_epochs=2, max_epochs=6, check_every=2, rel_tolerance=1e-3)
    escape = dict(beta_op_fraction=0.7, max_epochs=6, check_every=2, temperature=1e-3)
    sweeps, escapes = {}, {}
    for act in ("linear", "tanh"):
        for L in (2, 3):
            sweeps[act, L] = run_nonlinear_sweep(g, act, L, 4, None, [1, 2], sweep_cfg)
            escapes[act, L] = run_nonlinear_escape(g, act, L, 4, None, [1, 2], sweeps[act, L], sweep_cfg, anneal,
                                                   escape, ETA)
    return sweeps, escapes


def test_nonlinear_rows_judge_against_the_linear_net_and_join_the_claims(nonlinear_runs):
    sweeps, escapes = nonlinear_runs
    rows = by_name(numbers_nonlinear(sweeps, escapes, ETA, 0.1, 1e-3, 0.03))
    assert rows["max_jump[act=linear,L=3]"].verdict == "n/a"
    assert rows["max_jump[act=tanh,L=3]"].theory == pytest.approx(rows["max_jump[act=linear,L=3]"].measured)
    assert rows["escape_sgd[act=tanh,L=3]"].paper is not None and rows["escape_sgd[act=linear,L=3]"].paper is None
    assert_rows_join_claims(rows.values(), "nonlinear")
    # a tanh net without any jump (its upward sweep flattened onto the downward one) deviates at L = 3
    flat_sweeps = dict(sweeps)
    flat_sweeps["tanh", 3] = {**sweeps["tanh", 3], "test_loss": np.repeat(sweeps["tanh", 3]["test_loss"][DOWN:], 2, 0)}
    flat_rows = by_name(numbers_nonlinear(flat_sweeps, escapes, ETA, 0.1, 1e-3, 0.03))
    assert flat_rows["max_jump[act=tanh,L=3]"].verdict == "deviates"
    assert flat_rows["hysteresis_gap[act=tanh,L=3]"].verdict == "deviates"


def test_both_figures_draw(nonlinear_runs):
    fig, rows = fig_nonlinear(*nonlinear_runs, ETA, 0.1, 1e-3, 0.03)
    assert rows and len(fig.axes) >= 6
    plt.close(fig)
    fig, rows = fig_features(*features_inputs(), FEATURE_SETS, 3, 0.03, 1e-3)
    assert rows and len(fig.axes) == 2 * len(FEATURE_SETS) + 2
    plt.close(fig)
