"""Code dependencies by construction: a rule's source inputs are its script's imports, followed
transitively (grokrepro.deps), so editing a module reruns exactly the rules that reach it."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grokrepro.deps import source_files

from conftest import ROOT, snakemake


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def fake_tree(tmp_path):
    """A small grokrepro package with absolute, relative, deferred and package imports."""
    _write(tmp_path, "src/grokrepro/__init__.py", "")
    _write(tmp_path, "src/grokrepro/a.py", "import numpy\n")
    _write(tmp_path, "src/grokrepro/b.py", "from .a import x\n")
    _write(tmp_path, "src/grokrepro/unused.py", "from . import a\n")
    _write(tmp_path, "src/grokrepro/claims.py", "")
    _write(tmp_path, "src/grokrepro/claims/s.yaml", "[]\n")
    _write(tmp_path, "src/grokrepro/sub/__init__.py", "")
    _write(tmp_path, "src/grokrepro/sub/c.py", """
        from .. import b
        def late():
            from grokrepro import claims  # deferred: still a dependency
        """)
    _write(tmp_path, "src/grokrepro/sub/d.py", "from .c import late\n")
    _write(tmp_path, "scripts/one.py", "from grokrepro.sub.d import late\nimport os\n")
    _write(tmp_path, "scripts/two.py", "from grokrepro import a\n")
    return tmp_path


def _rel(tree, files):
    return {str(Path(f).relative_to(tree / "src" / "grokrepro")) for f in files}


def test_closure_follows_relative_deferred_and_package_imports(fake_tree):
    got = _rel(fake_tree, source_files(fake_tree / "scripts/one.py", fake_tree / "src"))
    assert got == {"__init__.py", "sub/__init__.py", "sub/d.py", "sub/c.py", "b.py", "a.py", "claims.py",
                   "claims/s.yaml"}


def test_a_study_claims_file_belongs_to_that_studys_scripts_only(fake_tree):
    _write(fake_tree, "src/grokrepro/claims/sub.yaml", "[]\n")
    _write(fake_tree, "scripts/card.py", "from grokrepro import claims\n")
    got = _rel(fake_tree, source_files(fake_tree / "scripts/one.py", fake_tree / "src"))
    assert {f for f in got if f.endswith(".yaml")} == {"claims/sub.yaml"}  # reaches sub/: its claims only
    got = _rel(fake_tree, source_files(fake_tree / "scripts/card.py", fake_tree / "src"))
    assert {f for f in got if f.endswith(".yaml")} == {"claims/s.yaml", "claims/sub.yaml"}  # no study: all


def test_closure_leaves_out_what_is_not_reached(fake_tree):
    got = _rel(fake_tree, source_files(fake_tree / "scripts/two.py", fake_tree / "src"))
    assert got == {"__init__.py", "a.py"}  # not b (which imports a), not unused


SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))

# Imports every script's top-level imports in one interpreter (grokrepro modules dropped
# between scripts) and prints, per script, the grokrepro files Python really loaded.
_PROBE = """
import ast, json, sys
out = {}
for path in sys.argv[1:]:
    for name in [m for m in sys.modules if m == "grokrepro" or m.startswith("grokrepro.")]:
        del sys.modules[name]
    tree = ast.parse(open(path).read())
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=imports, type_ignores=[]), path, "exec"), {})
    out[path] = sorted(m.__file__ for k, m in sys.modules.items()
                       if (k == "grokrepro" or k.startswith("grokrepro.")) and getattr(m, "__file__", None))
print(json.dumps(out))
"""


def test_every_module_python_loads_is_a_declared_dependency():
    """Cross-check against the interpreter: what a script's imports load at run time is a subset of
    what the static closure declares (which also holds deferred imports)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *map(str, SCRIPTS)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout)
    assert len(loaded) == len(SCRIPTS) > 20
    for script, files in loaded.items():
        declared = {str(Path(f).resolve()) for f in source_files(script, ROOT / "src")}
        missing = {f for f in files if str(Path(f).resolve()) not in declared}
        assert not missing, f"{Path(script).name} loads {missing} but does not declare them"


def test_no_rule_lists_its_code_by_hand():
    rules = list((ROOT / "workflow" / "rules").rglob("*.smk"))
    assert rules
    for smk in rules:
        assert not re.search(r"\bcode\(", smk.read_text()), f"{smk.name} still lists code by hand"


# ---------------------------------------------------------------- the planned jobs after an edit
def _jobs(text: str) -> list[tuple[str, list[str], list[str]]]:
    """(rule, inputs, outputs) of every job a dry run prints."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", text):
        m = re.search(r"^(?:local)?rule (\w+):$", block, re.M)
        if not m:
            continue
        ins = re.search(r"^    input: (.*)$", block, re.M)
        outs = re.search(r"^    output: (.*)$", block, re.M)
        jobs.append((m.group(1), ins.group(1).split(", ") if ins else [], outs.group(1).split(", ") if outs else []))
    return jobs


def _planned(workdir) -> set[str]:
    proc = snakemake(workdir, "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {rule for rule, _, outs in _jobs(proc.stdout + proc.stderr) if outs}


def _expected(jobs, edited: str) -> set[str]:
    """Rules of the jobs that have ``edited`` as an input, and of every job downstream of them."""
    hit = [j for j in jobs if edited in j[1]]
    outs = {o for j in hit for o in j[2]}
    changed = True
    while changed:
        changed = False
        for j in jobs:
            if j not in hit and outs.intersection(j[1]):
                hit.append(j)
                outs.update(j[2])
                changed = True
    return {rule for rule, _, o in hit if o}


@pytest.mark.pipeline
def test_editing_a_module_plans_exactly_the_rules_that_reach_it(tiny_run):
    forced = snakemake(tiny_run, "-n", "--forceall")
    assert forced.returncode == 0, forced.stderr[-3000:]
    jobs = _jobs(forced.stdout + forced.stderr)
    assert len(jobs) > 40
    pkg = tiny_run / "src" / "grokrepro"
    modules = sorted(pkg.rglob("*.py")) + sorted(pkg.glob("claims/*.yaml"))
    figure_rules = {rule for rule, _, _ in jobs if rule.startswith("fig_")}
    for path in modules:
        rel = str(path.relative_to(tiny_run))
        original = path.read_bytes()
        try:
            path.write_bytes(original + b"\n# edited by test_deps\n")
            planned = _planned(tiny_run)
        finally:
            path.write_bytes(original)
        assert planned == _expected(jobs, rel), rel
        if rel == "src/grokrepro/numbers.py":  # the verdict code: every figure of every study
            assert figure_rules <= planned and {r.split("_")[1] for r in planned if r.startswith("fig_")} == {
                "metastable", "dichotomy", "ridge"}
    assert _planned(tiny_run) == set()
