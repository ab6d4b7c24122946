"""Engines and sessions: the one `make_engine(url)` used by the app, tests, generator and benchmarks.

SQLite gets WAL, a 10 s busy timeout and `BEGIN IMMEDIATE` for write transactions (deferred BEGIN
lost half the writes to "database is locked" with several writers; see shared/CONVENTIONS.md).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "data" / "refund_desk.db"
DEFAULT_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"
BUSY_TIMEOUT_MS = 10_000


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
    return create_engine(url, **kwargs)


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
