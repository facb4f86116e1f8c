"""Progress a person can see: a job's io.log lines reach the terminal with the job's name, elapsed
time and share of the budget; its log ends with a one-line status."""
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grokrepro.io import save_npz, terminal_line
from grokrepro.provenance import status_line

ENGINE_LINE = "[escape a/b] epoch 250/1000, 3/8 replicas running, 1.2e+04 replica-steps/s, <= 30s left"


def test_terminal_line_names_the_job_and_the_share_of_the_budget():
    line = terminal_line(ENGINE_LINE, "metastable_escape point=a", 12.4)
    assert line == ("[metastable_escape point=a 12s] [escape a/b] epoch 250/1000 (25% of budget), "
                    "3/8 replicas running, 1.2e+04 replica-steps/s, <= 30s left")
    assert terminal_line("fit done", "fit", 0.2) == "[fit 0s] fit done"


def test_status_line_counts_replicas_and_says_diverged(tmp_path):
    ok, bad = tmp_path / "ok.npz", tmp_path / "bad.npz"
    save_npz(ok, {"status": np.array([1, 1, 3])}, {})
    save_npz(bad, {"status": np.array([1, 2])}, {})
    flags = tmp_path / "flags.npz"
    save_npz(flags, {"diverged": np.array([False, False])}, {})
    assert status_line([ok, tmp_path / "fig.png"], 12.34) == "done: 3 replicas (2 done, 1 budget), 2 outputs, 12.3 s"
    assert status_line([flags], 1.0) == "done: 2 replicas, 0 diverged, 1 outputs, 1.0 s"
    assert status_line([ok, bad], 1.0).startswith("diverged: 5 replicas (3 done, 1 diverged, 1 budget)")
    assert status_line([tmp_path / "fig.png"], 0.5) == "done: 1 outputs, 0.5 s"
    assert status_line([ok], 2.0, ValueError("no data")) == "failed: ValueError: no data, 2.0 s"


def fake_job(tmp_path, body: str):
    """Run ``body`` as a workflow script would (provenance.start with a log), stderr captured."""
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        from types import SimpleNamespace
        from grokrepro import provenance
        from grokrepro.io import log
        class Files(list):  # Snakemake's named lists, as far as provenance.start reads them
            def keys(self):
                return []
        smk = SimpleNamespace(rule="demo", log=[{str(tmp_path / 'job.log')!r}], output=Files(), input=Files(),
                              params={{}}, wildcards={{"k": "v"}})
        provenance.start(smk)
    """) + textwrap.dedent(body))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    return proc, (tmp_path / "job.log").read_text()


def test_a_job_shows_progress_and_ends_its_log_with_a_status(tmp_path):
    proc, logged = fake_job(tmp_path, f"log({ENGINE_LINE!r})\n")
    assert proc.returncode == 0, proc.stderr
    shown = proc.stderr.splitlines()
    assert re.match(r"\[demo k=v \d+s\] \[escape a/b\] epoch 250/1000 \(25% of budget\), 3/8", shown[0]), shown
    assert shown[-1].startswith("[demo k=v] done: 0 outputs, ")
    assert logged.splitlines()[0] == ENGINE_LINE and logged.splitlines()[-1].startswith("done: ")


def test_a_failing_job_says_so_last(tmp_path):
    proc, logged = fake_job(tmp_path, "raise RuntimeError('boom')\n")
    assert proc.returncode == 1
    assert "Traceback" in logged and logged.splitlines()[-1].startswith("failed: RuntimeError: boom, ")
    assert proc.stderr.splitlines()[-1].startswith("[demo k=v] failed: RuntimeError: boom")


@pytest.mark.pipeline
def test_every_job_of_the_tiny_run_says_how_it_ended(tiny_run):
    """Every job's log is non-empty and ends with its status line, which the terminal shows too."""
    logs = sorted((tiny_run / "results" / "tiny" / "logs").rglob("*.log"))
    assert len(logs) > 50
    for log in logs:
        assert re.match(r"(done|diverged): .*, [\d.]+ s$", log.read_text().splitlines()[-1]), log
    run = tiny_run / ".local_run.stderr"  # the run's terminal; later tests of the session add jobs
    of_the_run = [log for log in logs if log.stat().st_mtime <= run.stat().st_mtime]
    assert len(re.findall(r"^\[\w+[^\]]*\] (done|diverged): ", run.read_text(), flags=re.M)) == len(of_the_run)
