"""Config loading: preset resolution and JSON-schema validation.

``config.yaml`` holds, per study, the default preset's values plus a ``presets`` block whose
entries (``paper``, ``tiny``, ...) override some of them. :func:`resolve` merges the chosen
preset into every study and validates the result against ``workflow/schemas/*.schema.yaml``;
any unknown key, wrong type or out-of-range value raises :class:`ConfigError` naming the key.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

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
    for name, sw in ms["arrhenius"]["sweeps"].items():
        where = f"metastable.arrhenius.sweeps.{name}"
        point = ms["escape"]["points"].get(sw["point"])
        if point is None:
            errors.append(f"{where}.point: {sw['point']!r} is not a key of metastable.escape.points")
        elif sw["start"] not in point["starts"]:
            errors.append(f"{where}.start: {sw['start']!r} is not among metastable.escape.points.{sw['point']}.starts")
    return errors


STUDY_CHECKS = {"metastable": _check_metastable}


def resolve(config: Mapping[str, Any], schema_dir: str | Path) -> dict:
    """Return the resolved config (preset merged into every study), or raise ConfigError."""
    schema_dir = Path(schema_dir)
    errors = validate_section(
        {k: v for k, v in config.items() if k not in STUDIES}, _load_schema(schema_dir, "config"), ""
    )
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    preset = config["preset"]
    resolved = {k: copy.deepcopy(v) for k, v in config.items() if k not in STUDIES}
    known_presets = set()
    for study in STUDIES:
        if study not in config:
            continue
        section = dict(config[study])
        presets = section.pop("presets", {}) or {}
        if not isinstance(presets, Mapping):
            raise ConfigError(f"invalid config:\n  {study}.presets: must be a mapping of preset name to overrides")
        known_presets.update(presets)
        merged = deep_merge(section, presets.get(preset, {}))
        study_errors = validate_section(merged, _load_schema(schema_dir, study), study)
        if not study_errors and study in STUDY_CHECKS:
            study_errors = STUDY_CHECKS[study](merged)
        errors += study_errors
        resolved[study] = merged
    if preset != "default" and preset not in known_presets:
        errors.insert(0, f"preset: unknown preset {preset!r} (known: default, {', '.join(sorted(known_presets))})")
    if errors:
        raise ConfigError("invalid config (preset %r):\n  " % preset + "\n  ".join(errors))
    return resolved


def results_dir(cfg: Mapping[str, Any]) -> str:
    """Where a run writes its results: the top-level ``results`` key. ``auto`` (the default) is
    ``results`` for the default preset and ``results/<preset>`` for any other, so running one
    preset never overwrites (or invalidates) another's outputs."""
    res = str(cfg.get("results", "auto"))
    if res == "auto":
        return "results" if cfg["preset"] == "default" else f"results/{cfg['preset']}"
    return res.rstrip("/")


def config_hash(obj: Any) -> str:
    """Stable short hash of a JSON-serialisable object (used in provenance records)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
