"""Test databases made fast: migrate (and generate) once per test process, then copy a template per test.

A template is built the first time a test process needs it: an empty migrated database, the demo staff only,
or a demo desk with given generator parameters. Each test then gets its own full copy, as isolated as a
database built from scratch:

- SQLite: the template is a single closed file (its WAL checkpointed away); a test's database is a file copy.
  The copy switches back to WAL on its first connection, like any database `make_engine` opens.
- PostgreSQL: each test gets its own database, `CREATE DATABASE … TEMPLATE …` (PostgreSQL 15's WAL_LOG
  strategy: ~15 ms, no checkpoint). The templates are per process (a template must have no other connection
  while it is copied), refuse connections once built, and nobody writes to them.

Database names are `rdt_<UTC stamp>_<pid>_<random>_<n>`: unique per run. A test's database is dropped
(`WITH (FORCE)`: a leaked connection does not keep it alive) in its teardown, pass or fail, by a background
thread, because PostgreSQL 15's DROP DATABASE waits for a checkpoint. The session's end waits for those drops
and drops the templates; a run killed before that leaves databases behind, which the next run drops once
they are older than STALE_AFTER.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from data.db import Database, open_database
from data.migrate import upgrade

PG_ENV = "TEST_DATABASE_URL"
PREFIX = "rdt_"
STALE_AFTER = timedelta(hours=3)  # no test run lasts this long; older databases are a killed run's leftovers
_NAME = re.compile(r"^rdt_(\d{14})_")
_serial = iter(range(1, 10**9))

Builder = Callable[[Database], None]


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _quote(name: str) -> str:
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    return f'"{name}"'


class _Postgres:
    """Creates, clones and drops this process's PostgreSQL test schemas (in the database of TEST_DATABASE_URL).

    A clone is one transaction on the server: create the schema, replay the statements the migrations ran when
    the first template was built (recorded, in order, with their parameters: the same DDL, triggers and
    functions a fresh `upgrade` makes), then copy every table's rows from the template with triggers off
    (`session_replication_role = replica`: the rollup and audit triggers must not fire on copied rows; the
    rollup tables are copied as they are) and set every sequence where the template's stands.
    If any of that fails, the caller builds the schema the slow way instead.
    """

    def __init__(self, base: str):
        self.base = base
        self.run = f"{PREFIX}{datetime.now(UTC):%Y%m%d%H%M%S}_{os.getpid()}_{uuid.uuid4().hex[:4]}"
        self._admin: Engine | None = None
        self._lock = threading.Lock()
        self.templates: dict[Hashable, str] = {}
        self.live: set[str] = set()  # schemas created and not yet dropped
        self.migration_statements: list[tuple[str, object, bool]] | None = None

    # -- names and URLs ----------------------------------------------------------------------------
    def new_name(self, kind: str = "") -> str:
        return f"{self.run}_{kind}{next(_serial)}"

    def url(self, name: str) -> str:
        return (
            make_url(self.base)
            .update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False)
        )

    def name_of(self, url: str) -> str:
        options = make_url(url).query.get("options") or ""
        if isinstance(options, tuple):
            options = " ".join(options)
        m = re.search(r"-csearch_path=(\w+)", options)
        return m.group(1) if m else ""

    # -- DDL ----------------------------------------------------------------------------------------
    def admin(self) -> Engine:
        with self._lock:
            if self._admin is None:
                self._admin = create_engine(self.base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            return self._admin

    def execute(self, sql: str) -> None:
        with self.admin().connect() as c:
            c.execute(text(sql))

    def create(self, name: str) -> None:
        self.live.add(name)
        self.execute(f"CREATE SCHEMA {_quote(name)}")

    def drop(self, name: str) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {_quote(name)} CASCADE")
        self.live.discard(name)

    def is_empty(self, name: str) -> bool:
        with self.admin().connect() as c:
            return not c.execute(
                text("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s"),
                {"s": name},
            ).first()

    def record_migrations(self, database: Database) -> None:
        """Build a migrated template while recording every statement the migrations send."""
        statements: list[tuple[str, object, bool]] = []

        def _record(conn, cursor, statement, parameters, context, executemany):
            if "pg_advisory" in statement:
                return  # the migrations' lock (migrations/env.py): a clone must not wait for another worker's upgrade
            # as SQLAlchemy will hand it to the driver: no parameters at all, one set, or many
            statements.append((statement, None if context.no_parameters else parameters, executemany))

        event.listen(database.engine, "before_cursor_execute", _record)
        try:
            upgrade(database.engine)
        finally:
            event.remove(database.engine, "before_cursor_execute", _record)
        self.migration_statements = statements

    def clone(self, template: str, name: str) -> None:
        """Schema `name` (new) as a copy of schema `template`, in one transaction."""
        assert self.migration_statements is not None
        t, n = _quote(template), _quote(name)
        with self.admin().connect() as c:
            raw = c.connection.dbapi_connection
            raw.autocommit = False
            try:
                with raw.cursor() as cur:
                    cur.execute(f"CREATE SCHEMA {n}")
                    cur.execute(f"SET LOCAL search_path TO {n}")
                    for statement, parameters, many in self.migration_statements:
                        if many:
                            cur.executemany(statement, parameters)
                        elif parameters is None:
                            cur.execute(statement)
                        else:
                            cur.execute(statement, parameters)
                    cur.execute("SET LOCAL session_replication_role = replica")
                    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (template,))
                    for (table,) in cur.fetchall():
                        cur.execute(f"DELETE FROM {n}.{_quote(table)}")
                        cur.execute(
                            f"INSERT INTO {n}.{_quote(table)} OVERRIDING SYSTEM VALUE SELECT * FROM {t}.{_quote(table)}"
                        )
                    cur.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s ORDER BY 1", (template,))
                    for (seq,) in cur.fetchall():
                        cur.execute(f"SELECT last_value, is_called FROM {t}.{_quote(seq)}")
                        last, called = cur.fetchone()
                        cur.execute("SELECT setval(%s, %s, %s)", (f"{n}.{_quote(seq)}", last, called))
                raw.commit()
            except Exception:
                raw.rollback()
                raise
            finally:
                raw.autocommit = True
        self.live.add(name)

    def sweep_stale(self) -> None:
        """Drop test schemas that a killed run left behind (older than STALE_AFTER)."""
        with self.admin().connect() as c:
            names = c.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rdt\\_%'")).scalars().all()
        cutoff = datetime.now(UTC) - STALE_AFTER
        for name in names:
            m = _NAME.match(name)
            if m and datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC) < cutoff:
                with contextlib.suppress(Exception):
                    self.drop(name)

    def finish(self) -> None:
        """Drop whatever this process left (templates included)."""
        for name in [*self.live, *self.templates.values()]:
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - reported; the next run's stale sweep retries
                warnings.warn(f"could not drop test schema {name}: {exc}", stacklevel=1)
        self.templates.clear()
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None


class Templates:
    """This process's templates, built on first use, and the copies made from them."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._sqlite: dict[Hashable, Path] = {}
        self._pg: _Postgres | None = None
        self._pg_lock = threading.Lock()

    # -- places ---------------------------------------------------------------------------------------
    def use_dir(self, path: Path) -> None:
        """Keep SQLite templates here (pytest's temporary directory) instead of a private temp dir."""
        if self._dir is None:
            self._dir = path

    def _template_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="refund-desk-templates-"))
            atexit.register(shutil.rmtree, self._dir, True)
        return self._dir

    def pg(self) -> _Postgres:
        base = pg_base_url()
        assert base, f"{PG_ENV} is not set"
        with self._pg_lock:
            if self._pg is None:
                self._pg = _Postgres(base)
                with contextlib.suppress(Exception):
                    self._pg.sweep_stale()
            return self._pg

    # -- templates ---------------------------------------------------------------------------------------
    def _sqlite_template(self, key: Hashable, build: Builder) -> Path:
        path = self._sqlite.get(key)
        if path is None:
            path = self._template_dir() / f"template-{len(self._sqlite) + 1}.db"
            database = open_database(f"sqlite:///{path}")
            try:
                build(database)
            finally:
                database.dispose()
            # one self-contained file: no -wal or -shm beside it, so a plain copy is the whole database
            con = sqlite3.connect(path)
            try:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                con.execute("PRAGMA journal_mode=DELETE")
            finally:
                con.close()
            self._sqlite[key] = path
        return path

    def _pg_template(self, key: Hashable, build: Builder) -> str:
        pg = self.pg()
        if pg.migration_statements is None and key != ("migrated",):
            self._pg_template(("migrated",), migrated)
        name = pg.templates.get(key)
        if name is None:
            name = pg.new_name("tpl")
            pg.create(name)
            database = open_database(pg.url(name))
            try:
                if pg.migration_statements is None:
                    pg.record_migrations(database)
                else:
                    build(database)
            finally:
                database.dispose()
            # kept only once built: a build that failed leaves no half-filled template for later tests to copy
            pg.live.discard(name)
            pg.templates[key] = name
        return name

    # -- copies -----------------------------------------------------------------------------------------
    def fill(self, url: str, key: Hashable, build: Builder) -> bool:
        """Make the database at `url` a copy of the template `key` (built by `build` on an empty migrated-or-
        not database, once). Only a database that does not exist yet or has no tables is replaced; returns
        False (and leaves it alone) otherwise, so the caller builds in place as before."""
        u = make_url(url)
        if u.get_backend_name() == "sqlite":
            if not u.database or u.database == ":memory:":
                return False
            target = Path(u.database)
            if target.exists() and target.stat().st_size > 0 and not _sqlite_is_empty(target):
                return False
            template = self._sqlite_template(key, build)
            target.parent.mkdir(parents=True, exist_ok=True)
            for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(template, target)
            return True
        if u.get_backend_name() != "postgresql" or not pg_base_url():
            return False
        pg = self.pg()
        name = pg.name_of(url)
        if not name.startswith(pg.run):
            return False  # not one of ours: never drop it
        template = self._pg_template(key, build)
        if name in pg.live:
            if not pg.is_empty(name):
                return False
            pg.drop(name)
        try:
            pg.clone(template, name)
        except Exception as exc:  # noqa: BLE001 - the slow way still gives the test its database
            warnings.warn(f"could not copy the test template, building {name} instead: {exc}", stacklevel=2)
            pg.create(name)
            return False
        return True

    def finish(self) -> None:
        if self._pg is not None:
            self._pg.finish()


