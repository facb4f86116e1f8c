"""Config: presets, the user's values, coercion and validation. A bad key or value stops the run
before any job starts, naming the key."""
import copy
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from grokrepro.__main__ import main as cli
from grokrepro.config import STUDIES, ConfigError, deep_merge, resolve, results_dir, schema_node

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "workflow" / "schemas"
PRESETS = ("default", "paper", "tiny")


@pytest.fixture(scope="module")
def base():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def delivered(base, cli_values, preset=None):
    """The config as Snakemake delivers it for `--config <cli_values>`: config.yaml with the
    command-line values merged in (nested values are strings, as Snakemake's parser reads them)."""
    extra = {"preset": preset} if preset else {}
    return deep_merge(base, {**cli_values, **extra}), {**cli_values, **extra}


def scratch(tmp_path):
    """A copy of config.yaml, the schemas and the preset files, to break one of them."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    for sub in ("schemas", "presets"):
        shutil.copytree(ROOT / "workflow" / sub, tmp_path / "workflow" / sub)
    return tmp_path / "workflow" / "schemas"


@pytest.mark.parametrize("preset", PRESETS)
def test_resolved_config_is_unchanged_by_the_preset_files_move(base, preset):
    """The merged config every rule sees equals the one the starting commit (964d215, presets
    inside config.yaml) resolved. A deliberate parameter change updates tests/data/resolved_config.json."""
    snapshot = json.loads((ROOT / "tests" / "data" / "resolved_config.json").read_text())[preset]
    resolved = resolve({**base, "preset": preset}, SCHEMAS)
    assert json.dumps(resolved, sort_keys=True) == json.dumps(snapshot, sort_keys=True)


def test_config_yaml_holds_no_presets_and_each_preset_file_is_per_study(base):
    assert all("presets" not in base[s] for s in STUDIES)
    files = sorted(p.stem for p in (ROOT / "workflow" / "presets").glob("*.yaml"))
    assert files == ["paper", "tiny"]
    for name in files:
        assert set(yaml.safe_load((ROOT / "workflow" / "presets" / f"{name}.yaml").read_text())) <= set(STUDIES)


def test_paper_preset_uses_the_papers_values(base):
    ms = resolve({**base, "preset": "paper"}, SCHEMAS)["metastable"]
    assert ms["datasets"]["dense"]["n_train"] == 512 and ms["datasets"]["dense"]["features"] == [0.9, 0.8]
    assert ms["model"] == {"depth": 3, "width": 10, "init_std": None}
    assert ms["seeds"] == {"first": 42, "count": 50}
    assert ms["sweep"]["beta_step"] == 0.01 and ms["sweep"]["lr"] == 0.08 and ms["sweep"]["batch_size"] == 64


# --- values from the command line
def test_one_value_from_the_command_line_merges_into_the_defaults(base):
    cfg, explicit = delivered(base, {"metastable": {"seeds": {"count": "3"}}})
    ms = resolve(cfg, SCHEMAS, explicit=explicit)["metastable"]
    default = resolve(base, SCHEMAS)["metastable"]
    assert ms["seeds"] == {"first": 42, "count": 3} and type(ms["seeds"]["count"]) is int
    assert {k: v for k, v in ms.items() if k != "seeds"} == {k: v for k, v in default.items() if k != "seeds"}


def test_the_users_value_wins_over_the_preset(base):
    cfg, explicit = delivered(base, {"metastable": {"seeds": {"count": "3"}}}, preset="tiny")
    ms = resolve(cfg, SCHEMAS, explicit=explicit)["metastable"]
    tiny = resolve({**base, "preset": "tiny"}, SCHEMAS)["metastable"]
    assert ms["seeds"]["count"] == 3 and tiny["seeds"]["count"] == 2
    assert {k: v for k, v in ms.items() if k != "seeds"} == {k: v for k, v in tiny.items() if k != "seeds"}
    # a --config value wins even where it equals config.yaml's (tiny drops the trivial start)
    starts = ["random", "rank1", "trivial"]
    cli_values = {"metastable": {"escape": {"points": {"paper": {"starts": starts}}}}}
    cfg, explicit = delivered(base, cli_values, preset="tiny")
    assert resolve(cfg, SCHEMAS, explicit=explicit)["metastable"]["escape"]["points"]["paper"]["starts"] == starts
    # a --configfile value equal to config.yaml's counts as unchanged: passing config.yaml itself
    # (or a copy) on the command line keeps the preset's values
    assert resolve(cfg, SCHEMAS)["metastable"]["escape"]["points"]["paper"]["starts"] == ["random", "rank1"]


def test_command_line_strings_are_read_as_the_schema_types(base):
    cli_values = {"metastable": {"sweep": {"lr": "1e-3", "depths": ["3"], "rel_tolerance": "1.0e-4"},
                                 "escape": {"stop_on_escape": "true"}, "model": {"init_std": "null"},
                                 "trap": {"method": "constructed"}},
                  "ridge": {"fig2": {"defaults": {"lam": "2e-4"}}}, "checkpoint_minutes": "5"}
    cfg, explicit = delivered(base, cli_values)
    r = resolve(cfg, SCHEMAS, explicit=explicit)
    ms = r["metastable"]
    assert ms["sweep"]["lr"] == 0.001 and ms["sweep"]["depths"] == [3] and ms["sweep"]["rel_tolerance"] == 1e-4
    assert ms["escape"]["stop_on_escape"] is True and ms["model"]["init_std"] is None
    assert ms["trap"]["method"] == "constructed" and r["ridge"]["fig2"]["defaults"]["lam"] == 2e-4
    assert r["checkpoint_minutes"] == 5


def test_validation_comes_after_the_merge(base):
    """Issue 17: `--config preset=tiny 'metastable={seeds: {count: 0}}'` was accepted, the preset
    replacing the user's value."""
    cfg, explicit = delivered(base, {"metastable": {"seeds": {"count": "0"}}}, preset="tiny")
    with pytest.raises(ConfigError, match=r"metastable\.seeds\.count: 0 is less than the minimum of 1"):
        resolve(cfg, SCHEMAS, explicit=explicit)


