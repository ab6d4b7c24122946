"""Importing services and refund cases from a file: the admin's use case.

``import_file(db, actor_id, data, file_name, kind)`` checks the permission, reads the file as a stream, checks
every row (the importer's checks, and for cases the policy's: each case must be one the desk can judge) with no
write lock held, then writes the whole file in one short transaction with its ``import_completed`` audit event,
or nothing at all. ``main`` is the command line (``python -m data.importer``): the same ``run_import``.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import IntegrityError

from data import importer
from data.db import Database, describe_url, open_database
from data.importer import KINDS, LAYOUTS, ImportFileError, RowError
from desk import audit
from desk.auth import authorize
from desk.book import current_book
from desk.errors import DeskError, InvalidInput
from desk.export import csv_rows_bytes
from desk.facts import facts_from_row
from policy import InvalidFacts, NoPolicyInForce, PolicyBook, evaluate

# The case column an engine complaint about a fact belongs to.
_FACT_COLUMN = {
    "request_date": "opened_on",
    "reason": "reason",
    "fix_attempted": "fix_attempted",
    "fix_succeeded": "fix_succeeded",
}

Progress = Callable[[float, str], None]  # (fraction done, what is being done)


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, with errors or a dry run, would have done)."""

    kind: str
    file_name: str
    rows: int
    inserted: int
    skipped: int
    customers: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    check_seconds: float = 0.0  # reading and checking, no lock held
    lock_seconds: float = 0.0  # the write transaction (SQLite: the write lock)

    @property
    def written(self) -> bool:
        return not self.errors and not self.dry_run

    def errors_frame(self) -> pd.DataFrame:
        return pd.DataFrame([(e.row, e.column, e.message) for e in self.errors], columns=["row", "column", "message"])

    def errors_csv(self) -> bytes:
        """The problems as CSV; messages quote the file's own cells, so formulas are neutralised."""
        return csv_rows_bytes(["row", "column", "message"], ((e.row, e.column, e.message) for e in self.errors))


def layout(kind: str) -> pd.DataFrame:
    """The documented columns of a kind of file, for the page."""
    return pd.DataFrame(
        [(c.name, "yes" if c.required else "", c.meaning) for c in LAYOUTS[kind]],
        columns=["column", "required", "meaning"],
    )


def _policy_errors(new: pd.DataFrame, book: PolicyBook) -> list[RowError]:
    """Each new case must be one the policy can judge, by the same mapping the desk decides with."""
    errors: list[RowError] = []
    new = new.assign(documentation_provided=new["documentation"] != "[]")
    names = list(new.columns)
    columns = [[None if v is None or v != v else v for v in new[n].tolist()] for n in names]  # NaN -> None
    for values in zip(*columns):
        row = dict(zip(names, values))
        try:
            evaluate(facts_from_row(row), book)
        except InvalidFacts as exc:
            column = _FACT_COLUMN.get(exc.field, "service_external_id")
            errors.append(RowError(int(row["row"]), column, exc.message))
        except NoPolicyInForce as exc:
            errors.append(RowError(int(row["row"]), "service_external_id", str(exc).removeprefix("service_date: ")))
    return errors


def import_file(
    db: Database,
    actor_id: int,
    data: importer.Source,
    file_name: str,
    kind: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    book: PolicyBook | None = None,
) -> ImportReport:
    """Import a CSV/XLSX file of ``kind`` ("services" or "cases"), all or nothing, as the desk user ``actor_id``.

    ``data`` is the file's bytes, its path or an open binary file (an upload). Raises NotAllowed (not an
    admin), InvalidInput(field="file") for a file that cannot be read as that kind (not CSV/XLSX, empty,
    wrong columns, not UTF-8/UTF-16) or that changed under the import, and DeskBusy when the write waited
    for the database too long. Row problems come back in ``ImportReport.errors`` and then nothing is
    written; a dry run checks everything and writes nothing either.
    """
    actor = authorize(db, actor_id, "import_data")
    return run_import(
        db, data, file_name, kind, actor=actor.email, actor_id=actor.id, dry_run=dry_run, progress=progress, book=book
    )


