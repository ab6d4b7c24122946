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
