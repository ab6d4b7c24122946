"""Fast bulk loading for the generator and the importer: executemany on SQLite, COPY on PostgreSQL.

Callers pass columns as equal-length sequences of plain Python values (None for NULL, ISO strings
or `date` for dates, 0/1 or bool for booleans, JSON already serialised to text). Nothing here commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Days:
    """A column of dates as day numbers since 1970-01-01 (`mask` False: NULL), for `binary_loader`."""

    days: np.ndarray
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class Stamps:
    """A column of timestamps: day numbers since 1970-01-01 and whole seconds into the day (`mask` False: NULL)."""

    days: np.ndarray
    seconds: np.ndarray
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class Codes:
    """A column of strings as codes into `values` (a value None: NULL), for `binary_loader`."""

    codes: np.ndarray
    values: Sequence[str | None]


@dataclass(frozen=True)
class Maybe:
    """An integer or boolean array with NULLs where `mask` is False."""

    values: np.ndarray
    mask: np.ndarray


# A binary_loader column: integers or booleans (a numpy array), Maybe, Days, Stamps, Codes, or a list of
# str | None (any text).
Column = np.ndarray | Maybe | Days | Stamps | Codes | list


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


# ---- whole-array loading: the rows never become Python values on PostgreSQL ----------------------------
#
# COPY's text format costs twice per value: Python makes a str for it (and csv.writer a line per row), and
# the server parses it back (date_in is the slow one: a services row has up to seven dates). The binary
# format is written here from the numpy arrays at once, a few passes over bytes per column: each column
# becomes a matrix of its fields (a 4-byte big-endian length, -1 for NULL, then the value), padded to its
# widest field; the matrices side by side, the padding is dropped with one boolean mask (row-major order
# keeps each row's fields in order). On SQLite the same columns become the lists executemany binds.

_PG_DAYS = 10_957  # PostgreSQL's binary dates count days from 2000-01-01 (timestamps: microseconds)
_PG_INT = {"smallint": ">i2", "integer": ">i4", "bigint": ">i8", "boolean": "u1"}
_PG_TEXT = ("character varying", "text", "json")
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # flags 0, no header extension
_PG_TRAILER = b"\xff\xff"
_NULL = np.frombuffer(b"\xff\xff\xff\xff", dtype=np.uint8)
_BLOCK = 65_536  # rows encoded at a time (a block of decisions' verdicts is a ~90 MB matrix)


def _day_table(days: np.ndarray, fmt: Callable[[np.ndarray], list]) -> tuple[np.ndarray, int, int]:
    lo = int(days.min()) if days.size else 0
    span = int(days.max()) - lo + 1 if days.size else 0
    return np.array(fmt(np.arange(lo, lo + span)) + [None], dtype=object), lo, span


def _masked(table: np.ndarray, idx: np.ndarray, span: int, mask: np.ndarray | None) -> list:
    if mask is not None:
        idx = np.where(mask, idx, span)
    return table[idx].tolist()


def python_values(column: Column) -> list:
    """A binary_loader column as the Python values executemany binds (SQLite): ints, bools, ISO dates and
    timestamps ('YYYY-MM-DD HH:MM:SS.000000', as the generator always wrote them), strings, None."""
    if isinstance(column, Days):
        table, lo, span = _day_table(column.days, lambda d: np.datetime_as_string(EPOCH + d, unit="D").tolist())
        return _masked(table, np.asarray(column.days, dtype=np.int64) - lo, span, column.mask)
    if isinstance(column, Stamps):
        ts = (EPOCH + np.asarray(column.days, dtype=np.int64)).astype("datetime64[s]") + np.asarray(
            column.seconds, dtype=np.int64
        )
        text = [t.replace("T", " ") + ".000000" for t in np.datetime_as_string(ts, unit="s").tolist()]
        if column.mask is None:
            return text
        return [t if m else None for t, m in zip(text, column.mask.tolist())]
    if isinstance(column, Codes):
        return np.array(list(column.values), dtype=object)[column.codes].tolist()
    if isinstance(column, Maybe):
        return [v if m else None for v, m in zip(column.values.tolist(), column.mask.tolist())]
    if isinstance(column, list):
        return column
    return np.asarray(column).tolist()


def _fixed(values: np.ndarray, dtype: str, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    n, size = len(values), np.dtype(dtype).itemsize
    out = np.empty((n, 4 + size), dtype=np.uint8)
    out[:, :4] = np.frombuffer(size.to_bytes(4, "big"), dtype=np.uint8)
    out[:, 4:] = values.astype(dtype).view(np.uint8).reshape(n, size)
    if mask is None:
        return out, None
    out[~mask, :4] = _NULL
    return out, np.where(mask, 4 + size, 4)


def _text(values: list) -> tuple[np.ndarray, np.ndarray]:
    """Fields of a list of str | None: the UTF-8 of all of them, one NUL between each (text holds no NUL),
    laid into the matrix in row-major order through the mask of each row's bytes."""
    n = len(values)
    is_null = np.fromiter((v is None for v in values), dtype=bool, count=n)
    flat = np.frombuffer("\0".join(["" if v is None else v for v in values]).encode(), dtype=np.uint8)
    ends = np.append(np.flatnonzero(flat == 0), flat.size)
    sizes = ends - np.concatenate(([0], ends[:-1] + 1))
    out = np.zeros((n, 4 + (int(sizes.max()) if n else 0)), dtype=np.uint8)
    out[:, :4] = np.where(is_null[:, None], _NULL, sizes.astype(">i4").view(np.uint8).reshape(n, 4))
    out[:, 4:][np.arange(out.shape[1] - 4) < sizes[:, None]] = flat[flat != 0]
    return out, np.where(is_null, 4, 4 + sizes)


