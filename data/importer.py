"""Import services sold and refund cases from CSV or Excel exports: parse, validate every row, write in bulk.

    python -m data.importer FILE --kind services|cases [--db URL] [--dry-run] [--actor NAME]

The column layouts are in docs/import.md (examples under data/examples/). The rules:

- **Every row is checked before anything is written**: types, allowed values, dates, amounts, references
  (a case's service must exist), duplicates. Problems come back as ``RowError(row, column, message)``;
  ``row`` counts the header as row 1, as a spreadsheet shows it.
- **Checked before the write lock, streamed**: ``check_file`` reads the file as a stream (the csv module row by
  row, openpyxl's read-only mode for .xlsx), checks it ``CHUNK_ROWS`` rows at a time on short read-only
  connections and spools the new rows to a temporary file; memory stays at about one chunk whatever the
  file's size, and no write lock is held while checking, so reviewers keep deciding.
- **All or nothing**: a file with any bad row writes nothing. ``write`` inserts a checked file's rows on one
  connection inside the caller's one transaction (``Database.write.begin()``), with nothing left to check.
  Rows another import wrote between the check and the write make the insert fail on a unique key, and the
  transaction rolls back whole.
- **Re-importing is a no-op**: a row whose ``external_id`` is already in the database is skipped (and
  counted); existing rows are never changed.
- Importing services adds them to the ``sales_daily`` rollup in the same transaction; importing cases opens
  them (status open, due 14 days after opening) with a ``case_opened`` audit event each.

This module is the data layer: it imports nothing from desk/, policy/ or streamlit (only ``main``, the command
line, hands over to the desk). The desk's use case (``desk.imports``) adds the permission check, the policy's
own check of each case and the ``import_completed`` audit event, for the page and the command line alike.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from hashlib import blake2b
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Date, Engine, String, bindparam, func, select, text

from data import bulk
from data.models import (
    CHANNELS,
    CYCLES,
    DUE_DAYS,
    REASONS,
    SERVICE_DATE_COLUMN,
    SERVICE_STATUSES,
    SERVICE_TERM_COLUMNS,
    SERVICE_TYPES,
    VERDICT_SERVICE_COLUMNS,
    Customer,
    Service,
)
from data.models import Case as CaseRow

KINDS = ("services", "cases")
MAX_ERRORS = 100_000  # a file that bad gets its first 100,000 problems listed
LOOKUP_CHUNK = 30_000  # SQLite allows 32,766 parameters per statement
WRITE_CHUNK = 20_000
CHUNK_ROWS = 20_000  # rows read and checked at a time: memory stays at one chunk whatever the file's size

# Which column holds the date the policy counts a case from, by service status (subscriptions: cycle_start).


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

Source = bytes | str | Path | BinaryIO  # the file's bytes, its path, or an open binary file (an upload)


def _open(source: Source) -> BinaryIO:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        return open(source, "rb")  # noqa: SIM115 (closed by the caller)
    if source.seekable():
        source.seek(0)
    return source


def _size(fh: BinaryIO) -> int:
    try:
        here = fh.tell()
        end = fh.seek(0, io.SEEK_END)
        fh.seek(here)
        return end
    except (OSError, ValueError):
        return 0


def _is_xlsx(head: bytes, file_name: str) -> bool:
    return file_name.lower().endswith(".xlsx") or head[:4] == b"PK\x03\x04"


def _csv_encoding(head: bytes, file_name: str) -> str:
    """The text encoding of a CSV from its first bytes: UTF-8 (with or without a BOM) or UTF-16 with its BOM.

    Excel's "Unicode Text" and some exports write UTF-16: it is read when its byte-order mark says so;
    without one it is named, with how to save the file as UTF-8."""
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        raise ImportFileError(f"{file_name} is UTF-32 text. {SAVE_AS_UTF8}")
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if b"\x00" in head:
        if _looks_like_utf16(head):
            raise ImportFileError(f"{file_name} looks like UTF-16 text without a byte-order mark. {SAVE_AS_UTF8}")
        raise ImportFileError(f"{file_name} is not a CSV file (it holds binary data). Upload a .csv or .xlsx file.")
    return "utf-8-sig"


def _looks_like_utf16(head: bytes) -> bool:
    """Text in UTF-16 without its byte-order mark: mostly Latin text, so one byte of every pair is zero and
    the other is printable."""
    if len(head) < 8:
        return False
    for zeros, chars in ((head[1::2], head[0::2]), (head[0::2], head[1::2])):
        if zeros.count(0) >= 0.8 * len(zeros) and chars.count(0) == 0:
            printable = sum(32 <= b < 127 or b in (9, 10, 13) or b >= 0xA0 for b in chars)
            if printable >= 0.9 * len(chars):
                return True
    return False


SAVE_AS_UTF8 = (
    'Save it as UTF-8: in Excel, File > Save As > "CSV UTF-8 (Comma delimited)"; in LibreOffice, '
    "Save As > Text CSV with character set Unicode (UTF-8); or upload the .xlsx instead."
)
HEAD_BYTES = 64 * 1024


def iter_tables(
    source: Source,
    file_name: str,
    kind: str,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """The file's rows as frames of at most ``chunk_rows`` rows of strings (empty cells ""), read as a stream:
    memory stays at one chunk whatever the file's size. The index is the spreadsheet row number - 2; a
    frame's ``attrs["row_errors"]`` lists its ragged rows. The header is checked against the ``kind``'s
    layout before the first frame.

    Raises ImportFileError with a message for a person: not CSV or XLSX, empty, no data rows, missing or
    unknown columns, not UTF-8 (UTF-16 with a byte-order mark is read)."""
    if kind not in LAYOUTS:
        raise ImportFileError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    fh = _open(source)
    rows: Iterator[tuple[int, list[str]]] | None = None
    try:
        total = _size(fh)
        head = fh.read(HEAD_BYTES)
        fh.seek(0)
        if not head:
            raise ImportFileError(f"{file_name} is empty; expected a header row and at least one data row.")
        if _is_xlsx(head, file_name):
            rows = _xlsx_rows(fh, file_name)
        else:
            encoding = _csv_encoding(head, file_name)
            if len(head) < HEAD_BYTES and not head.decode(encoding, errors="replace").strip():
                raise ImportFileError(f"{file_name} is empty; expected a header row and at least one data row.")
            rows = _csv_rows(fh, file_name, encoding)
        yield from _frames(rows, file_name, kind, chunk_rows, lambda: progress(_tell(fh), total) if progress else None)
    finally:
        if rows is not None:
            rows.close()  # before the file: the CSV reader lets go of it first
        if fh is not source:
            fh.close()


def _tell(fh: BinaryIO) -> int:
    try:
        return fh.tell()
    except (OSError, ValueError):
        return 0


def _csv_rows(fh: BinaryIO, file_name: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every CSV record; the header is row 1."""
    text_ = io.TextIOWrapper(fh, encoding=encoding, newline="")
    try:
        number = 0
        for number, record in enumerate(csv.reader(text_), start=1):
            yield number, record
    except UnicodeDecodeError:
        what = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise ImportFileError(
            f"{file_name} is not {what} text (row {number + 1} holds bytes that are not), so it is not a CSV "
            f"file we can read. {SAVE_AS_UTF8}"
        ) from None
    except csv.Error as exc:
        raise ImportFileError(f"{file_name} is not a valid CSV file: {exc}") from None
    finally:
        text_.detach()


