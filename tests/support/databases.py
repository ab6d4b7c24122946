"""Test databases made fast: migrate (and generate) once per test process, then copy a template per test.

A template is built the first time a test process needs it: an empty migrated database, the demo staff only,
or a demo desk with given generator parameters. Each test then gets its own full copy, as isolated as a
database built from scratch:

- SQLite: the template is a single closed file (its WAL checkpointed away); a test's database is a file copy.
  The copy switches back to WAL on its first connection, like any database `make_engine` opens.
- PostgreSQL: each test gets a schema of its own in the database of TEST_DATABASE_URL. The first copy of a
  template is a clone (`_Postgres.clone`: the migrations' recorded statements replayed, rows copied). When the
  test is over its schema is kept as a spare of that template (`give_back`), and the next test that asks for
  the same template gets the spare back (`reuse`), reset in one transaction: the tables the test wrote to (rows
  written after the spare's last reset, or a different row count) are emptied and copied again from the
  template, with every table that refers to them; sequences are set back; the schema is renamed. A spare whose
  definitions the test changed (any DDL, GRANT, TRUNCATE: a catalog row newer than the last reset, or a
  different number of them) is dropped and the test gets a clone. A reuse costs ~40-130 ms against ~300-400 ms
  for a clone, and writes no catalog rows (this machine's server runs with autovacuum off: every clone left
  ~2,300 dead catalog rows that made later DDL slower; the run's end vacuums the catalogs, see
  `vacuum_catalogs`).

Schema names are `rdt_<UTC stamp>_<pid>_<random>_<n>`: unique per run. Spares, leftovers and templates are
dropped at the session's end; a run killed before that leaves schemas behind, which the next run drops once
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
from collections.abc import Callable, Hashable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

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


MAX_SPARES = 3  # spare copies kept per template (a test rarely holds more than one or two at once)


class _Changed(Exception):
    """A test changed a spare's definitions (DDL, rights): it is dropped, not reused."""


class _Shape(NamedTuple):
    """What a copy of a template holds before a test touches it."""

    catalog: tuple[int, ...]  # how many relations, columns, triggers, ... (_CATALOG_COUNTS)
    tables: tuple[str, ...]
    rows: dict[str, int]  # rows per table
    sequences: dict[str, tuple[int, bool]]  # last_value, is_called
    referenced_by: dict[str, set[str]]  # table -> the tables with a foreign key to it

    def with_referencing(self, tables: Sequence[str]) -> list[str]:
        """`tables` and every table that refers to one of them, directly or not (what TRUNCATE must empty too)."""
        out, todo = set(tables), list(tables)
        while todo:
            for other in self.referenced_by.get(todo.pop(), ()):
                if other not in out:
                    out.add(other)
                    todo.append(other)
        return sorted(out)


def _current_xid(cur) -> int:
    """This transaction's id as a 32-bit xid (the type of a row's xmin)."""
    cur.execute("SELECT pg_current_xact_id()::text::bigint % 4294967296")
    return cur.fetchone()[0]


# How many of each definition the schema %(s)s has, then how many catalog rows were written after transaction
# %(xid)s (an xmin newer than it: a row created or changed; an in-place update such as VACUUM's keeps its xmin).
# Any DDL, GRANT, ALTER or DROP shows in one or the other. TRUNCATE shows too (a new relfilenode): such a spare
# is cloned again, which is merely slower.
_CATALOG = {  # catalog: (its namespace or relation column, whether that column names a relation)
    "pg_class": ("relnamespace", False),
    "pg_constraint": ("connamespace", False),
    "pg_proc": ("pronamespace", False),
    "pg_type": ("typnamespace", False),
    "pg_default_acl": ("defaclnamespace", False),
    "pg_attribute": ("attrelid", True),
    "pg_attrdef": ("adrelid", True),
    "pg_index": ("indrelid", True),
    "pg_trigger": ("tgrelid", True),
    "pg_policy": ("polrelid", True),
    "pg_rewrite": ("ev_class", True),
    "pg_sequence": ("seqrelid", True),
}


def _catalog_rows(catalog: str, column: str, of_relation: bool) -> str:
    if of_relation:
        return f"SELECT x.xmin FROM {catalog} x JOIN rel ON rel.oid = x.{column}"
    return f"SELECT x.xmin FROM {catalog} x WHERE x.{column} = (SELECT oid FROM ns)"


