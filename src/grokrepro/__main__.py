"""Command line: ``python -m grokrepro verify <archive.tar.gz>``, ``python -m grokrepro params [study]``."""
from __future__ import annotations

import argparse
import sys

from . import params
from .report import verify_archive


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="grokrepro")
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify", help="check an archive against its SHA-256 manifest")
    v.add_argument("archive")
    sub.add_parser("params", help="every parameter: default, paper, tiny, meaning").add_argument(
        "study", nargs="?", choices=params.STUDIES)
    args = ap.parse_args(argv)
    if args.cmd == "params":
        return params.main(args.study)
    problems = verify_archive(args.archive)
    if problems:
        print(f"{args.archive}: FAILED ({len(problems)} problem(s))")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"{args.archive}: OK (every file matches MANIFEST.sha256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
