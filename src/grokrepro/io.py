"""Result files: atomic writes with provenance (config hash, seed, package versions).

Every ``.npz`` the pipeline writes carries a ``meta`` entry (a JSON string) so that a result
file can be traced to the exact parameters and software that produced it. Writes go to a
temporary file in the same folder and are renamed into place, so an interrupted job never
leaves a half-written output behind.
"""
from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config import config_hash


def versions() -> dict[str, str]:
    import matplotlib
    import torch

    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "matplotlib": matplotlib.__version__,
    }
    try:
        import grokrepro

        out["grokrepro"] = grokrepro.__version__
    except Exception:  # pragma: no cover
        pass
    return out


def result_meta(params: Mapping[str, Any] | None = None, **extra) -> dict:
    """Metadata record stored with a result: the params, their hash and the package versions."""
    params = dict(params or {})
    return {"config_hash": config_hash(params), "params": params, "versions": versions(), **extra}


def atomic_target(path: Path) -> Path:
    """Temporary sibling of ``path``; leftovers of an earlier, killed attempt are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def save_npz(path: str | Path, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Write ``arrays`` and ``meta`` (as JSON) to ``path`` atomically."""
    path = Path(path)
    tmp = atomic_target(path)
    with tmp.open("wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True, default=str)), **arrays)
    os.replace(tmp, path)


def load_npz(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    return arrays, meta


def save_json(path: str | Path, obj: Any) -> None:
    path = Path(path)
    tmp = atomic_target(path)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def checkpoint_path(output: str | Path, run_hash: str) -> Path:
    """Where the training job writing ``output`` keeps its checkpoint: a hidden sibling named by the
    hash of the job's parameters (so a changed config never resumes an old run); checkpoints of
    other parameters for the same output are removed."""
    output = Path(output)
    path = output.with_name(f".{output.name}.{run_hash}.ckpt")
    for stale in output.parent.glob(f".{output.name}.*.ckpt"):
        if stale != path:
            stale.unlink(missing_ok=True)
    for partial in output.parent.glob(f"..{output.name}.*.ckpt.*.tmp"):  # a save killed mid-write
        partial.unlink(missing_ok=True)
    return path


TERMINAL: dict = {}  # in a workflow job (set by provenance.start): {"stream", "job", "started"}
BUDGET = re.compile(r"(?:epoch|step|flow time) (\d[\d.e+-]*)/(\d[\d.e+-]*)")  # the training loops' progress


def terminal_line(msg: str, job: str, elapsed: float) -> str:
    """``msg`` as the terminal shows it: the job, its elapsed time, and the share of the budget
    when ``msg`` says ``epoch E/M`` (the engine's progress lines; also ``step``, ``flow time``)."""
    match = BUDGET.search(msg)
    try:
        share = f" ({100 * float(match[1]) / max(float(match[2]), 1e-300):.0f}% of budget)" if match else ""
    except ValueError:  # not numbers after all
        share = ""
    if share:
        msg = msg[:match.end()] + share + msg[match.end():]
    return f"[{job} {elapsed:.0f}s] {msg}"


def log(msg: str) -> None:
    """Progress line for rule logs (stderr is redirected to the rule's log file). In a workflow
    job it is also shown on the terminal Snakemake runs in, as :func:`terminal_line`."""
    print(msg, file=sys.stderr, flush=True)
    if TERMINAL and TERMINAL["stream"] is not sys.stderr:
        line = terminal_line(msg, TERMINAL["job"], time.time() - TERMINAL["started"])
        print(line, file=TERMINAL["stream"], flush=True)