_CATALOG_COUNTS = (
    "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(s)s), "
    "rel AS (SELECT oid FROM pg_class WHERE relnamespace = (SELECT oid FROM ns)), "
    + ", ".join(f"{cat} AS ({_catalog_rows(cat, *how)})" for cat, how in _CATALOG.items())
    + " SELECT "
    + ", ".join(f"(SELECT count(*) FROM {cat})" for cat in _CATALOG)
    + ", "
    + " + ".join(f"(SELECT count(*) FROM {cat} WHERE age(xmin) < age(%(xid)s::text::xid))" for cat in _CATALOG)
)


def _rows_query(schema: str, tables: Sequence[str]) -> str:
    """Per table of `schema`: its name, its rows, and how many of them were written after transaction %(xid)s."""
    return " UNION ALL ".join(
        f"SELECT '{t}', count(*), count(*) FILTER (WHERE age(xmin) < age(%(xid)s::text::xid)) "
        f"FROM {_quote(schema)}.{_quote(t)}"
        for t in tables
    )


def _sequence_values(cur, schema: str, sequences: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """(last_value, is_called) of each sequence of `schema`, in one statement."""
    if not sequences:
        return {}
    cur.execute(
        " UNION ALL ".join(f"SELECT '{q}', last_value, is_called FROM {_quote(schema)}.{_quote(q)}" for q in sequences)
    )
    return {q: (last, called) for q, last, called in cur.fetchall()}


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
        self.copies: dict[str, Hashable] = {}  # schema -> the template key it was filled from (while a test has it)
        self.spares: dict[Hashable, list[str]] = {}  # copies given back, to be reset for the next test
        self._made_in: dict[str, int] = {}  # schema -> the transaction that last wrote every one of its rows
        self._shapes: dict[str, _Shape] = {}  # template -> what a copy holds when nothing has changed it

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
    @contextlib.contextmanager
    def _transaction(self) -> Iterator:
        """A cursor in one transaction on an admin connection: committed at the end, rolled back on an error."""
        with self.admin().connect() as c:
            raw = c.connection.dbapi_connection
            raw.autocommit = False
            try:
                with raw.cursor() as cur:
                    yield cur
                raw.commit()
            except Exception:
                raw.rollback()
                raise
            finally:
                raw.autocommit = True

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
        self.copies.pop(name, None)
        self._made_in.pop(name, None)

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
        with self._transaction() as cur:
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
            made_in = _current_xid(cur)
        self.live.add(name)
        self._made_in[name] = made_in

    # -- reuse ------------------------------------------------------------------------------------------
    def give_back(self, name: str) -> None:
        """The test that had `name` is over: keep it as a spare of its template when it was a copy, else drop it."""
        key = self.copies.pop(name, None)
        spares = self.spares.setdefault(key, []) if key is not None else None
        if spares is None or len(spares) >= MAX_SPARES or name not in self._made_in:
            self.drop(name)
            return
        spares.append(name)

    def reuse(self, key: Hashable, template: str, name: str) -> bool:
        """Make a spare copy of `template` into schema `name`: only the tables a test changed are copied again,
        sequences are set back, and the schema is renamed, in one transaction. A spare whose tables, columns,
        indexes, triggers, functions, policies or rights a test changed is dropped instead (False: clone)."""
        spares = self.spares.get(key) or []
        while spares:
            spare = spares.pop()
            try:
                self._reset(template, spare, name)
            except _Changed:
                self.drop(spare)
                continue
            except Exception as exc:  # noqa: BLE001 - a clone still gives the test its database
                warnings.warn(f"could not reuse test schema {spare}: {exc}", stacklevel=2)
                with contextlib.suppress(Exception):
                    self.drop(spare)
                continue
            return True
        return False

    def _shape(self, cur, template: str) -> _Shape:
        shape = self._shapes.get(template)
        if shape is None:
            now = _current_xid(cur)  # nothing is newer than this transaction: only the counts matter here
            cur.execute(_CATALOG_COUNTS, {"s": template, "xid": now})
            catalog = tuple(cur.fetchone()[:-1])
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (template,))
            tables = tuple(t for (t,) in cur.fetchall())
            cur.execute(_rows_query(template, tables), {"xid": now})
            rows = {t: count for t, count, _ in cur.fetchall()}
            cur.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = %s ORDER BY 1", (template,))
            sequences = _sequence_values(cur, template, [seq for (seq,) in cur.fetchall()])
            cur.execute(
                "SELECT r.relname, t.relname FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
                "JOIN pg_class r ON r.oid = k.confrelid WHERE k.contype = 'f' AND k.connamespace = %s::regnamespace",
                (template,),
            )
            referenced_by: dict[str, set[str]] = {}
            for referenced, referencing in cur.fetchall():
                referenced_by.setdefault(referenced, set()).add(referencing)
            shape = self._shapes[template] = _Shape(catalog, tables, rows, sequences, referenced_by)
        return shape

    def _reset(self, template: str, spare: str, name: str) -> None:
        made_in = self._made_in[spare]
        s = _quote(spare)
        with self._transaction() as cur:
            cur.execute("SET LOCAL lock_timeout = '5s'")  # a leaked transaction: clone instead of waiting
            cur.execute("SET LOCAL jit = off")  # compiling these small queries would cost ~100 ms
            shape = self._shape(cur, template)
            cur.execute(_CATALOG_COUNTS, {"s": spare, "xid": made_in})
            *catalog, catalog_changes = cur.fetchone()
            if tuple(catalog) != shape.catalog or catalog_changes:
                raise _Changed(spare)
            cur.execute(_rows_query(spare, shape.tables), {"xid": made_in})
            changed = shape.with_referencing(
                [t for t, count, newer in cur.fetchall() if newer or count != shape.rows[t]]
            )
            cur.execute("SET LOCAL session_replication_role = replica")
            if changed:  # TRUNCATE, not DELETE: dead rows would stay (autovacuum may be off) for every reuse
                cur.execute("TRUNCATE " + ", ".join(f"{s}.{_quote(t)}" for t in changed))
            for table in changed:
                cur.execute(
                    f"INSERT INTO {s}.{_quote(table)} OVERRIDING SYSTEM VALUE "
                    f"SELECT * FROM {_quote(template)}.{_quote(table)}"
                )
            now_at = _sequence_values(cur, spare, list(shape.sequences))
            for seq, (last, called) in shape.sequences.items():
                if now_at[seq] != (last, called):
                    cur.execute("SELECT setval(%s, %s, %s)", (f"{s}.{_quote(seq)}", last, called))
            cur.execute(f"ALTER SCHEMA {s} RENAME TO {_quote(name)}")
            # rows of unchanged tables keep their older transaction: still older than this one
            now = _current_xid(cur)
        self.live.discard(spare)
        self._made_in.pop(spare, None)
        self.live.add(name)
        self._made_in[name] = now

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
        self.spares.clear()
        self._shapes.clear()
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
        return self._fill_pg(url, key, build)

    def _fill_pg(self, url: str, key: Hashable, build: Builder) -> bool:
        pg = self.pg()
        name = pg.name_of(url)
        if not name.startswith(pg.run):
            return False  # not one of ours: never drop it
        template = self._pg_template(key, build)
        if name in pg.live:
            if not pg.is_empty(name):
                return False
            pg.drop(name)
        if not pg.reuse(key, template, name):
            try:
                pg.clone(template, name)
            except Exception as exc:  # noqa: BLE001 - the slow way still gives the test its database
                warnings.warn(f"could not copy the test template, building {name} instead: {exc}", stacklevel=2)
                pg.create(name)
                return False
        pg.copies[name] = key
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

