"""How long does the paper preset take here? Measure each training job's steady-state cost.

Runs the paper preset's training jobs one at a time in a scratch copy of the workflow
(``snakemake --config preset=paper <output>``), each under a wall-clock cap, and watches its log.
A job that finishes within the cap is *measured*. A job that does not is *estimated* from its
steady-state rate: its progress counter (the engine's ``epoch e/E``, Study C's ``step t/T``, Study
B's ``flow time t/T``, the β points of Study A's sweeps) is time-stamped as the lines arrive, the
rate is taken between the first line after ``--warmup`` seconds and the last one (the first ~90 s
of a job are dominated by dense early checks, so a rate from the start is far too slow), and the
estimate is the time to that last line plus the remaining counter over that rate. Later checks
are sparser still, so the estimate leans high, not low. A job that trains in several calls one
after the other is estimated from the call it is in at the cap. Jobs whose inputs could not be
built within their cap are reported as not reached. Prints a table per study (job, steps,
s/step, estimate, GPU-scale flag) and writes the rows to ``--costs`` (with the machine and date;
rows of jobs not timed this time are kept), which the Snakefile sums before a paper-preset run
(:mod:`grokrepro.costs`).

    python benchmarks/paper_preset.py --cap 150 --warmup 90 --cores 2 [--only PREFIX ...] [--exclude fig1a ...]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COSTS = ROOT / "benchmarks" / "paper_preset_costs.json"
TRAINING = ("metastable_sweep", "metastable_trap", "metastable_escape", "metastable_arrhenius_run",
            "dichotomy_train", "ridge_")
COUNTERS = ((re.compile(r"\] epoch (\d+)/(\d+)"), "epoch"), (re.compile(r"GD step (\d+)/(\d+)"), "step"),
            (re.compile(r"flow time ([0-9.e+-]+)/([0-9.e+-]+)"), "flow time"))
SWEEP = re.compile(r"\[sweep L=\d+\] beta up ([0-9.]+)")


def planned_jobs(work: Path) -> list[tuple[str, str, str]]:
    """(rule, first output, log) of every job of the paper preset, in Snakemake's dry-run order."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--config", "preset=paper"],
                          cwd=work, capture_output=True, text=True, check=True)
    jobs, rule, out = [], None, None
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule, out = m.group(1), None
        elif line.startswith("    output:") and rule:
            out = line.split(":", 1)[1].split(",")[0].strip()
        elif line.startswith("    log:") and rule and out:
            jobs.append((rule, out, line.split(":", 1)[1].split(",")[0].strip()))
            rule = None
    order = {name: i for i, name in enumerate(TRAINING)}
    train = [j for j in jobs if j[0].startswith(TRAINING)]
    return sorted(train, key=lambda j: next(order[p] for p in TRAINING if j[0].startswith(p)))


def counter(text: str, sweep_points: int) -> tuple[float, float, str] | None:
    """(done, total, unit) of the last progress line in a job's log text (None: no line yet)."""
    for pattern, unit in COUNTERS:
        found = pattern.findall(text)
        if found:
            done, total = found[-1]
            return float(done), float(total), unit
    done = SWEEP.findall(text)
    return (float(len(done)), float(sweep_points), "β point") if done else None


def watch(proc, log: Path, cap: float, sweep_points: int) -> list[tuple[float, float, float, str]]:
    """Wait for ``proc`` at most ``cap`` s; the (time, done, total, unit) of each new progress state."""
    t0, seen = time.time(), []
    while time.time() - t0 < cap and proc.poll() is None:
        time.sleep(0.5)
        c = counter(log.read_text(errors="replace"), sweep_points) if log.exists() else None
        if c and (not seen or seen[-1][1:] != c):
            seen.append((time.time() - t0, *c))
    return seen


def steady_estimate(seen, warmup: float) -> tuple[float, float] | None:
    """(s per counter unit, seconds to the end) from the progress states of the current call (same
    total, counter rising), between the first state after ``warmup`` s and the last."""
    if not seen:
        return None
    first = len(seen) - 1
    while first and seen[first - 1][2:] == seen[-1][2:] and seen[first - 1][1] <= seen[first][1]:
        first -= 1
    call = seen[first:]
    late = [s for s in call if s[0] >= warmup]
    a, b = (late[0], late[-1]) if len(late) >= 2 else (call[-2], call[-1]) if len(call) >= 2 else (None, None)
    if a is None or b[1] <= a[1]:
        return None
    per = (b[0] - a[0]) / (b[1] - a[1])
    return per, b[0] + (b[2] - b[1]) * per


