"""Alembic is the only way the schema is made: up, down and up again on every backend."""

from sqlalchemy import inspect

from data.db import open_database
from data.migrate import downgrade, upgrade

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
