"""Study C: exact trajectory vs iterative GD, bounds vs brute force, crossing times, config."""
import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from grokrepro.config import ConfigError, resolve
from grokrepro.ridge.features import make_problem
from grokrepro.ridge.theory import Trajectory, lambda_min_plus, t1_bound, t2_bound, thin_svd
from grokrepro.ridge.train import (_relu_init, control_settings, gd_linear, gd_two_layer, relu_forward,
                                  relu_forward_einsum, relu_grads, relu_grads_einsum)

ROOT = Path(__file__).resolve().parents[1]


def _iterate(prob, eta, lam, steps):
    test_fn = None
    if prob.test.exact:
        ts = torch.as_tensor(prob.test.theta_star)[None]
        test_fn = lambda th: prob.test.sigma_scale * ((th - ts) ** 2).sum(1)  # noqa: E731
    else:
        P, Y = torch.as_tensor(prob.test.phi), torch.as_tensor(prob.test.y)
        test_fn = lambda th: ((th @ P.T - Y) ** 2).mean(1)  # noqa: E731
    return gd_linear(prob.phi[None], prob.y[None], prob.theta0[None], eta, lam, steps, test_fn=test_fn)


@pytest.mark.parametrize("kind,kw", [("identity", {}), ("relu", {"d": 8, "n_test": 300}),
                                     ("fourier", {"d": 5, "n_test": 300}), ("identity", {"noise": 0.1}),
                                     ("relu", {"d": 8, "n_test": 300, "teacher": "unit"})])
