"""Importing services and refund cases from a file: the admin's use case.

``import_file(db, actor_id, data, file_name, kind)`` checks the permission, reads the file, checks every row
(the importer's checks, and for cases the policy's: each case must be one the desk can judge), and writes
the whole file in one transaction with its ``import_completed`` audit event, or nothing at all.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data import importer
from data.db import Database
from data.importer import KINDS, LAYOUTS, ImportFileError, RowError
from desk import audit
from desk.auth import authorize
from desk.checker import current_book
from desk.errors import InvalidInput
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

    @property
    def written(self) -> bool:
        return not self.errors and not self.dry_run

    def errors_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(e.row, e.column, e.message) for e in self.errors], columns=["row", "column", "message"]
        )

    def errors_csv(self) -> bytes:
        out = io.StringIO()
        importer.write_errors_csv(self.errors, out)
        return out.getvalue().encode("utf-8")


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
    data: bytes,
    file_name: str,
    kind: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    book: PolicyBook | None = None,
) -> ImportReport:
    """Import a CSV/XLSX file of ``kind`` ("services" or "cases"), all or nothing.

    Raises NotAllowed (not an admin) and InvalidInput(field="file") for a file that cannot be read as that
    kind (not CSV/XLSX, empty, wrong columns). Row problems come back in ``ImportReport.errors`` and then
    nothing is written; a dry run checks everything and writes nothing either.
    """
    actor = authorize(db, actor_id, "import_data")
    if kind not in KINDS:
        raise InvalidInput(f"Choose what the file holds: {' or '.join(KINDS)}.", field="kind")
    started = time.perf_counter()
    say = progress or (lambda fraction, label: None)
    say(0.0, "Reading the file")
    try:
        frame = importer.read_table(data, file_name, kind)
    except ImportFileError as exc:
        raise InvalidInput(str(exc), field="file") from None
    say(0.05, f"Checking {len(frame):,} rows")
    if kind == "cases" and book is None:
        book = current_book(db)  # before the write lock: the first use of a database may store the versions
    with db.write.begin() as session:
        conn = session.connection()
        checked = importer.validate(conn, kind, frame)
        errors = checked.errors
        if not errors and kind == "cases" and len(checked.new):
            errors = _policy_errors(checked.new, book)
        if errors or dry_run:  # nothing was written: leaving the block commits an empty transaction
            return ImportReport(
                kind, file_name, checked.rows, 0 if errors else len(checked.new), checked.skipped,
                len(checked.customers_new), sorted(errors, key=lambda e: e.row), dry_run, time.perf_counter() - started,
            )
        say(0.15, "Writing")

        def step(done: int, total: int, label: str) -> None:
            say(0.15 + 0.8 * (done / total if total else 1.0), f"Writing {label}: {done:,} of {total:,}")

        counts = importer.write(conn, checked, step, actor=actor.email, actor_id=actor.id)
        audit.record(
            session,
            audit.ImportCompleted(
                file_name=file_name, kind_of_rows=kind, rows=checked.rows, inserted=counts["inserted"],
                skipped=counts["skipped"],
            ),
            actor=actor.email,
            actor_id=actor.id,
        )
        say(1.0, "Done")
    return ImportReport(
        kind, file_name, checked.rows, counts["inserted"], counts["skipped"], counts["customers"],
        seconds=time.perf_counter() - started,
    )


EXAMPLES_DIR = Path(importer.__file__).resolve().parent / "examples"
KIND_LABELS = {"services": "Services sold (billing export)", "cases": "Refund cases (helpdesk export)"}


def example_file(kind: str) -> tuple[str, bytes]:
    """The documented example file of a kind (data/examples/<kind>.csv): name and content."""
    path = EXAMPLES_DIR / f"{kind}.csv"
    return path.name, path.read_bytes()
