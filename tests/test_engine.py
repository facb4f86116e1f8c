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


class Observed:
    """A model family seen through the engine's generic step: records, at every SGD step, the
    minibatch indices the engine drew and each replica's minibatch loss before the step."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y, self.orders, self.losses = model, x, y, [], []

    def batches(self, data, idx):
        return list(zip(self.model.batches(data, idx), idx))

    def grads(self, params, batch):
        moments, idx = batch
        pred = torch.matmul(self.x[idx], DeepLinear.end_to_end(params).transpose(1, 2))
        self.losses.append(0.5 * (pred - self.y[idx]).pow(2).sum(-1).mean(-1))
        self.orders.append(idx)
        return self.model.grads(params, moments)

    def metrics(self, params, data):
        return self.model.metrics(params, data)


@pytest.mark.parametrize("dims", [(2, 10, 10, 2), (2, 5, 2), (3, 4, 4, 4, 2)])
def test_engine_matches_reference_step_for_step(data, dims):
    """R replicas with their own seeds, lr and weight decay; 104 SGD steps; float64: the final
    parameters and the minibatch loss of every step agree with a one-network torch loop to rounding."""
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
    observed = Observed(model, x, y)
    seen = train(observed, params, d, lrs, wds, 64, seeds, max_epochs=epochs, check_every=5)
    assert res.steps == seen.steps == 104 * len(seeds)
    engine_losses = torch.stack(observed.losses)  # (104, R)
    for r in range(len(seeds)):
        ref, losses = deep_linear_reference([p[r] for p in params], x, y, lrs[r], wds[r],
                                            reference_batches(seeds[r], epochs, 512, 64))
        assert len(losses) == 104
        np.testing.assert_allclose(engine_losses[:, r].numpy(), losses, rtol=1e-10, atol=0)
        for a, b, c in zip(ref, res.params, seen.params):
            assert ((a - b[r]).norm() / a.norm()).item() < 1e-10, r
            assert ((a - c[r]).norm() / a.norm()).item() < 1e-10, r


def test_every_epoch_draws_a_new_minibatch_order(data):
    """The engine shuffles afresh each epoch: the same replica sees its samples in another order."""
    model = DeepLinear((2, 4, 2))
    seeds = [3, 4]
    observed = Observed(model, data.x_train, data.y_train)
    train(observed, model.init(seeds, 0.3), data, 0.01, 0.0, 64, seeds, max_epochs=3)
    steps = 512 // 64
    epochs = [torch.cat(observed.orders[e * steps:(e + 1) * steps], dim=1) for e in range(3)]  # (R, 512) each
    for r in range(len(seeds)):
        for e in range(3):
            assert sorted(epochs[e][r].tolist()) == list(range(512))  # each epoch visits every sample once
        assert not torch.equal(epochs[0][r], epochs[1][r])
        assert not torch.equal(epochs[1][r], epochs[2][r])


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


def test_deep_linear_divergence_with_a_huge_learning_rate_is_marked_not_raised(data):
    """lr = 1000: layers still finite while their product overflows; the job completes, those
    replicas are DIVERGED (no LinAlgError from an SVD of a non-finite map)."""
    model = DeepLinear((2, 10, 10, 10, 2))
    seeds = list(range(8))
    lr = np.array([0.01] + [1000.0] * 7)
    res = train(model, model.init(seeds, 0.3), data, lr, 0.0, 512, seeds, max_epochs=20,
                record_epochs=np.arange(21))
    assert res.status[0] == engine.BUDGET and (res.status[1:] == engine.DIVERGED).all()
    assert all(torch.isfinite(p).all() for p in res.params)
    assert np.isfinite(res.records["svals"][:, 0]).all() and np.isnan(res.records["svals"][-1, 1:]).all()


def test_metrics_of_an_overflowing_product_are_nan_not_an_error():
    model = DeepLinear((2, 3, 3, 2))
    small = [torch.full((1, o, i), 0.1, dtype=torch.float64) for i, o in zip(model.dims[:-1], model.dims[1:])]
    huge = [p.clone() for p in small]  # finite layers whose product is inf − inf = NaN in one column
    huge[0][0, 0, 0], huge[0][0, 1, 0], huge[1][0, 0, :2] = 1e200, -1e200, 1e200
    params = [torch.cat([a, b]) for a, b in zip(small, huge)]
    d = Data(torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64))
    mets = model.metrics(params, d)
    assert all(torch.isfinite(p).all() for p in params)
    assert torch.isfinite(mets["train_loss"][0]) and torch.isfinite(mets["svals"][0]).all()
    assert torch.isnan(mets["train_loss"][1]) and torch.isnan(mets["svals"][1]).all()


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
