"""Provenance of the figures and tables a rule writes.

Every workflow script starts with :func:`start`: it sends stderr to the rule's log and builds the
rule's record — rule name, its params and their hash, the config hash and seeds of every ``.npz``
input (the training results carry their own record, see :mod:`grokrepro.io`), the SHA-256 of the
source files the rule depends on, and the package versions. Figures carry the record in their
metadata (PNG text chunk ``grokrepro``, PDF ``Subject``); a rule with a ``meta`` output also writes
it there as JSON, beside its numbers table. The record holds no time stamps or absolute paths, so
two runs of one config write identical files.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .config import config_hash
from . import io
from .io import checkpoint_path, save_json, versions

CURRENT: dict | None = None  # the running script's record (read by style.save)


def _plain(obj: Any) -> Any:
    """JSON-able copy of Snakemake params (Namedlists, numpy scalars, nested dicts)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def _npz_record(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        if "meta" not in z.files:
            return {}
        meta = json.loads(str(z["meta"]))
    return {k: meta[k] for k in ("config_hash", "seed", "seeds") if k in meta}


def record(rule: str, params: dict, inputs, outputs) -> dict:
    """The provenance record of one rule run (see the module docstring)."""
    params = _plain(params)
    ins, code = {}, {}
    for f in sorted({str(f) for f in inputs}):
        p = Path(f)
        if p.suffix == ".npz" and p.is_file():
            ins[f] = _npz_record(p)
        elif p.suffix == ".py" and p.is_file():
            code[f] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            ins[f] = {}
    return {"rule": rule, "config_hash": config_hash(params), "params": params, "inputs": ins, "code": code,
            "outputs": sorted(str(o) for o in outputs), "versions": versions()}


def replica_counts(outputs) -> tuple[str, bool]:
    """``256 replicas (250 done, 6 diverged)`` from the engine statuses in the ``status`` arrays of
    the ``.npz`` outputs, or ``16 replicas, 0 diverged`` from their ``diverged`` flags; and whether
    any replica diverged. Empty if no output has either."""
    codes, flags = [], []
    for f in outputs:
        if str(f).endswith(".npz") and Path(f).is_file():
            with np.load(f, allow_pickle=False) as z:
                if "status" in z.files:
                    codes += np.asarray(z["status"]).ravel().astype(int).tolist()
                elif "diverged" in z.files:
                    flags += np.asarray(z["diverged"]).ravel().astype(bool).tolist()
    parts = [f"{len(flags)} replicas, {sum(flags)} diverged"] if flags else []
    if codes:
        from .engine import DIVERGED, STATUS_NAMES  # torch: only for the jobs that trained something

        counts = ", ".join(f"{codes.count(c)} {STATUS_NAMES.get(c, c)}" for c in sorted(set(codes)))
        parts.insert(0, f"{len(codes)} replicas ({counts})")
    return "; ".join(parts), any(flags) or (bool(codes) and DIVERGED in codes)


def status_line(outputs, elapsed: float, error: BaseException | None = None) -> str:
    """The last line of a job's log: ``done: 256 replicas (256 done), 3 outputs, 12.3 s``;
    ``diverged: ...`` when a replica diverged; ``failed: <error>, 1.2 s`` when the script raised."""
    if error is not None:
        return f"failed: {type(error).__name__}: {error}, {elapsed:.1f} s"
    counts, diverged = replica_counts(outputs)
    word = "diverged" if diverged else "done"
    return f"{word}: {counts + ', ' if counts else ''}{len(outputs)} outputs, {elapsed:.1f} s"


def _announce(smk) -> None:
    """Show the job's io.log lines on the terminal too, and end its log (and the terminal) with its
    status line, whether the script returns or raises."""
    job = " ".join([smk.rule, *(f"{k}={v}" for k, v in smk.wildcards.items())])
    started, terminal, log_file = time.time(), sys.__stderr__, sys.stderr
    io.TERMINAL.update(stream=terminal, job=job, started=started)
    failure: list[BaseException] = []
    hook = sys.excepthook

    def on_error(kind, value, tb):
        failure.append(value)
        hook(kind, value, tb)

    def finish():
        line = status_line(list(smk.output), time.time() - started, failure[0] if failure else None)
        for stream in {id(log_file): log_file, id(terminal): terminal}.values():
            print(line if stream is log_file else f"[{job}] {line}", file=stream, flush=True)

    sys.excepthook = on_error
    atexit.register(finish)


def start(smk) -> dict:
    """Set up a workflow script: log to the rule's log file (its io.log lines are also shown on
    the terminal, and the log ends with a status line), build and publish its record."""
    global CURRENT
    if len(smk.log):
        sys.stderr = open(smk.log[0], "w")
        _announce(smk)
    CURRENT = record(smk.rule, dict(smk.params.items()), list(smk.input), list(smk.output))
    if "meta" in smk.output.keys():
        save_json(smk.output.meta, CURRENT)
    return CURRENT


def checkpoint(smk) -> dict:
    """Checkpoint arguments of a training job (see :func:`grokrepro.engine.train`): a file beside
    its first output, named by the hash of the job's params, saved every ``checkpoint_minutes``
    (top-level config key; not a param, so changing it reruns nothing)."""
    return {"checkpoint": checkpoint_path(smk.output[0], CURRENT["config_hash"]),
            "checkpoint_every": 60.0 * float(smk.config.get("checkpoint_minutes", 10))}


def figure_metadata(suffix: str) -> dict:
    """Matplotlib ``savefig`` metadata for a PDF or PNG: the current record, no time stamps."""
    meta: dict[str, Any] = {"CreationDate": None} if suffix == ".pdf" else {"Software": None}
    if CURRENT is not None:
        short = {k: CURRENT[k] for k in ("rule", "config_hash", "versions")}
        short["inputs"] = {k: v.get("config_hash") for k, v in CURRENT["inputs"].items() if v}
        meta["Subject" if suffix == ".pdf" else "grokrepro"] = json.dumps(short, sort_keys=True)
    return meta


def read_png(path: str | Path) -> dict:
    """The record embedded in a PNG written by :func:`grokrepro.style.save`."""
    from PIL import Image

    with Image.open(path) as im:
        return json.loads(im.text["grokrepro"])
