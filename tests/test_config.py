"""Config validation: a bad key or value stops the run before any job starts, naming the key."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grokrepro.config import ConfigError, deep_merge, resolve, results_dir

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"


@pytest.fixture(scope="module")
def base():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_config_is_valid_for_every_preset(base):
    presets = {"default"} | {p for study in ("metastable", "dichotomy", "ridge") if study in base
                             for p in base[study].get("presets", {})}
    for preset in presets:
        resolved = resolve({**base, "preset": preset}, SCHEMAS)
        assert "presets" not in resolved["metastable"]


def test_paper_preset_uses_the_papers_values(base):
    ms = resolve({**base, "preset": "paper"}, SCHEMAS)["metastable"]
    assert ms["datasets"]["dense"]["n_train"] == 512 and ms["datasets"]["dense"]["features"] == [0.9, 0.8]
    assert ms["model"] == {"depth": 3, "width": 10, "init_std": None}
    assert ms["seeds"] == {"first": 42, "count": 50}
    assert ms["sweep"]["beta_step"] == 0.01 and ms["sweep"]["lr"] == 0.08 and ms["sweep"]["batch_size"] == 64


def test_misspelled_key_is_named(base):
    bad = copy.deepcopy(base)
    bad["metastable"]["sweep"]["beta_stepp"] = 0.01
    with pytest.raises(ConfigError, match=r"unknown key metastable\.sweep\.beta_stepp"):
        resolve(bad, SCHEMAS)


def test_misspelled_key_inside_a_preset_is_named(base):
    bad = copy.deepcopy(base)
    bad["metastable"]["presets"]["paper"]["seeds"] = {"cout": 50}
    resolve(bad, SCHEMAS)  # default preset does not use it
    with pytest.raises(ConfigError, match=r"unknown key metastable\.seeds\.cout"):
        resolve({**bad, "preset": "paper"}, SCHEMAS)


@pytest.mark.parametrize("path,value,pattern", [
    (("sweep", "beta_max"), -0.3, r"metastable\.sweep\.beta_max: -0\.3 is less than or equal to the minimum of 0"),
    (("sweep", "lr"), "fast", r"metastable\.sweep\.lr: 'fast' is not of type 'number'"),
    (("datasets", "dense", "features"), [0.9, 1.2], r"metastable\.datasets\.dense\.features\.1"),
    (("model", "depth"), 0, r"metastable\.model\.depth"),
])
def test_bad_values_are_named(base, path, value, pattern):
    bad = copy.deepcopy(base)
    node = bad["metastable"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=pattern):
        resolve(bad, SCHEMAS)


def test_top_level_errors(base):
    with pytest.raises(ConfigError, match="unknown preset 'papr'"):
        resolve({**base, "preset": "papr"}, SCHEMAS)
    with pytest.raises(ConfigError, match=r"unknown key devcie"):
        resolve({**base, "devcie": "cpu"}, SCHEMAS)
    with pytest.raises(ConfigError, match=r"device: 'gpu' is not one of"):
        resolve({**base, "device": "gpu"}, SCHEMAS)


def test_each_preset_writes_to_its_own_results_folder():
    assert results_dir({"preset": "default"}) == "results"
    assert results_dir({"preset": "default", "results": "auto"}) == "results"
    assert results_dir({"preset": "paper", "results": "auto"}) == "results/paper"
    assert results_dir({"preset": "paper", "results": "scratch/run1/"}) == "scratch/run1"
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    with pytest.raises(ConfigError, match="results"):
        resolve({**cfg, "results": ""}, ROOT / "workflow" / "schemas")


def test_deep_merge_does_not_mutate():
    a = {"x": {"y": 1, "z": 2}}
    b = deep_merge(a, {"x": {"y": 5}})
    assert b == {"x": {"y": 5, "z": 2}} and a == {"x": {"y": 1, "z": 2}}


@pytest.mark.parametrize("override,name", [
    ({"metastable": {"sweep": {"beta_stepp": 0.01}}}, "metastable.sweep.beta_stepp"),
    ({"metastable": {"sweep": {"beta_max": -0.5}}}, "metastable.sweep.beta_max"),
])
def test_snakemake_stops_before_any_job(tmp_path, override, name):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(override))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(ROOT / "config.yaml"), str(cfg), "--directory", str(tmp_path),
         "-s", str(ROOT / "Snakefile"), "fig_metastable_3"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode != 0
    assert name in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()  # nothing ran
