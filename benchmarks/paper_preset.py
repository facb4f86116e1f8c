"""How long does the paper preset take here? Measure each training job, or extrapolate it.

Runs the paper preset's training jobs one at a time in a scratch copy of the workflow
(``snakemake --config preset=paper <output>``), each under a wall-clock cap. A job that finishes
within the cap is *measured*. A job that does not is killed and *estimated* from its own log:
the engine's progress lines (``epoch e/E, ... <= Ns left``, an upper bound since finished
replicas stop costing compute), Study C's (``step t/T ... <= Ns left``) or, for Study A's β
sweeps, the fraction of the β grid done. Jobs whose inputs could not be built within their cap
are reported as not reached. Prints one line per job and a total per study.

    python benchmarks/paper_preset.py --cap 120 --cores 2 [--only metastable_escape ...]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ("metastable_sweep", "metastable_trap", "metastable_escape", "metastable_arrhenius_run",
            "dichotomy_train", "ridge_")
ETA = re.compile(r"<= (\d+)s left")
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


def sweep_fraction(log: str, beta_max: float, beta_step: float) -> float | None:
    done = SWEEP.findall(log)
    return len(done) / (round(beta_max / beta_step) + 1) if done else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, default=120.0, help="seconds per job before it is extrapolated")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=(), help="rule name prefixes to time (default: all)")
    ap.add_argument("--keep", help="scratch folder to use and keep (default: a temporary one)")
    args = ap.parse_args()

    from grokrepro.config import resolve

    import yaml

    cfg = resolve({**yaml.safe_load((ROOT / "config.yaml").read_text()), "preset": "paper"},
                  ROOT / "workflow" / "schemas")
    sweep = cfg["metastable"]["sweep"]
    work = Path(args.keep or tempfile.mkdtemp(prefix="paper-preset-"))
    work.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "environment.yml", "workflow", "profiles", "src"):
        src, dst = ROOT / name, work / name
        if not dst.exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    totals: dict[str, float] = {}
    for rule, out, log in planned_jobs(work):
        if args.only and not rule.startswith(tuple(args.only)):
            continue
        if (work / out).exists():
            print(f"{rule:32s} {out:55s} already built (earlier run in --keep folder)", flush=True)
            continue
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", str(args.cores), out,
                                 "--config", "preset=paper"], cwd=work, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=args.cap)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-g", str(proc.pid)])
            proc.wait()
            subprocess.run([sys.executable, "-m", "snakemake", "--unlock", "--config", "preset=paper"], cwd=work,
                           capture_output=True)
        elapsed = time.time() - t0
        text = (work / log).read_text() if (work / log).exists() else ""
        if proc.returncode == 0 and (work / out).exists():
            est, how = elapsed, "measured"
        elif ETA.search(text):
            est, how = elapsed + float(ETA.findall(text)[-1]), "estimated (progress line: upper bound)"
        elif rule == "metastable_sweep" and sweep_fraction(text, sweep["beta_max"], sweep["beta_step"]):
            est, how = elapsed / sweep_fraction(text, sweep["beta_max"], sweep["beta_step"]), "estimated (β grid done)"
        else:
            est, how = None, "not reached / no progress line within the cap"
        study = rule.split("_")[0]
        if est is not None:
            totals[study] = totals.get(study, 0.0) + est
        shown = "-" if est is None else f"{est / 60:9.1f} min"
        print(f"{rule:32s} {out:55s} {shown:>14s}  {how}", flush=True)
    for study, secs in totals.items():
        print(f"TOTAL {study}: {secs / 3600:.2f} h of training jobs (sum, {args.cores} cores, one job at a time)")
    print(f"scratch folder: {work}")


if __name__ == "__main__":
    main()
