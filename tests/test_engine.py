"""The batched engine against a plain one-replica torch reference."""
import numpy as np
import pytest
import torch

from grokrepro import engine
from grokrepro.engine import Data, DeepLinear, minibatch_indices, train
from grokrepro.metastable.data import DataSpec, generate
from reference import deep_linear_reference


@pytest.fixture(scope="module")
def data():
    return Data.from_numpy(generate(DataSpec((0.9, 0.8), 2, 2, 512, 256, seed=0)), "cpu", torch.float64)


def reference_batches(seed, epochs, n, b):
    out = []
    for e in range(epochs):
        mb = minibatch_indices(torch.tensor([seed]), e, n, b)
        out += [mb[s, 0] for s in range(mb.shape[0])]
    return out


@pytest.mark.parametrize("dims", [(2, 10, 10, 2), (2, 5, 2), (3, 4, 4, 4, 2)])
def test_engine_matches_reference_step_for_step(data, dims):
    """R replicas with their own seeds, lr and weight decay; 100+ SGD steps; float64."""
    n_in, n_out = dims[0], dims[-1]
    x, y = data.x_train[:, :1].repeat(1, n_in), data.y_train[:, :1].repeat(1, n_out)
    x = x + 0.1 * torch.arange(n_in, dtype=x.dtype)  # distinct input columns
    d = Data(x, y)
    model = DeepLinear(dims)
    seeds = [42, 7, 1234, 99]
    lrs, wds = np.array([0.08, 0.05, 0.02, 0.1]), np.array([0.32, 0.1, 0.0, 0.01])
    params = model.init(seeds, 10 ** -0.5)
    epochs = 13  # 13 * 8 = 104 steps
    res = train(model, params, d, lrs, wds, 64, seeds, max_epochs=epochs, check_every=5)
    assert res.steps == 104 * len(seeds)
    for r in range(len(seeds)):
        ref, losses = deep_linear_reference([p[r] for p in params], x, y, lrs[r], wds[r],
                                            reference_batches(seeds[r], epochs, 512, 64))
        assert len(losses) == 104
        for a, b in zip(ref, res.params):
            rel = ((a - b[r]).norm() / a.norm()).item()
            assert rel < 1e-5, (r, rel)


def test_full_batch_matches_reference(data):
    model = DeepLinear((2, 10, 10, 2))
    params = model.init([3], 0.3)
    res = train(model, params, data, 0.05, 0.2, 512, [3], max_epochs=100)
    ref, _ = deep_linear_reference([p[0] for p in params], data.x_train, data.y_train, 0.05, 0.2,
                                   [torch.arange(512)] * 100)
    for a, b in zip(ref, res.params):
        assert ((a - b[0]).norm() / a.norm()).item() < 1e-10


def test_replica_is_independent_of_its_batch(data):
    """A replica trained alone equals the same replica trained among others."""
    model = DeepLinear((2, 10, 10, 2))
    seeds = [11, 12, 13]
    params = model.init(seeds, 0.3)
    together = train(model, params, data, 0.08, 0.1, 64, seeds, max_epochs=5)
    alone = train(model, [p[1:2] for p in params], data, 0.08, 0.1, 64, seeds[1:2], max_epochs=5)
    for a, b in zip(together.params, alone.params):
        torch.testing.assert_close(a[1], b[0], rtol=0, atol=1e-13)
    # and different seeds really do see different minibatch orders
    p0 = minibatch_indices(torch.tensor([11, 12]), 0, 512, 64)
    assert not torch.equal(p0[:, 0], p0[:, 1])
    assert sorted(p0[:, 0].flatten().tolist()) == list(range(512))


def test_divergence_is_reported_not_kept(data):
    model = DeepLinear((2, 10, 10, 2))
    params = model.init([1, 2], 0.3)
    res = train(model, params, data, np.array([0.05, 50.0]), 0.0, 64, [1, 2], max_epochs=20,
                record_epochs=[0, 5, 10, 20])
    assert res.status[0] == engine.BUDGET and res.status[1] == engine.DIVERGED
    assert all(torch.isfinite(p).all() for p in res.params)  # last finite parameters kept
    assert np.isfinite(res.records["train_loss"][:, 0]).all()
    assert np.isnan(res.records["train_loss"][-1, 1])