def run_job(work: Path, rule: str, out: str, log: str, args, sweep_points: int) -> dict:
    """Run one job under the cap; its row: how, steps, unit, s/step, estimate."""
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", str(args.cores), out, "--rerun-incomplete",
                             "--config", "preset=paper"], cwd=work, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    seen = watch(proc, work / log, args.cap, sweep_points)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the job's own process group (start_new_session)
        proc.wait()
        subprocess.run([sys.executable, "-m", "snakemake", "--unlock", "--config", "preset=paper"], cwd=work,
                       capture_output=True)
    elapsed = time.time() - t0
    row = {"study": rule.split("_")[0], "rule": rule, "output": out, "steps": seen[-1][2] if seen else None,
           "unit": seen[-1][3] if seen else None, "s_per_step": None, "estimate_s": None}
    if proc.returncode == 0 and (work / out).exists():
        return {**row, "how": "measured", "estimate_s": elapsed,
                "s_per_step": elapsed / seen[-1][2] if seen and seen[-1][2] else None}
    est = steady_estimate(seen, args.warmup)
    if est is None:
        return {**row, "how": "not reached"}
    return {**row, "how": "estimated", "s_per_step": est[0], "estimate_s": est[1]}


def print_table(rows: list[dict], where: dict) -> None:
    from grokrepro.costs import GPU_SCALE_S, summary
    for study in dict.fromkeys(r["study"] for r in rows):
        print(f"\n{study}: | job | output | steps | s/step | time, one job alone | how |")
        for r in (r for r in rows if r["study"] == study):
            steps = "-" if r["steps"] is None else f"{r['steps']:.4g} {r['unit']}s"
            per = "-" if r["s_per_step"] is None else f"{r['s_per_step']:.3g}"
            est = "-" if r["estimate_s"] is None else f"{r['estimate_s'] / 60:.1f} min"
            flag = " GPU-scale" if (r["estimate_s"] or 0) > GPU_SCALE_S else ""
            print(f"| {r['rule']} | {r['output']} | {steps} | {per} | {est}{flag} | {r['how']} |", flush=True)
    print()
    print("\n".join(summary({"measured_on": where, "jobs": rows})))


def machine(cores: int) -> dict:
    return {"host": platform.node(), "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "cores_per_job": cores, "load": round(os.getloadavg()[0], 1),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, default=150.0, help="seconds per job before it is estimated")
    ap.add_argument("--warmup", type=float, default=90.0, help="seconds of a job left out of its steady-state rate")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=(), help="rule name prefixes to time (default: all)")
    ap.add_argument("--per-rule", type=int, default=0, help="time at most this many jobs of each rule (0: all)")
    ap.add_argument("--exclude", nargs="*", default=(), help="skip jobs whose output path contains one of these")
    ap.add_argument("--keep", help="scratch folder to use and keep (default: a temporary one)")
    ap.add_argument("--costs", default=str(COSTS), help="JSON file the rows are merged into")
    args = ap.parse_args()

    from grokrepro.config import resolve

    import yaml

    cfg = resolve({**yaml.safe_load((ROOT / "config.yaml").read_text()), "preset": "paper"},
                  ROOT / "workflow" / "schemas")
    sweep = cfg["metastable"]["sweep"]
    sweep_points = round(sweep["beta_max"] / sweep["beta_step"]) + 1
    work = Path(args.keep or tempfile.mkdtemp(prefix="paper-preset-"))
    work.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "environment.yml", "workflow", "profiles", "src", "benchmarks"):
        src, dst = ROOT / name, work / name
        if not dst.exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    rows, where, per_rule, planned = [], machine(args.cores), {}, planned_jobs(work)
    for rule, out, log in planned:
        per_rule[rule] = per_rule.get(rule, 0) + 1
        if (args.only and not rule.startswith(tuple(args.only))) or 0 < args.per_rule < per_rule[rule]:
            continue
        if any(part in out for part in args.exclude):
            continue
        rows.append({**run_job(work, rule, out, log, args, sweep_points), "date": where["date"]})
        r = rows[-1]
        shown = "-" if r["estimate_s"] is None else f"{r['estimate_s'] / 60:.1f} min"
        print(f"{rule:32s} {out:55s} {r['how']:12s} {shown}", flush=True)
    print_table(rows, where)
    path = Path(args.costs)
    old = {j["output"]: j for j in json.loads(path.read_text())["jobs"]} if path.exists() else {}
    old.update({r["output"]: r for r in rows})
    jobs = [old.get(out, {"study": rule.split("_")[0], "rule": rule, "output": out, "how": "not timed",
                          "estimate_s": None}) for rule, out, _ in planned]
    path.write_text(json.dumps({"measured_on": where, "jobs": jobs}, indent=1) + "\n")
    print(f"costs: {path}; scratch folder: {work}")


if __name__ == "__main__":
    main()
