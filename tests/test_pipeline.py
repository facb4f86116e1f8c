"""One tiny end-to-end run of the whole DAG (tiny preset) in a scratch copy of the workflow."""
import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from grokrepro.numbers import COLUMNS

from conftest import COPY, ROOT, snakemake

TINY = "results/tiny"  # where the tiny preset writes (config key results: auto)


@pytest.mark.pipeline
def test_every_figure_and_numbers_table_is_written(tiny_run):
    figures = sorted((tiny_run / TINY).glob("*/figures/*.png"))
    assert figures, "no figures were written"
    for png in figures:
        study, fig = png.parts[-3], png.stem
        assert png.stat().st_size > 5000 and png.with_suffix(".pdf").exists()
        table = tiny_run / TINY / study / "numbers" / f"{fig}.csv"
        rows = list(csv.DictReader(table.open()))
        assert tuple(rows[0].keys()) == COLUMNS and rows
        assert all(r["verdict"] in ("agrees", "deviates", "n/a") for r in rows)
    for fig in ("3", "4"):
        assert (tiny_run / TINY / "metastable" / "figures" / f"{fig}.pdf").exists()


@pytest.mark.pipeline
def test_every_figure_and_table_carries_provenance(tiny_run):
    """Beside each numbers table a record with the params' hash, the inputs' config hashes and
    seeds, the code's SHA-256 and the versions; the PNG and PDF carry the same hash."""
    from grokrepro.config import config_hash
    from grokrepro.provenance import read_png

    metas = sorted((tiny_run / TINY).glob("*/numbers/*.meta.json"))
    tables = sorted((tiny_run / TINY).glob("*/numbers/*.csv"))
    assert len(metas) == len(tables) > 10
    for meta_path in metas:
        meta = json.loads(meta_path.read_text())
        fig = meta_path.name.removesuffix(".meta.json")
        assert meta["rule"].startswith("fig_") and meta["config_hash"] == config_hash(meta["params"])
        assert {"torch", "numpy", "python"} <= set(meta["versions"])
        assert any(v.get("config_hash") and "seed" in json.dumps(v) for v in meta["inputs"].values()), meta_path
        assert meta["code"] and all(len(h) == 64 for h in meta["code"].values())
        study_dir = meta_path.parents[1]
        png = study_dir / "figures" / f"{fig}.png"
        assert f"{study_dir.name}/figures/{fig}.png" in " ".join(meta["outputs"])
        assert read_png(png)["config_hash"] == meta["config_hash"]
        assert meta["config_hash"].encode() in (study_dir / "figures" / f"{fig}.pdf").read_bytes()
    score_meta = json.loads((tiny_run / TINY / "scorecard.meta.json").read_text())
    assert score_meta["rule"] == "scorecard" and score_meta["versions"]["torch"]


