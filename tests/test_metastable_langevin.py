import numpy as np
import pytest
import torch

from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import theory
from grokrepro.metastable.data import DataSpec, generate
from grokrepro.metastable.langevin import escape_landscape, langevin_sweep, temperatures, thresholds


def test_temperatures_and_thresholds_follow_their_rules():
    np.testing.assert_allclose(temperatures(0.03, [10, 20]), [0.003, 0.0015])
    np.testing.assert_allclose(thresholds(0.1, 0.3, [0.5, 0.25]), [0.2, 0.15])
    land = escape_landscape(0.8, 0.32, 3)
    assert land["saddle"] < land["learned"]
    assert land["barrier"] == pytest.approx(theory.barrier(0.8, 0.32, 3))
    assert land["barrier"] == pytest.approx(0.02845, abs=1e-4)  # the study notes' ΔE at β = 0.32


def test_langevin_escapes_from_the_trap_faster_when_hotter():
    """From the rank-1 trap, exact-moment data: escape times fall with T; at T = 0 nothing escapes."""
    d = Data.from_numpy(generate(DataSpec((0.9, 0.8), 2, 2, 128, 16, seed=0, exact_moments=True)), "cpu",
                        torch.float64)
    model = DeepLinear((2, 6, 6, 2))
    barrier = escape_landscape(0.8, 0.32, 3)["barrier"]
    temps = np.r_[temperatures(barrier, [6, 12]), 0.0]
    out = langevin_sweep(model, d, 0.32, (True, False), temps, np.arange(8), 0.05, 1500, 5, [0.5, 0.25],
                         progress_every=0)
    esc = out["escape"][:, 0]
    hot, warm, cold = (esc[out["T"] == t] for t in temps)
    assert np.isnan(cold).all()  # T = 0: the trap is a stationary point, absorbing
    assert not np.isnan(hot).any()
    assert np.nanmedian(hot) < np.nanmedian(np.where(np.isnan(warm), np.inf, warm))
    # the lower threshold is crossed no later than the headline one
    both = ~np.isnan(out["escape"]).any(axis=1)
    assert (out["escape"][both, 1] <= out["escape"][both, 0]).all()
