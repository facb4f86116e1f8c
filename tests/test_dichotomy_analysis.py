"""Study B data generators, transition detection, max-margin solvers, config presets."""
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from grokrepro.config import ConfigError, resolve
from grokrepro.dichotomy import analysis as A
from grokrepro.dichotomy import data as D

ROOT = Path(__file__).resolve().parents[1]


def test_generators():
    s = D.sparse_linear(20, 10, 5, 3, 0)
    assert s["x_train"].shape == (10, 20) and set(np.unique(s["x_train"])) == {-1.0, 1.0}
    assert np.all(s["y_train"] == np.sign(s["x_train"] @ s["w_star"]))
    m = D.modular_addition(5, 0.4, 0)
    assert m["x_train"].shape == (10, 10) and np.all(m["x_train"].sum(1) == 2)
    assert len(m["y_train"]) + len(m["y_test"]) == 25
    a = np.argmax(m["x_train"][:, :5], 1)
    b = np.argmax(m["x_train"][:, 5:], 1)
    assert np.all((a + b) % 5 == m["y_train"])
    c = D.matrix_completion(6, 0.5, 0)
    assert np.linalg.matrix_rank(c["target"]) == 1 and len(c["y_train"]) == 18
    g = D.large_margin(30, 8, 4, 25.0, 0)
    assert np.all(g["y_train"] * (g["x_train"] @ g["w_star"]) >= 12.5 - 1e-9)


def test_sparse_inputs_are_int8_drawn_in_blocks(monkeypatch):
    """Block-wise int8 draws give exactly the float ±1 data of one rng.choice call, and the
    accuracy cast a tile at a time equals the direct one."""
    d, n_train, n_test, k, seed = 50, 30, 40, 3, 7
    rng = np.random.default_rng(seed)  # the generator as it was before int8 storage
    w_star = np.zeros(d)
    w_star[:k] = rng.choice([-1.0, 1.0], size=k)
    x_ref = rng.choice([-1.0, 1.0], size=(n_train + n_test, d))
    monkeypatch.setattr(D, "BLOCK_ELEMENTS", 3 * d + 1)  # blocks of 3 rows
    assert len(D.row_blocks(n_train + n_test, d)) == 24
    s = D.sparse_linear(d, n_train, n_test, k, seed)
    assert s["x_train"].dtype == np.int8 and s["x_test"].dtype == np.int8
    np.testing.assert_array_equal(np.concatenate([s["x_train"], s["x_test"]]), x_ref)
    np.testing.assert_array_equal(s["y_test"], np.sign(x_ref[n_train:] @ w_star))
    w = np.random.default_rng(1).standard_normal(d)
    direct = np.mean((x_ref[n_train:] @ w) * s["y_test"] > 0)
    assert A.test_accuracy(w, s["x_test"], s["y_test"]) == direct
    monkeypatch.setattr(D, "TILE_ELEMENTS", 3 * 16)  # the cast in tiles of 3 rows × 16 columns
    monkeypatch.setattr(D, "TILE_COLS", 16)
    assert A.test_accuracy(w, s["x_test"], s["y_test"]) == direct


def test_transition_detection():
    steps = np.array([0, 1, 10, 100, 1000, 10000, 20000, 40000], float)
    test = np.array([0.5, 0.6, 0.6, 0.6, 0.6, 1.0, 1.0, 1.0])
    train = np.array([0.5, 1, 1, 1, 1, 1, 1, 1.0])
    fit = A.fit_step(steps, train, True)
    assert fit == 1
    tr = A.transition(steps, test, fit, tail=3)
    assert tr["plateau"] == 0.6 and tr["final"] == 1.0
    assert 1000 < tr["step"] < 10000
    assert math.isclose(tr["step"], math.exp(0.5 * (math.log(1000) + math.log(10000))))
    # misgrokking (falling) and no-transition cases
    tr = A.transition(steps, 1.6 - test, fit, tail=3)
    assert 1000 < tr["step"] < 10000
    assert math.isnan(A.transition(steps, np.full(8, 0.6), fit, tail=3, min_jump=0.05)["step"])
    assert A.predicted_step(math.e, 0.1, 0.01) == pytest.approx(1000)