@pytest.mark.pipeline
def test_nothing_reruns_when_nothing_changed(tiny_run):
    proc = snakemake(tiny_run, "-n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.pipeline
def test_scorecard_and_archive_verify(tiny_run):
    score = tiny_run / TINY / "scorecard.csv"
    assert score.exists()
    rows = list(csv.DictReader(score.open()))
    assert {"metastable", "dichotomy", "ridge"} <= {r["study"] for r in rows}
    proc = snakemake(tiny_run, "archive")
    assert proc.returncode == 0, proc.stderr[-3000:]
    archive = tiny_run / TINY / "archive" / "grokrepro-tiny.tar.gz"
    ok = subprocess.run([sys.executable, "-m", "grokrepro", "verify", str(archive)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    with tarfile.open(archive) as tar:  # members named inside the run's own results folder
        names = set(tar.getnames())
    assert {"results/scorecard.csv", "results/metastable/figures/3.png", "config.resolved.json"} <= names
    assert not any(n.startswith(("/", "results/tiny")) for n in names)


def scratch_copy(tmp_path_factory, name):
    work = tmp_path_factory.mktemp(name)
    for item in COPY:
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
    return work


@pytest.mark.pipeline
def test_same_config_gives_identical_numbers(tiny_run, tmp_path_factory):
    """Two runs of the tiny config on the same CPU: identical numbers tables, provenance records,
    PNGs and result arrays."""
    import numpy as np

    from grokrepro.io import load_npz

    again = scratch_copy(tmp_path_factory, "again")
    proc = snakemake(again, "fig_metastable_3", "fig_metastable_1b")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = [tiny_run / TINY / "metastable" / kind / f"{fig}{ext}" for fig in ("3", "1b")
             for kind, ext in (("numbers", ".csv"), ("numbers", ".meta.json"), ("figures", ".png"))]
    for a in first:
        b = again / a.relative_to(tiny_run)
        assert a.read_bytes() == b.read_bytes(), a
    for a in sorted((again / TINY / "metastable").rglob("*.npz")):
        a = tiny_run / a.relative_to(again)
        arrays_a, meta_a = load_npz(a)
        arrays_b, meta_b = load_npz(again / a.relative_to(tiny_run))
        assert meta_a == meta_b
        for key in arrays_a:
            np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=f"{a}:{key}")


@pytest.mark.pipeline
def test_killed_run_resumes_without_corrupt_files(tiny_run, tmp_path_factory):
    """SIGKILL snakemake while a training job runs, start again: the job continues from its
    checkpoint, finishes with the uninterrupted run's exact results, nothing half-written."""
    import os
    import signal
    import time

    import numpy as np

    from grokrepro.io import load_npz

    work = scratch_copy(tmp_path_factory, "killed")
    # checkpoint_minutes=0: save after every check, so the tiny jobs have a checkpoint to resume
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "fig_metastable_1a",
           "--config", "preset=tiny", "checkpoint_minutes=0"]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    escape = work / TINY / "metastable" / "escape"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(escape.rglob("*.ckpt")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_in = {p.name.split(".")[1] for p in escape.rglob("*.ckpt")}  # .<start>.npz.<hash>.ckpt
    assert killed_in
    # a killed Snakemake leaves its lock behind; the documented recovery is --unlock, then run again
    unlock = subprocess.run(cmd + ["--unlock"], cwd=work, capture_output=True, text=True, timeout=120)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    resumed = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    logs = " ".join(p.read_text() for p in (work / TINY / "logs" / "metastable" / "escape").rglob("*.log"))
    assert "resumed from checkpoint" in logs
    assert not list((work / TINY).rglob("*.tmp*")), "temporary files left behind"
    assert not list((work / TINY).rglob("*.ckpt")), "checkpoints left behind"
    for f in (work / TINY).rglob("*.npz"):
        load_npz(f)  # every result file is complete
    for f in sorted(escape.rglob("*.npz")):
        a, meta_a = load_npz(f)
        b, meta_b = load_npz(tiny_run / f.relative_to(work))
        assert meta_a == meta_b
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{f}:{key}")
    assert (work / TINY / "metastable" / "figures" / "1a.pdf").exists()


def planned_jobs(workdir: Path, *args) -> dict[str, int]:
    """Rule → job count of a dry run (parsed from Snakemake's job-stats table)."""
    proc = snakemake(workdir, "-n", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs, in_table = {}, False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.mark.pipeline
def test_editing_a_parameter_reruns_exactly_its_dependents(tiny_run, tmp_path):
    overlay = tmp_path / "sparse_beta.yaml"
    overlay.write_text("metastable:\n  escape:\n    points:\n      sparse:\n        beta: 0.003\n")
    jobs = planned_jobs(tiny_run, "--configfile", "config.yaml", str(overlay))
    assert jobs == {"metastable_escape": 1, "fig_metastable_1b": 1, "scorecard": 1, "all": 1}, jobs


@pytest.mark.pipeline
def test_editing_a_sweep_parameter_reruns_the_sweep_and_its_figures(tiny_run, tmp_path):
    overlay = tmp_path / "sweep_lr.yaml"
    overlay.write_text("metastable:\n  sweep:\n    lr: 0.05\n")
    jobs = planned_jobs(tiny_run, "--configfile", "config.yaml", str(overlay))
    assert jobs.pop("metastable_sweep") >= 1
    # the d-feature sweeps of fig_metastable_features run with the same sweep settings (one job per data set)
    assert jobs.pop("metastable_features_run") == 3  # tiny preset: exact, feat3, feat4_sampled
    assert jobs == {"fig_metastable_3": 1, "fig_metastable_4": 1, "fig_metastable_features": 1, "scorecard": 1,
                    "all": 1}, jobs


@pytest.mark.pipeline
def test_editing_a_figure_script_redraws_only_that_figure(tiny_run):
    script = tiny_run / "workflow" / "scripts" / "fig_metastable_3.py"
    original, stat = script.read_text(), script.stat()
    try:
        script.write_text(original + "\n# a cosmetic edit\n")
        jobs = planned_jobs(tiny_run)
    finally:
        script.write_text(original)
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert jobs == {"fig_metastable_3": 1, "scorecard": 1, "all": 1}, jobs


@pytest.mark.pipeline
def test_report_has_every_figure_with_its_parameters(tiny_run):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--report", f"{TINY}/report.html",
                           "--config", "preset=tiny"], cwd=tiny_run, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (tiny_run / TINY / "report.html").read_text()
    n_figures = len(list((tiny_run / TINY).glob("*/figures/*.png")))
    assert html.count("Made with preset") >= n_figures
    assert "tiny</tt>" in html
