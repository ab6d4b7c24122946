"""Every download button of the app. CSV goes through desk.export (formula cells neutralised), so a file opened
in a spreadsheet shows what the desk holds and never runs it. Pages call these instead of st.download_button
(a test checks that nothing else calls it)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from desk.export import csv_bytes

CsvData = pd.DataFrame | Callable[[], pd.DataFrame]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """ "1 row", "2 rows", "1,000 rows"."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def download_csv(label: str, data: CsvData, *, file_name: str, where=None, **kwargs):
    """A download button for a table as CSV. ``data`` is a DataFrame or a function that makes one when the user
    clicks (for exports too big to build on every run)."""
    if callable(data):
        make = data

        def payload() -> bytes:
            return csv_bytes(make())
    else:
        payload = csv_bytes(data)
    return (where or st).download_button(label, data=payload, file_name=file_name, mime="text/csv", **kwargs)


def download_prepared_csv(label: str, data: bytes, *, file_name: str, where=None, **kwargs):
    """A download button for CSV bytes that desk/ already wrote with desk.export (csv_bytes, csv_rows_bytes or
    writer), e.g. a replay's changed cases or an import's list of problems."""
    return (where or st).download_button(label, data=data, file_name=file_name, mime="text/csv", **kwargs)


def download_file(label: str, data: bytes | str, *, file_name: str, mime: str, where=None, **kwargs):
    """A download button for a file that is not a table of desk data: a policy version as TOML, or one of the
    documented example files from the repository."""
    return (where or st).download_button(label, data=data, file_name=file_name, mime=mime, **kwargs)


def download_report(label: str, make: Callable[[], bytes | str], *, file_name: str, mime: str, where=None, **kwargs):
    """A download button for a report file that desk/report.py writes (its cells neutralised, its HTML escaped),
    made only when the user clicks."""
    return (where or st).download_button(label, data=make, file_name=file_name, mime=mime, **kwargs)
