"""The batched engine against a plain one-replica torch reference."""
import numpy as np
import pytest
import torch
from scipy import stats

from grokrepro import engine, native
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


def test_minibatch_order_is_uniform_over_samples():
    """Chi-square: over 4000 seeds, every position of an epoch's order holds each sample equally often."""
    for n in (16, 100):
        perm = engine.epoch_permutations(np.arange(4000), 5, n).numpy()
        for pos in range(n):
            counts = np.bincount(perm[:, pos], minlength=n)
            assert stats.chisquare(counts).pvalue > 1e-4, (n, pos)


def _joint_pvalue(a, b, n):
    """Chi-square p-value of independence of two uniform sample indices (a, b) in [0, n)."""
    return stats.chisquare(np.bincount(a * n + b, minlength=n * n)).pvalue


def test_minibatch_orders_are_independent_across_seeds_and_epochs():
    n, seeds = 16, np.arange(0, 8000, 2)
    first = lambda s, e: engine.epoch_permutations(s, e, n).numpy()[:, :2]  # noqa: E731
    a = first(seeds, 0)
    for other in (first(seeds + 1, 0), first(seeds ^ 1024, 0), first(seeds, 1)):  # neighbour seed, one bit, next epoch
        for i in range(2):
            assert _joint_pvalue(a[:, i], other[:, i], n) > 1e-4
    # within one order: the second sample is uniform over the n - 1 others
    assert stats.chisquare(np.bincount((a[:, 1] - a[:, 0]) % n, minlength=n)[1:]).pvalue > 1e-4


def test_a_replicas_order_is_the_same_alone_or_in_any_batch():
    seeds = np.array([7, 123456789, 3, 2**40 + 5, 42])
    together = minibatch_indices(seeds, 11, 300, 32)
    for r, s in enumerate(seeds):
        assert torch.equal(together[:, r], minibatch_indices(seeds[[r]], 11, 300, 32)[:, 0])
        assert torch.equal(together[:, r], minibatch_indices(np.array([1, s, 2]), 11, 300, 32)[:, 1])