def _sqlite_is_empty(path: Path) -> bool:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0
    finally:
        con.close()


TEMPLATES = Templates()


class Backend:
    """Makes isolated databases for one test: SQLite files, or PostgreSQL databases of their own."""

    def __init__(self, name: str, tmp_path: Path):
        self.name = name
        self.tmp_path = tmp_path
        self._databases: list[str] = []

    def new_url(self, create: bool = True) -> str:
        """The URL of a new, empty database. `create=False` (PostgreSQL) only reserves the name: the caller
        fills it from a template with TEMPLATES.fill (the SQLite file never exists before its first use)."""
        if self.name == "sqlite":
            return f"sqlite:///{self.tmp_path / f'desk-{uuid.uuid4().hex[:8]}.db'}"
        pg = TEMPLATES.pg()
        name = pg.new_name()
        self._databases.append(name)
        if create:
            pg.create(name)
        return pg.url(name)

    def cleanup(self) -> None:
        if self._databases:
            pg = TEMPLATES.pg()
            for name in self._databases:
                pg.drop(name)
            self._databases.clear()


# -- what the templates hold -------------------------------------------------------------------------------


def migrated(database: Database) -> None:
    upgrade(database.engine)


def staff(database: Database) -> None:
    from tests.support.intake import add_demo_users

    upgrade(database.engine)
    add_demo_users(database)
