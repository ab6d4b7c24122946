"""A database that becomes unreadable mid-session (a corrupt SQLite file) shows the error-id page on every
path through sign-in: app.py in local mode, app.py in sign-in (OIDC) mode, and a page script run on its own
(a fresh server's first request) — never Streamlit's generic message, never data, never a menu.

These tests unset REFUND_DESK_RAISE_ERRORS (the app fixture sets it so that crashes reach at.exception):
here the point is what the user sees when something unexpected fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from tests.pages.test_auth_pages import AUTH
from ui.errors import RAISE_ENV

ROOT = Path(__file__).resolve().parents[2]
ERROR_ID = re.compile(r"error id \*\*[0-9A-F]{4}-[0-9A-F]{4}\*\*")


@pytest.fixture
def desk_file(sqlite_demo_url, tmp_path) -> Path:
    """A private copy of the shared demo database file (it is about to be corrupted)."""
    target = tmp_path / "desk.db"
    shutil.copy(make_url(sqlite_demo_url).database, target)
    return target


def corrupt(path: Path) -> None:
    """Overwrite the database file and its WAL files in place (same inodes: the open connections see it;
    SQLite notices through the WAL index instead of answering from its page cache)."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            size = part.stat().st_size
            with part.open("r+b") as f:
                f.write(os.urandom(size))


def shows_only_an_error_id(at: AppTest) -> str:
    assert not at.exception, at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    message = at.error[0].value
    assert ERROR_ID.search(message), message
    assert not at.metric and not at.dataframe and not at.sidebar.selectbox and not at.tabs
    return message


def test_local_mode_a_database_corrupted_mid_session_shows_an_error_id(app, desk_file, monkeypatch, capfd):
    at = app(f"sqlite:///{desk_file}").run()
    assert not at.exception and at.metric  # the desk works
    corrupt(desk_file)
    monkeypatch.delenv(RAISE_ENV)
    at.run()
    message = shows_only_an_error_id(at)
    error_id = re.search(r"[0-9A-F]{4}-[0-9A-F]{4}", message).group(0)
    log = capfd.readouterr().err
    assert f"error id {error_id} while signing in" in log and "DatabaseError" in log  # the details: server-side


def test_sign_in_mode_a_database_corrupted_mid_session_shows_an_error_id(app, desk_file, monkeypatch):
    at = app(f"sqlite:///{desk_file}")
    at.secrets = {"auth": dict(AUTH)}
    at.user = {"is_logged_in": True, "email": "ada@refund-desk.example", "email_verified": True}
    at.run()
    assert not at.exception and at.metric
    corrupt(desk_file)
    monkeypatch.delenv(RAISE_ENV)
    at.run()
    shows_only_an_error_id(at)


def test_a_page_run_without_app_py_on_a_corrupt_database_shows_an_error_id(app, desk_file, monkeypatch):
    """A fresh server's first request can run a page script directly: its guard signs in on its own."""
    app(f"sqlite:///{desk_file}")  # points the Streamlit layer at the copy
    corrupt(desk_file)
    monkeypatch.delenv(RAISE_ENV)
    at = AppTest.from_file(str(ROOT / "pages" / "queue.py"), default_timeout=30).run()
    shows_only_an_error_id(at)
