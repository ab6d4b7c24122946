"""The monthly review as files to send: an XLSX workbook with every table of the analytics view (a cover
sheet states the filters and the definitions) and a self-contained HTML report with the charts.

    python -m desk.report --month 2026-11 --out DIR [--currency EUR] [--database URL]

writes DIR/refund-desk-2026-11.xlsx and DIR/refund-desk-2026-11.html for a scheduler (exit 0; a bad month,
currency or database: a message on stderr and exit 2, nothing written). The page's "Report" buttons make the
same two files for the filters on screen.

Safe to open: every text cell goes through desk.export.neutralise (a customer's or reviewer's "=HYPERLINK(..)"
stays text, never a formula), the HTML escapes every table cell and every filter value, and plotly.js is
embedded once in the file (no CDN, works offline).
"""

from __future__ import annotations

import argparse
import html
import io
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from desk.analytics import Filters, Report
from desk.export import neutralise
from desk.periods import format_time, zone_name

# (table key of the analytics view, sheet name, what it holds) — in the order of the page's tabs
SHEETS = (
    (
        "trend",
        "Refund rates",
        "Per period and service type: services sold, money outcomes, refund and cash refund rates.",
    ),
    (
        "sale_month",
        "By sale month",
        "Refund rate of each month's sales (the cohort) beside the rate by decision month.",
    ),
    ("reasons", "Reasons", "Cases opened and money outcome rate per reason."),
    ("reason_type", "Reason x type", "Per reason and service type."),
    ("exc_period", "Exceptions", "Discretionary exceptions per period, by approval state."),
    ("exc_reviewer", "Exceptions by reviewer", "Exceptions per reviewer."),
    ("exc_reason", "Exceptions by reason", "Exceptions per reason."),
    ("exc_list", "Exception cases", "The newest exception cases with rationale and approver."),
    ("overrides", "Overrides", "Decisions against the policy's recommendation, per reviewer and direction."),
    ("health", "Desk health", "Decisions, time to decision and on-time share per reviewer."),
    ("backlog", "Backlog", "Cases not closed, by age (a snapshot as of today)."),
    ("lead", "Days to decision", "Distribution of days from opening to decision."),
    ("close", "Days to close", "Days from opening to the close, the approval wait included, beside days to decision."),
    ("restated", "Restated months", "Closed months whose numbers changed after they ended (late answers, supersedes)."),
    ("versions", "Policy versions", "Headline numbers per policy version."),
    ("awaiting", "Awaiting approval", "Money awaiting approval per currency and how long it has waited (now)."),
    ("approvals", "Approvals per manager", "Exceptions of the period approved or rejected, per manager."),
    ("granted", "Granted vs requested", "Amount granted against amount requested, per currency."),
)
DATING_RULE = (
    "A decision counts on the day it was recorded: an exception approved after its month ended changes that "
    "month (docs/metrics.md, 'Late changes')."
)
MONEY_HEADING = re.compile(r"\(([A-Z]{3})\)$")


def month_range(month: str, today: date) -> tuple[date, date]:
    """'2026-11' -> (1 Nov, 30 Nov), or through today for the running month. ValueError for a bad or future
    month."""
    if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
        raise ValueError(f"expected a month as YYYY-MM, not {month!r}")
    start = date(int(month[:4]), int(month[5:]), 1) if 1 <= int(month[5:]) <= 12 else None
    if start is None:
        raise ValueError(f"expected a month as YYYY-MM, not {month!r}")
    if start > today:
        raise ValueError(f"{month} has not begun yet (today is {today})")
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1) - timedelta(days=1)
    return start, min(end, today)