def _xlsx_rows(fh: BinaryIO, file_name: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of the first sheet, read row by row (openpyxl's read-only mode)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken or foreign file
        raise ImportFileError(f"{file_name} is not a readable Excel (.xlsx) file: {exc}") from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in values]
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(f"{file_name} is not a readable Excel (.xlsx) file: {exc}") from None
    finally:
        book.close()


def _frames(
    rows: Iterator[tuple[int, list[str]]], file_name: str, kind: str, chunk_rows: int, tick: Callable[[], None]
) -> Iterator[pd.DataFrame]:
    first = next(rows, None)
    if first is None or not any(c.strip() for c in first[1]):
        raise ImportFileError(f"{file_name} has no header row; the first row must hold the column names.")
    header = list(first[1])
    while header and not header[-1].strip():
        header.pop()  # a spreadsheet's empty trailing columns
    columns = [str(c).strip().lower() for c in header]
    _check_columns(columns, kind, file_name)
    width = len(columns)
    numbers: list[int] = []
    records: list[list[str]] = []
    ragged: list[RowError] = []
    any_rows = False
    for number, record in rows:
        if not any(c.strip() for c in record):
            continue  # a blank line
        if len(record) != width:
            if len(record) > width and not any(c.strip() for c in record[width:]):
                record = record[:width]  # empty trailing cells
            else:
                ragged.append(RowError(number, "", f"has {len(record)} values; the header has {width} columns"))
                record = (record + [""] * width)[:width]
        numbers.append(number)
        records.append(record)
        if len(records) >= chunk_rows:
            any_rows = True
            yield _frame(records, columns, numbers, ragged)
            tick()
            numbers, records, ragged = [], [], []
    if records or ragged:
        any_rows = True
        yield _frame(records, columns, numbers, ragged)
        tick()
    if not any_rows:
        raise ImportFileError(f"{file_name} has a header row but no data rows.")


def _frame(records: list[list[str]], columns: list[str], numbers: list[int], ragged: list[RowError]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=columns, index=pd.Index(numbers, dtype="int64") - 2, dtype=object)
    frame.attrs["row_errors"] = ragged
    return frame


def read_table(data: Source, file_name: str, kind: str) -> pd.DataFrame:
    """The whole file as one frame (small files and tests; imports go through ``check_file``, chunk by chunk)."""
    frames = list(iter_tables(data, file_name, kind))
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    frame.attrs["row_errors"] = [e for f in frames for e in f.attrs.get("row_errors", [])]
    return frame


def _cell_text(value: object) -> str:
    """An Excel cell as the text a CSV would hold."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
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
            lambda v: (
                f"'{_short(v)}' is not an amount such as 129.99 (0 or more, no currency sign or thousands separator)"
            ),
        )
        values = pd.to_numeric(s.where(ok, "0"), errors="coerce").fillna(0.0)
        return (values * 100).round().astype("int64")

    def boolean(self, name: str) -> pd.Series:
        """True/False, or None where the cell is empty."""
        s = self.col(name).str.lower()
        is_true, is_false = s.isin(_TRUE), s.isin(_FALSE)
        self.flag((s != "") & ~is_true & ~is_false, name, lambda v: f"'{_short(v)}' is not true or false")
        return pd.Series(np.where(is_true, True, np.where(is_false, False, None)), index=s.index, dtype=object)

    def duplicates(self, name: str, seen: SeenKeys | None = None) -> None:
        """Flag a value that appeared before: earlier in this frame, or (with ``seen``) in an earlier chunk."""
        s = self.col(name)
        dup = s.duplicated(keep="first") & (s != "")
        first = s[~s.duplicated(keep="first") & (s != "")]
        first_row = dict(zip(first.to_numpy(), first.index.to_numpy() + 2))
        if seen is not None:
            earlier = seen.check_and_add(first.to_numpy(), first.index.to_numpy() + 2)
            for value, row in earlier.items():
                first_row[value] = row
            dup = dup | (s.isin(list(earlier)) & (s != ""))
        if dup.any():
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


def validate(conn: Connection, kind: str, frame: pd.DataFrame, state: FileState | None = None) -> Validated:
    """Check every row of a frame (a whole file from ``read_table``, or one chunk of ``iter_tables`` with the
    file's ``state``, which carries what earlier chunks held) against the layout and the database. Only reads."""
    frame = _strip(frame)
    state = state or FileState()
    if kind == "services":
        return _validate_services(conn, frame, state)
    if kind == "cases":
        return _validate_cases(conn, frame, state)
    raise ImportFileError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _validate_services(conn: Connection, frame: pd.DataFrame, state: FileState) -> Validated:
    c = _Checker(frame)
    ext = c.text("external_id", 64)
    c.duplicates("external_id", state.external_ids)
    cust = c.text("customer_external_id", 64)
    name = c.text("customer_name", 200)
    email = c.text("customer_email", 254)
    c.flag(
        (email != "") & ~email.str.fullmatch(r"[^@\s]+@[^@\s]+"),
        "customer_email",
        lambda v: f"'{_short(v)}' is not an email address",
    )
    stype = c.choice("service_type", SERVICE_TYPES)
    status = c.choice("status", SERVICE_STATUSES)
    price = c.amount("price")
    currency = c.col("currency").str.upper()
    c.flag(
        (currency != "") & ~currency.str.fullmatch(r"[A-Z]{3}"),
        "currency",
        lambda v: f"'{_short(v)}' is not a 3-letter currency code",
    )
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
    c.flag(
        plain & (status == "completed") & (c.col("completed_on") == ""),
        "completed_on",
        "required when status is completed",
    )
    c.flag(
        plain & (status == "in_progress") & (c.col("initiated_on") == ""),
        "initiated_on",
        "required when status is in_progress",
    )
    c.flag(_before(cycle_end, cycle_start), "cycle_end", "before cycle_start")
    c.flag(_before(completed, initiated), "completed_on", "before initiated_on")

    existing = lookup(conn, Service.__table__, ext.tolist(), [Service.__table__.c.id])
    present = ext.isin(existing.index).to_numpy()
    if c.errors:
        return Validated("services", len(frame), c.sorted_errors("services"), frame.iloc[0:0], int(present.sum()))

    keep = ~present
    new = pd.DataFrame(
        {
            "external_id": ext,
            "customer_external_id": cust,
            "service_type": stype,
            "price_cents": price,
            "currency": currency.where(currency != "", "USD"),
            "status": status,
            "purchased_on": purchased,
            "scheduled_on": scheduled,
            "initiated_on": initiated,
            "completed_on": completed,
            "cycle": cycle.where(cycle != "", None),
            "cycle_start": cycle_start,
            "cycle_end": cycle_end,
            "cancelled_on": cancelled,
            "customer_name": name,
            "customer_email": email,
        }
    )[keep].reset_index(drop=True)
    known = lookup(conn, Customer.__table__, new["customer_external_id"].tolist(), [Customer.__table__.c.id])
    first = new.drop_duplicates("customer_external_id")
    first = first[~first["customer_external_id"].isin(state.new_customers)]  # created by an earlier chunk
    customers_new = first[~first["customer_external_id"].isin(known.index)][
        ["customer_external_id", "customer_name", "customer_email"]
    ].reset_index(drop=True)
    state.new_customers.update(customers_new["customer_external_id"].tolist())
    return Validated("services", len(frame), [], new, int(present.sum()), customers_new)


def _before(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    both = later.notna() & earlier.notna()
    out = np.zeros(len(later), dtype=bool)
    out[both.to_numpy()] = (later[both] < earlier[both]).to_numpy()  # ISO strings sort as dates
    return out


SERVICE_FACT_COLUMNS = ("id", "customer_id", *VERDICT_SERVICE_COLUMNS)


def _validate_cases(conn: Connection, frame: pd.DataFrame, state: FileState) -> Validated:
    c = _Checker(frame)
    ext = c.text("external_id", 64)
    c.duplicates("external_id", state.external_ids)
    svc_ext = c.text("service_external_id", 64)
    opened = c.date("opened_on")
    c.flag(c.col("opened_on") == "", "opened_on", "required; the cell is empty")
    channel = c.choice("channel", CHANNELS)
    reason = c.choice("reason", REASONS)
    amount = c.amount("amount_requested")
    fix_attempted = c.boolean("fix_attempted")
    fix_succeeded = c.boolean("fix_succeeded")
    attempted_readable = fix_attempted.notna() | (c.col("fix_attempted") == "")
    c.flag(
        fix_succeeded.notna() & (fix_attempted != True) & attempted_readable,  # noqa: E712 (object column)
        "fix_succeeded",
        "must be empty unless fix_attempted is true",
    )
    docs = c.col("documentation")

    table = Service.__table__
    services = lookup(conn, table, svc_ext.tolist(), [table.c[n] for n in SERVICE_FACT_COLUMNS])
    known = svc_ext.isin(services.index)
    c.flag(
        (svc_ext != "") & ~known,
        "service_external_id",
        lambda v: f"no service with external_id '{_short(v)}' in the database; import the services file first",
    )
    svc = services.reindex(svc_ext.where(known, None).tolist())
    svc.index = frame.index
    stype = svc["service_type"].astype(object)
    c.flag(
        known & (reason == "unused_subscription") & (stype != "subscription"),
        "reason",
        "unused_subscription applies only to subscriptions, and this service is not one",
    )
    # The policy counts from the service date; a request before it (for a started service) cannot be judged.
    service_date = _service_dates(svc)
    started = known & ((svc["status"] != "not_started") | (stype == "subscription"))
    too_early = started & service_date.notna() & opened.notna()
    early = np.zeros(len(frame), dtype=bool)
    early[too_early.to_numpy()] = (opened[too_early].astype(str) < service_date[too_early].astype(str)).to_numpy()
    c.flag(early, "opened_on", lambda v: f"'{v}' is before the service date of a service that has started")
    c.flag(
        started & service_date.isna(),
        "service_external_id",
        "the service has no date to count the contact window from (completed_on, initiated_on or cycle_start)",
    )

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
            **{n: svc[n] for n in SERVICE_TERM_COLUMNS},
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


# --- checking a whole file, chunk by chunk ----------------------------------------------------------------------


class SeenKeys:
    """The external_ids met so far in a file, kept as 16-byte BLAKE2b digests with the row each first appeared
    on: about 24 bytes an id where a set of the strings took ~150, so a file of millions of rows checks in
    bounded memory. (Two different ids share a 128-bit digest with a probability of about n² / 2^129.)"""

    def __init__(self) -> None:
        self._digests: list[np.ndarray] = []  # per chunk, sorted
        self._rows: list[np.ndarray] = []

    def check_and_add(self, values: np.ndarray, rows: np.ndarray) -> dict[str, int]:
        """Of ``values`` (distinct, with their rows), those met in an earlier chunk -> the row they first
        appeared on; the others are remembered."""
        if len(values) == 0:
            return {}
        digests = np.array([blake2b(str(v).encode(), digest_size=16).digest() for v in values], dtype="S16")
        met = np.zeros(len(values), dtype=bool)
        earlier: dict[str, int] = {}
        for seen, first_rows in zip(self._digests, self._rows):
            pos = np.minimum(np.searchsorted(seen, digests), len(seen) - 1)
            hit = (seen[pos] == digests) & ~met
            for i in np.flatnonzero(hit):
                earlier[values[i]] = int(first_rows[pos[i]])
            met |= hit
        order = np.argsort(digests[~met], kind="stable")
        self._digests.append(digests[~met][order])
        self._rows.append(np.asarray(rows, dtype="int64")[~met][order])
        return earlier


@dataclass
class FileState:
    """What the checks of a file's earlier chunks leave for the later ones."""

    external_ids: SeenKeys = field(default_factory=SeenKeys)
    new_customers: set[str] = field(default_factory=set)  # customers an earlier chunk creates


RowCheck = Callable[[pd.DataFrame], list[RowError]]  # more checks of a chunk's new rows (the desk's policy)


@dataclass
class Checked:
    """A whole file checked without writing: its problems, or its new rows spooled to a temporary file, one
    pickled ``Validated`` chunk after another, for ``write`` to insert in one short transaction."""

    kind: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    new: int = 0
    skipped: int = 0
    customers: int = 0
    seconds: float = 0.0
    _spool: BinaryIO | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def chunks(self) -> Iterator[Validated]:
        if self._spool is None:
            return
        self._spool.seek(0)
        while True:
            try:
                yield pickle.load(self._spool)
            except EOFError:
                return

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def __enter__(self) -> Checked:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_file(
    engine: Engine,
    source: Source,
    file_name: str,
    kind: str,
    *,
    more_checks: RowCheck | None = None,
    keep_rows: bool = True,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Checked:
    """Read and check every row of a file, streaming: one chunk of ``chunk_rows`` rows in memory at a time,
    each checked on a short read-only connection (no write lock is taken, so reviewers keep working).
    With ``keep_rows`` the new rows of a clean file are spooled for ``write``. Use the result as a context
    manager (or ``close()`` it) to drop the spool. Raises ImportFileError for a file that cannot be read."""
    started = time.perf_counter()
    checked = Checked(kind)
    state = FileState()
    spool = tempfile.TemporaryFile(prefix="refund-desk-import-") if keep_rows else None  # noqa: SIM115 (kept)
    try:
        for frame in iter_tables(source, file_name, kind, chunk_rows, progress):
            with engine.connect() as conn:
                part = validate(conn, kind, frame, state)
            errors = part.errors
            if not errors and more_checks is not None and len(part.new):
                errors = more_checks(part.new)
            checked.rows += part.rows
            checked.skipped += part.skipped
            if errors:
                checked.errors.extend(errors[: MAX_ERRORS - len(checked.errors)])
                if spool is not None:
                    spool.close()
                    spool = None
                continue
            checked.new += len(part.new)
            checked.customers += len(part.customers_new)
            if spool is not None and not checked.errors and len(part.new):
                pickle.dump(part, spool, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    checked.errors.sort(key=lambda e: e.row)
    if checked.errors:
        checked.new = checked.customers = 0
    checked._spool = spool
    checked.seconds = time.perf_counter() - started
    return checked


# --- writing ------------------------------------------------------------------------------------------------


def _iso_now() -> str:
    return utcnow().isoformat(sep=" ")


def _none(values) -> list:
    """A column as a list with pandas' missing values as None."""
    return [None if v is None or v != v else v for v in values]


def write(
    conn: Connection,
    checked: Validated | Checked,
    progress: Progress | None = None,
    actor: str = "import",
    actor_id: int | None = None,
) -> dict:
    """Write a checked file's new rows on ``conn`` (inside the caller's transaction; nothing commits here):
    plain inserts of rows checked before, plus the id look-ups the audit events and services need.
    Returns counts: inserted, skipped, customers (created), sales_days (rollup rows touched)."""
    if not checked.ok:
        raise ValueError("refusing to write a file with errors")
    report = progress or (lambda done, total, label: None)
    if isinstance(checked, Validated):
        chunks, total = [checked], len(checked.new)
    else:
        chunks, total = checked.chunks(), checked.new
    if checked.kind == "services":
        counts = _write_services(conn, chunks, total, report)
    else:
        counts = _write_cases(conn, chunks, total, report, actor, actor_id)
    return {**counts, "skipped": checked.skipped}


def _write_services(conn: Connection, chunks: Iterable[Validated], total: int, report: Progress) -> dict:
    now = _iso_now()
    done = customers = days = 0
    report(0, total, "services")
    for part in chunks:
        cust = part.customers_new
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
            customers += len(cust)
        new = part.new
        ids = lookup(conn, Customer.__table__, new["customer_external_id"].tolist(), [Customer.__table__.c.id])["id"]
        customer_id = new["customer_external_id"].map(ids).astype("int64")
        for start in range(0, len(new), WRITE_CHUNK):
            piece = new.iloc[start : start + WRITE_CHUNK]
            bulk.insert_columns(
                conn,
                "services",
                {
                    "external_id": piece["external_id"].tolist(),
                    "customer_id": customer_id.iloc[start : start + WRITE_CHUNK].tolist(),
                    "service_type": piece["service_type"].tolist(),
                    "price_cents": piece["price_cents"].tolist(),
                    "currency": piece["currency"].tolist(),
                    "status": piece["status"].tolist(),
                    **{col: _none(piece[col].tolist()) for col in SERVICE_TERM_COLUMNS},
                },
            )
            done += len(piece)
            report(min(total, done), total, "services")
        days += add_to_sales_rollup(conn, new)
    return {"inserted": done, "customers": customers, "sales_days": days}


def add_to_sales_rollup(conn: Connection, services: pd.DataFrame) -> int:
    """Add services sold (per purchase day and type) to ``sales_daily``: existing rows grow, new ones appear."""
    if services.empty:
        return 0
    sums = (
        services.groupby(["purchased_on", "service_type"], sort=True)["price_cents"].agg(["size", "sum"]).reset_index()
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


PAUSE_ROLLUPS_ABOVE = 20_000  # case rows; on SQLite a larger file rebuilds the analytics rollups once instead


def _write_cases(
    conn: Connection, chunks: Iterable[Validated], total: int, report: Progress, actor: str, actor_id: int | None
) -> dict:
    now = _iso_now()
    report(0, total, "cases")
    # SQLite, a file large next to the table: pause the analytics rollup triggers and rebuild once at the end
    # (cheaper than per-row trigger work; SQLite has one writer, so nothing can commit during the rebuild).
    # PostgreSQL keeps its triggers on: they are per statement (one set-based upsert per insert of a chunk),
    # and a rebuild would make every reviewer's decision wait for it (see bulk.resume_rollups).
    large = False
    if conn.dialect.name == "sqlite":
        existing = conn.execute(select(func.count()).select_from(CaseRow.__table__)).scalar_one()
        large = total > max(PAUSE_ROLLUPS_ABOVE, existing // 4)
    done = 0
    with bulk.rollups_paused(conn, "case import") if large else nullcontext():
        for part in chunks:
            done = _insert_cases(conn, part.new, now, done, total, report, actor, actor_id)
    return {"inserted": done, "customers": 0, "sales_days": 0}


def _insert_cases(
    conn: Connection,
    new: pd.DataFrame,
    now: str,
    done: int,
    total: int,
    report: Progress,
    actor: str,
    actor_id: int | None,
) -> int:
    opened = pd.to_datetime(new["opened_on"], format="%Y-%m-%d")
    due = (opened + pd.Timedelta(days=DUE_DAYS)).dt.strftime("%Y-%m-%d")
    for start in range(0, len(new), WRITE_CHUNK):
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
        # every case's timeline starts with its opening, as for cases the desk opens itself
        ids = lookup(conn, CaseRow.__table__, part["external_id"].tolist(), [CaseRow.__table__.c.id])["id"]
        bulk.insert_columns(
            conn,
            "case_events",
            {
                "case_id": part["external_id"].map(ids).astype("int64").tolist(),
                "actor_id": [actor_id] * n,
                "actor": [actor] * n,
                "at": [now] * n,
                "kind": ["case_opened"] * n,
                "payload": part["channel"].map({ch: json.dumps({"channel": ch}) for ch in CHANNELS}).tolist(),
            },
        )
        done += n
        report(min(total, done), total, "cases")
    return done


# --- the command line -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m data.importer``: kept for the README and scripts. It is the desk's import use case, the
    one the page runs (desk.imports.main: the policy's check of each case, the same audit event)."""
    from desk.imports import main as desk_main  # the command line composes the layers, like data.generate

    return desk_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
