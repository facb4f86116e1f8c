"""Artifact archives: build a .tar.gz with a SHA-256 manifest, verify it, restore it into a results folder.

An archive holds regular files only, each named by a plain relative path, plus ``MANIFEST.sha256``
(one ``<sha256>  <name>`` line per other member). :func:`verify_archive` reads the archive once,
as a stream, and never extracts or executes anything: it hashes each member in chunks (memory
stays bounded whatever the members' sizes) and stops once the unpacked tar stream passes
``max_bytes``. It accepts an archive only if every member is a regular file with a relative name
inside the archive's root (no ``..``, no absolute path, no links, devices or FIFOs), appears once,
is listed in the manifest once with its hash, and every manifest line has its member. The answer
is one of three statuses: ``OK`` (0), ``FAILED`` (1: a mismatch or unsafe content) and
``UNREADABLE`` (2: not a complete gzip'd tar).

:func:`restore_archive` lays the ``results/`` members of a verified archive into a results folder
(atomic writes, one common modification time; see its docstring for why).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import platform
import posixpath
import re
import subprocess
import sys
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from .config import results_dir
from .io import atomic_target

MANIFEST = "MANIFEST.sha256"
CONFIG = "config.resolved.json"
RESULTS = "results/"  # members under this prefix are the run's results folder
OK, FAILED, UNREADABLE = 0, 1, 2
STATUS = {OK: "OK", FAILED: "FAILED", UNREADABLE: "UNREADABLE"}
DEFAULT_MAX_BYTES = 64 << 30  # unpacked tar stream; the paper preset's results are a few GB
MAX_MEMBERS = 100_000
SMALL_MAX = 64 << 20  # members read into memory (manifest, config) and tar headers: at most this
CHUNK = 1 << 20
KINDS = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.DIRTYPE: "folder",
         tarfile.FIFOTYPE: "FIFO", tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
         tarfile.CONTTYPE: "contiguous file", tarfile.GNUTYPE_SPARSE: "sparse file"}
LINE = re.compile(r"([0-9a-f]{64})  (.+)")
SIZE = re.compile(r"(\d+)\s*([KMGT]?)(i?B)?", re.IGNORECASE)


# --- building ------------------------------------------------------------------------------------
def environment_record() -> dict:
    try:
        import torch

        cuda = {"available": torch.cuda.is_available(), "version": torch.version.cuda}
        torch_version = torch.__version__
    except (ImportError, RuntimeError):  # pragma: no cover
        cuda, torch_version = {}, None
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"])
    return {"python": sys.version, "platform": platform.platform(), "torch": torch_version, "cuda": cuda,
            "packages": packages}


def git_record(root: str | Path) -> dict:
    def run(*args):
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                                  check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "HEAD") or None, "dirty": bool(run("status", "--porcelain"))}


def archive_extras(config: dict, root: str | Path) -> dict[str, bytes]:
    return {
        CONFIG: json.dumps(config, indent=2, sort_keys=True, default=str).encode(),
        "environment.json": json.dumps(environment_record(), indent=2).encode(),
        "git.json": json.dumps({**git_record(root), "archived_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                               indent=2).encode(),
    }


class _Hashing:
    """File reader that hashes what tarfile copies out of it (one pass per file, in chunks)."""

    def __init__(self, fh):
        self.fh, self.sha = fh, hashlib.sha256()

    def read(self, n=-1):
        data = self.fh.read(n)
        self.sha.update(data)
        return data


def build_archive(out: str | Path, files: dict[str, str | Path], extra: dict[str, bytes]) -> None:
    """Write a .tar.gz of ``files`` (archive name → path, streamed) and ``extra`` (name → bytes),
    then MANIFEST.sha256 (one ``<sha256>  <name>`` line per member). Regular members only, mode
    0644, mtime 0."""
    out = Path(out)
    digests = {}
    tmp = atomic_target(out)
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        def add(name, fh, size):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, 0, 0o644
            reader = _Hashing(fh)
            tar.addfile(info, reader)
            digests[name] = reader.sha.hexdigest()

        for name, path in sorted(files.items()):
            with open(path, "rb") as fh:
                add(name, fh, os.fstat(fh.fileno()).st_size)
        for name, data in sorted(extra.items()):
            add(name, io.BytesIO(data), len(data))
        manifest = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items())).encode()
        add(MANIFEST, io.BytesIO(manifest), len(manifest))
    os.replace(tmp, out)


# --- reading (one streaming pass) ------------------------------------------------------------------
class Unreadable(Exception):
    """The input is not a complete gzip'd tar archive."""


