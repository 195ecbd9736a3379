"""The house rules of the layout: which packages are Beam-free, which are Beam only.

`healthapi/`, `rows/`, `schemas/`, `relay/`, `study/`, `history/` and `commands/` (but for
the `run` dispatch, which imports the pipeline lazily) must import without Apache Beam:
they are used by the relay on Cloud Run, by the commands and by tests without a
pipeline. A fresh interpreter imports every module of those packages and
reports whether `apache_beam` got loaded.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BEAM_FREE = ("healthapi", "rows", "schemas", "relay", "commands", "study", "history")


def _modules(package: str) -> list[str]:
    names = [package]
    for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("package", BEAM_FREE)
def test_a_beam_free_package_loads_no_beam(package):
    modules = _modules(package)
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'apache_beam')))\n"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [], f"{package} loads apache_beam"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_transforms_module_is_a_beam_module():
    modules = sorted(p for p in (ROOT / "transforms").glob("*.py") if p.name != "__init__.py")
    assert [p.name for p in modules if "apache_beam" not in _imports(p)] == []


def test_the_stages_each_have_a_module_of_their_own():
    names = {p.stem for p in (ROOT / "transforms").glob("*.py")} - {"__init__"}
    assert names == {
        "requests",
        "plan",
        "fetch",
        "rows",
        "validate",
        "write",
        "dead_letters",
        "replay",
        "user_tables",
        "archive",
        "imports",
    }
