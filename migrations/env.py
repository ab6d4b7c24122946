"""Alembic environment: the only way the schema is created or changed."""

from logging.config import fileConfig

from alembic import context

from data.db import make_engine, resolve_url
from data.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=resolve_url(config.get_main_option("sqlalchemy.url")),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


# Two app servers started at once on a fresh PostgreSQL database both run the migrations: without a lock both
# create the same tables (and `CREATE EXTENSION IF NOT EXISTS pg_trgm` fails in one with a unique violation).
# A transaction-level advisory lock makes the second wait for the first and then find the schema at head.
MIGRATION_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('refund-desk migrations'))"


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # The app's read statement_timeout and lock_timeout (data/db.py) must not cut a long migration (or the
            # wait for another server's) short; SET LOCAL ends with this transaction, so the pooled connection
            # keeps its limits afterwards.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
            connection.exec_driver_sql(MIGRATION_LOCK_SQL)
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
