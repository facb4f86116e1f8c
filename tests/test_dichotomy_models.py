"""The engine's Study B model families against plain torch references, step for step."""
import math

import numpy as np
import pytest
import torch

from grokrepro import engine
from grokrepro.dichotomy import data as D
from grokrepro.dichotomy import models as M
from reference_dichotomy import diagonal_reference, matrix_reference, relu_reference

STEPS = 100


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def _train(model, params, dat, lr, wd, seeds=None):
    r = params[0].shape[0]
    res = engine.train(model, params, dat, lr, wd, dat.x_train.shape[0], seeds if seeds is not None else np.zeros(r),
                       STEPS, check_every=STEPS)
    return res.params


def test_diagonal_matches_reference():
    arr = D.sparse_linear(40, 24, 10, 3, seed=1)
    dat = M.to_data(arr, "diagonal", "cpu", torch.float64)
    x, y = dat.x_train, dat.y_train
    for depth, loss in ((2, "logistic"), (3, "squared")):
        model = M.DiagonalNet(40, depth, loss)
        alphas, wds, lr = [4.0, 9.0], [0.01, 0.1], 0.05
        out = _train(model, model.init(alphas), dat, lr, np.array(wds))
        for r in range(2):
            ref, _ = diagonal_reference(x, y, alphas[r], depth, loss, lr, wds[r], STEPS)
            for p, q in zip(out, ref):
                assert _rel(p[r], q) < 1e-5


def test_diagonal_metrics_on_int8_test_set_equal_float(monkeypatch):
    arr = D.sparse_linear(40, 24, 50, 3, seed=1)
    monkeypatch.setattr(D, "TILE_ELEMENTS", 7 * 16)  # the test set cast in 8 × 3 tiles of 7 rows × 16 columns
    monkeypatch.setattr(D, "TILE_COLS", 16)
    dat = M.to_data(arr, "diagonal", "cpu", torch.float64)
    assert dat.x_test.dtype == torch.int8 and dat.x_train.dtype == torch.float64
    as_float = engine.Data(dat.x_train, dat.y_train, dat.x_test.double(), dat.y_test)
    model = M.DiagonalNet(40, 2, "logistic")
    params = [p + 0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0), dtype=p.dtype)
              for p in model.init([3.0, 5.0])]
    got, want = model.metrics(params, dat), model.metrics(params, as_float)
    for key in ("test_loss", "test_acc"):
        torch.testing.assert_close(got[key], want[key], rtol=1e-12, atol=0)


def _fresh_casts(w, x):
    """The int8 outputs as computed before tiles: each block of rows cast into a fresh buffer."""
    return torch.cat([w @ x[b].to(w.dtype).T for b in D.row_blocks(*x.shape)], -1)


