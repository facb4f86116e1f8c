"""Training engines and sweep drivers of Study C.

* :func:`gd_linear` -- iterative full-batch GD with coupled weight decay for linear-in-θ models,
  batched over replicas (torch). The exact :class:`~grokrepro.ridge.theory.Trajectory` is its test
  oracle and the fast path the pipeline uses for every linear-in-θ figure.
* :func:`gd_two_layer` -- full-batch GD on a fully trained two-layer ReLU network
  N(x) = Σ_j a_j σ(⟨w_j, x⟩) (both layers, coupled weight decay), batched over replicas of one
  shape, zero teacher; records t1 exactly (every step) and t2 on a fine log grid.
* :func:`sweep_linear` / :func:`curves_linear` / :func:`sweep_two_layer` -- the drivers the
  Snakemake scripts call; they return plain dicts of numpy arrays ready for ``io.save_npz``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..io import log
from .features import make_problem, rng_for
from .theory import Trajectory, lambda_min_plus, step_grid, t1_bound, t2_bound

PARAMS = ("lam", "n", "m", "nu2")


def data_tag(n: int, m: int) -> int:
    """Data stream of a run: depends on (n, m) only, so λ and ν² sweeps share data and init
    directions (common random numbers) and a panel's default point is the same run in every panel."""
    return int(n) * 1_000_003 + int(m)


# ------------------------------------------------------------------------------------------
# iterative engines
# ------------------------------------------------------------------------------------------
def gd_linear(phi, y, theta0, eta, lam, steps, test_fn=None, record=None, dtype=torch.float64):
    """Iterative GD θ ← θ − η(Φᵀ(Φθ − y)/n + λθ) on R replicas at once.

    ``phi`` (R, n, m), ``y`` (R, n), ``theta0`` (R, m); ``eta``/``lam`` scalars or (R,).
    Returns (record steps, train loss (T, R) with its ½, test loss (T, R) or None, final θ).
    ``test_fn(theta)`` maps (R, m) torch parameters to (R,) test losses.
    """
    phi = torch.as_tensor(np.asarray(phi), dtype=dtype)
    y = torch.as_tensor(np.asarray(y), dtype=dtype)
    th = torch.as_tensor(np.asarray(theta0), dtype=dtype).clone()
    R, n, _ = phi.shape
    eta = torch.as_tensor(np.broadcast_to(eta, (R,)).copy(), dtype=dtype)[:, None]
    lam = torch.as_tensor(np.broadcast_to(lam, (R,)).copy(), dtype=dtype)[:, None]
    record = np.arange(steps + 1) if record is None else np.asarray(record)
    want = set(int(t) for t in record)
    tr, te = [], []
    for t in range(int(record.max()) + 1):
        res = torch.bmm(phi, th[:, :, None])[:, :, 0] - y
        if t in want:
            tr.append((res**2).sum(1) / (2 * n))
            if test_fn is not None:
                te.append(test_fn(th))
        if t == int(record.max()):
            break  # th is θ(t_max): no update past the last recorded step
        grad = torch.bmm(res[:, None, :], phi)[:, 0, :] / n + lam * th
        th = th - eta * grad
    train = torch.stack(tr).numpy()
    test = torch.stack(te).numpy() if te else None
    return record, train, test, th.numpy()


def _relu_init(seed, tag, n, m, d, nu2, n_test):
    g = [rng_for(seed, tag, 100 + k) for k in range(4)]
    x = g[0].standard_normal((n, d))
    xt = g[1].standard_normal((n_test, d))
    w = g[2].standard_normal((m, d)) * math.sqrt(nu2 / d)
    a = g[3].standard_normal(m) / math.sqrt(m)
    return x, xt, w, a


