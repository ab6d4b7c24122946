"""Import services sold and refund cases from CSV or Excel exports: parse, validate every row, write in bulk.

    python -m data.importer FILE --kind services|cases [--db URL] [--dry-run] [--actor NAME]

The column layouts are in docs/import.md (examples under data/examples/). The rules:

- **Every row is checked before anything is written**: types, allowed values, dates, amounts, references
  (a case's service must exist), duplicates. Problems come back as ``RowError(row, column, message)``;
  ``row`` counts the header as row 1, as a spreadsheet shows it.
- **All or nothing**: a file with any bad row writes nothing. The caller owns the transaction: run
  ``validate`` and ``write`` on one connection inside one transaction (``Database.write.begin()``).
- **Re-importing is a no-op**: a row whose ``external_id`` is already in the database is skipped (and
  counted); existing rows are never changed.
- Importing services adds them to the ``sales_daily`` rollup in the same transaction; importing cases opens
  them (status open, due 14 days after opening) with a ``case_opened`` audit event each.

This module is the data layer: it imports nothing from desk/, policy/ or streamlit. The desk's use case
(``desk.imports``) adds the permission check, the policy's own check of each case and the
``import_completed`` audit event; the command line writes the same event itself.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Date, String, bindparam, func, select, text

from data import bulk
from data.generate import SLA_DAYS
from data.models import CHANNELS, CYCLES, REASONS, SERVICE_STATUSES, SERVICE_TYPES, Customer, Service
from data.models import Case as CaseRow

KINDS = ("services", "cases")
MAX_ERRORS = 100_000  # a file that bad gets its first 100,000 problems listed
LOOKUP_CHUNK = 30_000  # SQLite allows 32,766 parameters per statement
WRITE_CHUNK = 20_000

# Which column holds the date the policy counts a case from, by service status (subscriptions: cycle_start).
# The same mapping as desk.facts.SERVICE_DATE_COLUMN (a test keeps the two equal; data/ cannot import desk/).
SERVICE_DATE_COLUMN = {"completed": "completed_on", "in_progress": "initiated_on", "not_started": "scheduled_on"}


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    meaning: str


SERVICE_LAYOUT: tuple[Column, ...] = (
    Column("external_id", True, "Your id of the service (billing system), unique, at most 64 characters"),
    Column("customer_external_id", True, "Your id of the customer; new customers are created, known ones reused"),
    Column("customer_name", True, "Customer's name (used when the customer is new)"),
    Column("customer_email", True, "Customer's email (used when the customer is new)"),
    Column("service_type", True, ", ".join(SERVICE_TYPES)),
    Column("status", True, ", ".join(SERVICE_STATUSES)),
    Column("price", True, "Amount paid, e.g. 129.99 (0 or more, at most 2 decimals, no currency sign)"),
    Column("currency", False, "3-letter code; empty means USD"),
    Column("purchased_on", True, "Day of purchase, YYYY-MM-DD"),
    Column("scheduled_on", False, "Day the service is scheduled"),
    Column("initiated_on", False, "Day the service started; required when status is in_progress"),
    Column("completed_on", False, "Day it was rendered or completed; required when status is completed"),
    Column("cycle", False, "Subscriptions only, required for them: monthly or annual"),
    Column("cycle_start", False, "Subscriptions only, required: first day of the charged billing cycle"),
    Column("cycle_end", False, "Subscriptions only, required: last day of the charged billing cycle"),
    Column("cancelled_on", False, "Subscriptions only: day the subscription was cancelled"),
)
CASE_LAYOUT: tuple[Column, ...] = (
    Column("external_id", True, "Your id of the case (helpdesk ticket), unique, at most 64 characters"),
    Column("service_external_id", True, "external_id of the service the request is about (import services first)"),
    Column("opened_on", True, "Day the customer contacted us (the request date), YYYY-MM-DD"),
    Column("channel", True, ", ".join(CHANNELS)),
    Column("reason", True, ", ".join(REASONS)),
    Column("description", False, "The customer's words"),
    Column("amount_requested", True, "Amount the customer asks for, e.g. 49.99"),
    Column("documentation", False, "Names of the documents provided, separated by ';' (empty: none)"),
    Column("fix_attempted", False, "true/false (yes/no, 1/0); empty means false"),
    Column("fix_succeeded", False, "true/false once a fix was attempted; empty while the result is pending"),
)
LAYOUTS = {"services": SERVICE_LAYOUT, "cases": CASE_LAYOUT}

_TRUE = ("true", "yes", "y", "1", "t")
_FALSE = ("false", "no", "n", "0", "f")
_AMOUNT = r"\d{1,12}(?:\.\d{1,2})?"
_SCREENSHOT_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
_EMAIL_EXT = (".eml", ".msg")


class ImportFileError(Exception):
    """The file as a whole cannot be read as an import (not CSV/XLSX, empty, wrong columns)."""


@dataclass(frozen=True, order=True)
class RowError:
    row: int  # 1 is the header, as a spreadsheet numbers it
    column: str
    message: str


@dataclass
class Validated:
    """A checked file: its problems, or the rows to write (``new``) and how many were already there."""

    kind: str
    rows: int
    errors: list[RowError]
    new: pd.DataFrame
    skipped: int
    customers_new: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[int, int, str], None]  # (rows done, rows in all, what is being done)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- reading ------------------------------------------------------------------------------------------------


def _is_xlsx(data: bytes, file_name: str) -> bool:
    return file_name.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04"


def read_table(data: bytes, file_name: str, kind: str) -> pd.DataFrame:
    """The file's rows as strings (empty cells ""), columns checked against the ``kind``'s layout.

    Raises ImportFileError with a message for a person: not CSV or XLSX, empty, no data rows, missing or
    unknown columns.
    """
    if kind not in LAYOUTS:
        raise ImportFileError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not data or not data.strip():
        raise ImportFileError(f"{file_name} is empty; expected a header row and at least one data row.")
    if _is_xlsx(data, file_name):
        frame = _read_xlsx(data, file_name)
    else:
        frame = _read_csv(data, file_name)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    _check_columns(list(frame.columns), kind, file_name)
    if frame.empty:
        raise ImportFileError(f"{file_name} has a header row but no data rows.")
    return frame


def _read_csv(data: bytes, file_name: str) -> pd.DataFrame:
    if b"\x00" in data[:4096]:
        raise ImportFileError(f"{file_name} is not a CSV file (it holds binary data). Upload a .csv or .xlsx file.")
    try:
        text_ = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{file_name} is not UTF-8 text, so it is not a CSV file we can read. Save it as CSV UTF-8 "
            "(or upload the .xlsx)."
        ) from None
    try:
        records = list(csv.reader(io.StringIO(text_, newline="")))
    except csv.Error as exc:
        raise ImportFileError(f"{file_name} is not a valid CSV file: {exc}") from None
    if not records or not any(records[0]):
        raise ImportFileError(f"{file_name} has no header row; the first row must hold the column names.")
    header, width = records[0], len(records[0])
    numbers, rows, ragged = [], [], []
    for number, record in enumerate(records[1:], start=2):  # the header is row 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        if len(record) != width:
            ragged.append(RowError(number, "", f"has {len(record)} values; the header has {width} columns"))
            record = (record + [""] * width)[:width]
        numbers.append(number)
        rows.append(record)
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(numbers, dtype="int64") - 2, dtype=object)
    frame.attrs["row_errors"] = ragged
    return frame


def _read_xlsx(data: bytes, file_name: str) -> pd.DataFrame:
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, dtype=object, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds for a broken or foreign file
        raise ImportFileError(f"{file_name} is not a readable Excel (.xlsx) file: {exc}") from None
    frame = frame.dropna(how="all")  # blank rows; the index stays the row's position (row number - 2)
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        out[col] = [_cell_text(v) for v in frame[col].tolist()]
    return out


def _cell_text(value: object) -> str:
    """An Excel cell as the text a CSV would hold."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def _check_columns(columns: list[str], kind: str, file_name: str) -> None:
    layout = LAYOUTS[kind]
    known = [c.name for c in layout]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise ImportFileError(f"{file_name}: column {', '.join(dupes)} appears more than once.")
    missing = [c.name for c in layout if c.required and c.name not in columns]
    unknown = [c for c in columns if c not in known]
    if not missing and not unknown:
        return
    other = next(k for k in KINDS if k != kind)
    if set(columns) >= {c.name for c in LAYOUTS[other] if c.required}:
        raise ImportFileError(
            f"{file_name} looks like a {other} file, not a {kind} file: choose '{other}' as what the file holds."
        )
    parts = []
    if missing:
        parts.append(f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    raise ImportFileError(
        f"{file_name} does not have the {kind} layout: {'; '.join(parts)}. "
        f"A {kind} file has the columns {', '.join(known)} (see docs/import.md)."
    )


# --- validating ---------------------------------------------------------------------------------------------


class _Checker:
    """Collects (row, column, message) problems from vectorised checks."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.rows = frame.index.to_numpy() + 2
        self.errors: list[RowError] = list(frame.attrs.get("row_errors", []))

    def flag(self, mask, column: str, message: str | Callable[[str], str]) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any() or len(self.errors) >= MAX_ERRORS:
            return
        idx = np.flatnonzero(mask)[: MAX_ERRORS - len(self.errors)]
        if callable(message):
            values = self.frame[column].to_numpy()[idx] if column in self.frame else [""] * len(idx)
            self.errors.extend(RowError(int(self.rows[i]), column, message(str(v))) for i, v in zip(idx, values))
        else:
            self.errors.extend(RowError(int(self.rows[i]), column, message) for i in idx)

    def sorted_errors(self, kind: str) -> list[RowError]:
        """By row, then in the layout's column order."""
        order = {c.name: i for i, c in enumerate(LAYOUTS[kind])}
        return sorted(self.errors, key=lambda e: (e.row, order.get(e.column, -1), e.message))

    def col(self, name: str) -> pd.Series:
        if name not in self.frame:
            return pd.Series([""] * len(self.frame), index=self.frame.index, dtype=object)
        return self.frame[name]

    def required(self, name: str) -> pd.Series:
        s = self.col(name)
        self.flag(s == "", name, "required; the cell is empty")
        return s

    def choice(self, name: str, allowed: Sequence[str], required: bool = True) -> pd.Series:
        s = self.required(name) if required else self.col(name)
        self.flag((s != "") & ~s.isin(allowed), name, lambda v: f"'{_short(v)}' is not one of {', '.join(allowed)}")
        return s

    def text(self, name: str, max_len: int, required: bool = True) -> pd.Series:
        s = self.required(name) if required else self.col(name)
        self.flag(s.str.len() > max_len, name, f"longer than {max_len} characters")
        return s

    def date(self, name: str) -> pd.Series:
        """ISO strings (YYYY-MM-DD) for the cells, None where empty; impossible dates are flagged."""
        s = self.col(name)
        cleaned = s.str.replace(r"[ T]00:00:00$", "", regex=True)
        shaped = cleaned.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
        parsed = pd.to_datetime(cleaned.where(shaped), format="%Y-%m-%d", errors="coerce")
        self.flag((s != "") & parsed.isna(), name, lambda v: f"'{_short(v)}' is not a date as YYYY-MM-DD")
        out = cleaned.where(parsed.notna(), None)
        return out

    def amount(self, name: str) -> pd.Series:
        """Cents as int64 (0 where the cell is empty or bad)."""
        s = self.required(name)
        ok = s.str.fullmatch(_AMOUNT)
        self.flag(
            (s != "") & ~ok,
            name,
            lambda v: f"'{_short(v)}' is not an amount such as 129.99 (0 or more, no currency sign or thousands "
            "separator)",
        )
        values = pd.to_numeric(s.where(ok, "0"), errors="coerce").fillna(0.0)
        return (values * 100).round().astype("int64")

    def boolean(self, name: str) -> pd.Series:
        """True/False, or None where the cell is empty."""
        s = self.col(name).str.lower()
        is_true, is_false = s.isin(_TRUE), s.isin(_FALSE)
        self.flag((s != "") & ~is_true & ~is_false, name, lambda v: f"'{_short(v)}' is not true or false")
        return pd.Series(np.where(is_true, True, np.where(is_false, False, None)), index=s.index, dtype=object)

    def duplicates(self, name: str) -> None:
        s = self.col(name)
        dup = s.duplicated(keep="first") & (s != "")
        if dup.any():
            first = s[~s.duplicated(keep="first")]
            first_row = dict(zip(first.to_numpy(), first.index.to_numpy() + 2))
            self.flag(dup, name, lambda v: f"'{_short(v)}' appears again (first on row {first_row[v]})")


def _short(value: str, limit: int = 40) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells without surrounding spaces, as plain Python strings (object dtype: its hash-based isin is much
    faster than the Arrow-backed string dtype's on 100,000 rows)."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        values = frame[col].tolist()
        if col != "description":
            values = [v.strip() if isinstance(v, str) else str(v).strip() for v in values]
        out[col] = pd.Series(values, index=frame.index, dtype=object)
    out.attrs = frame.attrs
    return out


def lookup(conn: Connection, table, keys: Sequence[str], columns: Sequence) -> pd.DataFrame:
    """Rows of ``table`` whose external_id is in ``keys``: a frame indexed by external_id.

    Plain driver SQL (one ``= ANY(array)`` query on PostgreSQL, IN lists of up to 30,000 on SQLite): compiling
    expanding IN lists through SQLAlchemy took most of the time at 100,000 keys. Dates come back as dates on
    PostgreSQL and as ISO text on SQLite; the callers take both."""
    names = ["external_id", *[c.key for c in columns]]
    select_list = ", ".join(names)
    unique = list(dict.fromkeys(k for k in keys if k))
    parts: list[tuple] = []
    cursor = conn.connection.driver_connection.cursor()  # the caller's transaction, without Row objects
    try:
        if unique and conn.dialect.name == "postgresql":
            cursor.execute(f"SELECT {select_list} FROM {table.name} WHERE external_id = ANY(%s)", (unique,))
            parts = cursor.fetchall()
        else:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                marks = ", ".join("?" * len(chunk))
                cursor.execute(f"SELECT {select_list} FROM {table.name} WHERE external_id IN ({marks})", chunk)
                parts.extend(cursor.fetchall())
    finally:
        cursor.close()
    return pd.DataFrame.from_records(parts, columns=names).set_index("external_id")


def validate(conn: Connection, kind: str, frame: pd.DataFrame) -> Validated:
    """Check every row of a file read by ``read_table`` against the layout and the database."""
    frame = _strip(frame)
    if kind == "services":
        return _validate_services(conn, frame)
    if kind == "cases":
        return _validate_cases(conn, frame)
    raise ImportFileError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _validate_services(conn: Connection, frame: pd.DataFrame) -> Validated:
    c = _Checker(frame)
    ext = c.text("external_id", 64)
    c.duplicates("external_id")
    cust = c.text("customer_external_id", 64)
    name = c.text("customer_name", 200)
    email = c.text("customer_email", 254)
    c.flag((email != "") & ~email.str.fullmatch(r"[^@\s]+@[^@\s]+"), "customer_email",
           lambda v: f"'{_short(v)}' is not an email address")
    stype = c.choice("service_type", SERVICE_TYPES)
    status = c.choice("status", SERVICE_STATUSES)
    price = c.amount("price")
    currency = c.col("currency").str.upper()
    c.flag((currency != "") & ~currency.str.fullmatch(r"[A-Z]{3}"), "currency",
           lambda v: f"'{_short(v)}' is not a 3-letter currency code")
    purchased = c.date("purchased_on")
    c.flag(c.col("purchased_on") == "", "purchased_on", "required; the cell is empty")
    scheduled, initiated, completed = c.date("scheduled_on"), c.date("initiated_on"), c.date("completed_on")
    cycle = c.choice("cycle", CYCLES, required=False)
    cycle_start, cycle_end, cancelled = c.date("cycle_start"), c.date("cycle_end"), c.date("cancelled_on")

    is_sub = stype == "subscription"
    plain = ~is_sub & (stype != "")
    for col in ("cycle", "cycle_start", "cycle_end"):
        c.flag(is_sub & (c.col(col) == ""), col, "required for a subscription")
    for col in ("cycle", "cycle_start", "cycle_end", "cancelled_on"):
        c.flag(plain & (c.col(col) != ""), col, "only for subscriptions; leave it empty for this service type")
    c.flag(plain & (status == "completed") & (c.col("completed_on") == ""), "completed_on",
           "required when status is completed")
    c.flag(plain & (status == "in_progress") & (c.col("initiated_on") == ""), "initiated_on",
           "required when status is in_progress")
    c.flag(_before(cycle_end, cycle_start), "cycle_end", "before cycle_start")
    c.flag(_before(completed, initiated), "completed_on", "before initiated_on")

    existing = lookup(conn, Service.__table__, ext.tolist(), [Service.__table__.c.id])
    present = ext.isin(existing.index).to_numpy()
    if c.errors:
        return Validated("services", len(frame), c.sorted_errors("services"), frame.iloc[0:0], int(present.sum()))

    keep = ~present
    new = pd.DataFrame(
        {
            "external_id": ext, "customer_external_id": cust, "service_type": stype, "price_cents": price,
            "currency": currency.where(currency != "", "USD"), "status": status, "purchased_on": purchased,
            "scheduled_on": scheduled, "initiated_on": initiated, "completed_on": completed,
            "cycle": cycle.where(cycle != "", None), "cycle_start": cycle_start, "cycle_end": cycle_end,
            "cancelled_on": cancelled, "customer_name": name, "customer_email": email,
        }
    )[keep].reset_index(drop=True)
    known = lookup(conn, Customer.__table__, new["customer_external_id"].tolist(), [Customer.__table__.c.id])
    first = new.drop_duplicates("customer_external_id")
    customers_new = first[~first["customer_external_id"].isin(known.index)][
        ["customer_external_id", "customer_name", "customer_email"]
    ].reset_index(drop=True)
    return Validated("services", len(frame), [], new, int(present.sum()), customers_new)


def _before(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    both = later.notna() & earlier.notna()
    out = np.zeros(len(later), dtype=bool)
    out[both.to_numpy()] = (later[both] < earlier[both]).to_numpy()  # ISO strings sort as dates
    return out


SERVICE_FACT_COLUMNS = (
    "id", "customer_id", "service_type", "status", "price_cents", "purchased_on", "scheduled_on",
    "initiated_on", "completed_on", "cycle", "cycle_start", "cycle_end", "cancelled_on",
)


def _validate_cases(conn: Connection, frame: pd.DataFrame) -> Validated:
    c = _Checker(frame)
    ext = c.text("external_id", 64)
    c.duplicates("external_id")
    svc_ext = c.text("service_external_id", 64)
    opened = c.date("opened_on")
    c.flag(c.col("opened_on") == "", "opened_on", "required; the cell is empty")
    channel = c.choice("channel", CHANNELS)
    reason = c.choice("reason", REASONS)
    amount = c.amount("amount_requested")
    fix_attempted = c.boolean("fix_attempted")
    fix_succeeded = c.boolean("fix_succeeded")
    attempted_readable = fix_attempted.notna() | (c.col("fix_attempted") == "")
    c.flag(fix_succeeded.notna() & (fix_attempted != True) & attempted_readable,  # noqa: E712 (object column)
           "fix_succeeded", "must be empty unless fix_attempted is true")
    docs = c.col("documentation")

    table = Service.__table__
    services = lookup(conn, table, svc_ext.tolist(), [table.c[n] for n in SERVICE_FACT_COLUMNS])
    known = svc_ext.isin(services.index)
    c.flag((svc_ext != "") & ~known, "service_external_id",
           lambda v: f"no service with external_id '{_short(v)}' in the database; import the services file first")
    svc = services.reindex(svc_ext.where(known, None).tolist())
    svc.index = frame.index
    stype = svc["service_type"].astype(object)
    c.flag(known & (reason == "unused_subscription") & (stype != "subscription"), "reason",
           "unused_subscription applies only to subscriptions, and this service is not one")
    # The policy counts from the service date; a request before it (for a started service) cannot be judged.
    service_date = _service_dates(svc)
    started = known & ((svc["status"] != "not_started") | (stype == "subscription"))
    too_early = started & service_date.notna() & opened.notna()
    early = np.zeros(len(frame), dtype=bool)
    early[too_early.to_numpy()] = (
        opened[too_early].astype(str) < service_date[too_early].astype(str)
    ).to_numpy()
    c.flag(early, "opened_on", lambda v: f"'{v}' is before the service date of a service that has started")
    c.flag(started & service_date.isna(), "service_external_id",
           "the service has no date to count the contact window from (completed_on, initiated_on or cycle_start)")

    existing = lookup(conn, CaseRow.__table__, ext.tolist(), [CaseRow.__table__.c.id])
    present = ext.isin(existing.index).to_numpy()
    if c.errors:
        return Validated("cases", len(frame), c.sorted_errors("cases"), frame.iloc[0:0], int(present.sum()))
    keep = ~present
    new = pd.DataFrame(
        {
            "row": frame.index.to_numpy() + 2,
            "external_id": ext,
            "service_id": svc["id"],
            "customer_id": svc["customer_id"],
            "service_type": stype,
            "opened_on": opened,
            "channel": channel,
            "reason": reason,
            "description": c.col("description").astype(str),
            "amount_requested_cents": amount,
            "documentation": [_documentation(d) for d in docs.tolist()],
            "fix_attempted": fix_attempted.fillna(False).astype(bool),
            "fix_succeeded": fix_succeeded,
            # the service's columns, for the desk's policy check of each case
            "service_status": svc["status"],
            "price_cents": svc["price_cents"],
            **{n: svc[n] for n in ("purchased_on", "scheduled_on", "initiated_on", "completed_on", "cycle",
                                   "cycle_start", "cycle_end", "cancelled_on")},
        }
    )[keep].reset_index(drop=True)
    return Validated("cases", len(frame), [], new, int(present.sum()))


def _service_dates(svc: pd.DataFrame) -> pd.Series:
    """The service date each service's status points at (cycle_start for subscriptions), as ISO text."""
    out = pd.Series([None] * len(svc), index=svc.index, dtype=object)
    for status, column in SERVICE_DATE_COLUMN.items():
        mask = svc["status"] == status
        out[mask] = svc.loc[mask, column]
    sub = svc["service_type"] == "subscription"
    out[sub] = svc.loc[sub, "cycle_start"]
    return out.map(lambda d: None if d is None or d != d else str(d)[:10])


def _documentation(cell: str) -> str:
    """'invoice.png; Re: refund' -> the JSON list of documents the cases table holds."""
    if not cell:
        return "[]"
    items = []
    for name in (part.strip() for part in cell.split(";")):
        if not name:
            continue
        low = name.lower()
        kind = "screenshot" if low.endswith(_SCREENSHOT_EXT) else "email" if low.endswith(_EMAIL_EXT) else "other"
        items.append({"kind": kind, "name": name[:200], "note": ""})
    return json.dumps(items)


# --- writing ------------------------------------------------------------------------------------------------


def _iso_now() -> str:
    return utcnow().isoformat(sep=" ")


def _none(values) -> list:
    """A column as a list with pandas' missing values as None."""
    return [None if v is None or v != v else v for v in values]


def write(
    conn: Connection,
    checked: Validated,
    progress: Progress | None = None,
    actor: str = "import",
    actor_id: int | None = None,
) -> dict:
    """Write a validated file's new rows on ``conn`` (inside the caller's transaction; nothing commits here).
    Returns counts: inserted, skipped, customers (created), sales_days (rollup rows touched)."""
    if not checked.ok:
        raise ValueError("refusing to write a file with errors")
    report = progress or (lambda done, total, label: None)
    if checked.kind == "services":
        return _write_services(conn, checked, report)
    return _write_cases(conn, checked, report, actor, actor_id)


def _write_services(conn: Connection, checked: Validated, report: Progress) -> dict:
    new, total = checked.new, len(checked.new)
    now = _iso_now()
    cust = checked.customers_new
    if len(cust):
        bulk.insert_columns(
            conn,
            "customers",
            {
                "external_id": cust["customer_external_id"].tolist(),
                "name": cust["customer_name"].tolist(),
                "email": cust["customer_email"].tolist(),
                "created_at": [now] * len(cust),
            },
        )
    ids = lookup(conn, Customer.__table__, new["customer_external_id"].tolist(), [Customer.__table__.c.id])["id"]
    customer_id = new["customer_external_id"].map(ids).astype("int64")
    report(0, total, "services")
    for start in range(0, total, WRITE_CHUNK):
        part = new.iloc[start : start + WRITE_CHUNK]
        bulk.insert_columns(
            conn,
            "services",
            {
                "external_id": part["external_id"].tolist(),
                "customer_id": customer_id.iloc[start : start + WRITE_CHUNK].tolist(),
                "service_type": part["service_type"].tolist(),
                "price_cents": part["price_cents"].tolist(),
                "currency": part["currency"].tolist(),
                "status": part["status"].tolist(),
                **{
                    col: _none(part[col].tolist())
                    for col in ("purchased_on", "scheduled_on", "initiated_on", "completed_on", "cycle",
                                "cycle_start", "cycle_end", "cancelled_on")
                },
            },
        )
        report(min(total, start + WRITE_CHUNK), total, "services")
    days = add_to_sales_rollup(conn, new)
    return {"inserted": total, "skipped": checked.skipped, "customers": len(cust), "sales_days": days}


def add_to_sales_rollup(conn: Connection, services: pd.DataFrame) -> int:
    """Add services sold (per purchase day and type) to ``sales_daily``: existing rows grow, new ones appear."""
    if services.empty:
        return 0
    sums = (
        services.groupby(["purchased_on", "service_type"], sort=True)["price_cents"]
        .agg(["size", "sum"])
        .reset_index()
    )
    conn.execute(
        text(
            "INSERT INTO sales_daily (day, service_type, services_sold, revenue_cents) "
            "VALUES (:day, :service_type, :sold, :revenue) "
            "ON CONFLICT (day, service_type) DO UPDATE SET "
            "services_sold = sales_daily.services_sold + excluded.services_sold, "
            "revenue_cents = sales_daily.revenue_cents + excluded.revenue_cents"
        ).bindparams(
            bindparam("day", type_=Date),
            bindparam("service_type", type_=String),
            bindparam("sold", type_=BigInteger),
            bindparam("revenue", type_=BigInteger),
        ),
        [
            {"day": _day(d), "service_type": t, "sold": int(n), "revenue": int(r)}
            for d, t, n, r in sums.itertuples(index=False)
        ],
    )
    return len(sums)


def _day(iso: str) -> date:
    return date.fromisoformat(str(iso)[:10])


PAUSE_ROLLUPS_ABOVE = 20_000  # case rows; a larger file rebuilds the analytics rollups once instead


def _write_cases(conn: Connection, checked: Validated, report: Progress, actor: str, actor_id: int | None) -> dict:
    new, total = checked.new, len(checked.new)
    now = _iso_now()
    opened = pd.to_datetime(new["opened_on"], format="%Y-%m-%d")
    due = (opened + pd.Timedelta(days=SLA_DAYS)).dt.strftime("%Y-%m-%d")
    report(0, total, "cases")
    # A file large next to the table: pause the analytics rollup triggers and rebuild once at the end
    # (cheaper than per-row trigger work); a small file keeps the per-row upkeep.
    existing = conn.execute(select(func.count()).select_from(CaseRow.__table__)).scalar_one()
    large = total > max(PAUSE_ROLLUPS_ABOVE, existing // 4)
    with bulk.rollups_paused(conn, "case import") if large else nullcontext():
        _insert_cases(conn, new, due, now, total, report)
    return _finish_cases(conn, checked, new, total, actor, actor_id, now)


def _insert_cases(conn: Connection, new, due, now: str, total: int, report: Progress) -> None:
    for start in range(0, total, WRITE_CHUNK):
        part = new.iloc[start : start + WRITE_CHUNK]
        n = len(part)
        bulk.insert_columns(
            conn,
            "cases",
            {
                "external_id": part["external_id"].tolist(),
                "service_id": part["service_id"].astype("int64").tolist(),
                "customer_id": part["customer_id"].astype("int64").tolist(),
                "service_type": part["service_type"].tolist(),
                "opened_on": part["opened_on"].tolist(),
                "channel": part["channel"].tolist(),
                "reason": part["reason"].tolist(),
                "description": part["description"].tolist(),
                "amount_requested_cents": part["amount_requested_cents"].tolist(),
                "documentation": part["documentation"].tolist(),
                "fix_attempted": part["fix_attempted"].tolist(),
                "fix_succeeded": _none(part["fix_succeeded"].tolist()),
                "status": ["open"] * n,
                "assignee_id": [None] * n,
                "due_on": due.iloc[start : start + WRITE_CHUNK].tolist(),
                "decided_on": [None] * n,
                "version": [1] * n,
                "created_at": [now] * n,
            },
        )
        report(min(total, start + WRITE_CHUNK), total, "cases")


def _finish_cases(conn: Connection, checked: Validated, new, total: int, actor: str, actor_id, now: str) -> dict:
    # every case's timeline starts with its opening, as for cases the desk opens itself
    ids = lookup(conn, CaseRow.__table__, new["external_id"].tolist(), [CaseRow.__table__.c.id])["id"]
    case_ids = new["external_id"].map(ids).astype("int64").tolist()
    bulk.insert_columns(
        conn,
        "case_events",
        {
            "case_id": case_ids,
            "actor_id": [actor_id] * total,
            "actor": [actor] * total,
            "at": [now] * total,
            "kind": ["case_opened"] * total,
            "payload": new["channel"].map({ch: json.dumps({"channel": ch}) for ch in CHANNELS}).tolist(),
        },
    )
    return {"inserted": total, "skipped": checked.skipped, "customers": 0, "sales_days": 0}


# --- the command line -----------------------------------------------------------------------------------------


def import_event_payload(file_name: str, kind: str, rows: int, inserted: int, skipped: int) -> dict:
    """The payload of the ``import_completed`` audit event (the same fields as desk.audit.ImportCompleted)."""
    return {"file_name": file_name, "kind_of_rows": kind, "rows": rows, "inserted": inserted, "skipped": skipped}


def write_errors_csv(errors: Sequence[RowError], out) -> None:
    w = csv.writer(out)
    w.writerow(["row", "column", "message"])
    w.writerows((e.row, e.column, e.message) for e in errors)


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy import insert

    from data.db import describe_url, open_database
    from data.models import CaseEvent

    ap = argparse.ArgumentParser(
        prog="python -m data.importer",
        description="Import services or refund cases from a CSV or .xlsx file (layouts: docs/import.md). "
        "Every row is checked first; a file with any bad row writes nothing.",
    )
    ap.add_argument("file", type=Path, help="the .csv or .xlsx file")
    ap.add_argument("--kind", required=True, choices=KINDS, help="what the file holds")
    ap.add_argument("--db", help="database URL (default: DATABASE_URL or data/refund_desk.db)")
    ap.add_argument("--dry-run", action="store_true", help="check every row and report, write nothing")
    ap.add_argument("--actor", default=None, help="who runs the import, for the audit trail (default: OS user)")
    args = ap.parse_args(argv)
    actor = args.actor or f"command line ({getpass.getuser()})"
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    try:
        frame = read_table(data, args.file.name, args.kind)
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    db = open_database(args.db)
    try:
        with db.write.begin() as session:
            conn = session.connection()
            checked = validate(conn, args.kind, frame)
            if not checked.ok:
                print(f"{len(checked.errors):,} problem(s) in {args.file.name}; nothing was written.", file=sys.stderr)
                write_errors_csv(checked.errors, sys.stdout)
                return 2
            if args.dry_run:
                print(
                    f"dry run: {checked.rows:,} rows are valid; {len(checked.new):,} would be imported, "
                    f"{checked.skipped:,} are already present. Nothing was written."
                )
                return 0
            last = [-1.0]

            def progress(done: int, total: int, label: str) -> None:
                pct = done / total if total else 1.0
                if total and (pct - last[0] >= 0.1 or done == total):
                    last[0] = pct
                    print(f"  {label}: {done:,}/{total:,}", file=sys.stderr)

            counts = write(conn, checked, progress, actor=actor)
            conn.execute(
                insert(CaseEvent.__table__).values(
                    case_id=None, actor_id=None, actor=actor, at=utcnow(), kind="import_completed",
                    payload=import_event_payload(args.file.name, args.kind, checked.rows, counts["inserted"],
                                                 counts["skipped"]),
                )
            )
    finally:
        db.dispose()
    elapsed = time.perf_counter() - t0
    print(
        f"imported {args.file.name} into {describe_url(db.url)} in {elapsed:.1f} s: {checked.rows:,} rows, "
        f"{counts['inserted']:,} new {args.kind}, {counts['skipped']:,} already present"
        + (f", {counts['customers']:,} new customers" if args.kind == "services" else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