class _TooBig(Exception):
    """The archive goes past a size limit (unsafe content)."""


class _CannotWrite(Exception):
    """Restoring failed on the writing side (not the archive's fault)."""


class _Stream:
    """Forward-only view of the unpacked tar stream for tarfile: refuses to go past ``limit`` bytes
    or to hand out a header bigger than SMALL_MAX, and remembers its last read (the block where
    tarfile found the end of the archive)."""

    def __init__(self, raw, limit: int):
        self.raw, self.limit, self.pos, self.last = raw, limit, 0, (0, b"")

    def _pull(self, n: int) -> bytes:
        allowed = self.limit - self.pos
        data = self.raw.read(min(n, allowed))
        if n > allowed and len(data) == allowed and self.raw.read(1):
            raise _TooBig(f"the archive unpacks to more than {self.limit} bytes (--max-bytes)")
        self.pos += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > SMALL_MAX:
            raise _TooBig(f"a tar header asks for {n} bytes")
        data = self._pull(n)
        self.last = (self.pos - len(data), data)
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self.pos:
            raise io.UnsupportedOperation("backward seek in a tar stream")
        while self.pos < pos and self._pull(min(CHUNK, pos - self.pos)):
            pass
        return self.pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True


@dataclass
class _Scan:
    digests: dict = field(default_factory=dict)  # accepted regular members: name -> sha256
    kept: dict = field(default_factory=dict)  # MANIFEST and CONFIG bytes
    refused: list = field(default_factory=list)
    names: set = field(default_factory=set)  # every member name seen


def bad_name(name: str) -> str | None:
    """Why ``name`` is not a plain relative path inside the archive's root (None when it is)."""
    if not name:
        return "is empty"
    if name.startswith("/"):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "climbs out of the archive with '..'"
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in name):
        return "contains a control character or a backslash"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not UTF-8"
    if posixpath.normpath(name) != name:
        return "is not a normalised path"
    return None


def _refusal(m: tarfile.TarInfo, scan: _Scan) -> str | None:
    """Why member ``m`` is refused (None if it is an acceptable regular file)."""
    if m.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        kind = KINDS.get(m.type, f"member of type {m.type!r}")
        link = f" to {m.linkname!r}" if m.islnk() or m.issym() else ""
        return f"unsafe: {m.name!r} is a {kind}{link}, not a regular file"
    if why := bad_name(m.name):
        return f"unsafe: member name {m.name!r} {why}"
    if m.name in scan.names:
        return f"unsafe: {m.name} appears twice in the archive"
    if m.name in (MANIFEST, CONFIG) and m.size > SMALL_MAX:
        return f"unsafe: {m.name} is {m.size} bytes (at most {SMALL_MAX})"
    return None


def _take(stream: _Stream, m: tarfile.TarInfo, scan: _Scan, sink) -> None:
    """Check member ``m`` and hash its data in chunks (also handing them to ``sink`` if given)."""
    if m.offset_data + m.size > stream.limit:
        raise _TooBig(f"member {m.name!r} ({m.size} bytes) takes the archive past {stream.limit} bytes (--max-bytes)")
    if len(scan.names) >= MAX_MEMBERS:
        raise _TooBig(f"more than {MAX_MEMBERS} members")
    problem = _refusal(m, scan)
    scan.names.add(m.name)
    if problem:
        scan.refused.append(problem)
        return
    stream.seek(m.offset_data)
    sha, kept, out = hashlib.sha256(), [], sink(m.name) if sink else None
    try:
        remaining = m.size
        while remaining:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                raise tarfile.ReadError(f"unexpected end of data in {m.name!r}")
            sha.update(chunk)
            remaining -= len(chunk)
            if m.name in (MANIFEST, CONFIG):
                kept.append(chunk)
            if out:
                out.write(chunk)
    finally:
        if out:
            out.close()
    scan.digests[m.name] = sha.hexdigest()
    if m.name in (MANIFEST, CONFIG):
        scan.kept[m.name] = b"".join(kept)


