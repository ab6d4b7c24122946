"""Alembic is the only way the schema is made: up, down and up again on every backend."""

import subprocess
import sys
import uuid

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from data.db import ROOT, open_database
from data.migrate import alembic_config, downgrade, upgrade
from tests.support.databases import pg_base_url

TABLES = {"users", "customers", "services", "sales_daily", "cases", "decisions", "case_events"}


def test_migrations_create_every_table_and_drop_them_again(db_url):
    db = open_database(db_url)
    upgrade(db.engine)
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    downgrade(db.engine, "base")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    upgrade(db.engine)
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    db.dispose()


def test_queue_has_a_partial_index_on_open_cases(db):
    names = {ix["name"] for ix in inspect(db.engine).get_indexes("cases")}
    assert {"ix_cases_queue", "ix_cases_opened"} <= names


def test_sqlite_connections_use_wal_and_a_busy_timeout(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_the_queue_sort_migration_goes_down_and_up_with_the_open_cases_searchable(db_url):
    """0013 turns SQLite's FTS5 queue_search into a table with the sort keys and an external-content index
    (PostgreSQL: columns added); down to 0012 and up again, the open cases stay searchable."""
    from desk.queue import QueueFilters, open_cases
    from tests.support.cases import TODAY, add_case

    db = open_database(db_url)
    upgrade(db.engine)
    cid = add_case(db, customer_name="Migrating Mabel", customer_email="mabel@down-up.example")
    closed = add_case(db, customer_name="Migrating Closed", customer_email="closed@down-up.example", status="closed")
    downgrade(db.engine, "0012")
    names = {ix["name"] for ix in inspect(db.engine).get_indexes("cases")}
    assert "ix_cases_queue_assignee_amount" not in names
    with db.engine.connect() as c:
        if db.backend == "sqlite":
            rows = c.exec_driver_sql("SELECT rowid FROM queue_search WHERE queue_search MATCH '\"migrating\"'").all()
        else:
            rows = c.exec_driver_sql(
                "SELECT case_id FROM queue_search WHERE strpos(lower(name), 'migrating') > 0"
            ).all()
    assert [r[0] for r in rows] == [cid]
    upgrade(db.engine)
    with db.engine.connect() as c:
        keys = c.exec_driver_sql(
            "SELECT q.case_id FROM queue_search q JOIN cases c ON c.id = q.case_id WHERE q.due_on = c.due_on "
            "AND q.amount_requested_cents = c.amount_requested_cents AND q.opened_on = c.opened_on"
        ).all()
    assert [k[0] for k in keys] == [cid]
    for text in ("mabel", "MI", "down-up"):
        rows = open_cases(db, actor=None, filters=QueueFilters(text=text, sort="customer"), today=TODAY).rows
        assert [r.case_id for r in rows] == [cid] and closed != cid
    db.dispose()


MIGRATE = (
    "import sys; from data.db import open_database; from data.migrate import upgrade; "
    "upgrade(open_database(sys.argv[1]).engine)"
)


@pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL")
def test_two_servers_migrating_one_fresh_postgresql_database_at_once_both_start():
    """Two app servers started together on a new database both run the migrations. Without the lock in
    migrations/env.py one of them failed (CI: `CREATE EXTENSION IF NOT EXISTS pg_trgm` → duplicate key in
    pg_extension, then duplicate tables); with it the second waits and finds the schema at head.
    A database of its own: a fresh one has no pg_trgm yet, which is where the race was."""
    base = make_url(pg_base_url())
    name = f"rdt_migrate_race_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        # two processes, as two servers are (Alembic's `context` is process-global: threads would share it)
        servers = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for _ in range(2)
        ]
        outputs = [s.communicate(timeout=180)[0].decode(errors="replace") for s in servers]
        assert [s.returncode for s in servers] == [0, 0], outputs
        database = open_database(url)
        try:
            with database.engine.connect() as c:
                version = c.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
                assert c.exec_driver_sql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").scalar() == 1
            assert version == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
            assert set(inspect(database.engine).get_table_names()) >= TABLES
        finally:
            database.dispose()
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
