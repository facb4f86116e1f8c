"""Archives: the verifier refuses every crafted unsafe or malformed input with the right exit code,
hashes in bounded memory, restore writes nothing unless the archive verifies; end to end, a
restored results archive lets a fresh clone retrain nothing, and the between-workflow cache works."""
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from grokrepro.archive import (FAILED, OK, UNREADABLE, build_archive, made_upstream, parse_size, restore_archive,
                               verify_archive)

from conftest import COPY, ROOT, snakemake

TINY = "results/tiny"
FILES = {"results/figures/fig.png": b"\x89PNG fake", "results/numbers/3.csv": b"quantity,measured\nx,1\n"}


def good_archive(tmp_path: Path) -> Path:
    paths = {}
    for name, data in FILES.items():
        paths[name] = tmp_path / "src" / name
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        paths[name].write_bytes(data)
    out = tmp_path / "good.tar.gz"
    build_archive(out, paths, {"config.resolved.json": b'{"preset": "tiny"}'})
    return out


def reg(name: str, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind, linkname: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def manifest(listed: dict[str, bytes], extra_lines: str = "") -> tuple:
    text = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in listed.items()) + extra_lines
    return reg("MANIFEST.sha256", text.encode())


def write_tar(path: Path, entries) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def crafted(tmp_path: Path, entries, name="crafted.tar.gz") -> Path:
    return write_tar(tmp_path / name, entries)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "grokrepro", *map(str, args)], capture_output=True, text=True)


# ------------------------------------------------------------------------------ verify: good and mismatches
def test_good_archive_verifies(tmp_path):
    check = verify_archive(good_archive(tmp_path))
    assert (check.status, check.problems) == (OK, [])
    assert set(check.files) == set(FILES) | {"config.resolved.json"}
    proc = cli("verify", tmp_path / "good.tar.gz")
    assert proc.returncode == 0 and ": OK:" in proc.stdout and len(proc.stdout.splitlines()) == 1


@pytest.mark.parametrize("case, entries, expected", [
    ("altered", [reg("results/a", b"2"), manifest({"results/a": b"1"})], "altered: results/a"),
    ("missing", [manifest({"results/a": b"1"})], "missing: results/a"),
    ("extra", [reg("results/a", b"1"), reg("sneaky", b"x"), manifest({"results/a": b"1"})],
     "not in manifest: sneaky"),
    ("listed twice", [reg("results/a", b"1"), manifest({"results/a": b"1"}, extra_lines=(
        f"{hashlib.sha256(b'1').hexdigest()}  results/a\n"))], "lists results/a twice"),
    ("malformed line", [reg("results/a", b"1"), manifest({"results/a": b"1"}, extra_lines="garbage\n")],
     "line 2 is malformed"),
    ("no manifest", [reg("results/a", b"1")], "MANIFEST.sha256 is missing"),
])
def test_mismatch_fails(tmp_path, case, entries, expected):
    check = verify_archive(crafted(tmp_path, entries))
    assert check.status == FAILED and any(expected in p for p in check.problems), (case, check.problems)


