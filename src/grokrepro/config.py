"""Config loading: presets, the user's values, type coercion and validation.

Where a value comes from, lowest precedence first:

1. ``config.yaml``: every parameter, per study, at the default preset;
2. ``workflow/presets/<preset>.yaml``: what a preset changes, per study (none for ``default``);
3. the user's values: whatever the config Snakemake delivers holds that differs from
   ``config.yaml`` (``--configfile`` files, a profile's configfile, ``--config``), plus every
   ``--config`` value (``explicit``), even one equal to config.yaml's.

Mappings merge key by key at every step; lists and other values replace. Values are then
coerced to the schema's types (Snakemake reads nested ``--config`` values as strings: ``"3"`` is
read as 3 where the schema says integer, ``"1e-3"`` as 0.001 where it says number, ``"true"`` as
True; a float with no fractional part, 2.0, becomes 2 where the schema says integer) and the
merged result is validated: the schemas (``workflow/schemas/*.schema.yaml``: unknown keys, types,
ranges), non-finite numbers anywhere, cross-key checks, the results folder. Every preset file is
validated too, merged over config.yaml, so a typo in a preset nobody runs today is still found.
Any problem raises :class:`ConfigError` naming the key.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

STUDIES = ("metastable", "dichotomy", "ridge")


class ConfigError(ValueError):
    """A config key or value is invalid; the message names every offending key."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict:
    """Recursively merge ``override`` into a copy of ``base`` (mappings merge, the rest replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def changed(config: Mapping[str, Any], base: Mapping[str, Any]) -> dict:
    """The parts of ``config`` that differ from ``base`` (mappings recurse; other values compare
    whole, type included, so ``"8"`` or ``8.0`` differs from ``8``)."""
    out = {}
    for key, value in config.items():
        old = base.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            if sub := changed(value, old):
                out[key] = sub
        elif key not in base or value != old or type(value) is not type(old):
            out[key] = copy.deepcopy(value)
    return out


def load_presets(preset_dir: str | Path) -> dict[str, Any]:
    """Preset name -> its per-study overrides, one ``<name>.yaml`` file each."""
    return {p.stem: yaml.safe_load(p.read_text()) or {} for p in sorted(Path(preset_dir).glob("*.yaml"))}


# --- schema navigation (local $refs only, as in this project's schemas)
def schema_node(schema: Any, root: Mapping[str, Any]) -> dict:
    """``schema`` with its ``$ref`` chain resolved (its own keys, e.g. a description, win)."""
    node = dict(schema or {})
    while "$ref" in node:
        target = root
        for part in node.pop("$ref").removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **node}
    return node


def schema_child(schema: Any, root: Mapping[str, Any], key: str) -> dict | None:
    """The schema of ``key`` inside an object schema (a named property, else additionalProperties)."""
    node = schema_node(schema, root)
    if key in node.get("properties", {}):
        return node["properties"][key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _read_scalar(text: str) -> Any:
    """A command-line string read as YAML reads a file value; also 1e-3, nan, inf (as floats)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return text
    return value


def coerce(value: Any, schema: Any, root: Mapping[str, Any] | None = None) -> Any:
    """``value`` with strings read as numbers / booleans / null where the schema wants no string,
    and integral floats turned into ints where it wants an integer but not a number."""
    root = schema if root is None else root
    node = schema_node(schema, root)
    if isinstance(value, Mapping):
        return {k: coerce(v, schema_child(node, root, k), root) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce(v, node.get("items"), root) for v in value]
    types = node.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    if isinstance(value, str) and types and "string" not in types:
        value = _read_scalar(value)
    if (isinstance(value, float) and value.is_integer() and "integer" in types and "number" not in types):
        return int(value)
    return value


