"""One tiny end-to-end run of the whole DAG (tiny preset) in a scratch copy of the workflow."""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grokrepro.numbers import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "config.yaml", "workflow", "profiles", "src")


def snakemake(workdir: Path, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--config", "preset=tiny", *args],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("pipeline")
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


@pytest.mark.pipeline
def test_every_figure_and_numbers_table_is_written(tiny_run):
    figures = sorted((tiny_run / "results").glob("*/figures/*.png"))
    assert figures, "no figures were written"
    for png in figures:
        study, fig = png.parts[-3], png.stem
        assert png.stat().st_size > 5000 and png.with_suffix(".pdf").exists()
        table = tiny_run / "results" / study / "numbers" / f"{fig}.csv"
        rows = list(csv.DictReader(table.open()))
        assert tuple(rows[0].keys()) == COLUMNS and rows
        assert all(r["verdict"] in ("agrees", "deviates", "n/a") for r in rows)
    for fig in ("3", "4"):
        assert (tiny_run / "results" / "metastable" / "figures" / f"{fig}.pdf").exists()


@pytest.mark.pipeline
def test_nothing_reruns_when_nothing_changed(tiny_run):
    proc = snakemake(tiny_run, "-n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr
