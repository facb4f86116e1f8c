"""The Slurm profiles: consistent with the rules, and a real run of the whole tiny DAG through a
single-node Slurm cluster on localhost (tests/slurm/up.sh), compared with a local run.

The cluster test needs root and Debian's slurm-wlm + munge (up.sh installs them with apt-get);
where that is impossible it is skipped, with the reason. Every snakemake call is guarded by
`timeout -s KILL` (SIGTERM only makes snakemake wait for its running jobs).
"""
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "config.yaml", "environment.yml", "workflow", "profiles", "src")
SCRIPTS = ROOT / "tests" / "slurm"
PROFILES = {"cpu": ROOT / "profiles" / "slurm" / "config.yaml", "gpu": ROOT / "profiles" / "slurm-gpu" / "config.yaml"}
SLURM_LIMIT_S = 1200       # hang guard only: the same DAG as ~10 Slurm jobs, ~4-7 min


# ------------------------------------------------------------------------------ helpers
def load_profile(path: Path) -> dict:
    """A profile as Snakemake reads it (yte-rendered, key=value lists)."""
    from snakemake.profiles import ProfileConfigFileParser

    with open(path) as stream:
        return ProfileConfigFileParser().parse(stream)


def pairs(entries) -> dict:
    """['rule:key=value', ...] or ['key=value', ...] -> {'rule:key': 'value', ...}."""
    return dict(e.split("=", 1) for e in entries)


def rule_blocks() -> dict:
    """rule name -> its text, from the Snakefile and workflow/rules/**/*.smk; a rule defined in
    a loop over a study's run configs (`name: f"<prefix>_{_run}"`) once per run name in
    config.yaml or any preset file (workflow/presets/)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    presets = [yaml.safe_load(p.read_text()) or {} for p in sorted((ROOT / "workflow" / "presets").glob("*.yaml"))]
    blocks = {}
    for smk in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").rglob("*.smk"))]:
        parts = re.split(r"^\s*rule\s*(\w*):", smk.read_text(), flags=re.M)
        for name, text in zip(parts[1::2], parts[2::2]):
            if name:
                blocks[name] = text
            elif m := re.search(r'name:\s*f"(\w+?)_\{_run\}"', text):
                name = m.group(1).split("_")[0]
                runs = set(cfg[name]["runs"]).union(*(p.get(name, {}).get("runs", {}) for p in presets))
                blocks.update({f"{m.group(1)}_{run}": text for run in runs})
    return blocks


def scratch_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    shutil.rmtree(dest / "results", ignore_errors=True)
    return dest


def run(cmd, cwd, env, limit_s):
    """Run with a hard SIGKILL after limit_s seconds (GNU timeout kills the whole process group)."""
    proc = subprocess.run(["timeout", "-s", "KILL", str(limit_s), *map(str, cmd)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=limit_s + 30)
    if proc.returncode in (124, 137, -9):
        tail = (proc.stdout + proc.stderr)[-4000:]
        pytest.fail(f"{' '.join(map(str, cmd[:4]))} ... killed after {limit_s} s:\n{tail}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def base_env(workdir: Path) -> dict:
    """The test's environment for a snakemake run in `workdir`: grokrepro imported from the
    scratch copy (not from the editable install, which others may be editing), no Slurm
    variables inherited from an enclosing job."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(workdir / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def numeric_outputs(results: Path) -> list:
    """Every numbers table (results/**/numbers/*.csv) and every result array (*.npz)."""
    return sorted(p.relative_to(results) for p in results.rglob("*")
                  if p.suffix == ".npz" or (p.suffix == ".csv" and p.parent.name == "numbers"))