def run_import(
    db: Database,
    data: importer.Source,
    file_name: str,
    kind: str,
    *,
    actor: str,
    actor_id: int | None,
    dry_run: bool = False,
    progress: Progress | None = None,
    book: PolicyBook | None = None,
) -> ImportReport:
    """The import itself, for the page (after ``import_file``'s permission check) and the command line (whose
    user already holds the database's credentials): the audit event names ``actor``.

    Two phases. Checking reads the file as a stream and checks every row (the importer's checks, and for
    cases the policy's) on short read-only connections: no write lock, however large the file. Writing is
    one transaction of plain inserts and the ``import_completed`` event, so the write lock is held only for
    the inserts.
    """
    if kind not in KINDS:
        raise InvalidInput(f"Choose what the file holds: {' or '.join(KINDS)}.", field="kind")
    started = time.perf_counter()
    say = progress or (lambda fraction, label: None)
    say(0.0, "Reading the file")
    # the book before any lock: the first use of a database may store the policy versions
    policy_book = (book or current_book(db)) if kind == "cases" else None

    def checking(done: int, total: int) -> None:
        part = done / total if total else 0.0
        say(0.6 * part, f"Checking every row, no lock held ({part:.0%} of the file read)")

    try:
        checked = importer.check_file(
            db.engine,
            data,
            file_name,
            kind,
            keep_rows=not dry_run,
            progress=checking,
            more_checks=(lambda new: _policy_errors(new, policy_book)) if policy_book is not None else None,
        )
    except ImportFileError as exc:
        raise InvalidInput(str(exc), field="file") from None
    with checked:
        if checked.errors or dry_run:
            return ImportReport(
                kind,
                file_name,
                checked.rows,
                0 if checked.errors else checked.new,
                checked.skipped,
                checked.customers,
                checked.errors,
                dry_run,
                time.perf_counter() - started,
            )
        say(0.6, "Saving")

        def step(done: int, total: int, label: str) -> None:
            say(0.6 + 0.39 * (done / total if total else 1.0), f"Saving {label}: {done:,} of {total:,}")

        try:
            with db.write.begin() as session:
                locked_at = time.perf_counter()
                counts = importer.write(session.connection(), checked, step, actor=actor, actor_id=actor_id)
                audit.record(
                    session,
                    audit.ImportCompleted(
                        file_name=file_name,
                        kind_of_rows=kind,
                        rows=checked.rows,
                        inserted=counts["inserted"],
                        skipped=counts["skipped"],
                    ),
                    actor=actor,
                    actor_id=actor_id,
                )
            lock_seconds = time.perf_counter() - locked_at
        except Exception as exc:
            if not _unique_clash(exc):
                raise
            raise InvalidInput(
                f"Some rows of {file_name} were imported by someone else while this import was being checked, so "
                "nothing of it was written. Import the file again: the rows already there are skipped.",
                field="file",
            ) from None
    say(1.0, "Done")
    return ImportReport(
        kind,
        file_name,
        checked.rows,
        counts["inserted"],
        counts["skipped"],
        counts["customers"],
        seconds=time.perf_counter() - started,
        check_seconds=checked.seconds,
        lock_seconds=lock_seconds,
    )


def _unique_clash(exc: BaseException) -> bool:
    """A unique key violated by the write (the bulk inserts use the driver directly, so the driver's own error
    arrives as well as SQLAlchemy's)."""
    orig = getattr(exc, "orig", None) or exc
    return isinstance(exc, IntegrityError | sqlite3.IntegrityError) or getattr(orig, "sqlstate", None) == "23505"


# --- the command line: python -m data.importer (or python -m desk.imports) -------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Import a file from a shell, through ``run_import`` like the page. Exit 0: imported (or, with
    --dry-run, valid); 2: rows have problems (printed as CSV on stdout, nothing written); 1: the file cannot
    be read or the import failed (a message on stderr, never a traceback; nothing written)."""
    ap = argparse.ArgumentParser(
        prog="python -m data.importer",
        description="Import services or refund cases from a CSV or .xlsx file (layouts: docs/import.md), "
        "with the same checks as the Import data page (for cases also the policy's). Every row is checked "
        "first; a file with any bad row writes nothing. Any size: the file is read as a stream.",
    )
    ap.add_argument("file", type=Path, help="the .csv or .xlsx file")
    ap.add_argument("--kind", required=True, choices=KINDS, help="what the file holds")
    ap.add_argument("--db", help="database URL (default: DATABASE_URL or data/refund_desk.db)")
    ap.add_argument("--dry-run", action="store_true", help="check every row and report, write nothing")
    ap.add_argument("--actor", default=None, help="who runs the import, for the audit trail (default: OS user)")
    args = ap.parse_args(argv)
    actor = args.actor or f"command line ({getpass.getuser()})"
    if not args.file.is_file():
        print(f"error: cannot read {args.file}: no such file", file=sys.stderr)
        return 1
    last = [-1.0]

    def progress(fraction: float, label: str) -> None:
        if fraction - last[0] >= 0.1 or fraction >= 1.0:
            last[0] = fraction
            print(f"  {fraction:4.0%} {label}", file=sys.stderr)

    db = open_database(args.db)
    try:
        report = run_import(
            db,
            args.file,
            args.file.name,
            args.kind,
            actor=actor,
            actor_id=None,
            dry_run=args.dry_run,
            progress=progress,
        )
    except DeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback; the transaction rolled back
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:300]
        if "no such table" in first or "does not exist" in first:
            first += " (the database has no schema yet: run `alembic upgrade head`, or `make run` once)"
        print(f"error: the import failed, nothing was written: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    if report.errors:
        print(f"{len(report.errors):,} problem(s) in {args.file.name}; nothing was written.", file=sys.stderr)
        # the same neutralised CSV as the page's download: a message may quote a cell of the file
        sys.stdout.write(report.errors_csv().decode("utf-8"))
        return 2
    if report.dry_run:
        print(
            f"dry run: {report.rows:,} rows are valid; {report.inserted:,} would be imported, "
            f"{report.skipped:,} are already present. Nothing was written."
        )
        return 0
    print(
        f"imported {args.file.name} into {describe_url(db.url)} in {report.seconds:.1f} s (write lock "
        f"{report.lock_seconds:.1f} s): {report.rows:,} rows, {report.inserted:,} new {args.kind}, "
        f"{report.skipped:,} already present"
        + (f", {report.customers:,} new customers" if args.kind == "services" else "")
    )
    return 0


EXAMPLES_DIR = Path(importer.__file__).resolve().parent / "examples"
KIND_LABELS = {"services": "Services sold (billing export)", "cases": "Refund cases (helpdesk export)"}


def example_file(kind: str) -> tuple[str, bytes]:
    """The documented example file of a kind (data/examples/<kind>.csv): name and content."""
    path = EXAMPLES_DIR / f"{kind}.csv"
    return path.name, path.read_bytes()


if __name__ == "__main__":
    raise SystemExit(main())
