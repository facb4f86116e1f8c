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


def test_exact_moments_are_exact():
    from grokrepro.metastable.data import exact_moments
    spec = DataSpec((0.9, 0.8), 3, 2, 64, 32, seed=5, exact_moments=True)
    d = generate(spec)
    x, y = d["x_train"], d["y_train"]
    n = len(x)
    np.testing.assert_allclose(x.T @ x / n, np.eye(3), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y.T @ y / n, np.eye(2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y.T @ x / n, [[0.9, 0, 0], [0, 0.8, 0]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(d["sv_train"][:2], [0.9, 0.8], rtol=0, atol=1e-12)
    plain = generate(DataSpec((0.9, 0.8), 3, 2, 64, 32, seed=5))
    assert abs(plain["sv_train"][0] - 0.9) > 1e-4  # the option does something
    np.testing.assert_array_equal(plain["x_test"], d["x_test"])  # the test set is untouched
    with pytest.raises(ValueError):
        DataSpec((0.9,), 3, 2, 4, 4, exact_moments=True)
    # a pure function of the sample: applying it twice changes nothing
    x2, y2 = exact_moments(x, y, (0.9, 0.8))
    np.testing.assert_allclose(x2, x, atol=1e-12)
    np.testing.assert_allclose(y2, y, atol=1e-12)