def _fields(column: Column, pg_type: str, a: int, b: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows a..b of the column as binary COPY fields: a (rows, width) uint8 matrix and each row's length
    (None: all of `width`)."""
    if pg_type in _PG_TEXT and isinstance(column, Codes):
        encoded = [None if v is None else v.encode() for v in column.values]
        width = 4 + max((len(e) for e in encoded if e is not None), default=0)
        table = np.zeros((len(encoded), width), dtype=np.uint8)
        lengths = np.empty(len(encoded), dtype=np.int64)
        for i, e in enumerate(encoded):
            if e is None:
                table[i, :4], lengths[i] = _NULL, 4
            else:
                table[i, : 4 + len(e)] = np.frombuffer(len(e).to_bytes(4, "big") + e, dtype=np.uint8)
                lengths[i] = 4 + len(e)
        codes = np.asarray(column.codes[a:b])
        return table[codes], (lengths[codes] if len(set(lengths.tolist())) > 1 else None)
    if pg_type in _PG_TEXT and isinstance(column, list):
        return _text(column[a:b])
    if pg_type == "date" and isinstance(column, Days):
        mask = None if column.mask is None else column.mask[a:b]
        return _fixed(column.days[a:b].astype(np.int64) - _PG_DAYS, ">i4", mask)
    if pg_type == "timestamp without time zone" and isinstance(column, Stamps):
        mask = None if column.mask is None else column.mask[a:b]
        micros = (column.days[a:b].astype(np.int64) - _PG_DAYS) * 86_400 + column.seconds[a:b]
        return _fixed(micros * 1_000_000, ">i8", mask)
    if pg_type in _PG_INT and isinstance(column, Maybe):
        return _fixed(column.values[a:b], _PG_INT[pg_type], column.mask[a:b])
    if pg_type in _PG_INT and isinstance(column, np.ndarray):
        return _fixed(column[a:b], _PG_INT[pg_type], None)
    raise TypeError(f"a binary COPY of a {type(column).__name__} column into a {pg_type} column")


def _slice(column: Column, a: int, b: int) -> Column:
    """Rows a..b of a column."""

    def part(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else x[a:b]

    if isinstance(column, Days):
        return Days(column.days[a:b], part(column.mask))
    if isinstance(column, Stamps):
        return Stamps(column.days[a:b], column.seconds[a:b], part(column.mask))
    if isinstance(column, Codes):
        return Codes(column.codes[a:b], column.values)
    if isinstance(column, Maybe):
        return Maybe(column.values[a:b], column.mask[a:b])
    return column[a:b]


def _rows(column: Column) -> int:
    if isinstance(column, (Days, Stamps)):
        return len(column.days)
    if isinstance(column, Codes):
        return len(column.codes)
    if isinstance(column, Maybe):
        return len(column.values)
    return len(column)


def binary_rows(columns: dict[str, Column], pg_types: dict[str, str]) -> Iterator[bytes]:
    """The rows of `columns` in COPY's binary format (no signature or trailer), a block of rows at a time."""
    names = list(columns)
    n = _rows(columns[names[0]])
    count = np.frombuffer(len(names).to_bytes(2, "big"), dtype=np.uint8)
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        parts = [np.broadcast_to(count, (b - a, 2))]
        lengths: list[tuple[int, np.ndarray | None]] = [(2, None)]
        for name in names:
            fields, length = _fields(columns[name], pg_types[name], a, b)
            parts.append(fields)
            lengths.append((fields.shape[1], length))
        matrix = np.hstack(parts)
        if all(length is None for _, length in lengths):
            yield matrix.tobytes()
            continue
        keep = np.hstack(
            [
                np.ones((b - a, width), dtype=bool) if length is None else np.arange(width) < length[:, None]
                for width, length in lengths
            ]
        )
        yield matrix[keep].tobytes()


def _pg_types(cur, table: str) -> dict[str, str]:
    cur.execute(
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
    return dict(cur.fetchall())


@contextmanager
def binary_loader(conn: Connection, table: str) -> Iterator[Callable[[dict[str, Column]], int]]:
    """`loader` for `Column`s (numpy arrays and the wrappers above): on PostgreSQL one binary COPY fed from a
    worker thread, the rows encoded from the arrays without a Python value per field; on SQLite executemany,
    as `loader`, of the columns' `python_values`."""
    if conn.dialect.name == "sqlite":
        with loader(conn, table) as load:

            def load_sqlite(columns: dict[str, Column]) -> int:
                # a block of rows' Python values at a time (2 million audit events' lists took ~500 MB)
                n = _rows(next(iter(columns.values())))
                for a in range(0, n, 4 * _BLOCK):
                    b = min(n, a + 4 * _BLOCK)
                    load({name: python_values(_slice(c, a, b)) for name, c in columns.items()})
                return n

            yield load_sqlite
        return
    from psycopg.copy import QueuedLibpqWriter

    with conn.connection.driver_connection.cursor() as cur, ExitStack() as stack:
        types = _pg_types(cur, table)
        copies = []

        def load_pg(columns: dict[str, Column]) -> int:
            n = _rows(next(iter(columns.values())))
            if n == 0:
                return 0
            if not copies:
                copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
                copies.append(stack.enter_context(cur.copy(copy_sql, writer=QueuedLibpqWriter(cur))))
                copies[0].write(_PG_SIGNATURE)
            for data in binary_rows(columns, types):
                copies[0].write(data)
            return n

        yield load_pg
        if copies:
            copies[0].write(_PG_TRAILER)


def insert_arrays(conn: Connection, table: str, columns: dict[str, Column]) -> int:
    """`insert_columns` for `Column`s (one binary COPY on PostgreSQL)."""
    with binary_loader(conn, table) as load:
        return load(columns)