# The catalogs a schema's CREATE and DROP leave dead rows in (pg_attribute and pg_depend most: ~700 each a schema)
CHURNED_CATALOGS = (
    "pg_attribute",
    "pg_depend",
    "pg_class",
    "pg_type",
    "pg_constraint",
    "pg_index",
    "pg_trigger",
    "pg_attrdef",
    "pg_proc",
    "pg_sequence",
    "pg_policy",
    "pg_rewrite",
    "pg_namespace",
    "pg_statistic",
)


def vacuum_catalogs() -> None:
    """VACUUM the catalogs this run's schemas churned, so that their dead rows' space is used again: on a
    server with autovacuum off (this machine's) every run would otherwise leave the catalogs larger and every
    later run's DDL and catalog scans slower (seen: pg_attribute at 256 MB, 1.5M dead rows, after five runs).
    Best effort: it needs the database's owner or a superuser, and a failure only warns."""
    base = pg_base_url()
    if not base:
        return
    engine = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as c:
            c.exec_driver_sql("VACUUM " + ", ".join(f"pg_catalog.{t}" for t in CHURNED_CATALOGS))
    except Exception as exc:  # noqa: BLE001 - the tests have passed or failed already; this is housekeeping
        warnings.warn(f"could not vacuum the test database's catalogs: {exc}", stacklevel=1)
    finally:
        engine.dispose()


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
                pg.give_back(name)
            self._databases.clear()


# -- what the templates hold -------------------------------------------------------------------------------


def migrated(database: Database) -> None:
    upgrade(database.engine)


def staff(database: Database) -> None:
    from tests.support.intake import add_demo_users

    upgrade(database.engine)
    add_demo_users(database)
