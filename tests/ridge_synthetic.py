"""Synthetic Study C training results with known answers, in the shapes the training rules write.

Seeds scale every time by (1 + 0.001·seed), so log-log slopes are exact: t1 does not depend on λ,
t2 ∝ λ^lam_slope; along ν² both grow linearly in ln ν² (slopes nu2_t1, nu2_t2).
"""
import numpy as np

DEFAULTS = {"n": 100, "m": 1000, "lam": 1e-4, "nu2": 1.0}
GRIDS = {"lam": [1e-5, 1e-4, 1e-3], "n": [50, 100, 200], "m": [500, 1000, 2000], "nu2": [1.0, 10.0, 100.0]}
STEPS = np.unique(np.concatenate([[0], np.round(np.geomspace(1, 1e6, 120)).astype(np.int64)]))


def times(hp, seed, lam_slope=-1.0, nu2_t1=70.0, nu2_t2=5000.0):
    f = 1 + 1e-3 * seed
    t1 = (200 * hp["n"] / 100 + nu2_t1 * np.log(hp["nu2"])) * f
    t2 = (2.3e4 * (hp["lam"] / 1e-4) ** lam_slope + nu2_t2 * np.log(hp["nu2"])) * f
    return t1, t2


def sweep(seeds=3, grids=GRIDS, defaults=DEFAULTS, bound_factor=(5.0, 0.5), **kw):
    """What ridge_sweep_* writes: ``P__values`` (V,) and ``P__t1``/``P__t2``/bounds (V, seeds);
    the t1 bound is ``bound_factor[0]`` × t1, the t2 bound ``bound_factor[1]`` × t2."""
    S = {"seeds": np.arange(seeds)}
    for name, values in grids.items():
        t = np.array([[times(dict(defaults, **{name: v}), j, **kw) for j in range(seeds)] for v in values])
        S[f"{name}__values"] = np.asarray(values, float)
        S[f"{name}__t1"], S[f"{name}__t2"] = t[..., 0], t[..., 1]
        S[f"{name}__t1_bound"] = bound_factor[0] * t[..., 0]
        S[f"{name}__t2_bound"] = bound_factor[1] * t[..., 1]
        S[f"{name}__lam_min_plus"] = np.full(t.shape[:2], 0.5)
        S[f"{name}__diverged"] = np.zeros(t.shape[:2], bool)
    return S


def _loss(t_cross, level=0.01, start=1.0):
    """Loss curves (seeds, T) that fall from ``start`` through ``level`` at step ``t_cross``."""
    x = np.maximum(STEPS, 1)[None, :]
    return start * (level / start) ** (x / np.asarray(t_cross, float)[:, None])


def curves(t1, t2, noise=(0.0,), accuracy=False):
    """What ridge_curves_* writes for crossing times ``t1``, ``t2`` (noise levels × seeds)."""
    t1, t2 = np.atleast_2d(np.asarray(t1, float)), np.atleast_2d(np.asarray(t2, float))
    C = {"steps": STEPS, "seeds": np.arange(t1.shape[1]), "noise": np.asarray(noise, float), "t1": t1, "t2": t2,
         "train": np.array([_loss(a) for a in t1]), "test": np.array([_loss(b) for b in t2]),
         "lam_min_plus": np.full(t1.shape, 0.5), "diverged": np.zeros(t1.shape, bool)}
    if accuracy:
        C["train_acc"] = (STEPS[None, None, :] >= 2 * t1[..., None]).astype(float)
        C["test_acc"] = np.clip(0.3 + (STEPS[None, None, :] >= 2 * t2[..., None]), 0, 1).astype(float)
    return C


def two_layer(t1, t2):
    """What ridge_two_layer_fig1 writes: curves (T, R) and t1, t2 (R,)."""
    t1, t2 = np.asarray(t1, float), np.asarray(t2, float)
    return {"steps": STEPS, "t1": t1, "t2": t2, "train": _loss(t1).T, "test": _loss(np.nan_to_num(t2, nan=1e9)).T,
            "steps_run": np.array(STEPS[-1]), "diverged": np.zeros(t1.shape, bool)}


def engine(max_rel_err=1e-14, t1=(210.0,), t2=(23065.0,), t1_exact=None, t2_exact=None):
    """What ridge_engine_check writes."""
    return {"seeds": np.arange(len(t1)), "steps": np.array(30000), "max_rel_err": np.array(max_rel_err),
            "t1_iter": np.array(t1), "t2_iter": np.array(t2),
            "t1_exact": np.array(t1 if t1_exact is None else t1_exact),
            "t2_exact": np.array(t2 if t2_exact is None else t2_exact), "diverged": np.zeros(len(t1), bool)}


SETTINGS = ("default", "eliminate_lambda", "eliminate_nu2", "amplify_lambda", "amplify_nu2")
CONTROL_P = {"eta": 1.0, "eps": 0.01, "c": 0.01, "t_max": 10**7, "seeds": 3, "defaults": DEFAULTS}


def control(factors, seeds=3, t1=200.0, gap=20000.0):
    """What ridge_control writes, with median gaps ``gap`` × factor per setting (default first: 1)."""
    f = np.concatenate([[1.0], np.asarray(factors, float)])
    s = 1 + 1e-3 * np.arange(seeds)
    T1 = np.full((len(f), seeds), t1)
    T2 = T1 + gap * f[:, None] * s[None, :]
    return {"settings": np.array(SETTINGS[:len(f)]), "values": np.array([f"setting {k}" for k in range(len(f))]),
            "t1": T1, "t2": T2, "train": np.array([_loss(a) for a in T1]), "test": np.array([_loss(b) for b in T2]),
            "steps": STEPS, "seeds": np.arange(seeds), "lam_min_plus": np.array(0.5),
            "diverged": np.zeros(T1.shape, bool)}


def diverge(result, mask, prefix=""):
    """Mark the replicas of ``mask`` diverged the way the training rules do: flag set, times NaN
    (and, for results with curves, the curves NaN)."""
    mask = np.asarray(mask, bool)
    result[f"{prefix}diverged"] = result[f"{prefix}diverged"] | mask
    for k in ("t1", "t2"):
        result[f"{prefix}{k}"] = np.where(mask, np.nan, result[f"{prefix}{k}"])
    for k in ("train", "test", "train_acc", "test_acc"):
        if not prefix and k in result and result[k].shape[:mask.ndim] == mask.shape:
            result[k] = np.where(mask[..., None], np.nan, result[k])
    return result
