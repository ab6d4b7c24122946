"""Shared fixtures: a database per backend, demo data, AppTest and a browser against a live server.

Database fixtures run every test on a temporary SQLite file and, when TEST_DATABASE_URL is set, on
PostgreSQL too (each test in its own schema). Without TEST_DATABASE_URL the PostgreSQL runs are
skipped with a visible reason (pytest runs with -ra).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data.db import Database, open_database
from data.generate import Plan, generate
from data.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 26)  # the demo data's anchor in tests: deterministic
PG_ENV = "TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _pg_schema_url(base: str, schema: str) -> str:
    return (
        make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    )


class Backend:
    """Creates and drops isolated databases: a SQLite file, or a PostgreSQL schema."""

    def __init__(self, name: str, tmp_path: Path):
        self.name = name
        self.tmp_path = tmp_path
        self._schemas: list[str] = []

    def new_url(self) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{self.tmp_path / f'desk-{uuid.uuid4().hex[:8]}.db'}"
        base = pg_base_url()
        assert base
        schema = f"t_{uuid.uuid4().hex[:12]}"
        eng = create_engine(base, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng.dispose()
        self._schemas.append(schema)
        return _pg_schema_url(base, schema)

    def cleanup(self) -> None:
        if not self._schemas:
            return
        eng = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            for schema in self._schemas:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def _backend(request, tmp_path) -> Iterator[Backend]:
    name = request.param
    if name == "postgresql" and not pg_base_url():
        pytest.skip(f"PostgreSQL run skipped: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    b = Backend(name, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    """An isolated-database maker on each backend (SQLite file; PostgreSQL schema when configured)."""
    yield from _backend(request, tmp_path)


@pytest.fixture
def db_url(backend: Backend) -> str:
    """The URL of an empty, unmigrated database on each backend."""
    return backend.new_url()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = open_database(db_url)
    upgrade(database.engine)
    yield database
    database.dispose()


def make_demo(url: str, cases: int = 400, seed: int = 11, request_rate: float = 0.05) -> Database:
    database = open_database(url)
    upgrade(database.engine)
    generate(database, Plan(cases=cases, seed=seed, request_rate=request_rate, today=TODAY), quiet=True)
    return database


@pytest.fixture
def demo_db(db_url: str) -> Iterator[Database]:
    """A migrated database with a small deterministic demo desk (400 cases) on each backend."""
    database = make_demo(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def sqlite_demo_url(tmp_path_factory) -> str:
    """One shared SQLite demo database for read-only tests (AppTest, browser). Do not write to it."""
    path = tmp_path_factory.mktemp("shared") / "demo.db"
    url = f"sqlite:///{path}"
    make_demo(url).dispose()
    return url


@pytest.fixture
def app_env(monkeypatch):
    """Point the Streamlit layer at a database and pin today's date; clears Streamlit caches."""
    import streamlit as st

    def _set(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("REFUND_DESK_TODAY", TODAY.isoformat())
        monkeypatch.setenv("REFUND_DESK_RAISE_ERRORS", "1")  # a crashing page shows in at.exception

    from streamlit import config

    # .streamlit/config.toml hides error details from users; tests want them in at.exception.
    shown = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    st.cache_data.clear()
    st.cache_resource.clear()
    yield _set
    st.cache_data.clear()
    st.cache_resource.clear()
    config.set_option("client.showErrorDetails", shown)


@pytest.fixture
def app(app_env, sqlite_demo_url, monkeypatch):
    """A factory for AppTest runs of app.py against the shared SQLite demo database.

    AppTest resets Streamlit's legacy `pages/` mode before every run, so each run would start as a fresh
    server's first request (which the guard answers with a rerun, dropping a button's click). A real server
    leaves that mode once, on its first request; here it is left from the start. The first-request trap
    itself is tested in the browser against fresh servers (tests/browser/test_sign_in.py).
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original_init = PagesManager.__init__

    def _init_without_legacy_mode(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", _init_without_legacy_mode)
    app_env(sqlite_demo_url)

    def _make(url: str | None = None) -> AppTest:
        if url:
            app_env(url)
        return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)

    return _make


# ---- browser tests -------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


from tests.support.browser import browser_page, chromium, live_server, server_factory  # noqa: E402,F401
