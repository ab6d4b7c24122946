"""Fast bulk loading for the generator and the importer: executemany on SQLite, COPY on PostgreSQL.

Callers pass columns as equal-length sequences of plain Python values (None for NULL, ISO strings
or `date` for dates, 0/1 or bool for booleans, JSON already serialised to text). Nothing here commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager

from sqlalchemy import Connection


def insert_columns(conn: Connection, table: str, columns: dict[str, Sequence], chunk: int = 200_000) -> int:
    with loader(conn, table, chunk) as load:
        return load(columns)


@contextmanager
def loader(conn: Connection, table: str, chunk: int = 200_000) -> Iterator[Callable[[dict[str, Sequence]], int]]:
    """`with loader(conn, table) as load:` then `load(columns)` for each part of the rows (a dict of columns as
    `insert_columns` takes, the same names each time). On PostgreSQL the parts go into ONE COPY whose data a
    worker thread sends while the caller makes the next part: the server parses one part while Python builds
    the next, on another core. The COPY ends (and its errors show) when the block does."""
    if conn.dialect.name == "sqlite":
        cur = conn.connection.driver_connection.cursor()

        def load_sqlite(columns: dict[str, Sequence]) -> int:
            names = list(columns)
            cols = [columns[n] for n in names]
            n = len(cols[0]) if cols else 0
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            for start in range(0, n, chunk):
                cur.executemany(sql, zip(*(c[start : start + chunk] for c in cols)))
            return n

        try:
            yield load_sqlite
        finally:
            cur.close()
        return
    from psycopg.copy import QueuedLibpqWriter

    with conn.connection.driver_connection.cursor() as cur, ExitStack() as stack:
        copies = []

        def load_pg(columns: dict[str, Sequence]) -> int:
            names = list(columns)
            cols = [columns[n] for n in names]
            n = len(cols[0]) if cols else 0
            if n == 0:
                return 0
            if not copies:  # the COPY opens with the first rows (an empty load sends nothing)
                copy_sql = f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
                copies.append(stack.enter_context(cur.copy(copy_sql, writer=QueuedLibpqWriter(cur))))
            # Python's True/False are written as True/False, which PostgreSQL reads as booleans (as it does 1/0);
            # None becomes an empty unquoted field, which COPY reads as NULL
            for start in range(0, n, chunk):
                buf = io.StringIO()
                csv.writer(buf).writerows(zip(*(c[start : start + chunk] for c in cols)))
                copies[0].write(buf.getvalue())
            return n

        yield load_pg


def reset_sequences(conn: Connection, tables: Sequence[str]) -> None:
    """After loading explicit ids with COPY, move PostgreSQL's id sequences past them."""
    if conn.dialect.name != "postgresql":
        return
    for t in tables:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
        )


def pause_rollups(conn: Connection, note: str) -> None:
    """Before loading many cases or decisions: the analytics rollup triggers stop doing per-row work.
    Call `resume_rollups` in the same transaction (migration 0002 explains the protocol)."""
    from data.models import rollup_pause

    conn.execute(rollup_pause.insert().values(id=1, note=note[:200]))


ROLLUP_TABLES = (
    "decision_rollup",
    "lead_time_rollup",
    "case_rollup",
    "sale_month_rollup",
    "requested_rollup",
    "decision_state_rollup",
)


def resume_rollups(conn: Connection) -> None:
    """After the load: the rollups are rebuilt from the tables (by a database trigger) and the per-row
    triggers work again.

    PostgreSQL: other transactions do not see this one's pause, so their triggers keep upserting rollup rows
    while the rebuild runs; one that committed mid-rebuild was counted twice or failed the rebuild on
    ``pk_decision_rollup``. So the rebuild first locks the rollup tables against writers (SHARE ROW
    EXCLUSIVE: readers go on): it waits for writers in flight to commit, and writers that come later wait
    for this transaction, then add their rows to the rebuilt rollups. Bulk loads that pause are for loads
    no reviewer waits on (an empty database, a migration); the importer keeps the triggers on there."""
    from data.models import rollup_pause

    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"LOCK TABLE {', '.join(ROLLUP_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
    conn.execute(rollup_pause.delete())


@contextmanager
def rollups_paused(conn: Connection, note: str) -> Iterator[None]:
    """`with rollups_paused(conn, "why"):` load inside; on leaving the rollups are rebuilt. Use it inside
    the load's own transaction, so no other connection ever sees the rollups stale."""
    pause_rollups(conn, note)
    yield
    resume_rollups(conn)