def test_max_margin_solvers():
    arr = D.sparse_linear(60, 20, 200, 2, 1)
    x, y = arr["x_train"], arr["y_train"]
    w2, w1 = A.max_l2_margin(x, y), A.max_l1_margin(x, y)
    for w in (w2, w1):
        assert np.all(y * (x @ w) > 0)  # separates the training set
    # each maximises its own normalised margin over the other
    m = lambda w, q: np.min(y * (x @ w)) / np.linalg.norm(w, q)  # noqa: E731
    assert m(w2, 2) >= m(w1, 2) - 1e-6
    assert m(w1, 1) >= m(w2, 1) - 1e-6
    assert np.sum(np.abs(w1) > 1e-8) <= len(y)  # a vertex of the LP: at most n non-zeros


def _cfg(preset):
    c = yaml.safe_load((ROOT / "config.yaml").read_text())
    c["preset"] = preset
    return c


@pytest.mark.parametrize("preset", ["default", "paper", "tiny"])
def test_presets_validate(preset):
    resolve(_cfg(preset), ROOT / "workflow" / "schemas")


def test_schema_rejects_unknown_key_and_bad_value():
    c = _cfg("default")
    c["dichotomy"]["runs"]["fig1a"]["lr_typo"] = 1.0
    with pytest.raises(ConfigError, match="dichotomy.runs.fig1a.lr_typo"):
        resolve(c, ROOT / "workflow" / "schemas")
    c = _cfg("default")
    c["dichotomy"]["runs"]["fig3"]["lr"] = -1.0
    with pytest.raises(ConfigError, match="fig3.lr"):
        resolve(c, ROOT / "workflow" / "schemas")


def test_min_nuclear_norm_completion():
    """Against the closed form of a 2 x 2 matrix with one entry missing (‖X‖* = sqrt(‖X‖_F² + 2|det X|),
    minimised over the missing entry), exact recovery of a rank-1 matrix from enough entries, and
    the certificate: lower <= norm <= ‖M‖* (M is feasible), gap within tol."""
    from scipy.optimize import minimize_scalar

    a, b, c = 1.0, 0.3, -0.7
    res = A.min_nuclear_norm_completion((2, 2), np.array([[0, 0], [0, 1], [1, 0]]), [a, b, c], tol=1e-10)
    exact = minimize_scalar(lambda x: math.sqrt(a * a + b * b + c * c + x * x + 2 * abs(a * x - b * c)),
                            bounds=(-5, 5), method="bounded", options={"xatol": 1e-12})
    assert res["converged"] and res["lower"] <= res["norm"] <= res["lower"] * (1 + 1e-10)
    assert res["norm"] == pytest.approx(exact.fun, rel=1e-8)
    assert res["X"][1, 1] == pytest.approx(exact.x, abs=1e-4)
    m = D.rank1_matrix(12)
    rows, cols = np.nonzero(np.random.default_rng(0).random((12, 12)) < 0.7)
    res = A.min_nuclear_norm_completion(m.shape, np.stack([rows, cols], 1), m[rows, cols])
    assert res["converged"] and np.abs(res["X"] - m).max() < 1e-4
    sparse = D.matrix_completion(8, 0.3, 0)
    res = A.min_nuclear_norm_completion((8, 8), sparse["x_train"], sparse["y_train"])
    nuclear_m = np.linalg.svd(sparse["target"], compute_uv=False).sum()
    assert res["converged"] and res["lower"] <= res["norm"] < nuclear_m
    np.testing.assert_allclose(res["X"][sparse["x_train"][:, 0], sparse["x_train"][:, 1]], sparse["y_train"])
