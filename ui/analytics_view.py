"""Presentation helpers of the analytics page: KPI tiles with their change, a table-with-download block, the
drill-down panel and the report buttons. The tables and figures themselves are built in desk/review.py (the
monthly report writes the same ones); this module only draws them.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st
from streamlit import dataframe_util

from desk.analytics import LEAD_CAPPED, Drill, Report
from desk.money import currency_symbol, format_money, format_money_short, format_totals, minor_digits
from desk.review import (  # noqa: F401 - the page and tests read these names from here as before
    MONEY_HEADING,
    View,
    build_view,
    drill_table,
    drill_title,
    filters_note,
    period_label,
    point_drill,
    restated_note,
)
from ui.export import download_csv, download_report, plural

PCT = st.column_config.NumberColumn(format="%.2f%%")
COUNT = st.column_config.NumberColumn(format="localized")


def money_column(currency: str):
    """A table column of amounts in `currency` (major units), shown with its symbol and decimals."""
    digits = minor_digits(currency)
    return st.column_config.NumberColumn(format=f"{currency_symbol(currency)}%.{digits}f")


class _Prepared(go.Figure):
    """A figure as the dict the view was built as (desk.review.View.specs, never validated). st.plotly_chart
    calls `to_dict()` on a Figure on every rerun — a deep copy of every trace, about 2 ms a chart — and
    validates a plain dict all over again (slower still); this hands it the ready dict."""

    def __init__(self, spec: dict) -> None:  # noqa: D107 - no Figure.__init__: nothing to validate again
        object.__setattr__(self, "_prepared", spec)

    def to_dict(self) -> dict:
        return self._prepared


def plotly_chart(v: View, name: str, key: str, **kw):
    """Draw figure `name` of the view from its prepared dict."""
    return st.plotly_chart(_Prepared(v.specs[name]), key=key, **kw)


def rate_label(x: float | None) -> str:
    return "—" if x is None else f"{x:.2%}"


def days_label(days: float | None) -> str:
    if days is None:
        return "—"
    if days >= LEAD_CAPPED:
        return "31+ days"
    return f"{int(days)} day" + ("" if int(days) == 1 else "s")


# ---- KPI tiles -----------------------------------------------------------------------------------------


def _change(now: float | None, before: float | None, kind: str) -> str | None:
    """The change against the previous period: percentage points, relative %, or days. None if unknown."""
    if now is None or before is None:
        return None
    if kind == "pp":
        diff = round((now - before) * 100, 2)
        return "no change" if diff == 0 else f"{diff:+.2f} pp"
    if kind == "days":
        diff = int(now - before)
        return "no change" if diff == 0 else f"{diff:+d} day" + ("" if abs(diff) == 1 else "s")
    if not before:
        return None
    rel = (now - before) / before
    return "no change" if round(rel, 3) == 0 else f"{rel:+.1%}"


def _tile(col, label: str, value: str, change: str | None, help: str, worse_when_up: bool | None) -> None:
    """A KPI tile; worse_when_up: True = red when it rises, False = green, None = neutral."""
    color = (
        "off" if worse_when_up is None or change in (None, "no change") else "inverse" if worse_when_up else "normal"
    )
    col.metric(
        label,
        value,
        change,
        delta_color=color,
        delta_arrow="off" if change in ("no change", "right now", "not per reviewer") else "auto",
        border=True,
        help=help,
    )


def kpi_tiles(r: Report) -> None:
    k, p = r.kpis, r.kpis_previous
    cur = r.filters.currency

    def money(cents: int) -> str:
        return format_money(cents, cur)

    def rate(x: float | None) -> str:
        return "—" if x is None else f"{x:.2%}"

    row = st.columns(5)
    scoped = (
        " With a reviewer or reason filter this is their contribution to the desk's rate (the services sold "
        f"stay the denominator); of their effective decisions {rate(k.money_share)} gave money back."
        if r.filters.reviewers or r.filters.reasons
        else ""
    )
    _tile(
        row[0],
        "Refund rate (count)",
        rate(k.refund_rate),
        _change(k.refund_rate, p.refund_rate, "pp"),
        f"{k.money:,} full refunds, partial refunds and credits decided in the period ÷ {k.sold:,} services "
        "sold in the period (of the selected service types). Credits count; the Credits tile shows them alone."
        + scoped,
        True,
    )
    _tile(
        row[1],
        "Refund rate (value)",
        rate(k.refund_value_rate),
        _change(k.refund_value_rate, p.refund_value_rate, "pp"),
        f"{money(k.money_cents)} refunded or credited ÷ {money(k.revenue_cents)} revenue of the services sold "
        f"in the period, both in {cur} (each currency is its own rate; pick it in the filters).",
        True,
    )
    _tile(
        row[2],
        "Credits",
        rate(k.credit_rate),
        _change(k.credit_rate, p.credit_rate, "pp"),
        f"{k.credits:,} credits for future services (of them in {cur}: {money(k.credit_cents)}) ÷ services sold; "
        f"{rate(k.credit_value_rate)} of the {cur} revenue. Included in the refund rate, shown alone here.",
        True,
    )
    _tile(
        row[3],
        "Money granted",
        format_money_short(k.money_cents, cur),
        _change(k.money_cents, p.money_cents, "rel"),
        f"{money(k.money_cents)}: full refunds + partial refunds + credits of effective decisions in the period, "
        f"in {cur}. Every currency: {format_totals(r.money_by_currency)} (never added together).",
        True,
    )
    _tile(
        row[4],
        "Request rate",
        rate(k.request_rate) if r.cases_attributable else "—",
        _change(k.request_rate, p.request_rate, "pp") if r.cases_attributable else "not per reviewer",
        f"{k.opened:,} cases opened in the period ÷ {k.sold:,} services sold in the period."
        if r.cases_attributable
        else "Not shown per reviewer: a case belongs to nobody when it is opened.",
        None,
    )
    row = st.columns(5)
    _tile(
        row[0],
        "Decisions",
        f"{k.decisions:,}",
        _change(k.decisions, p.decisions, "rel"),
        f"Decisions recorded in the period, {k.decisions - k.effective:,} of them not counting for money "
        "(waiting for approval, rejected, or superseded).",
        None,
    )
    _tile(
        row[1],
        "Exceptions",
        rate(k.exception_share),
        _change(k.exception_share, p.exception_share, "pp"),
        f"{k.exceptions:,} discretionary exceptions (outcomes the policy does not allow for the case) ÷ "
        f"{k.decisions:,} decisions recorded. Money through approved exceptions in {cur}: "
        f"{money(k.exception_money_cents)}.",
        True,
    )
    _tile(
        row[2],
        "Override rate",
        rate(k.override_rate),
        _change(k.override_rate, p.override_rate, "pp"),
        f"{k.overrides:,} decisions whose outcome differs from the policy's recommendation ÷ {k.decisions:,} "
        "decisions recorded. The direction per reviewer is in the Overrides tab.",
        None,
    )
    _tile(
        row[3],
        "Time to decision",
        days_label(k.lead_median),
        _change(k.lead_median, p.lead_median, "days"),
        f"Median days from a case's opening to its effective decision (p90: {days_label(k.lead_p90)}). "
        f"Decided within the due date: {rate(k.within_due_share)} of {k.effective:,} effective decisions.",
        True,
    )
    _tile(
        row[4],
        "Pending approvals",
        f"{r.pending_approvals:,}",
        "right now",
        "Exceptions waiting for a manager's approval now (the date range does not apply).",
        None,
    )
    money_per_currency(r)


def money_per_currency(r: Report) -> None:
    """Money granted in every currency, side by side (amounts of different currencies are never summed)."""
    others = {c: v for c, v in r.money_by_currency.items() if c != r.filters.currency}
    if not others:
        return
    st.caption(
        f"Money granted per currency: {format_totals(r.money_by_currency)} — each in its own currency, never "
        f"added together. Money figures on this page are in {r.filters.currency}; counts and count rates "
        "include every currency."
    )


def report_buttons(r: Report, v: View, tz) -> None:
    """One click each: the report of the current view as an XLSX workbook (every table, a cover sheet with the
    filters and definitions) or as one self-contained HTML file with the charts."""
    from desk import report as monthly
    from desk.periods import now_in

    stem = f"refund-desk-{r.filters.start:%Y-%m-%d}-to-{r.filters.end:%Y-%m-%d}"
    left, right, note = st.columns([1.2, 1.2, 4], vertical_alignment="center")
    download_report(
        "Report (XLSX)",
        lambda: monthly.workbook_for(r, v.tables, tz, now_in(tz)),
        file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        where=left,
        key="report_xlsx",
        icon=":material/table_view:",
        on_click="ignore",
    )
    download_report(
        "Report with charts (HTML)",
        lambda: monthly.html_for(r, v.figures, v.tables, tz, now_in(tz)),
        file_name=f"{stem}.html",
        mime="text/html",
        where=right,
        key="report_html",
        icon=":material/bar_chart:",
        on_click="ignore",
    )
    note.caption("Every table of this view with these filters; the cover sheet states them and the definitions.")


# ---- tables --------------------------------------------------------------------------------------------


# Each cached view's tables as Arrow, made once (prepare_tables): st.dataframe turns a DataFrame into Arrow on
# every rerun — most of a warm render's time with a dozen tables; handed the Arrow table it sends it as it is
# (the same bytes). Keyed by the frame's id while the frame lives.
_ARROW: dict[int, pa.Table] = {}


def prepare_tables(tables: dict[str, pd.DataFrame]) -> None:
    """Convert the view's tables to Arrow once, as st.dataframe would on every rerun."""
    for frame in tables.values():
        key = id(frame)
        if key not in _ARROW:
            _ARROW[key] = dataframe_util.convert_pandas_df_to_arrow_table(frame)
            weakref.finalize(frame, _ARROW.pop, key, None)


