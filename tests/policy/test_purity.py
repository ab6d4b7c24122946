"""policy/ is pure: it imports only the standard library, reads no clock, and only the loader and the
command line touch files."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "policy"
SOURCES = sorted(PACKAGE.rglob("*.py"))
FORBIDDEN_TOP_LEVEL = {
    "app",
    "data",
    "desk",
    "pages",
    "migrations",
    "streamlit",
    "sqlalchemy",
    "pandas",
    "numpy",
    "alembic",
    "psycopg",
    "plotly",
    "faker",
}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file (relative imports stay inside the package)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_has_sources():
    assert {p.name for p in SOURCES} >= {"__init__.py", "__main__.py", "rules.py", "book.py", "facts.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_policy_imports_only_the_standard_library(path):
    outside = {name for name in imported_modules(path) if name not in sys.stdlib_module_names} - {"policy"}
    assert not outside, f"{path.name} imports {sorted(outside)}"


def test_importing_policy_loads_nothing_from_the_rest_of_the_project():
    code = "import json, sys, policy; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert not loaded & FORBIDDEN_TOP_LEVEL


CLOCK_CALLS = {"today", "now", "utcnow", "time", "monotonic", "perf_counter"}
IO_NAMES = {
    "open",
    "print",
    "input",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "stdin",
    "stdout",
    "stderr",
    "environ",
    "getenv",
}
# The loader reads the version files; the command line reads stdin and writes stdout. Nothing else may.
IO_ALLOWED = {"book.py": {"read_bytes"}, "__main__.py": {"print", "stdin", "stdout", "stderr"}}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_policy_reads_no_clock_and_does_no_io_outside_the_loader_and_the_cli(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & CLOCK_CALLS, f"{path.name} uses {sorted(names & CLOCK_CALLS)}"
    io = names & IO_NAMES - IO_ALLOWED.get(path.name, set())
    assert not io, f"{path.name} uses {sorted(io)}"
