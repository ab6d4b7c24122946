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


# ---- tests mirror modules --------------------------------------------------------------------------------

# Modules of policy/, desk/ and data/ with logic whose tests are not (yet) in a file named after them, and where
# they are instead. Naming a test file after one of these takes it off the list (the test below insists).
TESTED_ELSEWHERE = {
    "desk/audit.py": "tests/desk/test_cases.py: every write's test reads the event it records",
    "desk/bootstrap.py": "tests/test_architecture.py: a command line handing over to the generator (make run)",
    "desk/changes.py": "tests/desk/test_cases.py: record_change through each write (version bump, stale case)",
    "desk/charts.py": "tests/pages/test_analytics_page.py: the figures as the analytics page draws them",
    "desk/config.py": "tests/desk/test_documents.py: the document limits (the SMTP settings: test_outbox.py)",
    "desk/errors.py": "tests/ui/test_errors.py: the exceptions; is_busy in tests/data/test_db.py",
    "desk/home.py": "tests/pages/test_home.py: the home page's numbers",
    "desk/policy_store.py": "tests/desk/test_policy_changes.py: versions stored in the database",
    "desk/presence.py": "tests/desk/test_workbench.py: who else has a case open",
    "desk/replies.py": "tests/desk/test_outbox.py: a decision's reply and its delivery",
    "desk/review.py": "tests/desk/test_analytics_review.py: named by the analytics (kept: other work edits it)",
    "desk/rows.py": "tests/desk/test_cases.py: must_get, the NotFound of every desk read and write",
    "desk/settings.py": "tests/desk/test_history.py: the frequent-requester threshold",
    "desk/status.py": "tests/desk/test_decisions.py: TRANSITIONS through decide, approve, reject (reopen too)",
    "desk/users.py": "tests/desk/test_auth.py: roles and users with the permissions they give",
    "data/bootstrap.py": "tests/test_architecture.py: a shim for `python -m data.bootstrap` (desk/bootstrap.py)",
    "data/demo_documents.py": "tests/desk/test_documents.py: demo files the document tests upload",
    "data/migrate.py": "tests/data/test_migrations.py: the chain up, down and up through upgrade/downgrade",
    "data/models.py": "tests/test_architecture.py: the vocabulary; the models through every database test",
}


def _has_logic(path: Path) -> bool:
    """A function or method other than a dunder: a module of constants or exception classes has nothing to test."""
    import ast

    return any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("__")
        for n in ast.walk(ast.parse(path.read_text()))
    )


def _named_tests(path: Path) -> list[Path]:
    """tests/<layer>/test_<module>.py or test_<module>_<aspect>.py; a package's modules share the package's name
    (desk/analytics/queries.py: tests/desk/test_analytics*.py); policy/__main__.py is test_main.py."""
    layer, *rest = path.relative_to(ROOT).parts
    name = rest[0] if len(rest) > 1 else path.stem.strip("_")
    folder = ROOT / "tests" / layer
    return [p for p in [folder / f"test_{name}.py", *sorted(folder.glob(f"test_{name}_*.py"))] if p.exists()]


def test_every_policy_desk_and_data_module_with_logic_has_a_tests_file_named_after_it():
    modules = [
        p
        for layer in ("policy", "desk", "data")
        for p in sorted((ROOT / layer).rglob("*.py"))
        if p.name != "__init__.py" and _has_logic(p)
    ]
    assert len(modules) > 40  # the walk found the layers
    untested = [str(p.relative_to(ROOT)) for p in modules if not _named_tests(p)]
    assert sorted(set(untested) - set(TESTED_ELSEWHERE)) == [], "add tests/<layer>/test_<module>.py"
    assert sorted(set(TESTED_ELSEWHERE) - set(untested)) == [], "these have their own tests file now: unlist them"
    for module, where in TESTED_ELSEWHERE.items():
        tests_file = where.split(":")[0]
        assert (ROOT / tests_file).exists(), f"{module}: {tests_file} does not exist"