def table_with_csv(frame: pd.DataFrame, name: str, key: str, column_config: dict | None = None, **kw) -> None:
    """The table as shown, and a button that downloads exactly it as CSV."""
    config = column_config or {}
    for col in frame.columns:
        if col in config:
            continue
        if col.endswith("(%)"):
            config[col] = PCT
        elif MONEY_HEADING.search(col):
            config[col] = money_column(MONEY_HEADING.search(col).group(1))
        elif pd.api.types.is_integer_dtype(frame[col]):
            config[col] = COUNT
    shown = _ARROW.get(id(frame), frame)
    event = st.dataframe(shown, hide_index=True, column_config=config, key=f"table_{key}", **kw)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    download_csv(
        f"Download CSV ({plural(len(frame), 'row')})",
        lambda: frame,
        file_name=f"refund-desk-{slug}.csv",
        key=f"csv_{key}",
        icon=":material/download:",
        on_click="ignore",
        disabled=frame.empty,
    )
    return event


SELECT_ONE = {"on_select": "rerun", "selection_mode": "single-row"}


def _selected(event, n: int) -> int | None:
    rows = list(getattr(getattr(event, "selection", None), "rows", None) or [])
    return rows[0] if rows and 0 <= rows[0] < n else None


SELECT_POINT = {"on_select": "rerun", "selection_mode": "points"}