def test_integers_given_as_floats(base):
    """2.0 where the schema wants an integer is read as 2; 2.5 is refused by name."""
    cfg = deep_merge(base, {"metastable": {"seeds": {"count": 2.0}}, "ridge": {"fig2": {"seeds": 3.0}}})
    r = resolve(cfg, SCHEMAS)
    assert r["metastable"]["seeds"]["count"] == 2 and type(r["metastable"]["seeds"]["count"]) is int
    assert type(r["ridge"]["fig2"]["seeds"]) is int
    assert type(r["metastable"]["sweep"]["lr"]) is float  # numbers stay as they are
    for value in (2.5, "2.5"):
        with pytest.raises(ConfigError, match=r"metastable\.seeds\.count: 2\.5 is not of type 'integer'"):
            resolve(deep_merge(base, {"metastable": {"seeds": {"count": value}}}), SCHEMAS)


@pytest.mark.parametrize("override,name", [
    ({"checkpoint_minutes": math.nan}, "checkpoint_minutes"),
    ({"checkpoint_minutes": ".nan"}, "checkpoint_minutes"),
    ({"metastable": {"sweep": {"lr": math.inf}}}, r"metastable\.sweep\.lr"),
    ({"metastable": {"sweep": {"lr": math.nan}}}, r"metastable\.sweep\.lr"),
    ({"metastable": {"arrhenius": {"sweeps": {"paper": {"lrs": [1e-3, math.inf]}}}}},
     r"metastable\.arrhenius\.sweeps\.paper\.lrs\.1"),
    ({"dichotomy": {"runs": {"fig3": {"horizon": math.inf}}}}, r"dichotomy\.runs\.fig3\.horizon"),
    ({"ridge": {"fig2": {"defaults": {"nu2": "inf"}}}}, r"ridge\.fig2\.defaults\.nu2"),
])
def test_non_finite_numbers_are_refused(base, override, name):
    with pytest.raises(ConfigError, match=name + r": (nan|inf) is not a finite number"):
        resolve(deep_merge(base, override), SCHEMAS)


