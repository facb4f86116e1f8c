"""Command line: ``python -m grokrepro verify <archive.tar.gz>``, ``restore <archive>``, ``params [study]``.

Exit status: 0 OK, 1 a mismatch or unsafe content (restore: also a refused or failed restore),
2 unreadable input. Each answer is one line.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import params
from .archive import DEFAULT_MAX_BYTES, OK, STATUS, parse_size, restore_archive, verify_archive


def size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="grokrepro")
    sub = ap.add_subparsers(dest="cmd", required=True)
    limit = dict(type=size, default=DEFAULT_MAX_BYTES, metavar="SIZE",
                 help="refuse an archive whose unpacked tar stream is larger (default 64G; K, M, G, T suffixes)")
    v = sub.add_parser("verify", help="check an archive against its SHA-256 manifest (reads only, extracts nothing)")
    v.add_argument("archive")
    v.add_argument("--max-bytes", **limit)
    r = sub.add_parser("restore", help="verify an archive, then lay its results/ files into a results folder")
    r.add_argument("archive")
    r.add_argument("--results", metavar="DIR",
                   help="results folder (default: the archived preset's, results/ or results/<preset>)")
    r.add_argument("--max-bytes", **limit)
    r.add_argument("--force", action="store_true", help="replace files in the results folder that differ")
    sub.add_parser("params", help="every parameter: default, paper, tiny, meaning").add_argument(
        "study", nargs="?", choices=params.STUDIES)
    args = ap.parse_args(argv)
    if args.cmd == "params":
        return params.main(args.study)
    if args.cmd == "verify":
        check = verify_archive(args.archive, args.max_bytes)
        done = f"every one of {len(check.files)} files matches MANIFEST.sha256"
    else:
        check = restore_archive(args.archive, args.results, args.max_bytes, args.force)
        done = f"verified, {len(check.files)} files restored into {check.where}/"
    print(f"{args.archive}: {STATUS[check.status]}: {done if check.status == OK else check.reason()}")
    return check.status


def run(argv=None) -> int:
    """``main``, quiet when the reader stops reading (``python -m grokrepro params | head``):
    stdout goes to /dev/null so that the interpreter's final flush raises nothing, exit status 0."""
    try:
        status = main(argv)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(run())
