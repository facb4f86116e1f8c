"""A rule's source-code inputs, derived from its script's imports (never listed by hand).

``source_files(script, src_root)`` parses the script with :mod:`ast`, follows every import of the
``grokrepro`` package transitively through ``src/grokrepro/`` and returns the module files it
reaches, plus the data files a reached module declares it reads (``DATA_FILES`` below). Editing
any of them reruns the rule; editing a module the script does not reach reruns nothing.

A data pattern with ``{study}`` stands for the study subpackages the script reaches
(``claims/{study}.yaml``: a Study A figure depends on ``claims/metastable.yaml`` only); a script
that reaches none of them (the scorecard) depends on every file the pattern matches.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = "grokrepro"

# Data files a module reads at run time, relative to the package root: they count as that
# module's sources (an edited claim reruns the figures of its study whose code loads the claims).
DATA_FILES = {
    "claims.py": ("claims/{study}.yaml",),
}


def _module_file(pkg_root: Path, dotted: str) -> Path | None:
    """File of ``grokrepro.<dotted>`` (module or package ``__init__``), or None."""
    parts = dotted.split(".")[1:] if dotted != PACKAGE else []
    base = pkg_root.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _package_of(pkg_root: Path, file: Path) -> str:
    """Dotted package that ``file`` (inside ``pkg_root``) belongs to, for relative imports."""
    rel = file.relative_to(pkg_root).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    return ".".join(parts[:-1]) if rel.name != "__init__" else ".".join(parts[:-1] or [PACKAGE])


def imported_modules(file: Path, package: str | None) -> set[str]:
    """Dotted names of the ``grokrepro`` modules that ``file`` imports (absolute or relative);
    ``from pkg import name`` yields both ``pkg`` and ``pkg.name`` (the caller keeps those that
    are modules)."""
    tree = ast.parse(Path(file).read_text(), filename=str(file))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None:
                    continue
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


@lru_cache(maxsize=None)
def _closure(pkg_root: Path, start: Path) -> frozenset[Path]:
    seen: set[Path] = set()
    todo = [start]
    while todo:
        file = todo.pop()
        in_pkg = pkg_root in file.parents
        package = _package_of(pkg_root, file) if in_pkg else None
        for dotted in imported_modules(file, package):
            # importing grokrepro.a.b runs grokrepro/__init__ and grokrepro/a/__init__ too
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):
                target = _module_file(pkg_root, ".".join(parts[:i]))
                if target is not None and target not in seen:
                    seen.add(target)
                    todo.append(target)
    return frozenset(seen)


def source_files(script: str | Path, src_root: str | Path = "src") -> list[str]:
    """Every ``src/grokrepro`` file ``script`` depends on, sorted, as paths like ``src_root``."""
    src_root = Path(src_root)
    pkg_root = (src_root / PACKAGE).resolve()
    files = set(_closure(pkg_root, Path(script).resolve()))
    studies = {f.relative_to(pkg_root).parts[0] for f in files if len(f.relative_to(pkg_root).parts) > 1}
    for f in list(files):
        for pattern in DATA_FILES.get(str(f.relative_to(pkg_root)), ()):
            files.update(_data_files(pkg_root, pattern, studies))
    return sorted(str(src_root / PACKAGE / f.relative_to(pkg_root)) for f in files)


def _data_files(pkg_root: Path, pattern: str, studies: set[str]) -> set[Path]:
    """The files ``pattern`` names; ``{study}`` is each reached study with such a file, or any."""
    if "{study}" not in pattern:
        return {p.resolve() for p in pkg_root.glob(pattern)}
    mine = {p.resolve() for s in studies for p in pkg_root.glob(pattern.format(study=s))}
    return mine or {p.resolve() for p in pkg_root.glob(pattern.format(study="*"))}


__all__ = ["source_files", "imported_modules"]