# ------------------------------------------------------------------------------ verify: unsafe content
OUTSIDE = "/tmp/grokrepro-outside"
UNSAFE = {
    "dotdot name": ([reg("../evil", b"x"), manifest({"../evil": b"x"})], "climbs out"),
    "nested dotdot": ([reg("results/../../evil", b"x"), manifest({"results/../../evil": b"x"})], "climbs out"),
    "absolute name": ([reg("/tmp/evil", b"x"), manifest({"/tmp/evil": b"x"})], "absolute"),
    "symlink": ([reg("results/a", b"1"), special("results/link", tarfile.SYMTYPE, "/etc/passwd"),
                 manifest({"results/a": b"1"})], "symbolic link"),
    "symlink on a listed name": ([special("results/a", tarfile.SYMTYPE, "/etc/passwd"),
                                  manifest({"results/a": b"1"})], "symbolic link"),
    "hardlink on a listed name": ([special("results/a", tarfile.LNKTYPE, "/etc/passwd"),
                                   manifest({"results/a": b"1"})], "hard link"),
    "symlink folder + file through it": ([special("results/d", tarfile.SYMTYPE, OUTSIDE),
                                          reg("results/d/x", b"x"), manifest({"results/d/x": b"x"})],
                                         "symbolic link"),
    "fifo": ([reg("results/a", b"1"), special("results/fifo", tarfile.FIFOTYPE), manifest({"results/a": b"1"})],
             "FIFO"),
    "char device": ([special("results/null", tarfile.CHRTYPE), manifest({})], "character device"),
    "folder member": ([special("results/d", tarfile.DIRTYPE), manifest({})], "folder"),
    "duplicate member": ([reg("results/a", b"1"), reg("results/a", b"1"), manifest({"results/a": b"1"})],
                         "appears twice"),
    "file and folder": ([reg("results/d", b"1"), reg("results/d/x", b"2"),
                         manifest({"results/d": b"1", "results/d/x": b"2"})], "also a folder"),
    "not normalised": ([reg("results//a", b"1"), manifest({"results//a": b"1"})], "normalised"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_content_fails(tmp_path, case):
    entries, expected = UNSAFE[case]
    path = crafted(tmp_path, entries)
    check = verify_archive(path)
    assert check.status == FAILED and any(expected in p for p in check.problems), check.problems
    proc = cli("verify", path)
    assert proc.returncode == 1 and ": FAILED:" in proc.stdout and len(proc.stdout.splitlines()) == 1


def test_size_bomb_stops_at_the_limit(tmp_path):
    bomb = crafted(tmp_path, [reg("results/zeros", bytes(8 << 20)), manifest({"results/zeros": bytes(8 << 20)})])
    assert bomb.stat().st_size < 100_000
    assert verify_archive(bomb).status == OK  # under the default limit
    check = verify_archive(bomb, max_bytes=1 << 20)
    assert check.status == FAILED and "--max-bytes" in check.reason()
    assert cli("verify", bomb, "--max-bytes", "1M").returncode == 1
    assert cli("verify", bomb, "--max-bytes", "9M").returncode == 0
    assert parse_size("64G") == 64 << 30 and parse_size("512MiB") == 512 << 20 and parse_size("1000") == 1000


def test_hashing_memory_stays_bounded(tmp_path):
    """A 64 MiB member is hashed in chunks: Python's peak allocation stays far below its size (the
    old verifier held every member in memory)."""
    size = 64 << 20
    path = crafted(tmp_path, [reg("results/zeros", bytes(size)), manifest({"results/zeros": bytes(size)})])
    tracemalloc.start()
    try:
        check = verify_archive(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert check.status == OK
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while hashing a {size >> 20} MiB member"


# ------------------------------------------------------------------------------ verify: unreadable input
def unreadable_inputs(tmp_path: Path) -> dict[str, Path]:
    good = good_archive(tmp_path).read_bytes()
    raw = gzip.decompress(good)
    body = raw[:raw.index(bytes(1024))]  # the members, without the end-of-archive blocks
    cases = {
        "not gzip": b"just some text, not an archive\n",
        "empty file": b"",
        "truncated gzip": good[: len(good) // 2],
        "gzip of garbage": gzip.compress(os.urandom(4096)),
        "gzip of nothing": gzip.compress(b""),
        "tar truncated inside": gzip.compress(raw[:700]),
        "corrupt header before the end": gzip.compress(body + b"\x01" * 512 + bytes(10240)),
        "garbage after the end": gzip.compress(raw + b"trailing"),
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.tar.gz"
        paths[name].write_bytes(data)
    return paths


def test_unreadable_input_exits_2_with_one_line(tmp_path):
    for case, path in unreadable_inputs(tmp_path).items():
        check = verify_archive(path)
        assert check.status == UNREADABLE, (case, check)
        proc = cli("verify", path)
        assert proc.returncode == 2 and ": UNREADABLE:" in proc.stdout, (case, proc.stdout, proc.stderr)
        assert len(proc.stdout.splitlines()) == 1 and not proc.stderr, (case, proc.stderr)
    assert cli("verify", tmp_path / "no-such-file.tar.gz").returncode == 2


# ------------------------------------------------------------------------------ restore
def test_restore_writes_results_with_one_mtime(tmp_path):
    archive = good_archive(tmp_path)
    check = restore_archive(archive, tmp_path / "out")
    assert check.status == OK and set(check.files) == set(FILES)
    out = {p.relative_to(tmp_path / "out").as_posix(): p for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert {f"results/{k}": v.read_bytes() for k, v in out.items()} == FILES
    assert len({p.stat().st_mtime_ns for p in out.values()}) == 1
    assert not list((tmp_path / "out").rglob(".*.tmp"))
    (tmp_path / "out" / "numbers" / "3.csv").write_text("changed\n")
    refused = cli("restore", archive, "--results", tmp_path / "out")
    assert refused.returncode == 1 and "would replace a different file" in refused.stdout
    assert (tmp_path / "out" / "numbers" / "3.csv").read_text() == "changed\n"
    forced = cli("restore", archive, "--results", tmp_path / "out", "--force")
    assert forced.returncode == 0, forced.stdout
    assert (tmp_path / "out" / "numbers" / "3.csv").read_bytes() == FILES["results/numbers/3.csv"]


def test_restore_default_folder_is_the_presets(tmp_path):
    archive = good_archive(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "grokrepro", "restore", str(archive)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "results/tiny/" in proc.stdout, proc.stdout
    assert (tmp_path / "results" / "tiny" / "numbers" / "3.csv").exists()


@pytest.mark.parametrize("case", ["symlink folder + file through it", "nested dotdot", "duplicate member"])
def test_restore_refuses_what_verify_refuses_and_writes_nothing(tmp_path, case):
    entries, _ = UNSAFE[case]
    entries = entries + [reg("results/ok", b"fine")]
    path = crafted(tmp_path, entries)
    out = tmp_path / "out"
    proc = cli("restore", path, "--results", out)
    assert proc.returncode == 1 and ": FAILED:" in proc.stdout
    assert not out.exists() and not Path(OUTSIDE).exists() and not (tmp_path / "evil").exists()


def test_restore_of_unreadable_input_exits_2(tmp_path):
    path = unreadable_inputs(tmp_path)["truncated gzip"]
    proc = cli("restore", path, "--results", tmp_path / "out")
    assert proc.returncode == 2 and not (tmp_path / "out").exists()


def test_made_upstream_follows_rules_not_sources_and_packs_sibling_outputs():
    """Each job on the way is packed whole: the data job's test split feeds nothing downstream, but
    without it the data job (and everything after it) would rerun."""
    jobs = {"fig.png": (["fit.npz", "plot.py"], ["fig.png", "fig.csv"]),
            "fit.npz": (["run.npz", "fit.py"], ["fit.npz"]),
            "run.npz": (["data.npz"], ["run.npz", "run.meta.json"]),
            "data.npz": (["gen.py"], ["data.npz", "test.npz"])}
    assert made_upstream(["fig.png"], jobs.get) == ["data.npz", "fit.npz", "run.meta.json", "run.npz", "test.npz"]


# ------------------------------------------------------------------------------ end to end (tiny preset)
def planned(proc) -> set[str]:
    """Rules of the jobs a dry run plans (from its Job stats table); empty if nothing is to be done."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    if "Nothing to be done" in out:
        return set()
    table = out.split("Job stats:", 1)[1].splitlines()[3:]
    rules = set()
    for line in table:
        if not line.strip() or line.split()[0] == "total":
            break
        rules.add(line.split()[0])
    return rules


def fresh_clone(dest: Path) -> Path:
    """`git clone` of this checkout, with the working tree's own files copied over it (so that
    uncommitted changes are what is tested); every file is as new as a clone's, nothing is run."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, capture_output=True)
    for item in COPY:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, dirs_exist_ok=True, copy_function=shutil.copy,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, dest / item)
    assert not (dest / "results").exists() and not (dest / ".snakemake").exists()
    return dest


@pytest.mark.pipeline
def test_restored_results_archive_retrains_nothing(tiny_run, tmp_path):
    proc = snakemake(tiny_run, "archive_results")
    assert proc.returncode == 0, proc.stderr[-3000:]
    archive = tiny_run / TINY / "archive" / "grokrepro-tiny-results.tar.gz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    trained = {str(p.relative_to(tiny_run / TINY)) for p in (tiny_run / TINY).rglob("*.npz")}
    assert {f"results/{n}" for n in trained} <= names, "every training and data result is packed"
    clone = fresh_clone(tmp_path / "clone")
    restored = subprocess.run([sys.executable, "-m", "grokrepro", "restore", str(archive)], cwd=clone,
                              capture_output=True, text=True)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    for name in sorted(trained):
        assert (clone / TINY / name).read_bytes() == (tiny_run / TINY / name).read_bytes(), name
    assert planned(snakemake(clone, "-n")) == set()
    script = clone / "workflow" / "scripts" / "fig_metastable_3.py"
    script.write_text(script.read_text() + "# an edit to one figure's plotting script\n")
    assert planned(snakemake(clone, "-n")) == {"fig_metastable_3", "scorecard", "all"}


@pytest.mark.pipeline
def test_between_workflow_cache_serves_a_second_copy(tmp_path):
    """`--cache <rule>` with SNAKEMAKE_OUTPUT_CACHE: the first workflow copy runs the job and moves
    its outputs to the cache, the second takes them from it (a symlink into it) without running."""
    env = {**os.environ, "SNAKEMAKE_OUTPUT_CACHE": str(tmp_path / "cache")}
    (tmp_path / "cache").mkdir()
    target = f"{TINY}/metastable/data/dense/train.npz"
    outputs = []
    for copy in ("first", "second"):
        work = tmp_path / copy
        work.mkdir()
        for item in COPY:
            src = ROOT / item
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
        proc = subprocess.run([sys.executable, "-m", "snakemake", target, "--cores", "1", "--cache", "metastable_data",
                               "--config", "preset=tiny"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs.append((work / target, proc.stdout + proc.stderr))
    assert "to cache" in outputs[0][1]  # the first copy runs the job and stores its output
    assert "to cache" not in outputs[1][1] and "from cache" in outputs[1][1]
    log = f"{TINY}/logs/metastable/data/dense.log"  # the script writes to it; Snakemake only creates it
    assert (tmp_path / "first" / log).read_text() and not (tmp_path / "second" / log).read_text()
    second = outputs[1][0]
    assert second.is_symlink() and Path(os.readlink(second)).parent == tmp_path / "cache"
    assert second.read_bytes() == outputs[0][0].read_bytes()
