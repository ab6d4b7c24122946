"""Fast bulk loading for the generator and the importer: executemany on SQLite, COPY on PostgreSQL.

Callers pass columns as equal-length sequences of plain Python values (None for NULL, ISO strings
or `date` for dates, 0/1 or bool for booleans, JSON already serialised to text). Nothing here commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection


def insert_columns(conn: Connection, table: str, columns: dict[str, Sequence], chunk: int = 200_000) -> int:
    names = list(columns)
    cols = [columns[n] for n in names]
    n = len(cols[0]) if cols else 0
    if n == 0:
        return 0
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        for start in range(0, n, chunk):
            cur.executemany(sql, zip(*(c[start : start + chunk] for c in cols)))
        cur.close()
    else:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            copy_sql = f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
            for start in range(0, n, chunk):
                buf = io.StringIO()
                w = csv.writer(buf)
                w.writerows(tuple(_pg(v) for v in row) for row in zip(*(c[start : start + chunk] for c in cols)))
                with cur.copy(copy_sql) as cp:
                    cp.write(buf.getvalue())
    return n


def _pg(v):
    # csv writes None as an empty unquoted field, which COPY reads as NULL.
    if v is True:
        return "t"
    if v is False:
        return "f"
    return v


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


ROLLUP_TABLES = ("decision_rollup", "lead_time_rollup", "case_rollup", "sale_month_rollup", "requested_rollup")


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
