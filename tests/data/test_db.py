"""PostgreSQL session limits set by data.db.make_engine: statement timeout for reads, lock and idle-in-transaction
timeouts for every session, each configurable, and a plain message for the user when one fires."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from data.db import open_database, pg_limits, timeout_message
from data.migrate import upgrade
from desk.errors import DeskBusy
from tests.conftest import Backend, pg_base_url

needs_pg = pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL")
SHORT = {"statement_timeout": "300ms", "lock_timeout": "300ms", "idle_in_transaction_session_timeout": "400ms"}


def test_the_defaults_and_the_environment_set_the_limits(monkeypatch):
    assert pg_limits() == {
        "statement_timeout": "15s",
        "write_statement_timeout": "0",
        "lock_timeout": "5s",
        "idle_in_transaction_session_timeout": "60s",
    }
    monkeypatch.setenv("REFUND_DESK_PG_LOCK_TIMEOUT", "2 s")
    assert pg_limits()["lock_timeout"] == "2s"
    monkeypatch.setenv("REFUND_DESK_PG_STATEMENT_TIMEOUT", "fifteen")
    with pytest.raises(ValueError, match="REFUND_DESK_PG_STATEMENT_TIMEOUT must be a duration"):
        pg_limits()


@pytest.fixture
def pg_url(tmp_path):
    """An empty schema on the test PostgreSQL (these limits exist on PostgreSQL only)."""
    if not pg_base_url():
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL")
    backend = Backend("postgresql", tmp_path)
    yield backend.new_url()
    backend.cleanup()


@needs_pg
def test_every_session_gets_the_limits_and_a_write_its_own_statement_timeout(pg_url):
    db = open_database(pg_url, pg_limits={**SHORT, "write_statement_timeout": "7s"})
    with db.read() as s:
        shown = {n: s.execute(text(f"SHOW {n}")).scalar() for n in SHORT}
    assert shown == {
        "statement_timeout": "300ms",
        "lock_timeout": "300ms",
        "idle_in_transaction_session_timeout": "400ms",
    }
    with db.write.begin() as s:
        assert s.execute(text("SHOW statement_timeout")).scalar() == "7s"
    with db.read() as s:  # SET LOCAL: the pooled connection is back to the read limit
        assert s.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    assert db.engine.pool.size() == 5  # documented pool per server (docs/deployment.md)
    db.dispose()


@needs_pg
def test_a_slow_read_is_stopped_with_a_message_for_the_user(pg_url):
    db = open_database(pg_url, pg_limits=SHORT)
    with pytest.raises(DBAPIError) as err, db.read() as s:
        s.execute(text("SELECT pg_sleep(2)"))
    message = timeout_message(err.value, pg_limits(SHORT))
    assert message.startswith("The database took longer than 300 milliseconds to answer")
    assert "nothing was changed" in message
    db.dispose()


@needs_pg
def test_a_write_waiting_on_a_lock_gives_up_with_a_message(pg_url):
    migrating = open_database(pg_url)  # the migrations themselves run without the short limits
    upgrade(migrating.engine)
    migrating.dispose()
    db = open_database(pg_url, pg_limits=SHORT)
    with db.write.begin() as s:
        s.execute(text("INSERT INTO rollup_pause (id, note) VALUES (1, 'held')"))
    holder = db.engine.connect()
    holder.execute(text("SELECT * FROM rollup_pause WHERE id = 1 FOR UPDATE"))
    try:
        # desk.errors.DeskBusy: the desk's own "busy, try again" error, chained to the driver's LockNotAvailable
        with pytest.raises((DBAPIError, DeskBusy)) as err, db.write.begin() as s:
            s.execute(text("UPDATE rollup_pause SET note = 'mine' WHERE id = 1"))
    finally:
        holder.rollback()
        holder.close()
    assert timeout_message(err.value, pg_limits(SHORT)).startswith(
        "Someone else was changing the same records for more than 300 milliseconds"
    )
    db.dispose()


@needs_pg
def test_a_transaction_left_idle_is_closed_by_the_server_with_a_message(pg_url):
    db = open_database(pg_url, pg_limits=SHORT)
    with pytest.raises(DBAPIError) as err, db.read() as s:
        s.execute(text("SELECT 1"))
        time.sleep(1.5)  # idle inside the transaction for longer than the 400 ms the server allows
        s.execute(text("SELECT 1"))
    assert "idle inside a transaction for more than 400 milliseconds" in timeout_message(err.value, pg_limits(SHORT))
    db.dispose()


def _busy_page():
    import os

    import streamlit as st
    from sqlalchemy import text

    from data.db import open_database
    from desk.errors import DatabaseNotReady
    from ui.errors import reported

    db = open_database(os.environ["LIMITS_URL"], pg_limits={"statement_timeout": "200ms"})
    with reported("reading"), db.read() as s:
        s.execute(text("SELECT pg_sleep(2)"))
    with reported("analytics"):  # desk/analytics.py wraps database errors; the cause still counts
        try:
            with db.read() as s:
                s.execute(text("SELECT pg_sleep(2)"))
        except Exception as exc:
            raise DatabaseNotReady("The analytics tables are missing") from exc
    st.write("after")
    db.dispose()


@needs_pg
def test_a_page_shows_a_timeout_as_a_warning_not_an_error_id(pg_url, monkeypatch):
    monkeypatch.setenv("LIMITS_URL", pg_url)
    monkeypatch.setenv("REFUND_DESK_PG_STATEMENT_TIMEOUT", "200ms")  # what the message quotes
    monkeypatch.setenv("REFUND_DESK_RAISE_ERRORS", "1")  # even in tests' mode it is a message, not an exception
    at = AppTest.from_function(_busy_page, default_timeout=60).run()
    assert not at.exception and not at.error
    assert [w.value for w in at.warning] == [
        "The database took longer than 200 milliseconds to answer, so the request was stopped and nothing was "
        "changed. Narrow it (for example a shorter date range) or try again in a minute."
    ] * 2
    assert at.markdown[-1].value == "after"


def test_other_errors_are_not_timeouts():
    assert timeout_message(ValueError("x")) is None
    assert timeout_message(RuntimeError("database is locked")) is None


@needs_pg
def test_migrations_are_not_cut_short_by_the_read_timeout_and_leave_it_in_place(pg_url):
    db = open_database(pg_url, pg_limits={"statement_timeout": "1ms"})
    upgrade(db.engine)  # dozens of DDL statements and trigger functions: each well over 1 ms
    with db.read() as s:  # the same pooled connection: SET LOCAL ended with the migration's transaction
        assert s.execute(text("SHOW statement_timeout")).scalar() == "1ms"
    db.dispose()
    with open_database(pg_url).read() as s:
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar()


@needs_pg
def test_a_statement_cancelled_by_an_operator_is_not_called_a_timeout(pg_url):
    db = open_database(pg_url)
    with pytest.raises(DBAPIError) as err, db.read() as s:
        s.execute(text("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(1)"))
    assert "user request" in str(err.value) and timeout_message(err.value) is None
    db.dispose()
