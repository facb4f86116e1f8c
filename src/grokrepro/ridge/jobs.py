"""The training jobs of Study C, one function per kind of training rule.

Each takes the rule's params (``p``: the config block, ``seeds`` and what the rule adds) and
returns ``(arrays, meta)`` for :func:`grokrepro.io.save_npz`: the driver's result from
:mod:`grokrepro.ridge.train` and the record of the params and seeds it was run with.
"""
from __future__ import annotations

import numpy as np
import torch

from ..io import result_meta
from . import train

DTYPES = {"float32": torch.float32, "float64": torch.float64}  # config key ``dtype``
# Fig 1 (right) draws the loss curves up to this multiple of the latest replica's t2: on its log
# step axis a third of a decade past t2, where the test loss has fallen well below c.
FIG1_TAIL = 2.0


def _result(out: dict, p: dict, seeds: list[int], **extra) -> tuple[dict, dict]:
    return out, result_meta(dict(p, **extra), seeds=list(seeds))


def curves(p, seeds, kind, teacher, accuracy=False):
    """Rules ridge_curves_*: train/test loss curves (and surrogate accuracy) at one setting."""
    p = dict(p, kind=kind, teacher=teacher)
    if "defaults" not in p:  # the Fig. 1 block holds its hyper-parameters flat
        p["defaults"] = {k: p[k] for k in train.PARAMS}
    return _result(train.curves_linear(p, list(seeds), accuracy=bool(accuracy)), p, seeds)


def sweep(p, seeds, kind, teacher):
    """Rules ridge_sweep_*: t1, t2 and the Eq. 8 bounds over the grids (exact trajectory)."""
    p = dict(p, kind=kind, teacher=teacher)
    return _result(train.sweep_linear(p, list(seeds)), p, seeds)


def two_layer_curves(p, seeds, dtype, threads=1):
    """Rule ridge_two_layer_fig1: loss curves of the fully trained two-layer ReLU network on 200
    log-spaced record steps up to ``t_max``. GD stops at the first record step past
    :data:`FIG1_TAIL` × the latest t2 once every replica has reached t2 (the figure's curves end
    there; t1, t2 are those of the full run), else at ``t_max``."""
    record = np.unique(np.round(np.geomspace(1, p["t_max"], 200)).astype(int))
    out = train.gd_two_layer(list(seeds), p["n"], p["m"], p["d"], p["nu2"], p["lam"], p["eta"], p["eps"], p["c"],
                             p["t_max"], n_test=p["n_test"], record=np.concatenate([[0], record]), tail=FIG1_TAIL,
                             threads=threads, dtype=DTYPES[dtype])
    return _result(out, p, seeds)


def two_layer_sweep(p, seeds, dtype, threads=1):
    """Rule ridge_two_layer_sweep: t1, t2 of the two-layer ReLU network over the grids."""
    return _result(train.sweep_two_layer(p, list(seeds), threads=threads, dtype=DTYPES[dtype]), p, seeds)


def engine_check(p, seeds, steps):
    """Rule ridge_engine_check: iterative batched GD against the exact trajectory."""
    return _result(train.engine_check(p, list(seeds), int(steps)), p, seeds, steps=steps)


def control(p, seeds):
    """Rule ridge_control: elimination / amplification runs at bound-derived hyper-parameters."""
    return _result(train.control_runs(p, list(seeds)), p, seeds)
