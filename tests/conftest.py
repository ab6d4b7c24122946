"""Shared fixtures: a database per backend, demo data, AppTest and a browser against a live server.

Database fixtures run every test on a temporary SQLite file and, when TEST_DATABASE_URL is set, on
PostgreSQL too (each test in a schema of its own; a finished test's schema is reset for the next one).
Without TEST_DATABASE_URL the PostgreSQL runs are skipped with a visible reason (pytest runs with -ra).

Migrations and the demo generator run once per test process: `db`, `staff_db`, `demo_db` and `make_demo`
copy a template (tests/support/databases.py), which is as isolated as a database built from scratch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from data.db import Database, open_database
from data.generate import Plan, generate
from data.migrate import upgrade
from tests.support import databases
from tests.support.cases import TODAY  # the demo data's anchor in tests: deterministic (2026-11-26)
from tests.support.databases import PG_ENV, TEMPLATES, Backend, pg_base_url

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite", "postgresql"]


def _pg_schema_url(base: str, schema: str) -> str:
    """`base` with its search_path set to `schema` (for tests that create a schema of their own)."""
    return (
        make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    )


# Fixtures that fill `db_url`'s database from a template: with one of them, db_url only reserves the name.
_FILLED_FROM_TEMPLATE = {"db", "staff_db", "demo_db"}

# Hypothesis fails an example that takes over 200 ms by default: on a loaded 2-core machine that is the
# machine, not the code. Property tests keep their own max_examples; only the deadline is lifted.
settings.register_profile("refund-desk", deadline=None)
settings.load_profile("refund-desk")

__all__ = ["BACKENDS", "PG_ENV", "ROOT", "TODAY", "Backend", "make_demo", "pg_base_url"]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Each run gets its own temporary directory: the shared /tmp/pytest-of-<user>/ is pruned by every other
    pytest run on the machine, and a long run's directories (and its database templates) vanished from under
    it while other runs started. `--basetemp` still wins; xdist workers get a directory inside this one."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        parent = Path(tempfile.gettempdir()) / f"refund-desk-pytest-{os.getuid()}"
        parent.mkdir(mode=0o700, exist_ok=True)
        for old in parent.glob("run-*"):  # a day old: no run lasts that long
            if old.stat().st_mtime < time.time() - 86_400:
                shutil.rmtree(old, ignore_errors=True)
        config.option.basetemp = str(parent / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        config._refund_desk_basetemp = config.option.basetemp


@pytest.fixture(scope="session", autouse=True)
def _test_databases(tmp_path_factory) -> Iterator[None]:
    """Templates live in pytest's temporary directory; at the end, every PostgreSQL test database and
    template of this process is dropped (each test's own is already dropped in its teardown)."""
    TEMPLATES.use_dir(tmp_path_factory.mktemp("templates"))
    yield
    TEMPLATES.finish()


@pytest.fixture(scope="session")
def book():
    """The shipped policy book (today one version, 2024-01-01, with the 7-day window); read once per test
    process (a PolicyBook is immutable: `with_version` returns a new one)."""
    from policy import load_book

    return load_book()


def _backend(request, tmp_path) -> Iterator[Backend]:
    name = request.param
    if name == "postgresql" and not pg_base_url():
        pytest.skip(f"PostgreSQL run skipped: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    b = Backend(name, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    """An isolated-database maker on each backend (SQLite file; PostgreSQL database when configured)."""
    yield from _backend(request, tmp_path)


@pytest.fixture
def db_url(backend: Backend, request) -> str:
    """The URL of an empty, unmigrated database on each backend."""
    return backend.new_url(create=not _FILLED_FROM_TEMPLATE & set(request.fixturenames))


def _open_filled(url: str, key, build) -> Database:
    """The database at `url` as a copy of a template; built in place if something is already there."""
    if not TEMPLATES.fill(url, key, build):
        database = open_database(url)
        build(database)
        return database
    return open_database(url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = _open_filled(db_url, ("migrated",), databases.migrated)
    yield database
    database.dispose()


@pytest.fixture
def staff_db(db_url: str) -> Iterator[Database]:
    """A migrated database with the demo staff only (reviewers, managers Max and Priya, admin Ada; ids as in
    tests.support.intake.USER_ID) and no customers or cases, on each backend."""
    database = _open_filled(db_url, ("staff",), databases.staff)
    yield database
    database.dispose()


def make_demo(url: str, cases: int = 400, seed: int = 11, request_rate: float = 0.05) -> Database:
    """A migrated database with a deterministic demo desk at `url` (a copy of this process's template for
    these parameters when the database is new or empty)."""

    def build(database: Database) -> None:
        upgrade(database.engine)
        generate(database, Plan(cases=cases, seed=seed, request_rate=request_rate, today=TODAY), quiet=True)

    return _open_filled(url, ("demo", cases, seed, request_rate), build)


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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """A selection that matches no test (e.g. `-m browser` on a tree without browser tests) is not a failure.
    The PostgreSQL catalogs the run churned are vacuumed (tests/support/databases.vacuum_catalogs)."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
    if not hasattr(session.config, "workerinput"):  # once a run, after every worker has dropped its schemas
        databases.vacuum_catalogs()
    ours = getattr(session.config, "_refund_desk_basetemp", None)
    if ours and session.exitstatus == pytest.ExitCode.OK:  # a failed run's files stay (a day) for a look
        shutil.rmtree(ours, ignore_errors=True)


# ---- browser tests -------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


from tests.support.browser import browser_page, chromium, live_server, server_factory  # noqa: E402,F401