def _retire_diverged(div, A, W, t, *losses):
    """Mark replicas whose losses are no longer finite (NaN or overflow) as diverged and zero their
    parameters so that nothing non-finite spreads; returns the updated mask."""
    new = ~div
    for loss in losses:
        if loss is not None:
            new &= ~np.isfinite(loss.numpy())
    if new.any():
        idx = torch.as_tensor(new)
        A[idx], W[idx] = 0.0, 0.0
        log(f"two-layer GD: {int(new.sum())} replica(s) diverged at step {t} ({int((div | new).sum())} in all)")
    return div | new


def relu_forward(X, W, A, buf=None):
    """Hidden activations h = σ(X Wᵀ) (R, n, m) and outputs N = h a (R, n) of the two-layer net on
    inputs ``X`` (R, n, d), batched over replicas with ``bmm``; the ReLU acts in place (the
    pre-activations are not kept: σ' is read off h, see :func:`relu_grads`). ``buf`` (R, n, m), if
    given, receives h (no allocation per step)."""
    h = torch.bmm(X, W.transpose(1, 2), out=buf).relu_()
    return h, torch.bmm(h, A[:, :, None])[:, :, 0]


def relu_grads(X, W, A, h, out, lam):
    """Gradients (g_a, g_W) of ½ mean_n N² + λ/2 (‖a‖² + ‖W‖²) (zero teacher: residual = N) from
    :func:`relu_forward`'s ``h`` and ``out``. ``h`` is consumed: σ'(pre) = sign(h), as h > 0 exactly
    where pre > 0, is formed in its place (the same 0/1 factor as the mask ``pre > 0``)."""
    g = out / out.shape[1]
    gA = torch.bmm(g[:, None, :], h)[:, 0, :].add_(lam[:, None] * A)
    gpre = h.sign_().mul_(g[:, :, None]).mul_(A[:, None, :])
    gW = torch.bmm(gpre.transpose(1, 2), X).add_(lam[:, None, None] * W)
    return gA, gW


def relu_forward_einsum(X, W, A, buf=None):
    """The former (einsum, out-of-place) formulation of :func:`relu_forward`: ((pre, h), out);
    ``buf`` is ignored. Kept as the oracle of the bmm step (tests) and for
    ``benchmarks/ridge_step_cost.py``."""
    pre = torch.einsum("rnd,rmd->rnm", X, W)
    h = torch.relu(pre)
    return (pre, h), torch.einsum("rnm,rm->rn", h, A)


def relu_grads_einsum(X, W, A, hidden, out, lam):
    """The former formulation of :func:`relu_grads` (mask ``pre > 0``), the bmm step's oracle."""
    pre, h = hidden
    g_out = out / out.shape[1]
    gA = torch.einsum("rnm,rn->rm", h, g_out) + lam[:, None] * A
    gpre = g_out[:, :, None] * A[:, None, :] * (pre > 0)
    gW = torch.einsum("rnm,rnd->rmd", gpre, X) + lam[:, None, None] * W
    return gA, gW


FORMULATIONS = {"bmm": (relu_forward, relu_grads), "einsum": (relu_forward_einsum, relu_grads_einsum)}


def _progress(t, t_max, t0, t2, div):
    rate = t / (time.time() - t0)
    log(f"two-layer GD step {t}/{int(t_max)}, {int((np.isnan(t2) & ~div).sum())}/{len(t2)} replicas before t2, "
        f"{rate:.3g} steps/s, <= {(t_max - t) / rate:.0f}s left")


def _finished(t, t2, div, above, record, tail):
    """Whether GD may stop after step ``t``: every live replica has reached t2 and
    * without ``record``: no replica's training loss is ≥ ε any more (t1 is settled);
    * with ``record`` and ``tail``: that too, ``t`` is a record step and t ≥ tail × the latest t2
      (the curves' tail past t2 is drawn; the record steps beyond are not needed);
    * with ``record`` and no ``tail``: ``t`` is the last record step."""
    if np.isnan(t2[~div]).any():
        return False
    if record is None:
        return not above.any()
    if tail is None:
        return t >= max(record)
    last_t2 = np.max(t2[~div], initial=0.0)
    return t in record and not above.any() and t >= tail * last_t2