def _pick(options: dict[str, Drill], key: str) -> Drill:
    """The list a selected row drills down to: its first number's, or the one picked among its numbers."""
    labels = list(options)
    if len(labels) == 1:
        return options[labels[0]]
    chosen = st.segmented_control(
        "List the cases behind",
        labels,
        default=labels[0],
        # a new control (at its default) when the numbers differ; the key is also a CSS class: no spaces
        key=f"drill_pick_{key}_" + re.sub(r"[^A-Za-z0-9]+", "_", "_".join(labels)).strip("_"),
        help="Which number of the selected row to list the cases of.",
    )
    return options[chosen or labels[0]]


def row_drill(v: View, name: str, event, key: str) -> Drill | None:
    """The selected row of table `name` -> the cases behind one of its numbers (None: no row selected)."""
    drills = v.drills.get(name, [])
    i = _selected(event, len(drills))
    if i is None or not drills[i]:
        return None
    return _pick(drills[i], key)


def _points(event) -> list:
    """The selected points of a chart's event (an attribute dict, or a plain dict as the session holds it)."""
    try:
        selection = event["selection"] if isinstance(event, dict) else event.selection
        points = selection["points"] if isinstance(selection, dict) else selection.points
    except (AttributeError, KeyError, TypeError):
        return []
    return list(points or [])


