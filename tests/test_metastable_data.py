import numpy as np
import pytest

from grokrepro.metastable.data import DataSpec, generate, joint_covariance


def test_covariance_and_empirical_features():
    spec = DataSpec((0.9, 0.8), 2, 2, 200_000, 10, seed=1)
    d = generate(spec)
    z = np.hstack([d["x_train"], d["y_train"]])
    np.testing.assert_allclose(z.T @ z / len(z), joint_covariance(spec), atol=0.01)
    np.testing.assert_allclose(d["sv_train"], [0.9, 0.8], atol=0.01)
    np.testing.assert_allclose(d["s_train"], [1.0, 1.0], atol=0.01)


def test_more_dims_than_features_and_pool_subsampling():
    spec = DataSpec((0.7,), 4, 3, 25, 1000, n_pool=5000, seed=3)
    d = generate(spec)
    assert d["x_train"].shape == (25, 4) and d["y_train"].shape == (25, 3)
    assert d["x_test"].shape == (1000, 4)
    assert len(d["sv_train"]) == 3
    # the test set is drawn independently: no training row appears in it
    assert not (d["x_train"][:, None, :] == d["x_test"][None, :, :]).all(-1).any()


def test_invalid_specs_raise():
    with pytest.raises(ValueError):
        DataSpec((1.0,), 2, 2, 10, 10)
    with pytest.raises(ValueError):
        DataSpec((0.5, 0.4, 0.3), 2, 2, 10, 10)
    with pytest.raises(ValueError):
        DataSpec((0.5,), 2, 2, 10, 10, n_pool=5)


@pytest.mark.parametrize("features,dim_x,dim_y", [((0.9, 0.8), 2, 2), ((0.9, 0.8, 0.7, 0.6), 4, 4), ((0.7,), 3, 2)])
def test_exact_moments_are_exact(features, dim_x, dim_y):
    """Σ̂_xx = I, Σ̂_yx = diag(η) and Σ̂_yy = I to 1e-12, on the training and on the test set."""
    spec = DataSpec(features, dim_x, dim_y, 200, 100, seed=4, exact_moments=True)
    d = generate(spec)
    cross = np.zeros((dim_y, dim_x))
    cross[range(len(features)), range(len(features))] = features
    for split in ("train", "test"):
        x, y = d[f"x_{split}"], d[f"y_{split}"]
        n = len(x)
        np.testing.assert_allclose(x.T @ x / n, np.eye(dim_x), atol=1e-12, rtol=0)
        np.testing.assert_allclose(y.T @ x / n, cross, atol=1e-12, rtol=0)
        np.testing.assert_allclose(y.T @ y / n, np.eye(dim_y), atol=1e-12, rtol=0)
    np.testing.assert_allclose(d["sv_train"][: len(features)], features, atol=1e-12)
    np.testing.assert_allclose(d["s_train"], 1.0, atol=1e-12)
    # the rescaling keeps the sample close to the draw it started from (whitening, not a new draw)
    plain = generate(DataSpec(features, dim_x, dim_y, 200, 100, seed=4))
    assert np.corrcoef(plain["x_train"][:, 0], d["x_train"][:, 0])[0, 1] > 0.95


def test_exact_moments_need_enough_samples():
    with pytest.raises(ValueError, match="exact moments"):
        DataSpec((0.5,), 3, 3, 5, 100, exact_moments=True)
