"""Langevin dynamics in the engine: equipartition, T = 0 identity, batch independence, resume."""
import numpy as np
import pytest
import torch
from scipy import stats

from grokrepro import engine
from grokrepro.engine import Data, DeepLinear, Quadratic, langevin_normals, train
from grokrepro.metastable.data import DataSpec, generate


@pytest.fixture(scope="module")
def data():
    return Data.from_numpy(generate(DataSpec((0.9, 0.8), 2, 2, 256, 64, seed=0)), "cpu", torch.float64)


NO_DATA = Data(torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64))


def test_noise_streams_are_standard_normal_and_independent():
    z = langevin_normals(np.arange(400), 3, 2, 5)  # (steps, R, n)
    assert z.shape == (2, 400, 5)
    flat = z.reshape(-1)
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    other_epoch = langevin_normals(np.arange(400), 4, 2, 5).reshape(-1)
    assert abs(stats.pearsonr(flat, other_epoch)[0]) < 4 / np.sqrt(flat.size)
    assert abs(stats.pearsonr(z[0].reshape(-1), z[1].reshape(-1))[0]) < 4 / np.sqrt(z[0].size)
    # a replica's stream depends on its seed only
    np.testing.assert_array_equal(langevin_normals([7], 3, 2, 5)[:, 0], langevin_normals([5, 6, 7], 3, 2, 5)[:, 2])


def test_equipartition_in_a_quadratic_well():
    """Each coordinate's stationary variance is T / k_eff (k_eff = k + wd), within its chi-square CI;
    the Euler–Maruyama bias 1/(1 − lr·k_eff/2) is 1% here, below the CI's half-width (~4%)."""
    model, r, lr, wd, temp = Quadratic((1.0, 3.0)), 4000, 0.005, 1.0, 0.02
    params = [torch.zeros(r, 2, dtype=torch.float64)]
    res = train(model, params, NO_DATA, lr, wd, 1, np.arange(r), 4000, check_every=500, temperature=temp)
    theta = res.params[0].numpy()
    for i, k in enumerate(np.asarray(model.stiffness) + wd):
        var = np.mean(theta[:, i] ** 2)  # mean zero by symmetry
        lo, hi = var * r / stats.chi2.ppf([0.9995, 0.0005], r)
        assert lo < temp / k < hi, (i, var, temp / k)
    assert abs(np.corrcoef(theta.T)[0, 1]) < 4 / np.sqrt(r)


def test_zero_temperature_is_the_plain_engine_exactly(data):
    model = DeepLinear((2, 6, 6, 2))
    seeds = [3, 4, 5]
    params = model.init(seeds, 0.3)
    plain = train(model, params, data, 0.05, 0.1, 32, seeds, 6)
    zero = train(model, params, data, 0.05, 0.1, 32, seeds, 6, temperature=0.0)
    mixed = train(model, params, data, 0.05, 0.1, 32, seeds, 6, temperature=[0.0, 0.01, 0.0])
    for a, b, c in zip(plain.params, zero.params, mixed.params):
        assert torch.equal(a, b)
        torch.testing.assert_close(a[[0, 2]], c[[0, 2]], rtol=0, atol=1e-14)
        assert (a[1] - c[1]).abs().max() > 1e-3  # the hot replica moved


@pytest.mark.parametrize("r", [3, 40])  # replicas first and replicas last
def test_a_hot_replica_is_the_same_alone_and_in_a_batch(data, r):
    model = DeepLinear((2, 6, 6, 2))
    seeds = np.arange(r) + 20
    temps = np.linspace(0.001, 0.02, r)
    params = model.init(seeds, 0.3)
    together = train(model, params, data, 0.05, 0.1, 256, seeds, 30, temperature=temps)
    alone = train(model, [p[1:2] for p in params], data, 0.05, 0.1, 256, seeds[1:2], 30, temperature=temps[1])
    for a, b in zip(together.params, alone.params):
        torch.testing.assert_close(a[1], b[0], rtol=0, atol=1e-13)


class Interrupt(Exception):
    pass


def _hot_run(data, ckpt, interrupt_at=None):
    model = DeepLinear((2, 5, 5, 2))
    seeds = np.arange(4)
    calls = []

    def monitor(epoch, mets, idx):
        calls.append(epoch)
        if interrupt_at is not None and epoch >= interrupt_at:
            raise Interrupt
        return mets["train_loss"] < 0.0  # never done

    res = train(model, model.init(seeds, 0.3), data, 0.05, 0.1, 64, seeds, 40, check_every=4, monitor=monitor,
                checkpoint=ckpt, checkpoint_every=0.0, temperature=[0.01, 0.002, 0.0, 0.03])
    return res, calls


def test_a_langevin_run_resumes_from_its_checkpoint_exactly(data, tmp_path):
    whole, _ = _hot_run(data, None)
    ckpt = tmp_path / "hot.ckpt"
    with pytest.raises(Interrupt):
        _hot_run(data, ckpt, interrupt_at=20)
    resumed, calls = _hot_run(data, ckpt)
    assert calls[0] > 0
    for a, b in zip(whole.params, resumed.params):
        assert torch.equal(a, b)
    assert engine.RunSettings(1, 1).temperature == 0.0