# --- validation
def _path(prefix: str, error: jsonschema.ValidationError) -> str:
    parts = [prefix] + [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        # jsonschema reports the parent; name the unexpected key itself
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return ", ".join(".".join(p for p in parts + [k] if p) for k in extra)
    return ".".join(p for p in parts if p)


def _load_schema(schema_dir: Path, name: str) -> dict:
    return yaml.safe_load((schema_dir / f"{name}.schema.yaml").read_text())


def validate_section(section: Any, schema: dict, prefix: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for err in sorted(validator.iter_errors(section), key=lambda e: list(map(str, e.absolute_path))):
        where = _path(prefix, err) or prefix or "<config>"
        if err.validator == "additionalProperties":
            messages.append(f"unknown key {where} (not in the schema; misspelled?)")
        else:
            messages.append(f"{where}: {err.message}")
    return messages


def non_finite(value: Any, where: str) -> list[str]:
    """Every NaN or infinite number in ``value``, by dotted key (JSON schema's ranges let NaN pass)."""
    if isinstance(value, Mapping):
        return [e for k, v in value.items() for e in non_finite(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in non_finite(v, f"{where}.{i}")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}: {value} is not a finite number"]
    return []


def _check_metastable(ms: Mapping[str, Any]) -> list[str]:
    """Cross-key checks the schema cannot express."""
    errors = []
    datasets = ms["datasets"]
    if ms["sweep"]["dataset"] not in datasets:
        errors.append(f"metastable.sweep.dataset: {ms['sweep']['dataset']!r} is not a key of metastable.datasets")
    for name, point in ms["escape"]["points"].items():
        where = f"metastable.escape.points.{name}"
        if point["dataset"] not in datasets:
            errors.append(f"{where}.dataset: {point['dataset']!r} is not a key of metastable.datasets")
            continue
        k = min(datasets[point["dataset"]]["dim_x"], datasets[point["dataset"]]["dim_y"],
                len(datasets[point["dataset"]]["features"]))
        for start in point["starts"]:
            if start.startswith("rank") and int(start[4:]) > k:
                errors.append(f"{where}.starts: {start} needs {int(start[4:])} features, the data set has {k}")
            if start != "random" and ms["trap"]["method"] == "annealed" and start not in ms["trap"]["beta_init"]:
                errors.append(f"metastable.trap.beta_init.{start}: missing (needed by {where}.starts)")
    for where, name in [*(("metastable.features.datasets", n) for n in ms["features"]["datasets"]),
                        ("metastable.nonlinear.dataset", ms["nonlinear"]["dataset"])]:
        if name not in datasets:
            errors.append(f"{where}: {name!r} is not a key of metastable.datasets")
        elif where.endswith("nonlinear.dataset") and len(datasets[name]["features"]) < 2:
            errors.append(f"{where}: {name!r} has fewer than the 2 features a rank-1 trap needs")
    for name, sw in ms["arrhenius"]["sweeps"].items():
        where = f"metastable.arrhenius.sweeps.{name}"
        point = ms["escape"]["points"].get(sw["point"])
        if point is None:
            errors.append(f"{where}.point: {sw['point']!r} is not a key of metastable.escape.points")
        elif sw["start"] not in point["starts"]:
            errors.append(f"{where}.start: {sw['start']!r} is not among metastable.escape.points.{sw['point']}.starts")
    return errors


STUDY_CHECKS = {"metastable": _check_metastable}


def check_study(section: Any, schema: dict, study: str) -> tuple[Any, list[str]]:
    """(the study block coerced to its schema's types, every problem found in it)."""
    if isinstance(section, Mapping) and "presets" in section:
        return section, [f"{study}.presets: presets are files now, one per preset: workflow/presets/<name>.yaml"]
    section = coerce(section, schema)
    errors = validate_section(section, schema, study) + non_finite(section, study)
    if not errors and study in STUDY_CHECKS:
        errors = STUDY_CHECKS[study](section)
    return section, errors


def _preset_errors(presets: Mapping[str, Any], base: Mapping[str, Any], schemas: Mapping[str, dict]) -> list[str]:
    """Problems of every preset file merged over config.yaml (config.yaml's own are not repeated)."""
    own = {s: set(check_study(base.get(s, {}), schemas[s], s)[1]) for s in STUDIES}
    errors = []
    for name, preset in presets.items():
        where = f"workflow/presets/{name}.yaml"
        if not isinstance(preset, Mapping):
            errors.append(f"{where}: must map study names to their overrides")
            continue
        for study, overrides in preset.items():
            if study not in STUDIES or not isinstance(overrides, Mapping):
                errors.append(f"{where}: unknown key {study} (a preset holds per-study overrides: "
                              f"{', '.join(STUDIES)}, each a mapping)")
                continue
            merged = deep_merge(base.get(study, {}), overrides)
            errors += [f"{where}: {e}" for e in check_study(merged, schemas[study], study)[1] if e not in own[study]]
    return errors


def results_dir(cfg: Mapping[str, Any]) -> str:
    """Where a run writes its results: the top-level ``results`` key. ``auto`` (the default) is
    ``results`` for the default preset and ``results/<preset>`` for any other, so running one
    preset never overwrites (or invalidates) another's outputs."""
    res = str(cfg.get("results", "auto"))
    if res == "auto":
        return "results" if cfg["preset"] == "default" else f"results/{cfg['preset']}"
    return res.rstrip("/") or "/"


def _results_errors(cfg: Mapping[str, Any], checkout: Path) -> list[str]:
    """The results folder (relative to the working directory) may be neither the filesystem root
    nor the checkout nor any folder containing it: outputs would land among the project's files."""
    folder = Path(results_dir(cfg)).resolve()
    checkout = checkout.resolve()
    if folder == Path(folder.anchor):
        return [f"results: {cfg.get('results')!r} is the filesystem root; choose a folder of its own"]
    if folder == checkout or folder in checkout.parents:
        return [(f"results: {cfg.get('results')!r} ({folder}) is the project checkout or contains it ({checkout}); "
                 "choose a folder inside it (e.g. results/mine) or outside it")]
    return []


def _fail(title: str, errors: list[str]) -> None:
    if errors:
        raise ConfigError(f"{title}:\n  " + "\n  ".join(errors))


def resolve(config: Mapping[str, Any], schema_dir: str | Path, explicit: Mapping[str, Any] | None = None) -> dict:
    """The resolved config (config.yaml < preset < the user's values, coerced and validated), or
    ConfigError. ``config`` is what Snakemake delivers (config.yaml with the user's files and
    ``--config`` merged in); ``explicit`` the ``--config`` values alone
    (``workflow.config_settings.config``). config.yaml and the preset files are found beside
    ``schema_dir`` (``<checkout>/workflow/schemas``)."""
    schema_dir = Path(schema_dir)
    checkout = schema_dir.parent.parent
    schemas = {name: _load_schema(schema_dir, name) for name in ("config", *STUDIES)}
    top = coerce({k: v for k, v in config.items() if k not in STUDIES}, schemas["config"])
    blocks = {k: v for k, v in config.items() if k in STUDIES}  # their own schemas come below
    _fail("invalid config", validate_section({**top, **blocks}, schemas["config"], "") + non_finite(top, ""))
    presets = load_presets(schema_dir.parent / "presets")
    preset = top["preset"]
    if preset != "default" and preset not in presets:
        known = ", ".join(["default", *presets])
        _fail("invalid config", [f"preset: unknown preset {preset!r} (known: {known}; files in workflow/presets/)"])
    base = yaml.safe_load((checkout / "config.yaml").read_text())
    _fail("invalid preset file(s)", _preset_errors(presets, base, schemas))
    user = deep_merge(changed(config, base), explicit or {})
    resolved, errors = dict(top), []
    for study in STUDIES:
        if study in config:
            merged = deep_merge(deep_merge(config[study], presets.get(preset, {}).get(study, {})), user.get(study, {}))
            resolved[study], study_errors = check_study(merged, schemas[study], study)
            errors += study_errors
    _fail(f"invalid config (preset {preset!r})", errors + _results_errors(resolved, checkout))
    return resolved


def config_hash(obj: Any) -> str:
    """Stable short hash of a JSON-serialisable object (used in provenance records)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
