"""Shared fixtures: the tiny end-to-end run of the whole DAG, reused by the pipeline and Slurm tests."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/reference.py

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "config.yaml", "environment.yml", "workflow", "profiles", "src")


def snakemake(workdir: Path, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args, "--config", "preset=tiny"],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A scratch copy of the workflow after `snakemake --config preset=tiny` (the whole DAG).

    Snakemake's log of the run is kept in ``.local_run.stderr`` beside it.
    """
    work = tmp_path_factory.mktemp("pipeline")
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / name)
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (work / ".local_run.stderr").write_text(proc.stderr)
    return work