def _check_end(stream: _Stream, end: int) -> None:
    """The archive must end with the zero block tarfile stopped at, and only zeros after it."""
    pos, block = stream.last
    if pos != end or len(block) != tarfile.BLOCKSIZE or block.count(0) != tarfile.BLOCKSIZE:
        raise tarfile.ReadError(f"no valid tar header or end-of-archive block at byte {end} (truncated or corrupt)")
    while chunk := stream.read(CHUNK):
        if chunk.count(0) != len(chunk):
            raise tarfile.ReadError(f"data after the end-of-archive block (byte {stream.pos - len(chunk)} on)")


def _read(path: str | Path, max_bytes: int, sink=None) -> _Scan:
    """One streaming pass over the archive. Raises Unreadable for anything that is not a complete
    gzip'd tar, _TooBig past a size limit."""
    scan = _Scan()
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            stream = _Stream(gz, max_bytes)
            with tarfile.open(fileobj=stream, mode="r:") as tar:
                while (m := tar.next()) is not None:
                    _take(stream, m, scan, sink)
                _check_end(stream, tar.offset)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as err:
        raise Unreadable(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__) from None
    return scan


# --- verifying -------------------------------------------------------------------------------------
@dataclass
class Check:
    """Outcome of a verification: status OK/FAILED/UNREADABLE, the problems found, the listed
    (and verified) files with their SHA-256, and the archived config if readable."""

    status: int
    problems: list[str]
    files: dict[str, str] = field(default_factory=dict)
    config: dict | None = None
    where: str = ""  # restore: the results folder written to

    def reason(self, shown: int = 3) -> str:
        """The problems on one line."""
        more = len(self.problems) - shown
        return "; ".join(self.problems[:shown]) + (f" (and {more} more)" if more > 0 else "")