def cover_lines(r: Report, names: Mapping[int, str], tz: tzinfo, generated: datetime) -> list[tuple[str, str]]:
    """(label, value) rows of the cover sheet: the filters that produced every table, and the definitions."""
    from policy.vocabulary import REASON_LABELS, SERVICE_TYPE_LABELS

    f: Filters = r.filters
    return [
        ("Period", f"{f.start:%d %b %Y} – {f.end:%d %b %Y} ({f.days} days)"),
        ("Service types", ", ".join(SERVICE_TYPE_LABELS[t] for t in f.service_types) or "All"),
        ("Reasons", ", ".join(REASON_LABELS[x] for x in f.reasons) or "All"),
        ("Reviewers", ", ".join(names.get(i, f"user {i}") for i in f.reviewers) or "All"),
        ("Money in", f"{f.currency} (counts include every currency; amounts of different currencies are never added)"),
        ("Trends by", f.granularity),
        ("Time zone", zone_name(tz)),
        ("Generated", format_time(generated, tz, "%Y-%m-%d %H:%M:%S")),
        ("Dating rule", DATING_RULE),
        ("Restated", _restated(r)),
        ("Definitions", "docs/metrics.md of the Refund Desk repository"),
    ]


def _restated(r: Report) -> str:
    from desk.review import restated_note

    return restated_note(r) or "None: no closed month of the range changed after it ended."


def workbook_bytes(  # noqa: C901 — one formatting rule per kind of column, in the order a reader meets them
    r: Report, tables: Mapping[str, pd.DataFrame], cover: list[tuple[str, str]]
) -> bytes:
    """The XLSX workbook: a cover sheet, then one formatted sheet per table (bold frozen header, widths,
    percentages and amounts as numbers with their unit)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws["A1"] = "Refund Desk — monthly review"
    ws["A1"].font = Font(bold=True, size=14)
    for i, (label, value) in enumerate(cover, start=3):
        ws.cell(i, 1, label).font = Font(bold=True)
        ws.cell(i, 2, neutralise(value)).alignment = Alignment(wrap_text=True, vertical="top")
    row = len(cover) + 4
    ws.cell(row, 1, "Sheet").font = Font(bold=True)
    ws.cell(row, 2, "What it holds").font = Font(bold=True)
    for key, title, what in SHEETS:
        if key in tables:
            row += 1
            ws.cell(row, 1, title)
            ws.cell(row, 2, what)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 100
    header_fill = PatternFill("solid", fgColor="DDE3EA")
    for key, title, _what in SHEETS:
        frame = tables.get(key)
        if frame is None:
            continue
        sheet = wb.create_sheet(title[:31])
        columns = [str(c) for c in frame.columns]
        for j, name in enumerate(columns, start=1):
            cell = sheet.cell(1, j, neutralise(name))
            cell.font, cell.fill = Font(bold=True), header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            width = max([len(name) * 0.7, 10] + [len(str(v)) for v in frame.iloc[:200, j - 1]])
            sheet.column_dimensions[cell.column_letter].width = min(width + 2, 60)
        formats = []
        for name in columns:
            money = MONEY_HEADING.search(name)
            formats.append("0.00" if name.endswith("(%)") else f'#,##0.00 "{money.group(1)}"' if money else None)
        for i, values in enumerate(frame.itertuples(index=False, name=None), start=2):
            for j, value in enumerate(values, start=1):
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    continue
                if hasattr(value, "item"):  # numpy scalars
                    value = value.item()
                cell = sheet.cell(i, j, neutralise(value))
                if formats[j - 1] and isinstance(value, int | float):
                    cell.number_format = formats[j - 1]
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def html_report(
    r: Report, figures: Mapping[str, go.Figure], tables: Mapping[str, pd.DataFrame], cover: list[tuple[str, str]]
) -> str:
    """One HTML file: the cover, every chart (plotly.js embedded once), every table; all text escaped."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Refund Desk — monthly review</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}th{background:#dde3ea}</style></head><body>",
        "<h1>Refund Desk — monthly review</h1><table>",
        *(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in cover),
        "</table><h2>Charts</h2>",
    ]
    first = True
    for name, fig in figures.items():
        parts.append(f"<div id='chart-{html.escape(name)}'>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        parts.append("</div>")
        first = False
    for key, title, what in SHEETS:
        frame = tables.get(key)
        if frame is None:
            continue
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(what)}</p>")
        parts.append(frame.to_html(index=False, escape=True, na_rep="—", float_format=lambda x: f"{x:,.2f}"))
    parts.append("</body></html>")
    return "".join(parts)


