"""The shape holds: pages -> desk -> (policy, data); pages stay thin; customer text stays inert."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("pages"), ids=lambda p: p.name)
def test_pages_never_touch_sql_or_the_data_layer(path):
    bad = {m for m in _imports(path) if m.split(".")[0] in {"sqlalchemy", "data"}}
    assert not bad, f"{path.name} imports {bad}: go through desk/"


@pytest.mark.parametrize("path", _files("pages"), ids=lambda p: p.name)
def test_every_page_starts_with_its_guard(path):
    tree = ast.parse(path.read_text())
    body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr))]
    first = body[0]
    assert isinstance(first, ast.Assign) and isinstance(first.value, ast.Call), f"{path.name}: first statement"
    assert getattr(first.value.func, "id", None) == "guard", f"{path.name} must start with ctx = guard(...)"


@pytest.mark.parametrize("path", _files("pages") + [ROOT / "app.py"], ids=lambda p: p.name)
def test_no_page_renders_raw_html(path):
    src = path.read_text()
    assert "unsafe_allow_html" not in src and "st.html(" not in src, f"{path.name} renders raw HTML"


@pytest.mark.parametrize("path", _files("desk") + _files("data") + _files("policy"), ids=lambda p: p.name)
def test_desk_data_and_policy_work_without_streamlit(path):
    assert not {m for m in _imports(path) if m.split(".")[0] == "streamlit"}, f"{path} imports streamlit"


@pytest.mark.parametrize("path", [p for p in _files("data") if p.name != "generate.py"], ids=lambda p: p.name)
def test_the_data_layer_imports_neither_policy_nor_desk(path):
    upward = {m for m in _imports(path) if m.split(".")[0] in {"policy", "desk"}}
    # `python -m data.importer` and `python -m data.bootstrap` hand over to the desk's use case, in main only
    shims = {"importer.py": {"desk.imports"}, "bootstrap.py": {"desk.bootstrap"}}
    if path.name in shims:
        assert upward <= shims[path.name], f"{path} reaches upward"
        tree = ast.parse(path.read_text())
        rest = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == "main")]
        upward = {m for n in rest for m in _imports_in(n) if m.split(".")[0] in {"policy", "desk"}}
    assert not upward, f"{path} reaches upward"


def _imports_in(node: ast.AST) -> set[str]:
    return {a.name for n in ast.walk(node) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom) and n.module
    }


def test_the_database_and_the_policy_speak_the_same_vocabulary():
    """data/ may not import policy/, so the enums live twice; they must never drift apart."""
    import data.models as m
    import policy as p

    assert m.SERVICE_TYPES == p.SERVICE_TYPES
    assert m.SERVICE_STATUSES == p.SERVICE_STATUSES
    assert m.REASONS == p.REASONS
    assert m.OUTCOMES == p.OUTCOMES
    assert m.CYCLES == p.CYCLES