def gd_two_layer(seeds, n, m, d, nu2, lam, eta, eps, c, t_max, n_test=2000, tag=0, record=None, tail=None,
                 grid_ratio=1.01, threads=1, dtype=torch.float64, progress_every=30.0, formulation="bmm"):
    """Full-batch GD on N(x) = Σ_j a_j σ(⟨w_j, x⟩), zero teacher, both layers with weight decay.

    Init a_j ~ N(0, 1/m), w_j ~ N(0, ν²/d I_d), x ~ N(0, I_d); replicas = ``seeds`` (same
    shape), ``lam`` and ``nu2`` may be per replica. t1 = last step with training loss ≥ ε
    (checked every step); t2 = first grid step with test loss ≤ c on ``n_test`` held-out inputs,
    the grid being every step up to 100 then geometric with ratio ``grid_ratio`` (t2 is exact to
    that relative resolution). Stops when every replica has reached t2 or at ``t_max``; with
    ``record`` at the last record step, or, given ``tail``, at the first record step past
    ``tail`` × the latest t2 (see :func:`_finished`).
    A replica whose training or test loss stops being finite is *diverged*: it is retired
    (parameters zeroed), its t1, t2 and recorded losses are NaN and ``diverged`` marks it.
    Returns dict with t1, t2, diverged (R,), and train/test curves on ``record`` steps (if given).
    A progress line (step, replicas still running, time left) goes to the log every ``progress_every`` s.
    ``formulation`` "einsum" runs the former formulation of the step (the oracle of the tests).
    """
    torch.set_num_threads(max(1, int(threads)))
    forward, grads = FORMULATIONS[formulation]
    R = len(seeds)
    lam = np.broadcast_to(np.asarray(lam, float), (R,))
    nu2 = np.broadcast_to(np.asarray(nu2, float), (R,))
    xs, xts, ws, as_ = zip(*[_relu_init(s, tag, n, m, d, v, n_test) for s, v in zip(seeds, nu2)])
    T = lambda a: torch.as_tensor(np.stack(a), dtype=dtype)  # noqa: E731
    X, Xt, W, A = T(xs), T(xts), T(ws), T(as_)
    lam_t = torch.as_tensor(lam.copy(), dtype=dtype)
    checks = set(int(v) for v in step_grid(t_max, dense=100, ratio=grid_ratio))
    rec = set() if record is None else set(int(v) for v in record)
    t1, t2, div = np.zeros(R), np.full(R, np.nan), np.zeros(R, bool)
    curves_tr, curves_te, rec_steps = [], [], []
    buf, buf_test = torch.empty(R, n, m, dtype=dtype), torch.empty(R, n_test, m, dtype=dtype)

    t0 = last_log = time.time()
    for t in range(int(t_max) + 1):
        if time.time() - last_log > progress_every:
            last_log = time.time()
            _progress(t, t_max, t0, t2, div)
        hidden, out = forward(X, W, A, buf)
        train = (out**2).sum(1) / (2 * n)
        te = (forward(Xt, W, A, buf_test)[1] ** 2).mean(1) if t in checks or t in rec else None
        div = _retire_diverged(div, A, W, t, train, te)
        above = (train >= eps).numpy() & ~div
        t1[above] = t
        if te is not None:
            t2[(te <= c).numpy() & np.isnan(t2) & ~div] = t
        if t in rec:
            rec_steps.append(t)
            curves_tr.append(np.where(div, np.nan, train.numpy()))
            curves_te.append(np.where(div, np.nan, te.numpy()))
        if _finished(t, t2, div, above, None if record is None else rec, tail):
            break
        gA, gW = grads(X, W, A, hidden, out, lam_t)
        A.sub_(gA.mul_(eta))
        W.sub_(gW.mul_(eta))
    if np.isnan(t2).any():
        t1[np.isnan(t2) & (t1 == t)] = np.nan if t >= t_max else t1[np.isnan(t2) & (t1 == t)]
    t1[div] = np.nan
    out = {"t1": t1, "t2": t2, "diverged": div, "steps_run": np.array(t)}
    if record is not None:
        out["steps"] = np.array(rec_steps)
        out["train"] = np.array(curves_tr)
        out["test"] = np.array(curves_te)
    return out