def _cover(r: Report, tz: tzinfo, now: datetime) -> list[tuple[str, str]]:
    return cover_lines(r, dict(zip(r.by_reviewer["decided_by_id"], r.by_reviewer["reviewer"])), tz, now)


def workbook_for(r: Report, tables: Mapping[str, pd.DataFrame], tz: tzinfo, now: datetime) -> bytes:
    """The XLSX workbook of one report and the tables drawn from it (the page's download button)."""
    return workbook_bytes(r, tables, _cover(r, tz, now))


def html_for(
    r: Report, figures: Mapping[str, go.Figure], tables: Mapping[str, pd.DataFrame], tz: tzinfo, now: datetime
) -> str:
    """The HTML report of one report and the charts and tables drawn from it (the page's download button)."""
    return html_report(r, figures, tables, _cover(r, tz, now))


def files(r: Report, figures: Mapping[str, go.Figure], tables: Mapping[str, pd.DataFrame], tz: tzinfo, now: datetime):
    """(XLSX bytes, HTML text) of one report and the view drawn from it."""
    return workbook_for(r, tables, tz, now), html_for(r, figures, tables, tz, now)


def write(db, filters: Filters, today: date, tz: tzinfo, out: Path, stem: str, now: datetime | None = None):
    """Both files for `filters` (the whole desk, as a manager sees it) into `out`; returns their paths."""
    from desk import analytics
    from desk.auth import Actor
    from desk.periods import now_in
    from desk.review import build_view  # the page's own tables and charts

    scheduler = Actor(0, "scheduler@refund-desk.invalid", "Scheduled report", "manager")
    r = analytics.report(db, filters, scheduler, today)
    view = build_view(r)
    xlsx, page = files(r, view.figures, view.tables, tz, now or now_in(tz))
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / f"{stem}.xlsx", out / f"{stem}.html")
    paths[0].write_bytes(xlsx)
    paths[1].write_text(page, encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m desk.report", description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="the month to report, YYYY-MM")
    parser.add_argument("--out", required=True, type=Path, help="the folder to write the two files into")
    parser.add_argument("--currency", default=None, help="money in this currency (default: the reporting currency)")
    parser.add_argument("--database", default=None, help="database URL (default: $DATABASE_URL or the demo database)")
    args = parser.parse_args(argv)

    import os

    from data.db import open_database, resolve_url
    from desk import periods
    from desk.errors import DeskError
    from desk.money import DEFAULT_CURRENCY

    tz, problem = periods.zone(os.environ.get("REFUND_DESK_TIMEZONE"))
    if problem:
        print(problem, file=sys.stderr)
    pinned = os.environ.get("REFUND_DESK_TODAY")
    today = date.fromisoformat(pinned) if pinned else periods.now_in(tz).date()
    try:
        start, end = month_range(args.month, today)
    except ValueError as exc:
        print(f"--month: {exc}", file=sys.stderr)
        return 2
    currency = args.currency or os.environ.get("REFUND_DESK_REPORTING_CURRENCY") or DEFAULT_CURRENCY
    try:
        db = open_database(resolve_url(args.database or os.environ.get("DATABASE_URL")))
    except Exception as exc:  # noqa: BLE001 — a scheduler needs one line, not a trace
        print(f"cannot open the database: {exc}", file=sys.stderr)
        return 2
    try:
        f = Filters(start, end, currency=currency, zone=periods.zone_name(tz))
        paths = write(db, f, today, tz, args.out, f"refund-desk-{args.month}")
    except DeskError as exc:
        print(getattr(exc, "message", str(exc)), file=sys.stderr)
        return 2
    finally:
        db.dispose()
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
