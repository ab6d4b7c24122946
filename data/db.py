"""Engines and sessions: the one `make_engine(url)` used by the app, tests, generator and benchmarks.

SQLite gets WAL, a 10 s busy timeout and `BEGIN IMMEDIATE` for write transactions (deferred BEGIN
lost half the writes to "database is locked" with several writers; see shared/CONVENTIONS.md).

PostgreSQL sessions get limits (docs/deployment.md): `statement_timeout` for reads (writes get their own,
off by default, so a large import is not cut short), `lock_timeout` and
`idle_in_transaction_session_timeout` for every session; each is set from `REFUND_DESK_PG_*` environment
variables. `timeout_message(exc)` turns a limit that fired into a sentence for the user.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "data" / "refund_desk.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"
BUSY_TIMEOUT_MS = 10_000

# PostgreSQL session limits: (setting, environment variable, default). Values use PostgreSQL's units
# ("15s", "500ms", "2min"); "0" turns a limit off.
PG_LIMITS = (
    ("statement_timeout", "REFUND_DESK_PG_STATEMENT_TIMEOUT", "15s"),  # reads (every statement outside a write)
    ("write_statement_timeout", "REFUND_DESK_PG_WRITE_STATEMENT_TIMEOUT", "0"),  # statements of a write transaction
    ("lock_timeout", "REFUND_DESK_PG_LOCK_TIMEOUT", "5s"),
    ("idle_in_transaction_session_timeout", "REFUND_DESK_PG_IDLE_IN_TRANSACTION_TIMEOUT", "60s"),
)
# Connections per app server: SQLAlchemy's QueuePool keeps POOL_SIZE open and lends up to MAX_OVERFLOW more.
PG_POOL = (("pool_size", "REFUND_DESK_PG_POOL_SIZE", 5), ("max_overflow", "REFUND_DESK_PG_MAX_OVERFLOW", 10))
_DURATION = re.compile(r"^\d+\s*(us|ms|s|min|h|d)?$")


def resolve_url(explicit: str | None = None) -> str:
    """The database URL: explicit, else $DATABASE_URL, else [database] url in .streamlit/secrets.toml,
    else the embedded SQLite file under data/."""
    if explicit:
        return explicit
    env = os.environ.get("DATABASE_URL")
    if env:
        return env
    secrets = ROOT / ".streamlit" / "secrets.toml"
    if secrets.exists():
        try:
            with secrets.open("rb") as fh:
                url = tomllib.load(fh).get("database", {}).get("url")
        except tomllib.TOMLDecodeError as exc:
            raise RuntimeError(f".streamlit/secrets.toml is not valid TOML: {exc}") from exc
        if url:
            return str(url)
    return DEFAULT_URL


def describe_url(url: str) -> str:
    """A URL safe to show a user: no password, SQLite shown as its file name."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"SQLite · {Path(u.database or ':memory:').name}"
    return f"PostgreSQL · {u.host or 'localhost'}/{u.database}"


def make_engine(url: str | None = None, **kwargs) -> Engine:
    url = resolve_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    limits = pg_limits(kwargs.pop("pg_limits", None))
    for key, env, default in PG_POOL:
        kwargs.setdefault(key, _int_env(env, default))
    engine = create_engine(url, **kwargs)
    _postgresql_setup(engine, limits)
    return engine


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of connections, not {raw!r}.")
    return int(raw)


def pg_limits(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The PostgreSQL session limits in force: defaults, then REFUND_DESK_PG_* variables, then `overrides`."""
    limits = {}
    for key, env, default in PG_LIMITS:
        value = str((overrides or {}).get(key) or os.environ.get(env) or default).strip()
        if not _DURATION.match(value):
            raise ValueError(f"{env} must be a duration such as 15s, 500ms or 2min (0 turns it off), not {value!r}.")
        limits[key] = value.replace(" ", "")
    return limits


def _postgresql_setup(engine: Engine, limits: dict[str, str]) -> None:
    session_sql = "; ".join(
        f"SET {name} = '{limits[name]}'"
        for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute(session_sql)
        dbapi_conn.commit()

    if limits["write_statement_timeout"] != limits["statement_timeout"]:

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get("write"):
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{limits['write_statement_timeout']}'")


# SQLSTATEs of the limits above, and what the user is told when one fires. Nothing was written: the
# transaction that hit the limit was rolled back whole.
_TIMEOUT_MESSAGES = {
    "57014": (
        "The database took longer than {statement_timeout} to answer, so the request was stopped and nothing "
        "was changed. Narrow it (for example a shorter date range) or try again in a minute."
    ),
    "55P03": (
        "Someone else was changing the same records for more than {lock_timeout}, so nothing was saved. "
        "Try again; if it keeps happening, an import or maintenance may be running."
    ),
    "25P03": (
        "The database closed a connection that stayed idle inside a transaction for more than "
        "{idle_in_transaction_session_timeout}, so nothing was saved. Try again."
    ),
}


def timeout_message(exc: BaseException, limits: dict[str, str] | None = None) -> str | None:
    """The user's message when `exc` is a PostgreSQL limit that fired (statement, lock or idle timeout),
    else None. Works on SQLAlchemy's wrapped errors and on the driver's own."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        state = getattr(err, "sqlstate", None)
        if state is None and "idle-in-transaction timeout" in str(err):
            state = "25P03"  # the server's FATAL message before it closed the connection
        if state == "57014" and "statement timeout" not in str(err):
            state = None  # cancelled for another reason (an operator's pg_cancel_backend): not a limit
        if state in _TIMEOUT_MESSAGES:
            shown = limits or pg_limits()
            return _TIMEOUT_MESSAGES[state].format(**{k: _spoken(v) for k, v in shown.items()})
        err = getattr(err, "orig", None) or err.__cause__ or err.__context__
    return None


def _spoken(duration: str) -> str:
    m = re.match(r"^(\d+)(us|ms|s|min|h|d)?$", duration)
    if not m:
        return duration
    n, unit = int(m.group(1)), m.group(2) or "ms"
    words = {"us": "microsecond", "ms": "millisecond", "s": "second", "min": "minute", "h": "hour", "d": "day"}
    return f"{n} {words[unit]}{'' if n == 1 else 's'}"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class Database:
    """An engine and its two session factories.

    `db.write.begin()` is for use cases that change data (BEGIN IMMEDIATE on SQLite, so a writer
    takes the lock up front instead of failing at commit); `db.read()` for queries.
    """

    url: str
    engine: Engine
    read: sessionmaker[Session]
    write: sessionmaker[Session]

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, **kwargs) -> Database:
    url = resolve_url(url)
    engine = make_engine(url, **kwargs)
    write_engine = engine.execution_options(write=True)
    return Database(
        url=url,
        engine=engine,
        read=sessionmaker(engine, expire_on_commit=False),
        write=sessionmaker(write_engine, expire_on_commit=False),
    )


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run with ``Session.execute`` changed (SQLAlchemy types that call's
    result as a plain Result; for these statements it is a CursorResult, which has the count)."""
    return cast(CursorResult[Any], result).rowcount
