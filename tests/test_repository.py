"""The repository itself: no unresolved merge conflicts in any tracked file, and the README's layout section
names what is really there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Built from pieces so this file never holds a marker at the start of a line itself.
_OPEN, _BASE, _CLOSE, _MID = "<" * 7, "|" * 7, ">" * 7, "=" * 7
_MARKER = re.compile(rf"^(?:{re.escape(_OPEN)}|{re.escape(_BASE)}|{re.escape(_CLOSE)})(?: |$)", re.MULTILINE)
_SEPARATOR = re.compile(rf"^{_MID}$", re.MULTILINE)


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [p for p in out.stdout.split("\0") if p]


def conflict_lines(text: str) -> list[int]:
    """Line numbers of merge-conflict markers (a lone ======= counts only next to the other markers)."""
    hits = [m.start() for m in _MARKER.finditer(text)]
    if hits:
        hits += [m.start() for m in _SEPARATOR.finditer(text)]
    return sorted(text.count("\n", 0, pos) + 1 for pos in hits)


def test_conflict_markers_are_found():
    text = f"intro\n{_OPEN} HEAD\nours\n{_MID}\ntheirs\n{_CLOSE} branch\n"
    assert conflict_lines(text) == [2, 4, 6]
    assert conflict_lines("Title\n=======\n\nA setext heading is not a conflict.\n") == []


def test_no_tracked_file_holds_merge_conflict_markers():
    found = []
    for name in tracked_files():
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (screenshots) and files deleted in the work tree
        found += [f"{name}:{line}" for line in conflict_lines(text)]
    assert not found, f"unresolved merge conflicts at {', '.join(found)}"


def _layout_entries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines() if line and not line.startswith(" ")]


def test_the_readme_layout_lists_every_top_level_part_and_nothing_that_is_not_there():
    entries = _layout_entries()
    for entry in entries:
        assert (ROOT / entry).exists(), f"README layout names {entry}, which does not exist"
    listed = {e.rstrip("/").split("/")[0] for e in entries}
    tops = {name.split("/")[0] for name in tracked_files()}
    config = {
        ".gitignore",
        ".git-blame-ignore-revs",
        "alembic.ini",
        "pyproject.toml",
        "requirements.txt",
        "requirements-dev.txt",
        "README.md",
    }
    missing = sorted(tops - listed - config)
    assert not missing, f"README layout does not mention {missing}"


def test_every_screen_labels_a_reason_service_type_or_outcome_with_the_one_vocabulary():
    """Labels for the same value once differed between screens ("Mistake on our side", "Our mistake",
    "Our error"): no module of desk/, ui/ or pages/ keeps its own table of labels for these codes."""
    import ast

    from policy.vocabulary import OUTCOMES, REASONS, SERVICE_TYPES

    codes = set(REASONS) | set(SERVICE_TYPES) | set(OUTCOMES)
    offenders = []
    for folder in ("desk", "ui", "pages"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Dict):
                    continue
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                labels = [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
                if len(set(keys) & codes) >= 3 and len(labels) >= 3 and not str(labels[0].value).startswith("#"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"label tables outside policy/vocabulary.py: {offenders}"


def test_the_readme_role_table_is_the_desk_s_permission_table():
    from desk.auth import PERMISSIONS

    rows = {
        "queue, case page, checker": "view_cases",
        "assign, note, fix attempt, decide": "act_on_case",
        "approve / reject an exception (never their own)": "approve_exception",
        "what-if replay of a draft policy (What-if replay page)": "replay_policy",
        "analytics": "view_analytics",
        "import data page": "import_data",
        "users and roles page": "manage_users",
    }
    readme = (ROOT / "README.md").read_text()
    table = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in rows:
            table[rows[cells[0]]] = {r for r, c in zip(("reviewer", "manager", "admin"), cells[1:]) if c != "no"}
    assert set(table) == set(rows.values()), "a row of the README's role table is missing"
    assert table == {p: set(PERMISSIONS[p]) for p in table}
    assert "own numbers only" in readme and "reviewer" not in PERMISSIONS["view_all_analytics"]


_DOC_PATH = re.compile(r"`((?:app\.py|(?:pages|policy|desk|data|ui|tests|docs|migrations|benchmarks)/[\w./<>*-]*))`")
_DOC_MODULE = re.compile(r"`((?:policy|desk|data|ui)\.[\w.]+)")


def _exists(path: str) -> bool:
    if "<" in path or "NNNN" in path:  # a pattern: its folder must exist
        return (ROOT / path.split("<")[0].split("NNNN")[0]).parent.exists()
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def _names_exist(dotted: str) -> bool:
    """`desk.changes.record_change`: the longest module prefix exists and every further name is defined in it
    (a package works as well as a module: desk.analytics may be either)."""
    import importlib

    parts = dotted.rstrip(".").split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_every_path_and_module_docs_developing_names_exists():
    text = (ROOT / "docs" / "developing.md").read_text()
    paths = sorted(set(_DOC_PATH.findall(text)))
    modules = sorted({m for m in _DOC_MODULE.findall(text) if not m.endswith((".py", ".md"))})
    assert "pages/replay.py" in paths and "desk.changes.record_change" in modules  # the pattern finds them
    assert [p for p in paths if not _exists(p)] == []
    assert [m for m in modules if not _names_exist(m)] == []


@pytest.mark.parametrize(
    "module, names",
    [
        ("policy.rules", ["RULES", "matching_row", "CITATION_VARIANTS", "evaluate"]),
        ("desk.status", ["TRANSITIONS"]),
        ("desk.audit", ["describe", "bumps_version"]),
        ("data.models", ["DUE_DAYS", "VERDICT_SERVICE_COLUMNS", "SERVICE_DATE_COLUMN", "EFFECTIVE_APPROVAL_STATUSES"]),
    ],
)
def test_the_names_docs_developing_gives_without_a_module_are_where_it_says(module, names):
    import importlib

    text = (ROOT / "docs" / "developing.md").read_text()
    found = importlib.import_module(module)
    for name in names:
        assert f"`{name}" in text, name
        assert hasattr(found, name) or any(hasattr(c, name) for c in vars(found).values() if isinstance(c, type))