def _reference_order(seed, epoch, n):
    """The definition in plain Python integers: SplitMix64 stream key, lowbias32 sample hashes, sort."""
    m64, m32 = 2**64 - 1, 2**32 - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        return z ^ (z >> 31)

    key = mix((seed * 0x9E3779B97F4A7C15 + epoch * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & m64)
    b = (n - 1).bit_length()
    hashes = []
    for i in range(n):
        x = (((i + 1) * 0x9E3779B9 + (key & m32)) & m32) ^ (key >> 32)
        x ^= x >> 16
        x = (x * 0x7FEB352D) & m32
        x ^= x >> 15
        x = (x * 0x846CA68B) & m32
        hashes.append(x ^ (x >> 16))
    return sorted(range(n), key=lambda i: (hashes[i] >> (b + 1), i))


def test_minibatch_order_matches_its_definition_on_every_code_path():
    seeds = np.array([0, 1, 42, 2**50 + 3])
    perm = engine.epoch_permutations(seeds, 9, 300)
    for r, s in enumerate(seeds):
        assert perm[r].tolist() == _reference_order(int(s), 9, 300)
    keys = engine.stream_keys(seeds, 9)
    cpu = torch.device("cpu")
    for n in (300, 5000):  # int32 and int64 packing: NumPy, the torch code (used on GPUs), the C kernel
        with native.disabled():
            by_numpy, _ = engine._packed_keys(keys, n, cpu)
        assert np.array_equal(engine._packed_keys_torch(torch.as_tensor(keys.view(np.int64)), n).numpy(), by_numpy)
        assert np.array_equal(engine._packed_keys(keys, n, cpu)[0], by_numpy)
    if native.library() is not None:
        with native.disabled():
            by_numpy, _ = engine._packed_keys(keys, 300, cpu)
        assert np.array_equal(native.packed_keys(keys, 300), by_numpy)
    # several epochs at once (the training loop's blocks): the epochs one by one
    one_by_one = torch.cat([engine.minibatch_indices(seeds, e, 300, 32) for e in (4, 5, 6)])
    block = engine.minibatch_indices(seeds, 4, 300, 32, epochs=3)
    assert block.is_contiguous() and torch.equal(block, one_by_one)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")
def test_minibatch_orders_on_cuda_equal_cpu():
    seeds = np.arange(64) + 42
    for n in (512, 5000):
        assert torch.equal(engine.epoch_permutations(seeds, 3, n, "cuda").cpu(), engine.epoch_permutations(seeds, 3, n))


def _many_replicas_against_reference(data, compile):
    """40 replicas (the replicas-last step) with their own lr/wd; replicas 0, 17, 39 against the torch loop."""
    model = DeepLinear((2, 10, 10, 2))
    seeds = np.arange(40) + 100
    lrs, wds = np.linspace(0.02, 0.1, 40), np.linspace(0.0, 0.3, 40)
    params = model.init(seeds, 10 ** -0.5)
    res = train(model, params, data, lrs, wds, 64, seeds, max_epochs=4, compile=compile)
    for r in (0, 17, 39):
        ref, _ = deep_linear_reference([p[r] for p in params], data.x_train, data.y_train, lrs[r], wds[r],
                                       reference_batches(int(seeds[r]), 4, 512, 64))
        for a, b in zip(ref, res.params):
            assert ((a - b[r]).norm() / a.norm()).item() < 1e-10, r
    return res


@pytest.fixture
def torch_forms(monkeypatch):
    """Runs as on a machine without a C compiler: the engine's torch forms, not the C kernel."""
    monkeypatch.setattr(native, "library", lambda: None)


needs_kernel = pytest.mark.skipif(native.library() is None, reason="the C kernel cannot be built here")


@needs_kernel
def test_c_kernel_matches_reference(data):
    """The default form on a CPU: 40 replicas (two full chunks of 16 and a tail of 8)."""
    assert native.usable(DeepLinear((2, 10, 10, 2)).init([1], 0.1))
    _many_replicas_against_reference(data, compile=False)


@needs_kernel
@pytest.mark.parametrize("dims", [(2, 2), (2, 7, 3), (2, 5, 4, 6, 2)])
def test_c_kernel_equals_the_torch_forms_for_other_shapes(dims, monkeypatch):
    """Depth 1 to 4, odd widths, q ≠ p, minibatch and full batch, Langevin noise: the C kernel and
    the eager torch step agree to rounding."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(96, dims[0])))
    d = Data(x, x @ torch.as_tensor(rng.normal(size=(dims[0], dims[-1]))) + 0.1 * torch.as_tensor(
        rng.normal(size=(96, dims[-1]))))
    model, seeds = DeepLinear(dims), np.arange(19) + 3
    params = model.init(seeds, 0.4)
    runs = {}
    for form in ("c", "torch"):
        if form == "torch":
            monkeypatch.setattr(native, "library", lambda: None)
        runs[form] = [train(model, params, d, 0.05, 0.1, b, seeds, 6, temperature=t).params
                      for b, t in ((16, 0.0), (96, 0.0), (16, 1e-3))]
    for c, t in zip(runs["c"], runs["torch"]):
        for a, b in zip(c, t):
            assert ((a - b).norm() / b.norm()).item() < 1e-12


def test_replicas_last_step_matches_reference(data, torch_forms):
    assert engine.REPLICAS_LAST_MIN <= 40
    _many_replicas_against_reference(data, compile=False)


def test_compiled_step_matches_reference(data, torch_forms):
    res = _many_replicas_against_reference(data, compile=True)
    if engine._COMPILED.get(engine.deep_linear_epoch_replicas_last) is False:
        pytest.skip("torch.compile does not work here (the run fell back to eager, checked above)")
    assert res.status.tolist() == [engine.BUDGET] * 40


def test_a_failing_compiler_falls_back_to_eager(data, monkeypatch, capsys, torch_forms):
    def broken(fn, **kw):
        def call(*args):
            raise RuntimeError("no C compiler found")
        return call

    monkeypatch.setattr(engine, "_COMPILED", {})
    monkeypatch.setattr(torch, "compile", broken)
    model = DeepLinear((2, 6, 2))
    seeds = np.arange(40)
    params = model.init(seeds, 0.3)
    compiled = train(model, params, data, 0.05, 0.1, 64, seeds, max_epochs=3, compile=True)
    assert "torch.compile of deep_linear_epoch_replicas_last failed" in capsys.readouterr().err
    eager = train(model, params, data, 0.05, 0.1, 64, seeds, max_epochs=3, compile=False)
    for a, b in zip(compiled.params, eager.params):
        assert torch.equal(a, b)


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


def test_freed_memory_is_kept_for_reuse():
    """After ``keep_freed_memory`` (called by ``train``), temporaries of a few MB reuse freed pages:
    no page faults (glibc's default hands them back and faults ~1000 pages per 4 MB again)."""
    import resource
    if not engine.keep_freed_memory():
        pytest.skip("not glibc: the allocator cannot be told")

    def faults() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            block = [torch.ones(2**19, dtype=torch.float64) for _ in range(3)]  # 3 × 4 MB, freed together
            del block
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults()
    assert faults() < 100


def test_without_a_c_compiler_the_kernel_is_not_built_and_training_still_runs(data, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("GROKREPRO_NATIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_LIB", [])
    assert native.library() is None and "no C compiler" in capsys.readouterr().err
    model = DeepLinear((2, 6, 2))
    params = model.init([1, 2], 0.3)
    assert not native.usable(params)
    res = train(model, params, data, 0.05, 0.1, 64, [1, 2], max_epochs=2)
    assert res.status.tolist() == [engine.BUDGET] * 2 and not (tmp_path / "cache").exists()