# --- keys and values
def test_misspelled_key_is_named(base):
    bad = copy.deepcopy(base)
    bad["metastable"]["sweep"]["beta_stepp"] = 0.01
    with pytest.raises(ConfigError, match=r"unknown key metastable\.sweep\.beta_stepp"):
        resolve(bad, SCHEMAS)


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
    with pytest.raises(ConfigError, match=r"metastable: 3 is not of type 'object'"):
        resolve({**base, "metastable": 3}, SCHEMAS)
    with pytest.raises(ConfigError, match=r"metastable\.presets: presets are files now"):
        resolve(deep_merge(base, {"metastable": {"presets": {"tiny": {}}}}), SCHEMAS)


# --- preset files: every one is checked, whichever preset runs
@pytest.mark.parametrize("preset_text,pattern", [
    ("metastable:\n  seeds: {cout: 2}\n", r"workflow/presets/tiny\.yaml: unknown key metastable\.seeds\.cout"),
    ("metastabel:\n  seeds: {count: 2}\n", r"workflow/presets/tiny\.yaml: unknown key metastabel"),
    ("metastable:\n  tyni:\n    seeds: {count: 2}\n", r"workflow/presets/tiny\.yaml: unknown key metastable\.tyni"),
    ("ridge:\n  fig2: {seeds: 0}\n", r"workflow/presets/tiny\.yaml: ridge\.fig2\.seeds: 0 is less than"),
    ("metastable:\n  sweep: {lr: .nan}\n", r"workflow/presets/tiny\.yaml: metastable\.sweep\.lr: nan is not a finite"),
])
@pytest.mark.parametrize("preset", ["default", "paper"])
def test_a_broken_preset_file_is_named_even_when_another_preset_runs(base, tmp_path, preset_text, pattern, preset):
    schemas = scratch(tmp_path)
    (schemas.parent / "presets" / "tiny.yaml").write_text(preset_text)
    with pytest.raises(ConfigError, match=pattern):
        resolve({**base, "preset": preset}, schemas)


def test_a_preset_is_a_file(base, tmp_path):
    schemas = scratch(tmp_path)
    (schemas.parent / "presets" / "mine.yaml").write_text("metastable:\n  seeds: {count: 4}\n")
    assert resolve({**base, "preset": "mine"}, schemas)["metastable"]["seeds"] == {"first": 42, "count": 4}
    with pytest.raises(ConfigError, match=r"unknown preset 'tyni' \(known: default, mine, paper, tiny"):
        resolve({**base, "preset": "tyni"}, schemas)


# --- results folder
def test_each_preset_writes_to_its_own_results_folder(base):
    assert results_dir({"preset": "default"}) == "results"
    assert results_dir({"preset": "default", "results": "auto"}) == "results"
    assert results_dir({"preset": "paper", "results": "auto"}) == "results/paper"
    assert results_dir({"preset": "paper", "results": "scratch/run1/"}) == "scratch/run1"
    with pytest.raises(ConfigError, match="results"):
        resolve({**base, "results": ""}, SCHEMAS)


@pytest.mark.parametrize("folder", ["/", "//", str(ROOT), str(ROOT) + "/", str(ROOT.parent), "results/../..", "."])
def test_results_may_not_be_the_root_or_hold_the_checkout(base, folder, monkeypatch):
    monkeypatch.chdir(ROOT)
    pattern = r"results: '.*' (is the filesystem root|.* is the project checkout or contains it)"
    with pytest.raises(ConfigError, match=pattern):
        resolve({**base, "results": folder}, SCHEMAS)


def test_results_elsewhere_is_fine(base, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for folder in ("results/mine", str(tmp_path / "run"), str(ROOT / "results")):
        resolve({**base, "results": folder}, SCHEMAS)


def test_deep_merge_does_not_mutate():
    a = {"x": {"y": 1, "z": 2}}
    b = deep_merge(a, {"x": {"y": 5}})
    assert b == {"x": {"y": 5, "z": 2}} and a == {"x": {"y": 1, "z": 2}}


# --- descriptions and `python -m grokrepro params`
def _undocumented(node, root, where):
    node, out = schema_node(node, root), []
    children = dict(node.get("properties", {}))
    if isinstance(node.get("additionalProperties"), dict):
        children["*"] = node["additionalProperties"]
    for key, child in children.items():
        if not schema_node(child, root).get("description"):
            out.append(f"{where}.{key}")
        out += _undocumented(child, root, f"{where}.{key}")
    return out


@pytest.mark.parametrize("name", ["config", *STUDIES])
def test_every_schema_key_has_a_description(name):
    schema = yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())
    assert _undocumented(schema, schema, name) == []


