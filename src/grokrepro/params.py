"""``python -m grokrepro params [study]``: every parameter, its value at the default, paper and tiny
presets and what it means (the ``description`` fields of ``workflow/schemas/*.schema.yaml``).

Keys are dotted paths into config.yaml (``metastable.seeds.count``); a group with a description of
its own (``metastable.sweep``) is printed as a heading before its keys. Values are the resolved
config of each preset, read from the files (config.yaml and workflow/presets/), not from any
command line.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from .config import STUDIES, resolve, schema_child, schema_node

PRESETS = ("default", "paper", "tiny")


def project_root(start: Path | None = None) -> Path:
    """The checkout: the working directory if it holds config.yaml and workflow/schemas, else the
    one this package sits in (src/grokrepro)."""
    here = Path.cwd() if start is None else Path(start)
    if (here / "config.yaml").is_file() and (here / "workflow" / "schemas").is_dir():
        return here
    return Path(__file__).resolve().parents[2]


def resolved_presets(root: Path) -> dict[str, dict]:
    base = yaml.safe_load((root / "config.yaml").read_text())
    return {p: resolve({**base, "preset": p}, root / "workflow" / "schemas") for p in PRESETS}


def walk(values: Mapping[str, Any], schema: Any, root: Mapping[str, Any], prefix: str) -> Iterator[tuple]:
    """(dotted key, schema node, is_group) of every group and leaf of ``values``, depth first."""
    for key, value in values.items():
        child = schema_node(schema_child(schema, root, key), root)
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            yield name, child, True
            yield from walk(value, child, root, name)
        else:
            yield name, child, False


def _lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return "-"
        node = node[part]
    return node


def _show(value: Any) -> str:
    return value if value == "-" else json.dumps(value)


def rows(root: Path, study: str | None = None) -> list[tuple[str, bool, dict, str]]:
    """(dotted key, is_group, {preset: value}, description) for a study's keys (None: every key,
    the top-level ones first)."""
    cfgs = resolved_presets(root)
    schema_dir = root / "workflow" / "schemas"
    sections = [(study, study)] if study else [(None, "config")] + [(s, s) for s in STUDIES]
    out = []
    for key, schema_name in sections:
        schema = yaml.safe_load((schema_dir / f"{schema_name}.schema.yaml").read_text())
        keys: dict[str, tuple] = {}
        for cfg in cfgs.values():  # the union over presets, in the default preset's order
            values = cfg[key] if key else {k: v for k, v in cfg.items() if k not in STUDIES}
            for name, node, group in walk(values, schema, schema, key or ""):
                keys.setdefault(name, (group, node.get("description", "")))
        if key:
            out.append((key, True, {}, schema.get("description", "")))
        out += [(name, group, {p: _lookup(c, name) for p, c in cfgs.items()}, text)
                for name, (group, text) in keys.items()]
    return out


def render(root: Path, study: str | None = None) -> str:
    lines = ["# key: default (paper, tiny)   -- set one: snakemake --config 'metastable={seeds: {count: 3}}'"]
    for name, group, values, text in rows(root, study):
        if group:
            lines.append(f"\n[{name}]")
            lines += textwrap.wrap(text, 100, initial_indent="  ", subsequent_indent="  ")
            continue
        shown = [_show(values[p]) for p in PRESETS]
        lines.append(f"{name}: {shown[0]}   (paper {shown[1]}, tiny {shown[2]})")
        lines += textwrap.wrap(text or "(no description)", 100, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def main(study: str | None = None) -> int:
    print(render(project_root(), study))
    return 0