# ------------------------------------------------------------------------------------------
# sweep drivers (linear-in-θ models use the exact trajectory)
# ------------------------------------------------------------------------------------------
def run_linear(kind, n, m, nu2, lam, seed, eta, eps, c, t_max, d=None, teacher="default",
               noise=0.0, n_test=2000, sigma2=1.0):
    """One linear-in-θ run through the exact trajectory: (t1, t2, λ⁺_min(ΦᵀΦ), Trajectory);
    a diverging run (``Trajectory.diverges``) has t1 = t2 = NaN."""
    prob = make_problem(kind, n, m, nu2, seed, d=d, teacher=teacher, noise=noise, n_test=n_test,
                        sigma2=sigma2, tag=data_tag(n, m))
    traj = Trajectory(prob, eta, lam)
    t1, t2 = traj.times(eps, c, t_max)
    return t1, t2, traj.lam_min_plus, traj


def linear_curves(traj, steps):
    """(train loss, test loss, diverged) of one exact trajectory on ``steps``. A diverging
    trajectory, or one whose losses overflow, is not drawn: its curves are NaN."""
    if not traj.diverges:
        tr, te = traj.train_loss(steps), traj.test_loss(steps)
        if np.all(np.isfinite(tr)) and np.all(np.isfinite(te)):
            return tr, te, False
    return np.full(len(steps), np.nan), np.full(len(steps), np.nan), True