def test_int8_outputs_in_tiles_equal_fresh_casts(monkeypatch):
    """The tiled cast (a reused buffer) against the old block-wise fresh casts: bit for bit when the
    test set fits in one tile; to 1e-12 of the largest output (float64; 1e-5 in float32) when it is
    split into row and column tiles; the numpy path (test_accuracy's margins) likewise."""
    x = torch.as_tensor(D.sparse_linear(50, 1, 70, 3, seed=2)["x_test"])
    w = torch.randn(3, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert x.dtype == torch.int8 and x.numel() < D.TILE_ELEMENTS
    assert torch.equal(M._outputs(w, x), _fresh_casts(w, x))
    monkeypatch.setattr(D, "TILE_ELEMENTS", 5 * 16)  # 14 row tiles × 4 column tiles (16, 16, 16, 2)
    monkeypatch.setattr(D, "TILE_COLS", 16)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        got, want = M._outputs(w.to(dtype), x), _fresh_casts(w.to(dtype), x)
        assert got.dtype == dtype
        torch.testing.assert_close(got, want, rtol=tol, atol=tol * float(want.abs().max()))
    buf, out = np.empty(D.TILE_ELEMENTS), np.empty((1, 70))
    got = D.cast_matmul(w[:1].numpy(), x.numpy(), buf, out)[0]
    np.testing.assert_allclose(got, x.numpy().astype(float) @ w[0].numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="no tile row"):
        D.cast_matmul(w.numpy(), x.numpy(), np.empty(8), np.empty((3, 70)))


def test_matrix_matches_reference():
    arr = D.matrix_completion(6, 0.5, seed=2)
    dat = M.to_data(arr, "matrix", "cpu", torch.float64)
    model = M.MatrixFactor(6)
    alphas, wds, lr = [1.5, 3.0], [0.01, 0.05], 0.02
    out = _train(model, model.init(alphas), dat, lr, np.array(wds))
    for r in range(2):
        ref, _ = matrix_reference(dat.x_train, dat.y_train, 6, alphas[r], lr, wds[r], STEPS)
        for p, q in zip(out, ref):
            assert _rel(p[r], q) < 1e-5


def _relu_case(normalised):
    arr = D.modular_addition(5, 0.6, seed=3)
    dat = M.to_data(arr, "relu", "cpu", torch.float64)
    base = M.ReLUNet(10, 8, 5, zero_second_layer=False)
    params = base.init([11, 12], [1.0, 2.0])
    params[1] += 0.1 * torch.randn_like(params[1], generator=torch.Generator().manual_seed(0))  # non-zero bias
    model = M.LossNormalised(base) if normalised else base
    wds = [0.0, 0.0] if normalised else [0.001, 0.01]
    lr = 0.05
    out = _train(model, params, dat, lr, np.array(wds), seeds=np.array([11, 12]))
    x = torch.as_tensor(arr["x_train"], dtype=torch.float64)
    y = torch.as_tensor(arr["y_train"]).long()
    for r in range(2):
        ref, _ = relu_reference(x, y, params[0][r], params[1][r, :, 0], params[2][r], lr, wds[r], STEPS, normalised)
        got = [out[0][r], out[1][r, :, 0], out[2][r]]
        for p, q in zip(got, ref):
            assert _rel(p, q) < 1e-5


def test_relu_matches_reference():
    _relu_case(False)


def test_normalised_gd_matches_reference():
    _relu_case(True)


def test_relu_zero_second_layer_and_scale():
    m = M.ReLUNet(6, 4, 3, zero_second_layer=True)
    p1 = m.init([0], [1.0])
    p10 = m.init([0], [10.0])
    assert torch.all(p1[2] == 0)
    assert torch.allclose(p10[0], 10 * p1[0])


def test_diagonal_init_norm_is_alpha():
    m = M.DiagonalNet(50, 2)
    u, v = m.init([7.0])
    assert abs(float(torch.sqrt(u.pow(2).sum() + v.pow(2).sum())) - 7.0) < 1e-12
    assert float(m.w([u, v]).abs().max()) == 0.0


def test_relu_cross_entropy_accurate_at_large_margins():
    """The loss stays accurate where log_softmax rounds it to 0, and the normalised-GD direction
    ∇L/L stays finite (and equal to grads/loss) where L is tiny or underflows."""
    arr = D.modular_addition(5, 0.6, seed=3)
    dat = M.to_data(arr, "relu", "cpu", torch.float64)
    m = M.ReLUNet(10, 8, 5)
    params = m.init([1], [1.0])
    batch = (dat.x_train, dat.y_train)
    for _ in range(300):  # fit the training set (margins > 0), then blow the logits up
        params = [p - 0.5 * g for p, g in zip(params, m.grads(params, batch))]
    f = m.forward(params, dat.x_train)[2]
    assert bool((f.argmax(-1) == dat.y_train).all())
    for c, finite_loss in ((30.0, True), (1e4, False)):
        big = [params[0], params[1], c * params[2]]
        loss, grads = m.loss_and_grads(big, batch)
        ng = m.normalised_grads(big, batch)
        assert all(bool(torch.isfinite(g).all()) for g in ng)
        if finite_loss:
            fc = (c * f[0]).tolist()
            exact = np.mean([math.log1p(sum(math.exp(v - row[y]) for j, v in enumerate(row) if j != y))
                             for row, y in zip(fc, dat.y_train.tolist())])
            assert abs(float(loss) - exact) <= 1e-9 * exact
            for g, h in zip(grads, ng):
                assert _rel(g / loss, h) < 1e-8
        else:
            assert float(loss) == 0.0 and float(sum(g.norm() for g in ng)) > 0
