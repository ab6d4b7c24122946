"""desk/, policy/ and data/ never reach up into the Streamlit layer (ui/) or the pages."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):  # every import, inside functions too
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


LOWER = sorted(p for folder in ("desk", "policy", "data") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", LOWER, ids=lambda p: str(p.relative_to(ROOT)))
def test_desk_policy_and_data_never_import_ui_or_pages(path):
    upward = {m for m in _imports(path) if m.split(".")[0] in {"ui", "pages", "app"}}
    assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}: the layers go pages -> ui -> desk"