def test_monitor_stops_replicas_and_saves_compute(data):
    model = DeepLinear((2, 10, 10, 2))
    params = model.init([1, 2, 3], 0.3)

    def monitor(epoch, metrics, idx):
        return (idx == 0) & torch.tensor(epoch >= 4)  # replica 0 is done at epoch 4

    res = train(model, params, data, 0.05, 0.0, 64, [1, 2, 3], max_epochs=10, check_every=2, monitor=monitor)
    assert res.status.tolist() == [engine.DONE, engine.BUDGET, engine.BUDGET]
    assert res.stop_epoch[0] == 4
    assert res.steps == 8 * (4 + 10 + 10)
    # the stopped replica's parameters are those it had at epoch 4
    again = train(model, [p[:1] for p in params], data, 0.05, 0.0, 64, [1], max_epochs=4)
    torch.testing.assert_close(res.params[0][0], again.params[0][0])


def test_metrics_on_grid_and_singular_values(data):
    model = DeepLinear((2, 10, 10, 2))
    params = model.init([5], 0.3)
    grid = engine.log_grid(50, 10)
    res = train(model, params, data, 0.08, 0.0, 64, [5], max_epochs=50, record_epochs=grid)
    assert res.records["train_loss"].shape == (len(grid), 1)
    assert res.records["train_loss"][-1, 0] < res.records["train_loss"][0, 0]
    w = DeepLinear.end_to_end(res.params)[0]
    np.testing.assert_allclose(res.records["svals"][-1, 0], torch.linalg.svdvals(w).numpy(), rtol=1e-10)
    # without weight decay the learned map approaches the least-squares solution
    ls = torch.linalg.lstsq(data.x_train, data.y_train).solution.T
    assert (w - ls).norm() < 0.05


class Interrupt(Exception):
    pass


def _checkpointed_run(data, ckpt, interrupt_at=None, lr=0.05):
    """A run with minibatches, replicas stopping at different epochs and a stateful monitor."""
    model = DeepLinear((data.x_train.shape[1], 6, 6, data.y_train.shape[1]))
    seeds = np.arange(6)
    params = model.init(seeds, 0.3)
    first_below = torch.full((6,), float("nan"), dtype=torch.float64)
    calls = []
    thresholds = torch.linspace(0.9, 0.2, 6, dtype=torch.float64)

    def monitor(epoch, mets, idx):
        calls.append(epoch)
        if interrupt_at is not None and epoch >= interrupt_at:
            raise Interrupt
        hit = (mets["train_loss"] < thresholds[idx]) & torch.isnan(first_below[idx])
        first_below[idx[hit]] = float(epoch)
        return mets["train_loss"] < 0.5 * thresholds[idx]

    res = train(model, params, data, lr, 1e-3, 16, seeds, 60, check_every=3,
                record_epochs=engine.log_grid(60, 20), monitor=monitor, check_at_records=True,
                checkpoint=ckpt, checkpoint_every=0.0, monitor_state={"first_below": first_below})
    return res, first_below, calls


def test_interrupted_run_resumes_from_its_checkpoint_exactly(data, tmp_path):
    """A run killed mid-way continues from its checkpoint and ends exactly like an uninterrupted one."""
    whole, first_whole, _ = _checkpointed_run(data, None)
    assert (whole.status == engine.DONE).sum() >= 2 and (whole.status == engine.BUDGET).any()
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Interrupt):
        _checkpointed_run(data, ckpt, interrupt_at=30)
    assert ckpt.exists()
    saved = torch.load(ckpt, weights_only=True)
    assert 20 <= saved["epoch"] < 30 and not torch.isnan(saved["monitor_state"]["first_below"]).all()
    resumed, first_resumed, calls = _checkpointed_run(data, ckpt)
    assert calls[0] > saved["epoch"]  # continued from the checkpoint, not from the start
    assert not ckpt.exists()  # removed once the run is complete
    for a, b in zip(whole.params, resumed.params):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(whole.status, resumed.status)
    np.testing.assert_array_equal(whole.stop_epoch, resumed.stop_epoch)
    assert whole.steps == resumed.steps
    assert torch.equal(first_whole.nan_to_num(-1), first_resumed.nan_to_num(-1))
    for k in whole.records:
        np.testing.assert_array_equal(whole.records[k], resumed.records[k], err_msg=k)


def test_checkpoint_of_another_run_is_ignored(data, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(Interrupt):
        _checkpointed_run(data, ckpt, interrupt_at=30, lr=0.04)
    whole, _, _ = _checkpointed_run(data, None)
    other, _, calls = _checkpointed_run(data, ckpt)
    assert calls[0] == 0  # lr 0.05: the lr-0.04 checkpoint must not be used
    for a, b in zip(whole.params, other.params):
        assert torch.equal(a, b)
