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