# ------------------------------------------------------------------------------ profiles (no cluster needed)
def test_profiles_cover_the_training_rules_and_name_only_existing_rules():
    blocks = rule_blocks()
    device_rules = {name for name, text in blocks.items() if re.search(r"^\s+device=", text, flags=re.M)}
    assert device_rules, "no rule passes config['device'] to its script any more?"
    for kind, path in PROFILES.items():
        prof = load_profile(path)
        assert prof["executor"] == "slurm" and prof["rerun-incomplete"] in ("True", "true", True)
        defaults = pairs(prof["default-resources"])
        assert {"mem_mb", "runtime", "cpus_per_task"} <= defaults.keys(), kind
        per_rule = pairs(prof["set-resources"])
        named = {key.split(":")[0] for key in per_rule} | set(pairs(prof.get("groups", [])))
        assert named <= blocks.keys(), f"{path}: rules that do not exist: {sorted(named - blocks.keys())}"
        missing = device_rules - {key.split(":")[0] for key in per_rule}
        assert not missing, f"{path}: training rules without set-resources: {sorted(missing)}"
        if kind == "gpu":
            assert all(per_rule.get(f"{r}:gpu") == "1" for r in device_rules), per_rule
            assert yaml.safe_load(Path(prof["configfile"]).read_text())["device"] == "cuda"
        else:
            assert not any(key.endswith((":gpu", ":gres")) for key in per_rule)
    # the GPU profile is the CPU one plus GPUs for the device rules: nothing else drifts apart
    cpu, gpu = (load_profile(path) for path in PROFILES.values())
    assert {k: v for k, v in gpu.items() if k not in ("set-resources", "configfile")} == \
        {k: v for k, v in cpu.items() if k != "set-resources"}
    cpu_rules, gpu_rules = pairs(cpu["set-resources"]), pairs(gpu["set-resources"])
    assert {k: v for k, v in gpu_rules.items() if k.split(":")[0] not in device_rules} == \
        {k: v for k, v in cpu_rules.items() if k.split(":")[0] not in device_rules}


def test_profiles_read_account_and_partition_from_the_environment(monkeypatch):
    for var in ("SLURM_ACCOUNT", "SLURM_PARTITION", "SLURM_GPU_PARTITION"):
        monkeypatch.delenv(var, raising=False)
    assert not {"slurm_account", "slurm_partition"} & pairs(load_profile(PROFILES["cpu"])["default-resources"]).keys()
    monkeypatch.setenv("SLURM_ACCOUNT", "proj1")
    monkeypatch.setenv("SLURM_PARTITION", "cpu")
    monkeypatch.setenv("SLURM_GPU_PARTITION", "gpu")
    defaults = pairs(load_profile(PROFILES["cpu"])["default-resources"])
    assert (defaults["slurm_account"], defaults["slurm_partition"]) == ("proj1", "cpu")
    gpu = load_profile(PROFILES["gpu"])
    assert pairs(gpu["set-resources"])["metastable_sweep:slurm_partition"] == "gpu"
    assert pairs(gpu["default-resources"])["slurm_partition"] == "cpu"


