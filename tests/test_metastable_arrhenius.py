"""Noise scale, escape direction and the Kramers–Langer Hessians against theory (Study A)."""
import pytest
import torch

from grokrepro.engine import Data, DeepLinear
from grokrepro.metastable import arrhenius, theory, trap
from test_metastable_trap import exact_moment_data


@pytest.fixture(scope="module")
def setup():
    x, y = exact_moment_data((0.9, 0.8), n=128)
    data = Data.from_numpy({"x_train": x, "y_train": y}, "cpu", torch.float64)
    return x, y, data, DeepLinear((2, 4, 4, 2))


def test_kramers_saddle_and_barrier_match_theory(setup):
    x, y, data, model = setup
    out = arrhenius.kramers_langer(model, data, 0.25, (True, False))
    assert out["exists"]
    assert out["barrier_network"] == pytest.approx(theory.barrier(0.8, 0.25, 3), rel=1e-6)
    assert out["n_negative_saddle"] == 1 and out["n_negative_min"] == 0
    assert out["grad_norm_min"] < 1e-10 and out["grad_norm_saddle"] < 1e-10
    assert out["lambda_saddle"] == pytest.approx(theory.stationary_points(0.8, 0.25, 3).saddle)
    assert arrhenius.kramers_langer(model, data, 0.36, (True, False)) == {"exists": False}  # beyond beta_c(0.8)


def test_noise_vanishes_along_the_escape_direction_only(setup):
    x, y, data, model = setup
    params, _ = trap.constructed(model, x, y, (True, False), 0.25, [3, 4])
    d = arrhenius.escape_direction(model, data, (True, False), 0.25, [3, 4])
    assert torch.allclose(d.norm(dim=1), torch.ones(2, dtype=d.dtype))
    noise = arrhenius.noise_scale(model, params, data, d)
    assert (noise["C"] > 1e-3).all()
    assert (noise["C_escape"] < 1e-20).all()
    # a random direction does carry noise
    rand = torch.randn_like(d)
    rand /= rand.norm(dim=1, keepdim=True)
    assert (arrhenius.noise_scale(model, params, data, rand)["C_escape"] > 1e-6).all()


def test_per_sample_grads_average_to_the_full_batch_gradient(setup):
    x, y, data, model = setup
    params = model.init([1], 0.3)
    g = arrhenius.per_sample_grads(model, params, data).mean(0)
    full = torch.cat([t.flatten(1) for t in model.grads(params, model.batches(data, None)[0])], dim=1)
    torch.testing.assert_close(g, full)


def test_temperature_sweep_tiles_learning_rates():
    from grokrepro.metastable.data import DataSpec, generate

    d = generate(DataSpec((0.9, 0.8), 2, 2, 128, 128, seed=2))
    data = Data.from_numpy(d, "cpu", torch.float64)
    model = DeepLinear((2, 4, 4, 2))
    params = model.init([1, 2], 0.5)
    out = arrhenius.temperature_sweep(model, params, data, "random", [1, 2], 0.1, [0.01, 0.05], 32, 5, 1, 1e-3,
                                      100, 0.05, 5)
    assert out["lr"].tolist() == [0.01, 0.01, 0.05, 0.05]
    assert out["escape_mse"].shape == (4,)
