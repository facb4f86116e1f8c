"""What a paper-preset run will cost: the job costs ``benchmarks/paper_preset.py`` measured, summed per study.

The costs file (``benchmarks/paper_preset_costs.json``) holds the machine and date it was measured
on and one row per training job: ``study``, ``rule``, ``output``, ``how`` (``measured``: the job
ran to its end; ``estimated``: its steady-state rate times its remaining steps; ``earlier
estimate``: carried over from an earlier measurement, with its ``source``; ``step-cost estimate``:
measured step and check costs times the job's steps and checks, with its ``source``; ``not reached``; ``not
timed``), ``steps`` and ``unit`` of its progress counter, ``s_per_step`` and ``estimate_s``
(seconds, one job alone). :func:`summary` turns it into the lines the Snakefile prints before a
paper-preset run.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

GPU_SCALE_S = 7 * 86400  # a job estimated above this on a CPU is flagged as GPU-scale
STUDIES = {"metastable": "A", "dichotomy": "B", "ridge": "C"}
HOW = {"estimated": "estimated from steady-state rates"}


def load(path) -> dict:
    return json.loads(Path(path).read_text())


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    if seconds < 365 * 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / (365.25 * 86400):.1f} years"


def summary(costs: dict) -> list[str]:
    """One line per study (its jobs' summed CPU time, how many were measured or estimated) and one
    per GPU-scale job, headed by where and when the costs were measured."""
    where = costs.get("measured_on", {})
    lines = [f"paper preset, CPU time per study (benchmarks/paper_preset.py on {where.get('host', '?')}, "
             f"{where.get('cores', '?')} cores, {where.get('date', '?')}; one job at a time):"]
    jobs = costs.get("jobs", [])
    for study in sorted({j["study"] for j in jobs}, key=lambda s: list(STUDIES).index(s) if s in STUDIES else 9):
        mine = [j for j in jobs if j["study"] == study]
        known = [j for j in mine if j.get("estimate_s") is not None]
        count = Counter(j["how"] for j in mine)
        gpu = [j for j in known if j["estimate_s"] > GPU_SCALE_S]
        total = sum(j["estimate_s"] for j in known if j["estimate_s"] <= GPU_SCALE_S)
        hows = ", ".join(f"{n} {HOW.get(how, how)}" for how, n in count.items())
        tail = f"; {len(gpu)} GPU-scale" if gpu else ""
        lines.append(f"  Study {STUDIES.get(study, study)} ({study}): {_duration(total)} for "
                     f"{len(known) - len(gpu)} jobs ({hows}){tail}")
        for j in gpu:
            lines.append(f"    GPU-scale: {j['rule']} {j['output']}: ≈ {_duration(j['estimate_s'])} on this CPU")
    return lines


def preset_notice(preset: str, root) -> list[str]:
    """The :func:`summary` lines for a paper-preset run, from ``<root>/benchmarks/paper_preset_costs.json``
    (none for another preset; one line saying so where the file is missing)."""
    if preset != "paper":
        return []
    path = Path(root) / "benchmarks" / "paper_preset_costs.json"
    if not path.exists():
        return [f"paper preset: no measured job costs ({path} is missing; benchmarks/paper_preset.py writes it)"]
    return summary(load(path))
