"""Files a user downloads and opens in a spreadsheet: CSV that cannot run formulas.

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and some also after a
leading tab or carriage return), so a customer name ``=HYPERLINK("https://evil.example", "Click")`` imported from
billing, or a rationale a reviewer typed as ``=1+1``, would run when the export is opened. Every export goes
through this module, which applies the OWASP CSV-injection rule: such a text cell gets a leading single quote
(``'=HYPERLINK(...)``), which spreadsheets show as text. Numbers stay numbers: a negative amount in a numeric
column is written as ``-12.5``, and a text cell that is just a plain number (``-12.50``) is left alone too.

    csv_bytes(frame)                      # a DataFrame as UTF-8 CSV, neutralised
    csv_rows_bytes(header, rows)          # rows of plain values as UTF-8 CSV, neutralised
    writer(out).writerow([...])           # a csv.writer that neutralises every cell (for a file or stdout)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """A cell value that a spreadsheet shows as typed: text starting like a formula gets a leading quote.
    Anything that is not text (numbers, dates, None) is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralised; numeric columns untouched."""
    out = frame.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(c) for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame) -> str:
    return neutralise_frame(frame).to_csv(index=False)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV (no index), safe to open in a spreadsheet."""
    return csv_text(frame).encode("utf-8")


class _Writer:
    """csv.writer with every cell neutralised."""

    def __init__(self, out):
        self._w = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([neutralise(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out) -> _Writer:
    """A ``csv.writer`` on ``out`` (a text file or StringIO) that neutralises every cell it writes."""
    return _Writer(out)


def csv_rows_bytes(header: Sequence[Any], rows: Iterable[Iterable[Any]]) -> bytes:
    """A header and rows as UTF-8 CSV, safe to open in a spreadsheet."""
    out = io.StringIO()
    w = writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")
