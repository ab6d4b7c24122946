"""Backups and restores of the desk's database, with checksums that prove a restore is the backup.

    python -m data.backup create backups/desk-2026-12-01.db            # SQLite (the URL from $DATABASE_URL...)
    python -m data.backup create backups/desk.dump --db postgresql+psycopg://refund_desk_owner@db/refund_desk
    python -m data.backup restore backups/desk.dump --db postgresql+psycopg://...@db/refund_desk_restored

- SQLite: the online backup API (`sqlite3.Connection.backup`) copies the database in one step inside a
  read transaction, so writers carry on (WAL) and the copy is one consistent moment.
- PostgreSQL: `pg_dump --format=custom` (Debian's postgresql-client) run on a snapshot exported from a
  REPEATABLE READ transaction that also computes the checksums, so the manifest describes exactly what the
  dump holds; `pg_restore --single-transaction --exit-on-error` restores it.

Next to every backup file, `<file>.manifest.json` records each table's row count and, for the audit trail,
decisions, cases (with their documents), users and customers, a SHA-256 over the rows in primary-key order.
A restore goes only into an empty database (never over data), and checks the restored rows against the
manifest; on a mismatch it says which table differs. Run backups as the owner role (docs/deployment.md);
after a PostgreSQL restore run `make pg-roles` against the new database so the app role gets its rights.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Connection, MetaData, Table, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from data.db import describe_url, make_engine, resolve_url

CHECKSUM_TABLES = ("case_events", "decisions", "cases", "users", "customers")
FORMAT = 1
# The backup's own connection must not be cut short by the app's session limits (a dump of a large desk
# holds its snapshot for minutes).
NO_LIMITS = {"statement_timeout": "0", "write_statement_timeout": "0", "idle_in_transaction_session_timeout": "0"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead or did not match: a message for the operator."""


# ---- checksums ---------------------------------------------------------------------------------------------


def _canon(v):
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes | memoryview):
        return bytes(v).hex()
    if isinstance(v, str) and v[:1] in "[{":  # JSON stored as text (SQLite reflects JSON columns as text)
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def table_names(conn: Connection) -> list[str]:
    return sorted(inspect(conn).get_table_names())


def checksums(conn: Connection) -> dict[str, dict[str, object]]:
    """{table: {"rows": n[, "sha256": hex]}} for every table; a digest for CHECKSUM_TABLES, rows in key order."""
    out: dict[str, dict[str, object]] = {}
    meta = MetaData()
    for name in table_names(conn):
        table = Table(name, meta, autoload_with=conn)
        if name not in CHECKSUM_TABLES:
            out[name] = {"rows": conn.execute(select(text("count(*)")).select_from(table)).scalar_one()}
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        digest = hashlib.sha256()
        rows = 0
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(select(table).order_by(*order))
        for row in result:
            digest.update(json.dumps([_canon(v) for v in row], sort_keys=True, default=str).encode())
            digest.update(b"\n")
            rows += 1
        out[name] = {"rows": rows, "sha256": digest.hexdigest()}
    return out


def differences(expected: dict, actual: dict) -> list[str]:
    """What differs between two checksum maps, one sentence per table."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        e, a = expected.get(name), actual.get(name)
        if e is None or a is None:
            problems.append(f"table {name} is {'missing from the restore' if a is None else 'not in the backup'}")
        elif e["rows"] != a["rows"]:
            problems.append(f"{name}: {a['rows']:,} rows restored, the backup has {e['rows']:,}")
        elif e.get("sha256") != a.get("sha256"):
            problems.append(f"{name}: same number of rows ({a['rows']:,}) but different content")
    return problems


# ---- manifest ----------------------------------------------------------------------------------------------


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def _write_manifest(path: Path, backend: str, source: str, tables: dict, seconds: float) -> dict:
    manifest = {
        "format": FORMAT,
        "backend": backend,
        "source": source,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "bytes": path.stat().st_size,
        "tables": tables,
    }
    tmp = manifest_path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(manifest_path(path))
    return manifest


def read_manifest(path: Path) -> dict:
    mp = manifest_path(path)
    if not path.exists():
        raise BackupError(f"No backup at {path}.")
    if not mp.exists():
        raise BackupError(f"{mp.name} is missing: without it the restore cannot be checked. Refusing to restore.")
    try:
        manifest = json.loads(mp.read_text())
    except ValueError as exc:
        raise BackupError(f"{mp.name} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT or "tables" not in manifest:
        raise BackupError(f"{mp.name} is not a Refund Desk backup manifest (format {FORMAT}).")
    return manifest


# ---- libpq for pg_dump / pg_restore --------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str], str | None]:
    """(libpq connection string without password, environment with PGPASSWORD, schema of search_path)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    options = u.query.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    schema = None
    if "search_path=" in options:
        schema = options.split("search_path=", 1)[1].split()[0].split(",")[0]
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env, schema


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed: apt-get install postgresql-client (same major version as the server)."
        )
    return found


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        # pg_restore ends with "Command was: …"; the reason is the "error:" line before it
        errors = [ln for ln in lines if "error:" in ln.lower()]
        detail = "; ".join(errors[-2:]) if errors else (lines[-1] if lines else f"exit {proc.returncode}")
        raise BackupError(f"{what} failed: {detail}")


# ---- backup ------------------------------------------------------------------------------------------------


