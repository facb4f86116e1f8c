"""Scorecard (every numbers-table row of every figure) and artifact archives with a manifest."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

from .io import atomic_target
from .numbers import COLUMNS, read_numbers

SCORE_COLUMNS = ("study", "figure") + COLUMNS


def scorecard(tables: list[str | Path]) -> tuple[list[dict], list[dict]]:
    """Rows of results/<study>/numbers/<fig>.csv tables, and a one-line summary per study."""
    rows = []
    for path in sorted(map(Path, tables)):
        study, fig = path.parts[-3], path.stem
        for r in read_numbers(path):
            rows.append({"study": study, "figure": fig, **r})
    summary = []
    for study in sorted({r["study"] for r in rows}):
        counts = Counter(r["verdict"] for r in rows if r["study"] == study)
        summary.append({"study": study, "rows": sum(counts.values()), "agrees": counts["agrees"],
                        "deviates": counts["deviates"], "n/a": counts["n/a"]})
    return rows, summary


def write_csv(path: str | Path, rows: list[dict], columns) -> None:
    path = Path(path)
    tmp = atomic_target(path)
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def environment_record() -> dict:
    try:
        import torch

        cuda = {"available": torch.cuda.is_available(), "version": torch.version.cuda}
        torch_version = torch.__version__
    except Exception:  # pragma: no cover
        cuda, torch_version = {}, None
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"])
    return {"python": sys.version, "platform": platform.platform(), "torch": torch_version, "cuda": cuda,
            "packages": packages}


def git_record(root: str | Path) -> dict:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            return ""

    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain"))}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_archive(out: str | Path, files: dict[str, str | Path], extra: dict[str, bytes]) -> None:
    """Write a .tar.gz of ``files`` (archive name → path) and ``extra`` (name → bytes) plus
    MANIFEST.sha256 (one ``<sha256>  <name>`` line per member)."""
    out = Path(out)
    members = {name: Path(p).read_bytes() for name, p in sorted(files.items())}
    members.update(extra)
    manifest = "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(members.items()))
    tmp = atomic_target(out)
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in sorted(members.items()) + [("MANIFEST.sha256", manifest.encode())]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)


def verify_archive(path: str | Path) -> list[str]:
    """Problems found (empty = the archive matches its manifest): missing, altered or extra files."""
    problems = []
    with tarfile.open(path, "r:gz") as tar:
        data = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    manifest = data.pop("MANIFEST.sha256", None)
    if manifest is None:
        return ["MANIFEST.sha256 is missing"]
    listed = {}
    for line in manifest.decode().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    for name, digest in listed.items():
        if name not in data:
            problems.append(f"missing: {name}")
        elif sha256(data[name]) != digest:
            problems.append(f"altered: {name}")
    problems += [f"not in manifest: {name}" for name in sorted(set(data) - set(listed))]
    return problems


def archive_extras(config: dict, root: str | Path) -> dict[str, bytes]:
    return {
        "config.resolved.json": json.dumps(config, indent=2, sort_keys=True, default=str).encode(),
        "environment.json": json.dumps(environment_record(), indent=2).encode(),
        "git.json": json.dumps({**git_record(root), "archived_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                               indent=2).encode(),
    }