def _median(values) -> float:
    """Median of the finite values for a log line (NaN, silently, when there are none)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def _log_diverged(what, div):
    if np.any(div):
        log(f"{what}: {int(np.sum(div))} of {np.size(div)} runs diverged (non-contracting GD), left out")


def sweep_linear(p: dict, seeds: list[int]) -> dict:
    """t1, t2 and the Eq. 8 bounds for every value of every swept hyper-parameter.

    ``p`` holds kind, d (relu/fourier), teacher, noise, n_test, sigma2, eta, eps, c, t_max,
    ``defaults`` {lam, n, m, nu2} and ``grids`` {param: [values]}. Output keys per param P:
    ``P__values`` (V,), ``P__t1``/``P__t2``/``P__t1_bound``/``P__t2_bound``/``P__lam_min_plus`` (V, S)
    and ``P__diverged`` (V, S) (t1, t2 NaN there).
    """
    out = {"seeds": np.array(seeds)}
    for name, values in p["grids"].items():
        V, S = len(values), len(seeds)
        arr = {k: np.full((V, S), np.nan) for k in ("t1", "t2", "t1_bound", "t2_bound", "lam_min_plus")}
        arr["diverged"] = np.zeros((V, S), bool)
        for i, v in enumerate(values):
            hp = dict(p["defaults"], **{name: v})
            n, m = int(hp["n"]), int(hp["m"])
            for j, s in enumerate(seeds):
                t1, t2, lmp, traj = run_linear(p["kind"], n, m, hp["nu2"], hp["lam"], s, p["eta"], p["eps"], p["c"],
                                               p["t_max"], d=p.get("d"), teacher=p.get("teacher", "default"),
                                               noise=p.get("noise", 0.0), n_test=p.get("n_test", 2000),
                                               sigma2=p.get("sigma2", 1.0))
                arr["t1"][i, j], arr["t2"][i, j], arr["lam_min_plus"][i, j] = t1, t2, lmp
                arr["diverged"][i, j] = traj.diverges
                # Eq. 8 is stated for phi(x) = x; the relu init variance lives in the features
                nu2_b = 1.0 if p["kind"] == "relu" else hp["nu2"]
                arr["t1_bound"][i, j] = t1_bound(n, m, nu2_b, p["eps"], p["eta"], lmp)
                arr["t2_bound"][i, j] = t2_bound(n, m, nu2_b, p["c"], p["eta"], hp["lam"])
            log(f"{p['kind']} {name}={v}: t1 median {_median(arr['t1'][i]):.4g}, "
                f"t2 median {_median(arr['t2'][i]):.4g}")
            _log_diverged(f"{p['kind']} {name}={v}", arr["diverged"][i])
        out[f"{name}__values"] = np.asarray(values, float)
        for k, a in arr.items():
            out[f"{name}__{k}"] = a
    return out


def _accuracies(traj, p, hp, seed, noise, steps):
    """Surrogate accuracies P[(N − N*)² ≤ ε] on the test points and on the training points."""
    n, m = int(hp["n"]), int(hp["m"])
    test = np.mean(traj.test_errors(steps) ** 2 <= p["eps"], axis=1)
    prob = make_problem(p["kind"], n, m, hp["nu2"], seed, d=p.get("d"), teacher=p.get("teacher", "default"),
                        noise=noise, n_test=1, tag=data_tag(n, m))
    pred = traj.theta(steps) @ prob.phi.T
    return test, np.mean((pred - prob.y) ** 2 <= p["eps"], axis=1)


def curves_linear(p: dict, seeds: list[int], n_points: int = 300, accuracy: bool = False) -> dict:
    """Train/test loss curves of the runs at ``p['defaults']`` on a log step grid, with t1, t2.

    ``p['noise']`` may be a list: the curves are then stacked over noise levels (leading axis).
    With ``accuracy`` the surrogate accuracies P[(N − N*)² ≤ ε] on test and train points are added.
    ``diverged`` (noise levels × seeds) marks diverged runs (t1, t2, curves and accuracies NaN).
    """
    hp = p["defaults"]
    n, m = int(hp["n"]), int(hp["m"])
    steps = np.unique(np.concatenate([[0], np.round(np.geomspace(1, p["t_max"], n_points)).astype(np.int64)]))
    noises = p.get("noise", 0.0)
    noises = list(noises) if isinstance(noises, (list, tuple)) else [noises]
    keys = ("train", "test", "t1", "t2", "lam_min_plus", "test_acc", "train_acc", "diverged")
    res = {k: [] for k in keys}
    for noise in noises:
        got = {k: [] for k in keys}
        for s in seeds:
            t1, t2, lmp, traj = run_linear(p["kind"], n, m, hp["nu2"], hp["lam"], s, p["eta"], p["eps"], p["c"],
                                           p["t_max"], d=p.get("d"), teacher=p.get("teacher", "default"),
                                           noise=noise, n_test=p.get("n_test", 2000), sigma2=p.get("sigma2", 1.0))
            tr, te, div = linear_curves(traj, steps)
            for k, v in zip(("train", "test", "t1", "t2", "lam_min_plus", "diverged"),
                            (tr, te, np.nan if div else t1, np.nan if div else t2, lmp, div)):
                got[k].append(v)
            if accuracy:
                acc = (np.full(len(steps), np.nan),) * 2 if div else _accuracies(traj, p, hp, s, noise, steps)
                got["test_acc"].append(acc[0])
                got["train_acc"].append(acc[1])
        for k in keys:
            res[k].append(np.array(got[k]))
        log(f"{p['kind']} curves noise={noise}: t1 median {_median(got['t1']):.4g}, "
            f"t2 median {_median(got['t2']):.4g}")
        _log_diverged(f"{p['kind']} curves noise={noise}", got["diverged"])
    out = {"steps": steps, "seeds": np.array(seeds), "noise": np.array(noises, float)}
    for k, v in res.items():
        if accuracy or k not in ("test_acc", "train_acc"):
            out[k] = np.array(v)
    return out


def sweep_two_layer(p: dict, seeds: list[int], threads: int = 1, dtype=torch.float64) -> dict:
    """Fig. 4: t1, t2 of the fully trained two-layer ReLU network over the four sweeps.

    Replicas sharing a shape (n, m) are trained together; output keys as in :func:`sweep_linear`
    (without bounds, which the theory does not provide for this model).
    """
    out = {"seeds": np.array(seeds)}
    jobs = {}  # (n, m) -> list of (param, value index, seed, lam, nu2)
    for name, values in p["grids"].items():
        for i, v in enumerate(values):
            hp = dict(p["defaults"], **{name: v})
            for j, s in enumerate(seeds):
                jobs.setdefault((int(hp["n"]), int(hp["m"])), []).append((name, i, j, s, hp["lam"], hp["nu2"]))
        out[f"{name}__values"] = np.asarray(values, float)
        for k in ("t1", "t2"):
            out[f"{name}__{k}"] = np.full((len(values), len(seeds)), np.nan)
        out[f"{name}__diverged"] = np.zeros((len(values), len(seeds)), bool)
    for (n, m), rows in jobs.items():
        # identical (seed, lam, nu2) replicas appear once per panel: train each unique one once
        uniq = sorted(set((s, lam, nu2) for _, _, _, s, lam, nu2 in rows))
        r = gd_two_layer([u[0] for u in uniq], n, m, p["d"], [u[2] for u in uniq], [u[1] for u in uniq],
                         p["eta"], p["eps"], p["c"], p["t_max"], n_test=p["n_test"], tag=data_tag(n, m),
                         threads=threads, dtype=dtype)
        index = {u: k for k, u in enumerate(uniq)}
        for name, i, j, s, lam, nu2 in rows:
            k = index[(s, lam, nu2)]
            for key in ("t1", "t2", "diverged"):
                out[f"{name}__{key}"][i, j] = r[key][k]
        log(f"two-layer n={n} m={m}: {len(uniq)} replicas, {int(r['steps_run'])} steps")
    return out


def engine_check(p: dict, seeds: list[int], steps: int) -> dict:
    """Run the iterative batched engine and the exact trajectory side by side at the Fig. 2
    defaults (identity features) for ``steps`` steps; report their largest relative loss
    difference and t1, t2 from both (the iterative ones from every-step losses). A replica that
    diverges in either (non-contracting GD, non-finite losses) is marked in ``diverged`` and left
    out of the difference (NaN if every replica diverged); its times are NaN."""
    hp = p["defaults"]
    n, m = int(hp["n"]), int(hp["m"])
    probs = [make_problem("identity", n, m, hp["nu2"], s, tag=data_tag(n, m)) for s in seeds]
    theta_star = torch.as_tensor(np.stack([pr.test.theta_star for pr in probs]))

    def test_fn(th):
        return ((th - theta_star) ** 2).sum(1) / m

    rec, tr, te, _ = gd_linear(np.stack([pr.phi for pr in probs]), np.stack([pr.y for pr in probs]),
                               np.stack([pr.theta0 for pr in probs]), p["eta"], hp["lam"], steps, test_fn=test_fn)
    rel, t1i, t2i, t1e, t2e, div = [], [], [], [], [], []
    for k, pr in enumerate(probs):
        traj = Trajectory(pr, p["eta"], hp["lam"])
        etr, ete, d = linear_curves(traj, rec)
        div.append(d or not (np.all(np.isfinite(tr[:, k])) and np.all(np.isfinite(te[:, k]))))
        if div[-1]:
            for times in (t1i, t2i, t1e, t2e):
                times.append(np.nan)
            continue
        rel += [float(np.max(np.abs(etr - tr[:, k]) / etr)), float(np.max(np.abs(ete - te[:, k]) / ete))]
        above = np.nonzero(tr[:, k] >= p["eps"])[0]
        below = np.nonzero(te[:, k] <= p["c"])[0]
        t1i.append(float(rec[above[-1]]) if above.size else 0.0)
        t2i.append(float(rec[below[0]]) if below.size else np.nan)
        a, b = traj.times(p["eps"], p["c"], steps)
        t1e.append(a)
        t2e.append(b)
    rel = max(rel, default=np.nan)
    log(f"engine check: max relative difference {rel:.3g} over {steps} steps")
    _log_diverged("engine check", div)
    return {"seeds": np.array(seeds), "steps": np.array(steps), "max_rel_err": np.array(rel),
            "t1_iter": np.array(t1i), "t2_iter": np.array(t2i), "t1_exact": np.array(t1e), "t2_exact": np.array(t2e),
            "diverged": np.array(div)}


def control_settings(p: dict, lam_min_plus: float) -> list[tuple[str, dict, str]]:
    """Bound-derived hyper-parameter choices at the Fig. 2 defaults.

    * ``eliminate_lambda``: the λ at which the Eq. 8 lower bound on t2 equals the Eq. 8 upper
      bound on t1 (median λ⁺_min of the default runs), i.e. the bounds no longer guarantee a gap.
    * ``eliminate_nu2``: ν² = (c − ‖θ*‖²/m)/2, so that the expected initial test loss
      ν² tr Σ + θ*ᵀΣθ* (the quantity behind the t2 bound) already sits below c.
    * ``amplify_lambda``: λ/10 (the t2 bound grows 10×); ``amplify_nu2``: ν² × 100.
    """
    d = p["defaults"]
    n, m, nu2, lam, eps, c = d["n"], d["m"], d["nu2"], d["lam"], p["eps"], p["c"]
    lam_e = math.log((m - n) * nu2 / (8 * m * c)) * lam_min_plus / (1.01 * n * math.log(14 * m * nu2 / eps))
    nu2_e = (c - 1.0 / m) / 2
    return [
        ("default", dict(d), f"λ={lam:g}, ν²={nu2:g}"),
        ("eliminate_lambda", dict(d, lam=lam_e), f"λ={lam_e:.3g} (t2 bound = t1 bound)"),
        ("eliminate_nu2", dict(d, nu2=nu2_e), f"ν²={nu2_e:.3g} (initial test loss < c)"),
        ("amplify_lambda", dict(d, lam=lam / 10), f"λ={lam / 10:g}"),
        ("amplify_nu2", dict(d, nu2=nu2 * 100), f"ν²={nu2 * 100:g}"),
    ]


def control_runs(p: dict, seeds: list[int], n_points: int = 250) -> dict:
    """Curves and t1, t2 for every :func:`control_settings` choice (identity features);
    ``diverged`` (settings × seeds) marks diverged runs (t1, t2 and curves NaN)."""
    d = p["defaults"]
    n, m = int(d["n"]), int(d["m"])
    lmp = float(np.median([lambda_min_plus(make_problem("identity", n, m, 1.0, s, tag=data_tag(n, m)).phi)
                           for s in seeds]))
    settings = control_settings(p, lmp)
    steps = np.unique(np.concatenate([[0], np.round(np.geomspace(1, p["t_max"], n_points)).astype(np.int64)]))
    res = {k: [] for k in ("t1", "t2", "train", "test", "diverged")}
    for name, hp, _ in settings:
        got = {k: [] for k in res}
        for s in seeds:
            t1, t2, _, traj = run_linear("identity", n, m, hp["nu2"], hp["lam"], s, p["eta"], p["eps"], p["c"],
                                         p["t_max"])
            tr, te, div = linear_curves(traj, steps)
            for k, v in zip(got, (np.nan if div else t1, np.nan if div else t2, tr, te, div)):
                got[k].append(v)
        for k in res:
            res[k].append(got[k])
        log(f"control {name}: median t1 {np.median(got['t1']):.4g}, median t2 {np.median(got['t2']):.4g}")
        _log_diverged(f"control {name}", got["diverged"])
    return {"settings": np.array([s[0] for s in settings]), "values": np.array([s[2] for s in settings]),
            **{k: np.array(v) for k, v in res.items()}, "steps": steps, "seeds": np.array(seeds),
            "lam_min_plus": np.array(lmp)}