def _leaves(cfg, prefix):
    return [leaf for k, v in cfg.items()
            for leaf in (_leaves(v, f"{prefix}.{k}") if isinstance(v, dict) else [f"{prefix}.{k}"])]


def test_params_lists_every_study_a_key(base, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli(["params", "metastable"]) == 0
    out = capsys.readouterr().out.splitlines()
    default, paper, tiny = (resolve({**base, "preset": p}, SCHEMAS)["metastable"] for p in PRESETS)
    leaves = _leaves(default, "metastable")
    assert len(leaves) == 164 and "metastable.arrhenius.sweeps.paper.lrs" in leaves
    assert {x.split(": ")[0] for x in out if x.startswith("metastable.")} == set(leaves)
    for name in leaves:
        lines = [i for i, line in enumerate(out) if line.startswith(f"{name}: ")]
        assert len(lines) == 1, name
        assert out[lines[0] + 1].startswith("    ") and "no description" not in out[lines[0] + 1], name
    line = next(x for x in out if x.startswith("metastable.seeds.count: "))
    assert line.split() == ["metastable.seeds.count:", "8", "(paper", "50,", "tiny", "2)"]
    assert default["seeds"]["count"] == 8 and paper["seeds"]["count"] == 50 and tiny["seeds"]["count"] == 2
    assert not any(x.startswith(("dichotomy.", "ridge.")) for x in out)


def test_params_into_a_closed_pipe_exits_quietly():
    """`python -m grokrepro params | head` ends without a BrokenPipeError traceback: here the reader
    has gone before the first write (as `head` has gone after its lines), so every write fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "grokrepro", "params"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (0, "")
    piped = subprocess.run(f"{sys.executable} -m grokrepro params | head -n 2", shell=True, cwd=ROOT,
                           capture_output=True, text=True)
    assert len(piped.stdout.splitlines()) == 2 and piped.stderr == ""


# --- the same through Snakemake: the command line as a user types it
def _snakemake(cwd, *args):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", *args],
                          check=False, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("args,name", [
    (["{bad}"], "unknown key metastable.sweep.beta_stepp"),  # a second --configfile
    (["--config", "preset=tiny", "metastable={seeds: {count: 0}}"], "metastable.seeds.count: 0 is less than"),
    (["--config", "preset=tiny", "metastable={seeds: {count: 2.5}}"], "metastable.seeds.count: 2.5 is not of type"),
    (["--config", "results=/"], "results: '/' is the filesystem root"),
    (["--config", f"results={ROOT.parent}"], "is the project checkout or contains it"),
    (["--config", "checkpoint_minutes=.nan"], "checkpoint_minutes: nan is not a finite number"),
    (["--config", "metastable={sweep: {lr: .inf}}"], "metastable.sweep.lr: inf is not a finite number"),
])
def test_snakemake_stops_before_any_job(tmp_path, args, name):
    bad = tmp_path / "bad.yaml"
    bad.write_text("metastable:\n  sweep:\n    beta_stepp: 0.01\n")
    args = [str(bad) if a == "{bad}" else a for a in args]
    proc = _snakemake(ROOT, "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "fig_metastable_3",
                      "--configfile", str(ROOT / "config.yaml"), *args)
    assert proc.returncode != 0
    assert name in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()  # nothing ran


def test_snakemake_runs_with_one_value_from_the_command_line(tmp_path):
    """`--config preset=tiny 'metastable={seeds: {count: 3}}'`: the plan is accepted, and a job
    run with it (a random start, seconds) gets seeds 42, 43, 44 and tiny's other values."""
    for name in ("Snakefile", "config.yaml", "environment.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("workflow", "src", "profiles"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    config = ["--config", "preset=tiny", "metastable={seeds: {count: 3}}"]
    proc = _snakemake(tmp_path, "-n", "metastable", *config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    target = "results/tiny/metastable/traps/paper/random.npz"
    proc = _snakemake(tmp_path, target, *config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(tmp_path / target) as f:
        meta = json.loads(str(f["meta"]))
    assert meta["params"]["seeds"] == [42, 43, 44]
    assert meta["params"]["model"] == {"depth": 3, "width": 10, "init_std": None}
