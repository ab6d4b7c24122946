"""The monthly report files (desk/report.py): the XLSX workbook and the self-contained HTML, from the
hand-built desk of test_analytics (both backends), safe to open; and the scheduler's command."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from data.models import Decision
from desk import analytics, report
from desk.analytics import Filters
from desk.review import build_view
from tests.desk.test_analytics import MANAGER, desk  # noqa: F401 — the fixture

MARCH = Filters(date(2026, 3, 1), date(2026, 3, 31))
EVIL = '=HYPERLINK("https://evil.example","Click")<script>alert(1)</script>'


@pytest.fixture
def files(desk, tmp_path):  # noqa: F811
    """The report of March 2026 written for the desk, with a rationale that is a formula and a script."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 5).values(rationale=EVIL))
    return report.write(
        desk,
        MARCH,
        date(2026, 3, 31),
        ZoneInfo("Europe/Berlin"),
        tmp_path,
        "march",
        now=datetime(2026, 3, 31, 22, 30, tzinfo=ZoneInfo("UTC")),
    )


def test_the_workbook_has_a_cover_and_every_table(files):
    wb = load_workbook(io.BytesIO(files[0].read_bytes()))
    assert wb.sheetnames[0] == "Cover"
    assert {"Refund rates", "By sale month", "Exception cases", "Awaiting approval", "Granted vs requested"} <= set(
        wb.sheetnames
    )
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert cover["Period"] == "01 Mar 2026 – 31 Mar 2026 (31 days)"
    assert cover["Time zone"] == "Europe/Berlin"
    assert cover["Generated"] == "2026-04-01 00:30:00 Europe/Berlin"
    assert "Late changes" in cover["Dating rule"] and "docs/metrics.md" in cover["Definitions"]
    granted = list(wb["Granted vs requested"].iter_rows(values_only=True))
    # USD: 6 effective decisions asked $600.00, granted $190.00 (test_analytics works it out)
    assert granted[1][:4] == ("USD", 6, "$600.00", "$190.00")
    sheet = wb["Refund rates"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    rate_col = [c.value for c in sheet[1]].index("Refund rate (%)") + 1
    assert sheet.cell(2, rate_col).number_format == "0.00"


def test_no_cell_of_the_workbook_is_a_formula(files):
    wb = load_workbook(io.BytesIO(files[0].read_bytes()))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    rationales = [c.value for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert rationales == ["'" + EVIL]  # shown as typed, never run


def test_the_html_report_is_self_contained_and_escaped(files):
    page = files[1].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", page)  # plotly.js is embedded, not fetched from a CDN
    assert "plotly.js v" in page or "plotly.js" in page
    assert page.count("Plotly.newPlot") >= 3  # the charts
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Europe/Berlin" in page and "Refund rate by sale month (%)" in page


@pytest.mark.parametrize(
    ("month", "problem"),
    [("2026-13", "expected a month as YYYY-MM"), ("Nov 2026", "expected a month"), ("2027-01", "has not begun")],
)
def test_a_bad_month_is_refused(month, problem):
    with pytest.raises(ValueError, match=problem):
        report.month_range(month, date(2026, 11, 26))


def test_the_running_month_ends_today():
    assert report.month_range("2026-11", date(2026, 11, 26)) == (date(2026, 11, 1), date(2026, 11, 26))
    assert report.month_range("2026-02", date(2026, 11, 26)) == (date(2026, 2, 1), date(2026, 2, 28))


def test_the_command_writes_both_files_and_refuses_a_bad_month(desk, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("REFUND_DESK_TODAY", "2026-03-31")
    out = tmp_path / "out"
    assert report.main(["--month", "2026-03", "--out", str(out), "--database", desk.url]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["refund-desk-2026-03.html", "refund-desk-2026-03.xlsx"]
    assert report.main(["--month", "2026-3", "--out", str(tmp_path / "bad"), "--database", desk.url]) == 2
    assert "--month: expected a month as YYYY-MM" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # nothing half-written


def test_the_report_has_the_time_to_close_and_the_restated_months(desk):  # noqa: F811
    """March reported on 10 April: d9 (03-09) approved on 04-02 restates March; the cover says so."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 9).values(approved_at=datetime(2026, 4, 2, 9, 0)))
    tz = ZoneInfo("UTC")
    r = analytics.report(desk, Filters(date(2026, 3, 1), date(2026, 3, 31)), MANAGER, date(2026, 4, 10))
    wb = load_workbook(io.BytesIO(report.workbook_for(r, build_view(r).tables, tz, datetime(2026, 4, 10, tzinfo=tz))))
    assert {"Days to close", "Restated months"} <= set(wb.sheetnames)
    restated = list(wb["Restated months"].iter_rows(values_only=True))
    assert restated[1] == ("2026-03", 1, 0, 1, "2026-04-02 09:00 UTC")
    cover = {r_[0]: r_[1] for r_ in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r_[0]}
    assert cover["Restated"].startswith("Restated: March 2026 — 1 late change")