def parse_manifest(data: bytes) -> tuple[dict[str, str], list[str]]:
    """Name → SHA-256 of each manifest line, and the problems (malformed or repeated lines)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {}, [f"{MANIFEST} is not UTF-8"]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    listed, problems = {}, []
    for i, line in enumerate(lines, 1):
        match = LINE.fullmatch(line)
        if not match:
            problems.append(f"{MANIFEST} line {i} is malformed")
            continue
        digest, name = match.groups()
        if why := bad_name(name):
            problems.append(f"unsafe: {MANIFEST} lists {name!r}, which {why}")
        elif name in listed:
            problems.append(f"{MANIFEST} lists {name} twice")
        else:
            listed[name] = digest
    return listed, problems


def _compare(listed: dict[str, str], digests: dict[str, str]) -> list[str]:
    problems = []
    for name, digest in sorted(listed.items()):
        if name not in digests:
            problems.append(f"missing: {name}")
        elif digests[name] != digest:
            problems.append(f"altered: {name}")
    return problems + [f"not in manifest: {name}" for name in sorted(set(digests) - set(listed))]


def _nested(names) -> list[str]:
    """Members whose name is also a folder of another member (they cannot both be laid out)."""
    folders = {str(p) for name in names for p in PurePosixPath(name).parents}
    return [f"unsafe: {n} is a file and also a folder of other members" for n in sorted(set(names) & folders)]


def verify_archive(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Check:
    """Check ``path`` against its manifest without extracting anything (see the module docstring)."""
    try:
        scan = _read(path, max_bytes)
    except Unreadable as err:
        return Check(UNREADABLE, [str(err)])
    except _TooBig as err:
        return Check(FAILED, [f"unsafe: {err}"])
    problems = scan.refused + _nested(scan.digests)
    digests = dict(scan.digests)
    manifest = scan.kept.get(MANIFEST)
    digests.pop(MANIFEST, None)
    if manifest is None:
        return Check(FAILED, problems + [f"{MANIFEST} is missing"])
    listed, manifest_problems = parse_manifest(manifest)
    problems += manifest_problems + _compare(listed, digests)
    try:
        config = json.loads(scan.kept[CONFIG]) if CONFIG in scan.kept else None
    except ValueError:
        config = None
    return Check(FAILED if problems else OK, problems, listed, config if isinstance(config, dict) else None)


def parse_size(text: str) -> int:
    """Bytes in ``64G``, ``512M``, ``1024`` (binary suffixes K, M, G, T; optional ``B``/``iB``)."""
    match = SIZE.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"not a size: {text!r} (e.g. 64G, 512M, 1000000)")
    number, unit = int(match.group(1)), match.group(2).upper()
    return number << (10 * " KMGT".index(unit or " "))


# --- restoring -------------------------------------------------------------------------------------
def default_results(config: dict | None) -> str | None:
    """Where a fresh clone's ``snakemake --config preset=<the archive's preset>`` reads its results."""
    preset = (config or {}).get("preset")
    if not isinstance(preset, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", preset):
        return None
    return results_dir({"preset": preset})


class _Writer:
    """Sink of the restore pass: each results/ member goes to a temporary sibling of its target."""

    def __init__(self, targets: dict[str, Path]):
        self.targets, self.temps, self.fh = targets, {}, None

    def __call__(self, name: str):
        if name not in self.targets:
            return None
        try:
            tmp = atomic_target(self.targets[name])
            self.temps[name] = tmp
            self.fh = tmp.open("wb")
        except OSError as err:
            raise _CannotWrite(f"cannot write {self.targets[name]}: {err}") from None
        return self

    def write(self, chunk: bytes) -> None:
        try:
            self.fh.write(chunk)
        except OSError as err:
            raise _CannotWrite(f"cannot write: {err}") from None

    def close(self) -> None:
        self.fh.close()

    def discard(self) -> None:
        for tmp in self.temps.values():
            tmp.unlink(missing_ok=True)


def _same_file(target: Path, digest: str) -> bool:
    sha = hashlib.sha256()
    with open(target, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest() == digest


def restore_archive(path: str | Path, results: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                    force: bool = False) -> Check:
    """Verify ``path`` (refusing, and writing nothing, if :func:`verify_archive` does), then write
    its ``results/<path>`` members to ``<results>/<path>``. ``results`` defaults to the folder the
    archived preset writes to (``results`` or ``results/<preset>``). A file already there with other
    content stops the restore unless ``force``. Each member goes to a temporary file (a second
    streaming pass, which must reproduce the verified hashes); only when all are written are they
    renamed into place, and all get one modification time, the moment of the restore: each result
    is then exactly as new as the results it was made from and newer than every source file of a
    fresh clone, so Snakemake's mtime trigger plans no job, and its other triggers (params, code,
    input, software-env) have no records for these files. Returns the Check with ``files`` = the
    restored archive names."""
    check = verify_archive(path, max_bytes)
    if check.status != OK:
        return check
    root = results if results is not None else default_results(check.config)
    if root is None:
        return Check(FAILED, [f"no preset in {CONFIG}: pass --results"])
    targets = {n: Path(root, n[len(RESULTS):]) for n in check.files if n.startswith(RESULTS)}
    clash = [str(t) for n, t in sorted(targets.items())
             if (t.exists() or t.is_symlink()) and not (t.is_file() and _same_file(t, check.files[n]))]
    if clash and not force:
        return Check(FAILED, [f"would replace a different file: {t} (use --force)" for t in clash])
    writer = _Writer(targets)
    try:
        scan = _read(path, max_bytes, sink=writer)
        changed = scan.refused or any(scan.digests.get(n) != check.files[n] for n in targets)
        if changed:
            writer.discard()
            return Check(FAILED, ["the archive changed while it was restored; nothing written"])
    except (Unreadable, _TooBig, _CannotWrite) as err:
        writer.discard()
        return Check(UNREADABLE if isinstance(err, Unreadable) else FAILED, [str(err)])
    stamp = time.time_ns()
    for name, target in sorted(targets.items()):
        try:
            os.replace(writer.temps[name], target)
            os.utime(target, ns=(stamp, stamp))
        except OSError as err:
            writer.discard()
            return Check(FAILED, [f"cannot put {target} in place ({err}); files before it are restored"])
    return Check(OK, [], {n: check.files[n] for n in targets}, check.config, str(root))


# --- what a results archive holds ------------------------------------------------------------------
def made_upstream(targets, made_from) -> list[str]:
    """Every file some job makes on the way to ``targets`` (neither the targets themselves nor
    source files), sorted, with every other output of those jobs (a data job's test split feeds no
    figure, but a job with an output missing reruns). ``made_from(path)`` gives the job that makes
    ``path`` as ``(inputs, outputs)``, or None if no rule makes it."""
    targets = {str(t) for t in targets}
    seen, made, todo = set(targets), set(), sorted(targets)
    while todo:
        path = todo.pop()
        job = made_from(path)
        if job is None:
            continue
        inputs, outputs = job
        if path not in targets:
            made.update(map(str, outputs))
        for f in map(str, inputs):
            if f not in seen:
                seen.add(f)
                todo.append(f)
    return sorted(made - targets)