def drillable(v: View, name: str) -> bool:
    """Does a point of chart `name` stand for a list of cases (desk.charts.drill_meta)?"""
    return any(isinstance(t.get("meta"), dict) for t in v.specs.get(name, {}).get("data", []))


def chart_drill(r: Report, v: View, name: str, event) -> Drill | None:
    """A selected point or bar of chart `name` -> the cases behind it (desk.review.point_drill)."""
    points = _points(event)
    if not points or name not in v.specs:
        return None
    return point_drill(r, v.specs[name], points[0])


def names_of(r: Report) -> dict[int, str]:
    """Who the report's ids are: its reviewers and the managers who answered."""
    names = dict(zip(r.by_reviewer["decided_by_id"], r.by_reviewer["reviewer"]))
    if not r.approvals.empty and "manager" in r.approvals:
        names.update(zip(r.approvals["approver_id"], r.approvals["manager"]))
    return {int(k): str(n) for k, n in names.items()}


def drillable_table(
    r: Report,
    v: View,
    name: str,
    title: str,
    key: str,
    fetch: Callable[[Drill], tuple[pd.DataFrame, int | None]],
    column_config: dict | None = None,
) -> None:
    """Table `name` with its CSV; select a row to list the cases behind one of its numbers."""
    event = table_with_csv(v.tables[name], title, key, column_config, **SELECT_ONE)
    picked = row_drill(v, name, event, key)
    if picked:
        with st.spinner("Listing the cases…"):
            found = fetch(picked)
        drill_panel(r, picked, found, key)


def drill_panel(r: Report, drill: Drill, found: tuple[pd.DataFrame, int | None], key: str) -> None:
    """The cases behind the selected number: the filters that produced them, the list (select a row to open
    its case in this tab, as the person signed in here), and the list as CSV."""
    rows, total = found
    st.markdown(f"**The cases behind it:** {drill_title(drill, names_of(r))}")
    if total is None:  # cut at the limit and not counted (the number selected says how many)
        st.caption(
            f"{filters_note(r)} More than {len(rows):,} cases: the {len(rows):,} newest are listed — a shorter "
            "period or another filter lists the others."
        )
    else:
        shown = "" if total <= len(rows) else f" The {len(rows):,} newest are listed."
        st.caption(f"{filters_note(r)} {plural(total, 'case')}.{shown}")
    if rows.empty:
        st.caption("No cases behind this number.")
        return
    listed = drill_table(rows)
    event = table_with_csv(
        listed,
        f"cases behind {drill_title(drill, names_of(r))}",
        f"drill_{key}",
        {"Case": st.column_config.NumberColumn(format="%d")},
        **SELECT_ONE,
    )
    i = _selected(event, len(listed))
    if i is None:
        st.caption("Select a case in the list to open it here.")
    else:
        case_id = int(listed["Case"].iloc[i])
        st.page_link(
            "pages/case.py",
            label=f"Open case {case_id}",
            icon=":material/open_in_browser:",
            query_params={"case": str(case_id)},
        )


EXCEPTION_LIST_CONFIG = {
    "Case": st.column_config.LinkColumn("Case", help="Open the case", display_text=r"/case\?case=(\d+)", width="small"),
    "Decided on": st.column_config.DateColumn(format="YYYY-MM-DD"),
    "Rationale": st.column_config.TextColumn(width="large"),
}