def backup(url: str | None, out: Path) -> dict:
    """Back up the database at `url` to `out` (+ its manifest); refuses to overwrite a file. Returns the manifest."""
    url = resolve_url(url)
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name (a backup never overwrites one).")
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    backend = make_url(url).get_backend_name()
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        if backend == "sqlite":
            tables = _backup_sqlite(url, tmp)
        else:
            tables = _backup_postgresql(url, tmp)
        if "case_events" not in tables:
            raise BackupError(f"{describe_url(url)} holds no Refund Desk tables (run the migrations first).")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return _write_manifest(out, backend, describe_url(url), tables, time.perf_counter() - started)


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(db)


def _backup_sqlite(url: str, tmp: Path) -> dict:
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"No database file at {source}.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)  # pages=-1: one step, one read transaction, one consistent moment
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
    engine = make_engine(f"sqlite:///{tmp}")
    try:
        with engine.connect() as conn:
            return checksums(conn)
    finally:
        engine.dispose()


def _backup_postgresql(url: str, tmp: Path) -> dict:
    pg_dump = _tool("pg_dump")
    conninfo, env, schema = _libpq(url)
    engine = make_engine(url, pg_limits=NO_LIMITS)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                tables = checksums(conn)  # the same snapshot the dump reads
                cmd = [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(tmp),
                    "--dbname",
                    conninfo,
                ]
                if schema:
                    cmd[1:1] = ["--schema", schema]
                _run(cmd, env, "pg_dump")
    finally:
        engine.dispose()
    return tables


# ---- restore -----------------------------------------------------------------------------------------------


def restore(backup_path: Path, url: str | None) -> dict:
    """Restore `backup_path` into the empty database at `url` and check it against the manifest.

    Returns the manifest. Raises BackupError when the target holds tables, the backend differs, or the
    restored rows differ from the backup (the restored copy is then removed again where it can be)."""
    backup_path = Path(backup_path)
    manifest = read_manifest(backup_path)
    url = resolve_url(url)
    backend = make_url(url).get_backend_name()
    if backend != manifest["backend"]:
        raise BackupError(f"This is a {manifest['backend']} backup; restore it into a {manifest['backend']} database.")
    if backend == "sqlite":
        _restore_sqlite(backup_path, url)
    else:
        _restore_postgresql(backup_path, url)
    engine = make_engine(url, **({} if backend == "sqlite" else {"pg_limits": NO_LIMITS}))
    try:
        with engine.connect() as conn:
            problems = differences(manifest["tables"], checksums(conn))
    finally:
        engine.dispose()
    if problems:
        raise BackupError("The restored database differs from the backup: " + "; ".join(problems))
    return manifest


def _restore_sqlite(backup_path: Path, url: str) -> None:
    target = _sqlite_path(url)
    if target.exists() and target.stat().st_size > 0:
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as c:
            if c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
                raise BackupError(f"{target} already holds tables; restore into a new file (nothing was changed).")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".restoring", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # what the app's engine uses
        finally:
            dst.close()
            src.close()
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _restore_postgresql(backup_path: Path, url: str) -> None:
    pg_restore = _tool("pg_restore")
    conninfo, env, schema = _libpq(url)
    engine = make_engine(url, pg_limits=NO_LIMITS)
    try:
        with engine.connect() as conn:
            where = schema or "public"
            n = conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": where}
            ).scalar_one()
    finally:
        engine.dispose()
    if n:
        raise BackupError(
            f"{describe_url(url)} already holds {n} tables in schema {where}; restore into an empty database "
            "(createdb) — nothing was changed."
        )
    # A dump of the desk's schema holds no extensions; the queue's name search (migration 0009) needs pg_trgm.
    engine = make_engine(url, pg_limits=NO_LIMITS)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except DBAPIError as exc:
        raise BackupError(
            f"pg_trgm could not be created in {describe_url(url)} ({str(exc.orig).strip().splitlines()[0]}); "
            "restore as the database owner or create the extension first — nothing was changed."
        ) from None
    finally:
        engine.dispose()
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            conninfo,
            str(backup_path),
        ],
        env,
        "pg_restore",
    )


# ---- command line ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.backup", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="back up a database to a new file (+ .manifest.json)")
    c.add_argument("file", type=Path)
    c.add_argument("--db", help="database URL (default: $DATABASE_URL, secrets.toml, data/refund_desk.db)")
    r = sub.add_parser("restore", help="restore a backup into an empty database and check it")
    r.add_argument("file", type=Path)
    r.add_argument("--db", help="URL of the empty target database")
    args = p.parse_args(argv)
    try:
        if args.command == "create":
            m = backup(args.db, args.file)
            print(
                f"Backed up {m['source']} to {args.file} ({m['bytes']:,} bytes, {m['seconds']:.1f} s): "
                f"{m['tables']['case_events']['rows']:,} audit events, {m['tables']['decisions']['rows']:,} "
                f"decisions, {m['tables']['cases']['rows']:,} cases. Manifest: {manifest_path(args.file).name}"
            )
        else:
            m = restore(args.file, args.db)
            print(
                f"Restored {args.file} into {describe_url(resolve_url(args.db))}: every table matches the "
                f"backup's manifest ({m['tables']['case_events']['rows']:,} audit events, "
                f"{m['tables']['decisions']['rows']:,} decisions)."
            )
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