# ------------------------------------------------------------------------------ the cluster
@pytest.fixture(scope="module")
def slurm_cluster():
    """A single-node Slurm cluster on localhost with its state in a fresh temp dir; stopped
    (jobs cancelled, daemons killed by pid file, dir removed) afterwards."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("the Slurm executor plugin is not installed (pip install -e '.[test]' brings it)")
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root (slurmd, munged)")
    if not shutil.which("timeout"):
        pytest.skip("GNU timeout not found")
    # under /tmp, not pytest's 0700 tmp_path: munged (user munge) must reach its socket
    state = Path(tempfile.mkdtemp(prefix="grokrepro-slurm-", dir="/tmp"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLURM_")},
           "SLURM_TMP": str(state), "SLURMCTLD_PORT": str(free_port()), "SLURMD_PORT": str(free_port()),
           # declared node memory (nothing enforces it): the profile's real-cluster requests fit
           "REAL_MEMORY_MB": "65536"}
    pid_files = [state / "run" / "slurmctld.pid", state / "run" / "slurmd.pid", state / "munge" / "munged.pid"]
    try:
        up = subprocess.run(["timeout", "-s", "KILL", "600", "bash", SCRIPTS / "up.sh"], env=env,
                            capture_output=True, text=True)
        if up.returncode != 0:
            pytest.skip(f"could not install/start a local Slurm cluster (tests/slurm/up.sh exit "
                        f"{up.returncode}): {(up.stdout + up.stderr)[-1500:]}")
        yield {"SLURM_CONF": str(state / "etc" / "slurm.conf"),
               "PATH": f"{state / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    finally:
        pids = [pid for pid in map(alive, pid_files) if pid]
        subprocess.run(["timeout", "-s", "KILL", "120", "bash", SCRIPTS / "down.sh"], env={**env, "PURGE": "1"},
                       capture_output=True, text=True)
        left = [pid for pid in pids if _running(pid)]
        assert not left, f"Slurm/munge daemons still running after down.sh: {left}"
        assert not state.exists(), f"{state} not removed"


def _running(pid: int) -> bool:
    """True if pid exists and is not a zombie (PID 1 here may not reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.pipeline
def test_tiny_dag_through_slurm_matches_local_run(slurm_cluster, tiny_run, tmp_path):
    # 1. reference: the same tiny DAG run locally (the session's shared run, see conftest.py)
    local = tiny_run
    cluster = scratch_copy(tmp_path / "slurm")
    local_jobs = Counter(re.findall(r"^(?:local)?rule (\w+):", (local / ".local_run.stderr").read_text(), flags=re.M))

    # 2. the documented command, plus what only this localhost cluster needs:
    #    account/partition via the environment (read by the profile), squeue as status
    #    command (no accounting database), a short first status check, kept Slurm logs, and
    #    -- to fit 2 cores -- the training rules packed into one Slurm job per study (each
    #    Slurm job pays two Snakemake start-ups, ~10 CPU-seconds, which would dominate here).
    prof = load_profile(PROFILES["cpu"])
    groups = pairs(prof.get("groups", []))
    components = pairs(prof.get("group-components", []))
    for rule in {key.split(":")[0] for key in prof["set-resources"]} - groups.keys():
        groups[rule] = f"{rule.split('_')[0]}_training"
        components[groups[rule]] = "100"
    env = {**base_env(cluster), **slurm_cluster, "SLURM_ACCOUNT": "x", "SLURM_PARTITION": "debug"}
    proc = run([sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--config", "preset=tiny",
                "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                "--slurm-keep-successful-logs",
                "--groups", *[f"{r}={g}" for r, g in sorted(groups.items())],
                "--group-components", *[f"{g}={n}" for g, n in sorted(components.items())]],
               cluster, env, SLURM_LIMIT_S)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]

    # 3. the jobs went through Slurm: ids in snakemake's output, known to slurmctld as
    #    completed, one Slurm log each, and every job of the local run ran inside one of them
    job_ids = set(re.findall(r"submitted with SLURM jobid (\d+)", log))
    assert len(job_ids) >= 4, log[-4000:]
    squeue = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %T"], env=env,
                            capture_output=True, text=True, timeout=30)
    states = dict(line.split() for line in squeue.stdout.splitlines())
    assert all(states.get(i) == "COMPLETED" for i in job_ids), (job_ids, states)
    slurm_logs = {p.stem: p for p in (cluster / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert job_ids <= slurm_logs.keys(), (job_ids, sorted(slurm_logs))
    in_slurm = Counter(name for i in job_ids
                       for name in re.findall(r"^localrule (\w+):", slurm_logs[i].read_text(), flags=re.M))
    on_host = Counter(re.findall(r"^localrule (\w+):", log, flags=re.M))   # aggregate rules (`all`)
    assert in_slurm + on_host == local_jobs, (in_slurm, on_host, local_jobs)
    assert sum(in_slurm.values()) >= 20

    # 4. same numbers: every numbers table byte for byte, every result array exactly
    from grokrepro.io import load_npz

    expected = numeric_outputs(local / "results")
    assert any(p.suffix == ".csv" for p in expected) and any(p.suffix == ".npz" for p in expected)
    assert numeric_outputs(cluster / "results") == expected
    for rel in expected:
        a, b = local / "results" / rel, cluster / "results" / rel
        if a.suffix == ".csv":
            assert a.read_bytes() == b.read_bytes(), f"{rel} differs between the local and the Slurm run"
        else:
            (arrays_a, meta_a), (arrays_b, meta_b) = load_npz(a), load_npz(b)
            assert meta_a == meta_b, rel
            assert arrays_a.keys() == arrays_b.keys(), rel
            for key in arrays_a:
                np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=f"{rel}:{key}")
    figures = sorted(p.relative_to(local) for p in (local / "results").rglob("figures/*.p*"))
    assert figures and all((cluster / p).exists() for p in figures)
