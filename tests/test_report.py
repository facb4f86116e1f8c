"""Scorecard and archive: the verify command passes on an archive and fails on a tampered copy."""
import io
import subprocess
import sys
import tarfile

from grokrepro.numbers import Row, write_numbers
from grokrepro.report import build_archive, scorecard, verify_archive


def test_scorecard_collects_every_row_and_summarises(tmp_path):
    a = tmp_path / "results" / "metastable" / "numbers" / "3.csv"
    b = tmp_path / "results" / "ridge" / "numbers" / "2.csv"
    write_numbers(a, [Row("x", 1.0, verdict="agrees"), Row("y", 2.0, verdict="deviates", note="paper says 3")])
    write_numbers(b, [Row("z", None, theory=0.5)])
    rows, summary = scorecard([a, b])
    assert [(r["study"], r["figure"], r["quantity"]) for r in rows] == [
        ("metastable", "3", "x"), ("metastable", "3", "y"), ("ridge", "2", "z")]
    assert summary == [{"study": "metastable", "rows": 2, "agrees": 1, "deviates": 1, "n/a": 0},
                       {"study": "ridge", "rows": 1, "agrees": 0, "deviates": 0, "n/a": 1}]


def make_archive(tmp_path):
    f1, f2 = tmp_path / "fig.png", tmp_path / "numbers.csv"
    f1.write_bytes(b"\x89PNG fake")
    f2.write_text("quantity,measured\nx,1\n")
    out = tmp_path / "a.tar.gz"
    build_archive(out, {"figures/fig.png": f1, "numbers/3.csv": f2}, {"config.resolved.json": b"{}"})
    return out


def rewrite(src, dst, change):
    with tarfile.open(src, "r:gz") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    change(members)
    with tarfile.open(dst, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_verify_passes_and_detects_tampering(tmp_path):
    good = make_archive(tmp_path)
    assert verify_archive(good) == []
    altered = tmp_path / "altered.tar.gz"
    rewrite(good, altered, lambda m: m.__setitem__("numbers/3.csv", b"quantity,measured\nx,2\n"))
    assert verify_archive(altered) == ["altered: numbers/3.csv"]
    missing = tmp_path / "missing.tar.gz"
    rewrite(good, missing, lambda m: m.pop("figures/fig.png"))
    assert verify_archive(missing) == ["missing: figures/fig.png"]
    extra = tmp_path / "extra.tar.gz"
    rewrite(good, extra, lambda m: m.__setitem__("sneaky.txt", b"x"))
    assert verify_archive(extra) == ["not in manifest: sneaky.txt"]


def test_verify_command_exit_codes(tmp_path):
    good = make_archive(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    rewrite(good, bad, lambda m: m.__setitem__("config.resolved.json", b'{"preset": "paper"}'))
    ok = subprocess.run([sys.executable, "-m", "grokrepro", "verify", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    fail = subprocess.run([sys.executable, "-m", "grokrepro", "verify", str(bad)], capture_output=True, text=True)
    assert fail.returncode == 1 and "altered: config.resolved.json" in fail.stdout