def test_closed_form_matches_iterative_gd(kind, kw):
    prob = make_problem(kind, 20, 80, 1.0, seed=3, **kw)
    eta, lam, steps = 0.5, 3e-3, 2500
    rec, tr, te, th = _iterate(prob, eta, lam, steps)
    traj = Trajectory(prob, eta, lam)
    np.testing.assert_allclose(traj.train_loss(rec), tr[:, 0], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(traj.test_loss(rec), te[:, 0], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(traj.theta(steps)[0], th[0], rtol=1e-8, atol=1e-12)


def test_crossing_times_match_every_step_scan():
    for seed in range(4):
        prob = make_problem("identity", 30, 300, 1.0, seed=seed)
        eta, lam, eps, c = 1.0, 1e-3, 0.01, 0.01
        traj = Trajectory(prob, eta, lam)
        t1, t2 = traj.times(eps, c, 50_000)
        steps = np.arange(50_001)
        tr, te = traj.train_loss(steps), traj.test_loss(steps)
        assert t1 == steps[tr >= eps][-1]
        assert t2 == steps[te <= c][0]
        assert t2 > 5 * t1  # grokking


def test_iterative_crossing_times_equal_exact():
    prob = make_problem("identity", 20, 200, 1.0, seed=1)
    eta, lam, eps, c = 1.0, 2e-3, 0.01, 0.01
    rec, tr, te, _ = _iterate(prob, eta, lam, 4000)
    t1, t2 = Trajectory(prob, eta, lam).times(eps, c, 4000)
    assert t1 == rec[tr[:, 0] >= eps][-1]
    assert t2 == rec[te[:, 0] <= c][0]


def test_lambda_min_plus_brute_force():
    for kind, kw in (("identity", {}), ("relu", {"d": 10, "n_test": 10}), ("fourier", {"d": 4, "n_test": 10})):
        prob = make_problem(kind, 25, 120, 1.0, seed=0, **kw)
        ev = np.linalg.eigvalsh(prob.phi.T @ prob.phi)
        brute = ev[ev > 1e-9 * ev.max()].min()
        assert lambda_min_plus(prob.phi) == pytest.approx(brute, rel=1e-8)
        u, s, vt = thin_svd(prob.phi)
        np.testing.assert_allclose((u * s) @ vt, prob.phi, atol=1e-10)


def test_bounds_formulas_and_that_they_hold():
    n, m, nu2, eps, eta, lam = 100, 1000, 1.0, 0.01, 1.0, 1e-4
    assert t2_bound(n, m, nu2, eps, eta, lam) == pytest.approx(math.log(900 / 80) / (2.02e-4))
    assert t1_bound(n, m, nu2, eps, eta, 0.5) == pytest.approx(100 * math.log(14e3 / 0.01) / 1.0)
    assert t2_bound(n, m, 1e-3, eps, eta, lam) == 0.0  # vacuous bound is clipped
    prob = make_problem("identity", 50, 500, nu2, seed=7)
    traj = Trajectory(prob, eta, 1e-3)
    t1, t2 = traj.times(eps, eps, 10**6)
    assert t1 <= t1_bound(50, 500, nu2, eps, eta, traj.lam_min_plus)
    assert t2 >= t2_bound(50, 500, nu2, eps, eta, 1e-3)


def test_null_space_decays_only_by_weight_decay():
    prob = make_problem("identity", 10, 50, 1.0, seed=2)
    eta, lam = 1.0, 1e-2
    traj = Trajectory(prob, eta, lam)
    _, _, vt = thin_svd(prob.phi)
    for t in (0, 10, 300):
        th = traj.theta(t)[0]
        null = th - vt.T @ (vt @ th)
        null0 = prob.theta0 - vt.T @ (vt @ prob.theta0)
        np.testing.assert_allclose(null, (1 - eta * lam) ** t * null0, atol=1e-10)


def test_two_layer_gradients_match_autograd():
    n, m, d, lam, eta = 12, 16, 5, 0.1, 1e-2
    x, _, w, a = _relu_init(0, 0, n, m, d, 1.0, 4)
    W = torch.tensor(w, requires_grad=True)
    A = torch.tensor(a, requires_grad=True)
    X = torch.tensor(x)
    loss = (torch.relu(X @ W.T) @ A).pow(2).sum() / (2 * n) + lam / 2 * (W.pow(2).sum() + A.pow(2).sum())
    loss.backward()
    W1, A1 = (W - eta * W.grad).detach().numpy(), (A - eta * A.grad).detach().numpy()
    # one engine step: recorded train loss at t = 1 equals the loss of the autograd step
    r = gd_two_layer([0], n, m, d, 1.0, lam, eta, 1e9, -1.0, 1, n_test=4, record=np.array([0, 1]))
    expect = np.sum((np.maximum(x @ W1.T, 0) @ A1) ** 2) / (2 * n)
    assert r["train"][1, 0] == pytest.approx(expect, rel=1e-10)


# The bmm step (in-place ReLU, σ' = sign(h)) against the former einsum step. Both reduce in the same
# order on this machine (observed: bitwise equal); the tests allow rounding, relative 1e-12 in float64.
RTOL = 1e-12


def test_bmm_step_equals_the_former_einsum_step():
    g = torch.Generator().manual_seed(1)
    R, n, m, d = 3, 12, 40, 6
    X, W, A = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((R, n, d), (R, m, d), (R, m)))
    lam = torch.tensor([0.1, 0.0, 0.5], dtype=torch.float64)
    X[0, 0] = 0.0  # pre-activations exactly 0: σ'(0) = 0 in both (mask pre > 0, sign of h)
    (pre, h_old), out_old = relu_forward_einsum(X, W, A)
    h, out = relu_forward(X, W, A, buf=torch.empty(R, n, m, dtype=torch.float64))
    assert (pre == 0).any() and (pre < 0).any()
    torch.testing.assert_close(h, h_old, rtol=RTOL, atol=0)
    torch.testing.assert_close(out, out_old, rtol=RTOL, atol=0)
    old = relu_grads_einsum(X, W, A, (pre, h_old), out_old, lam)
    for new_g, old_g in zip(relu_grads(X, W, A, h, out, lam), old):
        torch.testing.assert_close(new_g, old_g, rtol=RTOL, atol=0)


TWO_LAYER = dict(n=10, m=20, d=5, nu2=[1.0, 2.0, 0.5], lam=[0.05, 0.1, 0.05], eta=0.3, eps=0.01, c=0.01,
                 t_max=1500, n_test=30)
RECORD = np.concatenate([[0], np.unique(np.round(np.geomspace(1, 1500, 80)).astype(int))])


def _two_layer(**kw):
    a = dict(TWO_LAYER, **kw)
    return gd_two_layer([0, 1, 2], a.pop("n"), a.pop("m"), a.pop("d"), a.pop("nu2"), a.pop("lam"), a.pop("eta"),
                        a.pop("eps"), a.pop("c"), a.pop("t_max"), **a)


def test_two_layer_runs_equal_in_both_formulations():
    new, old = _two_layer(record=RECORD), _two_layer(record=RECORD, formulation="einsum")
    assert np.isfinite(new["t2"]).all() and int(new["steps_run"]) == 1500
    for k in ("t1", "t2", "steps", "steps_run"):
        np.testing.assert_array_equal(new[k], old[k])
    for k in ("train", "test"):
        np.testing.assert_allclose(new[k], old[k], rtol=RTOL, atol=0)


def test_two_layer_tail_stops_once_every_replica_is_past_t2():
    full, short = _two_layer(record=RECORD), _two_layer(record=RECORD, tail=2.0)
    for k in ("t1", "t2", "diverged"):
        np.testing.assert_array_equal(short[k], full[k])  # the numbers do not move
    stop = RECORD[RECORD >= 2.0 * full["t2"].max()][0]  # the first record step past 2 × the last t2
    assert int(short["steps_run"]) == stop < 1500 and short["steps"][-1] == stop
    k = len(short["steps"])
    np.testing.assert_array_equal(short["steps"], full["steps"][:k])
    np.testing.assert_array_equal(short["train"], full["train"][:k])
    np.testing.assert_array_equal(short["test"], full["test"][:k])
    # a replica that never reaches t2 (c below its floor) keeps the run going to t_max
    slow = _two_layer(record=RECORD, tail=2.0, c=1e-300)
    assert int(slow["steps_run"]) == 1500 and np.isnan(slow["t2"]).all()


def test_control_eliminate_lambda_equalises_bounds():
    p = {"defaults": {"n": 100, "m": 1000, "lam": 1e-4, "nu2": 1.0}, "eta": 1.0, "eps": 0.01, "c": 0.01}
    settings = dict((s[0], s[1]) for s in control_settings(p, 0.47))
    lam_e = settings["eliminate_lambda"]["lam"]
    assert t2_bound(100, 1000, 1.0, 0.01, 1.0, lam_e) == pytest.approx(t1_bound(100, 1000, 1.0, 0.01, 1.0, 0.47))
    nu2_e = settings["eliminate_nu2"]["nu2"]
    assert nu2_e + 1 / 1000 < 0.01  # expected initial test loss below c


def test_config_presets_validate_and_reject_bad_keys():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for preset in ("default", "paper", "tiny"):
        r = resolve(dict(cfg, preset=preset), ROOT / "workflow" / "schemas")
        assert r["ridge"]["fig2"]["defaults"]["lam"] == 1e-4
    bad = copy.deepcopy(cfg)
    bad["ridge"]["fig2"]["lamda"] = 1
    with pytest.raises(ConfigError, match="ridge.fig2.lamda"):
        resolve(bad, ROOT / "workflow" / "schemas")
    bad = copy.deepcopy(cfg)
    bad["ridge"]["fig2"]["defaults"]["lam"] = -1.0
    with pytest.raises(ConfigError, match="ridge.fig2.defaults.lam"):
        resolve(bad, ROOT / "workflow" / "schemas")
